//! Wiring: open the store, bootstrap a new data directory, build the routes, bind the port.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::http::{Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::CatchPanic;
use poem::web::Redirect;
use poem::{get, Endpoint, EndpointExt, Response, Route, Server};

use crate::api::access_log::AccessLog;
use crate::api::client_ip::TrustedProxies;
use crate::api::docs::{admin_service, sends_service};
use crate::api::error::{json_error, AllowIndex, JsonErrors};
use crate::api::metrics::{Metrics, RequestMetrics};
use crate::api::security::{AdminGate, SendsGate};
use crate::api::AppState;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{hash_secret, DEFAULT_DAILY_QUOTA, SENDS_ID_CREATE};
use crate::net::GuardedAcceptor;
use crate::store::postgres::describe_url;
use crate::store::{ApiKeyRecord, Campaign, PgStore, SledStore, Store, StoreOptions, Workspace};
use crate::tls::{TlsAcceptor, TlsFiles};
use poem::web::Data;

/// The campaign id of the demo workspace created on a new data directory.
pub const DEMO_CAMPAIGN_ID: &str = "demo-campaign";

/// What a new data directory was set up with; the key is shown once, at that start.
#[derive(Debug, Clone)]
pub struct Demo {
    pub workspace_id: String,
    pub campaign_id: String,
    pub api_key: String,
}

pub struct Application {
    addr: SocketAddr,
    acceptor: TcpAcceptor,
    state: AppState,
    store: Arc<dyn Store>,
    demo: Option<Demo>,
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
    pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_with(config, clock, StoreOptions::default()).await
    }

    pub async fn build_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        mut options: StoreOptions,
    ) -> anyhow::Result<Self> {
        // Settings that can be wrong are checked before anything touches the disk.
        let admin_token = crate::admin_token::resolve(config)?;
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
        let demo = bootstrap(store.as_ref(), clock.as_ref()).await?;
        let demo_workspace = store
            .campaign(DEMO_CAMPAIGN_ID)
            .await?
            .map(|c| c.workspace_id);
        let state = AppState {
            store: store.clone(),
            clock,
            admin_token: admin_token.as_deref().map(hash_secret),
            metrics,
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
        };
        Ok(Self {
            addr,
            acceptor,
            state,
            store,
            demo,
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

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Set when this start created the data directory's demo workspace.
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
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
        let app = routes(self.state);
        let (max, timeout) = (self.max_connections, self.request_timeout);
        let (idle, grace) = (self.idle_timeout, Some(self.grace));
        let result = match self.tls {
            Some(tls) => {
                let acceptor = TlsAcceptor::new(self.acceptor, tls);
                serve(
                    GuardedAcceptor::new(acceptor, max, timeout),
                    app,
                    shutdown,
                    idle,
                    grace,
                )
                .await
            }
            None => {
                let acceptor = GuardedAcceptor::new(self.acceptor, max, timeout);
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
pub async fn open_store(config: &Config, options: StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.database_url {
        Some(url) => Arc::new(PgStore::open(url, options).await?),
        None => {
            let store = SledStore::open(&config.data_dir, options)?;
            release_freed_memory();
            Arc::new(store)
        }
    })
}

/// Hands the heap's free pages back to the system. Opening a large sled store rebuilds sled's
/// page table from its snapshot, and the snapshot's copy, freed once the table is built, is
/// scattered among blocks that stay; glibc only returns a heap's free top on its own, and
/// `malloc_trim` also releases the whole free pages inside it (README, "Performance").
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages back; it never touches memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Where the data lives, safe to print (a database URL's password is left out).
/// Bounds what glibc's allocator keeps, so the resident size stays flat (README, "Performance").
/// Call first thing in `main`, before any thread starts; a `MALLOC_ARENA_MAX` or
/// `MALLOC_TRIM_THRESHOLD_` set in the environment wins over these values.
///
/// - Arenas: glibc gives threads up to 8 arenas per core (16 here), and each keeps the memory
///   its threads freed; sendid's request work runs on one tokio worker per core plus the pair
///   writer and sled's threads, so one arena per core keeps lock contention low while freed
///   memory is reused instead of stranded (measured: 52.4 → 46.8 MiB peak over the bench).
/// - Trim threshold 128 KiB (glibc's starting value, which it raises up to 32 MiB as large
///   blocks are freed): free memory at the top of a heap goes back to the system once it exceeds
///   128 KiB, and large blocks (sled's buffers, a Swagger UI page) stay mmap-ed and are unmapped
///   when freed (46.8 → 42.6 MiB).
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(2);
        // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
            if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
            }
        }
    }
}

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

async fn bootstrap(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<Option<Demo>> {
    let now = clock.now_millis();
    let workspace = Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        name: "Demo workspace".into(),
        daily_send_id_quota: DEFAULT_DAILY_QUOTA,
        created_at: now,
        seq: 0,
    };
    let campaign = Campaign {
        campaign_id: DEMO_CAMPAIGN_ID.into(),
        workspace_id: workspace.id.clone(),
        name: "Demo campaign".into(),
        created_at: now,
        seq: 0,
    };
    let (key, record) = ApiKeyRecord::mint(
        &workspace.id,
        Some("demo key".into()),
        vec![SENDS_ID_CREATE.into()],
        vec![],
        now,
    );
    let created = store.bootstrap(&workspace, &campaign, &record).await?;
    Ok(created.then(|| Demo {
        workspace_id: workspace.id,
        campaign_id: campaign.campaign_id,
        api_key: key.expose().to_string(),
    }))
}

/// Every route of the service, with its layers.
pub fn routes(state: AppState) -> impl Endpoint<Output = Response> {
    let sends = sends_service();
    let admin = admin_service();
    let allow = AllowIndex::from_specs(&[sends.spec(), admin.spec()])
        .add("/health", &[Method::GET])
        .add("/metrics", &[Method::GET])
        .add("/docs", &[Method::GET])
        .add("/openapi.json", &[Method::GET])
        .add("/openapi.yaml", &[Method::GET]);
    let admin_enabled = state.admin_token.is_some();
    let metrics = state.metrics.clone();
    let access_log = AccessLog {
        routes: allow.clone(),
    };
    let request_metrics = RequestMetrics {
        metrics: state.metrics.clone(),
        routes: allow.clone(),
    };

    let mut route = Route::new()
        .at("/", get(make_sync(|_| Redirect::see_other("/docs"))))
        .at("/health", get(health))
        .at("/metrics", get(make_sync(move |_| metrics.render())))
        .nest("/docs", swagger_ui(sends_service))
        .at("/openapi.json", get(sends.spec_endpoint()))
        .at("/openapi.yaml", get(sends.spec_endpoint_yaml()))
        .nest_no_strip(
            "/sends",
            SendsGate {
                inner: sends.boxed(),
                state: state.clone(),
            },
        );
    let admin_docs = Route::new()
        .nest("/admin/docs", swagger_ui(admin_service))
        .at("/admin/openapi.json", get(admin.spec_endpoint()))
        .at("/admin/openapi.yaml", get(admin.spec_endpoint_yaml()));
    let admin_all = if admin_enabled {
        admin_docs.nest_no_strip("/admin", admin.boxed()).boxed()
    } else {
        admin_docs.boxed()
    };
    route = route.nest_no_strip(
        "/admin",
        AdminGate {
            inner: admin_all,
            state: state.clone(),
        },
    );
    route
        .data(state)
        .with(JsonErrors { allow })
        .with(request_metrics)
        .with(
            CatchPanic::new()
                .with_handler(|_| json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
        )
        .with(access_log)
}

/// The Swagger UI page of a document, built on each request. poem-openapi's `swagger_ui()`
/// renders the page once and keeps it: about 3 MiB of heap per document (the page inlines the
/// 1.4 MB Swagger UI bundle, and the string is built by doubling), 6.4 MiB for the two, held for
/// a page that is rarely opened. Built per request (a few milliseconds), it is freed once sent.
fn swagger_ui<T, F>(service: F) -> impl Endpoint<Output = Response>
where
    F: Fn() -> poem_openapi::OpenApiService<T, ()> + Send + Sync + 'static,
    T: poem_openapi::OpenApi + Send + Sync + 'static,
{
    poem::endpoint::make(move |req: poem::Request| {
        let document = service();
        async move { document.swagger_ui().get_response(req).await }
    })
}

#[poem::handler]
async fn health(state: Data<&AppState>) -> Response {
    match state.store.health().await {
        Ok(()) => json_error(StatusCode::OK, "ok"),
        Err(e) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage is unreachable: {e}"),
        ),
    }
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
    if app.admin_enabled() {
        println!("  Admin API:   {scheme}://{host}/admin/docs");
    } else {
        println!(
            "  Admin API:   off (start with --admin-token, SENDID_ADMIN_TOKEN or --admin-token-file to turn it on)"
        );
    }
}
