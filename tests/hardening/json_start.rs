//! A JSON-clean start (docs/contract.md §3, "Logging"): with `--log-format json` every line the
//! process prints, on stdout and on stderr, is one JSON object — the start-up banner is one event
//! with the addresses and, on a new store, the demo workspace, campaign and key. Bound to
//! 0.0.0.0, the banner advertises an address a person can open (localhost), and it answers.
use std::time::Duration;

use serde_json::{json, Value};

use sendid_test_support::process::Proc;
use sendid_test_support::ADMIN_TOKEN;

fn json_lines(text: &str, stream: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{stream}: not JSON ({e}): {l}"))
        })
        .collect()
}

/// Starts on 0.0.0.0 with JSON logs, sends a few requests, stops; returns (stdout, stderr).
async fn start_use_stop(data: &std::path::Path) -> (Vec<Value>, Vec<Value>) {
    let mut proc = Proc::start(
        data,
        &[
            "--bind",
            "0.0.0.0:0",
            "--admin-token",
            ADMIN_TOKEN,
            "--log",
            "info",
            "--log-format",
            "json",
        ],
        &[],
    );
    // The advertised address is one a person can open, and it is this server.
    assert!(proc.base.starts_with("http://localhost:"), "{}", proc.base);
    let api = proc.api();
    let health = api.client.get(api.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let banner: Value = serde_json::from_str(proc.stdout.lock().unwrap().lines().next().unwrap())
        .expect("the banner is JSON");
    if let Some(key) = banner["demo"]["api_key"].as_str() {
        let resp = api
            .client
            .post(api.url("/sends/id/create"))
            .bearer_auth(key)
            .json(&json!({"campaign_id": "demo-campaign", "send_id": "json-start"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = api
        .client
        .get(api.url("/no/such/path"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    let stdout = proc.stdout.lock().unwrap().clone();
    let stderr = proc.stderr.lock().unwrap().clone();
    (json_lines(&stdout, "stdout"), json_lines(&stderr, "stderr"))
}

#[tokio::test]
async fn with_json_logs_everything_printed_is_json_and_the_banner_is_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let (stdout, stderr) = start_use_stop(&data).await;
    assert_eq!(stdout.len(), 1, "the banner is one line: {stdout:?}");
    let banner = &stdout[0];
    assert_eq!(banner["target"], "sendid::banner", "{banner}");
    assert_eq!(banner["level"], "INFO");
    assert!(banner["timestamp"].is_string());
    let url = banner["url"].as_str().unwrap();
    assert!(url.starts_with("http://localhost:"), "{banner}");
    assert!(banner["bound_to"].as_str().unwrap().starts_with("0.0.0.0:"));
    assert_eq!(banner["swagger_ui"], format!("{url}/docs").as_str());
    assert_eq!(banner["admin_api"], format!("{url}/admin/docs").as_str());
    let demo = &banner["demo"];
    assert_eq!(demo["new_store"], true, "{banner}");
    assert_eq!(demo["campaign_id"], "demo-campaign");
    assert!(demo["workspace_id"].is_string() && demo["api_key"].is_string());
    // Access lines and the shutdown are JSON events on stderr.
    assert!(stderr.iter().any(|l| l["target"] == "sendid::access"));
    assert!(
        !stderr.iter().any(|l| l.to_string().contains(ADMIN_TOKEN)),
        "the admin token in the log"
    );

    // A later start on the same store: the demo workspace is named, its key is not shown again.
    let (stdout, _) = start_use_stop(&data).await;
    assert_eq!(stdout.len(), 1, "{stdout:?}");
    let demo = &stdout[0]["demo"];
    assert_eq!(demo["new_store"], false, "{}", stdout[0]);
    assert!(demo.get("api_key").is_none(), "{}", stdout[0]);
    assert!(stdout[0]["demo_key_hint"]
        .as_str()
        .unwrap()
        .contains("keys create"));
}
