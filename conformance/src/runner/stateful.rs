//! Stateful sequences, checked against the model ([`crate::model`]) and shrunk as a whole.

use proptest::strategy::{Strategy, ValueTree};

use super::exchange::repeat;
use super::findings::Shown;
use super::Runner;
use crate::burst;
use crate::events::Event;
use crate::http::{Request, Response};
use crate::model::{self, Model, Op};
use crate::oracle::CheckId;
use crate::shrink::Shrinker;

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Stateful sequences.

    /// Random operation sequences against the model, within the plan; the first failing one is
    /// shrunk to the shortest sequence that still fails and shown as numbered curl lines.
    pub(super) async fn sequences(&mut self, name: &'static str) {
        let mut units = self.plan.units_of(name);
        let Some(existing) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no existing pair to start from",
            });
            return;
        };
        if units == 0 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        let strategy = model::ops(self.campaigns() >= 2 && self.rctx.existing_in(1).is_some());
        let mut runner = self.test_runner(name);
        let max = u64::from(self.config.cases);
        self.events
            .event(Event::PropertyStarted { name, cases: max });
        let (mut ran, mut failing) = (0u64, 0u64);
        while ran < max {
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                break;
            };
            let mut ops = tree.current();
            // The budget decides how much of a sequence is sent.
            while model::cost(&ops) > units.min(self.budget.left()) && !ops.is_empty() {
                ops.pop();
            }
            if ops.is_empty() {
                break;
            }
            units -= model::cost(&ops);
            ran += 1;
            self.events.event(Event::CaseDone);
            let outcome = self.run_sequence(&ops, &existing).await;
            let Err(first) = outcome else {
                self.result.absorb_one(CheckId::ModelAgrees, &Ok(()));
                continue;
            };
            self.result
                .absorb_one(CheckId::ModelAgrees, &Err(first.reason.clone()));
            failing += 1;
            if !self.result.claim(CheckId::ModelAgrees) {
                continue;
            }
            let mut best = first;
            let mut shrinker = Shrinker::new(&mut *tree, self.config.max_shrinks);
            while let Some(candidate) = shrinker.candidate() {
                let cost = model::cost(&candidate);
                if cost > self.budget.left() {
                    self.note(format!(
                        "shrinking {} stopped: the quota budget is used up",
                        CheckId::ModelAgrees.name()
                    ));
                    break;
                }
                match self.run_sequence(&candidate, &existing).await {
                    Err(f) => {
                        best = f;
                        shrinker.still_fails(true);
                    }
                    Ok(()) => shrinker.still_fails(false),
                }
            }
            let steps = shrinker.steps();
            self.record_shown(
                CheckId::ModelAgrees,
                name,
                best.reason.clone(),
                best.into_shown(),
                steps,
                Vec::new(),
            );
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: ran,
            failing,
        });
    }

    /// Runs one sequence on send_ids of its own; `Err` at the first answer the model did not
    /// predict.
    pub(super) async fn run_sequence(
        &mut self,
        ops: &[Op],
        existing: &str,
    ) -> Result<(), SequenceFailure> {
        self.executions += 1;
        let prefix = format!("seq-{}-{}", self.tag, self.executions);
        for op in ops {
            if model::cost(std::slice::from_ref(op)) > 0 {
                self.budget.try_reserve();
            }
        }
        let (start, read) = self.read_remaining(0).await;
        let mut lines = Vec::new();
        if let Some(read) = &read {
            lines.push(format!(
                "{}  # X-RateLimit-Remaining {} at the start",
                read.request.curl(&self.target),
                start.map_or("?".into(), |r| r.to_string())
            ));
        }
        let burst = self.burst_size().min(8);
        let mut model = Model::new(
            (0, existing.to_string()),
            start,
            prefix,
            burst,
            self.campaigns(),
        );
        for op in ops {
            let planned = model.plan(op);
            let request = planned.case.request(&self.rctx);
            let curl = request.curl(&self.target);
            let expect = format!(
                "expect {}{}",
                planned.expect.status,
                planned
                    .expect
                    .remaining
                    .map(|r| format!(", Remaining {r}"))
                    .unwrap_or_default()
            );
            let (answers, shown_curl) = if planned.copies > 1 {
                let requests = vec![request.clone(); planned.copies];
                let cases = vec![planned.case.clone(); planned.copies];
                let answers = self.burst(requests, &cases).await;
                (answers, burst::replay(&[curl], planned.copies))
            } else {
                let result = self.send(&request).await;
                (vec![result], curl)
            };
            lines.push(format!("{shown_curl}  # {expect}"));
            let statuses: Vec<u16> = answers
                .iter()
                .map(|a| a.as_ref().map_or(0, |r| r.status))
                .collect();
            let ids: Vec<Option<&str>> = answers
                .iter()
                .map(|a| a.as_ref().ok().and_then(|r| r.send_id()))
                .collect();
            // A burst's answers come in any order: Remaining is read after it instead.
            let remaining = if planned.copies == 1 {
                answers[0].as_ref().ok().and_then(|r| r.remaining())
            } else {
                None
            };
            let verdict = model::compare(&planned.expect, &statuses, remaining, &ids);
            let generated = ids.first().copied().flatten().map(str::to_string);
            if let Err(reason) = verdict {
                return Err(SequenceFailure {
                    reason: format!("step {} ({op}): {reason}", lines.len() - 1),
                    ops: ops.to_vec(),
                    lines,
                    request,
                    response: answers.into_iter().find_map(|a| a.ok()),
                });
            }
            model.apply(&planned, generated.as_deref());
            if planned.copies > 1 {
                let (campaign, id) = model.first_pair();
                let check = repeat(campaign, &id);
                let request = check.request(&self.rctx);
                let result = self.send(&request).await;
                let want = model.remaining();
                lines.push(format!(
                    "{}  # expect 200{}",
                    request.curl(&self.target),
                    want.map(|r| format!(", Remaining {r}")).unwrap_or_default()
                ));
                let got = result.as_ref().ok().and_then(|r| r.remaining());
                let status = result.as_ref().map_or(0, |r| r.status);
                let expect = model::Expect {
                    status: 200,
                    remaining: want,
                    send_id: Some(id),
                };
                if let Err(reason) = model::compare(&expect, &[status], got, &[]) {
                    return Err(SequenceFailure {
                        reason: format!(
                            "step {} (the read after the burst of step {}): {reason}",
                            lines.len() - 1,
                            lines.len() - 2
                        ),
                        ops: ops.to_vec(),
                        lines,
                        request,
                        response: result.ok(),
                    });
                }
            }
        }
        if let Some(r) = model.remaining() {
            self.remaining = Some(r);
        }
        Ok(())
    }
}

/// A sequence the model did not predict: what it was, as sent.
pub(super) struct SequenceFailure {
    reason: String,
    ops: Vec<Op>,
    /// One curl line per request, with what the model expected.
    lines: Vec<String>,
    /// The request that broke the prediction, and its answer.
    request: Request,
    response: Option<Response>,
}

impl SequenceFailure {
    pub(super) fn into_shown(self) -> Shown {
        let numbered: Vec<String> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{:>2}. {l}", i))
            .collect();
        Shown {
            case: format!(
                "a sequence of {}: {}",
                crate::report::plural(self.ops.len() as u64, "operation", "operations"),
                self.ops
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            request: format!(
                "the request the model did not predict: {} {}",
                self.request.method, self.request.path
            ),
            request_body: self
                .request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            response: self.response,
            curl: numbered.join("\n"),
        }
    }
}
