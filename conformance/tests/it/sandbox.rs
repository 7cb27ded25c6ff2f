//! The checker against sendid's sandbox with a 5XX fault rule (issue 19 item 4). Under the
//! default profile an injected 503 is the server's fault (`no_server_error`, exit 1); under
//! `--profile braze` it is what Braze documents a 5XX to be — busy, retry with exponential
//! backoff — so the checker retries it (waiting at least its `Retry-After`) and blames nothing.
//! Every verdict is read from the JSON report the run wrote (`--report json=PATH`), and the
//! sandbox's own counts (`GET /admin/faults`, `GET /admin/requests`) show the faults were hit,
//! so neither test can pass on a run that met no fault.
use std::path::Path;

use sendid_conformance::Exit;
use serde_json::{json, Value};

use crate::support::{check, Sendid};

/// 503s spread over the whole run: each request with a valid key has this probability of one,
/// the same pattern on every run (the seed). `Retry-After: 0`, so only the backoff paces the
/// retries.
fn spread_503s(probability: f64) -> Value {
    json!({
        "action": {"status": 503, "retry_after": 0},
        "probability": probability,
        "seed": 1919
    })
}

async fn add_fault(app: &Sendid, rule: Value) -> String {
    let added = app.admin.created("/admin/faults", &rule).await;
    added["id"].as_str().expect("the rule's id").to_string()
}

/// `GET /admin/faults`: the rule with this id.
async fn fault(app: &Sendid, id: &str) -> Value {
    let list = app.admin.fetched("/admin/faults").await;
    list["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))
        .clone()
}

/// `GET /admin/requests`, oldest first (the journal keeps the newest 1000).
async fn journal(app: &Sendid) -> Vec<Value> {
    let list = app.admin.fetched("/admin/requests?limit=1000").await;
    let mut entries = list["requests"].as_array().expect("requests").clone();
    assert!(
        entries.len() < 1000,
        "the journal overflowed: the run is too long for it"
    );
    entries.reverse();
    entries
}

/// Runs the checker with `--report json=…` and returns its exit and the report it wrote.
async fn run(app: &Sendid, extra: &[&str], dir: &Path) -> (Exit, Value) {
    let path = dir.join("report.json");
    let report_flag = format!("json={}", path.display());
    let mut all = extra.to_vec();
    all.extend(["--report", report_flag.as_str()]);
    let outcome = check(app.args(), &all).await;
    let text = std::fs::read_to_string(&path).expect("the JSON report was written");
    let report: Value = serde_json::from_str(&text).expect("the JSON report parses");
    (outcome.exit, report)
}

fn check_entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the report"))
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["failed"].as_u64() > Some(0))
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn status_count(report: &Value, status: &str) -> u64 {
    report["statuses"][status].as_u64().unwrap_or(0)
}

/// How often the report lists a tolerance (`--profile braze`).
fn tolerated(report: &Value, what: &str) -> u64 {
    report["tolerances"][what].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn strict_fails_no_server_error_on_a_sandbox_503_rule() {
    let app = Sendid::spawn_sandbox(100).await;
    let id = add_fault(&app, spread_503s(0.08)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (exit, report) = run(&app, &["--cases", "8", "--seed", "19"], dir.path()).await;

    assert_eq!(exit, Exit::Violation);
    assert_eq!(report["result"], "violation");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["profile"], "strict");
    let failed = failed_checks(&report);
    assert!(
        failed.iter().any(|c| c == "no_server_error"),
        "failed: {failed:?}"
    );
    // The server is blamed for the injected 503s, and for nothing else it answered.
    let failures = report["failures"].as_array().expect("failures");
    assert!(!failures.is_empty());
    for f in failures {
        // Its answer was a 503, or (a burst, a sequence) one of the answers it names.
        let names_503 = |field: &str| f[field].as_str().is_some_and(|s| s.contains("503"));
        assert!(
            f["response"]["status"] == 503 || names_503("reason") || names_503("case"),
            "a failure not from a fault: {f:#}"
        );
    }
    assert!(report["tolerances"].as_object().unwrap().is_empty());

    // The faults were hit, every one of them seen by the checker as a 503.
    let rule = fault(&app, &id).await;
    let applied = rule["applied"].as_u64().expect("applied");
    assert!(applied >= 2, "{rule}");
    assert_eq!(
        status_count(&report, "503"),
        applied,
        "{}",
        report["statuses"]
    );
    let faulted = journal(&app)
        .await
        .iter()
        .filter(|e| e["fault"]["id"] == id.as_str())
        .count() as u64;
    assert_eq!(faulted, applied);
}

#[tokio::test]
async fn braze_retries_sandbox_503s_honouring_retry_after_and_blames_nothing() {
    let app = Sendid::spawn_sandbox(100).await;
    // The run's first request meets two 503s with `Retry-After: 1` (longer than the backoff,
    // so it wins), then 503s come at random through the rest of the run.
    let first = add_fault(
        &app,
        json!({"action": {"status": 503, "retry_after": 1}, "times": 2}),
    )
    .await;
    let spread = add_fault(&app, spread_503s(0.2)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (exit, report) = run(
        &app,
        &[
            "--profile",
            "braze",
            "--cases",
            "16",
            "--max-creates",
            "20",
            "--seed",
            "19",
            "--retry-backoff",
            "0.01",
        ],
        dir.path(),
    )
    .await;

    assert_eq!(
        exit,
        Exit::Conformant,
        "failed: {:?}; failures: {:#}",
        failed_checks(&report),
        report["failures"]
    );
    assert_eq!(report["result"], "conformant");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["profile"], "braze");
    assert_eq!(report["failures"], json!([]));
    // Every case got through on a retry: none is even listed as a server error.
    assert_eq!(report["server_errors"], json!([]));
    // no_server_error is not a braze check (a 5XX is busy, not a verdict).
    assert!(report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "no_server_error"));
    assert!(check_entry(&report, "send_id_is_echoed")["passed"].as_u64() > Some(0));

    // Both rules were hit: the first used up, the second several times.
    let first_rule = fault(&app, &first).await;
    assert_eq!(first_rule["remaining"], 0, "{first_rule}");
    assert_eq!(first_rule["applied"], 2, "{first_rule}");
    let spread_rule = fault(&app, &spread).await;
    let spread_applied = spread_rule["applied"].as_u64().expect("applied");
    assert!(spread_applied >= 2, "{spread_rule}");
    let applied = 2 + spread_applied;
    // Each 503 the sandbox sent was seen, retried and tolerated, none left as the last answer.
    assert_eq!(
        status_count(&report, "503"),
        applied,
        "{}",
        report["statuses"]
    );
    assert_eq!(
        tolerated(&report, "5XX retried"),
        applied,
        "{}",
        report["tolerances"]
    );
    assert_eq!(
        tolerated(&report, "Retry-After honoured"),
        2,
        "{}",
        report["tolerances"]
    );
    assert!(tolerated(&report, "busy answer then success on a retry") >= 1);
    // A 503 `before` the store spends nothing: the retries stayed within --max-creates.
    assert!(app.used_today().await <= 20);

    // The journal, by the server's clock: each faulted request was sent again with the same
    // body and got through; the first two retries came a second (Retry-After) after their 503.
    let entries = journal(&app).await;
    let faulted: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i]["fault"].is_object())
        .collect();
    assert_eq!(faulted.len() as u64, applied);
    assert!(
        faulted
            .iter()
            .any(|&i| entries[i]["body"]["campaign_id"].is_string()),
        "no fault hit a request that creates a pair"
    );
    for &i in &faulted {
        let e = &entries[i];
        assert_eq!(e["status"], 503, "{e}");
        assert!(
            entries[i + 1..]
                .iter()
                .any(|later| later["body"] == e["body"] && later["path"] == e["path"]),
            "request #{i} was never sent again: {e}"
        );
    }
    assert_eq!(entries[0]["fault"]["id"], first.as_str());
    assert_eq!(entries[1]["fault"]["id"], first.as_str());
    assert_eq!(entries[1]["body"], entries[0]["body"]);
    assert_eq!(entries[2]["body"], entries[0]["body"]);
    assert_ne!(entries[2]["status"], 503);
    let at = |e: &Value| epoch_millis(e["at"].as_str().expect("at"));
    for (a, b) in [(0, 1), (1, 2)] {
        let gap = at(&entries[b]) - at(&entries[a]);
        assert!(
            gap >= 990,
            "retry {b} came {gap} ms after its 503 (Retry-After: 1)"
        );
    }
}

/// Milliseconds since the epoch of a UTC time as the journal writes it
/// (`2026-12-01T13:52:04.123Z`).
fn epoch_millis(t: &str) -> i64 {
    let (date, time) = t
        .trim_end_matches('Z')
        .split_once('T')
        .expect("date and time");
    let num = |p: &str| p.parse::<i64>().unwrap_or_else(|_| panic!("{t}"));
    let d: Vec<i64> = date.split('-').map(num).collect();
    let (hms, ms) = time.split_once('.').unwrap_or((time, "0"));
    let h: Vec<i64> = hms.split(':').map(num).collect();
    // Days from the civil date (H. Hinnant's days_from_civil).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + h[0]) * 60 + h[1]) * 60_000 + h[2] * 1000 + num(ms)
}

/// Journal entries whose answer a fault replaced after the commit, on a create with a
/// generated send_id (the body names no send_id): the pair was stored and spent, the client saw
/// a 503.
fn committed_generated_creates_answered_503(entries: &[Value]) -> usize {
    entries
        .iter()
        .filter(|e| {
            e["fault"]["when"] == "after"
                && e["fault"]["original_status"] == 200
                && e["status"] == 503
                && e["body"]["campaign_id"].is_string()
                && e["body"]["send_id"].is_null()
        })
        .count()
}

#[tokio::test]
async fn braze_never_spends_past_max_creates_when_5xx_come_after_the_commit() {
    let app = Sendid::spawn_sandbox(100).await;
    // 503 after the commit: the pair is stored and spent, the answer lost. A retry of a given
    // send_id is then a repeat; a retry of a generated one creates another pair.
    let rule = json!({
        "action": {"status": 503, "retry_after": 0},
        "when": "after",
        "probability": 0.3,
        "seed": 7
    });
    let id = add_fault(&app, rule).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let flags = [
        "--profile",
        "braze",
        "--cases",
        "16",
        "--seed",
        "42",
        "--max-creates",
        "10",
        "--retry-backoff",
        "0.01",
    ];
    let (exit, report) = run(&app, &flags, dir.path()).await;

    assert_eq!(exit, Exit::Conformant, "failures: {:#}", report["failures"]);
    assert_eq!(report["failures"], json!([]));
    // Counted by the service: each retry of a generated send_id took a unit of the budget.
    let used = app.used_today().await;
    assert!(used <= 10, "{used} units spent with --max-creates 10");
    assert!(report["quota"]["new_pair_requests"].as_u64() <= Some(10));
    // Not vacuous: the rule was hit, among others on a create with a generated send_id that the
    // service committed, and that create was retried.
    let applied = fault(&app, &id).await["applied"].as_u64().unwrap();
    assert!(applied >= 2, "applied {applied}");
    assert_eq!(
        tolerated(&report, "5XX retried"),
        applied,
        "{}",
        report["tolerances"]
    );
    let entries = journal(&app).await;
    assert!(committed_generated_creates_answered_503(&entries) >= 1);
}

#[tokio::test]
async fn braze_withholds_a_retry_that_would_create_past_the_budget() {
    let app = Sendid::spawn_sandbox(100).await;
    // The run's first new pair (a generated send_id, in the campaign; the request before it
    // names none) is committed and its answer replaced by a 503.
    let rule = json!({
        "match": {"campaign_id": app.campaign_id},
        "action": {"status": 503},
        "when": "after",
        "times": 1
    });
    add_fault(&app, rule).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let flags = [
        "--profile",
        "braze",
        "--cases",
        "8",
        "--seed",
        "42",
        "--max-creates",
        "1",
        "--retry-backoff",
        "0.01",
    ];
    let (exit, report) = run(&app, &flags, dir.path()).await;

    // A retry would have created a second pair with --max-creates 1: not sent. The case is a
    // server error, not a violation, and the run goes on without new pairs.
    assert_eq!(exit, Exit::Conformant, "failures: {:#}", report["failures"]);
    assert_eq!(app.used_today().await, 1);
    let withheld = "5XX not retried: a retry of a generated send_id could create one more pair, \
                    and the quota budget had no unit left";
    assert_eq!(tolerated(&report, withheld), 1, "{}", report["tolerances"]);
    let errors = report["server_errors"].as_array().expect("server_errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["status"], 503);
    assert_eq!(errors[0]["attempts"], 1);
    assert_eq!(status_count(&report, "503"), 1);
    let entries = journal(&app).await;
    assert_eq!(committed_generated_creates_answered_503(&entries), 1);
}

#[tokio::test]
async fn failures_with_one_cause_are_grouped_under_it() {
    // A new user's run under a 503 rule at probability 0.3: every failure is a 503, and the
    // terminal says so once, with the first of them in full, instead of a block each.
    let app = Sendid::spawn_sandbox(1000).await;
    add_fault(&app, spread_503s(0.3)).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sendid-conformance"))
        .args(&app.args()[1..])
        .args(["--seed", "42"])
        .env_remove("SENDID_API_KEY")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the checker runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(heads.len(), 1, "one group, no other block:\n{text}");
    let head = heads[0];
    assert!(head.contains("one cause"), "{head}");
    let n: u64 = head
        .split("cause: ")
        .nth(1)
        .and_then(|h| h.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count of answers: {head}"));
    assert!(head.contains("answers were 503 (server errors)"), "{head}");
    assert!(head.contains("--profile braze"), "{head}");
    // The count is the run's 503s, as its answers line says.
    assert!(text.contains(&format!("503×{n}")), "{n}:\n{text}");
    assert!(n >= 2, "{text}");
    assert!(text.contains("  checks:   "), "{text}");
    assert!(text.contains("no_server_error"), "{text}");
    assert_eq!(
        text.matches("  curl:").count(),
        1,
        "the first example only:\n{text}"
    );
}
