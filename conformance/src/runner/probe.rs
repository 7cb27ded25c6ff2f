//! Preflight and plan: before any property, what the run relies on is tried once — the key, its
//! permission, the operation at the base URL, each campaign — and a target that refuses it ends
//! the run with exit 2 and one message naming the flag to check; then the quota is planned.
use super::exchange::Step;
use super::Runner;
use crate::budget::{self, PlanInput};
use crate::events::{Event, PlanShown};
use crate::exit::Fatal;
use crate::http::{excerpt, Response};
use crate::properties;
use crate::strategies::{Case, Invalid, NewPair, SendIdField};

/// Which of the run's own requests a refusal answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A request that cannot create a pair (no campaign_id).
    Harmless,
    /// The run's first new pair, in campaign `i`.
    FirstPair(usize),
}

impl Runner {
    /// The preflight: one request that can never create a pair (it reaches the target, tries the
    /// key and reads `X-RateLimit-Remaining`), then the plan, then within it the run's first new
    /// pair (its send_id is what the refused-class requests reuse) and, with a second campaign,
    /// a first pair there. At most one unit is spent before a refusal ends the run.
    pub(super) async fn preflight(&mut self) -> Result<(), Fatal> {
        let step = self
            .preflight_step(Case::Invalid(Invalid::MissingCampaignId), Stage::Harmless)
            .await?;
        let r = step.result.as_ref().ok().and_then(Response::remaining);
        self.remaining = r;
        self.budget.fix(r, false);
        if r.is_none() {
            self.note(
                "the answers carry no X-RateLimit-Remaining: the budget is --max-creates alone"
                    .into(),
            );
        }
        self.plan();
        if self.plan.probe == 0 || self.remaining == Some(0) {
            return Ok(());
        }
        self.budget.try_reserve();
        let step = self
            .preflight_step(Case::New(NewPair::default()), Stage::FirstPair(0))
            .await?;
        let Ok(resp) = &step.result else {
            return Ok(());
        };
        match (self.succeeded(resp), resp.send_id()) {
            (true, Some(id)) => {
                let id = id.to_string();
                self.rctx.set_existing(0, &id);
            }
            _ if !self.config.exhaust_quota => {
                self.budget.close();
                self.note(format!(
                    "the run's first new pair was answered {}: no further new pairs are sent",
                    resp.status
                ));
                return Ok(());
            }
            _ => {
                self.note(format!(
                    "the run's first new pair was answered {}",
                    resp.status
                ));
                return Ok(());
            }
        }
        if self.campaigns() >= 2 && self.plan.units_of("cross_campaign") >= 2 {
            // A fresh pair in the second campaign: one of the cross-campaign property's units.
            self.budget.try_reserve();
            let fresh = format!("cross-{}", self.tag);
            let case = Case::New(NewPair {
                campaign: 1,
                send_id: SendIdField::Given(fresh.clone()),
                fresh: true,
                ..NewPair::default()
            });
            let step = self.preflight_step(case, Stage::FirstPair(1)).await?;
            if step.result.as_ref().is_ok_and(|r| self.succeeded(r)) {
                self.rctx.set_existing(1, &fresh);
            }
        }
        Ok(())
    }

    /// Sends one preflight request: a refusal of the run's setup is fatal (nothing judged,
    /// nothing else sent); any other answer is judged as every exchange is.
    async fn preflight_step(&mut self, case: Case, stage: Stage) -> Result<Step, Fatal> {
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        let resp = match &result {
            Err(e) => {
                return Err(Fatal::Unreachable {
                    url: self.target.url(&request.path),
                    reason: e.reason.clone(),
                })
            }
            Ok(resp) => resp,
        };
        // Braze: a 5XX after the retries means the target is down — unless the retry was
        // withheld for the budget (the run's first pair, with a generated send_id): then the
        // run goes on without new pairs, that case a server error.
        if resp.status >= 500 && !self.strict() && !resp.retry_withheld {
            return Err(Fatal::ServerErrors {
                url: self.target.url(&request.path),
                status: resp.status,
                attempts: resp.retried.len() as u32 + 1,
            });
        }
        if let Some(why) = self.refusal(resp, stage) {
            if resp.status == 401 && resp.message().is_some() && self.prefix_answers_401().await {
                return Err(Fatal::Setup(self.wrong_prefix(resp)));
            }
            return Err(Fatal::Setup(why));
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
        self.report_new_failures("preflight", &step, fails, 0);
        Ok(step)
    }

    /// A JSON 401 can be the key's, or that of something in front of the API (a wrong prefix:
    /// `--base-url …/admin`). The contract answers 404 to a path it does not have, key or no
    /// key; a 401 there too means the 401 did not come from the operation.
    async fn prefix_answers_401(&mut self) -> bool {
        let case = Case::UnknownPath("/sends/id/no-such-operation".into());
        let request = case.request(&self.rctx);
        matches!(self.send(&request).await, Ok(r) if r.status == 401)
    }

    fn wrong_prefix(&self, resp: &Response) -> String {
        let url = self.target.url(crate::spec::OPERATION_PATH);
        format!(
            "the target has no operation POST {url}: it answered {} {}, and the same 401 to a \
             path it cannot have ({}), so the 401 comes from in front of the API, not from the \
             operation. Check --base-url: the API's root (e.g. https://rest.iad-01.braze.com), \
             without /sends/id/create",
            resp.status,
            excerpt(&resp.body, 160),
            self.target.url("/sends/id/no-such-operation")
        )
    }

    /// Whether an answer refuses what the run relies on; the message names the flag to check.
    fn refusal(&self, resp: &Response, stage: Stage) -> Option<String> {
        let url = self.target.url(crate::spec::OPERATION_PATH);
        let answered = format!("{} {}", resp.status, excerpt(&resp.body, 160));
        let html = resp
            .content_type()
            .is_some_and(|ct| crate::spec::essence(ct) == "text/html")
            || resp.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
        // A 401 or 403 that is not JSON `{"message"}` (a proxy's or a web server's page), or no
        // such resource: a wrong base URL, not a wrong key.
        let not_json = matches!(resp.status, 401 | 403) && resp.message().is_none();
        if matches!(resp.status, 404 | 405) || (300..400).contains(&resp.status) || html || not_json
        {
            return Some(format!(
                "the target has no operation POST {url}: it answered {answered}. Check \
                 --base-url: the API's root (e.g. https://rest.iad-01.braze.com), without \
                 /sends/id/create"
            ));
        }
        match resp.status {
            401 => {
                return Some(format!(
                    "the target refused the API key: POST {url} answered {answered}. Check \
                     --api-key (or SENDID_API_KEY)"
                ))
            }
            403 => {
                return Some(format!(
                    "the target refused the API key's permission: POST {url} answered \
                     {answered}. Check that --api-key (or SENDID_API_KEY) has sends.id.create \
                     (and that this address is in its allow-list)"
                ))
            }
            _ => {}
        }
        let Stage::FirstPair(i) = stage else {
            return None;
        };
        let names_campaign = resp
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("campaign"));
        if (400..500).contains(&resp.status) && resp.status != 429 && names_campaign {
            let flag = if i == 0 {
                "--campaign-id".to_string()
            } else {
                format!(
                    "the --campaign-id given as #{} (a campaign of the same workspace)",
                    i + 1
                )
            };
            return Some(format!(
                "the target does not know the campaign {}: a new pair in it answered {answered}. \
                 Check {flag}",
                crate::http::quote(self.rctx.campaign(i))
            ));
        }
        None
    }

    /// Tells the plan (after the preflight).
    pub(super) fn show_plan(&self) {
        self.events.event(Event::Plan(PlanShown {
            plan: &self.plan,
            max_creates: self.config.max_creates,
            remaining_at_start: self.budget.remaining_at_start,
            budget: self.budget.allowed(),
        }));
    }

    /// Plans the quota ([`budget::plan`]) for the properties that run, and says so: what the
    /// budget buys, what it leaves out and the budget that would include it.
    fn plan(&mut self) {
        let cases = u64::from(self.config.cases);
        let burst = self.burst_size() as u64;
        let exhaust = self.config.exhaust_quota;
        let wants = properties::wants(self.strict(), self.campaigns(), exhaust, cases, burst);
        let total = if exhaust {
            self.budget
                .remaining_at_start
                .map_or(3 * cases + 20, |r| r.max(0) as u64)
        } else {
            self.budget.left()
        };
        let plan = budget::plan(&PlanInput {
            budget: total,
            exhaust,
            wants,
        });
        self.planned_new = plan.total();
        for cut in &plan.cut {
            let from = cut
                .from_budget
                .map_or(String::new(), |b| format!(" (from a budget of {b})"));
            let what = if cut.got == 0 {
                format!("{} does not run", cut.property)
            } else {
                format!("{} gets {} of {} units", cut.property, cut.got, cut.wanted)
            };
            self.note(format!("the quota budget is {total}: {what}{from}"));
        }
        if exhaust && plan.end_reserve < budget::END_RESERVE {
            self.note(format!(
                "only {total} left today: the burst across the quota's end needs at least {} \
                 left when it starts, besides the probe; it runs with what is left",
                budget::END_RESERVE
            ));
        }
        self.plan = plan;
    }
}
