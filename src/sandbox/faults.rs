//! Fault rules: which public requests a rule matches, what it does to them, when (before the
//! store is called, or after the handler committed), and how often. Deciding is pure: the HTTP
//! layer (`api::sandbox_layer`) hands over what it knows about a request and applies the
//! answer, so the storage engines know nothing of these rules (their only fault knob,
//! `StoreOptions::fail_flush`, is the tests' way to make a commit fail, not the sandbox's).
use std::sync::Mutex;

/// Longest delay a rule may ask for; kept below the server's default idle timeout (60 s).
pub const MAX_DELAY_MS: u64 = 30_000;

/// What a rule matches; an absent field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultMatch {
    pub workspace_id: Option<String>,
    pub campaign_id: Option<String>,
    pub key_id: Option<String>,
    /// Matches requests whose body names a `send_id` starting with this (never a generated one).
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

/// What a rule does: wait `delay_ms`, then answer `status` (a JSON error body, `Retry-After` on
/// 429 and 503), close the connection without an answer, or — a delay alone — answer as usual.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultAction {
    pub status: Option<u16>,
    /// The error body's `message`; a default names the rule.
    pub message: Option<String>,
    /// `Retry-After` seconds of a 429 or 503 (default 1).
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub close: bool,
}

/// Before the store (nothing stored or spent) or after the handler's commit (stored and spent,
/// the answer replaced or lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// A rule as asked for (`POST /admin/faults`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub matcher: FaultMatch,
    pub action: FaultAction,
    pub when: When,
    /// Applies to the next N matching requests; absent: to every one.
    pub times: Option<u64>,
    /// Applies to each matching request with this probability, drawn from `seed`.
    pub probability: Option<f64>,
    pub seed: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FaultSpecError(pub String);

impl FaultSpec {
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

/// A rule as kept and listed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub id: String,
    pub spec: FaultSpec,
    /// Applications left; `None` when unbounded.
    pub remaining: Option<u64>,
    /// How many requests it has been applied to.
    pub applied: u64,
    /// The seed actually used (the one given, or a random one) when `probability` is set.
    pub seed: Option<u64>,
    rng: u64,
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
    pub fn add(&self, spec: FaultSpec) -> Result<FaultRule, FaultSpecError> {
        spec.validate()?;
        let mut rules = self.lock();
        rules.next_id += 1;
        let seed = spec
            .probability
            .map(|_| spec.seed.unwrap_or_else(random_seed));
        let rule = FaultRule {
            id: format!("fault-{}", rules.next_id),
            remaining: spec.times,
            applied: 0,
            seed,
            rng: seed.unwrap_or(0),
            spec,
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
            if rule.remaining == Some(0) || !rule.spec.matcher.matches(request) {
                continue;
            }
            if let Some(p) = rule.spec.probability {
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
                action: rule.spec.action.clone(),
                when: rule.spec.when,
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

    fn spec(action: FaultAction) -> FaultSpec {
        FaultSpec {
            action,
            ..FaultSpec::default()
        }
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
            .add(FaultSpec {
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
                .add(FaultSpec {
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
            .add(FaultSpec {
                probability: Some(0.0),
                ..spec(status(503))
            })
            .unwrap();
        assert!((0..50).all(|_| faults.decide(&facts("c", None)).is_none()));
        faults.clear();
        faults
            .add(FaultSpec {
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
        let refused = |s: FaultSpec| s.validate().unwrap_err().0;
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
        assert!(refused(FaultSpec {
            times: Some(0),
            ..spec(status(503))
        })
        .contains("times"));
        for p in [-0.1, 1.5, f64::NAN] {
            assert!(refused(FaultSpec {
                probability: Some(p),
                ..spec(status(503))
            })
            .contains("probability"));
        }
        assert!(refused(FaultSpec {
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
