//! One access line per request, and the request id.
//!
//! The line holds the method, the documented route template (never the raw path or query,
//! which a careless caller may have put a key in), the status, the latency, the workspace when
//! it is known and the request id — never a header value, so never a key or a token.
//!
//! The request id is the caller's `X-Request-Id` when it is sane (1 to 128 characters of
//! `A-Z a-z 0-9 - _ . : / + = @`, and not a copy of the caller's credentials), a new UUID
//! otherwise; it is returned in the answer's `X-Request-Id` and tags every log line the request
//! causes.
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use poem::http::{header, HeaderMap, HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use super::error::AllowIndex;

pub const REQUEST_ID: &str = "x-request-id";
const MAX_REQUEST_ID: usize = 128;

/// What the access log learns about a request while it is handled; in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    workspace_id: Arc<OnceLock<String>>,
}

impl RequestContext {
    /// Records the workspace the request acts for (once it is authenticated).
    pub fn set_workspace(&self, id: &str) {
        let _ = self.workspace_id.set(id.to_string());
    }

    /// Records the workspace on the request's context, if it has one.
    pub fn note_workspace(req: &Request, id: &str) {
        if let Some(ctx) = req.extensions().get::<RequestContext>() {
            ctx.set_workspace(id);
        }
    }
}

/// The caller's request id when it is sane.
fn sane_request_id(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(REQUEST_ID).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() || value.is_empty() || value.len() > MAX_REQUEST_ID {
        return None;
    }
    let charset = |c: char| c.is_ascii_alphanumeric() || "-_.:/+=@".contains(c);
    if !value.chars().all(charset) {
        return None;
    }
    // A caller who pasted its key into the request id must not see it logged.
    let in_credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| {
            let secret = a.trim().rsplit(' ').next().unwrap_or_default();
            (value.len() >= 8 && a.contains(value)) || (secret.len() >= 8 && value.contains(secret))
        });
    (!in_credentials).then(|| value.to_string())
}

pub struct AccessLog {
    pub routes: AllowIndex,
}

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AccessLogEndpoint {
            inner: ep,
            routes: self.routes.clone(),
        }
    }
}

pub struct AccessLogEndpoint<E> {
    inner: E,
    routes: AllowIndex,
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id: Arc<str> = sane_request_id(req.headers())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
            .into();
        let ctx = RequestContext {
            request_id: request_id.clone(),
            workspace_id: Arc::default(),
        };
        req.extensions_mut().insert(ctx.clone());
        let path = req.uri().path().to_string();
        let route = self.routes.route(&path).map_or("other", |(t, _)| t);
        let method = req.method().clone();

        let span = tracing::info_span!("request", request_id = %request_id);
        let mut resp = match self.inner.call(req).instrument(span).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        let status = resp.status();
        let workspace = ctx
            .workspace_id
            .get()
            .cloned()
            .or_else(|| workspace_in_path(route, &path, status));
        let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let status = status.as_u16();
        match workspace {
            Some(workspace_id) => tracing::info!(
                target: "sendid::access",
                method = %method, route, status, latency_ms, %workspace_id, %request_id,
                "request"
            ),
            None => tracing::info!(
                target: "sendid::access",
                method = %method, route, status, latency_ms, %request_id,
                "request"
            ),
        }
        Ok(resp)
    }
}

/// The workspace of an admin route `/admin/workspaces/{id}…` that succeeded (so the id is a
/// real workspace's, not whatever a caller typed).
fn workspace_in_path(route: &str, path: &str, status: StatusCode) -> Option<String> {
    if !status.is_success() || !route.starts_with("/admin/workspaces/{id}") {
        return None;
    }
    path.split('/').nth(3).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                poem::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn sane_request_ids_are_kept_and_others_replaced() {
        let id = |pairs: &[(&str, &str)]| sane_request_id(&headers(pairs));
        assert_eq!(
            id(&[("x-request-id", "abc-123_X.y:z")]).as_deref(),
            Some("abc-123_X.y:z")
        );
        assert_eq!(id(&[]), None);
        assert_eq!(id(&[("x-request-id", "")]), None);
        assert_eq!(id(&[("x-request-id", "has space")]), None);
        assert_eq!(id(&[("x-request-id", "quote\"d")]), None);
        assert_eq!(id(&[("x-request-id", &"a".repeat(129))]), None);
        assert_eq!(id(&[("x-request-id", "a"), ("x-request-id", "b")]), None);
        // The caller's key, pasted as the request id or in it.
        for pasted in [
            "sk-0123456789abcdef",
            "req-sk-0123456789abcdef-1",
            "0123456789",
        ] {
            let pairs = [
                ("authorization", "Bearer sk-0123456789abcdef"),
                ("x-request-id", pasted),
            ];
            assert_eq!(id(&pairs), None, "{pasted}");
        }
    }

    #[test]
    fn the_workspace_comes_from_the_path_only_of_a_successful_admin_call() {
        let r = "/admin/workspaces/{id}/campaigns";
        let p = "/admin/workspaces/w-1/campaigns";
        assert_eq!(
            workspace_in_path(r, p, StatusCode::CREATED).as_deref(),
            Some("w-1")
        );
        assert_eq!(workspace_in_path(r, p, StatusCode::NOT_FOUND), None);
        assert_eq!(workspace_in_path("other", "/x", StatusCode::OK), None);
    }
}
