//! The admin API (docs/contract.md §2): workspaces, campaigns, API keys and the send identifiers of a
//! campaign. Not part of Braze; it lets an operator set the service up without a restart.
//! The token check and the body limit happen before these handlers (see `security.rs`).
//!
//! One file per resource holds its handlers (`workspaces.rs`, `campaigns.rs`, `api_keys.rs`,
//! `send_ids.rs`, `sandbox.rs`); the bodies are in `types.rs` (the sandbox's in
//! `sandbox_types.rs`), their parsing in `body.rs`. This file has what every handler shares:
//! the error answers, the lookups that answer 404 or 503 for the handler ("the workspace
//! exists", "the campaign is in it", "it was removed"), and `limit`/`after` paging.
mod api_keys;
pub mod body;
mod campaigns;
mod dispatches;
mod lifecycle_types;
mod sandbox;
mod sandbox_types;
mod send_ids;
pub mod types;
mod workspaces;

use poem::http::StatusCode;
use poem_openapi::Tags;

use super::error::ErrorBody;
use super::AppState;
use crate::store::{Campaign, ListCursor, Page, StoreError, Workspace};

pub use api_keys::ApiKeysApi;
pub use campaigns::CampaignsApi;
pub use dispatches::DispatchesApi;
pub use sandbox::SandboxApi;
pub use send_ids::SendIdsApi;
pub use workspaces::WorkspacesApi;

pub use crate::domain::DEFAULT_DAILY_QUOTA;

/// The whole admin API, one `#[OpenApi]` impl per resource.
pub type AdminApi = (
    WorkspacesApi,
    CampaignsApi,
    ApiKeysApi,
    SendIdsApi,
    DispatchesApi,
    SandboxApi,
);

/// The whole admin API, as `docs.rs` documents and `routes.rs` serves it.
pub fn admin_api() -> AdminApi {
    (
        WorkspacesApi,
        CampaignsApi,
        ApiKeysApi,
        SendIdsApi,
        DispatchesApi,
        SandboxApi,
    )
}

#[derive(Tags)]
enum AdminTags {
    /// Workspaces and their daily quota.
    Workspaces,
    /// Campaigns of a workspace, their send identifiers and dispatches.
    Campaigns,
    /// REST API keys.
    ApiKeys,
}

/// The error answers every admin call shares.
pub trait AdminErrors: Sized {
    fn bad_request(body: ErrorBody) -> Self;
    fn unauthorized(body: ErrorBody) -> Self;
    fn payload_too_large(body: ErrorBody) -> Self;
    fn unsupported_media_type(body: ErrorBody) -> Self;
    fn unavailable(body: ErrorBody) -> Self;

    fn storage(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure on the admin API");
        Self::unavailable(ErrorBody::new(
            "Storage is unavailable; nothing was stored. Retry later.",
        ))
    }
}

/// The answers of calls on something that may not exist (404).
pub trait NotFoundAnswer: AdminErrors {
    fn not_found(body: ErrorBody) -> Self;
}

/// What a refused `limit` says; every admin listing takes 1 to 1000 (the `validator` of each
/// `limit` parameter; tests/api/admin.rs holds the two together on every listing).
const LIMIT_MESSAGE: &str = "limit must be a whole number from 1 to 1000 (default 100)";

/// poem-openapi refuses a query or path parameter with `failed to parse parameter `limit`:
/// verification failed. minimum(1, exclusive: false)`; the house says which parameter and what
/// it takes.
fn parameter_message(message: &str) -> Option<String> {
    let rest = message.strip_prefix("failed to parse parameter `")?;
    let (name, detail) = rest.split_once('`')?;
    Some(match name {
        "limit" => LIMIT_MESSAGE.to_string(),
        _ => format!(
            "{name} is not valid{}",
            detail
                .trim_start_matches(':')
                .trim_end()
                .split_once(' ')
                .map_or(String::new(), |(_, d)| format!(": {d}"))
        ),
    })
}

fn admin_bad_request<T: AdminErrors>(err: poem::Error) -> T {
    let message = err.to_string();
    let body = ErrorBody::new(parameter_message(&message).unwrap_or(message));
    match err.status() {
        StatusCode::UNAUTHORIZED => {
            T::unauthorized(ErrorBody::new("Missing or invalid admin token"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => T::payload_too_large(body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            T::unsupported_media_type(ErrorBody::new("Content-Type must be application/json"))
        }
        _ => T::bad_request(body),
    }
}

/// Declares an admin response enum: the given variants plus the shared error answers. A
/// variant `NotFound(Json<ErrorBody>)` makes it a [`NotFoundAnswer`] (write `not_found` after
/// the braces).
macro_rules! admin_response {
    ($(#[$meta:meta])* $name:ident { $($variants:tt)* } not_found) => {
        admin_response!($(#[$meta])* $name { $($variants)* });

        impl $crate::api::admin::NotFoundAnswer for $name {
            fn not_found(body: ErrorBody) -> Self { Self::NotFound(Json(body)) }
        }
    };
    ($(#[$meta:meta])* $name:ident { $($variants:tt)* }) => {
        $(#[$meta])*
        #[derive(ApiResponse)]
        #[oai(bad_request_handler = "super::admin_bad_request")]
        pub enum $name {
            $($variants)*
            /// The request is malformed: a field is missing, of the wrong type or out of bounds.
            #[oai(status = 400)]
            BadRequest(Json<ErrorBody>),
            /// Missing or wrong admin token.
            #[oai(status = 401)]
            Unauthorized(Json<ErrorBody>),
            /// The body is larger than 64 KiB.
            #[oai(status = 413)]
            PayloadTooLarge(Json<ErrorBody>),
            /// The `Content-Type` is not JSON.
            #[oai(status = 415)]
            UnsupportedMediaType(Json<ErrorBody>),
            /// Storage failed; nothing was stored.
            #[oai(status = 503)]
            Unavailable(Json<ErrorBody>),
        }

        impl $crate::api::admin::AdminErrors for $name {
            fn bad_request(body: ErrorBody) -> Self { Self::BadRequest(Json(body)) }
            fn unauthorized(body: ErrorBody) -> Self { Self::Unauthorized(Json(body)) }
            fn payload_too_large(body: ErrorBody) -> Self { Self::PayloadTooLarge(Json(body)) }
            fn unsupported_media_type(body: ErrorBody) -> Self { Self::UnsupportedMediaType(Json(body)) }
            fn unavailable(body: ErrorBody) -> Self { Self::Unavailable(Json(body)) }
        }
    };
}
use admin_response;

/// The answer to a store call: `ok` of what it gave, or the 503 of its failure.
fn stored<T: AdminErrors, V>(result: Result<V, StoreError>, ok: impl FnOnce(V) -> T) -> T {
    match result {
        Ok(v) => ok(v),
        Err(e) => T::storage(e),
    }
}

/// What a store lookup found, or the answer to give when it found nothing (404 "`what` not
/// found") or failed (503).
fn found<T: NotFoundAnswer, V>(result: Result<Option<V>, StoreError>, what: &str) -> Result<V, T> {
    match result {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(T::not_found(not_found(what))),
        Err(e) => Err(T::storage(e)),
    }
}

/// The answer to a store call that removes something: `done` when it was there, else 404
/// "`what` not found" (or the 503 of a failure).
fn removed<T: NotFoundAnswer>(result: Result<bool, StoreError>, what: &str, done: T) -> T {
    match found::<T, ()>(result.map(|gone| gone.then_some(())), what) {
        Ok(()) => done,
        Err(answer) => answer,
    }
}

/// The workspace `id`, or the answer to give when it does not exist (404) or cannot be read.
async fn existing_workspace<T: NotFoundAnswer>(state: &AppState, id: &str) -> Result<Workspace, T> {
    found(state.store.workspace(id).await, "workspace")
}

const CAMPAIGN_IN_WORKSPACE: &str = "campaign (in this workspace)";

/// The campaign `campaign_id` of the workspace `workspace_id`, or the answer to give when there
/// is no such campaign in it (404) or it cannot be read.
async fn existing_campaign<T: NotFoundAnswer>(
    state: &AppState,
    workspace_id: &str,
    campaign_id: &str,
) -> Result<Campaign, T> {
    let campaign = state.store.campaign(campaign_id).await;
    found(
        campaign.map(|c| c.filter(|c| c.workspace_id == workspace_id)),
        CAMPAIGN_IN_WORKSPACE,
    )
}

/// The paging of a listing of the workspace `id`'s records, or the answer to give when `limit`
/// or `after` is off (400), the workspace does not exist (404) or cannot be read (503).
async fn workspace_listing<T: NotFoundAnswer>(
    state: &AppState,
    id: &str,
    limit: Option<u32>,
    after: Option<&str>,
) -> Result<Paging<ListCursor>, T> {
    let paging = Paging::of_records(limit, after).map_err(T::bad_request)?;
    existing_workspace::<T>(state, id).await?;
    Ok(paging)
}

const BAD_CURSOR: &str = "after must be the `next` value of a previous page";
const DEFAULT_PAGE: u32 = 100;

/// A listing's `limit` and `after`, checked: `C` is the listing's cursor.
struct Paging<C> {
    after: Option<C>,
    limit: usize,
}

impl<C> Paging<C> {
    fn parse(
        limit: Option<u32>,
        after: Option<&str>,
        decode: impl FnOnce(&str) -> Option<C>,
    ) -> Result<Self, ErrorBody> {
        let after = match after {
            None => None,
            Some(raw) => Some(decode(raw).ok_or_else(|| ErrorBody::new(BAD_CURSOR))?),
        };
        Ok(Self {
            after,
            limit: limit.unwrap_or(DEFAULT_PAGE) as usize,
        })
    }
}

impl Paging<ListCursor> {
    /// The paging of the workspace, campaign and key listings.
    fn of_records(limit: Option<u32>, after: Option<&str>) -> Result<Self, ErrorBody> {
        Self::parse(limit, after, ListCursor::decode)
    }
}

fn next_of<T>(page: &Page<T>) -> Option<String> {
    page.next.as_ref().map(ListCursor::encode)
}

fn not_found(what: &str) -> ErrorBody {
    ErrorBody::new(format!("{what} not found"))
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_parameter_is_named_with_what_it_takes() {
        let limit =
            "failed to parse parameter `limit`: verification failed. minimum(1, exclusive: false)";
        assert_eq!(parameter_message(limit).unwrap(), LIMIT_MESSAGE);
        assert!(parameter_message("Request body is empty").is_none());
    }
}
