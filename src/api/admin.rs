//! The admin API (docs/contract.md §2): workspaces, campaigns, API keys and the send identifiers of a
//! campaign. Not part of Braze; it lets an operator set the service up without a restart.
//! The token check and the body limit happen before these handlers (see `security.rs`).
use std::borrow::Cow;

use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;

use super::admin_body::AdminJson;
use super::error::ErrorBody;
use super::security::AdminToken;
use super::AppState;
use crate::domain::{CampaignId, Permission, QuotaStatus, UtcDay, DEFAULT_DAILY_QUOTA};
use crate::store::{ApiKeyRecord, Campaign, ListCursor, Page, StoreError, Workspace};

#[derive(Tags)]
enum AdminTags {
    /// Workspaces and their daily quota.
    Workspaces,
    /// Campaigns of a workspace and their send identifiers.
    Campaigns,
    /// REST API keys.
    ApiKeys,
}

/// A request field that must be a JSON string. poem-openapi's `String` also takes numbers and
/// booleans (`{"name": 1}` would become `"1"`), while the document says `type: string` and the
/// contract calls a field of the wrong type a bad request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonString(pub String);

impl Type for JsonString {
    const IS_REQUIRED: bool = true;
    // Validators (length, pattern) see the inner `String`.
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        String::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for JsonString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Self(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for JsonString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateWorkspaceRequest {
    /// A name for people, 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: JsonString,
    /// New send identifiers the workspace may create per UTC day (default 100; `null` is the
    /// same as absent).
    #[oai(nullable)]
    pub daily_send_id_quota: Option<u64>,
}

#[derive(Debug, Object)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub daily_send_id_quota: u64,
}

#[derive(Debug, Object)]
pub struct QuotaView {
    /// The daily quota.
    pub limit: u64,
    /// New send identifiers created today (UTC).
    pub used_today: u64,
    /// What is left today.
    pub remaining: u64,
    /// Unix epoch seconds of the next 00:00 UTC.
    pub reset: i64,
}

#[derive(Debug, Object)]
pub struct WorkspaceDetails {
    pub id: String,
    pub name: String,
    pub daily_send_id_quota: u64,
    pub quota: QuotaView,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateCampaignRequest {
    /// 1 to 128 printable ASCII characters; generated (a UUID) when absent or `null`.
    #[oai(
        validator(min_length = 1, max_length = 128, pattern = "^[ -~]+$"),
        nullable
    )]
    pub campaign_id: Option<JsonString>,
    /// A name for people; defaults to the campaign id.
    #[oai(validator(max_length = 200), nullable)]
    pub name: Option<JsonString>,
}

#[derive(Debug, Object)]
pub struct CampaignView {
    pub campaign_id: String,
    pub name: String,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateApiKeyRequest {
    /// A name for people.
    #[oai(validator(max_length = 200), nullable)]
    pub name: Option<JsonString>,
    /// Permissions, from the known set: `sends.id.create`.
    #[oai(validator(max_items = 100))]
    pub permissions: Vec<JsonString>,
    /// CIDR blocks (or single addresses) the key may be used from; absent, `null` or empty:
    /// anywhere.
    #[oai(validator(max_items = 100), nullable)]
    pub allowed_ips: Option<Vec<JsonString>>,
}

// Examples Swagger UI fills "Try it out" with: each executes as it stands on a new data
// directory (a fixed campaign id would give 409 on the second try, so the campaign's is left to
// the service to generate).
impl Example for CreateWorkspaceRequest {
    fn example() -> Self {
        Self {
            name: JsonString("Spring sale team".into()),
            daily_send_id_quota: Some(DEFAULT_DAILY_QUOTA),
        }
    }
}

impl Example for CreateCampaignRequest {
    fn example() -> Self {
        Self {
            campaign_id: None,
            name: Some(JsonString("Spring sale 2026".into())),
        }
    }
}

impl Example for CreateApiKeyRequest {
    fn example() -> Self {
        Self {
            name: Some(JsonString("checkout service".into())),
            permissions: vec![JsonString(crate::domain::SENDS_ID_CREATE.into())],
            allowed_ips: Some(vec![]),
        }
    }
}

#[derive(Debug, Object)]
pub struct ApiKeyCreated {
    pub key_id: String,
    /// The key itself. Shown this once; only its hash is stored.
    pub api_key: String,
    pub permissions: Vec<String>,
    pub allowed_ips: Vec<String>,
}

#[derive(Debug, Object)]
pub struct SendIdItem {
    pub send_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[derive(Debug, Object)]
pub struct SendIdList {
    pub send_ids: Vec<SendIdItem>,
    /// The `after` value that fetches the next page; `null` on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

#[derive(Debug, Object)]
pub struct WorkspaceList {
    pub workspaces: Vec<WorkspaceView>,
    /// The `after` value that fetches the next page; `null` on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

#[derive(Debug, Object)]
pub struct CampaignList {
    pub campaigns: Vec<CampaignView>,
    /// The `after` value that fetches the next page; `null` on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

/// An API key as listed: what it may do, never the key or its hash.
#[derive(Debug, Object)]
pub struct ApiKeyView {
    pub key_id: String,
    #[oai(nullable)]
    pub name: Option<String>,
    pub permissions: Vec<String>,
    /// CIDR blocks; empty means "any address".
    pub allowed_ips: Vec<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// A revoked key answers 401.
    pub revoked: bool,
}

#[derive(Debug, Object)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyView>,
    /// The `after` value that fetches the next page; `null` on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
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

fn admin_bad_request<T: AdminErrors>(err: poem::Error) -> T {
    let body = ErrorBody::new(err.to_string());
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

/// Declares an admin response enum: the given variants plus the shared error answers.
macro_rules! admin_response {
    ($(#[$meta:meta])* $name:ident { $($variants:tt)* }) => {
        $(#[$meta])*
        #[derive(ApiResponse)]
        #[oai(bad_request_handler = "admin_bad_request")]
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

        impl AdminErrors for $name {
            fn bad_request(body: ErrorBody) -> Self { Self::BadRequest(Json(body)) }
            fn unauthorized(body: ErrorBody) -> Self { Self::Unauthorized(Json(body)) }
            fn payload_too_large(body: ErrorBody) -> Self { Self::PayloadTooLarge(Json(body)) }
            fn unsupported_media_type(body: ErrorBody) -> Self { Self::UnsupportedMediaType(Json(body)) }
            fn unavailable(body: ErrorBody) -> Self { Self::Unavailable(Json(body)) }
        }
    };
}

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
});

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
});

admin_response!(CreateApiKeyResponse {
    /// The key was created; `api_key` is shown only this once.
    #[oai(status = 201)]
    Created(Json<ApiKeyCreated>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
});

admin_response!(DeleteApiKeyResponse {
    /// The key is revoked: it answers 401 from now on.
    #[oai(status = 204)]
    NoContent,
    /// No such key.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
});

admin_response!(ListSendIdsResponse {
    /// A page of the campaign's send identifiers, in creation order.
    #[oai(status = 200)]
    Ok(Json<SendIdList>),
    /// No such workspace, or no such campaign in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
});

admin_response!(ListWorkspacesResponse {
    /// A page of workspaces, in creation order.
    #[oai(status = 200)]
    Ok(Json<WorkspaceList>),
});

admin_response!(ListCampaignsResponse {
    /// A page of the workspace's campaigns, in creation order.
    #[oai(status = 200)]
    Ok(Json<CampaignList>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
});

admin_response!(ListApiKeysResponse {
    /// A page of the workspace's API keys (revoked ones included), in creation order.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
    /// No such workspace.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
});

const BAD_CURSOR: &str = "after must be the `next` value of a previous page";
const DEFAULT_PAGE: u32 = 100;

/// The `after` query parameter of the workspace, campaign and key listings.
fn list_cursor(after: Option<&str>) -> Result<Option<ListCursor>, ErrorBody> {
    match after {
        None => Ok(None),
        Some(raw) => ListCursor::decode(raw)
            .map(Some)
            .ok_or_else(|| ErrorBody::new(BAD_CURSOR)),
    }
}

fn next_of<T>(page: &Page<T>) -> Option<String> {
    page.next.as_ref().map(ListCursor::encode)
}

fn workspace_view(w: Workspace) -> WorkspaceView {
    WorkspaceView {
        id: w.id,
        name: w.name,
        daily_send_id_quota: w.daily_send_id_quota,
    }
}

fn not_found(what: &str) -> Json<ErrorBody> {
    Json(ErrorBody::new(format!("{what} not found")))
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub struct AdminApi;

#[OpenApi(prefix_path = "/admin")]
impl AdminApi {
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
        match state.store.create_workspace(&workspace).await {
            Ok(()) => CreateWorkspaceResponse::Created(Json(workspace_view(workspace))),
            Err(e) => CreateWorkspaceResponse::storage(e),
        }
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
        let after = match list_cursor(after.0.as_deref()) {
            Ok(a) => a,
            Err(body) => return ListWorkspacesResponse::bad_request(body),
        };
        let limit = limit.0.unwrap_or(DEFAULT_PAGE) as usize;
        match state.store.list_workspaces(after.as_ref(), limit).await {
            Ok(page) => ListWorkspacesResponse::Ok(Json(WorkspaceList {
                next: next_of(&page),
                workspaces: page.items.into_iter().map(workspace_view).collect(),
            })),
            Err(e) => ListWorkspacesResponse::storage(e),
        }
    }

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
        let after = match list_cursor(after.0.as_deref()) {
            Ok(a) => a,
            Err(body) => return ListCampaignsResponse::bad_request(body),
        };
        match state.store.workspace(&id.0).await {
            Ok(Some(_)) => {}
            Ok(None) => return ListCampaignsResponse::NotFound(not_found("workspace")),
            Err(e) => return ListCampaignsResponse::storage(e),
        }
        let limit = limit.0.unwrap_or(DEFAULT_PAGE) as usize;
        match state
            .store
            .list_campaigns(&id.0, after.as_ref(), limit)
            .await
        {
            Ok(page) => ListCampaignsResponse::Ok(Json(CampaignList {
                next: next_of(&page),
                campaigns: page
                    .items
                    .into_iter()
                    .map(|c| CampaignView {
                        campaign_id: c.campaign_id,
                        name: c.name,
                    })
                    .collect(),
            })),
            Err(e) => ListCampaignsResponse::storage(e),
        }
    }

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
        let after = match list_cursor(after.0.as_deref()) {
            Ok(a) => a,
            Err(body) => return ListApiKeysResponse::bad_request(body),
        };
        match state.store.workspace(&id.0).await {
            Ok(Some(_)) => {}
            Ok(None) => return ListApiKeysResponse::NotFound(not_found("workspace")),
            Err(e) => return ListApiKeysResponse::storage(e),
        }
        let limit = limit.0.unwrap_or(DEFAULT_PAGE) as usize;
        match state
            .store
            .list_api_keys(&id.0, after.as_ref(), limit)
            .await
        {
            Ok(page) => ListApiKeysResponse::Ok(Json(ApiKeyList {
                next: next_of(&page),
                api_keys: page
                    .items
                    .into_iter()
                    .map(|k| ApiKeyView {
                        key_id: k.key_id,
                        name: k.name,
                        permissions: k.permissions,
                        allowed_ips: k.allowed_ips.iter().map(ToString::to_string).collect(),
                        created_at: rfc3339(k.created_at),
                        revoked: k.revoked_at.is_some(),
                    })
                    .collect(),
            })),
            Err(e) => ListApiKeysResponse::storage(e),
        }
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
        let workspace = match state.store.workspace(&id.0).await {
            Ok(Some(w)) => w,
            Ok(None) => return GetWorkspaceResponse::NotFound(not_found("workspace")),
            Err(e) => return GetWorkspaceResponse::storage(e),
        };
        let now = state.clock.now_seconds();
        let used = match state
            .store
            .used_on(&workspace.id, UtcDay::containing(now))
            .await
        {
            Ok(u) => u,
            Err(e) => return GetWorkspaceResponse::storage(e),
        };
        let q = QuotaStatus::new(workspace.daily_send_id_quota, used, now);
        GetWorkspaceResponse::Ok(Json(WorkspaceDetails {
            id: workspace.id,
            name: workspace.name,
            daily_send_id_quota: workspace.daily_send_id_quota,
            quota: QuotaView {
                limit: q.limit,
                used_today: q.used,
                remaining: q.remaining(),
                reset: q.reset,
            },
        }))
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
        match state.store.workspace(&id.0).await {
            Ok(Some(_)) => {}
            Ok(None) => return CreateCampaignResponse::NotFound(not_found("workspace")),
            Err(e) => return CreateCampaignResponse::storage(e),
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
        let campaign = Campaign {
            name: body.0.name.map_or_else(|| campaign_id.to_string(), |n| n.0),
            campaign_id: campaign_id.to_string(),
            workspace_id: id.0,
            created_at: state.clock.now_millis(),
            seq: 0,
        };
        match state.store.create_campaign(&campaign).await {
            Ok(()) => CreateCampaignResponse::Created(Json(CampaignView {
                campaign_id: campaign.campaign_id,
                name: campaign.name,
            })),
            Err(StoreError::Conflict(_)) => CreateCampaignResponse::Conflict(Json(ErrorBody::new(
                format!("campaign {} already exists", campaign.campaign_id),
            ))),
            Err(e) => CreateCampaignResponse::storage(e),
        }
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
        match state.store.workspace(&id.0).await {
            Ok(Some(_)) => {}
            Ok(None) => return CreateApiKeyResponse::NotFound(not_found("workspace")),
            Err(e) => return CreateApiKeyResponse::storage(e),
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
            .filter_map(|raw| parse_cidr(&raw.0).map_err(|e| errors.push(e)).ok())
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
        match state.store.create_api_key(&record).await {
            Ok(()) => CreateApiKeyResponse::Created(Json(ApiKeyCreated {
                key_id: record.key_id,
                api_key: key.expose().to_string(),
                permissions: record.permissions,
                allowed_ips: record.allowed_ips.iter().map(ToString::to_string).collect(),
            })),
            Err(e) => CreateApiKeyResponse::storage(e),
        }
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
        match state.store.revoke_api_key(&key_id.0, now).await {
            Ok(true) => DeleteApiKeyResponse::NoContent,
            Ok(false) => {
                DeleteApiKeyResponse::NotFound(not_found("api key (or it is already revoked)"))
            }
            Err(e) => DeleteApiKeyResponse::storage(e),
        }
    }

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
        let after = match after.0.as_deref().map(str::parse::<u64>) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => return ListSendIdsResponse::bad_request(ErrorBody::new(BAD_CURSOR)),
        };
        match state.store.campaign(&campaign_id.0).await {
            Ok(Some(c)) if c.workspace_id == id.0 => {}
            Ok(_) => {
                return ListSendIdsResponse::NotFound(not_found("campaign (in this workspace)"))
            }
            Err(e) => return ListSendIdsResponse::storage(e),
        }
        let limit = limit.0.unwrap_or(DEFAULT_PAGE) as usize;
        match state
            .store
            .list_send_ids(&campaign_id.0, after, limit)
            .await
        {
            Ok(page) => ListSendIdsResponse::Ok(Json(SendIdList {
                send_ids: page
                    .entries
                    .into_iter()
                    .map(|e| SendIdItem {
                        send_id: e.send_id,
                        created_at: rfc3339(e.created_at),
                    })
                    .collect(),
                next: page.next.map(|n| n.to_string()),
            })),
            Err(e) => ListSendIdsResponse::storage(e),
        }
    }
}

fn parse_cidr(raw: &str) -> Result<ipnet::IpNet, String> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("allowed_ips: {raw:?} is not a CIDR block or IP address"))
}
