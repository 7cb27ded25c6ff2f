//! docs/contract.md §1 "Durability" under `kill -9`: 16 clients write distinct pairs, the process is
//! SIGKILLed at a random moment, restarted on the same data directory; every send_id answered
//! 200 must be there, and the quota spent must not come back.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sendid_test_support::process::Proc;

const ROUNDS: usize = 6;
const CLIENTS: usize = 16;

fn utc_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400
}

#[derive(Default)]
struct ClientResult {
    acked: Vec<String>,
    sent: u64,
    max_used: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_acknowledged_write_and_gives_back_no_quota() {
    let mut rng = Rng::from_env_or_clock("kill -9");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let day = utc_day();

    let mut proc = Proc::start_admin(&data);
    let tenant = proc.api().tenant(100_000_000).await;
    let mut acked: HashSet<String> = HashSet::new();
    let mut sent = 0u64;
    let mut max_used_seen = 0u64;

    for round in 0..ROUNDS {
        let api = proc.api();
        let killed = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let api = api.clone();
                let tenant = tenant.clone();
                let killed = killed.clone();
                tokio::spawn(async move {
                    let mut out = ClientResult::default();
                    for n in 0.. {
                        if killed.load(Ordering::SeqCst) {
                            break;
                        }
                        let send_id = format!("r{round}-c{c}-{n}");
                        out.sent += 1;
                        match api
                            .create(&tenant.api_key, &tenant.campaign_id, &send_id)
                            .await
                        {
                            Ok(r) if r.status == 200 => {
                                assert_eq!(r.body["send_id"], send_id.as_str());
                                out.max_used =
                                    out.max_used.max(r.used.expect("rate-limit headers"));
                                out.acked.push(send_id);
                            }
                            Ok(r) => {
                                panic!("round {round}: unexpected answer {} {}", r.status, r.body)
                            }
                            // No answer: the process was killed under this request.
                            Err(_) => break,
                        }
                    }
                    out
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.range(150, 900))).await;
        proc.kill9();
        killed.store(true, Ordering::SeqCst);
        let mut round_acked = 0;
        for client in clients {
            let r = client.await.expect("client task");
            sent += r.sent;
            max_used_seen = max_used_seen.max(r.max_used);
            round_acked += r.acked.len();
            acked.extend(r.acked);
        }
        println!("kill -9 round {round}: {round_acked} writes acknowledged before SIGKILL");

        proc = Proc::start_admin(&data);
        let api = proc.api();
        let stored: HashSet<String> = api
            .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
            .await
            .into_iter()
            .collect();
        let lost: Vec<&String> = acked.difference(&stored).collect();
        let used = api.used_today(&tenant.workspace_id).await;
        println!(
            "kill -9 after round {round}: acknowledged {} (total), stored {}, lost {}, used_today {used}",
            acked.len(),
            stored.len(),
            lost.len()
        );
        assert!(
            lost.is_empty(),
            "{} acknowledged send_ids are gone after kill -9, e.g. {:?}",
            lost.len(),
            lost.iter().take(5).collect::<Vec<_>>()
        );
        if utc_day() == day {
            assert!(
                used >= max_used_seen && used >= acked.len() as u64,
                "quota was given back: used_today {used} after restart, but {max_used_seen} was \
                 reported used before the kill ({} acknowledged)",
                acked.len()
            );
            // The pair and its quota unit are one atomic batch: neither survives without the other.
            assert_eq!(
                used,
                stored.len() as u64,
                "used_today disagrees with the pairs stored"
            );
        } else {
            println!("kill -9: the UTC day changed during the test; quota checks skipped");
        }
    }
    proc.kill9();
    assert!(
        acked.len() > 100,
        "too few writes acknowledged ({}) to mean anything",
        acked.len()
    );
    println!(
        "kill -9 summary: {ROUNDS} rounds, {CLIENTS} clients, {sent} requests sent, {} acknowledged, 0 lost",
        acked.len()
    );
}

/// A small deterministic generator (xorshift64*), seeded from the clock and printed, so a run
/// can be repeated with `SENDID_HARDENING_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock(what: &str) -> Self {
        let seed = std::env::var("SENDID_HARDENING_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("{what}: seed {seed} (replay with SENDID_HARDENING_SEED={seed})");
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
