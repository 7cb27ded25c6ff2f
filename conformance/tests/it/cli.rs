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
    std::fs::write(&not_json, "{\"openapi\": \"3.0.0\",\n").expect("write");
    let not_yaml = dir.path().join("not.yaml");
    std::fs::write(&not_yaml, "openapi: [3.0.0\n  paths: {").expect("write");
    let no_op = dir.path().join("no-op.json");
    std::fs::write(&no_op, r#"{"openapi": "3.0.0", "info": {}, "paths": {}}"#).expect("write");
    let base = format!("http://127.0.0.1:{}", closed_port());
    for (spec, expected) in [
        (not_json.to_str().expect("path"), "not a JSON document"),
        (
            not_yaml.to_str().expect("path"),
            "not a JSON or YAML document",
        ),
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
    // Refused before its preflight passed, a run prints that one message and nothing else (no
    // header, no seed: it sent nothing to replay).
    assert_eq!(out.lines().count(), 1, "{out}");
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

#[test]
fn help_lists_the_exit_codes() {
    let (code, out) = run(&["--help"]);
    assert_eq!(code, 0);
    for line in [
        "Exit codes:",
        "0  conformant",
        "1  violation",
        "2  usage",
        "3  unreachable",
        "SENDID_API_KEY",
        "SENDID_FORBIDDEN_API_KEY",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}: {out}");
    }
}

#[test]
fn a_zero_timeout_is_refused_with_the_real_bounds() {
    let (code, out) = run(&[
        "--base-url",
        "http://127.0.0.1:1",
        "--api-key",
        "k",
        "--campaign-id",
        "c",
        "--timeout",
        "0",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("from 0.001 to 3600 seconds"), "{out}");
}

#[test]
fn an_unwritable_report_exits_2_before_any_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("good.xml");
    let unwritable = dir.path().join("no-such-dir").join("report.json");
    let (code, out) = run(&[
        "--base-url",
        &base,
        "--api-key",
        "k",
        "--campaign-id",
        "c",
        "--report",
        &format!("junit={}", good.display()),
        "--report",
        &format!("json={}", unwritable.display()),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot write the report"), "{out}");
    assert!(out.contains("no-such-dir"), "{out}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a request was made before the report paths were checked: {other:?}"),
    }
    assert!(
        !good.exists(),
        "the writable report's probe file is removed again"
    );
}

#[test]
fn a_missing_key_names_its_environment_variable_in_the_error_and_the_help() {
    let (code, text) = run(&["--base-url", "http://127.0.0.1:9", "--campaign-id", "c"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--api-key"), "{text}");
    assert!(text.contains("SENDID_API_KEY"), "{text}");
    let (code, help) = run(&["--help"]);
    assert_eq!(code, 0, "{help}");
    assert!(help.contains("[env: SENDID_API_KEY]"), "{help}");
    assert!(help.contains("[env: SENDID_FORBIDDEN_API_KEY]"), "{help}");
}

const BEGIN: &str =
    "<!-- list-checks: begin (generated by `sendid-conformance --list-checks`) -->\n";
const END: &str = "<!-- list-checks: end -->";

/// conformance/README.md carries the catalogue `--list-checks` prints, byte for byte. To
/// regenerate it: `UPDATE_README=1 cargo test -p sendid-conformance --test it readme_carries`.
#[test]
fn readme_carries_the_catalogue_of_list_checks() {
    let out = checker()
        .arg("--list-checks")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0));
    let catalogue = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        catalogue.contains("### Generated-id quality"),
        "{catalogue}"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README");
    let start = readme
        .find(BEGIN)
        .expect("the README's list-checks begin marker")
        + BEGIN.len();
    let end = readme
        .find(END)
        .expect("the README's list-checks end marker");
    if readme[start..end] != catalogue {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{catalogue}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).expect("write README");
            return;
        }
        panic!(
            "conformance/README.md's catalogue differs from `sendid-conformance --list-checks`; \
             regenerate it with:\n  UPDATE_README=1 cargo test -p sendid-conformance --test it \
             readme_carries"
        );
    }
}
