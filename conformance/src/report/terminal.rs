//! The terminal's view of a run: a progress bar when stderr is a terminal, plain lines
//! otherwise (CI); failures printed as they are found; the summary table at the end.
use indicatif::{ProgressBar, ProgressStyle};

use super::{plural, BrokenCheck, Failure};
use crate::events::{Event, Events, PlanShown};
use crate::http::excerpt;

pub struct Terminal {
    bar: Option<ProgressBar>,
    /// `--verbose`: every property's line and the per-check table.
    verbose: bool,
}

impl Terminal {
    /// `progress`: draw a progress bar (only on a terminal).
    pub fn new(progress: bool, verbose: bool) -> Self {
        let bar = progress.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {prefix:<22} [{bar:30}] {pos}/{len} {elapsed}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, verbose }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }
}

impl Events for Terminal {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Started(s) => {
                self.println(&format!(
                    "sendid-conformance {}: {} — profile {}, spec {}, {} cases per property, {}",
                    s.version,
                    s.target,
                    s.profile,
                    s.spec,
                    s.cases,
                    plural(s.campaigns as u64, "campaign", "campaigns")
                ));
                self.println(&format!("seed {} (replay with --seed {})", s.seed, s.seed));
            }
            Event::Plan(p) => self.println(&plan_line(&p)),
            Event::PropertyStarted { name, cases } => {
                if let Some(b) = &self.bar {
                    b.set_prefix(name.to_string());
                    b.set_length(cases);
                    b.set_position(0);
                }
            }
            Event::CaseDone => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
            }
            Event::PropertyDone {
                name,
                cases,
                failing,
            } => {
                if self.verbose {
                    self.println(&format!(
                        "property {name}: {}, {failing} with a violation",
                        plural(cases, "case", "cases")
                    ))
                }
            }
            Event::PropertySkipped { name, why } => {
                if self.verbose {
                    self.println(&format!("property {name}: not run ({why})"))
                }
            }
            Event::Note(note) => self.println(&format!("note: {note}")),
            // Printed at the end, those with one cause grouped under it.
            Event::Failure(_) => {}
            // Counted under the block shown before, not printed again.
            Event::SameExchange { .. } => {}
            Event::Finished(report) => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
                let failures = super::digest::failures(report, render_failure);
                print!("{failures}");
                println!();
                if self.verbose {
                    println!("{}", super::summary::table(report));
                } else {
                    print!("{}", super::digest::not_run(report));
                }
                print!("{}", super::summary::totals(report));
            }
            Event::Verdict {
                exit,
                passed,
                failed,
                not_run,
            } => self.println(&format!(
                "result: {exit}: {} passed, {failed} failed, {not_run} not run{}",
                plural(passed, "check", "checks"),
                if not_run > 0 && exit == crate::exit::Exit::Conformant {
                    " (--fail-on-skipped makes that exit 4)"
                } else {
                    ""
                }
            )),
            Event::Fatal(message) => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
                eprintln!("{message}");
            }
        }
    }
}

/// The quota plan's line.
pub fn plan_line(p: &PlanShown) -> String {
    let mut parts = vec![format!("probe {}", p.plan.probe)];
    parts.extend(
        p.plan
            .units
            .iter()
            .filter(|(_, u)| *u > 0)
            .map(|(n, u)| format!("{n} {u}")),
    );
    if p.plan.end_reserve > 0 {
        parts.push(format!(
            "the quota's end {} and the rest",
            p.plan.end_reserve
        ));
    }
    let budget = match p.budget {
        Some(b) => format!(
            "budget min(--max-creates {}, Remaining {}) = {b}",
            p.max_creates,
            p.remaining_at_start
                .map_or("unknown".into(), |r| r.to_string())
        ),
        None => "budget unlimited (--exhaust-quota): then the quota's end".into(),
    };
    format!(
        "quota plan: {} = {}; {budget}",
        plural(p.plan.total(), "new pair", "new pairs"),
        parts.join(" + ")
    )
}

/// One failing request for people: every check it broke (rule and why), the request and
/// response, and how to replay it.
pub fn render_failure(f: &Failure) -> String {
    let indent = |s: &str| s.replace('\n', "\n            ");
    let broken: Vec<BrokenCheck> = f.broken().collect();
    let names: Vec<&str> = broken.iter().map(|b| b.check.name()).collect();
    let mut out = format!(
        "\nFAIL {} (property {}, shrunk in {})\n",
        names.join(", "),
        f.property,
        plural(u64::from(f.shrink_steps), "step", "steps"),
    );
    for b in &broken {
        if broken.len() > 1 {
            out.push_str(&format!("  check:    {}\n", b.check));
        }
        out.push_str(&format!(
            "  rule:     {}\n  why:      {}\n",
            b.check.statement(),
            indent(&b.reason)
        ));
    }
    out.push_str(&format!(
        "  case:     {}\n  request:  {}\n",
        f.case,
        indent(&f.request)
    ));
    match &f.response {
        Some(r) => {
            out.push_str(&format!("  response: {}", r.status));
            for (n, v) in r.headers.iter().take(16) {
                out.push_str(&format!("\n            {n}: {v}"));
            }
            out.push_str(&format!(
                "\n            body: {}\n",
                excerpt(r.body.as_bytes(), 500)
            ));
        }
        None => out.push_str("  response: none\n"),
    }
    out.push_str(&format!("  curl:     {}\n", indent(&f.curl)));
    out.push_str(&format!("  replay:   {}\n", f.replay));
    out.push_str(&format!(
        "  keys:     {}\n",
        export_line(&f.secret_env_vars)
    ));
    out
}

/// The line that names the variables curl and replay read the keys from.
pub fn export_line(vars: &[&str]) -> String {
    format!(
        "export {} first (the keys are never printed; curl and replay read them from there)",
        vars.join(" and ")
    )
}
