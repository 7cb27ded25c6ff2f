//! The registry of checks: one [`CheckId`] for every check — those judged on one exchange,
//! those the runner decides over several (a burst, a campaign pair, a sequence), and the
//! runner's own — and one [`CheckInfo`] row each, in the enum's order. A check's name, rule and
//! profile come from its row; nothing is looked up by name.
//!
//! Adding a check: one variant of [`CheckId`], one row of [`CHECKS`] at the same place (a unit
//! test holds the table to the enum's order), and for a check of one exchange its function.
use super::decisions::*;
use super::pairs::*;
use super::shapes::*;
use super::{Ctx, Exchange, Verdict};
use crate::classes::Class;
use crate::config::Profile;

/// Every check, in the order of the contract's rules: the runner's own, then those of one
/// exchange (docs/contract.md §1), then those decided over several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    AnswersEveryRequest,
    StatusIsDocumented,
    ContentTypeIsJson,
    BodyMatchesSchema,
    DocumentedHeadersPresentAndTyped,
    ErrorBodyHasMessage,
    ResponseNeverShowsTheKey,
    NoServerError,
    WrongMethodIs405WithAllow,
    UnknownPathIs404,
    BadKeyIs401,
    ForbiddenKeyIs403,
    InvalidRequestIsRefused,
    InvalidRequestGetsItsStatus,
    ErrorNamesTheField,
    UnknownCampaignIs400,
    InvalidRequestSpendsNothing,
    RateLimitHeadersOnPermittedRequests,
    RemainingWithinLimit,
    ResetIsNextUtcMidnight,
    MessageIsSuccess,
    SendIdIsEchoed,
    SendIdIsPrintableAscii,
    GeneratedIdIsUnique,
    RepeatReturnsPairAndSpendsNothing,
    NewPairSpendsExactlyOne,
    NewPairOverQuotaIs429,
    OverQuotaAnswerHasRetryAfter,
    ExistingPairOkOverQuota,
    ValidNewPairIsAccepted,
    JsonMediaTypeVariantsAccepted,
    CaseVariantIsANewPair,
    BurstSamePair,
    BurstNewPairs,
    BurstIdsDistinct,
    BurstPairsStored,
    BurstRepeatsOverQuota,
    PairPerCampaign,
    QuotaPerWorkspace,
    QuotaSpentForEveryCampaign,
    ModelAgrees,
    NoInternalsShown,
    OtherMethodIs405,
    AllowMatchesServer,
    HeadHasNoBody,
    FramingAgrees,
    EquivalentSameAnswer,
    EquivalentSameQuota,
    HostileBodyHandled,
    HostileBodyStatus,
    GeneratedIdsRandom,
}

/// How a check is decided.
#[derive(Clone, Copy)]
pub enum Judge {
    /// By the runner itself (every request gets an answer).
    Runner,
    /// On each exchange, by this function.
    Exchange(fn(&Ctx, &Exchange) -> Verdict),
    /// By the properties that list it in their `decides`, over several exchanges.
    Run,
}

/// One row of the registry.
pub struct CheckInfo {
    pub id: CheckId,
    pub name: &'static str,
    /// The rule, in the contract's words (printed as `rule:` and in the reports).
    pub statement: &'static str,
    /// Part of `--profile braze`: Braze documents it.
    pub braze: bool,
    /// What it needs to run at all, besides the defaults.
    pub needs: Needs,
    /// The class of defect it belongs to.
    pub class: Class,
    /// The rule behind it: the contract's section, or the RFC's.
    pub rule: &'static str,
    pub judge: Judge,
}

#[rustfmt::skip]
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo { id: CheckId::AnswersEveryRequest, name: "answers_every_request", statement: "Every request gets an HTTP response within --timeout", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "RFC 9110 §15 (every request gets a response)", judge: Judge::Runner },
    CheckInfo { id: CheckId::StatusIsDocumented, name: "status_is_documented", statement: "The status is one the OpenAPI document lists for POST /sends/id/create", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "openapi/sends.json", judge: Judge::Exchange(status_is_documented) },
    CheckInfo { id: CheckId::ContentTypeIsJson, name: "content_type_is_json", statement: "Every response body is JSON with Content-Type: application/json (404, 405, 413, 415 included)", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "contract §1 Responses", judge: Judge::Exchange(content_type_is_json) },
    CheckInfo { id: CheckId::BodyMatchesSchema, name: "body_matches_schema", statement: "The body validates against the document's schema for its status", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "openapi/sends.json", judge: Judge::Exchange(body_matches_schema) },
    CheckInfo { id: CheckId::DocumentedHeadersPresentAndTyped, name: "documented_headers_present_and_typed", statement: "Headers the document requires are present, and documented headers have its type", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "openapi/sends.json", judge: Judge::Exchange(documented_headers_present_and_typed) },
    CheckInfo { id: CheckId::ErrorBodyHasMessage, name: "error_body_has_message", statement: "Every error is {\"message\": <reason>}, optionally with \"errors\": [...]", braze: false, needs: Needs::Nothing, class: Class::Responses, rule: "contract §1 Responses", judge: Judge::Exchange(error_body_has_message) },
    CheckInfo { id: CheckId::ResponseNeverShowsTheKey, name: "response_never_shows_the_key", statement: "No response shows the API key", braze: true, needs: Needs::Nothing, class: Class::Hygiene, rule: "contract §1 Responses (never the API key)", judge: Judge::Exchange(response_never_shows_the_key) },
    CheckInfo { id: CheckId::NoServerError, name: "no_server_error", statement: "No client input ever produces a 5xx", braze: false, needs: Needs::Nothing, class: Class::Responses, rule: "contract §1 Responses", judge: Judge::Exchange(no_server_error) },
    CheckInfo { id: CheckId::WrongMethodIs405WithAllow, name: "wrong_method_is_405_with_allow", statement: "Known path, other method → 405 with Allow: POST", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "contract §1 step 1; RFC 9110 §15.5.6", judge: Judge::Exchange(wrong_method_is_405_with_allow) },
    CheckInfo { id: CheckId::UnknownPathIs404, name: "unknown_path_is_404", statement: "Unknown path → 404", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "contract §1 step 1", judge: Judge::Exchange(unknown_path_is_404) },
    CheckInfo { id: CheckId::BadKeyIs401, name: "bad_key_is_401", statement: "Missing Authorization, another scheme than Bearer, an unknown key → 401", braze: true, needs: Needs::Nothing, class: Class::Auth, rule: "contract §1 step 2", judge: Judge::Exchange(bad_key_is_401) },
    CheckInfo { id: CheckId::ForbiddenKeyIs403, name: "forbidden_key_is_403", statement: "A key without sends.id.create → 403 (after authentication, before the body)", braze: false, needs: Needs::ForbiddenKey, class: Class::Auth, rule: "contract §1 step 3", judge: Judge::Exchange(forbidden_key_is_403) },
    CheckInfo { id: CheckId::InvalidRequestIsRefused, name: "invalid_request_is_refused", statement: "An invalid request is never answered 2xx", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 step 4", judge: Judge::Exchange(invalid_request_is_refused) },
    CheckInfo { id: CheckId::InvalidRequestGetsItsStatus, name: "invalid_request_gets_its_status", statement: "Over 64 KiB → 413; Content-Type not JSON → 415; bad JSON, not an object, a bad field → 400", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 step 4", judge: Judge::Exchange(invalid_request_gets_its_status) },
    CheckInfo { id: CheckId::ErrorNamesTheField, name: "error_names_the_field", statement: "A 400 for a bad field has a message that names the field", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 step 4", judge: Judge::Exchange(error_names_the_field) },
    CheckInfo { id: CheckId::UnknownCampaignIs400, name: "unknown_campaign_is_400", statement: "campaign_id not of the key's workspace → 400, message `Invalid campaign_id`", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 step 5", judge: Judge::Exchange(unknown_campaign_is_400) },
    CheckInfo { id: CheckId::InvalidRequestSpendsNothing, name: "invalid_request_spends_nothing", statement: "Requests that are refused spend no quota", braze: false, needs: Needs::Nothing, class: Class::Quota, rule: "contract §1 Daily quota (only new pairs count)", judge: Judge::Exchange(invalid_request_spends_nothing) },
    CheckInfo { id: CheckId::RateLimitHeadersOnPermittedRequests, name: "rate_limit_headers_on_permitted_requests", statement: "From step 4 on, every response carries X-RateLimit-Limit, -Remaining and -Reset", braze: false, needs: Needs::Nothing, class: Class::RateLimitHeaders, rule: "contract §1 Daily quota and rate-limit headers", judge: Judge::Exchange(rate_limit_headers_on_permitted_requests) },
    CheckInfo { id: CheckId::RemainingWithinLimit, name: "remaining_within_limit", statement: "0 ≤ X-RateLimit-Remaining ≤ X-RateLimit-Limit", braze: false, needs: Needs::Nothing, class: Class::RateLimitHeaders, rule: "contract §1 Daily quota and rate-limit headers", judge: Judge::Exchange(remaining_within_limit) },
    CheckInfo { id: CheckId::ResetIsNextUtcMidnight, name: "reset_is_next_utc_midnight", statement: "X-RateLimit-Reset is the Unix time of the next 00:00 UTC: in the future, within a day", braze: false, needs: Needs::Nothing, class: Class::RateLimitHeaders, rule: "contract §1 Daily quota and rate-limit headers", judge: Judge::Exchange(reset_is_next_utc_midnight) },
    CheckInfo { id: CheckId::MessageIsSuccess, name: "message_is_success", statement: "200 answers {\"message\": \"success\", ...}", braze: true, needs: Needs::Nothing, class: Class::Responses, rule: "contract §1 Responses", judge: Judge::Exchange(message_is_success) },
    CheckInfo { id: CheckId::SendIdIsEchoed, name: "send_id_is_echoed", statement: "200 answers the send_id that was given", braze: true, needs: Needs::Nothing, class: Class::Pairs, rule: "contract §1 Responses", judge: Judge::Exchange(send_id_is_echoed) },
    CheckInfo { id: CheckId::SendIdIsPrintableAscii, name: "send_id_is_printable_ascii", statement: "A send_id is ASCII and at most 64 characters (sendid: 1–64, printable)", braze: true, needs: Needs::Nothing, class: Class::Pairs, rule: "contract §1 Request", judge: Judge::Exchange(send_id_is_printable_ascii) },
    CheckInfo { id: CheckId::GeneratedIdIsUnique, name: "generated_id_is_unique", statement: "A generated send_id is unique", braze: false, needs: Needs::Nothing, class: Class::GeneratedIds, rule: "contract §1 (generated send_id)", judge: Judge::Exchange(generated_id_is_unique) },
    CheckInfo { id: CheckId::RepeatReturnsPairAndSpendsNothing, name: "repeat_returns_pair_and_spends_nothing", statement: "An existing pair → 200 with that send_id; no quota is used", braze: false, needs: Needs::Nothing, class: Class::Pairs, rule: "contract §1 step 6", judge: Judge::Exchange(repeat_returns_pair_and_spends_nothing) },
    CheckInfo { id: CheckId::NewPairSpendsExactlyOne, name: "new_pair_spends_exactly_one", statement: "Creating a new pair lowers X-RateLimit-Remaining by exactly 1", braze: false, needs: Needs::Nothing, class: Class::Quota, rule: "contract §1 Daily quota", judge: Judge::Exchange(new_pair_spends_exactly_one) },
    CheckInfo { id: CheckId::NewPairOverQuotaIs429, name: "new_pair_over_quota_is_429", statement: "A new pair gets 429 exactly when the day's quota is used up", braze: true, needs: Needs::Exhaust, class: Class::Quota, rule: "contract §1 step 7", judge: Judge::Exchange(new_pair_over_quota_is_429) },
    CheckInfo { id: CheckId::OverQuotaAnswerHasRetryAfter, name: "over_quota_answer_has_retry_after", statement: "429 carries the rate-limit headers, Remaining 0, and Retry-After: seconds until the reset", braze: false, needs: Needs::Exhaust, class: Class::Quota, rule: "contract §1 Daily quota; RFC 9110 §10.2.3", judge: Judge::Exchange(over_quota_answer_has_retry_after) },
    CheckInfo { id: CheckId::ExistingPairOkOverQuota, name: "existing_pair_ok_over_quota", statement: "An existing pair still gets 200 when today's quota is used up", braze: false, needs: Needs::Exhaust, class: Class::Quota, rule: "contract §1 step 6", judge: Judge::Exchange(existing_pair_ok_over_quota) },
    CheckInfo { id: CheckId::ValidNewPairIsAccepted, name: "valid_new_pair_is_accepted", statement: "A valid new pair (send_id 1–64 printable ASCII: spaces, ~ ! \" \\ / included) gets 200 while quota is left", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 Request, step 8", judge: Judge::Exchange(valid_new_pair_is_accepted) },
    CheckInfo { id: CheckId::JsonMediaTypeVariantsAccepted, name: "json_media_type_variants_accepted", statement: "Content-Type application/json with parameters or in another letter case is JSON (accepted)", braze: false, needs: Needs::Nothing, class: Class::Validation, rule: "contract §1 Request; RFC 9110 §8.3.1", judge: Judge::Exchange(json_media_type_variants_accepted) },
    CheckInfo { id: CheckId::CaseVariantIsANewPair, name: "case_variant_is_a_new_pair", statement: "send_id is case-sensitive: a case variant of an existing send_id is a new pair (200, echoed as sent, one unit)", braze: false, needs: Needs::Nothing, class: Class::Pairs, rule: "contract §1 steps 6–8", judge: Judge::Exchange(case_variant_is_a_new_pair) },
    CheckInfo { id: CheckId::BurstSamePair, name: "burst_same_pair_created_once", statement: "K simultaneous requests for one new pair: all 200 with the same send_id, and Remaining drops by exactly 1", braze: false, needs: Needs::Nothing, class: Class::Races, rule: "contract §1 Daily quota (simultaneous requests for one new pair)", judge: Judge::Run },
    CheckInfo { id: CheckId::BurstNewPairs, name: "burst_creates_exactly_min_n_r", statement: "N simultaneous new pairs with R left: exactly min(N, R) answered 200, the rest 429 with Retry-After, Remaining ends at max(0, R − N)", braze: false, needs: Needs::Nothing, class: Class::Races, rule: "contract §1 Daily quota (exactly min(N, R))", judge: Judge::Run },
    CheckInfo { id: CheckId::BurstIdsDistinct, name: "burst_send_ids_distinct", statement: "The send_ids generated for simultaneous new pairs are all distinct", braze: false, needs: Needs::Nothing, class: Class::GeneratedIds, rule: "contract §1 (generated send_id), Daily quota (under any concurrency)", judge: Judge::Run },
    CheckInfo { id: CheckId::BurstPairsStored, name: "burst_pairs_are_stored", statement: "Every pair a burst answered 200 exists afterwards: its repeat answers that send_id and spends nothing", braze: false, needs: Needs::Nothing, class: Class::Races, rule: "contract §1 Durability, Daily quota", judge: Judge::Run },
    CheckInfo { id: CheckId::BurstRepeatsOverQuota, name: "burst_repeats_ok_over_quota", statement: "Simultaneous repeats of an existing pair while the quota is used up: all 200 with that send_id", braze: false, needs: Needs::Exhaust, class: Class::Races, rule: "contract §1 step 6, Daily quota", judge: Judge::Run },
    CheckInfo { id: CheckId::PairPerCampaign, name: "pair_is_per_campaign", statement: "A pair is (campaign_id, send_id): the same send_id under another campaign is a new pair (200, echoed, one unit)", braze: true, needs: Needs::TwoCampaigns, class: Class::Pairs, rule: "contract §1 steps 6–8", judge: Judge::Run },
    CheckInfo { id: CheckId::QuotaPerWorkspace, name: "quota_is_per_workspace", statement: "The quota is per workspace: Remaining agrees across its campaigns, and what one spends is gone for the others", braze: true, needs: Needs::TwoCampaigns, class: Class::Quota, rule: "contract §1 Daily quota", judge: Judge::Run },
    CheckInfo { id: CheckId::QuotaSpentForEveryCampaign, name: "exhausted_quota_applies_to_every_campaign", statement: "With the quota used up through one campaign, a new pair in another campaign gets 429", braze: true, needs: Needs::TwoCampaignsAndExhaust, class: Class::Quota, rule: "contract §1 Daily quota", judge: Judge::Run },
    CheckInfo { id: CheckId::ModelAgrees, name: "stateful_model_agrees", statement: "Over random sequences (new, generated, repeat, invalid, other campaign, burst) every status and Remaining is what a model of the contract predicts", braze: false, needs: Needs::Nothing, class: Class::Quota, rule: "contract §1 steps 6–8, Daily quota", judge: Judge::Run },
    CheckInfo { id: CheckId::NoInternalsShown, name: "no_internals_shown", statement: "No answer shows a stack trace, a source path, panic text, an internal exception's name, an error page, or a key of the run (also in part or encoded)", braze: false, needs: Needs::Nothing, class: Class::Hygiene, rule: "contract §1 Responses (no stack traces, never the API key)", judge: Judge::Exchange(no_internals_shown) },
    CheckInfo { id: CheckId::OtherMethodIs405, name: "other_method_is_405", statement: "Every other method on the path (GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, an unknown token) → 405 with Allow listing POST and a JSON {\"message\"} (HEAD: no body); OPTIONS, if 2xx, carries Allow", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "contract §1 step 1; RFC 9110 §9.3.2, §9.3.7, §15.5.6", judge: Judge::Run },
    CheckInfo { id: CheckId::AllowMatchesServer, name: "allow_lists_what_the_server_accepts", statement: "Each method an Allow lists, other than POST, is not itself answered 405", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "RFC 9110 §10.2.1", judge: Judge::Run },
    CheckInfo { id: CheckId::HeadHasNoBody, name: "head_answer_has_no_body", statement: "An answer to HEAD carries no body", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "RFC 9110 §9.3.2", judge: Judge::Run },
    CheckInfo { id: CheckId::FramingAgrees, name: "message_framing_agrees", statement: "Content-Length agrees with the body; never both Content-Length and Transfer-Encoding; no body where the status has none", braze: false, needs: Needs::Nothing, class: Class::HttpMethods, rule: "RFC 9110 §8.6; RFC 9112 §6.1, §6.3", judge: Judge::Run },
    CheckInfo { id: CheckId::EquivalentSameAnswer, name: "equivalent_request_same_answer", statement: "The same request written another valid way (escapes, whitespace, key order, unknown fields, media-type parameters and case, the Bearer scheme's case, header-name case, a chunked body, send_id null) gets the same status and send_id", braze: false, needs: Needs::Nothing, class: Class::Equivalent, rule: "RFC 8259 §2, §4, §7; RFC 9110 §5.1, §5.6.6, §8.3.1, §11.1; RFC 9112 §7.1; contract §1 Request", judge: Judge::Run },
    CheckInfo { id: CheckId::EquivalentSameQuota, name: "equivalent_request_same_quota_effect", statement: "The same request written another valid way spends what it spends written plainly (a repeat, a refused request: nothing)", braze: false, needs: Needs::Nothing, class: Class::Equivalent, rule: "contract §1 Daily quota (only new pairs count)", judge: Judge::Run },
    CheckInfo { id: CheckId::HostileBodyHandled, name: "hostile_body_never_fails", statement: "Deep nesting, near-limit strings, huge numbers, invalid UTF-8, a BOM, NUL bytes, empty or truncated bodies, non-objects: never a 5xx, every error JSON {\"message\"}", braze: false, needs: Needs::Nothing, class: Class::Parser, rule: "contract §1 Responses; RFC 8259 §8.1, §9", judge: Judge::Run },
    CheckInfo { id: CheckId::HostileBodyStatus, name: "hostile_body_gets_its_status", statement: "A hostile body gets the status of the order of decisions: 413 over 64 KiB, 400 otherwise; a valid one (hostile only in an unknown field) the repeat it is, or 400", braze: false, needs: Needs::Nothing, class: Class::Parser, rule: "contract §1 step 4; RFC 8259 §9", judge: Judge::Run },
    CheckInfo { id: CheckId::GeneratedIdsRandom, name: "generated_ids_without_structure", statement: "Generated send_ids have room for 96 random bits and no structure: no shared prefix or suffix, no counter or clock, not in order (false-alarm rate < 1e-6)", braze: false, needs: Needs::Nothing, class: Class::GeneratedIds, rule: "contract §1 (generated send_id: ≥ 96 bits of randomness)", judge: Judge::Run },
];

impl CheckId {
    pub fn info(self) -> &'static CheckInfo {
        // The table is in the order of the enum (a unit test holds it to that).
        &CHECKS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The rule, in the contract's words.
    pub fn statement(self) -> &'static str {
        self.info().statement
    }

    /// Its class of defect.
    pub fn class(self) -> Class {
        self.info().class
    }

    /// Part of this profile.
    pub fn runs_under(self, profile: Profile) -> bool {
        profile == Profile::Strict || self.info().braze
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// In the reports a check is its name.
impl serde::Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// For callers that hold names (tests, the reports' readers): `check == "bad_key_is_401"`.
impl PartialEq<&str> for CheckId {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// The checks of a profile, in registry order.
pub fn checks_for(profile: Profile) -> impl Iterator<Item = &'static CheckInfo> {
    CHECKS.iter().filter(move |c| c.id.runs_under(profile))
}

/// What a check needs besides the defaults, to run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    TwoCampaigns,
    Exhaust,
    TwoCampaignsAndExhaust,
    /// `--forbidden-api-key`.
    ForbiddenKey,
}

/// What a run has, that some checks and properties need.
#[derive(Debug, Clone, Copy, Default)]
pub struct Have {
    pub campaigns: usize,
    pub exhaust: bool,
    pub forbidden_key: bool,
}

impl Needs {
    /// Why the check cannot run with these flags, and the flag that enables it.
    pub fn unmet(self, have: Have) -> Option<&'static str> {
        let two = have.campaigns >= 2;
        let exhaust = have.exhaust;
        match self {
            Needs::Nothing => None,
            Needs::ForbiddenKey if !have.forbidden_key => Some(
                "give --forbidden-api-key (or SENDID_FORBIDDEN_API_KEY): a valid key of the \
                 workspace without sends.id.create",
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_ids_and_names_are_unique() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert_eq!(c.id as usize, i, "{}", c.name);
        }
        let names: std::collections::HashSet<_> = CHECKS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CHECKS.len());
    }

    #[test]
    fn checks_that_need_flags_say_which() {
        let have = |campaigns, exhaust, forbidden_key| Have {
            campaigns,
            exhaust,
            forbidden_key,
        };
        assert_eq!(Needs::Nothing.unmet(have(1, false, false)), None);
        assert!(Needs::TwoCampaigns
            .unmet(have(1, true, true))
            .is_some_and(|w| w.contains("--campaign-id")));
        assert_eq!(Needs::TwoCampaigns.unmet(have(2, false, false)), None);
        assert!(Needs::Exhaust
            .unmet(have(2, false, true))
            .is_some_and(|w| w.contains("--exhaust-quota")));
        assert_eq!(
            Needs::TwoCampaignsAndExhaust.unmet(have(2, true, false)),
            None
        );
        assert!(Needs::ForbiddenKey
            .unmet(have(2, true, false))
            .is_some_and(|w| w.contains("--forbidden-api-key")));
        assert_eq!(Needs::ForbiddenKey.unmet(have(1, false, true)), None);
    }
}
