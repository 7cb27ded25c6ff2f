//! Concurrent bursts: one new pair many times at once, and many new pairs at once.

use super::exchange::{new_given, repeat, Step};
use super::findings::Shown;
use super::Runner;
use crate::burst;
use crate::events::Event;
use crate::http::{quote, quote_or, Request};
use crate::oracle::CheckId;
use crate::oracle::{self};
use crate::strategies::{Case, Invalid, NewPair, SendIdField};

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Concurrent properties.

    /// Sends `requests` at once over connections of their own; counts every answer; judges each
    /// exchange on its own (shapes, echo, Retry-After: no arithmetic, the order is unknown).
    pub(super) async fn burst(
        &mut self,
        requests: Vec<Request>,
        cases: &[Case],
    ) -> Vec<burst::Answer> {
        let warmup = Case::Invalid(Invalid::MissingCampaignId).request(&self.rctx);
        let (warm, answers) = burst::at_once(&self.target, &warmup, requests.clone()).await;
        self.requests += (warm.len() + answers.len()) as u64;
        for a in warm.iter().chain(answers.iter()) {
            self.count_status(a);
        }
        for ((request, case), result) in requests.into_iter().zip(cases).zip(answers.iter()) {
            let step = Step {
                case: case.clone(),
                request,
                result: result.clone(),
                remaining_before: None,
            };
            let fails = self.judge_step(&step, true);
            self.observe_ids(&step);
            self.cases += 1;
            self.events.event(Event::CaseDone);
            self.report_new_failures("burst", &step, fails, 0);
        }
        answers
    }

    pub(super) fn burst_failure(
        &mut self,
        check: CheckId,
        property: &'static str,
        verdict: Result<(), String>,
        requests: &[Request],
        answers: &[burst::Answer],
    ) {
        if !check.runs_under(self.config.profile) {
            // Not a check of this profile (a burst that only spends the quota under braze).
            return;
        }
        self.result.absorb_one(check, &verdict);
        let Err(reason) = verdict else {
            return;
        };
        if !self.result.claim(check) {
            return;
        }
        let curls: Vec<String> = requests.iter().map(|r| r.curl(&self.target)).collect();
        let statuses: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok(r) => {
                    let mut s = r.status.to_string();
                    if let Some(id) = r.send_id() {
                        s.push_str(&format!(" {}", quote(id)));
                    }
                    let h = |n: &str| r.header(n).unwrap_or("none").to_string();
                    s.push_str(&format!(
                        " (X-RateLimit-Remaining {}, Limit {}",
                        h("x-ratelimit-remaining"),
                        h("x-ratelimit-limit")
                    ));
                    if r.status == 429 {
                        s.push_str(&format!(", Retry-After {}", h("retry-after")));
                    }
                    s.push(')');
                    s
                }
                Err(_) => "no answer".into(),
            })
            .collect();
        let first = &requests[0];
        let shown = Shown {
            case: format!(
                "{} requests at once, each over its own connection; answers: {}",
                requests.len(),
                statuses.join(", ")
            ),
            request: first.describe(&self.target),
            request_body: first
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            // A server error among the answers is what to show (it is likely the cause).
            response: answers
                .iter()
                .filter_map(|a| a.as_ref().ok())
                .find(|r| r.status >= 500)
                .or_else(|| answers.iter().find_map(|a| a.as_ref().ok()))
                .cloned(),
            curl: burst::replay(&curls, requests.len()),
        };
        self.record_shown(check, property, reason, shown, 0, Vec::new());
    }

    /// One new pair, K times at once: created once, one unit.
    pub(super) async fn same_pair_burst(&mut self, name: &'static str) {
        if self.plan.units_of(name) == 0 || !self.budget.try_reserve() {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        let k = self.burst_size();
        self.events.event(Event::PropertyStarted {
            name,
            cases: k as u64,
        });
        let (before, _) = self.read_remaining(0).await;
        if before == Some(0) {
            self.events.event(Event::PropertySkipped {
                name,
                why: "the quota is used up",
            });
            return;
        }
        let id = format!("burst-{}", self.tag);
        let case = new_given(0, &id, true);
        let request = case.request(&self.rctx);
        let requests = vec![request; k];
        let cases = vec![case; k];
        let answers = self.burst(requests.clone(), &cases).await;
        let (after, _) = self.read_remaining(0).await;
        let counts = oracle::count(&answers);
        let verdict = oracle::same_pair(k, &id, before, after, &counts);
        if let (Some(b), Some(a)) = (before, after) {
            // A server that spent more than one unit spent it from the budget too.
            for _ in 1..(b - a).max(1) {
                self.budget.record_surprise();
            }
        }
        let failing = u64::from(verdict.is_err());
        self.burst_failure(CheckId::BurstSamePair, name, verdict, &requests, &answers);
        self.events.event(Event::PropertyDone {
            name,
            cases: k as u64,
            failing,
        });
    }

    /// N new pairs (generated send_ids) at once, within the budget: all created, N units, ids
    /// distinct.
    pub(super) async fn new_pairs_burst(&mut self, name: &'static str) {
        let n = self.plan.units_of(name).min(self.budget.left()) as usize;
        if self.config.exhaust_quota {
            self.events.event(Event::PropertySkipped {
                name,
                why: "with --exhaust-quota the burst goes across the quota's end instead",
            });
            return;
        }
        if n < 2 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "the quota budget leaves fewer than 2 new pairs",
            });
            return;
        }
        let (before, _) = self.read_remaining(0).await;
        let n = before.map_or(n, |r| n.min(r.max(0) as usize));
        if n < 2 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "fewer than 2 new pairs are left today",
            });
            return;
        }
        for _ in 0..n {
            self.budget.try_reserve();
        }
        self.events.event(Event::PropertyStarted {
            name,
            cases: n as u64,
        });
        let failing = self.burst_of_new_pairs(name, n, before, false).await;
        self.events.event(Event::PropertyDone {
            name,
            cases: n as u64,
            failing,
        });
    }

    /// The `i`-th request of a burst of new pairs: generated ids (absent, `null`) and, unless
    /// `generated_only`, given fresh ones in turn.
    fn burst_case(&mut self, i: usize, generated_only: bool) -> Case {
        self.executions += 1;
        let two = self.campaigns() >= 2;
        if two && !generated_only && i < 2 {
            // One new send_id at once in both campaigns: a pair in each, two units.
            return new_given(i, &format!("nb-{}-both", self.tag), true);
        }
        let turn = if generated_only { i % 2 } else { i % 3 };
        let send_id = match turn {
            0 => SendIdField::Absent,
            1 => SendIdField::Null,
            _ => SendIdField::Given(format!("nb-{}-{}", self.tag, self.executions)),
        };
        let fresh = matches!(send_id, SendIdField::Given(_));
        // With two campaigns the burst spans both: the quota is one per workspace, also at once.
        Case::New(NewPair {
            campaign: if two { i % 2 } else { 0 },
            send_id,
            fresh,
            ..NewPair::default()
        })
    }

    /// Sends `n` new pairs at once (generated ids among them) with `before` left and judges the
    /// counts; then repeats each pair answered 200, one at a time. Returns how many of its
    /// checks failed.
    pub(super) async fn burst_of_new_pairs(
        &mut self,
        name: &'static str,
        n: usize,
        before: Option<i64>,
        generated_only: bool,
    ) -> u64 {
        let cases: Vec<Case> = (0..n).map(|i| self.burst_case(i, generated_only)).collect();
        let requests: Vec<Request> = cases.iter().map(|c| c.request(&self.rctx)).collect();
        let answers = self.burst(requests.clone(), &cases).await;
        let (after, _) = self.read_remaining(0).await;
        let counts = oracle::count(&answers);
        let verdict = oracle::new_pairs(n, before, after, &counts);
        // Distinct among the generated ones (a given send_id may be sent to both campaigns).
        let generated: Vec<burst::Answer> = cases
            .iter()
            .zip(&answers)
            .filter(
                |(c, _)| matches!(c, Case::New(p) if !matches!(p.send_id, SendIdField::Given(_))),
            )
            .map(|(_, a)| a.clone())
            .collect();
        let distinct = oracle::distinct_ids(&oracle::count(&generated));
        let mut failing = u64::from(verdict.is_err() || distinct.is_err());
        self.burst_failure(CheckId::BurstNewPairs, name, verdict, &requests, &answers);
        self.burst_failure(
            CheckId::BurstIdsDistinct,
            name,
            distinct,
            &requests,
            &answers,
        );
        failing += self.repeat_burst_pairs(name, &cases, &answers, after).await;
        failing
    }

    /// Each pair a burst answered 200, again, one at a time: a repeat that spends a unit, or
    /// answers another status or send_id, is an acknowledged write the server lost. Stops at
    /// the first (what it spent is charged to the budget).
    async fn repeat_burst_pairs(
        &mut self,
        name: &'static str,
        cases: &[Case],
        answers: &[burst::Answer],
        after: Option<i64>,
    ) -> u64 {
        let mut ids: Vec<(usize, String)> = Vec::new();
        for (case, a) in cases.iter().zip(answers) {
            let Ok(a) = a else { continue };
            let campaign = match case {
                Case::New(p) => p.campaign,
                _ => 0,
            };
            if let (true, Some(id)) = (self.succeeded(a), a.send_id()) {
                if !ids.iter().any(|(c, i)| *c == campaign && i == id) {
                    ids.push((campaign, id.to_string()));
                }
            }
        }
        let mut before = after;
        let mut last = None;
        for (campaign, id) in ids {
            let (step, fails) = self.send_judged(repeat(campaign, &id), before, true).await;
            self.observe(&step);
            let now = step.result.as_ref().ok().and_then(|r| r.remaining());
            let what = format!(
                "the pair {} answered 200 in the burst; its repeat",
                quote(&id)
            );
            let verdict = match &step.result {
                Err(e) => Err(format!("{what} got no answer: {}", e.reason)),
                Ok(r) if !self.succeeded(r) => {
                    Err(format!("{what} answered {}: expected 200", r.status))
                }
                Ok(r) if r.send_id() != Some(id.as_str()) => Err(format!(
                    "{what} answered send_id {}: expected {}",
                    quote_or(r.send_id(), "none"),
                    quote(&id)
                )),
                Ok(_) => match (before, now) {
                    (Some(b), Some(a)) if a != b => Err(format!(
                        "{what} moved X-RateLimit-Remaining: expected {b} (a repeat is free), \
                         saw {a}: an acknowledged write the server lost"
                    )),
                    _ => Ok(()),
                },
            };
            if let (Some(b), Some(a)) = (before, now) {
                for _ in a..b {
                    self.budget.record_surprise();
                }
            }
            before = now.or(before);
            if verdict.is_err() {
                self.report_with_run_check(CheckId::BurstPairsStored, name, verdict, &step, fails);
                return 1;
            }
            self.report_new_failures(name, &step, fails, 0);
            last = Some(step);
        }
        if let Some(step) = last {
            self.report_with_run_check(CheckId::BurstPairsStored, name, Ok(()), &step, Vec::new());
        }
        0
    }
}
