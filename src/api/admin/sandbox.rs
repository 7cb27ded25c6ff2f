//! The sandbox's admin calls (`--sandbox`; docs/contract.md §3): reset, the clock, fault rules
//! and the request journal. Without `--sandbox` each answers 404 saying how to turn it on. What
//! they steer lives in `crate::sandbox`, whose fault rules and reset answers are the wire types
//! too; the other bodies and the responses are in `sandbox_types.rs`.
use std::collections::BTreeMap;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::body::AdminJson;
use super::sandbox_types::{
    ClockResponse, ClockView, CreateFaultResponse, DeletedResponse, FaultList, ListFaultsResponse,
    ListRequestsResponse, RequestList, RequestView, ResetResponse, SetClockRequest,
};
use super::{rfc3339, AdminErrors, NotFoundAnswer};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;
use crate::clock::Clock;
use crate::sandbox::journal::JournalEntry;
use crate::sandbox::reset::ResetError;
use crate::sandbox::{FaultRule, Sandbox, SANDBOX_OFF_MESSAGE};

#[derive(Tags)]
pub(super) enum SandboxTags {
    /// For integration tests (`--sandbox`): reset, clock, faults, request journal.
    Sandbox,
}

/// The sandbox, or the 404 that says how to turn it on.
fn sandbox<T: NotFoundAnswer>(state: &AppState) -> Result<&Sandbox, T> {
    state
        .sandbox
        .as_deref()
        .ok_or_else(|| T::not_found(ErrorBody::new(SANDBOX_OFF_MESSAGE)))
}

/// `answer` of the sandbox, or the 404 that says how to turn it on.
fn with_sandbox<T: NotFoundAnswer>(state: &AppState, answer: impl FnOnce(&Sandbox) -> T) -> T {
    match sandbox(state) {
        Ok(s) => answer(s),
        Err(off) => off,
    }
}

fn request_view(e: JournalEntry) -> RequestView {
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in e.headers {
        headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    RequestView {
        at: rfc3339(e.at_millis),
        method: e.method,
        path: e.path,
        headers,
        body: e.body,
        status: e.status,
        send_id: e.send_id,
        key_id: e.key_id,
        client_gone: e.client_gone,
        fault: e.fault,
    }
}

fn clock_view(sandbox: &Sandbox) -> ClockView {
    ClockView {
        now: rfc3339(sandbox.clock.now_millis()),
        offset_seconds: sandbox.clock.offset_seconds(),
    }
}

/// 0001-01-01 to 9999-12-31: the clock stays where dates print and days count.
const EARLIEST_MILLIS: i64 = -62_135_596_800_000;
const LATEST_MILLIS: i64 = 253_402_300_799_999;
/// A hundred years either way.
const MAX_OFFSET_SECONDS: i64 = 100 * 366 * 86_400;

pub struct SandboxApi;

#[OpenApi(prefix_path = "/admin")]
impl SandboxApi {
    /// Reset the store
    ///
    /// Back to the start: every workspace, campaign, key and pair is deleted, then the demo
    /// workspace is restored (with its campaign and the same key) and the fixtures, when the
    /// server has `--fixtures`, applied again. Fault rules, the journal and the clock are
    /// cleared too.
    #[oai(
        path = "/reset",
        method = "post",
        operation_id = "resetSandbox",
        tag = "SandboxTags::Sandbox"
    )]
    async fn reset(&self, _auth: AdminToken, state: Data<&AppState>) -> ResetResponse {
        let sandbox = match sandbox::<ResetResponse>(&state) {
            Ok(s) => s,
            Err(off) => return off,
        };
        let (store, fixtures) = (state.store.as_ref(), state.fixtures.as_deref());
        match crate::sandbox::reset::reset(store, fixtures, state.clock.as_ref(), sandbox).await {
            Ok(done) => ResetResponse::Ok(Json(done)),
            Err(ResetError::Store(e)) => ResetResponse::storage(e),
            Err(ResetError::Setup(e)) => ResetResponse::unavailable(ErrorBody::new(format!(
                "the store was reset but could not be set up again: {e}"
            ))),
        }
    }

    /// Read the service's clock
    #[oai(
        path = "/clock",
        method = "get",
        operation_id = "getClock",
        tag = "SandboxTags::Sandbox"
    )]
    async fn get_clock(&self, _auth: AdminToken, state: Data<&AppState>) -> ClockResponse {
        with_sandbox(&state, |s| ClockResponse::Ok(Json(clock_view(s))))
    }

    /// Move the service's clock
    ///
    /// `{"now": RFC 3339}` jumps to that time, `{"offset_seconds": n}` sets it n seconds from
    /// real time; either way it moves on from there. The quota day, `X-RateLimit-Reset`,
    /// `Retry-After` and `created_at` follow it.
    #[oai(
        path = "/clock",
        method = "put",
        operation_id = "setClock",
        tag = "SandboxTags::Sandbox"
    )]
    async fn set_clock(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        body: AdminJson<SetClockRequest>,
    ) -> ClockResponse {
        let sandbox = match sandbox::<ClockResponse>(&state) {
            Ok(s) => s,
            Err(off) => return off,
        };
        let bad = |m: &str| ClockResponse::bad_request(ErrorBody::new(m));
        match (body.0.now, body.0.offset_seconds) {
            (Some(now), None) => {
                let Ok(t) = chrono::DateTime::parse_from_rfc3339(&now.0) else {
                    return bad("now must be an RFC 3339 time, e.g. 2026-12-01T23:59:50Z");
                };
                let millis = t.timestamp_millis();
                if !(EARLIEST_MILLIS..=LATEST_MILLIS).contains(&millis) {
                    return bad("now must be between the years 1 and 9999");
                }
                sandbox.clock.set_now_millis(millis);
            }
            (None, Some(offset)) => {
                if !(-MAX_OFFSET_SECONDS..=MAX_OFFSET_SECONDS).contains(&offset) {
                    return bad("offset_seconds must be within 100 years (3162240000 seconds)");
                }
                sandbox.clock.set_offset_seconds(offset);
            }
            (Some(_), Some(_)) => return bad("give now or offset_seconds, not both"),
            (None, None) => return bad("now or offset_seconds is required"),
        }
        ClockResponse::Ok(Json(clock_view(sandbox)))
    }

    /// Return the clock to real time
    #[oai(
        path = "/clock",
        method = "delete",
        operation_id = "resetClock",
        tag = "SandboxTags::Sandbox"
    )]
    async fn reset_clock(&self, _auth: AdminToken, state: Data<&AppState>) -> ClockResponse {
        with_sandbox(&state, |s| {
            s.clock.reset();
            ClockResponse::Ok(Json(clock_view(s)))
        })
    }

    /// Add a fault rule
    ///
    /// From the next request on, requests to `POST /sends/id/create` that the rule matches
    /// (once their key is known) get its action: a status with a JSON body (`Retry-After` on
    /// 429 and 503), a delay, or a closed connection. `before` answers without calling the store
    /// (nothing stored or spent); `after` lets the request commit, then delays, replaces or drops
    /// its answer. A request gets at most one fault: the first rule, in creation order, that
    /// matches and has applications left.
    #[oai(
        path = "/faults",
        method = "post",
        operation_id = "createFault",
        tag = "SandboxTags::Sandbox"
    )]
    async fn create_fault(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        body: AdminJson<FaultRule>,
    ) -> CreateFaultResponse {
        let sandbox = match sandbox::<CreateFaultResponse>(&state) {
            Ok(s) => s,
            Err(off) => return off,
        };
        match sandbox.faults.add(body.0) {
            Ok(rule) => CreateFaultResponse::Created(Json(rule)),
            Err(e) => CreateFaultResponse::bad_request(ErrorBody::new(e.0)),
        }
    }

    /// List the fault rules
    #[oai(
        path = "/faults",
        method = "get",
        operation_id = "listFaults",
        tag = "SandboxTags::Sandbox"
    )]
    async fn list_faults(&self, _auth: AdminToken, state: Data<&AppState>) -> ListFaultsResponse {
        with_sandbox(&state, |s| {
            ListFaultsResponse::Ok(Json(FaultList {
                faults: s.faults.list(),
            }))
        })
    }

    /// Remove every fault rule
    #[oai(
        path = "/faults",
        method = "delete",
        operation_id = "deleteFaults",
        tag = "SandboxTags::Sandbox"
    )]
    async fn delete_faults(&self, _auth: AdminToken, state: Data<&AppState>) -> DeletedResponse {
        with_sandbox(&state, |s| {
            s.faults.clear();
            DeletedResponse::NoContent
        })
    }

    /// Remove a fault rule
    #[oai(
        path = "/faults/:id",
        method = "delete",
        operation_id = "deleteFault",
        tag = "SandboxTags::Sandbox"
    )]
    async fn delete_fault(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> DeletedResponse {
        with_sandbox(&state, |s| {
            if s.faults.remove(&id.0) {
                DeletedResponse::NoContent
            } else {
                DeletedResponse::not_found(ErrorBody::new(format!("fault rule {} not found", id.0)))
            }
        })
    }

    /// The last public requests
    ///
    /// Newest first, from a journal of the last 1000 kept in memory: method, path, headers (the
    /// key shown as its `key_id`), body, the status the client got, the send_id, the fault
    /// applied.
    #[oai(
        path = "/requests",
        method = "get",
        operation_id = "listRequests",
        tag = "SandboxTags::Sandbox"
    )]
    async fn list_requests(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        /// How many, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> ListRequestsResponse {
        with_sandbox(&state, |s| {
            ListRequestsResponse::Ok(Json(RequestList {
                requests: s
                    .journal
                    .recent(limit.0.unwrap_or(100) as usize)
                    .into_iter()
                    .map(request_view)
                    .collect(),
            }))
        })
    }

    /// Clear the request journal
    #[oai(
        path = "/requests",
        method = "delete",
        operation_id = "clearRequests",
        tag = "SandboxTags::Sandbox"
    )]
    async fn clear_requests(&self, _auth: AdminToken, state: Data<&AppState>) -> DeletedResponse {
        with_sandbox(&state, |s| {
            s.journal.clear();
            DeletedResponse::NoContent
        })
    }
}
