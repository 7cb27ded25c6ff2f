//! The daily quota, the UTC day and the rate-limit headers (docs/contract.md §1, rules 6–8 and "Daily
//! quota and rate-limit headers").
use serde_json::json;

use sendid_test_support::{
    expect_json, header, next_midnight, rate_limit, spawn_app, Tenant, TestApp, NOON,
};

async fn create(app: &TestApp, t: &Tenant, send_id: &str) -> reqwest::Response {
    app.create(
        &t.api_key,
        &json!({"campaign_id": t.campaign_id, "send_id": send_id}),
    )
    .await
}

#[tokio::test]
async fn remaining_counts_down_and_only_new_pairs_count() {
    let app = spawn_app().await;
    let t = app.workspace(3).await;
    let reset = Some(next_midnight(NOON));
    for (send_id, remaining) in [("a", 2), ("a", 2), ("b", 1), ("a", 1), ("c", 0), ("b", 0)] {
        let resp = create(&app, &t, send_id).await;
        assert_eq!(
            rate_limit(&resp),
            (Some(3), Some(remaining), reset),
            "{send_id}"
        );
        assert!(header(&resp, "retry-after").is_none());
        assert_eq!(expect_json(resp, 200).await["send_id"], send_id);
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 3);
}

#[tokio::test]
async fn an_exhausted_quota_is_429_with_retry_after_until_midnight() {
    let app = spawn_app().await;
    let t = app.workspace(2).await;
    expect_json(create(&app, &t, "a").await, 200).await;
    expect_json(create(&app, &t, "b").await, 200).await;
    let reset = next_midnight(NOON);
    for body in [
        json!({"campaign_id": t.campaign_id, "send_id": "c"}),
        json!({"campaign_id": t.campaign_id}),
        json!({"campaign_id": t.campaign_id, "send_id": null}),
    ] {
        let resp = app.create(&t.api_key, &body).await;
        assert_eq!(rate_limit(&resp), (Some(2), Some(0), Some(reset)));
        assert_eq!(header(&resp, "retry-after"), Some("43200"));
        let err = expect_json(resp, 429).await;
        assert!(err["message"].as_str().unwrap().contains("quota"), "{err}");
        assert!(err.get("send_id").is_none());
    }
    // Retry-After follows the clock: seconds until the next 00:00 UTC.
    app.clock().set_seconds(reset - 1);
    let resp = create(&app, &t, "c").await;
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    assert_eq!(rate_limit(&resp).2, Some(reset));
    expect_json(resp, 429).await;
    app.clock().set_seconds(reset - 3_600 - 17);
    let resp = create(&app, &t, "c").await;
    assert_eq!(header(&resp, "retry-after"), Some("3617"));
    expect_json(resp, 429).await;

    assert_eq!(app.used_today(&t.workspace_id).await, 2);
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["a", "b"]
    );
}

#[tokio::test]
async fn an_existing_pair_is_200_when_the_quota_is_exhausted_today_and_later() {
    let app = spawn_app().await;
    let t = app.workspace(1).await;
    expect_json(create(&app, &t, "kept").await, 200).await;
    expect_json(create(&app, &t, "new").await, 429).await;
    let resp = create(&app, &t, "kept").await;
    assert_eq!(rate_limit(&resp).1, Some(0));
    assert!(header(&resp, "retry-after").is_none());
    assert_eq!(
        expect_json(resp, 200).await,
        json!({"message": "success", "send_id": "kept"})
    );

    // Three days later the quota is spent again by another pair; the old pair still answers.
    app.clock().set_seconds(NOON + 3 * 86_400);
    expect_json(create(&app, &t, "later").await, 200).await;
    expect_json(create(&app, &t, "later-2").await, 429).await;
    let resp = create(&app, &t, "kept").await;
    assert_eq!(
        rate_limit(&resp),
        (Some(1), Some(0), Some(next_midnight(NOON + 3 * 86_400)))
    );
    assert_eq!(expect_json(resp, 200).await["send_id"], "kept");
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn the_quota_comes_back_at_midnight_utc() {
    let app = spawn_app().await;
    let t = app.workspace(2).await;
    let midnight = next_midnight(NOON);
    app.clock().set_seconds(midnight - 1);
    expect_json(create(&app, &t, "d1-a").await, 200).await;
    expect_json(create(&app, &t, "d1-b").await, 200).await;
    let resp = create(&app, &t, "d2-a").await;
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    expect_json(resp, 429).await;

    // 00:00:00 UTC belongs to the new day.
    app.clock().set_seconds(midnight);
    let ws = expect_json(
        app.admin_get(&format!("/admin/workspaces/{}", t.workspace_id))
            .await,
        200,
    )
    .await;
    assert_eq!(
        ws["quota"],
        json!({"limit": 2, "used_today": 0, "remaining": 2, "reset": midnight + 86_400})
    );
    // Yesterday's pairs answer 200 without spending today's quota.
    for old in ["d1-a", "d1-b"] {
        let resp = create(&app, &t, old).await;
        assert_eq!(
            rate_limit(&resp),
            (Some(2), Some(2), Some(midnight + 86_400))
        );
        expect_json(resp, 200).await;
    }
    let resp = create(&app, &t, "d2-a").await;
    assert_eq!(rate_limit(&resp).1, Some(1));
    expect_json(resp, 200).await;
    expect_json(create(&app, &t, "d2-b").await, 200).await;
    let resp = create(&app, &t, "d2-c").await;
    assert_eq!(header(&resp, "retry-after"), Some("86400"));
    expect_json(resp, 429).await;
    assert_eq!(app.used_today(&t.workspace_id).await, 2);
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["d1-a", "d1-b", "d2-a", "d2-b"]
    );
}

#[tokio::test]
async fn a_zero_quota_creates_nothing_but_validates_everything() {
    let app = spawn_app().await;
    let t = app.workspace(0).await;
    let resp = create(&app, &t, "a").await;
    assert_eq!(
        rate_limit(&resp),
        (Some(0), Some(0), Some(next_midnight(NOON)))
    );
    expect_json(resp, 429).await;
    let resp = app
        .create(&t.api_key, &json!({"campaign_id": "nope", "send_id": "a"}))
        .await;
    assert_eq!(
        expect_json(resp, 400).await["message"],
        "Invalid campaign_id"
    );
}

#[tokio::test]
async fn workspaces_have_separate_quotas_and_campaigns_share_their_workspace_quota() {
    let app = spawn_app().await;
    let a = app.workspace(2).await;
    let b = app.workspace(1).await;
    app.campaign(&a.workspace_id, "second-campaign-of-a").await;
    expect_json(create(&app, &a, "x").await, 200).await;
    let resp = app
        .create(
            &a.api_key,
            &json!({"campaign_id": "second-campaign-of-a", "send_id": "x"}),
        )
        .await;
    assert_eq!(rate_limit(&resp).1, Some(0));
    expect_json(resp, 200).await;
    expect_json(create(&app, &a, "y").await, 429).await;
    // The same send_id under another campaign is another pair; b's quota is untouched by a.
    let resp = create(&app, &b, "x").await;
    assert_eq!(
        rate_limit(&resp),
        (Some(1), Some(0), Some(next_midnight(NOON)))
    );
    expect_json(resp, 200).await;
    assert_eq!(app.used_today(&a.workspace_id).await, 2);
    assert_eq!(app.used_today(&b.workspace_id).await, 1);
}

#[tokio::test]
async fn the_default_quota_is_100() {
    let app = spawn_app().await;
    let ws = expect_json(
        app.admin_post("/admin/workspaces", &json!({"name": "default"}))
            .await,
        201,
    )
    .await;
    let id = ws["id"].as_str().unwrap();
    let key = app.api_key(id, &["sends.id.create"], None).await;
    app.campaign(id, "default-quota-campaign").await;
    let key = key["api_key"].as_str().unwrap();
    let bodies: Vec<_> = (0..101)
        .map(|i| json!({"campaign_id": "default-quota-campaign", "send_id": format!("s{i}")}))
        .collect();
    let results = futures_util::future::join_all(bodies.iter().map(|b| app.create(key, b))).await;
    let mut ok = 0;
    let mut limited = 0;
    for resp in results {
        assert_eq!(rate_limit(&resp).0, Some(100));
        match resp.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (100, 1));
    assert_eq!(app.used_today(id).await, 100);
}
