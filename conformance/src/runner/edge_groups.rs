//! The pair-creating edges, group-tested: one new pair carries every troublesome feature (the
//! longest send_id, spaces leading, inner and trailing, `~ ! " \ /`, letters of both cases); a
//! conformant server pays one unit for all of them, and only a group that fails is split in
//! halves (bisection) until the culprit is named. Then, within the plan, a case variant of that
//! send_id and a padded one (a space fewer or more at an end; each a pair of its own), and the
//! shortest send_id.
use super::exchange::{Fails, Step};
use super::Runner;
use crate::edges::{self, Feature, FEATURES};
use crate::events::Event;
use crate::strategies::{Case, NewPair, SendIdField};

impl Runner {
    pub(super) async fn edge_groups(&mut self, name: &'static str) {
        let units = self.plan.units_of(name);
        if units == 0 || self.budget.left() == 0 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        self.events
            .event(Event::PropertyStarted { name, cases: units });
        let max = self.spec.send_id_max;
        let mut failing = 0;
        let mut sent = 0;
        self.budget.try_reserve();
        let first = edges::group_send_id(&self.tag, 0, &FEATURES, max);
        let judged = self.run_case(&self.group_case(&first), true).await;
        sent += 1;
        self.cases += 1;
        self.events.event(Event::CaseDone);
        // The send_id a case variant varies: the group's, when it was created as sent.
        let mut original = None;
        for (i, (step, fails)) in judged.into_iter().enumerate() {
            failing += u64::from(!fails.is_empty());
            if i == 0 {
                let echoed = step
                    .result
                    .as_ref()
                    .is_ok_and(|r| self.succeeded(r) && r.send_id() == Some(first.as_str()));
                if echoed && fails.is_empty() {
                    original = Some(first.clone());
                }
                if !fails.is_empty() {
                    // A half created as sent can still carry the case variant.
                    original = self.bisect(name, step, fails).await;
                    continue;
                }
            }
            self.report_new_failures(name, &step, fails, 0);
        }
        let mut extra = Vec::new();
        match (&original, units >= 2) {
            (Some(o), true) => extra.push(edges::case_variant(o)),
            // No unit here: new_pair_given_id sends it first (a given pair too).
            (Some(o), false) => self.case_variant_due = Some(o.clone()),
            (None, _) => self.note(format!(
                "{name}: no case variant sent: no pair of the group was created as sent"
            )),
        }
        // Its sibling: a space more or fewer at an end is a new pair too. Without a unit for it
        // here, the quota's end sends it (then 429), under --exhaust-quota.
        if let Some(p) = original
            .as_deref()
            .and_then(|o| edges::padded_variant(o, max))
        {
            if units >= 3 {
                extra.push(p);
            } else {
                self.padded_variant_due = Some(p);
            }
        }
        if units >= 4 {
            extra.push(edges::min_length(&self.tag, self.spec.send_id_min));
        }
        for case in extra {
            if !self.budget.try_reserve() {
                break;
            }
            let judged = self.run_case(&case, true).await;
            sent += 1;
            self.cases += 1;
            self.events.event(Event::CaseDone);
            for (step, fails) in judged {
                failing += u64::from(!fails.is_empty());
                self.report_new_failures(name, &step, fails, 0);
            }
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: sent,
            failing,
        });
    }

    fn group_case(&self, send_id: &str) -> Case {
        Case::New(NewPair {
            send_id: SendIdField::Given(send_id.to_string()),
            fresh: true,
            ..NewPair::default()
        })
    }

    /// Splits a failing group in halves, each a new pair of its own, down to the feature (or
    /// the combination) that still fails the same check; shows that one. Halves that are
    /// accepted spend a unit each, from the budget; without budget it stops where it is.
    /// Returns the send_id of a half that was created as sent, if one was.
    async fn bisect(&mut self, name: &'static str, step: Step, fails: Fails) -> Option<String> {
        let mut accepted = None;
        let (check, mut reason) = fails[0].clone();
        let mut best = step;
        let mut best_fails = fails;
        let mut culprit: Vec<Feature> = FEATURES.to_vec();
        let mut steps = 0u32;
        let max = self.spec.send_id_max;
        'split: while culprit.len() > 1 {
            let half = culprit.len() / 2;
            let halves = [culprit[..half].to_vec(), culprit[half..].to_vec()];
            for part in halves {
                if !self.budget.try_reserve() {
                    self.note(format!(
                        "{name}: naming the culprit stopped: the quota budget is used up"
                    ));
                    break 'split;
                }
                steps += 1;
                let id = edges::group_send_id(&self.tag, steps, &part, max);
                let (step, fails) = self
                    .send_judged(self.group_case(&id), self.remaining, false)
                    .await;
                self.observe(&step);
                let created = step
                    .result
                    .as_ref()
                    .is_ok_and(|r| self.succeeded(r) && r.send_id() == Some(id.as_str()));
                if created && fails.is_empty() {
                    accepted = Some(id.clone());
                }
                if let Some((_, r)) = fails.iter().find(|(c, _)| *c == check) {
                    reason = r.clone();
                    best = step;
                    best_fails = fails;
                    culprit = part;
                    continue 'split;
                }
            }
            // Neither half fails alone: the combination is the culprit.
            break;
        }
        let named: Vec<String> = culprit.iter().map(|f| f.describe(max)).collect();
        let reason = format!("{reason} (the send_id's {})", named.join(", "));
        self.result.claim(check);
        let others = self.new_checks_besides(check, best_fails);
        self.record_failure(check, name, &best, reason, steps, others);
        accepted
    }
}
