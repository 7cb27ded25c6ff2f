//! docs/contract.md §3 "Storage faults", a damaged store: bytes overwritten inside sled's data
//! file, and the file truncated. A start refuses (exit 1) naming the damage and leaves the
//! directory byte for byte as it was; `sendid check` reports the damage; an intact store checks
//! clean and says what it holds.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sendid_test_support::process::{bin, run_to_exit, Proc};

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_file() {
            out.insert(name, std::fs::read(entry.path()).unwrap());
        } else {
            for (sub, bytes) in snapshot(&entry.path()) {
                out.insert(format!("{name}/{sub}"), bytes);
            }
        }
    }
    out
}

fn check(data: &Path) -> (i32, String) {
    let out = Command::new(bin())
        .args(["check", "--data-dir"])
        .arg(data)
        .env_remove("SENDID_DATA_DIR")
        .output()
        .expect("running sendid check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("sendid check:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// A store that held a few workspaces and pairs, stopped cleanly.
async fn used_store(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    let mut proc = Proc::start_admin(&data);
    let api = proc.api();
    for w in 0..3 {
        let tenant = api.tenant(1000).await;
        for n in 0..40 {
            let a = api
                .create(&tenant.api_key, &tenant.campaign_id, &format!("w{w}-{n}"))
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{}", a.body);
        }
    }
    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(20)).success());
    data
}

fn refuses_and_touches_nothing(data: &Path, names: &str) {
    let before = snapshot(data);
    let (status, stdout, stderr) = run_to_exit(data, &["--log", "warn"], Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains("A new store"),
        "taken for a new store:\n{stdout}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("is damaged") && stderr.contains(names),
        "the refusal should name the damage ({names:?}):\n{stderr}"
    );
    println!("refused: {}", stderr.trim());
    assert!(
        snapshot(data) == before,
        "the refused start changed the directory"
    );
    let (code, report) = check(data);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("DAMAGED") && report.contains(names),
        "{report}"
    );
    assert!(
        snapshot(data) == before,
        "sendid check changed the directory"
    );
}

#[tokio::test]
async fn an_intact_store_checks_clean_and_says_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let data = used_store(dir.path()).await;
    let before = snapshot(&data);
    let (code, report) = check(&data);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("whole: yes"), "{report}");
    // The demo workspace and three more; their campaigns and keys; 120 pairs.
    assert!(
        report.contains("4 workspaces, 4 campaigns, 4 API keys (0 revoked), 120 pairs"),
        "{report}"
    );
    assert!(
        snapshot(&data) == before,
        "sendid check changed the directory"
    );
    // And it starts again, holding it all.
    let proc = Proc::start_admin(&data);
    assert!(!proc.output().contains("A new store"));
}

#[tokio::test]
async fn bytes_overwritten_inside_the_data_file_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = used_store(dir.path()).await;
    let db = data.join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    // A few KiB in the middle, the length unchanged.
    let mid = bytes.len() / 2;
    let end = (mid + 4096).min(bytes.len());
    for (i, b) in bytes[mid..end].iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8 ^ 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    refuses_and_touches_nothing(&data, "overwritten");
}

#[tokio::test]
async fn a_truncated_data_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = used_store(dir.path()).await;
    let db = data.join("db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    refuses_and_touches_nothing(&data, "truncated");
}
