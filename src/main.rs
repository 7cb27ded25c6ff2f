use std::sync::Arc;

use clap::Parser;
use sendid::api::docs::{admin_spec, sends_spec};
use sendid::cli::{Cli, Command, KeysCommand};
use sendid::clock::SystemClock;
use sendid::startup::Application;

fn main() -> std::process::ExitCode {
    // Before any thread exists: the allocator's arenas are created by the threads that use it.
    sendid::allocator::limit_allocator_arenas();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("sendid: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Openapi { admin }) => {
            print!("{}", if admin { admin_spec() } else { sends_spec() });
            return std::process::ExitCode::SUCCESS;
        }
        Some(Command::Keys {
            command: KeysCommand::Create(args),
        }) => return keys_create(&args).await,
        Some(Command::Check(args)) => return sendid::check::run(&args),
        Some(Command::Serve(config)) => *config,
        None => cli.serve,
    };
    sendid::telemetry::init(&config.log, config.log_format);
    let config_json = config.log_format == sendid::config::LogFormat::Json;
    match serve(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A bad fixture file is a usage error (exit 2), like a bad flag.
        Err(e) if e.downcast_ref::<sendid::fixtures::FixtureError>().is_some() => {
            let code = e
                .downcast_ref::<sendid::fixtures::FixtureError>()
                .map_or(1, |f| f.exit_code());
            if config_json {
                tracing::error!(error = format!("{e:#}"), "sendid did not start");
            } else {
                eprintln!("sendid: {e:#}");
            }
            std::process::ExitCode::from(code)
        }
        Err(e) if config_json => {
            tracing::error!(
                error = format!("{e:#}"),
                "sendid could not start or stopped on an error"
            );
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sendid: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: sendid::config::Config) -> anyhow::Result<()> {
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    // Before the banner: whoever reads it may send SIGTERM at once.
    let shutdown = sendid::startup::shutdown_signal();
    sendid::banner::print_banner(&app, &config);
    app.run_until(shutdown).await?;
    Ok(())
}

async fn keys_create(args: &sendid::cli::KeysCreate) -> std::process::ExitCode {
    match sendid::keys::create(args, &SystemClock).await {
        Ok(key) if args.json => {
            let out = serde_json::json!({
                "key_id": key.key_id,
                "workspace_id": key.workspace_id,
                "permissions": key.permissions,
                "api_key": key.api_key,
            });
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Ok(key) => {
            println!(
                "Created API key {} for workspace {} (permissions: {}).",
                key.key_id,
                key.workspace_id,
                key.permissions.join(", ")
            );
            println!("API key: {}", key.api_key);
            println!("It is shown this once: only its hash is stored.");
            std::process::ExitCode::SUCCESS
        }
        Err(e) if args.json => {
            eprintln!("{}", serde_json::json!({ "message": e.to_string() }));
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sendid keys create: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
