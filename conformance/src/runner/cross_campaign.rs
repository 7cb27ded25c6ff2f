//! With two campaigns A and B: a pair is per campaign, the quota per workspace. The preflight
//! created a fresh pair in B; here A's send_id is sent under B (a new pair: one unit), each pair
//! is repeated in its own campaign (free: a repeat that spends is a pair the server did not
//! store), and `Remaining` is read through both.
use super::exchange::{new_given, repeat};
use super::Runner;
use crate::events::Event;
use crate::http::{quote, quote_or};
use crate::oracle::CheckId;

impl Runner {
    pub(super) async fn cross_campaign(&mut self, name: &'static str) {
        let (Some(a_id), Some(b_id)) = (
            self.rctx.existing_in(0).map(str::to_string),
            self.rctx.existing_in(1).map(str::to_string),
        ) else {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no pair in each campaign (the preflight created none in the second)",
            });
            return;
        };
        if self.plan.units_of(name) < 2 || self.budget.left() == 0 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        self.events.event(Event::PropertyStarted { name, cases: 5 });
        let mut failing = 0;
        let (a_start, _) = self.read_remaining(0).await;
        // B's own pair again: free; its answer is B's view of the quota.
        let (step, fails) = self.send_judged(repeat(1, &b_id), None, true).await;
        failing += u64::from(!fails.is_empty());
        let b_before = step.result.as_ref().ok().and_then(|r| r.remaining());
        self.report_new_failures(name, &step, fails, 0);
        // A's send_id under B: a new pair.
        self.budget.try_reserve();
        let (step, fails) = self
            .send_judged(new_given(1, &a_id, false), b_before, true)
            .await;
        failing += u64::from(!fails.is_empty());
        self.report_new_failures(name, &step, fails, 0);
        let created = step.result.as_ref().ok().and_then(|r| r.remaining());
        let what = format!(
            "the send_id {} of a pair of campaign #1, sent under campaign #2,",
            quote(&a_id)
        );
        let mut verdict = match &step.result {
            Err(e) => Err(format!("{what} got no answer: {}", e.reason)),
            Ok(r) if !self.succeeded(r) => {
                Err(format!("{what} answered {}: expected 200", r.status))
            }
            Ok(r) if r.send_id() != Some(a_id.as_str()) => Err(format!(
                "{what} answered send_id {}: expected {}",
                quote_or(r.send_id(), "none"),
                quote(&a_id)
            )),
            Ok(_) => match (b_before, created) {
                (Some(before), Some(after)) if before - after != 1 => Err(format!(
                    "{what} moved X-RateLimit-Remaining: expected {} (one unit, a new pair), \
                     saw {after}: it was taken for the pair of campaign #1 (pairs keyed by \
                     send_id alone, or per workspace)",
                    before - 1
                )),
                _ => Ok(()),
            },
        };
        let shown = step;
        // Each pair in its own campaign again: free, and the same send_id.
        let mut b_last = created;
        if verdict.is_ok() {
            let (step, fails) = self.send_judged(repeat(1, &a_id), created, true).await;
            failing += u64::from(!fails.is_empty());
            let after = step.result.as_ref().ok().and_then(|r| r.remaining());
            if let (Some(before), Some(after)) = (created, after) {
                if after != before {
                    verdict = Err(format!(
                        "{what} answered 200, but its repeat in campaign #2 moved \
                         X-RateLimit-Remaining: expected {before} (a repeat is free), saw \
                         {after}: the pair of campaign #2 was acknowledged and not stored"
                    ));
                }
            }
            b_last = after.or(b_last);
            self.report_new_failures(name, &step, fails, 0);
        }
        self.run_check_step(CheckId::PairPerCampaign, name, verdict, &shown);
        let (step, fails) = self.send_judged(repeat(0, &a_id), None, true).await;
        failing += u64::from(!fails.is_empty());
        self.report_new_failures(name, &step, fails, 0);
        // The quota, read through each campaign at once, must agree, and what B spent is gone
        // for A too.
        let (a_now, a_step) = self.read_remaining(0).await;
        let (b_now, _) = self.read_remaining(1).await;
        let verdict = match (a_start, a_now, b_now, b_before, b_last) {
            (_, Some(a), Some(b), _, _) if a != b => Err(format!(
                "X-RateLimit-Remaining read through campaign #1 and #2 at the same moment: \
                 expected the same, saw {a} and {b}: the quota is not one per workspace"
            )),
            (Some(start), Some(a), _, Some(bb), Some(bl)) if start - a != bb - bl => Err(format!(
                "what campaign #2 spent (X-RateLimit-Remaining {bb} → {bl} through it) is not \
                 gone for campaign #1: expected {} through campaign #1, saw {a}",
                start - (bb - bl)
            )),
            _ => Ok(()),
        };
        if let Some(a_step) = a_step {
            self.run_check_step(CheckId::QuotaPerWorkspace, name, verdict, &a_step);
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: 5,
            failing,
        });
    }
}
