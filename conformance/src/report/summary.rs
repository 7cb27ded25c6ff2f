//! The end of a run for people: the per-check table (`--verbose`; the reports always have every
//! check) and the totals — cases, answers, quota, tolerances.
use std::fmt::Write as _;

use super::Report;

/// The table and the totals, as `--verbose` prints them.
pub fn render(report: &Report) -> String {
    format!("{}\n{}", table(report), totals(report))
}

/// check × passed / failed, and why a check did not run.
pub fn table(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(out, "{:<width$}  {:>7}  {:>7}", "check", "passed", "failed");
    let _ = writeln!(out, "{}", "-".repeat(width + 18));
    for c in &report.checks {
        let mark = if c.failed > 0 {
            "  ✗".to_string()
        } else if let Some(why) = &c.not_run {
            format!("  (not run: {why})")
        } else if c.passed == 0 {
            "  (not exercised)".to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>7}{mark}",
            c.name, c.passed, c.failed
        );
    }
    out
}

/// Cases, requests, answers, the quota and what `--profile braze` tolerated.
pub fn totals(report: &Report) -> String {
    let mut out = String::new();
    let q = &report.quota;
    let _ = writeln!(
        out,
        "{}, {} in {:.2} s ({:.0} requests/s); seed {}",
        super::plural(report.cases, "case", "cases"),
        super::plural(report.requests, "request", "requests"),
        report.duration_seconds,
        report.requests as f64 / report.duration_seconds.max(1e-9),
        report.seed
    );
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}×{n}"))
        .collect();
    let _ = writeln!(out, "answers: {}", statuses.join(", "));
    let budget = match q.budget {
        Some(b) => b.to_string(),
        None if q.exhaust_quota => "unlimited (--exhaust-quota)".into(),
        None => "unknown".into(),
    };
    let remaining = |r: Option<i64>| r.map_or("?".to_string(), |r| r.to_string());
    let _ = writeln!(
        out,
        "quota: planned {}, budget {budget}, sent {}{}; X-RateLimit-Remaining {} → {}",
        super::plural(q.planned_new_pairs, "new pair", "new pairs"),
        super::plural(q.new_pair_requests, "new-pair request", "new-pair requests"),
        if q.unexpected_successes > 0 {
            format!(
                " (+{} charged to the budget as possibly spent: requests that had to spend \
                 nothing answered 2xx, bursts of one pair that spent more than one unit)",
                super::plural(q.unexpected_successes, "unit", "units")
            )
        } else {
            String::new()
        },
        remaining(q.remaining_at_start),
        remaining(q.remaining_at_end)
    );
    if let Some(hint) = base_url_hint(report) {
        let _ = writeln!(out, "{hint}");
    }
    if !report.tolerances.is_empty() {
        let _ = writeln!(out, "tolerances of --profile braze used:");
        for (what, n) in &report.tolerances {
            let _ = writeln!(out, "  {what}: {}", times(*n));
        }
    }
    if !report.server_errors.is_empty() {
        let _ = writeln!(
            out,
            "server errors (busy or in maintenance after every retry; not violations under \
             --profile braze): {}",
            super::plural(report.server_errors.len() as u64, "case", "cases")
        );
        for e in report.server_errors.iter().take(10) {
            let _ = writeln!(
                out,
                "  {}: {} after {}",
                e.case,
                e.status,
                super::plural(u64::from(e.attempts), "attempt", "attempts")
            );
        }
        if report.server_errors.len() > 10 {
            let _ = writeln!(out, "  … and {} more", report.server_errors.len() - 10);
        }
    }
    out
}

fn times(n: u64) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// Most answers 404: the requests probably go to the wrong place.
pub fn base_url_hint(report: &Report) -> Option<String> {
    let answered: u64 = report
        .statuses
        .iter()
        .filter(|(s, _)| s.as_str() != "no answer")
        .map(|(_, n)| n)
        .sum();
    let not_found = report.statuses.get("404").copied().unwrap_or(0);
    (answered > 0 && not_found * 2 > answered).then(|| {
        format!(
            "hint: {not_found} of {answered} answers were 404 Not Found: check --base-url ({}). \
             It is the API's root, e.g. https://rest.iad-01.braze.com, without \
             /sends/id/create; the checker adds the path.",
            report.target
        )
    })
}
