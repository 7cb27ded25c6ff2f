//! The primary lost under load. Two sendid instances on HAProxy's port, 16 writers each
//! repeating its pair after a 503, 429 or lost answer until it is acknowledged; the leader's
//! Patroni and PostgreSQL killed (SIGKILL), later — once the killed node is back as the standby —
//! the new leader frozen (SIGSTOP, SIGCONT after the failover). Every acknowledged send_id is
//! listed afterwards, units spent = pairs stored, every answer is a 200 or a 503/429 JSON within
//! `--database-timeout` + 1 s, and the longest time without a 200 is printed per fault.
//!
//! `SENDID_HA_SYNCHRONOUS=false` runs it on asynchronous replication (`synchronous_mode: false`):
//! acknowledged pairs may then be lost, and the test prints how many instead of failing on it.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::HaCluster;
use sendid_test_support::process::{start_on_database, Api, Proc};
use sendid_test_support::Tenant;

const DATABASE_TIMEOUT: u64 = 5;
const WRITERS: usize = 16;
/// Load before a fault, and after service is back before the next step.
const STEADY: Duration = Duration::from_secs(3);

/// One answer (or its absence) as a writer saw it.
struct Answer {
    /// Since the test's start.
    at: Duration,
    took: Duration,
    status: Option<u16>,
    /// For anything but a 200: a JSON body with a `message`; for a 503: `Retry-After` too.
    well_formed: bool,
    error: Option<String>,
}

#[derive(Default)]
struct Writer {
    answers: Vec<Answer>,
    /// send_id and when its 200 came.
    acked: Vec<(String, Duration)>,
    /// 200s whose body named another send_id.
    mismatched: Vec<String>,
}

struct Clock {
    t0: Instant,
    /// Milliseconds since t0 of the latest 200.
    last_ok: AtomicU64,
}

impl Clock {
    fn now(&self) -> Duration {
        self.t0.elapsed()
    }
}

async fn send(client: &reqwest::Client, api: &Api, t: &Tenant, send_id: &str) -> Answer {
    let started = Instant::now();
    let resp = client
        .post(api.url("/sends/id/create"))
        .bearer_auth(&t.api_key)
        .json(&json!({"campaign_id": t.campaign_id, "send_id": send_id}))
        .send()
        .await;
    let mut answer = Answer {
        at: Duration::ZERO,
        took: Duration::ZERO,
        status: None,
        well_formed: false,
        error: None,
    };
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r.headers().contains_key("retry-after");
            match r.json::<Value>().await {
                Ok(body) => {
                    answer.status = Some(status);
                    answer.well_formed = match status {
                        200 => body["send_id"] == send_id,
                        503 => retry_after && body["message"].is_string(),
                        _ => body["message"].is_string(),
                    };
                    if !answer.well_formed {
                        answer.error = Some(format!("{status} {body}"));
                    }
                }
                Err(e) => answer.error = Some(format!("{status}: body: {e}")),
            }
        }
        Err(e) => answer.error = Some(e.to_string()),
    }
    answer.took = started.elapsed();
    answer
}

fn writers(
    apis: &[Api],
    tenant: &Tenant,
    clock: Arc<Clock>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Writer>> {
    // Longer than the bound the test checks, so a slow answer is measured rather than cut.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(DATABASE_TIMEOUT + 10))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    (0..WRITERS)
        .map(|w| {
            let api = apis[w % apis.len()].clone();
            let (t, client, clock, stop) =
                (tenant.clone(), client.clone(), clock.clone(), stop.clone());
            tokio::spawn(async move {
                let mut out = Writer::default();
                for n in 0.. {
                    let send_id = format!("w{w}-{n}");
                    // The same pair again until it is acknowledged (contract §1 step 6: a
                    // repeat of a stored pair answers 200 without spending).
                    while !stop.load(Ordering::SeqCst) {
                        let mut a = send(&client, &api, &t, &send_id).await;
                        a.at = clock.now();
                        let ok = a.status == Some(200);
                        if ok && a.well_formed {
                            out.acked.push((send_id.clone(), a.at));
                            clock
                                .last_ok
                                .store(a.at.as_millis() as u64, Ordering::SeqCst);
                        } else if ok {
                            out.mismatched.push(send_id.clone());
                        }
                        out.answers.push(a);
                        if ok {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if stop.load(Ordering::SeqCst) {
                        return out;
                    }
                }
                out
            })
        })
        .collect()
}

/// Waits until `leader` is no longer the one HAProxy routes to and a 200 came after that.
async fn wait_failed_over(cluster: &HaCluster, clock: &Clock, old: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(new) = cluster.leader().await.filter(|l| *l != old) {
            let since = clock.now().as_millis() as u64;
            while clock.last_ok.load(Ordering::SeqCst) < since {
                assert!(
                    Instant::now() < deadline,
                    "no 200 after the failover\n{}",
                    cluster.logs()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return new;
        }
        assert!(Instant::now() < deadline, "no failover\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The longest time without a 200 that overlaps `window`, from the sorted times of every 200.
fn longest_gap(oks: &[Duration], window: (Duration, Duration)) -> Duration {
    oks.windows(2)
        .filter(|p| p[1] > window.0 && p[0] < window.1)
        .map(|p| p[1] - p[0])
        .max()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_primary_killed_or_frozen_under_load_loses_nothing_acknowledged() {
    let synchronous = std::env::var("SENDID_HA_SYNCHRONOUS").map_or(true, |v| v != "false");
    let Some(mut cluster) = HaCluster::start(synchronous).await else {
        return;
    };
    let url = cluster.url();
    let timeout = DATABASE_TIMEOUT.to_string();
    let procs: Vec<Proc> = (0..2)
        .map(|_| start_on_database(&url, &["--database-timeout", &timeout]))
        .collect();
    let apis: Vec<Api> = procs.iter().map(Proc::api).collect();
    let tenant = apis[0].tenant(100_000_000).await;
    // The key reaches the second instance within a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    while apis[1]
        .create(&tenant.api_key, &tenant.campaign_id, "probe")
        .await
        .unwrap()
        .status
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "the key did not reach instance 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let clock = Arc::new(Clock {
        t0: Instant::now(),
        last_ok: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let load = writers(&apis, &tenant, clock.clone(), stop.clone());
    tokio::time::sleep(STEADY).await;

    // The leader killed.
    let first = cluster.leader().await.expect("a leader");
    let killed_at = clock.now();
    cluster.kill(first);
    let second = wait_failed_over(&cluster, &clock, first).await;
    tokio::time::sleep(STEADY).await;
    // The killed node back, as the standby of the new leader.
    cluster.start_patroni(first);
    cluster.wait_replicated(Duration::from_secs(120)).await;
    tokio::time::sleep(STEADY).await;

    // The new leader frozen, continued once the other node has taken over.
    let frozen_at = clock.now();
    cluster.freeze(second);
    wait_failed_over(&cluster, &clock, second).await;
    tokio::time::sleep(STEADY).await;
    let thawed_at = clock.now();
    cluster.thaw(second);
    tokio::time::sleep(STEADY + STEADY).await;
    stop.store(true, Ordering::SeqCst);
    let ended_at = clock.now();

    let mut answers = vec![];
    let mut acked: Vec<(String, Duration)> = vec![];
    let mut mismatched = vec![];
    for w in load {
        let w = w.await.unwrap();
        answers.extend(w.answers);
        acked.extend(w.acked);
        mismatched.extend(w.mismatched);
    }
    for api in &apis {
        api.wait_healthy(Duration::from_secs(30), "sendid healthy after the faults")
            .await;
    }
    let listed: HashSet<String> = apis[1]
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await
        .into_iter()
        .collect();
    let used = apis[0].used_today(&tenant.workspace_id).await;

    let mut oks: Vec<Duration> = acked.iter().map(|(_, at)| *at).collect();
    oks.sort();
    let mode = if synchronous {
        "synchronous"
    } else {
        "asynchronous"
    };
    let phases = [
        ("kill", killed_at, (Duration::ZERO, frozen_at)),
        ("freeze", frozen_at, (frozen_at, ended_at)),
    ];
    for (fault, at, window) in phases {
        let in_phase: Vec<&String> = acked
            .iter()
            .filter(|(_, t)| *t >= window.0 && *t < window.1)
            .map(|(s, _)| s)
            .collect();
        let lost = in_phase.iter().filter(|s| !listed.contains(**s)).count();
        let unavailable = answers
            .iter()
            .filter(|a| a.at >= window.0 && a.at < window.1 && a.status != Some(200))
            .count();
        println!(
            "HA {mode} {fault}: longest time without a 200 {:.1} s (fault at {:.1} s), \
             acknowledged {}, lost {lost}, non-200 answers {unavailable}",
            longest_gap(&oks, (at, window.1)).as_secs_f64(),
            at.as_secs_f64(),
            in_phase.len(),
        );
    }
    let before = oks.iter().filter(|t| **t < killed_at).count();
    let after_thaw = oks.iter().filter(|t| **t > thawed_at).count();
    println!(
        "HA {mode}: {:.0} pairs/s before the first fault; after the thaw (at {:.1} s) {:.0} pairs/s, \
         longest time without a 200 {:.1} s",
        before as f64 / killed_at.as_secs_f64(),
        thawed_at.as_secs_f64(),
        after_thaw as f64 / (ended_at - thawed_at).as_secs_f64(),
        longest_gap(&oks, (thawed_at, ended_at)).as_secs_f64(),
    );

    let limit = Duration::from_secs(DATABASE_TIMEOUT + 1);
    let bad: Vec<String> = answers
        .iter()
        .filter(|a| !a.well_formed || !matches!(a.status, Some(200 | 503 | 429)) || a.took > limit)
        .take(10)
        .map(|a| {
            format!(
                "at {:?} after {:?}: {:?} {}",
                a.at,
                a.took,
                a.status,
                a.error.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "answers that are not a 200 or a 503/429 JSON within {limit:?}: {bad:#?}"
    );
    assert!(
        mismatched.is_empty(),
        "200s naming another pair: {mismatched:?}"
    );
    let lost: Vec<&String> = acked
        .iter()
        .map(|(s, _)| s)
        .filter(|s| !listed.contains(*s))
        .collect();
    if synchronous {
        assert!(lost.is_empty(), "acknowledged but not listed: {lost:?}");
    }
    assert_eq!(
        used,
        listed.len() as u64,
        "units spent = pairs stored (the probe included)"
    );
    drop(procs);
}
