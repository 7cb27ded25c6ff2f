//! The one test harness of the sendid workspace (tests/api, tests/store, tests/hardening, the
//! browser, Node client and container tests, and the checker's tests in conformance/), in the
//! manner of zero2prod's `spawn_app`: the app in-process on port 0 ([`TestApp`], configured by
//! [`TestAppBuilder`]), the `sendid` binary as a child process ([`process`]), a throwaway
//! PostgreSQL ([`pg`]), the admin client ([`admin`]) and one [`ADMIN_TOKEN`].
//!
//! ```ignore
//! use sendid_test_support::{spawn_app, Engine, TestApp};
//! let app = spawn_app().await; // sled (or PostgreSQL under SENDID_TEST_ENGINE=postgres), admin on
//! let app = TestApp::builder().sandbox().fixtures(&path).clock_at(NOON).spawn().await;
//! let app = TestApp::builder().no_admin().engine(Engine::Sled).spawn().await;
//! let app = app.restart().await; // same store, clock and options as the first start
//! ```
mod app;
mod http;

pub mod admin;
pub mod clients;
pub mod pg;
pub mod process;

pub use admin::{Admin, Tenant};
pub use app::{spawn_app, spawn_sandbox, Engine, TestApp, TestAppBuilder};
pub use http::{
    assert_no_rate_limit_headers, chunked, expect_json, header, next_midnight, padded_body,
    rate_limit, RawResponse,
};

/// The admin token of every app and process the tests start (at least 24 characters).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// 2026-11-27T12:00:00Z: the tests' "now" unless a test moves the clock.
pub const NOON: i64 = 1_795_780_800;

/// Whether the tests run under CI (`CI=true`), where a test that cannot run must fail.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says why a test cannot run here: fails under `CI=true`, skips (returns `None`) otherwise.
pub fn cannot_run<T>(why: &str) -> Option<T> {
    if in_ci() {
        panic!("this test cannot run under CI=true: {why}");
    }
    // Straight to stderr: the test harness swallows the prints of a passing test.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    None
}
