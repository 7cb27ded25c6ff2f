//! The sandbox in the HTTP path (its state and rules are `crate::sandbox`'s). Two layers, installed only with `--sandbox`:
//! - [`Recorder`], around every route: journals each public request with what the client got;
//! - [`FaultLayer`], inside `SendsGate` (after the key is checked and the body read, before the
//!   handler): decides a request's fault and applies it — `before` answers without calling the
//!   handler (nothing stored or spent), `after` lets the handler commit and then delays, replaces
//!   or drops its answer.
//!
//! A rule matches any public request (docs/contract.md §3), so a request refused before the
//! fault layer (no key, a bad key, a missing permission, another path or method) is faulted by
//! the [`Recorder`] once its answer is known: nothing was stored, so `before` and `after` are
//! alike for it. Such a request matches only rules that ask for nothing it cannot show: its
//! key's workspace and id when the key is active, never a campaign or a `send_id` prefix.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};
use serde_json::Value;

use super::error::{json_error, FinalStatus};
use super::limits::drain_body;
use super::security::{bearer_token, Operation, Principal};
use crate::clock::Clock;
use crate::domain::hash_secret;
use crate::sandbox::faults::{Applied, FaultAction, RequestFacts, When};
use crate::sandbox::journal::{body_value, masked_headers, FaultNote, JournalEntry};
use crate::sandbox::{Sandbox, SANDBOX_OFF_MESSAGE};
use crate::store::Store;

/// Paths that are not the public API: the admin API, documents, health and metrics.
fn is_public(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    !(path == "/"
        || under("/admin")
        || under("/docs")
        || path.starts_with("/openapi.")
        || path == "/health"
        || path == "/metrics")
}

/// What the fault layer learns about a request, for its journal entry.
#[derive(Debug, Default)]
struct Notes {
    body: Option<Value>,
    send_id: Option<String>,
    fault: Option<FaultNote>,
    closed: bool,
    /// The fault layer saw the request (and decided its fault, if any).
    reached: bool,
}

/// Handed from [`Recorder`] to [`FaultLayer`] through the request's extensions.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Notes>>);

impl Slot {
    fn note(&self, f: impl FnOnce(&mut Notes)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn take(&self) -> Notes {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Journals every public request (middleware around all routes); passes everything through
/// when the sandbox is off.
pub struct Recorder {
    pub sandbox: Option<Arc<Sandbox>>,
    pub store: Arc<dyn Store>,
}

impl<E: Endpoint> Middleware<E> for Recorder {
    type Output = RecorderEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RecorderEndpoint {
            inner,
            sandbox: self.sandbox.clone(),
            store: self.store.clone(),
        }
    }
}

pub struct RecorderEndpoint<E> {
    inner: E,
    sandbox: Option<Arc<Sandbox>>,
    store: Arc<dyn Store>,
}

impl<E: Endpoint> Endpoint for RecorderEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(sandbox) = self
            .sandbox
            .as_ref()
            .filter(|_| is_public(req.uri().path()))
        else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let at_millis = sandbox.clock.now_millis();
        let method = req.method().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        let headers = req.headers().clone();
        let key = self.key(&req).await;
        let key_id = key.as_ref().map(|k| k.key_id.clone());
        let peer = req.remote_addr().as_socket_addr().copied();
        let slot = Slot::default();
        req.extensions_mut().insert(slot.clone());
        // Journaled also when the request's future is dropped (a closed connection): then the
        // client got no answer.
        let mut pending = Pending {
            sandbox,
            slot: slot.clone(),
            entry: Some(JournalEntry {
                at_millis,
                method,
                path,
                headers: masked_headers(
                    headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                    key_id.as_deref(),
                ),
                body: None,
                status: None,
                send_id: None,
                key_id: key_id.clone(),
                fault: None,
                client_gone: false,
            }),
        };
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if !slot.0.lock().unwrap_or_else(|p| p.into_inner()).reached {
            let facts = RequestFacts {
                workspace_id: key.as_ref().map(|k| k.workspace_id.as_str()),
                key_id: key_id.as_deref(),
                campaign_id: None,
                send_id: None,
            };
            if let Some(applied) = sandbox.faults.decide(&facts) {
                let status = resp.status().as_u16();
                wait(sandbox, &applied.action, peer).await;
                if applied.action.status.is_some() || applied.action.close {
                    resp = replace(sandbox, &applied, peer, &slot);
                }
                slot.note(|n| n.fault = Some(note_of(&applied, Some(status))));
            }
        }
        // A client that gave up while the answer was made (a delay fault and a timeout) has
        // closed its socket: the answer reaches nobody, and the journal says so.
        let gone = peer.is_some_and(|p| sandbox.connections.client_gone(p));
        pending.record(Some(resp.status().as_u16()), gone);
        Ok(resp)
    }
}

/// A journal entry waiting for its request's answer; recorded at the latest when dropped.
struct Pending<'a> {
    sandbox: &'a Sandbox,
    slot: Slot,
    entry: Option<JournalEntry>,
}

impl Pending<'_> {
    /// Records the entry with what the fault layer noted; `status` `None`: no answer;
    /// `client_gone`: nobody was there to receive it.
    fn record(&mut self, status: Option<u16>, client_gone: bool) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        let notes = self.slot.take();
        entry.body = notes.body;
        entry.status = status.filter(|_| !notes.closed);
        entry.send_id = notes.send_id;
        entry.fault = notes.fault;
        // A connection a fault closed is the server's doing, not the client's.
        entry.client_gone = client_gone && !notes.closed;
        self.sandbox.journal.record(entry);
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        // The request's future was dropped before its answer: its connection or stream went
        // away (unless a fault closed it, which `record` tells apart).
        self.record(None, true);
    }
}

impl<E> RecorderEndpoint<E> {
    /// The request's bearer key, when it is an active key of the store.
    async fn key(&self, req: &Request) -> Option<crate::store::ApiKeyRecord> {
        let hash = hash_secret(&bearer_token(req)?);
        self.store.api_key_by_hash(&hash).await.ok()?
    }
}

/// Applies fault rules to the public operations (inside `SendsGate`, around the handler). A
/// request's campaign and send_id come from its body (the POSTs) or its query
/// (`GET /sends/data_series`).
pub struct FaultLayer<E> {
    pub inner: E,
    pub sandbox: Arc<Sandbox>,
}

impl<E: Endpoint> Endpoint for FaultLayer<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let principal = req.extensions().get::<Principal>().cloned();
        let (Some(_), Some(principal)) = (Operation::of(req.method(), req.uri().path()), principal)
        else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        // `SendsGate` buffered the body (within its limit), so this is a copy of bytes.
        let body = req.take_body().into_bytes().await.unwrap_or_default();
        req.set_body(Body::from(body.clone()));
        let fields: Option<Value> = if req.method() == Method::GET {
            query_fields(req.uri().query().unwrap_or_default())
        } else {
            serde_json::from_slice(&body).ok()
        };
        let field = |name: &str| fields.as_ref()?.get(name)?.as_str().map(str::to_string);
        let (campaign_id, asked_send_id) = (field("campaign_id"), field("send_id"));
        let slot = req.extensions().get::<Slot>().cloned().unwrap_or_default();
        slot.note(|n| {
            n.body = (!body.is_empty()).then(|| body_value(&body));
            n.send_id = asked_send_id.clone();
            n.reached = true;
        });
        let applied = self.sandbox.faults.decide(&RequestFacts {
            workspace_id: Some(&principal.workspace.id),
            key_id: Some(&principal.key.key_id),
            campaign_id: campaign_id.as_deref(),
            send_id: asked_send_id.as_deref(),
        });
        let Some(applied) = applied else {
            return Ok(self.handle(req, &slot).await);
        };
        let peer = req.remote_addr().as_socket_addr().copied();
        let sandbox = &*self.sandbox;
        let (resp, original_status) = match applied.when {
            When::Before => {
                wait(sandbox, &applied.action, peer).await;
                if applied.action.status.is_none() && !applied.action.close {
                    // A delay alone: then the request goes on as usual.
                    (self.handle(req, &slot).await, None)
                } else {
                    (replace(sandbox, &applied, peer, &slot), None)
                }
            }
            When::After => {
                let resp = self.handle(req, &slot).await;
                let status = resp.status().as_u16();
                wait(sandbox, &applied.action, peer).await;
                if applied.action.status.is_none() && !applied.action.close {
                    (resp, Some(status))
                } else {
                    (replace(sandbox, &applied, peer, &slot), Some(status))
                }
            }
        };
        slot.note(|n| n.fault = Some(note_of(&applied, original_status)));
        Ok(resp)
    }
}

impl<E: Endpoint> FaultLayer<E> {
    /// The handler's answer, with the send_id it names noted for the journal.
    async fn handle(&self, req: Request, slot: &Slot) -> Response {
        let resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let (parts, body) = resp.into_parts();
        let bytes = body.into_bytes().await.unwrap_or_default();
        let answered = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("send_id")?.as_str().map(str::to_string));
        if answered.is_some() {
            slot.note(|n| n.send_id = answered);
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// A query string's parameters as a JSON object of strings (the first of a repeated name).
fn query_fields(query: &str) -> Option<Value> {
    let mut map = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        map.entry(k.into_owned())
            .or_insert(Value::String(v.into_owned()));
    }
    Some(Value::Object(map))
}

/// The journal's note of an applied fault.
fn note_of(applied: &Applied, original_status: Option<u16>) -> FaultNote {
    FaultNote {
        rule_id: applied.rule_id.clone(),
        when: applied.when,
        action: describe(&applied.action),
        original_status,
    }
}

/// A fault's delay, with the connection held open meanwhile.
async fn wait(sandbox: &Sandbox, action: &FaultAction, peer: Option<std::net::SocketAddr>) {
    if let Some(ms) = action.delay_ms.filter(|ms| *ms > 0) {
        if let Some(peer) = peer {
            sandbox.connections.hold(peer);
        }
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The fault's own answer: its status, or no answer at all.
fn replace(
    sandbox: &Sandbox,
    applied: &Applied,
    peer: Option<std::net::SocketAddr>,
    slot: &Slot,
) -> Response {
    if applied.action.close {
        if peer.is_some_and(|p| sandbox.connections.close(p)) {
            slot.note(|n| n.closed = true);
            // Never written: the connection's IO fails before the first byte.
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "closed by a sandbox fault");
        }
        tracing::warn!(rule = %applied.rule_id, "a sandbox fault could not close its connection");
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "sandbox fault {}: the connection could not be closed, so this answer stands in",
                applied.rule_id
            ),
        );
    }
    fault_response(applied)
}

/// A status fault's answer: JSON like every sendid error, `Retry-After` on 429 and 503.
fn fault_response(applied: &Applied) -> Response {
    let status = applied
        .action
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let message = applied.action.message.clone().unwrap_or_else(|| {
        format!(
            "{} (sandbox fault {}, {} the store)",
            status.canonical_reason().unwrap_or("Error"),
            applied.rule_id,
            match applied.when {
                When::Before => "before",
                When::After => "after",
            }
        )
    });
    let mut resp = json_error(status, message);
    let headers = resp.headers_mut();
    if matches!(status.as_u16(), 429 | 503) || applied.action.retry_after.is_some() {
        headers.insert(
            "retry-after",
            HeaderValue::from(applied.action.retry_after.unwrap_or(1)),
        );
    }
    if let Ok(id) = HeaderValue::from_str(&applied.rule_id) {
        headers.insert("x-sendid-fault", id);
    }
    resp
}

/// The sandbox's own paths under `/admin`, a send's stats
/// (`/admin/workspaces/{id}/campaigns/{campaign_id}/send-ids/{send_id}/stats`) among them.
fn is_sandbox_path(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    let parts: Vec<&str> = path.split('/').collect();
    let send_stats = matches!(
        parts.as_slice(),
        [
            "",
            "admin",
            "workspaces",
            _,
            "campaigns",
            _,
            "send-ids",
            _,
            "stats"
        ]
    );
    under("/admin/reset")
        || under("/admin/clock")
        || under("/admin/faults")
        || under("/admin/requests")
        || send_stats
}

/// Without `--sandbox`, wraps the admin API so that every sandbox path answers 404 saying how
/// to turn it on, whatever the method or body (the handlers would judge the body first).
pub struct SandboxOff<E> {
    pub inner: E,
}

impl<E: Endpoint> Endpoint for SandboxOff<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if !is_sandbox_path(req.uri().path()) {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let mut off = json_error(StatusCode::NOT_FOUND, SANDBOX_OFF_MESSAGE);
        off.extensions_mut().insert(FinalStatus);
        Ok(drain_body(&mut req, off).await)
    }
}

/// A rule's action in words, for the journal: `status 503`, `delay 200 ms, close`.
pub fn describe(action: &FaultAction) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = action.delay_ms {
        parts.push(format!("delay {ms} ms"));
    }
    if let Some(status) = action.status {
        parts.push(format!("status {status}"));
    }
    if action.close {
        parts.push("close".to_string());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_everything_but_admin_docs_health_and_metrics() {
        for p in [
            "/sends/id/create",
            "/users/track",
            "/sends",
            "/administrator",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/",
            "/admin",
            "/admin/faults",
            "/docs",
            "/docs/index.js",
            "/openapi.json",
            "/health",
            "/metrics",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }

    #[test]
    fn a_status_fault_answers_json_with_retry_after_on_503_and_429() {
        let applied = |status| Applied {
            rule_id: "fault-3".into(),
            action: FaultAction {
                status: Some(status),
                ..FaultAction::default()
            },
            when: When::Before,
        };
        let resp = fault_response(&applied(503));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["x-sendid-fault"], "fault-3");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(fault_response(&applied(429)).headers()["retry-after"], "1");
        assert!(fault_response(&applied(500))
            .headers()
            .get("retry-after")
            .is_none());
    }

    #[test]
    fn sandbox_paths_are_its_four_resources() {
        for p in [
            "/admin/reset",
            "/admin/clock",
            "/admin/faults",
            "/admin/faults/fault-1",
            "/admin/requests",
        ] {
            assert!(is_sandbox_path(p), "{p}");
        }
        assert!(is_sandbox_path(
            "/admin/workspaces/w/campaigns/c/send-ids/s/stats"
        ));
        for p in [
            "/admin/workspaces",
            "/admin/faultsx",
            "/admin/docs",
            "/admin/workspaces/w/campaigns/c/send-ids",
        ] {
            assert!(!is_sandbox_path(p), "{p}");
        }
    }

    #[test]
    fn actions_are_described_in_words() {
        let a = FaultAction {
            delay_ms: Some(200),
            close: true,
            ..FaultAction::default()
        };
        assert_eq!(describe(&a), "delay 200 ms, close");
    }
}
