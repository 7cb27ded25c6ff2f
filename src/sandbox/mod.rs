//! The sandbox (`--sandbox`): what other teams' integration tests steer sendid with — a clock
//! they can move, fault rules, a request journal and a reset (docs/testing.md, "Sandbox").
//! This module holds the sandbox's state and rules, on the service's own clock; its HTTP face is
//! `crate::api::sandbox_layer` (the layers in the request path) and `crate::api::admin::sandbox`
//! (the admin calls), and nothing here depends on them. The storage engines know nothing of the
//! sandbox, except the reset, which is a store operation like any other.
pub mod clock;
pub mod connections;
pub mod faults;
pub mod journal;
pub mod reset;

use std::sync::{Arc, Mutex};

use crate::clock::Clock;

pub use self::clock::SandboxClock;
pub use self::connections::Connections;
pub use self::faults::{FaultAction, FaultMatch, FaultRule, Faults, When};
pub use self::journal::{Journal, JournalEntry};

/// What `/admin/reset`, `/admin/clock`, `/admin/faults` and `/admin/requests` answer without
/// `--sandbox`.
pub const SANDBOX_OFF_MESSAGE: &str = "The sandbox is off. Start sendid with --sandbox (or the \
environment variable SENDID_SANDBOX=true) to turn on /admin/reset, /admin/clock, /admin/faults \
and /admin/requests; it is meant for integration tests, never for production.";

/// The sandbox's state, shared by its HTTP layers and its admin calls.
pub struct Sandbox {
    pub clock: Arc<SandboxClock>,
    pub faults: Faults,
    pub journal: Journal,
    /// The open connections, so that a fault can close one (see `connections`).
    pub connections: Arc<Connections>,
    /// What a reset restores (the demo workspace as found at start).
    baseline: Mutex<Option<reset::Baseline>>,
}

impl Sandbox {
    /// A sandbox whose clock reads `base` until moved.
    pub fn new(base: Arc<dyn Clock>) -> Self {
        Self {
            clock: Arc::new(SandboxClock::new(base)),
            faults: Faults::default(),
            journal: Journal::default(),
            connections: Arc::new(Connections::default()),
            baseline: Mutex::new(None),
        }
    }

    /// The clock the whole service reads while the sandbox is on.
    pub fn service_clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn set_baseline(&self, baseline: reset::Baseline) {
        *self.baseline.lock().unwrap_or_else(|p| p.into_inner()) = Some(baseline);
    }

    pub fn baseline(&self) -> Option<reset::Baseline> {
        self.baseline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forgets the rules (their ids start again at `fault-1`), the journal and the clock's
    /// offset (the store's part of a reset is the caller's).
    pub fn clear(&self) {
        self.faults.reset();
        self.journal.clear();
        self.clock.reset();
    }
}
