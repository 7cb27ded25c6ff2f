//! The public operation, `POST /sends/id/create` (docs/contract.md §1), steps 4–8. Steps 1–3 and the
//! body limit are decided before this handler runs (see `security.rs`).
use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{impl_apirequest_for_payload, ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

use super::error::ErrorBody;
use super::security::{BrazeApiKey, Principal};
use super::AppState;
use crate::domain::{QuotaStatus, SendId, SendIdError, MAX_SEND_ID_LEN, SEND_ID_CHARS};
use crate::store::{CreateOutcome, NewSendId};

#[derive(Tags)]
pub(crate) enum ApiTags {
    /// Send identifiers for per-send tracking, the sends that use them and their analytics
    /// (Braze-compatible).
    Sends,
}

/// The 401 of a request without `Authorization: Bearer`.
pub(crate) const MISSING_BEARER: &str =
    "Missing or malformed Authorization header: expected `Authorization: Bearer <REST API key>`";

/// Whether a `Content-Type` is JSON, judged without its parameters: HTTP allows whitespace
/// before the `;` (`application/json ; charset=utf-8`), which the `mime` parser behind `Json`
/// refuses.
pub(crate) fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    Json::<CreateSendIdRequest>::check_content_type(essence)
}

// The document's schema and what the handler gets, one type. Its fields' types carry their
// rules both ways: each builds its schema from the `domain` bounds and parses with the same
// bounds (see `parse_create_request`), so the document cannot promise what is not enforced.
/// The request body of `POST /sends/id/create`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateSendIdRequest {
    /// The campaign to create the send identifier under; a campaign of the key's workspace.
    pub campaign_id: RequestedCampaignId,
    // Described by its type (the bounds in words, from the same constants).
    #[oai(nullable)]
    pub send_id: Option<SendId>,
}

/// What Swagger UI's "Try it out" fills in: the demo campaign every new data directory has and
/// a readable send_id, so Execute with nothing edited answers 200.
impl Example for CreateSendIdRequest {
    fn example() -> Self {
        Self {
            campaign_id: RequestedCampaignId(crate::demo::DEMO_CAMPAIGN_ID.into()),
            send_id: SendId::parse(crate::demo::DEMO_SEND_ID).ok(),
        }
    }
}

/// `campaign_id` as the public operation takes it: any non-empty string (docs/contract.md §1);
/// one that names no campaign of the key's workspace is the handler's 400 `Invalid campaign_id`.
#[derive(Debug, Clone)]
pub struct RequestedCampaignId(pub String);

impl RequestedCampaignId {
    /// The field as sent (`None`: absent).
    fn from_field(value: Option<Value>) -> Result<Self, BodyError> {
        match value {
            None | Some(Value::Null) => Err(BodyError::MissingCampaignId),
            Some(Value::String(s)) if s.is_empty() => Err(BodyError::EmptyCampaignId),
            Some(Value::String(s)) => Ok(Self(s)),
            Some(_) => Err(BodyError::CampaignIdNotString),
        }
    }

    fn schema() -> MetaSchema {
        MetaSchema {
            min_length: Some(1),
            ..MetaSchema::new("string")
        }
    }
}

/// `send_id` as sent (not `null`): a [`SendId`] or the error naming the field.
fn send_id_from_field(value: Value) -> Result<SendId, BodyError> {
    match value {
        Value::String(s) => Ok(SendId::parse(s)?),
        _ => Err(BodyError::SendIdNotString),
    }
}

fn send_id_schema() -> MetaSchema {
    static DESCRIPTION: LazyLock<String> = LazyLock::new(|| {
        let (first, last) = (*SEND_ID_CHARS.start(), *SEND_ID_CHARS.end());
        format!(
            "The send identifier to create: 1 to {MAX_SEND_ID_LEN} printable ASCII characters \
             (0x{:02X}–0x{:02X}). Absent or\n`null`: the service generates one.",
            first as u32, last as u32
        )
    });
    static PATTERN: LazyLock<String> =
        LazyLock::new(|| format!("^[{}-{}]+$", SEND_ID_CHARS.start(), SEND_ID_CHARS.end()));
    MetaSchema {
        description: Some(DESCRIPTION.as_str()),
        min_length: Some(1),
        max_length: Some(MAX_SEND_ID_LEN),
        pattern: Some(PATTERN.clone()),
        ..MetaSchema::new("string")
    }
}

/// Makes a field type of the create request a poem-openapi type whose schema is `$schema` and
/// whose JSON parse is `$parse` (the one the body parser calls), so the document and the
/// enforced rule come from the same function.
macro_rules! request_field {
    ($ty:ty, $schema:expr, $parse:expr, $json:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                $parse(value).map_err(ParseError::custom)
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String($json(self)))
            }
        }
    };
}

request_field!(
    RequestedCampaignId,
    RequestedCampaignId::schema(),
    RequestedCampaignId::from_field,
    |c: &RequestedCampaignId| c.0.clone()
);
request_field!(
    SendId,
    send_id_schema(),
    |v: Option<Value>| send_id_from_field(v.unwrap_or_default()),
    |s: &SendId| s.as_str().to_string()
);

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
pub struct CreateSendIdBody(pub CreateSendIdRequest);

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

/// Where the request body is turned into valid values, once: the body as a whole here (the
/// contract's order: empty, JSON, an object), then each field by its type's own parse. Unknown
/// fields are ignored; `null` is absent.
pub fn parse_create_request(data: &[u8]) -> Result<CreateSendIdRequest, BodyError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let value: Value =
        serde_json::from_slice(data).map_err(|e| BodyError::Malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(BodyError::NotAnObject);
    };
    let campaign_id = RequestedCampaignId::from_field(fields.remove("campaign_id"))?;
    let send_id = match fields.remove("send_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(send_id_from_field(v)?),
    };
    Ok(CreateSendIdRequest {
        campaign_id,
        send_id,
    })
}

impl Payload for CreateSendIdBody {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        is_json_content_type(content_type)
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

// The rate-limit headers: 200 and 429 carry values of the variant, from the quota the store
// answered. On 400, 413 and 415 they are declared here (poem-openapi's `header(...)`, for the
// document only) and set by `SendsGate`, the one layer that sees each of these answers with
// the key's workspace: 413 is its own answer, before the handler; 415 and a body's 400 come
// from poem-openapi's `bad_request_handler`, which gets only the error (no key, no store); and
// `Invalid campaign_id` would otherwise need a second quota read in the handler.
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
    #[oai(
        status = 400,
        header(
            name = "X-RateLimit-Limit",
            ty = "Option<u64>",
            description = "The workspace's daily quota (present once the key is authenticated and permitted)."
        ),
        header(
            name = "X-RateLimit-Remaining",
            ty = "Option<u64>",
            description = "New send identifiers left today."
        ),
        header(
            name = "X-RateLimit-Reset",
            ty = "Option<i64>",
            description = "Unix epoch seconds of the next 00:00 UTC."
        )
    )]
    BadRequest(Json<ErrorBody>),
    /// No `Authorization: Bearer` header, or an unknown or revoked API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The key lacks the permission `sends.id.create`, or the caller's IP is outside the key's
    /// allow-list.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The body is larger than 64 KiB.
    #[oai(
        status = 413,
        header(name = "X-RateLimit-Limit", ty = "Option<u64>"),
        header(name = "X-RateLimit-Remaining", ty = "Option<u64>"),
        header(name = "X-RateLimit-Reset", ty = "Option<i64>")
    )]
    PayloadTooLarge(Json<ErrorBody>),
    /// The `Content-Type` is not JSON.
    #[oai(
        status = 415,
        header(name = "X-RateLimit-Limit", ty = "Option<u64>"),
        header(name = "X-RateLimit-Remaining", ty = "Option<u64>"),
        header(name = "X-RateLimit-Reset", ty = "Option<i64>")
    )]
    UnsupportedMediaType(Json<ErrorBody>),
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
    Unavailable(Json<ErrorBody>),
}

fn bad_request(err: poem::Error) -> CreateSendIdResponse {
    let message = Json(ErrorBody::new(err.to_string()));
    match err.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => CreateSendIdResponse::UnsupportedMediaType(Json(
            ErrorBody::new("Content-Type must be application/json"),
        )),
        StatusCode::PAYLOAD_TOO_LARGE => CreateSendIdResponse::PayloadTooLarge(message),
        StatusCode::UNAUTHORIZED => {
            CreateSendIdResponse::Unauthorized(Json(ErrorBody::new(MISSING_BEARER)))
        }
        _ => CreateSendIdResponse::BadRequest(message),
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
        Self::BadRequest(Json(ErrorBody::new(message)))
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
        let campaign = match state.store.campaign(&request.campaign_id.0).await {
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
                campaign_id: &request.campaign_id.0,
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

fn unavailable(e: crate::store::StoreError) -> CreateSendIdResponse {
    tracing::error!(error = %e, "storage failure on POST /sends/id/create");
    CreateSendIdResponse::Unavailable(Json(ErrorBody::new(
        "Storage is unavailable; retry later. Retrying the same request is safe: a pair is created, and counted against the quota, once.",
    )))
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

    /// The create request's schema, as the public document publishes it.
    fn documented_request_schema() -> Value {
        let doc: Value = serde_json::from_str(&crate::api::docs::sends_spec()).unwrap();
        doc["components"]["schemas"]["CreateSendIdRequest"].clone()
    }

    fn send_ids() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,70}",
            "[ -~]{0,40}[^ -~][ -~]{0,40}",
            any::<String>(),
        ]
    }

    proptest! {
        /// What the document says of a body is what the parser enforces: a JSON Schema
        /// validator judging the published schema and `parse_create_request` agree.
        #[test]
        fn the_document_and_the_parser_agree(
            campaign_id in prop_oneof!["", "[a-z]{1,8}"],
            send_id in send_ids(),
        ) {
            let validator = jsonschema::validator_for(&documented_request_schema()).unwrap();
            let body = serde_json::json!({"campaign_id": campaign_id, "send_id": send_id});
            let parsed = parse_create_request(body.to_string().as_bytes());
            prop_assert_eq!(validator.is_valid(&body), parsed.is_ok(), "{}", body);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_create_request(&data);
        }
    }
}
