//! Storage faults: a second instance, a data directory that cannot be written, a corrupt or
//! foreign one, and a failing flush. A start that cannot work stops at once with one clear line
//! and a non-zero status — never a panic — and a 200 is never given for data not on disk.
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use sendid_test_support::process::{run_to_exit, Proc};
use sendid_test_support::{expect_json, spawn_app};

/// Runs the binary on `data_dir`, expecting a fast failure whose message contains `expected`.
fn assert_start_fails(data_dir: &Path, expected: &str) -> String {
    let started = Instant::now();
    let (status, stdout, stderr) =
        run_to_exit(data_dir, &["--log", "warn"], Duration::from_secs(20));
    let took = started.elapsed();
    assert!(
        !status.success(),
        "sendid started on {}: {stdout}",
        data_dir.display()
    );
    assert_eq!(
        status.code(),
        Some(1),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "sendid panicked instead of reporting:\n{stderr}"
    );
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in the error, got:\n{stderr}"
    );
    assert!(
        !stdout.contains("listening"),
        "it must not claim to listen:\n{stdout}"
    );
    assert!(took < Duration::from_secs(10), "failing took {took:?}");
    println!("refused in {took:?}: {}", stderr.trim());
    stderr
}

#[tokio::test]
async fn a_second_instance_on_the_same_data_dir_fails_fast_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Proc::start_admin(&data);
    assert_start_fails(&data, "is in use by another sendid process");
    // The first one is unharmed.
    let resp = reqwest::get(format!("{}/health", first.base))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn a_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"hello").unwrap();
    assert_start_fails(&file, "it is a file, not a directory");
    assert_start_fails(&file.join("data"), "cannot create data directory");
}

#[test]
fn a_data_dir_that_cannot_be_written_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // root writes through permission bits; the file-instead-of-directory test above covers
        // the unwritable path, and `failing_flush…` covers writes failing at run time.
        println!("SKIPPED read-only data dir: running as root, where chmod does not stop writes");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    assert_start_fails(&data, "cannot open data directory");
    // A read-only parent: the directory cannot even be created.
    let parent = dir.path().join("ro");
    std::fs::create_dir(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
    assert_start_fails(&parent.join("data"), "cannot create data directory");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A data directory that once held a sendid database, stopped cleanly.
fn used_data_dir(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    let mut proc = Proc::start_admin(&data);
    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    data
}

#[test]
fn a_corrupt_database_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = used_data_dir(dir.path());
    let db = data.join("db");
    let len = std::fs::metadata(&db).unwrap().len().max(4096);
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&db, garbage).unwrap();
    assert_start_fails(&data, "corrupt");
}

#[test]
fn a_corrupt_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = used_data_dir(dir.path());
    std::fs::write(data.join("conf"), vec![0xA5; 300]).unwrap();
    assert_start_fails(&data, "data directory");
}

#[test]
fn a_directory_of_other_files_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("home");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("notes.txt"), b"my notes").unwrap();
    std::fs::create_dir(data.join("photos")).unwrap();
    assert_start_fails(&data, "not a sendid data directory");
    // Nothing was written into it.
    let mut names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "photos"]);
}

#[test]
fn a_foreign_sled_database_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("other-app");
    {
        let db = sled::open(&data).unwrap();
        db.insert(b"their-key", b"their-value").unwrap();
        db.flush().unwrap();
    }
    assert_start_fails(&data, "not a sendid data directory");
    let db = sled::open(&data).unwrap();
    assert_eq!(
        db.get(b"their-key").unwrap().as_deref(),
        Some(&b"their-value"[..])
    );
}

#[tokio::test]
async fn a_failing_flush_answers_503_json_and_never_200() {
    let app = spawn_app().await;
    let tenant = app.workspace(1000).await;
    let body = |s: &str| json!({"campaign_id": tenant.campaign_id, "send_id": s});

    app.fail_flush.store(true, Ordering::SeqCst);
    for s in ["lost-1", "lost-2", "lost-1"] {
        let resp = app.create(&tenant.api_key, &body(s)).await;
        let v = expect_json(resp, 503).await;
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("unavailable")
                || v["message"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("storage"),
            "{v}"
        );
    }
    // 16 concurrent writers while the disk fails: none of them hears 200.
    let answers = futures_util::future::join_all((0..16).map(|i| {
        let b = body(&format!("burst-{i}"));
        let app = &app;
        let key = tenant.api_key.clone();
        async move { app.create(&key, &b).await.status().as_u16() }
    }))
    .await;
    assert!(
        answers.iter().all(|s| *s == 503),
        "answers while flushing fails: {answers:?}"
    );
    // Nothing unflushed is listed as acknowledged.
    app.fail_flush.store(false, Ordering::SeqCst);
    // The disk is back: the same pair is now stored and answered 200, and survives a restart.
    let v = expect_json(app.create(&tenant.api_key, &body("lost-1")).await, 200).await;
    assert_eq!(v["send_id"], "lost-1");
    let app = app.restart().await;
    let stored = app
        .all_send_ids(&tenant.workspace_id, &tenant.campaign_id)
        .await;
    assert!(stored.contains(&"lost-1".to_string()), "{stored:?}");
}
