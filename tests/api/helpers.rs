//! The one place that spawns the app for tests.
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
    pub fail_flush: Arc<AtomicBool>,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct SpawnOptions {
    pub admin_token: Option<String>,
    pub clock_seconds: i64,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            admin_token: Some(ADMIN_TOKEN.into()),
            clock_seconds: NOON,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SpawnOptions::default()).await
}

pub async fn spawn_app_with(options: SpawnOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = dir.path().join("data");
    let clock = Arc::new(ManualClock::at_seconds(options.clock_seconds));
    let mut app = start(&data_dir, clock, options.admin_token).await;
    app.dir = Some(dir);
    app
}

async fn start(data_dir: &Path, clock: Arc<ManualClock>, admin_token: Option<String>) -> TestApp {
    let mut config = Config::for_tests(data_dir);
    config.admin_token = admin_token;
    let fail_flush = Arc::new(AtomicBool::new(false));
    let options = StoreOptions {
        fail_flush: Some(fail_flush.clone()),
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
        fail_flush,
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
        let mut next = start(&self.data_dir, self.clock.clone(), admin).await;
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

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// A workspace with the given quota, one campaign and a key with `sends.id.create`.
    pub async fn workspace(&self, quota: u64) -> Tenant {
        let ws: Value = expect_json(
            self.admin_post(
                "/admin/workspaces",
                &json!({"name": "test", "daily_send_id_quota": quota}),
            )
            .await,
            201,
        )
        .await;
        let id = ws["id"].as_str().expect("workspace id").to_string();
        let campaign: Value = expect_json(
            self.admin_post(&format!("/admin/workspaces/{id}/campaigns"), &json!({}))
                .await,
            201,
        )
        .await;
        let key: Value = expect_json(
            self.admin_post(
                &format!("/admin/workspaces/{id}/api-keys"),
                &json!({"permissions": ["sends.id.create"]}),
            )
            .await,
            201,
        )
        .await;
        Tenant {
            workspace_id: id,
            campaign_id: campaign["campaign_id"]
                .as_str()
                .expect("campaign id")
                .to_string(),
            api_key: key["api_key"].as_str().expect("api key").to_string(),
            key_id: key["key_id"].as_str().expect("key id").to_string(),
        }
    }

    /// `used_today` of a workspace, through the admin API.
    pub async fn used_today(&self, workspace_id: &str) -> u64 {
        let ws = expect_json(
            self.admin_get(&format!("/admin/workspaces/{workspace_id}"))
                .await,
            200,
        )
        .await;
        ws["quota"]["used_today"].as_u64().expect("used_today")
    }

    /// Every send_id of a campaign, through the paginated admin listing.
    pub async fn all_send_ids(&self, workspace_id: &str, campaign_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!(
                "/admin/workspaces/{workspace_id}/campaigns/{campaign_id}/send-ids?limit=1000"
            );
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page = expect_json(self.admin_get(&path).await, 200).await;
            for item in page["send_ids"].as_array().expect("send_ids") {
                out.push(item["send_id"].as_str().expect("send_id").to_string());
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return out,
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub workspace_id: String,
    pub campaign_id: String,
    pub api_key: String,
    pub key_id: String,
}

/// Asserts the status and that the body is JSON with a JSON content type; returns the body.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    assert!(
        ct.starts_with("application/json"),
        "content type {ct:?}, body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}
