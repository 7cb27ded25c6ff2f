//! Logging never fails a request (docs/contract.md §3, "Logging"): with stderr on a device that
//! refuses every write, or on a pipe nobody reads, every request is answered at once, SIGTERM
//! still stops the process, the lines lost are counted in `/metrics`, and once the sink takes
//! lines again the log says how many were lost.
use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sendid_test_support::process::{Api, Proc};
use sendid_test_support::{Tenant, ADMIN_TOKEN};

const CLIENTS: usize = 16;
/// Far more than a pipe holds: each request logs a line of about 250 bytes.
const PER_CLIENT: usize = 150;
/// An answer held up by the log would wait for it indefinitely; one that is not, a few ms.
const PROMPT: Duration = Duration::from_secs(5);

fn args(format: &str) -> Vec<&str> {
    vec![
        "--admin-token",
        ADMIN_TOKEN,
        "--log",
        "info",
        "--log-format",
        format,
        "--shutdown-grace-seconds",
        "5",
    ]
}

/// 16 clients send new pairs, repeats, refusals and health checks; every one must be answered
/// as usual and promptly. Returns the number of requests sent.
async fn load(api: &Api, tenant: &Tenant, tag: &str) -> usize {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (api, tenant, tag) = (api.clone(), tenant.clone(), tag.to_string());
            tokio::spawn(async move {
                for n in 0..PER_CLIENT {
                    let started = Instant::now();
                    let (key, send_id, want) = match n % 4 {
                        0 | 1 => (tenant.api_key.as_str(), format!("{tag}-{c}-{n}"), 200),
                        2 => (tenant.api_key.as_str(), format!("{tag}-{c}-0"), 200),
                        _ => ("not-a-key-0123456789", format!("{tag}-{c}-{n}"), 401),
                    };
                    let r = api
                        .create(key, &tenant.campaign_id, &send_id)
                        .await
                        .unwrap_or_else(|e| panic!("no answer to {send_id}: {e}"));
                    assert_eq!(r.status, want, "{send_id}: {}", r.body);
                    let health = api.client.get(api.url("/health")).send().await;
                    assert_eq!(health.map(|h| h.status().as_u16()).ok(), Some(200));
                    assert!(
                        started.elapsed() < PROMPT,
                        "{send_id} took {:?}: the log held the answer up",
                        started.elapsed()
                    );
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    CLIENTS * PER_CLIENT * 2
}

async fn dropped_lines(api: &Api) -> u64 {
    let text = api.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("sendid_log_lines_dropped_total "))
        .unwrap_or_else(|| panic!("no sendid_log_lines_dropped_total in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// SIGTERM, and the process is gone within the grace period and the log's last second.
fn stops_on_sigterm(proc: &mut Proc) {
    let signalled = Instant::now();
    proc.signal(libc::SIGTERM);
    let status = proc.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit {status:?}");
    println!("stopped {:?} after SIGTERM", signalled.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_on_a_full_device_fails_no_answer_and_counts_every_line_lost() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/full refuses every write with ENOSPC, as a full filesystem does.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut proc =
        Proc::start_with_stderr(&dir.path().join("data"), &args("json"), Stdio::from(full));
    let api = proc.api();
    let tenant = api.tenant(1_000_000).await;
    let sent = load(&api, &tenant, "full").await;
    // Every access line was lost (the three admin calls' too), and each was counted — by the
    // log's own thread, which may still be working through its queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut dropped = dropped_lines(&api).await;
    while dropped < sent as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        dropped = dropped_lines(&api).await;
    }
    assert!(dropped >= sent as u64, "{dropped} dropped of {sent}");
    println!("{sent} requests answered, {dropped} log lines counted as dropped");
    stops_on_sigterm(&mut proc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_pipe_nobody_reads_holds_up_no_answer_nor_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut proc =
        Proc::start_with_stderr(&dir.path().join("data"), &args("text"), Stdio::from(writer));
    let api = proc.api();
    let tenant = api.tenant(1_000_000).await;
    let sent = load(&api, &tenant, "stuck").await;
    let dropped = dropped_lines(&api).await;
    assert!(dropped > 0, "{sent} requests and no line dropped?");
    println!("{sent} requests answered, {dropped} log lines dropped while the pipe was full");
    // Nobody has read the pipe: the log's writer is blocked in write(2) right now.
    stops_on_sigterm(&mut proc);
    drop(reader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lines_lost_to_a_stuck_pipe_are_reported_once_it_drains() {
    let dir = tempfile::tempdir().unwrap();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut proc =
        Proc::start_with_stderr(&dir.path().join("data"), &args("json"), Stdio::from(writer));
    let api = proc.api();
    let tenant = api.tenant(1_000_000).await;
    load(&api, &tenant, "drain").await;
    let dropped = dropped_lines(&api).await;
    assert!(dropped > 0);
    // Now read: the queue is written out, then the report, then the lines that follow.
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 65536];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                return;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let text = log.lock().unwrap().clone();
        let report = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["target"] == "sendid::log");
        if let Some(report) = report {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "no report of the lost lines:\n{text}"
        );
        let _ = api.client.get(api.url("/health")).send().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report["level"], "WARN", "{report}");
    assert!(report["dropped"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["dropped_total"].as_u64().unwrap() >= dropped,
        "{report}"
    );
    stops_on_sigterm(&mut proc);
    // Everything that got through is whole JSON lines: a dropped line is dropped whole.
    let text = log.lock().unwrap().clone();
    for line in text.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}
