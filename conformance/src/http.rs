//! What goes over the wire: a request as the checker built it, a response as received, and the
//! `curl` command that replays a request with the key masked.
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::shell::shell_quote;

pub use crate::retry::{Busy, Retried, RetryPolicy, GIVE_UP_AFTER};

/// Bodies above this size are sent on a connection of their own.
const LARGE_BODY: usize = 16 * 1024;

/// Which secret an `Authorization` header carries, so it can be masked everywhere it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    ApiKey,
    ForbiddenApiKey,
}

impl Secret {
    pub fn env_var(self) -> &'static str {
        match self {
            Secret::ApiKey => "SENDID_API_KEY",
            Secret::ForbiddenApiKey => "SENDID_FORBIDDEN_API_KEY",
        }
    }
}

/// How the `Authorization` header is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `<scheme> <secret>`.
    Secret {
        scheme: String,
        secret: Secret,
    },
    /// A literal value (garbage keys, empty bearer): nothing to mask.
    Literal(String),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path relative to the base URL, starting with `/`.
    pub path: String,
    pub auth: Auth,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub json: Option<Value>,
    pub elapsed: Duration,
    /// Wall clock (epoch seconds) when the answer arrived.
    pub received_at: i64,
    /// Busy answers to the same request before this one, each retried (`--profile braze`).
    pub retried: Vec<Retried>,
    /// Not retried: the retry could have created a pair, and the budget had no unit left.
    pub retry_withheld: bool,
}

impl Response {
    /// A header by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header_i64(&self, name: &str) -> Option<i64> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// `send_id` of a JSON body.
    pub fn send_id(&self) -> Option<&str> {
        self.json.as_ref()?.get("send_id")?.as_str()
    }

    pub fn message(&self) -> Option<&str> {
        self.json.as_ref()?.get("message")?.as_str()
    }

    pub fn remaining(&self) -> Option<i64> {
        self.header_i64("x-ratelimit-remaining")
    }

    pub fn limit(&self) -> Option<i64> {
        self.header_i64("x-ratelimit-limit")
    }

    pub fn reset(&self) -> Option<i64> {
        self.header_i64("x-ratelimit-reset")
    }

    /// A busy answer: 5XX, or a 429 that is not the send-ID quota (`Remaining` not 0).
    pub fn busy(&self) -> Option<Busy> {
        match self.status {
            500..=599 => Some(Busy::ServerError),
            429 if self.remaining() != Some(0) => Some(Busy::RateLimited),
            200..=299 if self.message() == Some("queued") => Some(Busy::Queued),
            _ => None,
        }
    }

    /// `Retry-After` in seconds (the delta-seconds form).
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

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
    given_up_in_a_row: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// Certificate authorities trusted besides the built-in ones (`--ca-cert`).
    roots: Vec<reqwest::Certificate>,
}

/// The request could not be sent or its answer not read.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub reason: String,
    pub connect: bool,
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

    fn secret(&self, secret: Secret) -> &str {
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

    /// [`Target::send`], asking `may_retry` before each retry of a request every attempt of
    /// which may create a pair ([`Request::creates_anew_on_each_attempt`]); `false` ends the
    /// retries. A retry of a given send_id is at worst a repeat: never asked.
    pub async fn send_guarded(
        &self,
        req: &Request,
        may_retry: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<Response, TransportError> {
        use std::sync::atomic::Ordering;
        let Some(policy) = self.retry else {
            return self.send_once(req).await;
        };
        let guarded = req.creates_anew_on_each_attempt();
        let mut retried = Vec::new();
        loop {
            let mut resp = self.send_once(req).await?;
            let Some(kind) = resp.busy() else {
                self.given_up_in_a_row.store(0, Ordering::Relaxed);
                resp.retried = retried;
                return Ok(resp);
            };
            let attempt = retried.len() as u32;
            let down = self.given_up_in_a_row.load(Ordering::Relaxed) >= GIVE_UP_AFTER;
            let backoff = policy.backoff.saturating_mul(1 << attempt.min(16));
            let wait = match resp.retry_after() {
                Some(after) if after > backoff => (after, true),
                _ => (backoff, false),
            };
            if attempt >= policy.retries || down || wait.0 > policy.max_wait {
                if !down {
                    self.given_up_in_a_row.fetch_add(1, Ordering::Relaxed);
                }
                resp.retried = retried;
                return Ok(resp);
            }
            if guarded && !may_retry() {
                resp.retried = retried;
                resp.retry_withheld = true;
                return Ok(resp);
            }
            tokio::time::sleep(wait.0).await;
            retried.push(Retried {
                status: resp.status,
                kind,
                waited: wait.0,
                retry_after: wait.1,
            });
        }
    }

    async fn send_once(&self, req: &Request) -> Result<Response, TransportError> {
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

impl Target {
    fn authorization(&self, auth: &Auth) -> Option<String> {
        match auth {
            Auth::None => None,
            Auth::Secret { scheme, secret } => Some(format!("{scheme} {}", self.secret(*secret))),
            Auth::Literal(v) => Some(v.clone()),
        }
    }

    /// HTTP/1.1 over a plain socket: writes what it can, then reads the answer whatever happened
    /// to the write. Only for `http://` targets and large bodies.
    async fn send_raw(&self, req: &Request) -> Result<Response, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let url = url::Url::parse(&self.url(&req.path)).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("no host")?.to_string();
        let port = url.port_or_known_default().ok_or("no port")?;
        let timeout = self.timeout;
        let started = std::time::Instant::now();
        let work = async {
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| e.to_string())?;
            let mut head = format!(
                "{} {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n",
                req.method,
                &url[url::Position::BeforePath..]
            );
            if let Some(a) = self.authorization(&req.auth) {
                head.push_str(&format!("Authorization: {a}\r\n"));
            }
            if let Some(ct) = &req.content_type {
                head.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            let body = req.body.clone().unwrap_or_default();
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream
                .write_all(head.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.write_all(&body).await;
            let mut raw = Vec::new();
            let read = stream.read_to_end(&mut raw).await;
            if raw.is_empty() {
                return Err(match read {
                    Ok(_) => "no answer: the connection closed".to_string(),
                    Err(e) => format!("no answer: {e}"),
                });
            }
            Ok::<_, String>(raw)
        };
        let raw = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| "timed out".to_string())??;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        let header_len = match parsed.parse(&raw).map_err(|e| e.to_string())? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Err("a partial answer".into()),
        };
        let status = parsed.code.ok_or("no status")?;
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let mut body = raw[header_len..].to_vec();
        if let Some(len) = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        {
            body.truncate(len);
        }
        let json = serde_json::from_slice(&body).ok();
        Ok(Response {
            status,
            headers,
            body,
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

pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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

/// A value for people, in double quotes with JSON's escapes (never Rust's debug form).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// An optional text for people: quoted, or what its absence means.
pub fn quote_or(s: Option<&str>, absent: &str) -> String {
    s.map_or_else(|| absent.to_string(), quote)
}

/// A body as text for people: UTF-8 with escapes, cut to `max` bytes.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut text = String::new();
    // On one line, as written: only control characters are escaped (JSON's way).
    for c in String::from_utf8_lossy(shown).chars() {
        match c {
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            '\t' => text.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(text, "\\u{:04x}", c as u32);
            }
            c => text.push(c),
        }
    }
    if bytes.len() > max {
        let _ = write!(text, "… ({} bytes in all)", bytes.len());
    }
    text
}

impl Request {
    /// A `POST` naming a campaign and no send_id (absent or `null`): each committed attempt
    /// creates a pair (a busy answer may come after the commit), so a retry may spend a unit.
    pub fn creates_anew_on_each_attempt(&self) -> bool {
        if self.method != "POST" {
            return false;
        }
        let Some(Value::Object(body)) = self
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return false;
        };
        body.get("campaign_id").is_some_and(Value::is_string)
            && body.get("send_id").is_none_or(Value::is_null)
    }

    /// The request for people, with the key masked.
    pub fn describe(&self, target: &Target) -> String {
        let mut out = format!("{} {}", self.method, target.url(&self.path));
        match &self.auth {
            Auth::None => out.push_str("\n  (no Authorization)"),
            Auth::Secret { scheme, secret } => {
                let _ = write!(
                    out,
                    "\n  Authorization: {scheme} **** (${})",
                    secret.env_var()
                );
            }
            Auth::Literal(v) => {
                let _ = write!(out, "\n  Authorization: {}", excerpt(v.as_bytes(), 200));
            }
        }
        if let Some(ct) = &self.content_type {
            let _ = write!(out, "\n  Content-Type: {}", excerpt(ct.as_bytes(), 200));
        }
        match &self.body {
            Some(body) => {
                let _ = write!(out, "\n  body: {}", excerpt(body, 300));
            }
            None => out.push_str("\n  (no body)"),
        }
        out
    }

    /// A `curl` command that sends this request again; keys come from the environment.
    pub fn curl(&self, target: &Target) -> String {
        let mut prefix = String::new();
        let mut cmd = format!(
            "curl -sS -i -X {} {}",
            self.method,
            shell_quote(target.url(&self.path).as_bytes())
        );
        match &self.auth {
            Auth::None => {}
            Auth::Secret { scheme, secret } => {
                let _ = write!(cmd, " -H \"Authorization: {scheme} ${}\"", secret.env_var());
            }
            Auth::Literal(v) => {
                let _ = write!(
                    cmd,
                    " -H {}",
                    shell_quote(format!("Authorization: {v}").as_bytes())
                );
            }
        }
        match &self.content_type {
            Some(ct) => {
                let _ = write!(
                    cmd,
                    " -H {}",
                    shell_quote(format!("Content-Type: {ct}").as_bytes())
                );
            }
            // curl would add a form content type of its own.
            None if self.body.is_some() => cmd.push_str(" -H 'Content-Type:'"),
            None => {}
        }
        if let Some(body) = &self.body {
            match long_space_run(body) {
                Some((start, len)) if body.len() > 1024 => {
                    // Oversized bodies: generate the padding instead of printing it.
                    let _ = write!(
                        prefix,
                        "printf '%s%*s%s' {} {len} '' {} | ",
                        shell_quote(&body[..start]),
                        shell_quote(&body[start + len..])
                    );
                    cmd.push_str(" --data-binary @-");
                }
                _ => {
                    let _ = write!(cmd, " --data-binary {}", shell_quote(body));
                }
            }
        }
        format!("{prefix}{cmd}")
    }
}

fn long_space_run(body: &[u8]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < body.len() {
        if body[i] == b' ' {
            let start = i;
            while i < body.len() && body[i] == b' ' {
                i += 1;
            }
            let len = i - start;
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((start, len));
            }
        } else {
            i += 1;
        }
    }
    best.filter(|(_, len)| *len >= 512)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_show_bodies_as_written() {
        assert_eq!(
            excerpt(br#"{"message":"a	b"}"#, 100),
            r#"{"message":"a\tb"}"#
        );
        assert_eq!(
            excerpt(
                b"a
b", 100
            ),
            r"a\nb\u0001"
        );
        assert_eq!(excerpt(b"abcdef", 3), "abc… (6 bytes in all)");
    }

    #[test]
    fn curl_masks_the_key() {
        let target = Target::new(
            url::Url::parse("http://h:1").expect("url"),
            Duration::from_secs(1),
            "SECRET".into(),
            None,
        );
        let req = Request {
            method: "POST".into(),
            path: "/sends/id/create".into(),
            auth: Auth::Secret {
                scheme: "Bearer".into(),
                secret: Secret::ApiKey,
            },
            content_type: Some("application/json".into()),
            body: Some(br#"{"campaign_id":"c"}"#.to_vec()),
        };
        let curl = req.curl(&target);
        assert!(!curl.contains("SECRET"), "{curl}");
        assert!(curl.contains("$SENDID_API_KEY"), "{curl}");
        assert!(!req.describe(&target).contains("SECRET"));
    }
}
