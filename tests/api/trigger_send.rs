//! `POST /campaigns/trigger/send` (docs/contract.md §6) through HTTP on a spawned app, on sled
//! or, with SENDID_TEST_ENGINE=postgres, on PostgreSQL: the order of decisions, each call a new
//! dispatch, a broadcast's generated send ID, and nothing recorded for a refused body.
use serde_json::{json, Value};

use sendid_test_support::{assert_no_rate_limit_headers, expect_json, header, spawn_app, TestApp};

pub const ALL: &[&str] = &[
    "sends.id.create",
    "campaigns.trigger.send",
    "sends.data_series",
];

/// A workspace, a campaign (with `extra` fields such as `channel`, `audience_size`) and a key
/// with every permission.
pub struct Sender {
    pub workspace_id: String,
    pub campaign_id: String,
    pub key: String,
}

pub async fn sender(app: &TestApp, campaign: Value) -> Sender {
    let admin = app.admin();
    let workspace_id = admin.create_workspace("lifecycle", 100).await;
    let c = admin
        .created(
            &format!("/admin/workspaces/{workspace_id}/campaigns"),
            &campaign,
        )
        .await;
    let key = admin.api_key(&workspace_id, ALL, None).await;
    Sender {
        workspace_id,
        campaign_id: c["campaign_id"].as_str().unwrap().to_string(),
        key: key["api_key"].as_str().unwrap().to_string(),
    }
}

impl Sender {
    pub async fn create(&self, app: &TestApp, send_id: &str) {
        let r = app
            .create(
                &self.key,
                &json!({"campaign_id": self.campaign_id, "send_id": send_id}),
            )
            .await;
        expect_json(r, 200).await;
    }

    pub async fn send(&self, app: &TestApp, body: Value) -> reqwest::Response {
        trigger(app, &self.key, &body).await
    }

    /// A send that must answer 201; its body.
    pub async fn sent(&self, app: &TestApp, body: Value) -> Value {
        expect_json(self.send(app, body).await, 201).await
    }

    pub async fn dispatches(&self, app: &TestApp, query: &str) -> Value {
        app.admin()
            .fetched(&format!(
                "/admin/workspaces/{}/campaigns/{}/dispatches{query}",
                self.workspace_id, self.campaign_id
            ))
            .await
    }
}

pub async fn trigger(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/campaigns/trigger/send"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn users(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"external_user_id": id}))
            .collect(),
    )
}

#[tokio::test]
async fn trigger_a_created_send_id_each_call_a_new_durable_dispatch() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"campaign_id": "welcome"})).await;
    s.create(&app, "order-17").await;
    let body = json!({
        "campaign_id": "welcome",
        "send_id": "order-17",
        "trigger_properties": {"coupon": "SPRING10"},
        "recipients": [
            {"external_user_id": "u-1", "trigger_properties": {"n": 1}},
            {"user_alias": {"alias_name": "ann", "alias_label": "crm"}},
            {"email": "Bob@Example.com", "prioritization": ["identified", "most_recently_updated"]},
        ],
    });
    let r = s.send(&app, body.clone()).await;
    assert_no_rate_limit_headers(&r);
    let first = expect_json(r, 201).await;
    assert_eq!(first["message"], "success");
    assert_eq!(first["send_id"], "order-17");
    let id = first["dispatch_id"].as_str().unwrap();
    assert!(!id.is_empty());
    let second = s.sent(&app, body).await;
    assert_ne!(
        second["dispatch_id"], first["dispatch_id"],
        "sends are not idempotent"
    );

    let listed = s.dispatches(&app, "").await;
    let ds = listed["dispatches"].as_array().unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(ds[0]["dispatch_id"], first["dispatch_id"]);
    assert_eq!(ds[0]["send_id"], "order-17");
    assert_eq!(ds[0]["sent"], 3);
    assert_eq!(ds[0]["broadcast"], false);
    let r = &ds[0]["recipients"];
    assert_eq!(r[0]["external_user_id"], "u-1");
    assert_eq!(r[0]["trigger_properties"]["n"], 1);
    assert_eq!(r[1]["user_alias"]["alias_label"], "crm");
    assert_eq!(r[2]["email"], "Bob@Example.com");
    assert_eq!(r[2]["prioritization"][1], "most_recently_updated");

    // Durable: a restart still lists both.
    let app = app.restart().await;
    let listed = s.dispatches(&app, "").await;
    assert_eq!(listed["dispatches"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_listing_filters_by_send_id_and_pages() {
    let app = spawn_app().await;
    let s = sender(&app, json!({})).await;
    s.create(&app, "a").await;
    s.create(&app, "b").await;
    let c = s.campaign_id.clone();
    let mut ids = Vec::new();
    for send_id in ["a", "b", "a", "a"] {
        let d = s
            .sent(
                &app,
                json!({"campaign_id": c, "send_id": send_id, "recipients": users(&["u"])}),
            )
            .await;
        ids.push(d["dispatch_id"].as_str().unwrap().to_string());
    }
    let only_a = s.dispatches(&app, "?send_id=a").await;
    let got: Vec<&str> = only_a["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dispatch_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[2].as_str(), ids[3].as_str()]);
    for query in ["", "&send_id=a"] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = format!("?limit=1{query}");
            if let Some(a) = &after {
                q.push_str(&format!("&after={a}"));
            }
            let page = s.dispatches(&app, &q).await;
            for d in page["dispatches"].as_array().unwrap() {
                seen.push(d["dispatch_id"].as_str().unwrap().to_string());
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        let want: Vec<String> = if query.is_empty() {
            ids.clone()
        } else {
            vec![ids[0].clone(), ids[2].clone(), ids[3].clone()]
        };
        assert_eq!(seen, want, "pages of 1 {query}");
    }
    let bad = app
        .admin_get(&format!(
            "/admin/workspaces/{}/campaigns/{c}/dispatches?after=x",
            s.workspace_id
        ))
        .await;
    expect_json(bad, 400).await;
    let other = app
        .admin_get(&format!(
            "/admin/workspaces/{}/campaigns/nope/dispatches",
            s.workspace_id
        ))
        .await;
    expect_json(other, 404).await;
}

#[tokio::test]
async fn a_broadcast_without_send_id_generates_one_that_becomes_a_send_id_of_the_campaign() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"audience_size": 1200})).await;
    let c = s.campaign_id.clone();
    let before = app.used_today(&s.workspace_id).await;
    let d = s
        .sent(&app, json!({"campaign_id": c, "broadcast": true}))
        .await;
    let generated = d["send_id"]
        .as_str()
        .expect("a generated send_id")
        .to_string();
    assert!(generated.len() <= 64 && generated.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    // It is a send ID of the campaign now: usable in a send, and create finds it (no quota).
    s.sent(
        &app,
        json!({"campaign_id": c, "send_id": generated, "recipients": users(&["u"])}),
    )
    .await;
    let again = app
        .create(&s.key, &json!({"campaign_id": c, "send_id": generated}))
        .await;
    assert_eq!(expect_json(again, 200).await["send_id"], generated.as_str());
    assert_eq!(
        app.used_today(&s.workspace_id).await,
        before,
        "no quota spent"
    );
    let listed = s.dispatches(&app, &format!("?send_id={generated}")).await;
    let ds = listed["dispatches"].as_array().unwrap();
    assert_eq!(
        (ds[0]["sent"].as_u64(), ds[0]["send_id_generated"].as_bool()),
        (Some(1200), Some(true))
    );
    assert_eq!(ds[0]["recipients"], json!([]));
    // An audience send to recipients without a send_id also gets one; a plain one does not.
    let aud = s
        .sent(
            &app,
            json!({"campaign_id": c, "audience": {"AND": []}, "recipients": users(&["u"])}),
        )
        .await;
    assert!(aud["send_id"].is_string());
    let plain = s
        .sent(&app, json!({"campaign_id": c, "recipients": users(&["u"])}))
        .await;
    assert!(plain.get("send_id").is_none(), "{plain}");
}

/// Every refusal in §6's order, each a JSON 400 (or 401, 403, 415) naming its field, and
/// none of them records anything.
#[tokio::test]
async fn refusals_come_in_the_contract_order_and_record_nothing() {
    let app = spawn_app().await;
    let s = sender(&app, json!({"campaign_id": "refusals"})).await;
    s.create(&app, "made").await;
    let other = sender(&app, json!({"campaign_id": "elsewhere"})).await;
    let bad_bodies: Vec<(Value, &str)> = vec![
        (json!([]), "JSON object"),
        (json!({}), "campaign_id"),
        (json!({"campaign_id": 7, "broadcast": true}), "campaign_id"),
        (
            json!({"campaign_id": "refusals", "send_id": "é", "broadcast": true}),
            "send_id",
        ),
        (
            json!({"campaign_id": "refusals", "broadcast": "yes"}),
            "broadcast",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": "u"}),
            "recipients",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": []}),
            "recipients",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": users(&["u"; 51])}),
            "at most 50",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": [{"external_user_id": "u", "user_alias": {"alias_name": "a", "alias_label": "b"}}]}),
            "recipients[0]",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": [{"email": "a@b.c"}]}),
            "recipients[0].prioritization",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": [{"external_user_id": "u", "send_to_existing_only": false}]}),
            "recipients[0].attributes",
        ),
        (
            json!({"campaign_id": "refusals", "recipients": [{}]}),
            "recipients[0]",
        ),
        (
            json!({"campaign_id": "refusals", "trigger_properties": 3, "broadcast": true}),
            "trigger_properties",
        ),
        (
            json!({"campaign_id": "refusals", "audience": "all", "broadcast": true}),
            "audience",
        ),
        (
            json!({"campaign_id": "nope", "broadcast": true}),
            "Invalid campaign_id",
        ),
        (
            json!({"campaign_id": "elsewhere", "broadcast": true}),
            "Invalid campaign_id",
        ),
        (
            json!({"campaign_id": "refusals", "send_id": "never", "broadcast": true}),
            "/sends/id/create",
        ),
        (
            json!({"campaign_id": "refusals", "send_id": "made"}),
            "broadcast",
        ),
        (
            json!({"campaign_id": "refusals", "broadcast": false}),
            "recipients",
        ),
        (
            json!({"campaign_id": "refusals", "broadcast": true, "recipients": users(&["u"])}),
            "broadcast",
        ),
        (
            json!({"campaign_id": "refusals", "broadcast": true, "attachments": [{"file_name": "f", "url": "https://x/f.pdf"}]}),
            "attachments",
        ),
    ];
    for (body, names) in &bad_bodies {
        let r = s.send(&app, body.clone()).await;
        let b = expect_json(r, 400).await;
        let message = b["message"].as_str().unwrap();
        assert!(
            message.contains(names),
            "{body} → {message:?}, expected it to name {names}"
        );
    }
    // Not JSON at all, and not JSON by its type.
    let raw = |ct: &'static str, body: &'static str| {
        app.client
            .post(app.url("/campaigns/trigger/send"))
            .bearer_auth(&s.key)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    expect_json(raw("application/json", "{nope").await.unwrap(), 400).await;
    expect_json(raw("text/plain", "{}").await.unwrap(), 415).await;
    // Authentication, then permission, before the body is looked at.
    let body = json!({"campaign_id": "refusals", "broadcast": true});
    expect_json(trigger(&app, "not-a-key", &json!([])).await, 401).await;
    let create_only = app
        .admin()
        .api_key(&s.workspace_id, &["sends.id.create"], None)
        .await;
    let r = trigger(&app, create_only["api_key"].as_str().unwrap(), &body).await;
    let b = expect_json(r, 403).await;
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("campaigns.trigger.send"));
    let nothing = s.dispatches(&app, "").await;
    assert_eq!(
        nothing["dispatches"],
        json!([]),
        "a refused send records nothing"
    );
    assert_eq!(other.dispatches(&app, "").await["dispatches"], json!([]));
}

#[tokio::test]
async fn the_new_paths_answer_404_and_405_as_json() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/campaigns/trigger/send"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), Some("POST"));
    expect_json(r, 405).await;
    let r = app
        .client
        .post(app.url("/sends/data_series"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "allow"), Some("GET"));
    expect_json(r, 405).await;
    for path in [
        "/campaigns/trigger/sendx",
        "/campaigns/trigger",
        "/campaigns",
    ] {
        let r = app.client.post(app.url(path)).send().await.unwrap();
        expect_json(r, 404).await;
    }
}

#[tokio::test]
async fn the_demo_key_can_try_every_operation() {
    let app = spawn_app().await;
    let key = app.demo_key().to_string();
    let r = trigger(
        &app,
        &key,
        &json!({"campaign_id": "demo-campaign", "broadcast": false, "trigger_properties": {"coupon": "SPRING10"}, "recipients": users(&["user-1", "user-2"])}),
    )
    .await;
    expect_json(r, 201).await;
}

/// Fault rules match the new operations by campaign and send_id prefix (from the body of a
/// send, the query of a data series), `after` faults lose the answer of a recorded dispatch,
/// and the journal records both operations.
#[tokio::test]
async fn fault_rules_and_the_journal_cover_the_new_operations() {
    let app = sendid_test_support::spawn_sandbox().await;
    let s = sender(&app, json!({"campaign_id": "faulty"})).await;
    s.create(&app, "order-1").await;
    s.create(&app, "invoice-1").await;
    let admin = app.admin();
    let rule = |body: Value| {
        let admin = admin.clone();
        async move { admin.created("/admin/faults", &body).await }
    };
    rule(json!({"match": {"campaign_id": "faulty", "send_id_prefix": "order-"}, "action": {"status": 503}, "when": "after", "times": 1})).await;
    rule(json!({"match": {"send_id_prefix": "invoice-"}, "action": {"status": 500}, "times": 1}))
        .await;
    let send = |send_id: &str| json!({"campaign_id": "faulty", "send_id": send_id, "recipients": users(&["u"])});
    // `after`: the dispatch is recorded, the answer is replaced.
    let r = s.send(&app, send("order-1")).await;
    assert_eq!(header(&r, "x-sendid-fault"), Some("fault-1"));
    expect_json(r, 503).await;
    let listed = s.dispatches(&app, "?send_id=order-1").await;
    assert_eq!(listed["dispatches"].as_array().unwrap().len(), 1);
    // The data series' query names the send_id: `before` answers without the handler.
    let r = app
        .client
        .get(app.url("/sends/data_series?campaign_id=faulty&send_id=invoice-1&length=1"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-sendid-fault"), Some("fault-2"));
    expect_json(r, 500).await;
    // Both rules are spent: the next ones pass.
    expect_json(s.send(&app, send("order-1")).await, 201).await;
    let journal = admin.fetched("/admin/requests?limit=10").await;
    let entries = journal["requests"].as_array().unwrap();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths[0], "/campaigns/trigger/send");
    assert!(paths[1].starts_with("/sends/data_series?"), "{paths:?}");
    assert_eq!(entries[0]["status"], 201);
    assert_eq!(entries[0]["send_id"], "order-1");
    assert_eq!(entries[0]["body"]["recipients"][0]["external_user_id"], "u");
    assert_eq!(entries[1]["fault"]["id"], "fault-2");
    assert_eq!(entries[2]["fault"]["original_status"], 201);
}
