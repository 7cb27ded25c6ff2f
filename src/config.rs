//! The service's settings, with their environment fallbacks in one place.
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;

/// `--data-dir`'s variable and default, shared with the commands that open the directory
/// themselves (`check`, `keys create`): they must find what `serve` wrote.
pub const DATA_DIR_ENV: &str = "SENDID_DATA_DIR";
pub const DEFAULT_DATA_DIR: &str = "./data";
/// `--database-url`'s variable, shared with `keys create`.
pub const DATABASE_URL_ENV: &str = "SENDID_DATABASE_URL";
/// `--bind`'s variable and default, shared with `sendid health`: it asks where `serve` listens.
pub const BIND_ENV: &str = "SENDID_BIND";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = BIND_ENV, hide_env_values = true, default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Directory of the embedded sled database (created when missing).
    #[arg(long, env = DATA_DIR_ENV, hide_env_values = true, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// A PostgreSQL database shared by any number of instances (`postgres://user:pass@host/db`;
    /// `?sslmode=require` for TLS). When set, it replaces the sled directory at --data-dir.
    #[arg(long, env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Seconds PostgreSQL may take to connect, hand out a connection or answer a statement;
    /// past it the request answers 503 (and `/health` too) until the database answers again.
    #[arg(long = "database-timeout", env = "SENDID_DATABASE_TIMEOUT", hide_env_values = true,
          value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_timeout: u64,
    /// Turns on the admin API under /admin; callers send it as `Authorization: Bearer <token>`.
    /// At least 24 characters: `openssl rand -hex 32` makes one.
    #[arg(long, env = "SENDID_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// A file holding the admin token (alternative to --admin-token: keeps it out of the
    /// environment and the process list). Surrounding whitespace is ignored.
    #[arg(
        long,
        env = "SENDID_ADMIN_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<PathBuf>,
    /// Peers (comma-separated IPs or CIDRs) whose `Forwarded` / `X-Forwarded-For` headers give the
    /// client address for IP allow-lists; from any other peer those headers are ignored.
    #[arg(long, env = "SENDID_TRUSTED_PROXIES", value_name = "CIDR,...", value_delimiter = ',',
          value_parser = crate::api::client_ip::parse_net)]
    pub trusted_proxies: Vec<IpNet>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Re-read on SIGHUP.
    #[arg(
        long,
        env = "SENDID_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert. Re-read on SIGHUP.
    #[arg(
        long,
        env = "SENDID_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Log format: `text` for people, `json` for a log pipeline (one object per line).
    #[arg(long, env = "SENDID_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `sendid=debug`.
    #[arg(
        long,
        env = "SENDID_LOG",
        hide_env_values = true,
        default_value = "info"
    )]
    pub log: String,
    /// Seconds to let in-flight requests finish after SIGTERM / Ctrl-C.
    #[arg(
        long,
        env = "SENDID_SHUTDOWN_GRACE_SECONDS",
        hide_env_values = true,
        default_value_t = 10
    )]
    pub shutdown_grace_seconds: u64,
    /// Most client connections open at once; further clients wait in the listen backlog until
    /// one closes. Kept under the usual 1024 open-files limit.
    #[arg(long, env = "SENDID_MAX_CONNECTIONS", hide_env_values = true, default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds from a request's first byte (or from connecting) until its answer starts; a client
    /// still sending by then is disconnected with 408 (a slowloris defence).
    #[arg(long, env = "SENDID_REQUEST_TIMEOUT_SECONDS", hide_env_values = true, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_seconds: u64,
    /// Seconds a connection may stay silent (no bytes either way) before it is closed.
    #[arg(long, env = "SENDID_IDLE_TIMEOUT_SECONDS", hide_env_values = true, default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_seconds: u64,
    /// The sandbox, for other teams' integration tests: `/admin/reset`, `/admin/clock`,
    /// `/admin/faults` and `/admin/requests` (needs an admin token). Never in production.
    #[arg(long, env = "SENDID_SANDBOX", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,
    /// A YAML or JSON file of workspaces, campaigns and API keys, created or updated at every
    /// start (nothing is deleted); a bad file stops the start with exit 2. See docs/testing.md.
    #[arg(long, env = "SENDID_FIXTURES", value_name = "PATH")]
    pub fixtures: Option<PathBuf>,
    /// The address people open to reach this server (e.g. `http://localhost:9000` for a
    /// container published on port 9000, or a proxy's URL), shown in the start-up banner;
    /// default: the bound address, `localhost` for 0.0.0.0 or [::].
    #[arg(long, env = "SENDID_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

impl Config {
    /// A config for tests: port 0 on loopback, the given data directory.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            database_url: None,
            database_timeout: 5,
            admin_token: None,
            admin_token_file: None,
            trusted_proxies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Text,
            log: "warn".into(),
            shutdown_grace_seconds: 5,
            max_connections: 512,
            request_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            sandbox: false,
            fixtures: None,
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
