//! docs/contract.md §3 "Storage faults", a full disk: the data directory on a size-limited tmpfs
//! (mounted by the test; it needs root, so it is skipped with the reason otherwise and fails
//! under `CI=true`), 16 writers, the disk filled up and freed again — once with the log
//! elsewhere (pipes), once with the log on the same full filesystem. Every answer is 200 or 503
//! JSON (none dropped), `/health` is 503 while the disk is full, 200s come back within 5 s of
//! freeing space without a restart, and after a restart every acknowledged pair is listed and
//! the quota spent is what the pairs stored count.
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sendid_test_support::process::{Api, Proc};
use sendid_test_support::{cannot_run, Tenant, ADMIN_TOKEN};

const WRITERS: usize = 16;

/// A tmpfs of `mib` MiB mounted on a temporary directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u64) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return cannot_run(
                "a full disk needs a tmpfs mounted by root (run as root, as CI does)",
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => cannot_run(&format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => cannot_run(&format!("cannot run mount: {e}")),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = file.sync_all();
}

#[derive(Default)]
struct Tally {
    acked: HashSet<String>,
    ok: u64,
    unavailable: u64,
    /// Anything else: another status, a body that is not the JSON expected, no answer.
    wrong: Vec<String>,
}

/// `WRITERS` clients creating new pairs until `stop`; every answer judged.
fn writers(
    api: &Api,
    tenant: &Tenant,
    phase: &str,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|c| {
            let (api, tenant, stop, tally) =
                (api.clone(), tenant.clone(), stop.clone(), tally.clone());
            let phase = phase.to_string();
            tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let send_id = format!("{phase}-{c}-{n}");
                    let answer = api
                        .create(&tenant.api_key, &tenant.campaign_id, &send_id)
                        .await;
                    let mut t = tally.lock().unwrap();
                    match answer {
                        Ok(a) if a.status == 200 && a.body["send_id"] == send_id.as_str() => {
                            t.ok += 1;
                            t.acked.insert(send_id);
                        }
                        Ok(a) if a.status == 503 && a.body["message"].is_string() => {
                            t.unavailable += 1
                        }
                        Ok(a) => t.wrong.push(format!("{send_id}: {} {}", a.status, a.body)),
                        Err(e) => t.wrong.push(format!("{send_id}: no answer ({e})")),
                    }
                }
            })
        })
        .collect()
}

async fn run_phase(
    api: &Api,
    tenant: &Tenant,
    phase: &str,
    tally: &Arc<Mutex<Tally>>,
    until: impl std::future::Future<Output = ()>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = writers(api, tenant, phase, stop.clone(), tally.clone());
    until.await;
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.unwrap();
    }
}

async fn health(api: &Api) -> (u16, String) {
    match api.client.get(api.url("/health")).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

async fn full_disk(log_on_the_same_fs: bool) {
    let Some(fs) = Tmpfs::mount(48) else {
        return;
    };
    let data = fs.path().join("data");
    let log: PathBuf = fs.path().join("sendid.log");
    let args = ["--admin-token", ADMIN_TOKEN, "--log", "info"];
    let mut proc = if log_on_the_same_fs {
        Proc::start_logging_to(&data, &args, &log)
    } else {
        Proc::start(&data, &args, &[])
    };
    let api = proc.api();
    let tenant = api.tenant(10_000_000).await;
    let tally = Arc::new(Mutex::new(Tally::default()));

    // Writing normally for a moment, then the disk fills up under the writers.
    let filler = fs.path().join("filler");
    let full_for = Duration::from_secs(4);
    let healths = Arc::new(Mutex::new(Vec::new()));
    let (a, t, h) = (api.clone(), tally.clone(), healths.clone());
    let filler2 = filler.clone();
    run_phase(&api, &tenant, "full", &tally, async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tokio::task::spawn_blocking(move || fill(&filler2))
            .await
            .unwrap();
        let filled = Instant::now();
        while filled.elapsed() < full_for {
            let seen_503 = t.lock().unwrap().unavailable > 0;
            let got = health(&a).await;
            h.lock().unwrap().push((seen_503, got));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    {
        let t = tally.lock().unwrap();
        println!(
            "disk full: {} answered 200, {} answered 503, {} wrong",
            t.ok,
            t.unavailable,
            t.wrong.len()
        );
        assert!(
            t.wrong.is_empty(),
            "answers neither 200 nor 503 JSON: {:?}",
            &t.wrong[..t.wrong.len().min(10)]
        );
        assert!(t.unavailable > 0, "the full disk never refused a write");
    }
    // While full (after the first refused write), /health is 503 and names the cause.
    let (status, body) = health(&api).await;
    assert_eq!(status, 503, "/health while the disk is full: {body}");
    assert!(
        body.contains("cannot write") && body.contains("space"),
        "/health should name the cause: {body}"
    );
    let late: Vec<_> = healths
        .lock()
        .unwrap()
        .iter()
        .skip_while(|(seen, _)| !seen)
        .skip(5)
        .filter(|(_, (s, _))| *s != 503)
        .cloned()
        .collect();
    assert!(late.is_empty(), "/health not 503 while full: {late:?}");

    // Space freed: 200s again within 5 s, with no restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let mut recovered = None;
    for n in 0.. {
        let a = api
            .create(&tenant.api_key, &tenant.campaign_id, &format!("after-{n}"))
            .await
            .expect("an answer after freeing space");
        assert!(matches!(a.status, 200 | 503), "{} {}", a.status, a.body);
        if a.status == 200 {
            tally.lock().unwrap().acked.insert(format!("after-{n}"));
            recovered = Some(freed.elapsed());
            break;
        }
        if freed.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("no 200 within 10 s of freeing space");
    println!("first 200 {recovered:?} after freeing space");
    assert!(recovered < Duration::from_secs(5), "took {recovered:?}");
    assert_eq!(health(&api).await.0, 200, "/health after recovery");
    run_phase(
        &api,
        &tenant,
        "again",
        &tally,
        tokio::time::sleep(Duration::from_secs(1)),
    )
    .await;
    {
        let t = tally.lock().unwrap();
        assert!(
            t.wrong.is_empty(),
            "{:?}",
            &t.wrong[..t.wrong.len().min(10)]
        );
    }
    let metrics = api.metrics().await;
    let faults: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sendid_storage_write_faults_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    println!("storage write faults counted: {faults}");
    assert!(
        faults >= 1 && metrics.contains("sendid_storage_writable 1"),
        "metrics:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("storage") || l.contains("flush_failures"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // After a restart: every acknowledged pair is there, and the quota spent is what is stored.
    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(20)).success());
    let proc = Proc::start_admin(&data);
    let api = proc.api();
    let listed: HashSet<String> = api
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await
        .into_iter()
        .collect();
    let acked = tally.lock().unwrap().acked.clone();
    let missing: Vec<_> = acked.difference(&listed).take(10).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let used = api.used_today(&tenant.workspace_id).await;
    println!(
        "after restart: {} acknowledged, {} stored, {used} units spent",
        acked.len(),
        listed.len()
    );
    assert_eq!(
        used,
        listed.len() as u64,
        "quota spent against pairs stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_json_reports_it_on_health_and_recovers_by_itself() {
    full_disk(false).await;
}

/// The log on the same full filesystem: its writer (`telemetry::sink`) drops and counts what it
/// cannot write, and no answer waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_under_the_log_too_drops_no_answer() {
    full_disk(true).await;
}
