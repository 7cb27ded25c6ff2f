//! docs/contract.md §3 "Storage faults", a database that hangs: every process of PostgreSQL
//! stopped with SIGSTOP (it neither answers nor refuses). New pairs and repeats answer 503 JSON
//! within `--database-timeout` plus 1 s — never 408 —, `/health` says 503; after SIGCONT the
//! same requests answer 200 without a restart, and no pair answered 503 is spent twice by its
//! retry (an answer lost after `COMMIT` was sent is found by the retry).
use std::time::{Duration, Instant};

use sendid_test_support::pg;
use sendid_test_support::process::{own_cluster, start_on_database};

const TIMEOUT_SECONDS: u64 = 2;

/// SIGCONT on drop, so a failing test does not leave the cluster stopped.
struct Stopped<'a>(&'a pg::Cluster);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.signal_all(libc::SIGCONT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_database_answers_503_within_the_timeout_and_retries_spend_once() {
    let Some((cluster, url)) = own_cluster().await else {
        return;
    };
    let timeout = TIMEOUT_SECONDS.to_string();
    let proc = start_on_database(&url, &["--database-timeout", &timeout]);
    let api = proc.api();
    let tenant = api.tenant(1000).await;
    let before = api
        .create(&tenant.api_key, &tenant.campaign_id, "before")
        .await
        .unwrap();
    assert_eq!(before.status, 200, "{}", before.body);

    cluster.signal_all(libc::SIGSTOP);
    let stopped = Stopped(&cluster);
    let news: Vec<String> = (0..6).map(|i| format!("hung-{i}")).collect();
    let asks: Vec<&str> = news
        .iter()
        .map(String::as_str)
        .chain(["before", "before"])
        .collect();
    let answers = futures_util::future::join_all(asks.iter().map(|send_id| {
        let api = api.clone();
        let key = tenant.api_key.clone();
        let campaign = tenant.campaign_id.clone();
        async move {
            let started = Instant::now();
            let a = api.create(&key, &campaign, send_id).await;
            (send_id.to_string(), a, started.elapsed())
        }
    }))
    .await;
    let limit = Duration::from_secs(TIMEOUT_SECONDS + 1);
    for (send_id, answer, took) in &answers {
        let a = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{send_id}: no answer: {e}"));
        println!("{send_id}: {} in {took:?}: {}", a.status, a.body);
        assert_eq!(
            a.status, 503,
            "{send_id} while the database hangs: {}",
            a.body
        );
        assert!(a.body["message"].is_string(), "{}", a.body);
        assert!(
            *took <= limit,
            "{send_id} took {took:?}, more than {limit:?}"
        );
    }
    let health = api.client.get(api.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503, "/health while the database hangs");

    drop(stopped);
    api.wait_healthy(
        Duration::from_secs(20),
        "/health did not recover after SIGCONT",
    )
    .await;
    // The retries: each pair answers 200, and is spent exactly once whatever became of the
    // attempt that answered 503.
    for send_id in news.iter().chain([&"before".to_string()]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = api
                .create(&tenant.api_key, &tenant.campaign_id, send_id)
                .await
                .unwrap();
            if a.status == 200 {
                break;
            }
            assert_eq!(a.status, 503, "{send_id} after SIGCONT: {}", a.body);
            assert!(
                Instant::now() < deadline,
                "{send_id}: still 503 after SIGCONT"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let used = api.used_today(&tenant.workspace_id).await;
    assert_eq!(
        used,
        1 + news.len() as u64,
        "units spent for {} pairs",
        1 + news.len()
    );
    let stored = api
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await;
    assert_eq!(stored.len(), 1 + news.len(), "{stored:?}");
}
