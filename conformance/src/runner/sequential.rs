//! Sequential properties: generated cases, free ones `--concurrency` at a time, pair-creating
//! ones one at a time within the budget; the checkpoint after the refused requests.
use std::sync::Arc;

use futures_util::StreamExt;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};

use super::exchange::{repeat, Step};
use super::Runner;
use crate::events::Event;
use crate::http::{Response, TransportError};
use crate::oracle::CheckId;
use crate::properties::{Count, Property};
use crate::report::{self};
use crate::strategies::Case;

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Sequential properties.

    pub(super) fn case_count(&self, p: &Property, arms: usize) -> u32 {
        let cases = self.config.cases;
        match p.count {
            Count::Flag => cases.max(arms as u32),
            Count::Small => cases.min(16).max(arms as u32),
            Count::EachOnce => arms as u32,
        }
    }

    /// A property whose cases spend no quota. The first cases take one arm (class) each, so
    /// every class is covered even with few cases; the rest draw from all arms. Cases that
    /// cannot spend even if wrongly accepted go `--concurrency` at a time, and what they spend
    /// is not judged one by one (the checkpoint after the refused requests judges the sum);
    /// cases that could spend (bodies that would create a pair if accepted, repeats) go one at
    /// a time, with nothing else in flight, so what each spent is its own.
    pub(super) async fn free_property(&mut self, p: &Property, arms: Vec<BoxedStrategy<Case>>) {
        let name = p.name;
        if arms.is_empty() {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no case: the run has no existing pair to use",
            });
            return;
        }
        let cases = self.case_count(p, arms.len());
        self.events.event(Event::PropertyStarted {
            name,
            cases: u64::from(cases),
        });
        let mut runner = self.test_runner(name);
        let any = proptest::strategy::Union::new(arms.clone()).boxed();
        let mut together = Vec::new();
        let mut alone = Vec::new();
        for i in 0..cases as usize {
            let strategy = arms.get(i).unwrap_or(&any);
            match strategy.new_tree(&mut runner) {
                Ok(tree) => {
                    let case = tree.current();
                    let request = case.request(&self.rctx);
                    let could_spend =
                        case.could_spend_if_accepted() || matches!(case, Case::Repeat { .. });
                    if could_spend {
                        alone.push((case, request, tree));
                    } else {
                        together.push((case, request, tree));
                    }
                }
                Err(e) => self.note(format!("{name}: cannot generate a case: {e}")),
            }
        }
        let concurrency = self.config.concurrency as usize;
        let mut failing = 0;
        let mut sent_together = false;
        let mut together = together.into_iter();
        loop {
            let chunk: Vec<_> = together.by_ref().take(concurrency).collect();
            if chunk.is_empty() {
                break;
            }
            sent_together = true;
            let target = self.target.clone();
            let events = Arc::clone(&self.events);
            let results: Vec<Result<Response, TransportError>> =
                futures_util::stream::iter(chunk.iter().map(|(_, r, _)| {
                    let target = &target;
                    let events = &events;
                    async move {
                        let res = target.send(r).await;
                        events.event(Event::CaseDone);
                        res
                    }
                }))
                .buffered(concurrency)
                .collect()
                .await;
            self.requests += results.len() as u64;
            for r in &results {
                self.count_status(r);
            }
            for ((case, request, mut tree), result) in chunk.into_iter().zip(results) {
                let step = Step {
                    case,
                    request,
                    result,
                    remaining_before: None,
                };
                let fails = self.judge_step(&step, true);
                self.observe(&step);
                self.cases += 1;
                failing += u64::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        let mut held_back = 0;
        if !alone.is_empty() && sent_together {
            // What the concurrent cases spent is not this phase's to judge: read afresh.
            let (now, _) = self.read_remaining(0).await;
            self.remaining = now.or(self.remaining);
        }
        for (case, request, mut tree) in alone {
            // A server that wrongly accepts a refused-class request may spend quota: one only
            // while the budget has some left.
            if case.could_spend_if_accepted() && self.budget.left() == 0 {
                held_back += 1;
                continue;
            }
            let before = self.remaining;
            let result = self.send(&request).await;
            self.events.event(Event::CaseDone);
            let step = Step {
                case,
                request,
                result,
                remaining_before: before,
            };
            let fails = self.judge_step(&step, true);
            self.observe(&step);
            if let Some(after) = step.result.as_ref().ok().and_then(|r| r.remaining()) {
                if let Some(b) = before {
                    self.spent_seen += (b - after).max(0);
                }
                self.remaining = Some(after);
            }
            self.cases += 1;
            failing += u64::from(!fails.is_empty());
            self.shrink_new_failures(name, &mut tree, step, fails).await;
        }
        if held_back > 0 {
            self.note(format!(
                "{name}: {} held back: a server that wrongly accepted them could spend quota, \
                 and the budget has none left",
                report::plural(held_back, "case", "cases")
            ));
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: u64::from(cases) - held_back,
            failing,
        });
    }

    /// A property whose cases create pairs: one at a time, each within the budget and the
    /// property's plan, each followed by a repeat of the pair it created. Coverage properties
    /// take their cases in order; the others draw from all arms.
    pub(super) async fn creating_property(&mut self, p: &Property, arms: Vec<BoxedStrategy<Case>>) {
        let name = p.name;
        let planned = self.plan.units_of(name);
        let total = self.case_count(p, arms.len());
        let cases = (planned.min(u64::from(total))) as u32;
        if cases == 0 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        self.events.event(Event::PropertyStarted {
            name,
            cases: u64::from(cases),
        });
        let mut runner = self.test_runner(name);
        let any = proptest::strategy::Union::new(arms.clone()).boxed();
        let mut failing = 0;
        // One case per arm (class) first, then from all of them.
        let strategies: Vec<&BoxedStrategy<Case>> = (0..cases as usize)
            .map(|i| arms.get(i).unwrap_or(&any))
            .collect();
        for strategy in strategies {
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            if !self.budget.try_reserve() {
                self.note(format!(
                    "{name}: stopped early, the quota budget is used up"
                ));
                break;
            }
            let judged = self.run_case(&tree.current(), true).await;
            self.cases += 1;
            self.events.event(Event::CaseDone);
            for (step, fails) in judged {
                failing += u64::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: u64::from(cases),
            failing,
        });
    }

    /// After the refused requests: the quota must be where it was (catches servers that spend
    /// on refused requests without saying so in their headers).
    pub(super) async fn checkpoint(&mut self) {
        let (Some(existing), Some(baseline)) = (
            self.rctx.existing_send_id().map(str::to_string),
            self.refused_baseline,
        ) else {
            return;
        };
        let case = repeat(0, &existing);
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        let Ok(resp) = &result else {
            return;
        };
        let Some(now) = resp.remaining() else {
            return;
        };
        let check = CheckId::InvalidRequestSpendsNothing;
        // Spending already seen on one request and charged to it is not charged again.
        let expected = baseline - self.spent_seen;
        if now != expected {
            let step = Step {
                case,
                request,
                result: result.clone(),
                remaining_before: Some(baseline),
            };
            let seen = if self.spent_seen > 0 {
                format!(
                    " ({baseline} at their start, less {} spent by requests shown on their own)",
                    self.spent_seen
                )
            } else {
                String::new()
            };
            let reason = format!(
                "over the refused requests of this run, sent several at a time: expected \
                 X-RateLimit-Remaining {expected}{seen}, saw {now} (shown: the repeat that read \
                 it)"
            );
            self.result.absorb_one(check, &Err(reason.clone()));
            if self.result.claim(check) {
                self.record_failure(check, "refused_spent_nothing", &step, reason, 0, Vec::new());
            }
        }
        self.remaining = Some(now);
    }
}
