//! The summary table printed at the end of every run: check × passed / failed.
use std::fmt::Write as _;

use super::Report;

pub fn render(report: &Report) -> String {
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
    let q = &report.quota;
    let _ = writeln!(
        out,
        "\n{} cases, {} requests in {:.2} s ({:.0} requests/s); seed {}",
        report.cases,
        report.requests,
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
        "quota: planned {} new pairs, budget {budget}, sent {} new-pair requests{}; X-RateLimit-Remaining {} → {}",
        q.planned_new_pairs,
        q.new_pair_requests,
        if q.unexpected_successes > 0 {
            format!(
                " (+{} units the server spent unasked: refused requests answered 2xx, bursts \
                 that spent more than one unit per pair)",
                q.unexpected_successes
            )
        } else {
            String::new()
        },
        remaining(q.remaining_at_start),
        remaining(q.remaining_at_end)
    );
    out
}
