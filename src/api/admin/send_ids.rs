//! The send identifiers of a campaign, listed in creation order.
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::types::{SendIdItem, SendIdList};
use super::{admin_response, existing_campaign, rfc3339, stored, AdminErrors, AdminTags, Paging};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;

admin_response!(ListSendIdsResponse {
    /// A page of the campaign's send identifiers, in creation order.
    #[oai(status = 200)]
    Ok(Json<SendIdList>),
    /// No such workspace, or no such campaign in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

pub struct SendIdsApi;

#[OpenApi(prefix_path = "/admin")]
impl SendIdsApi {
    /// List a campaign's send identifiers
    ///
    /// In creation order; `next` is the `after` value of the following page.
    #[oai(
        path = "/workspaces/:id/campaigns/:campaign_id/send-ids",
        method = "get",
        operation_id = "listSendIds",
        tag = "AdminTags::Campaigns"
    )]
    async fn list_send_ids(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        campaign_id: Path<String>,
        /// Page size, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` value of the previous page.
        after: Query<Option<String>>,
    ) -> ListSendIdsResponse {
        let paging = match Paging::parse(limit.0, after.0.as_deref(), |raw| raw.parse().ok()) {
            Ok(p) => p,
            Err(body) => return ListSendIdsResponse::bad_request(body),
        };
        if let Err(answer) =
            existing_campaign::<ListSendIdsResponse>(&state, &id.0, &campaign_id.0).await
        {
            return answer;
        }
        let page = state
            .store
            .list_send_ids(&campaign_id.0, paging.after, paging.limit)
            .await;
        stored(page, |page| {
            ListSendIdsResponse::Ok(Json(SendIdList {
                send_ids: page
                    .entries
                    .into_iter()
                    .map(|e| SendIdItem {
                        send_id: e.send_id,
                        created_at: rfc3339(e.created_at),
                    })
                    .collect(),
                next: page.next.map(|n| n.to_string()),
            }))
        })
    }
}
