//! What a new user meets first (docs/contract.md §2, §3): a start that cannot listen, the demo
//! workspace and lost keys, Swagger UI's example bodies, the listings, the admin API when off,
//! and admin input checked like the public input.
use std::process::Command;

use serde_json::{json, Value};

use sendid::clock::ManualClock;
use sendid::config::Config;
use sendid::startup::Application;
use sendid_test_support::*;

#[tokio::test]
async fn a_start_that_cannot_listen_leaves_no_data_directory_and_suggests_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut config = Config::for_tests(&data_dir);
    config.bind = taken.local_addr().unwrap();
    let clock = std::sync::Arc::new(ManualClock::at_seconds(NOON));
    let err = match Application::build(&config, clock.clone()).await {
        Ok(_) => panic!("the port is taken, yet the app started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("--bind"), "{err}");
    assert!(!data_dir.exists(), "a failed start created {data_dir:?}");

    // The next start, on a free port, is the first on this directory: it shows the demo key.
    config.bind = "127.0.0.1:0".parse().unwrap();
    let app = Application::build(&config, clock).await.unwrap();
    let demo = app
        .demo()
        .expect("the demo workspace is created on this start");
    assert_eq!(app.demo_workspace(), Some(demo.workspace_id.as_str()));
}

#[tokio::test]
async fn the_banner_knows_the_demo_workspace_on_every_start() {
    let app = spawn_app().await;
    let demo = app.demo.clone().unwrap();
    let mut config = Config::for_tests(&app.data_dir);
    config.database_url = app.database_url.clone();
    let data_dir = app.data_dir.clone();
    let mut app = app;
    app.stop().await;
    config.data_dir = data_dir;
    let clock = std::sync::Arc::new(ManualClock::at_seconds(NOON));
    // The stopped server may hold the directory a moment longer; retry briefly.
    let mut again = None;
    for _ in 0..50 {
        match Application::build(&config, clock.clone()).await {
            Ok(app) => {
                again = Some(app);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let again = again.expect("the second start");
    assert!(
        again.demo().is_none(),
        "the key is shown on the first start only"
    );
    assert_eq!(again.demo_workspace(), Some(demo.workspace_id.as_str()));
}

fn sendid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sendid"))
        .args(args)
        .env_remove("SENDID_DATA_DIR")
        .env_remove("SENDID_DATABASE_URL")
        .output()
        .expect("sendid runs")
}

fn minted_key(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys create failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn keys_create_mints_a_working_key_and_refuses_while_a_server_holds_the_directory() {
    let mut app = spawn_app().await;
    // On PostgreSQL the store is shared: the command works beside running servers.
    let (store_flag, data_dir) = match &app.database_url {
        Some(url) => ("--database-url", url.clone()),
        None => ("--data-dir", app.data_dir.to_str().unwrap().to_string()),
    };

    if app.database_url.is_none() {
        let held = sendid(&[
            "keys",
            "create",
            "--workspace",
            "demo",
            "--data-dir",
            &data_dir,
        ]);
        assert_eq!(held.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&held.stderr);
        assert!(
            stderr.contains("in use") && stderr.contains("admin API"),
            "{stderr}"
        );
        assert!(!String::from_utf8_lossy(&held.stdout).contains("API key:"));
    }

    app.stop().await;
    let by_alias = minted_key(&sendid(&[
        "keys",
        "create",
        "--workspace",
        "demo",
        store_flag,
        &data_dir,
    ]));
    let workspace_id = app.demo.as_ref().unwrap().workspace_id.clone();
    // --json: one object a script can read, with the key's id and workspace.
    let as_json = sendid(&[
        "keys",
        "create",
        "--workspace",
        &workspace_id,
        "--json",
        store_flag,
        &data_dir,
    ]);
    assert!(as_json.status.success(), "{as_json:?}");
    let minted: Value = serde_json::from_slice(&as_json.stdout).expect("one JSON object");
    assert_eq!(minted["workspace_id"], workspace_id.as_str());
    assert_eq!(minted["permissions"], json!(["sends.id.create"]));
    assert!(minted["key_id"].is_string());
    let by_id = minted["api_key"].as_str().unwrap().to_string();
    let typo = sendid(&[
        "keys",
        "create",
        "--workspace",
        "demo",
        "--permission",
        "sends.id.creat",
        store_flag,
        &data_dir,
    ]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("known: sends.id.create"));
    let unknown = sendid(&[
        "keys",
        "create",
        "--workspace",
        "nope",
        store_flag,
        &data_dir,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    let unknown_json = sendid(&[
        "keys",
        "create",
        "--workspace",
        "nope",
        "--json",
        store_flag,
        &data_dir,
    ]);
    assert_eq!(unknown_json.status.code(), Some(1));
    let refusal: Value = serde_json::from_slice(&unknown_json.stderr).expect("a JSON error");
    assert!(refusal["message"].as_str().unwrap().contains("nope"));

    let app = app.restart().await;
    for key in [&by_alias, &by_id] {
        let ok = expect_json(
            app.create(key, &json!({"campaign_id": "demo-campaign"}))
                .await,
            200,
        )
        .await;
        assert_eq!(ok["message"], "success");
    }
    // Listed like any other key, never shown again.
    let keys = expect_json(
        app.admin_get(&format!("/admin/workspaces/{workspace_id}/api-keys"))
            .await,
        200,
    )
    .await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 3);
    assert!(!keys.to_string().contains(&by_alias));
}

#[tokio::test]
async fn keys_create_refuses_a_directory_that_does_not_exist_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = sendid(&[
        "keys",
        "create",
        "--workspace",
        "demo",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("start sendid once"));
    assert!(!data_dir.exists());
}

/// The request body example a document gives an operation, as Swagger UI fills it in.
fn example_of(doc: &Value, path: &str) -> Value {
    let schema = &doc["paths"][path]["post"]["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .expect("a JSON request body")["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    schema["example"].clone()
}

#[tokio::test]
async fn swagger_ui_examples_execute_as_they_stand() {
    let app = spawn_app().await;
    let sends: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = example_of(&sends, "/sends/id/create");
    assert_eq!(body["campaign_id"], "demo-campaign");
    for _ in 0..2 {
        let ok = expect_json(app.create(app.demo_key(), &body).await, 200).await;
        assert_eq!(ok["send_id"], body["send_id"]);
    }

    let admin: Value = app
        .client
        .get(app.url("/admin/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = expect_json(
        app.admin_post(
            "/admin/workspaces",
            &example_of(&admin, "/admin/workspaces"),
        )
        .await,
        201,
    )
    .await;
    let id = ws["id"].as_str().unwrap();
    for path in [
        "/admin/workspaces/{id}/campaigns",
        "/admin/workspaces/{id}/api-keys",
    ] {
        let example = example_of(&admin, path);
        // Twice: a second "Execute" must not collide with the first.
        for _ in 0..2 {
            expect_json(
                app.admin_post(&path.replace("{id}", id), &example).await,
                201,
            )
            .await;
        }
    }
}

/// Every page of a listing, walked with `limit` and `after`.
async fn walk(app: &TestApp, path: &str, field: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit={limit}");
        if let Some(a) = &after {
            url.push_str(&format!("&after={}", urlencode(a)));
        }
        let page = expect_json(app.admin_get(&url).await, 200).await;
        let items = page[field].as_array().unwrap();
        assert!(items.len() <= limit);
        out.extend(items.iter().cloned());
        match page["next"].as_str() {
            Some(n) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                after = Some(n.to_string());
            }
            None => return out,
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn workspaces_campaigns_and_keys_are_listed_in_creation_order_page_by_page() {
    let app = spawn_app().await;
    let demo = app.demo.clone().unwrap();
    let mut created = vec![demo.workspace_id.clone()];
    for i in 0..4 {
        app.clock().advance_seconds(1);
        let ws = expect_json(
            app.admin_post(
                "/admin/workspaces",
                &json!({"name": format!("w{i}"), "daily_send_id_quota": i}),
            )
            .await,
            201,
        )
        .await;
        created.push(ws["id"].as_str().unwrap().to_string());
    }
    for limit in [1, 2, 5, 100] {
        let listed: Vec<String> = walk(&app, "/admin/workspaces", "workspaces", limit)
            .await
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, created, "limit {limit}");
    }
    let first = &walk(&app, "/admin/workspaces", "workspaces", 100).await[1];
    assert_eq!(first["name"], "w0");
    assert_eq!(first["daily_send_id_quota"], 0);

    // Campaigns of one workspace only, including ones with characters that need encoding.
    let ws = &created[1];
    let mut campaigns = Vec::new();
    for id in ["b c", "a/b", "z.1", "ü-not-allowed"] {
        let resp = app
            .admin_post(
                &format!("/admin/workspaces/{ws}/campaigns"),
                &json!({"campaign_id": id}),
            )
            .await;
        if resp.status() == 201 {
            campaigns.push(id.to_string());
        }
    }
    assert_eq!(campaigns, ["b c", "a/b", "z.1"]);
    let listed: Vec<String> = walk(
        &app,
        &format!("/admin/workspaces/{ws}/campaigns"),
        "campaigns",
        1,
    )
    .await
    .iter()
    .map(|c| c["campaign_id"].as_str().unwrap().to_string())
    .collect();
    assert_eq!(listed, campaigns);
    let demo_campaigns = walk(
        &app,
        &format!("/admin/workspaces/{}/campaigns", demo.workspace_id),
        "campaigns",
        10,
    )
    .await;
    assert_eq!(demo_campaigns.len(), 1);
    assert_eq!(demo_campaigns[0]["campaign_id"], "demo-campaign");

    // Keys: never the key or its hash; revoked ones flagged.
    let mut secrets = vec![demo.api_key.clone()];
    let mut ids = Vec::new();
    for (name, ips) in [("one", json!([])), ("two", json!(["10.0.0.0/8"]))] {
        let k = expect_json(
            app.admin_post(
                &format!("/admin/workspaces/{ws}/api-keys"),
                &json!({"name": name, "permissions": ["sends.id.create"], "allowed_ips": ips}),
            )
            .await,
            201,
        )
        .await;
        secrets.push(k["api_key"].as_str().unwrap().to_string());
        ids.push(k["key_id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        app.admin_delete(&format!("/admin/api-keys/{}", ids[0]))
            .await
            .status(),
        204
    );
    let keys = walk(
        &app,
        &format!("/admin/workspaces/{ws}/api-keys"),
        "api_keys",
        1,
    )
    .await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["key_id"], ids[0].as_str());
    assert_eq!(keys[0]["revoked"], true);
    assert_eq!(keys[1]["revoked"], false);
    assert_eq!(keys[1]["name"], "two");
    assert_eq!(keys[1]["allowed_ips"], json!(["10.0.0.0/8"]));
    assert_eq!(keys[1]["permissions"], json!(["sends.id.create"]));
    assert!(keys[1]["created_at"].as_str().unwrap().ends_with('Z'));
    let all = walk(
        &app,
        &format!("/admin/workspaces/{}/api-keys", demo.workspace_id),
        "api_keys",
        5,
    )
    .await;
    let text = format!("{keys:?}{all:?}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a key was listed");
        let hash: String = sendid::domain::hash_secret(secret)
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&hash), "a key's hash was listed");
    }
    for k in keys.iter().chain(&all) {
        assert!(k.get("api_key").is_none() && k.get("hash").is_none());
    }

    // Bad pages and unknown workspaces.
    for path in [
        "/admin/workspaces?after=nonsense",
        "/admin/workspaces?limit=0",
        "/admin/workspaces?limit=1001",
    ] {
        let err = expect_json(app.admin_get(path).await, 400).await;
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains(if path.contains("after") {
                    "after"
                } else {
                    "limit"
                }),
            "{err}"
        );
    }
    for path in [
        "/admin/workspaces/nope/campaigns",
        "/admin/workspaces/nope/api-keys",
    ] {
        expect_json(app.admin_get(path).await, 404).await;
    }
}

#[tokio::test]
async fn the_admin_api_when_off_is_404_for_every_method_of_every_admin_path() {
    let app = TestApp::builder().no_admin().spawn().await;
    let paths = [
        "/admin",
        "/admin/workspaces",
        "/admin/workspaces/x",
        "/admin/workspaces/x/campaigns",
        "/admin/workspaces/x/api-keys",
        "/admin/workspaces/x/campaigns/y/send-ids",
        "/admin/api-keys/x",
        "/admin/docs",
        "/admin/openapi.json",
        "/admin/openapi.yaml",
    ];
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .json(&json!({"name": "x"}))
                .send()
                .await
                .unwrap();
            assert!(resp.headers().get("allow").is_none(), "{method} {path}");
            let err = expect_json(resp, 404).await;
            assert!(
                err["message"].as_str().unwrap().contains("--admin-token"),
                "{method} {path}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn admin_input_is_refused_with_the_projects_json_error_naming_the_field() {
    let app = spawn_app().await;
    let t = app.workspace(5).await;
    let ws = &t.workspace_id;
    let cases: Vec<(String, Value, &str)> = vec![
        ("/admin/workspaces".into(), json!({}), "name is required"),
        (
            "/admin/workspaces".into(),
            json!({"name": null}),
            "name is required",
        ),
        (
            "/admin/workspaces".into(),
            json!({"name": 5}),
            "name must be a string",
        ),
        (
            "/admin/workspaces".into(),
            json!({"name": ""}),
            "name must be a string of 1 to 200 characters",
        ),
        (
            "/admin/workspaces".into(),
            json!({"name": "x", "daily_send_id_quota": -1}),
            "daily_send_id_quota must be",
        ),
        (
            "/admin/workspaces".into(),
            json!({"name": "x", "daily_send_id_quota": "9"}),
            "daily_send_id_quota must be",
        ),
        (
            "/admin/workspaces".into(),
            json!({"name": "x", "daily_send_id_quota": 1.5}),
            "daily_send_id_quota must be",
        ),
        (
            "/admin/workspaces".into(),
            json!([{"name": "x"}]),
            "must be a JSON object",
        ),
        (
            format!("/admin/workspaces/{ws}/campaigns"),
            json!({"campaign_id": 7}),
            "campaign_id must be a string",
        ),
        (
            format!("/admin/workspaces/{ws}/campaigns"),
            json!({"name": []}),
            "name must be a string",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({}),
            "permissions is required",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({"permissions": "sends.id.create"}),
            "permissions must be an array",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({"permissions": [1]}),
            "permissions[0] must be a string",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({"permissions": ["sends.id.creat"]}),
            "known: sends.id.create",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({"permissions": ["sends.id.create"], "allowed_ips": [true]}),
            "allowed_ips[0] must be a string",
        ),
        (
            format!("/admin/workspaces/{ws}/api-keys"),
            json!({"permissions": ["sends.id.create"], "allowed_ips": ["nope"]}),
            "allowed_ips",
        ),
    ];
    for (path, body, expected) in cases {
        let err = expect_json(app.admin_post(&path, &body).await, 400).await;
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(expected), "{path} {body}: {message}");
        assert!(
            !message.contains("occurred while parsing") && !message.contains("Expected input type"),
            "{message}"
        );
    }
    // Nothing was created by any of them.
    let listed = walk(&app, "/admin/workspaces", "workspaces", 100).await;
    assert_eq!(listed.len(), 2, "the demo workspace and the test's own");
    let keys = walk(
        &app,
        &format!("/admin/workspaces/{ws}/api-keys"),
        "api_keys",
        100,
    )
    .await;
    assert_eq!(keys.len(), 1);
}
