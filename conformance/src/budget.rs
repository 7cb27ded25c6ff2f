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

/// What a pair-creating property asks of the quota, for the planner: `min` units to run at all,
/// up to `extra` more before any share is handed out (its edge cases, a bigger burst), and at
/// most `max` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub min: u64,
    pub extra: u64,
    pub max: u64,
}

/// The planner's input: what may be spent, and what the properties that run want, most telling
/// first.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// The units the run may spend in all, the probe included: `min(--max-creates, Remaining)`,
    /// or under `--exhaust-quota` what is left today.
    pub budget: u64,
    pub exhaust: bool,
    pub wants: Vec<(&'static str, Want)>,
}

/// Units the burst across the quota's end needs left when it starts (`--exhaust-quota`).
pub const END_RESERVE: u64 = 2;

/// How the run spends its budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The probe: the run's first new pair (0 or 1).
    pub probe: u64,
    /// Units per property, in the order of the input.
    pub units: Vec<(&'static str, u64)>,
    /// Units kept for the burst across the quota's end (`--exhaust-quota`).
    pub end_reserve: u64,
    /// What the budget leaves out, and the budget that would include it.
    pub cut: Vec<Cut>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub property: &'static str,
    /// Units it got (0: it does not run).
    pub got: u64,
    /// What it wanted before shares (`min + extra`).
    pub wanted: u64,
    /// The smallest budget that gives it `wanted`, when one up to 10,000 does.
    pub from_budget: Option<u64>,
}

impl Plan {
    pub fn units_of(&self, property: &str) -> u64 {
        self.units
            .iter()
            .find(|(p, _)| *p == property)
            .map_or(0, |(_, u)| *u)
    }

    /// New pairs planned, the probe and the end's reserve included.
    pub fn total(&self) -> u64 {
        self.probe + self.end_reserve + self.units.iter().map(|(_, u)| u).sum::<u64>()
    }

    /// The properties that get units.
    pub fn running(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.units.iter().filter(|(_, u)| *u > 0).map(|(p, _)| *p)
    }
}

/// Plans the quota: the probe first; under `--exhaust-quota` the end's reserve; then every
/// property its minimum, most telling first (one that does not fit is left out, the next is
/// tried); then each its extra, in order; then what is left one unit at a time, round the
/// properties, up to each one's most. A pure function of its input.
pub fn plan(input: &PlanInput) -> Plan {
    let mut p = allot(input);
    for (i, &(name, want)) in input.wants.iter().enumerate() {
        let got = p.units[i].1;
        let wanted = want.min + want.extra;
        if got >= wanted {
            continue;
        }
        let from_budget = (input.budget + 1..=10_000).find(|&b| {
            let bigger = PlanInput {
                budget: b,
                ..input.clone()
            };
            allot(&bigger).units[i].1 >= wanted
        });
        p.cut.push(Cut {
            property: name,
            got,
            wanted,
            from_budget,
        });
    }
    p
}

fn allot(input: &PlanInput) -> Plan {
    let mut left = input.budget;
    let probe = left.min(1);
    left -= probe;
    let end_reserve = if input.exhaust {
        left.min(END_RESERVE)
    } else {
        0
    };
    left -= end_reserve;
    let mut units: Vec<(&'static str, u64)> = input.wants.iter().map(|(n, _)| (*n, 0)).collect();
    if probe == 0 {
        // Without the first pair nothing else has a pair to start from.
        return Plan {
            probe,
            units,
            end_reserve,
            cut: Vec::new(),
        };
    }
    for (i, (_, want)) in input.wants.iter().enumerate() {
        if want.min <= left {
            units[i].1 = want.min;
            left -= want.min;
        }
    }
    for (i, (_, want)) in input.wants.iter().enumerate() {
        if units[i].1 == 0 {
            continue;
        }
        let more = want.extra.min(want.max - units[i].1).min(left);
        units[i].1 += more;
        left -= more;
    }
    while left > 0 {
        let mut gave = false;
        for (i, (_, want)) in input.wants.iter().enumerate() {
            if left > 0 && units[i].1 > 0 && units[i].1 < want.max {
                units[i].1 += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    Plan {
        probe,
        units,
        end_reserve,
        cut: Vec::new(),
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

    use crate::properties::{wants, PROPERTIES};
    use proptest::prelude::*;

    fn input(budget: u64, exhaust: bool, campaigns: usize, cases: u64, burst: u64) -> PlanInput {
        PlanInput {
            budget,
            exhaust,
            wants: wants(true, campaigns, exhaust, cases, burst),
        }
    }

    proptest! {
        /// Budgets 0 to 30, with and without --exhaust-quota: the plan never spends more than
        /// the budget, and covers what the table (`--help`, the README) says.
        #[test]
        fn the_plan_stays_within_the_budget_and_covers_the_table(
            budget in 0u64..=30,
            exhaust in any::<bool>(),
            campaigns in 1usize..=2,
            cases in 1u64..=64,
            burst in 8u64..=16,
        ) {
            let i = input(budget, exhaust, campaigns, cases, burst);
            let p = plan(&i);
            prop_assert!(p.total() <= budget, "{p:?}");
            for ((name, want), (planned, got)) in i.wants.iter().zip(&p.units) {
                prop_assert_eq!(name, planned);
                prop_assert!(*got == 0 || *got >= want.min, "{name}: {got} < {}", want.min);
                prop_assert!(*got <= want.max, "{name}: {got} > {}", want.max);
            }
            if budget >= 1 {
                prop_assert_eq!(p.probe, 1);
            }
            // --max-creates 10 runs every pair-creating property but the quota's end.
            if !exhaust && budget >= 10 {
                for (name, got) in &p.units {
                    prop_assert!(*got > 0, "{name} left out at {budget}: {p:?}");
                }
            }
            // --exhaust-quota keeps two units for the burst across the end.
            if exhaust && budget > END_RESERVE {
                prop_assert_eq!(p.end_reserve, END_RESERVE);
            }
            // What is cut names the budget that includes it, and that budget does.
            for cut in &p.cut {
                if let Some(b) = cut.from_budget {
                    let bigger = plan(&input(b, exhaust, campaigns, cases, burst));
                    prop_assert!(bigger.units_of(cut.property) >= cut.wanted);
                }
            }
        }
    }

    #[test]
    fn the_help_table_is_the_planner_at_each_budget() {
        let text = crate::properties::what_budgets_buy();
        for b in crate::properties::BUDGETS {
            assert!(text.contains(&format!("  {b:>2}, 1 campaign :")), "{text}");
        }
        // At 10 with two campaigns: every pair-creating property of the strict profile.
        let line = text
            .lines()
            .find(|l| l.starts_with("  10, 2 campaigns"))
            .expect("the line for 10");
        for p in PROPERTIES {
            if p.want(32, 8, false).is_some() {
                assert!(line.contains(p.name), "{} missing from {line}", p.name);
            }
        }
    }
}
