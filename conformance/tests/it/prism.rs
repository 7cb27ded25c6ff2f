//! A Stoplight Prism mock serving openapi/sends.json: the run completes and reports what a
//! stateless mock must get wrong (a given send_id is not echoed; quota arithmetic). Skipped
//! outside CI when `prism` is not installed; under CI=true a missing prism fails the test.
use std::process::Stdio;
use std::time::{Duration, Instant};

use sendid_conformance::Exit;

use crate::support::{args, check, failed_checks};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/sends.json");

fn prism_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prism"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn a_prism_mock_is_checked_to_the_end_and_its_violations_reported() {
    let Some(prism) = prism_binary() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("prism is not on PATH; CI must install it: npm install -g @stoplight/prism-cli");
        }
        eprintln!("SKIPPED: prism is not on PATH (npm install -g @stoplight/prism-cli)");
        return;
    };
    let port = free_port();
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = tokio::process::Command::new(prism)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string(), SPEC])
        .stdout(Stdio::from(log.reopen().expect("log")))
        .stderr(Stdio::from(log.reopen().expect("log")))
        .kill_on_drop(true)
        .spawn()
        .expect("prism starts");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Ok(Some(status)) = child.try_wait() {
            let out = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("prism exited with {status}: {out}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "prism did not listen within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let base = format!("http://127.0.0.1:{port}");
    // A mock has no quota to protect: let the run spend, so the quota rules are exercised.
    let outcome = check(
        args(&base, "prism-key", "campaign-1"),
        &[
            "--cases",
            "6",
            "--seed",
            "17",
            "--exhaust-quota",
            "--max-shrinks",
            "16",
        ],
    )
    .await;
    let _ = child.kill().await;

    assert_eq!(outcome.exit, Exit::Violation);
    let failed = failed_checks(&outcome);
    for expected in [
        "send_id_is_echoed",
        "new_pair_over_quota_is_429",
        "generated_id_is_unique",
    ] {
        assert!(
            failed.contains(&expected),
            "{expected} not among {failed:?}"
        );
    }
    let report = outcome.report.expect("a report");
    assert_eq!(
        report.statuses.get("no answer"),
        None,
        "{:?}",
        report.statuses
    );
}
