//! Concurrent bursts: one new pair many times at once, and many new pairs at once.

use super::exchange::{new_given, Step};
use super::findings::Shown;
use super::Runner;
use crate::burst;
use crate::events::Event;
use crate::http::{quote, Request};
use crate::oracle::RunCheckId;
use crate::oracle::{self};
use crate::strategies::{Case, Invalid, NewPair};

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
        id: RunCheckId,
        property: &'static str,
        verdict: Result<(), String>,
        requests: &[Request],
        answers: &[burst::Answer],
    ) {
        let check = id.name();
        if !id.runs_under(self.cli.profile) {
            // Not a check of this profile (a burst that only spends the quota under braze).
            return;
        }
        let reason = match verdict {
            Ok(()) => {
                self.tally(check, true);
                return;
            }
            Err(r) => r,
        };
        self.tally(check, false);
        if !self.shrunk.insert(check) {
            return;
        }
        let curls: Vec<String> = requests.iter().map(|r| r.curl(&self.target)).collect();
        let statuses: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok(r) => match r.send_id() {
                    Some(id) => format!("{} {}", r.status, quote(id)),
                    None => r.status.to_string(),
                },
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
            response: answers.iter().find_map(|a| a.as_ref().ok()).cloned(),
            curl: burst::replay(&curls, requests.len()),
        };
        self.record_shown(check, property, reason, shown, 0, Vec::new());
    }

    /// One new pair, K times at once: created once, one unit.
    pub(super) async fn same_pair_burst(&mut self, name: &'static str) {
        if self.alloc.get(name).copied().unwrap_or(0) == 0 || !self.budget.try_reserve() {
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
        self.burst_failure(
            RunCheckId::BurstSamePair,
            name,
            verdict,
            &requests,
            &answers,
        );
        self.events.event(Event::PropertyDone {
            name,
            cases: k as u64,
            failing,
        });
    }

    /// N new pairs (generated send_ids) at once, within the budget: all created, N units, ids
    /// distinct.
    pub(super) async fn new_pairs_burst(&mut self, name: &'static str) {
        let n = self
            .alloc
            .get(name)
            .copied()
            .unwrap_or(0)
            .min(self.budget.left()) as usize;
        if self.cli.exhaust_quota {
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
        let failing = self.burst_of_new_pairs(name, n, before).await;
        self.events.event(Event::PropertyDone {
            name,
            cases: n as u64,
            failing,
        });
    }

    /// Sends `n` new generated pairs at once with `before` left and judges the counts; returns
    /// how many of its checks failed.
    pub(super) async fn burst_of_new_pairs(
        &mut self,
        name: &'static str,
        n: usize,
        before: Option<i64>,
    ) -> u64 {
        let case = Case::New(NewPair::default());
        let request = case.request(&self.rctx);
        let requests = vec![request; n];
        let answers = self.burst(requests.clone(), &vec![case; n]).await;
        let (after, _) = self.read_remaining(0).await;
        let counts = oracle::count(&answers);
        let verdict = oracle::new_pairs(n, before, after, &counts);
        let distinct = oracle::distinct_ids(&counts);
        let failing = u64::from(verdict.is_err() || distinct.is_err());
        self.burst_failure(
            RunCheckId::BurstNewPairs,
            name,
            verdict,
            &requests,
            &answers,
        );
        self.burst_failure(
            RunCheckId::BurstIdsDistinct,
            name,
            distinct,
            &requests,
            &answers,
        );
        failing
    }
}
