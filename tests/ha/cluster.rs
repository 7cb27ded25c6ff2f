//! A Patroni cluster of the test's own: etcd, two Patroni nodes configured by
//! `deploy/ha/patroni.yml` and HAProxy by `deploy/ha/haproxy.cfg` (the files the docs show), on
//! free ports under a temporary directory. Every process is started by the test and signalled
//! only by the pids it started or read from its own data directories. PostgreSQL refuses to run
//! as root: as root, Patroni runs as the `postgres` user (`setpriv`, so the child's pid is
//! Patroni's own).
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;

use sendid_test_support::cannot_run;

pub const SUPERUSER_PASSWORD: &str = "change-me-superuser";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

fn pg_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// uid and gid of `user` from /etc/passwd.
fn ids_of(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user) && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

struct Tools {
    patroni: PathBuf,
    etcd: PathBuf,
    haproxy: PathBuf,
    pg_bin: PathBuf,
    /// The user Patroni runs as when the test is root.
    owner: Option<(u32, u32)>,
}

fn tools() -> Option<Tools> {
    let missing = |what: &str| {
        cannot_run::<Tools>(&format!(
            "{what} not found (Debian: apt-get install -y patroni etcd-server haproxy postgresql)"
        ))
    };
    let Some(patroni) = find("patroni") else {
        return missing("patroni");
    };
    let Some(etcd) = find("etcd") else {
        return missing("etcd");
    };
    let Some(haproxy) = find("haproxy") else {
        return missing("haproxy");
    };
    let Some(pg_bin) = pg_bin_dir() else {
        return missing("PostgreSQL under /usr/lib/postgresql");
    };
    let owner = if is_root() {
        match ids_of("postgres") {
            Some(ids) => Some(ids),
            None => return missing("the user `postgres` (PostgreSQL will not run as root)"),
        }
    } else {
        None
    };
    Some(Tools {
        patroni,
        etcd,
        haproxy,
        pg_bin,
        owner,
    })
}

pub struct Node {
    pub name: String,
    pub pg_port: u16,
    pub api_port: u16,
    dir: PathBuf,
    patroni: Option<Child>,
    /// The processes a freeze stopped, to continue.
    frozen: Vec<i32>,
}

impl Node {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Patroni's pid, the postmaster's (from its `postmaster.pid`, checked against its command
    /// line) and the postmaster's children.
    fn pids(&mut self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.patroni.iter().map(|c| c.id() as i32).collect();
        let pidfile =
            std::fs::read_to_string(self.data().join("postmaster.pid")).unwrap_or_default();
        let Some(postmaster) = pidfile
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok())
        else {
            return pids;
        };
        let cmdline = std::fs::read(format!("/proc/{postmaster}/cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(&*self.data().to_string_lossy()) {
            return pids; // gone, or the pid is someone else's now
        }
        pids.push(postmaster);
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // "pid (comm) state ppid …"
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }
}

fn signal(pids: &[i32], sig: i32) {
    for &pid in pids {
        // SAFETY: signalling processes this test started (or that its PostgreSQL started).
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

pub struct HaCluster {
    base: tempfile::TempDir,
    tools: Tools,
    config: PathBuf,
    etcd_port: u16,
    etcd: Child,
    haproxy: Option<Child>,
    pub nodes: Vec<Node>,
    /// HAProxy's port: sendid's `--database-url` points here.
    pub port: u16,
    pub synchronous: bool,
    http: reqwest::Client,
}

impl HaCluster {
    /// etcd, node1 (the first leader), node2 (its standby) and HAProxy, ready for writes.
    pub async fn start(synchronous: bool) -> Option<HaCluster> {
        let tools = tools()?;
        let base = tempfile::Builder::new()
            .prefix("sendid-ha-")
            .tempdir()
            .unwrap();
        // Patroni (as `postgres`) reads the config here and owns its node's directory.
        std::fs::set_permissions(
            base.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/ha/patroni.yml"
        ))
        .expect("deploy/ha/patroni.yml");
        let config_text = if synchronous {
            shipped
        } else {
            assert!(shipped.contains("synchronous_mode: true"));
            shipped.replace("synchronous_mode: true", "synchronous_mode: false")
        };
        let config = base.path().join("patroni.yml");
        std::fs::write(&config, config_text).unwrap();
        if let Some((uid, gid)) = tools.owner {
            // Its socket directory (`unix_socket_directories` in patroni.yml), as Debian makes it.
            let run = Path::new("/var/run/postgresql");
            if !run.exists() {
                std::fs::create_dir_all(run).unwrap();
                std::os::unix::fs::chown(run, Some(uid), Some(gid)).unwrap();
            }
        }
        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd = Command::new(&tools.etcd)
            .arg("--enable-v2")
            .args(["--name", "default", "--data-dir"])
            .arg(base.path().join("etcd"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=default=http://127.0.0.1:{peer_port}"
            ))
            .stdin(Stdio::null())
            .stdout(log(base.path(), "etcd"))
            .stderr(log(base.path(), "etcd"))
            .spawn()
            .expect("starting etcd");
        let nodes = (1..=2)
            .map(|i| {
                let dir = base.path().join(format!("node{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                if let Some((uid, gid)) = tools.owner {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
                }
                Node {
                    name: format!("node{i}"),
                    pg_port: free_port(),
                    api_port: free_port(),
                    dir,
                    patroni: None,
                    frozen: vec![],
                }
            })
            .collect();
        let mut cluster = HaCluster {
            base,
            tools,
            config,
            etcd_port,
            etcd,
            haproxy: None,
            nodes,
            port: free_port(),
            synchronous,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        };
        cluster.watchdog();
        cluster
            .wait_for("etcd to answer", Duration::from_secs(30), |c| async move {
                let url = format!("http://127.0.0.1:{}/v2/keys", c.etcd_port);
                c.http
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
            .await;
        cluster.start_patroni(0);
        cluster
            .wait_for("node1 to lead", Duration::from_secs(60), |c| async move {
                c.leader().await == Some(0)
            })
            .await;
        cluster.start_patroni(1);
        cluster.wait_replicated(Duration::from_secs(60)).await;
        cluster.start_haproxy();
        // HAProxy counts a server up until `fall` checks have failed: for its first seconds a
        // connection may still reach the standby (sendid would refuse to start on it).
        tokio::time::sleep(Duration::from_secs(3)).await;
        cluster
            .wait_for(
                "HAProxy to route to the leader only",
                Duration::from_secs(30),
                |c| async move { c.routes_to_primary().await },
            )
            .await;
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Starts (or restarts) node `i`'s Patroni, with its per-node settings in the environment.
    pub fn start_patroni(&mut self, i: usize) {
        let node = &self.nodes[i];
        let mut cmd = match self.tools.owner {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--init-groups")
                    .arg(&self.tools.patroni);
                c
            }
            None => Command::new(&self.tools.patroni),
        };
        let pg = format!("127.0.0.1:{}", node.pg_port);
        let api = format!("127.0.0.1:{}", node.api_port);
        cmd.arg(&self.config)
            .env("HOME", &node.dir)
            .env("PATRONI_NAME", &node.name)
            .env("PATRONI_RESTAPI_LISTEN", &api)
            .env("PATRONI_RESTAPI_CONNECT_ADDRESS", &api)
            .env("PATRONI_POSTGRESQL_LISTEN", &pg)
            .env("PATRONI_POSTGRESQL_CONNECT_ADDRESS", &pg)
            .env("PATRONI_POSTGRESQL_DATA_DIR", node.data())
            .env("PATRONI_POSTGRESQL_BIN_DIR", &self.tools.pg_bin)
            .env("PATRONI_POSTGRESQL_PGPASS", node.dir.join("pgpass"))
            .env(
                "PATRONI_ETCD_HOSTS",
                format!("127.0.0.1:{}", self.etcd_port),
            )
            .current_dir(&node.dir)
            .stdin(Stdio::null())
            .stdout(log(self.base.path(), &node.name))
            .stderr(log(self.base.path(), &node.name));
        let child = cmd.spawn().expect("starting patroni");
        self.remember(&node.name.clone(), child.id());
        self.nodes[i].patroni = Some(child);
    }

    fn start_haproxy(&mut self) {
        let mut cmd = Command::new(&self.tools.haproxy);
        cmd.arg("-db")
            .arg("-f")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/deploy/ha/haproxy.cfg"
            ))
            .env("SENDID_HA_LISTEN", format!("127.0.0.1:{}", self.port));
        for (i, node) in self.nodes.iter().enumerate() {
            let n = i + 1;
            cmd.env(format!("SENDID_HA_NODE{n}_HOST"), "127.0.0.1")
                .env(
                    format!("SENDID_HA_NODE{n}_PG_PORT"),
                    node.pg_port.to_string(),
                )
                .env(
                    format!("SENDID_HA_NODE{n}_API_PORT"),
                    node.api_port.to_string(),
                );
        }
        cmd.stdin(Stdio::null())
            .stdout(log(self.base.path(), "haproxy"))
            .stderr(log(self.base.path(), "haproxy"));
        let child = cmd.spawn().expect("starting haproxy");
        self.remember("haproxy", child.id());
        self.haproxy = Some(child);
    }

    /// Whether a few connections through HAProxy all reach a primary.
    async fn routes_to_primary(&self) -> bool {
        for _ in 0..4 {
            let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&self.url()).await else {
                return false;
            };
            let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&mut conn)
                .await
                .unwrap_or(true);
            let _ = conn.close().await;
            if standby {
                return false;
            }
        }
        true
    }

    /// The node whose Patroni answers 200 on `GET /primary` (what HAProxy routes to).
    pub async fn leader(&self) -> Option<usize> {
        for (i, node) in self.nodes.iter().enumerate() {
            let url = format!("http://127.0.0.1:{}/primary", node.api_port);
            if let Ok(r) = self.http.get(url).send().await {
                if r.status() == 200 {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Waits until one node leads and the other streams from it (in synchronous mode: is its
    /// synchronous standby), as Patroni's `GET /cluster` reports.
    pub async fn wait_replicated(&self, within: Duration) {
        let want = if self.synchronous {
            "sync_standby"
        } else {
            "replica"
        };
        self.wait_for("the standby to replicate", within, |c| async move {
            let Some(leader) = c.leader().await else {
                return false;
            };
            let url = format!("http://127.0.0.1:{}/cluster", c.nodes[leader].api_port);
            let Ok(r) = c.http.get(url).send().await else {
                return false;
            };
            let body: Value = r.json().await.unwrap_or_default();
            let members = body["members"].as_array().cloned().unwrap_or_default();
            members.len() == 2
                && members.iter().any(|m| {
                    m["role"] == want
                        && (m["state"] == "running" || m["state"] == "streaming")
                        && m["lag"].as_u64() == Some(0)
                })
        })
        .await;
    }

    async fn wait_for<'a, F, Fut>(&'a self, what: &str, within: Duration, mut check: F)
    where
        F: FnMut(&'a Self) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while !check(self).await {
            assert!(
                Instant::now() < deadline,
                "waited {within:?} for {what}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL of node `i`'s Patroni and PostgreSQL (the postmaster and its children): a host
    /// that dies.
    pub fn kill(&mut self, i: usize) {
        let pids = self.nodes[i].pids();
        signal(&pids, libc::SIGKILL);
        if let Some(mut child) = self.nodes[i].patroni.take() {
            let _ = child.wait();
        }
    }

    /// SIGSTOP of node `i`'s Patroni and PostgreSQL: a host that stops answering.
    pub fn freeze(&mut self, i: usize) {
        let pids = self.nodes[i].pids();
        signal(&pids, libc::SIGSTOP);
        self.nodes[i].frozen = pids;
    }

    pub fn thaw(&mut self, i: usize) {
        let pids = std::mem::take(&mut self.nodes[i].frozen);
        signal(&pids, libc::SIGCONT);
    }

    /// The last lines of every log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["etcd", "node1", "node2", "haproxy"] {
            let text = std::fs::read_to_string(self.base.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {name}.log (last lines)\n{tail}\n"));
        }
        out
    }

    fn remember(&self, name: &str, pid: u32) {
        let dir = self.base.path().join("pids");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), pid.to_string()).unwrap();
    }

    /// Should the test process die without dropping the cluster: stops what it started.
    fn watchdog(&self) {
        self.remember("etcd", self.etcd.id());
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             for f in {base}/pids/* {base}/node*/data/postmaster.pid; do \
               p=$(head -n 1 $f); kill -CONT $p; kill -9 $p; done 2>/dev/null; rm -rf {base}",
            pid = std::process::id(),
            base = self.base.path().display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

fn log(dir: &Path, name: &str) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .expect("a log file")
        .into()
}

impl Drop for HaCluster {
    fn drop(&mut self) {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for i in 0..self.nodes.len() {
            self.thaw(i);
            self.kill(i);
        }
        let _ = self.etcd.kill();
        let _ = self.etcd.wait();
    }
}
