//! A small in-memory implementation of the contract with one chosen defect: the checker must
//! name the defect (exit 1), and find nothing when there is none (exit 0). The two races are
//! real read-modify-write windows (read, sleep, write), not flags the checker could see.
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, Body, EndpointExt, Request, Response, Route};
use serde_json::{json, Value};

pub const API_KEY: &str = "broken-server-key-0123456789";
pub const FORBIDDEN_KEY: &str = "broken-server-forbidden-key-0123";
pub const CAMPAIGN: &str = "campaign-1";
pub const CAMPAIGN_2: &str = "Campaign-Two";
const MAX_BODY: usize = 64 * 1024;
/// The read-modify-write window of the racy defects.
const WINDOW: Duration = Duration::from_millis(80);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    None,
    // Shapes
    SuccessWithoutMessage,
    ErrorAsPlainText,
    ValidationIs422,
    // Auth
    MissingAuthAccepted,
    ForbiddenIs401,
    // Validation
    LongSendIdAccepted,
    EmptyBodyIs500,
    OversizeIs400,
    // Semantics
    SendIdNotEchoed,
    UnknownCampaignAccepted,
    MethodWithoutAllow,
    GeneratedIdRepeats,
    GeneratedIdTooLong,
    // Quota
    RepeatSpendsQuota,
    NewPairSpendsTwo,
    RefusedRequestSpends,
    QuotaNeverEnforced,
    NoRetryAfter,
    // Headers
    RemainingOverLimit,
    ResetInPast,
    RemainingNotInteger,
    NoRateLimitHeadersOn400,
    // Concurrency (real read-modify-write windows)
    /// The quota is read, then (after a wait) written back plus one: a burst overspends.
    QuotaCheckThenAct,
    /// The pair is looked up, then (after a wait) inserted: a burst of one pair spends per request.
    PairInsertNotAtomic,
    /// Generated ids from a counter read, then (after a wait) written: a burst repeats ids.
    IdCounterNotAtomic,
    /// With the quota used up, a repeat that meets another request in flight gets 429.
    RepeatsThrottledUnderLoad,
    // Campaigns
    /// Pairs keyed by send_id alone (per workspace).
    PairKeyedPerWorkspace,
    /// A quota per campaign instead of per workspace.
    QuotaPerCampaign,
    CampaignIdCaseFolded,
    CampaignIdTrimmed,
    // Edges
    SendIdCaseFolded,
    /// Refuses a send_id of 64 characters (off by one).
    SendIdMax63,
    SpaceRefused,
    TildeRefused,
    SpacesTrimmed,
    /// A JSON array is taken as its first element.
    ArrayAsFirstElement,
    /// A send_id of another JSON type is turned into a string.
    SendIdCoerced,
    /// DEL (0x7F) is taken as printable.
    DelAccepted,
    /// Only exactly `application/json` is JSON.
    MediaTypeExact,
    // Secrets
    /// A 401 names the key it refused.
    KeyEchoedIn401,
    // State
    /// Only the 3 latest pairs are remembered.
    PairCacheEvicts,
    // Issue 18
    /// Pairs are acknowledged, then written back after a wait; a write that met another one in
    /// flight is lost (a burst of new pairs answers 200 and stores only some).
    BurstDropsPairs,
    /// Generated send_ids from a clock of 100 ms: pairs generated at the same moment collide.
    GeneratedIdsCoarseClock,
    /// `"send_id": null` taken as the send_id "null".
    NullAsValue,
    /// A send_id that exists in another campaign is acknowledged (200, one unit) but not stored
    /// for this one.
    SecondCampaignPairNotStored,
    // Issue 24: one per class of defect
    /// OPTIONS answered 204 without `Allow` (HTTP method semantics).
    OptionsWithoutAllow,
    /// `Authorization: bearer <key>` refused: the scheme compared with its case (equivalent
    /// requests; RFC 9110 §11.1).
    BearerSchemeCaseSensitive,
    /// A number beyond a double's range anywhere in the body answers 500 (parser robustness).
    HugeNumberIs500,
    /// A 404 carries the Java exception and stack frame of the router (error hygiene).
    StackTraceIn404,
    /// Generated send_ids: the clock in milliseconds, then 64 random bits (generated-id
    /// quality: time-ordered, and 64 bits).
    TimeOrderedIds,
    /// The workspace's quota is read, then written back after a wait, under a lock per campaign:
    /// simultaneous new pairs in two campaigns lose an update (races on the workspace scope).
    QuotaLockPerCampaign,
}

struct State {
    defect: Defect,
    quota: u64,
    /// Used today, per quota key (the workspace, or with QuotaPerCampaign each campaign).
    used: Mutex<HashMap<String, u64>>,
    /// Pairs by key, in creation order.
    pairs: Mutex<VecDeque<((String, String), String)>>,
    counter: AtomicU64,
    in_flight: AtomicUsize,
    /// Steps 6 to 8 one request at a time, but for the racy defects.
    serial: tokio::sync::Mutex<()>,
    /// QuotaLockPerCampaign: the second campaign's lock.
    serial_2: tokio::sync::Mutex<()>,
    /// Every request received, for the tests that count them.
    received: Arc<AtomicU64>,
    /// BurstDropsPairs: acknowledged pairs not written back yet, and write-backs started.
    pending: Mutex<Vec<((String, String), String)>>,
    writes_started: AtomicU64,
}

impl State {
    fn quota_key(&self, campaign: &str) -> String {
        if self.defect == Defect::QuotaPerCampaign {
            campaign.to_string()
        } else {
            String::new()
        }
    }

    fn used(&self, campaign: &str) -> u64 {
        let key = self.quota_key(campaign);
        self.used
            .lock()
            .expect("lock")
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    fn add_used(&self, campaign: &str, n: u64) {
        let key = self.quota_key(campaign);
        *self.used.lock().expect("lock").entry(key).or_default() += n;
    }

    fn set_used(&self, campaign: &str, n: u64) {
        let key = self.quota_key(campaign);
        self.used.lock().expect("lock").insert(key, n);
    }

    /// The key a pair is stored under (the defects decide).
    fn pair_key(&self, campaign: &str, send_id: &str) -> (String, String) {
        let campaign = if self.defect == Defect::PairKeyedPerWorkspace {
            String::new()
        } else {
            campaign.to_string()
        };
        let send_id = if self.defect == Defect::SendIdCaseFolded {
            send_id.to_ascii_lowercase()
        } else {
            send_id.to_string()
        };
        (campaign, send_id)
    }

    /// The stored send_id of a pair, if the server finds it.
    fn find(&self, key: &(String, String)) -> Option<String> {
        let pairs = self.pairs.lock().expect("lock");
        let visible = if self.defect == Defect::PairCacheEvicts {
            pairs.len().saturating_sub(3)
        } else {
            0
        };
        let found = pairs
            .iter()
            .skip(visible)
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.clone());
        found.or_else(|| {
            self.pending
                .lock()
                .expect("lock")
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, id)| id.clone())
        })
    }

    fn insert(&self, key: (String, String), id: String) {
        self.pairs.lock().expect("lock").push_back((key, id));
    }
}

pub struct BrokenServer {
    pub address: String,
    /// Requests received so far.
    pub received: Arc<AtomicU64>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl BrokenServer {
    pub async fn spawn(defect: Defect, quota: u64) -> BrokenServer {
        let state = Arc::new(State {
            defect,
            quota,
            used: Mutex::new(HashMap::new()),
            pairs: Mutex::new(VecDeque::new()),
            counter: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            serial: tokio::sync::Mutex::new(()),
            serial_2: tokio::sync::Mutex::new(()),
            received: Arc::new(AtomicU64::new(0)),
            pending: Mutex::new(Vec::new()),
            writes_started: AtomicU64::new(0),
        });
        let received = Arc::clone(&state.received);
        let app = Route::new()
            .at("/sends/id/create", create)
            .at("/*rest", not_found)
            .data(state);
        let (address, tx) = crate::support::serve_on_loopback(app).await;
        BrokenServer {
            address,
            received,
            _shutdown: tx,
        }
    }

    /// Both campaigns and the forbidden key.
    pub fn args(&self) -> Vec<String> {
        let mut a = self.one_campaign_args();
        a.extend(["--campaign-id".to_string(), CAMPAIGN_2.to_string()]);
        a
    }

    pub fn one_campaign_args(&self) -> Vec<String> {
        let mut a = super::support::args(&self.address, API_KEY, CAMPAIGN);
        a.extend(["--forbidden-api-key".to_string(), FORBIDDEN_KEY.to_string()]);
        a
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

fn error(state: &State, status: u16, message: &str) -> Response {
    let status = if state.defect == Defect::ValidationIs422 && status == 400 {
        422
    } else {
        status
    };
    if state.defect == Defect::ErrorAsPlainText && status == 400 {
        return Response::builder()
            .status(StatusCode::from_u16(status).expect("status"))
            .content_type("text/plain")
            .body(message.to_string());
    }
    json_response(status, json!({ "message": message }))
}

#[handler]
async fn not_found(Data(state): Data<&Arc<State>>) -> Response {
    state.received.fetch_add(1, Ordering::SeqCst);
    if state.defect == Defect::StackTraceIn404 {
        return json_response(
            404,
            json!({"message": "Not found", "detail": "com.example.sends.RouteNotFoundException: no route\n\tat com.example.sends.Router.route(Router.java:88)"}),
        );
    }
    json_response(404, json!({"message": "Not found"}))
}

fn next_midnight(now: u64) -> u64 {
    (now / 86_400 + 1) * 86_400
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Adds the rate-limit headers (step 4 on), for the quota of `campaign`.
fn with_quota(state: &State, campaign: &str, mut resp: Response) -> Response {
    if state.defect == Defect::NoRateLimitHeadersOn400 && resp.status() == StatusCode::BAD_REQUEST {
        return resp;
    }
    let remaining = state.quota.saturating_sub(state.used(campaign));
    let remaining = match state.defect {
        Defect::RemainingOverLimit => (state.quota + 1).to_string(),
        Defect::RemainingNotInteger => format!("{remaining}.5"),
        _ => remaining.to_string(),
    };
    let reset = if state.defect == Defect::ResetInPast {
        now() - 3600
    } else {
        next_midnight(now())
    };
    let h = resp.headers_mut();
    h.insert("X-RateLimit-Limit", state.quota.into());
    h.insert("X-RateLimit-Remaining", remaining.parse().expect("header"));
    h.insert("X-RateLimit-Reset", reset.into());
    resp
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[handler]
async fn create(req: &Request, body: Body, Data(state): Data<&Arc<State>>) -> Response {
    let state = state.as_ref();
    state.received.fetch_add(1, Ordering::SeqCst);
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(&state.in_flight);
    if req.method() == poem::http::Method::OPTIONS && state.defect == Defect::OptionsWithoutAllow {
        return Response::builder().status(StatusCode::NO_CONTENT).finish();
    }
    if req.method() != poem::http::Method::POST {
        let mut resp = json_response(405, json!({"message": "Method not allowed"}));
        if state.defect != Defect::MethodWithoutAllow {
            resp.headers_mut()
                .insert("Allow", "POST".parse().expect("header"));
        }
        return resp;
    }
    // 2. Authentication, 3. authorization.
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let key = match auth {
        None if state.defect == Defect::MissingAuthAccepted => API_KEY,
        None => return error(state, 401, "Missing API key"),
        Some(v) => match v.split_once(' ') {
            // RFC 9110 §11.1: the scheme is case-insensitive; 1*SP before the credentials.
            Some((scheme, k))
                if scheme.eq_ignore_ascii_case("Bearer")
                    && (state.defect != Defect::BearerSchemeCaseSensitive
                        || scheme == "Bearer") =>
            {
                k.trim_start_matches(' ')
            }
            _ => return error(state, 401, "Use Authorization: Bearer <key>"),
        },
    };
    if key == FORBIDDEN_KEY {
        let status = if state.defect == Defect::ForbiddenIs401 {
            401
        } else {
            403
        };
        return error(state, status, "The key lacks sends.id.create");
    }
    if key != API_KEY {
        if state.defect == Defect::KeyEchoedIn401 {
            return error(state, 401, &format!("Invalid API key {key}"));
        }
        return error(state, 401, "Invalid API key");
    }
    let (resp, campaign) = decide(state, req, body).await;
    with_quota(state, campaign.as_deref().unwrap_or(CAMPAIGN), resp)
}

fn known_campaign(state: &State, campaign: &str) -> Option<&'static str> {
    let campaign = if state.defect == Defect::CampaignIdTrimmed {
        campaign.trim()
    } else {
        campaign
    };
    [CAMPAIGN, CAMPAIGN_2].into_iter().find(|c| {
        if state.defect == Defect::CampaignIdCaseFolded {
            c.eq_ignore_ascii_case(campaign)
        } else {
            *c == campaign
        }
    })
}

/// Steps 4 to 8, for a permitted key; with the campaign whose quota the headers show.
async fn decide(state: &State, req: &Request, body: Body) -> (Response, Option<String>) {
    let Ok(bytes) = body.into_bytes().await else {
        return (error(state, 400, "Cannot read the body"), None);
    };
    if bytes.len() > MAX_BODY {
        let status = if state.defect == Defect::OversizeIs400 {
            400
        } else {
            413
        };
        return (error(state, status, "Request body is too large"), None);
    }
    if state.defect == Defect::RefusedRequestSpends {
        // Every request with a body under the limit spends, refused or not.
        state.add_used(CAMPAIGN, 1);
    }
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    let json_ct = if state.defect == Defect::MediaTypeExact {
        ct == "application/json"
    } else {
        essence.eq_ignore_ascii_case("application/json")
    };
    if !json_ct {
        return (
            error(state, 415, "Content-Type must be application/json"),
            None,
        );
    }
    if bytes.is_empty() && state.defect == Defect::EmptyBodyIs500 {
        return (
            json_response(500, json!({"message": "internal error"})),
            None,
        );
    }
    let mut value = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => v,
        Err(e)
            if state.defect == Defect::HugeNumberIs500
                && e.to_string().contains("number out of range") =>
        {
            return (
                json_response(500, json!({"message": "internal error"})),
                None,
            );
        }
        Err(_) => return (error(state, 400, "The body is not valid JSON"), None),
    };
    if state.defect == Defect::ArrayAsFirstElement {
        if let Some(first) = value.as_array().and_then(|a| a.first()).cloned() {
            value = first;
        }
    }
    let Some(obj) = value.as_object() else {
        return (error(state, 400, "The body must be a JSON object"), None);
    };
    let campaign = match obj.get("campaign_id") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => {
            return (
                error(state, 400, "campaign_id must be a non-empty string"),
                None,
            )
        }
    };
    let send_id = match obj.get("send_id") {
        Some(Value::Null) if state.defect == Defect::NullAsValue => Some("null".to_string()),
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let max = if state.defect == Defect::LongSendIdAccepted {
                usize::MAX
            } else if state.defect == Defect::SendIdMax63 {
                63
            } else {
                64
            };
            let last = if state.defect == Defect::DelAccepted {
                0x7f
            } else {
                0x7e
            };
            let printable = s.bytes().all(|b| (0x20..=last).contains(&b));
            let refused = (state.defect == Defect::SpaceRefused && s.contains(' '))
                || (state.defect == Defect::TildeRefused && s.contains('~'));
            if s.is_empty() || s.len() > max || !printable || refused {
                return (
                    error(
                        state,
                        400,
                        "send_id must be 1 to 64 printable ASCII characters",
                    ),
                    None,
                );
            }
            if state.defect == Defect::SpacesTrimmed {
                Some(s.trim().to_string())
            } else {
                Some(s.clone())
            }
        }
        Some(other) if state.defect == Defect::SendIdCoerced => Some(other.to_string()),
        Some(_) => return (error(state, 400, "send_id must be a string"), None),
    };
    let Some(campaign) = known_campaign(state, &campaign) else {
        if state.defect == Defect::UnknownCampaignAccepted {
            return (new_pair(state, &campaign, send_id).await, None);
        }
        return (error(state, 400, "Invalid campaign_id"), None);
    };
    let resp = new_pair(state, campaign, send_id).await;
    (resp, Some(campaign.to_string()))
}

fn too_many(state: &State) -> Response {
    let mut resp = error(
        state,
        429,
        "The daily quota of new send identifiers is used up",
    );
    if state.defect != Defect::NoRetryAfter {
        let retry = next_midnight(now()) - now();
        resp.headers_mut().insert("Retry-After", retry.into());
    }
    resp
}

/// Steps 6 to 8.
async fn new_pair(state: &State, campaign: &str, send_id: Option<String>) -> Response {
    let racy = matches!(
        state.defect,
        Defect::QuotaCheckThenAct
            | Defect::PairInsertNotAtomic
            | Defect::IdCounterNotAtomic
            | Defect::RepeatsThrottledUnderLoad
    );
    if state.defect == Defect::QuotaLockPerCampaign {
        return per_campaign_lock(state, campaign, send_id).await;
    }
    let _serial = if racy {
        None
    } else {
        Some(state.serial.lock().await)
    };
    if let Some(id) = &send_id {
        let key = state.pair_key(campaign, id);
        if let Some(stored) = state.find(&key) {
            if state.defect == Defect::RepeatSpendsQuota {
                state.add_used(campaign, 1);
            }
            if state.defect == Defect::RepeatsThrottledUnderLoad
                && state.used(campaign) >= state.quota
            {
                // A limiter that counts requests in flight once the quota is gone.
                tokio::time::sleep(WINDOW).await;
                if state.in_flight.load(Ordering::SeqCst) > 1 {
                    return too_many(state);
                }
            }
            return success(state, &stored, send_id.as_deref());
        }
        if state.defect == Defect::PairInsertNotAtomic {
            // Looked up above; inserted after a wait, without looking again.
            tokio::time::sleep(WINDOW).await;
            if state.used(campaign) >= state.quota {
                return too_many(state);
            }
            state.insert(key, id.clone());
            state.add_used(campaign, 1);
            return success(state, id, send_id.as_deref());
        }
    }
    if state.defect == Defect::QuotaCheckThenAct {
        // Read, wait, write back: simultaneous requests all see the same count.
        let used = state.used(campaign);
        tokio::time::sleep(WINDOW).await;
        if used >= state.quota {
            return too_many(state);
        }
        let id = match send_id.clone() {
            Some(id) => id,
            None => generate(state).await,
        };
        state.insert(state.pair_key(campaign, &id), id.clone());
        state.set_used(campaign, used + 1);
        return success(state, &id, send_id.as_deref());
    }
    if state.used(campaign) >= state.quota && state.defect != Defect::QuotaNeverEnforced {
        return too_many(state);
    }
    let id = match send_id.clone() {
        Some(id) => id,
        None => generate(state).await,
    };
    if state.defect == Defect::BurstDropsPairs {
        state.add_used(campaign, 1);
        let key = state.pair_key(campaign, &id);
        state
            .pending
            .lock()
            .expect("lock")
            .push((key.clone(), id.clone()));
        drop(_serial);
        // Written back after a wait; a write-back that another one started during is lost.
        let mine = state.writes_started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let lost = state.writes_started.load(Ordering::SeqCst) != mine + 1
            || state.in_flight.load(Ordering::SeqCst) > 1;
        state
            .pending
            .lock()
            .expect("lock")
            .retain(|(k, _)| *k != key);
        if !lost {
            state.insert(key, id.clone());
        }
        return success(state, &id, send_id.as_deref());
    }
    let elsewhere = state
        .pairs
        .lock()
        .expect("lock")
        .iter()
        .any(|((c, s), _)| c != campaign && *s == id);
    if state.defect == Defect::SecondCampaignPairNotStored && elsewhere {
        state.add_used(campaign, 1);
        return success(state, &id, send_id.as_deref());
    }
    state.insert(state.pair_key(campaign, &id), id.clone());
    state.add_used(
        campaign,
        if state.defect == Defect::NewPairSpendsTwo {
            2
        } else {
            1
        },
    );
    success(state, &id, send_id.as_deref())
}

/// Steps 6 to 8 under a lock of the campaign's own: the workspace's count is read, then
/// written back after a wait.
async fn per_campaign_lock(state: &State, campaign: &str, send_id: Option<String>) -> Response {
    let lock = if campaign == CAMPAIGN_2 {
        &state.serial_2
    } else {
        &state.serial
    };
    let _held = lock.lock().await;
    if let Some(id) = &send_id {
        if let Some(stored) = state.find(&state.pair_key(campaign, id)) {
            return success(state, &stored, send_id.as_deref());
        }
    }
    let used = state.used(campaign);
    if used >= state.quota {
        return too_many(state);
    }
    let id = match send_id.clone() {
        Some(id) => id,
        None => generate(state).await,
    };
    tokio::time::sleep(WINDOW).await;
    state.insert(state.pair_key(campaign, &id), id.clone());
    state.set_used(campaign, used + 1);
    success(state, &id, send_id.as_deref())
}

/// 64 random bits: SipHash under the standard library's random keys (fresh for each call).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

async fn generate(state: &State) -> String {
    if state.defect == Defect::IdCounterNotAtomic {
        let n = state.counter.load(Ordering::SeqCst);
        tokio::time::sleep(WINDOW).await;
        state.counter.store(n + 1, Ordering::SeqCst);
        return format!("gen-{n:016x}");
    }
    let n = state.counter.fetch_add(1, Ordering::SeqCst);
    match state.defect {
        Defect::GeneratedIdRepeats => "generated".to_string(),
        Defect::GeneratedIdsCoarseClock => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis();
            format!("gen-{:x}", ms / 100)
        }
        Defect::GeneratedIdTooLong => format!("{n:0>80}"),
        Defect::TimeOrderedIds => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis();
            format!("{ms:012x}{:016x}", random_u64())
        }
        // 128 random bits in 32 hex digits (sendid's own: a v4 UUID in 32 hex digits).
        _ => format!("{:016x}{:016x}", random_u64(), random_u64()),
    }
}

fn success(state: &State, id: &str, given: Option<&str>) -> Response {
    let id = match (state.defect, given) {
        (Defect::SendIdNotEchoed, Some(_)) => format!("not-{id}"),
        _ => id.to_string(),
    };
    let body = if state.defect == Defect::SuccessWithoutMessage {
        json!({ "send_id": id })
    } else {
        json!({ "message": "success", "send_id": id })
    };
    json_response(200, body)
}
