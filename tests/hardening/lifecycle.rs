//! The send lifecycle (docs/contract.md §6) under the process-level attacks of the create
//! operation: a `kill -9` right after 201s loses no dispatch (sled), and three instances on one
//! PostgreSQL database agree on every dispatch and on the analytics (without PostgreSQL these
//! say why and pass; under `CI=true` they fail).
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::kill9::Rng;
use sendid_test_support::pg;
use sendid_test_support::process::{start_on_database, Api, Proc};

const ALL: &[&str] = &[
    "sends.id.create",
    "campaigns.trigger.send",
    "sends.data_series",
];

/// A workspace, a campaign and a key with every permission, made through `api`.
async fn setup(api: &Api, campaign_id: &str) -> (String, String) {
    let admin = api.admin();
    let ws = admin.create_workspace("lifecycle", 1_000).await;
    admin
        .created(
            &format!("/admin/workspaces/{ws}/campaigns"),
            &json!({"campaign_id": campaign_id}),
        )
        .await;
    let key = admin.api_key(&ws, ALL, None).await;
    (ws, key["api_key"].as_str().unwrap().to_string())
}

async fn post(api: &Api, key: &str, path: &str, body: &Value) -> reqwest::Result<(u16, Value)> {
    let r = api
        .client
        .post(api.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Every dispatch id of a campaign, page by page.
async fn dispatch_ids(api: &Api, ws: &str, campaign: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/admin/workspaces/{ws}/campaigns/{campaign}/dispatches?limit=1000");
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let page = api.admin_get(&path).await;
        for d in page["dispatches"].as_array().unwrap() {
            out.push(d["dispatch_id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => return out,
        }
    }
}

fn send_body(campaign: &str, send_id: &str, n: usize) -> Value {
    json!({"campaign_id": campaign, "send_id": send_id, "recipients": [
        {"external_user_id": format!("u-{n}")}, {"external_user_id": "shared"},
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_right_after_201s_loses_no_dispatch() {
    let mut rng = Rng::from_env_or_clock("trigger/send kill -9");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut proc = Proc::start_admin(&data);
    let (ws, key) = setup(&proc.api(), "k9").await;
    let (status, _) = post(
        &proc.api(),
        &key,
        "/sends/id/create",
        &json!({"campaign_id": "k9", "send_id": "s"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let mut acked: HashSet<String> = HashSet::new();
    for round in 0..3 {
        let api = proc.api();
        let killed = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|c| {
                let (api, key, killed) = (api.clone(), key.clone(), killed.clone());
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for n in 0.. {
                        if killed.load(Ordering::SeqCst) {
                            break;
                        }
                        match post(
                            &api,
                            &key,
                            "/campaigns/trigger/send",
                            &send_body("k9", "s", c * 100_000 + n),
                        )
                        .await
                        {
                            Ok((201, body)) => {
                                mine.push(body["dispatch_id"].as_str().unwrap().to_string())
                            }
                            Ok((status, body)) => panic!("round {round}: {status} {body}"),
                            Err(_) => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.range(150, 700))).await;
        proc.kill9();
        killed.store(true, Ordering::SeqCst);
        for c in clients {
            acked.extend(c.await.unwrap());
        }
        proc = Proc::start_admin(&data);
        let stored: HashSet<String> = dispatch_ids(&proc.api(), &ws, "k9")
            .await
            .into_iter()
            .collect();
        let lost: Vec<&String> = acked.difference(&stored).collect();
        println!(
            "trigger/send kill -9 round {round}: acknowledged {}, stored {}, lost {}",
            acked.len(),
            stored.len(),
            lost.len()
        );
        assert!(
            lost.is_empty(),
            "acknowledged dispatches lost after kill -9: {:?}",
            &lost[..lost.len().min(5)]
        );
    }
    proc.kill9();
    assert!(
        acked.len() > 50,
        "too few sends acknowledged ({}) to mean anything",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_postgresql_instances_agree_on_dispatches_and_analytics() {
    let Some(url) = pg::database_url().await else {
        return;
    };
    let procs: Vec<Proc> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| start_on_database(&url, &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let apis: Vec<Api> = procs.iter().map(Proc::api).collect();
    let (ws, key) = setup(&apis[0], "agree").await;
    // Admin changes reach every instance within a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    for api in &apis {
        loop {
            let (status, _) = post(
                api,
                &key,
                "/sends/id/create",
                &json!({"campaign_id": "agree", "send_id": "s"}),
            )
            .await
            .unwrap();
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the key did not reach {}",
                api.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // 90 simultaneous sends over the three instances, two recipients each (one shared).
    let tasks: Vec<_> = (0..90)
        .map(|n| {
            let (api, key) = (apis[n % 3].clone(), key.clone());
            tokio::spawn(async move {
                post(
                    &api,
                    &key,
                    "/campaigns/trigger/send",
                    &send_body("agree", "s", n),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut acked = HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 201, "{body}");
        assert!(
            acked.insert(body["dispatch_id"].as_str().unwrap().to_string()),
            "a dispatch id twice"
        );
    }
    // A broadcast's generated send ID, made on one instance, is a send ID on the others at once.
    let (status, b) = post(
        &apis[2],
        &key,
        "/campaigns/trigger/send",
        &json!({"campaign_id": "agree", "broadcast": true}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let generated = b["send_id"].as_str().unwrap();
    let (status, _) = post(&apis[0], &key, "/campaigns/trigger/send", &json!({"campaign_id": "agree", "send_id": generated, "recipients": [{"external_user_id": "x"}]}))
        .await
        .unwrap();
    assert_eq!(status, 201, "the generated send ID on another instance");
    for api in &apis {
        let listed: HashSet<String> = dispatch_ids(api, &ws, "agree").await.into_iter().collect();
        assert_eq!(listed.len(), 92, "{}", api.base);
        assert!(
            acked.is_subset(&listed),
            "{} misses acknowledged dispatches",
            api.base
        );
        let series = api
            .client
            .get(api.url("/sends/data_series?campaign_id=agree&send_id=s&length=1"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let day = &series["data"][0];
        assert_eq!(
            day["messages"]["email"][0]["sent"], 180,
            "{}: {day}",
            api.base
        );
        assert_eq!(day["unique_recipients"], 91, "{}: {day}", api.base);
    }
}
