//! The checks: one named function each, in the order of the contract's rules. Each takes what
//! was asked and what came back, and passes, fails with a reason, or does not apply.
use std::collections::HashSet;

use crate::cli::Profile;
use crate::http::{Auth, Request, Response, Secret};
use crate::spec::{essence, typed_header_value, Spec};
use crate::strategies::{AuthVariant, Case, SendIdField};

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
    pub run: fn(&Ctx, &Exchange) -> Verdict,
}

/// Checked by the runner, not per exchange: every request gets an HTTP answer.
pub const ANSWERS_EVERY_REQUEST: &str = "answers_every_request";

/// The contract, as checks. Order follows docs/contract.md §1.
pub const CHECKS: &[Check] = &[
    Check { name: "status_is_documented", rule: "The status is one the OpenAPI document lists for POST /sends/id/create", braze: true, run: status_is_documented },
    Check { name: "content_type_is_json", rule: "Every response body is JSON with Content-Type: application/json (404, 405, 413, 415 included)", braze: true, run: content_type_is_json },
    Check { name: "body_matches_schema", rule: "The body validates against the document's schema for its status", braze: true, run: body_matches_schema },
    Check { name: "documented_headers_present_and_typed", rule: "Headers the document requires are present, and documented headers have its type", braze: true, run: documented_headers_present_and_typed },
    Check { name: "error_body_has_message", rule: "Every error is {\"message\": <reason>}, optionally with \"errors\": [...]", braze: false, run: error_body_has_message },
    Check { name: "response_never_shows_the_key", rule: "No response shows the API key", braze: true, run: response_never_shows_the_key },
    Check { name: "no_server_error", rule: "No client input ever produces a 5xx", braze: false, run: no_server_error },
    Check { name: "wrong_method_is_405_with_allow", rule: "Known path, other method → 405 with Allow: POST", braze: false, run: wrong_method_is_405_with_allow },
    Check { name: "unknown_path_is_404", rule: "Unknown path → 404", braze: false, run: unknown_path_is_404 },
    Check { name: "bad_key_is_401", rule: "Missing Authorization, another scheme than Bearer, an unknown key → 401", braze: true, run: bad_key_is_401 },
    Check { name: "forbidden_key_is_403", rule: "A key without sends.id.create → 403 (after authentication, before the body)", braze: false, run: forbidden_key_is_403 },
    Check { name: "invalid_request_is_refused", rule: "An invalid request is never answered 2xx", braze: false, run: invalid_request_is_refused },
    Check { name: "invalid_request_gets_its_status", rule: "Over 64 KiB → 413; Content-Type not JSON → 415; bad JSON, not an object, a bad field → 400", braze: false, run: invalid_request_gets_its_status },
    Check { name: "error_names_the_field", rule: "A 400 for a bad field has a message that names the field", braze: false, run: error_names_the_field },
    Check { name: "unknown_campaign_is_400", rule: "campaign_id not of the key's workspace → 400, message `Invalid campaign_id`", braze: false, run: unknown_campaign_is_400 },
    Check { name: "invalid_request_spends_nothing", rule: "Requests that are refused spend no quota", braze: false, run: invalid_request_spends_nothing },
    Check { name: "rate_limit_headers_on_permitted_requests", rule: "From step 4 on, every response carries X-RateLimit-Limit, -Remaining and -Reset", braze: false, run: rate_limit_headers_on_permitted_requests },
    Check { name: "remaining_within_limit", rule: "0 ≤ X-RateLimit-Remaining ≤ X-RateLimit-Limit", braze: false, run: remaining_within_limit },
    Check { name: "reset_is_next_utc_midnight", rule: "X-RateLimit-Reset is the Unix time of the next 00:00 UTC: in the future, within a day", braze: false, run: reset_is_next_utc_midnight },
    Check { name: "message_is_success", rule: "200 answers {\"message\": \"success\", ...}", braze: true, run: message_is_success },
    Check { name: "send_id_is_echoed", rule: "200 answers the send_id that was given", braze: true, run: send_id_is_echoed },
    Check { name: "send_id_is_printable_ascii", rule: "A send_id is ASCII and at most 64 characters (sendid: 1–64, printable)", braze: true, run: send_id_is_printable_ascii },
    Check { name: "generated_id_is_unique", rule: "A generated send_id is unique", braze: false, run: generated_id_is_unique },
    Check { name: "repeat_returns_pair_and_spends_nothing", rule: "An existing pair → 200 with that send_id; no quota is used", braze: false, run: repeat_returns_pair_and_spends_nothing },
    Check { name: "new_pair_spends_exactly_one", rule: "Creating a new pair lowers X-RateLimit-Remaining by exactly 1", braze: false, run: new_pair_spends_exactly_one },
    Check { name: "new_pair_over_quota_is_429", rule: "A new pair gets 429 exactly when the day's quota is used up", braze: true, run: new_pair_over_quota_is_429 },
    Check { name: "over_quota_answer_has_retry_after", rule: "429 carries the rate-limit headers, Remaining 0, and Retry-After: seconds until the reset", braze: false, run: over_quota_answer_has_retry_after },
    Check { name: "existing_pair_ok_over_quota", rule: "An existing pair still gets 200 when today's quota is used up", braze: false, run: existing_pair_ok_over_quota },
];

/// The rule of a check, by name (including the runner's own).
pub fn rule_of(name: &str) -> &'static str {
    if name == ANSWERS_EVERY_REQUEST {
        return "Every request gets an HTTP response within --timeout";
    }
    CHECKS
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.rule)
        .unwrap_or("")
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
            | Case::UnknownCampaign(_)
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

fn status_ok(ex: &Exchange) -> bool {
    ex.response.status == 200
}

// ---------------------------------------------------------------------------------------------
// Shapes, from the document.

pub fn status_is_documented(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) {
        return Verdict::Skip;
    }
    let status = ex.response.status;
    pass_if(ctx.spec.response(status).is_some(), || {
        format!(
            "status {status} is not documented (the document lists {})",
            ctx.spec.documented_statuses().join(", ")
        )
    })
}

pub fn content_type_is_json(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !strict(ctx) && !status_ok(ex) {
        return Verdict::Skip;
    }
    let Some(ct) = ex.response.content_type() else {
        return Verdict::Fail("no Content-Type header".into());
    };
    let got = essence(ct);
    if got != "application/json" {
        return Verdict::Fail(format!("Content-Type {ct:?}, not application/json"));
    }
    if is_operation(ex) {
        if let Some(doc) = ctx.spec.response(ex.response.status) {
            let documented = doc.media_types();
            if !documented.is_empty() && !documented.contains(&got.as_str()) {
                return Verdict::Fail(format!(
                    "Content-Type {ct:?} is not documented for {} ({})",
                    ex.response.status,
                    documented.join(", ")
                ));
            }
        }
    }
    Verdict::Pass
}

pub fn body_matches_schema(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || (!strict(ctx) && !status_ok(ex)) {
        return Verdict::Skip;
    }
    let Some(doc) = ctx.spec.response(ex.response.status) else {
        return Verdict::Skip;
    };
    let essence = ex.response.content_type().map(essence).unwrap_or_default();
    let Some(validator) = doc.schema_for(&essence).or_else(|| {
        // A wrong content type is its own check; still hold the body to the first schema.
        doc.content.iter().find_map(|(_, v)| v.as_ref())
    }) else {
        return Verdict::Skip;
    };
    let Some(body) = &ex.response.json else {
        return Verdict::Fail(format!(
            "the body is not JSON: {}",
            crate::http::excerpt(&ex.response.body, 120)
        ));
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(3)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    pass_if(errors.is_empty(), || {
        format!(
            "the body does not match the {} schema: {}",
            ex.response.status,
            errors.join("; ")
        )
    })
}

pub fn documented_headers_present_and_typed(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || (!strict(ctx) && !matches!(ex.response.status, 200 | 429)) {
        return Verdict::Skip;
    }
    let Some(doc) = ctx.spec.response(ex.response.status) else {
        return Verdict::Skip;
    };
    let mut problems = Vec::new();
    for h in &doc.headers {
        match ex.response.header(&h.name) {
            None if h.required => problems.push(format!("{} is missing", h.name)),
            None => {}
            Some(raw) => match typed_header_value(h.ty.as_deref(), raw) {
                Err(e) => problems.push(format!("{}: {e}", h.name)),
                Ok(value) => {
                    if let Some(v) = &h.validator {
                        if let Some(e) = v.iter_errors(&value).next() {
                            problems.push(format!("{}: {raw:?}: {e}", h.name));
                        }
                    }
                }
            },
        }
    }
    pass_if(problems.is_empty(), || problems.join("; "))
}

pub fn error_body_has_message(_: &Ctx, ex: &Exchange) -> Verdict {
    if ex.response.status < 400 {
        return Verdict::Skip;
    }
    let ok = ex
        .response
        .json
        .as_ref()
        .and_then(|j| j.get("message"))
        .is_some_and(|m| m.is_string());
    pass_if(ok, || {
        format!(
            "the error body is not {{\"message\": <string>}}: {}",
            crate::http::excerpt(&ex.response.body, 120)
        )
    })
}

pub fn response_never_shows_the_key(ctx: &Ctx, ex: &Exchange) -> Verdict {
    let shows = |key: &str| {
        key.len() >= 8
            && (contains(&ex.response.body, key.as_bytes())
                || ex.response.headers.iter().any(|(_, v)| v.contains(key)))
    };
    let leaked = shows(ctx.api_key) || ctx.forbidden_api_key.is_some_and(shows);
    pass_if(!leaked, || "the response contains an API key".into())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn no_server_error(_: &Ctx, ex: &Exchange) -> Verdict {
    let s = ex.response.status;
    pass_if(s < 500, || format!("status {s} for a client's request"))
}

// ---------------------------------------------------------------------------------------------
// The order of decisions.

pub fn wrong_method_is_405_with_allow(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::WrongMethod(method) = ex.case else {
        return Verdict::Skip;
    };
    if ex.response.status != 405 {
        return Verdict::Fail(format!("{method} answered {}, not 405", ex.response.status));
    }
    let allow = ex.response.header("allow").unwrap_or("");
    let has_post = allow
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case("POST"));
    pass_if(has_post, || {
        format!("405 with Allow {allow:?}, not listing POST")
    })
}

pub fn unknown_path_is_404(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::UnknownPath(path) = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    pass_if(s == 404, || format!("{path} answered {s}, not 404"))
}

pub fn bad_key_is_401(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Auth(a) = ex.case else {
        return Verdict::Skip;
    };
    if a.variant == AuthVariant::Forbidden {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 401, || {
        format!("{:?} answered {s}, not 401", a.variant)
    })
}

pub fn forbidden_key_is_403(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Auth(a) = ex.case else {
        return Verdict::Skip;
    };
    if a.variant != AuthVariant::Forbidden {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 403, || {
        format!("a valid key without sends.id.create answered {s}, not 403")
    })
}

pub fn invalid_request_is_refused(_: &Ctx, ex: &Exchange) -> Verdict {
    if !must_be_refused(ex) {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(!(200..300).contains(&s), || {
        format!("{} was accepted with {s}", ex.case.label())
    })
}

pub fn invalid_request_gets_its_status(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Invalid(inv) = ex.case else {
        return Verdict::Skip;
    };
    let (want, got) = (inv.expected_status(), ex.response.status);
    pass_if(want == got, || {
        format!("{} answered {got}, not {want}", inv.class())
    })
}

pub fn error_names_the_field(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Invalid(inv) = ex.case else {
        return Verdict::Skip;
    };
    let Some(field) = inv.field() else {
        return Verdict::Skip;
    };
    if ex.response.status != 400 {
        return Verdict::Skip;
    }
    let text = ex
        .response
        .json
        .as_ref()
        .map(|j| {
            let mut t = j
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string();
            if let Some(errs) = j.get("errors").and_then(|e| e.as_array()) {
                for e in errs {
                    t.push(' ');
                    t.push_str(e.as_str().unwrap_or(""));
                }
            }
            t
        })
        .unwrap_or_default();
    pass_if(text.contains(field), || {
        format!("the message {text:?} does not name {field}")
    })
}

pub fn unknown_campaign_is_400(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::UnknownCampaign(_) = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if s != 400 {
        return Verdict::Fail(format!("an unknown campaign answered {s}, not 400"));
    }
    let m = ex.response.message().unwrap_or("");
    pass_if(m == "Invalid campaign_id", || {
        format!("message {m:?}, not \"Invalid campaign_id\"")
    })
}

pub fn invalid_request_spends_nothing(_: &Ctx, ex: &Exchange) -> Verdict {
    if !must_be_refused(ex) {
        return Verdict::Skip;
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before == after, || {
            format!("X-RateLimit-Remaining went from {before} to {after}")
        }),
        _ => Verdict::Skip,
    }
}

// ---------------------------------------------------------------------------------------------
// Rate-limit headers.

pub fn rate_limit_headers_on_permitted_requests(_: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || !permitted(ex) || ex.response.status >= 500 {
        return Verdict::Skip;
    }
    let missing: Vec<&str> = [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]
    .into_iter()
    .filter(|h| ex.response.header(h).is_none())
    .collect();
    pass_if(missing.is_empty(), || {
        format!(
            "a {} to a permitted key lacks {}",
            ex.response.status,
            missing.join(", ")
        )
    })
}

pub fn remaining_within_limit(_: &Ctx, ex: &Exchange) -> Verdict {
    match (ex.response.remaining(), ex.response.limit()) {
        (Some(r), Some(l)) => pass_if(0 <= r && r <= l, || {
            format!("X-RateLimit-Remaining {r} is not within 0..={l} (X-RateLimit-Limit)")
        }),
        _ => Verdict::Skip,
    }
}

pub fn reset_is_next_utc_midnight(_: &Ctx, ex: &Exchange) -> Verdict {
    let Some(reset) = ex.response.reset() else {
        return Verdict::Skip;
    };
    let now = ex.response.received_at;
    if reset <= now - SKEW {
        return Verdict::Fail(format!(
            "X-RateLimit-Reset {reset} is in the past (now {now})"
        ));
    }
    if reset > now + DAY + SKEW {
        return Verdict::Fail(format!(
            "X-RateLimit-Reset {reset} is more than a day away (now {now})"
        ));
    }
    pass_if(reset % DAY == 0, || {
        format!("X-RateLimit-Reset {reset} is not a 00:00 UTC")
    })
}

// ---------------------------------------------------------------------------------------------
// The success answer.

pub fn message_is_success(_: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ex) || !is_operation(ex) {
        return Verdict::Skip;
    }
    let m = ex.response.message();
    pass_if(m == Some("success"), || {
        format!("message {m:?}, not \"success\"")
    })
}

pub fn send_id_is_echoed(_: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ex) {
        return Verdict::Skip;
    }
    let Some(given) = given_send_id(ex) else {
        return Verdict::Skip;
    };
    let got = ex.response.send_id();
    pass_if(got == Some(given), || {
        format!("sent send_id {given:?}, answered {got:?}")
    })
}

pub fn send_id_is_printable_ascii(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ex) || !is_valid_request(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Fail("a 200 without a string send_id".into());
    };
    let max = ctx.spec.send_id_max;
    let ok_chars = if strict(ctx) {
        id.bytes().all(|b| (0x20..=0x7e).contains(&b))
    } else {
        id.is_ascii()
    };
    pass_if(ok_chars && !id.is_empty() && id.len() <= max, || {
        format!("send_id {id:?} is not 1 to {max} ASCII characters")
    })
}

pub fn generated_id_is_unique(_: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ex) || !generated_pair(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Skip;
    };
    pass_if(!ex.generated_before.contains(id), || {
        format!("generated send_id {id:?} was generated before in this run")
    })
}

// ---------------------------------------------------------------------------------------------
// Quota.

pub fn repeat_returns_pair_and_spends_nothing(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Repeat { .. } = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if s != 200 {
        return Verdict::Fail(format!(
            "a repeat of an existing pair answered {s}, not 200"
        ));
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before == after, || {
            format!("a repeat moved X-RateLimit-Remaining from {before} to {after}")
        }),
        _ => Verdict::Pass,
    }
}

pub fn new_pair_spends_exactly_one(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    if !status_ok(ex) {
        return Verdict::Skip;
    }
    let (Some(before), Some(after)) = (ex.remaining_before, ex.response.remaining()) else {
        return Verdict::Skip;
    };
    let spent = before - after;
    match pair.send_id {
        // A generated id is always a new pair.
        SendIdField::Absent | SendIdField::Null => pass_if(spent == 1, || {
            format!("a new pair moved X-RateLimit-Remaining from {before} to {after}")
        }),
        // A given id may exist from an earlier run: new (1) or a repeat (0).
        SendIdField::Given(_) => pass_if(spent == 0 || spent == 1, || {
            format!("one pair moved X-RateLimit-Remaining from {before} to {after}")
        }),
    }
}

pub fn new_pair_over_quota_is_429(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !generated_pair(ex) {
        return Verdict::Skip;
    }
    let Some(before) = ex.remaining_before else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if before <= 0 {
        pass_if(s == 429, || {
            format!("a new pair with X-RateLimit-Remaining {before} answered {s}, not 429")
        })
    } else if strict(ctx) {
        pass_if(s != 429, || {
            format!("429 with X-RateLimit-Remaining {before} before the request")
        })
    } else {
        Verdict::Skip
    }
}

pub fn over_quota_answer_has_retry_after(_: &Ctx, ex: &Exchange) -> Verdict {
    if ex.response.status != 429 {
        return Verdict::Skip;
    }
    let Some(raw) = ex.response.header("retry-after") else {
        return Verdict::Fail("429 without Retry-After".into());
    };
    let Ok(retry) = raw.trim().parse::<i64>() else {
        return Verdict::Fail(format!("Retry-After {raw:?} is not a number of seconds"));
    };
    if let Some(r) = ex.response.remaining() {
        if r != 0 {
            return Verdict::Fail(format!("429 with X-RateLimit-Remaining {r}, not 0"));
        }
    }
    let Some(reset) = ex.response.reset() else {
        return Verdict::Fail("429 without X-RateLimit-Reset".into());
    };
    let until = reset - ex.response.received_at;
    pass_if(retry >= 0 && (retry - until).abs() <= SKEW, || {
        format!("Retry-After {retry}, but the reset is {until} s away")
    })
}

pub fn existing_pair_ok_over_quota(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::Repeat { .. } = ex.case else {
        return Verdict::Skip;
    };
    if ex.remaining_before != Some(0) {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    pass_if(s == 200, || {
        format!("an existing pair answered {s} with the quota used up, not 200")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_are_unique() {
        let names: HashSet<_> = CHECKS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CHECKS.len());
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
