//! sendid: a Braze-compatible `POST /sends/id/create` service on embedded sled (the default) or
//! on PostgreSQL, the engine several instances share.
pub mod admin_token;
pub mod allocator;
pub mod api;
pub mod banner;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod fixtures;
pub mod health_check;
pub mod keys;
pub mod net;
pub mod sandbox;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
