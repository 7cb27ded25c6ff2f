//! What a new user trips on (issue 8, item 6): output that reads well and commands that run as
//! printed.
use std::process::Stdio;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{handler, Response, Route, Server};
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
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let port = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .expect("address")
        .port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            Route::new().at("/*rest", not_found),
            async move {
                let _ = rx.await;
            },
            None,
        ),
    );
    (format!("http://127.0.0.1:{port}"), tx)
}

#[tokio::test]
async fn mostly_404_ends_with_a_hint_to_check_the_base_url() {
    let (address, _stop) = spawn_not_found().await;
    let outcome = check(
        crate::support::args(&address, API_KEY, "c"),
        &["--cases", "4", "--seed", "3"],
    )
    .await;
    assert_eq!(outcome.exit, Exit::Violation);
    let text = summary::render(&outcome.report.expect("a report"));
    assert!(
        text.contains("answers were 404 Not Found: check --base-url"),
        "{text}"
    );

    // A target that answers mostly 200/4xx as it should gets no such hint.
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
        .find(|f| f.check == "status_is_documented")
        .expect("status_is_documented fails");
    assert!(
        f.reason.contains("the document lists 200, 400"),
        "{}",
        f.reason
    );
}
