//! Property tests over HTTP: whatever body a client sends, the answer is never a 5xx, is always
//! JSON, and is exactly the status the contract's rules give for that body.
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

use sendid_test_support::{spawn_app, Tenant, TestApp};

/// How many requests each property sends (all against one spawned app).
const CASES: u32 = 96;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[ -~]{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings that hit the send_id rules from every side: printable ASCII around the 64 limit,
/// control characters, DEL, and any Unicode.
fn arb_id_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{1,64}",
        "[ -~]{60,70}",
        "[\\x00-\\x7f]{0,66}",
        any::<String>(),
        Just(String::new()),
    ]
}

/// A body: any JSON value, or an object built around a campaign_id and a send_id.
fn arb_body(campaign: String) -> impl Strategy<Value = Value> {
    let campaign_id = prop_oneof![
        4 => Just(Value::String(campaign)),
        2 => arb_id_string().prop_map(Value::String),
        1 => arb_json(),
    ];
    let send_id = prop_oneof![
        4 => arb_id_string().prop_map(Value::String),
        1 => arb_json(),
    ];
    let object = (
        prop::option::weighted(0.95, campaign_id),
        prop::option::weighted(0.8, send_id),
        prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..3),
    )
        .prop_map(|(campaign_id, send_id, extra)| {
            let mut fields: Map<String, Value> = extra.into_iter().collect();
            if let Some(c) = campaign_id {
                fields.insert("campaign_id".into(), c);
            }
            if let Some(s) = send_id {
                fields.insert("send_id".into(), s);
            }
            Value::Object(fields)
        });
    prop_oneof![1 => arb_json(), 4 => object]
}

/// What the contract answers to a body: the status, and the send_id of a 200 when it is known.
fn expected(body: &Value, campaign: &str) -> (u16, Option<String>) {
    let Value::Object(fields) = body else {
        return (400, None);
    };
    let campaign_id = match fields.get("campaign_id") {
        Some(Value::String(c)) if !c.is_empty() => c,
        _ => return (400, None),
    };
    let send_id = match fields.get("send_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if (1..=64).contains(&s.chars().count())
                && s.chars().all(|c| (' '..='~').contains(&c)) =>
        {
            Some(s.clone())
        }
        Some(_) => return (400, None),
    };
    if campaign_id != campaign {
        return (400, None);
    }
    (200, send_id)
}

async fn check(app: &TestApp, t: &Tenant, body: Vec<u8>) -> Result<(u16, Value), TestCaseError> {
    let resp = app
        .create_raw(Some(&t.api_key), Some("application/json"), body)
        .await;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let has_rate_limit = resp.headers().contains_key("x-ratelimit-remaining");
    let text = resp
        .text()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(status < 500, "{status}: {text}");
    prop_assert!(
        ct.starts_with("application/json"),
        "{status} {ct:?}: {text}"
    );
    prop_assert!(has_rate_limit, "{status} without rate-limit headers");
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
    prop_assert!(json["message"].is_string(), "{text}");
    prop_assert!(!text.contains(&t.api_key));
    Ok((status, json))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn arbitrary_json_bodies_get_the_contract_answer() {
    let rt = runtime();
    let (app, t) = rt.block_on(async {
        let app = spawn_app().await;
        let t = app.workspace(1_000_000).await;
        (app, t)
    });
    let (created, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let result = runner().run(&arb_body(t.campaign_id.clone()), |body| {
        rt.block_on(async {
            let bytes = serde_json::to_vec(&body).expect("serializable");
            let (status, json) = check(&app, &t, bytes).await?;
            let (want, send_id) = expected(&body, &t.campaign_id);
            prop_assert_eq!(status, want, "body {} answered {}", body, json);
            let tally = if status == 200 { &created } else { &refused };
            tally.fetch_add(1, Ordering::Relaxed);
            if status == 200 {
                let got = json["send_id"].as_str().unwrap_or_default();
                prop_assert!(!got.is_empty() && got.len() <= 64);
                prop_assert!(got.bytes().all(|b| (0x20..=0x7e).contains(&b)));
                if let Some(s) = send_id {
                    prop_assert_eq!(got, s.as_str());
                }
            }
            Ok(())
        })
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator reaches both sides of the rules, so the oracle was really exercised.
    assert!(created.into_inner() > 0, "no body was valid");
    assert!(refused.into_inner() > 0, "no body was invalid");
}

#[test]
fn arbitrary_bytes_never_give_a_5xx() {
    let rt = runtime();
    let (app, t) = rt.block_on(async {
        let app = spawn_app().await;
        let t = app.workspace(1_000_000).await;
        (app, t)
    });
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        arb_json().prop_map(|v| {
            // Valid JSON, cut at an arbitrary point.
            let s = v.to_string().into_bytes();
            let cut = s.len() / 2;
            s[..cut].to_vec()
        }),
    ];
    let result = runner().run(&bytes, |body| {
        rt.block_on(async {
            let (status, _) = check(&app, &t, body.clone()).await?;
            let valid = serde_json::from_slice::<Value>(&body).ok();
            let want = valid.map_or(400, |v| expected(&v, &t.campaign_id).0);
            prop_assert_eq!(status, want);
            Ok(())
        })
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("{e}");
    }
}
