//! Campaigns of a workspace: create and list.
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::body::{AdminJson, JsonString};
use super::types::{CampaignList, CampaignView, CreateCampaignRequest};
use super::{
    admin_response, existing_campaign, existing_workspace, next_of, removed, stored,
    workspace_listing, AdminErrors, AdminTags, CAMPAIGN_IN_WORKSPACE,
};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;
use crate::domain::series::{parse_channel, DEFAULT_CHANNEL};
use crate::domain::CampaignId;
use crate::store::{Campaign, StoreError};

admin_response!(CreateCampaignResponse {
    /// The campaign was created.
    #[oai(status = 201)]
    Created(Json<CampaignView>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// A campaign with this id exists.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
} not_found);

admin_response!(ListCampaignsResponse {
    /// A page of the workspace's campaigns, in creation order.
    #[oai(status = 200)]
    Ok(Json<CampaignList>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(DeleteCampaignResponse {
    /// The campaign is gone with its send identifiers; quota they spent stays spent.
    #[oai(status = 204)]
    NoContent,
    /// No such workspace, or no such campaign in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

fn campaign_view(c: Campaign) -> CampaignView {
    CampaignView {
        campaign_id: c.campaign_id,
        name: c.name,
        channel: c.channel,
        audience_size: c.audience_size,
    }
}

pub struct CampaignsApi;

#[OpenApi(prefix_path = "/admin")]
impl CampaignsApi {
    /// List a workspace's campaigns
    ///
    /// In creation order; `next` is the `after` value of the following page.
    #[oai(
        path = "/workspaces/:id/campaigns",
        method = "get",
        operation_id = "listCampaigns",
        tag = "AdminTags::Campaigns"
    )]
    async fn list_campaigns(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        /// Page size, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` value of the previous page.
        after: Query<Option<String>>,
    ) -> ListCampaignsResponse {
        let paging = match workspace_listing(&state, &id.0, limit.0, after.0.as_deref()).await {
            Ok(p) => p,
            Err(answer) => return answer,
        };
        let page = state
            .store
            .list_campaigns(&id.0, paging.after.as_ref(), paging.limit)
            .await;
        stored(page, |page| {
            ListCampaignsResponse::Ok(Json(CampaignList {
                next: next_of(&page),
                campaigns: page.items.into_iter().map(campaign_view).collect(),
            }))
        })
    }

    /// Create a campaign in a workspace
    #[oai(
        path = "/workspaces/:id/campaigns",
        method = "post",
        operation_id = "createCampaign",
        tag = "AdminTags::Campaigns"
    )]
    async fn create_campaign(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        body: AdminJson<CreateCampaignRequest>,
    ) -> CreateCampaignResponse {
        if let Err(answer) = existing_workspace::<CreateCampaignResponse>(&state, &id.0).await {
            return answer;
        }
        let campaign_id = match body.0.campaign_id {
            Some(JsonString(raw)) => match CampaignId::parse(raw) {
                Ok(c) => c,
                Err(e) => {
                    return CreateCampaignResponse::bad_request(ErrorBody::new(e.to_string()))
                }
            },
            None => CampaignId::generate(),
        };
        let channel = match body.0.channel {
            Some(JsonString(raw)) => match parse_channel(&raw) {
                Ok(c) => c,
                Err(e) => return CreateCampaignResponse::bad_request(ErrorBody::new(e)),
            },
            None => DEFAULT_CHANNEL,
        };
        let campaign = Campaign {
            channel: channel.to_string(),
            audience_size: body.0.audience_size.unwrap_or(0),
            name: body.0.name.map_or_else(|| campaign_id.to_string(), |n| n.0),
            campaign_id: campaign_id.to_string(),
            workspace_id: id.0,
            created_at: state.clock.now_millis(),
            seq: 0,
        };
        match state.store.create_campaign(&campaign).await {
            Ok(()) => CreateCampaignResponse::Created(Json(campaign_view(campaign))),
            Err(StoreError::Conflict { .. }) => CreateCampaignResponse::Conflict(Json(
                ErrorBody::new(format!("campaign {} already exists", campaign.campaign_id)),
            )),
            Err(e) => CreateCampaignResponse::storage(e),
        }
    }

    /// Delete a campaign
    ///
    /// Its send identifiers go with it; the quota they spent stays spent.
    #[oai(
        path = "/workspaces/:id/campaigns/:campaign_id",
        method = "delete",
        operation_id = "deleteCampaign",
        tag = "AdminTags::Campaigns"
    )]
    async fn delete_campaign(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        campaign_id: Path<String>,
    ) -> DeleteCampaignResponse {
        if let Err(answer) =
            existing_campaign::<DeleteCampaignResponse>(&state, &id.0, &campaign_id.0).await
        {
            return answer;
        }
        removed(
            state.store.delete_campaign(&campaign_id.0).await,
            CAMPAIGN_IN_WORKSPACE,
            DeleteCampaignResponse::NoContent,
        )
    }
}
