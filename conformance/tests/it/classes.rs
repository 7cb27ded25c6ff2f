//! Issue 24: checks by class. One defect per class — instances of this file's own, not the
//! issue's — is caught both on a quota-8 workspace with `--exhaust-quota` and at
//! `--max-creates 10`; the clean server and sendid itself pass at both; a server with one defect
//! fails only checks of that defect's class.
use std::collections::BTreeSet;

use sendid_conformance::classes::Class;
use sendid_conformance::{Exit, Outcome};

use crate::broken_server::{BrokenServer, Defect};
use crate::support::{assert_conformant, check, failed_checks, Sendid};

const EXHAUSTED: (u64, &[&str]) = (8, &["--exhaust-quota"]);
const DEFAULT_BUDGET: (u64, &[&str]) = (100, &["--max-creates", "10"]);

async fn run_at(defect: Defect, (quota, flags): (u64, &[&str]), seed: &str) -> Outcome {
    let server = BrokenServer::spawn(defect, quota).await;
    let mut extra = vec!["--cases", "8", "--seed", seed];
    extra.extend_from_slice(flags);
    check(server.args(), &extra).await
}

/// `defect` is caught at both budgets, and every check it fails is one of `class`.
async fn caught_in_class(defect: Defect, class: Class) {
    let of_class: BTreeSet<&str> = sendid_conformance::classes::checks_of(class)
        .map(|c| c.name())
        .collect();
    for (budget, seed) in [(EXHAUSTED, "41"), (DEFAULT_BUDGET, "42")] {
        let outcome = run_at(defect, budget, seed).await;
        let failed: BTreeSet<&str> = failed_checks(&outcome).into_iter().collect();
        assert_eq!(
            outcome.exit,
            Exit::Violation,
            "{defect:?} went unnoticed at {budget:?}"
        );
        assert!(
            !failed.is_empty() && failed.is_subset(&of_class),
            "{defect:?} at {budget:?}: failed {failed:?}, not all of class {class:?} {of_class:?}"
        );
    }
}

#[tokio::test]
async fn the_clean_server_passes_every_class_at_both_budgets() {
    for (budget, seed) in [(EXHAUSTED, "43"), (DEFAULT_BUDGET, "44")] {
        assert_conformant(&run_at(Defect::None, budget, seed).await);
    }
}

#[tokio::test]
async fn sendid_passes_every_class_at_both_budgets() {
    let small = Sendid::spawn(8).await;
    assert_conformant(
        &check(
            small.full_args(),
            &["--cases", "8", "--seed", "45", "--exhaust-quota"],
        )
        .await,
    );
    let roomy = Sendid::spawn(100).await;
    assert_conformant(
        &check(
            roomy.full_args(),
            &["--cases", "8", "--seed", "46", "--max-creates", "10"],
        )
        .await,
    );
}

#[tokio::test]
async fn options_without_allow_is_an_http_method_defect() {
    caught_in_class(Defect::OptionsWithoutAllow, Class::HttpMethods).await;
}

#[tokio::test]
async fn a_case_sensitive_bearer_scheme_is_an_equivalence_defect() {
    caught_in_class(Defect::BearerSchemeCaseSensitive, Class::Equivalent).await;
}

#[tokio::test]
async fn a_huge_number_answered_500_is_a_parser_defect() {
    caught_in_class(Defect::HugeNumberIs500, Class::Parser).await;
}

#[tokio::test]
async fn a_stack_trace_in_a_404_is_a_hygiene_defect() {
    caught_in_class(Defect::StackTraceIn404, Class::Hygiene).await;
}

#[tokio::test]
async fn time_ordered_ids_are_a_generated_id_defect() {
    caught_in_class(Defect::TimeOrderedIds, Class::GeneratedIds).await;
}

#[tokio::test]
async fn a_quota_locked_per_campaign_is_a_race_defect() {
    caught_in_class(Defect::QuotaLockPerCampaign, Class::Races).await;
}

#[tokio::test]
async fn case_folded_send_ids_are_caught_at_the_default_budget() {
    caught_in_class(Defect::SendIdCaseFolded, Class::Pairs).await;
}
