//! `--ca-cert`: the checker holds an HTTPS sendid (certificate from a private CA) to the contract.
use sendid_conformance::Exit;
use sendid_test_support::{Engine, TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

use crate::support::{args, assert_conformant, check};

/// A private CA's certificate (PEM) and a server certificate and key for 127.0.0.1 it signed.
fn private_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "conformance test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn the_checker_passes_against_https_with_the_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, cert_pem, key_pem) = private_ca();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), key_pem).unwrap();
    let app = TestApp::builder()
        .engine(Engine::Sled)
        .system_clock()
        .tls(dir.path().join("cert.pem"), dir.path().join("key.pem"))
        .spawn()
        .await;
    let base = app.address.clone();

    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let admin = |path: String, body: Value| {
        let req = client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body);
        async move {
            let resp = req.send().await.expect("admin request over HTTPS");
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.unwrap()
        }
    };
    let ws = admin("/admin/workspaces".into(), json!({"name": "tls"})).await;
    let id = ws["id"].as_str().unwrap();
    let campaign = admin(format!("/admin/workspaces/{id}/campaigns"), json!({})).await;
    let key = admin(
        format!("/admin/workspaces/{id}/api-keys"),
        json!({"permissions": ["sends.id.create"]}),
    )
    .await;
    let args = args(
        &base,
        key["api_key"].as_str().unwrap(),
        campaign["campaign_id"].as_str().unwrap(),
    );
    let small = ["--cases", "6", "--seed", "5", "--max-creates", "10"];

    let ca = ca.to_str().unwrap();
    let mut extra = vec!["--ca-cert", ca];
    extra.extend(small);
    assert_conformant(&check(args.clone(), &extra).await);

    // Without the CA the certificate is not trusted: the target cannot be reached.
    let outcome = check(args.clone(), &small).await;
    assert_eq!(outcome.exit, Exit::Unreachable);
    // A file that is not a certificate is a usage error.
    let key_file = dir.path().join("key.pem");
    let outcome = check(args, &["--ca-cert", key_file.to_str().unwrap()]).await;
    assert_eq!(outcome.exit, Exit::Usage);
}
