//! The committed documents under `openapi/` must be exactly what the code generates
//! (docs/contract.md §4). On a difference this prints the diff and the one command that rewrites them.
use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "EXPECTORATE=overwrite cargo test --test api openapi_drift";

fn check(file: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated && std::env::var("EXPECTORATE").as_deref() != Ok("overwrite") {
        eprintln!("openapi/{file} is out of date with the code. Regenerate it with:\n\n    {REGENERATE}\n");
    }
    expectorate::assert_contents(&path, generated);
}

#[test]
fn sends_document_is_committed() {
    check("sends.json", &sendid::api::docs::sends_spec());
}

#[test]
fn admin_document_is_committed() {
    check("admin.json", &sendid::api::docs::admin_spec());
}

#[test]
fn the_binary_prints_the_committed_documents() {
    let bin = env!("CARGO_BIN_EXE_sendid");
    for (args, file) in [
        (vec!["openapi"], "sends.json"),
        (vec!["openapi", "--admin"], "admin.json"),
    ] {
        let out = Command::new(bin).args(&args).output().expect("sendid runs");
        assert!(out.status.success());
        let committed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("openapi")
                .join(file),
        )
        .expect("committed document");
        assert_eq!(
            out.stdout,
            committed,
            "`sendid {}` differs from openapi/{file}; run {REGENERATE}",
            args.join(" ")
        );
    }
}

#[test]
fn documents_carry_no_deployment_address() {
    for spec in [
        sendid::api::docs::sends_spec(),
        sendid::api::docs::admin_spec(),
    ] {
        let doc: serde_json::Value = serde_json::from_str(&spec).expect("JSON");
        assert!(
            doc["servers"].as_array().is_none_or(|s| s.is_empty()),
            "servers must be empty"
        );
        assert!(!spec.contains("127.0.0.1") && !spec.contains("localhost"));
    }
}
