//! The sandbox (`--sandbox`, docs/contract.md §3): its clock, fault rules and request journal,
//! through HTTP on a spawned server (on PostgreSQL too, with SENDID_TEST_ENGINE=postgres); and
//! without `--sandbox`, every sandbox path is a 404 saying how to turn it on.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use sendid_test_support::{
    expect_json, header, next_midnight, rate_limit, spawn_app, spawn_sandbox, TestApp, ADMIN_TOKEN,
    NOON,
};

const DAY: i64 = 86_400;

/// Every sandbox call: method and path.
const SANDBOX_CALLS: &[(&str, &str)] = &[
    ("POST", "/admin/reset"),
    ("GET", "/admin/clock"),
    ("PUT", "/admin/clock"),
    ("DELETE", "/admin/clock"),
    ("GET", "/admin/faults"),
    ("POST", "/admin/faults"),
    ("DELETE", "/admin/faults"),
    ("DELETE", "/admin/faults/fault-1"),
    ("GET", "/admin/requests"),
    ("DELETE", "/admin/requests"),
];

async fn admin_call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("admin request sent")
}

async fn add_fault(app: &TestApp, rule: Value) -> Value {
    expect_json(
        admin_call(app, "POST", "/admin/faults", Some(rule)).await,
        201,
    )
    .await
}

async fn faults(app: &TestApp) -> Vec<Value> {
    let list = expect_json(admin_call(app, "GET", "/admin/faults", None).await, 200).await;
    list["faults"].as_array().expect("faults").clone()
}

async fn journal(app: &TestApp, limit: usize) -> Vec<Value> {
    let path = format!("/admin/requests?limit={limit}");
    let list = expect_json(admin_call(app, "GET", &path, None).await, 200).await;
    list["requests"].as_array().expect("requests").clone()
}

async fn set_clock(app: &TestApp, body: Value) -> Value {
    expect_json(
        admin_call(app, "PUT", "/admin/clock", Some(body)).await,
        200,
    )
    .await
}

#[tokio::test]
async fn without_sandbox_every_sandbox_path_is_404_json_saying_how_to_turn_it_on() {
    let app = spawn_app().await;
    for (method, path) in SANDBOX_CALLS {
        let body = (*method == "POST" || *method == "PUT").then(|| json!({}));
        let resp = admin_call(&app, method, path, body).await;
        let what = format!("{method} {path}");
        let body = sendid_test_support::admin::json_body(resp, 404, &what).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("--sandbox"), "{what}: {body}");
        assert!(message.contains("SENDID_SANDBOX"), "{what}: {body}");
    }
    let health = expect_json(
        app.client.get(app.url("/health")).send().await.unwrap(),
        200,
    )
    .await;
    assert!(health.get("sandbox").is_none(), "{health}");
    // Public requests are not journaled, nor faulted: the service is exactly the usual one.
    let tenant = app.workspace(5).await;
    let resp = app
        .create(
            &tenant.api_key,
            &json!({"campaign_id": tenant.campaign_id, "send_id": "s"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn with_sandbox_health_says_so() {
    let app = spawn_sandbox().await;
    let health = expect_json(
        app.client.get(app.url("/health")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(health["message"], "ok");
    assert!(
        health["sandbox"].as_str().unwrap().starts_with("on"),
        "{health}"
    );
}

#[tokio::test]
async fn the_clock_moved_past_midnight_gives_the_quota_back_and_moves_the_reset() {
    let app = spawn_sandbox().await;
    let t = app.workspace(2).await;
    let create = |send_id: &str| {
        let body = json!({"campaign_id": t.campaign_id, "send_id": send_id});
        let key = t.api_key.clone();
        let app = &app;
        async move { app.create(&key, &body).await }
    };
    for id in ["a", "b"] {
        assert_eq!(create(id).await.status(), 200);
    }
    let refused = create("c").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(rate_limit(&refused).2, Some(next_midnight(NOON)));
    assert_eq!(header(&refused, "retry-after"), Some("43200"));

    // Ten seconds before midnight: still the same day, the wait is ten seconds.
    let clock = set_clock(&app, json!({"now": "2026-11-27T23:59:50Z"})).await;
    assert_eq!(clock["now"], "2026-11-27T23:59:50.000Z");
    assert_eq!(clock["offset_seconds"], 43_190);
    let refused = create("c").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after"), Some("10"));
    assert_eq!(rate_limit(&refused).2, Some(next_midnight(NOON)));

    // One minute past midnight, by offset: the quota is back and the reset is a day later.
    set_clock(&app, json!({"offset_seconds": 12 * 3600 + 60})).await;
    let created = create("c").await;
    assert_eq!(created.status(), 200);
    assert_eq!(
        rate_limit(&created),
        (Some(2), Some(1), Some(next_midnight(NOON) + DAY))
    );
    // created_at follows the clock, and so does the admin API's quota view.
    let listed = expect_json(
        app.admin_get(&format!(
            "/admin/workspaces/{}/campaigns/{}/send-ids",
            t.workspace_id, t.campaign_id
        ))
        .await,
        200,
    )
    .await;
    let c = listed["send_ids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["send_id"] == "c")
        .expect("c is listed")
        .clone();
    assert!(
        c["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-28T00:01:00"),
        "{c}"
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);

    // Back to real time (the tests' clock: noon of the first day): that day is spent.
    let clock = expect_json(admin_call(&app, "DELETE", "/admin/clock", None).await, 200).await;
    assert_eq!(clock["offset_seconds"], 0);
    assert_eq!(clock["now"], "2026-11-27T12:00:00.000Z");
    assert_eq!(create("d").await.status(), 429);
    // The clock moves on from where it was set.
    set_clock(&app, json!({"now": "2026-11-28T00:00:00Z"})).await;
    app.clock().advance_seconds(30);
    let clock = expect_json(admin_call(&app, "GET", "/admin/clock", None).await, 200).await;
    assert_eq!(clock["now"], "2026-11-28T00:00:30.000Z");
}

#[tokio::test]
async fn clock_bodies_are_checked() {
    let app = spawn_sandbox().await;
    for (body, field) in [
        (json!({}), "now"),
        (json!({"now": "yesterday"}), "now"),
        (
            json!({"now": "2026-12-01T00:00:00Z", "offset_seconds": 1}),
            "offset_seconds",
        ),
        (json!({"offset_seconds": "1"}), "offset_seconds"),
        (
            json!({"offset_seconds": 10_000_000_000_i64}),
            "offset_seconds",
        ),
        // Found by Schemathesis: its absolute value does not fit an i64.
        (json!({"offset_seconds": i64::MIN}), "offset_seconds"),
        (json!({"now": 5}), "now"),
    ] {
        let resp = admin_call(&app, "PUT", "/admin/clock", Some(body.clone())).await;
        let answer = expect_json(resp, 400).await;
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{body} → {answer}"
        );
    }
}

#[tokio::test]
async fn a_fault_before_the_store_answers_its_status_and_stores_nothing() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    let rule = add_fault(
        &app,
        json!({"match": {"campaign_id": t.campaign_id}, "action": {"status": 503}, "times": 1}),
    )
    .await;
    assert_eq!(rule["id"], "fault-1");
    assert_eq!(rule["when"], "before");
    assert_eq!(rule["remaining"], 1);
    assert_eq!(rule["match"]["campaign_id"], t.campaign_id.as_str());

    let body = json!({"campaign_id": t.campaign_id, "send_id": "before-503"});
    let resp = app.create(&t.api_key, &body).await;
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    assert_eq!(header(&resp, "x-sendid-fault"), Some("fault-1"));
    assert_eq!(rate_limit(&resp).1, Some(5), "nothing was spent");
    let answer = expect_json(resp, 503).await;
    assert!(
        answer["message"].as_str().unwrap().contains("fault-1"),
        "{answer}"
    );
    assert!(app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .is_empty());
    assert_eq!(app.used_today(&t.workspace_id).await, 0);

    // Spent: listed with nothing left, and the next request is answered as usual.
    let listed = faults(&app).await;
    assert_eq!(
        (listed[0]["remaining"].clone(), listed[0]["applied"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(app.create(&t.api_key, &body).await.status(), 200);
    assert_eq!(app.used_today(&t.workspace_id).await, 1);

    // A 429 rule carries Retry-After as given; a 500 none.
    add_fault(
        &app,
        json!({"action": {"status": 429, "retry_after": 7}, "times": 1}),
    )
    .await;
    let resp = app
        .create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), Some("7"));
    add_fault(
        &app,
        json!({"action": {"status": 500, "message": "boom"}, "times": 1}),
    )
    .await;
    let resp = app
        .create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
        .await;
    assert!(header(&resp, "retry-after").is_none());
    assert_eq!(expect_json(resp, 500).await["message"], "boom");
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn a_fault_after_the_commit_stores_and_spends_but_the_answer_is_replaced() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    add_fault(
        &app,
        json!({"action": {"status": 500}, "when": "after", "times": 1}),
    )
    .await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "after-500"});
    let resp = app.create(&t.api_key, &body).await;
    assert_eq!(rate_limit(&resp).1, Some(4), "the unit was spent");
    expect_json(resp, 500).await;
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["after-500"]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
    // The client's repeat of the pair: 200 with it, and no second unit.
    let again = app.create(&t.api_key, &body).await;
    assert_eq!(expect_json(again, 200).await["send_id"], "after-500");
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn a_close_after_the_commit_loses_the_answer_of_a_stored_pair() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    add_fault(
        &app,
        json!({"action": {"close": true}, "when": "after", "times": 1}),
    )
    .await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "lost"});
    let lost = app
        .client
        .post(app.url("/sends/id/create"))
        .bearer_auth(&t.api_key)
        .json(&body)
        .send()
        .await;
    let err = lost.expect_err("no answer: the connection was closed");
    assert!(!err.is_timeout(), "{err}");
    // The pair is listed and spent, the rule is spent.
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["lost"]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
    assert_eq!(faults(&app).await[0]["remaining"], 0);
    // The retry of the same pair: 200, still one unit.
    let again = app.create(&t.api_key, &body).await;
    assert_eq!(expect_json(again, 200).await["send_id"], "lost");
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
    // The journal shows the lost answer: no status, the fault and what it replaced.
    let entries = journal(&app, 10).await;
    let first = entries
        .iter()
        .rev()
        .find(|e| e["send_id"] == "lost")
        .expect("journaled");
    assert_eq!(first["status"], Value::Null, "{first}");
    assert_eq!(first["fault"]["when"], "after");
    assert_eq!(first["fault"]["action"], "close");
    assert_eq!(first["fault"]["original_status"], 200);
    assert_eq!(entries[0]["status"], 200, "the retry, newest first");
}

#[tokio::test]
async fn a_close_before_the_store_loses_the_request_and_stores_nothing() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    add_fault(&app, json!({"action": {"close": true}, "times": 1})).await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "never"});
    let resp = app
        .client
        .post(app.url("/sends/id/create"))
        .bearer_auth(&t.api_key)
        .json(&body)
        .send()
        .await;
    assert!(resp.is_err(), "no answer: {:?}", resp.map(|r| r.status()));
    assert!(app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .is_empty());
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
    // Other connections never noticed; the next request is answered.
    assert_eq!(app.create(&t.api_key, &body).await.status(), 200);
}

#[tokio::test]
async fn a_delay_holds_the_answer_then_answers_as_usual() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    for when in ["before", "after"] {
        add_fault(
            &app,
            json!({"action": {"delay_ms": 400}, "when": when, "times": 1}),
        )
        .await;
        let started = Instant::now();
        let body = json!({"campaign_id": t.campaign_id, "send_id": format!("slow-{when}")});
        let resp = app.create(&t.api_key, &body).await;
        assert!(started.elapsed() >= Duration::from_millis(400), "{when}");
        assert_eq!(
            expect_json(resp, 200).await["send_id"],
            format!("slow-{when}")
        );
    }
    // A client that gives up first gets no answer; the pair is still created.
    add_fault(
        &app,
        json!({"action": {"delay_ms": 2000}, "when": "after", "times": 1}),
    )
    .await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "gave-up"});
    let resp = app
        .client
        .post(app.url("/sends/id/create"))
        .bearer_auth(&t.api_key)
        .timeout(Duration::from_millis(300))
        .json(&body)
        .send()
        .await;
    assert!(resp.is_err_and(|e| e.is_timeout()));
    assert!(app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .contains(&"gave-up".to_string()));
    assert_eq!(app.used_today(&t.workspace_id).await, 3);
}

/// Issue 28: a client that gave up at 500 ms on a 1,500 ms delay got nothing; the journal keeps
/// the status sendid answered and says that nobody received it.
#[tokio::test]
async fn the_journal_tells_an_answer_delivered_from_one_whose_client_had_gone() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    let delivered = json!({"campaign_id": t.campaign_id, "send_id": "waited"});
    assert_eq!(app.create(&t.api_key, &delivered).await.status(), 200);
    add_fault(&app, json!({"action": {"delay_ms": 1500}, "times": 1})).await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "gave-up"});
    let resp = app
        .client
        .post(app.url("/sends/id/create"))
        .bearer_auth(&t.api_key)
        .timeout(Duration::from_millis(500))
        .json(&body)
        .send()
        .await;
    assert!(resp.is_err_and(|e| e.is_timeout()));
    // The delayed request is journaled once its answer is ready, 1.5 s after it came.
    let deadline = Instant::now() + Duration::from_secs(10);
    let gone = loop {
        let entries = journal(&app, 10).await;
        if let Some(e) = entries.iter().find(|e| e["send_id"] == "gave-up") {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "never journaled: {entries:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(gone["status"], 200, "what sendid answered: {gone}");
    assert_eq!(gone["client_gone"], true, "nobody received it: {gone}");
    assert_eq!(gone["fault"]["action"], "delay 1500 ms", "{gone}");
    let entries = journal(&app, 10).await;
    let waited = entries.iter().find(|e| e["send_id"] == "waited").unwrap();
    assert_eq!(waited["status"], 200);
    assert_eq!(waited["client_gone"], false, "{waited}");
}

#[tokio::test]
async fn rules_match_by_workspace_campaign_key_and_send_id_prefix() {
    let app = spawn_sandbox().await;
    let a = app.workspace(50).await;
    let b = app.workspace(50).await;
    let hit = |t: &sendid_test_support::Tenant, send_id: Option<&str>| {
        let body = match send_id {
            Some(s) => json!({"campaign_id": t.campaign_id, "send_id": s}),
            None => json!({"campaign_id": t.campaign_id}),
        };
        let (app, key) = (&app, t.api_key.clone());
        async move { app.create(&key, &body).await.status().as_u16() }
    };
    for matcher in [
        json!({"workspace_id": a.workspace_id}),
        json!({"campaign_id": a.campaign_id}),
        json!({"key_id": a.key_id}),
    ] {
        let rule = add_fault(&app, json!({"match": matcher, "action": {"status": 502}})).await;
        assert_eq!(hit(&b, None).await, 200, "{matcher}");
        assert_eq!(hit(&a, None).await, 502, "{matcher}");
        let path = format!("/admin/faults/{}", rule["id"].as_str().unwrap());
        assert_eq!(admin_call(&app, "DELETE", &path, None).await.status(), 204);
        assert_eq!(admin_call(&app, "DELETE", &path, None).await.status(), 404);
    }
    add_fault(
        &app,
        json!({"match": {"send_id_prefix": "order-"}, "action": {"status": 504}}),
    )
    .await;
    assert_eq!(hit(&a, Some("order-1")).await, 504);
    assert_eq!(hit(&a, Some("invoice-1")).await, 200);
    assert_eq!(
        hit(&a, None).await,
        200,
        "a generated send_id never matches a prefix"
    );
    // DELETE /admin/faults removes them all.
    assert_eq!(
        admin_call(&app, "DELETE", "/admin/faults", None)
            .await
            .status(),
        204
    );
    assert!(faults(&app).await.is_empty());
    assert_eq!(hit(&a, Some("order-2")).await, 200);
}

#[tokio::test]
async fn a_seeded_probability_gives_the_same_pattern_every_time() {
    let app = spawn_sandbox().await;
    let t = app.workspace(100).await;
    let mut patterns = Vec::new();
    for _ in 0..2 {
        let rule = json!({"action": {"status": 503}, "probability": 0.5, "seed": 2026});
        let added = add_fault(&app, rule).await;
        assert_eq!(added["seed"], 2026);
        assert_eq!(added["remaining"], Value::Null);
        let mut pattern = String::new();
        for i in 0..24 {
            let body = json!({"campaign_id": t.campaign_id, "send_id": format!("p-{i}")});
            let status = app.create(&t.api_key, &body).await.status();
            pattern.push(if status == 503 { 'F' } else { '.' });
        }
        let applied = faults(&app).await[0]["applied"].as_u64().unwrap();
        assert_eq!(applied as usize, pattern.matches('F').count());
        admin_call(&app, "DELETE", "/admin/faults", None).await;
        patterns.push(pattern);
    }
    assert_eq!(patterns[0], patterns[1]);
    assert!(
        patterns[0].contains('F') && patterns[0].contains('.'),
        "{}",
        patterns[0]
    );
}

#[tokio::test]
async fn fault_bodies_are_checked_naming_the_field() {
    let app = spawn_sandbox().await;
    for (rule, field) in [
        (json!({}), "action"),
        (json!({"action": {}}), "action"),
        (json!({"action": {"status": 200}}), "action.status"),
        (json!({"action": {"status": 503, "close": true}}), "close"),
        (json!({"action": {"delay_ms": 60_000}}), "delay_ms"),
        (json!({"action": {"status": 503}, "times": 0}), "times"),
        (
            json!({"action": {"status": 503}, "probability": 2}),
            "probability",
        ),
        (json!({"action": {"status": 503}, "when": "during"}), "when"),
        (json!({"action": {"status": "503"}}), "status"),
        (
            json!({"action": {"status": 503}, "match": {"campaign": "x"}}),
            "campaign",
        ),
    ] {
        let resp = admin_call(&app, "POST", "/admin/faults", Some(rule.clone())).await;
        let answer = expect_json(resp, 400).await;
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{rule} → {answer}"
        );
    }
    // An unknown field inside match or action is named with the known ones, as at the top.
    let rule = json!({"action": {"status": 503, "retry": 2}, "match": {}});
    let resp = admin_call(&app, "POST", "/admin/faults", Some(rule)).await;
    let message = expect_json(resp, 400).await["message"].to_string();
    for named in [
        "action.retry",
        "action.status",
        "action.retry_after",
        "action.close",
    ] {
        assert!(message.contains(named), "{named} not in {message}");
    }
    let rule = json!({"action": {"status": 503}, "match": {"campaign": "x"}});
    let resp = admin_call(&app, "POST", "/admin/faults", Some(rule)).await;
    let message = expect_json(resp, 400).await["message"].to_string();
    assert!(message.contains("match.campaign_id"), "{message}");
    assert!(faults(&app).await.is_empty());
}

#[tokio::test]
async fn the_journal_shows_requests_newest_first_with_the_key_as_its_key_id() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    app.create(
        &t.api_key,
        &json!({"campaign_id": t.campaign_id, "send_id": "j-1"}),
    )
    .await;
    app.create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
        .await;
    app.create(
        "not-a-key-0123456789",
        &json!({"campaign_id": t.campaign_id}),
    )
    .await;
    let entries = journal(&app, 100).await;
    assert_eq!(
        entries.len(),
        3,
        "admin calls are not journaled: {entries:?}"
    );
    let (unknown, generated, first) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(first["send_id"], "j-1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/sends/id/create");
    assert_eq!(first["key_id"], t.key_id.as_str());
    assert_eq!(
        first["body"],
        json!({"campaign_id": t.campaign_id, "send_id": "j-1"})
    );
    assert_eq!(first["at"], "2026-11-27T12:00:00.000Z");
    assert_eq!(first["fault"], Value::Null);
    assert_eq!(
        first["headers"]["authorization"],
        format!("Bearer key_id:{}", t.key_id)
    );
    // A generated send_id is journaled as answered.
    assert!(generated["send_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(unknown["status"], 401);
    assert_eq!(unknown["key_id"], Value::Null);
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&t.api_key), "the key is never shown");
    assert!(
        !text.contains("not-a-key-0123456789"),
        "nor any bearer token"
    );
    // limit, then DELETE clears it.
    assert_eq!(journal(&app, 1).await[0], entries[0]);
    assert_eq!(
        admin_call(&app, "DELETE", "/admin/requests", None)
            .await
            .status(),
        204
    );
    assert!(journal(&app, 100).await.is_empty());
    let resp = admin_call(&app, "GET", "/admin/requests?limit=0", None).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_journal_stays_within_its_bound() {
    let app = spawn_sandbox().await;
    // Refused requests are journaled too, and cost no store write: cheap to send many.
    let total = sendid::sandbox::journal::JOURNAL_CAPACITY + 25;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (client, url) = (app.client.clone(), app.url("/sends/id/create"));
        tasks.push(tokio::spawn(async move {
            for i in (worker..total).step_by(8) {
                let resp = client
                    .post(&url)
                    .bearer_auth("no-such-key")
                    .header("x-seq", i.to_string())
                    .json(&json!({"campaign_id": "c"}))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(resp.status(), 401);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let marker = app
        .client
        .post(app.url("/sends/id/create"))
        .header("x-seq", "last")
        .send()
        .await
        .unwrap();
    assert_eq!(marker.status(), 401);
    let entries = journal(&app, 1000).await;
    assert_eq!(entries.len(), sendid::sandbox::journal::JOURNAL_CAPACITY);
    assert_eq!(entries[0]["headers"]["x-seq"], "last");
    assert_eq!(
        entries[0]["body"],
        Value::Null,
        "a refused request's body is not read"
    );
}

#[tokio::test]
async fn reset_brings_back_the_demo_workspace_with_its_key_and_clears_the_rest() {
    let app = spawn_sandbox().await;
    let demo = app.demo.clone().expect("a new store has a demo workspace");
    let demo_pair = json!({"campaign_id": demo.campaign_id, "send_id": "before-reset"});
    assert_eq!(app.create(&demo.api_key, &demo_pair).await.status(), 200);
    let t = app.workspace(5).await;
    let body = json!({"campaign_id": t.campaign_id, "send_id": "x"});
    assert_eq!(app.create(&t.api_key, &body).await.status(), 200);
    add_fault(
        &app,
        json!({"action": {"status": 503}, "match": {"campaign_id": "nope"}}),
    )
    .await;
    set_clock(&app, json!({"offset_seconds": 3600})).await;

    // Restarted first: the reset restores the demo workspace as found at this start, too.
    let app = app.restart().await;
    add_fault(
        &app,
        json!({"action": {"status": 503}, "match": {"campaign_id": "nope"}}),
    )
    .await;
    set_clock(&app, json!({"offset_seconds": 3600})).await;
    let done = expect_json(admin_call(&app, "POST", "/admin/reset", None).await, 200).await;
    assert_eq!(
        done["demo_workspace_id"],
        demo.workspace_id.as_str(),
        "{done}"
    );
    assert_eq!(
        done["demo_api_key"],
        Value::Null,
        "the demo key stays what it was"
    );

    // The other workspace and its key are gone; the demo key works, and its pair is new again.
    let gone = app
        .admin_get(&format!("/admin/workspaces/{}", t.workspace_id))
        .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(app.create(&t.api_key, &body).await.status(), 401);
    assert_eq!(app.used_today(&demo.workspace_id).await, 0);
    let again = app.create(&demo.api_key, &demo_pair).await;
    assert_eq!(
        rate_limit(&again).1,
        Some(99),
        "a new pair again: one unit of a fresh quota"
    );
    let listed = expect_json(app.admin_get("/admin/workspaces").await, 200).await;
    assert_eq!(
        listed["workspaces"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    // The sandbox's own state is cleared: no rules, the clock at real time, the journal anew;
    // rule ids start again, as the docs show them.
    assert!(faults(&app).await.is_empty());
    let first = add_fault(
        &app,
        json!({"action": {"status": 503}, "match": {"campaign_id": "nope"}}),
    )
    .await;
    assert_eq!(first["id"], "fault-1", "{first}");
    admin_call(&app, "DELETE", "/admin/faults", None).await;
    let clock = expect_json(admin_call(&app, "GET", "/admin/clock", None).await, 200).await;
    assert_eq!(clock["offset_seconds"], 0);
    let entries = journal(&app, 100).await;
    assert_eq!(
        entries.len(),
        2,
        "only the requests since the reset: {entries:?}"
    );
}

#[tokio::test]
async fn a_rule_without_match_faults_any_public_request_refused_ones_too() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    // A campaign rule cannot match a request without a key: it is left for later.
    add_fault(
        &app,
        json!({"match": {"campaign_id": t.campaign_id}, "action": {"status": 500}, "times": 1}),
    )
    .await;
    add_fault(&app, json!({"action": {"status": 503}, "times": 3})).await;
    let body = json!({"campaign_id": t.campaign_id});

    // Refused before the handler (an unknown key, no key, another path): faulted all the same.
    let resp = app.create("not-a-key-of-this-store", &body).await;
    assert_eq!(header(&resp, "x-sendid-fault"), Some("fault-2"));
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    expect_json(resp, 503).await;
    let resp = app
        .client
        .post(app.url("/sends/id/create"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "x-sendid-fault"), Some("fault-2"));
    let resp = app
        .client
        .get(app.url("/users/track"))
        .send()
        .await
        .unwrap();
    expect_json(resp, 503).await;

    // Spent: refusals are refusals again; the campaign rule still waits for its request.
    let resp = app.create("not-a-key-of-this-store", &body).await;
    expect_json(resp, 401).await;
    let resp = app.create(&t.api_key, &body).await;
    assert_eq!(header(&resp, "x-sendid-fault"), Some("fault-1"));
    expect_json(resp, 500).await;
    assert_eq!(
        app.used_today(&t.workspace_id).await,
        0,
        "nothing was spent"
    );

    let entries = journal(&app, 10).await;
    let faulted: Vec<_> = entries
        .iter()
        .filter_map(|e| e["fault"]["id"].as_str())
        .collect();
    assert_eq!(faulted, ["fault-1", "fault-2", "fault-2", "fault-2"]);
    // Newest first: the journal keeps what each faulted request would have got.
    assert_eq!(entries[2]["path"], "/users/track");
    assert_eq!(
        entries[2]["fault"]["original_status"], 404,
        "{:?}",
        entries[2]
    );
    assert_eq!(
        entries[3]["fault"]["original_status"], 401,
        "{:?}",
        entries[3]
    );
}

/// Issue 28: every admin 400 names the parameter or field and what it takes, in the house's
/// words (not poem-openapi's `verification failed. minimum(1, exclusive: false)`), with the
/// real bounds: what is refused just past them is taken at them.
#[tokio::test]
async fn every_admin_400_names_the_parameter_and_its_range() {
    let app = spawn_sandbox().await;
    let t = app.workspace(5).await;
    let (w, c) = (&t.workspace_id, &t.campaign_id);
    let limit = "limit must be a whole number from 1 to 1000 (default 100)";
    for path in [
        "/admin/workspaces".to_string(),
        format!("/admin/workspaces/{w}/campaigns"),
        format!("/admin/workspaces/{w}/api-keys"),
        format!("/admin/workspaces/{w}/campaigns/{c}/send-ids"),
        "/admin/requests".to_string(),
    ] {
        for bad in ["0", "1001", "-1", "abc", ""] {
            let resp = admin_call(&app, "GET", &format!("{path}?limit={bad}"), None).await;
            let err = expect_json(resp, 400).await;
            assert_eq!(err["message"], limit, "{path}?limit={bad}");
        }
        for good in ["1", "1000"] {
            let resp = admin_call(&app, "GET", &format!("{path}?limit={good}"), None).await;
            assert_eq!(resp.status(), 200, "{path}?limit={good}");
        }
    }
    let refused = |method: &'static str, path: String, body: Value, message: &'static str| {
        let app = &app;
        async move {
            let resp = admin_call(app, method, &path, Some(body.clone())).await;
            let err = expect_json(resp, 400).await;
            assert_eq!(err["message"], message, "{method} {path} {body}");
        }
    };
    let status = "action.status must be a whole number from 400 to 599";
    for bad in [
        json!("503"),
        json!(200),
        json!(600),
        json!(-1),
        json!(503.5),
    ] {
        refused(
            "POST",
            "/admin/faults".into(),
            json!({"action": {"status": bad}}),
            status,
        )
        .await;
    }
    let delay = "action.delay_ms must be a whole number from 0 to 30000";
    for bad in [json!(30_001), json!("5"), json!(-1)] {
        refused(
            "POST",
            "/admin/faults".into(),
            json!({"action": {"delay_ms": bad}}),
            delay,
        )
        .await;
    }
    let times = "times must be a whole number of 1 or more";
    for bad in [json!(0), json!("2")] {
        let rule = json!({"action": {"status": 503}, "times": bad});
        refused("POST", "/admin/faults".into(), rule, times).await;
    }
    let probability = "probability must be a number from 0 to 1";
    for bad in [json!(1.5), json!(-0.1), json!("0.5")] {
        let rule = json!({"action": {"status": 503}, "probability": bad});
        refused("POST", "/admin/faults".into(), rule, probability).await;
    }
    let offset = "offset_seconds must be a whole number from -3162240000 to 3162240000";
    for bad in [json!(3_162_240_001i64), json!("60"), json!(1.5)] {
        refused(
            "PUT",
            "/admin/clock".into(),
            json!({"offset_seconds": bad}),
            offset,
        )
        .await;
    }
    let quota = "daily_send_id_quota must be a whole number of 0 or more";
    for bad in [json!(-3), json!("3")] {
        let body = json!({"name": "q", "daily_send_id_quota": bad});
        refused("POST", "/admin/workspaces".into(), body, quota).await;
    }
    let name = "name must be a string of 1 to 200 characters";
    for bad in [json!(""), json!("x".repeat(201)), json!(7)] {
        refused(
            "POST",
            "/admin/workspaces".into(),
            json!({"name": bad}),
            name,
        )
        .await;
    }
    let campaign = "campaign_id must be a string of 1 to 128 printable ASCII characters";
    for bad in [json!(""), json!("é"), json!("c".repeat(129))] {
        let path = format!("/admin/workspaces/{w}/campaigns");
        refused("POST", path, json!({"campaign_id": bad}), campaign).await;
    }
    // At the bounds, taken.
    for rule in [
        json!({"action": {"status": 400}, "match": {"campaign_id": "none"}}),
        json!({"action": {"status": 599}, "match": {"campaign_id": "none"}}),
        json!({"action": {"delay_ms": 30_000}, "match": {"campaign_id": "none"}}),
        json!({"action": {"status": 503}, "times": 1, "match": {"campaign_id": "none"}}),
        json!({"action": {"status": 503}, "probability": 1, "match": {"campaign_id": "none"}}),
    ] {
        add_fault(&app, rule).await;
    }
    set_clock(&app, json!({"offset_seconds": 3_162_240_000i64})).await;
}
