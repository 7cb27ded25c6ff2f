//! Fixtures (`--fixtures`, docs/testing.md "Fixtures"): through HTTP on the spawned app, on both
//! engines (`SENDID_TEST_ENGINE=postgres`): a fixture key answers at once, the same file twice
//! changes nothing, a changed file updates and deletes nothing, a broken file stops the binary
//! with exit 2 and leaves the store as it was.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use sendid_test_support::{expect_json, TestApp, ADMIN_TOKEN};

const CI_KEY: &str = "ci-key-0123456789abcdef01";

const FIXTURES: &str = "\
# fixtures.yaml
workspaces:
  - id: ws-ci
    name: CI
    daily_send_id_quota: 5
    campaigns:
      - {campaign_id: welcome, name: Welcome}
    api_keys:
      - {name: ci, api_key: \"ci-key-0123456789abcdef01\", permissions: [sends.id.create]}
      - {name: gen, permissions: [sends.id.create], write_to: keys/gen.json}
  - name: Second
    campaigns:
      - {campaign_id: second-campaign}
";

fn write_fixtures(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("fixtures.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn spawn_with(path: &Path) -> TestApp {
    TestApp::builder().fixtures(path).spawn().await
}

/// Every workspace with its campaigns and keys, as the admin API lists them.
async fn everything(app: &TestApp) -> Value {
    let admin = app.admin();
    let mut all = Vec::new();
    let workspaces = admin.fetched("/admin/workspaces?limit=1000").await;
    for w in workspaces["workspaces"].as_array().unwrap() {
        let id = w["id"].as_str().unwrap();
        let campaigns = admin
            .fetched(&format!("/admin/workspaces/{id}/campaigns?limit=1000"))
            .await;
        let keys = admin
            .fetched(&format!("/admin/workspaces/{id}/api-keys?limit=1000"))
            .await;
        all.push(json!({"workspace": w, "campaigns": campaigns, "keys": keys}));
    }
    Value::Array(all)
}

/// The names of every workspace the store holds, in creation order.
async fn workspace_names(app: &TestApp) -> Vec<String> {
    let all = app.admin().fetched("/admin/workspaces?limit=1000").await;
    all["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect()
}

async fn create(app: &TestApp, key: &str, campaign_id: &str, send_id: &str) -> reqwest::Response {
    app.create(
        key,
        &json!({"campaign_id": campaign_id, "send_id": send_id}),
    )
    .await
}

fn generated_key(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("keys/gen.json")).expect("the key file");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test]
async fn fixture_keys_answer_200_at_once_with_the_fixture_quota() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixtures(dir.path(), FIXTURES);
    let app = spawn_with(&path).await;
    assert!(
        app.demo.is_none(),
        "the fixtures replace the demo workspace"
    );

    let resp = create(&app, CI_KEY, "welcome", "first").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "5");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "4");

    // The generated key: written once, readable by its owner only, working at once.
    let file = generated_key(dir.path());
    assert_eq!(file["workspace_id"], "ws-ci");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys/gen.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let gen = file["api_key"].as_str().unwrap();
    assert_eq!(create(&app, gen, "welcome", "second").await.status(), 200);

    let ws = app.admin().fetched("/admin/workspaces/ws-ci").await;
    assert_eq!(ws["name"], "CI");
    assert_eq!(ws["quota"]["used_today"], 2);
    let keys = app
        .admin()
        .fetched("/admin/workspaces/ws-ci/api-keys")
        .await;
    let listed = keys.to_string();
    assert!(
        !listed.contains(CI_KEY) && !listed.contains(gen),
        "keys are never listed"
    );
    assert_eq!(keys["api_keys"][0]["name"], "ci");
    assert_eq!(keys["api_keys"][1]["key_id"], file["key_id"]);
    // A workspace without an id gets one, the same at every start; the quota defaults to 100.
    let all = everything(&app).await;
    let second = &all[1]["workspace"];
    assert_eq!(second["name"], "Second");
    assert_eq!(second["daily_send_id_quota"], 100);
    let report = app.fixtures_report.clone().unwrap();
    assert!(report.changes.len() >= 6, "{report:?}");
}

#[tokio::test]
async fn the_same_file_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixtures(dir.path(), FIXTURES);
    let app = spawn_with(&path).await;
    assert_eq!(create(&app, CI_KEY, "welcome", "kept").await.status(), 200);
    let before = everything(&app).await;
    let key_file = std::fs::read(dir.path().join("keys/gen.json")).unwrap();

    let app = app.restart().await;
    assert_eq!(everything(&app).await, before);
    assert_eq!(
        std::fs::read(dir.path().join("keys/gen.json")).unwrap(),
        key_file
    );
    let report = app.fixtures_report.clone().unwrap();
    assert!(report.changes.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 2 + 2 + 2);
    assert_eq!(app.admin().used_today("ws-ci").await, 1);
    assert_eq!(create(&app, CI_KEY, "welcome", "kept").await.status(), 200);
    assert_eq!(app.admin().used_today("ws-ci").await, 1);
}

#[tokio::test]
async fn a_changed_file_creates_and_updates_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixtures(dir.path(), FIXTURES);
    let app = spawn_with(&path).await;
    let gen = generated_key(dir.path())["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    for s in ["a", "b"] {
        assert_eq!(create(&app, CI_KEY, "welcome", s).await.status(), 200);
    }

    // Quota 5 -> 3, the campaign renamed, a campaign added, the generated key left out.
    let changed = "\
workspaces:
  - id: ws-ci
    name: CI
    daily_send_id_quota: 3
    campaigns:
      - {campaign_id: welcome, name: Welcome back}
      - {campaign_id: added}
    api_keys:
      - {name: ci, api_key: \"ci-key-0123456789abcdef01\", permissions: [sends.id.create]}
";
    write_fixtures(dir.path(), changed);
    let app = app.restart().await;
    let report = app.fixtures_report.clone().unwrap();
    let said = report.changes.join("\n");
    assert!(said.contains("daily_send_id_quota 5 -> 3"), "{said}");
    assert!(said.contains("renamed campaign welcome"), "{said}");
    assert!(said.contains("created campaign added"), "{said}");

    let ws = app.admin().fetched("/admin/workspaces/ws-ci").await;
    assert_eq!(ws["daily_send_id_quota"], 3);
    assert_eq!(ws["quota"]["remaining"], 1, "units spent today stay spent");
    let resp = create(&app, CI_KEY, "added", "c").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
    assert_eq!(create(&app, CI_KEY, "welcome", "d").await.status(), 429);
    // Deletes nothing: the key and the workspace the file no longer names still work.
    assert_eq!(create(&app, &gen, "welcome", "a").await.status(), 200);
    let all = everything(&app).await;
    assert!(all.to_string().contains("second-campaign"));
    let campaigns = app
        .admin()
        .fetched("/admin/workspaces/ws-ci/campaigns")
        .await;
    assert_eq!(campaigns["campaigns"][0]["name"], "Welcome back");
}

fn sendid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sendid"))
        .args(args)
        .env_remove("SENDID_DATA_DIR")
        .env_remove("SENDID_DATABASE_URL")
        .env_remove("SENDID_FIXTURES")
        .output()
        .expect("sendid runs")
}

#[tokio::test]
async fn a_broken_file_exits_2_naming_the_place_and_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixtures(dir.path(), FIXTURES);
    let mut app = spawn_with(&path).await;
    assert_eq!(create(&app, CI_KEY, "welcome", "a").await.status(), 200);
    let before = everything(&app).await;
    app.stop().await;

    let store: Vec<String> = match &app.database_url {
        Some(url) => vec!["--database-url".into(), url.clone()],
        None => vec!["--data-dir".into(), app.data_dir.display().to_string()],
    };
    // The quota changed (it would be written) and a permission misspelt further down.
    let broken = FIXTURES
        .replace("daily_send_id_quota: 5", "daily_send_id_quota: 1")
        .replace(
            "permissions: [sends.id.create], write_to",
            "permissions: [sends.id.creat], write_to",
        );
    let typo = FIXTURES.replace("daily_send_id_quota: 5", "daily_quota: 5");
    let not_yaml = "workspaces: [ {name: \"unclosed\n";
    for (text, place) in [
        (broken.as_str(), "fixtures.yaml:10:"),
        (typo.as_str(), "daily_quota"),
        (not_yaml, "fixtures.yaml"),
    ] {
        write_fixtures(dir.path(), text);
        let mut args = vec![
            "--bind",
            "127.0.0.1:0",
            "--admin-token",
            ADMIN_TOKEN,
            "--fixtures",
        ];
        let shown = path.display().to_string();
        args.push(&shown);
        args.extend(store.iter().map(String::as_str));
        let out = sendid(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(place), "{place} not in: {stderr}");
    }
    let broken_out = {
        write_fixtures(dir.path(), &broken);
        let shown = path.display().to_string();
        let mut args = vec!["--bind", "127.0.0.1:0", "--fixtures", &shown];
        args.extend(store.iter().map(String::as_str));
        String::from_utf8_lossy(&sendid(&args).stderr).to_string()
    };
    assert!(
        broken_out.contains("workspaces[0].api_keys[1].permissions[0]"),
        "{broken_out}"
    );

    // A new data directory with a broken file is not even created.
    if app.database_url.is_none() {
        let fresh = dir.path().join("fresh");
        let shown = path.display().to_string();
        let out = sendid(&[
            "--bind",
            "127.0.0.1:0",
            "--fixtures",
            &shown,
            "--data-dir",
            fresh.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(!fresh.exists());
    }

    // The store is as it was: the good file again finds everything unchanged.
    write_fixtures(dir.path(), FIXTURES);
    let app = app.restart().await;
    assert_eq!(everything(&app).await, before);
    assert!(app.fixtures_report.clone().unwrap().changes.is_empty());
    let ws = expect_json(app.admin_get("/admin/workspaces/ws-ci").await, 200).await;
    assert_eq!(ws["daily_send_id_quota"], 5);
}

#[tokio::test]
async fn a_sandbox_reset_goes_back_to_the_fixtures_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixtures(dir.path(), FIXTURES);
    let app = TestApp::builder().fixtures(&path).sandbox().spawn().await;
    let before = everything(&app).await;
    // A new store with fixtures holds what they name and no demo workspace (the CEO's answer).
    assert_eq!(workspace_names(&app).await, ["CI", "Second"]);
    let gen = generated_key(dir.path());
    let gen = gen["api_key"].as_str().unwrap().to_string();
    assert_eq!(create(&app, CI_KEY, "welcome", "one").await.status(), 200);
    assert_eq!(create(&app, &gen, "welcome", "two").await.status(), 200);
    let extra = app.workspace(5).await;

    let resp = app
        .client
        .post(app.url("/admin/reset"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let done = expect_json(resp, 200).await;
    assert!(
        done["message"].as_str().unwrap().contains("fixtures"),
        "{done}"
    );
    assert_eq!(done["demo_workspace_id"], Value::Null, "{done}");

    // What the fixtures name, as at the start: the same ids, the same two keys, nothing spent;
    // still no demo workspace.
    assert_eq!(everything(&app).await, before);
    assert_eq!(workspace_names(&app).await, ["CI", "Second"]);
    let gone = app
        .admin_get(&format!("/admin/workspaces/{}", extra.workspace_id))
        .await;
    assert_eq!(gone.status(), 404);
    let again = create(&app, CI_KEY, "welcome", "one").await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.headers()["x-ratelimit-remaining"],
        "4",
        "a new pair again, out of a fresh quota of 5"
    );
    assert_eq!(create(&app, &gen, "welcome", "three").await.status(), 200);
    assert_eq!(generated_key(dir.path())["api_key"], gen.as_str());
}

/// A campaign's `channel` and `audience_size` (docs/contract.md §6) come from the file, and a
/// changed file changes them; an unknown channel is refused naming its place.
#[tokio::test]
async fn a_campaigns_channel_and_audience_size_follow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = |channel: &str, size: u64| {
        format!(
            "workspaces:\n  - id: ws-ch\n    name: Channels\n    campaigns:\n      - {{campaign_id: pushy, channel: {channel}, audience_size: {size}}}\n"
        )
    };
    let path = write_fixtures(dir.path(), &file("ios_push", 10));
    let app = spawn_with(&path).await;
    let listed = app
        .admin()
        .fetched("/admin/workspaces/ws-ch/campaigns")
        .await;
    assert_eq!(listed["campaigns"][0]["channel"], "ios_push");
    assert_eq!(listed["campaigns"][0]["audience_size"], 10);
    write_fixtures(dir.path(), &file("sms", 25));
    let app = app.restart().await;
    let said = app.fixtures_report.clone().unwrap().changes.join("\n");
    assert!(
        said.contains("campaign pushy to channel sms and audience_size 25"),
        "{said}"
    );
    let listed = app
        .admin()
        .fetched("/admin/workspaces/ws-ch/campaigns")
        .await;
    assert_eq!(listed["campaigns"][0]["channel"], "sms");
    assert_eq!(listed["campaigns"][0]["audience_size"], 25);
    drop(app);
    let bad = write_fixtures(dir.path(), &file("pigeon", 1));
    let out = sendid(&[
        "serve",
        "--fixtures",
        bad.to_str().unwrap(),
        "--data-dir",
        dir.path().join("other").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("campaigns[0].channel") && err.contains("pigeon"),
        "{err}"
    );
}

/// The mistakes a new user made, each refused by the binary (exit 2, nothing created) with one
/// message in one shape: `path:line:column: place: expected …, found …`, and the line under it.
#[test]
fn each_mistake_is_refused_as_path_line_column_place_expected_found() {
    let dir = tempfile::tempdir().unwrap();
    let quota = |v: &str| {
        format!("workspaces:\n  - id: ws-app\n    name: App\n    daily_send_id_quota: {v}\n")
    };
    let perms = "workspaces:\n  - name: App\n    api_keys:\n      - name: sender\n        api_key: app-key-0123456789abcdef\n        permissions: sends.id.create\n";
    let syntax = "workspaces:\n  - name: App\n    campaigns: [welcome\n";
    let place = "workspaces[0].daily_send_id_quota: expected a whole number of 0 or more, found";
    let cases = [
        (quota("three"), format!("4:26: {place} \"three\"")),
        (quota("-3"), format!("4:26: {place} -3")),
        (quota("\"3\""), format!("4:26: {place} \"3\"")),
        (
            perms.to_string(),
            "6:22: workspaces[0].api_keys[0].permissions: expected a list of permissions (known: sends.id.create, campaigns.trigger.send, sends.data_series), found \"sends.id.create\" (a list is written [a, b], or one \"- item\" per line)".to_string(),
        ),
        (syntax.to_string(), "3:16: YAML syntax: unclosed bracket '['".to_string()),
    ];
    for (text, expected) in cases {
        let path = write_fixtures(dir.path(), &text);
        let fresh = dir.path().join("fresh");
        let shown = path.display().to_string();
        let out = sendid(&[
            "--bind",
            "127.0.0.1:0",
            "--fixtures",
            &shown,
            "--data-dir",
            fresh.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines[0], format!("sendid: {shown}:{expected}"), "{stderr}");
        // The excerpt: the line named, the caret under the column named, no `<input>`.
        let (line, column) = {
            let mut n = expected.split(':');
            let line: usize = n.next().unwrap().parse().unwrap();
            let column: usize = n.next().unwrap().parse().unwrap();
            (line, column)
        };
        assert_eq!(
            lines[1],
            format!("{line:>5} | {}", text.lines().nth(line - 1).unwrap()),
            "{stderr}"
        );
        assert_eq!(lines[2].find('^'), Some(8 + column - 1), "{stderr}");
        assert!(!stderr.contains("<input>"), "{stderr}");
        assert!(!fresh.exists(), "nothing is created: {stderr}");
    }
}
