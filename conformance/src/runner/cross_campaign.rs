//! With two campaigns: a pair is per campaign, the quota per workspace.

use super::exchange::new_given;
use super::Runner;
use crate::events::Event;
use crate::http::{quote, quote_or};
use crate::oracle::RunCheckId;
use crate::strategies::Case;

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Several campaigns.

    /// With two campaigns A and B: a fresh pair in B, then the send_id of A's existing pair
    /// under B (a new pair: one unit), then `Remaining` read through both.
    pub(super) async fn cross_campaign(&mut self, name: &'static str) {
        let Some(e) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no existing pair in the first campaign",
            });
            return;
        };
        if self.alloc.get(name).copied().unwrap_or(0) < 2 || self.budget.left() < 2 {
            self.events.event(Event::PropertySkipped {
                name,
                why: "no quota budget left",
            });
            return;
        }
        self.events.event(Event::PropertyStarted { name, cases: 4 });
        let (a_start, _) = self.read_remaining(0).await;
        // A fresh pair in B.
        self.budget.try_reserve();
        let fresh = format!("cross-{}", self.tag);
        let judged = self.run_case(&new_given(1, &fresh, true), true).await;
        let mut failing = 0;
        let mut b_ok = false;
        for (step, fails) in judged {
            failing += u64::from(!fails.is_empty());
            if let (Case::New(_), Ok(r)) = (&step.case, &step.result) {
                b_ok = self.succeeded(r);
            }
            self.report_new_failures(name, &step, fails, 0);
        }
        if !b_ok {
            self.note(format!(
                "{name}: a new pair in the second campaign was refused (is it a campaign of the \
                 same workspace?)"
            ));
            self.events.event(Event::PropertyDone {
                name,
                cases: 1,
                failing: 1,
            });
            return;
        }
        self.rctx.set_existing(1, &fresh);
        let (b_before, _) = self.read_remaining(1).await;
        // A's send_id under B.
        self.budget.try_reserve();
        let (step, fails) = self.send_judged(new_given(1, &e, false), None, true).await;
        failing += u64::from(!fails.is_empty());
        self.report_new_failures(name, &step, fails, 0);
        let verdict = match &step.result {
            Err(e) => Err(format!("no answer: {}", e.reason)),
            Ok(r) if !self.succeeded(r) => Err(format!(
                "the send_id {} of a pair of campaign #1, sent under campaign #2, answered \
                 {}, not 200",
                quote(&e),
                r.status
            )),
            Ok(r) if r.send_id() != Some(e.as_str()) => Err(format!(
                "the send_id {} of a pair of campaign #1, sent under campaign #2, answered \
                 send_id {}",
                quote(&e),
                quote_or(r.send_id(), "none")
            )),
            Ok(r) => match (b_before, r.remaining()) {
                (Some(before), Some(after)) if before - after != 1 => Err(format!(
                    "the send_id {} of a pair of campaign #1, sent under campaign #2, moved \
                     X-RateLimit-Remaining from {before} to {after}: it was taken for the pair \
                     of campaign #1 (pairs keyed by send_id alone, or per workspace)",
                    quote(&e)
                )),
                _ => Ok(()),
            },
        };
        self.run_check_step(RunCheckId::PairPerCampaign, name, verdict, &step);
        // The quota, read through each campaign at once, must agree.
        let (a_now, a_step) = self.read_remaining(0).await;
        let (b_now, _) = self.read_remaining(1).await;
        let verdict = match (a_start, a_now, b_now) {
            (Some(start), Some(a), Some(b)) => {
                if a != b {
                    Err(format!(
                        "X-RateLimit-Remaining reads {a} through campaign #1 and {b} through \
                         campaign #2 at the same moment: the quota is not one per workspace"
                    ))
                } else if start - a != 2 {
                    Err(format!(
                        "two new pairs in campaign #2 moved campaign #1's X-RateLimit-Remaining \
                         from {start} to {a} (expected {}): the quota is not one per workspace",
                        start - 2
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        if let Some(a_step) = a_step {
            self.run_check_step(RunCheckId::QuotaPerWorkspace, name, verdict, &a_step);
        }
        self.events.event(Event::PropertyDone {
            name,
            cases: 4,
            failing,
        });
    }
}
