//! Where the UTC day, the rate-limit numbers and rules 6–8 (find, refuse, create) are decided.
use std::collections::{HashMap, HashSet};

/// A workspace's daily quota of new pairs when none is given: Braze's 100 a day per workspace.
pub const DEFAULT_DAILY_QUOTA: u64 = 100;

/// Seconds in a UTC day (Unix time has no leap seconds).
const DAY: i64 = 86_400;

/// A UTC calendar day, as days since 1970-01-01. The quota resets at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDay(i64);

impl UtcDay {
    pub fn containing(epoch_seconds: i64) -> Self {
        Self(epoch_seconds.div_euclid(DAY))
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// The day `n` days after 1970-01-01.
    pub fn from_number(n: i64) -> Self {
        Self(n)
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

/// What rules 6–8 of the contract decide for a request for the pair (campaign_id, send_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairDecision {
    /// Rule 6: the pair exists; 200 without quota.
    Existing,
    /// Rule 7: the pair is new and today's quota is used up; 429, nothing written.
    Exhausted,
    /// Rule 8: create the pair and spend one unit.
    Create,
}

/// Rules 6–8 for one request, given what the store holds.
pub fn decide_pair(pair_exists: bool, used: u64, limit: u64) -> PairDecision {
    if pair_exists {
        PairDecision::Existing
    } else if used >= limit {
        PairDecision::Exhausted
    } else {
        PairDecision::Create
    }
}

/// Rules 6–8 for a group of requests decided together, in arrival order, before the group is
/// written as one atomic step (the sled pair writer's batch, a PostgreSQL transaction). Every
/// engine decides through this: it supplies what it stored before the group (does the pair
/// exist, how much of the day is used) and applies the `Create` decisions and the final usage.
/// Within the group, the second request for a pair the group creates is `Existing`, and the
/// usage grows with every `Create`.
#[derive(Debug, Default)]
pub struct PairLedger {
    /// (workspace, day) -> units used, including this group's creations.
    used: HashMap<(String, UtcDay), (u64, u64)>,
    /// (campaign, send_id) created by this group.
    created: HashSet<(String, String)>,
}

/// One request, as the ledger needs it.
#[derive(Debug, Clone, Copy)]
pub struct PairRequest<'a> {
    pub workspace_id: &'a str,
    pub limit: u64,
    pub campaign_id: &'a str,
    pub send_id: &'a str,
    pub now_seconds: i64,
}

impl PairRequest<'_> {
    pub fn day(&self) -> UtcDay {
        UtcDay::containing(self.now_seconds)
    }
}

impl PairLedger {
    /// Decides one request. `stored_exists` and `stored_used` are asked only when needed (the
    /// pair is not one of this group's; the workspace's day is not known to the group yet).
    /// Returns the decision and the quota status after it.
    pub fn decide<E>(
        &mut self,
        req: PairRequest<'_>,
        stored_exists: impl FnOnce() -> Result<bool, E>,
        stored_used: impl FnOnce() -> Result<u64, E>,
    ) -> Result<(PairDecision, QuotaStatus), E> {
        let day = UtcDay::containing(req.now_seconds);
        let key = (req.workspace_id.to_string(), day);
        let used = match self.used.get_mut(&key) {
            Some(u) => u,
            None => {
                let stored = stored_used()?;
                self.used.entry(key).or_insert((stored, stored))
            }
        };
        let pair = (req.campaign_id.to_string(), req.send_id.to_string());
        let exists = self.created.contains(&pair) || stored_exists()?;
        let decision = decide_pair(exists, used.1, req.limit);
        if decision == PairDecision::Create {
            used.1 += 1;
            self.created.insert(pair);
        }
        Ok((
            decision,
            QuotaStatus::new(req.limit, used.1, req.now_seconds),
        ))
    }

    /// Whether this group creates the pair.
    pub fn creates(&self, campaign_id: &str, send_id: &str) -> bool {
        self.created
            .contains(&(campaign_id.to_string(), send_id.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
    }

    /// Usage that changed: (workspace, day, units before the group, units after it).
    pub fn changed_usage(&self) -> impl Iterator<Item = (&str, UtcDay, u64, u64)> + '_ {
        self.used
            .iter()
            .filter(|(_, (before, after))| after != before)
            .map(|((w, d), (before, after))| (w.as_str(), *d, *before, *after))
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

    fn req(send_id: &str, limit: u64) -> PairRequest<'_> {
        PairRequest {
            workspace_id: "w",
            limit,
            campaign_id: "c",
            send_id,
            now_seconds: 0,
        }
    }

    #[test]
    fn a_group_creates_a_pair_once_and_stops_at_the_limit() {
        let mut ledger = PairLedger::default();
        let mut decide = |s: &str, exists: bool| {
            ledger
                .decide::<()>(req(s, 2), || Ok(exists), || Ok(0))
                .unwrap()
                .0
        };
        assert_eq!(decide("a", false), PairDecision::Create);
        assert_eq!(decide("a", false), PairDecision::Existing);
        assert_eq!(decide("old", true), PairDecision::Existing);
        assert_eq!(decide("b", false), PairDecision::Create);
        assert_eq!(decide("c", false), PairDecision::Exhausted);
        assert_eq!(decide("old", true), PairDecision::Existing);
        let changed: Vec<_> = ledger.changed_usage().collect();
        assert_eq!(changed, vec![("w", UtcDay::containing(0), 0, 2)]);
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
