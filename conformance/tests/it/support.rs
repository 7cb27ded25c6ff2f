//! Spawning targets for the checker: the real service, and a server with a chosen defect.
#![allow(dead_code)]

use sendid_conformance::{cli, Exit, Outcome};
use sendid_test_support::{Admin, Engine, TestApp, TestAppBuilder};
use tokio::sync::oneshot;

/// A running sendid on port 0 (on the wall clock: the checker holds its answers to the real time)
/// with a workspace of the chosen quota.
pub struct Sendid {
    pub address: String,
    pub api_key: String,
    pub forbidden_api_key: String,
    pub campaign_id: String,
    /// A second campaign of the same workspace.
    pub campaign_id_2: String,
    pub workspace_id: String,
    pub admin: Admin,
    _app: TestApp,
}

impl Sendid {
    pub async fn spawn(quota: u64) -> Sendid {
        Self::spawn_on(quota, None).await
    }

    /// On PostgreSQL when `database_url` is set, on sled otherwise.
    pub async fn spawn_on(quota: u64, database_url: Option<String>) -> Sendid {
        let engine = match database_url {
            Some(url) => Engine::Database(url),
            None => Engine::Sled,
        };
        Self::start(quota, TestApp::builder().engine(engine)).await
    }

    /// With `--sandbox` (sled): fault rules, the request journal, reset and the clock through
    /// [`Sendid::admin`].
    pub async fn spawn_sandbox(quota: u64) -> Sendid {
        Self::start(quota, TestApp::builder().engine(Engine::Sled).sandbox()).await
    }

    async fn start(quota: u64, builder: TestAppBuilder) -> Sendid {
        let app = builder.system_clock().spawn().await;
        let address = app.address.clone();
        let admin = app.admin();
        let tenant = admin
            .tenant_named("conformance", quota, Some("welcome-series"))
            .await;
        let forbidden = admin.api_key(&tenant.workspace_id, &[], None).await;
        let campaign_id_2 = admin
            .campaign(&tenant.workspace_id, Some("Winback-2"))
            .await;
        Sendid {
            api_key: tenant.api_key,
            forbidden_api_key: forbidden["api_key"].as_str().expect("key").to_string(),
            campaign_id: tenant.campaign_id,
            campaign_id_2,
            workspace_id: tenant.workspace_id,
            address,
            admin,
            _app: app,
        }
    }

    /// `used_today` of the workspace, through the admin API.
    pub async fn used_today(&self) -> u64 {
        self.admin.used_today(&self.workspace_id).await
    }

    pub fn args(&self) -> Vec<String> {
        args(&self.address, &self.api_key, &self.campaign_id)
    }

    /// Both campaigns and the forbidden key.
    pub fn full_args(&self) -> Vec<String> {
        let mut a = self.args();
        a.extend([
            "--campaign-id".into(),
            self.campaign_id_2.clone(),
            "--forbidden-api-key".into(),
            self.forbidden_api_key.clone(),
        ]);
        a
    }
}

pub fn args(base_url: &str, api_key: &str, campaign_id: &str) -> Vec<String> {
    [
        "sendid-conformance",
        "--base-url",
        base_url,
        "--api-key",
        api_key,
        "--campaign-id",
        campaign_id,
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs the checker in-process with the given arguments.
pub async fn check(args: Vec<String>, extra: &[&str]) -> Outcome {
    let mut all = args;
    all.extend(extra.iter().map(|s| s.to_string()));
    let cli = match cli::parse(all) {
        Ok(cli) => cli,
        Err(exit) => return Outcome { exit, report: None },
    };
    sendid_conformance::run(cli).await
}

pub fn failed_checks(outcome: &Outcome) -> Vec<&'static str> {
    outcome
        .report
        .as_ref()
        .map(|r| r.failed_checks())
        .unwrap_or_default()
}

pub fn assert_conformant(outcome: &Outcome) {
    assert_eq!(
        outcome.exit,
        Exit::Conformant,
        "failed checks: {:?}",
        failed_checks(outcome)
    );
}

/// Serves `app` on a free loopback port until the returned sender is dropped; the test servers
/// (the broken server, the Braze-like fake, a 404-only target) all start this way.
pub async fn serve_on_loopback(
    app: impl poem::Endpoint + 'static,
) -> (String, oneshot::Sender<()>) {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let port = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .expect("address")
        .port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app,
            async move {
                let _ = rx.await;
            },
            None,
        ),
    );
    (format!("http://127.0.0.1:{port}"), tx)
}
