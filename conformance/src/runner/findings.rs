//! Findings: shrinking a failing case to a minimal one, showing each failing check once, and
//! joining checks that the same request and answer break into one block.

use proptest::strategy::ValueTree;

use super::exchange::{Fails, Step};
use super::result::Absorbed;
use super::Runner;
use crate::events::Event;
use crate::http::Response;
use crate::oracle::CheckId;
use crate::report::{BrokenCheck, Failure, ResponseSummary};
use crate::shrink::Shrinker;
use crate::strategies::Case;

/// What a failure of a run-level check shows.
pub(super) struct Shown {
    pub(super) case: String,
    pub(super) request: String,
    pub(super) request_body: Option<String>,
    pub(super) response: Option<Response>,
    pub(super) curl: String,
}

impl Runner {
    /// Shrinks each check that fails here for the first time in the run, and shows it once
    /// with every other new check its minimal request breaks.
    pub(super) async fn shrink_new_failures(
        &mut self,
        property: &'static str,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        step: Step,
        fails: Fails,
    ) {
        let mut pending: Fails = fails
            .iter()
            .filter(|(c, _)| !self.result.is_shown(*c))
            .cloned()
            .collect();
        while !pending.is_empty() {
            let (check, reason) = pending.remove(0);
            self.result.claim(check);
            // Only the case that was generated shrinks; a failing repeat is shrunk through the
            // new pair that led to it.
            let (best, reason, steps, best_fails) = self
                .shrink(tree, check, step.clone(), reason, fails.clone())
                .await;
            let others = self.new_checks_besides(check, best_fails);
            pending.retain(|(c, _)| !self.result.is_shown(*c));
            self.record_failure(check, property, &best, reason, steps, others);
        }
    }

    /// The checks of `fails` other than `shown` not shown before; from now on shown.
    pub(super) fn new_checks_besides(&mut self, shown: CheckId, fails: Fails) -> Vec<BrokenCheck> {
        fails
            .into_iter()
            .filter(|(c, _)| *c != shown && self.result.claim(*c))
            .map(|(check, reason)| BrokenCheck { check, reason })
            .collect()
    }

    /// Shrinks one failing case. Attempts that may create a pair take budget; with none left,
    /// shrinking stops where it is.
    pub(super) async fn shrink(
        &mut self,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        check: CheckId,
        mut best: Step,
        mut reason: String,
        mut best_fails: Fails,
    ) -> (Step, String, u32, Fails) {
        let accepted = matches!(&best.result, Ok(r) if (200..300).contains(&r.status));
        let mut shrinker = Shrinker::new(&mut **tree, self.config.max_shrinks);
        while let Some(case) = shrinker.candidate() {
            let out_of_budget = if case.may_create() {
                !self.budget.try_reserve()
            } else {
                // A server that accepted the failing request may accept this one too, and
                // spend: it needs budget (counted when it is answered 2xx).
                accepted && case.could_spend_if_accepted() && self.budget.left() == 0
            };
            if out_of_budget {
                self.note(format!(
                    "shrinking {check} stopped: the quota budget is used up"
                ));
                break;
            }
            let judged = self.run_case(&case, false).await;
            let hit = judged.into_iter().find_map(|(step, fails)| {
                let r = fails.iter().find(|(c, _)| *c == check)?.1.clone();
                Some((step, r, fails))
            });
            match hit {
                Some((step, r, fails)) => {
                    best = step;
                    reason = r;
                    best_fails = fails;
                    shrinker.still_fails(true);
                }
                None => shrinker.still_fails(false),
            }
        }
        let steps = shrinker.steps();
        (best, reason, steps, best_fails)
    }

    pub(super) fn report_new_failures(
        &mut self,
        property: &'static str,
        step: &Step,
        fails: Fails,
        steps: u32,
    ) {
        let Some((check, reason)) = fails
            .iter()
            .find(|(c, _)| !self.result.is_shown(*c))
            .cloned()
        else {
            return;
        };
        self.result.claim(check);
        let others = self.new_checks_besides(check, fails);
        self.record_failure(check, property, step, reason, steps, others);
    }

    /// Tallies a run-level check decided on one exchange, and shows it when it fails first.
    pub(super) fn run_check_step(
        &mut self,
        check: CheckId,
        property: &'static str,
        verdict: Result<(), String>,
        step: &Step,
    ) {
        self.result.absorb_one(check, &verdict);
        match verdict {
            Ok(()) => {}
            Err(reason) => {
                if self.result.claim(check) {
                    self.record_failure(check, property, step, reason, 0, Vec::new());
                }
            }
        }
    }

    /// Tallies a run-level check decided on one exchange together with that exchange's own
    /// checks: when it fails first it heads the block, the exchange's failures join it.
    pub(super) fn report_with_run_check(
        &mut self,
        check: CheckId,
        property: &'static str,
        verdict: Result<(), String>,
        step: &Step,
        fails: Fails,
    ) {
        self.result.absorb_one(check, &verdict);
        match verdict {
            Ok(()) => {
                self.report_new_failures(property, step, fails, 0);
            }
            Err(reason) => {
                if self.result.claim(check) {
                    let others = self.new_checks_besides(check, fails);
                    self.record_failure(check, property, step, reason, 0, others);
                } else {
                    self.report_new_failures(property, step, fails, 0);
                }
            }
        }
    }

    pub(super) fn record_failure(
        &mut self,
        check: CheckId,
        property: &'static str,
        step: &Step,
        reason: String,
        shrink_steps: u32,
        other_checks: Vec<BrokenCheck>,
    ) {
        let shown = Shown {
            case: step.case.label(),
            request: step.request.describe(&self.target),
            request_body: step
                .request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(2048)]).into_owned()),
            response: step.result.as_ref().ok().cloned(),
            curl: step.request.curl(&self.target),
        };
        self.record_shown(check, property, reason, shown, shrink_steps, other_checks);
    }

    pub(super) fn record_shown(
        &mut self,
        check: CheckId,
        property: &'static str,
        reason: String,
        shown: Shown,
        shrink_steps: u32,
        other_checks: Vec<BrokenCheck>,
    ) {
        let response = shown
            .response
            .as_ref()
            .map(|r| ResponseSummary::new(r.status, r.headers.clone(), &r.body));
        let failure = Failure {
            check,
            property,
            reason,
            other_checks,
            case: shown.case,
            request: shown.request,
            request_body: shown.request_body,
            response,
            curl: shown.curl,
            replay: self.config.replay_command(self.seed),
            secret_env_vars: self.config.secret_env_vars(),
            seed: self.seed,
            shrink_steps,
        };
        // One block per distinct request and answer: a check that a request shown before also
        // breaks joins that block.
        match self.result.absorb_failure(failure) {
            Absorbed::New(failure) => self.events.event(Event::Failure(failure)),
            Absorbed::Joined {
                checks,
                property,
                shown,
            } => self.events.event(Event::SameExchange {
                checks: &checks,
                property,
                shown,
            }),
        }
    }
}
