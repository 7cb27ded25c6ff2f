//! The quota budget: without --exhaust-quota a run never meets a 429 and never creates more
//! than --max-creates pairs, nor more than the workspace has left.
use crate::support::{assert_conformant, check, Sendid};

#[tokio::test]
async fn a_run_stays_within_max_creates() {
    let app = Sendid::spawn(8).await;
    let outcome = check(
        app.args(),
        &["--cases", "16", "--seed", "21", "--max-creates", "5"],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    assert_eq!(report.statuses.get("429"), None, "{:?}", report.statuses);
    assert!(report.quota.new_pair_requests <= 5, "{:?}", report.quota);
    assert!(app.used_today().await <= 5);
}

#[tokio::test]
async fn a_run_stays_within_what_the_workspace_has_left() {
    let app = Sendid::spawn(8).await;
    // --max-creates above the quota: the quota's Remaining is the bound, and no 429 comes.
    let outcome = check(
        app.args(),
        &["--cases", "16", "--seed", "22", "--max-creates", "10"],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    assert_eq!(report.statuses.get("429"), None, "{:?}", report.statuses);
    assert_eq!(report.quota.budget, Some(8));
    let used = app.used_today().await;
    assert!(used <= 8);

    // A second run on the used-up workspace sends no new pair at all.
    let again = check(app.args(), &["--cases", "8", "--seed", "23"]).await;
    assert_conformant(&again);
    let report = again.report.expect("a report");
    assert_eq!(report.statuses.get("429"), None, "{:?}", report.statuses);
    if used == 8 {
        assert_eq!(report.quota.new_pair_requests, 0);
    }
    assert!(app.used_today().await <= 8);
}

#[tokio::test]
async fn zero_max_creates_spends_nothing() {
    let app = Sendid::spawn(8).await;
    let outcome = check(
        app.args(),
        &["--cases", "8", "--seed", "24", "--max-creates", "0"],
    )
    .await;
    assert_conformant(&outcome);
    assert_eq!(app.used_today().await, 0);
}
