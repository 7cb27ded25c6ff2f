//! "Under any concurrency the quota is never over-spent" (docs/contract.md §1).
use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use serde_json::{json, Value};

use sendid_test_support::{expect_json, rate_limit, spawn_app};

#[tokio::test]
async fn simultaneous_new_pairs_create_exactly_what_is_left() {
    let app = spawn_app().await;
    let t = app.workspace(30).await;
    // Spend 10 of 30 under another campaign, so 20 are left.
    app.campaign(&t.workspace_id, "warm-up").await;
    for i in 0..10 {
        expect_json(
            app.create(
                &t.api_key,
                &json!({"campaign_id": "warm-up", "send_id": format!("w{i}")}),
            )
            .await,
            200,
        )
        .await;
    }
    let requests = (0..200).map(|i| {
        let body = if i % 2 == 0 {
            json!({"campaign_id": t.campaign_id, "send_id": format!("c{i}")})
        } else {
            json!({"campaign_id": t.campaign_id})
        };
        let app = &app;
        let key = t.api_key.clone();
        async move {
            let resp = app.create(&key, &body).await;
            let status = resp.status().as_u16();
            let remaining = rate_limit(&resp).1;
            let body: Value = resp.json().await.expect("JSON");
            (status, remaining, body)
        }
    });
    let results = join_all(requests).await;
    let mut counts: HashMap<u16, usize> = HashMap::new();
    let mut created = HashSet::new();
    let mut remainings = HashSet::new();
    for (status, remaining, body) in results {
        *counts.entry(status).or_default() += 1;
        match status {
            200 => {
                assert!(created.insert(body["send_id"].as_str().unwrap().to_string()));
                remainings.insert(remaining.expect("remaining"));
            }
            429 => assert_eq!(remaining, Some(0)),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(counts.get(&200), Some(&20), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&180), "{counts:?}");
    // Each success saw a different count of what was left after it.
    assert_eq!(remainings, (0..20).collect());
    let listed: HashSet<String> = app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .into_iter()
        .collect();
    assert_eq!(listed.len(), 20);
    assert_eq!(listed, created);
    assert_eq!(app.used_today(&t.workspace_id).await, 30);
}

#[tokio::test]
async fn simultaneous_requests_for_one_new_pair_create_it_once() {
    let app = spawn_app().await;
    let t = app.workspace(5).await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "the-one"});
    let results = join_all((0..64).map(|_| async {
        let resp = app.create(&t.api_key, &body).await;
        let status = resp.status().as_u16();
        let remaining = rate_limit(&resp).1;
        (status, remaining, resp.json::<Value>().await.expect("JSON"))
    }))
    .await;
    for (status, remaining, body) in results {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"message": "success", "send_id": "the-one"}));
        assert_eq!(remaining, Some(4));
    }
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["the-one"]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn simultaneous_requests_for_one_pair_with_one_unit_left_all_succeed() {
    let app = spawn_app().await;
    let t = app.workspace(1).await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "last"});
    let other = json!({"campaign_id": t.campaign_id, "send_id": "other"});
    // 32 for the same pair race 32 for another: exactly one of the two pairs gets the unit,
    // and every request for that pair is answered 200.
    let results = join_all((0..64).map(|i| {
        let body = if i % 2 == 0 { &body } else { &other };
        let app = &app;
        let key = &t.api_key;
        async move {
            let resp = app.create(key, body).await;
            (i % 2, resp.status().as_u16())
        }
    }))
    .await;
    let listed = app.all_send_ids(&t.workspace_id, &t.campaign_id).await;
    assert_eq!(listed.len(), 1);
    let winner = if listed[0] == "last" { 0 } else { 1 };
    for (side, status) in results {
        let expected = if side == winner { 200 } else { 429 };
        assert_eq!(status, expected);
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}
