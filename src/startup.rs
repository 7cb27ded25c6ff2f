//! Wiring: check the settings, bind the port, open the store, set up a new one, and serve.
//! The routes live in `api/routes.rs`, the demo workspace in `demo.rs`, the banner in
//! `banner.rs`, the allocator tuning in `allocator.rs`.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, Server};

use crate::api::client_ip::TrustedProxies;
use crate::api::metrics::Metrics;
use crate::api::routes::routes;
use crate::api::AppState;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::hash_secret;
use crate::fixtures::Fixtures;
use crate::net::GuardedAcceptor;
use crate::store::postgres::describe_url;
use crate::store::{OpenError, PgStore, SledStore, Store, StoreError, StoreOptions};
use crate::tls::{TlsAcceptor, TlsFiles};

pub use crate::demo::Demo;

/// Why `sendid serve` could not start; the process's exit status follows the kind
/// ([`StartError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `--fixtures` is wrong, contradicts the store, or could not be applied.
    #[error(transparent)]
    Fixtures(#[from] crate::fixtures::FixtureError),
    /// The store could not be opened (a bad URL, a locked, damaged or foreign data directory,
    /// an unreachable database).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The store failed while the start set it up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `--admin-token` or `--admin-token-file` is unusable.
    #[error(transparent)]
    AdminToken(#[from] crate::admin_token::AdminTokenError),
    /// Another setting, the port, the TLS files, the demo workspace's set-up.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StartError {
    /// The process exit status: a fixture file's own (2: the file is wrong, like a bad flag),
    /// otherwise 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Fixtures(f) => f.exit_code(),
            _ => 1,
        }
    }

    /// As an `anyhow::Error`, whose `{:#}` prints what failed and then each cause once.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Other(e) => e,
            other => other.into(),
        }
    }
}

pub struct Application {
    addr: SocketAddr,
    acceptor: TcpAcceptor,
    state: AppState,
    store: Arc<dyn Store>,
    demo: Option<Demo>,
    /// What `--fixtures` did at this start.
    fixtures_report: Option<crate::fixtures::Report>,
    /// The demo workspace's id, while its campaign exists.
    demo_workspace: Option<String>,
    grace: Duration,
    max_connections: usize,
    request_timeout: Duration,
    idle_timeout: Duration,
    /// The current TLS configuration (`--tls-cert`), replaced on SIGHUP.
    tls: Option<tokio::sync::watch::Receiver<Arc<rustls::ServerConfig>>>,
}

impl Application {
    pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        Self::build_with(config, clock, StoreOptions::default()).await
    }

    pub async fn build_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        mut options: StoreOptions,
    ) -> Result<Self, StartError> {
        // Settings that can be wrong are checked before anything touches the disk.
        let admin_token = crate::admin_token::resolve(config)?;
        if config.sandbox && admin_token.is_none() {
            return Err(anyhow::anyhow!(
                "--sandbox needs the admin API, which steers it: add --admin-token \
                 (or SENDID_ADMIN_TOKEN, or --admin-token-file). Nothing was written."
            )
            .into());
        }
        // With --sandbox the whole service reads the sandbox's clock, which tests can move.
        let sandbox = config
            .sandbox
            .then(|| Arc::new(crate::sandbox::Sandbox::new(clock.clone())));
        let clock = sandbox.as_ref().map_or(clock, |s| s.service_clock());
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(
                TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }
                .load_and_watch()?,
            ),
            _ => {
                crate::tls::ignore_hangup();
                None
            }
        };
        // A bad fixture file stops the start before the port or the store is touched.
        let fixtures = match &config.fixtures {
            Some(path) => Some(Arc::new(Fixtures::load(path)?)),
            None => None,
        };
        // The port first: a start that cannot listen must leave the data directory untouched,
        // or a new directory's demo key would be created and never shown.
        let acceptor = TcpListener::bind(config.bind)
            .into_acceptor()
            .await
            .map_err(|e| listen_error(config, e))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("the listener reported no address"))?;
        let metrics = Metrics::new();
        options.observer = Some(metrics.clone());
        let store = open_store(config, options).await?;
        // Fixtures replace the demo workspace: they are the store's set-up.
        let (demo, fixtures_report) = match &fixtures {
            Some(f) => {
                let report = crate::fixtures::apply(store.as_ref(), f, clock.as_ref()).await?;
                for change in &report.changes {
                    tracing::info!(fixtures = %f.source.display(), "{change}");
                }
                (None, Some(report))
            }
            None => (
                crate::demo::bootstrap(store.as_ref(), clock.as_ref()).await?,
                None,
            ),
        };
        let demo_workspace = crate::demo::demo_workspace(store.as_ref()).await?;
        if let Some(sandbox) = &sandbox {
            if let Some(baseline) = crate::sandbox::reset::Baseline::capture(store.as_ref()).await?
            {
                sandbox.set_baseline(baseline);
            }
        }
        let state = AppState {
            store: store.clone(),
            clock,
            admin_token: admin_token.as_deref().map(hash_secret),
            metrics,
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            sandbox,
            fixtures,
        };
        Ok(Self {
            addr,
            acceptor,
            state,
            store,
            demo,
            fixtures_report,
            demo_workspace,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            max_connections: config.max_connections as usize,
            request_timeout: Duration::from_secs(config.request_timeout_seconds),
            idle_timeout: Duration::from_secs(config.idle_timeout_seconds),
            tls,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when serving TLS, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn admin_enabled(&self) -> bool {
        self.state.admin_token.is_some()
    }

    /// `--sandbox`: reset, clock, faults and the request journal are on.
    pub fn sandbox_enabled(&self) -> bool {
        self.state.sandbox.is_some()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Set when this start created the data directory's demo workspace.
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
    }

    /// `--fixtures`: what applying them did at this start.
    pub fn fixtures_report(&self) -> Option<&crate::fixtures::Report> {
        self.fixtures_report.as_ref()
    }

    /// The id of the workspace that holds `demo-campaign`, on every start (not only the first).
    pub fn demo_workspace(&self) -> Option<&str> {
        self.demo_workspace.as_deref()
    }

    /// Serves until `shutdown` resolves, lets in-flight requests finish, then flushes the store.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        // A sandbox fault closes a connection through the switch the acceptor registers.
        let connections = self.state.sandbox.as_ref().map(|s| s.connections.clone());
        let app = routes(self.state);
        let (max, timeout) = (self.max_connections, self.request_timeout);
        let (idle, grace) = (self.idle_timeout, Some(self.grace));
        let result = match self.tls {
            Some(tls) => {
                let acceptor = TlsAcceptor::new(self.acceptor, tls);
                serve(
                    GuardedAcceptor::new(acceptor, max, timeout).with_connections(connections),
                    app,
                    shutdown,
                    idle,
                    grace,
                )
                .await
            }
            None => {
                let acceptor =
                    GuardedAcceptor::new(self.acceptor, max, timeout).with_connections(connections);
                serve(acceptor, app, shutdown, idle, grace).await
            }
        };
        if let Err(e) = self.store.close().await {
            tracing::error!(error = %e, "final flush failed");
        }
        result
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }
}

/// The engine the config chooses: PostgreSQL with `--database-url`, otherwise sled at
/// `--data-dir` (the embedded default).
pub async fn open_store(
    config: &Config,
    mut options: StoreOptions,
) -> Result<Arc<dyn Store>, OpenError> {
    options.database_timeout = Some(Duration::from_secs(config.database_timeout));
    Ok(match &config.database_url {
        Some(url) => Arc::new(PgStore::open(url, options).await?),
        None => {
            let store = SledStore::open(&config.data_dir, options)?;
            crate::allocator::release_freed_memory();
            Arc::new(store)
        }
    })
}

/// Where the data lives, safe to print (a database URL's password is left out).
pub fn describe_storage(config: &Config) -> String {
    match &config.database_url {
        Some(url) => describe_url(url),
        None => config.data_dir.display().to_string(),
    }
}

async fn serve(
    acceptor: impl Acceptor + 'static,
    app: impl Endpoint + 'static,
    shutdown: impl std::future::Future<Output = ()>,
    idle_timeout: Duration,
    grace: Option<Duration>,
) -> std::io::Result<()> {
    Server::new_with_acceptor(acceptor)
        .name("sendid")
        .idle_timeout(idle_timeout)
        .run_with_graceful_shutdown(app, shutdown, grace)
        .await
}

fn listen_error(config: &Config, e: std::io::Error) -> anyhow::Error {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "; another program is using it: choose another address with --bind (e.g. --bind {}) \
             or SENDID_BIND. Nothing was written to {}",
            std::net::SocketAddr::new(config.bind.ip(), 8081),
            config.data_dir.display()
        )
    } else {
        format!(
            "; choose another address with --bind or SENDID_BIND. Nothing was written to {}",
            config.data_dir.display()
        )
    };
    anyhow::anyhow!("cannot listen on {}: {e}{hint}", config.bind)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed by this call, not on first
/// poll, so call it before announcing the address: a SIGTERM that arrives between the banner and
/// the first poll would otherwise kill the process with the default action, skipping the
/// graceful shutdown.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
