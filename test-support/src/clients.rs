//! Real clients run as programs (the Node `braze-api` scripts, Braze's MCP server driven from
//! Python): one way to run a client's script and read what it printed.
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Runs `program script` in `dir` with `envs`; returns its stdout once it exited 0 having
/// printed the line `tally` (every check of the script run and passed). Panics with both of its
/// streams otherwise, or when it has not finished within `timeout`.
pub async fn run_script(
    program: &Path,
    script: &str,
    dir: &Path,
    envs: &[(&str, &str)],
    tally: &str,
    timeout: Duration,
) -> String {
    let child = Command::new(program)
        .arg(script)
        .current_dir(dir)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()));
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {timeout:?}"))
        .expect("the script's output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n--- stderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.lines().any(|l| l == tally),
        "{script} did not run every check (no line `{tally}`):\n{stdout}\n--- stderr:\n{stderr}"
    );
    stdout
}
