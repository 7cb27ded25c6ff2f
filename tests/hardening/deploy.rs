//! Deployment (issue #12), on the real binary: client addresses through trusted proxies, HTTPS
//! with a certificate reload on SIGHUP, the admin token's rules, and JSON access logs.
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use sendid_test_support::process::{run_to_exit, Proc};
use sendid_test_support::ADMIN_TOKEN;

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is loopback on Linux).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn create_status(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    campaign_id: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let mut req = client
        .post(format!("{base}/sends/id/create"))
        .bearer_auth(key)
        .json(&json!({"campaign_id": campaign_id, "send_id": "through-a-proxy"}));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let proc = Proc::start(
        &dir.path().join("data"),
        &[
            "--admin-token",
            ADMIN_TOKEN,
            "--log",
            "warn",
            "--trusted-proxies",
            "127.0.0.2,10.0.0.0/8",
        ],
        &[],
    );
    let api = proc.api();
    let tenant = api.tenant(100).await;
    let ws = &tenant.workspace_id;
    let mut keys = Vec::new();
    for allowed in ["198.51.100.0/24", "127.0.0.1/32"] {
        let key = api
            .admin_post(
                &format!("/admin/workspaces/{ws}/api-keys"),
                &json!({"permissions": ["sends.id.create"], "allowed_ips": [allowed]}),
            )
            .await;
        keys.push(key["api_key"].as_str().unwrap().to_string());
    }
    let (far, near) = (keys[0].as_str(), keys[1].as_str());
    let campaign = tenant.campaign_id.as_str();
    let base = proc.base.as_str();

    // The direct peer 127.0.0.1 is not a trusted proxy: forged headers change no decision.
    let direct = client_from("127.0.0.1");
    for forged in [
        ("x-forwarded-for", "198.51.100.7"),
        ("forwarded", "for=198.51.100.7"),
        ("x-forwarded-for", "127.0.0.2, 198.51.100.7"),
    ] {
        let headers = [forged];
        assert_eq!(
            create_status(&direct, base, far, campaign, &headers).await,
            403,
            "{forged:?}"
        );
        assert_eq!(
            create_status(&direct, base, near, campaign, &headers).await,
            200,
            "{forged:?}"
        );
    }

    // Through the trusted proxy 127.0.0.2, the forwarded client is judged.
    let proxy = client_from("127.0.0.2");
    for admitted in [
        ("x-forwarded-for", "198.51.100.7"),
        ("forwarded", "for=\"198.51.100.7:4711\";proto=https"),
        // A second trusted proxy in the chain is skipped.
        ("x-forwarded-for", "198.51.100.7, 10.1.2.3"),
    ] {
        let headers = [admitted];
        assert_eq!(
            create_status(&proxy, base, far, campaign, &headers).await,
            200,
            "{admitted:?}"
        );
        assert_eq!(
            create_status(&proxy, base, near, campaign, &headers).await,
            403,
            "{admitted:?}"
        );
    }
    for refused in [
        ("x-forwarded-for", "203.0.113.5"),
        // The client forged the leftmost entry; the proxy appended the real address.
        ("x-forwarded-for", "198.51.100.7, 203.0.113.5"),
        ("forwarded", "for=198.51.100.7, for=203.0.113.5"),
        ("x-forwarded-for", "198.51.100.7, unknown"),
    ] {
        let headers = [refused];
        assert_eq!(
            create_status(&proxy, base, far, campaign, &headers).await,
            403,
            "{refused:?}"
        );
    }
    // No header from the proxy: the proxy itself is the client (127.0.0.2, in neither list).
    assert_eq!(create_status(&proxy, base, far, campaign, &[]).await, 403);
    assert_eq!(create_status(&proxy, base, near, campaign, &[]).await, 403);
}

#[test]
fn a_short_admin_token_is_refused_at_start_with_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let short = "short-token-0123456789"; // 22 characters
    let file = dir.path().join("token");
    std::fs::write(&file, format!("  {short}\n")).unwrap();
    for args in [
        vec!["--admin-token", short],
        vec!["--admin-token-file", file.to_str().unwrap()],
    ] {
        let (status, stdout, stderr) = run_to_exit(&data, &args, Duration::from_secs(30));
        assert_eq!(status.code(), Some(1), "{args:?}\n{stdout}{stderr}");
        assert!(
            stderr.contains("shorter than 24 characters")
                && stderr.contains("openssl rand -hex 32"),
            "{stderr}"
        );
        assert!(!stderr.contains(short) && !stdout.contains(short));
        assert!(!data.exists(), "a refused start created the data directory");
    }
    // An unreadable file names the file, and nothing else.
    let missing = dir.path().join("no-such-token");
    let (status, _, stderr) = run_to_exit(
        &data,
        &["--admin-token-file", missing.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("cannot read the admin token file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_admin_token_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let proc = Proc::start(
        &dir.path().join("data"),
        &[
            "--admin-token-file",
            file.to_str().unwrap(),
            "--log",
            "warn",
        ],
        &[],
    );
    wait_for(&proc, "Admin API:   http://").await;
    // `tenant` authenticates with the token the file holds.
    let tenant = proc.api().tenant(5).await;
    let resp = proc
        .api()
        .client
        .get(
            proc.api()
                .url(&format!("/admin/workspaces/{}", tenant.workspace_id)),
        )
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = proc
        .api()
        .client
        .get(proc.api().url("/admin/workspaces"))
        .bearer_auth(format!("{ADMIN_TOKEN}-not"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {resp:?}"))
}

#[tokio::test]
async fn json_logs_have_one_access_line_per_request_and_the_request_id_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let mut proc = Proc::start(
        &dir.path().join("data"),
        &[
            "--admin-token",
            ADMIN_TOKEN,
            "--log-format",
            "json",
            "--log",
            "info",
        ],
        &[],
    );
    let api = proc.api();
    let c = &api.client;
    let tenant = api.tenant(100).await; // three admin requests
    let mut sent = 3;
    let create = |request_id: Option<&str>, key: &str| {
        let mut req = c
            .post(api.url("/sends/id/create"))
            .bearer_auth(key)
            .json(&json!({"campaign_id": tenant.campaign_id}));
        if let Some(id) = request_id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };

    // A sane request id comes back as sent.
    let resp = create(Some("edge-7f3a:0001"), &tenant.api_key)
        .await
        .unwrap();
    sent += 1;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-request-id"), "edge-7f3a:0001");
    // Others are replaced by a generated one, as is a missing one; each answer has its own.
    let mut generated = Vec::new();
    for id in [
        Some("has spaces in it"),
        Some(""),
        None,
        Some(&*"x".repeat(200)),
    ] {
        let resp = create(id, &tenant.api_key).await.unwrap();
        sent += 1;
        let got = header(&resp, "x-request-id").to_string();
        assert!(uuid_like(&got), "{id:?} -> {got:?}");
        generated.push(got);
    }
    generated.sort();
    generated.dedup();
    assert_eq!(generated.len(), 4);
    // A key pasted as the request id is not taken (it would be logged).
    let resp = create(Some(&tenant.api_key), &tenant.api_key)
        .await
        .unwrap();
    sent += 1;
    assert_ne!(header(&resp, "x-request-id"), tenant.api_key);
    // Failures, unknown paths and the admin API are logged too.
    let resp = create(Some("unknown-key-request"), "not-a-key-0123456789")
        .await
        .unwrap();
    sent += 1;
    assert_eq!(resp.status(), 401);
    for path in ["/health", "/no/such/path?api_key=secret-in-query"] {
        let resp = c.get(api.url(path)).send().await.unwrap();
        sent += 1;
        assert!(uuid_like(header(&resp, "x-request-id")));
    }
    let resp = c
        .get(api.url(&format!("/admin/workspaces/{}", tenant.workspace_id)))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "admin-read")
        .send()
        .await
        .unwrap();
    sent += 1;
    assert_eq!(header(&resp, "x-request-id"), "admin-read");

    proc.signal(libc::SIGTERM);
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    let stderr = proc.stderr.lock().unwrap().clone();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "sendid::access")
        .collect();
    assert_eq!(access.len(), sent, "one access line per request:\n{stderr}");
    for line in &access {
        assert!(line["method"].is_string(), "{line}");
        assert!(line["route"].is_string(), "{line}");
        assert!(line["status"].is_u64(), "{line}");
        assert!(line["latency_ms"].is_number(), "{line}");
        assert!(line["request_id"].is_string(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let by_id = |id: &str| {
        access
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}:\n{stderr}"))
    };
    let created = by_id("edge-7f3a:0001");
    assert_eq!(created["method"], "POST");
    assert_eq!(created["route"], "/sends/id/create");
    assert_eq!(created["status"], 200);
    assert_eq!(created["workspace_id"], tenant.workspace_id.as_str());
    let refused = by_id("unknown-key-request");
    assert_eq!(refused["status"], 401);
    assert!(refused.get("workspace_id").is_none(), "{refused}");
    let admin = by_id("admin-read");
    assert_eq!(admin["route"], "/admin/workspaces/{id}");
    assert_eq!(admin["workspace_id"], tenant.workspace_id.as_str());
    assert!(access
        .iter()
        .any(|l| l["route"] == "other" && l["status"] == 404));
    for secret in [
        tenant.api_key.as_str(),
        ADMIN_TOKEN,
        "secret-in-query",
        "not-a-key-0123456789",
    ] {
        assert!(!stderr.contains(secret), "{secret} in the log");
    }
    println!(
        "json logs: {} lines, {} access lines for {sent} requests",
        lines.len(),
        access.len()
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// A certificate authority and a server certificate for 127.0.0.1 / localhost that it signed.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn install(dir: &Path, cert: &str, key: &str) {
    // Written beside and renamed over, as an operator's tooling (certbot, cert-manager) does.
    for (name, text) in [("cert.pem", cert), ("key.pem", key)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

fn https_client(ca_pem: &str, http1: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10));
    if http1 {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn https_serves_http1_and_http2_and_takes_a_new_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pki("sendid test CA one"), pki("sendid test CA two"));
    install(dir.path(), &first.cert_pem, &first.key_pem);
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let token = dir.path().join("admin-token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();
    // The README's "Alone, with TLS" command.
    let proc = Proc::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--admin-token-file",
            token.to_str().unwrap(),
            "--log-format",
            "json",
            "--log",
            "info",
        ],
        &[],
    );
    assert!(proc.base.starts_with("https://"), "{}", proc.base);
    // The banner's later lines arrive just after its first.
    wait_for(&proc, &format!("\"swagger_ui\":\"{}/docs\"", proc.base)).await;
    let health = format!("{}/health", proc.base);

    let h1 = https_client(&first.ca_pem, true);
    let resp = h1.get(&health).send().await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.version()),
        (200, reqwest::Version::HTTP_11)
    );
    let h2 = https_client(&first.ca_pem, false);
    let resp = h2.get(&health).send().await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.version()),
        (200, reqwest::Version::HTTP_2)
    );
    // Swagger UI and the admin API over HTTPS.
    let resp = h2.get(format!("{}/docs", proc.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("swagger"));
    let resp = h2
        .post(format!("{}/admin/workspaces", proc.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "over TLS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // A bad pair on SIGHUP is refused and the current certificate stays.
    install(dir.path(), &first.cert_pem, &second.key_pem);
    proc.signal(libc::SIGHUP);
    wait_for(&proc, "TLS certificate not reloaded").await;
    let resp = https_client(&first.ca_pem, true)
        .get(&health)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The second pair, then SIGHUP: new connections get the second certificate.
    install(dir.path(), &second.cert_pem, &second.key_pem);
    proc.signal(libc::SIGHUP);
    wait_for(&proc, "TLS certificate reloaded").await;
    let resp = https_client(&second.ca_pem, true)
        .get(&health)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refused = https_client(&first.ca_pem, true).get(&health).send().await;
    assert!(
        refused.is_err(),
        "a new connection still got the first certificate"
    );
    // The connections opened before the reload keep working: they are the only way these two
    // clients (which trust just the first CA) can still be answered.
    for client in [&h2, &h1] {
        let resp = client.get(&health).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let stderr = proc.stderr.lock().unwrap().clone();
    for line in stderr.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
    assert!(!stderr.contains(ADMIN_TOKEN));
}

async fn wait_for(proc: &Proc, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proc.output().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in:\n{}",
            proc.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_missing_or_mismatched_tls_pair_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (first, second) = (pki("one"), pki("two"));
    install(dir.path(), &first.cert_pem, &second.key_pem);
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let missing = dir.path().join("missing.pem");
    let (cert, key, missing) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    for (args, expected) in [
        (
            ["--tls-cert", cert, "--tls-key", key],
            "does not belong to the certificate",
        ),
        (
            ["--tls-cert", missing, "--tls-key", key],
            "cannot read the TLS certificate",
        ),
        (
            ["--tls-cert", cert, "--tls-key", missing],
            "cannot read the TLS private key",
        ),
        (
            ["--tls-cert", key, "--tls-key", key],
            "holds no PEM certificate",
        ),
    ] {
        let (status, _, stderr) = run_to_exit(&data, &args, Duration::from_secs(30));
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!data.exists(), "a refused start created the data directory");
    }
    // Half a pair is a usage error.
    let (status, _, stderr) = run_to_exit(&data, &["--tls-cert", cert], Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

/// `deploy/sendid.service` as shipped, with `ExecStart` pointed at the binary under test
/// (`systemd-analyze verify` checks that the program exists).
fn unit_under_test(dir: &Path) -> std::path::PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sendid.service");
    let text = std::fs::read_to_string(&shipped).unwrap();
    for line in [
        "User=sendid",
        "StateDirectory=sendid",
        "Environment=SENDID_DATA_DIR=/var/lib/sendid",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(text.lines().any(|l| l == line), "the unit lacks {line:?}");
    }
    let path = dir.join("sendid.service");
    let bin = sendid_test_support::process::bin().to_str().unwrap();
    std::fs::write(&path, text.replace("/usr/local/bin/sendid", bin)).unwrap();
    path
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = match std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
    {
        Ok(out) => out,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            println!("SKIPPED: systemd-analyze is not installed here ({e}); CI installs it");
            return;
        }
        Err(e) => panic!("systemd-analyze is missing under CI=true: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `verify` exits 0 on unknown keys and bad values, only saying so: any word about the unit
    // is a failure.
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sendid.service"))
        .collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
    println!("systemd-analyze verify: the unit is accepted");
}
