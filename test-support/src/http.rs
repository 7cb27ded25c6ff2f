//! Assertions on answers, and raw HTTP/1.1 for what reqwest will not send.
use std::time::Duration;

use serde_json::{json, Value};

use crate::TestApp;

/// Asserts the status and that the body is JSON with a JSON content type; returns the body.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> Value {
    crate::admin::json_body(resp, status, "response").await
}

pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The Unix epoch seconds of the 00:00 UTC following `seconds`.
pub fn next_midnight(seconds: i64) -> i64 {
    (seconds.div_euclid(86_400) + 1) * 86_400
}

/// The three rate-limit headers as numbers, or `None` for each one that is absent.
pub fn rate_limit(resp: &reqwest::Response) -> (Option<u64>, Option<u64>, Option<i64>) {
    let num = |name| header(resp, name).map(|v| v.parse::<i64>().expect("numeric header"));
    (
        num("x-ratelimit-limit").map(|v| v as u64),
        num("x-ratelimit-remaining").map(|v| v as u64),
        num("x-ratelimit-reset"),
    )
}

/// Asserts that none of the rate-limit headers (nor Retry-After) is present.
pub fn assert_no_rate_limit_headers(resp: &reqwest::Response) {
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ] {
        assert!(
            resp.headers().get(name).is_none(),
            "{name} must be absent on {}",
            resp.status()
        );
    }
}

/// A response read off a raw TCP connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        let ct = self.header("content-type").unwrap_or("");
        assert!(ct.starts_with("application/json"), "content type {ct:?}");
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl TestApp {
    /// Sends `head` (request line and headers, without the blank line) and then `body` over a
    /// fresh connection, and reads the answer. The connection is closed by the request, so the
    /// answer ends at EOF. Lets tests send what reqwest will not (chunked bodies, odd headers).
    pub async fn raw(&self, head: &str, body: &[u8]) -> RawResponse {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let (mut rd, mut wr) = stream.into_split();
        let mut request =
            format!("{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes();
        request.extend_from_slice(body);
        // Written concurrently with the read: the server may answer (413) before reading it all.
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&request).await;
            let _ = wr.flush().await;
            wr
        });
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no answer within 10 s"),
            }
            if let Some(resp) = parse_raw(&buf) {
                let _ = writer.await;
                return resp;
            }
        }
        let _ = writer.await;
        parse_raw(&buf)
            .unwrap_or_else(|| panic!("incomplete answer: {}", String::from_utf8_lossy(&buf)))
    }
}

/// Parses a complete HTTP/1.1 answer (Content-Length or chunked body); `None` while incomplete.
fn parse_raw(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .split(' ')
        .nth(1)?
        .parse::<u16>()
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if let Some(len) = get("content-length") {
        let len: usize = len.parse().expect("content-length");
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = rest[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
            let size_str = std::str::from_utf8(&rest[pos..line_end]).ok()?;
            let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                break;
            }
            if rest.len() < pos + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
        body
    } else {
        return None;
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// A chunked encoding of `data` in chunks of `chunk` bytes.
pub fn chunked(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A JSON object of exactly `size` bytes creating (campaign_id, send_id), padded by an unknown
/// field.
pub fn padded_body(campaign_id: &str, send_id: &str, size: usize) -> Vec<u8> {
    let bare = json!({"campaign_id": campaign_id, "send_id": send_id, "pad": ""}).to_string();
    assert!(size >= bare.len(), "{size} is too small for the body");
    let body = json!({
        "campaign_id": campaign_id,
        "send_id": send_id,
        "pad": "a".repeat(size - bare.len()),
    })
    .to_string();
    assert_eq!(body.len(), size);
    body.into_bytes()
}
