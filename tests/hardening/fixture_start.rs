//! `--fixtures` seen from the outside (docs/testing.md "Fixtures"): the banner, in text and in
//! JSON, names every fixture key by its name with its `key_id` and workspace (never its value),
//! so that two keys of one workspace can be told apart; a new store started with fixtures holds
//! no demo workspace, and neither does it after `POST /admin/reset`; a bad file is exit 2 with
//! the one-shape message, also as the `error` of a JSON line.
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use sendid_test_support::process::{run_to_exit, Api, Proc};
use sendid_test_support::ADMIN_TOKEN;

const SENDER_KEY: &str = "app-sender-key-0123456789";
const READER_KEY: &str = "app-reader-key-0123456789";

fn fixtures(dir: &Path) -> String {
    let path = dir.join("fixtures.yaml");
    std::fs::write(
        &path,
        format!(
            "workspaces:\n  - id: ws-app\n    name: App\n    campaigns: [{{campaign_id: welcome}}]\n    api_keys:\n      - {{name: sender, api_key: {SENDER_KEY}, permissions: [sends.id.create]}}\n      - {{name: reader, api_key: {READER_KEY}, permissions: []}}\n      - {{name: generated, permissions: [sends.id.create], write_to: gen.key}}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// The key ids the admin API lists for ws-app, by key name.
async fn key_ids(api: &Api) -> Vec<(String, String)> {
    let keys = api.admin_get("/admin/workspaces/ws-app/api-keys").await;
    keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let name = k["name"].as_str().unwrap().to_string();
            (name, k["key_id"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Every workspace id the store holds.
async fn workspace_ids(api: &Api) -> Vec<String> {
    let all = api.admin_get("/admin/workspaces").await;
    all["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

fn stop(mut proc: Proc) -> String {
    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    let out = proc.stdout.lock().unwrap().clone();
    out
}

#[tokio::test]
async fn the_banner_names_each_fixture_key_and_a_fixture_store_has_no_demo_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixtures(dir.path());
    let args = [
        "--admin-token",
        ADMIN_TOKEN,
        "--sandbox",
        "--fixtures",
        &file,
    ];

    // Text.
    let proc = Proc::start(&dir.path().join("text"), &args, &[]);
    let api = proc.api();
    api.wait_healthy(Duration::from_secs(10), "the fixture start")
        .await;
    let ids = key_ids(&api).await;
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(workspace_ids(&api).await, ["ws-app"], "no demo workspace");
    // A reset goes back to the fixtures: still no demo workspace.
    let reset = api
        .client
        .post(api.url("/admin/reset"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let reset: Value = reset.json().await.unwrap();
    assert_eq!(reset["demo_workspace_id"], Value::Null, "{reset}");
    assert_eq!(
        workspace_ids(&api).await,
        ["ws-app"],
        "no demo workspace after a reset"
    );
    assert_eq!(key_ids(&api).await, ids, "the same keys after a reset");
    let banner = stop(proc);
    for (name, key_id) in &ids {
        let line = banner
            .lines()
            .find(|l| l.contains(&format!("key {name:?}: key_id {key_id}, workspace ws-app")))
            .unwrap_or_else(|| panic!("key {name} ({key_id}) not named:\n{banner}"));
        match name.as_str() {
            "sender" => assert!(line.ends_with("permissions sends.id.create"), "{line}"),
            "reader" => assert!(line.contains("no permissions (it answers 403)"), "{line}"),
            _ => assert!(
                line.contains("its value in ") && line.ends_with("gen.key"),
                "{line}"
            ),
        }
    }
    assert!(!banner.contains("demo"), "{banner}");
    assert!(
        !banner.contains(SENDER_KEY) && !banner.contains(READER_KEY),
        "a key's value in the banner:\n{banner}"
    );

    // JSON: the same, as fields of the one banner event.
    let mut json_args = args.to_vec();
    json_args.extend(["--log-format", "json"]);
    let proc = Proc::start(&dir.path().join("json"), &json_args, &[]);
    let api = proc.api();
    api.wait_healthy(Duration::from_secs(10), "the JSON fixture start")
        .await;
    let ids = key_ids(&api).await;
    assert_eq!(workspace_ids(&api).await, ["ws-app"]);
    let out = stop(proc);
    let banner: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(banner.get("demo").is_none(), "{banner}");
    let keys = banner["fixtures"]["keys"]
        .as_array()
        .expect("fixtures.keys");
    assert_eq!(keys.len(), 3, "{banner}");
    for (key, (name, key_id)) in keys.iter().zip(&ids) {
        assert_eq!(key["name"], name.as_str(), "{banner}");
        assert_eq!(key["key_id"], key_id.as_str(), "{banner}");
        assert_eq!(key["workspace_id"], "ws-app");
    }
    assert_eq!(keys[1]["permissions"], serde_json::json!([]));
    assert!(keys[2]["write_to"].as_str().unwrap().ends_with("gen.key"));
    assert!(!out.contains(SENDER_KEY), "a key's value in the banner");
}

#[test]
fn a_bad_fixture_file_is_exit_2_with_the_place_also_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "workspaces:\n  - id: ws-app\n    name: App\n    daily_send_id_quota: \"3\"\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    let data = dir.path().join("data");
    let (status, _, stderr) = run_to_exit(
        &data,
        &["--fixtures", &shown, "--log-format", "json"],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    let line: Value = serde_json::from_str(stderr.lines().last().unwrap()).expect("JSON");
    let error = line["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "{shown}:4:26: workspaces[0].daily_send_id_quota: expected a whole number of 0 or more, found \"3\""
        )),
        "{error}"
    );
    assert!(!data.exists(), "nothing is created");
}
