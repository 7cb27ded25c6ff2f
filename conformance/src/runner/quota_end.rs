//! `--exhaust-quota`: down to the quota's end, a burst across it, then the 429 rules.

use super::exchange::repeat;
use super::Runner;
use crate::events::Event;
use crate::oracle::CheckId;
use crate::oracle::{self};
use crate::strategies::{Case, NewPair};

impl Runner {
    // -----------------------------------------------------------------------------------------
    // The quota's end.

    /// `--exhaust-quota`: new pairs one at a time down to half a burst left, a burst of new
    /// pairs across the end, one more new pair (429), repeats at once over quota (all 200), a
    /// new pair in another campaign (429), and an existing pair (200).
    pub(super) async fn exhaust(&mut self, name: &'static str) {
        let k = self.burst_size();
        let (mut left, _) = self.read_remaining(0).await;
        let cap = left.map(|r| r.max(0) as u64).unwrap_or(1_000).min(100_000);
        self.events.event(Event::PropertyStarted {
            name,
            cases: cap + k as u64,
        });
        let mut failing = 0;
        let mut sent = 0;
        while left.is_none_or(|r| r > (k / 2) as i64) && sent < cap {
            let before = self.remaining;
            self.budget.try_reserve();
            let judged = self.run_case(&Case::New(NewPair::default()), true).await;
            self.cases += 1;
            sent += 1;
            self.events.event(Event::CaseDone);
            let status = judged
                .first()
                .and_then(|(s, _)| s.result.as_ref().ok())
                .map(|r| r.status);
            for (step, fails) in judged {
                failing += u64::from(!fails.is_empty());
                self.report_new_failures(name, &step, fails, 0);
            }
            left = self.remaining;
            if !status.is_some_and(|s| s == 200 || (!self.strict() && (200..300).contains(&s)))
                || before == Some(0)
            {
                break;
            }
        }
        // Across the end: N > R at once.
        let (before, _) = self.read_remaining(0).await;
        for _ in 0..k {
            self.budget.try_reserve();
        }
        failing += self.burst_of_new_pairs(name, k, before, true).await;
        // One more: 429.
        self.budget.try_reserve();
        let (now, _) = self.read_remaining(0).await;
        self.remaining = now;
        for (step, fails) in self.run_case(&Case::New(NewPair::default()), true).await {
            failing += u64::from(!fails.is_empty());
            self.report_new_failures(name, &step, fails, 0);
        }
        // A case variant no property had a unit for: a new pair too, so 429 now (a server that
        // compares send_ids without their case answers it 200, as the existing pair).
        if let Some(of) = self.case_variant_due.take() {
            let (now, _) = self.read_remaining(0).await;
            self.remaining = now;
            for (step, fails) in self.run_case(&crate::edges::case_variant(&of), true).await {
                failing += u64::from(!fails.is_empty());
                self.report_new_failures(name, &step, fails, 0);
            }
        }
        // And `"send_id": null`, which is absent: a new pair, 429 too.
        self.budget.try_reserve();
        let null = Case::New(NewPair {
            send_id: crate::strategies::SendIdField::Null,
            ..NewPair::default()
        });
        for (step, fails) in self.run_case(&null, true).await {
            failing += u64::from(!fails.is_empty());
            self.report_new_failures(name, &step, fails, 0);
        }
        if let Some(existing) = self.rctx.existing_send_id().map(str::to_string) {
            // Repeats at once over quota.
            let case = repeat(0, &existing);
            let request = case.request(&self.rctx);
            let requests = vec![request; k];
            let answers = self.burst(requests.clone(), &vec![case; k]).await;
            let verdict = oracle::repeats(k, &existing, &oracle::count(&answers));
            failing += u64::from(verdict.is_err());
            self.burst_failure(
                CheckId::BurstRepeatsOverQuota,
                name,
                verdict,
                &requests,
                &answers,
            );
        }
        if self.campaigns() >= 2 {
            // The quota used up through campaign #1 is used up for campaign #2.
            self.budget.try_reserve();
            let (now, _) = self.read_remaining(0).await;
            let case = Case::New(NewPair {
                campaign: 1,
                ..NewPair::default()
            });
            let (step, fails) = self.send_judged(case, now, true).await;
            self.observe(&step);
            self.report_new_failures(name, &step, fails, 0);
            let verdict = match (&step.result, now) {
                (Ok(r), Some(0)) if r.status != 429 => Err(format!(
                    "with the quota used up (Remaining 0 through campaign #1), a new pair in \
                     campaign #2 answered {}, not 429",
                    r.status
                )),
                _ => Ok(()),
            };
            failing += u64::from(verdict.is_err());
            if now == Some(0) {
                self.run_check_step(CheckId::QuotaSpentForEveryCampaign, name, verdict, &step);
            }
        }
        // An existing pair, one at a time: 200.
        if let Some(existing) = self.rctx.existing_send_id().map(str::to_string) {
            let (now, _) = self.read_remaining(0).await;
            self.remaining = now;
            for (step, fails) in self.run_case(&repeat(0, &existing), true).await {
                self.report_new_failures(name, &step, fails, 0);
            }
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: sent + k as u64,
            failing,
        });
    }
}
