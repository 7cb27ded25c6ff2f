//! A campaign's dispatches (docs/contract.md §6): listed with their recipients, in creation
//! order; and, in the sandbox, the per-day stats of one of its send IDs.
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::body::AdminJson;
use super::lifecycle_types::{
    dispatch_view, stats_day_view, DispatchList, SetStatsRequest, StatsView,
};
use super::sandbox::SandboxTags;
use super::{
    admin_response, existing_campaign, stored, AdminErrors, AdminTags, NotFoundAnswer, Paging,
};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;
use crate::domain::series::{date_of, parse_date};
use crate::domain::DayStats;

admin_response!(ListDispatchesResponse {
    /// A page of the campaign's dispatches, in creation order.
    #[oai(status = 200)]
    Ok(Json<DispatchList>),
    /// No such workspace, or no such campaign in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(SetStatsResponse {
    /// The stats the send ID now holds.
    #[oai(status = 200)]
    Ok(Json<StatsView>),
    /// No such workspace, campaign in it, or send ID of the campaign; or the sandbox is off.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

pub struct DispatchesApi;

#[OpenApi(prefix_path = "/admin")]
impl DispatchesApi {
    /// List a campaign's dispatches
    ///
    /// Every `POST /campaigns/trigger/send` of the campaign with its recipients, in creation
    /// order; with `send_id`, only those of that send ID. `next` is the `after` value of the
    /// following page.
    #[oai(
        path = "/workspaces/:id/campaigns/:campaign_id/dispatches",
        method = "get",
        operation_id = "listDispatches",
        tag = "AdminTags::Campaigns"
    )]
    #[allow(clippy::too_many_arguments)] // one extractor per parameter
    async fn list_dispatches(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        campaign_id: Path<String>,
        /// Only the dispatches of this send ID.
        send_id: Query<Option<String>>,
        /// Page size, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` value of the previous page.
        after: Query<Option<String>>,
    ) -> ListDispatchesResponse {
        let paging = match Paging::parse(limit.0, after.0.as_deref(), |raw| raw.parse().ok()) {
            Ok(p) => p,
            Err(body) => return ListDispatchesResponse::bad_request(body),
        };
        if let Err(answer) =
            existing_campaign::<ListDispatchesResponse>(&state, &id.0, &campaign_id.0).await
        {
            return answer;
        }
        let page = state
            .store
            .list_dispatches(
                &campaign_id.0,
                send_id.0.as_deref(),
                paging.after,
                paging.limit,
            )
            .await;
        stored(page, |page| {
            ListDispatchesResponse::Ok(Json(DispatchList {
                dispatches: page.dispatches.into_iter().map(dispatch_view).collect(),
                next: page.next.map(|n| n.to_string()),
            }))
        })
    }

    /// Set a send's per-day stats (sandbox)
    ///
    /// Replaces the stats `GET /sends/data_series` reads for this send ID besides what its
    /// dispatches count: delivered, opens, clicks, bounces, conversions and revenue per UTC
    /// day (absent: 0). Only with `--sandbox`.
    #[oai(
        path = "/workspaces/:id/campaigns/:campaign_id/send-ids/:send_id/stats",
        method = "put",
        operation_id = "setSendStats",
        tag = "SandboxTags::Sandbox"
    )]
    async fn set_stats(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        campaign_id: Path<String>,
        send_id: Path<String>,
        body: AdminJson<SetStatsRequest>,
    ) -> SetStatsResponse {
        if state.sandbox.is_none() {
            return SetStatsResponse::not_found(ErrorBody::new(
                crate::sandbox::SANDBOX_OFF_MESSAGE,
            ));
        }
        let days = match stats_days(body.0) {
            Ok(d) => d,
            Err(e) => return SetStatsResponse::bad_request(ErrorBody::new(e)),
        };
        if let Err(answer) =
            existing_campaign::<SetStatsResponse>(&state, &id.0, &campaign_id.0).await
        {
            return answer;
        }
        match state.store.pair_exists(&campaign_id.0, &send_id.0).await {
            Ok(true) => {}
            Ok(false) => {
                return SetStatsResponse::not_found(ErrorBody::new(
                    "send id (of this campaign) not found: create it with POST /sends/id/create",
                ))
            }
            Err(e) => return SetStatsResponse::storage(e),
        }
        let written = state
            .store
            .set_send_stats(&campaign_id.0, &send_id.0, &days)
            .await;
        stored(written, |()| {
            SetStatsResponse::Ok(Json(StatsView {
                campaign_id: campaign_id.0,
                send_id: send_id.0,
                days: days.into_iter().map(stats_day_view).collect(),
            }))
        })
    }
}

/// The days of a stats body, checked: real dates, each once, oldest first.
fn stats_days(body: SetStatsRequest) -> Result<Vec<DayStats>, String> {
    let mut days: Vec<(crate::domain::UtcDay, DayStats)> = Vec::new();
    for (i, d) in body.days.into_iter().enumerate() {
        let Some(day) = parse_date(&d.date.0) else {
            return Err(format!(
                "days[{i}].date must be a date YYYY-MM-DD, got {:?}",
                d.date.0
            ));
        };
        if days.iter().any(|(seen, _)| *seen == day) {
            return Err(format!("days[{i}].date: {} is listed twice", d.date.0));
        }
        let revenue = d.revenue.unwrap_or(0.0);
        if !(revenue.is_finite() && revenue >= 0.0) {
            return Err(format!("days[{i}].revenue must be a number of at least 0"));
        }
        days.push((
            day,
            DayStats {
                date: date_of(day),
                delivered: d.delivered.unwrap_or(0),
                opens: d.opens.unwrap_or(0),
                clicks: d.clicks.unwrap_or(0),
                bounces: d.bounces.unwrap_or(0),
                conversions: d.conversions.unwrap_or(0),
                revenue,
            },
        ));
    }
    days.sort_by_key(|(day, _)| *day);
    Ok(days.into_iter().map(|(_, d)| d).collect())
}
