//! Checks of an answer's shape, held to the OpenAPI document; the key never shown; no 5xx.
use super::*;
use crate::spec::{essence, typed_header_value};

pub fn status_is_documented(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) {
        return Verdict::Skip;
    }
    let status = ex.response.status;
    pass_if(documented(ctx, ex).is_some(), || {
        format!(
            "status {status} is not documented (the document lists {})",
            ctx.spec.documented_statuses().join(", ")
        )
    })
}

pub fn content_type_is_json(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !strict(ctx) && !status_ok(ctx, ex) {
        return Verdict::Skip;
    }
    let Some(ct) = ex.response.content_type() else {
        return Verdict::Fail("no Content-Type header".into());
    };
    let got = essence(ct);
    if got != "application/json" {
        return Verdict::Fail(format!("Content-Type {}, not application/json", quote(ct)));
    }
    if is_operation(ex) {
        if let Some(doc) = documented(ctx, ex) {
            let documented = doc.media_types();
            if !documented.is_empty() && !documented.contains(&got.as_str()) {
                return Verdict::Fail(format!(
                    "Content-Type {} is not documented for {} ({})",
                    quote(ct),
                    ex.response.status,
                    documented.join(", ")
                ));
            }
        }
    }
    Verdict::Pass
}

pub fn body_matches_schema(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || (!strict(ctx) && !status_ok(ctx, ex)) {
        return Verdict::Skip;
    }
    let Some(doc) = documented(ctx, ex) else {
        return Verdict::Skip;
    };
    let essence = ex.response.content_type().map(essence).unwrap_or_default();
    let Some(validator) = doc.schema_for(&essence).or_else(|| {
        // A wrong content type is its own check; still hold the body to the first schema.
        doc.content.iter().find_map(|(_, v)| v.as_ref())
    }) else {
        return Verdict::Skip;
    };
    let Some(body) = body_for_checks(ctx, ex) else {
        return Verdict::Fail(format!(
            "the body is not JSON: {}",
            crate::http::excerpt(&ex.response.body, 120)
        ));
    };
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .take(3)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    pass_if(errors.is_empty(), || {
        format!(
            "the body does not match the {} schema: {}",
            ex.response.status,
            errors.join("; ")
        )
    })
}

pub fn documented_headers_present_and_typed(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !is_operation(ex) || (!strict(ctx) && !status_ok(ctx, ex) && ex.response.status != 429) {
        return Verdict::Skip;
    }
    let Some(doc) = documented(ctx, ex) else {
        return Verdict::Skip;
    };
    let mut problems = Vec::new();
    for h in &doc.headers {
        match ex.response.header(&h.name) {
            None if h.required => problems.push(format!("{} is missing", h.name)),
            None => {}
            Some(raw) => match typed_header_value(h.ty.as_deref(), raw) {
                Err(e) => problems.push(format!("{}: {e}", h.name)),
                Ok(value) => {
                    if let Some(v) = &h.validator {
                        if let Some(e) = v.iter_errors(&value).next() {
                            problems.push(format!("{}: {}: {e}", h.name, quote(raw)));
                        }
                    }
                }
            },
        }
    }
    pass_if(problems.is_empty(), || problems.join("; "))
}

pub fn error_body_has_message(_: &Ctx, ex: &Exchange) -> Verdict {
    if ex.response.status < 400 {
        return Verdict::Skip;
    }
    let ok = ex
        .response
        .json
        .as_ref()
        .and_then(|j| j.get("message"))
        .is_some_and(|m| m.is_string());
    pass_if(ok, || {
        format!(
            "the error body is not {{\"message\": <string>}}: {}",
            crate::http::excerpt(&ex.response.body, 120)
        )
    })
}

pub fn response_never_shows_the_key(ctx: &Ctx, ex: &Exchange) -> Verdict {
    // The key as sent, as it reads inside a JSON string (`"` and `\` escaped), and for a long
    // key any 16 characters of it in a row (a key cut short is still shown).
    let shows = |key: &str| {
        if key.len() < 8 {
            return false;
        }
        let escaped = serde_json::to_string(key).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        let mut needles: Vec<&str> = vec![key, escaped];
        if key.len() >= 24 && key.is_ascii() {
            needles.extend((0..=key.len() - KEY_WINDOW).map(|i| &key[i..i + KEY_WINDOW]));
        }
        needles.iter().any(|k| {
            contains(&ex.response.body, k.as_bytes())
                || ex.response.headers.iter().any(|(_, v)| v.contains(k))
        })
    };
    let invented = match ex.case {
        Case::Auth(a) => a.variant.invented_key(),
        _ => None,
    };
    let which = if shows(ctx.api_key) {
        Some("the valid API key (--api-key)")
    } else if ctx.forbidden_api_key.is_some_and(shows) {
        Some("the forbidden API key (--forbidden-api-key)")
    } else if invented.is_some_and(shows) {
        Some("the invalid key this request presented")
    } else {
        None
    };
    match which {
        None => Verdict::Pass,
        Some(w) => Verdict::Fail(format!("the {} answer contains {w}", ex.response.status)),
    }
}

/// Characters of a key in a row that count as showing it.
const KEY_WINDOW: usize = 16;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn no_server_error(_: &Ctx, ex: &Exchange) -> Verdict {
    let s = ex.response.status;
    pass_if(s < 500, || format!("status {s} for a client's request"))
}

pub fn no_internals_shown(ctx: &Ctx, ex: &Exchange) -> Verdict {
    match crate::classes::hygiene::leaks(&ex.response.headers, &ex.response.body, ctx.secrets) {
        Some(why) => Verdict::Fail(why),
        None => Verdict::Pass,
    }
}

/// Headers whose value is one item, not a list: a second field line of one makes the message
/// ambiguous (RFC 9110 §5.3: only list-valued fields may be repeated).
const SINGLE_VALUED: &[&str] = &[
    "content-type",
    "content-length",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// The first single-valued header that appears more than once, with its values.
pub fn repeated_single_valued(headers: &[(String, String)]) -> Option<String> {
    SINGLE_VALUED.iter().find_map(|name| {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (values.len() > 1).then(|| {
            format!(
                "{name} appears {} times ({}): a single-valued header appears once (RFC 9110 §5.3)",
                values.len(),
                values
                    .iter()
                    .map(|v| quote(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })
}

pub fn single_valued_headers_once(_ctx: &Ctx, ex: &Exchange) -> Verdict {
    match repeated_single_valued(&ex.response.headers) {
        Some(why) => Verdict::Fail(why),
        None => Verdict::Pass,
    }
}

/// The contract lists the 200's body exactly: `message` and `send_id`. Strict only: Braze may
/// add fields to its answers.
pub fn ok_body_is_exact(ctx: &Ctx, ex: &Exchange) -> Verdict {
    if !status_ok(ctx, ex) || !is_operation(ex) {
        return Verdict::Skip;
    }
    let Some(obj) = ex.response.json.as_ref().and_then(|j| j.as_object()) else {
        return Verdict::Skip;
    };
    let extra: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "message" | "send_id"))
        .collect();
    pass_if(extra.is_empty(), || {
        format!(
            "the 200 body has fields besides message and send_id: {}",
            extra.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_single_valued_header_given_twice_is_found_whatever_its_case() {
        let once = headers(&[("x-ratelimit-remaining", "9"), ("vary", "a"), ("vary", "b")]);
        assert_eq!(repeated_single_valued(&once), None);
        let twice = headers(&[
            ("X-RateLimit-Remaining", "9"),
            ("x-ratelimit-remaining", "8"),
        ]);
        let why = repeated_single_valued(&twice).expect("found");
        assert!(
            why.contains("x-ratelimit-remaining appears 2 times"),
            "{why}"
        );
        let ct = headers(&[
            ("content-type", "application/json"),
            ("Content-Type", "text/html"),
        ]);
        assert!(repeated_single_valued(&ct).is_some());
    }
}
