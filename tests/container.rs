//! The container image is proven to run (docs/contract.md §3, "Packaging"): Podman builds the
//! top-level `Containerfile` around the static binary, runs it with a named volume on `/data`
//! and a published port, a new pair is created through that port with the demo key the banner
//! printed, `sendid health` (the image's HEALTHCHECK) passes, and a new container on the same
//! volume still has the pair — the repeat spends nothing and the admin API lists it.
//!
//! Needs `podman` and `runc` (Debian packages) and the static binary
//! (`cargo build --release --target x86_64-unknown-linux-musl --bin sendid`, which `.ci/run`
//! does first). Without them the test prints why and passes, except in CI (`CI=true`), where it
//! fails.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sendid_test_support::ADMIN_TOKEN;
use serde_json::{json, Value};

/// The image's name as built here; the README's compose file and CI job use it too.
const IMAGE: &str = concat!("localhost/sendid:", env!("CARGO_PKG_VERSION"));

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binary() -> PathBuf {
    root().join("target/x86_64-unknown-linux-musl/release/sendid")
}

/// Prints why the test cannot run; under `CI=true` that is a failure.
fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the container test cannot run in CI: {why}");
    }
    eprintln!("SKIPPED the container test: {why}");
}

/// `podman` as these machines run it: runc, cgroupfs, and a containers.conf that sets no
/// default ulimits (the sandbox refuses to raise them).
struct Podman {
    conf: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        let conf = tempfile::tempdir().unwrap();
        std::fs::write(
            conf.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n",
        )
        .unwrap();
        Podman { conf }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
            .args(args)
            .env("CONTAINERS_CONF", self.conf.path().join("containers.conf"))
            .current_dir(root())
            .output()
            .expect("running podman")
    }

    /// Runs podman and returns its stdout; panics with its output when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Removes the containers and the volume the test made, whatever happened.
struct Cleanup<'a> {
    podman: &'a Podman,
    containers: Vec<String>,
    volume: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for c in &self.containers {
            self.podman.run(&["rm", "-f", "-t", "2", c]);
        }
        self.podman.run(&["volume", "rm", "-f", &self.volume]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn statically_linked(binary: &Path) {
    match Command::new("file").arg(binary).output() {
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(said.contains("statically linked"), "{said}");
        }
        Err(_) => eprintln!("(`file` is not installed: the static link is not checked)"),
    }
}

/// Starts a container on the volume and waits until its banner has been printed.
fn start(podman: &Podman, name: &str, volume: &str, port: u16, log_format: &str) -> String {
    podman.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-v",
        &format!("{volume}:/data"),
        "-e",
        &format!("SENDID_ADMIN_TOKEN={ADMIN_TOKEN}"),
        "-e",
        &format!("SENDID_LOG_FORMAT={log_format}"),
        IMAGE,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = podman.run(&["logs", name]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        if text.contains("Admin API:") || text.contains("\"admin_api\"") {
            return text;
        }
        let state = podman.ok(&["inspect", "--format", "{{.State.Status}}", name]);
        assert!(
            Instant::now() < deadline && state == "running",
            "no banner from {name} ({state}):\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value after `label` on a banner line.
fn banner_value<'a>(banner: &'a str, label: &str) -> &'a str {
    banner
        .lines()
        .find_map(|l| l.split(label).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} in the banner:\n{banner}"))
}

async fn create(base: &str, key: &str, send_id: &str) -> (u16, Option<u64>, Value) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The published port forwards once the container's network is up.
    let resp = loop {
        let sent = client
            .post(format!("{base}/sends/id/create"))
            .bearer_auth(key)
            .json(&json!({"campaign_id": "demo-campaign", "send_id": send_id}))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(resp) => break resp,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet through the published port: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{base}: {e}"),
        }
    };
    let status = resp.status().as_u16();
    let remaining = resp
        .headers()
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, remaining, resp.json().await.unwrap())
}

async fn listed(base: &str, workspace: &str) -> Value {
    reqwest::Client::new()
        .get(format!(
            "{base}/admin/workspaces/{workspace}/campaigns/demo-campaign/send-ids"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_image_serves_on_its_published_port_and_keeps_pairs_on_its_volume() {
    if Command::new("podman").arg("--version").output().is_err() {
        return skip("podman is not installed (Debian: apt-get install podman runc)");
    }
    if !binary().exists() {
        return skip(&format!(
            "{} is not built (cargo build --release --target x86_64-unknown-linux-musl --bin sendid)",
            binary().display()
        ));
    }
    statically_linked(&binary());
    let podman = Podman::new();
    let started = Instant::now();
    // Docker format: the OCI image format has no HEALTHCHECK, and podman would drop it.
    podman.ok(&[
        "build",
        "-q",
        "--format",
        "docker",
        "-t",
        IMAGE,
        "-f",
        "Containerfile",
        ".",
    ]);
    let size: u64 = podman
        .ok(&["image", "inspect", "--format", "{{.Size}}", IMAGE])
        .parse()
        .unwrap();
    println!(
        "built {IMAGE} in {:?}: {:.1} MiB",
        started.elapsed(),
        size as f64 / 1048576.0
    );
    let config = podman.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.title\"}} {{.Config.Volumes}}",
        IMAGE,
    ]);
    assert!(config.starts_with("65532:65532 sendid "), "{config}");
    assert!(config.contains("/data"), "{config}");

    let nonce = format!("{}-{}", std::process::id(), free_port());
    let volume = format!("sendid-test-{nonce}");
    let (first, second) = (format!("sendid-a-{nonce}"), format!("sendid-b-{nonce}"));
    let mut cleanup = Cleanup {
        podman: &podman,
        containers: vec![first.clone(), second.clone()],
        volume: volume.clone(),
    };
    podman.ok(&["volume", "create", &volume]);

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let banner = start(&podman, &first, &volume, port, "text");
    // Bound to 0.0.0.0 inside, it advertises an address a person can open.
    assert!(
        banner.contains("sendid is listening on http://localhost:8080"),
        "{banner}"
    );
    let key = banner_value(&banner, "API key:").to_string();
    let workspace = banner_value(&banner, "workspace:").to_string();
    let (status, remaining, body) = create(&base, &key, "from-the-container").await;
    assert_eq!((status, remaining), (200, Some(99)), "{body}");
    assert_eq!(body["send_id"], "from-the-container");
    // The image's HEALTHCHECK: `sendid health` inside the container.
    podman.ok(&["healthcheck", "run", &first]);
    let user = podman.ok(&["exec", &first, "/sendid", "health"]);
    assert!(user.contains(": 200"), "{user}");
    // SIGTERM, as `podman stop` sends: a graceful stop, exit 0.
    podman.ok(&["stop", "-t", "20", &first]);
    let exit = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &first]);
    assert_eq!(exit, "0", "{}", podman.ok(&["logs", &first]));
    podman.ok(&["rm", &first]);

    // A new container on the same volume: the store is the one the first container wrote.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // With JSON logs this time: everything the container prints is JSON, the banner one event.
    let banner = start(&podman, &second, &volume, port, "json");
    assert!(!banner.contains("api_key"), "a new store?\n{banner}");
    let (status, remaining, body) = create(&base, &key, "from-the-container").await;
    assert_eq!(
        (status, remaining),
        (200, Some(99)),
        "the repeat spends nothing: {body}"
    );
    let pairs = listed(&base, &workspace).await;
    assert_eq!(
        pairs["send_ids"][0]["send_id"], "from-the-container",
        "{pairs}"
    );
    podman.ok(&["stop", "-t", "20", &second]);
    let logs = podman.run(&["logs", &second]);
    for stream in [&logs.stdout, &logs.stderr] {
        for line in String::from_utf8_lossy(stream).lines() {
            let event: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(event["timestamp"].is_string(), "{line}");
        }
    }
    cleanup.containers.retain(|c| c != &first);
}
