//! The bodies the sandbox's admin calls take and answer (`sandbox.rs` has the handlers): the
//! clock's, the journal's view and the lists, and one response per call. A fault rule, the
//! journal's fault note and a reset's answer are `crate::sandbox`'s own types, taken and shown
//! as they are.
use std::collections::BTreeMap;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde_json::Value;

use super::admin_response;
use super::body::JsonString;
use crate::api::error::ErrorBody;
use crate::sandbox::journal::FaultNote;
use crate::sandbox::reset::ResetDone;
use crate::sandbox::FaultRule;

#[derive(Debug, Object)]
pub struct FaultList {
    /// In creation order; spent rules stay listed (with `remaining` 0) until removed.
    pub faults: Vec<FaultRule>,
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
    pub fault: Option<FaultNote>,
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
    Created(Json<FaultRule>),
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
