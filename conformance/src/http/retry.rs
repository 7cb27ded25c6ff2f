//! Busy answers and how they are retried (`--profile braze`: Braze documents a 5XX as busy or
//! in maintenance, to retry with exponential backoff); the loop is
//! [`Target::send_guarded`], here too.
use std::time::Duration;

use super::client::Target;
use super::wire::{Request, Response, TransportError};

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

impl Target {
    /// [`Target::send`], asking `may_retry` before each retry of a request every attempt of
    /// which may create a pair ([`Request::creates_anew_on_each_attempt`]); `false` ends the
    /// retries. A retry of a given send_id is at worst a repeat: never asked.
    pub async fn send_guarded(
        &self,
        req: &Request,
        may_retry: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<Response, TransportError> {
        use std::sync::atomic::Ordering;
        let Some(policy) = self.retry else {
            return self.send_once(req).await;
        };
        let guarded = req.creates_anew_on_each_attempt();
        let mut retried = Vec::new();
        loop {
            let mut resp = self.send_once(req).await?;
            let Some(kind) = resp.busy() else {
                self.given_up_in_a_row.store(0, Ordering::Relaxed);
                resp.retried = retried;
                return Ok(resp);
            };
            let attempt = retried.len() as u32;
            let down = self.given_up_in_a_row.load(Ordering::Relaxed) >= GIVE_UP_AFTER;
            let backoff = policy.backoff.saturating_mul(1 << attempt.min(16));
            let wait = match resp.retry_after() {
                Some(after) if after > backoff => (after, true),
                _ => (backoff, false),
            };
            if attempt >= policy.retries || down || wait.0 > policy.max_wait {
                if !down {
                    self.given_up_in_a_row.fetch_add(1, Ordering::Relaxed);
                }
                resp.retried = retried;
                return Ok(resp);
            }
            if guarded && !may_retry() {
                resp.retried = retried;
                resp.retry_withheld = true;
                return Ok(resp);
            }
            tokio::time::sleep(wait.0).await;
            retried.push(Retried {
                status: resp.status,
                kind,
                waited: wait.0,
                retry_after: wait.1,
            });
        }
    }
}
