//! The binary's exit codes: 2 for bad flags or a bad spec, 3 for an unreachable target.
use std::process::Command;

fn checker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sendid-conformance"))
}

fn run(args: &[&str]) -> (i32, String) {
    let out = checker()
        .args(args)
        .env_remove("SENDID_API_KEY")
        .env_remove("SENDID_FORBIDDEN_API_KEY")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("an exit code"), text)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn bad_flags_exit_2() {
    assert_eq!(run(&["--no-such-flag"]).0, 2);
    // Missing --api-key with no SENDID_API_KEY.
    assert_eq!(
        run(&["--base-url", "http://127.0.0.1:1", "--campaign-id", "c"]).0,
        2
    );
    let (code, out) = run(&[
        "--base-url",
        "http://127.0.0.1:1",
        "--api-key",
        "k",
        "--campaign-id",
        "c",
        "--report",
        "xml=out.xml",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("junit or json"), "{out}");
    assert_eq!(
        run(&[
            "--base-url",
            "ftp://x",
            "--api-key",
            "k",
            "--campaign-id",
            "c"
        ])
        .0,
        2
    );
    assert_eq!(run(&["--help"]).0, 0);
}

#[test]
fn a_bad_spec_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let not_json = dir.path().join("not.json");
    std::fs::write(&not_json, "openapi: 3.0.0\n").expect("write");
    let no_op = dir.path().join("no-op.json");
    std::fs::write(&no_op, r#"{"openapi": "3.0.0", "info": {}, "paths": {}}"#).expect("write");
    let base = format!("http://127.0.0.1:{}", closed_port());
    for (spec, expected) in [
        (not_json.to_str().expect("path"), "not a JSON document"),
        (
            no_op.to_str().expect("path"),
            "no operation POST /sends/id/create",
        ),
        ("/no/such/file.json", "cannot read"),
    ] {
        let (code, out) = run(&[
            "--base-url",
            &base,
            "--api-key",
            "k",
            "--campaign-id",
            "c",
            "--spec",
            spec,
        ]);
        assert_eq!(code, 2, "{spec}: {out}");
        assert!(out.contains(expected), "{spec}: {out}");
    }
}

#[test]
fn an_unreachable_target_exits_3() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let (code, out) = run(&["--base-url", &base, "--api-key", "k", "--campaign-id", "c"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("could not be reached"), "{out}");
    assert!(out.contains("seed "), "every run prints its seed: {out}");
}

#[test]
fn the_api_key_comes_from_the_environment() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let out = checker()
        .args(["--base-url", &base, "--campaign-id", "c"])
        .env("SENDID_API_KEY", "from-env-0123456789")
        .output()
        .expect("runs");
    // Past flag parsing (not 2): the key was taken from the environment; the target is down.
    assert_eq!(out.status.code(), Some(3));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("from-env-0123456789"),
        "the key is never printed"
    );
}
