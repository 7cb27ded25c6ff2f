//! The sandbox's clock: the service's own clock (`crate::clock`) moved by an offset that
//! `PUT /admin/clock` sets and `DELETE /admin/clock` takes back to zero. Everything that reads
//! the time through `AppState::clock` — the quota day, `X-RateLimit-Reset`, `Retry-After`,
//! `created_at`, the journal's `at` — follows it, because with `--sandbox` this *is* that clock.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::clock::Clock;

/// A clock that reads `base` and adds an adjustable offset (milliseconds).
pub struct SandboxClock {
    base: Arc<dyn Clock>,
    offset_millis: AtomicI64,
}

impl SandboxClock {
    pub fn new(base: Arc<dyn Clock>) -> Self {
        Self {
            base,
            offset_millis: AtomicI64::new(0),
        }
    }

    /// From now on the clock reads `epoch_millis`, and moves on as the base clock does.
    pub fn set_now_millis(&self, epoch_millis: i64) {
        let offset = epoch_millis.saturating_sub(self.base.now_millis());
        self.offset_millis.store(offset, Ordering::SeqCst);
    }

    /// From now on the clock reads the base clock plus `seconds`.
    pub fn set_offset_seconds(&self, seconds: i64) {
        self.offset_millis
            .store(seconds.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Back to the base clock (real time, unless a test gave the service another clock).
    pub fn reset(&self) {
        self.offset_millis.store(0, Ordering::SeqCst);
    }

    /// The current offset from the base clock, in whole seconds (rounded toward zero).
    pub fn offset_seconds(&self) -> i64 {
        self.offset_millis.load(Ordering::SeqCst) / 1000
    }

    pub fn offset_millis(&self) -> i64 {
        self.offset_millis.load(Ordering::SeqCst)
    }
}

impl Clock for SandboxClock {
    fn now_millis(&self) -> i64 {
        self.base
            .now_millis()
            .saturating_add(self.offset_millis.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn clock_at(seconds: i64) -> (Arc<ManualClock>, SandboxClock) {
        let base = Arc::new(ManualClock::at_seconds(seconds));
        (base.clone(), SandboxClock::new(base))
    }

    #[test]
    fn reads_the_base_clock_until_moved() {
        let (base, clock) = clock_at(1_000);
        assert_eq!(clock.now_seconds(), 1_000);
        base.advance_seconds(5);
        assert_eq!(clock.now_seconds(), 1_005);
    }

    #[test]
    fn set_now_then_moves_on_with_the_base() {
        let (base, clock) = clock_at(1_000);
        clock.set_now_millis(86_399_000);
        assert_eq!(clock.now_seconds(), 86_399);
        assert_eq!(clock.offset_seconds(), 86_399 - 1_000);
        base.advance_seconds(2);
        assert_eq!(clock.now_seconds(), 86_401);
    }

    #[test]
    fn offsets_go_both_ways_and_reset_returns_to_the_base() {
        let (_base, clock) = clock_at(10_000);
        clock.set_offset_seconds(-3_600);
        assert_eq!(clock.now_seconds(), 6_400);
        clock.set_offset_seconds(60);
        assert_eq!(clock.now_seconds(), 10_060);
        clock.reset();
        assert_eq!(clock.now_seconds(), 10_000);
        assert_eq!(clock.offset_millis(), 0);
    }

    #[test]
    fn extreme_values_saturate_instead_of_overflowing() {
        let (_base, clock) = clock_at(10);
        clock.set_offset_seconds(i64::MAX);
        assert_eq!(clock.now_millis(), i64::MAX);
    }
}
