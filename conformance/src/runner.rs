//! The run: probe, plan the quota, then one proptest `TestRunner` per property (seeded from
//! `--seed`), every exchange judged by the oracle, every new failing check shrunk and shown.
use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::time::Instant;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::budget::Budget;
use crate::cli::{Cli, Profile};
use crate::exit::{Exit, Fatal};
use crate::http::{excerpt, now_epoch_seconds, Request, Response, Target, TransportError};
use crate::oracle::{self, Ctx, Exchange, Verdict, ANSWERS_EVERY_REQUEST};
use crate::report::{self, CheckResult, Failure, QuotaReport, Report, ResponseSummary};
use crate::spec::Spec;
use crate::strategies::{self, Case, NewPair, RequestContext, SendIdField};

/// What a run ended with; `report` is absent when it ended before checking (exit 2 or 3).
pub struct Outcome {
    pub exit: Exit,
    pub report: Option<Report>,
}

/// Runs the checker as the binary would, printing as it goes.
pub async fn run(cli: Cli) -> Outcome {
    let reports = cli.reports.clone();
    match Runner::new(cli).await {
        Err(fatal) => fail(fatal),
        Ok(runner) => match runner.execute().await {
            Err(fatal) => fail(fatal),
            Ok(report) => {
                if let Err(fatal) = report::write(&reports, &report) {
                    return fail(fatal);
                }
                let exit = if report.failed() {
                    Exit::Violation
                } else {
                    Exit::Conformant
                };
                println!("result: {exit}");
                Outcome {
                    exit,
                    report: Some(report),
                }
            }
        },
    }
}

fn fail(fatal: Fatal) -> Outcome {
    eprintln!("sendid-conformance: {fatal}");
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

type Judged = Vec<(Step, Vec<(&'static str, String)>)>;

struct Runner {
    cli: Cli,
    target: Target,
    spec: Spec,
    seed: u64,
    rctx: RequestContext,
    budget: Budget,
    /// (passed, failed) per check.
    tallies: BTreeMap<&'static str, (u64, u64)>,
    /// Answers received, by status.
    statuses: BTreeMap<String, u64>,
    remaining: Option<i64>,
    generated: HashSet<String>,
    shrunk: HashSet<&'static str>,
    failures: Vec<Failure>,
    notes: Vec<String>,
    requests: u64,
    cases: u64,
    planned_new: u64,
    progress: Progress,
    started: Instant,
    started_at: i64,
}

impl Runner {
    async fn new(cli: Cli) -> Result<Self, Fatal> {
        let target = Target::new(
            cli.base_url.clone(),
            cli.timeout(),
            cli.api_key.clone(),
            cli.forbidden_api_key.clone(),
        )
        .trusting(cli.ca_cert.as_ref());
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
        let progress = Progress::new(!cli.no_progress && std::io::stderr().is_terminal());
        Ok(Self {
            rctx: RequestContext {
                campaign_id: cli.campaign_id.clone(),
                existing_send_id: None,
            },
            budget: Budget::new(cli.max_creates, cli.exhaust_quota),
            tallies: BTreeMap::new(),
            statuses: BTreeMap::new(),
            remaining: None,
            generated: HashSet::new(),
            shrunk: HashSet::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            requests: 0,
            cases: 0,
            planned_new: 0,
            progress,
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

    async fn execute(mut self) -> Result<Report, Fatal> {
        println!(
            "sendid-conformance {}: {} — profile {}, spec {}, {} cases per property",
            env!("CARGO_PKG_VERSION"),
            self.target.base,
            self.cli.profile.name(),
            self.spec.source,
            self.cli.cases
        );
        println!("seed {} (replay with --seed {})", self.seed, self.seed);

        self.probe().await?;
        let (generated, given) = self.plan();
        let cases = self.cli.cases;
        let small = cases.min(16);
        let max = self.spec.send_id_max;
        let forbidden = self.cli.forbidden_api_key.is_some();
        let strict = self.strict();

        if strict {
            self.concurrent_property("wrong_method", strategies::wrong_methods(), small)
                .await;
            self.concurrent_property("unknown_path", strategies::unknown_paths(), small)
                .await;
        }
        let auth = strategies::auth_cases(strict, forbidden, max);
        self.concurrent_property("auth", auth, cases).await;
        if strict {
            let invalid = strategies::invalid_cases(max);
            self.concurrent_property("invalid_body", invalid, cases)
                .await;
            let unknown = vec![strategies::unknown_campaign()];
            self.concurrent_property("unknown_campaign", unknown, small)
                .await;
            self.checkpoint().await;
        }
        self.creating_property(
            "new_pair_generated_id",
            strategies::generated_pair(),
            generated,
        )
        .await;
        let min = self.spec.send_id_min;
        self.creating_property("new_pair_given_id", strategies::given_pair(min, max), given)
            .await;
        if self.cli.exhaust_quota {
            self.exhaust().await;
        }
        self.progress.finish();
        Ok(self.report())
    }

    // -----------------------------------------------------------------------------------------
    // Probe and plan.

    /// The first requests: one that can never create a pair (reaches the target and reads
    /// `X-RateLimit-Remaining` where the server sends it), then, within the budget, the run's
    /// first new pair, whose send_id the refused-class requests reuse.
    async fn probe(&mut self) -> Result<(), Fatal> {
        let harmless = Case::Invalid(strategies::Invalid::MissingCampaignId);
        let step = self.probe_step(harmless).await?;
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
        let first = Case::New(NewPair {
            send_id: SendIdField::Absent,
            extras: Vec::new(),
            charset: false,
        });
        let step = self.probe_step(first).await?;
        let Ok(resp) = &step.result else {
            return Ok(());
        };
        if let Some(r) = resp.remaining() {
            self.remaining = Some(r);
            if self.budget.remaining_at_start.is_none() {
                self.budget.fix(Some(r), resp.status == 200);
            }
        } else if self.budget.remaining_at_start.is_none() {
            self.budget.fix(None, false);
            self.note(
                "the answers carry no X-RateLimit-Remaining: the budget is --max-creates alone"
                    .into(),
            );
        }
        match (resp.status, resp.send_id()) {
            (200, Some(id)) => self.rctx.existing_send_id = Some(id.to_string()),
            (status, _) if !self.cli.exhaust_quota => {
                self.budget.close();
                self.note(format!(
                    "the first new pair was answered {status} (check --api-key and \
                     --campaign-id): no further new pairs are sent"
                ));
            }
            (status, _) => self.note(format!("the first new pair was answered {status}")),
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

    /// Splits the budget between the properties that create pairs, and says so.
    fn plan(&mut self) -> (u32, u32) {
        let cases = u64::from(self.cli.cases);
        let probe = self.budget.reserved;
        let remaining = self.remaining.unwrap_or(0).max(0) as u64;
        let (generated, given, exhaust) = if self.cli.exhaust_quota {
            // Everything may be spent: the properties run in full (new pairs past the quota
            // must get 429), then the exhaustion phase spends what is left, plus one 429.
            let exhaust = remaining.saturating_sub(2 * cases) + 1;
            (cases, cases, exhaust)
        } else {
            let total = self.budget.left().min(2 * cases);
            let generated = total.div_ceil(2).min(cases);
            (generated, (total - generated).min(cases), 0)
        };
        self.planned_new = probe + generated + given + exhaust;
        let budget = match self.budget.allowed() {
            Some(b) => format!(
                "budget min(--max-creates {}, Remaining {}) = {b}",
                self.cli.max_creates,
                self.budget
                    .remaining_at_start
                    .map_or("unknown".into(), |r| r.to_string())
            ),
            None => "budget unlimited (--exhaust-quota)".into(),
        };
        println!(
            "quota plan: {} new pairs = probe {probe} + generated ids {generated} + given ids \
             {given}{}; {budget}",
            self.planned_new,
            if self.cli.exhaust_quota {
                format!(" + exhaustion {exhaust} (then one 429)")
            } else {
                String::new()
            }
        );
        if generated + given < 2 * cases {
            self.note(format!(
                "the quota budget limits the new-pair properties to {generated} + {given} of {} \
                 + {} cases",
                cases, cases
            ));
        }
        (generated as u32, given as u32)
    }

    // -----------------------------------------------------------------------------------------
    // Properties.

    fn test_runner(&self, property: &str) -> TestRunner {
        TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &property_seed(self.seed, property)),
        )
    }

    /// A property whose cases spend no quota: sent `--concurrency` at a time. The first cases
    /// take one arm (class) each, so every class is covered even with few cases; the rest draw
    /// from all arms.
    async fn concurrent_property(
        &mut self,
        name: &'static str,
        arms: Vec<BoxedStrategy<Case>>,
        cases: u32,
    ) {
        // Every class at least once, whatever --cases says.
        let cases = cases.max(arms.len() as u32);
        self.progress.start(name, cases);
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
            let bar = self.progress.bar.clone();
            let requests: Vec<Request> = chosen
                .iter()
                .filter_map(|&i| planned[i].as_ref().map(|(_, r)| r.clone()))
                .collect();
            let results: Vec<Result<Response, TransportError>> =
                futures_util::stream::iter(requests.iter().map(|r| {
                    let target = &target;
                    let bar = bar.clone();
                    async move {
                        let res = target.send(r).await;
                        if let Some(b) = bar {
                            b.inc(1);
                        }
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
                failing += usize::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        if held_back > 0 {
            self.note(format!(
                "{name}: {held_back} cases held back: a server that wrongly accepted them could \
                 spend quota, and the budget has none left"
            ));
        }
        self.progress.done(name, cases, failing);
    }

    /// A property whose cases create pairs: one at a time, each within the budget, each
    /// followed by a repeat of the pair it created.
    async fn creating_property(
        &mut self,
        name: &'static str,
        strategy: BoxedStrategy<Case>,
        cases: u32,
    ) {
        if cases == 0 {
            self.progress.skip(name, "no quota budget left");
            return;
        }
        self.progress.start(name, cases);
        let mut runner = self.test_runner(name);
        let mut failing = 0;
        for _ in 0..cases {
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
            self.progress.inc();
            for (step, fails) in judged {
                failing += usize::from(!fails.is_empty());
                self.shrink_new_failures(name, &mut tree, step, fails).await;
            }
        }
        self.progress.done(name, cases, failing);
    }

    /// After the refused requests: the quota must be where it was (catches servers that spend
    /// on refused requests without saying so in their headers).
    async fn checkpoint(&mut self) {
        let (Some(existing), Some(baseline)) = (self.rctx.existing_send_id.clone(), self.remaining)
        else {
            return;
        };
        let case = Case::Repeat {
            send_id: existing,
            charset: false,
        };
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
                self.record_failure(check, "checkpoint", &step, reason, 0);
            }
        }
        self.remaining = Some(now);
    }

    /// `--exhaust-quota`: new pairs until `Remaining` is 0, then one more (429), then an
    /// existing pair (200). The requests are already minimal: no shrinking.
    async fn exhaust(&mut self) {
        let name = "quota_exhaustion";
        let cap = self
            .remaining
            .map(|r| r.max(0) as u64 + 1)
            .unwrap_or(1_000)
            .min(100_000);
        self.progress.start(name, cap as u32 + 1);
        let case = Case::New(NewPair {
            send_id: SendIdField::Absent,
            extras: Vec::new(),
            charset: false,
        });
        let mut failing = 0;
        for _ in 0..cap {
            let before = self.remaining;
            self.budget.try_reserve();
            let judged = self.run_case(&case, true).await;
            self.cases += 1;
            self.progress.inc();
            let status = judged
                .first()
                .and_then(|(s, _)| s.result.as_ref().ok())
                .map(|r| r.status);
            for (step, fails) in judged {
                failing += usize::from(!fails.is_empty());
                self.report_new_failures(name, &step, fails, 0);
            }
            if status != Some(200) || before == Some(0) {
                break;
            }
        }
        if let Some(existing) = self.rctx.existing_send_id.clone() {
            let repeat = Case::Repeat {
                send_id: existing,
                charset: false,
            };
            for (step, fails) in self.run_case(&repeat, true).await {
                self.report_new_failures(name, &step, fails, 0);
            }
        }
        self.progress.done(name, cap as u32, failing);
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
    }

    /// Sends a case (and, for a new pair answered 200, its repeat); judges each exchange.
    async fn run_case(&mut self, case: &Case, record: bool) -> Judged {
        let mut out = Vec::new();
        let mut next = Some(case.clone());
        while let Some(case) = next.take() {
            let request = case.request(&self.rctx);
            let result = self.send(&request).await;
            let step = Step {
                case,
                request,
                result,
                remaining_before: self.remaining,
            };
            let fails = self.judge_step(&step, record);
            self.observe(&step);
            if let (Case::New(pair), Ok(resp)) = (&step.case, &step.result) {
                if resp.status == 200 {
                    if let Some(id) = resp.send_id() {
                        next = Some(Case::Repeat {
                            send_id: id.to_string(),
                            charset: !pair.charset,
                        });
                    }
                }
            }
            out.push((step, fails));
        }
        out
    }

    fn judge_step(&mut self, step: &Step, record: bool) -> Vec<(&'static str, String)> {
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

    /// What a step teaches the run: generated ids, the quota left, unexpected successes.
    fn observe(&mut self, step: &Step) {
        let Ok(resp) = &step.result else {
            return;
        };
        match &step.case {
            Case::New(pair) => {
                if resp.status == 200
                    && matches!(pair.send_id, SendIdField::Absent | SendIdField::Null)
                {
                    if let Some(id) = resp.send_id() {
                        self.generated.insert(id.to_string());
                    }
                }
                if let Some(r) = resp.remaining() {
                    self.remaining = Some(r);
                }
            }
            Case::Repeat { .. } => {
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

    /// Shrinks each check that fails here for the first time in the run, and shows it.
    async fn shrink_new_failures(
        &mut self,
        property: &'static str,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        step: Step,
        fails: Vec<(&'static str, String)>,
    ) {
        for (check, reason) in fails {
            if !self.shrunk.insert(check) {
                continue;
            }
            // Only the case that was generated shrinks; a failing repeat is shrunk through the
            // new pair that led to it.
            let (best, reason, steps) = self.shrink(tree, check, step.clone(), reason).await;
            self.record_failure(check, property, &best, reason, steps);
        }
    }

    /// proptest's shrinking loop, by hand because each attempt is an async request. Attempts
    /// that may create a pair take budget; with none left, shrinking stops where it is.
    async fn shrink(
        &mut self,
        tree: &mut Box<dyn ValueTree<Value = Case>>,
        check: &'static str,
        mut best: Step,
        mut reason: String,
    ) -> (Step, String, u32) {
        let mut steps = 0;
        let accepted = matches!(&best.result, Ok(r) if (200..300).contains(&r.status));
        if !tree.simplify() {
            return (best, reason, steps);
        }
        loop {
            if steps >= self.cli.max_shrinks {
                break;
            }
            let case = tree.current();
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
            steps += 1;
            let judged = self.run_case(&case, false).await;
            let hit = judged.into_iter().find_map(|(step, fails)| {
                fails
                    .into_iter()
                    .find(|(c, _)| *c == check)
                    .map(|(_, r)| (step, r))
            });
            match hit {
                Some((step, r)) => {
                    best = step;
                    reason = r;
                    if !tree.simplify() {
                        break;
                    }
                }
                None => {
                    if !tree.complicate() {
                        break;
                    }
                }
            }
        }
        (best, reason, steps)
    }

    fn report_new_failures(
        &mut self,
        property: &'static str,
        step: &Step,
        fails: Vec<(&'static str, String)>,
        steps: u32,
    ) {
        for (check, reason) in fails {
            if self.shrunk.insert(check) {
                self.record_failure(check, property, step, reason, steps);
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
    ) {
        let response = step.result.as_ref().ok().map(|r| ResponseSummary {
            status: r.status,
            headers: r.headers.clone(),
            body_excerpt: excerpt(&r.body, 500),
        });
        let failure = Failure {
            check,
            property,
            reason,
            case: step.case.label(),
            request: step.request.describe(&self.target),
            request_body: step
                .request
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(2048)]).into_owned()),
            response,
            curl: step.request.curl(&self.target),
            seed: self.seed,
            shrink_steps,
        };
        self.progress.println(&render_failure(&failure, &self.cli));
        self.failures.push(failure);
    }

    fn note(&mut self, note: String) {
        self.progress.println(&format!("note: {note}"));
        self.notes.push(note);
    }

    fn report(&self) -> Report {
        let mut checks: Vec<CheckResult> = oracle::checks_for(self.cli.profile)
            .map(|c| c.name)
            .chain(std::iter::once(ANSWERS_EVERY_REQUEST))
            .map(|name| {
                let (passed, failed) = self.tallies.get(name).copied().unwrap_or((0, 0));
                CheckResult {
                    name,
                    rule: oracle::rule_of(name),
                    passed,
                    failed,
                }
            })
            .collect();
        // The runner's own check reads best first.
        checks.rotate_right(1);
        let report = Report {
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
        };
        println!();
        print!("{}", report::summary::render(&report));
        report
    }
}

fn render_failure(f: &Failure, cli: &Cli) -> String {
    let indent = |s: &str| s.replace('\n', "\n            ");
    let mut out = format!(
        "\nFAIL {} (property {}, shrunk in {} steps)\n  rule:     {}\n  why:      {}\n  case:     {}\n  request:  {}\n",
        f.check,
        f.property,
        f.shrink_steps,
        oracle::rule_of(f.check),
        f.reason,
        f.case,
        indent(&f.request)
    );
    match &f.response {
        Some(r) => {
            out.push_str(&format!("  response: {}", r.status));
            for (n, v) in r.headers.iter().take(16) {
                out.push_str(&format!("\n            {n}: {v}"));
            }
            out.push_str(&format!("\n            body: {}\n", r.body_excerpt));
        }
        None => out.push_str("  response: none\n"),
    }
    out.push_str(&format!("  curl:     {}\n", f.curl));
    out.push_str(&format!(
        "  replay:   sendid-conformance --base-url {} --campaign-id {} --profile {} --cases {} --max-creates {}{}{} --seed {}\n",
        cli.base_url,
        crate::http::shell_quote(cli.campaign_id.as_bytes()),
        cli.profile.name(),
        cli.cases,
        cli.max_creates,
        if cli.exhaust_quota { " --exhaust-quota" } else { "" },
        cli.spec
            .as_deref()
            .map(|s| format!(" --spec {}", crate::http::shell_quote(s.as_bytes())))
            .unwrap_or_default(),
        f.seed
    ));
    out
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

fn splitmix64(mut x: u64) -> u64 {
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

/// A progress bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {prefix:<22} [{bar:30}] {pos}/{len} {elapsed}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar }
    }

    fn start(&self, name: &str, cases: u32) {
        if let Some(b) = &self.bar {
            b.set_prefix(name.to_string());
            b.set_length(u64::from(cases));
            b.set_position(0);
        }
    }

    fn inc(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn done(&self, name: &str, cases: u32, failing: usize) {
        self.println(&format!(
            "property {name}: {cases} cases, {failing} with a violation"
        ));
    }

    fn skip(&self, name: &str, why: &str) {
        self.println(&format!("property {name}: skipped ({why})"));
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
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
