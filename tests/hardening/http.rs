//! Hostile HTTP against the real binary over raw TCP: header count and size, slow clients,
//! bodies that claim or stream gigabytes, and the bound on open connections.
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sendid_test_support::process::Proc;
use sendid_test_support::{Tenant, ADMIN_TOKEN};

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Reads one response (head and `Content-Length` body). `None` when the server closed the
/// connection (or reset it) before a full response.
pub async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut resp = RawResponse {
        status,
        head,
        body: buf[head_end + 4..].to_vec(),
    };
    let len: usize = resp
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while resp.body.len() < len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => resp.body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(resp)
}

/// Waits until the server closes the connection; returns what it sent before.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|_| out)
}

async fn connect(proc: &Proc) -> TcpStream {
    TcpStream::connect(("127.0.0.1", proc.port()))
        .await
        .expect("connect")
}

async fn send(proc: &Proc, request: &[u8]) -> Option<RawResponse> {
    let mut s = connect(proc).await;
    // The server may answer (and close) before taking the whole request.
    let _ = s.write_all(request).await;
    tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .expect("an answer within 10 s")
}

async fn health_ok(proc: &Proc) {
    let r = send(
        proc,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("the server answers /health");
    assert_eq!(r.status, 200);
}

fn start(data: &std::path::Path, extra: &[&str]) -> Proc {
    let mut args = vec!["--admin-token", ADMIN_TOKEN, "--log", "warn"];
    args.extend_from_slice(extra);
    Proc::start(data, &args, &[])
}

fn create_head(tenant: &Tenant, extra_headers: &str) -> String {
    format!(
        "POST /sends/id/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\n{extra_headers}\r\n",
        tenant.api_key
    )
}

#[tokio::test]
async fn header_count_and_size_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let proc = start(&dir.path().join("data"), &[]);

    // 100 headers in all is the limit (hyper's default); 150 are refused before routing.
    let many: String = (0..150).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let r = send(
        &proc,
        format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await
    .expect("an answer to 150 headers");
    assert_eq!(r.status, 431, "{}", r.head);
    let some: String = (0..90).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let r = send(
        &proc,
        format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{some}\r\n").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "90 headers are fine: {}", r.head);

    // The request head may take at most ~408 KiB (hyper's read buffer); 1 MiB of header is
    // refused without being buffered further.
    let big = "a".repeat(1024 * 1024);
    let r = send(
        &proc,
        format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await
    .expect("an answer to a 1 MiB header");
    assert_eq!(r.status, 431, "{}", r.head);
    let fine = "a".repeat(16 * 1024);
    let r = send(
        &proc,
        format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {fine}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "a 16 KiB header is fine: {}", r.head);
    health_ok(&proc).await;
    println!("header limits: 100 headers, ~408 KiB request head -> 431 (hyper, empty body)");
}

#[tokio::test]
async fn a_body_claiming_gigabytes_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let proc = start(&dir.path().join("data"), &[]);
    let tenant = proc.api().tenant(100).await;
    let started = Instant::now();
    let head = create_head(&tenant, "Content-Length: 10737418240\r\n");
    let mut s = connect(&proc).await;
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(b"{\"campaign_id\":").await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), read_response(&mut s))
        .await
        .expect("413 within 5 s")
        .expect("a response");
    assert_eq!(r.status, 413, "{}", r.head);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert!(r.json()["message"].as_str().unwrap().contains("65536"));
    println!("10 GiB claimed: 413 after {:?}", started.elapsed());
    // The admin API has the same cap.
    let mut s = connect(&proc).await;
    let head = format!(
        "POST /admin/workspaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), read_response(&mut s))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 413, "{}", r.head);
}

#[tokio::test]
async fn a_body_streaming_gigabytes_is_cut_off_without_being_buffered() {
    const OFFER: u64 = 2 * 1024 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let proc = start(&dir.path().join("data"), &[]);
    let tenant = proc.api().tenant(100).await;
    health_ok(&proc).await;
    let rss_before = proc.rss_kib();

    let started = Instant::now();
    let s = connect(&proc).await;
    let (mut rd, mut wr) = s.into_split();
    let head = create_head(&tenant, "Transfer-Encoding: chunked\r\n");
    let writer = tokio::spawn(async move {
        let mut sent = 0u64;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        let chunk = vec![b' '; 64 * 1024];
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk,
            b"\r\n".to_vec(),
        ]
        .concat();
        while sent < OFFER {
            let r = tokio::time::timeout(Duration::from_secs(2), wr.write_all(&frame)).await;
            match r {
                Ok(Ok(())) => sent += 64 * 1024,
                // Refused (reset, closed) or stalled: the server stopped reading.
                _ => break,
            }
        }
        sent
    });
    let reader = async move {
        let mut s = Vec::new();
        let mut chunk = [0u8; 4096];
        while !s.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => s.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&s).to_string()
    };
    let head = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("an answer within 10 s");
    let answered_after = started.elapsed();
    let sent = writer.await.unwrap();
    let rss_after = proc.rss_kib();
    println!(
        "streamed body: answered {:?} after {answered_after:?}; the client got {} MiB into the \
         socket of the {} MiB offered; server RSS {} KiB -> {} KiB",
        head.lines().next(),
        sent / (1024 * 1024),
        OFFER / (1024 * 1024),
        rss_before,
        rss_after
    );
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        sent < 256 * 1024 * 1024,
        "the server kept reading: {sent} bytes taken"
    );
    assert!(
        rss_after < rss_before + 32 * 1024,
        "server memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    health_ok(&proc).await;
}

#[tokio::test]
async fn slow_clients_are_disconnected_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let proc = start(
        &dir.path().join("data"),
        &["--request-timeout-seconds", "1"],
    );
    let tenant = proc.api().tenant(100).await;

    // 1. Slowloris: the head trickles in, one byte every 100 ms, for ever.
    let trickle = {
        let port = proc.port();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            let (mut rd, mut wr) = s.into_split();
            let dripper = tokio::spawn(async move {
                for i in 0.. {
                    let b = [b'a' + (i % 26) as u8];
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            let mut out = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut out)).await;
            dripper.abort();
            (started.elapsed(), String::from_utf8_lossy(&out).to_string())
        })
    };
    // 2. Connects and says nothing.
    let mut silent = connect(&proc).await;
    let silent_started = Instant::now();
    // 3. A body promised but only partly sent.
    let mut slow_body = connect(&proc).await;
    let body_started = Instant::now();
    slow_body
        .write_all(create_head(&tenant, "Content-Length: 100\r\n").as_bytes())
        .await
        .unwrap();
    slow_body.write_all(b"{\"campaign_id\":").await.unwrap();

    // Meanwhile a normal client is served at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    health_ok(&proc).await;
    assert!(t.elapsed() < Duration::from_millis(500));

    let (took, out) = trickle.await.unwrap();
    println!(
        "slowloris (trickled head): closed after {took:?}, answer {:?}",
        out.lines().next()
    );
    assert!(
        took < Duration::from_secs(3),
        "the trickling client was held {took:?}"
    );
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).expect("a JSON 408 body");
    assert!(v["message"].is_string());

    let got = read_until_closed(&mut silent, Duration::from_secs(3))
        .await
        .expect("the silent connection is closed within 3 s");
    println!(
        "silent connection: closed after {:?}",
        silent_started.elapsed()
    );
    assert!(
        got.is_empty(),
        "nothing is said to a client that said nothing"
    );

    let got = read_until_closed(&mut slow_body, Duration::from_secs(3))
        .await
        .expect("the slow body's connection is closed within 3 s");
    let text = String::from_utf8_lossy(&got);
    println!(
        "slow body: closed after {:?}, answer {:?}",
        body_started.elapsed(),
        text.lines().next()
    );
    // Either the deadline answered 408, or the handler gave up on the body first (400).
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );
    assert!(!text.contains("HTTP/1.1 200"));
    health_ok(&proc).await;
}

#[tokio::test]
async fn open_connections_are_bounded() {
    const MAX: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let proc = start(
        &dir.path().join("data"),
        &["--max-connections", "4", "--request-timeout-seconds", "30"],
    );
    // MAX kept-alive connections, each served once.
    let mut held = Vec::new();
    for _ in 0..MAX {
        let mut s = connect(&proc).await;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let r = read_response(&mut s).await.expect("served");
        assert_eq!(r.status, 200);
        held.push(s);
    }
    // One more: the kernel completes the handshake, but sendid does not take it.
    let mut extra = connect(&proc).await;
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(1000), read_response(&mut extra)).await;
    assert!(
        waited.is_err(),
        "connection {} was served past the limit of {MAX}",
        MAX + 1
    );
    // The held ones still work.
    held[0]
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut held[0]).await.unwrap().status, 200);
    // One closes: the waiting client is served.
    let closed_at = Instant::now();
    drop(held.pop());
    let r = tokio::time::timeout(Duration::from_secs(5), read_response(&mut extra))
        .await
        .expect("served once a slot is free")
        .expect("a response");
    assert_eq!(r.status, 200);
    println!(
        "connection bound {MAX}: connection {} waited, then was served {:?} after a slot freed",
        MAX + 1,
        closed_at.elapsed()
    );
}
