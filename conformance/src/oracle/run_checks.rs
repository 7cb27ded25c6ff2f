//! The verdicts of the checks the runner decides over several exchanges (a burst, a campaign
//! pair): functions on counts. Their ids and rules are in the registry.
use std::collections::HashSet;

use crate::burst::Answer;
use crate::http::quote;

/// The answers of a burst, counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    /// send_ids of the 200 answers (`None`: a 200 without one).
    pub ok: Vec<Option<String>>,
    pub too_many: usize,
    pub too_many_without_retry_after: usize,
    /// Other statuses, and requests without an answer (`0`).
    pub other: Vec<u16>,
}

pub fn count(answers: &[Answer]) -> Counts {
    let mut c = Counts::default();
    for a in answers {
        match a {
            Ok(r) if r.status == 200 => c.ok.push(r.send_id().map(str::to_string)),
            Ok(r) if r.status == 429 => {
                c.too_many += 1;
                if r.header("retry-after").is_none() {
                    c.too_many_without_retry_after += 1;
                }
            }
            Ok(r) => c.other.push(r.status),
            Err(_) => c.other.push(0),
        }
    }
    c
}

impl Counts {
    fn others(&self) -> String {
        if self.other.is_empty() {
            return String::new();
        }
        let list: Vec<String> = self
            .other
            .iter()
            .map(|s| {
                if *s == 0 {
                    "no answer".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
        format!(", and {}", list.join(", "))
    }
}

fn spent(before: Option<i64>, after: Option<i64>) -> Option<i64> {
    Some(before? - after?)
}

/// One new pair sent `k` times at once: every answer 200 with that send_id; one unit spent.
pub fn same_pair(
    k: usize,
    send_id: &str,
    before: Option<i64>,
    after: Option<i64>,
    c: &Counts,
) -> Result<(), String> {
    if c.ok.len() != k {
        return Err(format!(
            "{k} requests for one new pair at once: {} answered 200 (expected all {k}), {} 429{}",
            c.ok.len(),
            c.too_many,
            c.others()
        ));
    }
    let distinct: HashSet<&Option<String>> = c.ok.iter().collect();
    if distinct.len() != 1 || c.ok[0].as_deref() != Some(send_id) {
        return Err(format!(
            "{k} requests for the pair {q} at once answered {} different send_ids \
             (expected {q} in every answer)",
            distinct.len(),
            q = quote(send_id)
        ));
    }
    match spent(before, after) {
        Some(1) | None => Ok(()),
        Some(n) => Err(format!(
            "{k} requests for one new pair at once moved X-RateLimit-Remaining from {} to {}: \
             {n} units spent (expected exactly 1: the pair is created once)",
            before.unwrap_or_default(),
            after.unwrap_or_default()
        )),
    }
}

/// `n` new pairs at once with `before` units left: exactly min(n, before) created, the rest
/// 429 with Retry-After, `after` = max(0, before − n).
pub fn new_pairs(
    n: usize,
    before: Option<i64>,
    after: Option<i64>,
    c: &Counts,
) -> Result<(), String> {
    let Some(r) = before else {
        // Remaining unknown: at least nothing but 200 and 429.
        if !c.other.is_empty() {
            return Err(format!(
                "{n} new pairs at once: {} answered 200, {} 429{}",
                c.ok.len(),
                c.too_many,
                c.others()
            ));
        }
        return Ok(());
    };
    let r = r.max(0) as usize;
    let want_ok = n.min(r);
    let want_after = r.saturating_sub(n) as i64;
    let mut problems = Vec::new();
    if c.ok.len() != want_ok || c.too_many != n - want_ok || !c.other.is_empty() {
        problems.push(format!(
            "answers 200 ×{}, 429 ×{}{} (expected exactly 200 ×{want_ok}, 429 ×{})",
            c.ok.len(),
            c.too_many,
            c.others(),
            n - want_ok
        ));
    }
    if c.too_many_without_retry_after > 0 {
        problems.push(format!(
            "{} of the 429 answers lack Retry-After",
            c.too_many_without_retry_after
        ));
    }
    if let Some(a) = after {
        if a != want_after {
            problems.push(format!(
                "X-RateLimit-Remaining ended at {a} (expected max(0, {r} − {n}) = {want_after})"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{n} new pairs at once with {r} left: {}",
            problems.join("; ")
        ))
    }
}

/// The send_ids of the created pairs of a burst are distinct.
pub fn distinct_ids(c: &Counts) -> Result<(), String> {
    let ids: Vec<&str> = c.ok.iter().filter_map(|s| s.as_deref()).collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    if distinct.len() == ids.len() {
        Ok(())
    } else {
        Err(format!(
            "{} new pairs created at once got only {} distinct generated send_ids",
            ids.len(),
            distinct.len()
        ))
    }
}

/// Repeats of an existing pair at once, with the quota used up: all 200 with that send_id.
pub fn repeats(k: usize, send_id: &str, c: &Counts) -> Result<(), String> {
    let right =
        c.ok.iter()
            .filter(|s| s.as_deref() == Some(send_id))
            .count();
    if right == k {
        Ok(())
    } else {
        Err(format!(
            "{k} repeats of an existing pair at once, with the quota used up: {right} answered \
             200 with {} (expected all {k}); {} 429{}",
            quote(send_id),
            c.too_many,
            c.others()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ok: &[&str], too_many: usize) -> Counts {
        Counts {
            ok: ok.iter().map(|s| Some(s.to_string())).collect(),
            too_many,
            ..Counts::default()
        }
    }

    #[test]
    fn a_pair_created_once_passes_and_one_spent_per_request_fails() {
        let c = counts(&["a"; 8], 0);
        assert!(same_pair(8, "a", Some(10), Some(9), &c).is_ok());
        let e = same_pair(8, "a", Some(10), Some(2), &c).expect_err("overspent");
        assert!(e.contains("8 units spent"), "{e}");
    }

    #[test]
    fn exactly_min_n_r_are_created() {
        let c = counts(&["a", "b", "c", "d"], 4);
        assert!(new_pairs(8, Some(4), Some(0), &c).is_ok());
        let over = counts(&["a", "b", "c", "d", "e", "f"], 2);
        let e = new_pairs(8, Some(4), Some(0), &over).expect_err("overspent");
        assert!(e.contains("200 ×6, 429 ×2"), "{e}");
        assert!(new_pairs(3, Some(10), Some(7), &counts(&["a", "b", "c"], 0)).is_ok());
        assert!(new_pairs(3, Some(10), Some(8), &counts(&["a", "b", "c"], 0)).is_err());
    }

    #[test]
    fn repeated_generated_ids_are_found() {
        assert!(distinct_ids(&counts(&["a", "b"], 0)).is_ok());
        assert!(distinct_ids(&counts(&["a", "a"], 0)).is_err());
    }
}
