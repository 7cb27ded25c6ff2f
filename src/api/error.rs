//! The error body every failure shares, and the outermost middleware that guarantees it: whatever
//! poem or a handler produced, an error leaves the server as `{"message": ...}` JSON, and a 405
//! carries `Allow`.
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::Object;

use super::limits::BodyDrained;

/// The body of every error response.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// A human-readable reason.
    pub message: String,
    /// Further detail, one entry per problem, when there is more than one thing to say.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<String>>,
}

impl ErrorBody {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            errors: None,
        }
    }
}

/// Marks a response whose status is final: the outermost layer must not turn its 404 into a 405
/// (the admin API, when off, is 404 for every method of every `/admin` path).
#[derive(Debug, Clone, Copy)]
pub struct FinalStatus;

/// A JSON error response outside the typed operations (404, 405, a rejected body…).
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "message": message.into() });
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// Which methods each documented path accepts, read from the OpenAPI documents themselves so the
/// `Allow` header cannot drift from the routes.
#[derive(Debug, Clone, Default)]
pub struct AllowIndex {
    routes: Vec<(String, Vec<String>, Vec<Method>)>,
}

impl AllowIndex {
    pub fn from_specs(specs: &[String]) -> Self {
        let mut routes: Vec<(String, Vec<String>, Vec<Method>)> = Vec::new();
        for spec in specs {
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(spec) else {
                continue;
            };
            let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
                continue;
            };
            for (path, item) in paths {
                let segments = path.split('/').map(str::to_string).collect();
                let mut methods: Vec<Method> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect();
                methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                routes.push((path.clone(), segments, methods));
            }
        }
        Self { routes }
    }

    pub fn add(mut self, path: &str, methods: &[Method]) -> Self {
        self.routes.push((
            path.to_string(),
            path.split('/').map(str::to_string).collect(),
            methods.to_vec(),
        ));
        self
    }

    /// The methods allowed on a concrete request path, if the path is known.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.route(path).map(|(_, methods)| methods)
    }

    /// The documented path template a request path matches (e.g. `/admin/workspaces/{id}`),
    /// with its methods. Metrics label requests by template, so label values stay bounded.
    pub fn route(&self, path: &str) -> Option<(&str, &[Method])> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find_map(|(template, segments, methods)| {
                let matches = segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p);
                matches.then_some((template.as_str(), methods.as_slice()))
            })
    }
}

/// The outermost layer: JSON for every error, `Allow` on 405.
pub struct JsonErrors {
    pub allow: AllowIndex,
}

impl<E: Endpoint> Middleware<E> for JsonErrors {
    type Output = JsonErrorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        JsonErrorsEndpoint {
            inner: ep,
            allow: self.allow.clone(),
        }
    }
}

pub struct JsonErrorsEndpoint<E> {
    inner: E,
    allow: AllowIndex,
}

impl<E: Endpoint> Endpoint for JsonErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let has_body = declares_body(&req);
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => {
                let status = err.status();
                if status.is_server_error() {
                    tracing::error!(%method, %path, error = %err, "request failed");
                    json_error(status, "internal error; nothing was stored by this request")
                } else if status == StatusCode::NOT_FOUND {
                    json_error(status, format!("Not found: no resource at {path}"))
                } else {
                    json_error(status, err.to_string())
                }
            }
        };
        let mut resp = self.finish(resp, &method, &path);
        if has_body
            && refused_unread(resp.status())
            && resp.extensions().get::<BodyDrained>().is_none()
        {
            // The body was not (fully) read, so this connection cannot carry another request:
            // say so (RFC 9112 §9.6) instead of letting a keep-alive client lose its next one.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(resp)
    }
}

fn declares_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Answers given before the request body is read to its end.
fn refused_unread(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::PAYLOAD_TOO_LARGE
    )
}

impl<E> JsonErrorsEndpoint<E> {
    fn finish(&self, resp: Response, method: &Method, path: &str) -> Response {
        let status = resp.status();
        let allowed = self.allow.allowed(path);
        if resp.extensions().get::<FinalStatus>().is_some() {
            return resp;
        }
        let resp = match (status, allowed) {
            (StatusCode::NOT_FOUND, Some(methods)) if !methods.contains(method) => {
                // poem answers 404 for a known path with an unrouted method; the contract says 405.
                method_not_allowed(method, methods)
            }
            (StatusCode::METHOD_NOT_ALLOWED, Some(methods)) => method_not_allowed(method, methods),
            (StatusCode::METHOD_NOT_ALLOWED, None) => method_not_allowed(method, &[]),
            _ => resp,
        };
        if resp.status().is_client_error() || resp.status().is_server_error() {
            let is_json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if !is_json {
                let status = resp.status();
                let message = match status {
                    StatusCode::NOT_FOUND => format!("Not found: no resource at {path}"),
                    other => other.canonical_reason().unwrap_or("error").to_string(),
                };
                let mut replaced = json_error(status, message);
                for (name, value) in resp.headers() {
                    if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                        replaced.headers_mut().append(name.clone(), value.clone());
                    }
                }
                return replaced;
            }
        }
        resp
    }
}

fn method_not_allowed(method: &Method, allowed: &[Method]) -> Response {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let joined = list.join(", ");
    let mut resp = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method {method} is not allowed here; allowed: {joined}"),
    );
    if let Ok(v) = HeaderValue::from_str(&joined) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}
