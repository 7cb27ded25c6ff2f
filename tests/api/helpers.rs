//! The one place that spawns the app for tests. `SENDID_TEST_ENGINE=postgres` runs the whole
//! suite on PostgreSQL (a new database per app, see `tests/support/pg.rs`); sled otherwise.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use sendid::clock::ManualClock;
use sendid::config::Config;
use sendid::startup::{Application, Demo};
use sendid::store::StoreOptions;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[path = "../support/admin.rs"]
pub mod admin;
#[path = "../support/pg.rs"]
pub mod pg;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// 2026-11-27T12:00:00Z: the tests' "now" unless a test moves the clock.
pub const NOON: i64 = 1_795_780_800;

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// Set on the first start of a data directory.
    pub demo: Option<Demo>,
    pub data_dir: PathBuf,
    /// Set when the app runs on PostgreSQL.
    pub database_url: Option<String>,
    pub fail_flush: Arc<AtomicBool>,
    /// Started with `--sandbox`.
    pub sandbox: bool,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct SpawnOptions {
    pub admin_token: Option<String>,
    pub clock_seconds: i64,
    /// `--sandbox`.
    pub sandbox: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            admin_token: Some(ADMIN_TOKEN.into()),
            clock_seconds: NOON,
            sandbox: false,
        }
    }
}

/// An app started with `--sandbox` (and the admin token).
pub async fn spawn_sandbox() -> TestApp {
    spawn_app_with(SpawnOptions {
        sandbox: true,
        ..SpawnOptions::default()
    })
    .await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SpawnOptions::default()).await
}

pub async fn spawn_app_with(options: SpawnOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = dir.path().join("data");
    let clock = Arc::new(ManualClock::at_seconds(options.clock_seconds));
    let database_url = match engine_is_postgres() {
        true => Some(
            pg::database_url()
                .await
                .expect("SENDID_TEST_ENGINE=postgres needs PostgreSQL"),
        ),
        false => None,
    };
    let mut app = start_with(
        &data_dir,
        database_url,
        clock,
        options.admin_token,
        options.sandbox,
    )
    .await;
    app.dir = Some(dir);
    app
}

/// Whether this run tests the PostgreSQL engine (`SENDID_TEST_ENGINE=postgres`).
pub fn engine_is_postgres() -> bool {
    std::env::var("SENDID_TEST_ENGINE").is_ok_and(|v| v == "postgres")
}

pub async fn start(
    data_dir: &Path,
    database_url: Option<String>,
    clock: Arc<ManualClock>,
    admin_token: Option<String>,
) -> TestApp {
    start_with(data_dir, database_url, clock, admin_token, false).await
}

pub async fn start_with(
    data_dir: &Path,
    database_url: Option<String>,
    clock: Arc<ManualClock>,
    admin_token: Option<String>,
    sandbox: bool,
) -> TestApp {
    let mut config = Config::for_tests(data_dir);
    config.admin_token = admin_token;
    config.sandbox = sandbox;
    config.database_url = database_url.clone();
    let fail_flush = Arc::new(AtomicBool::new(false));
    let options = StoreOptions {
        fail_flush: Some(fail_flush.clone()),
        ..StoreOptions::default()
    };
    // A restart may race the previous instance's last references to the store; retry briefly.
    let mut attempt = 0;
    let application = loop {
        match Application::build_with(&config, clock.clone(), options.clone()).await {
            Ok(app) => break app,
            Err(e) if attempt < 50 => {
                attempt += 1;
                tracing::debug!("retrying start: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the app did not start: {e:#}"),
        }
    };
    let port = application.port();
    let demo = application.demo().cloned();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        clock,
        demo,
        data_dir: data_dir.to_path_buf(),
        database_url,
        fail_flush,
        sandbox,
        dir: None,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn demo_key(&self) -> &str {
        &self
            .demo
            .as_ref()
            .expect("a new data directory has a demo key")
            .api_key
    }

    /// Stops the server gracefully (the store is flushed and closed).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
        }
    }

    /// Stops this server and starts a new one on the same data directory and clock.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let admin = Some(ADMIN_TOKEN.to_string());
        let url = self.database_url.clone();
        let clock = self.clock.clone();
        let mut next = start_with(&self.data_dir, url, clock, admin, self.sandbox).await;
        next.dir = self.dir.take();
        next
    }

    /// `POST /sends/id/create` with a JSON body and a bearer key.
    pub async fn create(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/sends/id/create"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /sends/id/create` with raw bytes and the given content type.
    pub async fn create_raw(
        &self,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url("/sends/id/create")).body(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        req.send().await.expect("request sent")
    }

    /// The shared admin client (`tests/support/admin.rs`) for this app.
    pub fn admin(&self) -> admin::Admin {
        admin::Admin::new(&self.address, ADMIN_TOKEN, self.client.clone())
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.admin().post(path, body).await
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.admin().get(path).await
    }

    pub async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.admin().delete(path).await
    }

    /// A workspace with the given quota, one campaign and a key with `sends.id.create`.
    pub async fn workspace(&self, quota: u64) -> Tenant {
        self.admin().tenant(quota).await
    }

    pub async fn used_today(&self, workspace_id: &str) -> u64 {
        self.admin().used_today(workspace_id).await
    }

    /// Every send_id of a campaign, through the paginated admin listing.
    pub async fn all_send_ids(&self, workspace_id: &str, campaign_id: &str) -> Vec<String> {
        self.admin().all_send_ids(workspace_id, campaign_id).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub use admin::Tenant;

/// Asserts the status and that the body is JSON with a JSON content type; returns the body.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> Value {
    admin::json_body(resp, status, "response").await
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
    /// A key for a workspace with the given permissions and allow-list; returns the admin answer.
    pub async fn api_key(
        &self,
        workspace_id: &str,
        permissions: &[&str],
        allowed_ips: Option<&[&str]>,
    ) -> Value {
        self.admin()
            .api_key(workspace_id, permissions, allowed_ips)
            .await
    }

    /// A campaign with the given id in a workspace.
    pub async fn campaign(&self, workspace_id: &str, campaign_id: &str) {
        self.admin().campaign(workspace_id, Some(campaign_id)).await;
    }

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
