use std::sync::Arc;

use clap::Parser;
use sendid::api::docs::{admin_spec, sends_spec};
use sendid::cli::{Cli, Command};
use sendid::clock::SystemClock;
use sendid::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Openapi { admin }) => {
            print!("{}", if admin { admin_spec() } else { sends_spec() });
            return std::process::ExitCode::SUCCESS;
        }
        Some(Command::Serve(config)) => *config,
        None => cli.serve,
    };
    sendid::telemetry::init(&config.log);
    match serve(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sendid: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: sendid::config::Config) -> anyhow::Result<()> {
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    sendid::startup::print_banner(&app, &config);
    app.run_until(sendid::startup::shutdown_signal()).await?;
    Ok(())
}
