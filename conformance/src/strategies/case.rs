//! What to ask: a [`Case`] for every valid and invalid class of docs/contract.md §1, and
//! [`Case::request`], which turns one into bytes on the wire. Bodies that could be valid apart from the defect under test carry the run's existing
//! pair, so a server that wrongly accepts them answers a repeat and spends no quota.
use serde_json::{json, Map, Value};

use crate::http::{Auth, Request, Secret};
use crate::spec::OPERATION_PATH;

/// The largest body the contract accepts.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum SendIdField {
    Absent,
    Null,
    Given(String),
}

/// A valid request for a pair that is (or may be) new: it may spend one unit of quota.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPair {
    /// Index into the run's campaigns (`--campaign-id`, in order).
    pub campaign: usize,
    pub send_id: SendIdField,
    /// Unknown fields, which the contract says are ignored.
    pub extras: Vec<(String, Value)>,
    /// The request's `Content-Type`: `application/json` or a variant the contract accepts.
    pub content_type: &'static str,
    /// The send_id carries this run's own tag: the pair cannot exist before, so it must spend
    /// exactly one unit.
    pub fresh: bool,
    /// The send_id is a case variant of this existing send_id: a pair of its own.
    pub variant_of: Option<String>,
}

impl Default for NewPair {
    fn default() -> Self {
        Self {
            campaign: 0,
            send_id: SendIdField::Absent,
            extras: Vec::new(),
            content_type: JSON,
            fresh: false,
            variant_of: None,
        }
    }
}

/// Every invalid class of docs/contract.md §1 (steps 4 and 5 of the order of decisions).
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    MissingCampaignId,
    EmptyCampaignId,
    CampaignIdWrongType(Value),
    SendIdTooLong(String),
    SendIdNonAscii(String),
    SendIdControlChar(String),
    SendIdEmpty,
    SendIdWrongType(Value),
    BodyNotAnObject(Value),
    /// The valid fields, wrapped one level down in another object.
    Wrapped(Value),
    MalformedJson(Vec<u8>),
    EmptyBody,
    WrongContentType(Option<String>),
    Oversized(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthVariant {
    Missing,
    Garbage(String),
    /// The real key under another scheme than Bearer.
    WrongScheme(String),
    EmptyBearer,
    /// A valid key without `sends.id.create`.
    Forbidden,
}

impl AuthVariant {
    pub fn label(&self) -> String {
        match self {
            AuthVariant::Missing => "no Authorization".into(),
            AuthVariant::Garbage(_) => "an invented key".into(),
            AuthVariant::WrongScheme(s) => format!("the key under scheme {s}"),
            AuthVariant::EmptyBearer => "an empty Bearer".into(),
            AuthVariant::Forbidden => "the key without sends.id.create".into(),
        }
    }

    /// The key this variant presents, when it is one the run invented.
    pub fn invented_key(&self) -> Option<&str> {
        match self {
            AuthVariant::Garbage(k) => Some(k),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthBody {
    /// The run's existing pair: valid, and free even if the server ignores auth.
    ExistingPair,
    Invalid(Invalid),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthCase {
    pub variant: AuthVariant,
    pub body: AuthBody,
}

/// One thing to ask the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Case {
    New(NewPair),
    /// The same pair again: must answer the same id and spend nothing.
    Repeat {
        campaign: usize,
        send_id: String,
        content_type: &'static str,
    },
    Invalid(Invalid),
    Auth(AuthCase),
    WrongMethod(String),
    UnknownPath(String),
    /// A campaign that is not of the workspace; `like` is the index of the real campaign it
    /// was derived from (its existing pair's send_id goes with it).
    UnknownCampaign {
        campaign_id: String,
        like: usize,
    },
}

impl Invalid {
    /// The status the order of decisions gives this class.
    pub fn expected_status(&self) -> u16 {
        match self {
            Invalid::Oversized(_) => 413,
            Invalid::WrongContentType(_) => 415,
            _ => 400,
        }
    }

    /// The field a 400's message must name, when one field is at fault.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Invalid::MissingCampaignId
            | Invalid::Wrapped(_)
            | Invalid::EmptyCampaignId
            | Invalid::CampaignIdWrongType(_) => Some("campaign_id"),
            Invalid::SendIdTooLong(_)
            | Invalid::SendIdNonAscii(_)
            | Invalid::SendIdControlChar(_)
            | Invalid::SendIdEmpty
            | Invalid::SendIdWrongType(_) => Some("send_id"),
            _ => None,
        }
    }

    pub fn class(&self) -> &'static str {
        match self {
            Invalid::MissingCampaignId => "missing campaign_id",
            Invalid::EmptyCampaignId => "empty campaign_id",
            Invalid::CampaignIdWrongType(_) => "campaign_id of the wrong type",
            Invalid::SendIdTooLong(_) => "send_id over the length limit",
            Invalid::SendIdNonAscii(_) => "send_id with non-ASCII characters",
            Invalid::SendIdControlChar(_) => "send_id with a control character",
            Invalid::SendIdEmpty => "empty send_id",
            Invalid::SendIdWrongType(_) => "send_id of the wrong type",
            Invalid::BodyNotAnObject(_) => "body not a JSON object",
            Invalid::Wrapped(_) => "the fields nested in another object",
            Invalid::MalformedJson(_) => "malformed JSON",
            Invalid::EmptyBody => "empty body",
            Invalid::WrongContentType(_) => "Content-Type not JSON",
            Invalid::Oversized(_) => "body over 64 KiB",
        }
    }
}

/// What a case needs from the run to become a request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The campaigns of `--campaign-id`, in order; the first is the main one.
    pub campaigns: Vec<String>,
    /// Per campaign, the send_id of a pair this run knows exists there.
    pub existing: Vec<Option<String>>,
}

impl RequestContext {
    pub fn new(campaigns: Vec<String>) -> Self {
        let existing = vec![None; campaigns.len()];
        Self {
            campaigns,
            existing,
        }
    }

    /// The main campaign.
    pub fn campaign_id(&self) -> &str {
        self.campaign(0)
    }

    pub fn campaign(&self, i: usize) -> &str {
        self.campaigns
            .get(i)
            .or_else(|| self.campaigns.first())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The existing pair's send_id in the main campaign.
    pub fn existing_send_id(&self) -> Option<&str> {
        self.existing_in(0)
    }

    pub fn existing_in(&self, i: usize) -> Option<&str> {
        self.existing.get(i).and_then(|e| e.as_deref())
    }

    pub fn set_existing(&mut self, i: usize, send_id: &str) {
        if let Some(slot) = self.existing.get_mut(i) {
            *slot = Some(send_id.to_string());
        }
    }

    /// Fields of a valid body that can never create a pair: the existing pair, or without one,
    /// no campaign at all.
    pub fn harmless_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = self.existing_send_id() {
            m.insert("campaign_id".into(), json!(self.campaign_id()));
            m.insert("send_id".into(), json!(s));
        }
        m
    }
}

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn post(auth: Auth, content_type: Option<&str>, body: Option<Vec<u8>>) -> Request {
    Request {
        method: "POST".into(),
        path: OPERATION_PATH.into(),
        auth,
        content_type: content_type.map(str::to_string),
        body,
    }
}

pub fn bearer() -> Auth {
    Auth::Secret {
        scheme: "Bearer".into(),
        secret: Secret::ApiKey,
    }
}

pub const JSON: &str = "application/json";
pub const JSON_UTF8: &str = "application/json; charset=utf-8";
/// The `Content-Type` spellings of JSON the contract accepts (strict profile).
pub const JSON_VARIANTS: [&str; 3] = [
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "Application/JSON",
];

impl NewPair {
    pub fn body(&self, campaign_id: &str) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.extras {
            m.insert(k.clone(), v.clone());
        }
        m.insert("campaign_id".into(), json!(campaign_id));
        match &self.send_id {
            SendIdField::Absent => {}
            SendIdField::Null => {
                m.insert("send_id".into(), Value::Null);
            }
            SendIdField::Given(s) => {
                m.insert("send_id".into(), json!(s));
            }
        }
        Value::Object(m)
    }
}

impl Invalid {
    /// `(content type, body)` of this invalid request.
    fn content(&self, ctx: &RequestContext) -> (Option<String>, Option<Vec<u8>>) {
        let campaign = json!(ctx.campaign_id());
        let with = |campaign_id: Option<Value>, send_id: Option<Value>| {
            let mut m = Map::new();
            if let Some(c) = campaign_id {
                m.insert("campaign_id".into(), c);
            }
            if let Some(s) = send_id {
                m.insert("send_id".into(), s);
            }
            Some(json_bytes(&Value::Object(m)))
        };
        let existing = ctx.existing_send_id().map(|s| Value::String(s.to_string()));
        let body = match self {
            Invalid::MissingCampaignId => with(None, existing),
            Invalid::EmptyCampaignId => with(Some(json!("")), existing),
            Invalid::CampaignIdWrongType(v) => with(Some(v.clone()), existing),
            Invalid::SendIdTooLong(s)
            | Invalid::SendIdNonAscii(s)
            | Invalid::SendIdControlChar(s) => with(Some(campaign), Some(json!(s))),
            Invalid::SendIdEmpty => with(Some(campaign), Some(json!(""))),
            Invalid::SendIdWrongType(v) => with(Some(campaign), Some(v.clone())),
            Invalid::BodyNotAnObject(v) | Invalid::Wrapped(v) => Some(json_bytes(v)),
            Invalid::MalformedJson(bytes) => Some(bytes.clone()),
            Invalid::EmptyBody => Some(Vec::new()),
            Invalid::WrongContentType(ct) => {
                let body = Some(json_bytes(&Value::Object(ctx.harmless_fields())));
                return (ct.clone(), body);
            }
            Invalid::Oversized(size) => Some(padded(ctx.harmless_fields(), *size)),
        };
        (Some(JSON.into()), body)
    }
}

/// A JSON object of exactly `size` bytes: the fields plus a `padding` string of spaces.
pub(crate) fn padded(mut fields: Map<String, Value>, size: usize) -> Vec<u8> {
    fields.insert("padding".into(), json!(""));
    let base = json_bytes(&Value::Object(fields.clone())).len();
    let pad = size.saturating_sub(base);
    fields.insert("padding".into(), json!(" ".repeat(pad)));
    json_bytes(&Value::Object(fields))
}

impl Case {
    pub fn request(&self, ctx: &RequestContext) -> Request {
        match self {
            Case::New(pair) => post(
                bearer(),
                Some(pair.content_type),
                Some(json_bytes(&pair.body(ctx.campaign(pair.campaign)))),
            ),
            Case::Repeat {
                campaign,
                send_id,
                content_type,
            } => {
                let body = json!({"campaign_id": ctx.campaign(*campaign), "send_id": send_id});
                post(bearer(), Some(content_type), Some(json_bytes(&body)))
            }
            Case::Invalid(inv) => {
                let (ct, body) = inv.content(ctx);
                post(bearer(), ct.as_deref(), body)
            }
            Case::Auth(a) => {
                let auth = match &a.variant {
                    AuthVariant::Missing => Auth::None,
                    AuthVariant::Garbage(k) => Auth::Literal(format!("Bearer {k}")),
                    AuthVariant::WrongScheme(s) => Auth::Secret {
                        scheme: s.clone(),
                        secret: Secret::ApiKey,
                    },
                    AuthVariant::EmptyBearer => Auth::Literal("Bearer ".into()),
                    AuthVariant::Forbidden => Auth::Secret {
                        scheme: "Bearer".into(),
                        secret: Secret::ForbiddenApiKey,
                    },
                };
                let (ct, body) = match &a.body {
                    AuthBody::ExistingPair => (
                        Some(JSON.to_string()),
                        Some(json_bytes(&Value::Object(ctx.harmless_fields()))),
                    ),
                    AuthBody::Invalid(inv) => inv.content(ctx),
                };
                post(auth, ct.as_deref(), body)
            }
            Case::WrongMethod(method) => {
                let mut req = post(
                    bearer(),
                    Some(JSON),
                    Some(json_bytes(&Value::Object(ctx.harmless_fields()))),
                );
                req.method = method.clone();
                if method == "GET" || method == "DELETE" {
                    req.body = None;
                    req.content_type = None;
                }
                req
            }
            Case::UnknownPath(path) => post(
                bearer(),
                Some(JSON),
                Some(json_bytes(&Value::Object(ctx.harmless_fields()))),
            )
            .with_path(path),
            Case::UnknownCampaign { campaign_id, like } => {
                let mut body = Map::new();
                body.insert("campaign_id".into(), json!(campaign_id));
                if let Some(s) = ctx.existing_in(*like) {
                    body.insert("send_id".into(), json!(s));
                }
                post(bearer(), Some(JSON), Some(json_bytes(&Value::Object(body))))
            }
        }
    }

    /// Whether a conformant server may spend quota on this case.
    pub fn may_create(&self) -> bool {
        matches!(self, Case::New(_))
    }

    /// Whether a server that wrongly accepted this case could create a pair with it: the
    /// refused-class cases whose body names the campaign and a send_id that is not the existing
    /// pair's. The budget bounds these too.
    pub fn could_spend_if_accepted(&self) -> bool {
        let spends = |inv: &Invalid| {
            matches!(
                inv,
                Invalid::SendIdTooLong(_)
                    | Invalid::SendIdNonAscii(_)
                    | Invalid::SendIdControlChar(_)
                    | Invalid::SendIdEmpty
                    | Invalid::SendIdWrongType(_)
            )
        };
        match self {
            Case::Invalid(inv) => spends(inv),
            Case::Auth(AuthCase {
                body: AuthBody::Invalid(inv),
                ..
            }) => spends(inv),
            Case::UnknownCampaign { .. } => true,
            _ => false,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Case::New(p) => {
                let mut label = match &p.send_id {
                    SendIdField::Absent => "new pair, send_id absent".to_string(),
                    SendIdField::Null => "new pair, send_id null".to_string(),
                    SendIdField::Given(s) => format!("new pair, send_id of {} chars", s.len()),
                };
                if p.campaign > 0 {
                    label.push_str(&format!(", campaign #{}", p.campaign + 1));
                }
                if p.variant_of.is_some() {
                    label.push_str(", a variant of an existing send_id");
                }
                if p.content_type != JSON {
                    label.push_str(&format!(", Content-Type {}", p.content_type));
                }
                label
            }
            Case::Repeat {
                campaign,
                content_type,
                ..
            } => {
                let mut label = "repeat of an existing pair".to_string();
                if *campaign > 0 {
                    label.push_str(&format!(", campaign #{}", campaign + 1));
                }
                if *content_type != JSON {
                    label.push_str(&format!(", Content-Type {content_type}"));
                }
                label
            }
            Case::Invalid(i) => i.class().into(),
            Case::Auth(a) => format!("auth: {}", a.variant.label()),
            Case::WrongMethod(m) => format!("method {m}"),
            Case::UnknownPath(p) => format!("unknown path {p}"),
            Case::UnknownCampaign { campaign_id, .. } => {
                format!("unknown campaign {}", campaign_id.escape_debug())
            }
        }
    }
}

impl Request {
    fn with_path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }
}
