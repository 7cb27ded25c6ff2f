//! `POST /sends/id/create`: the request rules, the order of decisions and the responses of
//! docs/contract.md §1 (quota and the UTC day are in `quota.rs`).
use std::collections::HashSet;

use serde_json::{json, Value};

use sendid_test_support::{
    assert_no_rate_limit_headers, chunked, expect_json, header, next_midnight, padded_body,
    rate_limit, spawn_app, Tenant, TestApp, NOON,
};

const MAX_BODY: usize = 64 * 1024;

/// Asserts a 400 whose message names `field`, and that no quota was spent.
async fn assert_bad_field(app: &TestApp, t: &Tenant, body: Value, field: &str) {
    let resp = app.create(&t.api_key, &body).await;
    assert_eq!(rate_limit(&resp).0, Some(100), "rate-limit headers on 400");
    let err = expect_json(resp, 400).await;
    let message = err["message"].as_str().expect("message");
    assert!(
        message.contains(field),
        "the message for {body} must name {field}: {message}"
    );
}

#[tokio::test]
async fn a_valid_request_creates_the_given_send_id() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let resp = app
        .create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "spring-sale-1"}),
        )
        .await;
    assert_eq!(
        rate_limit(&resp),
        (Some(100), Some(99), Some(next_midnight(NOON)))
    );
    assert!(header(&resp, "retry-after").is_none());
    let body = expect_json(resp, 200).await;
    assert_eq!(
        body,
        json!({"message": "success", "send_id": "spring-sale-1"})
    );
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["spring-sale-1"]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn the_demo_key_and_campaign_work() {
    let app = spawn_app().await;
    let resp = app
        .create(app.demo_key(), &json!({"campaign_id": "demo-campaign"}))
        .await;
    let body = expect_json(resp, 200).await;
    assert_eq!(body["message"], "success");
}

#[tokio::test]
async fn send_id_of_64_characters_is_accepted_and_65_refused() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let s64 = "x".repeat(64);
    let body = expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": s64}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["send_id"], s64.as_str());
    assert_bad_field(
        &app,
        &t,
        json!({"campaign_id": t.campaign_id, "send_id": "x".repeat(65)}),
        "send_id",
    )
    .await;
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn send_id_characters_0x20_to_0x7e_are_accepted() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let printable: String = (0x20u8..=0x7e).map(char::from).collect();
    for s in [
        " ".to_string(),
        "~".to_string(),
        printable[..64].to_string(),
        printable[64..].to_string(),
        r#"quote"and\backslash"#.to_string(),
    ] {
        let body = expect_json(
            app.create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": s}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(
            body["send_id"],
            s.as_str(),
            "the send_id comes back as given"
        );
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 5);
}

#[tokio::test]
async fn send_id_outside_printable_ascii_is_400() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    for bad in [
        "\u{1f}",
        "a\u{1f}",
        "\u{7f}",
        "b\u{7f}c",
        "\u{0}",
        "\t",
        "\n",
        "é",
        "caf\u{e9}",
        "日本",
        "😀",
        "\u{80}",
    ] {
        assert_bad_field(
            &app,
            &t,
            json!({"campaign_id": t.campaign_id, "send_id": bad}),
            "send_id",
        )
        .await;
    }
    // 64 non-ASCII characters are more than 64 bytes, and still refused for what they are.
    assert_bad_field(
        &app,
        &t,
        json!({"campaign_id": t.campaign_id, "send_id": "é".repeat(10)}),
        "printable ASCII",
    )
    .await;
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
    assert!(app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .is_empty());
}

#[tokio::test]
async fn null_or_absent_send_id_generates_one() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let a = expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": null}),
        )
        .await,
        200,
    )
    .await;
    let b = expect_json(
        app.create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
            .await,
        200,
    )
    .await;
    let (a, b) = (
        a["send_id"].as_str().unwrap(),
        b["send_id"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec![a, b]
    );
    assert_eq!(app.used_today(&t.workspace_id).await, 2);
}

#[tokio::test]
async fn generated_send_ids_are_printable_ascii_short_and_unique() {
    let app = spawn_app().await;
    let t = app.workspace(1000).await;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let body = expect_json(
            app.create(&t.api_key, &json!({"campaign_id": t.campaign_id}))
                .await,
            200,
        )
        .await;
        let id = body["send_id"].as_str().expect("send_id").to_string();
        assert!(!id.is_empty() && id.len() <= 64, "{id:?}");
        assert!(id.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{id:?}");
        // At least 96 bits of randomness need at least 16 characters of a 95-letter alphabet.
        assert!(
            id.len() >= 15,
            "{id:?} is too short to carry 96 random bits"
        );
        assert!(seen.insert(id.clone()), "{id} generated twice");
        // A generated id is a real pair: asking for it again uses no quota.
        let again = expect_json(
            app.create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": id}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(again["send_id"], id.as_str());
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 40);
    let listed: HashSet<String> = app
        .all_send_ids(&t.workspace_id, &t.campaign_id)
        .await
        .into_iter()
        .collect();
    assert_eq!(listed, seen);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let body = expect_json(
        app.create(
            &t.api_key,
            &json!({
                "campaign_id": t.campaign_id,
                "send_id": "with-extras",
                "extra": {"nested": [1, 2, null]},
                "SEND_ID": 5,
                "campaign": false,
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        body,
        json!({"message": "success", "send_id": "with-extras"})
    );
}

#[tokio::test]
async fn empty_and_malformed_bodies_are_400_json() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let deep_array = "[".repeat(20_000);
    let deep_object = format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    for raw in [
        "",
        " ",
        "\n\t",
        "{",
        "{\"campaign_id\":",
        "nul",
        "{'campaign_id': 'x'}",
        "\u{feff}{}",
        "{\"campaign_id\":\"a\"}garbage",
        "\u{0}",
        &deep_array,
        &deep_object,
    ] {
        let resp = app
            .create_raw(Some(&t.api_key), Some("application/json"), raw.to_string())
            .await;
        assert_eq!(rate_limit(&resp).0, Some(100));
        let err = expect_json(resp, 400).await;
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{raw:?}"
        );
    }
    // Invalid UTF-8 is not JSON either.
    let resp = app
        .create_raw(
            Some(&t.api_key),
            Some("application/json"),
            vec![b'{', 0xff, 0xfe, b'}'],
        )
        .await;
    expect_json(resp, 400).await;
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
}

#[tokio::test]
async fn bodies_that_are_not_objects_are_400() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    for body in [
        json!(null),
        json!([]),
        json!([{"campaign_id": t.campaign_id}]),
        json!("campaign_id"),
        json!(1),
        json!(true),
    ] {
        let err = expect_json(app.create(&t.api_key, &body).await, 400).await;
        assert!(
            err["message"].as_str().unwrap().contains("object"),
            "{body}: {err}"
        );
    }
}

#[tokio::test]
async fn fields_of_the_wrong_type_or_out_of_bounds_name_the_field() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let c = t.campaign_id.clone();
    let cases = [
        (json!({}), "campaign_id"),
        (json!({"send_id": "s"}), "campaign_id"),
        (json!({"campaign_id": null}), "campaign_id"),
        (json!({"campaign_id": ""}), "campaign_id"),
        (json!({"campaign_id": 1}), "campaign_id"),
        (json!({"campaign_id": true}), "campaign_id"),
        (json!({"campaign_id": [c]}), "campaign_id"),
        (json!({"campaign_id": {"id": c}}), "campaign_id"),
        (json!({"campaign_id": c, "send_id": ""}), "send_id"),
        (json!({"campaign_id": c, "send_id": 1}), "send_id"),
        (json!({"campaign_id": c, "send_id": 1.5}), "send_id"),
        (json!({"campaign_id": c, "send_id": false}), "send_id"),
        (json!({"campaign_id": c, "send_id": ["a"]}), "send_id"),
        (json!({"campaign_id": c, "send_id": {"a": 1}}), "send_id"),
    ];
    for (body, field) in cases {
        assert_bad_field(&app, &t, body, field).await;
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
}

#[tokio::test]
async fn content_type_must_be_json() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let ok = json!({"campaign_id": t.campaign_id}).to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("text/json-ish"),
        Some("json"),
        Some("*/*"),
    ] {
        let resp = app.create_raw(Some(&t.api_key), ct, ok.clone()).await;
        assert_eq!(
            rate_limit(&resp),
            (Some(100), Some(100), Some(next_midnight(NOON))),
            "rate-limit headers on 415 for {ct:?}"
        );
        let err = expect_json(resp, 415).await;
        assert!(err["message"].as_str().unwrap().contains("Content-Type"));
    }
    // Media types are case-insensitive, and HTTP allows whitespace around the `;`.
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json ; charset=utf-8",
        "Application/JSON",
    ] {
        let resp = app.create_raw(Some(&t.api_key), Some(ct), ok.clone()).await;
        expect_json(resp, 200).await;
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 5);
}

#[tokio::test]
async fn a_body_of_64_kib_is_accepted_and_one_byte_more_is_413() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let at_limit = padded_body(&t.campaign_id, "exactly-64-kib", MAX_BODY);
    let resp = app
        .create_raw(Some(&t.api_key), Some("application/json"), at_limit)
        .await;
    assert_eq!(expect_json(resp, 200).await["send_id"], "exactly-64-kib");

    let over = padded_body(&t.campaign_id, "one-byte-over", MAX_BODY + 1);
    let resp = app
        .create_raw(Some(&t.api_key), Some("application/json"), over)
        .await;
    assert_eq!(
        rate_limit(&resp),
        (Some(100), Some(99), Some(next_midnight(NOON))),
        "rate-limit headers on 413"
    );
    let err = expect_json(resp, 413).await;
    assert!(err["message"].as_str().unwrap().contains("64 KiB"));

    let huge = padded_body(&t.campaign_id, "huge", 1024 * 1024);
    let resp = app
        .create_raw(Some(&t.api_key), Some("application/json"), huge)
        .await;
    expect_json(resp, 413).await;
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["exactly-64-kib"]
    );
}

#[tokio::test]
async fn chunked_bodies_without_content_length_are_limited_too() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let head = |key: &str| {
        format!(
            "POST /sends/id/create HTTP/1.1\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked"
        )
    };
    let at_limit = padded_body(&t.campaign_id, "chunked-at-limit", MAX_BODY);
    let resp = app.raw(&head(&t.api_key), &chunked(&at_limit, 4096)).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["send_id"], "chunked-at-limit");

    let over = padded_body(&t.campaign_id, "chunked-over", MAX_BODY + 1);
    let resp = app.raw(&head(&t.api_key), &chunked(&over, 4096)).await;
    assert_eq!(resp.status, 413);
    assert!(resp.header("content-length").is_some() || resp.header("transfer-encoding").is_some());
    assert!(resp.json()["message"].is_string());
    assert_eq!(resp.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("99"));

    let big = padded_body(&t.campaign_id, "chunked-big", 300 * 1024);
    let resp = app.raw(&head(&t.api_key), &chunked(&big, 8192)).await;
    assert_eq!(resp.status, 413);
    resp.json();
    assert_eq!(
        app.all_send_ids(&t.workspace_id, &t.campaign_id).await,
        vec!["chunked-at-limit"]
    );
}

#[tokio::test]
async fn other_methods_get_405_with_allow_post() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for key in [None, Some(t.api_key.as_str())] {
            let mut req = app.client.request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/sends/id/create"),
            );
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            let resp = req
                .json(&json!({"campaign_id": t.campaign_id}))
                .send()
                .await
                .unwrap();
            assert_eq!(header(&resp, "allow"), Some("POST"), "{method}");
            let err = expect_json(resp, 405).await;
            assert!(err["message"].as_str().unwrap().contains(method));
        }
    }
    let resp = app
        .client
        .head(app.url("/sends/id/create"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(header(&resp, "allow"), Some("POST"));
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
}

#[tokio::test]
async fn unknown_paths_get_404_json() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    for path in [
        "/nope",
        "/sends",
        "/sends/id",
        "/sends/id/create/extra",
        "/sends/ids/create",
        "/send/id/create",
        "/SENDS/ID/CREATE",
        "/sends/id/create.json",
    ] {
        for key in [None, Some(t.api_key.as_str())] {
            let mut req = app.client.post(app.url(path));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            let resp = req
                .json(&json!({"campaign_id": t.campaign_id}))
                .send()
                .await
                .unwrap();
            assert_no_rate_limit_headers(&resp);
            let err = expect_json(resp, 404).await;
            assert!(err["message"].is_string(), "{path}");
        }
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        expect_json(resp, 404).await;
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
}

#[tokio::test]
async fn unknown_and_other_workspace_campaigns_are_invalid_campaign_id() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let other = app.workspace(100).await;
    for campaign in [
        "no-such-campaign".to_string(),
        other.campaign_id.clone(),
        "demo-campaign".to_string(),
        t.campaign_id.to_uppercase(),
        format!("{} ", t.campaign_id),
        "é".repeat(200),
        "x".repeat(10_000),
    ] {
        let resp = app
            .create(
                &t.api_key,
                &json!({"campaign_id": campaign, "send_id": "s"}),
            )
            .await;
        assert_eq!(
            rate_limit(&resp),
            (Some(100), Some(100), Some(next_midnight(NOON)))
        );
        let err = expect_json(resp, 400).await;
        assert_eq!(err["message"], "Invalid campaign_id", "{campaign}");
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
    assert_eq!(app.used_today(&other.workspace_id).await, 0);
    assert!(app
        .all_send_ids(&other.workspace_id, &other.campaign_id)
        .await
        .is_empty());
}

#[tokio::test]
async fn a_missing_or_unknown_key_is_401() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let body = json!({"campaign_id": t.campaign_id}).to_string();
    let cases: Vec<Option<String>> = vec![
        None,
        Some("Basic dXNlcjpwYXNz".into()),
        Some(format!("Basic {}", t.api_key)),
        Some(format!("Token {}", t.api_key)),
        Some(t.api_key.clone()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer not-a-key".into()),
        Some(format!("Bearer {}x", t.api_key)),
        Some(format!("Bearer {}", &t.api_key[..t.api_key.len() - 1])),
        Some(format!("Bearer {}", t.api_key.to_uppercase())),
        Some(format!(
            "Bearer {ADMIN}",
            ADMIN = sendid_test_support::ADMIN_TOKEN
        )),
        Some(format!("Bearer {} {}", t.api_key, t.api_key)),
    ];
    for auth in cases {
        let mut req = app
            .client
            .post(app.url("/sends/id/create"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_no_rate_limit_headers(&resp);
        let text_key = t.api_key.clone();
        let err = expect_json(resp, 401).await;
        assert!(err["message"].is_string(), "{auth:?}");
        assert!(!err.to_string().contains(&text_key));
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 0);
    // The scheme is case-insensitive (RFC 9110 §11.1).
    for scheme in ["bearer", "BEARER"] {
        let resp = app
            .client
            .post(app.url("/sends/id/create"))
            .header("authorization", format!("{scheme} {}", t.api_key))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
    }
}

#[tokio::test]
async fn a_revoked_key_is_401() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "before"}),
        )
        .await,
        200,
    )
    .await;
    let resp = app
        .admin_delete(&format!("/admin/api-keys/{}", t.key_id))
        .await;
    assert_eq!(resp.status(), 204);
    for send_id in ["before", "after"] {
        let resp = app
            .create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": send_id}),
            )
            .await;
        assert_no_rate_limit_headers(&resp);
        expect_json(resp, 401).await;
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn a_key_without_the_permission_is_403() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    // Near misses of the permission cannot even be granted (unknown permission, 400).
    for near_miss in [
        "users.track",
        "sends.id",
        "sends.id.create.all",
        "SENDS.ID.CREATE",
    ] {
        let resp = app
            .admin_post(
                &format!("/admin/workspaces/{}/api-keys", t.workspace_id),
                &json!({"permissions": [near_miss]}),
            )
            .await;
        let err = expect_json(resp, 400).await;
        assert!(err["message"]
            .as_str()
            .unwrap()
            .contains("known: sends.id.create"));
    }
    {
        let permissions: Vec<&str> = vec![];
        let key = app.api_key(&t.workspace_id, &permissions, None).await;
        let resp = app
            .create(
                key["api_key"].as_str().unwrap(),
                &json!({"campaign_id": t.campaign_id}),
            )
            .await;
        assert_no_rate_limit_headers(&resp);
        let err = expect_json(resp, 403).await;
        assert!(
            err["message"].as_str().unwrap().contains("sends.id.create"),
            "{err}"
        );
    }
    // With the permission, the same workspace's request is answered.
    let key = app
        .api_key(&t.workspace_id, &["sends.id.create"], None)
        .await;
    expect_json(
        app.create(
            key["api_key"].as_str().unwrap(),
            &json!({"campaign_id": t.campaign_id}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn the_ip_allow_list_is_enforced() {
    let app = spawn_app().await;
    let t = app.workspace(100).await;
    let body = json!({"campaign_id": t.campaign_id});
    for refused in [
        vec!["10.0.0.0/8"],
        vec!["127.0.0.2/32"],
        vec!["::1/128"],
        vec!["192.168.0.0/16", "10.1.2.3"],
    ] {
        let key = app
            .api_key(&t.workspace_id, &["sends.id.create"], Some(&refused))
            .await;
        let resp = app.create(key["api_key"].as_str().unwrap(), &body).await;
        assert_no_rate_limit_headers(&resp);
        let err = expect_json(resp, 403).await;
        assert!(err["message"].as_str().unwrap().contains("IP"), "{err}");
    }
    for accepted in [
        vec!["127.0.0.1/32"],
        vec!["127.0.0.1"],
        vec!["127.0.0.0/8"],
        vec!["10.0.0.0/8", "127.0.0.1/32"],
        vec!["0.0.0.0/0"],
        vec![],
    ] {
        let key = app
            .api_key(&t.workspace_id, &["sends.id.create"], Some(&accepted))
            .await;
        let resp = app.create(key["api_key"].as_str().unwrap(), &body).await;
        expect_json(resp, 200).await;
    }
    assert_eq!(app.used_today(&t.workspace_id).await, 6);
}

/// One request of the order-of-decisions table: the key, the content type and the body.
struct Case {
    name: &'static str,
    key: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    message: Option<&'static str>,
}

#[tokio::test]
async fn decisions_are_taken_in_the_contract_order() {
    let app = spawn_app().await;
    let t = app.workspace(1).await;
    let no_permission = app.api_key(&t.workspace_id, &[], None).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong_ip = app
        .api_key(&t.workspace_id, &["sends.id.create"], Some(&["10.0.0.0/8"]))
        .await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = app
        .api_key(&t.workspace_id, &["sends.id.create"], None)
        .await;
    assert_eq!(
        app.admin_delete(&format!(
            "/admin/api-keys/{}",
            revoked["key_id"].as_str().unwrap()
        ))
        .await
        .status(),
        204
    );
    let revoked = revoked["api_key"].as_str().unwrap().to_string();
    // Spend the only unit of quota, so that a new pair would be 429.
    expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "existing"}),
        )
        .await,
        200,
    )
    .await;

    let good = t.api_key.clone();
    let oversize = padded_body("unknown", "s", MAX_BODY + 1);
    let malformed = b"{not json".to_vec();
    let unknown_campaign = br#"{"campaign_id": "unknown", "send_id": "new"}"#.to_vec();
    let new_pair = json!({"campaign_id": t.campaign_id, "send_id": "new"})
        .to_string()
        .into_bytes();
    let existing = json!({"campaign_id": t.campaign_id, "send_id": "existing"})
        .to_string()
        .into_bytes();
    let bad_send_id = json!({"campaign_id": "unknown", "send_id": "x".repeat(65)})
        .to_string()
        .into_bytes();
    let json_ct = Some("application/json");
    let cases = vec![
        Case {
            name: "no key + malformed",
            key: None,
            content_type: json_ct,
            body: malformed.clone(),
            status: 401,
            message: None,
        },
        Case {
            name: "bad key + malformed",
            key: Some("nope".into()),
            content_type: json_ct,
            body: malformed.clone(),
            status: 401,
            message: None,
        },
        Case {
            name: "revoked key + oversize + wrong type",
            key: Some(revoked.clone()),
            content_type: Some("text/plain"),
            body: oversize.clone(),
            status: 401,
            message: None,
        },
        Case {
            name: "bad key + wrong type",
            key: Some("nope".into()),
            content_type: Some("text/plain"),
            body: new_pair.clone(),
            status: 401,
            message: None,
        },
        Case {
            name: "no permission + malformed",
            key: Some(no_permission.clone()),
            content_type: json_ct,
            body: malformed.clone(),
            status: 403,
            message: None,
        },
        Case {
            name: "no permission + oversize",
            key: Some(no_permission.clone()),
            content_type: json_ct,
            body: oversize.clone(),
            status: 403,
            message: None,
        },
        Case {
            name: "no permission + wrong type",
            key: Some(no_permission.clone()),
            content_type: None,
            body: new_pair.clone(),
            status: 403,
            message: None,
        },
        Case {
            name: "wrong IP + malformed",
            key: Some(wrong_ip.clone()),
            content_type: json_ct,
            body: malformed.clone(),
            status: 403,
            message: None,
        },
        Case {
            name: "wrong IP + existing pair",
            key: Some(wrong_ip.clone()),
            content_type: json_ct,
            body: existing.clone(),
            status: 403,
            message: None,
        },
        Case {
            name: "oversize + wrong type",
            key: Some(good.clone()),
            content_type: Some("text/plain"),
            body: oversize.clone(),
            status: 413,
            message: None,
        },
        Case {
            name: "oversize + no type",
            key: Some(good.clone()),
            content_type: None,
            body: oversize.clone(),
            status: 413,
            message: None,
        },
        Case {
            name: "wrong type + malformed",
            key: Some(good.clone()),
            content_type: Some("text/plain"),
            body: malformed.clone(),
            status: 415,
            message: None,
        },
        Case {
            name: "wrong type + unknown campaign",
            key: Some(good.clone()),
            content_type: Some("text/plain"),
            body: unknown_campaign.clone(),
            status: 415,
            message: None,
        },
        Case {
            name: "bad send_id + unknown campaign",
            key: Some(good.clone()),
            content_type: json_ct,
            body: bad_send_id,
            status: 400,
            message: None,
        },
        Case {
            name: "unknown campaign + quota used up",
            key: Some(good.clone()),
            content_type: json_ct,
            body: unknown_campaign,
            status: 400,
            message: Some("Invalid campaign_id"),
        },
        Case {
            name: "existing pair + quota used up",
            key: Some(good.clone()),
            content_type: json_ct,
            body: existing,
            status: 200,
            message: Some("success"),
        },
        Case {
            name: "new pair + quota used up",
            key: Some(good.clone()),
            content_type: json_ct,
            body: new_pair,
            status: 429,
            message: None,
        },
    ];
    for case in cases {
        let resp = app
            .create_raw(case.key.as_deref(), case.content_type, case.body)
            .await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, case.status, "{}: {text}", case.name);
        let body: Value = serde_json::from_str(&text).expect("JSON");
        if case.status == 400 && case.message.is_none() {
            assert_ne!(body["message"], "Invalid campaign_id", "{}", case.name);
        }
        if let Some(m) = case.message {
            assert_eq!(body["message"], m, "{}", case.name);
        }
    }
    // Unknown path and wrong method come before authentication.
    let resp = app.create_raw(None, None, "").await;
    assert_eq!(resp.status(), 401);
    let resp = app
        .client
        .post(app.url("/sends/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .client
        .get(app.url("/sends/id/create"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(app.used_today(&t.workspace_id).await, 1);
}

#[tokio::test]
async fn rate_limit_headers_are_on_every_answer_from_step_4_on_and_only_there() {
    let app = spawn_app().await;
    let t = app.workspace(5).await;
    expect_json(
        app.create(
            &t.api_key,
            &json!({"campaign_id": t.campaign_id, "send_id": "one"}),
        )
        .await,
        200,
    )
    .await;
    let expected = (Some(5), Some(4), Some(next_midnight(NOON)));
    let key = Some(t.api_key.as_str());
    let json_ct = Some("application/json");
    let with_headers = [
        (app.create_raw(key, json_ct, "{").await, 400),
        (app.create_raw(key, json_ct, "").await, 400),
        (
            app.create_raw(key, json_ct, r#"{"campaign_id":"nope"}"#)
                .await,
            400,
        ),
        (
            app.create_raw(key, json_ct, padded_body("c", "s", MAX_BODY + 10))
                .await,
            413,
        ),
        (app.create_raw(key, Some("text/plain"), "{}").await, 415),
        (app.create_raw(key, None, "{}").await, 415),
        (
            app.create(
                &t.api_key,
                &json!({"campaign_id": t.campaign_id, "send_id": "one"}),
            )
            .await,
            200,
        ),
    ];
    for (resp, status) in with_headers {
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(rate_limit(&resp), expected, "on {status}");
    }
    let no_permission = app.api_key(&t.workspace_id, &[], None).await;
    let without_headers = [
        app.create_raw(None, json_ct, "{").await,
        app.create_raw(Some("wrong"), json_ct, "{").await,
        app.create_raw(no_permission["api_key"].as_str(), json_ct, "{")
            .await,
    ];
    for resp in without_headers {
        assert!(matches!(resp.status().as_u16(), 401 | 403));
        assert_no_rate_limit_headers(&resp);
    }
}

#[tokio::test]
async fn error_bodies_never_contain_the_api_key() {
    let app = spawn_app().await;
    let t = app.workspace(1).await;
    let key = t.api_key.clone();
    expect_json(
        app.create(&key, &json!({"campaign_id": t.campaign_id, "send_id": "a"}))
            .await,
        200,
    )
    .await;
    let no_permission = app.api_key(&t.workspace_id, &[], None).await;
    let np_key = no_permission["api_key"].as_str().unwrap().to_string();
    let json_ct = Some("application/json");
    let responses = vec![
        app.create_raw(Some(&key), json_ct, "{").await,
        app.create_raw(
            Some(&key),
            json_ct,
            format!("{{\"campaign_id\": \"{key}\"}}"),
        )
        .await,
        app.create_raw(
            Some(&key),
            json_ct,
            format!("{{\"campaign_id\": \"c\", \"send_id\": \"{key}\u{1}\"}}"),
        )
        .await,
        app.create_raw(
            Some(&key),
            json_ct,
            format!("{{\"campaign_id\": \"c\", \"send_id\": \"{key}{key}\"}}"),
        )
        .await,
        app.create_raw(Some(&key), json_ct, key.clone()).await,
        app.create_raw(Some(&key), Some("text/plain"), "{}").await,
        app.create_raw(Some(&key), json_ct, padded_body("c", "s", MAX_BODY + 1))
            .await,
        app.create(&key, &json!({"campaign_id": t.campaign_id, "send_id": "b"}))
            .await,
        app.create_raw(Some(&format!("{key}x")), json_ct, "{").await,
        app.create_raw(Some(&np_key), json_ct, "{").await,
        app.client
            .get(app.url("/sends/id/create"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
        app.client
            .post(app.url("/sends/id"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    ];
    for resp in responses {
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{status}");
        let headers = format!("{:?}", resp.headers());
        let text = resp.text().await.unwrap();
        assert!(!text.contains(&key), "{status} leaks the key: {text}");
        assert!(!text.contains(&np_key), "{status} leaks the key: {text}");
        assert!(
            !headers.contains(&key),
            "{status} leaks the key in a header"
        );
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn refusals_before_the_body_is_read_close_the_connection_politely() {
    let app = spawn_app().await;
    let key = app.demo_key().to_string();
    let big = vec![b'x'; 70_000];
    let cases: [(Option<&str>, u16); 3] =
        [(Some(&key), 413), (Some("not-a-key"), 401), (None, 401)];
    for (auth, status) in cases {
        let resp = app
            .create_raw(auth, Some("application/json"), big.clone())
            .await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(
            header(&resp, "connection"),
            Some("close"),
            "status {status}"
        );
        // The same client (with its keep-alive pool) is not hurt on its next request.
        let next = app
            .create(&key, &serde_json::json!({"campaign_id": "demo-campaign"}))
            .await;
        assert_eq!(next.status().as_u16(), 200);
    }
    // A refused request without a body, or with one within the limit (read and discarded),
    // keeps its connection.
    let resp = app.create_raw(Some("not-a-key"), None, Vec::new()).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(header(&resp, "connection"), None);
    let small = br#"{"campaign_id": "demo-campaign"}"#.to_vec();
    let resp = app
        .create_raw(Some("not-a-key"), Some("application/json"), small)
        .await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(header(&resp, "connection"), None);
}
