//! Integration tests: HTTP against the app spawned on port 0 with a temporary sled directory
//! (or a new PostgreSQL database with SENDID_TEST_ENGINE=postgres).
//! One test binary (one link) with a module per area.
mod admin;
mod admin_edits;
mod concurrency;
mod data_series;
mod first_minutes;
mod fixtures;
mod fuzz;
mod openapi_drift;
mod quota;
mod readme_links;
mod restart;
mod sandbox;
mod sends;
mod trigger_send;
