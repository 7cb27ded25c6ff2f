//! `--profile braze` never cries wolf: against a Braze-like fake that answers 201 with an
//! `errors` array, a transient 503 and a 429 that is not the quota, braze passes and says which
//! tolerances it used; strict names the 201; a target answering only 503 ends with exit 3.
use std::time::Duration;

use sendid_conformance::report::summary;
use sendid_conformance::Exit;

use crate::braze_fake::{BrazeFake, Mode};
use crate::support::{check, failed_checks};

/// Retries fast in tests; the 503's `Retry-After: 1` still makes one wait of a second.
const FAST: &[&str] = &["--retry-backoff", "0.01"];

#[tokio::test]
async fn braze_accepts_what_braze_documents_and_reports_the_tolerances_used() {
    let fake = BrazeFake::spawn(Mode::TransientBusy).await;
    let mut extra = vec!["--profile", "braze", "--cases", "6", "--seed", "5"];
    extra.extend_from_slice(FAST);
    let outcome = check(fake.args(), &extra).await;
    assert_eq!(
        outcome.exit,
        Exit::Conformant,
        "failed: {:?}",
        failed_checks(&outcome)
    );
    let report = outcome.report.expect("a report");
    let t = &report.tolerances;
    for tolerance in [
        "201 taken as success",
        "\"errors\" array allowed in the body",
        "5XX retried",
        "Retry-After honoured",
        "429 without X-RateLimit-Remaining: 0 retried",
        "busy answer then success on a retry",
    ] {
        assert!(t.contains_key(tolerance), "{tolerance} not among {t:?}");
    }
    assert_eq!(t["5XX retried"], 1, "{t:?}");
    assert_eq!(
        t["429 without X-RateLimit-Remaining: 0 retried"], 1,
        "{t:?}"
    );
    assert!(
        report.server_errors.is_empty(),
        "{:?}",
        report.server_errors
    );
    // The checks that matter on a success still ran on the 201s.
    for name in [
        "send_id_is_echoed",
        "send_id_is_printable_ascii",
        "documented_headers_present_and_typed",
        "message_is_success",
    ] {
        let c = report.check(name).expect("check listed");
        assert!(c.passed > 0, "{name} never ran");
    }
    let text = summary::render(&report);
    assert!(
        text.contains("tolerances of --profile braze used:"),
        "{text}"
    );
    assert!(text.contains("201 taken as success: "), "{text}");
    assert!(text.contains("5XX retried: once"), "{text}");

    // Retry-After was honoured: the retry of the 503 came a second or more after it.
    let answers = fake.answers();
    let i = answers.iter().position(|(_, s)| *s == 503).expect("a 503");
    let gap = answers[i + 1].0 - answers[i].0;
    assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
}

#[tokio::test]
async fn strict_names_the_201() {
    let fake = BrazeFake::spawn(Mode::TransientBusy).await;
    let outcome = check(fake.args(), &["--cases", "6", "--seed", "5"]).await;
    assert_eq!(outcome.exit, Exit::Violation);
    let report = outcome.report.expect("a report");
    let broken = report
        .failures
        .iter()
        .flat_map(|f| f.broken())
        .find(|b| b.check == "status_is_documented" && b.reason.contains("201"))
        .unwrap_or_else(|| panic!("no failure names the 201: {:?}", report.failures));
    assert!(
        broken.reason.contains("not documented"),
        "{}",
        broken.reason
    );
    assert!(report.tolerances.is_empty(), "strict tolerates nothing");
}

#[tokio::test]
async fn a_target_answering_only_503_exits_3_after_the_retries() {
    let fake = BrazeFake::spawn(Mode::AlwaysUnavailable).await;
    let mut extra = vec!["--profile", "braze", "--cases", "4", "--seed", "5"];
    extra.extend_from_slice(FAST);
    let outcome = check(fake.args(), &extra).await;
    assert_eq!(outcome.exit, Exit::Unreachable);
    // The first request and its three retries, no more.
    let statuses: Vec<u16> = fake.answers().iter().map(|(_, s)| *s).collect();
    assert_eq!(statuses, vec![503; 4]);
}

#[tokio::test]
async fn cases_busy_after_every_retry_are_server_errors_not_violations() {
    let fake = BrazeFake::spawn(Mode::GivenIdsUnavailable).await;
    let mut extra = vec!["--profile", "braze", "--cases", "6", "--seed", "5"];
    extra.extend_from_slice(FAST);
    let outcome = check(fake.args(), &extra).await;
    assert_eq!(
        outcome.exit,
        Exit::Conformant,
        "failed: {:?}",
        failed_checks(&outcome)
    );
    let report = outcome.report.expect("a report");
    assert!(!report.server_errors.is_empty(), "{report:?}");
    // The request and its three retries; after 5 cases in a row gave up, the target is taken
    // to be down and busy answers are no longer retried.
    assert_eq!(
        report.server_errors[0].attempts, 4,
        "{:?}",
        report.server_errors
    );
    for (i, e) in report.server_errors.iter().enumerate() {
        assert_eq!(e.status, 503);
        let expected = if i < 5 { 4 } else { 1 };
        assert!(e.attempts == 4 || e.attempts == expected, "#{i}: {e:?}");
    }
    let text = summary::render(&report);
    assert!(
        text.contains("server errors (busy or in maintenance after every retry"),
        "{text}"
    );
    assert!(text.contains(": 503 after 4 attempts"), "{text}");
}
