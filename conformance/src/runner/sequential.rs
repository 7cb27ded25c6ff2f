//! Sequential properties: generated cases, free ones `--concurrency` at a time, pair-creating
//! ones one at a time within the budget; the checkpoint after the refused requests.
use std::sync::Arc;

use futures_util::StreamExt;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};

use super::exchange::{repeat, Step};
use super::Runner;
use crate::events::Event;
use crate::http::{Request, Response, TransportError};
use crate::properties::{Count, Property};
use crate::report::{self};
use crate::strategies::Case;

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Sequential properties.

    pub(super) fn case_count(&self, p: &Property, arms: usize) -> u32 {
        let cases = self.cli.cases;
        match p.count {
            Count::Cli => cases.max(arms as u32),
            Count::Small => cases.min(16).max(arms as u32),
            Count::EachOnce => arms as u32,
        }
    }

    /// A property whose cases spend no quota: sent `--concurrency` at a time. The first cases
    /// take one arm (class) each, so every class is covered even with few cases; the rest draw
    /// from all arms.
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
        let mut trees = Vec::new();
        for i in 0..cases as usize {
            let strategy = arms.get(i).unwrap_or(&any);
            match strategy.new_tree(&mut runner) {
                Ok(t) => trees.push(t),
                Err(e) => self.note(format!("{name}: cannot generate a case: {e}")),
            }
        }
        let planned: Vec<(Case, Request)> = trees
            .iter()
            .map(|t| {
                let c = t.current();
                let r = c.request(&self.rctx);
                (c, r)
            })
            .collect();
        let baseline = self.remaining;
        let concurrency = self.cli.concurrency as usize;
        let mut failing = 0;
        let mut held_back = 0;
        let mut trees = trees.into_iter().map(Some).collect::<Vec<_>>();
        let mut planned = planned.into_iter().map(Some).collect::<Vec<_>>();
        for chunk_start in (0..planned.len()).step_by(concurrency) {
            let chunk_end = (chunk_start + concurrency).min(planned.len());
            // A server that wrongly accepts a refused-class request may spend quota: never
            // more such requests in flight than the budget has left.
            let mut allowance = self.budget.left();
            let mut chosen = Vec::new();
            for (i, item) in planned.iter().enumerate().take(chunk_end).skip(chunk_start) {
                let risky = item
                    .as_ref()
                    .is_some_and(|(c, _)| c.could_spend_if_accepted());
                if risky {
                    if allowance == 0 {
                        held_back += 1;
                        continue;
                    }
                    allowance -= 1;
                }
                chosen.push(i);
            }
            let target = self.target.clone();
            let events = Arc::clone(&self.events);
            let requests: Vec<Request> = chosen
                .iter()
                .filter_map(|&i| planned[i].as_ref().map(|(_, r)| r.clone()))
                .collect();
            let results: Vec<Result<Response, TransportError>> =
                futures_util::stream::iter(requests.iter().map(|r| {
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
            for (&i, result) in chosen.iter().zip(results) {
                let (Some((case, request)), Some(mut tree)) = (planned[i].take(), trees[i].take())
                else {
                    continue;
                };
                let step = Step {
                    case,
                    request,
                    result,
                    remaining_before: baseline,
                };
                let fails = self.judge_step(&step, true);
                self.observe(&step);
                self.cases += 1;
                failing += u64::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
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
        let planned = self.alloc.get(name).copied().unwrap_or(0);
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
        let strategies: Vec<&BoxedStrategy<Case>> = if p.count == Count::EachOnce {
            arms.iter().take(cases as usize).collect()
        } else {
            vec![&any; cases as usize]
        };
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
            self.remaining,
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
        let check = "invalid_request_spends_nothing";
        if now != baseline {
            let step = Step {
                case,
                request,
                result: result.clone(),
                remaining_before: Some(baseline),
            };
            self.tally(check, false);
            let reason = format!(
                "over the refused requests of this run, X-RateLimit-Remaining went from \
                 {baseline} to {now} (shown: the repeat that read it)"
            );
            if self.shrunk.insert(check) {
                self.record_failure(check, "refused_spent_nothing", &step, reason, 0, Vec::new());
            }
        }
        self.remaining = Some(now);
    }
}
