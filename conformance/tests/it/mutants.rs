//! Mutants: a reverse proxy in front of a real sendid, each mutant one small defect written as a
//! rewrite of the request before it is forwarded and/or of the answer before it is returned. The
//! checker must fail (exit 1) against every mutant and pass against the unmutated proxy.
//!
//! KNOWN MISSES — exit 0 against the mutant. Kept in `MUTANTS` as `Miss` (measured and printed,
//! not asserted); flip one to `Catch` when the checker learns its class (the run prints "flip"
//! for a `Miss` that is caught). Of the 13 misses measured with confclass f2798d1, 11 are now
//! caught (ok_body_is_exact, other_method_is_405 with OPTIONS in strict, near_miss_path_is_404,
//! equivalent_request_same_answer with a query string, a browser's Accept and `Bearer  <key>`,
//! no_internals_shown with dotted exception names, invalid_request_gets_its_status without
//! Content-Type, forbidden_key_is_403 with bodies the body step refuses,
//! single_valued_headers_once). Left:
//! - LimitPlusOne: `X-RateLimit-Limit` one over the quota — black-box it reads as one unit used
//!   before the run; only a quota given to the checker (or read from the sandbox) can catch it.
//! - SendIdTrimmed: `" a"` stored as `"a"` (the echo kept) — padded_variant_is_a_new_pair sends
//!   a space-padded variant of the edge group's send_id, but only with a unit for it: the edge
//!   groups' third unit (a budget of 13 or more) or, free, at the quota's end under
//!   `--exhaust-quota` (its row in Exhaust is a Catch); at `--max-creates 10` every unit goes to
//!   a property's minimum.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use poem::http::header::{HeaderName, HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use poem::http::{HeaderMap, Method, StatusCode};
use poem::{Body, Request, Response};
use sendid_conformance::Exit;
use serde_json::{json, Value};

use crate::support::{check, failed_checks, serve_on_loopback, Sendid};

/// Whether the current checker is expected to catch a mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Catch,
    /// A known miss: measured, printed, not asserted.
    Miss,
}

/// The run a mutant is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Quota 100, `--max-creates 10`.
    Roomy,
    /// Quota 8, `--exhaust-quota`: the mutant is about the quota's end.
    Exhaust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    None,
    // Rate-limit headers
    ResetHourOff,
    ResetInMillis,
    LimitPlusOne,
    RemainingPlusOne,
    RemainingConstant,
    RateHeadersMissingOn400,
    RateHeadersMissingOn429,
    RetryAfterHttpDate,
    RetryAfterZero,
    // Statuses
    Status201OnCreate,
    UnknownKeyIs403,
    QuotaIs503,
    Status413Is400,
    Status415Is400,
    RepeatAfterExhaustionIs429,
    // Response shape and media type
    TextPlainOn413,
    NoContentTypeOn200,
    MessageCapitalised,
    ExtraFieldOn200,
    ErrorsNotArray,
    EmptyObjectOn401,
    BomInResponse,
    FieldNotNamed,
    // Unknown paths and methods
    UnknownPathIs200Html,
    UnknownPathHtml404,
    UnknownPathIs405,
    NoAllowOn405,
    AllowGetPostOn405,
    HeadIs200,
    OptionsIs204,
    TrailingSlashServed,
    PathCaseFolded,
    QueryIs404,
    // Error hygiene
    KeyEchoedIn400,
    StackTraceIn400,
    ExceptionNameIn400,
    // Parser robustness
    DeepNestingIs500,
    BomIs500,
    InvalidUtf8Is500,
    NulByteIs500,
    HugeNumberIs500,
    LongBodyIs500,
    BlankBodyIs500,
    // Equivalent requests
    EscapesRefused,
    WhitespaceRefused,
    KeyOrderRefused,
    CharsetRefused,
    MediaTypeCaseRefused,
    LowercaseBearerRefused,
    UnknownFieldRefused,
    NullSendIdRefused,
    // Validation and authentication let through
    AnySchemeAccepted,
    TextPlainAccepted,
    MissingContentTypeAccepted,
    ForbiddenKeyAccepted,
    EmptySendIdGenerates,
    LongSendIdTruncated,
    ControlCharsAccepted,
    NonAsciiAccepted,
    // Pairs and campaigns
    SendIdCaseFolded,
    SendIdTrimmed,
    CampaignCaseFolded,
    CampaignsCollapsed,
    CampaignsCollapsedUnderRace,
    ConcurrentDuplicateDiffers,
    // Quota
    RepeatSpendsQuota,
    QuotaOneEarly,
    QuotaOneLate,
    // Generated ids
    GeneratedSequential,
    GeneratedTimeBased,
    GeneratedShort,
    GeneratedLowEntropy,
    // Beyond the brief's list
    DoubleSpaceBearerRefused,
    AcceptHtmlAnswersHtml,
    InvalidCampaignMessage,
    OversizeBeforeAuth,
    MediaTypeBeforeAuth,
    ValidationBeforePermission,
    QuotaBeforeCampaign,
    RemainingNonZeroOn429,
    RetryAfterPastReset,
    PlainText429,
    DuplicateRemainingHeader,
    TrailingGarbageAccepted,
    SendIdNumberCoerced,
    MessageNullOn400,
    PanicTextIn400,
    SourcePathIn400,
    ForbiddenKeyEchoedIn403,
    KeyInHeader,
}

use Expect::*;
use Mode::*;

/// (mutant, class, run, expectation)
const MUTANTS: &[(M, &str, Mode, Expect)] = &[
    (M::ResetHourOff, "rate-limit headers", Roomy, Catch),
    (M::ResetInMillis, "rate-limit headers", Roomy, Catch),
    (M::LimitPlusOne, "rate-limit headers", Roomy, Miss),
    (M::RemainingPlusOne, "rate-limit headers", Roomy, Catch),
    (M::RemainingConstant, "rate-limit headers", Roomy, Catch),
    (
        M::RateHeadersMissingOn400,
        "rate-limit headers",
        Roomy,
        Catch,
    ),
    (
        M::RateHeadersMissingOn429,
        "rate-limit headers",
        Exhaust,
        Catch,
    ),
    (M::RetryAfterHttpDate, "rate-limit headers", Exhaust, Catch),
    (M::RetryAfterZero, "rate-limit headers", Exhaust, Catch),
    (M::Status201OnCreate, "status", Roomy, Catch),
    (M::UnknownKeyIs403, "status", Roomy, Catch),
    (M::QuotaIs503, "status", Exhaust, Catch),
    (M::Status413Is400, "status", Roomy, Catch),
    (M::Status415Is400, "status", Roomy, Catch),
    (M::RepeatAfterExhaustionIs429, "quota", Exhaust, Catch),
    (M::TextPlainOn413, "media type", Roomy, Catch),
    (M::NoContentTypeOn200, "media type", Roomy, Catch),
    (M::MessageCapitalised, "response shape", Roomy, Catch),
    (M::ExtraFieldOn200, "response shape", Roomy, Catch),
    (M::ErrorsNotArray, "response shape", Roomy, Catch),
    (M::EmptyObjectOn401, "response shape", Roomy, Catch),
    (
        M::BomInResponse,
        "response shape (RFC 8259 §8.1)",
        Roomy,
        Catch,
    ),
    (M::FieldNotNamed, "response shape", Roomy, Catch),
    (M::UnknownPathIs200Html, "paths", Roomy, Catch),
    (M::UnknownPathHtml404, "paths", Roomy, Catch),
    (M::UnknownPathIs405, "paths", Roomy, Catch),
    (M::NoAllowOn405, "HTTP methods", Roomy, Catch),
    (M::AllowGetPostOn405, "HTTP methods", Roomy, Catch),
    (M::HeadIs200, "HTTP methods", Roomy, Catch),
    (M::OptionsIs204, "HTTP methods", Roomy, Catch),
    (M::TrailingSlashServed, "paths", Roomy, Catch),
    (M::PathCaseFolded, "paths", Roomy, Catch),
    (M::QueryIs404, "paths (RFC 9110 §4.2)", Roomy, Catch),
    (M::KeyEchoedIn400, "error hygiene", Roomy, Catch),
    (M::StackTraceIn400, "error hygiene", Roomy, Catch),
    (M::ExceptionNameIn400, "error hygiene", Roomy, Catch),
    (M::DeepNestingIs500, "parser robustness", Roomy, Catch),
    (M::BomIs500, "parser robustness", Roomy, Catch),
    (M::InvalidUtf8Is500, "parser robustness", Roomy, Catch),
    (M::NulByteIs500, "parser robustness", Roomy, Catch),
    (M::HugeNumberIs500, "parser robustness", Roomy, Catch),
    (M::LongBodyIs500, "parser robustness", Roomy, Catch),
    (M::BlankBodyIs500, "parser robustness", Roomy, Catch),
    (M::EscapesRefused, "equivalent requests", Roomy, Catch),
    (M::WhitespaceRefused, "equivalent requests", Roomy, Catch),
    (M::KeyOrderRefused, "equivalent requests", Roomy, Catch),
    (M::CharsetRefused, "equivalent requests", Roomy, Catch),
    (
        M::MediaTypeCaseRefused,
        "equivalent requests (RFC 9110 §8.3.1)",
        Roomy,
        Catch,
    ),
    (
        M::LowercaseBearerRefused,
        "equivalent requests (RFC 9110 §11.1)",
        Roomy,
        Catch,
    ),
    (M::UnknownFieldRefused, "equivalent requests", Roomy, Catch),
    (M::NullSendIdRefused, "equivalent requests", Roomy, Catch),
    (M::AnySchemeAccepted, "authentication", Roomy, Catch),
    (M::TextPlainAccepted, "validation", Roomy, Catch),
    (M::MissingContentTypeAccepted, "validation", Roomy, Catch),
    (M::ForbiddenKeyAccepted, "authorization", Roomy, Catch),
    (M::EmptySendIdGenerates, "validation", Roomy, Catch),
    (M::LongSendIdTruncated, "validation", Roomy, Catch),
    (M::ControlCharsAccepted, "validation", Roomy, Catch),
    (M::NonAsciiAccepted, "validation", Roomy, Catch),
    (M::SendIdCaseFolded, "pairs", Roomy, Catch),
    (M::SendIdTrimmed, "pairs", Roomy, Miss),
    // Free at the quota's end (429 expected); at --max-creates 10 no unit is left for it.
    (M::SendIdTrimmed, "pairs", Exhaust, Catch),
    (M::CampaignCaseFolded, "campaigns", Roomy, Catch),
    (M::CampaignsCollapsed, "campaigns", Roomy, Catch),
    (M::CampaignsCollapsedUnderRace, "races", Roomy, Catch),
    (M::ConcurrentDuplicateDiffers, "races", Roomy, Catch),
    (M::RepeatSpendsQuota, "quota", Roomy, Catch),
    (M::QuotaOneEarly, "quota", Exhaust, Catch),
    (M::QuotaOneLate, "quota", Exhaust, Catch),
    (M::GeneratedSequential, "generated ids", Roomy, Catch),
    (M::GeneratedTimeBased, "generated ids", Roomy, Catch),
    (M::GeneratedShort, "generated ids", Roomy, Catch),
    (M::GeneratedLowEntropy, "generated ids", Roomy, Catch),
    (
        M::DoubleSpaceBearerRefused,
        "equivalent requests (RFC 9110 §11.4)",
        Roomy,
        Catch,
    ),
    (M::AcceptHtmlAnswersHtml, "media type", Roomy, Catch),
    (M::InvalidCampaignMessage, "response shape", Roomy, Catch),
    (M::OversizeBeforeAuth, "order of decisions", Roomy, Catch),
    (M::MediaTypeBeforeAuth, "order of decisions", Roomy, Catch),
    (
        M::ValidationBeforePermission,
        "order of decisions",
        Roomy,
        Catch,
    ),
    (M::QuotaBeforeCampaign, "order of decisions", Exhaust, Catch),
    (
        M::RemainingNonZeroOn429,
        "rate-limit headers",
        Exhaust,
        Catch,
    ),
    (M::RetryAfterPastReset, "rate-limit headers", Exhaust, Catch),
    (M::PlainText429, "media type", Exhaust, Catch),
    (
        M::DuplicateRemainingHeader,
        "rate-limit headers (RFC 9110 §5.3)",
        Roomy,
        Catch,
    ),
    (
        M::TrailingGarbageAccepted,
        "validation (RFC 8259 §2)",
        Roomy,
        Catch,
    ),
    (M::SendIdNumberCoerced, "validation", Roomy, Catch),
    (M::MessageNullOn400, "response shape", Roomy, Catch),
    (M::PanicTextIn400, "error hygiene", Roomy, Catch),
    (M::SourcePathIn400, "error hygiene", Roomy, Catch),
    (M::ForbiddenKeyEchoedIn403, "error hygiene", Roomy, Catch),
    (M::KeyInHeader, "error hygiene", Roomy, Catch),
];

const CREATE: &str = "/sends/id/create";

/// One request or answer as the proxy sees it.
struct Msg {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

struct Ans {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Ans {
    fn json(status: StatusCode, body: Value) -> Ans {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ans {
            status,
            headers,
            body: body.to_string().into_bytes(),
        }
    }
    fn value(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    fn set_value(&mut self, v: &Value) {
        self.body = v.to_string().into_bytes();
    }
    fn header_u64(&self, name: &str) -> Option<u64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }
    fn set_header(&mut self, name: &'static str, value: String) {
        self.headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header"),
        );
    }
    fn edit_message(&mut self, f: impl FnOnce(&str) -> String) {
        if let Some(mut v) = self.value() {
            let m = v["message"].as_str().unwrap_or("").to_string();
            v["message"] = json!(f(&m));
            self.set_value(&v);
        }
    }
}

/// What `pre` learnt about a request that `post` needs.
#[derive(Default)]
struct Ctx {
    /// The send_id to echo instead of the one the server answered.
    echo: Option<String>,
    /// (campaign, send_id) of a valid create with an explicit send_id.
    pair: Option<(String, String)>,
    /// A valid create (key, media type, campaign), explicit send_id or generated.
    valid: bool,
    generated: bool,
    /// Another request for the same pair was in flight when this one came.
    concurrent: bool,
    racing_send_id: Option<String>,
}

#[derive(Default)]
struct St {
    pairs: HashSet<(String, String)>,
    real_of: HashMap<String, String>,
    fake_of: HashMap<String, String>,
    seq: u64,
    inflight: HashMap<(String, String), usize>,
    inflight_send_id: HashMap<String, Vec<String>>,
    last_remaining: Option<u64>,
    last_reset: Option<u64>,
    phantom: HashSet<(String, String)>,
    late_used: bool,
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    m: M,
    key: String,
    forbidden: String,
    campaigns: Vec<String>,
    st: Mutex<St>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::new();
    while s.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now());
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(n);
    s
}

fn max_depth(body: &[u8]) -> usize {
    let (mut d, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in body {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl Proxy {
    fn auth(m: &Msg) -> &str {
        m.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn content_type(m: &Msg) -> Option<&str> {
        m.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    fn is_create(m: &Msg) -> bool {
        m.method == Method::POST && m.path == CREATE
    }

    fn json(m: &Msg) -> Option<Value> {
        serde_json::from_slice(&m.body).ok()
    }

    /// Re-serialises the body, except over the limit: a body the server refuses unread stays as
    /// it came (re-serialising would decode its escapes and shrink it under the limit).
    fn set_json(m: &mut Msg, v: &Value) {
        if m.body.len() <= 64 * 1024 {
            m.body = v.to_string().into_bytes();
        }
    }

    fn edit_send_id(m: &mut Msg, f: impl FnOnce(&str) -> Option<String>) -> Option<String> {
        let mut v = Self::json(m)?;
        let s = v.get("send_id")?.as_str()?.to_string();
        let new = f(&s)?;
        v["send_id"] = json!(new);
        Self::set_json(m, &v);
        Some(s)
    }

    /// A create the server would answer 200 or 429: the run's key, JSON, a known campaign, a
    /// valid or absent send_id.
    fn classify(&self, m: &Msg, ctx: &mut Ctx) {
        if !Self::is_create(m) || Self::auth(m) != format!("Bearer {}", self.key) {
            return;
        }
        if !Self::content_type(m).is_some_and(|c| c.starts_with("application/json")) {
            return;
        }
        let Some(v) = Self::json(m) else { return };
        let Some(c) = v.get("campaign_id").and_then(Value::as_str) else {
            return;
        };
        if !self.campaigns.iter().any(|k| k == c) {
            return;
        }
        match v.get("send_id") {
            None | Some(Value::Null) => {
                ctx.valid = true;
                ctx.generated = true;
            }
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= 64
                    && s.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                ctx.valid = true;
                ctx.pair = Some((c.to_string(), s.clone()));
            }
            _ => {}
        }
    }

    /// Rewrites the request, or answers it without forwarding.
    fn pre(&self, m: &mut Msg, ctx: &mut Ctx) -> Option<Ans> {
        let err = |s: u16, msg: &str| {
            Some(Ans::json(
                StatusCode::from_u16(s).unwrap(),
                json!({ "message": msg }),
            ))
        };
        let st = self.st.lock().unwrap();
        // Generated-id mutants: a fake id sent back is the server's real one.
        if let Some(real) = Self::json(m)
            .and_then(|v| v.get("send_id")?.as_str().map(str::to_string))
            .and_then(|s| st.real_of.get(&s).cloned().map(|r| (s, r)))
        {
            let (fake, real) = real;
            Self::edit_send_id(m, |_| Some(real));
            ctx.echo = Some(fake);
        }
        drop(st);
        self.classify(m, ctx);
        let mut st = self.st.lock().unwrap();
        let create = Self::is_create(m);
        let ct = Self::content_type(m).unwrap_or("").to_string();
        let auth = Self::auth(m).to_string();
        match self.m {
            M::DoubleSpaceBearerRefused if auth.starts_with("Bearer  ") => {
                return err(401, "Unauthorized")
            }
            M::OversizeBeforeAuth if create && m.body.len() > 64 * 1024 => {
                return err(413, "Payload Too Large")
            }
            M::MediaTypeBeforeAuth if create && !ct.contains("json") => {
                return err(415, "Unsupported Media Type")
            }
            M::ValidationBeforePermission
                if create
                    && auth == format!("Bearer {}", self.forbidden)
                    && !Self::json(m).is_some_and(|v| v.is_object()) =>
            {
                return err(400, "body: not a JSON object")
            }
            M::QuotaBeforeCampaign if create && st.last_remaining == Some(0) => {
                let known = Self::json(m)
                    .and_then(|v| v.get("campaign_id")?.as_str().map(str::to_string))
                    .is_some_and(|c| self.campaigns.contains(&c));
                if auth == format!("Bearer {}", self.key) && !known {
                    let reset = st.last_reset.unwrap_or(now());
                    let mut a = Ans::json(
                        StatusCode::TOO_MANY_REQUESTS,
                        json!({"message": "Daily quota exceeded"}),
                    );
                    a.set_header("x-ratelimit-limit", "8".into());
                    a.set_header("x-ratelimit-remaining", "0".into());
                    a.set_header("x-ratelimit-reset", reset.to_string());
                    a.set_header("retry-after", reset.saturating_sub(now()).to_string());
                    return Some(a);
                }
            }
            M::TrailingGarbageAccepted if create => {
                let mut it = serde_json::Deserializer::from_slice(&m.body).into_iter::<Value>();
                if let Some(Ok(first)) = it.next() {
                    if it.byte_offset() < m.body.len()
                        && !m.body[it.byte_offset()..]
                            .iter()
                            .all(u8::is_ascii_whitespace)
                    {
                        Self::set_json(m, &first);
                    }
                }
            }
            M::SendIdNumberCoerced if create => {
                if let Some(mut v) = Self::json(m) {
                    if let Some(n) = v.get("send_id").filter(|n| n.is_number()).cloned() {
                        v["send_id"] = json!(n.to_string());
                        Self::set_json(m, &v);
                        ctx.echo = None;
                    }
                }
            }
            M::HeadIs200 if m.method == Method::HEAD && m.path == CREATE => {
                let mut a = Ans::json(StatusCode::OK, json!({}));
                a.body.clear();
                return Some(a);
            }
            M::OptionsIs204 if m.method == Method::OPTIONS && m.path == CREATE => {
                let mut a = Ans::json(StatusCode::NO_CONTENT, json!({}));
                a.body.clear();
                a.headers.remove(CONTENT_TYPE);
                a.headers
                    .insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
                return Some(a);
            }
            M::TrailingSlashServed if m.path == "/sends/id/create/" => m.path = CREATE.into(),
            M::PathCaseFolded if m.path.eq_ignore_ascii_case(CREATE) => m.path = CREATE.into(),
            M::QueryIs404 if m.path.starts_with("/sends/id/create?") => {
                return err(404, "Not Found")
            }
            M::DeepNestingIs500 if create && max_depth(&m.body) > 32 => {
                return err(500, "Internal Server Error")
            }
            M::BomIs500 if create && m.body.starts_with(b"\xEF\xBB\xBF") => {
                return err(500, "Internal Server Error")
            }
            M::InvalidUtf8Is500 if create && std::str::from_utf8(&m.body).is_err() => {
                return err(500, "Internal Server Error")
            }
            M::NulByteIs500 if create && m.body.contains(&0) => {
                return err(500, "Internal Server Error")
            }
            M::HugeNumberIs500 if create => {
                let mut run = 0;
                if m.body.iter().any(|b| {
                    run = if b.is_ascii_digit() { run + 1 } else { 0 };
                    run >= 20
                }) {
                    return err(500, "Internal Server Error");
                }
            }
            M::LongBodyIs500 if create && (16 * 1024..=64 * 1024).contains(&m.body.len()) => {
                return err(500, "Internal Server Error")
            }
            M::BlankBodyIs500 if create && m.body.iter().all(u8::is_ascii_whitespace) => {
                return err(500, "Internal Server Error")
            }
            M::EscapesRefused if create && m.body.windows(2).any(|w| w == b"\\u") => {
                return err(400, "Invalid JSON body")
            }
            M::WhitespaceRefused
                if create && m.body.iter().any(|b| matches!(b, b'\n' | b'\t' | b'\r')) =>
            {
                return err(400, "Invalid JSON body")
            }
            M::KeyOrderRefused if create => {
                let s = String::from_utf8_lossy(&m.body);
                if let (Some(a), Some(b)) = (s.find("\"send_id\""), s.find("\"campaign_id\"")) {
                    if a < b {
                        return err(400, "Invalid campaign_id: expected first");
                    }
                }
            }
            M::CharsetRefused if create && ct.contains(';') => {
                return err(415, "Unsupported Media Type")
            }
            M::MediaTypeCaseRefused
                if create
                    && !ct.starts_with("application/json")
                    && ct.to_ascii_lowercase().starts_with("application/json") =>
            {
                return err(415, "Unsupported Media Type")
            }
            M::LowercaseBearerRefused
                if !auth.starts_with("Bearer ")
                    && auth.to_ascii_lowercase().starts_with("bearer ") =>
            {
                return err(401, "Unauthorized")
            }
            M::UnknownFieldRefused if create => {
                if let Some(Value::Object(o)) = Self::json(m) {
                    if o.keys().any(|k| k != "campaign_id" && k != "send_id") {
                        return err(400, "Unknown field");
                    }
                }
            }
            M::NullSendIdRefused
                if create
                    && Self::json(m).is_some_and(|v| v.get("send_id") == Some(&Value::Null)) =>
            {
                return err(400, "send_id must be a string");
            }
            M::AnySchemeAccepted => {
                if let Some((scheme, rest)) = auth.split_once(' ') {
                    if !scheme.eq_ignore_ascii_case("bearer") {
                        m.headers.insert(
                            "authorization",
                            HeaderValue::from_str(&format!("Bearer {rest}")).unwrap(),
                        );
                    }
                }
            }
            M::TextPlainAccepted if create && !ct.is_empty() && !ct.contains("json") => {
                m.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            M::MissingContentTypeAccepted if create && ct.is_empty() => {
                m.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            M::ForbiddenKeyAccepted if auth == format!("Bearer {}", self.forbidden) => {
                let k = HeaderValue::from_str(&format!("Bearer {}", self.key)).unwrap();
                m.headers.insert("authorization", k);
            }
            M::EmptySendIdGenerates if create => {
                if let Some(mut v) = Self::json(m) {
                    if v.get("send_id") == Some(&json!("")) {
                        v.as_object_mut().unwrap().remove("send_id");
                        Self::set_json(m, &v);
                    }
                }
            }
            M::LongSendIdTruncated if create => {
                ctx.echo =
                    Self::edit_send_id(m, |s| (s.len() > 64).then(|| s.chars().take(64).collect()));
            }
            M::ControlCharsAccepted if create => {
                ctx.echo = Self::edit_send_id(m, |s| {
                    s.chars().any(|c| c.is_ascii_control()).then(|| {
                        s.chars()
                            .map(|c| if c.is_ascii_control() { '_' } else { c })
                            .collect()
                    })
                });
            }
            M::NonAsciiAccepted if create => {
                ctx.echo = Self::edit_send_id(m, |s| {
                    (!s.is_ascii()).then(|| {
                        s.chars()
                            .map(|c| if c.is_ascii() { c } else { '?' })
                            .collect()
                    })
                });
            }
            M::SendIdCaseFolded if create => {
                ctx.echo = Self::edit_send_id(m, |s| {
                    (s.to_ascii_lowercase() != s).then(|| s.to_ascii_lowercase())
                });
            }
            M::SendIdTrimmed if create => {
                ctx.echo = Self::edit_send_id(m, |s| {
                    (s.trim() != s && !s.trim().is_empty()).then(|| s.trim().to_string())
                });
            }
            M::CampaignCaseFolded | M::CampaignsCollapsed if create => {
                if let Some(mut v) = Self::json(m) {
                    if let Some(c) = v.get("campaign_id").and_then(Value::as_str) {
                        let to = if self.m == M::CampaignsCollapsed {
                            (c == self.campaigns[1]).then(|| self.campaigns[0].clone())
                        } else {
                            self.campaigns
                                .iter()
                                .find(|k| k.eq_ignore_ascii_case(c) && *k != c)
                                .cloned()
                        };
                        if let Some(to) = to {
                            v["campaign_id"] = json!(to);
                            Self::set_json(m, &v);
                        }
                    }
                }
            }
            M::QuotaOneEarly if ctx.valid && st.last_remaining == Some(1) => {
                let new = ctx.generated || ctx.pair.as_ref().is_some_and(|p| !st.pairs.contains(p));
                if new {
                    let reset = st.last_reset.unwrap_or(now());
                    let mut a = Ans::json(
                        StatusCode::TOO_MANY_REQUESTS,
                        json!({"message": "Daily quota exceeded"}),
                    );
                    a.set_header("x-ratelimit-limit", "8".into());
                    a.set_header("x-ratelimit-remaining", "0".into());
                    a.set_header("x-ratelimit-reset", reset.to_string());
                    a.set_header("retry-after", reset.saturating_sub(now()).to_string());
                    return Some(a);
                }
            }
            _ => {}
        }
        if let Some(p) = ctx.pair.clone() {
            let n = st.inflight.entry(p.clone()).or_default();
            *n += 1;
            ctx.concurrent = *n > 1;
            let others = st.inflight_send_id.entry(p.1.clone()).or_default();
            if self.m == M::CampaignsCollapsedUnderRace {
                if let Some(other) = others.iter().find(|c| **c != p.0).cloned() {
                    if let Some(mut v) = Self::json(m) {
                        v["campaign_id"] = json!(other);
                        Self::set_json(m, &v);
                    }
                }
            }
            others.push(p.0.clone());
            ctx.racing_send_id = Some(p.1);
        }
        None
    }

    fn fake_id(&self, st: &mut St) -> String {
        st.seq += 1;
        match self.m {
            M::GeneratedSequential => format!("send-{:012}", st.seq),
            M::GeneratedTimeBased => {
                let t = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_micros();
                format!("{t:016x}{:04x}{}", st.seq, random_hex(8))
            }
            M::GeneratedShort => random_hex(8),
            // 16 bits: a binary string from four hex digits.
            _ => format!(
                "{:016b}",
                u16::from_str_radix(&random_hex(4), 16).unwrap_or(0)
            ),
        }
    }

    /// Rewrites the server's answer.
    async fn post(&self, req: &Msg, ctx: &Ctx, a: &mut Ans) {
        let ok = a.status == StatusCode::OK;
        let (was_known, remaining_before) = {
            let mut st = self.st.lock().unwrap();
            if let Some(p) = &ctx.pair {
                if let Some(n) = st.inflight.get_mut(p) {
                    *n -= 1;
                }
                if let Some(v) = st.inflight_send_id.get_mut(&p.1) {
                    if let Some(i) = v.iter().position(|c| *c == p.0) {
                        v.remove(i);
                    }
                }
            }
            let known = ctx.pair.as_ref().is_some_and(|p| st.pairs.contains(p));
            if ok {
                if let Some(p) = &ctx.pair {
                    st.pairs.insert(p.clone());
                }
            }
            let before = st.last_remaining;
            if let Some(r) = a.header_u64("x-ratelimit-remaining") {
                st.last_remaining = Some(r);
            }
            if let Some(r) = a.header_u64("x-ratelimit-reset") {
                st.last_reset = Some(r);
            }
            (known, before)
        };
        let _ = remaining_before;
        let status = a.status.as_u16();
        let has_rate = a.headers.contains_key("x-ratelimit-limit");
        let campaign_message = a
            .value()
            .is_some_and(|v| v["message"] == json!("Invalid campaign_id"));
        match self.m {
            M::ResetHourOff if has_rate => {
                let r = a.header_u64("x-ratelimit-reset").unwrap_or(0);
                a.set_header("x-ratelimit-reset", (r + 3600).to_string());
            }
            M::ResetInMillis if has_rate => {
                let r = a.header_u64("x-ratelimit-reset").unwrap_or(0);
                a.set_header("x-ratelimit-reset", (r * 1000).to_string());
            }
            M::LimitPlusOne if has_rate => {
                let r = a.header_u64("x-ratelimit-limit").unwrap_or(0);
                a.set_header("x-ratelimit-limit", (r + 1).to_string());
            }
            M::RemainingPlusOne if has_rate => {
                let r = a.header_u64("x-ratelimit-remaining").unwrap_or(0);
                a.set_header("x-ratelimit-remaining", (r + 1).to_string());
            }
            M::RemainingConstant if has_rate => {
                let r = a.header_u64("x-ratelimit-limit").unwrap_or(0);
                a.set_header("x-ratelimit-remaining", r.to_string());
            }
            M::RateHeadersMissingOn400 | M::RateHeadersMissingOn429
                if status
                    == if self.m == M::RateHeadersMissingOn400 {
                        400
                    } else {
                        429
                    } =>
            {
                for h in [
                    "x-ratelimit-limit",
                    "x-ratelimit-remaining",
                    "x-ratelimit-reset",
                ] {
                    a.headers.remove(h);
                }
            }
            M::RetryAfterHttpDate if status == 429 => {
                a.set_header("retry-after", "Wed, 02 Dec 2026 00:00:00 GMT".into());
            }
            M::RetryAfterZero if status == 429 => a.set_header("retry-after", "0".into()),
            M::Status201OnCreate if ok && ctx.valid && !was_known => a.status = StatusCode::CREATED,
            M::UnknownKeyIs403 if status == 401 && Self::auth(req).starts_with("Bearer ") => {
                a.status = StatusCode::FORBIDDEN
            }
            M::QuotaIs503 if status == 429 => {
                a.status = StatusCode::SERVICE_UNAVAILABLE;
                a.headers.remove(RETRY_AFTER);
            }
            M::Status413Is400 if status == 413 => a.status = StatusCode::BAD_REQUEST,
            M::Status415Is400 if status == 415 => a.status = StatusCode::BAD_REQUEST,
            M::RepeatAfterExhaustionIs429
                if ok && was_known && a.header_u64("x-ratelimit-remaining") == Some(0) =>
            {
                a.status = StatusCode::TOO_MANY_REQUESTS;
                a.set_value(&json!({"message": "Daily quota exceeded"}));
                let r = a.header_u64("x-ratelimit-reset").unwrap_or(0);
                a.set_header("retry-after", r.saturating_sub(now()).to_string());
            }
            M::TextPlainOn413 if status == 413 => {
                a.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            }
            M::NoContentTypeOn200 if ok => {
                a.headers.remove(CONTENT_TYPE);
            }
            M::MessageCapitalised if ok => a.edit_message(|_| "Success".into()),
            M::ExtraFieldOn200 if ok => {
                if let Some(mut v) = a.value() {
                    v["created"] = json!(!was_known);
                    a.set_value(&v);
                }
            }
            M::ErrorsNotArray if status == 400 => {
                if let Some(mut v) = a.value() {
                    v["errors"] = json!("send_id: invalid");
                    a.set_value(&v);
                }
            }
            M::EmptyObjectOn401 if status == 401 => a.set_value(&json!({})),
            M::BomInResponse => {
                let mut b = b"\xEF\xBB\xBF".to_vec();
                b.extend_from_slice(&a.body);
                a.body = b;
            }
            M::FieldNotNamed if status == 400 => a.edit_message(|_| "Bad Request".into()),
            M::UnknownPathIs200Html | M::UnknownPathHtml404 if status == 404 => {
                if self.m == M::UnknownPathIs200Html {
                    a.status = StatusCode::OK;
                }
                a.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                a.body = b"<html><body>Not Found</body></html>".to_vec();
            }
            M::UnknownPathIs405 if status == 404 => {
                a.status = StatusCode::METHOD_NOT_ALLOWED;
                a.headers.insert(ALLOW, HeaderValue::from_static("POST"));
                a.set_value(&json!({"message": "Method Not Allowed"}));
            }
            M::AcceptHtmlAnswersHtml
                if req
                    .headers
                    .get("accept")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html")) =>
            {
                a.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                let text = String::from_utf8_lossy(&a.body).to_string();
                a.body = format!("<html><body><pre>{text}</pre></body></html>").into_bytes();
            }
            M::InvalidCampaignMessage if status == 400 => a.edit_message(|m| {
                if m == "Invalid campaign_id" {
                    "Campaign not found".into()
                } else {
                    m.into()
                }
            }),
            M::RemainingNonZeroOn429 if status == 429 => {
                a.set_header("x-ratelimit-remaining", "1".into())
            }
            M::RetryAfterPastReset if status == 429 => {
                let r = a.header_u64("retry-after").unwrap_or(0);
                a.set_header("retry-after", (r + 3600).to_string());
            }
            M::PlainText429 if status == 429 => {
                a.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                a.body = b"Too Many Requests".to_vec();
            }
            M::DuplicateRemainingHeader if has_rate => {
                let r = a.header_u64("x-ratelimit-remaining").unwrap_or(0);
                a.headers.append(
                    "x-ratelimit-remaining",
                    HeaderValue::from_str(&(r + 5).to_string()).unwrap(),
                );
            }
            M::MessageNullOn400 if status == 400 => {
                if let Some(mut v) = a.value() {
                    v["message"] = Value::Null;
                    a.set_value(&v);
                }
            }
            M::NoAllowOn405 if status == 405 => {
                a.headers.remove(ALLOW);
            }
            M::AllowGetPostOn405 if status == 405 => {
                a.headers
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
            }
            // The hygiene mutants leave "Invalid campaign_id" alone, so that only the hygiene
            // checks can catch them.
            M::KeyEchoedIn400 if status == 400 && !campaign_message => {
                let k = self.key.clone();
                a.edit_message(|m| format!("{m} (key {k})"));
            }
            M::StackTraceIn400 if status == 400 => {
                if let Some(mut v) = a.value() {
                    v["detail"] = json!("   at sendid::api::create::handle (src/api/create.rs:88:5)\n   at tokio::runtime::task::harness::poll");
                    a.set_value(&v);
                }
            }
            M::ExceptionNameIn400 if status == 400 && !campaign_message => {
                a.edit_message(|m| format!("com.fasterxml.jackson.core.JsonParseException: {m}"))
            }
            M::PanicTextIn400 if status == 400 => {
                if let Some(mut v) = a.value() {
                    v["errors"] = json!(["thread 'tokio-runtime-worker' panicked at src/api/create.rs:41:9: called `Option::unwrap()` on a `None` value"]);
                    a.set_value(&v);
                }
            }
            M::SourcePathIn400 if status == 400 && !campaign_message => {
                a.edit_message(|m| format!("{m} (/home/build/sendid/src/api/create.rs:41)"))
            }
            M::ForbiddenKeyEchoedIn403 if status == 403 => {
                let k = self.forbidden.clone();
                a.edit_message(|m| format!("{m}: key {k} lacks sends.id.create"));
            }
            M::KeyInHeader if status == 400 => {
                a.set_header("x-debug-api-key", self.key.clone());
            }
            M::ConcurrentDuplicateDiffers if ok && ctx.concurrent => {
                if let Some(mut v) = a.value() {
                    let s = v["send_id"].as_str().unwrap_or("").to_string();
                    v["send_id"] = json!(format!("{}-2", &s[..s.len().min(62)]));
                    a.set_value(&v);
                }
            }
            M::RepeatSpendsQuota if ok && was_known => {
                let (c, _) = ctx.pair.clone().unwrap();
                let extra = Msg {
                    method: Method::POST,
                    path: CREATE.into(),
                    headers: req.headers.clone(),
                    body: json!({ "campaign_id": c }).to_string().into_bytes(),
                };
                if let Ok(x) = self.forward(&extra).await {
                    for h in ["x-ratelimit-remaining"] {
                        if let Some(v) = x.headers.get(h) {
                            a.headers.insert(h, v.clone());
                        }
                    }
                }
            }
            M::QuotaOneEarly if has_rate => {
                let r = a.header_u64("x-ratelimit-remaining").unwrap_or(0);
                a.set_header("x-ratelimit-remaining", r.saturating_sub(1).to_string());
            }
            M::QuotaOneLate if status == 429 && ctx.valid => {
                let mut st = self.st.lock().unwrap();
                let phantom = ctx.pair.as_ref().is_some_and(|p| st.phantom.contains(p));
                if phantom || !st.late_used {
                    st.late_used = true;
                    let id = match &ctx.pair {
                        Some(p) => {
                            st.phantom.insert(p.clone());
                            p.1.clone()
                        }
                        None => random_hex(32),
                    };
                    a.status = StatusCode::OK;
                    a.headers.remove(RETRY_AFTER);
                    a.set_value(&json!({"message": "success", "send_id": id}));
                }
            }
            M::GeneratedSequential
            | M::GeneratedTimeBased
            | M::GeneratedShort
            | M::GeneratedLowEntropy
                if ok && ctx.generated =>
            {
                if let Some(mut v) = a.value() {
                    let real = v["send_id"].as_str().unwrap_or("").to_string();
                    let mut st = self.st.lock().unwrap();
                    let fake = match st.fake_of.get(&real) {
                        Some(f) => f.clone(),
                        None => {
                            let f = self.fake_id(&mut st);
                            st.fake_of.insert(real.clone(), f.clone());
                            st.real_of.insert(f.clone(), real);
                            f
                        }
                    };
                    v["send_id"] = json!(fake);
                    a.set_value(&v);
                }
            }
            _ => {}
        }
        if let Some(echo) = &ctx.echo {
            if a.status == StatusCode::OK {
                if let Some(mut v) = a.value() {
                    v["send_id"] = json!(echo);
                    a.set_value(&v);
                }
            }
        }
    }

    async fn forward(&self, m: &Msg) -> reqwest::Result<Ans> {
        let mut headers = m.headers.clone();
        for h in ["host", "content-length", "transfer-encoding", "connection"] {
            headers.remove(h);
        }
        let r = self
            .client
            .request(m.method.clone(), format!("{}{}", self.upstream, m.path))
            .headers(headers)
            .body(m.body.clone())
            .send()
            .await?;
        let status = r.status();
        let mut headers = r.headers().clone();
        for h in ["content-length", "transfer-encoding", "connection"] {
            headers.remove(h);
        }
        let body = r.bytes().await?.to_vec();
        Ok(Ans {
            status,
            headers,
            body,
        })
    }

    async fn handle(&self, mut req: Request) -> Response {
        let body = req.take_body().into_vec().await.unwrap_or_default();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let mut m = Msg {
            method: req.method().clone(),
            path,
            headers: req.headers().clone(),
            body,
        };
        let mut ctx = Ctx::default();
        let original = Msg {
            method: m.method.clone(),
            path: m.path.clone(),
            headers: m.headers.clone(),
            body: m.body.clone(),
        };
        let answered = self.pre(&mut m, &mut ctx);
        // A rewrite that lengthens a body within the limit (a short fake id replaced by the
        // server's) must not push it over: the ignored unknown fields go instead.
        if m.body.len() > 64 * 1024 && original.body.len() <= 64 * 1024 {
            if let Some(Value::Object(mut o)) = Self::json(&m) {
                o.retain(|k, _| k == "campaign_id" || k == "send_id");
                m.body = Value::Object(o).to_string().into_bytes();
            }
        }
        let a = match answered {
            Some(a) => a,
            None => match self.forward(&m).await {
                Ok(mut a) => {
                    self.post(&original, &ctx, &mut a).await;
                    a
                }
                Err(e) => Ans::json(StatusCode::BAD_GATEWAY, json!({ "message": e.to_string() })),
            },
        };
        let mut r = Response::builder().status(a.status);
        for (k, v) in &a.headers {
            r = r.header(k, v);
        }
        r.body(Body::from(a.body))
    }
}

/// The verdict of one run of the checker against a mutant.
struct Measured {
    exit: Exit,
    failed: Vec<&'static str>,
}

async fn measure(m: M, mode: Mode, seed: &str) -> Measured {
    let quota = if mode == Exhaust { 8 } else { 100 };
    let app = Sendid::spawn(quota).await;
    let proxy = Arc::new(Proxy {
        upstream: app.address.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        m,
        key: app.api_key.clone(),
        forbidden: app.forbidden_api_key.clone(),
        campaigns: vec![app.campaign_id.clone(), app.campaign_id_2.clone()],
        st: Mutex::new(St::default()),
    });
    let ep = poem::endpoint::make(move |req: Request| {
        let p = proxy.clone();
        async move { p.handle(req).await }
    });
    let (address, _stop) = serve_on_loopback(ep).await;
    let mut args = crate::support::args(&address, &app.api_key, &app.campaign_id);
    args.extend([
        "--campaign-id".into(),
        app.campaign_id_2.clone(),
        "--forbidden-api-key".into(),
        app.forbidden_api_key.clone(),
        "--seed".into(),
        seed.into(),
    ]);
    let extra: &[&str] = match mode {
        Roomy => &["--max-creates", "10"],
        Exhaust => &["--exhaust-quota"],
    };
    let outcome = check(args, extra).await;
    Measured {
        exit: outcome.exit,
        failed: failed_checks(&outcome),
    }
}

/// Mutants measured at once: each has its own sendid and proxy, so they are independent; four
/// keep the run short without starving a small machine.
const AT_ONCE: usize = 4;

/// Every mutant of the table, one fresh sendid and proxy each, measured `AT_ONCE` at a time; a
/// table of verdicts printed in the table's order (whatever order they finish in), and every
/// `Catch` asserted caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_catches_each_mutant_of_a_real_sendid() {
    use futures_util::stream::{self, StreamExt};

    let started = std::time::Instant::now();
    let bases = futures_util::future::join_all(
        [Roomy, Exhaust].map(|mode| async move { (mode, measure(M::None, mode, "21").await) }),
    )
    .await;
    for (mode, base) in bases {
        assert_eq!(
            base.exit,
            Exit::Conformant,
            "the unmutated proxy ({mode:?}) is not conformant: {:?}",
            base.failed
        );
    }
    let only = std::env::var("MUTANT").ok();
    // MUTANT=A,B runs only those (for re-measuring a few).
    let chosen: Vec<_> = MUTANTS
        .iter()
        .copied()
        .filter(|(m, ..)| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == format!("{m:?}")))
        })
        .collect();
    // `buffered` yields in the order of the table: the printed table is deterministic.
    let measured: Vec<_> = stream::iter(chosen)
        .map(|(m, class, mode, expect)| async move {
            (m, class, mode, expect, measure(m, mode, "21").await)
        })
        .buffered(AT_ONCE)
        .collect()
        .await;
    let mut wrong = Vec::new();
    println!("{:<30} {:<40} {:<8} verdict", "mutant", "class", "run");
    for (m, class, mode, expect, r) in measured {
        let verdict = match r.exit {
            Exit::Violation => format!("caught by {}", r.failed.join(", ")),
            Exit::Conformant => "MISSED".to_string(),
            other => format!("ERROR exit {other:?}"),
        };
        println!(
            "{:<30} {:<40} {:<8} {verdict}",
            format!("{m:?}"),
            class,
            format!("{mode:?}")
        );
        let caught = r.exit == Exit::Violation;
        match (expect, caught) {
            (Catch, false) => wrong.push(format!("{m:?} was expected caught: {verdict}")),
            (Miss, true) => println!("  ^ a known miss is now caught: flip {m:?} to Catch"),
            _ => {}
        }
    }
    println!(
        "measured in {:.0} s, {AT_ONCE} at a time",
        started.elapsed().as_secs_f64()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}
