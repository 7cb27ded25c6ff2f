//! Admin edits (docs/contract.md §2): PATCH and DELETE of a workspace, DELETE of a campaign, and
//! the 400 that names a field an admin body does not know. Both engines
//! (`SENDID_TEST_ENGINE=postgres`); on PostgreSQL a second instance on the same database
//! refuses a deleted workspace's key within a second.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use sendid_test_support::{expect_json, spawn_app, Engine, TestApp};

async fn new_pair(app: &TestApp, key: &str, campaign_id: &str, send_id: &str) -> u16 {
    app.create(
        key,
        &json!({"campaign_id": campaign_id, "send_id": send_id}),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn patch_changes_name_and_quota_and_units_spent_today_stay_spent() {
    let app = spawn_app().await;
    let admin = app.admin();
    let t = admin.tenant_named("Before", 3, None).await;
    let path = format!("/admin/workspaces/{}", t.workspace_id);
    for s in ["a", "b"] {
        assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, s).await, 200);
    }

    // Lowered below what is spent: nothing is left today, the repeat still answers 200.
    let lowered = expect_json(
        admin.patch(&path, &json!({"daily_send_id_quota": 2})).await,
        200,
    )
    .await;
    assert_eq!(lowered["name"], "Before");
    assert_eq!(lowered["daily_send_id_quota"], 2);
    assert_eq!(lowered["quota"]["used_today"], 2);
    assert_eq!(lowered["quota"]["remaining"], 0);
    assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, "c").await, 429);
    assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, "a").await, 200);

    // Raised: the new quota applies at once, counted against what was spent.
    let raised = expect_json(
        admin
            .patch(&path, &json!({"daily_send_id_quota": 4, "name": "After"}))
            .await,
        200,
    )
    .await;
    assert_eq!(raised["quota"]["remaining"], 2);
    let resp = app
        .create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "c"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "4");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "1");

    // A name alone leaves the quota; an empty body changes nothing.
    let renamed = expect_json(admin.patch(&path, &json!({"name": "Again"})).await, 200).await;
    assert_eq!(renamed["daily_send_id_quota"], 4);
    let same = expect_json(admin.patch(&path, &json!({})).await, 200).await;
    assert_eq!(same["name"], "Again");
    let listed = admin.fetched("/admin/workspaces").await;
    assert!(listed["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == t.workspace_id.as_str() && w["name"] == "Again"));

    // Refusals name the field; nothing changes.
    for (body, field) in [
        (json!({"daily_send_id_quota": -1}), "daily_send_id_quota"),
        (json!({"name": ""}), "name"),
        (json!({"name": 5}), "name"),
    ] {
        let refused = expect_json(admin.patch(&path, &body).await, 400).await;
        assert!(
            refused["message"].as_str().unwrap().contains(field),
            "{refused}"
        );
    }
    let missing = admin
        .patch("/admin/workspaces/nope", &json!({"name": "x"}))
        .await;
    assert_eq!(missing.status(), 404);
    let after = admin.fetched(&path).await;
    assert_eq!(after["name"], "Again");
    assert_eq!(after["daily_send_id_quota"], 4);
}

#[tokio::test]
async fn an_unknown_field_in_any_admin_body_is_a_400_naming_it_and_the_known_ones() {
    let app = spawn_app().await;
    let admin = app.admin();
    let t = admin.tenant_named("Typos", 5, None).await;
    let ws = format!("/admin/workspaces/{}", t.workspace_id);
    let cases: [(String, Value, &str, &[&str]); 3] = [
        (
            "/admin/workspaces".to_string(),
            json!({"name": "q", "daily_quota": 5}),
            "daily_quota",
            &["name", "daily_send_id_quota"],
        ),
        (
            format!("{ws}/campaigns"),
            json!({"campaign_id": "typo-campaign", "nmae": "x"}),
            "nmae",
            &["campaign_id", "name"],
        ),
        (
            format!("{ws}/api-keys"),
            json!({"permissions": ["sends.id.create"], "allowed_ip": ["10.0.0.0/8"]}),
            "allowed_ip",
            &["name", "permissions", "allowed_ips"],
        ),
    ];
    for (path, body, field, known) in &cases {
        let refused = expect_json(admin.post(path, body).await, 400).await;
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains(field), "{path}: {message}");
        for k in *known {
            assert!(message.contains(k), "{path}: {message} lacks {k}");
        }
    }
    let patched = expect_json(admin.patch(&ws, &json!({"daily_quota": 1})).await, 400).await;
    assert!(patched["message"].as_str().unwrap().contains("daily_quota"));

    // Nothing was created or changed.
    let workspaces = admin.fetched("/admin/workspaces").await;
    assert!(!workspaces.to_string().contains("\"q\""), "{workspaces}");
    let campaigns = admin.fetched(&format!("{ws}/campaigns")).await;
    assert_eq!(campaigns["campaigns"].as_array().unwrap().len(), 1);
    let keys = admin.fetched(&format!("{ws}/api-keys")).await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 1);
    assert_eq!(admin.fetched(&ws).await["daily_send_id_quota"], 5);
}

#[tokio::test]
async fn delete_campaign_takes_its_pairs_and_leaves_the_quota_spent() {
    let app = spawn_app().await;
    let admin = app.admin();
    let t = admin.tenant_named("Campaigns", 10, None).await;
    let ws = format!("/admin/workspaces/{}", t.workspace_id);
    let other = admin.campaign(&t.workspace_id, Some("kept")).await;
    for s in ["x", "y"] {
        assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, s).await, 200);
    }
    assert_eq!(new_pair(&app, &t.api_key, &other, "z").await, 200);

    // The campaign must be in the path's workspace.
    let elsewhere = admin.tenant_named("Elsewhere", 10, None).await;
    let wrong = admin
        .delete(&format!(
            "/admin/workspaces/{}/campaigns/{}",
            elsewhere.workspace_id, t.campaign_id
        ))
        .await;
    assert_eq!(wrong.status(), 404);

    let gone = admin
        .delete(&format!("{ws}/campaigns/{}", t.campaign_id))
        .await;
    assert_eq!(gone.status(), 204);
    let again = admin
        .delete(&format!("{ws}/campaigns/{}", t.campaign_id))
        .await;
    assert_eq!(again.status(), 404);
    let refused = expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "x"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(refused["message"], "Invalid campaign_id");
    let listed = admin
        .get(&format!("{ws}/campaigns/{}/send-ids", t.campaign_id))
        .await;
    assert_eq!(listed.status(), 404);
    let campaigns = admin.fetched(&format!("{ws}/campaigns")).await;
    assert_eq!(
        campaigns["campaigns"],
        json!([{"campaign_id": "kept", "name": "kept", "channel": "email", "audience_size": 0}])
    );
    assert_eq!(admin.used_today(&t.workspace_id).await, 3);

    // Created again, the campaign starts empty: its old pairs went with it.
    admin.campaign(&t.workspace_id, Some(&t.campaign_id)).await;
    assert!(admin
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .is_empty());
    assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, "x").await, 200);
    assert_eq!(admin.used_today(&t.workspace_id).await, 4);
    assert_eq!(admin.all_send_ids(&t.workspace_id, &other).await, ["z"]);
}

#[tokio::test]
async fn delete_workspace_takes_its_campaigns_and_keys_and_its_keys_answer_401() {
    let app = spawn_app().await;
    let admin = app.admin();
    let t = admin
        .tenant_named("Doomed", 10, Some("doomed-campaign"))
        .await;
    let kept = admin.tenant_named("Kept", 10, None).await;
    assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, "one").await, 200);

    // A second instance on the same database sees the key, then its deletion within a second.
    let second = match &app.database_url {
        Some(url) => {
            let other = TestApp::builder()
                .engine(Engine::Database(url.clone()))
                .clock(app.clock().clone())
                .spawn()
                .await;
            assert_eq!(
                new_pair(&other, &t.api_key, &t.campaign_id, "one").await,
                200
            );
            Some(other)
        }
        None => None,
    };

    let ws = format!("/admin/workspaces/{}", t.workspace_id);
    assert_eq!(admin.delete(&ws).await.status(), 204);
    let deleted = Instant::now();
    assert_eq!(new_pair(&app, &t.api_key, &t.campaign_id, "two").await, 401);
    if let Some(other) = &second {
        loop {
            let status = new_pair(other, &t.api_key, &t.campaign_id, "one").await;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                deleted.elapsed() < Duration::from_secs(1),
                "the other instance still accepts the key {:?} after the delete",
                deleted.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(admin.get(&ws).await.status(), 404);
    assert_eq!(admin.get(&format!("{ws}/campaigns")).await.status(), 404);
    assert_eq!(admin.get(&format!("{ws}/api-keys")).await.status(), 404);
    assert_eq!(admin.delete(&ws).await.status(), 404);
    let listed = admin.fetched("/admin/workspaces").await;
    assert!(!listed.to_string().contains(&t.workspace_id), "{listed}");

    // Its campaign id is free again, with no pairs; the other workspace is untouched.
    admin
        .campaign(&kept.workspace_id, Some("doomed-campaign"))
        .await;
    assert!(admin
        .all_send_ids(&kept.workspace_id, "doomed-campaign")
        .await
        .is_empty());
    assert_eq!(
        new_pair(&app, &kept.api_key, &kept.campaign_id, "k").await,
        200
    );

    // After a restart the deletion holds.
    if let Some(mut other) = second {
        other.stop().await;
    }
    let app = app.restart().await;
    assert_eq!(
        new_pair(&app, &t.api_key, &t.campaign_id, "three").await,
        401
    );
    assert_eq!(app.admin().get(&ws).await.status(), 404);
}
