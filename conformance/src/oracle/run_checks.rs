//! Checks the runner decides over several exchanges (a burst, a campaign pair, a sequence), each
//! under a typed id, with the verdict functions on counts beside them.
use std::collections::HashSet;

use super::Needs;
use crate::burst::Answer;
use crate::config::Profile;
use crate::http::quote;

/// A check decided over several exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunCheckId {
    BurstSamePair,
    BurstNewPairs,
    BurstIdsDistinct,
    BurstPairsStored,
    BurstRepeatsOverQuota,
    PairPerCampaign,
    QuotaPerWorkspace,
    QuotaSpentForEveryCampaign,
    ModelAgrees,
    OtherMethodIs405,
    AllowMatchesServer,
    HeadHasNoBody,
    FramingAgrees,
    EquivalentSameAnswer,
    EquivalentSameQuota,
    HostileBodyHandled,
    HostileBodyStatus,
    GeneratedIdsRandom,
}

pub struct RunCheck {
    pub id: RunCheckId,
    pub name: &'static str,
    pub rule: &'static str,
    pub braze: bool,
    pub needs: Needs,
}

impl RunCheckId {
    pub fn check(self) -> &'static RunCheck {
        // The table is in the order of the enum (a unit test holds it to that).
        &RUN_CHECKS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.check().name
    }

    /// Part of this profile.
    pub fn runs_under(self, profile: Profile) -> bool {
        profile == Profile::Strict || self.check().braze
    }
}

#[rustfmt::skip]
pub const RUN_CHECKS: &[RunCheck] = &[
    RunCheck { id: RunCheckId::BurstSamePair, name: "burst_same_pair_created_once", rule: "K simultaneous requests for one new pair: all 200 with the same send_id, and Remaining drops by exactly 1", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::BurstNewPairs, name: "burst_creates_exactly_min_n_r", rule: "N simultaneous new pairs with R left (with two campaigns, spread over both, one send_id sent to both): exactly min(N, R) answered 200, the rest 429 with Retry-After, Remaining ends at max(0, R − N)", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::BurstIdsDistinct, name: "burst_send_ids_distinct", rule: "The send_ids generated for simultaneous new pairs are all distinct", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::BurstPairsStored, name: "burst_pairs_are_stored", rule: "Every pair a burst answered 200 exists afterwards: its repeat answers that send_id and spends nothing", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::BurstRepeatsOverQuota, name: "burst_repeats_ok_over_quota", rule: "Simultaneous repeats of an existing pair while the quota is used up: all 200 with that send_id", braze: false, needs: Needs::Exhaust },
    RunCheck { id: RunCheckId::PairPerCampaign, name: "pair_is_per_campaign", rule: "A pair is (campaign_id, send_id): the same send_id under another campaign is a new pair (200, echoed, one unit)", braze: true, needs: Needs::TwoCampaigns },
    RunCheck { id: RunCheckId::QuotaPerWorkspace, name: "quota_is_per_workspace", rule: "The quota is per workspace: Remaining agrees across its campaigns, and what one spends is gone for the others", braze: true, needs: Needs::TwoCampaigns },
    RunCheck { id: RunCheckId::QuotaSpentForEveryCampaign, name: "exhausted_quota_applies_to_every_campaign", rule: "With the quota used up through one campaign, a new pair in another campaign gets 429", braze: true, needs: Needs::TwoCampaignsAndExhaust },
    RunCheck { id: RunCheckId::ModelAgrees, name: "stateful_model_agrees", rule: "Over random sequences (new, generated, repeat, invalid, other campaign, burst) every status and Remaining is what a model of the contract predicts", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::OtherMethodIs405, name: "other_method_is_405", rule: "Every other method on the path (GET, HEAD, PUT, PATCH, DELETE, OPTIONS, TRACE, an unknown token) → 405 with Allow listing POST and a JSON {\"message\"} (HEAD: no body); OPTIONS, if 2xx, carries Allow", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::AllowMatchesServer, name: "allow_lists_what_the_server_accepts", rule: "Each method an Allow lists, other than POST, is not itself answered 405", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::HeadHasNoBody, name: "head_answer_has_no_body", rule: "An answer to HEAD carries no body", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::FramingAgrees, name: "message_framing_agrees", rule: "Content-Length agrees with the body; never both Content-Length and Transfer-Encoding; no body where the status has none", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::EquivalentSameAnswer, name: "equivalent_request_same_answer", rule: "The same request written another valid way (escapes, whitespace, key order, unknown fields, media-type parameters and case, the Bearer scheme's case, header-name case, a chunked body, send_id null) gets the same status and send_id", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::EquivalentSameQuota, name: "equivalent_request_same_quota_effect", rule: "The same request written another valid way spends what it spends written plainly (a repeat, a refused request: nothing)", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::HostileBodyHandled, name: "hostile_body_never_fails", rule: "Deep nesting, near-limit strings, huge numbers, invalid UTF-8, a BOM, NUL bytes, empty or truncated bodies, non-objects: never a 5xx, every error JSON {\"message\"}", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::HostileBodyStatus, name: "hostile_body_gets_its_status", rule: "A hostile body gets the status of the order of decisions: 413 over 64 KiB, 400 otherwise; a valid one (hostile only in an unknown field) the repeat it is, or 400", braze: false, needs: Needs::Nothing },
    RunCheck { id: RunCheckId::GeneratedIdsRandom, name: "generated_ids_without_structure", rule: "Generated send_ids have room for 96 random bits and no structure: no shared prefix or suffix, no counter or clock, not in order (false-alarm rate < 1e-6)", braze: false, needs: Needs::Nothing },
];

/// The run-level checks of a profile.
pub fn run_checks_for(profile: Profile) -> impl Iterator<Item = &'static RunCheck> {
    RUN_CHECKS.iter().filter(move |c| c.id.runs_under(profile))
}

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

    #[test]
    fn the_table_is_in_the_order_of_the_ids() {
        for (i, c) in RUN_CHECKS.iter().enumerate() {
            assert_eq!(c.id as usize, i, "{}", c.name);
        }
    }

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
