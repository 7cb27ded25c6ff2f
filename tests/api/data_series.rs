//! `GET /sends/data_series` (docs/contract.md §6) through HTTP on a spawned app: Braze's shape,
//! one entry per UTC day oldest first, `sent` and `unique_recipients` from the dispatches, the
//! campaign's channel, 14 days of retention, the sandbox's stats, and the refusals.
use serde_json::{json, Value};

use super::trigger_send::{sender, Sender};
use sendid_test_support::{expect_json, spawn_app, spawn_sandbox, TestApp, ADMIN_TOKEN, NOON};

const DAY: i64 = 86_400;

async fn series(app: &TestApp, s: &Sender, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/sends/data_series?{query}")))
        .bearer_auth(&s.key)
        .send()
        .await
        .expect("request sent")
}

async fn ok_series(app: &TestApp, s: &Sender, send_id: &str, rest: &str) -> Vec<Value> {
    let q = format!("campaign_id={}&send_id={send_id}&{rest}", s.campaign_id);
    let body = expect_json(series(app, s, &q).await, 200).await;
    assert_eq!(body["message"], "success");
    body["data"].as_array().expect("data").clone()
}

fn recipients(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"external_user_id": id}))
            .collect(),
    )
}

const EMAIL_FIELDS: &[&str] = &[
    "sent",
    "opens",
    "unique_opens",
    "clicks",
    "unique_clicks",
    "unsubscribes",
    "bounces",
    "delivered",
    "reported_spam",
];

#[tokio::test]
async fn one_entry_per_utc_day_in_brazes_shape_counting_the_dispatches() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"campaign_id": "news", "audience_size": 40})).await;
    s.create(&app, "weekly").await;
    let send = |ids: &'static [&'static str]| json!({"campaign_id": "news", "send_id": "weekly", "recipients": recipients(ids)});
    // Yesterday: two sends, one user twice. Today: one send and a broadcast.
    app.clock().set_seconds(NOON - DAY);
    s.sent(&app, send(&["a", "b"])).await;
    s.sent(&app, send(&["b", "c", "d"])).await;
    app.clock().set_seconds(NOON);
    s.sent(&app, send(&["a"])).await;
    s.sent(
        &app,
        json!({"campaign_id": "news", "send_id": "weekly", "broadcast": true}),
    )
    .await;
    let data = ok_series(&app, &s, "weekly", "length=3").await;
    let times: Vec<&str> = data.iter().map(|d| d["time"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        ["2026-11-25", "2026-11-26", "2026-11-27"],
        "oldest first, ending today"
    );
    let email = |d: &Value| d["messages"]["email"][0].clone();
    assert_eq!(
        data[0]["messages"].as_object().unwrap().len(),
        1,
        "only the campaign's channel"
    );
    for d in &data {
        let e = email(d);
        for f in EMAIL_FIELDS {
            assert!(e[f].is_u64(), "email.{f} in {e}");
        }
        assert!(e["variation_api_id"].is_string());
        for f in [
            "conversions",
            "conversions_by_send_time",
            "unique_recipients",
        ] {
            assert!(d[f].is_u64(), "{f} in {d}");
        }
        assert!(d["revenue"].is_number());
    }
    assert_eq!(
        (
            email(&data[0])["sent"].as_u64(),
            data[0]["unique_recipients"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        (
            email(&data[1])["sent"].as_u64(),
            data[1]["unique_recipients"].as_u64()
        ),
        (Some(5), Some(4))
    );
    assert_eq!(
        email(&data[2])["sent"],
        41,
        "a broadcast counts the campaign's audience_size"
    );
    assert_eq!(data[2]["unique_recipients"], 41);
    // ending_at: Braze's own example form; 23:59:59 at -05:00 is the next UTC day.
    let data = ok_series(
        &app,
        &s,
        "weekly",
        "length=1&ending_at=2026-11-25T23:59:59-05:00",
    )
    .await;
    assert_eq!(data[0]["time"], "2026-11-26");
    assert_eq!(data[0]["messages"]["email"][0]["sent"], 5);
    let data = ok_series(&app, &s, "weekly", "length=100&ending_at=2026-11-27").await;
    assert_eq!(data.len(), 100);
    assert_eq!(data[99]["time"], "2026-11-27");
}

#[tokio::test]
async fn the_campaigns_channel_keys_messages() {
    let app = spawn_app().await;
    for (channel, fields) in [
        (
            "ios_push",
            &[
                "sent",
                "delivered",
                "direct_opens",
                "total_opens",
                "body_clicks",
                "unique_recipients",
            ][..],
        ),
        (
            "android_push",
            &[
                "sent",
                "direct_opens",
                "total_opens",
                "bounces",
                "body_clicks",
            ][..],
        ),
        (
            "sms",
            &[
                "sent",
                "sent_to_carrier",
                "delivered",
                "rejected",
                "delivery_failed",
                "clicks",
                "opt_out",
                "help",
            ][..],
        ),
        ("webhook", &["sent", "errors"][..]),
    ] {
        let s = sender(&app, json!({"channel": channel})).await;
        s.create(&app, "s").await;
        s.sent(&app, json!({"campaign_id": s.campaign_id, "send_id": "s", "recipients": recipients(&["x", "y"])}))
            .await;
        let data = ok_series(&app, &s, "s", "length=1").await;
        let m = data[0]["messages"].as_object().unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), [channel]);
        let stats = &m[channel][0];
        for f in fields {
            assert!(stats[f].is_number(), "{channel}.{f} in {stats}");
        }
        assert_eq!(stats["sent"], 2);
    }
    let refused = app
        .admin()
        .post(
            &format!(
                "/admin/workspaces/{}/campaigns",
                sender(&app, json!({})).await.workspace_id
            ),
            &json!({"channel": "pigeon"}),
        )
        .await;
    let b = expect_json(refused, 400).await;
    assert!(b["message"].as_str().unwrap().contains("channel"));
}

#[tokio::test]
async fn analytics_are_kept_for_fourteen_days_after_the_send() {
    let app = spawn_app().await;
    let s = sender(&app, json!({})).await;
    s.create(&app, "old").await;
    s.sent(
        &app,
        json!({"campaign_id": s.campaign_id, "send_id": "old", "recipients": recipients(&["u"])}),
    )
    .await;
    app.clock().set_seconds(NOON + 14 * DAY);
    let data = ok_series(&app, &s, "old", "length=15").await;
    assert_eq!(data[0]["time"], "2026-11-27");
    assert_eq!(
        data[0]["messages"]["email"][0]["sent"], 1,
        "14 days after: kept"
    );
    app.clock().set_seconds(NOON + 15 * DAY);
    let data = ok_series(&app, &s, "old", "length=16").await;
    assert_eq!(data[0]["time"], "2026-11-27");
    assert_eq!(
        data[0]["messages"]["email"][0]["sent"], 0,
        "15 days after: gone"
    );
    assert_eq!(data[0]["unique_recipients"], 0);
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"campaign_id": "params"})).await;
    s.create(&app, "p").await;
    let _other = sender(&app, json!({"campaign_id": "not-yours"})).await;
    for (query, names) in [
        ("campaign_id=params&send_id=p", "length is required"),
        ("campaign_id=params&send_id=p&length=0", "length"),
        ("campaign_id=params&send_id=p&length=101", "length"),
        (
            "campaign_id=params&send_id=p&length=ten",
            "length must be a whole number between 1 and 100",
        ),
        (
            "campaign_id=params&send_id=p&length=99999999999999999999",
            "length must be a whole number between 1 and 100",
        ),
        (
            "campaign_id=params&send_id=p&length=3&ending_at=yesterday",
            "ending_at",
        ),
        (
            "campaign_id=params&send_id=p&length=3&ending_at=2026-02-30",
            "ending_at",
        ),
        ("campaign_id=params&length=3", "send_id"),
        ("send_id=p&length=3", "campaign_id"),
        ("campaign_id=nope&send_id=p&length=3", "Invalid campaign_id"),
        (
            "campaign_id=not-yours&send_id=p&length=3",
            "Invalid campaign_id",
        ),
        (
            "campaign_id=params&send_id=never&length=3",
            "/sends/id/create",
        ),
    ] {
        let b = expect_json(series(&app, &s, query).await, 400).await;
        let m = b["message"].as_str().unwrap();
        assert!(
            m.contains(names),
            "{query} → {m:?}, expected it to name {names}"
        );
    }
    let no_key = app
        .client
        .get(app.url("/sends/data_series?campaign_id=params&send_id=p&length=1"))
        .send()
        .await
        .unwrap();
    expect_json(no_key, 401).await;
    let key = app
        .admin()
        .api_key(
            &s.workspace_id,
            &["sends.id.create", "campaigns.trigger.send"],
            None,
        )
        .await;
    let r = app
        .client
        .get(app.url("/sends/data_series?campaign_id=params&send_id=p&length=1"))
        .bearer_auth(key["api_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let b = expect_json(r, 403).await;
    assert!(b["message"].as_str().unwrap().contains("sends.data_series"));
}

#[tokio::test]
async fn the_sandbox_sets_a_sends_stats_and_the_series_reads_them() {
    let app = spawn_sandbox().await;
    let s = sender(&app, json!({"campaign_id": "stats"})).await;
    s.create(&app, "s1").await;
    s.sent(
        &app,
        json!({"campaign_id": "stats", "send_id": "s1", "recipients": recipients(&["u", "v"])}),
    )
    .await;
    let path = format!(
        "/admin/workspaces/{}/campaigns/stats/send-ids/s1/stats",
        s.workspace_id
    );
    let put = |body: Value| {
        let admin = app.admin();
        let path = path.clone();
        async move {
            admin
                .client
                .put(admin.url(&path))
                .bearer_auth(&admin.token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let held = expect_json(
        put(json!({"days": [
            {"date": "2026-11-27", "delivered": 2, "opens": 1, "clicks": 1, "conversions": 1, "revenue": 9.5},
            {"date": "2026-11-26", "bounces": 3},
        ]}))
        .await,
        200,
    )
    .await;
    assert_eq!(held["days"][0]["date"], "2026-11-26", "held oldest first");
    assert_eq!(held["days"][1]["revenue"], 9.5);
    let data = ok_series(&app, &s, "s1", "length=2").await;
    let today = &data[1];
    let e = &today["messages"]["email"][0];
    assert_eq!(
        (
            e["sent"].as_u64(),
            e["delivered"].as_u64(),
            e["opens"].as_u64(),
            e["clicks"].as_u64()
        ),
        (Some(2), Some(2), Some(1), Some(1))
    );
    assert_eq!(
        (today["conversions"].as_u64(), today["revenue"].as_f64()),
        (Some(1), Some(9.5))
    );
    assert_eq!(data[0]["messages"]["email"][0]["bounces"], 3);
    // A PUT replaces: the day not given again counts 0.
    expect_json(
        put(json!({"days": [{"date": "2026-11-27", "opens": 4}]})).await,
        200,
    )
    .await;
    let data = ok_series(&app, &s, "s1", "length=2").await;
    assert_eq!(data[0]["messages"]["email"][0]["bounces"], 0);
    assert_eq!(data[1]["messages"]["email"][0]["opens"], 4);
    for (body, names) in [
        (json!({"days": [{"date": "27/11/2026"}]}), "date"),
        (
            json!({"days": [{"date": "2026-11-27"}, {"date": "2026-11-27"}]}),
            "twice",
        ),
        (
            json!({"days": [{"date": "2026-11-27", "opens": -1}]}),
            "opens",
        ),
        (
            json!({"days": [{"date": "2026-11-27", "views": 1}]}),
            "views",
        ),
        (json!({}), "days"),
    ] {
        let b = expect_json(put(body.clone()).await, 400).await;
        assert!(
            b["message"].as_str().unwrap().contains(names),
            "{body} → {b}"
        );
    }
    let unknown = app
        .admin()
        .client
        .put(app.url(&format!(
            "/admin/workspaces/{}/campaigns/stats/send-ids/never/stats",
            s.workspace_id
        )))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"days": []}))
        .send()
        .await
        .unwrap();
    expect_json(unknown, 404).await;
    // Reset clears dispatches and stats with the rest (the demo workspace comes back with its
    // ids, so its campaign's listing is there to look at).
    let demo_ws = app.demo.as_ref().unwrap().workspace_id.clone();
    let demo_list = format!("/admin/workspaces/{demo_ws}/campaigns/demo-campaign/dispatches");
    let r = super::trigger_send::trigger(
        &app,
        app.demo_key(),
        &json!({"campaign_id": "demo-campaign", "recipients": recipients(&["u"])}),
    )
    .await;
    expect_json(r, 201).await;
    assert_eq!(
        app.admin().fetched(&demo_list).await["dispatches"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    expect_json(app.admin_post("/admin/reset", &json!({})).await, 200).await;
    assert_eq!(
        app.admin().fetched(&demo_list).await["dispatches"],
        json!([])
    );
    let gone = app
        .admin_get(&format!(
            "/admin/workspaces/{}/campaigns/stats/dispatches",
            s.workspace_id
        ))
        .await;
    expect_json(gone, 404).await;
}

#[tokio::test]
async fn without_the_sandbox_the_stats_path_is_404() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"campaign_id": "nostats"})).await;
    s.create(&app, "s").await;
    let r = app
        .admin()
        .client
        .put(app.url(&format!(
            "/admin/workspaces/{}/campaigns/nostats/send-ids/s/stats",
            s.workspace_id
        )))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"days": []}))
        .send()
        .await
        .unwrap();
    let b = expect_json(r, 404).await;
    assert!(b["message"].as_str().unwrap().contains("--sandbox"));
}
