//! Where the UTC day and the rate-limit numbers are decided.

/// Seconds in a UTC day (Unix time has no leap seconds).
const DAY: i64 = 86_400;

/// A UTC calendar day, as days since 1970-01-01. The quota resets at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcDay(i64);

impl UtcDay {
    pub fn containing(epoch_seconds: i64) -> Self {
        Self(epoch_seconds.div_euclid(DAY))
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// Unix epoch seconds of the next 00:00 UTC.
    pub fn next_reset(self) -> i64 {
        (self.0 + 1) * DAY
    }
}

/// The rate-limit status of a workspace at a moment: what the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaStatus {
    pub limit: u64,
    pub used: u64,
    /// Unix epoch seconds of the next 00:00 UTC.
    pub reset: i64,
    /// Seconds from now until `reset` (at least 1).
    pub retry_after: u64,
}

impl QuotaStatus {
    pub fn new(limit: u64, used: u64, now_epoch_seconds: i64) -> Self {
        let reset = UtcDay::containing(now_epoch_seconds).next_reset();
        Self {
            limit,
            used,
            reset,
            retry_after: (reset - now_epoch_seconds).max(1) as u64,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn day_boundaries() {
        assert_eq!(UtcDay::containing(0).next_reset(), 86_400);
        assert_eq!(UtcDay::containing(86_399).number(), 0);
        assert_eq!(UtcDay::containing(86_400).number(), 1);
        assert_eq!(UtcDay::containing(-1).number(), -1);
    }

    proptest! {
        #[test]
        fn reset_is_in_the_future_and_within_a_day(now in 0i64..4_000_000_000) {
            let q = QuotaStatus::new(100, 3, now);
            prop_assert!(q.reset > now && q.reset - now <= DAY);
            prop_assert_eq!(q.reset % DAY, 0);
            prop_assert_eq!(q.retry_after as i64, q.reset - now);
        }

        #[test]
        fn remaining_never_exceeds_limit(limit in 0u64..1000, used in 0u64..2000) {
            let q = QuotaStatus::new(limit, used, 0);
            prop_assert!(q.remaining() <= limit);
            prop_assert_eq!(q.remaining(), limit.saturating_sub(used));
        }
    }
}
