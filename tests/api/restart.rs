//! Durability across a restart on the same data directory (docs/contract.md §1 "Durability").
use serde_json::json;

use sendid_test_support::{expect_json, header, rate_limit, spawn_app};

#[tokio::test]
async fn pairs_keys_and_spent_quota_survive_a_restart() {
    let app = spawn_app().await;
    let demo_key = app.demo_key().to_string();
    let t = app.workspace(3).await;
    let revoked = app
        .api_key(&t.workspace_id, &["sends.id.create"], None)
        .await;
    let limited = app
        .api_key(&t.workspace_id, &["sends.id.create"], Some(&["10.0.0.0/8"]))
        .await;
    app.campaign(&t.workspace_id, "kept-campaign").await;
    for s in ["a", "b"] {
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
    let generated = expect_json(
        app.create(&t.api_key, &json!({"campaign_id": "kept-campaign"}))
            .await,
        200,
    )
    .await["send_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.admin_delete(&format!(
            "/admin/api-keys/{}",
            revoked["key_id"].as_str().unwrap()
        ))
        .await
        .status(),
        204
    );

    let app = app.restart().await;
    assert!(
        app.demo.is_none(),
        "a known data directory is not bootstrapped again"
    );

    // The quota spent is still spent: 3 of 3.
    assert_eq!(app.used_today(&t.workspace_id).await, 3);
    let resp = app
        .create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "c"}),
        )
        .await;
    assert_eq!(header(&resp, "retry-after"), Some("43200"));
    expect_json(resp, 429).await;
    // The pairs are still there and answer 200 without quota.
    for (campaign, s) in [
        (t.campaign_id.as_str(), "a"),
        (t.campaign_id.as_str(), "b"),
        ("kept-campaign", generated.as_str()),
    ] {
        let resp = app
            .create(&t.api_key, &json!({"campaign_id": campaign, "send_id": s}))
            .await;
        assert_eq!(rate_limit(&resp).1, Some(0));
        assert_eq!(expect_json(resp, 200).await["send_id"], s);
    }
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["a", "b"]
    );
    assert_eq!(
        app.all_send_ids(&t.workspace_id, "kept-campaign").await,
        vec![generated.clone()]
    );
    // Keys: the revoked one stays revoked, the allow-list is kept, the demo key still works.
    expect_json(
        app.create(
            revoked["api_key"].as_str().unwrap(),
            &json!({"campaign_id": t.campaign_id, "send_id": "a"}),
        )
        .await,
        401,
    )
    .await;
    expect_json(
        app.admin_delete(&format!(
            "/admin/api-keys/{}",
            revoked["key_id"].as_str().unwrap()
        ))
        .await,
        404,
    )
    .await;
    expect_json(
        app.create(
            limited["api_key"].as_str().unwrap(),
            &json!({"campaign_id": t.campaign_id, "send_id": "a"}),
        )
        .await,
        403,
    )
    .await;
    expect_json(
        app.create(&demo_key, &json!({"campaign_id": "demo-campaign"}))
            .await,
        200,
    )
    .await;
    // Campaigns survive: a duplicate is still a conflict.
    expect_json(
        app.admin_post(
            &format!("/admin/workspaces/{}/campaigns", t.workspace_id),
            &json!({"campaign_id": "kept-campaign"}),
        )
        .await,
        409,
    )
    .await;

    // The next day the quota is back, after a second restart too.
    app.clock().advance_seconds(86_400);
    let app = app.restart().await;
    expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "c"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["a", "b", "c"]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

/// Every byte under the data directory, file by file.
fn data_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(data_files(&path));
        } else {
            out.push(std::fs::read(&path).expect("data file"));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn api_keys_are_stored_only_as_hashes() {
    let mut app = spawn_app().await;
    let demo_key = app.demo_key().to_string();
    let marker = "workspace-name-marker-7f3a";
    let ws = expect_json(
        app.admin_post("/admin/workspaces", &json!({"name": marker}))
            .await,
        201,
    )
    .await;
    let key = app
        .api_key(ws["id"].as_str().unwrap(), &["sends.id.create"], None)
        .await;
    let key = key["api_key"].as_str().unwrap().to_string();
    app.stop().await;
    let files = match &app.database_url {
        Some(url) => vec![sendid_test_support::pg::dump(url).await],
        None => data_files(&app.data_dir),
    };
    // The scan does see what is stored in the clear…
    assert!(files.iter().any(|f| contains(f, marker.as_bytes())));
    // …and no key is among it.
    for secret in [&key, &demo_key] {
        assert!(
            !files.iter().any(|f| contains(f, secret.as_bytes())),
            "an API key is stored in the clear"
        );
    }
}
