//! The start-up banner: where to go, and on a new store the demo key (shown this once).
use crate::config::Config;
use crate::demo::DEMO_CAMPAIGN_ID;
use crate::startup::{describe_storage, Application};

/// Tells a new user where to go. The demo key is printed only on the start that created it.
pub fn print_banner(app: &Application, config: &Config) {
    let addr = app.addr();
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let scheme = app.scheme();
    println!(
        "sendid is listening on {scheme}://{addr} (data in {})",
        describe_storage(config)
    );
    println!("  Swagger UI:  {scheme}://{host}/docs");
    match app.demo() {
        Some(demo) => {
            println!("  A new store: a demo workspace was created.");
            println!("    workspace:   {}", demo.workspace_id);
            println!(
                "    API key:     {}   (shown this once; click \"Authorize\" and paste it)",
                demo.api_key
            );
            println!("    campaign_id: {}", demo.campaign_id);
            println!("  Or from a shell:");
            println!(
                "    curl -s -X POST {scheme}://{host}/sends/id/create -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"campaign_id\":\"{}\"}}'",
                demo.api_key, demo.campaign_id
            );
        }
        None if config.database_url.is_some() => {
            if let Some(workspace) = app.demo_workspace() {
                println!("  Demo workspace: {workspace} (campaign_id: {DEMO_CAMPAIGN_ID})");
            }
            println!(
                "  The demo key was shown by the instance that set this database up; mint another with the admin API."
            );
        }
        None => {
            if let Some(workspace) = app.demo_workspace() {
                println!("  Demo workspace: {workspace} (campaign_id: {DEMO_CAMPAIGN_ID})");
            }
            println!(
                "  The demo key was shown when {} was created. Lost it? Stop sendid and run:",
                config.data_dir.display()
            );
            let program = std::env::args().next().unwrap_or_else(|| "sendid".into());
            println!(
                "    {program} keys create --workspace demo --data-dir {}",
                config.data_dir.display()
            );
        }
    }
    if app.sandbox_enabled() {
        println!(
            "  Sandbox:     ON (for tests only): /admin/reset, /admin/clock, /admin/faults, /admin/requests"
        );
    }
    if app.admin_enabled() {
        println!("  Admin API:   {scheme}://{host}/admin/docs");
    } else {
        println!(
            "  Admin API:   off (start with --admin-token, SENDID_ADMIN_TOKEN or --admin-token-file to turn it on)"
        );
    }
}
