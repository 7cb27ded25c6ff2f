//! The run: probe, plan the quota, then walk the property table ([`crate::properties`]), each
//! property with a proptest `TestRunner` seeded from `--seed` and its name, every exchange
//! judged by the oracle, every new failing check shrunk ([`crate::shrink`]) and handed to the
//! [`Events`] (the terminal's view lives in `report/`).
use std::collections::{BTreeMap, HashSet};

mod bursts;
mod classes;
mod cross_campaign;
mod edge_groups;
mod exchange;
mod findings;
mod probe;
mod quota_end;
mod result;
mod sequential;
mod stateful;
use std::sync::Arc;
use std::time::Instant;

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::budget::Budget;
use crate::config::{Profile, RunConfig};
use crate::edges;
use crate::events::{Event, Events, Started};
use crate::exit::{Exit, Fatal};
use crate::http::{now_epoch_seconds, RetryPolicy, Target};
use crate::oracle::{self, Have, Judge};
use crate::properties::{self, Inputs, Property, Run, Spend, PROPERTIES};
use crate::report::{self, plural, CheckResult, QuotaReport, Report, ServerError};

use crate::spec::Spec;
use crate::strategies::RequestContext;

/// What a run ended with; `report` is absent when it ended before checking (exit 2 or 3).
pub struct Outcome {
    pub exit: Exit,
    pub report: Option<Report>,
}

/// Runs the checker as the binary would, telling the terminal as it goes.
pub async fn run(config: RunConfig) -> Outcome {
    let terminal = report::terminal::Terminal::new(config.progress, config.verbose);
    run_with(config, Arc::new(terminal)).await
}

/// Runs the checker, telling `events` as it goes.
pub async fn run_with(config: RunConfig, events: Arc<dyn Events>) -> Outcome {
    let reports = config.reports.clone();
    let fail_on_skipped = config.fail_on_skipped;
    if let Err(fatal) = report::check_writable(&reports) {
        return fail(&*events, fatal);
    }
    match Runner::new(config, Arc::clone(&events)).await {
        Err(fatal) => fail(&*events, fatal),
        Ok(runner) => match runner.execute().await {
            Err(fatal) => fail(&*events, fatal),
            Ok(mut report) => {
                // Braze: 5XX is "busy or in maintenance"; answered nothing else, the target is
                // down, not judged. (strict holds every 5XX as a violation.)
                let braze = report.profile == Profile::Braze.name();
                let (passed, failed, not_run) = report.check_counts();
                let exit = if braze && report.answered_only_server_errors() {
                    Exit::Unreachable
                } else if failed > 0 {
                    Exit::Violation
                } else if fail_on_skipped && not_run > 0 {
                    Exit::Inconclusive
                } else {
                    Exit::Conformant
                };
                report.result = exit.name();
                report.exit_code = exit.code();
                if let Err(fatal) = report::write(&reports, &report) {
                    return fail(&*events, fatal);
                }
                events.event(Event::Verdict {
                    exit,
                    passed,
                    failed,
                    not_run,
                });
                Outcome {
                    exit,
                    report: Some(report),
                }
            }
        },
    }
}

fn fail(events: &dyn Events, fatal: Fatal) -> Outcome {
    events.event(Event::Fatal(&format!("sendid-conformance: {fatal}")));
    Outcome {
        exit: fatal.exit(),
        report: None,
    }
}

struct Runner {
    config: RunConfig,
    target: Target,
    spec: Spec,
    seed: u64,
    /// Unique to this run: send_ids carrying it are new.
    tag: String,
    rctx: RequestContext,
    budget: Budget,
    /// The quota plan.
    plan: crate::budget::Plan,
    /// Units the run saw spent by requests judged one at a time in the refused phase.
    spent_seen: i64,
    /// `X-RateLimit-Remaining` when the refused requests began.
    refused_baseline: Option<i64>,
    /// What the checks found: tallies and failures, absorbed from the properties' outcomes.
    result: result::RunResult,
    /// Answers received, by status.
    statuses: BTreeMap<String, u64>,
    remaining: Option<i64>,
    generated: HashSet<String>,
    /// The same, in the order the server generated them.
    generated_order: Vec<String>,
    /// A send_id whose case variant the edge groups had no unit for: `new_pair_given_id` sends
    /// it first.
    case_variant_due: Option<String>,
    notes: Vec<String>,
    /// `--profile braze`: tolerances used, and how often.
    tolerances: BTreeMap<String, u64>,
    /// `--profile braze`: cases still busy after every retry.
    server_errors: Vec<ServerError>,
    requests: u64,
    cases: u64,
    planned_new: u64,
    executions: u32,
    /// Notes are told once the preflight has passed (before, they are kept).
    preflight_done: bool,
    events: Arc<dyn Events>,
    started: Instant,
    started_at: i64,
}

impl Runner {
    async fn new(config: RunConfig, events: Arc<dyn Events>) -> Result<Self, Fatal> {
        let mut target = Target::new(
            config.base_url.clone(),
            config.timeout,
            config.api_key.clone(),
            config.forbidden_api_key.clone(),
        )
        .trusting(&config.ca_certs);
        if config.profile == Profile::Braze {
            // Braze: 5XX means busy or in maintenance, retry with exponential backoff.
            target = target.with_retries(RetryPolicy {
                retries: config.retries,
                backoff: config.retry_backoff,
                max_wait: std::time::Duration::from_secs(60),
            });
        }
        if config.api_key.trim().is_empty() {
            return Err(Fatal::Usage(
                "--api-key (or SENDID_API_KEY) is empty".into(),
            ));
        }
        let spec = match &config.spec {
            None => Spec::embedded()?,
            Some(source) => Spec::load(source, &target.client).await?,
        };
        let seed = config.seed.unwrap_or_else(crate::seed::random_seed);
        Ok(Self {
            rctx: RequestContext::new(config.campaign_ids.clone()),
            budget: Budget::new(config.max_creates, config.exhaust_quota),
            plan: crate::budget::Plan::default(),
            spent_seen: 0,
            refused_baseline: None,
            result: result::RunResult::default(),
            statuses: BTreeMap::new(),
            remaining: None,
            generated: HashSet::new(),
            generated_order: Vec::new(),
            case_variant_due: None,
            notes: Vec::new(),
            tolerances: BTreeMap::new(),
            server_errors: Vec::new(),
            requests: 0,
            cases: 0,
            planned_new: 0,
            executions: 0,
            preflight_done: false,
            tag: edges::run_tag(),
            events,
            started: Instant::now(),
            started_at: now_epoch_seconds(),
            target,
            spec,
            seed,
            config,
        })
    }

    fn strict(&self) -> bool {
        self.config.profile == Profile::Strict
    }

    fn campaigns(&self) -> usize {
        self.config.campaign_ids.len()
    }

    /// Requests of one burst: `--concurrency`, at least 8.
    fn burst_size(&self) -> usize {
        (self.config.concurrency as usize).max(8)
    }

    /// What this run has that some checks need.
    fn have(&self) -> Have {
        Have {
            campaigns: self.campaigns(),
            exhaust: self.config.exhaust_quota,
            forbidden_key: self.config.forbidden_api_key.is_some(),
        }
    }

    fn runs(&self, p: &Property) -> Result<(), &'static str> {
        match properties::unmet(
            p,
            self.strict(),
            self.campaigns(),
            self.config.exhaust_quota,
        ) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    async fn execute(mut self) -> Result<Report, Fatal> {
        // Nothing is told before the preflight has passed: a refused setup prints its one
        // message alone. The header, the plan and the notes so far follow it.
        self.preflight().await?;
        let target = self.target.base.to_string();
        self.events.event(Event::Started(Started {
            version: env!("CARGO_PKG_VERSION"),
            target: &target,
            profile: self.config.profile.name(),
            spec: &self.spec.source,
            cases: self.config.cases,
            campaigns: self.campaigns(),
            seed: self.seed,
        }));
        self.show_plan();
        self.preflight_done = true;
        for note in &self.notes {
            self.events.event(Event::Note(note));
        }
        self.refused_baseline = self.remaining;
        for p in PROPERTIES {
            if let Err(why) = self.runs(p) {
                if !p.strict_only || self.strict() {
                    self.events
                        .event(Event::PropertySkipped { name: p.name, why });
                }
                continue;
            }
            match p.run {
                Run::Cases(arms) => {
                    let arms = arms(&self.inputs());
                    if p.spend == Spend::Nothing {
                        self.free_property(p, arms).await;
                    } else {
                        // The first case is the due case variant, if any: sent once it has a unit.
                        if self.case_variant_due.is_some()
                            && p.name == "new_pair_given_id"
                            && self.plan.units_of(p.name) > 0
                        {
                            self.case_variant_due = None;
                        }
                        self.creating_property(p, arms).await;
                    }
                }
                Run::Checkpoint => self.checkpoint().await,
                Run::CrossCampaign => self.cross_campaign(p.name).await,
                Run::EdgeGroups => self.edge_groups(p.name).await,
                Run::SamePairBurst => self.same_pair_burst(p.name).await,
                Run::NewPairsBurst => self.new_pairs_burst(p.name).await,
                Run::Sequences => self.sequences(p.name).await,
                Run::Exhaustion => self.exhaust(p.name).await,
                Run::Methods => self.methods(p.name).await,
                Run::Equivalents => self.equivalents(p.name).await,
                Run::HostileBodies => self.hostile_bodies(p.name).await,
                Run::IdQuality => self.id_quality(p.name),
            }
        }
        let report = self.report();
        self.events.event(Event::Finished(&report));
        Ok(report)
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            strict: self.strict(),
            forbidden: self.config.forbidden_api_key.is_some(),
            min: self.spec.send_id_min,
            max: self.spec.send_id_max,
            rctx: &self.rctx,
            tag: &self.tag,
            case_variant_of: self.case_variant_due.as_deref(),
        }
    }

    fn test_runner(&self, property: &str) -> TestRunner {
        TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(
                RngAlgorithm::ChaCha,
                &crate::seed::property_seed(self.seed, property),
            ),
        )
    }

    /// What limits the quota budget, when it cut some property: the workspace's quota left
    /// today (then a bigger --max-creates buys nothing), or --max-creates.
    fn short_of_budget(&self) -> Option<String> {
        if self.plan.cut.is_empty() && self.plan.probe > 0 {
            return None;
        }
        let max = self.config.max_creates;
        match self.budget.remaining_at_start {
            Some(r) if !self.config.exhaust_quota && (r.max(0) as u64) < max => Some(format!(
                "the workspace's quota is the limit: {} left today (--max-creates is {max}); \
                 run it on a workspace with more quota left, or after the reset",
                plural(r.max(0) as u64, "new pair", "new pairs")
            )),
            _ if self.config.exhaust_quota => {
                Some("the workspace's quota is the limit: too little left today for it".into())
            }
            _ => Some(format!(
                "the quota budget left it no new pair: raise --max-creates (now {max}; the \
                 plan line names what each budget buys)"
            )),
        }
    }

    fn note(&mut self, note: String) {
        if self.preflight_done {
            self.events.event(Event::Note(&note));
        }
        self.notes.push(note);
    }

    fn report(&self) -> Report {
        let have = self.have();
        let mut checks: Vec<CheckResult> = oracle::checks_for(self.config.profile)
            .map(|c| {
                let (passed, failed) = self.result.tally(c.id);
                CheckResult {
                    id: c.id,
                    name: c.name,
                    rule: c.statement,
                    passed,
                    failed,
                    not_run: (passed + failed == 0)
                        .then(|| c.needs.unmet(have))
                        .flatten()
                        .map(str::to_string),
                }
            })
            .collect();
        let short_of_budget = self.short_of_budget();
        for c in &mut checks {
            if c.not_run.is_some() || c.passed + c.failed > 0 {
                continue;
            }
            let id = c.id;
            let starved = if matches!(id.info().judge, Judge::Run) {
                // The properties behind a run-level check all got no units from the plan.
                let deciding: Vec<&Property> = PROPERTIES
                    .iter()
                    .filter(|p| p.decides.contains(&id) && self.runs(p).is_ok())
                    .collect();
                !deciding.is_empty()
                    && deciding
                        .iter()
                        .all(|p| p.spend != Spend::Nothing && self.plan.units_of(p.name) == 0)
            } else {
                // A check of one exchange that nothing reached, in a run the budget cut.
                !self.plan.cut.is_empty() || self.plan.probe == 0
            };
            c.not_run = Some(match (&short_of_budget, starved) {
                (Some(why), true) => why.clone(),
                _ => "nothing this run sent reached it: raise --cases (or see --verbose for \
                      the properties that ran)"
                    .into(),
            });
        }
        Report {
            result: "",
            exit_code: 0,
            tool_version: env!("CARGO_PKG_VERSION"),
            target: self.target.base.to_string(),
            spec: self.spec.source.clone(),
            profile: self.config.profile.name(),
            seed: self.seed,
            cases_per_property: self.config.cases,
            concurrency: self.config.concurrency,
            started_at: self.started_at,
            duration_seconds: self.started.elapsed().as_secs_f64(),
            requests: self.requests,
            cases: self.cases,
            quota: QuotaReport {
                max_creates: self.config.max_creates,
                exhaust_quota: self.config.exhaust_quota,
                planned_new_pairs: self.planned_new,
                budget: self.budget.allowed(),
                new_pair_requests: self.budget.reserved,
                unexpected_successes: self.budget.surprises,
                remaining_at_start: self.budget.remaining_at_start,
                remaining_at_end: self.remaining,
            },
            checks,
            statuses: self.statuses.clone(),
            failures: self.result.failures().to_vec(),
            notes: self.notes.clone(),
            tolerances: self.tolerances.clone(),
            server_errors: self.server_errors.clone(),
        }
    }
}
