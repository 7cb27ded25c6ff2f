//! What a run found, and its writers: one file per format.
pub mod json;
pub mod junit;
pub mod summary;
pub mod terminal;

use serde::Serialize;

use crate::cli::{Cli, ReportFormat, ReportTarget};
use crate::exit::Fatal;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool_version: &'static str,
    pub target: String,
    pub spec: String,
    pub profile: &'static str,
    pub seed: u64,
    pub cases_per_property: u32,
    pub concurrency: u32,
    pub started_at: i64,
    pub duration_seconds: f64,
    pub requests: u64,
    pub cases: u64,
    pub quota: QuotaReport,
    pub checks: Vec<CheckResult>,
    /// Answers received, by status ("no answer" for transport errors).
    pub statuses: std::collections::BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    /// Notes for people: skipped properties, budget cuts.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuotaReport {
    pub max_creates: u64,
    pub exhaust_quota: bool,
    /// What the run planned to create and what the budget allowed.
    pub planned_new_pairs: u64,
    pub budget: Option<u64>,
    /// Requests that may have created a pair (new pairs sent, shrinking included).
    pub new_pair_requests: u64,
    /// Units the server spent unasked: requests that had to spend nothing but were answered
    /// 2xx, and bursts of one pair that spent more than one unit.
    pub unexpected_successes: u64,
    pub remaining_at_start: Option<i64>,
    pub remaining_at_end: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub rule: &'static str,
    pub passed: u64,
    pub failed: u64,
    /// Why the check did not run at all, and what would turn it on.
    pub not_run: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub check: &'static str,
    pub property: &'static str,
    pub reason: String,
    pub case: String,
    pub request: String,
    /// The request body as text (lossy UTF-8, at most 2 KiB).
    pub request_body: Option<String>,
    pub response: Option<ResponseSummary>,
    /// The `curl` command (several lines, numbered, for a sequence; a shell loop for a burst).
    pub curl: String,
    /// The command line that runs the checker again with the same seed.
    pub replay: String,
    pub seed: u64,
    pub shrink_steps: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseSummary {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body_excerpt: String,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.failed > 0)
    }

    pub fn failed_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.failed > 0)
            .map(|c| c.name)
            .collect()
    }

    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

pub fn write(targets: &[ReportTarget], report: &Report) -> Result<(), Fatal> {
    for t in targets {
        let text = match t.format {
            ReportFormat::Junit => junit::render(report),
            ReportFormat::Json => json::render(report),
        };
        std::fs::write(&t.path, text).map_err(|e| Fatal::Report {
            path: t.path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The command that replays a run: every flag that shapes it, the seed, no secret.
pub fn replay_line(cli: &Cli, seed: u64) -> String {
    let q = |s: &str| crate::http::shell_quote(s.as_bytes());
    let mut out = format!("sendid-conformance --base-url {}", q(cli.base_url.as_str()));
    for c in &cli.campaign_ids {
        out.push_str(&format!(" --campaign-id {}", q(c)));
    }
    out.push_str(&format!(
        " --profile {} --cases {} --max-creates {} --concurrency {}",
        cli.profile.name(),
        cli.cases,
        cli.max_creates,
        cli.concurrency
    ));
    if cli.exhaust_quota {
        out.push_str(" --exhaust-quota");
    }
    if let Some(s) = &cli.spec {
        out.push_str(&format!(" --spec {}", q(s)));
    }
    out.push_str(&format!(" --seed {seed}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_line_has_every_campaign_and_no_secret() {
        let cli = crate::cli::parse([
            "sendid-conformance",
            "--base-url",
            "http://h:1",
            "--api-key",
            "SECRET-KEY-123",
            "--forbidden-api-key",
            "FORBIDDEN-KEY-123",
            "--campaign-id",
            "a",
            "--campaign-id",
            "b c",
        ])
        .expect("flags parse");
        let line = replay_line(&cli, 42);
        assert!(
            line.contains("--campaign-id 'a' --campaign-id 'b c'"),
            "{line}"
        );
        assert!(line.ends_with("--seed 42"), "{line}");
        assert!(
            !line.contains("SECRET") && !line.contains("FORBIDDEN"),
            "{line}"
        );
    }
}
