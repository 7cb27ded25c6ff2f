//! The client: where requests go, with which secrets, over which connections.
use std::fmt::Write as _;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::wire::{now_epoch_seconds, Auth, Request, Response, Secret, TransportError};

/// Bodies above this size are sent on a connection of their own.
pub(super) const LARGE_BODY: usize = 16 * 1024;

/// Where to send requests, with the secrets they may carry.
#[derive(Clone)]
pub struct Target {
    pub base: url::Url,
    pub client: reqwest::Client,
    pub api_key: String,
    pub forbidden_api_key: Option<String>,
    pub timeout: Duration,
    /// Busy answers are retried (`--profile braze`) when set.
    pub retry: Option<RetryPolicy>,
    /// Cases in a row whose retries all failed (shared by the clones of a target).
    pub(super) given_up_in_a_row: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// Certificate authorities trusted besides the built-in ones (`--ca-cert`).
    pub(super) roots: Vec<reqwest::Certificate>,
}

impl Target {
    pub fn new(
        base: url::Url,
        timeout: Duration,
        api_key: String,
        forbidden: Option<String>,
    ) -> Self {
        let client = build_client(timeout, &[]);
        Self {
            base,
            client,
            api_key,
            forbidden_api_key: forbidden,
            timeout,
            retry: None,
            given_up_in_a_row: Default::default(),
            roots: Vec::new(),
        }
    }

    /// Retries busy answers with `policy`.
    pub fn with_retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The same target over a client of its own: its requests use a connection no other
    /// client shares (for bursts sent truly at once).
    pub fn with_own_connection(&self) -> Target {
        Target {
            client: build_client(self.timeout, &self.roots),
            ..self.clone()
        }
    }

    /// The same target, its clients also trusting these certificate authorities (`--ca-cert`).
    pub fn trusting(mut self, roots: &[reqwest::Certificate]) -> Self {
        if roots.is_empty() {
            return self;
        }
        self.roots = roots.to_vec();
        self.client = build_client(self.timeout, &self.roots);
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    pub(super) fn secret(&self, secret: Secret) -> &str {
        match secret {
            Secret::ApiKey => &self.api_key,
            Secret::ForbiddenApiKey => self.forbidden_api_key.as_deref().unwrap_or(""),
        }
    }

    /// Sends a request; with a retry policy, busy answers are retried and listed in the final
    /// answer's `retried`.
    pub async fn send(&self, req: &Request) -> Result<Response, TransportError> {
        self.send_guarded(req, &mut || true).await
    }

    pub(super) async fn send_once(&self, req: &Request) -> Result<Response, TransportError> {
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| TransportError {
                reason: format!("bad method: {e}"),
                connect: false,
            })?;
        let mut builder = self.client.request(method, self.url(&req.path));
        match &req.auth {
            Auth::None => {}
            Auth::Secret { scheme, secret } => {
                builder = builder.header(
                    "authorization",
                    format!("{scheme} {}", self.secret(*secret)),
                );
            }
            Auth::Literal(value) => builder = builder.header("authorization", value.as_str()),
        }
        if let Some(ct) = &req.content_type {
            builder = builder.header("content-type", ct.as_str());
        }
        if let Some(body) = &req.body {
            if body.len() > LARGE_BODY {
                // A server may refuse a large body unread and then close the connection; ask
                // for that close so the pool never reuses such a connection for the next case.
                builder = builder.header("connection", "close");
            }
            builder = builder.body(body.clone());
        }
        let started = std::time::Instant::now();
        let resp = match builder.send().await {
            Ok(resp) => resp,
            Err(e) => {
                // A server may answer 413 before reading a large body and close; the client
                // then fails writing and never reads the answer. Read it the raw way.
                let large = req.body.as_ref().is_some_and(|b| b.len() > LARGE_BODY);
                if large && !e.is_connect() && !e.is_timeout() && self.base.scheme() == "http" {
                    if let Ok(resp) = self.send_raw(req).await {
                        return Ok(resp);
                    }
                }
                return Err(TransportError {
                    reason: error_chain(&e),
                    connect: e.is_connect(),
                });
            }
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp.bytes().await.map_err(|e| TransportError {
            reason: error_chain(&e),
            connect: false,
        })?;
        let json = serde_json::from_slice(&body).ok();
        Ok(Response {
            status,
            headers,
            body: body.to_vec(),
            json,
            elapsed: started.elapsed(),
            received_at: now_epoch_seconds(),
            retried: Vec::new(),
            retry_withheld: false,
        })
    }
}

fn build_client(timeout: Duration, roots: &[reqwest::Certificate]) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("sendid-conformance/", env!("CARGO_PKG_VERSION")));
    roots
        .iter()
        .cloned()
        .fold(builder, reqwest::ClientBuilder::add_root_certificate)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}
