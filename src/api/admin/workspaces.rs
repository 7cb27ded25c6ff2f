//! Workspaces: create, list, and one with today's quota.
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::body::AdminJson;
use super::types::{
    CreateWorkspaceRequest, QuotaView, UpdateWorkspaceRequest, WorkspaceDetails, WorkspaceList,
    WorkspaceView,
};
use super::{
    admin_response, existing_workspace, found, next_of, removed, stored, AdminErrors, AdminTags,
    Paging, DEFAULT_DAILY_QUOTA,
};
use crate::api::error::ErrorBody;
use crate::api::security::AdminToken;
use crate::api::AppState;
use crate::domain::{QuotaStatus, UtcDay};
use crate::store::{StoreError, Workspace, WorkspaceChange};

admin_response!(CreateWorkspaceResponse {
    /// The workspace was created.
    #[oai(status = 201)]
    Created(Json<WorkspaceView>),
});

admin_response!(GetWorkspaceResponse {
    /// The workspace, with today's quota.
    #[oai(status = 200)]
    Ok(Json<WorkspaceDetails>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(UpdateWorkspaceResponse {
    /// The workspace as changed, with today's quota.
    #[oai(status = 200)]
    Ok(Json<WorkspaceDetails>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(DeleteWorkspaceResponse {
    /// The workspace is gone, with its campaigns, their send identifiers and its keys (which
    /// answer 401 from now on).
    #[oai(status = 204)]
    NoContent,
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
} not_found);

admin_response!(ListWorkspacesResponse {
    /// A page of workspaces, in creation order.
    #[oai(status = 200)]
    Ok(Json<WorkspaceList>),
});

pub(super) fn workspace_view(w: Workspace) -> WorkspaceView {
    WorkspaceView {
        id: w.id,
        name: w.name,
        daily_send_id_quota: w.daily_send_id_quota,
    }
}

/// A workspace with today's quota, as `GET` and `PATCH` answer it.
async fn details(state: &AppState, workspace: Workspace) -> Result<WorkspaceDetails, StoreError> {
    let now = state.clock.now_seconds();
    let used = state
        .store
        .used_on(&workspace.id, UtcDay::containing(now))
        .await?;
    let q = QuotaStatus::new(workspace.daily_send_id_quota, used, now);
    Ok(WorkspaceDetails {
        id: workspace.id,
        name: workspace.name,
        daily_send_id_quota: workspace.daily_send_id_quota,
        quota: QuotaView {
            limit: q.limit,
            used_today: q.used,
            remaining: q.remaining(),
            reset: q.reset,
        },
    })
}

pub struct WorkspacesApi;

#[OpenApi(prefix_path = "/admin")]
impl WorkspacesApi {
    /// Create a workspace
    #[oai(
        path = "/workspaces",
        method = "post",
        operation_id = "createWorkspace",
        tag = "AdminTags::Workspaces"
    )]
    async fn create_workspace(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        body: AdminJson<CreateWorkspaceRequest>,
    ) -> CreateWorkspaceResponse {
        let workspace = Workspace {
            id: uuid::Uuid::new_v4().to_string(),
            name: body.0.name.0,
            daily_send_id_quota: body.0.daily_send_id_quota.unwrap_or(DEFAULT_DAILY_QUOTA),
            created_at: state.clock.now_millis(),
            seq: 0,
        };
        stored(state.store.create_workspace(&workspace).await, |()| {
            CreateWorkspaceResponse::Created(Json(workspace_view(workspace)))
        })
    }

    /// List workspaces
    ///
    /// In creation order; `next` is the `after` value of the following page.
    #[oai(
        path = "/workspaces",
        method = "get",
        operation_id = "listWorkspaces",
        tag = "AdminTags::Workspaces"
    )]
    async fn list_workspaces(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        /// Page size, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` value of the previous page.
        after: Query<Option<String>>,
    ) -> ListWorkspacesResponse {
        let paging = match Paging::of_records(limit.0, after.0.as_deref()) {
            Ok(p) => p,
            Err(body) => return ListWorkspacesResponse::bad_request(body),
        };
        let page = state
            .store
            .list_workspaces(paging.after.as_ref(), paging.limit)
            .await;
        stored(page, |page| {
            ListWorkspacesResponse::Ok(Json(WorkspaceList {
                next: next_of(&page),
                workspaces: page.items.into_iter().map(workspace_view).collect(),
            }))
        })
    }

    /// Get a workspace and today's quota
    #[oai(
        path = "/workspaces/:id",
        method = "get",
        operation_id = "getWorkspace",
        tag = "AdminTags::Workspaces"
    )]
    async fn get_workspace(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> GetWorkspaceResponse {
        let workspace = match existing_workspace(&state, &id.0).await {
            Ok(w) => w,
            Err(answer) => return answer,
        };
        stored(details(&state, workspace).await, |d| {
            GetWorkspaceResponse::Ok(Json(d))
        })
    }

    /// Change a workspace's name or daily quota
    ///
    /// Fields absent or `null` stay as they are. A new quota applies from the next request;
    /// units already spent today stay spent.
    #[oai(
        path = "/workspaces/:id",
        method = "patch",
        operation_id = "updateWorkspace",
        tag = "AdminTags::Workspaces"
    )]
    async fn update_workspace(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
        body: AdminJson<UpdateWorkspaceRequest>,
    ) -> UpdateWorkspaceResponse {
        let change = WorkspaceChange {
            name: body.0.name.map(|n| n.0),
            daily_send_id_quota: body.0.daily_send_id_quota,
        };
        let workspace = match found(
            state.store.update_workspace(&id.0, &change).await,
            "workspace",
        ) {
            Ok(w) => w,
            Err(answer) => return answer,
        };
        stored(details(&state, workspace).await, |d| {
            UpdateWorkspaceResponse::Ok(Json(d))
        })
    }

    /// Delete a workspace
    ///
    /// Its campaigns, their send identifiers and its API keys go with it; its keys answer 401
    /// from then on (on PostgreSQL, on every instance within a second).
    #[oai(
        path = "/workspaces/:id",
        method = "delete",
        operation_id = "deleteWorkspace",
        tag = "AdminTags::Workspaces"
    )]
    async fn delete_workspace(
        &self,
        _auth: AdminToken,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> DeleteWorkspaceResponse {
        removed(
            state.store.delete_workspace(&id.0).await,
            "workspace",
            DeleteWorkspaceResponse::NoContent,
        )
    }
}
