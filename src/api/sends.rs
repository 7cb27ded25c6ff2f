//! The public operation, `POST /sends/id/create` (docs/contract.md §1), steps 4–8. Steps 1–3 and the
//! body limit are decided before this handler runs (see `security.rs`).
use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{Example, Type};
use poem_openapi::{impl_apirequest_for_payload, ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;

use super::error::ErrorBody;
use super::security::{BrazeApiKey, Principal};
use super::AppState;
use crate::domain::{QuotaStatus, SendId, SendIdError};
use crate::store::{CreateOutcome, NewSendId};

#[derive(Tags)]
enum ApiTags {
    /// Send identifiers for per-send tracking (Braze-compatible).
    Sends,
}

/// The request body of `POST /sends/id/create`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateSendIdRequest {
    /// The campaign to create the send identifier under; a campaign of the key's workspace.
    #[oai(validator(min_length = 1))]
    pub campaign_id: String,
    /// The send identifier to create: 1 to 64 printable ASCII characters (0x20–0x7E). Absent or
    /// `null`: the service generates one.
    #[oai(
        validator(min_length = 1, max_length = 64, pattern = "^[ -~]+$"),
        nullable
    )]
    pub send_id: Option<String>,
}

/// What Swagger UI's "Try it out" fills in: the demo campaign every new data directory has and
/// a readable send_id, so Execute with nothing edited answers 200.
impl Example for CreateSendIdRequest {
    fn example() -> Self {
        Self {
            campaign_id: crate::demo::DEMO_CAMPAIGN_ID.into(),
            send_id: Some("spring-sale-2026-11-27".into()),
        }
    }
}

/// The answer of a successful call.
#[derive(Debug, Object)]
pub struct CreateSendIdSuccess {
    /// Always `success`.
    pub message: String,
    /// The send identifier: the one given, or the one generated.
    pub send_id: String,
}

/// `CreateSendIdRequest` as JSON, parsed by sendid itself so that every failure names its
/// field and no failure happens before authentication.
pub struct CreateSendIdBody(pub ValidCreateRequest);

#[derive(Debug)]
pub struct ValidCreateRequest {
    pub campaign_id: String,
    pub send_id: Option<SendId>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("Request body is empty: expected a JSON object with a campaign_id")]
    Empty,
    #[error("Request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("Request body must be a JSON object")]
    NotAnObject,
    #[error("campaign_id is required")]
    MissingCampaignId,
    #[error("campaign_id must be a string")]
    CampaignIdNotString,
    #[error("campaign_id must not be empty")]
    EmptyCampaignId,
    #[error("send_id must be a string or null")]
    SendIdNotString,
    #[error("{0}")]
    SendId(#[from] SendIdError),
}

impl ResponseError for BodyError {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

/// Where the request body is turned into valid values, once.
pub fn parse_create_request(data: &[u8]) -> Result<ValidCreateRequest, BodyError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let value: Value =
        serde_json::from_slice(data).map_err(|e| BodyError::Malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(BodyError::NotAnObject);
    };
    let campaign_id = match fields.remove("campaign_id") {
        None | Some(Value::Null) => return Err(BodyError::MissingCampaignId),
        Some(Value::String(s)) if s.is_empty() => return Err(BodyError::EmptyCampaignId),
        Some(Value::String(s)) => s,
        Some(_) => return Err(BodyError::CampaignIdNotString),
    };
    let send_id = match fields.remove("send_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(SendId::parse(s)?),
        Some(_) => return Err(BodyError::SendIdNotString),
    };
    Ok(ValidCreateRequest {
        campaign_id,
        send_id,
    })
}

impl Payload for CreateSendIdBody {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        // Judge the media type without its parameters: HTTP allows whitespace before the `;`
        // (`application/json ; charset=utf-8`), which the `mime` parser behind `Json` refuses.
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        Json::<CreateSendIdRequest>::check_content_type(essence)
    }

    fn schema_ref() -> MetaSchemaRef {
        CreateSendIdRequest::schema_ref()
    }

    fn register(registry: &mut Registry) {
        CreateSendIdRequest::register(registry);
    }
}

impl ParsePayload for CreateSendIdBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        Ok(Self(parse_create_request(&data)?))
    }
}

impl_apirequest_for_payload!(CreateSendIdBody);

/// Every answer `POST /sends/id/create` can give.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum CreateSendIdResponse {
    /// The pair (campaign_id, send_id) exists and is on disk: created now, or found (a repeat
    /// uses no quota).
    #[oai(status = 200)]
    Ok(
        Json<CreateSendIdSuccess>,
        /// The workspace's daily quota of new send identifiers.
        #[oai(header = "X-RateLimit-Limit")]
        u64,
        /// New send identifiers left today, after this request.
        #[oai(header = "X-RateLimit-Remaining")]
        u64,
        /// Unix epoch seconds of the next 00:00 UTC, when the quota resets.
        #[oai(header = "X-RateLimit-Reset")]
        i64,
    ),
    /// The body is not a JSON object, a field has the wrong type or is out of bounds, or
    /// `campaign_id` is not a campaign of the key's workspace (`Invalid campaign_id`).
    #[oai(status = 400)]
    BadRequest(
        Json<ErrorBody>,
        /// The workspace's daily quota (present once the key is authenticated and permitted).
        #[oai(header = "X-RateLimit-Limit")]
        Option<u64>,
        /// New send identifiers left today.
        #[oai(header = "X-RateLimit-Remaining")]
        Option<u64>,
        /// Unix epoch seconds of the next 00:00 UTC.
        #[oai(header = "X-RateLimit-Reset")]
        Option<i64>,
    ),
    /// No `Authorization: Bearer` header, or an unknown or revoked API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The key lacks the permission `sends.id.create`, or the caller's IP is outside the key's
    /// allow-list.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The body is larger than 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(
        Json<ErrorBody>,
        #[oai(header = "X-RateLimit-Limit")] Option<u64>,
        #[oai(header = "X-RateLimit-Remaining")] Option<u64>,
        #[oai(header = "X-RateLimit-Reset")] Option<i64>,
    ),
    /// The `Content-Type` is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(
        Json<ErrorBody>,
        #[oai(header = "X-RateLimit-Limit")] Option<u64>,
        #[oai(header = "X-RateLimit-Remaining")] Option<u64>,
        #[oai(header = "X-RateLimit-Reset")] Option<i64>,
    ),
    /// The pair is new and the workspace's quota for the current UTC day is used up.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// The workspace's daily quota.
        #[oai(header = "X-RateLimit-Limit")]
        u64,
        /// Always 0 here.
        #[oai(header = "X-RateLimit-Remaining")]
        u64,
        /// Unix epoch seconds of the next 00:00 UTC.
        #[oai(header = "X-RateLimit-Reset")]
        i64,
        /// Seconds until the quota resets.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// Storage failed; nothing was acknowledged. Safe to retry.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before retrying (a failover of the database takes about 10). Sent
        /// by sendid; optional in the document, which other servers (Braze) are checked against.
        #[oai(header = "Retry-After")]
        Option<u64>,
    ),
}

fn bad_request(err: poem::Error) -> CreateSendIdResponse {
    let message = Json(ErrorBody::new(err.to_string()));
    match err.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => CreateSendIdResponse::UnsupportedMediaType(
            Json(ErrorBody::new("Content-Type must be application/json")),
            None,
            None,
            None,
        ),
        StatusCode::PAYLOAD_TOO_LARGE => CreateSendIdResponse::PayloadTooLarge(message, None, None, None),
        StatusCode::UNAUTHORIZED => CreateSendIdResponse::Unauthorized(Json(ErrorBody::new(
            "Missing or malformed Authorization header: expected `Authorization: Bearer <REST API key>`",
        ))),
        _ => CreateSendIdResponse::BadRequest(message, None, None, None),
    }
}

impl CreateSendIdResponse {
    fn success(send_id: SendId, q: QuotaStatus) -> Self {
        Self::Ok(
            Json(CreateSendIdSuccess {
                message: "success".into(),
                send_id: send_id.into_string(),
            }),
            q.limit,
            q.remaining(),
            q.reset,
        )
    }

    fn bad_request(message: &str) -> Self {
        Self::BadRequest(Json(ErrorBody::new(message)), None, None, None)
    }
}

pub struct SendsApi;

#[OpenApi]
impl SendsApi {
    /// Create a send identifier
    ///
    /// Creates the send identifier `send_id` under the campaign `campaign_id` so that messages
    /// can be sent and tracked per send. Without `send_id`, one is generated. Creating a new
    /// pair uses one unit of the workspace's daily quota (default 100, resetting at 00:00 UTC);
    /// asking again for an existing pair answers 200 with it and uses none.
    #[oai(
        path = "/sends/id/create",
        method = "post",
        operation_id = "createSendId",
        tag = "ApiTags::Sends"
    )]
    async fn create_send_id(
        &self,
        _auth: BrazeApiKey,
        principal: Data<&Principal>,
        state: Data<&AppState>,
        body: CreateSendIdBody,
    ) -> CreateSendIdResponse {
        let request = body.0;
        let campaign = match state.store.campaign(&request.campaign_id).await {
            Ok(c) => c,
            Err(e) => return unavailable(e),
        };
        if campaign.is_none_or(|c| c.workspace_id != principal.workspace.id) {
            return CreateSendIdResponse::bad_request("Invalid campaign_id");
        }
        let send_id = request.send_id.unwrap_or_else(SendId::generate);
        let outcome = state
            .store
            .create_send_id(NewSendId {
                workspace: &principal.workspace,
                campaign_id: &request.campaign_id,
                send_id: &send_id,
                now_millis: state.clock.now_millis(),
            })
            .await;
        match outcome {
            Ok(CreateOutcome::Created(q)) | Ok(CreateOutcome::Existing(q)) => {
                state.metrics.quota_used(&principal.workspace.id, q.used);
                CreateSendIdResponse::success(send_id, q)
            }
            Ok(CreateOutcome::QuotaExhausted(q)) => CreateSendIdResponse::TooManyRequests(
                Json(ErrorBody::new(format!(
                    "Daily quota of {} new send identifiers for this workspace is used up; it resets at 00:00 UTC",
                    q.limit
                ))),
                q.limit,
                q.remaining(),
                q.reset,
                q.retry_after,
            ),
            Err(e) => unavailable(e),
        }
    }
}

/// `Retry-After` of a 503 for storage: soon, and the retry is safe (a pair is created once).
pub const STORAGE_RETRY_AFTER_SECONDS: u64 = 1;

fn unavailable(e: crate::store::StoreError) -> CreateSendIdResponse {
    tracing::error!(error = %e, "storage failure on POST /sends/id/create");
    CreateSendIdResponse::Unavailable(
        Json(ErrorBody::new(
            "Storage is unavailable; retry later. Retrying the same request is safe: a pair is created, and counted against the quota, once.",
        )),
        Some(STORAGE_RETRY_AFTER_SECONDS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_name_the_field() {
        let err = |s: &str| parse_create_request(s.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{}"#).contains("campaign_id"));
        assert!(err(r#"{"campaign_id": 1}"#).contains("campaign_id"));
        assert!(err(r#"{"campaign_id": ""}"#).contains("campaign_id"));
        assert!(err(r#"{"campaign_id": "c", "send_id": 5}"#).contains("send_id"));
        assert!(err(r#"{"campaign_id": "c", "send_id": ""}"#).contains("send_id"));
        let ok = parse_create_request(br#"{"campaign_id": "c", "send_id": null, "x": 1}"#).unwrap();
        assert!(ok.send_id.is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_create_request(&data);
        }
    }
}
