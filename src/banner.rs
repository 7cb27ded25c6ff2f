//! The start-up banner: where to go, and on a new store the demo key (shown this once).
//!
//! With `--log-format text` it is a few lines for a person; with `json` it is one JSON event on
//! one line (the log's own shape: `timestamp`, `level`, `target` `sendid::banner`, `message`, and
//! the fields), so a log pipeline that merges stdout and stderr gets nothing it cannot parse.
//! Bound to a wildcard address (`0.0.0.0`, `[::]`), it advertises `localhost`, which a person
//! on the machine (or on a container's host, with the port published as it is) can open;
//! `--public-url` names the address people use when it is another one.
use serde_json::{json, Map, Value};

use crate::config::{Config, LogFormat};
use crate::demo::DEMO_CAMPAIGN_ID;
use crate::startup::{describe_storage, Application};
use crate::telemetry::print_stdout;

/// What the banner says, whatever its format.
struct Banner {
    /// The address to open: `--public-url`, or the bound one (`localhost` for a wildcard).
    url: String,
    bound_to: String,
    data: String,
    admin: bool,
    sandbox: bool,
    demo: Option<crate::demo::Demo>,
    /// The demo workspace on a later start (its key is not shown again).
    demo_workspace: Option<String>,
    /// How to get a demo key back on a later start.
    lost_key: Option<String>,
    /// `--fixtures`: what this start created or updated (nothing is deleted).
    fixtures: Option<crate::fixtures::Report>,
}

/// Tells a new user where to go. The demo key is printed only on the start that created it.
pub fn print_banner(app: &Application, config: &Config) {
    let banner = Banner::new(app, config);
    // Nothing is lost but the banner when stdout is closed or full: the service runs on.
    let _ = print_stdout(&match config.log_format {
        LogFormat::Text => banner.text(),
        LogFormat::Json => banner.json(),
    });
}

/// The address a person can open for a server bound to `addr`.
fn openable(scheme: &str, addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("{scheme}://localhost:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}

impl Banner {
    fn new(app: &Application, config: &Config) -> Self {
        let url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => openable(app.scheme(), app.addr()),
        };
        let lost_key = match (app.demo(), &config.database_url) {
            (Some(_), _) => None,
            // The fixtures are this store's set-up; their keys are in the file.
            _ if app.fixtures_report().is_some() => None,
            (None, Some(_)) => Some(
                "The demo key was shown by the instance that set this database up; mint another \
                 with the admin API."
                    .to_string(),
            ),
            (None, None) => {
                let program = std::env::args().next().unwrap_or_else(|| "sendid".into());
                Some(format!(
                    "The demo key was shown when {dir} was created. Lost it? Stop sendid and run:\n    \
                     {program} keys create --workspace demo --data-dir {dir}",
                    dir = config.data_dir.display()
                ))
            }
        };
        Banner {
            url,
            bound_to: app.addr().to_string(),
            data: describe_storage(config),
            admin: app.admin_enabled(),
            sandbox: app.sandbox_enabled(),
            demo: app.demo().cloned(),
            demo_workspace: app.demo_workspace().map(str::to_string),
            lost_key,
            fixtures: app.fixtures_report().cloned(),
        }
    }

    fn first_line(&self) -> String {
        let bound = if self.url.ends_with(&self.bound_to) {
            String::new()
        } else {
            format!("bound to {}; ", self.bound_to)
        };
        format!(
            "sendid is listening on {} ({bound}data in {})",
            self.url, self.data
        )
    }

    fn text(&self) -> String {
        let url = &self.url;
        let mut out = vec![self.first_line(), format!("  Swagger UI:  {url}/docs")];
        if let Some(report) = &self.fixtures {
            out.push(format!("  {}", report.summary()));
            out.extend(report.changes.iter().map(|c| format!("    {c}")));
            if !report.keys.is_empty() {
                out.push(
                    "  Fixture keys (their values are in the fixture file, or the write_to file):"
                        .into(),
                );
                out.extend(report.keys.iter().map(|k| format!("    {}", k.describe())));
            }
        }
        match &self.demo {
            Some(demo) => {
                out.push("  A new store: a demo workspace was created.".into());
                out.push(format!("    workspace:   {}", demo.workspace_id));
                out.push(format!(
                    "    API key:     {}   (shown this once; click \"Authorize\" and paste it)",
                    demo.api_key
                ));
                out.push(format!("    campaign_id: {}", demo.campaign_id));
                out.push("  Or from a shell:".into());
                out.push(format!(
                    "    curl -s -X POST {url}/sends/id/create -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"campaign_id\":\"{}\"}}'",
                    demo.api_key, demo.campaign_id
                ));
            }
            None => {
                if let Some(workspace) = &self.demo_workspace {
                    out.push(format!(
                        "  Demo workspace: {workspace} (campaign_id: {DEMO_CAMPAIGN_ID})"
                    ));
                }
                if let Some(hint) = &self.lost_key {
                    out.push(format!("  {hint}"));
                }
            }
        }
        if self.sandbox {
            out.push(
                "  Sandbox:     ON (for tests only): /admin/reset, /admin/clock, /admin/faults, /admin/requests"
                    .into(),
            );
        }
        out.push(if self.admin {
            format!("  Admin API:   {url}/admin/docs")
        } else {
            "  Admin API:   off (start with --admin-token, SENDID_ADMIN_TOKEN or --admin-token-file to turn it on)".into()
        });
        out.join("\n") + "\n"
    }

    fn json(&self) -> String {
        let url = &self.url;
        let mut event = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        event.insert("timestamp".into(), json!(now));
        event.insert("level".into(), json!("INFO"));
        event.insert("target".into(), json!("sendid::banner"));
        event.insert("message".into(), json!(self.first_line()));
        event.insert("url".into(), json!(url));
        event.insert("bound_to".into(), json!(self.bound_to));
        event.insert("data".into(), json!(self.data));
        event.insert("swagger_ui".into(), json!(format!("{url}/docs")));
        event.insert(
            "admin_api".into(),
            if self.admin {
                json!(format!("{url}/admin/docs"))
            } else {
                Value::Null
            },
        );
        event.insert("sandbox".into(), json!(self.sandbox));
        if let Some(report) = &self.fixtures {
            event.insert(
                "fixtures".into(),
                json!({
                    "source": report.source,
                    "changes": report.changes,
                    "unchanged": report.unchanged,
                    "keys": report.keys.iter().map(|k| json!({
                        "name": k.name,
                        "key_id": k.key_id,
                        "workspace_id": k.workspace_id,
                        "permissions": k.permissions,
                        "write_to": k.write_to,
                    })).collect::<Vec<_>>(),
                }),
            );
        }
        if let Some(demo) = &self.demo {
            event.insert(
                "demo".into(),
                json!({
                    "new_store": true,
                    "workspace_id": demo.workspace_id,
                    "campaign_id": demo.campaign_id,
                    "api_key": demo.api_key,
                }),
            );
        } else if let Some(workspace) = &self.demo_workspace {
            event.insert(
                "demo".into(),
                json!({"new_store": false, "workspace_id": workspace, "campaign_id": DEMO_CAMPAIGN_ID}),
            );
        }
        if let Some(hint) = &self.lost_key {
            event.insert("demo_key_hint".into(), json!(hint.replace("\n    ", " ")));
        }
        Value::Object(event).to_string() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_advertises_localhost() {
        let at = |s: &str| openable("http", s.parse().unwrap());
        assert_eq!(at("0.0.0.0:8080"), "http://localhost:8080");
        assert_eq!(at("[::]:8080"), "http://localhost:8080");
        assert_eq!(at("127.0.0.1:9000"), "http://127.0.0.1:9000");
    }
}
