//! `restart()` replays the options of the first start: an app spawned without the admin API
//! comes back without it, a sandbox comes back a sandbox, and both keep their store and clock.
use sendid::clock::Clock;
use sendid_test_support::{expect_json, TestApp, NOON};
use serde_json::json;

#[tokio::test]
async fn an_app_without_the_admin_api_restarts_without_it_on_the_same_store_and_clock() {
    let app = TestApp::builder().no_admin().spawn().await;
    let key = app.demo_key().to_string();
    let body = json!({"campaign_id": app.demo.as_ref().unwrap().campaign_id, "send_id": "kept"});
    expect_json(app.create(&key, &body).await, 200).await;
    app.clock().set_seconds(NOON + 60);
    assert_eq!(app.admin_get("/admin/workspaces").await.status(), 404);

    let app = app.restart().await;
    assert_eq!(app.admin_get("/admin/workspaces").await.status(), 404);
    assert!(app.demo.is_none(), "the same store: no new demo workspace");
    assert_eq!(app.clock().now_seconds(), NOON + 60);
    let repeat = expect_json(app.create(&key, &body).await, 200).await;
    assert_eq!(repeat["send_id"], "kept");
}

#[tokio::test]
async fn a_sandbox_restarts_a_sandbox_with_the_admin_api() {
    let app = TestApp::builder().sandbox().spawn().await;
    expect_json(app.admin_get("/admin/clock").await, 200).await;
    let app = app.restart().await;
    expect_json(app.admin_get("/admin/clock").await, 200).await;
    expect_json(app.admin_get("/admin/workspaces").await, 200).await;
}
