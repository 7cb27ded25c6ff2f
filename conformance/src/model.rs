//! Stateful sequences: random operations on one workspace, and a model of the contract that
//! predicts the status and `X-RateLimit-Remaining` of every answer. A sequence runs with send_ids
//! of its own (a fresh prefix per execution), so a shrunk sequence replays on a clean slate.
use std::collections::HashSet;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::json;

use crate::strategies::{Case, Invalid, NewPair, SendIdField};

/// One operation of a sequence. Indices pick among the pairs the model knows (mod their count).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A new pair with a given send_id (fresh).
    NewGiven,
    /// A new pair whose send_id the server generates.
    NewGenerated,
    /// A known pair again.
    Repeat(usize),
    /// An invalid body (three kinds).
    Invalid(u8),
    /// The send_id of a known pair under the other campaign.
    OtherCampaign(usize),
    /// One new pair sent several times at once.
    Burst,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::NewGiven => write!(f, "new pair, given send_id"),
            Op::NewGenerated => write!(f, "new pair, generated send_id"),
            Op::Repeat(i) => write!(f, "repeat of known pair #{i}"),
            Op::Invalid(k) => write!(f, "invalid body #{k}"),
            Op::OtherCampaign(i) => write!(f, "known pair #{i} under the other campaign"),
            Op::Burst => write!(f, "one new pair several times at once"),
        }
    }
}

/// Random sequences of 1 to 10 operations; `two`: there is a second campaign.
pub fn ops(two: bool) -> BoxedStrategy<Vec<Op>> {
    let index = 0usize..16;
    let op = if two {
        prop_oneof![
            3 => Just(Op::NewGiven),
            2 => Just(Op::NewGenerated),
            3 => index.clone().prop_map(Op::Repeat),
            1 => (0u8..3).prop_map(Op::Invalid),
            2 => index.prop_map(Op::OtherCampaign),
            1 => Just(Op::Burst),
        ]
        .boxed()
    } else {
        prop_oneof![
            3 => Just(Op::NewGiven),
            2 => Just(Op::NewGenerated),
            3 => index.prop_map(Op::Repeat),
            1 => (0u8..3).prop_map(Op::Invalid),
            1 => Just(Op::Burst),
        ]
        .boxed()
    };
    proptest::collection::vec(op, 1..=10).boxed()
}

/// The most units a sequence may spend.
pub fn cost(ops: &[Op]) -> u64 {
    ops.iter()
        .filter(|o| {
            matches!(
                o,
                Op::NewGiven | Op::NewGenerated | Op::OtherCampaign(_) | Op::Burst
            )
        })
        .count() as u64
}

/// What the model expects of one operation's answer(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub status: u16,
    /// `X-RateLimit-Remaining` after it (when the run knows it).
    pub remaining: Option<i64>,
    /// The send_id the answer carries (a given or known one).
    pub send_id: Option<String>,
}

/// The requests of one operation.
#[derive(Debug, Clone)]
pub struct Planned {
    pub case: Case,
    /// How many copies go at once (1 but for a burst).
    pub copies: usize,
    pub expect: Expect,
    /// The pair it creates, when the model says it creates one.
    creates: Option<(usize, Option<String>)>,
}

/// The model: the pairs that exist and what is left of the quota.
pub struct Model {
    pairs: Vec<(usize, String)>,
    known: HashSet<(usize, String)>,
    remaining: Option<i64>,
    prefix: String,
    next: u32,
    burst: usize,
    campaigns: usize,
}

impl Model {
    /// `existing`: a pair (campaign, send_id) known to exist; `prefix` makes this execution's
    /// send_ids its own.
    pub fn new(
        existing: (usize, String),
        remaining: Option<i64>,
        prefix: String,
        burst: usize,
        campaigns: usize,
    ) -> Self {
        let mut known = HashSet::new();
        known.insert(existing.clone());
        Self {
            pairs: vec![existing],
            known,
            remaining,
            prefix,
            next: 0,
            burst,
            campaigns,
        }
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }

    fn pick(&self, i: usize) -> (usize, String) {
        self.pairs[i % self.pairs.len()].clone()
    }

    /// A pair that may be new: 200 and one unit while quota is left, else 429.
    fn new_pair(&self, send_id: Option<String>) -> (Expect, bool) {
        match self.remaining {
            Some(r) if r <= 0 => (
                Expect {
                    status: 429,
                    remaining: Some(0),
                    send_id: None,
                },
                false,
            ),
            r => (
                Expect {
                    status: 200,
                    remaining: r.map(|r| r - 1),
                    send_id,
                },
                true,
            ),
        }
    }

    fn exists(&self, send_id: String) -> Expect {
        Expect {
            status: 200,
            remaining: self.remaining,
            send_id: Some(send_id),
        }
    }

    /// The requests of `op` and the model's prediction.
    pub fn plan(&mut self, op: &Op) -> Planned {
        let given = |campaign: usize, s: &str| {
            Case::New(NewPair {
                campaign,
                send_id: SendIdField::Given(s.to_string()),
                ..NewPair::default()
            })
        };
        match op {
            Op::NewGiven | Op::Burst => {
                let id = self.fresh();
                let (expect, creates) = self.new_pair(Some(id.clone()));
                Planned {
                    case: given(0, &id),
                    copies: if *op == Op::Burst { self.burst } else { 1 },
                    expect,
                    creates: creates.then_some((0, Some(id))),
                }
            }
            Op::NewGenerated => {
                let (expect, creates) = self.new_pair(None);
                Planned {
                    case: Case::New(NewPair::default()),
                    copies: 1,
                    expect,
                    creates: creates.then_some((0, None)),
                }
            }
            Op::Repeat(i) => {
                let (campaign, id) = self.pick(*i);
                Planned {
                    case: Case::Repeat {
                        campaign,
                        send_id: id.clone(),
                        content_type: crate::strategies::JSON,
                    },
                    copies: 1,
                    expect: self.exists(id),
                    creates: None,
                }
            }
            Op::OtherCampaign(i) => {
                // A pair of this sequence (the run's own pair may exist elsewhere already);
                // without one, a fresh send_id.
                let own = &self.pairs[1..];
                let (campaign, id) = if own.is_empty() {
                    (0, self.fresh())
                } else {
                    own[i % own.len()].clone()
                };
                let other = (campaign + 1) % self.campaigns.max(1);
                if self.known.contains(&(other, id.clone())) {
                    Planned {
                        case: given(other, &id),
                        copies: 1,
                        expect: self.exists(id),
                        creates: None,
                    }
                } else {
                    let (expect, creates) = self.new_pair(Some(id.clone()));
                    Planned {
                        case: given(other, &id),
                        copies: 1,
                        expect,
                        creates: creates.then_some((other, Some(id))),
                    }
                }
            }
            Op::Invalid(k) => {
                let inv = match k % 3 {
                    0 => Invalid::MissingCampaignId,
                    1 => Invalid::SendIdTooLong(crate::edges::fill(&self.fresh(), 65)),
                    _ => Invalid::SendIdWrongType(json!(5)),
                };
                Planned {
                    case: Case::Invalid(inv),
                    copies: 1,
                    expect: Expect {
                        status: 400,
                        remaining: self.remaining,
                        send_id: None,
                    },
                    creates: None,
                }
            }
        }
    }

    /// Takes in what happened once the answers met the prediction: the pairs created, and
    /// the send_id a generated pair got.
    pub fn apply(&mut self, planned: &Planned, generated: Option<&str>) {
        if let Some((campaign, id)) = &planned.creates {
            let id = id.clone().or_else(|| generated.map(str::to_string));
            if let Some(id) = id {
                self.known.insert((*campaign, id.clone()));
                self.pairs.push((*campaign, id));
            }
            self.remaining = self.remaining.map(|r| r - 1);
        }
    }

    pub fn remaining(&self) -> Option<i64> {
        self.remaining
    }

    /// A known pair to read `Remaining` with after a burst.
    pub fn first_pair(&self) -> (usize, String) {
        self.pairs[0].clone()
    }
}

/// Whether the answer(s) meet the prediction; `Err` says how not.
pub fn compare(
    expect: &Expect,
    statuses: &[u16],
    remaining: Option<i64>,
    send_ids: &[Option<&str>],
) -> Result<(), String> {
    let wrong: Vec<u16> = statuses
        .iter()
        .copied()
        .filter(|s| *s != expect.status)
        .collect();
    if !wrong.is_empty() {
        return Err(if statuses.len() == 1 {
            format!("answered {}, the model expects {}", wrong[0], expect.status)
        } else {
            format!(
                "{} of {} copies answered {}, the model expects {} for all",
                wrong.len(),
                statuses.len(),
                wrong
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                expect.status
            )
        });
    }
    if let (Some(want), Some(got)) = (expect.remaining, remaining) {
        if want != got {
            return Err(format!(
                "X-RateLimit-Remaining {got}, the model expects {want}"
            ));
        }
    }
    if let Some(want) = &expect.send_id {
        if let Some(got) = send_ids.iter().find(|s| **s != Some(want.as_str())) {
            return Err(format!(
                "send_id {}, the model expects {}",
                crate::http::quote_or(*got, "none"),
                crate::http::quote(want)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_spends_one_per_new_pair_and_nothing_on_repeats() {
        let mut m = Model::new((0, "e".into()), Some(2), "p".into(), 4, 2);
        let a = m.plan(&Op::NewGiven);
        assert_eq!(a.expect.status, 200);
        assert_eq!(a.expect.remaining, Some(1));
        m.apply(&a, None);
        let r = m.plan(&Op::Repeat(1));
        assert_eq!(r.expect.remaining, Some(1));
        assert_eq!(r.expect.send_id.as_deref(), Some("p-1"));
        // The same send_id under the other campaign is a new pair.
        let o = m.plan(&Op::OtherCampaign(1));
        assert_eq!((o.expect.status, o.expect.remaining), (200, Some(0)));
        m.apply(&o, None);
        let again = m.plan(&Op::OtherCampaign(1));
        assert_eq!(again.expect.status, 200, "it exists now");
        assert_eq!(m.plan(&Op::NewGenerated).expect.status, 429);
    }

    #[test]
    fn a_burst_is_one_new_pair() {
        let mut m = Model::new((0, "e".into()), Some(5), "p".into(), 4, 1);
        let b = m.plan(&Op::Burst);
        assert_eq!(b.copies, 4);
        assert_eq!(b.expect.remaining, Some(4));
        assert!(compare(&b.expect, &[200; 4], None, &[Some("p-1"); 4]).is_ok());
        assert!(compare(&b.expect, &[200, 429, 200, 200], None, &[]).is_err());
    }
}
