//! Issue 18: a verdict to trust at a real workspace's budget. Each defect class is caught at
//! both small budgets — a workspace of quota 8 with `--exhaust-quota`, and `--max-creates 10`
//! on a roomy one without it — and the clean server passes at both; a server with one defect
//! fails exactly that defect's checks; a refused setup ends at once with exit 2.
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, EndpointExt, Response, Route};
use sendid_conformance::events::{Event, Events};
use sendid_conformance::{cli, Exit, Outcome};

use crate::broken_server::{BrokenServer, Defect, API_KEY, CAMPAIGN};
use crate::support::{assert_conformant, check, failed_checks};

/// The workspace with quota 8, spent to 0 on purpose.
const EXHAUSTED: (u64, &[&str]) = (8, &["--exhaust-quota"]);
/// A roomy workspace, at the default budget.
const DEFAULT_BUDGET: (u64, &[&str]) = (100, &["--max-creates", "10"]);

async fn run_at(defect: Defect, (quota, flags): (u64, &[&str]), seed: &str) -> Outcome {
    let server = BrokenServer::spawn(defect, quota).await;
    let mut extra = vec!["--cases", "8", "--seed", seed];
    extra.extend_from_slice(flags);
    check(server.args(), &extra).await
}

/// `defect` is caught at both budgets, each time by one of `checks`.
async fn caught_at_both_budgets(defect: Defect, checks: &[&str]) {
    for (budget, seed) in [(EXHAUSTED, "31"), (DEFAULT_BUDGET, "32")] {
        let outcome = run_at(defect, budget, seed).await;
        let failed = failed_checks(&outcome);
        assert_eq!(
            outcome.exit,
            Exit::Violation,
            "{defect:?} went unnoticed at {budget:?}"
        );
        assert!(
            failed.iter().any(|f| checks.contains(f)),
            "{defect:?} at {budget:?}: expected one of {checks:?} among {failed:?}"
        );
    }
}

#[tokio::test]
async fn the_clean_server_passes_at_both_budgets() {
    for (budget, seed) in [(EXHAUSTED, "33"), (DEFAULT_BUDGET, "34")] {
        let outcome = run_at(Defect::None, budget, seed).await;
        assert_conformant(&outcome);
        let report = outcome.report.expect("a report");
        assert_eq!(report.result, "conformant");
        assert_eq!(report.exit_code, 0);
    }
}

#[tokio::test]
async fn a_check_then_act_quota_is_caught_at_both_budgets() {
    caught_at_both_budgets(
        Defect::QuotaCheckThenAct,
        &["burst_creates_exactly_min_n_r"],
    )
    .await;
}

#[tokio::test]
async fn a_burst_that_acknowledges_and_drops_pairs_is_caught_at_both_budgets() {
    caught_at_both_budgets(Defect::BurstDropsPairs, &["burst_pairs_are_stored"]).await;
}

#[tokio::test]
async fn generated_ids_from_a_coarse_clock_are_caught_at_both_budgets() {
    caught_at_both_budgets(
        Defect::GeneratedIdsCoarseClock,
        // With two campaigns the default budget's burst is one send_id in both; the clock in
        // the ids is their structure (issue 24).
        &[
            "burst_send_ids_distinct",
            "generated_id_is_unique",
            "generated_ids_without_structure",
        ],
    )
    .await;
}

#[tokio::test]
async fn null_handled_as_a_value_is_caught_at_both_budgets() {
    caught_at_both_budgets(
        Defect::NullAsValue,
        &[
            "generated_id_is_unique",
            "new_pair_spends_exactly_one",
            "new_pair_over_quota_is_429",
            // "null" as a generated id has room for 26 bits (issue 24).
            "generated_ids_without_structure",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_second_campaigns_pair_not_stored_is_caught_at_both_budgets() {
    caught_at_both_budgets(
        Defect::SecondCampaignPairNotStored,
        &["pair_is_per_campaign"],
    )
    .await;
}

/// With `--concurrency` at its default, one defect fails exactly its own checks: nothing a
/// wrongly accepted request spent is charged to another request.
#[tokio::test]
async fn one_defect_fails_exactly_its_checks() {
    for (defect, expected) in [
        (
            Defect::LongSendIdAccepted,
            &[
                "invalid_request_is_refused",
                "invalid_request_gets_its_status",
                "invalid_request_spends_nothing",
            ][..],
        ),
        (
            Defect::SecondCampaignPairNotStored,
            &[
                "pair_is_per_campaign",
                "repeat_returns_pair_and_spends_nothing",
                // The burst's send_id sent to both campaigns at once (issue 24).
                "burst_pairs_are_stored",
            ][..],
        ),
        (
            Defect::QuotaCheckThenAct,
            &["burst_creates_exactly_min_n_r"][..],
        ),
    ] {
        let outcome = run_at(defect, DEFAULT_BUDGET, "35").await;
        let failed: BTreeSet<&str> = failed_checks(&outcome).into_iter().collect();
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(failed, expected, "{defect:?}");
        // Each failing check is shown once.
        let report = outcome.report.expect("a report");
        let shown: Vec<&str> = report.failures.iter().map(|f| f.check.name()).collect();
        let distinct: BTreeSet<&&str> = shown.iter().collect();
        assert_eq!(distinct.len(), shown.len(), "{defect:?}: {shown:?}");
    }
}

// Preflight

/// Records what a run tells.
#[derive(Default)]
struct Recorder {
    fatal: Mutex<Vec<String>>,
    failures: Mutex<u64>,
}

impl Events for Recorder {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Fatal(m) => self.fatal.lock().expect("lock").push(m.to_string()),
            Event::Failure(_) => *self.failures.lock().expect("lock") += 1,
            _ => {}
        }
    }
}

/// Runs the checker with `args`; asserts exit 2, one message naming `flag`, no failure shown.
async fn refused(args: Vec<String>, flag: &str) {
    let recorder = Arc::new(Recorder::default());
    let cli = cli::parse(args).expect("flags parse");
    let outcome = sendid_conformance::run_with(cli, recorder.clone()).await;
    assert_eq!(outcome.exit, Exit::Usage);
    let fatal = recorder.fatal.lock().expect("lock").clone();
    assert_eq!(fatal.len(), 1, "{fatal:?}");
    assert!(fatal[0].contains(flag), "{flag} not named: {}", fatal[0]);
    assert_eq!(*recorder.failures.lock().expect("lock"), 0);
}

#[tokio::test]
async fn a_wrong_key_ends_at_once_naming_the_key_flag() {
    let server = BrokenServer::spawn(Defect::None, 100).await;
    let args = crate::support::args(&server.address, "not-the-key-0123456789", CAMPAIGN);
    refused(args, "--api-key").await;
    assert!(server.received.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn a_typo_in_the_campaign_ends_at_once_naming_the_campaign_flag() {
    let server = BrokenServer::spawn(Defect::None, 100).await;
    let args = crate::support::args(&server.address, API_KEY, "campaign-l");
    refused(args, "--campaign-id").await;
    assert!(server.received.load(Ordering::SeqCst) <= 2);
    // The second campaign too, having spent at most the first pair's unit.
    let mut args = crate::support::args(&server.address, API_KEY, CAMPAIGN);
    args.extend(["--campaign-id".into(), "campaign-3".into()]);
    refused(args, "--campaign-id").await;
}

#[handler]
async fn html_not_found(Data(count): Data<&Arc<std::sync::atomic::AtomicU64>>) -> Response {
    count.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("text/html")
        .body("<html><body><h1>404 Not Found</h1></body></html>")
}

#[tokio::test]
async fn a_base_url_serving_html_404s_ends_at_once_naming_the_base_url() {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = Route::new()
        .at("/*rest", html_not_found)
        .data(Arc::clone(&count));
    let (address, _stop) = crate::support::serve_on_loopback(app).await;
    refused(crate::support::args(&address, API_KEY, "c"), "--base-url").await;
    assert!(count.load(Ordering::SeqCst) <= 2);
}

// Coverage in the verdict

#[tokio::test]
async fn a_run_that_left_checks_not_run_exits_4_with_fail_on_skipped() {
    let server = BrokenServer::spawn(Defect::None, 100).await;
    let outcome = check(
        server.one_campaign_args(),
        &["--cases", "4", "--seed", "36", "--fail-on-skipped"],
    )
    .await;
    // One campaign and no --exhaust-quota: the cross-campaign and 429 checks do not run.
    assert_eq!(outcome.exit, Exit::Inconclusive);
    let report = outcome.report.expect("a report");
    assert_eq!(report.result, "inconclusive");
    assert_eq!(report.exit_code, 4);
    assert!(report.not_run_checks().contains(&"pair_is_per_campaign"));
}
