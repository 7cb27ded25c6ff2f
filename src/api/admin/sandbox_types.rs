//! The bodies the sandbox's admin calls take and answer (`sandbox.rs` has the handlers): the
//! schemas of its part of the document, and one response per call.
use std::collections::BTreeMap;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};
use serde_json::Value;

use super::admin_response;
use super::body::JsonString;
use crate::api::error::ErrorBody;

/// What a fault rule matches; an absent field matches any public request.
#[derive(Debug, Object, Default)]
#[oai(deny_unknown_fields)]
pub struct FaultMatchBody {
    /// The workspace of the request's key.
    #[oai(nullable)]
    pub workspace_id: Option<JsonString>,
    /// The body's `campaign_id`.
    #[oai(nullable)]
    pub campaign_id: Option<JsonString>,
    /// The request's key, by its `key_id`.
    #[oai(nullable)]
    pub key_id: Option<JsonString>,
    /// The body's `send_id` starts with this (a request without one, whose id the service
    /// generates, never matches).
    #[oai(nullable)]
    pub send_id_prefix: Option<JsonString>,
}

/// What a fault does: wait `delay_ms`, then answer `status` or `close` the connection without
/// an answer; a `delay_ms` alone delays the usual answer.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct FaultActionBody {
    /// Answer this status (400–599) with a JSON error body; 429 and 503 carry `Retry-After`.
    #[oai(nullable, validator(minimum(value = "400"), maximum(value = "599")))]
    pub status: Option<u16>,
    /// The error body's `message` (default: the status's reason and the rule's id).
    #[oai(nullable)]
    pub message: Option<JsonString>,
    /// `Retry-After` seconds (default 1 on 429 and 503).
    #[oai(nullable)]
    pub retry_after: Option<u64>,
    /// Wait this long first, up to 30000 ms.
    #[oai(nullable, validator(maximum(value = "30000")))]
    pub delay_ms: Option<u64>,
    /// Close the connection without an answer.
    #[oai(nullable)]
    pub close: Option<bool>,
}

/// Before the store (nothing stored or spent) or after the handler committed (stored and
/// spent; the answer delayed, replaced or lost).
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum FaultWhen {
    Before,
    After,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateFaultRequest {
    /// Which requests (to `POST /sends/id/create`, once their key is known); absent: all.
    #[oai(rename = "match", nullable)]
    pub matcher: Option<FaultMatchBody>,
    pub action: FaultActionBody,
    /// `before` (default) or `after`.
    #[oai(nullable)]
    pub when: Option<FaultWhen>,
    /// Apply to the next N matching requests; absent: to every one until the rule is removed.
    #[oai(nullable, validator(minimum(value = "1")))]
    pub times: Option<u64>,
    /// Apply to each matching request with this probability (0 to 1).
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "1")))]
    pub probability: Option<f64>,
    /// The seed of `probability`'s draws: the same seed, the same pattern (random when absent,
    /// and shown in the answer).
    #[oai(nullable)]
    pub seed: Option<u64>,
}

#[derive(Debug, Object)]
pub struct FaultMatchView {
    #[oai(nullable)]
    pub workspace_id: Option<String>,
    #[oai(nullable)]
    pub campaign_id: Option<String>,
    #[oai(nullable)]
    pub key_id: Option<String>,
    #[oai(nullable)]
    pub send_id_prefix: Option<String>,
}

#[derive(Debug, Object)]
pub struct FaultActionView {
    #[oai(nullable)]
    pub status: Option<u16>,
    #[oai(nullable)]
    pub message: Option<String>,
    #[oai(nullable)]
    pub retry_after: Option<u64>,
    #[oai(nullable)]
    pub delay_ms: Option<u64>,
    pub close: bool,
}

#[derive(Debug, Object)]
pub struct FaultView {
    pub id: String,
    #[oai(rename = "match")]
    pub matcher: FaultMatchView,
    pub action: FaultActionView,
    pub when: FaultWhen,
    #[oai(nullable)]
    pub times: Option<u64>,
    #[oai(nullable)]
    pub probability: Option<f64>,
    #[oai(nullable)]
    pub seed: Option<u64>,
    /// Applications left; `null` when the rule applies until removed.
    #[oai(nullable)]
    pub remaining: Option<u64>,
    /// Requests it was applied to so far.
    pub applied: u64,
}

#[derive(Debug, Object)]
pub struct FaultList {
    /// In creation order; spent rules stay listed (with `remaining` 0) until removed.
    pub faults: Vec<FaultView>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct SetClockRequest {
    /// The time to jump to (RFC 3339, e.g. `2026-12-01T23:59:50Z`); the clock moves on from it.
    #[oai(nullable)]
    pub now: Option<JsonString>,
    /// Or: real time plus this many seconds (negative: the past), within 100 years.
    #[oai(
        nullable,
        validator(minimum(value = "-3162240000"), maximum(value = "3162240000"))
    )]
    pub offset_seconds: Option<i64>,
}

#[derive(Debug, Object)]
pub struct ClockView {
    /// The service's time now (RFC 3339).
    pub now: String,
    /// Seconds between it and real time.
    pub offset_seconds: i64,
}

#[derive(Debug, Object)]
pub struct FaultApplied {
    /// The rule's id.
    pub id: String,
    pub when: String,
    /// What it did: `status 503`, `delay 1500 ms`, `close`, or several.
    pub action: String,
    /// What the request got before the fault replaced or dropped it: for an `after` fault, and
    /// for a request refused before the fault layer (no key, another path), which any rule
    /// without `match` faults too.
    #[oai(nullable)]
    pub original_status: Option<u16>,
}

#[derive(Debug, Object)]
pub struct RequestView {
    /// When the service received it, by its clock (RFC 3339).
    pub at: String,
    pub method: String,
    /// The path and query, as sent.
    pub path: String,
    /// The request's headers (names lowercased); `authorization` shows the key's `key_id`,
    /// never the key.
    pub headers: BTreeMap<String, String>,
    /// The body: JSON as sent, or text; `null` when it was not read (refused before it).
    #[oai(nullable)]
    pub body: Option<Value>,
    /// The status sendid answered; `null` when the connection was closed without one. Whether
    /// the client received it: `client_gone`.
    #[oai(nullable)]
    pub status: Option<u16>,
    /// The send_id asked for, or the one the service answered with.
    #[oai(nullable)]
    pub send_id: Option<String>,
    #[oai(nullable)]
    pub key_id: Option<String>,
    #[oai(nullable)]
    pub fault: Option<FaultApplied>,
    /// `true` when the client had closed its connection (or dropped the request) before the
    /// answer was ready — e.g. it timed out during a delay fault: `status` is what sendid
    /// answered, and nobody received it. `false`: the client was there when the answer left.
    pub client_gone: bool,
}

#[derive(Debug, Object)]
pub struct RequestList {
    /// Newest first.
    pub requests: Vec<RequestView>,
}

#[derive(Debug, Object)]
pub struct ResetDone {
    /// What was done.
    pub message: String,
    /// The demo workspace, restored with its campaign and key (the same key as before).
    #[oai(nullable)]
    pub demo_workspace_id: Option<String>,
    /// Only when the server started without a demo workspace and the reset created one: its
    /// key, shown this once.
    #[oai(nullable)]
    pub demo_api_key: Option<String>,
}

/// Declares a sandbox call's response: `admin_response!` with the 404 every sandbox call gives
/// when the server runs without `--sandbox`. Its description is "The sandbox is off.", or the
/// literal given after the braces (for a call that has another reason to answer 404).
macro_rules! sandbox_response {
    ($(#[$meta:meta])* $name:ident { $($variants:tt)* }) => {
        sandbox_response!($(#[$meta])* $name { $($variants)* } "The sandbox is off.");
    };
    ($(#[$meta:meta])* $name:ident { $($variants:tt)* } $off:literal) => {
        admin_response!($(#[$meta])* $name {
            $($variants)*
            #[doc = $off]
            #[oai(status = 404)]
            NotFound(Json<ErrorBody>),
        } not_found);
    };
}

sandbox_response!(ResetResponse {
    /// The store is back to its start; the rules, the journal and the clock too.
    #[oai(status = 200)]
    Ok(Json<ResetDone>),
});

sandbox_response!(ClockResponse {
    /// The service's clock now.
    #[oai(status = 200)]
    Ok(Json<ClockView>),
});

sandbox_response!(
    // Answered once per rule added: its size does not matter.
    #[allow(clippy::large_enum_variant)]
    CreateFaultResponse {
    /// The rule is in force from the next request on.
    #[oai(status = 201)]
    Created(Json<FaultView>),
});

sandbox_response!(ListFaultsResponse {
    /// Every rule, with what is left of it.
    #[oai(status = 200)]
    Ok(Json<FaultList>),
});

sandbox_response!(DeletedResponse {
    /// Removed.
    #[oai(status = 204)]
    NoContent,
} "The sandbox is off, or no such rule.");

sandbox_response!(ListRequestsResponse {
    /// The last public requests, newest first.
    #[oai(status = 200)]
    Ok(Json<RequestList>),
});
