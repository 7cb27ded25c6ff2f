//! Spawning targets for the checker: the real service, and a server with a chosen defect.
#![allow(dead_code)]

use std::sync::Arc;

use sendid::clock::SystemClock;
use sendid::config::Config;
use sendid::startup::Application;
use sendid_conformance::{cli, Exit, Outcome};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "conformance-admin-token-0123456789";

/// A running sendid on port 0 with a workspace of the chosen quota.
pub struct Sendid {
    pub address: String,
    pub api_key: String,
    pub forbidden_api_key: String,
    pub campaign_id: String,
    /// A second campaign of the same workspace.
    pub campaign_id_2: String,
    pub workspace_id: String,
    client: reqwest::Client,
    _dir: TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl Sendid {
    pub async fn spawn(quota: u64) -> Sendid {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config::for_tests(dir.path().join("data"));
        config.admin_token = Some(ADMIN_TOKEN.into());
        let app = Application::build(&config, Arc::new(SystemClock))
            .await
            .expect("sendid starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        let admin = |path: &str, body: Value| {
            let req = client
                .post(format!("{address}{path}"))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body);
            async move {
                let resp = req.send().await.expect("admin request");
                assert_eq!(resp.status().as_u16(), 201, "admin {body}");
                resp.json::<Value>().await.expect("admin JSON")
            }
        };
        let ws = admin(
            "/admin/workspaces",
            json!({"name": "conformance", "daily_send_id_quota": quota}),
        )
        .await;
        let id = ws["id"].as_str().expect("workspace id").to_string();
        let campaign = admin(
            &format!("/admin/workspaces/{id}/campaigns"),
            json!({"campaign_id": "welcome-series"}),
        )
        .await;
        let campaign_2 = admin(
            &format!("/admin/workspaces/{id}/campaigns"),
            json!({"campaign_id": "Winback-2"}),
        )
        .await;
        let key = admin(
            &format!("/admin/workspaces/{id}/api-keys"),
            json!({"permissions": ["sends.id.create"]}),
        )
        .await;
        let forbidden = admin(
            &format!("/admin/workspaces/{id}/api-keys"),
            json!({"permissions": []}),
        )
        .await;
        Sendid {
            api_key: key["api_key"].as_str().expect("key").to_string(),
            forbidden_api_key: forbidden["api_key"].as_str().expect("key").to_string(),
            campaign_id: campaign["campaign_id"]
                .as_str()
                .expect("campaign")
                .to_string(),
            campaign_id_2: campaign_2["campaign_id"]
                .as_str()
                .expect("campaign")
                .to_string(),
            workspace_id: id,
            address,
            client,
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// `used_today` of the workspace, through the admin API.
    pub async fn used_today(&self) -> u64 {
        let ws: Value = self
            .client
            .get(format!(
                "{}/admin/workspaces/{}",
                self.address, self.workspace_id
            ))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin request")
            .json()
            .await
            .expect("admin JSON");
        ws["quota"]["used_today"].as_u64().expect("used_today")
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
