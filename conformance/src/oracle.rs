//! The checks: one named function each, in the order of the contract's rules. Each takes what
//! was asked and what came back, and passes, fails with a reason, or does not apply.
use std::collections::HashSet;

use crate::cli::Profile;
use crate::http::{quote, quote_or, Auth, Request, Response, Secret};
use crate::spec::{essence, typed_header_value, Spec};
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
    Check { name: "valid_new_pair_is_accepted", rule: "A valid new pair (send_id 1–64 printable ASCII: spaces, ~ ! \" \\ / included) gets 200 while quota is left", braze: false, run: valid_new_pair_is_accepted },
    Check { name: "json_media_type_variants_accepted", rule: "Content-Type application/json with parameters or in another letter case is JSON (accepted)", braze: false, run: json_media_type_variants_accepted },
    Check { name: "case_variant_is_a_new_pair", rule: "send_id is case-sensitive: a case variant of an existing send_id is a new pair (200, echoed as sent, one unit)", braze: false, run: case_variant_is_a_new_pair },
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

/// A check the runner decides over several exchanges (a burst, a campaign pair, a sequence).
pub struct RunCheck {
    pub name: &'static str,
    pub rule: &'static str,
    pub braze: bool,
    pub needs: Needs,
}

pub const BURST_SAME_PAIR: &str = "burst_same_pair_created_once";
pub const BURST_NEW_PAIRS: &str = "burst_creates_exactly_min_n_r";
pub const BURST_IDS_DISTINCT: &str = "burst_send_ids_distinct";
pub const BURST_REPEATS_OVER_QUOTA: &str = "burst_repeats_ok_over_quota";
pub const PAIR_PER_CAMPAIGN: &str = "pair_is_per_campaign";
pub const QUOTA_PER_WORKSPACE: &str = "quota_is_per_workspace";
pub const QUOTA_SPENT_FOR_EVERY_CAMPAIGN: &str = "exhausted_quota_applies_to_every_campaign";
pub const MODEL_AGREES: &str = "stateful_model_agrees";

pub const RUN_CHECKS: &[RunCheck] = &[
    RunCheck { name: BURST_SAME_PAIR, rule: "K simultaneous requests for one new pair: all 200 with the same send_id, and Remaining drops by exactly 1", braze: false, needs: Needs::Nothing },
    RunCheck { name: BURST_NEW_PAIRS, rule: "N simultaneous new pairs with R left: exactly min(N, R) answered 200, the rest 429 with Retry-After, Remaining ends at max(0, R − N)", braze: false, needs: Needs::Nothing },
    RunCheck { name: BURST_IDS_DISTINCT, rule: "The send_ids generated for simultaneous new pairs are all distinct", braze: false, needs: Needs::Nothing },
    RunCheck { name: BURST_REPEATS_OVER_QUOTA, rule: "Simultaneous repeats of an existing pair while the quota is used up: all 200 with that send_id", braze: false, needs: Needs::Exhaust },
    RunCheck { name: PAIR_PER_CAMPAIGN, rule: "A pair is (campaign_id, send_id): the same send_id under another campaign is a new pair (200, echoed, one unit)", braze: true, needs: Needs::TwoCampaigns },
    RunCheck { name: QUOTA_PER_WORKSPACE, rule: "The quota is per workspace: Remaining agrees across its campaigns, and what one spends is gone for the others", braze: true, needs: Needs::TwoCampaigns },
    RunCheck { name: QUOTA_SPENT_FOR_EVERY_CAMPAIGN, rule: "With the quota used up through one campaign, a new pair in another campaign gets 429", braze: true, needs: Needs::TwoCampaignsAndExhaust },
    RunCheck { name: MODEL_AGREES, rule: "Over random sequences (new, generated, repeat, invalid, other campaign, burst) every status and Remaining is what a model of the contract predicts", braze: false, needs: Needs::Nothing },
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
        .or_else(|| RUN_CHECKS.iter().find(|c| c.name == name).map(|c| c.rule))
        .unwrap_or("")
}

/// The run-level checks of a profile.
pub fn run_checks_for(profile: Profile) -> impl Iterator<Item = &'static RunCheck> {
    RUN_CHECKS
        .iter()
        .filter(move |c| profile == Profile::Strict || c.braze)
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

// ---------------------------------------------------------------------------------------------
// Shapes, from the document.

pub fn status_is_documented(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) {
        return Verdict::Skip;
    }
    let status = ex.response.status;
    pass_if(documented(ctx, ex).is_some(), || {
        format!(
            "status {status} is not documented (the document lists {})",
            ctx.spec.documented_statuses().join(", ")
        )
    })
}

pub fn content_type_is_json(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !strict(ctx) && !status_ok(ctx, ex) {
        return Verdict::Skip;
    }
    let Some(ct) = ex.response.content_type() else {
        return Verdict::Fail("no Content-Type header".into());
    };
    let got = essence(ct);
    if got != "application/json" {
        return Verdict::Fail(format!("Content-Type {}, not application/json", quote(ct)));
    }
    if is_operation(ex) {
        if let Some(doc) = documented(ctx, ex) {
            let documented = doc.media_types();
            if !documented.is_empty() && !documented.contains(&got.as_str()) {
                return Verdict::Fail(format!(
                    "Content-Type {} is not documented for {} ({})",
                    quote(ct),
                    ex.response.status,
                    documented.join(", ")
                ));
            }
        }
    }
    Verdict::Pass
}

pub fn body_matches_schema(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || (!strict(ctx) && !status_ok(ctx, ex)) {
        return Verdict::Skip;
    }
    let Some(doc) = documented(ctx, ex) else {
        return Verdict::Skip;
    };
    let essence = ex.response.content_type().map(essence).unwrap_or_default();
    let Some(validator) = doc.schema_for(&essence).or_else(|| {
        // A wrong content type is its own check; still hold the body to the first schema.
        doc.content.iter().find_map(|(_, v)| v.as_ref())
    }) else {
        return Verdict::Skip;
    };
    let Some(body) = body_for_checks(ctx, ex) else {
        return Verdict::Fail(format!(
            "the body is not JSON: {}",
            crate::http::excerpt(&ex.response.body, 120)
        ));
    };
    let errors: Vec<String> = validator
        .iter_errors(&body)
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
    if !is_operation(ex) || (!strict(ctx) && !status_ok(ctx, ex) && ex.response.status != 429) {
        return Verdict::Skip;
    }
    let Some(doc) = documented(ctx, ex) else {
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
                            problems.push(format!("{}: {}: {e}", h.name, quote(raw)));
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
    // The key as sent, as it reads inside a JSON string (`"` and `\` escaped), and for a long
    // key any 16 characters of it in a row (a key cut short is still shown).
    let shows = |key: &str| {
        if key.len() < 8 {
            return false;
        }
        let escaped = serde_json::to_string(key).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        let mut needles: Vec<&str> = vec![key, escaped];
        if key.len() >= 24 && key.is_ascii() {
            needles.extend((0..=key.len() - KEY_WINDOW).map(|i| &key[i..i + KEY_WINDOW]));
        }
        needles.iter().any(|k| {
            contains(&ex.response.body, k.as_bytes())
                || ex.response.headers.iter().any(|(_, v)| v.contains(k))
        })
    };
    let invented = match ex.case {
        Case::Auth(a) => a.variant.invented_key(),
        _ => None,
    };
    let which = if shows(ctx.api_key) {
        Some("the valid API key (--api-key)")
    } else if ctx.forbidden_api_key.is_some_and(shows) {
        Some("the forbidden API key (--forbidden-api-key)")
    } else if invented.is_some_and(shows) {
        Some("the invalid key this request presented")
    } else {
        None
    };
    match which {
        None => Verdict::Pass,
        Some(w) => Verdict::Fail(format!("the {} answer contains {w}", ex.response.status)),
    }
}

/// Characters of a key in a row that count as showing it.
const KEY_WINDOW: usize = 16;

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
        format!("405 with Allow {}, not listing POST", quote(allow))
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
        format!("{} answered {s}, not 401", a.variant.label())
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
        format!("the message {} does not name {field}", quote(&text))
    })
}

pub fn unknown_campaign_is_400(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::UnknownCampaign { .. } = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    if s != 400 {
        return Verdict::Fail(format!("an unknown campaign answered {s}, not 400"));
    }
    let m = ex.response.message().unwrap_or("");
    pass_if(m == "Invalid campaign_id", || {
        format!("message {}, not \"Invalid campaign_id\"", quote(m))
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

pub fn message_is_success(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !is_operation(ex) {
        return Verdict::Skip;
    }
    let m = ex.response.message();
    pass_if(m == Some("success"), || {
        format!("message {}, not \"success\"", quote_or(m, "absent"))
    })
}

pub fn send_id_is_echoed(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) {
        return Verdict::Skip;
    }
    let Some(given) = given_send_id(ex) else {
        return Verdict::Skip;
    };
    let got = ex.response.send_id();
    pass_if(got == Some(given), || {
        format!(
            "sent send_id {}, answered {}",
            quote(given),
            quote_or(got, "no send_id")
        )
    })
}

pub fn send_id_is_printable_ascii(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !is_valid_request(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Fail(format!("a {} without a string send_id", ex.response.status));
    };
    let max = ctx.spec.send_id_max;
    let ok_chars = if strict(ctx) {
        id.bytes().all(|b| (0x20..=0x7e).contains(&b))
    } else {
        id.is_ascii()
    };
    pass_if(ok_chars && !id.is_empty() && id.len() <= max, || {
        format!("send_id {} is not 1 to {max} ASCII characters", quote(id))
    })
}

pub fn generated_id_is_unique(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !generated_pair(ex) {
        return Verdict::Skip;
    }
    let Some(id) = ex.response.send_id() else {
        return Verdict::Skip;
    };
    pass_if(!ex.generated_before.contains(id), || {
        format!(
            "generated send_id {} was generated before in this run",
            quote(id)
        )
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

pub fn new_pair_spends_exactly_one(ctx: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    if !status_ok(ctx, ex) {
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
        // A fresh id (this run's own tag) is new: exactly one.
        SendIdField::Given(_) if pair.fresh => pass_if(spent == 1, || {
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
        return Verdict::Fail(format!(
            "Retry-After {} is not a number of seconds",
            quote(raw)
        ));
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

// ---------------------------------------------------------------------------------------------
// Edges of the valid classes.

fn given_text(pair: &crate::strategies::NewPair) -> String {
    match &pair.send_id {
        SendIdField::Given(s) => format!("send_id {}", quote(s)),
        SendIdField::Absent => "no send_id".into(),
        SendIdField::Null => "send_id null".into(),
    }
}

pub fn valid_new_pair_is_accepted(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    let s = ex.response.status;
    let message = ex.response.message().unwrap_or("");
    match ex.remaining_before {
        Some(r) if r <= 0 => Verdict::Skip,
        Some(r) => pass_if(s == 200, || {
            format!(
                "a valid new pair ({}) answered {s} {} with {r} left, not 200",
                given_text(pair),
                quote(message)
            )
        }),
        None => pass_if(s == 200 || s == 429, || {
            format!(
                "a valid new pair ({}) answered {s} {}, not 200 (or 429 over quota)",
                given_text(pair),
                quote(message)
            )
        }),
    }
}

pub fn json_media_type_variants_accepted(_: &Ctx, ex: &Exchange) -> Verdict {
    let ct = match ex.case {
        Case::New(p) => p.content_type,
        Case::Repeat { content_type, .. } => content_type,
        _ => return Verdict::Skip,
    };
    if ct == JSON {
        return Verdict::Skip;
    }
    let s = ex.response.status;
    let over_quota = matches!(ex.case, Case::New(_)) && s == 429;
    pass_if(s == 200 || over_quota, || {
        format!("Content-Type {} answered {s}, not 200", quote(ct))
    })
}

pub fn case_variant_is_a_new_pair(_: &Ctx, ex: &Exchange) -> Verdict {
    let Case::New(pair) = ex.case else {
        return Verdict::Skip;
    };
    let (Some(original), SendIdField::Given(sent)) = (&pair.variant_of, &pair.send_id) else {
        return Verdict::Skip;
    };
    if ex.remaining_before.is_some_and(|r| r <= 0) {
        return Verdict::Skip;
    }
    let (sent_q, original_q) = (quote(sent), quote(original));
    let s = ex.response.status;
    if s != 200 {
        return Verdict::Fail(format!(
            "{sent_q}, a case variant of the existing {original_q}, answered {s}, not 200"
        ));
    }
    let got = ex.response.send_id();
    if got != Some(sent.as_str()) {
        return Verdict::Fail(format!(
            "{sent_q}, a case variant of the existing {original_q}, answered send_id {}: \
             send_ids were compared without their case",
            quote_or(got, "none")
        ));
    }
    match (ex.remaining_before, ex.response.remaining()) {
        (Some(before), Some(after)) => pass_if(before - after == 1, || {
            format!(
                "{sent_q}, a case variant of the existing {original_q}, moved \
                 X-RateLimit-Remaining from {before} to {after}: it was taken for the same pair"
            )
        }),
        _ => Verdict::Pass,
    }
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
