//! `GET /sends/data_series` (docs/contract.md §6): a send ID's analytics, one entry per UTC day.
//! Authentication and permission are decided before this handler (`security.rs`).
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::data_series_types::{day, DataSeriesSuccess};
use super::error::ErrorBody;
use super::security::{BrazeApiKey, Principal};
use super::sends::ApiTags;
use super::trigger::unknown_send_id;
use super::AppState;
use crate::domain::analytics::series;
use crate::domain::series::{check_length, days, parse_ending_at};
use crate::domain::UtcDay;

/// Every answer `GET /sends/data_series` can give.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum DataSeriesResponse {
    /// The send's series: one entry per UTC day of the range, oldest first.
    #[oai(status = 200)]
    Ok(Json<DataSeriesSuccess>),
    /// A parameter is missing or malformed (the message names it: `length` outside 1–100,
    /// an `ending_at` that is not ISO 8601), `campaign_id` is not a campaign of the key's
    /// workspace (`Invalid campaign_id`), or the `send_id` was not created for it.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No `Authorization: Bearer` header, or an unknown or revoked API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The key lacks the permission `sends.data_series`, or the caller's IP is outside the
    /// key's allow-list.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Storage failed. Safe to retry.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

fn bad_request(err: poem::Error) -> DataSeriesResponse {
    match err.status() {
        StatusCode::UNAUTHORIZED => {
            DataSeriesResponse::Unauthorized(Json(ErrorBody::new(super::sends::MISSING_BEARER)))
        }
        _ => DataSeriesResponse::BadRequest(Json(ErrorBody::new(parameter_message(
            &err.to_string(),
        )))),
    }
}

/// poem-openapi refuses a parameter it cannot parse with `failed to parse parameter `length`:
/// …`; `length` is said in the words of its range check (`domain::series::check_length`).
fn parameter_message(message: &str) -> String {
    let max = crate::domain::series::MAX_LENGTH;
    match message.strip_prefix("failed to parse parameter `length`") {
        Some(detail) if detail.contains("expects an input") => {
            format!("length is required: a whole number between 1 and {max} (inclusive)")
        }
        Some(_) => format!("length must be a whole number between 1 and {max} (inclusive)"),
        None => message.to_owned(),
    }
}

fn refused(message: impl Into<String>) -> DataSeriesResponse {
    DataSeriesResponse::BadRequest(Json(ErrorBody::new(message)))
}

pub struct DataSeriesApi;

#[OpenApi]
impl DataSeriesApi {
    /// Export send analytics
    ///
    /// A daily series of statistics for a send ID of an API campaign: `length` UTC days ending
    /// with the day of `ending_at` (default: now), oldest first. `sent` counts the recipients
    /// dispatched that day with this send ID (a broadcast counts the campaign's
    /// `audience_size`), `unique_recipients` the distinct ones; the other counts are 0 unless a
    /// sandbox set them. Analytics are kept for 14 days after the send: older days answer 0.
    /// Try it out after creating `spring-sale-2026-11-27` with the create operation's example.
    #[oai(
        path = "/sends/data_series",
        method = "get",
        operation_id = "getSendDataSeries",
        tag = "ApiTags::Sends"
    )]
    #[allow(clippy::too_many_arguments)] // one extractor per parameter
    async fn data_series(
        &self,
        _auth: BrazeApiKey,
        principal: Data<&Principal>,
        state: Data<&AppState>,
        /// The campaign the send ID belongs to.
        #[oai(example = "demo_campaign")]
        campaign_id: Query<String>,
        /// A send ID created for the campaign (or generated for its broadcast).
        #[oai(example = "demo_send_id")]
        send_id: Query<String>,
        /// Days before `ending_at` to include: 1 to 100.
        #[oai(
            example = "demo_length",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        length: Query<i64>,
        /// When the series ends: an ISO 8601 date-time (e.g. `2014-12-10T23:59:59-05:00`) or
        /// date; default: now.
        ending_at: Query<Option<String>>,
    ) -> DataSeriesResponse {
        let length = match check_length(length.0) {
            Ok(l) => l,
            Err(e) => return refused(e),
        };
        let now = state.clock.now_seconds();
        let ending_at = match ending_at.0.as_deref() {
            None => now,
            Some(raw) => match parse_ending_at(raw) {
                Ok(t) => t,
                Err(e) => return refused(e),
            },
        };
        if campaign_id.0.is_empty() {
            return refused("campaign_id must not be empty");
        }
        let campaign = match state.store.campaign(&campaign_id.0).await {
            Ok(c) => c.filter(|c| c.workspace_id == principal.workspace.id),
            Err(e) => return unavailable(e),
        };
        let Some(campaign) = campaign else {
            return refused("Invalid campaign_id");
        };
        match state
            .store
            .pair_exists(&campaign.campaign_id, &send_id.0)
            .await
        {
            Ok(true) => {}
            Ok(false) => return refused(unknown_send_id(&send_id.0)),
            Err(e) => return unavailable(e),
        }
        let range = days(ending_at, length);
        let (from, to) = span_millis(&range);
        let dispatches = state
            .store
            .dispatches_of_send(&campaign.campaign_id, &send_id.0, from, to)
            .await;
        let stats = state
            .store
            .send_stats(&campaign.campaign_id, &send_id.0)
            .await;
        let (dispatches, stats) = match (dispatches, stats) {
            (Ok(d), Ok(s)) => (d, s),
            (Err(e), _) | (_, Err(e)) => return unavailable(e),
        };
        let data = series(&range, &dispatches, &stats, now)
            .iter()
            .map(|c| day(&campaign.channel, &campaign.campaign_id, c))
            .collect();
        DataSeriesResponse::Ok(Json(DataSeriesSuccess {
            message: "success".into(),
            data,
        }))
    }
}

/// Unix milliseconds from the start of the first day to the end of the last (exclusive).
fn span_millis(range: &[UtcDay]) -> (i64, i64) {
    let first = range.first().map_or(0, |d| d.number());
    let last = range.last().map_or(0, |d| d.number());
    (first * 86_400_000, (last + 1) * 86_400_000)
}

fn demo_campaign() -> String {
    crate::demo::DEMO_CAMPAIGN_ID.into()
}

fn demo_send_id() -> String {
    crate::demo::DEMO_SEND_ID.into()
}

fn demo_length() -> i64 {
    7
}

fn unavailable(e: crate::store::StoreError) -> DataSeriesResponse {
    tracing::error!(error = %e, "storage failure on GET /sends/data_series");
    DataSeriesResponse::Unavailable(Json(ErrorBody::new("Storage is unavailable; retry later.")))
}
