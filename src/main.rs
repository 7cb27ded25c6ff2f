use std::sync::Arc;

use clap::Parser;
use sendid::api::docs::{admin_spec, sends_spec};
use sendid::cli::{Cli, Command, KeysCommand};
use sendid::clock::SystemClock;
use sendid::startup::{Application, StartError};
use sendid::telemetry::{print_stderr, print_stdout};

// musl's own malloc serialises threads on one lock; the static binary uses mimalloc instead
// (measured in docs/performance.md, "The static binary").
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before any thread exists: the allocator's arenas are created by the threads that use it.
    sendid::allocator::limit_allocator_arenas();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            print_stderr(&format!("sendid: cannot start the async runtime: {e}\n"));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Openapi { admin }) => {
            let written = print_stdout(&if admin { admin_spec() } else { sends_spec() });
            return exit_code(written);
        }
        Some(Command::Health(args)) => {
            return match sendid::health_check::check(&args) {
                Ok(said) => exit_code(print_stdout(&format!("{said}\n"))),
                Err(e) => {
                    print_stderr(&format!("sendid health: {e}\n"));
                    std::process::ExitCode::FAILURE
                }
            };
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
    let code = match serve(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // A bad fixture file is a usage error (exit 2), like a bad flag.
            let code = e.exit_code();
            // As a chain: what failed, then each cause.
            let e = e.into_anyhow();
            if config_json {
                tracing::error!(
                    error = format!("{e:#}"),
                    "sendid could not start or stopped on an error"
                );
            } else {
                // After the log's queue, so the message comes last.
                sendid::telemetry::sink::flush(LOG_FLUSH);
                print_stderr(&format!("sendid: {e:#}\n"));
            }
            std::process::ExitCode::from(code)
        }
    };
    // What the log still holds, unless its sink is stuck: that must not keep the process alive.
    sendid::telemetry::sink::flush(LOG_FLUSH);
    code
}

/// How long the exit waits for the log's queue to be written.
const LOG_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

fn exit_code(success: bool) -> std::process::ExitCode {
    if success {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

async fn serve(config: sendid::config::Config) -> Result<(), StartError> {
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    // Before the banner: whoever reads it may send SIGTERM at once.
    let shutdown = sendid::startup::shutdown_signal();
    sendid::banner::print_banner(&app, &config);
    app.run_until(shutdown).await.map_err(anyhow::Error::from)?;
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
            exit_code(print_stdout(&format!("{out}\n")))
        }
        Ok(key) => exit_code(print_stdout(&format!(
            "Created API key {} for workspace {} (permissions: {}).\nAPI key: {}\n\
             It is shown this once: only its hash is stored.\n",
            key.key_id,
            key.workspace_id,
            key.permissions.join(", "),
            key.api_key
        ))),
        Err(e) if args.json => {
            print_stderr(&format!(
                "{}\n",
                serde_json::json!({ "message": e.to_string() })
            ));
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            print_stderr(&format!("sendid keys create: {e}\n"));
            std::process::ExitCode::FAILURE
        }
    }
}
