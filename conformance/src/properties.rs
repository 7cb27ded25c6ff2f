//! The properties, as data: what each is called, how it runs, which profile it belongs to,
//! what it spends and which defect classes it covers, and where its cases come from.
//! `Runner::execute` walks this table in order; the quota planner ([`crate::budget::plan`])
//! serves the pair-creating ones in the same order, most telling first.
use proptest::strategy::{BoxedStrategy, Just, Strategy};

use crate::budget::Want;
use crate::oracle::{CheckId, Have, Needs};
use crate::strategies::{self, Case, NewPair, RequestContext, SendIdField};
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

/// What a property spends of the quota (planned before the run creates anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    Nothing,
    /// At least `min` units to run at all, `extra` more before shares, at most `max`.
    Units {
        min: u64,
        extra: u64,
        max: Max,
    },
    /// Everything that is left (`--exhaust-quota`).
    Everything,
}

/// The most units a property can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    Fixed(u64),
    /// `--cases`.
    Cases,
    /// Twice `--cases`.
    TwiceCases,
    /// One burst's requests.
    Burst,
}

/// How many cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `--cases`.
    Flag,
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
    /// A send_id whose case variant is still to be sent (the edge groups had no unit for it).
    pub case_variant_of: Option<&'a str>,
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
    /// The pair-creating edges, several in one pair, split only when refused.
    EdgeGroups,
    /// One new pair, K times at once.
    SamePairBurst,
    /// N new pairs at once within the budget, then each repeated.
    NewPairsBurst,
    /// Model-checked sequences.
    Sequences,
    /// Down to the quota's end, a burst across it, then the 429 rules.
    Exhaustion,
    /// Every other method on the path (`classes::methods`).
    Methods,
    /// Requests written in equivalent ways (`classes::equivalent`).
    Equivalents,
    /// Hostile bodies (`classes::robust`).
    HostileBodies,
    /// The run's generated send_ids, judged together (`classes::ids`); sends nothing.
    IdQuality,
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
    pub decides: &'static [CheckId],
    /// The classes of defect it is there to find (for people: `--help`, the plan).
    pub covers: &'static str,
}

impl Property {
    /// What it asks of the quota planner; `None` when it creates nothing, or (a burst of new
    /// pairs under `--exhaust-quota`) when the quota's end does its work instead.
    pub fn want(&self, cases: u64, burst: u64, exhaust: bool) -> Option<Want> {
        let Spend::Units { min, extra, max } = self.spend else {
            return None;
        };
        if exhaust && matches!(self.run, Run::NewPairsBurst) {
            return None;
        }
        let max = match max {
            Max::Fixed(n) => n,
            Max::Cases => cases,
            Max::TwiceCases => 2 * cases,
            Max::Burst => burst,
        }
        .max(min);
        Some(Want {
            min,
            extra: extra.min(max - min),
            max,
        })
    }
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
/// `"send_id": null` first (it must be the same as absent), then random generated pairs.
fn generated(_: &Inputs) -> Vec<BoxedStrategy<Case>> {
    let null = Case::New(NewPair {
        send_id: SendIdField::Null,
        ..NewPair::default()
    });
    vec![Just(null).boxed(), strategies::generated_pair()]
}
/// A case variant the edge groups had no unit for comes first: it is a given pair too.
fn given(i: &Inputs) -> Vec<BoxedStrategy<Case>> {
    let mut arms = Vec::new();
    if let Some(of) = i.case_variant_of {
        arms.push(Just(edges::case_variant(of)).boxed());
    }
    arms.push(strategies::given_pair(i.min, i.max));
    arms
}

const fn units(min: u64, extra: u64, max: Max) -> Spend {
    Spend::Units { min, extra, max }
}

/// Every property, in the order a run goes through them, which is also the order the quota plan
/// serves them: free ones first; then the pair-creating ones, most telling first; last the
/// quota's end.
#[rustfmt::skip]
pub const PROPERTIES: &[Property] = &[
    Property { name: "wrong_method", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Small, needs: Needs::Nothing, run: Run::Cases(wrong_methods), decides: &[], covers: "wrong methods answered other than 405 with Allow" },
    Property { name: "unknown_path", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Small, needs: Needs::Nothing, run: Run::Cases(unknown_paths), decides: &[], covers: "near-miss paths answered other than 404" },
    Property { name: "auth", mode: Mode::Sequential, strict_only: false, spend: Spend::Nothing, count: Count::Flag, needs: Needs::Nothing, run: Run::Cases(auth), decides: &[], covers: "bad keys accepted, 401/403 confused, keys echoed" },
    Property { name: "invalid_body", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::Flag, needs: Needs::Nothing, run: Run::Cases(invalid_body), decides: &[], covers: "invalid bodies accepted or given the wrong status" },
    Property { name: "edge_refused", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_refused), decides: &[], covers: "control characters, length 65, arrays, coerced types accepted" },
    Property { name: "unknown_campaign", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_unknown_campaigns), decides: &[], covers: "campaign ids matched without case, trimmed or by prefix" },
    Property { name: "edge_media_types", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Cases(edge_media_types), decides: &[], covers: "JSON media types with parameters refused" },
    Property { name: "other_methods", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Methods, decides: &[], covers: "HEAD, OPTIONS, TRACE or unknown methods answered other than 405; an Allow that lists refused methods; a body on HEAD; framing that disagrees" },
    Property { name: "equivalent_requests", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Equivalents, decides: &[], covers: "escapes, whitespace, key order, unknown fields, media-type parameters, the Bearer scheme's case, header-name case or a chunked body changing the answer" },
    Property { name: "hostile_bodies", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::HostileBodies, decides: &[], covers: "deep nesting, huge numbers, invalid UTF-8, a BOM, NUL bytes, near-limit or truncated bodies answered 5xx, not JSON or with the wrong status" },
    Property { name: "refused_spent_nothing", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::Checkpoint, decides: &[], covers: "refused requests that spend quota" },
    Property { name: "cross_campaign", mode: Mode::Sequential, strict_only: false, spend: units(2, 0, Max::Fixed(2)), count: Count::EachOnce, needs: Needs::TwoCampaigns, run: Run::CrossCampaign, decides: &[CheckId::PairPerCampaign, CheckId::QuotaPerWorkspace], covers: "pairs keyed by send_id alone, a quota per campaign, a second campaign's pair not stored" },
    Property { name: "edge_new_pairs", mode: Mode::Sequential, strict_only: false, spend: units(1, 2, Max::Fixed(3)), count: Count::EachOnce, needs: Needs::Nothing, run: Run::EdgeGroups, decides: &[], covers: "length 64, spaces, ~ ! \" \\ / refused or altered; send_ids compared without case; length 1" },
    Property { name: "burst_same_pair", mode: Mode::Concurrent, strict_only: true, spend: units(1, 0, Max::Fixed(1)), count: Count::EachOnce, needs: Needs::Nothing, run: Run::SamePairBurst, decides: &[CheckId::BurstSamePair], covers: "a pair insert that is not atomic" },
    Property { name: "burst_new_pairs", mode: Mode::Concurrent, strict_only: true, spend: units(2, 2, Max::Burst), count: Count::EachOnce, needs: Needs::Nothing, run: Run::NewPairsBurst, decides: &[CheckId::BurstNewPairs, CheckId::BurstIdsDistinct, CheckId::BurstPairsStored], covers: "a check-then-act quota (with two campaigns: across them), one send_id at once in two campaigns stored once, generated ids that collide, acknowledged pairs dropped" },
    Property { name: "new_pair_generated_id", mode: Mode::Sequential, strict_only: false, spend: units(1, 0, Max::Cases), count: Count::Flag, needs: Needs::Nothing, run: Run::Cases(generated), decides: &[], covers: "\"send_id\": null handled otherwise than absent; generated ids that repeat" },
    Property { name: "stateful_sequences", mode: Mode::Stateful, strict_only: true, spend: units(1, 0, Max::TwiceCases), count: Count::Flag, needs: Needs::Nothing, run: Run::Sequences, decides: &[CheckId::ModelAgrees], covers: "pairs forgotten, quota arithmetic off over a sequence" },
    Property { name: "new_pair_given_id", mode: Mode::Sequential, strict_only: false, spend: units(1, 0, Max::Cases), count: Count::Flag, needs: Needs::Nothing, run: Run::Cases(given), decides: &[], covers: "given send_ids of the whole printable alphabet refused or altered" },
    Property { name: "quota_exhaustion", mode: Mode::Concurrent, strict_only: false, spend: Spend::Everything, count: Count::EachOnce, needs: Needs::Exhaust, run: Run::Exhaustion, decides: &[CheckId::BurstNewPairs, CheckId::BurstIdsDistinct, CheckId::BurstPairsStored, CheckId::BurstRepeatsOverQuota, CheckId::QuotaSpentForEveryCampaign], covers: "overspending across the quota's end, 429 without Retry-After, repeats refused over quota" },
    Property { name: "generated_id_quality", mode: Mode::Sequential, strict_only: true, spend: Spend::Nothing, count: Count::EachOnce, needs: Needs::Nothing, run: Run::IdQuality, decides: &[], covers: "generated send_ids from a counter, a clock or too few random bits" },
];

/// The content type of a repeat that follows a new pair: the other spelling, so both are used.
pub fn other_content_type(ct: &'static str) -> &'static str {
    if ct == JSON {
        strategies::JSON_UTF8
    } else {
        JSON
    }
}

/// Why a property does not run with these flags; `None` when it runs.
pub fn unmet(p: &Property, strict: bool, campaigns: usize, exhaust: bool) -> Option<&'static str> {
    if p.strict_only && !strict {
        return Some("strict profile only");
    }
    // No property needs the forbidden key: `auth` runs without it, its 403 cases with it.
    p.needs.unmet(Have {
        campaigns,
        exhaust,
        forbidden_key: true,
    })
}

/// What the pair-creating properties that run with these flags ask of the planner, in the
/// order it serves them.
pub fn wants(
    strict: bool,
    campaigns: usize,
    exhaust: bool,
    cases: u64,
    burst: u64,
) -> Vec<(&'static str, Want)> {
    PROPERTIES
        .iter()
        .filter(|p| unmet(p, strict, campaigns, exhaust).is_none())
        .filter_map(|p| Some((p.name, p.want(cases, burst, exhaust)?)))
        .collect()
}

/// The budgets `--help` and the README speak of.
pub const BUDGETS: [u64; 5] = [1, 3, 5, 10, 20];

/// What each of [`BUDGETS`] buys (strict profile, default `--cases` and `--concurrency`), with
/// one campaign and with two, without `--exhaust-quota`: the pair-creating properties that run.
/// The free properties run at every budget, 0 included.
pub fn what_budgets_buy() -> String {
    let mut out = String::from(
        "What --max-creates buys (new pairs; strict profile, a workspace with quota to spare):\n",
    );
    for b in BUDGETS {
        for campaigns in [1, 2] {
            let plan = crate::budget::plan(&crate::budget::PlanInput {
                budget: b,
                exhaust: false,
                wants: wants(true, campaigns, false, 32, 8),
            });
            let running: Vec<String> = plan
                .units
                .iter()
                .filter(|(_, u)| *u > 0)
                .map(|(p, u)| format!("{p} {u}"))
                .collect();
            out.push_str(&format!(
                "  {b:>2}, {campaigns} campaign{}: probe 1{}{}\n",
                if campaigns == 1 { " " } else { "s" },
                if running.is_empty() { "" } else { ", " },
                running.join(", ")
            ));
        }
    }
    out.push_str(
        "  Every budget runs the free properties (methods, paths, keys, invalid bodies, edges \
         that must be refused). --exhaust-quota keeps 2 units for the burst across the quota's \
         end and spends the rest of the day's quota.",
    );
    out
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
        // The id quality sends nothing: it judges, last, the ids the others got.
        let first_spending = PROPERTIES
            .iter()
            .position(|p| p.spend != Spend::Nothing)
            .expect("some spend");
        assert!(PROPERTIES[first_spending..]
            .iter()
            .all(|p| p.spend != Spend::Nothing || matches!(p.run, Run::IdQuality)));
    }
}
