//! The quota budget: a run never creates more than `min(--max-creates, Remaining)` new pairs,
//! unless `--exhaust-quota` says it may spend everything.

#[derive(Debug, Clone)]
pub struct Budget {
    pub max_creates: u64,
    pub exhaust: bool,
    /// `X-RateLimit-Remaining` before the run's first new pair (read from the first answer).
    pub remaining_at_start: Option<i64>,
    /// How many quota-consuming requests the run may send; `None`: not yet known or unlimited.
    allowed: Option<u64>,
    /// Quota-consuming requests sent (new pairs, including shrinking).
    pub reserved: u64,
    /// Requests that must spend nothing but that the server answered 2xx (they may have spent).
    pub surprises: u64,
}

impl Budget {
    pub fn new(max_creates: u64, exhaust: bool) -> Self {
        Self {
            max_creates,
            exhaust,
            remaining_at_start: None,
            allowed: None,
            reserved: 0,
            surprises: 0,
        }
    }

    /// Whether the run may send its first new pair, before it knows `Remaining`.
    pub fn may_probe(&self) -> bool {
        self.exhaust || self.max_creates >= 1
    }

    /// Fixes the budget once the first answer told what is left. `remaining_after` is the
    /// `Remaining` of that answer; `spent_by_it` whether the answer was to a new pair.
    pub fn fix(&mut self, remaining_after: Option<i64>, spent_by_it: bool) {
        let before = remaining_after.map(|r| r.max(0) as u64 + u64::from(spent_by_it));
        self.remaining_at_start = before.map(|b| b as i64);
        self.allowed = if self.exhaust {
            None
        } else {
            Some(match before {
                Some(b) => self.max_creates.min(b),
                None => self.max_creates,
            })
        };
    }

    /// No more new pairs, whatever was planned (the first answer was not a success).
    pub fn close(&mut self) {
        self.allowed = Some(self.spent());
    }

    pub fn spent(&self) -> u64 {
        self.reserved + self.surprises
    }

    /// The most new pairs the run may still send; `u64::MAX` when exhausting.
    pub fn left(&self) -> u64 {
        match self.allowed {
            None if self.exhaust => u64::MAX,
            None => self.max_creates.saturating_sub(self.spent()),
            Some(a) => a.saturating_sub(self.spent()),
        }
    }

    pub fn allowed(&self) -> Option<u64> {
        self.allowed
    }

    /// Takes one unit for a request that may create a pair; false when the budget is used up.
    pub fn try_reserve(&mut self) -> bool {
        if self.left() == 0 {
            return false;
        }
        self.reserved += 1;
        true
    }

    pub fn record_surprise(&mut self) {
        self.surprises += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_smaller_of_max_creates_and_remaining() {
        let mut b = Budget::new(10, false);
        assert!(b.try_reserve()); // the probe
        b.fix(Some(7), true); // 8 were left before it
        assert_eq!(b.allowed(), Some(8));
        let mut n = 1;
        while b.try_reserve() {
            n += 1;
        }
        assert_eq!(n, 8);
    }

    #[test]
    fn surprises_count_against_the_budget() {
        let mut b = Budget::new(3, false);
        assert!(b.try_reserve());
        b.fix(Some(100), true);
        b.record_surprise();
        b.record_surprise();
        assert!(!b.try_reserve());
    }

    #[test]
    fn zero_max_creates_sends_no_new_pair() {
        let mut b = Budget::new(0, false);
        assert!(!b.may_probe());
        b.fix(Some(100), false);
        assert!(!b.try_reserve());
    }

    #[test]
    fn exhausting_is_unlimited() {
        let mut b = Budget::new(0, true);
        assert!(b.may_probe());
        b.fix(Some(5), true);
        for _ in 0..1000 {
            assert!(b.try_reserve());
        }
    }
}
