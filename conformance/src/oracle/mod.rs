//! The checks: one named function each, in the order of the contract's rules. Each takes what
//! was asked and what came back, and passes, fails with a reason, or does not apply.
mod decisions;
mod pairs;
mod run_checks;
mod shapes;

pub use decisions::*;
pub use pairs::*;
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

pub struct Check {
    pub name: &'static str,
    /// The rule, in the contract's words.
    pub rule: &'static str,
    /// Part of `--profile braze`: Braze documents it.
    pub braze: bool,
    /// What it needs to run at all, besides the defaults.
    pub needs: Needs,
    pub run: fn(&Ctx, &Exchange) -> Verdict,
}

/// Error hygiene, on every answer (also those of the class properties).
pub const NO_INTERNALS_SHOWN: &str = "no_internals_shown";

/// Checked by the runner, not per exchange: every request gets an HTTP answer.
pub const ANSWERS_EVERY_REQUEST: &str = "answers_every_request";

/// The contract, as checks. Order follows docs/contract.md §1.
pub const CHECKS: &[Check] = &[
    Check { name: "status_is_documented", rule: "The status is one the OpenAPI document lists for POST /sends/id/create", braze: true, needs: Needs::Nothing, run: status_is_documented },
    Check { name: "content_type_is_json", rule: "Every response body is JSON with Content-Type: application/json (404, 405, 413, 415 included)", braze: true, needs: Needs::Nothing, run: content_type_is_json },
    Check { name: "body_matches_schema", rule: "The body validates against the document's schema for its status", braze: true, needs: Needs::Nothing, run: body_matches_schema },
    Check { name: "documented_headers_present_and_typed", rule: "Headers the document requires are present, and documented headers have its type", braze: true, needs: Needs::Nothing, run: documented_headers_present_and_typed },
    Check { name: "error_body_has_message", rule: "Every error is {\"message\": <reason>}, optionally with \"errors\": [...]", braze: false, needs: Needs::Nothing, run: error_body_has_message },
    Check { name: "response_never_shows_the_key", rule: "No response shows the API key", braze: true, needs: Needs::Nothing, run: response_never_shows_the_key },
    Check { name: NO_INTERNALS_SHOWN, rule: "No answer shows a stack trace, a source path, panic text, an internal exception's name, an error page, or a key of the run (also in part or encoded)", braze: false, needs: Needs::Nothing, run: no_internals_shown },
    Check { name: "no_server_error", rule: "No client input ever produces a 5xx", braze: false, needs: Needs::Nothing, run: no_server_error },
    Check { name: "wrong_method_is_405_with_allow", rule: "Known path, other method → 405 with Allow: POST", braze: false, needs: Needs::Nothing, run: wrong_method_is_405_with_allow },
    Check { name: "unknown_path_is_404", rule: "Unknown path → 404", braze: false, needs: Needs::Nothing, run: unknown_path_is_404 },
    Check { name: "bad_key_is_401", rule: "Missing Authorization, another scheme than Bearer, an unknown key → 401", braze: true, needs: Needs::Nothing, run: bad_key_is_401 },
    Check { name: "forbidden_key_is_403", rule: "A key without sends.id.create → 403 (after authentication, before the body)", braze: false, needs: Needs::Nothing, run: forbidden_key_is_403 },
    Check { name: "invalid_request_is_refused", rule: "An invalid request is never answered 2xx", braze: false, needs: Needs::Nothing, run: invalid_request_is_refused },
    Check { name: "invalid_request_gets_its_status", rule: "Over 64 KiB → 413; Content-Type not JSON → 415; bad JSON, not an object, a bad field → 400", braze: false, needs: Needs::Nothing, run: invalid_request_gets_its_status },
    Check { name: "error_names_the_field", rule: "A 400 for a bad field has a message that names the field", braze: false, needs: Needs::Nothing, run: error_names_the_field },
    Check { name: "unknown_campaign_is_400", rule: "campaign_id not of the key's workspace → 400, message `Invalid campaign_id`", braze: false, needs: Needs::Nothing, run: unknown_campaign_is_400 },
    Check { name: "invalid_request_spends_nothing", rule: "Requests that are refused spend no quota", braze: false, needs: Needs::Nothing, run: invalid_request_spends_nothing },
    Check { name: "rate_limit_headers_on_permitted_requests", rule: "From step 4 on, every response carries X-RateLimit-Limit, -Remaining and -Reset", braze: false, needs: Needs::Nothing, run: rate_limit_headers_on_permitted_requests },
    Check { name: "remaining_within_limit", rule: "0 ≤ X-RateLimit-Remaining ≤ X-RateLimit-Limit", braze: false, needs: Needs::Nothing, run: remaining_within_limit },
    Check { name: "reset_is_next_utc_midnight", rule: "X-RateLimit-Reset is the Unix time of the next 00:00 UTC: in the future, within a day", braze: false, needs: Needs::Nothing, run: reset_is_next_utc_midnight },
    Check { name: "message_is_success", rule: "200 answers {\"message\": \"success\", ...}", braze: true, needs: Needs::Nothing, run: message_is_success },
    Check { name: "send_id_is_echoed", rule: "200 answers the send_id that was given", braze: true, needs: Needs::Nothing, run: send_id_is_echoed },
    Check { name: "send_id_is_printable_ascii", rule: "A send_id is ASCII and at most 64 characters (sendid: 1–64, printable)", braze: true, needs: Needs::Nothing, run: send_id_is_printable_ascii },
    Check { name: "generated_id_is_unique", rule: "A generated send_id is unique", braze: false, needs: Needs::Nothing, run: generated_id_is_unique },
    Check { name: "repeat_returns_pair_and_spends_nothing", rule: "An existing pair → 200 with that send_id; no quota is used", braze: false, needs: Needs::Nothing, run: repeat_returns_pair_and_spends_nothing },
    Check { name: "new_pair_spends_exactly_one", rule: "Creating a new pair lowers X-RateLimit-Remaining by exactly 1", braze: false, needs: Needs::Nothing, run: new_pair_spends_exactly_one },
    Check { name: "new_pair_over_quota_is_429", rule: "A new pair gets 429 exactly when the day's quota is used up", braze: true, needs: Needs::Nothing, run: new_pair_over_quota_is_429 },
    Check { name: "over_quota_answer_has_retry_after", rule: "429 carries the rate-limit headers, Remaining 0, and Retry-After: seconds until the reset", braze: false, needs: Needs::Exhaust, run: over_quota_answer_has_retry_after },
    Check { name: "existing_pair_ok_over_quota", rule: "An existing pair still gets 200 when today's quota is used up", braze: false, needs: Needs::Exhaust, run: existing_pair_ok_over_quota },
    Check { name: "valid_new_pair_is_accepted", rule: "A valid new pair (send_id 1–64 printable ASCII: spaces, ~ ! \" \\ / included) gets 200 while quota is left", braze: false, needs: Needs::Nothing, run: valid_new_pair_is_accepted },
    Check { name: "json_media_type_variants_accepted", rule: "Content-Type application/json with parameters or in another letter case is JSON (accepted)", braze: false, needs: Needs::Nothing, run: json_media_type_variants_accepted },
    Check { name: "case_variant_is_a_new_pair", rule: "send_id is case-sensitive: a case variant of an existing send_id is a new pair (200, echoed as sent, one unit)", braze: false, needs: Needs::Nothing, run: case_variant_is_a_new_pair },
];

/// What a run-level check needs besides the defaults, to run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    TwoCampaigns,
    Exhaust,
    TwoCampaignsAndExhaust,
}

impl Needs {
    /// Why the check cannot run with these flags, and the flag that enables it.
    pub fn unmet(self, campaigns: usize, exhaust: bool) -> Option<&'static str> {
        let two = campaigns >= 2;
        match self {
            Needs::Nothing => None,
            Needs::TwoCampaigns if !two => {
                Some("give a second --campaign-id of the same workspace")
            }
            Needs::Exhaust if !exhaust => Some("needs --exhaust-quota"),
            Needs::TwoCampaignsAndExhaust if !two && !exhaust => {
                Some("give a second --campaign-id of the same workspace and --exhaust-quota")
            }
            Needs::TwoCampaignsAndExhaust if !two => {
                Some("give a second --campaign-id of the same workspace")
            }
            Needs::TwoCampaignsAndExhaust if !exhaust => Some("needs --exhaust-quota"),
            _ => None,
        }
    }
}
/// The rule of a check, by name (including the runner's own).
pub fn rule_of(name: &str) -> &'static str {
    if name == ANSWERS_EVERY_REQUEST {
        return "Every request gets an HTTP response within --timeout";
    }
    CHECKS
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.rule)
        .or_else(|| RUN_CHECKS.iter().find(|c| c.name == name).map(|c| c.rule))
        .unwrap_or("")
}

/// The run-level check of this name.
pub fn run_check_named(name: &str) -> Option<RunCheckId> {
    RUN_CHECKS.iter().find(|c| c.name == name).map(|c| c.id)
}

/// The checks of a profile, in contract order.
pub fn checks_for(profile: Profile) -> impl Iterator<Item = &'static Check> {
    CHECKS
        .iter()
        .filter(move |c| profile == Profile::Strict || c.braze)
}

/// Runs every check of the profile on one exchange.
pub fn judge(ctx: &Ctx, ex: &Exchange) -> Vec<(&'static str, Verdict)> {
    checks_for(ctx.profile)
        .map(|c| (c.name, (c.run)(ctx, ex)))
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
    fn check_names_are_unique() {
        let names: HashSet<_> = CHECKS
            .iter()
            .map(|c| c.name)
            .chain(RUN_CHECKS.iter().map(|c| c.name))
            .collect();
        assert_eq!(names.len(), CHECKS.len() + RUN_CHECKS.len());
    }

    #[test]
    fn checks_that_need_flags_say_which() {
        assert_eq!(Needs::Nothing.unmet(1, false), None);
        assert!(Needs::TwoCampaigns
            .unmet(1, true)
            .is_some_and(|w| w.contains("--campaign-id")));
        assert_eq!(Needs::TwoCampaigns.unmet(2, false), None);
        assert!(Needs::Exhaust
            .unmet(2, false)
            .is_some_and(|w| w.contains("--exhaust-quota")));
        assert_eq!(Needs::TwoCampaignsAndExhaust.unmet(2, true), None);
    }

    #[test]
    fn the_braze_profile_is_what_braze_documents() {
        let braze: Vec<_> = checks_for(Profile::Braze).map(|c| c.name).collect();
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
