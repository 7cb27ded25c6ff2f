//! Fault rules: which public requests a rule matches, what it does to them, when (before the
//! store is called, or after the handler committed), and how often. Deciding is pure: the HTTP
//! layer (`api::sandbox_layer`) hands over what it knows about a request and applies the
//! answer, so the storage engines know nothing of these rules (their only fault knob,
//! `StoreOptions::fail_flush`, is the tests' way to make a commit fail, not the sandbox's).
use std::sync::Mutex;

use poem_openapi::{Enum, Object};

/// Longest delay a rule may ask for; kept below the server's default idle timeout (60 s).
pub const MAX_DELAY_MS: u64 = 30_000;

// The rule, its match and its action are each one type: the body of `POST /admin/faults`, the
// rule kept here, and what the admin API lists (poem-openapi `Object`s; `read_only` marks what
// only the service sets). The admin body parser (`api::admin::body`) refuses a read-only field
// in a request as it refuses an unknown one.

/// What a fault rule matches; an absent field matches any public request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object)]
#[oai(deny_unknown_fields)]
pub struct FaultMatch {
    /// The workspace of the request's key.
    #[oai(nullable)]
    pub workspace_id: Option<String>,
    /// The body's `campaign_id`.
    #[oai(nullable)]
    pub campaign_id: Option<String>,
    /// The request's key, by its `key_id`.
    #[oai(nullable)]
    pub key_id: Option<String>,
    /// The body's `send_id` starts with this (a request without one, whose id the service
    /// generates, never matches).
    #[oai(nullable)]
    pub send_id_prefix: Option<String>,
}

/// What a matched request is told about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// The key's workspace and id; `None` for a request without an active key.
    pub workspace_id: Option<&'a str>,
    pub key_id: Option<&'a str>,
    /// The body's `campaign_id` when it is a string.
    pub campaign_id: Option<&'a str>,
    /// The body's `send_id` when it is a string.
    pub send_id: Option<&'a str>,
}

impl FaultMatch {
    pub fn matches(&self, r: &RequestFacts<'_>) -> bool {
        let eq = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got == Some(w))
        };
        eq(&self.workspace_id, r.workspace_id)
            && eq(&self.key_id, r.key_id)
            && eq(&self.campaign_id, r.campaign_id)
            && self
                .send_id_prefix
                .as_deref()
                .is_none_or(|p| r.send_id.is_some_and(|s| s.starts_with(p)))
    }
}

/// What a fault does: wait `delay_ms`, then answer `status` or `close` the connection without
/// an answer; a `delay_ms` alone delays the usual answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object)]
#[oai(deny_unknown_fields)]
pub struct FaultAction {
    /// Answer this status (400–599) with a JSON error body; 429 and 503 carry `Retry-After`.
    #[oai(nullable, validator(minimum(value = "400"), maximum(value = "599")))]
    pub status: Option<u16>,
    /// The error body's `message` (default: the status's reason and the rule's id).
    #[oai(nullable)]
    pub message: Option<String>,
    /// `Retry-After` seconds (default 1 on 429 and 503).
    #[oai(nullable)]
    pub retry_after: Option<u64>,
    /// Wait this long first, up to 30000 ms.
    #[oai(nullable, validator(maximum(value = "30000")))]
    pub delay_ms: Option<u64>,
    /// Close the connection without an answer.
    #[oai(default, nullable)]
    pub close: bool,
}

/// Before the store (nothing stored or spent) or after the handler committed (stored and
/// spent; the answer delayed, replaced or lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename = "FaultWhen", rename_all = "lowercase")]
pub enum When {
    #[default]
    Before,
    After,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::After => "after",
        }
    }
}

/// A fault rule: as asked for (`POST /admin/faults`), as kept, and as listed.
#[derive(Debug, Clone, Default, PartialEq, Object)]
#[oai(deny_unknown_fields)]
pub struct FaultRule {
    /// The rule's id (`fault-1`), given by the service.
    #[oai(read_only)]
    pub id: String,
    /// Which requests (to `POST /sends/id/create`, once their key is known); absent: all.
    #[oai(rename = "match", default, nullable)]
    pub matcher: FaultMatch,
    pub action: FaultAction,
    /// `before` (default) or `after`.
    #[oai(default, nullable)]
    pub when: When,
    /// Apply to the next N matching requests; absent: to every one until the rule is removed.
    #[oai(nullable, validator(minimum(value = "1")))]
    pub times: Option<u64>,
    /// Apply to each matching request with this probability (0 to 1).
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "1")))]
    pub probability: Option<f64>,
    /// The seed of `probability`'s draws: the same seed, the same pattern (random when absent,
    /// and the one used shown in the answer).
    #[oai(nullable)]
    pub seed: Option<u64>,
    /// Applications left; `null` when the rule applies until removed.
    #[oai(read_only, nullable)]
    pub remaining: Option<u64>,
    /// Requests it was applied to so far.
    #[oai(read_only)]
    pub applied: u64,
    #[oai(skip)]
    rng: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FaultSpecError(pub String);

impl FaultRule {
    /// A rule that does `action` to every request.
    pub fn new(action: FaultAction) -> Self {
        Self {
            action,
            ..Self::default()
        }
    }

    /// The one place a rule is judged; every message names the field.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        let err = |m: &str| Err(FaultSpecError(m.to_string()));
        let a = &self.action;
        if a.status.is_none() && !a.close && a.delay_ms.is_none() {
            return err("action must give status, delay_ms or close (e.g. {\"status\": 503})");
        }
        if a.status.is_some() && a.close {
            return err("action: status and close exclude each other (close answers nothing)");
        }
        if a.status.is_some_and(|s| !(400..=599).contains(&s)) {
            return err("action.status must be between 400 and 599");
        }
        if a.status.is_none() && (a.message.is_some() || a.retry_after.is_some()) {
            return err("action.message and action.retry_after need action.status");
        }
        if a.delay_ms.is_some_and(|d| d > MAX_DELAY_MS) {
            return err("action.delay_ms must be at most 30000");
        }
        if self.times == Some(0) {
            return err("times must be at least 1 (absent: every matching request)");
        }
        if self
            .probability
            .is_some_and(|p| !(p.is_finite() && (0.0..=1.0).contains(&p)))
        {
            return err("probability must be between 0 and 1");
        }
        if self.seed.is_some() && self.probability.is_none() {
            return err("seed needs probability");
        }
        if let Some(p) = &self.matcher.send_id_prefix {
            if p.is_empty() {
                return err("match.send_id_prefix must not be empty");
            }
        }
        Ok(())
    }
}

/// What the HTTP layer does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub rule_id: String,
    pub action: FaultAction,
    pub when: When,
}

#[derive(Debug, Default)]
struct Rules {
    rules: Vec<FaultRule>,
    next_id: u64,
}

/// The sandbox's rules, in creation order. A request gets at most one fault: the first rule
/// that matches, has applications left, and (with a probability) draws true.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<Rules>,
}

impl Faults {
    /// Keeps `asked` (its read-only fields are the service's: they are set here) and answers
    /// the rule as kept.
    pub fn add(&self, asked: FaultRule) -> Result<FaultRule, FaultSpecError> {
        asked.validate()?;
        let mut rules = self.lock();
        rules.next_id += 1;
        let seed = asked
            .probability
            .map(|_| asked.seed.unwrap_or_else(random_seed));
        let rule = FaultRule {
            id: format!("fault-{}", rules.next_id),
            remaining: asked.times,
            applied: 0,
            seed,
            rng: seed.unwrap_or(0),
            ..asked
        };
        rules.rules.push(rule.clone());
        Ok(rule)
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    pub fn get(&self, id: &str) -> Option<FaultRule> {
        self.lock().rules.iter().find(|r| r.id == id).cloned()
    }

    /// Returns `false` when no rule has this id.
    pub fn remove(&self, id: &str) -> bool {
        let mut rules = self.lock();
        let before = rules.rules.len();
        rules.rules.retain(|r| r.id != id);
        rules.rules.len() != before
    }

    /// Removes every rule; ids keep counting (an old id never names a new rule).
    pub fn clear(&self) -> usize {
        let mut rules = self.lock();
        std::mem::take(&mut rules.rules).len()
    }

    /// Removes every rule and starts the ids again at `fault-1`: what a reset does, so that a
    /// test after any other sees the ids the docs show.
    pub fn reset(&self) {
        *self.lock() = Rules::default();
    }

    /// Decides, and counts, the fault of one request.
    pub fn decide(&self, request: &RequestFacts<'_>) -> Option<Applied> {
        let mut rules = self.lock();
        for rule in rules.rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.matcher.matches(request) {
                continue;
            }
            if let Some(p) = rule.probability {
                if unit_interval(splitmix64(&mut rule.rng)) >= p {
                    continue;
                }
            }
            if let Some(left) = rule.remaining.as_mut() {
                *left -= 1;
            }
            rule.applied += 1;
            return Some(Applied {
                rule_id: rule.id.clone(),
                action: rule.action.clone(),
                when: rule.when,
            });
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, and the same seed gives the same draws on every
/// platform, which is all a seeded fault needs.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A draw in [0, 1) from the top 53 bits.
fn unit_interval(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn random_seed() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    // Below 2^53, so the seed survives a round trip through JSON numbers (JavaScript clients).
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], 0]) & ((1 << 53) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(campaign: &'a str, send_id: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            workspace_id: Some("ws-1"),
            key_id: Some("key-1"),
            campaign_id: Some(campaign),
            send_id,
        }
    }

    fn status(code: u16) -> FaultAction {
        FaultAction {
            status: Some(code),
            ..FaultAction::default()
        }
    }

    fn spec(action: FaultAction) -> FaultRule {
        FaultRule::new(action)
    }

    #[test]
    fn an_empty_match_matches_any_request() {
        let m = FaultMatch::default();
        assert!(m.matches(&facts("c", None)));
        assert!(m.matches(&RequestFacts::default()));
    }

    #[test]
    fn each_match_field_narrows() {
        let r = facts("welcome", Some("order-17"));
        let with = |f: fn(&mut FaultMatch)| {
            let mut m = FaultMatch::default();
            f(&mut m);
            m.matches(&r)
        };
        assert!(with(|m| m.workspace_id = Some("ws-1".into())));
        assert!(!with(|m| m.workspace_id = Some("ws-2".into())));
        assert!(with(|m| m.key_id = Some("key-1".into())));
        assert!(!with(|m| m.key_id = Some("key-2".into())));
        assert!(with(|m| m.campaign_id = Some("welcome".into())));
        assert!(!with(|m| m.campaign_id = Some("other".into())));
        assert!(with(|m| m.send_id_prefix = Some("order-".into())));
        assert!(!with(|m| m.send_id_prefix = Some("invoice-".into())));
        // A request without a send_id (one will be generated) never matches a prefix.
        let m = FaultMatch {
            send_id_prefix: Some("order-".into()),
            ..FaultMatch::default()
        };
        assert!(!m.matches(&facts("welcome", None)));
    }

    #[test]
    fn times_counts_down_and_a_spent_rule_stays_listed() {
        let faults = Faults::default();
        let rule = faults
            .add(FaultRule {
                times: Some(2),
                ..spec(status(503))
            })
            .unwrap();
        assert_eq!(rule.id, "fault-1");
        assert_eq!(rule.remaining, Some(2));
        let r = facts("c", None);
        assert_eq!(faults.decide(&r).unwrap().rule_id, "fault-1");
        assert!(faults.decide(&r).is_some());
        assert!(faults.decide(&r).is_none());
        let listed = faults.get("fault-1").unwrap();
        assert_eq!((listed.remaining, listed.applied), (Some(0), 2));
    }

    #[test]
    fn without_times_a_rule_applies_until_removed() {
        let faults = Faults::default();
        faults.add(spec(status(500))).unwrap();
        let r = facts("c", None);
        for _ in 0..100 {
            assert!(faults.decide(&r).is_some());
        }
        assert_eq!(faults.list()[0].remaining, None);
        assert!(faults.remove("fault-1"));
        assert!(!faults.remove("fault-1"));
        assert!(faults.decide(&r).is_none());
    }

    #[test]
    fn the_first_matching_rule_wins_and_only_it_is_spent() {
        let faults = Faults::default();
        let mut narrow = spec(status(429));
        narrow.matcher.campaign_id = Some("a".into());
        narrow.times = Some(1);
        faults.add(narrow).unwrap();
        faults.add(spec(status(503))).unwrap();
        assert_eq!(faults.decide(&facts("b", None)).unwrap().rule_id, "fault-2");
        assert_eq!(faults.list()[0].remaining, Some(1));
        assert_eq!(faults.decide(&facts("a", None)).unwrap().rule_id, "fault-1");
        assert_eq!(faults.decide(&facts("a", None)).unwrap().rule_id, "fault-2");
    }

    #[test]
    fn a_seeded_probability_replays_the_same_pattern() {
        let pattern = |seed| {
            let faults = Faults::default();
            faults
                .add(FaultRule {
                    probability: Some(0.3),
                    seed: Some(seed),
                    ..spec(status(503))
                })
                .unwrap();
            (0..200)
                .map(|_| faults.decide(&facts("c", None)).is_some())
                .collect::<Vec<_>>()
        };
        let a = pattern(42);
        assert_eq!(a, pattern(42));
        assert_ne!(a, pattern(43));
        let hits = a.iter().filter(|h| **h).count();
        assert!((30..=90).contains(&hits), "{hits} of 200 at p = 0.3");
    }

    #[test]
    fn probability_zero_never_and_one_always() {
        let faults = Faults::default();
        faults
            .add(FaultRule {
                probability: Some(0.0),
                ..spec(status(503))
            })
            .unwrap();
        assert!((0..50).all(|_| faults.decide(&facts("c", None)).is_none()));
        faults.clear();
        faults
            .add(FaultRule {
                probability: Some(1.0),
                times: Some(3),
                ..spec(status(503))
            })
            .unwrap();
        let hits = (0..10)
            .filter(|_| faults.decide(&facts("c", None)).is_some())
            .count();
        assert_eq!(hits, 3, "probability 1 with times 3");
        // A seed was chosen and is shown, so the run can be replayed.
        assert!(faults.list()[0].seed.is_some());
    }

    #[test]
    fn clear_keeps_ids_counting_and_reset_starts_them_again() {
        let faults = Faults::default();
        faults.add(spec(status(503))).unwrap();
        assert_eq!(faults.clear(), 1);
        assert_eq!(faults.add(spec(status(503))).unwrap().id, "fault-2");
        faults.reset();
        assert!(faults.list().is_empty());
        assert_eq!(faults.add(spec(status(503))).unwrap().id, "fault-1");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        let refused = |s: FaultRule| s.validate().unwrap_err().0;
        assert!(refused(spec(FaultAction::default())).contains("action"));
        assert!(refused(spec(status(200))).contains("action.status"));
        assert!(refused(spec(status(302))).contains("action.status"));
        let both = FaultAction {
            status: Some(503),
            close: true,
            ..FaultAction::default()
        };
        assert!(refused(spec(both)).contains("close"));
        let long = FaultAction {
            delay_ms: Some(MAX_DELAY_MS + 1),
            ..FaultAction::default()
        };
        assert!(refused(spec(long)).contains("delay_ms"));
        let orphan = FaultAction {
            retry_after: Some(3),
            close: true,
            ..FaultAction::default()
        };
        assert!(refused(spec(orphan)).contains("retry_after"));
        assert!(refused(FaultRule {
            times: Some(0),
            ..spec(status(503))
        })
        .contains("times"));
        for p in [-0.1, 1.5, f64::NAN] {
            assert!(refused(FaultRule {
                probability: Some(p),
                ..spec(status(503))
            })
            .contains("probability"));
        }
        assert!(refused(FaultRule {
            seed: Some(1),
            ..spec(status(503))
        })
        .contains("seed"));
        let mut empty_prefix = spec(status(503));
        empty_prefix.matcher.send_id_prefix = Some(String::new());
        assert!(refused(empty_prefix).contains("send_id_prefix"));
        // A delay alone, a delay with a status, a close after a delay: all fine.
        let ok = FaultAction {
            delay_ms: Some(1500),
            status: Some(503),
            ..FaultAction::default()
        };
        assert!(spec(ok).validate().is_ok());
    }
}
