//! A Braze-like fake of `POST /sends/id/create`: it answers what Braze's documentation says it
//! may — 201 for a success, `{"message": "success", "send_id": …, "errors": []}`, the rate-limit
//! headers — and, on demand, the busy answers Braze says to retry: a 503 with `Retry-After`, and
//! a 429 that is not the send-ID quota (no rate-limit headers).
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, Body, EndpointExt, Request, Response, Route};
use serde_json::{json, Value};

pub const API_KEY: &str = "braze-fake-rest-key-0123456789";
pub const CAMPAIGN: &str = "braze-campaign-1";
const QUOTA: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Busy once each: the second request for a pair gets a 503 (`Retry-After: 1`), the third a
    /// 429 without the quota headers; everything else is answered.
    TransientBusy,
    /// Every request: 503 (busy or in maintenance).
    AlwaysUnavailable,
    /// Every request with a `send_id`: 503; the rest is answered.
    GivenIdsUnavailable,
}

struct State {
    mode: Mode,
    used: Mutex<u64>,
    pairs: Mutex<HashSet<(String, String)>>,
    /// Requests for a pair seen, and when the busy answers went out and their retries came in.
    permitted: Mutex<u64>,
    requests: Mutex<Vec<(Instant, u16)>>,
    counter: Mutex<u64>,
}

pub struct BrazeFake {
    pub address: String,
    state: Arc<State>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl BrazeFake {
    pub async fn spawn(mode: Mode) -> BrazeFake {
        let state = Arc::new(State {
            mode,
            used: Mutex::new(0),
            pairs: Mutex::new(HashSet::new()),
            permitted: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        });
        let app = Route::new()
            .at("/sends/id/create", create)
            .data(state.clone());
        let (address, tx) = crate::support::serve_on_loopback(app).await;
        BrazeFake {
            address,
            state,
            _shutdown: tx,
        }
    }

    pub fn args(&self) -> Vec<String> {
        super::support::args(&self.address, API_KEY, CAMPAIGN)
    }

    /// Every answer sent: when, and its status.
    pub fn answers(&self) -> Vec<(Instant, u16)> {
        self.state.requests.lock().expect("lock").clone()
    }
}

fn answer(state: &State, status: u16, body: Value, rate_limit: bool) -> Response {
    state
        .requests
        .lock()
        .expect("lock")
        .push((Instant::now(), status));
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .content_type("application/json")
        .body(body.to_string());
    if rate_limit {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let remaining = QUOTA.saturating_sub(*state.used.lock().expect("lock"));
        let h = resp.headers_mut();
        h.insert("X-RateLimit-Limit", QUOTA.into());
        h.insert("X-RateLimit-Remaining", remaining.into());
        h.insert("X-RateLimit-Reset", ((now / 86_400 + 1) * 86_400).into());
    }
    resp
}

#[handler]
async fn create(req: &Request, body: Body, Data(state): Data<&Arc<State>>) -> Response {
    let state = state.as_ref();
    if state.mode == Mode::AlwaysUnavailable {
        return answer(state, 503, json!({"message": "Service Unavailable"}), false);
    }
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(API_KEY) {
        return answer(state, 401, json!({"message": "Invalid API Key"}), false);
    }
    let body: Option<Value> = body
        .into_bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let campaign = body
        .as_ref()
        .and_then(|b| b.get("campaign_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let given = body
        .as_ref()
        .and_then(|b| b.get("send_id"))
        .is_some_and(Value::is_string);
    match state.mode {
        Mode::GivenIdsUnavailable if given => {
            return answer(state, 503, json!({"message": "Service Unavailable"}), false);
        }
        Mode::TransientBusy => {
            if let Some(busy) = transient(state, campaign.as_deref()) {
                return busy;
            }
        }
        _ => {}
    }
    let Some(campaign) = campaign.filter(|c| c == CAMPAIGN) else {
        return answer(
            state,
            400,
            json!({"message": "Invalid campaign_id", "errors": [{"field": "campaign_id"}]}),
            true,
        );
    };
    let send_id = match body.as_ref().and_then(|b| b.get("send_id")) {
        None | Some(Value::Null) => {
            let mut c = state.counter.lock().expect("lock");
            *c += 1;
            format!("braze-{:08}", *c)
        }
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 && s.is_ascii() => s.clone(),
        Some(_) => {
            return answer(
                state,
                400,
                json!({"message": "Invalid send_id", "errors": ["send_id"]}),
                true,
            )
        }
    };
    let new = state
        .pairs
        .lock()
        .expect("lock")
        .insert((campaign, send_id.clone()));
    if new {
        let mut used = state.used.lock().expect("lock");
        if *used >= QUOTA {
            drop(used);
            return answer(state, 429, json!({"message": "quota"}), true);
        }
        *used += 1;
    }
    answer(
        state,
        201,
        json!({"message": "success", "send_id": send_id, "errors": []}),
        true,
    )
}

/// `Mode::TransientBusy`: the second request for a pair gets a 503 with `Retry-After`, the third
/// a 429 without the quota headers.
fn transient(state: &State, campaign: Option<&str>) -> Option<Response> {
    if campaign != Some(CAMPAIGN) {
        return None;
    }
    let n = {
        let mut p = state.permitted.lock().expect("lock");
        *p += 1;
        *p
    };
    match n {
        2 => {
            let mut resp = answer(state, 503, json!({"message": "Service Unavailable"}), false);
            resp.headers_mut().insert("Retry-After", 1.into());
            Some(resp)
        }
        // Another rate limit than the send-ID quota: a 429 without the quota's headers.
        3 => Some(answer(
            state,
            429,
            json!({"message": "API rate limit exceeded", "errors": []}),
            false,
        )),
        _ => None,
    }
}
