//! Where a `POST /campaigns/trigger/send` body gets validated (docs/contract.md §6): the
//! recipients (at most 50, each with exactly one identifier), `broadcast`, `audience` and the
//! rest, parsed once from raw JSON so every failure names its field. The send-level rules that
//! need the store (the campaign, the send_id's pair) are the handler's.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::send_id::{SendId, SendIdError};

/// Braze: "The recipients array may contain up to 50 objects".
pub const MAX_RECIPIENTS: usize = 50;

/// The values Braze's `/users/identify` documents for `prioritization`.
pub const PRIORITIZATIONS: &[&str] = &[
    "identified",
    "unidentified",
    "most_recently_updated",
    "least_recently_updated",
];

/// Who a recipient is: exactly one of Braze's three identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientId {
    ExternalUserId(String),
    UserAlias {
        alias_name: String,
        alias_label: String,
    },
    Email {
        email: String,
        prioritization: Vec<String>,
    },
}

impl RecipientId {
    /// The identity two recipients of one day share when they are the same user (for
    /// `unique_recipients`); an email address compares without case.
    pub fn identity(&self) -> String {
        match self {
            Self::ExternalUserId(id) => format!("external_user_id:{id}"),
            Self::UserAlias {
                alias_name,
                alias_label,
            } => format!("user_alias:{alias_label}\u{0}{alias_name}"),
            Self::Email { email, .. } => format!("email:{}", email.to_ascii_lowercase()),
        }
    }
}

/// One recipient as sent, validated: kept with the dispatch and listed by the admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub id: RecipientId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_properties: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_to_existing_only: Option<bool>,
}

/// A trigger-send body whose shape is valid (docs/contract.md §6, "body shape").
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSend {
    pub campaign_id: String,
    pub send_id: Option<SendId>,
    /// `None`: the body had no `recipients` (or `null`).
    pub recipients: Option<Vec<Recipient>>,
    pub broadcast: bool,
    /// The connected-audience object, when given (kept as sent; sendid does not evaluate it).
    pub audience: Option<Map<String, Value>>,
    pub trigger_properties: Option<Map<String, Value>>,
    pub attachments: usize,
}

/// The request's target once the send-level rules are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Recipients,
    Broadcast,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("Request body is empty: expected a JSON object with a campaign_id")]
    Empty,
    #[error("Request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("Request body must be a JSON object")]
    NotAnObject,
    #[error("campaign_id is required")]
    MissingCampaignId,
    #[error("campaign_id must be a non-empty string")]
    BadCampaignId,
    #[error("send_id must be a string or null")]
    SendIdNotString,
    #[error("{0}")]
    SendId(#[from] SendIdError),
    /// A field of the wrong type or out of its bounds; the text names it.
    #[error("{0}")]
    Field(String),
    #[error("Either recipients or broadcast: true is required (Braze: broadcast must be set to true if recipients is omitted)")]
    NoTarget,
    #[error("recipients cannot be included when broadcast is true")]
    RecipientsWithBroadcast,
    #[error("attachments cannot be included when broadcast is true")]
    AttachmentsWithBroadcast,
}

fn field(message: impl Into<String>) -> TriggerError {
    TriggerError::Field(message.into())
}

/// An optional JSON object: absent and `null` are `None`.
fn object(value: Option<Value>, name: &str) -> Result<Option<Map<String, Value>>, TriggerError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(field(format!("{name} must be an object"))),
    }
}

/// `trigger_properties`: an object; Braze's own example request sends `""`, taken as none.
fn properties(
    value: Option<Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, TriggerError> {
    match value {
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        other => object(other, name),
    }
}

fn boolean(value: Option<Value>, name: &str) -> Result<Option<bool>, TriggerError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(field(format!("{name} must be a boolean"))),
    }
}

fn text(value: Value, name: &str) -> Result<String, TriggerError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s),
        Value::String(_) => Err(field(format!("{name} must not be empty"))),
        _ => Err(field(format!("{name} must be a string"))),
    }
}

/// Parses and checks the body's shape: every rule that needs no store.
pub fn parse_trigger_send(data: &[u8]) -> Result<TriggerSend, TriggerError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(TriggerError::Empty);
    }
    let value: Value =
        serde_json::from_slice(data).map_err(|e| TriggerError::Malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(TriggerError::NotAnObject);
    };
    let campaign_id = match fields.remove("campaign_id") {
        None | Some(Value::Null) => return Err(TriggerError::MissingCampaignId),
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(TriggerError::BadCampaignId),
    };
    let send_id = match fields.remove("send_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(SendId::parse(s)?),
        Some(_) => return Err(TriggerError::SendIdNotString),
    };
    let trigger_properties = properties(fields.remove("trigger_properties"), "trigger_properties")?;
    let broadcast = boolean(fields.remove("broadcast"), "broadcast")?.unwrap_or(false);
    let audience = object(fields.remove("audience"), "audience")?;
    let recipients = match fields.remove("recipients") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(recipients(items)?),
        Some(_) => return Err(field("recipients must be an array of recipient objects")),
    };
    let attachments = match fields.remove("attachments") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(items)) => attachments(items)?,
        Some(_) => {
            return Err(field(
                "attachments must be an array of {file_name, url} objects",
            ))
        }
    };
    Ok(TriggerSend {
        campaign_id,
        send_id,
        recipients,
        broadcast,
        audience,
        trigger_properties,
        attachments,
    })
}

impl TriggerSend {
    /// The send-level rules of §6 after the store's (the campaign, the send_id): something to
    /// send to, not both.
    pub fn target(&self) -> Result<Target, TriggerError> {
        match (&self.recipients, self.broadcast) {
            (Some(_), true) => Err(TriggerError::RecipientsWithBroadcast),
            (None, false) => Err(TriggerError::NoTarget),
            (Some(_), false) => Ok(Target::Recipients),
            (None, true) if self.attachments > 0 => Err(TriggerError::AttachmentsWithBroadcast),
            (None, true) => Ok(Target::Broadcast),
        }
    }

    /// Braze generates a send_id for "sends targeting segments, connected audiences or
    /// broadcasts" that name none.
    pub fn generates_send_id(&self, target: Target) -> bool {
        self.send_id.is_none() && (target == Target::Broadcast || self.audience.is_some())
    }
}

fn recipients(items: Vec<Value>) -> Result<Vec<Recipient>, TriggerError> {
    if items.is_empty() {
        return Err(field(format!(
            "recipients must hold 1 to {MAX_RECIPIENTS} recipients (omit it and set broadcast: true to send to the campaign's segment)"
        )));
    }
    if items.len() > MAX_RECIPIENTS {
        return Err(field(format!(
            "recipients may hold at most {MAX_RECIPIENTS} recipients (got {})",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| recipient(item, &format!("recipients[{i}]")))
        .collect()
}

fn recipient(item: Value, at: &str) -> Result<Recipient, TriggerError> {
    let Value::Object(mut f) = item else {
        return Err(field(format!("{at} must be an object")));
    };
    let mut take = |name: &str| f.remove(name).filter(|v| !v.is_null());
    let external = take("external_user_id");
    let alias = take("user_alias");
    let email = take("email");
    let prioritization = take("prioritization");
    let trigger_properties = take("trigger_properties");
    let attributes = take("attributes");
    let send_to_existing_only = take("send_to_existing_only");
    let given = [external.is_some(), alias.is_some(), email.is_some()];
    let id = match (external, alias, email) {
        (Some(v), None, None) => {
            RecipientId::ExternalUserId(text(v, &format!("{at}.external_user_id"))?)
        }
        (None, Some(v), None) => user_alias(v, &format!("{at}.user_alias"))?,
        (None, None, Some(v)) => RecipientId::Email {
            email: email_address(v, &format!("{at}.email"))?,
            prioritization: match prioritization {
                None => {
                    return Err(field(format!(
                        "{at}.prioritization is required with email (an array of: {})",
                        PRIORITIZATIONS.join(", ")
                    )))
                }
                Some(p) => prioritization_list(p, &format!("{at}.prioritization"))?,
            },
        },
        _ if given.iter().all(|g| !g) => {
            return Err(field(format!(
                "{at} needs exactly one of external_user_id, user_alias or email"
            )))
        }
        _ => {
            return Err(field(format!(
                "{at} must specify only one of external_user_id, user_alias or email"
            )))
        }
    };
    let trigger_properties = properties(trigger_properties, &format!("{at}.trigger_properties"))?;
    let attributes = object(attributes, &format!("{at}.attributes"))?;
    let send_to_existing_only = boolean(
        send_to_existing_only,
        &format!("{at}.send_to_existing_only"),
    )?;
    if send_to_existing_only == Some(false) {
        if matches!(id, RecipientId::UserAlias { .. }) {
            return Err(field(format!(
                "{at}.send_to_existing_only: false cannot be used with user_alias (Braze creates no alias-only users here)"
            )));
        }
        if attributes.is_none() {
            return Err(field(format!(
                "{at}.attributes is required when send_to_existing_only is false"
            )));
        }
    }
    Ok(Recipient {
        id,
        trigger_properties,
        attributes,
        send_to_existing_only,
    })
}

fn user_alias(value: Value, at: &str) -> Result<RecipientId, TriggerError> {
    let Value::Object(mut f) = value else {
        return Err(field(format!(
            "{at} must be an object with alias_name and alias_label"
        )));
    };
    let mut part = |name: &str| match f.remove(name) {
        None | Some(Value::Null) => Err(field(format!("{at}.{name} is required"))),
        Some(v) => text(v, &format!("{at}.{name}")),
    };
    Ok(RecipientId::UserAlias {
        alias_name: part("alias_name")?,
        alias_label: part("alias_label")?,
    })
}

fn email_address(value: Value, at: &str) -> Result<String, TriggerError> {
    let email = text(value, at)?;
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if !ok {
        return Err(field(format!(
            "{at} must be an email address (local@domain)"
        )));
    }
    Ok(email)
}

fn prioritization_list(value: Value, at: &str) -> Result<Vec<String>, TriggerError> {
    let Value::Array(items) = value else {
        return Err(field(format!("{at} must be an array of strings")));
    };
    if items.is_empty() {
        return Err(field(format!("{at} must not be empty")));
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) if PRIORITIZATIONS.contains(&s.as_str()) => Ok(s),
            _ => Err(field(format!(
                "{at} entries must be one of: {}",
                PRIORITIZATIONS.join(", ")
            ))),
        })
        .collect()
}

fn attachments(items: Vec<Value>) -> Result<usize, TriggerError> {
    for (i, item) in items.iter().enumerate() {
        let at = format!("attachments[{i}]");
        let Value::Object(f) = item else {
            return Err(field(format!(
                "{at} must be an object with file_name and url"
            )));
        };
        for name in ["file_name", "url"] {
            match f.get(name) {
                Some(Value::String(s)) if !s.is_empty() => {}
                _ => {
                    return Err(field(format!(
                        "{at}.{name} is required (a non-empty string)"
                    )))
                }
            }
        }
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(body: &str) -> String {
        parse_trigger_send(body.as_bytes()).unwrap_err().to_string()
    }

    fn ok(body: &str) -> TriggerSend {
        parse_trigger_send(body.as_bytes()).unwrap()
    }

    #[test]
    fn each_refusal_names_its_field() {
        assert!(err("{}").contains("campaign_id"));
        assert!(err(r#"{"campaign_id": 3}"#).contains("campaign_id"));
        assert!(err(r#"{"campaign_id": "c", "send_id": ""}"#).contains("send_id"));
        assert!(err(r#"{"campaign_id": "c", "broadcast": "yes"}"#).contains("broadcast"));
        assert!(err(r#"{"campaign_id": "c", "audience": []}"#).contains("audience"));
        assert!(err(r#"{"campaign_id": "c", "recipients": {}}"#).contains("recipients"));
        assert!(err(r#"{"campaign_id": "c", "recipients": []}"#).contains("recipients"));
        let two = r#"{"campaign_id": "c", "recipients": [{"external_user_id": "u", "email": "a@b.c", "prioritization": ["identified"]}]}"#;
        assert!(err(two).contains("recipients[0]") && err(two).contains("only one"));
        let none = r#"{"campaign_id": "c", "recipients": [{"external_user_id": "u"}, {}]}"#;
        assert!(err(none).contains("recipients[1]"));
        let email = r#"{"campaign_id": "c", "recipients": [{"email": "a@b.c"}]}"#;
        assert!(err(email).contains("recipients[0].prioritization"));
        let bad_email = r#"{"campaign_id": "c", "recipients": [{"email": "nobody", "prioritization": ["identified"]}]}"#;
        assert!(err(bad_email).contains("recipients[0].email"));
        let alias = r#"{"campaign_id": "c", "recipients": [{"user_alias": {"alias_name": "n"}}]}"#;
        assert!(err(alias).contains("recipients[0].user_alias.alias_label"));
        let existing = r#"{"campaign_id": "c", "recipients": [{"external_user_id": "u", "send_to_existing_only": false}]}"#;
        assert!(err(existing).contains("recipients[0].attributes"));
        let attach =
            r#"{"campaign_id": "c", "broadcast": true, "attachments": [{"file_name": "f"}]}"#;
        assert!(err(attach).contains("attachments[0].url"));
    }

    #[test]
    fn fifty_recipients_pass_and_fifty_one_do_not() {
        let body = |n: usize| {
            let r: Vec<Value> = (0..n)
                .map(|i| serde_json::json!({"external_user_id": format!("u{i}")}))
                .collect();
            serde_json::json!({"campaign_id": "c", "recipients": r}).to_string()
        };
        assert_eq!(ok(&body(50)).recipients.unwrap().len(), 50);
        assert!(err(&body(51)).contains("at most 50"));
    }

    #[test]
    fn the_target_rules() {
        assert_eq!(
            ok(r#"{"campaign_id": "c"}"#).target(),
            Err(TriggerError::NoTarget)
        );
        let both = ok(
            r#"{"campaign_id": "c", "broadcast": true, "recipients": [{"external_user_id": "u"}]}"#,
        );
        assert_eq!(both.target(), Err(TriggerError::RecipientsWithBroadcast));
        let b = ok(r#"{"campaign_id": "c", "broadcast": true, "trigger_properties": null}"#);
        assert_eq!(b.target(), Ok(Target::Broadcast));
        assert!(b.generates_send_id(Target::Broadcast));
        let r = ok(
            r#"{"campaign_id": "c", "recipients": [{"user_alias": {"alias_name": "n", "alias_label": "l"}}]}"#,
        );
        assert_eq!(r.target(), Ok(Target::Recipients));
        assert!(!r.generates_send_id(Target::Recipients));
        let a = ok(
            r#"{"campaign_id": "c", "audience": {"AND": []}, "recipients": [{"external_user_id": "u"}]}"#,
        );
        assert!(a.generates_send_id(Target::Recipients));
    }

    #[test]
    fn identities_compare_emails_without_case() {
        let a = RecipientId::Email {
            email: "Ann@Example.com".into(),
            prioritization: vec!["identified".into()],
        };
        let b = RecipientId::Email {
            email: "ann@example.com".into(),
            prioritization: vec!["unidentified".into()],
        };
        assert_eq!(a.identity(), b.identity());
        assert_ne!(
            RecipientId::ExternalUserId("x".into()).identity(),
            a.identity()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_trigger_send(&data);
        }
    }
}
