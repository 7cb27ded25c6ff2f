//! The HTTP surface: the public operation, the admin API, their documents and the shared layers.
pub mod access_log;
pub mod admin;
pub mod client_ip;
pub mod data_series;
mod data_series_types;
pub mod docs;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod sandbox_layer;
pub mod security;
pub mod sends;
pub mod trigger;

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::KeyHash;
use crate::store::Store;
use metrics::Metrics;

/// What every handler reaches through `Data<&AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// SHA-256 of the admin token; `None` turns the admin API off.
    pub admin_token: Option<KeyHash>,
    pub metrics: Arc<Metrics>,
    /// `--trusted-proxies`: whose forwarding headers give the client address.
    pub trusted_proxies: client_ip::TrustedProxies,
    /// `--sandbox`: the clock, fault rules and journal tests steer; `None` when off.
    pub sandbox: Option<Arc<crate::sandbox::Sandbox>>,
    /// `--fixtures`, as checked at start; the sandbox's reset applies them again
    /// (`crate::fixtures::apply`).
    pub fixtures: Option<Arc<crate::fixtures::Fixtures>>,
}
