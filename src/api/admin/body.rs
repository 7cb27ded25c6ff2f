//! Admin request bodies, parsed so that every 400 is the project's JSON error naming the field
//! (docs/contract.md §2), as on the public operation. poem-openapi's own `Json<T>` reports a
//! wrongly typed field as `Expected input type "string", found null` without saying which field;
//! here the field's name and expected type are read from the same schema the admin document is
//! generated from, so the check cannot drift from the document.
use std::borrow::Cow;

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

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

/// A JSON request body of the admin API, checked field by field before it is parsed into `T`.
pub struct AdminJson<T>(pub T);

#[derive(Debug, thiserror::Error)]
pub enum AdminBodyError {
    #[error("Request body is empty: expected a JSON object")]
    Empty,
    #[error("Request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("Request body must be a JSON object")]
    NotAnObject,
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{field} must be {expected}")]
    WrongType { field: String, expected: String },
    #[error("{field} is not a field of this body; the known fields are: {known}")]
    Unknown { field: String, known: String },
    #[error("{0}")]
    OutOfBounds(String),
}

impl ResponseError for AdminBodyError {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

impl<T: Type + ParseFromJSON> Payload for AdminJson<T> {
    const CONTENT_TYPE: &'static str = Json::<T>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        Json::<T>::check_content_type(essence)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + ParseFromJSON> ParsePayload for AdminJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        Ok(Self(parse::<T>(&data)?))
    }
}

impl_apirequest_for_payload!(AdminJson<T>, T: Type + ParseFromJSON);

/// Where an admin body becomes a `T`, or a 400 that names what is wrong.
pub fn parse<T: Type + ParseFromJSON>(data: &[u8]) -> Result<T, AdminBodyError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(AdminBodyError::Empty);
    }
    let value: Value =
        serde_json::from_slice(data).map_err(|e| AdminBodyError::Malformed(e.to_string()))?;
    let Value::Object(fields) = &value else {
        return Err(AdminBodyError::NotAnObject);
    };
    let mut registry = Registry::new();
    T::register(&mut registry);
    if let Some(schema) = registry.schemas.get(&*T::name()) {
        let writable = writable(schema, &registry);
        // A typo (`daily_quota`) must not leave its field at the default unnoticed; a field
        // only the service sets (`read_only`, e.g. a rule's `id`) is not one a body may give.
        if let Some(field) = fields
            .keys()
            .find(|f| !writable.iter().any(|(name, _)| name == f))
        {
            let known: Vec<&str> = writable.iter().map(|(name, _)| *name).collect();
            return Err(AdminBodyError::Unknown {
                field: field.clone(),
                known: known.join(", "),
            });
        }
        for &(name, property) in &writable {
            match fields.get(name) {
                None | Some(Value::Null) if schema.required.contains(&name) => {
                    return Err(AdminBodyError::Missing(name));
                }
                None | Some(Value::Null) => {}
                Some(v) => check_type(name, resolve(property, &registry), &registry, v)?,
            }
        }
    }
    T::parse_from_json(Some(value)).map_err(|e| AdminBodyError::OutOfBounds(tidy(e.into_message())))
}

/// The properties of `schema` a request body may give: all but the `read_only` ones.
fn writable<'a>(
    schema: &'a MetaSchema,
    registry: &'a Registry,
) -> Vec<(&'static str, &'a MetaSchemaRef)> {
    schema
        .properties
        .iter()
        .filter(|(_, property)| !resolve(property, registry).is_some_and(|p| p.read_only))
        .map(|(name, property)| (*name, property))
        .collect()
}

fn resolve<'a>(schema: &'a MetaSchemaRef, registry: &'a Registry) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn check_type(
    field: &str,
    schema: Option<&MetaSchema>,
    registry: &Registry,
    value: &Value,
) -> Result<(), AdminBodyError> {
    let Some(mut schema) = schema else {
        return Ok(());
    };
    // A described or nullable reference is `allOf: [$ref, {description}]`: judge the referent.
    if let Some(first) = schema.all_of.first() {
        match resolve(first, registry) {
            Some(inner) => schema = inner,
            None => return Ok(()),
        }
    }
    let expected = expected_value(schema);
    let ok = match schema.ty {
        "string" => value.as_str().is_some_and(|s| {
            let n = s.chars().count();
            schema.min_length.is_none_or(|min| n >= min)
                && schema.max_length.is_none_or(|max| n <= max)
                && (schema.pattern.as_deref() != Some(PRINTABLE_ASCII)
                    || s.chars().all(|c| (' '..='~').contains(&c)))
        }),
        "integer" => {
            let unsigned = schema.format.is_some_and(|f| f.starts_with("uint"));
            let whole = if unsigned {
                value.is_u64()
            } else {
                value.is_i64() || value.is_u64()
            };
            whole && in_range(schema, value.as_f64())
        }
        "number" => value.is_number() && in_range(schema, value.as_f64()),
        "boolean" => value.is_boolean(),
        "array" => value
            .as_array()
            .is_some_and(|a| schema.max_items.is_none_or(|max| a.len() <= max)),
        "object" => value.is_object(),
        _ => true,
    };
    if !ok {
        return Err(AdminBodyError::WrongType {
            field: field.to_string(),
            expected,
        });
    }
    // An enum (the sandbox's `when`): name the values it takes.
    if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
        let known: Vec<String> = schema.enum_items.iter().map(Value::to_string).collect();
        return Err(AdminBodyError::OutOfBounds(format!(
            "{field} must be one of {}",
            known.join(", ")
        )));
    }
    // A nested object (the sandbox's `action`, `match`): its fields by name, `action.status`;
    // one it does not have is named with the known ones, as at the top.
    if let Value::Object(fields) = value {
        let writable = writable(schema, registry);
        if schema.ty == "object" && !schema.properties.is_empty() {
            if let Some(unknown) = fields
                .keys()
                .find(|f| !writable.iter().any(|(name, _)| name == f))
            {
                let known: Vec<String> = writable
                    .iter()
                    .map(|(name, _)| format!("{field}.{name}"))
                    .collect();
                return Err(AdminBodyError::Unknown {
                    field: format!("{field}.{unknown}"),
                    known: known.join(", "),
                });
            }
        }
        for (name, property) in writable {
            if let Some(v) = fields.get(name).filter(|v| !v.is_null()) {
                let inner = resolve(property, registry);
                check_type(&format!("{field}.{name}"), inner, registry, v)?;
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, &schema.items) {
        let item_schema = resolve(item_schema, registry);
        for (i, item) in items.iter().enumerate() {
            check_type(&format!("{field}[{i}]"), item_schema, registry, item)?;
        }
    }
    Ok(())
}

/// The pattern of a campaign id: printable ASCII.
const PRINTABLE_ASCII: &str = "^[ -~]+$";

fn in_range(schema: &MetaSchema, value: Option<f64>) -> bool {
    value.is_some_and(|v| {
        schema.minimum.is_none_or(|min| v >= min) && schema.maximum.is_none_or(|max| v <= max)
    })
}

/// What a field must be, in the house's words, from the schema the document shows:
/// `a whole number from 1 to 1000`, `a string of 1 to 200 characters`.
pub fn expected_value(schema: &MetaSchema) -> String {
    let unsigned = schema.format.is_some_and(|f| f.starts_with("uint"));
    let bound = |v: f64| format!("{v}");
    let range = |what: &str, min: Option<f64>, max: Option<f64>| match (min, max) {
        (Some(a), Some(b)) => format!("{what} from {} to {}", bound(a), bound(b)),
        (Some(a), None) => format!("{what} of {} or more", bound(a)),
        (None, Some(b)) => format!("{what} of at most {}", bound(b)),
        (None, None) => what.to_string(),
    };
    match schema.ty {
        "integer" => {
            let min = schema.minimum.or(unsigned.then_some(0.0));
            range("a whole number", min, schema.maximum)
        }
        "number" => range("a number", schema.minimum, schema.maximum),
        "string" => {
            let what = if schema.pattern.as_deref() == Some(PRINTABLE_ASCII) {
                "printable ASCII characters"
            } else {
                "characters"
            };
            match (schema.min_length, schema.max_length) {
                (Some(a), Some(b)) => format!("a string of {a} to {b} {what}"),
                (None, Some(b)) => format!("a string of at most {b} {what}"),
                (Some(a), None) => format!("a string of {a} or more {what}"),
                (None, None) => "a string".to_string(),
            }
        }
        "boolean" => "true or false".to_string(),
        "array" => match schema.max_items {
            Some(n) => format!("an array of at most {n} items"),
            None => "an array".to_string(),
        },
        "object" => "an object".to_string(),
        _ => "a value of its type".to_string(),
    }
}

/// poem-openapi's validator messages read `failed to parse "T": field `name` verification
/// failed. maxLength(200)`; say the same thing for a person.
fn tidy(message: String) -> String {
    let message = match message.split_once("\": ") {
        Some((prefix, rest)) if prefix.starts_with("failed to parse \"") => rest.to_string(),
        _ => message,
    };
    let message = match message.find(" (occurred while parsing") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    match message.strip_prefix("field `") {
        Some(rest) => match rest.split_once("` verification failed. ") {
            Some((field, rule)) => format!("{field} is out of bounds: {rule}"),
            None => message,
        },
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::Object;

    #[derive(Debug, Object)]
    struct Probe {
        #[oai(validator(min_length = 1, max_length = 3))]
        name: String,
        #[oai(nullable)]
        quota: Option<u64>,
        #[oai(nullable)]
        tags: Option<Vec<String>>,
        #[oai(nullable, validator(minimum(value = "1"), maximum(value = "10")))]
        small: Option<u8>,
    }

    fn err(body: &str) -> String {
        parse::<Probe>(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn every_refusal_names_its_field() {
        assert_eq!(err("{}"), "name is required");
        assert_eq!(err(r#"{"name": null}"#), "name is required");
        assert_eq!(
            err(r#"{"name": 1}"#),
            "name must be a string of 1 to 3 characters"
        );
        assert_eq!(
            err(r#"{"name": "a", "quota": -1}"#),
            "quota must be a whole number of 0 or more"
        );
        assert_eq!(
            err(r#"{"name": "a", "quota": "5"}"#),
            "quota must be a whole number of 0 or more"
        );
        assert_eq!(
            err(r#"{"name": "a", "tags": [1]}"#),
            "tags[0] must be a string"
        );
        assert_eq!(
            err(r#"{"name": "a", "tags": "x"}"#),
            "tags must be an array"
        );
        assert_eq!(
            err(r#"{"name": "a", "small": 11}"#),
            "small must be a whole number from 1 to 10"
        );
        assert_eq!(
            err(r#"{"name": "a", "small": "5"}"#),
            "small must be a whole number from 1 to 10"
        );
        assert_eq!(
            err(r#"{"name": "abcd"}"#),
            "name must be a string of 1 to 3 characters"
        );
        assert_eq!(err("[]"), "Request body must be a JSON object");
        assert_eq!(err(""), "Request body is empty: expected a JSON object");
        assert!(err("{").starts_with("Request body is not valid JSON"));
    }

    #[test]
    fn valid_bodies_parse() {
        let p = parse::<Probe>(br#"{"name": "ab", "quota": null}"#).unwrap();
        assert_eq!(p.name, "ab");
        assert_eq!(p.quota, None);
    }

    #[derive(Debug, Object)]
    struct WithReadOnly {
        #[oai(read_only)]
        id: String,
        name: String,
    }

    #[test]
    fn a_read_only_field_is_neither_required_nor_accepted() {
        let p = parse::<WithReadOnly>(br#"{"name": "ab"}"#).unwrap();
        assert_eq!((p.id.as_str(), p.name.as_str()), ("", "ab"));
        let refused = parse::<WithReadOnly>(br#"{"id": "x", "name": "ab"}"#).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "id is not a field of this body; the known fields are: name"
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_the_known_ones() {
        assert_eq!(
            err(r#"{"name": "ab", "quotaa": 5}"#),
            "quotaa is not a field of this body; the known fields are: name, quota, tags, small"
        );
    }
}
