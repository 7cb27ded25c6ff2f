//! The command line: `sendid [serve]`, `sendid openapi [--admin]`, `sendid keys create` and
//! `sendid health`.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, DATABASE_URL_ENV, DATA_DIR_ENV, DEFAULT_DATA_DIR};

#[derive(Debug, Parser)]
#[command(
    name = "sendid",
    version,
    about = "A Braze-compatible send-ID service on embedded sled (the default) or PostgreSQL"
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
    /// REST API keys, minted directly in a data directory that no server holds (for when the
    /// admin API is off or a key is lost).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify a sled data directory without serving: what it holds (workspaces, campaigns,
    /// keys, pairs) and whether it opens whole. Exit 0 whole, 1 damaged, 2 nothing to check.
    Check(CheckArgs),
    /// Ask a running sendid's GET /health; exit 0 when it answers 200 (a container's health
    /// check: the image has no shell or curl).
    Health(crate::health_check::HealthArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sled: OfflineDataDir,
}

/// `--data-dir` of the commands that open a sled data directory themselves (`check`, `keys
/// create`): the same flag, variable and default as `serve --data-dir`.
#[derive(Debug, Clone, clap::Args)]
pub struct OfflineDataDir {
    /// Directory of the embedded sled database; no server may be running on it.
    #[arg(long, env = DATA_DIR_ENV, hide_env_values = true, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Mint a new API key for a workspace and print it, once.
    Create(KeysCreate),
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeysCreate {
    /// The workspace: its id, or `demo` for the demo workspace of a new data directory.
    #[arg(long)]
    pub workspace: String,
    /// A permission of the key; repeat for several [default: sends.id.create].
    #[arg(long = "permission", value_name = "PERMISSION")]
    pub permissions: Vec<String>,
    /// A name for people, shown in the admin API's key listing.
    #[arg(long, default_value = "minted by `sendid keys create`")]
    pub name: String,
    /// A PostgreSQL database (as `serve --database-url`); servers may keep running on it, they
    /// see the new key within a second.
    #[arg(long, env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub sled: OfflineDataDir,
    /// Print the key as one JSON object (`key_id`, `workspace_id`, `permissions`, `api_key`)
    /// for scripts; an error is then a JSON object `{"message"}` on stderr.
    #[arg(long)]
    pub json: bool,
}
