//! What a new user trips on (issue 8, item 6): output that reads well and commands that run as
//! printed.
use std::process::Stdio;

use poem::http::StatusCode;
use poem::{handler, Response, Route};
use sendid_conformance::report::summary;
use sendid_conformance::Exit;

use crate::broken_server::{BrokenServer, Defect, API_KEY};
use crate::support::check;

const BIN: &str = env!("CARGO_BIN_EXE_sendid-conformance");

#[handler]
async fn not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("application/json")
        .body(r#"{"message":"Not Found"}"#)
}

/// A server that answers 404 to everything: what a wrong `--base-url` looks like.
async fn spawn_not_found() -> (String, tokio::sync::oneshot::Sender<()>) {
    crate::support::serve_on_loopback(Route::new().at("/*rest", not_found)).await
}

#[tokio::test]
async fn a_base_url_that_answers_404_is_a_setup_refused_naming_the_base_url() {
    let (address, _stop) = spawn_not_found().await;
    let outcome = check(
        crate::support::args(&address, API_KEY, "c"),
        &["--cases", "4", "--seed", "3"],
    )
    .await;
    assert_eq!(outcome.exit, Exit::Usage);
    assert!(outcome.report.is_none());

    // A target that answers as it should gets no such refusal, and no hint.
    let server = BrokenServer::spawn(Defect::None, 40).await;
    let outcome = check(server.args(), &["--cases", "4", "--seed", "3"]).await;
    let text = summary::render(&outcome.report.expect("a report"));
    assert!(!text.contains("check --base-url"), "{text}");
}

#[tokio::test]
async fn piped_into_head_it_exits_quietly() {
    let server = BrokenServer::spawn(Defect::SendIdNotEchoed, 1000).await;
    let args: Vec<String> = server.args()[1..]
        .iter()
        .map(|a| sendid_conformance::cli::shell_word(a))
        .collect();
    // The checker keeps printing after `head` has read its line and gone.
    let script = format!(
        "set -o pipefail; {BIN} {} --cases 64 --max-creates 200 --seed 9 2>&1 | head -n 1; \
         echo \"exit=${{PIPESTATUS[0]}}\"",
        args.join(" ")
    );
    let out = tokio::process::Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("sendid-conformance "), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("Broken pipe"), "{text}");
    let status = text
        .lines()
        .find_map(|l| l.strip_prefix("exit="))
        .expect("the exit status");
    // Killed by SIGPIPE (128 + 13) as Unix tools are; never Rust's panic status 101.
    assert_eq!(status, "141", "{text}");
}

#[tokio::test]
async fn a_yaml_spec_is_read() {
    let server = BrokenServer::spawn(Defect::None, 40).await;
    // A YAML document that lists 200 and 400 only: the run must hold answers to it.
    let dir = tempfile::tempdir().expect("dir");
    let spec = dir.path().join("sends.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\n\
         info: {title: sends, version: '1'}\n\
         paths:\n\
         \x20 /sends/id/create:\n\
         \x20   post:\n\
         \x20     responses:\n\
         \x20       200:\n\
         \x20         description: ok\n\
         \x20       400:\n\
         \x20         description: bad\n",
    )
    .expect("write");
    let outcome = check(
        server.args(),
        &[
            "--cases",
            "4",
            "--seed",
            "3",
            "--spec",
            spec.to_str().expect("path"),
        ],
    )
    .await;
    assert_eq!(outcome.exit, Exit::Violation);
    let report = outcome.report.expect("a report");
    let f = report
        .failures
        .iter()
        .flat_map(|f| f.broken())
        .find(|b| b.check == "status_is_documented")
        .expect("status_is_documented fails");
    assert!(
        f.reason.contains("the document lists 200, 400"),
        "{}",
        f.reason
    );
}

/// Runs the binary against a server with `defect`; returns its exit code and standard output.
async fn run_binary(defect: Defect, extra: &[&str]) -> (Option<i32>, String) {
    let server = BrokenServer::spawn(defect, 1000).await;
    let out = tokio::process::Command::new(BIN)
        .args(&server.args()[1..])
        .args(["--cases", "12", "--seed", "4"])
        .args(extra)
        .output()
        .await
        .expect("the checker runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn messages_read_as_plain_text_with_right_plurals() {
    for defect in [
        Defect::SuccessWithoutMessage,
        Defect::MissingAuthAccepted,
        Defect::SendIdNotEchoed,
        Defect::ValidationIs422,
    ] {
        let (code, out) = run_binary(defect, &[]).await;
        assert_eq!(code, Some(1), "{defect:?}: {out}");
        for debug in [
            "Some(",
            "None",
            "Garbage(",
            "Missing,",
            "WrongScheme(",
            // A body escaped the Rust way (JSON bodies are shown as written).
            "{\\\"",
        ] {
            assert!(
                !out.contains(debug),
                "{defect:?}: Rust debug formatting {debug:?} in: {out}"
            );
        }
        for wrong in [
            " 1 steps",
            " 1 cases",
            " 1 requests",
            " 1 new pairs",
            " 1 attempts",
        ] {
            assert!(!out.contains(wrong), "{defect:?}: {wrong:?} in: {out}");
        }
    }
}

#[tokio::test]
async fn one_block_per_failing_request_listing_every_check_it_broke() {
    // A 200 without "message": one request breaks body_matches_schema and message_is_success.
    let (code, out) = run_binary(Defect::SuccessWithoutMessage, &[]).await;
    assert_eq!(code, Some(1), "{out}");
    let blocks: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("FAIL ") && l.contains("message_is_success"))
        .collect();
    assert_eq!(blocks.len(), 1, "{out}");
    assert!(
        blocks[0].starts_with("FAIL body_matches_schema, message_is_success"),
        "{out}"
    );
    // Every block shows a different request.
    let requests: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("curl:"))
        .collect();
    let distinct: std::collections::HashSet<&&str> = requests.iter().collect();
    assert_eq!(distinct.len(), requests.len(), "{out}");
}

#[tokio::test]
async fn reports_hold_plain_bodies_and_everything_to_reproduce() {
    let dir = tempfile::tempdir().expect("dir");
    let json = dir.path().join("report.json");
    let junit = dir.path().join("report.xml");
    let (code, out) = run_binary(
        Defect::SendIdNotEchoed,
        &[
            "--report",
            &format!("json={}", json.display()),
            "--report",
            &format!("junit={}", junit.display()),
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");

    // The JSON report: each response body is the body as sent, a JSON string that parses.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json report")).expect("JSON");
    let failure = report["failures"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["check"] == "send_id_is_echoed"))
        .expect("the failure");
    let body: serde_json::Value =
        serde_json::from_str(failure["response"]["body"].as_str().expect("a string"))
            .expect("the body is the server's JSON");
    assert_eq!(body["message"], "success");
    assert!(body["send_id"]
        .as_str()
        .expect("send_id")
        .starts_with("not-"));
    let sent: serde_json::Value =
        serde_json::from_str(failure["request_body"].as_str().expect("a string")).expect("JSON");
    assert!(sent["send_id"].is_string(), "{sent}");
    assert!(failure["replay"]
        .as_str()
        .expect("replay")
        .contains("--seed 4"));
    // And the same through Python's json.loads, as a CI script would read it.
    match std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys\n\
             r=json.load(open(sys.argv[1]))\n\
             n=0\n\
             for f in r['failures']:\n\
             \x20   if f['response']: json.loads(f['response']['body']); n+=1\n\
             print(n)",
            json.to_str().expect("path"),
        ])
        .output()
    {
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => panic!("python3 is missing"),
        Err(_) => eprintln!("SKIPPED the json.loads round trip: no python3"),
    }

    // JUnit: the failure carries request, response, curl and replay.
    let xml = std::fs::read_to_string(&junit).expect("junit report");
    let at = xml
        .find("name=\"send_id_is_echoed\"")
        .expect("the check's testcase");
    let failure = &xml[at..xml[at..].find("</testcase>").map_or(xml.len(), |e| at + e)];
    for part in [
        "request: POST ",
        "response: 200",
        "curl: curl ",
        "replay: ",
        "--seed 4",
    ] {
        assert!(failure.contains(part), "{part:?} missing from: {failure}");
    }
}

/// Runs the binary with these arguments (the program name first, as `support::args` gives
/// them); returns its exit code, standard output and standard error.
async fn run_args(args: &[String], extra: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(&args[1..])
        .args(extra)
        .env_remove("SENDID_API_KEY")
        .env_remove("SENDID_FORBIDDEN_API_KEY")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the checker runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_clean_run_fits_one_screen_and_the_table_is_behind_verbose() {
    let app = crate::support::Sendid::spawn(1000).await;
    let (code, out, _) = run_args(&app.full_args(), &["--seed", "5"]).await;
    assert_eq!(code, Some(0), "{out}");
    let lines = out.lines().count();
    assert!(lines <= 25, "{lines} lines:\n{out}");
    assert!(
        !out.contains("passed   failed"),
        "the table is printed:\n{out}"
    );
    assert!(
        !out.contains("property auth:"),
        "property lines printed:\n{out}"
    );
    assert!(out.contains("result: conformant (0)"), "{out}");
    // What did not run is still said, with what would run it.
    assert!(out.contains("not run ("), "{out}");
    assert!(out.contains("--exhaust-quota"), "{out}");

    let (code, verbose, _) = run_args(&app.full_args(), &["--seed", "5", "--verbose"]).await;
    assert_eq!(code, Some(0), "{verbose}");
    assert!(verbose.contains("passed   failed"), "{verbose}");
    assert!(verbose.contains("property auth:"), "{verbose}");
    assert!(verbose.lines().count() > 40, "{verbose}");
}

#[tokio::test]
async fn each_not_run_names_what_would_run_it_and_the_quota_when_it_is_the_limit() {
    // A new user's run: quota 3, the default budget (10), one campaign, no forbidden key.
    let app = crate::support::Sendid::spawn(3).await;
    let dir = tempfile::tempdir().expect("a directory");
    let json = dir.path().join("r.json");
    let report_flag = format!("json={}", json.display());
    let (code, out, _) = run_args(&app.args(), &["--seed", "6", "--report", &report_flag]).await;
    assert_eq!(code, Some(0), "{out}");
    let line_of = |check: &str| {
        out.lines()
            .find(|l| l.starts_with("  ") && l.contains(check) && l.contains(": "))
            .unwrap_or_else(|| panic!("{check} not listed as not run:\n{out}"))
            .to_string()
    };
    assert!(
        line_of("forbidden_key_is_403").contains("--forbidden-api-key"),
        "{out}"
    );
    assert!(
        line_of("pair_is_per_campaign").contains("--campaign-id"),
        "{out}"
    );
    assert!(
        line_of("new_pair_over_quota_is_429").contains("--exhaust-quota"),
        "{out}"
    );
    // The workspace's 3 left limit the budget, not --max-creates.
    assert!(!out.contains("raise --max-creates"), "{out}");
    assert!(out.contains("the workspace's quota is the limit"), "{out}");

    // No 429 was received: the 429 check did not run, it did not pass.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the report")).expect("JSON");
    let c = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "new_pair_over_quota_is_429")
        .expect("listed");
    assert_eq!(c["passed"], 0, "{c}");
    assert!(
        c["not_run"]
            .as_str()
            .is_some_and(|w| w.contains("--exhaust-quota")),
        "{c}"
    );
    assert!(report["statuses"].get("429").is_none(), "{report}");
}

#[tokio::test]
async fn nothing_is_printed_before_a_preflight_refusal() {
    let app = crate::support::Sendid::spawn(3).await;
    let mut args = app.args();
    let at = args
        .iter()
        .position(|a| a == &app.campaign_id)
        .expect("campaign");
    args[at] = "no-such-campaign".into();
    let (code, out, err) = run_args(&args, &["--seed", "7"]).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert_eq!(out, "", "printed before the refusal");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Check --campaign-id"), "{err}");
}

#[tokio::test]
async fn a_base_url_with_a_wrong_prefix_is_told_to_check_the_base_url_not_the_key() {
    let app = crate::support::Sendid::spawn(3).await;
    for prefix in ["/admin", "/v1", "/sends"] {
        let wrong = format!("{}{prefix}", app.address);
        let args = crate::support::args(&wrong, &app.api_key, &app.campaign_id);
        let (code, out, err) = run_args(&args, &["--seed", "8"]).await;
        assert_eq!(code, Some(2), "{prefix}: {out}{err}");
        assert!(err.contains("Check --base-url"), "{prefix}: {err}");
        assert!(!err.contains("--api-key"), "{prefix}: {err}");
    }
    // A wrong key at the right base URL is still told to check the key.
    let args = crate::support::args(&app.address, "not-a-key-of-this-server", &app.campaign_id);
    let (code, _, err) = run_args(&args, &["--seed", "8"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("Check --api-key"), "{err}");
}
