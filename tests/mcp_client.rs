//! Issue #25: Braze's own MCP server (PyPI `braze-mcp-server` 1.2, pinned with `mcp<2` in
//! `tests/clients/mcp/requirements.txt`) reads a send's analytics from sendid. The test makes a
//! send ID per channel, dispatches each to three recipients (two distinct), then runs
//! `tests/clients/mcp/check_data_series.py`, which spawns the server over stdio with
//! `BRAZE_BASE_URL`/`BRAZE_API_KEY` and calls its tool `call_function` with
//! `get_send_data_series`: the server must return its parsed `SendDataSeriesResponse` model (it
//! falls back to the raw dictionary when the model refuses the answer), with the counts sent.
//!
//! Needs the venv `tests/clients/mcp/.venv` (`tests/clients/mcp/setup.sh` makes it, from a
//! Python of at least 3.12), or `SENDID_MCP_PYTHON=/path/to/python` with the requirements
//! installed. Without it the test prints why and passes, except in CI (`CI=true`), where it fails.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sendid::domain::series::CHANNELS;
use sendid_test_support::clients;
use serde_json::json;

/// The server starts in about a second; generous for a loaded 2-core CI machine.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brazes_mcp_server_parses_sendids_send_data_series_with_its_own_model() {
    let Some(python) = mcp_python() else {
        return;
    };
    let app = sendid_test_support::spawn_app().await;
    let tenant = app.workspace(CHANNELS.len() as u64).await;
    let key = app
        .api_key(
            &tenant.workspace_id,
            &[
                "sends.id.create",
                "campaigns.trigger.send",
                "sends.data_series",
            ],
            None,
        )
        .await;
    let key = key["api_key"].as_str().expect("api key").to_owned();

    // One send ID per channel (a campaign's channel is the key of `messages`), each dispatched
    // today to three recipients, two of them distinct. The tenant's campaign has the default
    // channel, email, and comes first.
    let mut sends = vec![(tenant.campaign_id.clone(), "email".to_owned())];
    for channel in CHANNELS.iter().filter(|c| **c != "email") {
        let campaign_id = format!("mcp-{channel}");
        let path = format!("/admin/workspaces/{}/campaigns", tenant.workspace_id);
        let made = app
            .admin_post(
                &path,
                &json!({"campaign_id": campaign_id, "channel": channel}),
            )
            .await;
        sendid_test_support::expect_json(made, 201).await;
        sends.push((campaign_id, (*channel).to_owned()));
    }
    let mut expected = Vec::new();
    for (campaign_id, channel) in &sends {
        let send_id = format!("mcp-digest-{channel}");
        let created = app
            .create(
                &key,
                &json!({"campaign_id": campaign_id, "send_id": send_id}),
            )
            .await;
        sendid_test_support::expect_json(created, 200).await;
        for recipients in [
            json!([{"external_user_id": "mcp-user-1"}, {"external_user_id": "mcp-user-2"}]),
            json!([{"external_user_id": "mcp-user-1"}]),
        ] {
            let sent = app
                .client
                .post(app.url("/campaigns/trigger/send"))
                .bearer_auth(&key)
                .json(&json!({
                    "campaign_id": campaign_id,
                    "send_id": send_id,
                    "recipients": recipients,
                }))
                .send()
                .await
                .expect("trigger/send");
            let body = sendid_test_support::expect_json(sent, 201).await;
            assert_eq!(body["send_id"], send_id.as_str(), "{body}");
        }
        expected.push(json!({
            "campaign_id": campaign_id,
            "send_id": send_id,
            "channel": channel,
            "sent": 3,
            "unique_recipients": 2,
        }));
    }

    let today = chrono::DateTime::from_timestamp(sendid_test_support::NOON, 0)
        .expect("the tests' clock")
        .date_naive()
        .to_string();
    let sends = serde_json::to_string(&expected).expect("JSON");
    // Every send's model check, plus the listing, the window and the refusal.
    let tally = format!("{} passed, 0 failed", 3 + CHANNELS.len());
    run_script(
        &python,
        &[
            ("SENDID_BASE_URL", app.address.as_str()),
            ("SENDID_API_KEY", key.as_str()),
            ("SENDID_SENDS", sends.as_str()),
            ("SENDID_TODAY", today.as_str()),
        ],
        &tally,
    )
    .await;
}

/// Runs the script with `envs` (see `sendid_test_support::clients::run_script`).
async fn run_script(python: &Path, envs: &[(&str, &str)], tally: &str) -> String {
    clients::run_script(
        python,
        "check_data_series.py",
        &client_dir(),
        envs,
        tally,
        SCRIPT_TIMEOUT,
    )
    .await
}

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mcp")
}

/// The venv's Python (or `SENDID_MCP_PYTHON`) when it can import the server and the client
/// library; otherwise prints why and returns `None`, or panics under `CI=true`.
fn mcp_python() -> Option<PathBuf> {
    let python = std::env::var_os("SENDID_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| client_dir().join(".venv/bin/python"));
    let why = if !python.is_file() {
        format!(
            "{} not found (run tests/clients/mcp/setup.sh, or set SENDID_MCP_PYTHON)",
            python.display()
        )
    } else {
        let imports = std::process::Command::new(&python)
            .args(["-c", "import braze_mcp.server, mcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match imports {
            Ok(status) if status.success() => return Some(python),
            _ => format!(
                "{} cannot import braze_mcp and mcp (run tests/clients/mcp/setup.sh)",
                python.display()
            ),
        }
    };
    sendid_test_support::cannot_run(&format!("MCP client test: {why}"))
}
