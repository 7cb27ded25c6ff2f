//! REST API keys of a workspace: create (shown once), list (never the key), revoke.
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::body::AdminJson;
use super::types::{ApiKeyCreated, ApiKeyList, ApiKeyView, CreateApiKeyRequest};
use super::{
    admin_response, existing_workspace, next_of, removed, rfc3339, stored, workspace_listing,
    AdminTags,
};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;
use crate::domain::{parse_allowed_ip, Permission};
use crate::store::ApiKeyRecord;

admin_response!(CreateApiKeyResponse {
    /// The key was created; `api_key` is shown only this once.
    #[oai(status = 201)]
    Created(Json<ApiKeyCreated>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(DeleteApiKeyResponse {
    /// The key is revoked: it answers 401 from now on.
    #[oai(status = 204)]
    NoContent,
    /// No such key.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(ListApiKeysResponse {
    /// A page of the workspace's API keys (revoked ones included), in creation order.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

fn api_key_view(k: ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        key_id: k.key_id,
        name: k.name,
        permissions: k.permissions,
        allowed_ips: k.allowed_ips.iter().map(ToString::to_string).collect(),
        created_at: rfc3339(k.created_at),
        revoked: k.revoked_at.is_some(),
    }
}

pub struct ApiKeysApi;

#[OpenApi(prefix_path = "/admin")]
impl ApiKeysApi {
    /// List a workspace's API keys
    ///
    /// What each key may do and whether it is revoked; never the key itself, nor its hash. In
    /// creation order; `next` is the `after` value of the following page.
    #[oai(
        path = "/workspaces/:id/api-keys",
        method = "get",
        operation_id = "listApiKeys",
        tag = "AdminTags::ApiKeys"
    )]
    async fn list_api_keys(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        /// Page size, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` value of the previous page.
        after: Query<Option<String>>,
    ) -> ListApiKeysResponse {
        let paging = match workspace_listing(&state, &id.0, limit.0, after.0.as_deref()).await {
            Ok(p) => p,
            Err(answer) => return answer,
        };
        let page = state
            .store
            .list_api_keys(&id.0, paging.after.as_ref(), paging.limit)
            .await;
        stored(page, |page| {
            ListApiKeysResponse::Ok(Json(ApiKeyList {
                next: next_of(&page),
                api_keys: page.items.into_iter().map(api_key_view).collect(),
            }))
        })
    }

    /// Create a REST API key for a workspace
    ///
    /// The answer carries the key itself; it is never shown again (only its hash is stored).
    #[oai(
        path = "/workspaces/:id/api-keys",
        method = "post",
        operation_id = "createApiKey",
        tag = "AdminTags::ApiKeys"
    )]
    async fn create_api_key(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        body: AdminJson<CreateApiKeyRequest>,
    ) -> CreateApiKeyResponse {
        if let Err(answer) = existing_workspace::<CreateApiKeyResponse>(&state, &id.0).await {
            return answer;
        }
        let request = body.0;
        let mut errors = Vec::new();
        let permissions: Vec<String> = request
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(&p.0).map_err(|e| errors.push(e)).ok())
            .map(|p| p.as_str().to_string())
            .collect();
        let allowed_ips: Vec<ipnet::IpNet> = request
            .allowed_ips
            .unwrap_or_default()
            .iter()
            .filter_map(|raw| parse_allowed_ip(&raw.0).map_err(|e| errors.push(e)).ok())
            .collect();
        if !errors.is_empty() {
            return CreateApiKeyResponse::BadRequest(Json(ErrorBody {
                message: errors.join("; "),
                errors: Some(errors),
            }));
        }
        let (key, record) = ApiKeyRecord::mint(
            &id.0,
            request.name.map(|n| n.0),
            permissions,
            allowed_ips,
            state.clock.now_millis(),
        );
        stored(state.store.create_api_key(&record).await, |()| {
            CreateApiKeyResponse::Created(Json(ApiKeyCreated {
                key_id: record.key_id,
                api_key: key.expose().to_string(),
                permissions: record.permissions,
                allowed_ips: record.allowed_ips.iter().map(ToString::to_string).collect(),
            }))
        })
    }

    /// Revoke an API key
    #[oai(
        path = "/api-keys/:key_id",
        method = "delete",
        operation_id = "deleteApiKey",
        tag = "AdminTags::ApiKeys"
    )]
    async fn delete_api_key(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        key_id: Path<String>,
    ) -> DeleteApiKeyResponse {
        let now = state.clock.now_millis();
        removed(
            state.store.revoke_api_key(&key_id.0, now).await,
            "api key (or it is already revoked)",
            DeleteApiKeyResponse::NoContent,
        )
    }
}
