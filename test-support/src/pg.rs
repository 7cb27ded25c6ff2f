//! Throwaway PostgreSQL for tests. `SENDID_TEST_DATABASE_URL` points at a server the tests may
//! create databases on; otherwise a cluster is made with `initdb` in a temporary directory and
//! started on a free port (as the unprivileged user `nobody` when the tests run as root, since
//! PostgreSQL refuses to run as root). A watchdog process stops it when the test process ends.
//! Without PostgreSQL installed, `database_url()` says why and returns `None`; under `CI=true`
//! it panics instead, so CI cannot skip these tests silently.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub struct Cluster {
    pub port: u16,
    base: PathBuf,
    bin: PathBuf,
    user: Option<&'static str>,
}

/// Says why PostgreSQL tests cannot run: fails under CI, skips (returns `None`) otherwise.
pub fn unavailable(why: &str) -> Option<Cluster> {
    if crate::in_ci() {
        panic!("PostgreSQL tests cannot run under CI=true: {why}");
    }
    eprintln!("skipping a PostgreSQL test: {why}");
    None
}

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Cluster {
    /// A new cluster of its own (for tests that stop and start the server).
    pub fn start_new() -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            return unavailable(
                "no PostgreSQL server found under /usr/lib/postgresql (install the Debian package `postgresql`, or set SENDID_TEST_DATABASE_URL)",
            );
        };
        let user = is_root().then_some("nobody");
        let base = std::env::temp_dir().join(format!("sendid-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(base.join("sock")).expect("cluster directory");
        let cluster = Cluster {
            port: free_port(),
            base,
            bin,
            user,
        };
        if let Some(user) = user {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(&cluster.base)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let out = cluster
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(cluster.data())
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start();
        cluster.watchdog();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut cmd = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.current_dir(&self.base).stdin(Stdio::null());
        cmd
    }

    pub fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=300 -c fsync=off",
            self.port,
            self.base.join("sock").display()
        );
        let out = self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-l"])
            .arg(self.base.join("log"))
            .arg("-o")
            .arg(options)
            .arg("-D")
            .arg(self.data())
            .arg("start")
            .stdout(Stdio::null())
            .output()
            .expect("running pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.base.join("log")).unwrap_or_default()
        );
    }

    /// Stops the server at once (`-m immediate`: like a crash, no shutdown checkpoint).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Stops the cluster and removes its files once this test process is gone.
    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let runas = self
            .user
            .map(|u| format!("runuser -u {u} -- "))
            .unwrap_or_default();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -m immediate -D {data} stop >/dev/null 2>&1; rm -rf {base}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data().display(),
            base = self.base.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Sends `sig` to every process of the cluster — the postmaster and its children. SIGSTOP
    /// makes a database that hangs (neither answers nor refuses); SIGCONT resumes it.
    pub fn signal_all(&self, sig: i32) {
        let pidfile = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("reading postmaster.pid");
        let postmaster: i32 = pidfile
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("the postmaster's pid");
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // "pid (comm) state ppid …": the fields after the command's closing parenthesis.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            // SAFETY: signalling processes of the cluster this test started.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The server the tests create their databases on, started once per test process.
fn server_url() -> Option<String> {
    static SHARED: OnceLock<Option<String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            if let Ok(url) = std::env::var("SENDID_TEST_DATABASE_URL") {
                return Some(url);
            }
            let cluster = Cluster::start_new()?;
            let url = cluster.server_url();
            // Lives as long as the process; the watchdog cleans up after it.
            std::mem::forget(cluster);
            Some(url)
        })
        .clone()
}

/// A URL to a new, empty database of its own, or `None` (with the reason printed) when no
/// PostgreSQL is available outside CI.
pub async fn database_url() -> Option<String> {
    let server = server_url()?;
    Some(new_database(&server).await)
}

/// Creates a new database on the server at `server` and returns its URL.
pub async fn new_database(server: &str) -> String {
    let name = format!("sendid_test_{}", uuid::Uuid::new_v4().simple());
    let options = PgConnectOptions::from_str(server).expect("a valid server URL");
    let mut conn = options
        .connect()
        .await
        .expect("connecting to the test server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let _ = conn.close().await;
    with_database(server, &name)
}

fn with_database(server: &str, name: &str) -> String {
    let (head, query) = match server.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (server, None),
    };
    let rest = head
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://");
    let host = rest.split('/').next().unwrap_or(rest);
    let mut url = format!("postgres://{host}/{name}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Every row of every sendid table, as text (to look for secrets stored in the clear).
pub async fn dump(url: &str) -> Vec<u8> {
    let mut conn = PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .connect()
        .await
        .expect("connecting");
    let mut out = Vec::new();
    for table in [
        "sendid_meta",
        "workspaces",
        "campaigns",
        "api_keys",
        "pairs",
        "quota_usage",
    ] {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT row_to_json(t)::TEXT FROM {table} t"))
                .fetch_all(&mut conn)
                .await
                .expect("reading a table");
        for (row,) in rows {
            out.extend_from_slice(row.as_bytes());
            out.push(b'\n');
        }
    }
    out
}
