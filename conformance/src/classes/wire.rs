//! A request written byte by byte over a plain HTTP/1.1 connection, for what a client library
//! normalises away: header names in any letter case, a chunked body, an unknown method token;
//! and the answer read as sent, so its framing can be held to RFC 9112 (Content-Length agrees
//! with the body, not both Content-Length and Transfer-Encoding). `http://` targets only.
use std::fmt::Write as _;
use std::time::Duration;

use crate::http::{now_epoch_seconds, Response};

/// A request as it goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRequest {
    pub method: String,
    /// Relative to the base URL, starting with `/`.
    pub path: String,
    /// Names as written (their case is kept); `Host`, `Connection` and the framing header are
    /// added.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body in chunks (`Transfer-Encoding: chunked`) instead of `Content-Length`.
    pub chunked: bool,
}

/// An answer, with what its framing gets wrong.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub response: Response,
    pub framing: Vec<String>,
}

impl RawRequest {
    /// The bytes sent; `secret` replaces `{secret}` in header values.
    pub fn bytes(&self, host: &str, target: &str, secret: &str) -> Vec<u8> {
        let mut head = format!(
            "{} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
            self.method
        );
        for (n, v) in &self.headers {
            let _ = write!(head, "{n}: {}\r\n", v.replace("{secret}", secret));
        }
        let mut out;
        if self.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            out = head.into_bytes();
            // Two chunks when the body has two halves, so the split is real.
            let mid = self.body.len() / 2;
            for part in [&self.body[..mid], &self.body[mid..]] {
                if !part.is_empty() {
                    out.extend(format!("{:x}\r\n", part.len()).as_bytes());
                    out.extend_from_slice(part);
                    out.extend(b"\r\n");
                }
            }
            out.extend(b"0\r\n\r\n");
        } else {
            if !self.body.is_empty()
                || !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "DELETE")
            {
                let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
            }
            head.push_str("\r\n");
            out = head.into_bytes();
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// The request for people, the key masked.
    pub fn describe(&self, url: &str) -> String {
        let mut out = format!("{} {url}", self.method);
        for (n, v) in &self.headers {
            let _ = write!(
                out,
                "\n  {n}: {}",
                v.replace("{secret}", "**** ($SENDID_API_KEY)")
            );
        }
        if self.chunked {
            out.push_str("\n  Transfer-Encoding: chunked");
        }
        if !self.body.is_empty() {
            let _ = write!(out, "\n  body: {}", crate::http::excerpt(&self.body, 300));
        }
        out
    }

    /// A `curl` command close to this request (curl sends header names as written).
    pub fn curl(&self, url: &str) -> String {
        let q = |s: &str| crate::shell::shell_quote(s.as_bytes());
        let mut cmd = if self.method == "HEAD" {
            format!("curl -sS -i -I {}", q(url))
        } else {
            format!("curl -sS -i -X {} {}", q(&self.method), q(url))
        };
        for (n, v) in &self.headers {
            if v.contains("{secret}") {
                let _ = write!(
                    cmd,
                    " -H \"{n}: {}\"",
                    v.replace("{secret}", "$SENDID_API_KEY")
                        .replace('"', "\\\"")
                );
            } else {
                let _ = write!(cmd, " -H {}", q(&format!("{n}: {v}")));
            }
        }
        if self.chunked {
            cmd.push_str(" -H 'Transfer-Encoding: chunked'");
        }
        if !self.body.is_empty() {
            let _ = write!(
                cmd,
                " --data-binary {}",
                crate::shell::shell_quote(&self.body)
            );
        }
        cmd
    }
}

/// Sends `req` to the `http://` base URL and reads the answer until the server closes.
pub async fn send(
    base: &url::Url,
    timeout: Duration,
    req: &RawRequest,
    secret: &str,
) -> Result<RawAnswer, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if base.scheme() != "http" {
        return Err("a raw request needs an http:// target".into());
    }
    let url = url::Url::parse(&format!(
        "{}{}",
        base.as_str().trim_end_matches('/'),
        req.path
    ))
    .map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    let started = std::time::Instant::now();
    let bytes = req.bytes(
        &format!("{host}:{port}"),
        &url[url::Position::BeforePath..],
        secret,
    );
    let work = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw).await;
        if raw.is_empty() {
            return Err(match read {
                Ok(_) => "no answer: the connection closed".to_string(),
                Err(e) => format!("no answer: {e}"),
            });
        }
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| "timed out".to_string())??;
    let mut answer = parse(&raw, req.method == "HEAD")?;
    answer.response.elapsed = started.elapsed();
    Ok(answer)
}

/// Reads an HTTP/1.1 answer received whole (the server closed after it).
pub fn parse(raw: &[u8], head: bool) -> Result<RawAnswer, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let header_len = match parsed
        .parse(raw)
        .map_err(|e| format!("an answer that is not HTTP/1.1: {e}"))?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Err("a partial answer".into()),
    };
    let status = parsed.code.ok_or("no status")?;
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &raw[header_len..];
    let mut framing = Vec::new();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(h, _)| h == n)
            .map(|(_, v)| v.trim().to_string())
    };
    let chunked =
        get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = get("content-length");
    let no_body = head || status == 204 || status == 304 || (100..200).contains(&status);
    if chunked && length.is_some() {
        framing.push("both Content-Length and Transfer-Encoding (RFC 9112 §6.1: a server must not send both)".into());
    }
    let body = if no_body {
        if !rest.is_empty() {
            framing.push(format!(
                "{} bytes of body after a {} answer, which has none (RFC 9110 §9.3.2, §15.3.5)",
                rest.len(),
                if head {
                    "HEAD".to_string()
                } else {
                    status.to_string()
                }
            ));
        }
        Vec::new()
    } else if chunked {
        match dechunk(rest) {
            Ok(b) => b,
            Err(e) => {
                framing.push(format!("a chunked body that is not well formed: {e}"));
                rest.to_vec()
            }
        }
    } else if let Some(len) = length {
        match len.parse::<usize>() {
            Ok(n) if n == rest.len() => rest.to_vec(),
            Ok(n) => {
                framing.push(format!(
                    "Content-Length {n} but {} bytes of body (RFC 9110 §8.6)",
                    rest.len()
                ));
                rest[..n.min(rest.len())].to_vec()
            }
            Err(_) => {
                framing.push(format!(
                    "Content-Length {} is not a number (RFC 9110 §8.6)",
                    crate::http::quote(&len)
                ));
                rest.to_vec()
            }
        }
    } else {
        rest.to_vec()
    };
    let json = serde_json::from_slice(&body).ok();
    Ok(RawAnswer {
        response: Response {
            status,
            headers,
            body,
            json,
            elapsed: Duration::ZERO,
            received_at: now_epoch_seconds(),
            retried: Vec::new(),
            retry_withheld: false,
        },
        framing,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line without CRLF")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| format!("chunk size {}", crate::http::quote(&size_text)))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("a chunk shorter than its size".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_read_as_sent() {
        let ok = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false).expect("parse");
        assert!(ok.framing.is_empty());
        assert_eq!(ok.response.json, Some(serde_json::json!({})));
        let short = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false).expect("parse");
        assert!(
            short.framing[0].contains("Content-Length 5"),
            "{:?}",
            short.framing
        );
        let chunked = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
            false,
        )
        .expect("parse");
        assert!(chunked.framing.is_empty());
        assert_eq!(chunked.response.body, b"{}");
        let head = parse(b"HTTP/1.1 405 X\r\nContent-Length: 2\r\n\r\n{}", true).expect("parse");
        assert!(head.framing[0].contains("HEAD"), "{:?}", head.framing);
    }

    #[test]
    fn chunked_requests_carry_the_body_in_two_chunks() {
        let req = RawRequest {
            method: "POST".into(),
            path: "/x".into(),
            headers: vec![("authorization".into(), "Bearer {secret}".into())],
            body: b"abcd".to_vec(),
            chunked: true,
        };
        let bytes = String::from_utf8(req.bytes("h:1", "/x", "K")).expect("utf8");
        assert!(bytes.contains("authorization: Bearer K\r\n"), "{bytes}");
        assert!(
            bytes.ends_with("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"),
            "{bytes}"
        );
        assert!(!req.describe("u").contains('K') || !req.describe("u").contains("Bearer K"));
    }
}
