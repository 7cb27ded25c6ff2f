//! HTTP method semantics (RFC 9110 §9, §15.5.6; contract §1 step 1): every other method on the
//! operation's path — HEAD, OPTIONS, TRACE and a token no server knows included — answers 405
//! with `Allow` listing POST, and only methods the server does accept; HEAD gets no body;
//! OPTIONS, when answered 2xx, carries `Allow`; the error is JSON. Each is sent with the run's
//! key and, where a body goes, the run's existing pair: free even when wrongly accepted.
use super::wire::{RawAnswer, RawRequest};
use crate::http::quote;

/// The methods sent, besides POST.
pub const METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "FROBNICATE",
];

/// The request of `method`: the key, and for a method that carries content, the existing pair.
pub fn probe(method: &str, path: &str, existing_body: &[u8]) -> RawRequest {
    let mut headers = vec![("Authorization".to_string(), "Bearer {secret}".to_string())];
    let body = if matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS" | "TRACE") {
        Vec::new()
    } else {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
        existing_body.to_vec()
    };
    RawRequest {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body,
        chunked: false,
    }
}

/// The methods an `Allow` value lists (RFC 9110 §10.2.1: a comma-separated list of tokens).
pub fn allowed(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// The answer to `method` on the path, on its own.
pub fn answer_verdict(method: &str, a: &RawAnswer) -> Result<(), String> {
    let r = &a.response;
    let s = r.status;
    if method == "OPTIONS" && (200..300).contains(&s) {
        let allow = r.header("allow").map(allowed).unwrap_or_default();
        if !allow.iter().any(|m| m == "POST") {
            return Err(format!(
                "OPTIONS answered {s} with Allow {}: a 2xx to OPTIONS must list the methods, \
                 POST among them (RFC 9110 §9.3.7, §10.2.1)",
                quote(r.header("allow").unwrap_or(""))
            ));
        }
        return Ok(());
    }
    if s != 405 {
        return Err(format!(
            "{method} on the operation's path answered {s}, not 405 (contract §1 step 1; RFC \
             9110 §15.5.6)"
        ));
    }
    let allow = r.header("allow").map(allowed).unwrap_or_default();
    if !allow.iter().any(|m| m == "POST") {
        return Err(format!(
            "{method} answered 405 with Allow {}: it must list POST (RFC 9110 §15.5.6)",
            quote(r.header("allow").unwrap_or(""))
        ));
    }
    if method != "HEAD" {
        let json = r
            .content_type()
            .is_some_and(|ct| crate::spec::essence(ct) == "application/json");
        let message = r
            .json
            .as_ref()
            .and_then(|j| j.get("message"))
            .is_some_and(serde_json::Value::is_string);
        if !json || !message {
            return Err(format!(
                "{method} answered 405 without a JSON {{\"message\"}} body (Content-Type {}, body \
                 {})",
                quote(r.content_type().unwrap_or("none")),
                crate::http::excerpt(&r.body, 120)
            ));
        }
    }
    Ok(())
}

/// HEAD's answer carries no body (RFC 9110 §9.3.2), whatever its status.
pub fn head_verdict(a: &RawAnswer) -> Result<(), String> {
    match a.framing.iter().find(|f| f.contains("HEAD")) {
        Some(f) => Err(format!("HEAD answered {} with {f}", a.response.status)),
        None => Ok(()),
    }
}

/// What `Allow` says against what the server did: each method it lists, other than POST, must
/// not itself be answered 405. `answers`: the status each method got.
pub fn allow_verdict(allow: &str, answers: &[(String, u16)]) -> Result<(), String> {
    let listed = allowed(allow);
    for m in &listed {
        if m == "POST" {
            continue;
        }
        if let Some((_, s)) = answers.iter().find(|(a, _)| a == m) {
            if *s == 405 {
                return Err(format!(
                    "Allow {} lists {m}, but {m} itself is answered 405: Allow must list the \
                     methods the server accepts (RFC 9110 §10.2.1)",
                    quote(allow)
                ));
            }
        }
    }
    Ok(())
}

/// Methods an `Allow` lists that were not sent yet (to send once each, to hold `Allow` to).
pub fn unsent(allow: &str, sent: &[String]) -> Vec<String> {
    allowed(allow)
        .into_iter()
        .filter(|m| m != "POST" && !sent.contains(m))
        .filter(|m| {
            m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        })
        .take(4)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::wire::parse;

    fn answer(raw: &str, head: bool) -> RawAnswer {
        parse(raw.as_bytes(), head).expect("parse")
    }

    #[test]
    fn a_405_with_allow_and_json_passes() {
        let a = answer(
            "HTTP/1.1 405 X\r\nAllow: POST\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"message\":\"m\"}",
            false,
        );
        assert_eq!(answer_verdict("PUT", &a), Ok(()));
        let head = answer(
            "HTTP/1.1 405 X\r\nAllow: POST\r\nContent-Length: 15\r\n\r\n",
            true,
        );
        assert_eq!(answer_verdict("HEAD", &head), Ok(()));
        assert_eq!(head_verdict(&head), Ok(()));
    }

    #[test]
    fn wrong_answers_fail() {
        let ok200 = answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true);
        assert!(answer_verdict("HEAD", &ok200).is_err());
        let options = answer("HTTP/1.1 204 No Content\r\n\r\n", false);
        assert!(answer_verdict("OPTIONS", &options).is_err());
        let options = answer(
            "HTTP/1.1 204 No Content\r\nAllow: POST, OPTIONS\r\n\r\n",
            false,
        );
        assert_eq!(answer_verdict("OPTIONS", &options), Ok(()));
        let text = answer(
            "HTTP/1.1 405 X\r\nAllow: POST\r\nContent-Length: 2\r\n\r\nno",
            false,
        );
        assert!(answer_verdict("PUT", &text).is_err());
        let head = answer(
            "HTTP/1.1 405 X\r\nAllow: POST\r\nContent-Length: 2\r\n\r\n{}",
            true,
        );
        assert!(head_verdict(&head).is_err());
    }

    #[test]
    fn allow_must_agree_with_the_answers() {
        let answers = vec![("GET".to_string(), 405), ("OPTIONS".to_string(), 204)];
        assert!(allow_verdict("GET, POST", &answers).is_err());
        assert_eq!(allow_verdict("POST, OPTIONS", &answers), Ok(()));
        assert_eq!(
            unsent("POST, CONNECT, GET", &["GET".to_string()]),
            vec!["CONNECT"]
        );
    }
}
