//! The properties, as data: what each is called, how it runs, which profile it belongs to,
//! what it spends and where its cases come from. `Runner::execute` walks this table in order.
use proptest::strategy::{BoxedStrategy, Just, Strategy};

use crate::oracle::{Needs, RunCheckId};
use crate::strategies::{self, Case, RequestContext};
use crate::{edges, strategies::JSON};

/// How a property's cases are sent and judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Single requests, each judged on its own (free ones `--concurrency` at a time).
    Sequential,
    /// Bursts sent truly at once, judged from counts.
    Concurrent,
    /// Random sequences against a model.
    Stateful,
}

/// What a property spends of the quota (planned before the run sends anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    Nothing,
    /// Each case may create one pair.
    OnePerCase,
    /// A fixed number of units.
    Units(u64),
    /// One unit per new pair of the burst (the burst's size).
    BurstSize,
    /// Its share of what is left after the fixed ones.
    Share,
    /// Everything that is left (`--exhaust-quota`).
    Everything,
}

/// How many cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `--cases`.
    Cli,
    /// `--cases`, at most 16 (small enumerations).
    Small,
    /// Each case of the list once, in order, whatever `--cases` is (coverage).
    EachOnce,
}

/// What the strategies of a property are built from.
pub struct Inputs<'a> {
    pub strict: bool,
    pub forbidden: bool,
    pub min: usize,
    pub max: usize,
    pub rctx: &'a RequestContext,
    pub tag: &'a str,
}

/// How the runner runs a property.
#[derive(Clone, Copy)]
pub enum Run {
    /// Generated cases, from one strategy per class.
    Cases(fn(&Inputs) -> Vec<BoxedStrategy<Case>>),
    /// Refused requests spent nothing: `Remaining` is where it was.
    Checkpoint,
    /// A pair is per campaign, the quota per workspace.
    CrossCampaign,
    /// One new pair, K times at once.
    SamePairBurst,
    /// N new pairs at once within the budget.
    NewPairsBurst,
    /// Model-checked sequences.
    Sequences,
    /// Down to the quota's end, a burst across it, then the 429 rules.
    Exhaustion,
}

pub struct Property {
    pub name: &'static str,
    pub mode: Mode,
    /// Part of `--profile strict` only.
    pub strict_only: bool,
    pub spend: Spend,
    pub count: Count,
    pub needs: Needs,
    pub run: Run,
    /// The run-level checks it decides.
    pub decides: &'static [RunCheckId],
}

fn each(cases: Vec<Case>) -> Vec<BoxedStrategy<Case>> {
    cases.into_iter().map(|c| Just(c).boxed()).collect()
}

fn wrong_methods(_: &Inputs) -> Vec<BoxedStrategy<Case>> {
    strategies::wrong_methods()
}
fn unknown_paths(_: &Inputs) -> Vec<BoxedStrategy<Case>> {
    strategies::unknown_paths()
}
fn auth(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    strategies::auth_cases(i.strict, i.forbidden, i.max)
}
fn invalid_body(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    strategies::invalid_cases(i.max)
}
fn edge_refused(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::refused(i.rctx, i.max))
}
fn edge_unknown_campaigns(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    let mut arms = each(edges::unknown_campaigns(&i.rctx.campaigns));
    arms.push(strategies::unknown_campaign());
    arms
}
fn edge_media_types(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::media_types(i.rctx))
}
fn edge_new_pairs(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::new_pairs(i.tag, i.max))
}
fn edge_case_variants(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::case_variants(i.tag))
}
fn edge_lengths(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::lengths(i.tag, i.min, i.max))
}
fn edge_characters(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    each(edges::characters(i.tag, i.max))
}
fn generated(_: &Inputs) -> Vec<BoxedStrategy<Case>> {
    vec![strategies::generated_pair()]
}
fn given(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    vec![strategies::given_pair(i.min, i.max)]
}

/// Every property, in the order a run goes through them, which is also the order the quota plan
/// serves them: free ones first; then the pair-creating edges, bursts and the cross-campaign
/// pairs, most telling first; the sequences and the random new pairs; last the quota's end.
#[rustfmt::skip]
pub const PROPERTIES: &[Property] = &[
    Property { name: "wrong_method", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Small, needs: Needs::Nothing, run: Run::Cases(wrong_methods), decides: &[] },
    Property { name: "unknown_path", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Small, needs: Needs::Nothing, run: Run::Cases(unknown_paths), decides: &[] },
    Property { name: "auth", mode: Mode::Sequential, strict_only: false, spend: Spend::Nothing, count: Count::Cli, needs: Needs::Nothing, run: Run::Cases(auth), decides: &[] },
    Property { name: "invalid_body", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Cli, needs: Needs::Nothing, run: Run::Cases(invalid_body), decides: &[] },
    Property { name: "edge_refused", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_refused), decides: &[] },
    Property { name: "unknown_campaign", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_unknown_campaigns), decides: &[] },
    Property { name: "edge_media_types", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_media_types), decides: &[] },
    Property { name: "refused_spent_nothing", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Checkpoint, decides: &[] },
    Property { name: "edge_new_pairs", mode: Mode::Sequential, strict_only: false, spend: Spend::OnePerCase, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_new_pairs), decides: &[] },
    Property { name: "burst_same_pair", mode: Mode::Concurrent, strict_only: true, spend: Spend::Units(1), count: Count::EachOnce, needs: Needs::Nothing, run: Run::SamePairBurst, decides: &[RunCheckId::BurstSamePair] },
    Property { name: "cross_campaign", mode: Mode::Sequential, strict_only: false, spend: Spend::Units(2), count: Count::EachOnce, needs: Needs::TwoCampaigns, run: Run::CrossCampaign, decides: &[RunCheckId::PairPerCampaign, RunCheckId::QuotaPerWorkspace] },
    Property { name: "edge_case_variants", mode: Mode::Sequential, strict_only: false, spend: Spend::OnePerCase, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_case_variants), decides: &[] },
    Property { name: "edge_lengths", mode: Mode::Sequential, strict_only: false, spend: Spend::OnePerCase, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_lengths), decides: &[] },
    Property { name: "edge_characters", mode: Mode::Sequential, strict_only: false, spend: Spend::OnePerCase, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_characters), decides: &[] },
    Property { name: "burst_new_pairs", mode: Mode::Concurrent, strict_only: true, spend: Spend::BurstSize, count: Count::EachOnce, needs: Needs::Nothing, run: Run::NewPairsBurst, decides: &[RunCheckId::BurstNewPairs, RunCheckId::BurstIdsDistinct] },
    Property { name: "stateful_sequences", mode: Mode::Stateful, strict_only: true, spend: Spend::Share, count: Count::Cli, needs: Needs::Nothing, run: Run::Sequences, decides: &[RunCheckId::ModelAgrees] },
    Property { name: "new_pair_generated_id", mode: Mode::Sequential, strict_only: false, spend: Spend::Share, count: Count::Cli, needs: Needs::Nothing, run: Run::Cases(generated), decides: &[] },
    Property { name: "new_pair_given_id", mode: Mode::Sequential, strict_only: false, spend: Spend::Share, count: Count::Cli, needs: Needs::Nothing, run: Run::Cases(given), decides: &[] },
    Property { name: "quota_exhaustion", mode: Mode::Concurrent, strict_only: false, spend: Spend::Everything, count: Count::EachOnce, needs: Needs::Exhaust, run: Run::Exhaustion, decides: &[RunCheckId::BurstNewPairs, RunCheckId::BurstIdsDistinct, RunCheckId::BurstRepeatsOverQuota, RunCheckId::QuotaSpentForEveryCampaign] },
];

/// The content type of a repeat that follows a new pair: the other spelling, so both are used.
pub fn other_content_type(ct: &'static str) -> &'static str {
    if ct == JSON {
        strategies::JSON_UTF8
    } else {
        JSON
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_mode_is_used() {
        let names: std::collections::HashSet<_> = PROPERTIES.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), PROPERTIES.len());
        for mode in [Mode::Sequential, Mode::Concurrent, Mode::Stateful] {
            assert!(PROPERTIES.iter().any(|p| p.mode == mode), "{mode:?}");
        }
    }

    #[test]
    fn free_properties_come_before_the_ones_that_spend() {
        let first_spending = PROPERTIES
            .iter()
            .position(|p| p.spend != Spend::Nothing)
            .expect("some spend");
        assert!(PROPERTIES[first_spending..]
            .iter()
            .all(|p| p.spend != Spend::Nothing));
    }
}
