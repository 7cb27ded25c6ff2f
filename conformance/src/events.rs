//! What a run tells as it goes: properties starting and ending, cases done, notes, failures.
//! The runner only runs; how this is shown (a progress bar and lines on a terminal, plain lines
//! in CI) is an implementation of [`Events`] in `report/`.
use crate::report::{Failure, Report};

pub trait Events: Send + Sync {
    /// A line of the run's header or plan.
    fn line(&self, text: &str);
    fn property_started(&self, name: &str, cases: u64);
    /// One case (or one request of a concurrent property) answered.
    fn case_done(&self);
    fn property_done(&self, name: &str, cases: u64, failing: u64);
    fn property_skipped(&self, name: &str, why: &str);
    fn note(&self, note: &str);
    fn failure(&self, failure: &Failure);
    /// The run is over; `report` is what it found.
    fn finished(&self, report: &Report);
    /// The run cannot go on (exit 2 or 3).
    fn fatal(&self, message: &str);
}

/// Tells nothing: for callers that only want the [`Report`].
pub struct Silent;

impl Events for Silent {
    fn line(&self, _: &str) {}
    fn property_started(&self, _: &str, _: u64) {}
    fn case_done(&self) {}
    fn property_done(&self, _: &str, _: u64, _: u64) {}
    fn property_skipped(&self, _: &str, _: &str) {}
    fn note(&self, _: &str) {}
    fn failure(&self, _: &Failure) {}
    fn finished(&self, _: &Report) {}
    fn fatal(&self, _: &str) {}
}
