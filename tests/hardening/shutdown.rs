//! Graceful shutdown: SIGTERM under load stops accepting, lets in-flight requests finish,
//! flushes and exits 0; every 200 answered is there after a restart.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sendid_test_support::process::Proc;

const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_exits_0_and_keeps_every_answered_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut proc = Proc::start_admin(&data);
    let api = proc.api();
    let tenant = api.tenant(1_000_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let api = api.clone();
            let tenant = tenant.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut acked, mut unanswered, mut refused) = (Vec::new(), 0u64, 0u64);
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let send_id = format!("term-c{c}-{n}");
                    match api
                        .create(&tenant.api_key, &tenant.campaign_id, &send_id)
                        .await
                    {
                        Ok(r) if r.status == 200 => acked.push(send_id),
                        // 503 is allowed while storage shuts down; it acknowledges nothing.
                        Ok(r) if r.status == 503 => refused += 1,
                        Ok(r) => panic!("unexpected answer {} {}", r.status, r.body),
                        Err(_) => {
                            unanswered += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (acked, unanswered, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let signalled = Instant::now();
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(20));
    let took = signalled.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut acked = HashSet::new();
    let (mut unanswered, mut refused) = (0, 0);
    for c in clients {
        let (a, u, r) = c.await.unwrap();
        acked.extend(a);
        unanswered += u;
        refused += r;
    }
    let log = proc.output();
    assert_eq!(status.code(), Some(0), "exit status {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");

    let proc = Proc::start_admin(&data);
    let api = proc.api();
    let stored: HashSet<String> = api
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await
        .into_iter()
        .collect();
    let lost = acked.difference(&stored).count();
    println!(
        "SIGTERM under load: exit 0 after {took:?}; {} acknowledged, {} stored, {lost} lost; \
         {refused} answered 503, {unanswered} requests refused a connection after shutdown began",
        acked.len(),
        stored.len()
    );
    assert!(acked.len() > 50, "too little load: {}", acked.len());
    assert_eq!(lost, 0, "acknowledged writes lost across SIGTERM");
    assert_eq!(
        api.used_today(&tenant.workspace_id).await,
        stored.len() as u64
    );
}
