//! Busy answers and how they are retried (`--profile braze`: Braze documents a 5XX as busy or
//! in maintenance, to retry with exponential backoff); the loop is
//! [`crate::http::Target::send_guarded`].
use std::time::Duration;

/// A busy answer that was retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried {
    pub status: u16,
    /// What made it busy.
    pub kind: Busy,
    /// The wait before the next attempt.
    pub waited: Duration,
    /// The wait was the answer's `Retry-After`, longer than the backoff.
    pub retry_after: bool,
}

/// An answer Braze documents as "try again later", not as a verdict on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Busy {
    /// 5XX: busy or in maintenance.
    ServerError,
    /// 429 without `X-RateLimit-Remaining: 0`: another rate limit than the send-ID quota.
    RateLimited,
    /// 2XX `{"message": "queued"}`: received during maintenance, not processed yet.
    Queued,
}

impl Busy {
    pub fn describe(self) -> &'static str {
        match self {
            Busy::ServerError => "5XX",
            Busy::RateLimited => "429 without X-RateLimit-Remaining: 0",
            Busy::Queued => "2XX {\"message\": \"queued\"}",
        }
    }
}

/// How busy answers are retried: `retries` times, waiting `backoff`, then twice as long each
/// time, or the answer's `Retry-After` when that is longer (at most `max_wait`; a longer
/// `Retry-After` ends the retries).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub retries: u32,
    pub backoff: Duration,
    pub max_wait: Duration,
}

/// Cases in a row whose retries all failed before retrying stops (the target is down: each
/// further case is answered at once, so an outage cannot stretch a run by minutes per case).
pub const GIVE_UP_AFTER: u32 = 5;
