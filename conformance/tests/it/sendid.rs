//! The real service passes, in both profiles, with and without exhausting its quota.
use crate::support::{assert_conformant, check, Sendid};

#[tokio::test]
async fn sendid_is_conformant_in_the_strict_profile() {
    let app = Sendid::spawn(100).await;
    let outcome = check(
        app.full_args(),
        &["--cases", "24", "--seed", "11", "--max-creates", "40"],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    // Every check of the strict profile was exercised but those that need --exhaust-quota,
    // which say so.
    for c in &report.checks {
        if c.passed == 0 {
            let why = c.not_run.as_deref().unwrap_or("");
            assert!(
                why.contains("--exhaust-quota"),
                "{} was not exercised",
                c.name
            );
        }
    }
    // No 429 provoked, never more than --max-creates units spent (counted by the service).
    assert_eq!(report.statuses.get("429"), None, "{:?}", report.statuses);
    assert!(app.used_today().await <= 40);
}

#[tokio::test]
async fn sendid_is_conformant_with_two_campaigns_when_exhausting_a_small_quota() {
    let app = Sendid::spawn(60).await;
    let outcome = check(
        app.full_args(),
        &["--cases", "8", "--seed", "12", "--exhaust-quota"],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    for c in &report.checks {
        assert!(
            c.passed > 0,
            "{} was not exercised ({:?})",
            c.name,
            c.not_run
        );
    }
    assert!(report.statuses.get("429").is_some_and(|n| *n >= 1));
    assert_eq!(app.used_today().await, 60);
}

#[tokio::test]
async fn with_one_campaign_the_cross_campaign_checks_say_how_to_run_them() {
    let app = Sendid::spawn(100).await;
    let outcome = check(app.args(), &["--cases", "4", "--seed", "15"]).await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    for name in ["pair_is_per_campaign", "quota_is_per_workspace"] {
        let c = report.check(name).expect(name);
        assert_eq!(c.passed + c.failed, 0);
        assert!(
            c.not_run
                .as_deref()
                .is_some_and(|w| w.contains("--campaign-id")),
            "{name}: {:?}",
            c.not_run
        );
    }
    assert!(app.used_today().await <= 10);
}

/// The same run against sendid on PostgreSQL (issue #10): the quota driven to 0 through the
/// shared engine, 429 rules included. Skipped with the reason printed without PostgreSQL;
/// failing under CI=true.
#[tokio::test]
async fn sendid_on_postgresql_is_conformant_when_exhausting_its_quota() {
    let Some(url) = sendid_test_support::pg::database_url().await else {
        return;
    };
    let app = Sendid::spawn_on(15, Some(url)).await;
    let mut args = app.args();
    args.extend(["--forbidden-api-key".into(), app.forbidden_api_key.clone()]);
    let outcome = check(args, &["--cases", "12", "--seed", "12", "--exhaust-quota"]).await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    assert!(
        report
            .check("new_pair_over_quota_is_429")
            .expect("the 429 check")
            .passed
            > 0
    );
    assert_eq!(app.used_today().await, 15);
}

#[tokio::test]
async fn sendid_is_conformant_in_the_braze_profile() {
    let app = Sendid::spawn(100).await;
    let outcome = check(
        app.args(),
        &["--profile", "braze", "--cases", "16", "--seed", "13"],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    assert!(
        report.check("forbidden_key_is_403").is_none(),
        "strict-only check ran"
    );
    assert!(app.used_today().await <= 10);
}

#[tokio::test]
async fn sendid_is_conformant_in_the_braze_profile_when_exhausting_its_quota() {
    let app = Sendid::spawn(9).await;
    let outcome = check(
        app.args(),
        &[
            "--profile",
            "braze",
            "--cases",
            "8",
            "--seed",
            "14",
            "--exhaust-quota",
        ],
    )
    .await;
    assert_conformant(&outcome);
    let report = outcome.report.expect("a report");
    assert!(
        report
            .check("new_pair_over_quota_is_429")
            .expect("check")
            .passed
            > 0
    );
    assert_eq!(app.used_today().await, 9);
}
