//! The run's first requests and its quota plan.

use super::exchange::Step;
use super::Runner;
use crate::events::{Event, PlanShown};
use crate::exit::Fatal;
use crate::properties::{Count, Property, Run, Spend, PROPERTIES};
use crate::strategies::{Case, Invalid, NewPair};

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Probe and plan.

    /// The first requests: one that can never create a pair (reaches the target and reads
    /// `X-RateLimit-Remaining` where the server sends it), then, within the budget, the run's
    /// first new pair, whose send_id the refused-class requests reuse.
    pub(super) async fn probe(&mut self) -> Result<(), Fatal> {
        let harmless = Case::Invalid(Invalid::MissingCampaignId);
        let step = self.probe_step(harmless).await?;
        if let Ok(resp) = &step.result {
            if resp.status >= 500 && !self.strict() {
                return Err(Fatal::ServerErrors {
                    url: self.target.url(&step.request.path),
                    status: resp.status,
                    attempts: resp.retried.len() as u32 + 1,
                });
            }
        }
        if let Ok(resp) = &step.result {
            if let Some(r) = resp.remaining() {
                self.remaining = Some(r);
                self.budget.fix(Some(r), false);
            }
        }
        if !self.budget.may_probe() || self.budget.left() == 0 || self.remaining == Some(0) {
            // No first pair: without one, the refused-class bodies carry no campaign.
            if self.budget.remaining_at_start.is_none() {
                self.budget.fix(None, false);
            }
            return Ok(());
        }
        self.budget.try_reserve();
        let step = self.probe_step(Case::New(NewPair::default())).await?;
        let Ok(resp) = &step.result else {
            return Ok(());
        };
        if let Some(r) = resp.remaining() {
            self.remaining = Some(r);
            if self.budget.remaining_at_start.is_none() {
                self.budget.fix(Some(r), self.succeeded(resp));
            }
        } else if self.budget.remaining_at_start.is_none() {
            self.budget.fix(None, false);
            self.note(
                "the answers carry no X-RateLimit-Remaining: the budget is --max-creates alone"
                    .into(),
            );
        }
        match (self.succeeded(resp), resp.status, resp.send_id()) {
            (true, _, Some(id)) => {
                let id = id.to_string();
                self.rctx.set_existing(0, &id);
            }
            (_, status, _) if !self.cli.exhaust_quota => {
                self.budget.close();
                self.note(format!(
                    "the first new pair was answered {status} (check --api-key and \
                     --campaign-id): no further new pairs are sent"
                ));
            }
            (_, status, _) => self.note(format!("the first new pair was answered {status}")),
        }
        Ok(())
    }

    pub(super) async fn probe_step(&mut self, case: Case) -> Result<Step, Fatal> {
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        if let Err(e) = &result {
            return Err(Fatal::Unreachable {
                url: self.target.url(&request.path),
                reason: e.reason.clone(),
            });
        }
        let step = Step {
            case,
            request,
            result,
            remaining_before: self.remaining,
        };
        let fails = self.judge_step(&step, true);
        self.observe(&step);
        self.cases += 1;
        self.report_new_failures("probe", &step, fails, 0);
        Ok(step)
    }

    /// Splits the budget between the properties that create pairs, most telling first, and
    /// says so.
    pub(super) fn plan(&mut self) {
        let cases = u64::from(self.cli.cases);
        let probe = self.budget.reserved;
        let burst = self.burst_size() as u64;
        let exhaust = self.cli.exhaust_quota;
        // What may be spent: the budget, or with --exhaust-quota what is left but the half
        // burst kept for the burst across the quota's end.
        let mut left = if exhaust {
            match self.remaining {
                Some(r) => (r.max(0) as u64).saturating_sub(burst / 2),
                None => 3 * cases + 20,
            }
        } else {
            self.budget.left()
        };
        let runnable: Vec<&'static Property> =
            PROPERTIES.iter().filter(|p| self.runs(p).is_ok()).collect();
        let mut parts: Vec<(&'static str, u64)> = vec![("probe", probe)];
        let mut cut = Vec::new();
        // Fixed wants first, in table order.
        for p in &runnable {
            let want = match (p.spend, p.run) {
                (Spend::OnePerCase, Run::Cases(arms)) if p.count == Count::EachOnce => {
                    arms(&self.inputs()).len() as u64
                }
                (Spend::Units(n), _) => n,
                // Across the quota's end, with --exhaust-quota, instead.
                (Spend::BurstSize, _) if !exhaust => burst,
                _ => continue,
            };
            // With --exhaust-quota the coverage runs in full: past the quota's end its new
            // pairs must get 429.
            let got = if exhaust { want } else { want.min(left) };
            left = left.saturating_sub(got);
            self.alloc.insert(p.name, got);
            parts.push((p.name, got));
            if got < want {
                cut.push(format!("{} {got} of {want}", p.name));
            }
        }
        // Then the shares: sequences a third, the random new pairs the rest, half each.
        let shares: Vec<&'static Property> = runnable
            .iter()
            .copied()
            .filter(|p| p.spend == Spend::Share)
            .collect();
        let sequences = shares.iter().any(|p| matches!(p.run, Run::Sequences));
        let randoms = shares.len() - usize::from(sequences);
        for p in shares {
            let got = if matches!(p.run, Run::Sequences) {
                left.div_ceil(3).min(2 * cases)
            } else {
                let each = left.div_ceil(randoms.max(1) as u64);
                each.min(cases)
            };
            let got = got.min(left);
            left -= got;
            self.alloc.insert(p.name, got);
            parts.push((p.name, got));
        }
        let total: u64 = self.alloc.values().sum();
        self.planned_new = probe + total;
        self.events.event(Event::Plan(PlanShown {
            total: self.planned_new,
            parts: &parts,
            max_creates: self.cli.max_creates,
            remaining_at_start: self.budget.remaining_at_start,
            budget: self.budget.allowed(),
        }));
        if !cut.is_empty() {
            self.note(format!(
                "the quota budget cuts {} (raise --max-creates to cover them)",
                cut.join(", ")
            ));
        }
    }
}
