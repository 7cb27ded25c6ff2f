//! The real `sendid` binary as a child process (the process-level tests: crashes, signals,
//! logs, several instances), and [`Api`], its admin and public API over HTTP.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::admin::{Admin, Tenant};
use crate::{pg, ADMIN_TOKEN};

/// The `sendid` binary Cargo built beside the running test (`target/<profile>/sendid`; Cargo
/// builds a package's binaries for its integration tests).
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let test = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test>-<hash>
        let profile = test
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let bin = profile.join("sendid");
        assert!(
            bin.exists(),
            "no sendid binary at {} (run the tests with cargo test in the sendid package)",
            bin.display()
        );
        bin
    })
}

/// A running `sendid` process, with everything it printed so far.
pub struct Proc {
    pub child: Child,
    /// `http://127.0.0.1:PORT` (`https://` when serving TLS)
    pub base: String,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

fn command(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    // The settings come from the arguments only, whatever the CI environment holds.
    for var in [
        "SENDID_BIND",
        "SENDID_DATA_DIR",
        "SENDID_DATABASE_URL",
        "SENDID_ADMIN_TOKEN",
        "SENDID_LOG",
        "SENDID_SHUTDOWN_GRACE_SECONDS",
        "SENDID_MAX_CONNECTIONS",
        "SENDID_REQUEST_TIMEOUT_SECONDS",
        "SENDID_ADMIN_TOKEN_FILE",
        "SENDID_TRUSTED_PROXIES",
        "SENDID_TLS_CERT",
        "SENDID_TLS_KEY",
        "SENDID_LOG_FORMAT",
        "SENDID_PUBLIC_URL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    // Port 0 on loopback unless the test binds elsewhere.
    if !args.contains(&"--bind") {
        cmd.arg("--bind").arg("127.0.0.1:0");
    }
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn pump(
    stream: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    banner: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Some(tx) = &banner {
                if let Some(rest) = line.split("sendid is listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_string());
                }
            }
            sink.lock().unwrap().push_str(&line);
        }
    });
}

impl Proc {
    /// Starts `sendid` on `data_dir` (port 0) and waits for its banner.
    pub fn start(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Proc {
        Self::spawn(command(data_dir, args, envs))
    }

    /// Starts `sendid` with its stderr sent to `stderr` (a full device, a pipe nobody reads)
    /// instead of the test's reader; `Proc::stderr` then stays empty.
    pub fn start_with_stderr(data_dir: &Path, args: &[&str], stderr: Stdio) -> Proc {
        let mut cmd = command(data_dir, args, &[]);
        cmd.stderr(stderr);
        Self::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("spawning the sendid binary");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        if let Some(err) = child.stderr.take() {
            pump(err, stderr.clone(), None);
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sendid did not print its banner\nstdout:\n{}\nstderr:\n{}",
                    stdout.lock().unwrap(),
                    stderr.lock().unwrap()
                );
            }
        };
        Proc {
            child,
            base: addr,
            stdout,
            stderr,
        }
    }

    /// Starts `sendid` with the admin API on.
    pub fn start_admin(data_dir: &Path) -> Proc {
        Self::start(
            data_dir,
            &["--admin-token", ADMIN_TOKEN, "--log", "warn"],
            &[],
        )
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the pump threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "sendid did not exit within {timeout:?}\nstderr:\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    pub fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `sendid` expecting it to stop by itself (a start that must fail).
pub fn run_to_exit(
    data_dir: &Path,
    args: &[&str],
    timeout: Duration,
) -> (ExitStatus, String, String) {
    let mut child = command(data_dir, args, &[])
        .spawn()
        .expect("spawning sendid");
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    pump(child.stdout.take().unwrap(), stdout.clone(), None);
    pump(child.stderr.take().unwrap(), stderr.clone(), None);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sendid kept running (expected it to fail fast)\nstdout:\n{}\nstderr:\n{}",
                stdout.lock().unwrap(),
                stderr.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(100));
    let out = stdout.lock().unwrap().clone();
    let err = stderr.lock().unwrap().clone();
    (status, out, err)
}

/// The admin and public API of one running instance.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .pool_max_idle_per_host(64)
                .build()
                .expect("http client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The admin client ([`Admin`]) for this instance.
    pub fn admin(&self) -> Admin {
        Admin::new(&self.base, ADMIN_TOKEN, self.client.clone())
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        self.admin().created(path, body).await
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin().fetched(path).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let r = self.client.get(self.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// A workspace with the given quota, a campaign and a key with `sends.id.create`.
    pub async fn tenant(&self, quota: u64) -> Tenant {
        self.admin().tenant_named("hardening", quota, None).await
    }

    pub async fn used_today(&self, workspace_id: &str) -> u64 {
        self.admin().used_today(workspace_id).await
    }

    pub async fn all_send_ids(&self, workspace_id: &str, campaign_id: &str) -> Vec<String> {
        self.admin().all_send_ids(workspace_id, campaign_id).await
    }

    /// `POST /sends/id/create`; `Err` when no answer came (connection refused, reset…).
    pub async fn create(
        &self,
        key: &str,
        campaign_id: &str,
        send_id: &str,
    ) -> Result<Created, reqwest::Error> {
        let resp = self
            .client
            .post(self.url("/sends/id/create"))
            .bearer_auth(key)
            .json(&json!({"campaign_id": campaign_id, "send_id": send_id}))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let limit = header("x-ratelimit-limit");
        let remaining = header("x-ratelimit-remaining");
        let body = resp.json::<Value>().await?;
        Ok(Created {
            status,
            body,
            used: limit.zip(remaining).map(|(l, r)| l - r),
        })
    }
}

impl Api {
    /// Waits until `/health` answers 200, for at most `within`; `what` says what it waits for.
    pub async fn wait_healthy(&self, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        loop {
            let r = self.client.get(self.url("/health")).send().await.unwrap();
            if r.status() == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts `sendid` on the PostgreSQL database `url`, with `extra` arguments after the usual
/// ones. Its data directory is never created: PostgreSQL replaces it.
pub fn start_on_database(url: &str, extra: &[&str]) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let unused = dir.path().join("unused");
    let mut args = vec![
        "--admin-token",
        ADMIN_TOKEN,
        "--log",
        "warn",
        "--database-url",
        url,
    ];
    args.extend_from_slice(extra);
    Proc::start(&unused, &args, &[])
}

/// A PostgreSQL cluster of the test's own, for a test that stops or signals its server, and the
/// URL of a new database on it. `None` (the test passes) when `SENDID_TEST_DATABASE_URL` names a
/// server the test must not stop, or no cluster can start here.
pub async fn own_cluster() -> Option<(pg::Cluster, String)> {
    if std::env::var("SENDID_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipping: this test stops its own PostgreSQL cluster, not the one SENDID_TEST_DATABASE_URL points at");
        return None;
    }
    let cluster = pg::Cluster::start_new()?;
    let url = pg::new_database(&cluster.server_url()).await;
    Some((cluster, url))
}

/// An answer of `POST /sends/id/create`.
#[derive(Debug)]
pub struct Created {
    pub status: u16,
    pub body: Value,
    /// `X-RateLimit-Limit - X-RateLimit-Remaining`: quota used today after this request.
    pub used: Option<u64>,
}

impl Proc {
    /// Starts `sendid` with its stdout and stderr written to the file `log` (say, on the same
    /// filesystem as the data) rather than to pipes; waits for the banner in that file.
    pub fn start_logging_to(data_dir: &Path, args: &[&str], log: &Path) -> Proc {
        let file = std::fs::File::create(log).expect("creating the log file");
        let mut cmd = command(data_dir, args, &[]);
        cmd.stdout(file.try_clone().expect("log file handle"))
            .stderr(file);
        let mut child = cmd.spawn().expect("spawning the sendid binary");
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(rest) = text.split("sendid is listening on ").nth(1) {
                if let Some(addr) = rest.split_whitespace().next() {
                    break addr.to_string();
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sendid did not print its banner to {}:\n{text}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Proc {
            child,
            base: addr,
            stdout: Arc::default(),
            stderr: Arc::default(),
        }
    }
}
