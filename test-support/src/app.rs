//! The app in-process on port 0: [`TestAppBuilder`] says how, [`TestApp`] talks to it, and
//! [`TestApp::restart`] starts it again exactly as it was first started.
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use sendid::clock::{Clock, ManualClock, SystemClock};
use sendid::config::Config;
use sendid::startup::{Application, Demo};
use sendid::store::StoreOptions;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::{Admin, Tenant};
use crate::{pg, ADMIN_TOKEN, NOON};

/// Where the app keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// sled in the app's temporary directory.
    Sled,
    /// A new database on the throwaway PostgreSQL server ([`pg::database_url`]).
    Postgres,
    /// This PostgreSQL database (say, a second instance on another app's database).
    Database(String),
}

impl Engine {
    /// `Postgres` when `SENDID_TEST_ENGINE=postgres`, `Sled` otherwise: the builder's default.
    pub fn from_env() -> Engine {
        match std::env::var("SENDID_TEST_ENGINE").is_ok_and(|v| v == "postgres") {
            true => Engine::Postgres,
            false => Engine::Sled,
        }
    }
}

#[derive(Clone)]
enum ClockChoice {
    At(i64),
    Manual(Arc<ManualClock>),
    System,
}

/// How to start the app. Defaults: the admin API on with [`ADMIN_TOKEN`], no sandbox, no
/// fixtures, [`Engine::from_env`], a manual clock at [`NOON`], plain HTTP.
#[derive(Clone)]
pub struct TestAppBuilder {
    admin: bool,
    sandbox: bool,
    fixtures: Option<PathBuf>,
    engine: Engine,
    clock: ClockChoice,
    tls: Option<(PathBuf, PathBuf)>,
}

impl Default for TestAppBuilder {
    fn default() -> Self {
        Self {
            admin: true,
            sandbox: false,
            fixtures: None,
            engine: Engine::from_env(),
            clock: ClockChoice::At(NOON),
            tls: None,
        }
    }
}

impl TestAppBuilder {
    /// Without an admin token: the admin API is off.
    pub fn no_admin(mut self) -> Self {
        self.admin = false;
        self
    }

    /// `--sandbox`.
    pub fn sandbox(mut self) -> Self {
        self.sandbox = true;
        self
    }

    /// `--fixtures PATH`, applied at every start (restarts included).
    pub fn fixtures(mut self, path: impl AsRef<Path>) -> Self {
        self.fixtures = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// A manual clock at these Unix epoch seconds ([`TestApp::clock`] moves it).
    pub fn clock_at(mut self, epoch_seconds: i64) -> Self {
        self.clock = ClockChoice::At(epoch_seconds);
        self
    }

    /// This manual clock (say, another app's, so that both read the same time).
    pub fn clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = ClockChoice::Manual(clock);
        self
    }

    /// The wall clock (the checker's tests: its answers are held to the real time).
    pub fn system_clock(mut self) -> Self {
        self.clock = ClockChoice::System;
        self
    }

    /// `--tls-cert` and `--tls-key`: the app serves HTTPS ([`TestApp::address`] says so).
    pub fn tls(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.tls = Some((cert.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// Starts the app on a new store and waits until it listens.
    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = match self.engine {
            Engine::Sled => None,
            Engine::Postgres => Some(
                pg::database_url()
                    .await
                    .expect("Engine::Postgres (SENDID_TEST_ENGINE=postgres) needs PostgreSQL"),
            ),
            Engine::Database(url) => Some(url),
        };
        let mut config = Config::for_tests(dir.path().join("data"));
        config.admin_token = self.admin.then(|| ADMIN_TOKEN.to_string());
        config.sandbox = self.sandbox;
        config.fixtures = self.fixtures;
        config.database_url = database_url;
        if let Some((cert, key)) = self.tls {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
        }
        let manual = match self.clock {
            ClockChoice::At(seconds) => Some(Arc::new(ManualClock::at_seconds(seconds))),
            ClockChoice::Manual(clock) => Some(clock),
            ClockChoice::System => None,
        };
        let clock: Arc<dyn Clock> = match &manual {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let mut app = launch(config, clock, manual).await;
        app.dir = Some(dir);
        app
    }
}

/// The app with the defaults of [`TestAppBuilder`].
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// The app with `--sandbox` (and the admin API, which steers it).
pub async fn spawn_sandbox() -> TestApp {
    TestApp::builder().sandbox().spawn().await
}

/// A running app and what its start said.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` (`https://` with [`TestAppBuilder::tls`]).
    pub address: String,
    pub port: u16,
    /// Follows no redirects.
    pub client: reqwest::Client,
    /// Set on the first start of a store.
    pub demo: Option<Demo>,
    /// sled's directory (unused on PostgreSQL).
    pub data_dir: PathBuf,
    /// Set when the app runs on PostgreSQL.
    pub database_url: Option<String>,
    /// Set to true, every commit of new pairs fails (the 503 path).
    pub fail_flush: Arc<AtomicBool>,
    /// What the fixtures did at the latest start.
    pub fixtures_report: Option<sendid::fixtures::Report>,
    config: Config,
    clock: Arc<dyn Clock>,
    manual: Option<Arc<ManualClock>>,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

async fn launch(
    config: Config,
    clock: Arc<dyn Clock>,
    manual: Option<Arc<ManualClock>>,
) -> TestApp {
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
    let fixtures_report = application.fixtures_report().cloned();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = rx.await;
    }));
    let scheme = match config.tls_cert {
        Some(_) => "https",
        None => "http",
    };
    TestApp {
        address: format!("{scheme}://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        demo,
        data_dir: config.data_dir.clone(),
        database_url: config.database_url.clone(),
        fail_flush,
        fixtures_report,
        config,
        clock,
        manual,
        dir: None,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// The manual clock the app reads; panics for an app on the wall clock.
    pub fn clock(&self) -> &Arc<ManualClock> {
        self.manual
            .as_ref()
            .expect("this app runs on the system clock")
    }

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

    /// Stops this server and starts a new one with the same settings (admin API, sandbox,
    /// fixtures, TLS), store and clock.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let config = self.config.clone();
        let mut next = launch(config, self.clock.clone(), self.manual.clone()).await;
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

    /// The admin client ([`Admin`]) for this app.
    pub fn admin(&self) -> Admin {
        Admin::new(&self.address, ADMIN_TOKEN, self.client.clone())
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
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
