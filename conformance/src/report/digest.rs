//! What a run's end says without `--verbose`: the failures, those with one cause grouped under
//! it, and the checks that did not run grouped by what would run them.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{plural, Failure, Report};

/// A cause several failures can share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The target answered this 5XX.
    ServerError(u16),
    /// A request got no answer.
    NoAnswer,
}

impl Cause {
    /// The failure's cause: its answer was a 5XX (or none came); or, for a check that
    /// compares answers (an equivalent request, a burst), one of the answers it names was a
    /// 5XX of this run ("… answered 503 …").
    pub fn of(f: &Failure, report: &Report) -> Option<Cause> {
        match &f.response {
            Some(r) if r.status >= 500 => return Some(Cause::ServerError(r.status)),
            None => return Some(Cause::NoAnswer),
            Some(_) => {}
        }
        let server_errors = report
            .statuses
            .keys()
            .filter(|s| s.starts_with('5'))
            .filter_map(|s| s.parse::<u16>().ok());
        for s in server_errors {
            let named = format!("answered {s}");
            if f.broken().any(|b| b.reason.contains(&named)) {
                return Some(Cause::ServerError(s));
            }
        }
        None
    }

    /// The group's headline: how many answers had the cause, and where to look.
    pub fn headline(self, report: &Report) -> String {
        match self {
            Cause::ServerError(s) => {
                let n = report.statuses.get(&s.to_string()).copied().unwrap_or(1);
                let advice = if report.profile == "strict" {
                    "the contract allows no 5XX for a client's request; if the target is \
                     busy by design (Braze documents 5XX as busy or in maintenance), see \
                     --profile braze, which retries them"
                } else {
                    "still answered so after every retry"
                };
                format!(
                    "{} {s} (server errors): {advice}",
                    plural(n, "answer was", "answers were")
                )
            }
            Cause::NoAnswer => {
                let n = report.statuses.get("no answer").copied().unwrap_or(1);
                format!(
                    "{} no answer: check that the target is up and --timeout",
                    plural(n, "request got", "requests got")
                )
            }
        }
    }
}

/// The failures: each group of two or more with one cause under its headline, with the checks
/// they broke and the first one in full; the others one block each.
pub fn failures(report: &Report, render: fn(&Failure) -> String) -> String {
    let mut groups: BTreeMap<Cause, Vec<&Failure>> = BTreeMap::new();
    for f in &report.failures {
        if let Some(c) = Cause::of(f, report) {
            groups.entry(c).or_default().push(f);
        }
    }
    groups.retain(|_, fs| fs.len() >= 2);
    let mut out = String::new();
    for (cause, fs) in &groups {
        let mut checks: Vec<&str> = Vec::new();
        for f in fs {
            for b in f.broken() {
                if !checks.contains(&b.check.name()) {
                    checks.push(b.check.name());
                }
            }
        }
        let _ = writeln!(
            out,
            "\nFAIL {} — one cause: {}",
            plural(fs.len() as u64, "failing request", "failing requests"),
            cause.headline(report)
        );
        let _ = writeln!(out, "  checks:   {}", checks.join(", "));
        let _ = write!(
            out,
            "  the first of them, in full:\n  {}",
            render(fs[0]).trim_start_matches('\n').replace('\n', "\n  ")
        );
        out = out.trim_end().to_string();
        out.push('\n');
    }
    for f in &report.failures {
        if Cause::of(f, report).is_some_and(|c| groups.contains_key(&c)) {
            continue;
        }
        out.push_str(&render(f));
    }
    out
}

/// The checks that did not run, one line per reason (which names what would run them).
pub fn not_run(report: &Report) -> String {
    let mut by_why: Vec<(&str, Vec<&str>)> = Vec::new();
    for c in report.checks.iter().filter(|c| c.passed + c.failed == 0) {
        let why = c
            .not_run
            .as_deref()
            .unwrap_or("nothing this run sent reached it");
        match by_why.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.push(c.name),
            None => by_why.push((why, vec![c.name])),
        }
    }
    if by_why.is_empty() {
        return String::new();
    }
    let total: usize = by_why.iter().map(|(_, n)| n.len()).sum();
    let mut out = format!("not run ({total}):\n");
    for (why, names) in by_why {
        let _ = writeln!(out, "  {}: {why}", names.join(", "));
    }
    out
}
