//! The admin API (docs/contract.md §2).
use serde_json::{json, Value};

use sendid_test_support::{expect_json, next_midnight, spawn_app, TestApp, ADMIN_TOKEN, NOON};

async fn new_workspace(app: &TestApp, body: Value) -> Value {
    expect_json(app.admin_post("/admin/workspaces", &body).await, 201).await
}

#[tokio::test]
async fn create_workspace_with_the_default_and_a_custom_quota() {
    let app = spawn_app().await;
    let ws = new_workspace(&app, json!({"name": "Acme"})).await;
    let id = ws["id"].as_str().expect("id").to_string();
    assert!(!id.is_empty());
    assert_eq!(
        ws,
        json!({"id": id, "name": "Acme", "daily_send_id_quota": 100})
    );

    let custom = new_workspace(&app, json!({"name": "Small", "daily_send_id_quota": 7})).await;
    assert_eq!(custom["daily_send_id_quota"], 7);
    assert_ne!(custom["id"], ws["id"]);
    let zero = new_workspace(&app, json!({"name": "Zero", "daily_send_id_quota": 0})).await;
    assert_eq!(zero["daily_send_id_quota"], 0);

    let got = expect_json(app.admin_get(&format!("/admin/workspaces/{id}")).await, 200).await;
    assert_eq!(
        got,
        json!({
            "id": id,
            "name": "Acme",
            "daily_send_id_quota": 100,
            "quota": {"limit": 100, "used_today": 0, "remaining": 100, "reset": next_midnight(NOON)},
        })
    );
}

#[tokio::test]
async fn create_workspace_refuses_invalid_bodies() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 1}),
        json!({"name": null}),
        json!({"name": "x", "daily_send_id_quota": -1}),
        json!({"name": "x", "daily_send_id_quota": 1.5}),
        json!({"name": "x", "daily_send_id_quota": "5"}),
        json!([]),
        json!("name"),
    ] {
        let err = expect_json(app.admin_post("/admin/workspaces", &body).await, 400).await;
        assert!(err["message"].is_string(), "{body}");
    }
    for raw in ["", "{", "not json"] {
        let resp = app
            .client
            .post(app.url("/admin/workspaces"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        expect_json(resp, 400).await;
    }
    let resp = app
        .client
        .post(app.url("/admin/workspaces"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/plain")
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .unwrap();
    expect_json(resp, 415).await;
    let resp = app
        .client
        .post(app.url("/admin/workspaces"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(json!({"name": "x".repeat(70_000)}).to_string())
        .send()
        .await
        .unwrap();
    expect_json(resp, 413).await;
    // A wrong method on a known admin path is 405 with Allow, as JSON.
    let resp = app
        .client
        .put(app.url("/admin/workspaces"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sendid_test_support::header(&resp, "allow"),
        Some("GET, POST")
    );
    expect_json(resp, 405).await;
}

#[tokio::test]
async fn the_workspace_quota_view_follows_use_and_the_clock() {
    let app = spawn_app().await;
    let t = app.workspace(3).await;
    for s in ["a", "b", "a"] {
        expect_json(
            app.create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": s}),
            )
            .await,
            200,
        )
        .await;
    }
    let path = format!("/admin/workspaces/{}", t.workspace_id);
    let ws = expect_json(app.admin_get(&path).await, 200).await;
    assert_eq!(
        ws["quota"],
        json!({"limit": 3, "used_today": 2, "remaining": 1, "reset": next_midnight(NOON)})
    );
    app.clock().advance_seconds(86_400);
    let ws = expect_json(app.admin_get(&path).await, 200).await;
    assert_eq!(
        ws["quota"],
        json!({"limit": 3, "used_today": 0, "remaining": 3, "reset": next_midnight(NOON) + 86_400})
    );
}

#[tokio::test]
async fn unknown_workspaces_campaigns_and_keys_are_404() {
    let app = spawn_app().await;
    let t = app.workspace(1).await;
    let other = app.workspace(1).await;
    let cases = [
        app.admin_get("/admin/workspaces/no-such-workspace").await,
        app.admin_post("/admin/workspaces/no-such-workspace/campaigns", &json!({}))
            .await,
        app.admin_post(
            "/admin/workspaces/no-such-workspace/api-keys",
            &json!({"permissions": ["sends.id.create"]}),
        )
        .await,
        app.admin_get(&format!(
            "/admin/workspaces/no-such-workspace/campaigns/{}/send-ids",
            t.campaign_id
        ))
        .await,
        app.admin_get(&format!(
            "/admin/workspaces/{}/campaigns/no-such-campaign/send-ids",
            t.workspace_id
        ))
        .await,
        // A campaign of another workspace is not found in this one.
        app.admin_get(&format!(
            "/admin/workspaces/{}/campaigns/{}/send-ids",
            t.workspace_id, other.campaign_id
        ))
        .await,
        app.admin_delete("/admin/api-keys/no-such-key").await,
        app.admin_get("/admin/no-such-thing").await,
    ];
    for resp in cases {
        let url = resp.url().to_string();
        let err = expect_json(resp, 404).await;
        assert!(err["message"].is_string(), "{url}");
    }
}

#[tokio::test]
async fn campaigns_with_a_given_or_generated_id_and_409_on_duplicates() {
    let app = spawn_app().await;
    let t = app.workspace(10).await;
    let other = app.workspace(10).await;
    let path = format!("/admin/workspaces/{}/campaigns", t.workspace_id);

    let given = expect_json(
        app.admin_post(
            &path,
            &json!({"campaign_id": "spring-2026", "name": "Spring"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        given,
        json!({"campaign_id": "spring-2026", "name": "Spring", "channel": "email", "audience_size": 0})
    );
    let unnamed = expect_json(
        app.admin_post(&path, &json!({"campaign_id": "unnamed"}))
            .await,
        201,
    )
    .await;
    assert_eq!(unnamed["campaign_id"], "unnamed");
    assert!(unnamed["name"].is_string());
    let generated = expect_json(app.admin_post(&path, &json!({"name": "Gen"})).await, 201).await;
    let gen_id = generated["campaign_id"].as_str().expect("generated id");
    assert!(!gen_id.is_empty() && gen_id.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    assert_eq!(generated["name"], "Gen");
    let generated2 = expect_json(app.admin_post(&path, &json!({})).await, 201).await;
    assert_ne!(generated2["campaign_id"], generated["campaign_id"]);

    // Duplicates: in the same workspace and in another one (campaign ids are global).
    let err = expect_json(
        app.admin_post(&path, &json!({"campaign_id": "spring-2026"}))
            .await,
        409,
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("spring-2026"));
    expect_json(
        app.admin_post(
            &format!("/admin/workspaces/{}/campaigns", other.workspace_id),
            &json!({"campaign_id": "spring-2026"}),
        )
        .await,
        409,
    )
    .await;
    expect_json(
        app.admin_post(&path, &json!({"campaign_id": t.campaign_id}))
            .await,
        409,
    )
    .await;

    // Every created campaign is usable by the workspace's key, and by no other.
    for campaign in ["spring-2026", "unnamed", gen_id] {
        expect_json(
            app.create(&t.api_key, &json!({"campaign_id": campaign}))
                .await,
            200,
        )
        .await;
        let err = expect_json(
            app.create(&other.api_key, &json!({"campaign_id": campaign}))
                .await,
            400,
        )
        .await;
        assert_eq!(err["message"], "Invalid campaign_id");
    }

    for bad in [
        json!({"campaign_id": ""}),
        json!({"campaign_id": "x".repeat(129)}),
        json!({"campaign_id": "tab\there"}),
        json!({"campaign_id": "é"}),
        json!({"campaign_id": 5}),
        json!({"name": "x".repeat(201)}),
    ] {
        expect_json(app.admin_post(&path, &bad).await, 400).await;
    }
    expect_json(
        app.admin_post(&path, &json!({"campaign_id": "x".repeat(128)}))
            .await,
        201,
    )
    .await;
}

#[tokio::test]
async fn api_keys_are_shown_once_with_their_permissions_and_allow_list() {
    let app = spawn_app().await;
    let t = app.workspace(10).await;
    let path = format!("/admin/workspaces/{}/api-keys", t.workspace_id);
    let created = expect_json(
        app.admin_post(
            &path,
            &json!({
                "name": "backend",
                "permissions": ["sends.id.create"],
                "allowed_ips": ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"],
            }),
        )
        .await,
        201,
    )
    .await;
    let key = created["api_key"].as_str().expect("api_key").to_string();
    let key_id = created["key_id"].as_str().expect("key_id").to_string();
    assert!(key.len() >= 20, "{key}");
    assert_ne!(key, key_id);
    assert_eq!(created["permissions"], json!(["sends.id.create"]));
    assert_eq!(
        created["allowed_ips"],
        json!(["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"])
    );
    let fields: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 4, "{created}");

    // The key is never shown again.
    let ws = app
        .admin_get(&format!("/admin/workspaces/{}", t.workspace_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!ws.contains(&key));

    let minimal = expect_json(
        app.admin_post(&path, &json!({"permissions": []})).await,
        201,
    )
    .await;
    assert_eq!(minimal["permissions"], json!([]));
    assert_eq!(minimal["allowed_ips"], json!([]));
    assert_ne!(minimal["api_key"], created["api_key"]);
    assert_ne!(minimal["key_id"], created["key_id"]);

    expect_json(
        app.create(&key, &json!({"campaign_id": t.campaign_id}))
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn api_key_creation_refuses_invalid_bodies() {
    let app = spawn_app().await;
    let t = app.workspace(10).await;
    let path = format!("/admin/workspaces/{}/api-keys", t.workspace_id);
    for (body, mention) in [
        (
            json!({"permissions": ["sends.id.create"], "allowed_ips": ["not-an-ip"]}),
            Some("not-an-ip"),
        ),
        (
            json!({"permissions": ["sends.id.create"], "allowed_ips": ["10.0.0.0/33"]}),
            Some("10.0.0.0/33"),
        ),
        (
            json!({"permissions": ["sends.id.create"], "allowed_ips": ["300.1.1.1"]}),
            Some("300.1.1.1"),
        ),
        (
            json!({"permissions": ["sends.id.create"], "allowed_ips": ["127.0.0.1", ""]}),
            Some("allowed_ips"),
        ),
        (
            json!({"permissions": ["sends id create"]}),
            Some("permission"),
        ),
        (json!({"permissions": [""]}), Some("permission")),
        (json!({"permissions": "sends.id.create"}), None),
        (json!({"permissions": [1]}), None),
        (json!({}), None),
        (
            json!({"permissions": ["sends.id.create"], "allowed_ips": "127.0.0.1"}),
            None,
        ),
    ] {
        let err = expect_json(app.admin_post(&path, &body).await, 400).await;
        let message = err["message"].as_str().unwrap();
        if let Some(m) = mention {
            assert!(message.contains(m), "{body}: {message}");
        }
    }
}

#[tokio::test]
async fn deleting_a_key_revokes_it() {
    let app = spawn_app().await;
    let t = app.workspace(10).await;
    let spare = app
        .api_key(&t.workspace_id, &["sends.id.create"], None)
        .await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "s"});
    expect_json(app.create(&t.api_key, &body).await, 200).await;

    let path = format!("/admin/api-keys/{}", t.key_id);
    let resp = app.admin_delete(&path).await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    expect_json(app.create(&t.api_key, &body).await, 401).await;
    expect_json(app.admin_delete(&path).await, 404).await;
    // Other keys of the workspace are untouched.
    expect_json(
        app.create(spare["api_key"].as_str().unwrap(), &body).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn send_ids_are_listed_in_creation_order_with_pagination() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    // Not alphabetical, so that the order can only be the order of creation.
    let ids = ["zeta", "alpha", "mid dle", "0", "~tilde", "beta"];
    for (i, s) in ids.iter().enumerate() {
        app.clock().set_seconds(NOON + i as i64);
        expect_json(
            app.create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": s}),
            )
            .await,
            200,
        )
        .await;
    }
    // A repeat does not move a pair.
    expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "zeta"}),
        )
        .await,
        200,
    )
    .await;
    let base = format!(
        "/admin/workspaces/{}/campaigns/{}/send-ids",
        t.workspace_id, t.campaign_id
    );
    let all = expect_json(app.admin_get(&base).await, 200).await;
    let listed: Vec<&str> = all["send_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["send_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(all["next"], Value::Null);
    assert_eq!(all["send_ids"][0]["created_at"], "2026-11-27T12:00:00.000Z");
    assert_eq!(all["send_ids"][5]["created_at"], "2026-11-27T12:00:05.000Z");

    // Pages of 4: next is the `after` of the following page, null on the last.
    let page1 = expect_json(app.admin_get(&format!("{base}?limit=4")).await, 200).await;
    assert_eq!(page1["send_ids"].as_array().unwrap().len(), 4);
    assert_eq!(page1["send_ids"][0]["send_id"], "zeta");
    let next = page1["next"].as_str().expect("next on a non-last page");
    let page2 = expect_json(
        app.admin_get(&format!("{base}?limit=4&after={next}")).await,
        200,
    )
    .await;
    let rest: Vec<&str> = page2["send_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["send_id"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["~tilde", "beta"]);
    assert_eq!(page2["next"], Value::Null);

    // A page that ends exactly at the last item.
    let p = expect_json(app.admin_get(&format!("{base}?limit=6")).await, 200).await;
    assert_eq!(p["send_ids"].as_array().unwrap().len(), 6);
    assert_eq!(p["next"], Value::Null);
    let mut after: Option<String> = None;
    let mut walked = Vec::new();
    loop {
        let path = match &after {
            Some(a) => format!("{base}?limit=1&after={a}"),
            None => format!("{base}?limit=1"),
        };
        let p = expect_json(app.admin_get(&path).await, 200).await;
        let items = p["send_ids"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        walked.push(items[0]["send_id"].as_str().unwrap().to_string());
        match p["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, ids);

    // An empty campaign.
    app.campaign(&t.workspace_id, "empty").await;
    let empty = expect_json(
        app.admin_get(&format!(
            "/admin/workspaces/{}/campaigns/empty/send-ids",
            t.workspace_id
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(empty, json!({"send_ids": [], "next": null}));

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=",
        "after=xyz",
    ] {
        let err = expect_json(app.admin_get(&format!("{base}?{bad}")).await, 400).await;
        assert!(err["message"].is_string(), "{bad}");
    }
    let p = expect_json(app.admin_get(&format!("{base}?limit=1000")).await, 200).await;
    assert_eq!(p["send_ids"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn listing_defaults_to_pages_of_100() {
    let app = spawn_app().await;
    let t = app.workspace(150).await;
    let bodies: Vec<Value> = (0..101)
        .map(|i| json!({"campaign_id": t.campaign_id, "send_id": format!("s{i}")}))
        .collect();
    let results =
        futures_util::future::join_all(bodies.iter().map(|b| app.create(&t.api_key, b))).await;
    assert!(results.iter().all(|r| r.status() == 200));
    let base = format!(
        "/admin/workspaces/{}/campaigns/{}/send-ids",
        t.workspace_id, t.campaign_id
    );
    let page1 = expect_json(app.admin_get(&base).await, 200).await;
    assert_eq!(page1["send_ids"].as_array().unwrap().len(), 100);
    let next = page1["next"].as_str().expect("a second page");
    let page2 = expect_json(app.admin_get(&format!("{base}?after={next}")).await, 200).await;
    assert_eq!(page2["send_ids"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next"], Value::Null);
}

#[tokio::test]
async fn a_wrong_or_missing_admin_token_is_401() {
    let app = spawn_app().await;
    let t = app.workspace(10).await;
    let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::POST,
            "/admin/workspaces".into(),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::GET,
            format!("/admin/workspaces/{}", t.workspace_id),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/admin/workspaces/{}/campaigns", t.workspace_id),
            Some(json!({})),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/workspaces/{}/api-keys", t.workspace_id),
            Some(json!({"permissions": ["sends.id.create"]})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/api-keys/{}", t.key_id),
            None,
        ),
        (
            reqwest::Method::GET,
            format!(
                "/admin/workspaces/{}/campaigns/{}/send-ids",
                t.workspace_id, t.campaign_id
            ),
            None,
        ),
    ];
    let wrong = format!("{ADMIN_TOKEN}x");
    let tokens: [Option<&str>; 4] = [None, Some(&wrong), Some(&t.api_key), Some("")];
    for (method, path, body) in &calls {
        for token in tokens {
            let mut req = app.client.request(method.clone(), app.url(path));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.unwrap();
            let err = expect_json(resp, 401).await;
            assert!(!err.to_string().contains(ADMIN_TOKEN));
        }
    }
    // Nothing happened: the key still works.
    expect_json(
        app.create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn without_an_admin_token_every_admin_path_is_404_saying_how_to_turn_it_on() {
    let app = TestApp::builder().no_admin().spawn().await;
    let paths = [
        (reqwest::Method::POST, "/admin/workspaces"),
        (reqwest::Method::GET, "/admin/workspaces/x"),
        (reqwest::Method::POST, "/admin/workspaces/x/campaigns"),
        (reqwest::Method::POST, "/admin/workspaces/x/api-keys"),
        (reqwest::Method::DELETE, "/admin/api-keys/x"),
        (
            reqwest::Method::GET,
            "/admin/workspaces/x/campaigns/y/send-ids",
        ),
        (reqwest::Method::GET, "/admin"),
        (reqwest::Method::GET, "/admin/"),
        (reqwest::Method::GET, "/admin/anything/at/all"),
        (reqwest::Method::GET, "/admin/docs"),
        (reqwest::Method::GET, "/admin/openapi.json"),
    ];
    for (method, path) in paths {
        for token in [None, Some(ADMIN_TOKEN)] {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .json(&json!({"name": "x"}));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let err = expect_json(req.send().await.unwrap(), 404).await;
            let message = err["message"].as_str().unwrap();
            assert!(
                message.contains("--admin-token") && message.contains("SENDID_ADMIN_TOKEN"),
                "{method} {path}: {message}"
            );
        }
    }
    // The public operation is unaffected.
    expect_json(
        app.create(app.demo_key(), &json!({"campaign_id": "demo-campaign"}))
            .await,
        200,
    )
    .await;
}
