//! The run: probe, plan the quota, then walk the property table ([`crate::properties`]), each
//! property with a proptest `TestRunner` seeded from `--seed` and its name, every exchange
//! judged by the oracle, every new failing check shrunk ([`crate::shrink`]) and handed to the
//! [`Events`] (the terminal's view lives in `report/`).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::budget::Budget;
use crate::burst;
use crate::cli::{Cli, Profile};
use crate::edges;
use crate::events::Events;
use crate::exit::{Exit, Fatal};
use crate::http::{
    now_epoch_seconds, quote, quote_or, Request, Response, RetryPolicy, Target, TransportError,
};
use crate::model::{self, Model, Op};
use crate::oracle::{self, Ctx, Exchange, Verdict, ANSWERS_EVERY_REQUEST};
use crate::properties::{self, Count, Inputs, Property, Run, Spend, PROPERTIES};
use crate::report::{
    self, BrokenCheck, CheckResult, Failure, QuotaReport, Report, ResponseSummary, ServerError,
};
use crate::shrink::Shrinker;
use crate::spec::Spec;
use crate::strategies::{Case, Invalid, NewPair, RequestContext, SendIdField, JSON};

/// What a run ended with; `report` is absent when it ended before checking (exit 2 or 3).
pub struct Outcome {
    pub exit: Exit,
    pub report: Option<Report>,
}

/// Runs the checker as the binary would, telling the terminal as it goes.
pub async fn run(cli: Cli) -> Outcome {
    let progress = !cli.no_progress && std::io::stderr().is_terminal();
    run_with(cli, Arc::new(report::terminal::Terminal::new(progress))).await
}

/// Runs the checker, telling `events` as it goes.
pub async fn run_with(cli: Cli, events: Arc<dyn Events>) -> Outcome {
    let reports = cli.reports.clone();
    if let Err(fatal) = report::check_writable(&reports) {
        return fail(&*events, fatal);
    }
    match Runner::new(cli, Arc::clone(&events)).await {
        Err(fatal) => fail(&*events, fatal),
        Ok(runner) => match runner.execute().await {
            Err(fatal) => fail(&*events, fatal),
            Ok(report) => {
                if let Err(fatal) = report::write(&reports, &report) {
                    return fail(&*events, fatal);
                }
                // Braze: 5XX is "busy or in maintenance"; answered nothing else, the target is
                // down, not judged. (strict holds every 5XX as a violation.)
                let braze = report.profile == Profile::Braze.name();
                let exit = if braze && report.answered_only_server_errors() {
                    Exit::Unreachable
                } else if report.failed() {
                    Exit::Violation
                } else {
                    Exit::Conformant
                };
                events.line(&format!("result: {exit}"));
                Outcome {
                    exit,
                    report: Some(report),
                }
            }
        },
    }
}

fn fail(events: &dyn Events, fatal: Fatal) -> Outcome {
    events.fatal(&format!("sendid-conformance: {fatal}"));
    Outcome {
        exit: fatal.exit(),
        report: None,
    }
}

/// One request sent, its answer, and what the run knew of the quota before it.
#[derive(Clone)]
struct Step {
    case: Case,
    request: Request,
    result: Result<Response, TransportError>,
    remaining_before: Option<i64>,
}

type Fails = Vec<(&'static str, String)>;
type Judged = Vec<(Step, Fails)>;

/// What a failure of a run-level check shows.
struct Shown {
    case: String,
    request: String,
    request_body: Option<String>,
    response: Option<Response>,
    curl: String,
}

struct Runner {
    cli: Cli,
    target: Target,
    spec: Spec,
    seed: u64,
    /// Unique to this run: send_ids carrying it are new.
    tag: String,
    rctx: RequestContext,
    budget: Budget,
    /// Units planned per property.
    alloc: HashMap<&'static str, u64>,
    /// (passed, failed) per check.
    tallies: BTreeMap<&'static str, (u64, u64)>,
    /// Answers received, by status.
    statuses: BTreeMap<String, u64>,
    remaining: Option<i64>,
    generated: HashSet<String>,
    shrunk: HashSet<&'static str>,
    failures: Vec<Failure>,
    notes: Vec<String>,
    /// `--profile braze`: tolerances used, and how often.
    tolerances: BTreeMap<String, u64>,
    /// `--profile braze`: cases still busy after every retry.
    server_errors: Vec<ServerError>,
    requests: u64,
    cases: u64,
    planned_new: u64,
    executions: u32,
    events: Arc<dyn Events>,
    started: Instant,
    started_at: i64,
}

impl Runner {
    async fn new(cli: Cli, events: Arc<dyn Events>) -> Result<Self, Fatal> {
        let mut target = Target::new(
            cli.base_url.clone(),
            cli.timeout(),
            cli.api_key.clone(),
            cli.forbidden_api_key.clone(),
        )
        .trusting(cli.ca_cert.as_ref());
        if cli.profile == Profile::Braze {
            // Braze: 5XX means busy or in maintenance, retry with exponential backoff.
            target = target.with_retries(RetryPolicy {
                retries: cli.retries,
                backoff: cli.retry_backoff(),
                max_wait: std::time::Duration::from_secs(60),
            });
        }
        if cli.api_key.trim().is_empty() {
            return Err(Fatal::Usage(
                "--api-key (or SENDID_API_KEY) is empty".into(),
            ));
        }
        let spec = match &cli.spec {
            None => Spec::embedded()?,
            Some(source) => Spec::load(source, &target.client).await?,
        };
        let seed = cli.seed.unwrap_or_else(random_seed);
        Ok(Self {
            rctx: RequestContext::new(cli.campaign_ids.clone()),
            budget: Budget::new(cli.max_creates, cli.exhaust_quota),
            alloc: HashMap::new(),
            tallies: BTreeMap::new(),
            statuses: BTreeMap::new(),
            remaining: None,
            generated: HashSet::new(),
            shrunk: HashSet::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            tolerances: BTreeMap::new(),
            server_errors: Vec::new(),
            requests: 0,
            cases: 0,
            planned_new: 0,
            executions: 0,
            tag: edges::run_tag(),
            events,
            started: Instant::now(),
            started_at: now_epoch_seconds(),
            target,
            spec,
            seed,
            cli,
        })
    }

    fn strict(&self) -> bool {
        self.cli.profile == Profile::Strict
    }

    fn campaigns(&self) -> usize {
        self.cli.campaign_ids.len()
    }

    /// Requests of one burst: `--concurrency`, at least 8.
    fn burst_size(&self) -> usize {
        (self.cli.concurrency as usize).max(8)
    }

    fn runs(&self, p: &Property) -> Result<(), String> {
        if p.strict_only && !self.strict() {
            return Err("strict profile only".into());
        }
        if let Some(why) = p.needs.unmet(self.campaigns(), self.cli.exhaust_quota) {
            return Err(why.into());
        }
        Ok(())
    }

    async fn execute(mut self) -> Result<Report, Fatal> {
        self.events.line(&format!(
            "sendid-conformance {}: {} — profile {}, spec {}, {} cases per property, {} {}",
            env!("CARGO_PKG_VERSION"),
            self.target.base,
            self.cli.profile.name(),
            self.spec.source,
            self.cli.cases,
            self.campaigns(),
            if self.campaigns() == 1 {
                "campaign"
            } else {
                "campaigns"
            }
        ));
        self.events.line(&format!(
            "seed {} (replay with --seed {})",
            self.seed, self.seed
        ));

        self.probe().await?;
        self.plan();
        for p in PROPERTIES {
            if let Err(why) = self.runs(p) {
                if !p.strict_only || self.strict() {
                    self.events.property_skipped(p.name, &why);
                }
                continue;
            }
            match p.run {
                Run::Cases(arms) => {
                    let arms = arms(&self.inputs());
                    if p.spend == Spend::Nothing {
                        self.free_property(p, arms).await;
                    } else {
                        self.creating_property(p, arms).await;
                    }
                }
                Run::Checkpoint => self.checkpoint().await,
                Run::CrossCampaign => self.cross_campaign(p.name).await,
                Run::SamePairBurst => self.same_pair_burst(p.name).await,
                Run::NewPairsBurst => self.new_pairs_burst(p.name).await,
                Run::Sequences => self.sequences(p.name).await,
                Run::Exhaustion => self.exhaust(p.name).await,
            }
        }
        let report = self.report();
        self.events.finished(&report);
        Ok(report)
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            strict: self.strict(),
            forbidden: self.cli.forbidden_api_key.is_some(),
            min: self.spec.send_id_min,
            max: self.spec.send_id_max,
            rctx: &self.rctx,
            tag: &self.tag,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Probe and plan.

    /// The first requests: one that can never create a pair (reaches the target and reads
    /// `X-RateLimit-Remaining` where the server sends it), then, within the budget, the run's
    /// first new pair, whose send_id the refused-class requests reuse.
    async fn probe(&mut self) -> Result<(), Fatal> {
        let harmless = Case::Invalid(Invalid::MissingCampaignId);
        let step = self.probe_step(harmless).await?;
        if let Ok(resp) = &step.result {
            if resp.status >= 500 && !self.strict() {
                return Err(Fatal::ServerErrors {
                    url: self.target.url(&step.request.path),
                    status: resp.status,
                    attempts: resp.retried.len() as u32 + 1,
                });
            }
        }
        if let Ok(resp) = &step.result {
            if let Some(r) = resp.remaining() {
                self.remaining = Some(r);
                self.budget.fix(Some(r), false);
            }
        }
        if !self.budget.may_probe() || self.budget.left() == 0 || self.remaining == Some(0) {
            // No first pair: without one, the refused-class bodies carry no campaign.
            if self.budget.remaining_at_start.is_none() {
                self.budget.fix(None, false);
            }
            return Ok(());
        }
        self.budget.try_reserve();
        let step = self.probe_step(Case::New(NewPair::default())).await?;
        let Ok(resp) = &step.result else {
            return Ok(());
        };
        if let Some(r) = resp.remaining() {
            self.remaining = Some(r);
            if self.budget.remaining_at_start.is_none() {
                self.budget.fix(Some(r), self.succeeded(resp));
            }
        } else if self.budget.remaining_at_start.is_none() {
            self.budget.fix(None, false);
            self.note(
                "the answers carry no X-RateLimit-Remaining: the budget is --max-creates alone"
                    .into(),
            );
        }
        match (self.succeeded(resp), resp.status, resp.send_id()) {
            (true, _, Some(id)) => {
                let id = id.to_string();
                self.rctx.set_existing(0, &id);
            }
            (_, status, _) if !self.cli.exhaust_quota => {
                self.budget.close();
                self.note(format!(
                    "the first new pair was answered {status} (check --api-key and \
                     --campaign-id): no further new pairs are sent"
                ));
            }
            (_, status, _) => self.note(format!("the first new pair was answered {status}")),
        }
        Ok(())
    }

    async fn probe_step(&mut self, case: Case) -> Result<Step, Fatal> {
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        if let Err(e) = &result {
            return Err(Fatal::Unreachable {
                url: self.target.url(&request.path),
                reason: e.reason.clone(),
            });
        }
        let step = Step {
            case,
            request,
            result,
            remaining_before: self.remaining,
        };
        let fails = self.judge_step(&step, true);
        self.observe(&step);
        self.cases += 1;
        self.report_new_failures("probe", &step, fails, 0);
        Ok(step)
    }

    /// Splits the budget between the properties that create pairs, most telling first, and
    /// says so.
    fn plan(&mut self) {
        let cases = u64::from(self.cli.cases);
        let probe = self.budget.reserved;
        let burst = self.burst_size() as u64;
        let exhaust = self.cli.exhaust_quota;
        // What may be spent: the budget, or with --exhaust-quota what is left but the half
        // burst kept for the burst across the quota's end.
        let mut left = if exhaust {
            match self.remaining {
                Some(r) => (r.max(0) as u64).saturating_sub(burst / 2),
                None => 3 * cases + 20,
            }
        } else {
            self.budget.left()
        };
        let runnable: Vec<&'static Property> =
            PROPERTIES.iter().filter(|p| self.runs(p).is_ok()).collect();
        let mut parts = vec![format!("probe {probe}")];
        let mut cut = Vec::new();
        // Fixed wants first, in table order.
        for p in &runnable {
            let want = match (p.spend, p.run) {
                (Spend::OnePerCase, Run::Cases(arms)) if p.count == Count::EachOnce => {
                    arms(&self.inputs()).len() as u64
                }
                (Spend::Units(n), _) => n,
                // Across the quota's end, with --exhaust-quota, instead.
                (Spend::BurstSize, _) if !exhaust => burst,
                _ => continue,
            };
            // With --exhaust-quota the coverage runs in full: past the quota's end its new
            // pairs must get 429.
            let got = if exhaust { want } else { want.min(left) };
            left = left.saturating_sub(got);
            self.alloc.insert(p.name, got);
            parts.push(format!("{} {got}", p.name));
            if got < want {
                cut.push(format!("{} {got} of {want}", p.name));
            }
        }
        // Then the shares: sequences a third, the random new pairs the rest, half each.
        let shares: Vec<&'static Property> = runnable
            .iter()
            .copied()
            .filter(|p| p.spend == Spend::Share)
            .collect();
        let sequences = shares.iter().any(|p| matches!(p.run, Run::Sequences));
        let randoms = shares.len() - usize::from(sequences);
        for p in shares {
            let got = if matches!(p.run, Run::Sequences) {
                left.div_ceil(3).min(2 * cases)
            } else {
                let each = left.div_ceil(randoms.max(1) as u64);
                each.min(cases)
            };
            let got = got.min(left);
            left -= got;
            self.alloc.insert(p.name, got);
            parts.push(format!("{} {got}", p.name));
        }
        let total: u64 = self.alloc.values().sum();
        self.planned_new = probe + total;
        let budget = match self.budget.allowed() {
            Some(b) => format!(
                "budget min(--max-creates {}, Remaining {}) = {b}",
                self.cli.max_creates,
                self.budget
                    .remaining_at_start
                    .map_or("unknown".into(), |r| r.to_string())
            ),
            None => "budget unlimited (--exhaust-quota): then the quota's end".into(),
        };
        self.events.line(&format!(
            "quota plan: {} = {}; {budget}",
            report::plural(self.planned_new, "new pair", "new pairs"),
            parts.join(" + ")
        ));
        if !cut.is_empty() {
            self.note(format!(
                "the quota budget cuts {} (raise --max-creates to cover them)",
                cut.join(", ")
            ));
        }
    }

    fn test_runner(&self, property: &str) -> TestRunner {
        TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &property_seed(self.seed, property)),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Sequential properties.

    fn case_count(&self, p: &Property, arms: usize) -> u32 {
        let cases = self.cli.cases;
        match p.count {
            Count::Cli => cases.max(arms as u32),
            Count::Small => cases.min(16).max(arms as u32),
            Count::EachOnce => arms as u32,
        }
    }

    /// A property whose cases spend no quota: sent `--concurrency` at a time. The first cases
    /// take one arm (class) each, so every class is covered even with few cases; the rest draw
    /// from all arms.
    async fn free_property(&mut self, p: &Property, arms: Vec<BoxedStrategy<Case>>) {
        let name = p.name;
        if arms.is_empty() {
            self.events
                .property_skipped(name, "no case: the run has no existing pair to use");
            return;
        }
        let cases = self.case_count(p, arms.len());
        self.events.property_started(name, u64::from(cases));
        let mut runner = self.test_runner(name);
        let any = proptest::strategy::Union::new(arms.clone()).boxed();
        let mut trees = Vec::new();
        for i in 0..cases as usize {
            let strategy = arms.get(i).unwrap_or(&any);
            match strategy.new_tree(&mut runner) {
                Ok(t) => trees.push(t),
                Err(e) => self.note(format!("{name}: cannot generate a case: {e}")),
            }
        }
        let planned: Vec<(Case, Request)> = trees
            .iter()
            .map(|t| {
                let c = t.current();
                let r = c.request(&self.rctx);
                (c, r)
            })
            .collect();
        let baseline = self.remaining;
        let concurrency = self.cli.concurrency as usize;
        let mut failing = 0;
        let mut held_back = 0;
        let mut trees = trees.into_iter().map(Some).collect::<Vec<_>>();
        let mut planned = planned.into_iter().map(Some).collect::<Vec<_>>();
        for chunk_start in (0..planned.len()).step_by(concurrency) {
            let chunk_end = (chunk_start + concurrency).min(planned.len());
            // A server that wrongly accepts a refused-class request may spend quota: never
            // more such requests in flight than the budget has left.
            let mut allowance = self.budget.left();
            let mut chosen = Vec::new();
            for (i, item) in planned.iter().enumerate().take(chunk_end).skip(chunk_start) {
                let risky = item
                    .as_ref()
                    .is_some_and(|(c, _)| c.could_spend_if_accepted());
                if risky {
                    if allowance == 0 {
                        held_back += 1;
                        continue;
                    }
                    allowance -= 1;
                }
                chosen.push(i);
            }
            let target = self.target.clone();
            let events = Arc::clone(&self.events);
            let requests: Vec<Request> = chosen
                .iter()
                .filter_map(|&i| planned[i].as_ref().map(|(_, r)| r.clone()))
                .collect();
            let results: Vec<Result<Response, TransportError>> =
                futures_util::stream::iter(requests.iter().map(|r| {
                    let target = &target;
                    let events = &events;
                    async move {
                        let res = target.send(r).await;
                        events.case_done();
                        res
                    }
                }))
                .buffered(concurrency)
                .collect()
                .await;
            self.requests += results.len() as u64;
            for r in &results {
                self.count_status(r);
            }
            for (&i, result) in chosen.iter().zip(results) {
                let (Some((case, request)), Some(mut tree)) = (planned[i].take(), trees[i].take())
                else {
                    continue;
                };
                let step = Step {
                    case,
                    request,
                    result,
                    remaining_before: baseline,
                };
                let fails = self.judge_step(&step, true);
                self.observe(&step);
                self.cases += 1;
                failing += u64::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        if held_back > 0 {
            self.note(format!(
                "{name}: {} held back: a server that wrongly accepted them could spend quota, \
                 and the budget has none left",
                report::plural(held_back, "case", "cases")
            ));
        }
        self.events
            .property_done(name, u64::from(cases) - held_back, failing);
    }

    /// A property whose cases create pairs: one at a time, each within the budget and the
    /// property's plan, each followed by a repeat of the pair it created. Coverage properties
    /// take their cases in order; the others draw from all arms.
    async fn creating_property(&mut self, p: &Property, arms: Vec<BoxedStrategy<Case>>) {
        let name = p.name;
        let planned = self.alloc.get(name).copied().unwrap_or(0);
        let total = self.case_count(p, arms.len());
        let cases = (planned.min(u64::from(total))) as u32;
        if cases == 0 {
            self.events.property_skipped(name, "no quota budget left");
            return;
        }
        self.events.property_started(name, u64::from(cases));
        let mut runner = self.test_runner(name);
        let any = proptest::strategy::Union::new(arms.clone()).boxed();
        let mut failing = 0;
        let strategies: Vec<&BoxedStrategy<Case>> = if p.count == Count::EachOnce {
            arms.iter().take(cases as usize).collect()
        } else {
            vec![&any; cases as usize]
        };
        for strategy in strategies {
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            if !self.budget.try_reserve() {
                self.note(format!(
                    "{name}: stopped early, the quota budget is used up"
                ));
                break;
            }
            let judged = self.run_case(&tree.current(), true).await;
            self.cases += 1;
            self.events.case_done();
            for (step, fails) in judged {
                failing += u64::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        self.events.property_done(name, u64::from(cases), failing);
    }

    /// After the refused requests: the quota must be where it was (catches servers that spend
    /// on refused requests without saying so in their headers).
    async fn checkpoint(&mut self) {
        let (Some(existing), Some(baseline)) = (
            self.rctx.existing_send_id().map(str::to_string),
            self.remaining,
        ) else {
            return;
        };
        let case = repeat(0, &existing);
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        let Ok(resp) = &result else {
            return;
        };
        let Some(now) = resp.remaining() else {
            return;
        };
        let check = "invalid_request_spends_nothing";
        if now != baseline {
            let step = Step {
                case,
                request,
                result: result.clone(),
                remaining_before: Some(baseline),
            };
            self.tally(check, false);
            let reason = format!(
                "over the refused requests of this run, X-RateLimit-Remaining went from \
                 {baseline} to {now} (shown: the repeat that read it)"
            );
            if self.shrunk.insert(check) {
                self.record_failure(check, "refused_spent_nothing", &step, reason, 0, Vec::new());
            }
        }
        self.remaining = Some(now);
    }

    /// Reads `X-RateLimit-Remaining` with requests that cannot create: a body without a
    /// campaign, and when its answer says nothing, a repeat of the existing pair of `campaign`.
    async fn read_remaining(&mut self, campaign: usize) -> (Option<i64>, Option<Step>) {
        let mut cases = Vec::new();
        if campaign == 0 {
            cases.push(Case::Invalid(Invalid::MissingCampaignId));
        }
        if let Some(e) = self.rctx.existing_in(campaign) {
            cases.push(repeat(campaign, e));
        }
        for case in cases {
            let (step, fails) = self.send_judged(case, None, true).await;
            self.report_new_failures("read_remaining", &step, fails, 0);
            if let Some(r) = step.result.as_ref().ok().and_then(|r| r.remaining()) {
                self.remaining = Some(r);
                return (Some(r), Some(step));
            }
        }
        (None, None)
    }

    // -----------------------------------------------------------------------------------------
    // Several campaigns.

    /// With two campaigns A and B: a fresh pair in B, then the send_id of A's existing pair
    /// under B (a new pair: one unit), then `Remaining` read through both.
    async fn cross_campaign(&mut self, name: &'static str) {
        let Some(e) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events
                .property_skipped(name, "no existing pair in the first campaign");
            return;
        };
        if self.alloc.get(name).copied().unwrap_or(0) < 2 || self.budget.left() < 2 {
            self.events.property_skipped(name, "no quota budget left");
            return;
        }
        self.events.property_started(name, 4);
        let (a_start, _) = self.read_remaining(0).await;
        // A fresh pair in B.
        self.budget.try_reserve();
        let fresh = format!("cross-{}", self.tag);
        let judged = self.run_case(&new_given(1, &fresh, true), true).await;
        let mut failing = 0;
        let mut b_ok = false;
        for (step, fails) in judged {
            failing += u64::from(!fails.is_empty());
            if let (Case::New(_), Ok(r)) = (&step.case, &step.result) {
                b_ok = self.succeeded(r);
            }
            self.report_new_failures(name, &step, fails, 0);
        }
        if !b_ok {
            self.note(format!(
                "{name}: a new pair in the second campaign was refused (is it a campaign of the \
                 same workspace?)"
            ));
            self.events.property_done(name, 1, 1);
            return;
        }
        self.rctx.set_existing(1, &fresh);
        let (b_before, _) = self.read_remaining(1).await;
        // A's send_id under B.
        self.budget.try_reserve();
        let (step, fails) = self.send_judged(new_given(1, &e, false), None, true).await;
        failing += u64::from(!fails.is_empty());
        self.report_new_failures(name, &step, fails, 0);
        let verdict = match &step.result {
            Err(e) => Err(format!("no answer: {}", e.reason)),
            Ok(r) if !self.succeeded(r) => Err(format!(
                "the send_id {} of a pair of campaign #1, sent under campaign #2, answered \
                 {}, not 200",
                quote(&e),
                r.status
            )),
            Ok(r) if r.send_id() != Some(e.as_str()) => Err(format!(
                "the send_id {} of a pair of campaign #1, sent under campaign #2, answered \
                 send_id {}",
                quote(&e),
                quote_or(r.send_id(), "none")
            )),
            Ok(r) => match (b_before, r.remaining()) {
                (Some(before), Some(after)) if before - after != 1 => Err(format!(
                    "the send_id {} of a pair of campaign #1, sent under campaign #2, moved \
                     X-RateLimit-Remaining from {before} to {after}: it was taken for the pair \
                     of campaign #1 (pairs keyed by send_id alone, or per workspace)",
                    quote(&e)
                )),
                _ => Ok(()),
            },
        };
        self.run_check_step(oracle::PAIR_PER_CAMPAIGN, name, verdict, &step);
        // The quota, read through each campaign at once, must agree.
        let (a_now, a_step) = self.read_remaining(0).await;
        let (b_now, _) = self.read_remaining(1).await;
        let verdict = match (a_start, a_now, b_now) {
            (Some(start), Some(a), Some(b)) => {
                if a != b {
                    Err(format!(
                        "X-RateLimit-Remaining reads {a} through campaign #1 and {b} through \
                         campaign #2 at the same moment: the quota is not one per workspace"
                    ))
                } else if start - a != 2 {
                    Err(format!(
                        "two new pairs in campaign #2 moved campaign #1's X-RateLimit-Remaining \
                         from {start} to {a} (expected {}): the quota is not one per workspace",
                        start - 2
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        if let Some(a_step) = a_step {
            self.run_check_step(oracle::QUOTA_PER_WORKSPACE, name, verdict, &a_step);
        }
        self.events.property_done(name, 4, failing);
    }

    // -----------------------------------------------------------------------------------------
    // Concurrent properties.

    /// Sends `requests` at once over connections of their own; counts every answer; judges each
    /// exchange on its own (shapes, echo, Retry-After: no arithmetic, the order is unknown).
    async fn burst(&mut self, requests: Vec<Request>, cases: &[Case]) -> Vec<burst::Answer> {
        let warmup = Case::Invalid(Invalid::MissingCampaignId).request(&self.rctx);
        let (warm, answers) = burst::at_once(&self.target, &warmup, requests.clone()).await;
        self.requests += (warm.len() + answers.len()) as u64;
        for a in warm.iter().chain(answers.iter()) {
            self.count_status(a);
        }
        for ((request, case), result) in requests.into_iter().zip(cases).zip(answers.iter()) {
            let step = Step {
                case: case.clone(),
                request,
                result: result.clone(),
                remaining_before: None,
            };
            let fails = self.judge_step(&step, true);
            self.observe_ids(&step);
            self.cases += 1;
            self.events.case_done();
            self.report_new_failures("burst", &step, fails, 0);
        }
        answers
    }

    fn burst_failure(
        &mut self,
        check: &'static str,
        property: &'static str,
        verdict: Result<(), String>,
        requests: &[Request],
        answers: &[burst::Answer],
    ) {
        if !oracle::run_checks_for(self.cli.profile).any(|c| c.name == check) {
            // Not a check of this profile (a burst that only spends the quota under braze).
            return;
        }
        let reason = match verdict {
            Ok(()) => {
                self.tally(check, true);
                return;
            }
            Err(r) => r,
        };
        self.tally(check, false);
        if !self.shrunk.insert(check) {
            return;
        }
        let curls: Vec<String> = requests.iter().map(|r| r.curl(&self.target)).collect();
        let statuses: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok(r) => match r.send_id() {
                    Some(id) => format!("{} {}", r.status, quote(id)),
                    None => r.status.to_string(),
                },
                Err(_) => "no answer".into(),
            })
            .collect();
        let first = &requests[0];
        let shown = Shown {
            case: format!(
                "{} requests at once, each over its own connection; answers: {}",
                requests.len(),
                statuses.join(", ")
            ),
            request: first.describe(&self.target),
            request_body: first
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            response: answers.iter().find_map(|a| a.as_ref().ok()).cloned(),
            curl: burst::replay(&curls, requests.len()),
        };
        self.record_shown(check, property, reason, shown, 0, Vec::new());
    }

    /// One new pair, K times at once: created once, one unit.
    async fn same_pair_burst(&mut self, name: &'static str) {
        if self.alloc.get(name).copied().unwrap_or(0) == 0 || !self.budget.try_reserve() {
            self.events.property_skipped(name, "no quota budget left");
            return;
        }
        let k = self.burst_size();
        self.events.property_started(name, k as u64);
        let (before, _) = self.read_remaining(0).await;
        if before == Some(0) {
            self.events.property_skipped(name, "the quota is used up");
            return;
        }
        let id = format!("burst-{}", self.tag);
        let case = new_given(0, &id, true);
        let request = case.request(&self.rctx);
        let requests = vec![request; k];
        let cases = vec![case; k];
        let answers = self.burst(requests.clone(), &cases).await;
        let (after, _) = self.read_remaining(0).await;
        let counts = burst::count(&answers);
        let verdict = burst::same_pair(k, &id, before, after, &counts);
        if let (Some(b), Some(a)) = (before, after) {
            // A server that spent more than one unit spent it from the budget too.
            for _ in 1..(b - a).max(1) {
                self.budget.record_surprise();
            }
        }
        let failing = u64::from(verdict.is_err());
        self.burst_failure(oracle::BURST_SAME_PAIR, name, verdict, &requests, &answers);
        self.events.property_done(name, k as u64, failing);
    }

    /// N new pairs (generated send_ids) at once, within the budget: all created, N units, ids
    /// distinct.
    async fn new_pairs_burst(&mut self, name: &'static str) {
        let n = self
            .alloc
            .get(name)
            .copied()
            .unwrap_or(0)
            .min(self.budget.left()) as usize;
        if self.cli.exhaust_quota {
            self.events.property_skipped(
                name,
                "with --exhaust-quota the burst goes across the quota's end instead",
            );
            return;
        }
        if n < 2 {
            self.events
                .property_skipped(name, "the quota budget leaves fewer than 2 new pairs");
            return;
        }
        let (before, _) = self.read_remaining(0).await;
        let n = before.map_or(n, |r| n.min(r.max(0) as usize));
        if n < 2 {
            self.events
                .property_skipped(name, "fewer than 2 new pairs are left today");
            return;
        }
        for _ in 0..n {
            self.budget.try_reserve();
        }
        self.events.property_started(name, n as u64);
        let failing = self.burst_of_new_pairs(name, n, before).await;
        self.events.property_done(name, n as u64, failing);
    }

    /// Sends `n` new generated pairs at once with `before` left and judges the counts; returns
    /// how many of its checks failed.
    async fn burst_of_new_pairs(
        &mut self,
        name: &'static str,
        n: usize,
        before: Option<i64>,
    ) -> u64 {
        let case = Case::New(NewPair::default());
        let request = case.request(&self.rctx);
        let requests = vec![request; n];
        let answers = self.burst(requests.clone(), &vec![case; n]).await;
        let (after, _) = self.read_remaining(0).await;
        let counts = burst::count(&answers);
        let verdict = burst::new_pairs(n, before, after, &counts);
        let distinct = burst::distinct_ids(&counts);
        let failing = u64::from(verdict.is_err() || distinct.is_err());
        self.burst_failure(oracle::BURST_NEW_PAIRS, name, verdict, &requests, &answers);
        self.burst_failure(
            oracle::BURST_IDS_DISTINCT,
            name,
            distinct,
            &requests,
            &answers,
        );
        failing
    }

    // -----------------------------------------------------------------------------------------
    // Stateful sequences.

    /// Random operation sequences against the model, within the plan; the first failing one is
    /// shrunk to the shortest sequence that still fails and shown as numbered curl lines.
    async fn sequences(&mut self, name: &'static str) {
        let mut units = self.alloc.get(name).copied().unwrap_or(0);
        let Some(existing) = self.rctx.existing_send_id().map(str::to_string) else {
            self.events
                .property_skipped(name, "no existing pair to start from");
            return;
        };
        if units == 0 {
            self.events.property_skipped(name, "no quota budget left");
            return;
        }
        let strategy = model::ops(self.campaigns() >= 2 && self.rctx.existing_in(1).is_some());
        let mut runner = self.test_runner(name);
        let max = u64::from(self.cli.cases);
        self.events.property_started(name, max);
        let (mut ran, mut failing) = (0u64, 0u64);
        while ran < max {
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                break;
            };
            let mut ops = tree.current();
            // The budget decides how much of a sequence is sent.
            while model::cost(&ops) > units.min(self.budget.left()) && !ops.is_empty() {
                ops.pop();
            }
            if ops.is_empty() {
                break;
            }
            units -= model::cost(&ops);
            ran += 1;
            self.events.case_done();
            let outcome = self.run_sequence(&ops, &existing).await;
            let Err(first) = outcome else {
                self.tally(oracle::MODEL_AGREES, true);
                continue;
            };
            self.tally(oracle::MODEL_AGREES, false);
            failing += 1;
            if !self.shrunk.insert(oracle::MODEL_AGREES) {
                continue;
            }
            let mut best = first;
            let mut shrinker = Shrinker::new(&mut *tree, self.cli.max_shrinks);
            while let Some(candidate) = shrinker.candidate() {
                let cost = model::cost(&candidate);
                if cost > self.budget.left() {
                    self.note(format!(
                        "shrinking {} stopped: the quota budget is used up",
                        oracle::MODEL_AGREES
                    ));
                    break;
                }
                match self.run_sequence(&candidate, &existing).await {
                    Err(f) => {
                        best = f;
                        shrinker.still_fails(true);
                    }
                    Ok(()) => shrinker.still_fails(false),
                }
            }
            let steps = shrinker.steps();
            self.record_shown(
                oracle::MODEL_AGREES,
                name,
                best.reason.clone(),
                best.into_shown(),
                steps,
                Vec::new(),
            );
        }
        self.events.property_done(name, ran, failing);
    }

    /// Runs one sequence on send_ids of its own; `Err` at the first answer the model did not
    /// predict.
    async fn run_sequence(&mut self, ops: &[Op], existing: &str) -> Result<(), SequenceFailure> {
        self.executions += 1;
        let prefix = format!("seq-{}-{}", self.tag, self.executions);
        for op in ops {
            if model::cost(std::slice::from_ref(op)) > 0 {
                self.budget.try_reserve();
            }
        }
        let (start, read) = self.read_remaining(0).await;
        let mut lines = Vec::new();
        if let Some(read) = &read {
            lines.push(format!(
                "{}  # X-RateLimit-Remaining {} at the start",
                read.request.curl(&self.target),
                start.map_or("?".into(), |r| r.to_string())
            ));
        }
        let burst = self.burst_size().min(8);
        let mut model = Model::new(
            (0, existing.to_string()),
            start,
            prefix,
            burst,
            self.campaigns(),
        );
        for op in ops {
            let planned = model.plan(op);
            let request = planned.case.request(&self.rctx);
            let curl = request.curl(&self.target);
            let expect = format!(
                "expect {}{}",
                planned.expect.status,
                planned
                    .expect
                    .remaining
                    .map(|r| format!(", Remaining {r}"))
                    .unwrap_or_default()
            );
            let (answers, shown_curl) = if planned.copies > 1 {
                let requests = vec![request.clone(); planned.copies];
                let cases = vec![planned.case.clone(); planned.copies];
                let answers = self.burst(requests, &cases).await;
                (answers, burst::replay(&[curl], planned.copies))
            } else {
                let result = self.send(&request).await;
                (vec![result], curl)
            };
            lines.push(format!("{shown_curl}  # {expect}"));
            let statuses: Vec<u16> = answers
                .iter()
                .map(|a| a.as_ref().map_or(0, |r| r.status))
                .collect();
            let ids: Vec<Option<&str>> = answers
                .iter()
                .map(|a| a.as_ref().ok().and_then(|r| r.send_id()))
                .collect();
            // A burst's answers come in any order: Remaining is read after it instead.
            let remaining = if planned.copies == 1 {
                answers[0].as_ref().ok().and_then(|r| r.remaining())
            } else {
                None
            };
            let verdict = model::compare(&planned.expect, &statuses, remaining, &ids);
            let generated = ids.first().copied().flatten().map(str::to_string);
            if let Err(reason) = verdict {
                return Err(SequenceFailure {
                    reason: format!("step {} ({op}): {reason}", lines.len() - 1),
                    ops: ops.to_vec(),
                    lines,
                    request,
                    response: answers.into_iter().find_map(|a| a.ok()),
                });
            }
            model.apply(&planned, generated.as_deref());
            if planned.copies > 1 {
                let (campaign, id) = model.first_pair();
                let check = repeat(campaign, &id);
                let request = check.request(&self.rctx);
                let result = self.send(&request).await;
                let want = model.remaining();
                lines.push(format!(
                    "{}  # expect 200{}",
                    request.curl(&self.target),
                    want.map(|r| format!(", Remaining {r}")).unwrap_or_default()
                ));
                let got = result.as_ref().ok().and_then(|r| r.remaining());
                let status = result.as_ref().map_or(0, |r| r.status);
                let expect = model::Expect {
                    status: 200,
                    remaining: want,
                    send_id: Some(id),
                };
                if let Err(reason) = model::compare(&expect, &[status], got, &[]) {
                    return Err(SequenceFailure {
                        reason: format!(
                            "step {} (the read after the burst of step {}): {reason}",
                            lines.len() - 1,
                            lines.len() - 2
                        ),
                        ops: ops.to_vec(),
                        lines,
                        request,
                        response: result.ok(),
                    });
                }
            }
        }
        if let Some(r) = model.remaining() {
            self.remaining = Some(r);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The quota's end.

    /// `--exhaust-quota`: new pairs one at a time down to half a burst left, a burst of new
    /// pairs across the end, one more new pair (429), repeats at once over quota (all 200), a
    /// new pair in another campaign (429), and an existing pair (200).
    async fn exhaust(&mut self, name: &'static str) {
        let k = self.burst_size();
        let (mut left, _) = self.read_remaining(0).await;
        let cap = left.map(|r| r.max(0) as u64).unwrap_or(1_000).min(100_000);
        self.events.property_started(name, cap + k as u64);
        let mut failing = 0;
        let mut sent = 0;
        while left.is_none_or(|r| r > (k / 2) as i64) && sent < cap {
            let before = self.remaining;
            self.budget.try_reserve();
            let judged = self.run_case(&Case::New(NewPair::default()), true).await;
            self.cases += 1;
            sent += 1;
            self.events.case_done();
            let status = judged
                .first()
                .and_then(|(s, _)| s.result.as_ref().ok())
                .map(|r| r.status);
            for (step, fails) in judged {
                failing += u64::from(!fails.is_empty());
                self.report_new_failures(name, &step, fails, 0);
            }
            left = self.remaining;
            if !status.is_some_and(|s| s == 200 || (!self.strict() && (200..300).contains(&s)))
                || before == Some(0)
            {
                break;
            }
        }
        // Across the end: N > R at once.
        let (before, _) = self.read_remaining(0).await;
        for _ in 0..k {
            self.budget.try_reserve();
        }
        failing += self.burst_of_new_pairs(name, k, before).await;
        // One more: 429.
        self.budget.try_reserve();
        let (now, _) = self.read_remaining(0).await;
        self.remaining = now;
        for (step, fails) in self.run_case(&Case::New(NewPair::default()), true).await {
            failing += u64::from(!fails.is_empty());
            self.report_new_failures(name, &step, fails, 0);
        }
        if let Some(existing) = self.rctx.existing_send_id().map(str::to_string) {
            // Repeats at once over quota.
            let case = repeat(0, &existing);
            let request = case.request(&self.rctx);
            let requests = vec![request; k];
            let answers = self.burst(requests.clone(), &vec![case; k]).await;
            let verdict = burst::repeats(k, &existing, &burst::count(&answers));
            failing += u64::from(verdict.is_err());
            self.burst_failure(
                oracle::BURST_REPEATS_OVER_QUOTA,
                name,
                verdict,
                &requests,
                &answers,
            );
        }
        if self.campaigns() >= 2 {
            // The quota used up through campaign #1 is used up for campaign #2.
            self.budget.try_reserve();
            let (now, _) = self.read_remaining(0).await;
            let case = Case::New(NewPair {
                campaign: 1,
                ..NewPair::default()
            });
            let (step, fails) = self.send_judged(case, now, true).await;
            self.observe(&step);
            self.report_new_failures(name, &step, fails, 0);
            let verdict = match (&step.result, now) {
                (Ok(r), Some(0)) if r.status != 429 => Err(format!(
                    "with the quota used up (Remaining 0 through campaign #1), a new pair in \
                     campaign #2 answered {}, not 429",
                    r.status
                )),
                _ => Ok(()),
            };
            failing += u64::from(verdict.is_err());
            if now == Some(0) {
                self.run_check_step(oracle::QUOTA_SPENT_FOR_EVERY_CAMPAIGN, name, verdict, &step);
            }
        }
        // An existing pair, one at a time: 200.
        if let Some(existing) = self.rctx.existing_send_id().map(str::to_string) {
            let (now, _) = self.read_remaining(0).await;
            self.remaining = now;
            for (step, fails) in self.run_case(&repeat(0, &existing), true).await {
                self.report_new_failures(name, &step, fails, 0);
            }
        }
        self.events.property_done(name, sent + k as u64, failing);
    }

    // -----------------------------------------------------------------------------------------
    // Sending, judging, shrinking.

    async fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.requests += 1;
        let result = self.target.send(request).await;
        self.count_status(&result);
        result
    }

    fn count_status(&mut self, result: &Result<Response, TransportError>) {
        let key = match result {
            Ok(r) => r.status.to_string(),
            Err(_) => "no answer".to_string(),
        };
        *self.statuses.entry(key).or_default() += 1;
        let Ok(resp) = result else {
            return;
        };
        // Busy answers that were retried are answers too, and tolerances of `braze`.
        for retry in &resp.retried {
            self.requests += 1;
            *self.statuses.entry(retry.status.to_string()).or_default() += 1;
            self.tolerate(format!("{} retried", retry.kind.describe()));
            if retry.retry_after {
                self.tolerate("Retry-After honoured".into());
            }
        }
        if !resp.retried.is_empty() && resp.busy().is_none() {
            self.tolerate("busy answer then success on a retry".into());
        }
    }

    fn tolerate(&mut self, what: String) {
        *self.tolerances.entry(what).or_default() += 1;
    }

    /// A pair created or returned: 200, or under `braze` any 2XX with message "success".
    fn succeeded(&self, resp: &Response) -> bool {
        oracle::is_success(self.cli.profile, resp)
    }

    /// Sends one case and judges the exchange on its own: no retry, no shrinking. `record`
    /// counts the checks in the summary.
    async fn send_judged(
        &mut self,
        case: Case,
        remaining_before: Option<i64>,
        record: bool,
    ) -> (Step, Fails) {
        let request = case.request(&self.rctx);
        let result = self.send(&request).await;
        let step = Step {
            case,
            request,
            result,
            remaining_before,
        };
        let fails = self.judge_step(&step, record);
        (step, fails)
    }

    /// Sends a case (and, for a new pair answered 200, its repeat); judges each exchange.
    async fn run_case(&mut self, case: &Case, record: bool) -> Judged {
        let mut out = Vec::new();
        let mut next = Some(case.clone());
        while let Some(case) = next.take() {
            let (step, fails) = self.send_judged(case, self.remaining, record).await;
            self.observe(&step);
            if let (Case::New(pair), Ok(resp)) = (&step.case, &step.result) {
                if self.succeeded(resp) {
                    if let Some(id) = resp.send_id() {
                        next = Some(Case::Repeat {
                            campaign: pair.campaign,
                            send_id: id.to_string(),
                            content_type: properties::other_content_type(pair.content_type),
                        });
                    }
                }
            }
            out.push((step, fails));
        }
        out
    }

    fn judge_step(&mut self, step: &Step, record: bool) -> Fails {
        let resp = match &step.result {
            Err(e) => {
                if record {
                    self.tally(ANSWERS_EVERY_REQUEST, false);
                }
                return vec![(ANSWERS_EVERY_REQUEST, e.reason.clone())];
            }
            Ok(resp) => resp,
        };
        if record {
            self.tally(ANSWERS_EVERY_REQUEST, true);
        }
        if let (Some(busy), false) = (resp.busy(), self.strict()) {
            // Braze: busy or in maintenance, even after the retries: not a verdict on the
            // request; listed as a server error.
            if record {
                self.tolerate(format!(
                    "{} after every retry: case listed as a server error",
                    busy.describe()
                ));
                self.server_errors.push(ServerError {
                    case: step.case.label(),
                    request: step.request.describe(&self.target),
                    status: resp.status,
                    attempts: resp.retried.len() as u32 + 1,
                });
            }
            return Vec::new();
        }
        let ctx = Ctx {
            spec: &self.spec,
            profile: self.cli.profile,
            api_key: &self.cli.api_key,
            forbidden_api_key: self.cli.forbidden_api_key.as_deref(),
        };
        let ex = Exchange {
            case: &step.case,
            request: &step.request,
            response: resp,
            remaining_before: step.remaining_before,
            generated_before: &self.generated,
        };
        let verdicts = oracle::judge(&ctx, &ex);
        if record {
            for t in oracle::tolerances_used(&ctx, &ex) {
                *self.tolerances.entry(t).or_default() += 1;
            }
        }
        let mut fails = Vec::new();
        for (name, verdict) in verdicts {
            match verdict {
                Verdict::Pass => {
                    if record {
                        self.tally(name, true);
                    }
                }
                Verdict::Fail(reason) => {
                    if record {
                        self.tally(name, false);
                    }
                    fails.push((name, reason));
                }
                Verdict::Skip => {}
            }
        }
        fails
    }

    /// Generated send_ids a step taught the run.
    fn observe_ids(&mut self, step: &Step) {
        let (Case::New(pair), Ok(resp)) = (&step.case, &step.result) else {
            return;
        };
        if oracle::is_success(self.cli.profile, resp)
            && matches!(pair.send_id, SendIdField::Absent | SendIdField::Null)
        {
            if let Some(id) = resp.send_id() {
                self.generated.insert(id.to_string());
            }
        }
    }

    /// What a step teaches the run: generated ids, the quota left, unexpected successes.
    fn observe(&mut self, step: &Step) {
        self.observe_ids(step);
        let Ok(resp) = &step.result else {
            return;
        };
        match &step.case {
            Case::New(_) | Case::Repeat { .. } => {
                if let Some(r) = resp.remaining() {
                    self.remaining = Some(r);
                }
            }
            _ => {
                if (200..300).contains(&resp.status) {
                    // Refused-class request accepted: it may have spent quota.
                    self.budget.record_surprise();
                }
            }
        }
    }

    fn tally(&mut self, check: &'static str, passed: bool) {
        let t = self.tallies.entry(check).or_default();
        if passed {
            t.0 += 1;
        } else {
            t.1 += 1;
        }
    }

    /// Shrinks each check that fails here for the first time in the run, and shows it once
    /// with every other new check its minimal request breaks.
    async fn shrink_new_failures(
        &mut self,
        property: &'static str,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        step: Step,
        fails: Fails,
    ) {
        let mut pending: Fails = fails
            .iter()
            .filter(|(c, _)| !self.shrunk.contains(c))
            .cloned()
            .collect();
        while !pending.is_empty() {
            let (check, reason) = pending.remove(0);
            self.shrunk.insert(check);
            // Only the case that was generated shrinks; a failing repeat is shrunk through the
            // new pair that led to it.
            let (best, reason, steps, best_fails) = self
                .shrink(tree, check, step.clone(), reason, fails.clone())
                .await;
            let others = self.new_checks_besides(check, best_fails);
            pending.retain(|(c, _)| !self.shrunk.contains(c));
            self.record_failure(check, property, &best, reason, steps, others);
        }
    }

    /// The checks of `fails` other than `shown` not shown before; from now on shown.
    fn new_checks_besides(&mut self, shown: &'static str, fails: Fails) -> Vec<BrokenCheck> {
        fails
            .into_iter()
            .filter(|(c, _)| *c != shown && self.shrunk.insert(c))
            .map(|(check, reason)| BrokenCheck { check, reason })
            .collect()
    }

    /// Shrinks one failing case. Attempts that may create a pair take budget; with none left,
    /// shrinking stops where it is.
    async fn shrink(
        &mut self,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        check: &'static str,
        mut best: Step,
        mut reason: String,
        mut best_fails: Fails,
    ) -> (Step, String, u32, Fails) {
        let accepted = matches!(&best.result, Ok(r) if (200..300).contains(&r.status));
        let mut shrinker = Shrinker::new(&mut **tree, self.cli.max_shrinks);
        while let Some(case) = shrinker.candidate() {
            let out_of_budget = if case.may_create() {
                !self.budget.try_reserve()
            } else {
                // A server that accepted the failing request may accept this one too, and
                // spend: it needs budget (counted when it is answered 2xx).
                accepted && case.could_spend_if_accepted() && self.budget.left() == 0
            };
            if out_of_budget {
                self.note(format!(
                    "shrinking {check} stopped: the quota budget is used up"
                ));
                break;
            }
            let judged = self.run_case(&case, false).await;
            let hit = judged.into_iter().find_map(|(step, fails)| {
                let r = fails.iter().find(|(c, _)| *c == check)?.1.clone();
                Some((step, r, fails))
            });
            match hit {
                Some((step, r, fails)) => {
                    best = step;
                    reason = r;
                    best_fails = fails;
                    shrinker.still_fails(true);
                }
                None => shrinker.still_fails(false),
            }
        }
        let steps = shrinker.steps();
        (best, reason, steps, best_fails)
    }

    fn report_new_failures(
        &mut self,
        property: &'static str,
        step: &Step,
        fails: Fails,
        steps: u32,
    ) {
        let Some((check, reason)) = fails
            .iter()
            .find(|(c, _)| !self.shrunk.contains(c))
            .cloned()
        else {
            return;
        };
        self.shrunk.insert(check);
        let others = self.new_checks_besides(check, fails);
        self.record_failure(check, property, step, reason, steps, others);
    }

    /// Tallies a run-level check decided on one exchange, and shows it when it fails first.
    fn run_check_step(
        &mut self,
        check: &'static str,
        property: &'static str,
        verdict: Result<(), String>,
        step: &Step,
    ) {
        match verdict {
            Ok(()) => self.tally(check, true),
            Err(reason) => {
                self.tally(check, false);
                if self.shrunk.insert(check) {
                    self.record_failure(check, property, step, reason, 0, Vec::new());
                }
            }
        }
    }

    fn record_failure(
        &mut self,
        check: &'static str,
        property: &'static str,
        step: &Step,
        reason: String,
        shrink_steps: u32,
        other_checks: Vec<BrokenCheck>,
    ) {
        let shown = Shown {
            case: step.case.label(),
            request: step.request.describe(&self.target),
            request_body: step
                .request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(2048)]).into_owned()),
            response: step.result.as_ref().ok().cloned(),
            curl: step.request.curl(&self.target),
        };
        self.record_shown(check, property, reason, shown, shrink_steps, other_checks);
    }

    fn record_shown(
        &mut self,
        check: &'static str,
        property: &'static str,
        reason: String,
        shown: Shown,
        shrink_steps: u32,
        other_checks: Vec<BrokenCheck>,
    ) {
        let response = shown
            .response
            .as_ref()
            .map(|r| ResponseSummary::new(r.status, r.headers.clone(), &r.body));
        let failure = Failure {
            check,
            property,
            reason,
            other_checks,
            case: shown.case,
            request: shown.request,
            request_body: shown.request_body,
            response,
            curl: shown.curl,
            replay: self.cli.replay_command(self.seed),
            secret_env_vars: self.cli.secret_env_vars(),
            seed: self.seed,
            shrink_steps,
        };
        // One block per distinct request and answer: a check that a request shown before also
        // breaks joins that block.
        if let Some(shown) = self.failures.iter_mut().find(|f| f.same_exchange(&failure)) {
            let joined: Vec<&str> = failure.broken().map(|b| b.check).collect();
            self.events.line(&format!(
                "\nFAIL {} (property {}): the same request and answer as FAIL {} above",
                joined.join(", "),
                failure.property,
                shown.check
            ));
            shown.other_checks.extend(failure.broken());
            return;
        }
        self.events.failure(&failure);
        self.failures.push(failure);
    }

    fn note(&mut self, note: String) {
        self.events.note(&note);
        self.notes.push(note);
    }

    fn report(&self) -> Report {
        let campaigns = self.campaigns();
        let exhaust = self.cli.exhaust_quota;
        let result = |name: &'static str, not_run: Option<&str>| {
            let (passed, failed) = self.tallies.get(name).copied().unwrap_or((0, 0));
            CheckResult {
                name,
                rule: oracle::rule_of(name),
                passed,
                failed,
                not_run: (passed + failed == 0)
                    .then_some(not_run)
                    .flatten()
                    .map(str::to_string),
            }
        };
        let mut checks: Vec<CheckResult> = std::iter::once(result(ANSWERS_EVERY_REQUEST, None))
            .chain(oracle::checks_for(self.cli.profile).map(|c| result(c.name, None)))
            .chain(
                oracle::run_checks_for(self.cli.profile)
                    .map(|c| result(c.name, c.needs.unmet(campaigns, exhaust))),
            )
            .collect();
        for c in &mut checks {
            if c.not_run.is_none() && c.passed + c.failed == 0 {
                let quota_rule = matches!(
                    c.name,
                    "over_quota_answer_has_retry_after" | "existing_pair_ok_over_quota"
                );
                if quota_rule && !exhaust {
                    c.not_run = Some("needs --exhaust-quota".into());
                }
                // The property behind a run-level check got no units from the plan.
                let property = match c.name {
                    oracle::BURST_SAME_PAIR => Some("burst_same_pair"),
                    oracle::BURST_NEW_PAIRS | oracle::BURST_IDS_DISTINCT if !exhaust => {
                        Some("burst_new_pairs")
                    }
                    oracle::PAIR_PER_CAMPAIGN | oracle::QUOTA_PER_WORKSPACE => {
                        Some("cross_campaign")
                    }
                    oracle::MODEL_AGREES => Some("stateful_sequences"),
                    _ => None,
                };
                if property.is_some_and(|p| self.alloc.get(p).is_some_and(|n| *n == 0)) {
                    c.not_run =
                        Some("the quota budget left it no new pair: raise --max-creates".into());
                }
            }
        }
        Report {
            tool_version: env!("CARGO_PKG_VERSION"),
            target: self.target.base.to_string(),
            spec: self.spec.source.clone(),
            profile: self.cli.profile.name(),
            seed: self.seed,
            cases_per_property: self.cli.cases,
            concurrency: self.cli.concurrency,
            started_at: self.started_at,
            duration_seconds: self.started.elapsed().as_secs_f64(),
            requests: self.requests,
            cases: self.cases,
            quota: QuotaReport {
                max_creates: self.cli.max_creates,
                exhaust_quota: self.cli.exhaust_quota,
                planned_new_pairs: self.planned_new,
                budget: self.budget.allowed(),
                new_pair_requests: self.budget.reserved,
                unexpected_successes: self.budget.surprises,
                remaining_at_start: self.budget.remaining_at_start,
                remaining_at_end: self.remaining,
            },
            checks,
            statuses: self.statuses.clone(),
            failures: self.failures.clone(),
            notes: self.notes.clone(),
            tolerances: self.tolerances.clone(),
            server_errors: self.server_errors.clone(),
        }
    }
}

/// A sequence the model did not predict: what it was, as sent.
struct SequenceFailure {
    reason: String,
    ops: Vec<Op>,
    /// One curl line per request, with what the model expected.
    lines: Vec<String>,
    /// The request that broke the prediction, and its answer.
    request: Request,
    response: Option<Response>,
}

impl SequenceFailure {
    fn into_shown(self) -> Shown {
        let numbered: Vec<String> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{:>2}. {l}", i))
            .collect();
        Shown {
            case: format!(
                "a sequence of {}: {}",
                crate::report::plural(self.ops.len() as u64, "operation", "operations"),
                self.ops
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            request: format!(
                "the request the model did not predict: {} {}",
                self.request.method, self.request.path
            ),
            request_body: self
                .request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            response: self.response,
            curl: numbered.join("\n"),
        }
    }
}

fn repeat(campaign: usize, send_id: &str) -> Case {
    Case::Repeat {
        campaign,
        send_id: send_id.to_string(),
        content_type: JSON,
    }
}

fn new_given(campaign: usize, send_id: &str, fresh: bool) -> Case {
    Case::New(NewPair {
        campaign,
        send_id: SendIdField::Given(send_id.to_string()),
        fresh,
        ..NewPair::default()
    })
}

/// A property's own 32-byte seed: the run's seed and the property's name, mixed.
pub fn property_seed(seed: u64, property: &str) -> [u8; 32] {
    let mut x = seed ^ fnv1a(property);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        x = splitmix64(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    splitmix64(nanos ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_seeds_differ_by_property_and_repeat_by_seed() {
        assert_eq!(property_seed(1, "auth"), property_seed(1, "auth"));
        assert_ne!(property_seed(1, "auth"), property_seed(1, "invalid_body"));
        assert_ne!(property_seed(1, "auth"), property_seed(2, "auth"));
    }
}
