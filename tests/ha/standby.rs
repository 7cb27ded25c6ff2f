//! A database that is a read-only standby is named as such (docs/contract.md §3): at start,
//! exit 1 with the fix; while running — a router that still sends connections to a primary
//! that turned read-only — writes answer 503 JSON with `Retry-After`, `/health` answers 503
//! naming it, and the pool closes those connections instead of reusing them: once the router
//! points at the new primary, writes succeed again while the old one is still read-only.
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use sendid_test_support::pg;
use sendid_test_support::process::{run_to_exit, start_on_database};

/// A PostgreSQL cluster and, on it, a new database (the primary's; `pg_basebackup` copies it).
async fn primary() -> Option<(pg::Cluster, String)> {
    if std::env::var("SENDID_TEST_DATABASE_URL").is_ok() {
        println!("skipping: this test makes a standby of its own cluster");
        return None;
    }
    let cluster = pg::Cluster::start_new()?;
    let url = pg::new_database(&cluster.server_url()).await;
    Some((cluster, url))
}

fn on_port(url: &str, port: u16) -> String {
    let o = PgConnectOptions::from_str(url).unwrap();
    format!(
        "postgres://postgres@127.0.0.1:{port}/{}",
        o.get_database().unwrap()
    )
}

async fn sql(url: &str, statement: &str) {
    let mut conn = PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query(statement).execute(&mut conn).await.unwrap();
    let _ = conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_on_a_read_only_standby_it_exits_1_naming_it_and_the_fix() {
    let Some((primary, url)) = primary().await else {
        return;
    };
    let standby = pg::Cluster::standby_of(&primary).expect("a standby");
    let on_standby = on_port(&url, standby.port);
    let dir = tempfile::tempdir().unwrap();
    let (status, _out, err) = run_to_exit(
        &dir.path().join("unused"),
        &["--database-url", &on_standby],
        Duration::from_secs(30),
    );
    println!("{err}");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("read-only standby"), "{err}");
    assert!(
        err.contains("point --database-url at the primary, or at a router that follows it"),
        "{err}"
    );
    assert!(!err.contains("CREATE TABLE"), "{err}");
}

/// A TCP relay whose destination can change: new connections go to the port set last, open
/// ones stay where they are (a router that lags).
async fn relay(to: Arc<AtomicU16>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let port = to.load(Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    port
}

/// Sessions on the database `url` names other than the caller's.
async fn sessions(url: &str) -> i64 {
    let mut conn = PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_turned_read_only_answers_503_and_its_connections_are_dropped() {
    let Some((old, url)) = primary().await else {
        return;
    };
    let new = pg::Cluster::standby_of(&old).expect("a standby");
    let target = Arc::new(AtomicU16::new(old.port));
    let router = relay(target.clone()).await;
    let proc = start_on_database(&on_port(&url, router), &["--database-timeout", "2"]);
    let api = proc.api();
    let tenant = api.tenant(1000).await;
    for i in 0..20 {
        let a = api
            .create(&tenant.api_key, &tenant.campaign_id, &format!("before-{i}"))
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    }

    // The old primary turns read-only, as a demoted one does; the router still points at it.
    sql(&url, "ALTER SYSTEM SET default_transaction_read_only = on").await;
    sql(&url, "SELECT pg_reload_conf()").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let r = api
            .client
            .post(api.url("/sends/id/create"))
            .bearer_auth(&tenant.api_key)
            .json(&serde_json::json!({"campaign_id": tenant.campaign_id, "send_id": "while-read-only"}))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200);
        assert!(
            Instant::now() < deadline,
            "writes still succeed on a read-only primary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
    let health = api.client.get(api.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("read-only standby"), "{message}");
    assert!(message.contains("--database-url"), "{message}");

    // The standby promoted, the router follows it; the old primary stays read-only, so writes
    // succeed again only on new connections.
    new.promote();
    target.store(new.port, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let a = api
            .create(&tenant.api_key, &tenant.campaign_id, "while-read-only")
            .await
            .unwrap();
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(
            Instant::now() < deadline,
            "writes did not recover: read-only connections reused?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every connection to the read-only server is closed as it is used or given back.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut i = 0;
    while sessions(&url).await > 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections to the read-only server are still open",
            sessions(&url).await
        );
        i += 1;
        let a = api
            .create(&tenant.api_key, &tenant.campaign_id, &format!("after-{i}"))
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.wait_healthy(Duration::from_secs(5), "/health after the router followed")
        .await;
    let listed = api
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await;
    assert!(listed.iter().any(|s| s == "while-read-only"));
}
