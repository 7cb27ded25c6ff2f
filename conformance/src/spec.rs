//! The OpenAPI document drives the shapes: statuses, content types, body schemas and headers of
//! `POST /sends/id/create` come from it, so a change of contract needs no change of code.
use std::collections::BTreeMap;

use jsonschema::Validator;
use serde_json::{json, Map, Value};

use crate::exit::Fatal;

/// The document built into the binary.
pub const EMBEDDED: &str = include_str!("../../openapi/sends.json");
pub const OPERATION_PATH: &str = "/sends/id/create";
pub const OPERATION_METHOD: &str = "post";

pub struct Spec {
    pub source: String,
    responses: BTreeMap<String, ResponseSpec>,
    /// Bounds of `send_id` in the request schema (fallback: 1..=64).
    pub send_id_min: usize,
    pub send_id_max: usize,
}

pub struct ResponseSpec {
    pub status: String,
    /// Media types (essence, lower-case) with the compiled body schema, if any.
    pub content: Vec<(String, Option<Validator>)>,
    pub headers: Vec<HeaderSpec>,
}

pub struct HeaderSpec {
    /// As the document spells it.
    pub name: String,
    pub required: bool,
    /// `type` of the header's schema (integer, number, boolean, string, ...).
    pub ty: Option<String>,
    pub validator: Option<Validator>,
}

impl Spec {
    pub fn embedded() -> Result<Spec, Fatal> {
        Spec::parse(EMBEDDED, "built-in openapi/sends.json")
    }

    /// Loads the document from a path or an http(s) URL.
    pub async fn load(source: &str, client: &reqwest::Client) -> Result<Spec, Fatal> {
        let bad = |reason: String| Fatal::Spec {
            source_name: source.to_string(),
            reason,
        };
        let text = if source.starts_with("http://") || source.starts_with("https://") {
            let resp = client
                .get(source)
                .send()
                .await
                .map_err(|e| bad(format!("cannot fetch: {e}")))?;
            if !resp.status().is_success() {
                return Err(bad(format!("fetching it answered {}", resp.status())));
            }
            resp.text()
                .await
                .map_err(|e| bad(format!("cannot read: {e}")))?
        } else {
            std::fs::read_to_string(source).map_err(|e| bad(format!("cannot read: {e}")))?
        };
        Spec::parse(&text, source)
    }

    pub fn parse(text: &str, source: &str) -> Result<Spec, Fatal> {
        let bad = |reason: String| Fatal::Spec {
            source_name: source.to_string(),
            reason,
        };
        let doc = parse_document(text).map_err(bad)?;
        let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("3.") {
            return Err(bad(format!(
                "not an OpenAPI 3 document (openapi: {})",
                crate::http::quote(version)
            )));
        }
        let op = doc
            .pointer(&format!(
                "/paths/{}/{OPERATION_METHOD}",
                escape_pointer(OPERATION_PATH)
            ))
            .ok_or_else(|| {
                bad(format!(
                    "the document has no operation POST {OPERATION_PATH}"
                ))
            })?;
        let op = resolve(&doc, op).map_err(bad)?;
        let definitions = definitions(&doc).map_err(bad)?;
        let responses_obj = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(format!("POST {OPERATION_PATH} documents no responses")))?;
        let mut responses = BTreeMap::new();
        for (status, response) in responses_obj {
            let response = resolve(&doc, response).map_err(bad)?;
            let parsed = response_spec(&doc, &definitions, status, response)
                .map_err(|e| bad(format!("response {status}: {e}")))?;
            responses.insert(status.to_ascii_uppercase(), parsed);
        }
        if responses.is_empty() {
            return Err(bad(format!("POST {OPERATION_PATH} documents no responses")));
        }
        let send_id = op
            .pointer("/requestBody")
            .and_then(|rb| resolve(&doc, rb).ok())
            .and_then(|rb| rb.get("content"))
            .and_then(Value::as_object)
            .and_then(|c| c.values().next())
            .and_then(|mt| mt.get("schema"))
            .and_then(|s| resolve(&doc, s).ok())
            .and_then(|s| s.pointer("/properties/send_id"))
            .and_then(|s| resolve(&doc, s).ok());
        let bound = |key: &str, default: usize| {
            send_id
                .and_then(|s| s.get(key))
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .unwrap_or(default)
        };
        Ok(Spec {
            source: source.to_string(),
            send_id_min: bound("minLength", 1).max(1),
            send_id_max: bound("maxLength", 64).max(1),
            responses,
        })
    }

    /// The documented response for a status: exact, then `4XX`-style ranges, then `default`.
    pub fn response(&self, status: u16) -> Option<&ResponseSpec> {
        self.responses
            .get(&status.to_string())
            .or_else(|| self.responses.get(&format!("{}XX", status / 100)))
            .or_else(|| self.responses.get("DEFAULT"))
    }

    pub fn documented_statuses(&self) -> Vec<&str> {
        self.responses.keys().map(String::as_str).collect()
    }
}

impl ResponseSpec {
    pub fn media_types(&self) -> Vec<&str> {
        self.content.iter().map(|(m, _)| m.as_str()).collect()
    }

    /// The validator for a response's media type (exact essence, then a wildcard entry).
    pub fn schema_for(&self, essence: &str) -> Option<&Validator> {
        self.content
            .iter()
            .find(|(m, _)| m == essence)
            .or_else(|| self.content.iter().find(|(m, _)| m == "*/*"))
            .and_then(|(_, v)| v.as_ref())
    }
}

/// The document as JSON: JSON when it parses as JSON, YAML otherwise (JSON is YAML too, but
/// JSON's own parser gives the better error for a broken JSON document).
fn parse_document(text: &str) -> Result<Value, String> {
    let trimmed = text.trim_start();
    let looks_json = trimmed.starts_with('{') || trimmed.starts_with('[');
    match serde_json::from_str::<Value>(text) {
        Ok(doc) => Ok(doc),
        Err(json_error) => match serde_saphyr::from_str::<Value>(text) {
            Ok(doc) if doc.is_object() => Ok(doc),
            Ok(_) => Err("not an OpenAPI document: neither a JSON nor a YAML mapping".into()),
            Err(_) if looks_json => Err(format!("not a JSON document: {json_error}")),
            Err(yaml_error) => Err(format!("not a JSON or YAML document: {yaml_error}")),
        },
    }
}

/// The media type without parameters, lower-case: `application/json; charset=utf-8` → `application/json`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Follows a local `$ref` (several hops) to the object it names.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            None => return Ok(value),
            Some(r) => {
                let pointer = r.strip_prefix('#').ok_or_else(|| {
                    format!(
                        "only local $refs are supported, not {}",
                        crate::http::quote(r)
                    )
                })?;
                value = doc
                    .pointer(pointer)
                    .ok_or_else(|| format!("$ref {} points at nothing", crate::http::quote(r)))?;
            }
        }
    }
    Err("a $ref chain is longer than 32 hops".into())
}

/// `components/schemas`, converted to JSON Schema, as the `definitions` of every compiled schema.
fn definitions(doc: &Value) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            out.insert(name.clone(), to_json_schema(schema)?);
        }
    }
    Ok(out)
}

/// OpenAPI 3.0 Schema Object → JSON Schema draft 4: `nullable` becomes a `null` type, refs into
/// `components/schemas` become refs into `definitions`, unsigned formats get `minimum: 0`.
pub fn to_json_schema(schema: &Value) -> Result<Value, String> {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let converted = match key.as_str() {
                    "$ref" => {
                        let r = value.as_str().ok_or("a $ref that is not a string")?;
                        let name = r.strip_prefix("#/components/schemas/").ok_or_else(|| {
                            format!(
                                "schema $ref {} is not into #/components/schemas",
                                crate::http::quote(r)
                            )
                        })?;
                        Value::String(format!("#/definitions/{name}"))
                    }
                    // Keywords whose values are schemas or maps/lists of schemas.
                    "properties" | "patternProperties" => match value {
                        Value::Object(props) => Value::Object(
                            props
                                .iter()
                                .map(|(k, v)| Ok((k.clone(), to_json_schema(v)?)))
                                .collect::<Result<_, String>>()?,
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" | "not" => to_json_schema(value)?,
                    "allOf" | "anyOf" | "oneOf" => match value {
                        Value::Array(list) => {
                            Value::Array(list.iter().map(to_json_schema).collect::<Result<_, _>>()?)
                        }
                        other => other.clone(),
                    },
                    // OpenAPI-only annotations that JSON Schema does not know.
                    "nullable" | "discriminator" | "xml" | "externalDocs" | "example"
                    | "deprecated" | "readOnly" | "writeOnly" => continue,
                    _ => value.clone(),
                };
                out.insert(key.clone(), converted);
            }
            if let Some(Value::String(format)) = map.get("format") {
                if format.starts_with("uint") && !out.contains_key("minimum") {
                    out.insert("minimum".into(), json!(0));
                }
            }
            let nullable = map
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if nullable {
                return Ok(make_nullable(out));
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn make_nullable(mut out: Map<String, Value>) -> Value {
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = out.get_mut("enum") {
                values.push(Value::Null);
            }
            Value::Object(out)
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            out.insert("type".into(), Value::Array(types));
            Value::Object(out)
        }
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

fn compile(schema: &Value, definitions: &Map<String, Value>) -> Result<Validator, String> {
    let mut root = match to_json_schema(schema)? {
        Value::Object(map) => map,
        Value::Bool(b) => {
            let mut m = Map::new();
            if !b {
                m.insert("not".into(), json!({}));
            }
            m
        }
        other => return Err(format!("a schema that is not an object: {other}")),
    };
    root.insert("definitions".into(), Value::Object(definitions.clone()));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&Value::Object(root))
        .map_err(|e| format!("the schema does not compile: {e}"))
}

fn response_spec(
    doc: &Value,
    definitions: &Map<String, Value>,
    status: &str,
    response: &Value,
) -> Result<ResponseSpec, String> {
    let mut content = Vec::new();
    if let Some(media) = response.get("content").and_then(Value::as_object) {
        for (media_type, body) in media {
            let validator = match body.get("schema") {
                Some(schema) => Some(compile(schema, definitions)?),
                None => None,
            };
            content.push((essence(media_type), validator));
        }
    }
    let mut headers = Vec::new();
    if let Some(hs) = response.get("headers").and_then(Value::as_object) {
        for (name, header) in hs {
            let header = resolve(doc, header)?;
            let schema = match header.get("schema") {
                Some(s) => Some(resolve(doc, s)?),
                None => None,
            };
            let ty = schema
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let validator = match schema {
                Some(s) => Some(compile(s, definitions)?),
                None => None,
            };
            headers.push(HeaderSpec {
                name: name.clone(),
                required: header
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                ty,
                validator,
            });
        }
    }
    Ok(ResponseSpec {
        status: status.to_string(),
        content,
        headers,
    })
}

/// A header value read as the JSON value its schema type says (`"12"` → `12` for integers).
pub fn typed_header_value(ty: Option<&str>, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    match ty {
        Some("integer") => {
            if let Ok(n) = raw.parse::<i64>() {
                Ok(json!(n))
            } else if let Ok(n) = raw.parse::<u64>() {
                Ok(json!(n))
            } else {
                Err(format!("{} is not an integer", crate::http::quote(raw)))
            }
        }
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| json!(f))
            .ok_or_else(|| format!("{} is not a number", crate::http::quote(raw))),
        Some("boolean") => match raw {
            "true" => Ok(json!(true)),
            "false" => Ok(json!(false)),
            _ => Err(format!("{} is not a boolean", crate::http::quote(raw))),
        },
        _ => Ok(Value::String(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_parses_with_its_statuses() {
        let spec = Spec::embedded().expect("embedded spec");
        assert_eq!(
            spec.documented_statuses(),
            vec!["200", "400", "401", "403", "413", "415", "429", "503"]
        );
        assert_eq!((spec.send_id_min, spec.send_id_max), (1, 64));
        let ok = spec.response(200).expect("200");
        assert_eq!(ok.media_types(), vec!["application/json"]);
        let v = ok.schema_for("application/json").expect("schema");
        assert!(v.is_valid(&json!({"message": "success", "send_id": "x"})));
        assert!(!v.is_valid(&json!({"send_id": "x"})));
        assert_eq!(ok.headers.len(), 3);
        assert!(ok.headers.iter().all(|h| h.required));
    }

    #[test]
    fn nullable_becomes_a_null_type() {
        let s = to_json_schema(&json!({"type": "string", "nullable": true, "maxLength": 2}))
            .expect("converts");
        let v = jsonschema::validator_for(&s).expect("compiles");
        assert!(v.is_valid(&Value::Null));
        assert!(v.is_valid(&json!("ab")));
        assert!(!v.is_valid(&json!("abc")));
    }

    #[test]
    fn unsigned_formats_are_non_negative() {
        let s = to_json_schema(&json!({"type": "integer", "format": "uint64"})).expect("ok");
        let v = jsonschema::validator_for(&s).expect("compiles");
        assert!(v.is_valid(&json!(0)));
        assert!(!v.is_valid(&json!(-1)));
    }

    #[test]
    fn a_document_without_the_operation_is_refused() {
        let err = Spec::parse(r#"{"openapi":"3.0.0","paths":{}}"#, "t").err();
        assert!(matches!(err, Some(Fatal::Spec { .. })));
        assert!(Spec::parse("not json", "t").is_err());
        assert!(Spec::parse("{\"openapi\": ", "t").is_err());
    }

    #[test]
    fn a_yaml_document_is_read_like_its_json() {
        let json: Value = serde_json::from_str(EMBEDDED).expect("json");
        // The same document as YAML, with the unquoted status keys YAML authors write.
        let yaml = to_yaml(&json, 0);
        assert!(yaml.lines().any(|l| l.trim() == "200:"), "{yaml}");
        let spec = Spec::parse(&yaml, "sends.yaml").expect("the YAML document parses");
        assert_eq!(
            spec.documented_statuses(),
            Spec::embedded().expect("embedded").documented_statuses()
        );
        assert_eq!((spec.send_id_min, spec.send_id_max), (1, 64));
    }

    /// A small YAML writer for the test (block style, keys bare when they can be).
    fn to_yaml(v: &Value, indent: usize) -> String {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(m) if !m.is_empty() => m
                .iter()
                .map(|(k, v)| {
                    let key = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        k.clone()
                    } else {
                        serde_json::to_string(k).expect("key")
                    };
                    match v {
                        Value::Object(c) if !c.is_empty() => {
                            format!("\n{pad}{key}:{}", to_yaml(v, indent + 2))
                        }
                        Value::Array(a) if !a.is_empty() => {
                            format!("\n{pad}{key}:{}", to_yaml(v, indent + 2))
                        }
                        _ => format!("\n{pad}{key}: {}", to_yaml(v, indent + 2)),
                    }
                })
                .collect(),
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|item| format!("\n{pad}- {}", to_yaml(item, indent + 2).trim_start()))
                .collect(),
            other => other.to_string(),
        }
    }
}
