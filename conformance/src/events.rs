//! What a run tells as it goes, as typed events: the run starting, its quota plan, properties
//! starting and ending, cases done, notes, failures, the verdict. The runner only runs; the
//! wording (a progress bar and lines on a terminal, plain lines in CI) belongs to an
//! implementation of [`Events`] in `report/`.
use crate::exit::Exit;
use crate::oracle::CheckId;
use crate::report::{Failure, Report};

/// The run's header.
pub struct Started<'a> {
    pub version: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub spec: &'a str,
    pub cases: u32,
    pub campaigns: usize,
    pub seed: u64,
}

/// The quota plan, as decided before the first property.
pub struct PlanShown<'a> {
    pub plan: &'a crate::budget::Plan,
    pub max_creates: u64,
    /// `X-RateLimit-Remaining` before the run's first new pair, when the target said.
    pub remaining_at_start: Option<i64>,
    /// What the run may spend; `None` under `--exhaust-quota`.
    pub budget: Option<u64>,
}

pub enum Event<'a> {
    Started(Started<'a>),
    Plan(PlanShown<'a>),
    PropertyStarted {
        name: &'a str,
        cases: u64,
    },
    /// One case (or one request of a concurrent property) answered.
    CaseDone,
    PropertyDone {
        name: &'a str,
        cases: u64,
        failing: u64,
    },
    PropertySkipped {
        name: &'a str,
        why: &'a str,
    },
    Note(&'a str),
    /// A failing request, shown once.
    Failure(&'a Failure),
    /// Checks broken by a request and answer shown before, joined to that failure's block.
    SameExchange {
        checks: &'a [CheckId],
        property: &'a str,
        shown: CheckId,
    },
    /// The run is over; the report is what it found.
    Finished(&'a Report),
    /// The verdict, the run's last line: the result and the contract's checks passed, failed
    /// and not run.
    Verdict {
        exit: Exit,
        passed: u64,
        failed: u64,
        not_run: u64,
    },
    /// The run cannot go on (exit 2 or 3).
    Fatal(&'a str),
}

pub trait Events: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// Tells nothing: for callers that only want the [`Report`].
pub struct Silent;

impl Events for Silent {
    fn event(&self, _: Event<'_>) {}
}
