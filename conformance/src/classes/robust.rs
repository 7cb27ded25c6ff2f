//! Parser robustness (RFC 8259 §8.1, §9; contract §1 step 4): hostile bodies — deep nesting,
//! strings near the 64 KiB limit and just over it, huge numbers, invalid UTF-8, a byte order
//! mark, NUL bytes, empty and whitespace-only bodies, truncated JSON, values that are not an
//! object — never get a 5xx; every error is JSON `{"message"}` with the status the contract
//! gives (413 over 64 KiB, 400 otherwise). A body that is valid JSON carrying the run's existing
//! pair and a hostile unknown field may be refused (RFC 8259 §9 lets a parser set limits) or
//! taken as the repeat it is; either way it costs nothing.
use serde_json::{json, Map, Value};

use crate::http::{quote, Response};
use crate::strategies::MAX_BODY;

/// What the contract says of a hostile body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Not a valid request: 400.
    BadRequest,
    /// Over 64 KiB: 413.
    TooLarge,
    /// Valid JSON, the existing pair and an unknown field: the repeat (200, that send_id) or 400.
    RepeatOrBadRequest,
    /// Valid and within the limit: the repeat (200, that send_id).
    Repeat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hostile {
    pub label: &'static str,
    pub body: Vec<u8>,
    pub expect: Expect,
}

fn nested(depth: usize, open: &str, close: &str, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// The hostile bodies, built around the run's existing pair (`pair`: campaign_id and send_id).
pub fn bodies(pair: &Map<String, Value>) -> Vec<Hostile> {
    let base = Value::Object(pair.clone()).to_string();
    // The pair's fields with one more raw JSON member appended.
    let with = |member: &str| -> Vec<u8> {
        let inner = base.trim_end_matches('}');
        let sep = if inner.ends_with('{') { "" } else { "," };
        format!("{inner}{sep}{member}}}").into_bytes()
    };
    let with_padding = |total: usize| -> Vec<u8> {
        let empty = with("\"padding\":\"\"").len();
        with(&format!(
            "\"padding\":\"{}\"",
            "x".repeat(total.saturating_sub(empty))
        ))
    };
    let digits100 = "1234567890".repeat(10);
    let mut out = vec![
        Hostile {
            label: "an unknown field nested 33 levels deep",
            body: with(&format!("\"x\":{}", nested(33, "[", "]", ""))),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "an unknown field nested 100 levels deep",
            body: with(&format!("\"x\":{}", nested(100, "{\"a\":", "}", "1"))),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "an unknown field nested 10,000 levels deep",
            body: with(&format!("\"x\":{}", nested(10_000, "[", "]", ""))),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "a body nested 10,000 levels deep, never closed",
            body: "[".repeat(10_000).into_bytes(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "objects nested 5,000 levels deep without campaign_id",
            body: nested(5_000, "{\"a\":", "}", "1").into_bytes(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "a body of exactly 64 KiB",
            body: with_padding(MAX_BODY),
            expect: Expect::Repeat,
        },
        Hostile {
            label: "a body of 64 KiB + 1 byte",
            body: with_padding(MAX_BODY + 1),
            expect: Expect::TooLarge,
        },
        Hostile {
            label: "a body of 64 KiB + 1 byte of \\u escapes",
            body: {
                let e = with("\"padding\":\"\"").len();
                with(&format!(
                    "\"padding\":\"{}\"",
                    "\\u0041".repeat((MAX_BODY + 1 - e).div_ceil(6))
                ))
            },
            expect: Expect::TooLarge,
        },
        Hostile {
            label: "the number 1e400 in an unknown field",
            body: with("\"x\":1e400"),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "the number -1e400 in an unknown field",
            body: with("\"x\":-1e400"),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "a 100-digit integer in an unknown field",
            body: with(&format!("\"x\":{digits100}")),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "a 100-digit fraction in an unknown field",
            body: with(&format!("\"x\":0.{digits100}e-99999")),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "send_id the number 1e400",
            body: json_with(pair, "send_id", "1e400"),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "campaign_id a 100-digit integer",
            body: json_with(pair, "campaign_id", &digits100),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "invalid UTF-8 in an unknown field",
            body: with_bytes(&with("\"x\":\"@\""), b'@', &[0xff, 0xfe]),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "an overlong UTF-8 encoding in an unknown field",
            body: with_bytes(&with("\"x\":\"@\""), b'@', &[0xc0, 0xaf]),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "a UTF-16 surrogate encoded as UTF-8",
            body: with_bytes(&with("\"x\":\"@\""), b'@', &[0xed, 0xa0, 0x80]),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "a lone surrogate escape in an unknown field",
            body: with("\"x\":\"\\ud800\""),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "a UTF-8 byte order mark before the body",
            body: [&[0xef, 0xbb, 0xbf][..], base.as_bytes()].concat(),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "a NUL byte inside a string",
            body: with_bytes(&with("\"x\":\"a@b\""), b'@', &[0]),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "a NUL byte after the object",
            body: [base.as_bytes(), &[0][..]].concat(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "an escaped NUL in an unknown field",
            body: with("\"x\":\"\\u0000\""),
            expect: Expect::RepeatOrBadRequest,
        },
        Hostile {
            label: "an empty body",
            body: Vec::new(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "a whitespace-only body",
            body: b" \r\n\t ".to_vec(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "text after the object",
            body: format!("{base} {base}").into_bytes(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "the JSON value 1e400",
            body: b"1e400".to_vec(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "the JSON value null",
            body: b"null".to_vec(),
            expect: Expect::BadRequest,
        },
        Hostile {
            label: "an array of 500 objects",
            body: format!("[{}]", vec![base.as_str(); 500].join(",")).into_bytes(),
            expect: Expect::BadRequest,
        },
    ];
    // The valid body cut short at several places.
    for cut in [1, base.len() / 3, base.len() / 2, base.len() - 1] {
        out.push(Hostile {
            label: "truncated JSON",
            body: base.as_bytes()[..cut].to_vec(),
            expect: Expect::BadRequest,
        });
    }
    out.retain(|h| h.body.len() <= MAX_BODY + 64 * 1024);
    out
}

fn json_with(pair: &Map<String, Value>, field: &str, raw: &str) -> Vec<u8> {
    let mut m = pair.clone();
    m.insert(field.into(), json!("@@RAW@@"));
    Value::Object(m)
        .to_string()
        .replace("\"@@RAW@@\"", raw)
        .into_bytes()
}

fn with_bytes(body: &[u8], marker: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in body {
        if b == marker {
            out.extend_from_slice(bytes);
        } else {
            out.push(b);
        }
    }
    out
}

/// Never a 5xx; an error is JSON `{"message": <string>}` with `Content-Type: application/json`.
pub fn handled(h: &Hostile, r: &Response) -> Result<(), String> {
    if r.status >= 500 {
        return Err(format!(
            "{} answered {} (no client input produces a 5xx)",
            h.label, r.status
        ));
    }
    if r.status >= 400 {
        let json = r
            .content_type()
            .is_some_and(|ct| crate::spec::essence(ct) == "application/json");
        let message = r
            .json
            .as_ref()
            .and_then(|j| j.get("message"))
            .is_some_and(Value::is_string);
        if !json || !message {
            return Err(format!(
                "{} answered {} without a JSON {{\"message\"}} body (Content-Type {}, body {})",
                h.label,
                r.status,
                quote(r.content_type().unwrap_or("none")),
                crate::http::excerpt(&r.body, 120)
            ));
        }
    }
    Ok(())
}

/// The status the contract gives; a 200 must be the existing pair's repeat.
pub fn status(h: &Hostile, r: &Response, existing: &str) -> Result<(), String> {
    let s = r.status;
    let repeat = s == 200 && r.send_id() == Some(existing);
    let ok = match h.expect {
        Expect::BadRequest => s == 400,
        Expect::TooLarge => s == 413,
        Expect::RepeatOrBadRequest => repeat || s == 400,
        Expect::Repeat => repeat,
    };
    if ok {
        return Ok(());
    }
    let want = match h.expect {
        Expect::BadRequest => "400".to_string(),
        Expect::TooLarge => "413 (over 64 KiB)".to_string(),
        Expect::RepeatOrBadRequest => format!(
            "400, or 200 with the existing pair's send_id {}",
            quote(existing)
        ),
        Expect::Repeat => format!(
            "200 with the existing pair's send_id {} (64 KiB is within the limit)",
            quote(existing)
        ),
    };
    Err(format!(
        "{} answered {s}{}: expected {want}",
        h.label,
        r.send_id()
            .map(|id| format!(" with send_id {}", quote(id)))
            .unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("campaign_id".into(), json!("c"));
        m.insert("send_id".into(), json!("e"));
        m
    }

    #[test]
    fn the_bodies_are_what_their_labels_say() {
        let bodies = bodies(&pair());
        for h in &bodies {
            let parsed = serde_json::from_slice::<Value>(&h.body);
            match h.expect {
                Expect::Repeat => {
                    assert_eq!(h.body.len(), MAX_BODY, "{}", h.label);
                    assert!(parsed.is_ok(), "{}", h.label);
                }
                Expect::TooLarge => assert!(h.body.len() > MAX_BODY, "{}", h.label),
                _ => assert!(h.body.len() <= MAX_BODY, "{}: {}", h.label, h.body.len()),
            }
        }
        let deep = bodies
            .iter()
            .find(|h| h.label.contains("33 levels"))
            .expect("33");
        let v: Value = serde_json::from_slice(&deep.body).expect("valid");
        assert_eq!(v["send_id"], "e");
        assert!(bodies
            .iter()
            .any(|h| h.body.starts_with(&[0xef, 0xbb, 0xbf])));
    }
}
