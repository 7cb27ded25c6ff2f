//! `sendid-conformance`: holds any server to the sendid contract (docs/contract.md §5).
//!
//! The binary is a thin `main.rs` over [`run`], so tests call the checker in-process as well as
//! as a program.
pub mod budget;
pub mod burst;
pub mod classes;
pub mod cli;
pub mod config;
pub mod edges;
pub mod events;
pub mod exit;
pub mod http;
pub mod model;
pub mod oracle;
pub mod properties;
pub mod report;
pub mod runner;
pub mod seed;
pub mod shell;
pub mod shrink;
pub mod spec;
pub mod strategies;

pub use cli::Cli;
pub use config::{Profile, RunConfig};
pub use exit::Exit;
pub use runner::Outcome;

/// Runs the checker as the binary would, telling the terminal as it goes.
pub async fn run(cli: Cli) -> Outcome {
    runner::run(cli.into_config()).await
}

/// Runs the checker, telling `events` as it goes.
pub async fn run_with(cli: Cli, events: std::sync::Arc<dyn events::Events>) -> Outcome {
    runner::run_with(cli.into_config(), events).await
}
