//! What goes over the wire: a request as the checker built it, a response as received.
use std::time::Duration;

use serde_json::Value;

use super::retry::{Busy, Retried};

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

/// The request could not be sent or its answer not read.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub reason: String,
    pub connect: bool,
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
}

pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
