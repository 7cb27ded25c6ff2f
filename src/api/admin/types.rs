//! The bodies the admin API takes and answers: the schemas of its document. The handlers, by
//! resource, are in the sibling files.
use poem_openapi::types::Example;
use poem_openapi::Object;

use super::body::JsonString;
use super::DEFAULT_DAILY_QUOTA;

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

/// The fields of a workspace to change; those absent (or `null`) stay as they are.
#[derive(Debug, Object)]
#[oai(example)]
pub struct UpdateWorkspaceRequest {
    /// A name for people, 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200), nullable)]
    pub name: Option<JsonString>,
    /// New send identifiers the workspace may create per UTC day, from the next request on.
    /// Units already spent today stay spent.
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
    /// The channel `GET /sends/data_series` keys its statistics by: `email` (default),
    /// `ios_push`, `android_push`, `kindle_push`, `web_push`, `webhook`, `sms`, `whats_app`,
    /// `content_cards` or `in_app_message`.
    #[oai(nullable)]
    pub channel: Option<JsonString>,
    /// How many users a broadcast of the campaign reaches: what `sent` counts for it
    /// (default 0).
    #[oai(nullable)]
    pub audience_size: Option<u64>,
}

#[derive(Debug, Object)]
pub struct CampaignView {
    pub campaign_id: String,
    pub name: String,
    pub channel: String,
    pub audience_size: u64,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateApiKeyRequest {
    /// A name for people.
    #[oai(validator(max_length = 200), nullable)]
    pub name: Option<JsonString>,
    /// Permissions, from the known set: `sends.id.create`, `campaigns.trigger.send`,
    /// `sends.data_series`.
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

impl Example for UpdateWorkspaceRequest {
    fn example() -> Self {
        Self {
            name: None,
            daily_send_id_quota: Some(5),
        }
    }
}

impl Example for CreateCampaignRequest {
    fn example() -> Self {
        Self {
            campaign_id: None,
            name: Some(JsonString("Spring sale 2026".into())),
            channel: Some(JsonString(crate::domain::series::DEFAULT_CHANNEL.into())),
            audience_size: Some(1000),
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
