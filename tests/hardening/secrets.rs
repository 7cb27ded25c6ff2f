//! Secrets: with every log at `trace`, a full scenario leaves no API key and no admin token in
//! the logs or in the data directory; the demo key appears once, in the banner on stdout.
use std::time::Duration;

use serde_json::json;

use sendid_test_support::process::Proc;
use sendid_test_support::ADMIN_TOKEN;

fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Every file under `dir`, read as bytes, searched for `needle`.
fn found_in_dir(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(path.display().to_string());
                }
            }
        }
    }
    hits
}

/// The banner's lines arrive just after its first one; wait for the key line.
async fn banner_demo_key(proc: &Proc) -> String {
    for _ in 0..100 {
        let stdout = proc.stdout.lock().unwrap().clone();
        // Text: the "API key:" line; JSON: the banner event's demo.api_key.
        let key = stdout
            .lines()
            .find_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(event) => event["demo"]["api_key"].as_str().map(str::to_string),
                Err(_) => l
                    .trim()
                    .strip_prefix("API key:")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string),
            });
        if let Some(key) = key {
            return key;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the banner shows no demo key:\n{}", proc.output());
}

/// How the scenario starts the server: the log format, and where the admin token comes from.
#[derive(Debug, Clone, Copy)]
struct Setup {
    json: bool,
    token_file: bool,
}

#[tokio::test]
async fn no_key_or_token_reaches_the_logs_or_the_disk_at_trace_level() {
    scenario(Setup {
        json: false,
        token_file: false,
    })
    .await;
}

#[tokio::test]
async fn no_key_or_token_reaches_the_json_logs_at_trace_level() {
    scenario(Setup {
        json: true,
        token_file: false,
    })
    .await;
}

#[tokio::test]
async fn no_key_or_token_reaches_the_json_logs_with_the_token_in_a_file() {
    scenario(Setup {
        json: true,
        token_file: true,
    })
    .await;
}

async fn scenario(setup: Setup) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The token file sits beside the data directory, so the disk scan below covers the data only.
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let token_file = token_file.to_str().unwrap().to_string();
    let mut args = if setup.token_file {
        vec!["--admin-token-file", token_file.as_str()]
    } else {
        vec!["--admin-token", ADMIN_TOKEN]
    };
    if setup.json {
        args.extend(["--log-format", "json"]);
    }
    let mut proc = Proc::start(&data, &args, &[("SENDID_LOG", "trace")]);
    let demo_key = banner_demo_key(&proc).await;
    let api = proc.api();
    let c = &api.client;
    let tenant = api.tenant(100).await;
    let ws = &tenant.workspace_id;
    let weak = api
        .admin_post(
            &format!("/admin/workspaces/{ws}/api-keys"),
            &json!({"name": "no permission", "permissions": []}),
        )
        .await;
    let weak_key = weak["api_key"].as_str().unwrap().to_string();
    let fenced = api
        .admin_post(
            &format!("/admin/workspaces/{ws}/api-keys"),
            &json!({"permissions": ["sends.id.create"], "allowed_ips": ["10.9.8.0/24"]}),
        )
        .await;
    let fenced_key = fenced["api_key"].as_str().unwrap().to_string();
    let keys = [tenant.api_key.clone(), weak_key.clone(), fenced_key.clone()];

    // The public operation with every kind of key, good and bad bodies.
    for key in keys.iter().chain([&demo_key]) {
        for body in [
            json!({"campaign_id": tenant.campaign_id, "send_id": "s-1"}),
            json!({"campaign_id": "demo-campaign"}),
            json!({"campaign_id": 7}),
        ] {
            c.post(api.url("/sends/id/create"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
        }
        // A key in the wrong scheme, and a key as the body.
        c.post(api.url("/sends/id/create"))
            .header("Authorization", format!("Basic {key}"))
            .body(key.clone())
            .send()
            .await
            .unwrap();
    }
    // Unknown keys and wrong admin tokens; a key in the query string of an unknown path.
    let wrong_admin = format!("{ADMIN_TOKEN}-wrong");
    let unknown_key = "0123456789abcdef-unknown-key";
    c.post(api.url("/sends/id/create"))
        .bearer_auth(unknown_key)
        .json(&json!({"campaign_id": "x"}))
        .send()
        .await
        .unwrap();
    c.get(api.url(&format!("/admin/workspaces/{ws}")))
        .bearer_auth(&wrong_admin)
        .send()
        .await
        .unwrap();
    // The admin API: reads, listing, revocation, a revoked key's use.
    api.used_today(ws).await;
    api.all_send_ids(ws, &tenant.campaign_id).await;
    let resp = c
        .delete(api.url(&format!("/admin/api-keys/{}", tenant.key_id)))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = c
        .post(api.url("/sends/id/create"))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"campaign_id": tenant.campaign_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    for path in [
        "/health",
        "/metrics",
        "/openapi.json",
        "/admin/openapi.json",
        "/docs",
    ] {
        c.get(api.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
    }

    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    let stdout = proc.stdout.lock().unwrap().clone();
    let stderr = proc.stderr.lock().unwrap().clone();
    assert!(
        stderr.lines().count() > 20,
        "expected a trace log, got:\n{stderr}"
    );

    let mut leaks = Vec::new();
    for (name, secret) in [
        ("admin token", ADMIN_TOKEN),
        ("wrong admin token", wrong_admin.as_str()),
        ("unknown key", unknown_key),
        ("api key", keys[0].as_str()),
        ("api key without permission", keys[1].as_str()),
        ("api key with an allow-list", keys[2].as_str()),
    ] {
        let n = occurrences(&stdout, secret) + occurrences(&stderr, secret);
        if n > 0 {
            leaks.push(format!("{name} appears {n} times in the output"));
        }
        let on_disk = found_in_dir(&data, secret.as_bytes());
        if !on_disk.is_empty() {
            leaks.push(format!("{name} is stored in clear in {on_disk:?}"));
        }
    }
    // The demo key: shown in the banner, nowhere else — in text the key line and the curl
    // example, in JSON the one event's demo.api_key.
    if occurrences(&stderr, &demo_key) > 0 {
        leaks.push("the demo key appears in the log".into());
    }
    let shown = if setup.json { 1 } else { 2 };
    if occurrences(&stdout, &demo_key) != shown {
        leaks.push(format!(
            "the demo key appears {} times on stdout (the banner shows it {shown} times)",
            occurrences(&stdout, &demo_key)
        ));
    }
    if !found_in_dir(&data, demo_key.as_bytes()).is_empty() {
        leaks.push("the demo key is stored in clear".into());
    }
    if setup.json {
        for line in stderr.lines() {
            if serde_json::from_str::<serde_json::Value>(line).is_err() {
                leaks.push(format!("a log line is not JSON: {line}"));
            }
        }
    }
    println!(
        "secrets ({setup:?}): {} log lines at trace level searched for 6 secrets and the demo key; {} leaks",
        stderr.lines().count(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");
}
