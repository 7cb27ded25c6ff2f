//! The run's result as the checks left it: every outcome a property hands in is absorbed here —
//! the tallies per check, which checks have been shown failing, the failure blocks — and
//! nowhere else. Properties return outcomes (a check, its verdict) and evidence (a
//! [`Failure`]); they never count.
use std::collections::{BTreeMap, HashSet};

use crate::oracle::{CheckId, Verdict};
use crate::report::Failure;

/// A check's verdict on one exchange (or one burst, one sequence).
pub(super) type Outcome = (CheckId, Verdict);

#[derive(Default)]
pub(super) struct RunResult {
    /// (passed, failed) per check.
    tallies: BTreeMap<CheckId, (u64, u64)>,
    /// Checks whose failure is shown (a block of their own or joined to one).
    shown: HashSet<CheckId>,
    failures: Vec<Failure>,
}

/// What became of a failure handed in.
pub(super) enum Absorbed<'a> {
    /// A block of its own.
    New(&'a Failure),
    /// The same request and answer as a block shown before: its checks joined that block.
    Joined {
        checks: Vec<CheckId>,
        property: &'static str,
        shown: CheckId,
    },
}

impl RunResult {
    /// Counts outcomes: passes and failures; a check that says nothing (`Skip`) is not counted.
    pub(super) fn absorb<'a>(&mut self, outcomes: impl IntoIterator<Item = &'a Outcome>) {
        for (check, verdict) in outcomes {
            let t = self.tallies.entry(*check).or_default();
            match verdict {
                Verdict::Pass => t.0 += 1,
                Verdict::Fail(_) => t.1 += 1,
                Verdict::Skip => {}
            }
        }
    }

    /// One outcome of a check decided over several exchanges.
    pub(super) fn absorb_one(&mut self, check: CheckId, verdict: &Result<(), String>) {
        let verdict = match verdict {
            Ok(()) => Verdict::Pass,
            Err(r) => Verdict::Fail(r.clone()),
        };
        self.absorb(&[(check, verdict)]);
    }

    /// Whether `check` has yet to be shown failing; from now on it counts as shown.
    pub(super) fn claim(&mut self, check: CheckId) -> bool {
        self.shown.insert(check)
    }

    pub(super) fn is_shown(&self, check: CheckId) -> bool {
        self.shown.contains(&check)
    }

    /// A failing request as evidence: one block per distinct request and answer.
    pub(super) fn absorb_failure(&mut self, failure: Failure) -> Absorbed<'_> {
        if let Some(i) = self.failures.iter().position(|f| f.same_exchange(&failure)) {
            let shown = &mut self.failures[i];
            let checks: Vec<CheckId> = failure.broken().map(|b| b.check).collect();
            shown.other_checks.extend(failure.broken());
            return Absorbed::Joined {
                checks,
                property: failure.property,
                shown: shown.check,
            };
        }
        self.failures.push(failure);
        Absorbed::New(self.failures.last().expect("just pushed"))
    }

    /// (passed, failed) of a check.
    pub(super) fn tally(&self, check: CheckId) -> (u64, u64) {
        self.tallies.get(&check).copied().unwrap_or((0, 0))
    }

    pub(super) fn failures(&self) -> &[Failure] {
        &self.failures
    }
}
