//! Equivalent requests (metamorphic): the same request written another way that JSON (RFC 8259)
//! or HTTP (RFC 9110, 9112) says is the same gets the same answer and the same quota effect.
//! Each transform takes a request known to be equivalent to its base; the bases are a repeat of
//! the run's existing pair (200, that send_id, no unit) and a request refused at the body step
//! (400, no unit), so no variant costs a unit on a conformant server.
use std::fmt::Write as _;

use super::wire::RawRequest;
use crate::http::{quote, Response};

/// A base request's parts: JSON members in order (name, raw JSON value).
#[derive(Debug, Clone)]
pub struct Base {
    pub members: Vec<(String, String)>,
    pub path: String,
}

/// One way of writing the base again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    EscapedStrings,
    EscapedNames,
    EscapedSolidus,
    Whitespace,
    KeyOrder,
    UnknownFields,
    DuplicatedUnknownField,
    CharsetParameter,
    QuotedCharset,
    SpacedParameter,
    MediaTypeCase,
    SchemeLowercase,
    SchemeUppercase,
    HeaderNamesUppercase,
    HeaderNamesLowercase,
    Chunked,
    NullSendIdAbsent,
}

pub const TRANSFORMS: &[Transform] = &[
    Transform::EscapedStrings,
    Transform::EscapedNames,
    Transform::EscapedSolidus,
    Transform::Whitespace,
    Transform::KeyOrder,
    Transform::UnknownFields,
    Transform::DuplicatedUnknownField,
    Transform::CharsetParameter,
    Transform::QuotedCharset,
    Transform::SpacedParameter,
    Transform::MediaTypeCase,
    Transform::SchemeLowercase,
    Transform::SchemeUppercase,
    Transform::HeaderNamesUppercase,
    Transform::HeaderNamesLowercase,
    Transform::Chunked,
];

impl Transform {
    pub fn label(self) -> &'static str {
        match self {
            Transform::EscapedStrings => {
                "every character of the string values as a \\u escape (RFC 8259 §7)"
            }
            Transform::EscapedNames => "the member names as \\u escapes (RFC 8259 §7)",
            Transform::EscapedSolidus => {
                "/ written \\/ and a letter as \\u0061-style escape (RFC 8259 §7)"
            }
            Transform::Whitespace => "insignificant whitespace around every token (RFC 8259 §2)",
            Transform::KeyOrder => {
                "the members in the other order (RFC 8259 §4: an object is unordered)"
            }
            Transform::UnknownFields => "unknown fields of every JSON type (contract §1: ignored)",
            Transform::DuplicatedUnknownField => {
                "an unknown field given twice (contract §1: ignored)"
            }
            Transform::CharsetParameter => {
                "Content-Type application/json; charset=utf-8 (contract §1)"
            }
            Transform::QuotedCharset => {
                "Content-Type application/json;charset=\"UTF-8\" (RFC 9110 §5.6.6, §8.3.2)"
            }
            Transform::SpacedParameter => {
                "Content-Type application/json ; charset=utf-8 (RFC 9110 §5.6.6)"
            }
            Transform::MediaTypeCase => {
                "Content-Type Application/JSON (RFC 9110 §8.3.1: case-insensitive)"
            }
            Transform::SchemeLowercase => {
                "Authorization: bearer <key> (RFC 9110 §11.1: the scheme is case-insensitive)"
            }
            Transform::SchemeUppercase => "Authorization: BEARER <key> (RFC 9110 §11.1)",
            Transform::HeaderNamesUppercase => {
                "header names in upper case (RFC 9110 §5.1: case-insensitive)"
            }
            Transform::HeaderNamesLowercase => "header names in lower case (RFC 9110 §5.1)",
            Transform::Chunked => "the body chunked instead of Content-Length (RFC 9112 §7.1)",
            Transform::NullSendIdAbsent => "\"send_id\": null instead of no send_id (contract §1)",
        }
    }
}

fn escape_all(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let mut buf = [0u16; 2];
        for unit in c.encode_utf16(&mut buf) {
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out
}

/// A JSON string's raw text (`"..."`) decoded, when it is one.
fn string_value(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(raw).ok()
}

impl Base {
    /// The canonical request: members as given, `Content-Type: application/json`.
    pub fn request(&self) -> RawRequest {
        RawRequest {
            method: "POST".into(),
            path: self.path.clone(),
            headers: vec![
                ("Authorization".into(), "Bearer {secret}".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: self.body(quote, |v| v.to_string(), ",", ":").into_bytes(),
            chunked: false,
        }
    }

    fn body(
        &self,
        name: impl Fn(&str) -> String,
        mut value: impl FnMut(&str) -> String,
        comma: &str,
        colon: &str,
    ) -> String {
        let members: Vec<String> = self
            .members
            .iter()
            .map(|(n, v)| format!("{}{colon}{}", name(n), value(v)))
            .collect();
        format!("{{{}}}", members.join(comma))
    }

    /// The base written the way of `t`; `None` when `t` does not apply (`/` in no string).
    pub fn transformed(&self, t: Transform) -> Option<RawRequest> {
        let mut req = self.request();
        let plain_name = quote;
        let plain_value = |v: &str| v.to_string();
        match t {
            Transform::EscapedStrings => {
                req.body = self
                    .body(
                        plain_name,
                        |v| {
                            string_value(v)
                                .map_or(v.to_string(), |s| format!("\"{}\"", escape_all(&s)))
                        },
                        ",",
                        ":",
                    )
                    .into_bytes();
            }
            Transform::EscapedNames => {
                req.body = self
                    .body(|n| format!("\"{}\"", escape_all(n)), plain_value, ",", ":")
                    .into_bytes();
            }
            Transform::EscapedSolidus => {
                let mut changed = false;
                let body = self.body(
                    plain_name,
                    |v| match string_value(v) {
                        Some(s) => {
                            let q = quote(&s);
                            let mut w = q.replace('/', "\\/");
                            if let Some(i) = w[1..].find(|c: char| c.is_ascii_alphabetic()) {
                                let c = w.as_bytes()[i + 1];
                                w.replace_range(i + 1..i + 2, &format!("\\u{:04x}", c));
                            }
                            if w != q {
                                changed = true;
                            }
                            w
                        }
                        None => v.to_string(),
                    },
                    ",",
                    ":",
                );
                if !changed {
                    return None;
                }
                req.body = body.into_bytes();
            }
            Transform::Whitespace => {
                req.body = format!(
                    " \r\n\t{} \n",
                    self.body(plain_name, plain_value, " ,\n\t ", " \t: \r\n")
                        .replace('{', "{ \n")
                        .replace('}', "\t }")
                )
                .into_bytes();
            }
            Transform::KeyOrder => {
                if self.members.len() < 2 {
                    return None;
                }
                let mut rev = self.clone();
                rev.members.reverse();
                req.body = rev.request().body;
            }
            Transform::UnknownFields => {
                let mut more = self.clone();
                more.members.insert(
                    0,
                    (
                        "unknown_object".into(),
                        r#"{"send_id":"not-this","campaign_id":"nor-this"}"#.into(),
                    ),
                );
                more.members
                    .push(("unknown_array".into(), r#"[1,"two",null,{"a":[]}]"#.into()));
                more.members
                    .push(("unknown_number".into(), "-12.5e3".into()));
                more.members.push(("unknown_null".into(), "null".into()));
                more.members.push(("unknown_bool".into(), "false".into()));
                req.body = more.request().body;
            }
            Transform::DuplicatedUnknownField => {
                let mut more = self.clone();
                more.members.push(("unknown_field".into(), "1".into()));
                more.members
                    .push(("unknown_field".into(), "\"two\"".into()));
                req.body = more.request().body;
            }
            Transform::CharsetParameter => {
                set(&mut req, "Content-Type", "application/json; charset=utf-8")
            }
            Transform::QuotedCharset => set(
                &mut req,
                "Content-Type",
                "application/json;charset=\"UTF-8\"",
            ),
            Transform::SpacedParameter => {
                set(&mut req, "Content-Type", "application/json ; charset=utf-8")
            }
            Transform::MediaTypeCase => set(&mut req, "Content-Type", "Application/JSON"),
            Transform::SchemeLowercase => set(&mut req, "Authorization", "bearer {secret}"),
            Transform::SchemeUppercase => set(&mut req, "Authorization", "BEARER {secret}"),
            Transform::HeaderNamesUppercase => req
                .headers
                .iter_mut()
                .for_each(|(n, _)| *n = n.to_ascii_uppercase()),
            Transform::HeaderNamesLowercase => req
                .headers
                .iter_mut()
                .for_each(|(n, _)| *n = n.to_ascii_lowercase()),
            Transform::Chunked => req.chunked = true,
            Transform::NullSendIdAbsent => {
                if self.members.iter().any(|(n, _)| n == "send_id") {
                    return None;
                }
                let mut more = self.clone();
                more.members.push(("send_id".into(), "null".into()));
                req.body = more.request().body;
            }
        }
        Some(req)
    }
}

fn set(req: &mut RawRequest, name: &str, value: &str) {
    for (n, v) in &mut req.headers {
        if n.eq_ignore_ascii_case(name) {
            *v = value.to_string();
        }
    }
}

/// The variant answered as the base was: the same status, for a 200 the same send_id, and the
/// same `X-RateLimit-Remaining` (neither spends a unit).
pub fn same_answer(t: Transform, base: &Response, variant: &Response) -> Result<(), String> {
    if base.status != variant.status || (base.status == 200 && base.send_id() != variant.send_id())
    {
        let show = |r: &Response| {
            let mut s = r.status.to_string();
            if let Some(id) = r.send_id() {
                let _ = write!(s, " with send_id {}", quote(id));
            } else if let Some(m) = r.message() {
                let _ = write!(s, " {}", quote(m));
            }
            s
        };
        return Err(format!(
            "the same request written with {} answered {}; as written plainly it answered {}",
            t.label(),
            show(variant),
            show(base)
        ));
    }
    Ok(())
}

/// The variant spent what the base spent: nothing (`before`: Remaining before the variant).
pub fn same_quota_effect(
    t: Transform,
    before: Option<i64>,
    variant: &Response,
) -> Result<(), String> {
    match (before, variant.remaining()) {
        (Some(b), Some(a)) if a != b => Err(format!(
            "the same request written with {} moved X-RateLimit-Remaining from {b} to {a}; as \
             written plainly it spends nothing",
            t.label()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Base {
        Base {
            members: vec![
                ("campaign_id".into(), "\"c/1\"".into()),
                ("send_id".into(), "\"ab\"".into()),
            ],
            path: "/sends/id/create".into(),
        }
    }

    #[test]
    fn every_transform_is_the_same_json_and_the_same_headers_up_to_case() {
        let plain = base().request();
        let value: serde_json::Value = serde_json::from_slice(&plain.body).expect("json");
        for t in TRANSFORMS
            .iter()
            .chain([Transform::NullSendIdAbsent].iter())
        {
            let Some(v) = base().transformed(*t) else {
                continue;
            };
            let got: serde_json::Value =
                serde_json::from_slice(&v.body).unwrap_or_else(|e| panic!("{t:?}: {e}"));
            let unknown = matches!(
                t,
                Transform::UnknownFields | Transform::DuplicatedUnknownField
            );
            if unknown {
                assert_eq!(got["send_id"], value["send_id"], "{t:?}");
                assert_eq!(got["campaign_id"], value["campaign_id"], "{t:?}");
            } else {
                assert_eq!(got, value, "{t:?}: {}", String::from_utf8_lossy(&v.body));
            }
        }
        let esc = base()
            .transformed(Transform::EscapedStrings)
            .expect("applies");
        assert!(String::from_utf8_lossy(&esc.body).contains("\\u0061\\u0062"));
        let sol = base()
            .transformed(Transform::EscapedSolidus)
            .expect("applies");
        assert!(String::from_utf8_lossy(&sol.body).contains("\\/"));
    }
}
