//! One exchange: sending a request, judging its answer with the oracle, tallying the checks, and
//! what the answer teaches the run (the quota left, generated ids).

use super::Runner;
use crate::http::{Request, Response, TransportError};
use crate::oracle::{self, CheckId, Ctx, Exchange, Verdict};
use crate::properties::{self};
use crate::report::ServerError;
use crate::strategies::{Case, Invalid, NewPair, SendIdField, JSON};

/// One request sent, its answer, and what the run knew of the quota before it.
#[derive(Clone)]
pub(super) struct Step {
    pub(super) case: Case,
    pub(super) request: Request,
    pub(super) result: Result<Response, TransportError>,
    pub(super) remaining_before: Option<i64>,
}

pub(super) type Fails = Vec<(CheckId, String)>;
pub(super) type Judged = Vec<(Step, Fails)>;

impl Runner {
    // -----------------------------------------------------------------------------------------
    // Sending, judging, shrinking.

    /// Sends a request. Under `--profile braze` a busy answer is retried; a retry that may
    /// create one more pair (a generated send_id: the busy answer may have come after the
    /// commit) takes a unit of the quota budget first, and is not sent when none is left.
    pub(super) async fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.requests += 1;
        let budget = &mut self.budget;
        let result = self
            .target
            .send_guarded(request, &mut || budget.try_reserve())
            .await;
        if let Some(busy) = result
            .as_ref()
            .ok()
            .filter(|r| r.retry_withheld)
            .and_then(Response::busy)
        {
            self.tolerate(format!(
                "{} not retried: a retry of a generated send_id could create one more pair, \
                 and the quota budget had no unit left",
                busy.describe()
            ));
        }
        self.count_status(&result);
        result
    }

    pub(super) fn count_status(&mut self, result: &Result<Response, TransportError>) {
        let key = match result {
            Ok(r) => r.status.to_string(),
            Err(_) => "no answer".to_string(),
        };
        *self.statuses.entry(key).or_default() += 1;
        let Ok(resp) = result else {
            return;
        };
        // Busy answers that were retried are answers too, and tolerances of `braze`.
        for retry in &resp.retried {
            self.requests += 1;
            *self.statuses.entry(retry.status.to_string()).or_default() += 1;
            self.tolerate(format!("{} retried", retry.kind.describe()));
            if retry.retry_after {
                self.tolerate("Retry-After honoured".into());
            }
        }
        if !resp.retried.is_empty() && resp.busy().is_none() {
            self.tolerate("busy answer then success on a retry".into());
        }
    }

    pub(super) fn tolerate(&mut self, what: String) {
        *self.tolerances.entry(what).or_default() += 1;
    }

    /// A pair created or returned: 200, or under `braze` any 2XX with message "success".
    pub(super) fn succeeded(&self, resp: &Response) -> bool {
        oracle::is_success(self.config.profile, resp)
    }

    /// Sends one case and judges the exchange on its own: no retry, no shrinking. `record`
    /// counts the checks in the summary.
    pub(super) async fn send_judged(
        &mut self,
        case: Case,
        remaining_before: Option<i64>,
        record: bool,
    ) -> (Step, Fails) {
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        let step = Step {
            case,
            request,
            result,
            remaining_before,
        };
        let fails = self.judge_step(&step, record);
        (step, fails)
    }

    /// Sends a case (and, for a new pair answered 200, its repeat); judges each exchange.
    pub(super) async fn run_case(&mut self, case: &Case, record: bool) -> Judged {
        let mut out = Vec::new();
        let mut next = Some(case.clone());
        while let Some(case) = next.take() {
            let (step, fails) = self.send_judged(case, self.remaining, record).await;
            self.observe(&step);
            if let (Case::New(pair), Ok(resp)) = (&step.case, &step.result) {
                if self.succeeded(resp) {
                    if let Some(id) = resp.send_id() {
                        next = Some(Case::Repeat {
                            campaign: pair.campaign,
                            send_id: id.to_string(),
                            content_type: properties::other_content_type(pair.content_type),
                        });
                    }
                }
            }
            out.push((step, fails));
        }
        out
    }

    pub(super) fn judge_step(&mut self, step: &Step, record: bool) -> Fails {
        let resp = match &step.result {
            Err(e) => {
                let outcome = (
                    CheckId::AnswersEveryRequest,
                    Verdict::Fail(e.reason.clone()),
                );
                if record {
                    self.result.absorb([&outcome]);
                }
                return vec![(CheckId::AnswersEveryRequest, e.reason.clone())];
            }
            Ok(resp) => resp,
        };
        if record {
            self.result
                .absorb(&[(CheckId::AnswersEveryRequest, Verdict::Pass)]);
        }
        if let (Some(busy), false) = (resp.busy(), self.strict()) {
            // Braze: busy or in maintenance, even after the retries: not a verdict on the
            // request; listed as a server error.
            if record {
                self.tolerate(format!(
                    "{} after every retry: case listed as a server error",
                    busy.describe()
                ));
                self.server_errors.push(ServerError {
                    case: step.case.label(),
                    request: step.request.describe(&self.target),
                    status: resp.status,
                    attempts: resp.retried.len() as u32 + 1,
                });
            }
            return Vec::new();
        }
        let ctx = Ctx {
            spec: &self.spec,
            profile: self.config.profile,
            api_key: &self.config.api_key,
            forbidden_api_key: self.config.forbidden_api_key.as_deref(),
        };
        let ex = Exchange {
            case: &step.case,
            request: &step.request,
            response: resp,
            remaining_before: step.remaining_before,
            generated_before: &self.generated,
        };
        let verdicts = oracle::judge(&ctx, &ex);
        if record {
            for t in oracle::tolerances_used(&ctx, &ex) {
                *self.tolerances.entry(t).or_default() += 1;
            }
        }
        if record {
            self.result.absorb(&verdicts);
        }
        verdicts
            .into_iter()
            .filter_map(|(check, verdict)| match verdict {
                Verdict::Fail(reason) => Some((check, reason)),
                _ => None,
            })
            .collect()
    }

    /// Generated send_ids a step taught the run.
    pub(super) fn observe_ids(&mut self, step: &Step) {
        let (Case::New(pair), Ok(resp)) = (&step.case, &step.result) else {
            return;
        };
        if oracle::is_success(self.config.profile, resp)
            && matches!(pair.send_id, SendIdField::Absent | SendIdField::Null)
        {
            if let Some(id) = resp.send_id() {
                if self.generated.insert(id.to_string()) {
                    self.generated_order.push(id.to_string());
                }
            }
        }
    }

    /// What a step teaches the run: generated ids, the quota left, unexpected successes.
    pub(super) fn observe(&mut self, step: &Step) {
        self.observe_ids(step);
        let Ok(resp) = &step.result else {
            return;
        };
        match &step.case {
            Case::New(_) | Case::Repeat { .. } => {
                if let Some(r) = resp.remaining() {
                    self.remaining = Some(r);
                }
            }
            _ => {
                if (200..300).contains(&resp.status) {
                    // Refused-class request accepted: it may have spent quota.
                    self.budget.record_surprise();
                }
            }
        }
    }

    /// Reads `X-RateLimit-Remaining` with requests that cannot create: a body without a
    /// campaign, and when its answer says nothing, a repeat of the existing pair of `campaign`.
    pub(super) async fn read_remaining(&mut self, campaign: usize) -> (Option<i64>, Option<Step>) {
        let mut cases = Vec::new();
        if campaign == 0 {
            cases.push(Case::Invalid(Invalid::MissingCampaignId));
        }
        if let Some(e) = self.rctx.existing_in(campaign) {
            cases.push(repeat(campaign, e));
        }
        for case in cases {
            let (step, fails) = self.send_judged(case, None, true).await;
            self.report_new_failures("read_remaining", &step, fails, 0);
            if let Some(r) = step.result.as_ref().ok().and_then(|r| r.remaining()) {
                self.remaining = Some(r);
                return (Some(r), Some(step));
            }
        }
        (None, None)
    }
}

pub(super) fn repeat(campaign: usize, send_id: &str) -> Case {
    Case::Repeat {
        campaign,
        send_id: send_id.to_string(),
        content_type: JSON,
    }
}

pub(super) fn new_given(campaign: usize, send_id: &str, fresh: bool) -> Case {
    Case::New(NewPair {
        campaign,
        send_id: SendIdField::Given(send_id.to_string()),
        fresh,
        ..NewPair::default()
    })
}
