//! The checks: one named function each, in the order of the contract's rules. Each takes what
//! was asked and what came back, and passes, fails with a reason, or does not apply.
mod decisions;
mod pairs;
mod registry;
mod run_checks;
mod shapes;

pub use decisions::*;
pub use pairs::*;
pub use registry::*;
pub use run_checks::*;
pub use shapes::*;
use std::collections::HashSet;

use crate::config::Profile;
use crate::http::{quote, quote_or, Auth, Request, Response, Secret};
use crate::spec::Spec;
use crate::strategies::{AuthVariant, Case, SendIdField, JSON};

/// Allowed clock skew between the checker and the target, in seconds.
pub const SKEW: i64 = 120;
const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    /// The check says nothing about this exchange.
    Skip,
}

/// What the checks may consult besides the exchange.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub profile: Profile,
    pub api_key: &'a str,
    pub forbidden_api_key: Option<&'a str>,
}

/// One request and its answer, with the run's state just before it was sent.
pub struct Exchange<'a> {
    pub case: &'a Case,
    pub request: &'a Request,
    pub response: &'a Response,
    /// `X-RateLimit-Remaining` as last known before this request.
    pub remaining_before: Option<i64>,
    /// send_ids the server generated earlier in this run.
    pub generated_before: &'a HashSet<String>,
}

/// Runs every check of the profile that is judged on one exchange.
pub fn judge(ctx: &Ctx, ex: &Exchange) -> Vec<(CheckId, Verdict)> {
    checks_for(ctx.profile)
        .filter_map(|c| match c.judge {
            Judge::Exchange(f) => Some((c.id, f(ctx, ex))),
            _ => None,
        })
        .collect()
}

fn pass_if(ok: bool, why: impl FnOnce() -> String) -> Verdict {
    if ok {
        Verdict::Pass
    } else {
        Verdict::Fail(why())
    }
}

// ---------------------------------------------------------------------------------------------
// What an exchange is.

/// A POST to the operation (the document speaks of these only).
fn is_operation(ex: &Exchange) -> bool {
    !matches!(ex.case, Case::WrongMethod(_) | Case::UnknownPath(_))
}

fn strict(ctx: &Ctx) -> bool {
    ctx.profile == Profile::Strict
}

/// Sent with the run's API key as a Bearer token: past authentication and authorization.
fn permitted(ex: &Exchange) -> bool {
    matches!(&ex.request.auth, Auth::Secret { scheme, secret: Secret::ApiKey } if scheme == "Bearer")
}

/// Valid and for a pair the run created or may create.
fn is_valid_request(ex: &Exchange) -> bool {
    matches!(ex.case, Case::New(_) | Case::Repeat { .. })
}

/// Must be refused and must spend nothing.
fn must_be_refused(ex: &Exchange) -> bool {
    matches!(
        ex.case,
        Case::Invalid(_)
            | Case::Auth(_)
            | Case::UnknownCampaign { .. }
            | Case::WrongMethod(_)
            | Case::UnknownPath(_)
    )
}

/// A new pair whose send_id the server generates: always new.
fn generated_pair(ex: &Exchange) -> bool {
    matches!(ex.case, Case::New(p) if matches!(p.send_id, SendIdField::Absent | SendIdField::Null))
}

fn given_send_id<'a>(ex: &'a Exchange) -> Option<&'a str> {
    match ex.case {
        Case::New(p) => match &p.send_id {
            SendIdField::Given(s) => Some(s),
            _ => None,
        },
        Case::Repeat { send_id, .. } => Some(send_id),
        _ => None,
    }
}

/// A success answer: 200 (strict, sendid's contract); under `braze` any 2XX, as Braze's "API
/// errors and responses" page says (the message is checked by `message_is_success`).
fn status_ok(ctx: &Ctx, ex: &Exchange) -> bool {
    let s = ex.response.status;
    s == 200 || (!strict(ctx) && (200..300).contains(&s))
}

/// Whether an answer is a success under a profile: what the run takes as a created or
/// returned pair.
pub fn is_success(profile: Profile, resp: &Response) -> bool {
    match profile {
        Profile::Strict => resp.status == 200,
        Profile::Braze => (200..300).contains(&resp.status) && resp.message() == Some("success"),
    }
}

/// The documented response an answer is held to: its own status; under `braze` a 2XX other
/// than 200 is held to the document's 200.
fn documented<'s>(ctx: &Ctx<'s>, ex: &Exchange) -> Option<&'s crate::spec::ResponseSpec> {
    let s = ex.response.status;
    let own = ctx.spec.response(s);
    if !strict(ctx) && (201..300).contains(&s) {
        return ctx.spec.response(200).or(own);
    }
    own
}

/// The body as the checks read it: under `braze` an `errors` array (non-fatal detail Braze may
/// send beside any message) is set aside.
fn body_for_checks(ctx: &Ctx, ex: &Exchange) -> Option<serde_json::Value> {
    let mut body = ex.response.json.clone()?;
    if !strict(ctx) {
        if let Some(obj) = body.as_object_mut() {
            if obj.get("errors").is_some_and(serde_json::Value::is_array) {
                obj.remove("errors");
            }
        }
    }
    Some(body)
}

/// The tolerances of `--profile braze` this exchange needed (for the run's summary).
pub fn tolerances_used(ctx: &Ctx, ex: &Exchange) -> Vec<String> {
    let mut used = Vec::new();
    if strict(ctx) {
        return used;
    }
    let s = ex.response.status;
    if (201..300).contains(&s) && is_success(ctx.profile, ex.response) {
        used.push(format!("{s} taken as success"));
    }
    let has_errors = ex
        .response
        .json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .is_some_and(serde_json::Value::is_array);
    if has_errors {
        used.push("\"errors\" array allowed in the body".to_string());
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_braze_profile_is_what_braze_documents() {
        let braze: Vec<_> = checks_for(Profile::Braze)
            .filter(|c| matches!(c.judge, Judge::Exchange(_)))
            .map(|c| c.name)
            .collect();
        assert_eq!(
            braze,
            vec![
                "status_is_documented",
                "content_type_is_json",
                "body_matches_schema",
                "documented_headers_present_and_typed",
                "response_never_shows_the_key",
                "bad_key_is_401",
                "message_is_success",
                "send_id_is_echoed",
                "send_id_is_printable_ascii",
                "new_pair_over_quota_is_429",
            ]
        );
    }
}
