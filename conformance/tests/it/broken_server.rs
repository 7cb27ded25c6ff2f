//! A small in-memory implementation of the contract with one chosen defect: the checker must
//! name the defect (exit 1), and find nothing when there is none (exit 0).
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{handler, Body, EndpointExt, Request, Response, Route, Server};
use serde_json::{json, Value};

pub const API_KEY: &str = "broken-server-key-0123456789";
pub const FORBIDDEN_KEY: &str = "broken-server-forbidden-key-0123";
pub const CAMPAIGN: &str = "campaign-1";
const MAX_BODY: usize = 64 * 1024;

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
}

struct State {
    defect: Defect,
    quota: u64,
    used: Mutex<u64>,
    /// send_id by (campaign_id, send_id).
    pairs: Mutex<HashMap<(String, String), ()>>,
    counter: AtomicU64,
}

pub struct BrokenServer {
    pub address: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl BrokenServer {
    pub async fn spawn(defect: Defect, quota: u64) -> BrokenServer {
        let state = Arc::new(State {
            defect,
            quota,
            used: Mutex::new(0),
            pairs: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
        });
        let app = Route::new()
            .at("/sends/id/create", create)
            .at("/*rest", not_found)
            .data(state);
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("address")
            .port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async move {
                    let _ = rx.await;
                },
                None,
            ),
        );
        BrokenServer {
            address: format!("http://127.0.0.1:{port}"),
            _shutdown: tx,
        }
    }

    pub fn args(&self) -> Vec<String> {
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
async fn not_found() -> Response {
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

/// Adds the rate-limit headers (step 4 on).
fn with_quota(state: &State, mut resp: Response) -> Response {
    if state.defect == Defect::NoRateLimitHeadersOn400 && resp.status() == StatusCode::BAD_REQUEST {
        return resp;
    }
    let used = *state.used.lock().expect("lock");
    let remaining = state.quota.saturating_sub(used);
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

#[handler]
async fn create(req: &Request, body: Body, Data(state): Data<&Arc<State>>) -> Response {
    let state = state.as_ref();
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
        Some(v) => match v.strip_prefix("Bearer ") {
            Some(k) => k,
            None => return error(state, 401, "Use Authorization: Bearer <key>"),
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
        return error(state, 401, "Invalid API key");
    }
    let resp = decide(state, req, body).await;
    with_quota(state, resp)
}

/// Steps 4 to 8, for a permitted key.
async fn decide(state: &State, req: &Request, body: Body) -> Response {
    let Ok(bytes) = body.into_bytes().await else {
        return error(state, 400, "Cannot read the body");
    };
    if bytes.len() > MAX_BODY {
        let status = if state.defect == Defect::OversizeIs400 {
            400
        } else {
            413
        };
        return error(state, status, "Request body is too large");
    }
    if state.defect == Defect::RefusedRequestSpends {
        // Every request with a body under the limit spends, refused or not.
        *state.used.lock().expect("lock") += 1;
    }
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.split(';').next().unwrap_or("").trim() != "application/json" {
        return error(state, 415, "Content-Type must be application/json");
    }
    if bytes.is_empty() && state.defect == Defect::EmptyBodyIs500 {
        return json_response(500, json!({"message": "internal error"}));
    }
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return error(state, 400, "The body is not valid JSON");
    };
    let Some(obj) = value.as_object() else {
        return error(state, 400, "The body must be a JSON object");
    };
    let campaign = match obj.get("campaign_id") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => return error(state, 400, "campaign_id must be a non-empty string"),
    };
    let send_id = match obj.get("send_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let long_ok = state.defect == Defect::LongSendIdAccepted;
            let printable = s.bytes().all(|b| (0x20..=0x7e).contains(&b));
            if s.is_empty() || (s.len() > 64 && !long_ok) || !printable {
                return error(
                    state,
                    400,
                    "send_id must be 1 to 64 printable ASCII characters",
                );
            }
            Some(s.clone())
        }
        Some(_) => return error(state, 400, "send_id must be a string"),
    };
    if campaign != CAMPAIGN && state.defect != Defect::UnknownCampaignAccepted {
        return error(state, 400, "Invalid campaign_id");
    }
    let mut pairs = state.pairs.lock().expect("lock");
    let mut used = state.used.lock().expect("lock");
    if let Some(id) = &send_id {
        if pairs.contains_key(&(campaign.clone(), id.clone())) {
            if state.defect == Defect::RepeatSpendsQuota {
                *used += 1;
            }
            return success(state, id, send_id.as_deref());
        }
    }
    if *used >= state.quota && state.defect != Defect::QuotaNeverEnforced {
        let mut resp = error(
            state,
            429,
            "The daily quota of new send identifiers is used up",
        );
        if state.defect != Defect::NoRetryAfter {
            let retry = next_midnight(now()) - now();
            resp.headers_mut().insert("Retry-After", retry.into());
        }
        return resp;
    }
    let id = match send_id.clone() {
        Some(id) => id,
        None => {
            let n = state.counter.fetch_add(1, Ordering::SeqCst);
            match state.defect {
                Defect::GeneratedIdRepeats => "generated".to_string(),
                Defect::GeneratedIdTooLong => format!("{n:0>80}"),
                _ => format!("gen-{n:016x}-{:08x}", now() as u32),
            }
        }
    };
    pairs.insert((campaign, id.clone()), ());
    *used += if state.defect == Defect::NewPairSpendsTwo {
        2
    } else {
        1
    };
    success(state, &id, send_id.as_deref())
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
