//! `POST /campaigns/trigger/send` (docs/contract.md §6): a send of a campaign, to recipients or
//! as a broadcast, under a send ID created for it. Authentication and permission are decided
//! before this handler (`security.rs`); the body's shape by `domain::dispatch`.
use std::collections::HashMap;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{Example, Type};
use poem_openapi::{impl_apirequest_for_payload, ApiResponse, Object, OpenApi};
use serde_json::Value;

use super::error::ErrorBody;
use super::security::{BrazeApiKey, Principal};
use super::sends::ApiTags;
use super::AppState;
use crate::domain::dispatch::{parse_trigger_send, Target, TriggerError, TriggerSend};
use crate::domain::{Dispatch, SendId};

/// A user alias: Braze's `{alias_name, alias_label}`.
#[derive(Debug, Object)]
pub struct UserAlias {
    #[oai(validator(min_length = 1))]
    pub alias_name: String,
    #[oai(validator(min_length = 1))]
    pub alias_label: String,
}

/// One recipient: exactly one of `external_user_id`, `user_alias` or `email` (with
/// `prioritization`).
#[derive(Debug, Object)]
pub struct RecipientRequest {
    /// The external identifier of the user to receive the message.
    #[oai(skip_serializing_if_is_none, nullable, validator(min_length = 1))]
    pub external_user_id: Option<String>,
    /// The user alias of the user to receive the message.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub user_alias: Option<UserAlias>,
    /// The email address of the user to receive the message; needs `prioritization`.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub email: Option<String>,
    /// Which user an `email` means when several share it: `identified`, `unidentified`,
    /// `most_recently_updated`, `least_recently_updated`. Required with `email`.
    #[oai(skip_serializing_if_is_none, nullable, validator(min_items = 1))]
    pub prioritization: Option<Vec<String>>,
    /// Personalization key-value pairs for this user; they override the request's.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub trigger_properties: Option<HashMap<String, Value>>,
    /// Default true. `false` needs `attributes` and cannot be used with `user_alias`.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub send_to_existing_only: Option<bool>,
    /// User attributes set before the message is sent.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub attributes: Option<HashMap<String, Value>>,
}

/// An email attachment (Braze: not with `broadcast`).
#[derive(Debug, Object)]
pub struct Attachment {
    #[oai(validator(min_length = 1))]
    pub file_name: String,
    #[oai(validator(min_length = 1))]
    pub url: String,
}

/// The request body of `POST /campaigns/trigger/send`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TriggerSendRequest {
    /// The API-triggered campaign to send; a campaign of the key's workspace.
    #[oai(validator(min_length = 1))]
    pub campaign_id: String,
    /// A send identifier created for this campaign with `POST /sends/id/create`. Absent on a
    /// broadcast or audience send: one is generated.
    #[oai(
        skip_serializing_if_is_none,
        nullable,
        validator(min_length = 1, max_length = 64, pattern = "^[ -~]+$")
    )]
    pub send_id: Option<String>,
    /// Personalization key-value pairs for every user of this request.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub trigger_properties: Option<HashMap<String, Value>>,
    /// `true` sends to the campaign's whole segment; then `recipients` must be absent. Default
    /// false; without `recipients` it must be true.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub broadcast: Option<bool>,
    /// A connected-audience object: only users in it receive the message (kept as sent).
    #[oai(skip_serializing_if_is_none, nullable)]
    pub audience: Option<HashMap<String, Value>>,
    /// Up to 50 recipients.
    #[oai(
        skip_serializing_if_is_none,
        nullable,
        validator(min_items = 1, max_items = 50)
    )]
    pub recipients: Option<Vec<RecipientRequest>>,
    /// Files to attach to an email (not with `broadcast`).
    #[oai(skip_serializing_if_is_none, nullable)]
    pub attachments: Option<Vec<Attachment>>,
}

/// What "Try it out" sends: two recipients of the demo campaign, so Execute answers 201 on any
/// server that still has it. (With a `send_id`, create it first with `/sends/id/create`.)
impl Example for TriggerSendRequest {
    fn example() -> Self {
        let user = |id: &str| RecipientRequest {
            external_user_id: Some(id.into()),
            user_alias: None,
            email: None,
            prioritization: None,
            trigger_properties: None,
            send_to_existing_only: None,
            attributes: None,
        };
        Self {
            campaign_id: crate::demo::DEMO_CAMPAIGN_ID.into(),
            send_id: None,
            trigger_properties: Some(HashMap::from([(
                "coupon".to_string(),
                Value::from("SPRING10"),
            )])),
            broadcast: Some(false),
            audience: None,
            recipients: Some(vec![user("user-1"), user("user-2")]),
            attachments: None,
        }
    }
}

/// The answer of a send.
#[derive(Debug, Object)]
pub struct TriggerSendSuccess {
    /// This dispatch: every call is a new one.
    pub dispatch_id: String,
    /// The send identifier given, or the one generated for a broadcast or audience send;
    /// absent for a send to recipients without one.
    #[oai(skip_serializing_if_is_none)]
    pub send_id: Option<String>,
    /// Always `success`.
    pub message: String,
}

/// The body, parsed by sendid itself so every failure names its field.
pub struct TriggerSendBody(pub Result<TriggerSend, TriggerError>);

impl Payload for TriggerSendBody {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        super::sends::is_json_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        TriggerSendRequest::schema_ref()
    }

    fn register(registry: &mut Registry) {
        TriggerSendRequest::register(registry);
    }
}

impl ParsePayload for TriggerSendBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        Ok(Self(parse_trigger_send(&data)))
    }
}

impl_apirequest_for_payload!(TriggerSendBody);

/// Every answer `POST /campaigns/trigger/send` can give.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum TriggerSendResponse {
    /// The dispatch is recorded and on disk.
    #[oai(status = 201)]
    Created(Json<TriggerSendSuccess>),
    /// The body is not a JSON object, a field has the wrong type or is out of bounds (the
    /// message names it), `campaign_id` is not a campaign of the key's workspace (`Invalid
    /// campaign_id`), the `send_id` was not created for this campaign, or the send has neither
    /// `recipients` nor `broadcast: true`, or both.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No `Authorization: Bearer` header, or an unknown or revoked API key.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The key lacks the permission `campaigns.trigger.send`, or the caller's IP is outside
    /// the key's allow-list.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The body is larger than 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The `Content-Type` is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Storage failed; nothing was recorded. Safe to retry.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

fn bad_request(err: poem::Error) -> TriggerSendResponse {
    match err.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => TriggerSendResponse::UnsupportedMediaType(Json(
            ErrorBody::new("Content-Type must be application/json"),
        )),
        StatusCode::PAYLOAD_TOO_LARGE => {
            TriggerSendResponse::PayloadTooLarge(Json(ErrorBody::new(err.to_string())))
        }
        StatusCode::UNAUTHORIZED => {
            TriggerSendResponse::Unauthorized(Json(ErrorBody::new(super::sends::MISSING_BEARER)))
        }
        _ => TriggerSendResponse::BadRequest(Json(ErrorBody::new(err.to_string()))),
    }
}

fn refused(message: impl Into<String>) -> TriggerSendResponse {
    TriggerSendResponse::BadRequest(Json(ErrorBody::new(message)))
}

/// The 400 of a `send_id` that is no send ID of the campaign (shared with the data series).
pub fn unknown_send_id(send_id: &str) -> String {
    format!(
        "Invalid send_id: {send_id:?} was not created for this campaign; create it first with POST /sends/id/create"
    )
}

pub struct TriggerApi;

#[OpenApi]
impl TriggerApi {
    /// Send campaign messages using API-triggered delivery
    ///
    /// Sends the API-triggered campaign `campaign_id` to up to 50 `recipients`, or with
    /// `broadcast: true` to its whole segment (the campaign's `audience_size`). A `send_id`
    /// must have been created for the campaign with `POST /sends/id/create`; a broadcast or
    /// audience send without one gets a generated one, which from then on is a send ID of the
    /// campaign. Every call is a new dispatch (sends are not idempotent), recorded durably
    /// before the answer; `GET /sends/data_series` counts it.
    #[oai(
        path = "/campaigns/trigger/send",
        method = "post",
        operation_id = "sendTriggeredCampaign",
        tag = "ApiTags::Sends"
    )]
    async fn trigger_send(
        &self,
        _auth: BrazeApiKey,
        principal: Data<&Principal>,
        state: Data<&AppState>,
        body: TriggerSendBody,
    ) -> TriggerSendResponse {
        let request = match body.0 {
            Ok(r) => r,
            Err(e) => return refused(e.to_string()),
        };
        let campaign = match state.store.campaign(&request.campaign_id).await {
            Ok(c) => c.filter(|c| c.workspace_id == principal.workspace.id),
            Err(e) => return unavailable(e),
        };
        let Some(campaign) = campaign else {
            return refused("Invalid campaign_id");
        };
        if let Some(send_id) = &request.send_id {
            match state
                .store
                .pair_exists(&campaign.campaign_id, send_id.as_str())
                .await
            {
                Ok(true) => {}
                Ok(false) => return refused(unknown_send_id(send_id.as_str())),
                Err(e) => return unavailable(e),
            }
        }
        let target = match request.target() {
            Ok(t) => t,
            Err(e) => return refused(e.to_string()),
        };
        let generated = request.generates_send_id(target).then(SendId::generate);
        let recipients = request.recipients.unwrap_or_default();
        let dispatch = Dispatch {
            dispatch_id: uuid::Uuid::new_v4().simple().to_string(),
            campaign_id: campaign.campaign_id.clone(),
            send_id: request
                .send_id
                .or(generated.clone())
                .map(SendId::into_string),
            send_id_generated: generated.is_some(),
            broadcast: target == Target::Broadcast,
            audience: request.audience,
            reached: match target {
                Target::Broadcast => campaign.audience_size,
                Target::Recipients => recipients.len() as u64,
            },
            recipients,
            created_at: state.clock.now_millis(),
            seq: 0,
        };
        match state.store.record_dispatch(&dispatch).await {
            Ok(()) => TriggerSendResponse::Created(Json(TriggerSendSuccess {
                dispatch_id: dispatch.dispatch_id,
                send_id: dispatch.send_id,
                message: "success".into(),
            })),
            Err(e) => unavailable(e),
        }
    }
}

fn unavailable(e: crate::store::StoreError) -> TriggerSendResponse {
    tracing::error!(error = %e, "storage failure on POST /campaigns/trigger/send");
    TriggerSendResponse::Unavailable(Json(ErrorBody::new(
        "Storage is unavailable; nothing was recorded. Retry later.",
    )))
}
