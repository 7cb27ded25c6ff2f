//! Shrinking, by hand: proptest's simplify/complicate loop over a value tree, driven one
//! candidate at a time because each attempt is sent to the target (async, and it may spend
//! quota, which the runner decides before trying it).
use proptest::strategy::ValueTree;

/// Walks a value tree towards the simplest value that still fails.
pub struct Shrinker<'a, T: std::fmt::Debug> {
    tree: &'a mut dyn ValueTree<Value = T>,
    max_steps: u32,
    steps: u32,
    started: bool,
    done: bool,
}

impl<'a, T: std::fmt::Debug> Shrinker<'a, T> {
    /// `tree` holds the failing value; at most `max_steps` candidates are tried.
    pub fn new(tree: &'a mut dyn ValueTree<Value = T>, max_steps: u32) -> Self {
        Self {
            tree,
            max_steps,
            steps: 0,
            started: false,
            done: false,
        }
    }

    /// The next candidate to try, or `None` when shrinking is over.
    pub fn candidate(&mut self) -> Option<T> {
        if self.done || self.steps >= self.max_steps {
            return None;
        }
        if !self.started {
            self.started = true;
            if !self.tree.simplify() {
                self.done = true;
                return None;
            }
        }
        self.steps += 1;
        Some(self.tree.current())
    }

    /// What the last candidate did: `true` when it still fails (it becomes the best so far).
    pub fn still_fails(&mut self, fails: bool) {
        let more = if fails {
            self.tree.simplify()
        } else {
            self.tree.complicate()
        };
        if !more {
            self.done = true;
        }
    }

    /// Candidates tried.
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;
    use proptest::test_runner::TestRunner;

    #[test]
    fn shrinks_to_the_smallest_failing_value() {
        let mut runner = TestRunner::deterministic();
        let mut tree = (0u32..10_000).new_tree(&mut runner).expect("tree");
        while tree.current() < 100 {
            tree = (0u32..10_000).new_tree(&mut runner).expect("tree");
        }
        let mut best = tree.current();
        let mut s = Shrinker::new(&mut tree, 1000);
        while let Some(c) = s.candidate() {
            let fails = c >= 42;
            if fails {
                best = c;
            }
            s.still_fails(fails);
        }
        assert_eq!(best, 42);
    }

    #[test]
    fn stops_after_max_steps() {
        let mut runner = TestRunner::deterministic();
        let mut tree = (1000u32..10_000).new_tree(&mut runner).expect("tree");
        let mut s = Shrinker::new(&mut tree, 3);
        let mut n = 0;
        while s.candidate().is_some() {
            n += 1;
            s.still_fails(true);
        }
        assert_eq!((n, s.steps()), (3, 3));
    }
}
