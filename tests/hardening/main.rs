//! Faults and abuse: every promise of docs/contract.md §1 attacked (issue #4), and several instances
//! on one PostgreSQL database (issue #10, `scale.rs`). Process-level tests run
//! the real `sendid` binary (`sendid_test_support::process`); the rest spawn the app in-process
//! (`sendid_test_support::spawn_app`).
mod damaged;
mod deploy;
mod fixture_start;
mod full_disk;
mod fuzz;
mod http;
mod hung_db;
mod json_start;
mod kill9;
mod lifecycle;
mod log_sink;
mod scale;
mod secrets;
mod shutdown;
mod storage;
