//! Authentication and authorization: steps 2 and 3 of docs/contract.md §1, decided before the body is
//! looked at (a bad key with a bad body gets 401, not 400), plus the admin token.
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::web::headers::{authorization::Bearer as BearerHeader, Authorization, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;

use super::error::{json_error, FinalStatus};
use super::limits::{buffer_body, drain_body, MAX_BODY_BYTES};
use super::AppState;
use crate::domain::{
    hash_secret, QuotaStatus, UtcDay, CAMPAIGNS_TRIGGER_SEND, SENDS_DATA_SERIES, SENDS_ID_CREATE,
};
use crate::store::{ApiKeyRecord, Workspace};

/// A Braze REST API key, sent as `Authorization: Bearer <key>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "REST API key")]
pub struct BrazeApiKey(pub Bearer);

/// The operator's admin token (`--admin-token` / `SENDID_ADMIN_TOKEN`), as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "admin token")]
pub struct AdminToken(pub Bearer);

/// Who is calling the public operation: set by [`SendsGate`], read by the handler.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: ApiKeyRecord,
    pub workspace: Workspace,
}

pub const CREATE_PATH: &str = "/sends/id/create";
pub const TRIGGER_SEND_PATH: &str = "/campaigns/trigger/send";
pub const DATA_SERIES_PATH: &str = "/sends/data_series";

/// The public operations: what each needs of a key, and whether it spends the quota whose
/// status the `X-RateLimit-*` headers tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateSendId,
    TriggerSend,
    DataSeries,
}

impl Operation {
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::POST, CREATE_PATH) => Some(Self::CreateSendId),
            (&Method::POST, TRIGGER_SEND_PATH) => Some(Self::TriggerSend),
            (&Method::GET, DATA_SERIES_PATH) => Some(Self::DataSeries),
            _ => None,
        }
    }

    pub fn permission(self) -> &'static str {
        match self {
            Self::CreateSendId => SENDS_ID_CREATE,
            Self::TriggerSend => CAMPAIGNS_TRIGGER_SEND,
            Self::DataSeries => SENDS_DATA_SERIES,
        }
    }

    /// Only `/sends/id/create` spends the daily quota of new send IDs; the other operations
    /// carry no rate-limit headers (sendid decides: it limits no send or export).
    pub fn has_quota_headers(self) -> bool {
        self == Self::CreateSendId
    }
}

/// The token of `Authorization: Bearer <token>`: the one reading of the header, for the
/// gates here and for the sandbox's journal (`sandbox_layer`), so they agree on which key a
/// request carries.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.headers()
        .typed_get::<Authorization<BearerHeader>>()
        .map(|a| a.token().to_string())
}

fn unauthorized(message: &str) -> Response {
    let mut resp = json_error(StatusCode::UNAUTHORIZED, message);
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// Wraps the public API: resolves the key (401), checks permission and IP (403), enforces the
/// body limit (413), and stamps the rate-limit headers on every answer from step 4 on.
pub struct SendsGate<E> {
    pub inner: E,
    pub state: AppState,
}

impl<E: Endpoint> Endpoint for SendsGate<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(operation) = Operation::of(req.method(), req.uri().path()) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let principal = match self.authenticate(&req, operation).await {
            Ok(p) => p,
            Err(resp) => return Ok(drain_body(&mut req, *resp).await),
        };
        let workspace_id = principal.workspace.id.clone();
        super::access_log::RequestContext::note_workspace(&req, &workspace_id);
        let limit = principal.workspace.daily_send_id_quota;
        let mut resp = match buffer_body(&mut req, MAX_BODY_BYTES).await {
            Ok(()) => {
                req.extensions_mut().insert(principal);
                match self.inner.call(req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => e.into_response(),
                }
            }
            Err(e) => json_error(e.status(), e.to_string()),
        };
        if operation.has_quota_headers() && !resp.headers().contains_key("x-ratelimit-limit") {
            let now = self.state.clock.now_seconds();
            let lookup = self
                .state
                .store
                .used_on(&workspace_id, UtcDay::containing(now));
            // After a 503 the store may be the one not answering: the headers must not hold the
            // answer back by another `--database-timeout`.
            let used = if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
                tokio::time::timeout(std::time::Duration::from_millis(200), lookup)
                    .await
                    .unwrap_or_else(|_| Err(crate::store::StoreError::Unavailable(String::new())))
            } else {
                lookup.await
            };
            if let Ok(used) = used {
                set_rate_limit_headers(&mut resp, &QuotaStatus::new(limit, used, now));
            }
        }
        Ok(resp)
    }
}

impl<E> SendsGate<E> {
    async fn authenticate(
        &self,
        req: &Request,
        operation: Operation,
    ) -> Result<Principal, Box<Response>> {
        let Some(token) = bearer_token(req) else {
            return Err(Box::new(unauthorized(
                "Missing or malformed Authorization header: expected `Authorization: Bearer <REST API key>`",
            )));
        };
        let store = &self.state.store;
        let unavailable = |_| {
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Storage is unavailable; retry later",
            )
        };
        let hash = hash_secret(&token);
        let key = store.api_key_by_hash(&hash).await.map_err(unavailable)?;
        let Some(key) = key else {
            return Err(Box::new(unauthorized("Invalid API key")));
        };
        let Some(workspace) = store
            .workspace(&key.workspace_id)
            .await
            .map_err(unavailable)?
        else {
            return Err(Box::new(unauthorized("Invalid API key")));
        };
        let permission = operation.permission();
        if !key.permissions.iter().any(|p| p == permission) {
            return Err(Box::new(json_error(
                StatusCode::FORBIDDEN,
                format!("This API key does not have the permission {permission}"),
            )));
        }
        if !key.allowed_ips.is_empty() {
            let client = self.state.trusted_proxies.client_ip(req);
            let allowed =
                client.is_some_and(|ip| key.allowed_ips.iter().any(|net| net.contains(&ip)));
            if !allowed {
                return Err(Box::new(json_error(
                    StatusCode::FORBIDDEN,
                    "This API key may not be used from this IP address (it is outside the key's allow-list)",
                )));
            }
        }
        Ok(Principal { key, workspace })
    }
}

pub fn set_rate_limit_headers(resp: &mut Response, q: &QuotaStatus) {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(q.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(q.remaining()));
    h.insert("x-ratelimit-reset", HeaderValue::from(q.reset));
}

/// Wraps the admin API: 404 with instructions when it is off; the token check (401) and the
/// body limit (413) before any body is parsed. The admin documents stay public: they hold no
/// secrets and Swagger UI must be able to load them.
pub struct AdminGate<E> {
    pub inner: E,
    pub state: AppState,
}

pub const ADMIN_OFF_MESSAGE: &str =
    "The admin API is off. Start sendid with --admin-token <token> \
(or the environment variable SENDID_ADMIN_TOKEN, or --admin-token-file <path>; at least 24 \
characters, e.g. `openssl rand -hex 32`) to turn it on.";

impl<E: Endpoint> Endpoint for AdminGate<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(expected) = self.state.admin_token else {
            let mut off = json_error(StatusCode::NOT_FOUND, ADMIN_OFF_MESSAGE);
            off.extensions_mut().insert(FinalStatus);
            return Ok(drain_body(&mut req, off).await);
        };
        let path = req.uri().path();
        if path != "/admin/docs"
            && !path.starts_with("/admin/docs/")
            && path != "/admin/openapi.json"
            && path != "/admin/openapi.yaml"
        {
            let ok = bearer_token(&req).is_some_and(|t| hash_secret(&t).ct_eq(&expected));
            if !ok {
                let refused = unauthorized(
                    "Missing or invalid admin token: expected `Authorization: Bearer <admin token>`",
                );
                return Ok(drain_body(&mut req, refused).await);
            }
            if let Err(e) = buffer_body(&mut req, MAX_BODY_BYTES).await {
                return Ok(json_error(e.status(), e.to_string()));
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
