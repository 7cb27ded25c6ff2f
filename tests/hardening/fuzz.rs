//! The request edge fuzzed: arbitrary request lines, headers, framings and bodies, and plain
//! arbitrary bytes, sent over raw TCP. No input may get a 5xx or take the server down.
//! `SENDID_FUZZ_CASES` sets the number of cases (default 3000), `SENDID_FUZZ_SEED` replays a run.
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use sendid_test_support::{spawn_app, ADMIN_TOKEN};

#[derive(Debug, Clone)]
enum Framing {
    /// The right `Content-Length`.
    Exact,
    /// A `Content-Length` that does not match the body.
    Wrong(u64),
    /// `Transfer-Encoding: chunked`, in chunks of this size.
    Chunked(usize),
    None,
}

#[derive(Debug, Clone)]
enum Input {
    Request {
        method: Vec<u8>,
        path: Vec<u8>,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: Vec<u8>,
        framing: Framing,
    },
    Raw(Vec<u8>),
}

impl Input {
    fn path(&self) -> &[u8] {
        match self {
            Input::Request { path, .. } => path,
            Input::Raw(_) => b"",
        }
    }

    fn encode(&self) -> Vec<u8> {
        let (method, path, headers, body, framing) = match self {
            Input::Raw(bytes) => return bytes.clone(),
            Input::Request {
                method,
                path,
                headers,
                body,
                framing,
            } => (method, path, headers, body, framing),
        };
        let mut out = Vec::new();
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(path);
        out.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\n");
        for (k, v) in headers {
            out.extend_from_slice(k);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        match framing {
            Framing::Exact => {
                out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes())
            }
            Framing::Wrong(n) => {
                out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes())
            }
            Framing::Chunked(_) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::None => {}
        }
        out.extend_from_slice(b"\r\n");
        match framing {
            Framing::Chunked(size) => {
                for chunk in body.chunks((*size).max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            _ => out.extend_from_slice(body),
        }
        out
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn text(re: &str) -> impl Strategy<Value = Vec<u8>> {
    prop::string::string_regex(re)
        .unwrap()
        .prop_map(String::into_bytes)
}

fn input(demo_key: String) -> impl Strategy<Value = Input> {
    let method = prop_oneof![
        12 => Just(b"POST".to_vec()),
        1 => prop::sample::select(vec!["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT"])
            .prop_map(|m| m.as_bytes().to_vec()),
        1 => text("[A-Za-z]{1,12}"),
        1 => bytes(12),
    ];
    let path = prop_oneof![
        12 => Just(b"/sends/id/create".to_vec()),
        2 => prop::sample::select(vec![
            "/", "/health", "/docs", "/openapi.json", "/openapi.yaml", "/metrics",
            "/admin/workspaces", "/admin/workspaces/x", "/admin/workspaces/x/campaigns",
            "/admin/workspaces/x/api-keys", "/admin/api-keys/x", "/admin/openapi.json",
            "/admin/workspaces/x/campaigns/demo-campaign/send-ids?limit=-1&after=zz",
            "/sends/id/create?x=1", "/sends/id/create/", "/sends/id", "//sends/id/create",
            "/sends/%2e%2e/admin", "*",
        ])
        .prop_map(|p| p.as_bytes().to_vec()),
        1 => text("/[ -~]{0,60}"),
        1 => bytes(80),
    ];
    let auth = prop_oneof![
        3 => Just(Some(format!("Bearer {demo_key}").into_bytes())),
        1 => Just(Some(format!("Bearer {ADMIN_TOKEN}").into_bytes())),
        1 => Just(None),
        2 => text("(Bearer|Basic|bearer|Token)? ?[ -~]{0,80}").prop_map(Some),
        1 => bytes(100).prop_map(Some),
    ];
    let content_type = prop_oneof![
        3 => Just(Some(b"application/json".to_vec())),
        1 => Just(Some(b"application/json; charset=utf-8".to_vec())),
        1 => Just(None),
        1 => prop::sample::select(vec!["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json;;;", "APPLICATION/JSON"])
            .prop_map(|c| Some(c.as_bytes().to_vec())),
        1 => text("[ -~]{0,60}").prop_map(Some),
    ];
    let header_value = prop_oneof![6 => text("[ -~]{0,60}"), 1 => bytes(60)];
    let extra = prop_oneof![
        3 => Just(Vec::new()),
        2 => prop::collection::vec((text("[A-Za-z0-9-]{1,24}"), header_value), 1..4),
    ];
    let json_value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[ -~]{0,70}".prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("demo-campaign")),
        Just(serde_json::json!({"nested": [1, 2, {"a": null}]})),
    ];
    let body = prop_oneof![
        4 => (json_value.clone(), json_value, prop::option::of("[a-z_]{1,12}")).prop_map(|(c, s, extra)| {
            let mut o = serde_json::Map::new();
            o.insert("campaign_id".into(), c);
            o.insert("send_id".into(), s);
            if let Some(k) = extra {
                o.insert(k, serde_json::Value::from(1));
            }
            serde_json::to_vec(&o).unwrap()
        }),
        2 => bytes(300),
        1 => text(r#"[{}\[\]":, 0-9a-z\\]{0,120}"#),
        1 => (1usize..3).prop_map(|n| vec![b'{'; n * 40_000]),
    ];
    let framing = prop_oneof![
        8 => Just(Framing::Exact),
        1 => (0u64..100_000).prop_map(Framing::Wrong),
        1 => Just(Framing::Wrong(u64::MAX)),
        1 => (1usize..200).prop_map(Framing::Chunked),
        1 => Just(Framing::None),
    ];
    let request = (method, path, auth, content_type, extra, body, framing).prop_map(
        |(method, path, auth, ct, extra, body, framing)| {
            let mut headers = Vec::new();
            if let Some(a) = auth {
                headers.push((b"Authorization".to_vec(), a));
            }
            if let Some(c) = ct {
                headers.push((b"Content-Type".to_vec(), c));
            }
            headers.extend(extra);
            Input::Request {
                method,
                path,
                headers,
                body,
                framing,
            }
        },
    );
    prop_oneof![12 => request, 1 => bytes(600).prop_map(Input::Raw)]
}

/// Sends one input, half-closes, and reads everything the server says until it closes.
fn exchange(port: u16, input: &Input) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let _ = s.write_all(&input.encode());
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn arbitrary_requests_never_get_a_5xx_nor_stop_the_server() {
    let cases: u32 = std::env::var("SENDID_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("SENDID_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("fuzz: seed {seed} (replay with SENDID_FUZZ_SEED={seed}), {cases} cases");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app());
    let port = app.port;
    let demo_key = app.demo_key().to_string();

    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let executions = AtomicU64::new(0);
    let statuses = Mutex::new(BTreeMap::<String, u64>::new());
    let result = runner.run(&input(demo_key), |input| {
        executions.fetch_add(1, Ordering::Relaxed);
        let out = exchange(port, &input)
            .map_err(|e| TestCaseError::fail(format!("no answer, no close within 5 s: {e}")))?;
        let text = String::from_utf8_lossy(&out);
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .unwrap_or("closed")
            .to_string();
        *statuses.lock().unwrap().entry(status.clone()).or_default() += 1;
        prop_assert!(
            !status.starts_with('5') && !text.contains("HTTP/1.1 5"),
            "a 5xx answer:\n{text}"
        );
        if input.path().starts_with(b"/sends") {
            for head in text.split("HTTP/1.1 ").skip(1) {
                let head = head
                    .split("\r\n\r\n")
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if let Some(ct) = head.lines().find_map(|l| l.strip_prefix("content-type:")) {
                    prop_assert!(
                        ct.trim().starts_with("application/json"),
                        "not JSON: {ct}\n{text}"
                    );
                }
            }
        }
        Ok(())
    });
    let executions = executions.load(Ordering::Relaxed);
    println!(
        "fuzz: {executions} executions; answers by status: {:?}",
        statuses.lock().unwrap()
    );
    if let Err(e) = result {
        panic!("fuzz failure (seed {seed}): {e}");
    }
    // Still up and answering.
    let health = rt.block_on(async {
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(health.ok(), Some(200));
    drop(app);
    rt.shutdown_timeout(Duration::from_secs(5));
}
