//! The command line: `sendid [serve]` and `sendid openapi [--admin]`.
use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "sendid",
    version,
    about = "A Braze-compatible send-ID service on embedded sled"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve`, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve(Box<Config>),
    /// Print an OpenAPI document, byte for byte what is committed under openapi/.
    Openapi {
        /// Print the admin API's document instead of the public one.
        #[arg(long)]
        admin: bool,
    },
}
