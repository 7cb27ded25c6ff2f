//! What a run found, and its writers: one file per format.
pub mod digest;
pub mod json;
pub mod junit;
pub mod summary;
pub mod terminal;

use serde::Serialize;

use crate::config::{ReportFormat, ReportTarget};
use crate::exit::Fatal;
use crate::oracle::CheckId;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The verdict: conformant, violation, inconclusive or unreachable.
    pub result: &'static str,
    /// The process's exit status for it.
    pub exit_code: u8,
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
    /// `--profile braze`: each tolerance used, and how often.
    pub tolerances: std::collections::BTreeMap<String, u64>,
    /// `--profile braze`: cases still answered 5XX (or a 429 that is not the quota) after every
    /// retry; not violations.
    pub server_errors: Vec<ServerError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerError {
    pub case: String,
    pub request: String,
    pub status: u16,
    pub attempts: u32,
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
    /// Units charged to the budget as possibly spent: requests that had to spend nothing but
    /// were answered 2xx, and bursts of one pair that spent more than one unit.
    pub unexpected_successes: u64,
    pub remaining_at_start: Option<i64>,
    pub remaining_at_end: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    #[serde(skip)]
    pub id: CheckId,
    pub name: &'static str,
    pub rule: &'static str,
    pub passed: u64,
    pub failed: u64,
    /// Why the check did not run at all, and what would turn it on.
    pub not_run: Option<String>,
}

/// One failing request: the check it was shrunk for (`check`, `reason`) and every other check
/// the same request and answer broke (`other_checks`), shown once.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub check: CheckId,
    pub property: &'static str,
    pub reason: String,
    /// Further checks broken by the same request and answer.
    pub other_checks: Vec<BrokenCheck>,
    pub case: String,
    pub request: String,
    /// The request body as text (lossy UTF-8, at most 2 KiB).
    pub request_body: Option<String>,
    pub response: Option<ResponseSummary>,
    /// The `curl` command (several lines, numbered, for a sequence; a shell loop for a burst).
    pub curl: String,
    /// The command line that runs the checker again with the same seed (no secret in it).
    pub replay: String,
    /// The variables `curl` and `replay` read the keys from.
    pub secret_env_vars: Vec<&'static str>,
    pub seed: u64,
    pub shrink_steps: u32,
}

/// A check as a caller names it: its id, or (tests, readers of the reports) its name.
pub enum CheckRef<'a> {
    Id(CheckId),
    Name(&'a str),
}

impl CheckRef<'_> {
    fn is(&self, id: CheckId) -> bool {
        match self {
            CheckRef::Id(i) => *i == id,
            CheckRef::Name(n) => id.name() == *n,
        }
    }
}

impl From<CheckId> for CheckRef<'_> {
    fn from(id: CheckId) -> Self {
        CheckRef::Id(id)
    }
}

impl<'a> From<&'a str> for CheckRef<'a> {
    fn from(name: &'a str) -> Self {
        CheckRef::Name(name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BrokenCheck {
    pub check: CheckId,
    pub reason: String,
}

impl Failure {
    /// Every check this request broke, the one it was shrunk for first.
    pub fn broken(&self) -> impl Iterator<Item = BrokenCheck> + '_ {
        std::iter::once(BrokenCheck {
            check: self.check,
            reason: self.reason.clone(),
        })
        .chain(self.other_checks.iter().cloned())
    }

    /// Breaks this check (by id, or by name for callers that hold names).
    pub fn breaks<'a>(&self, check: impl Into<CheckRef<'a>>) -> bool {
        let check = check.into();
        self.broken().any(|b| check.is(b.check))
    }

    /// The same request and the same answer.
    pub fn same_exchange(&self, other: &Failure) -> bool {
        let answer = |f: &Failure| f.response.as_ref().map(|r| (r.status, r.body.clone()));
        self.request == other.request
            && self.request_body == other.request_body
            && answer(self) == answer(other)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseSummary {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as received, as plain text (lossy UTF-8, at most [`BODY_LIMIT`] bytes).
    pub body: String,
    /// The body was longer and is cut.
    pub body_truncated: bool,
}

/// The most of a response body a failure keeps.
pub const BODY_LIMIT: usize = 16 * 1024;

impl ResponseSummary {
    pub fn new(status: u16, headers: Vec<(String, String)>, body: &[u8]) -> Self {
        Self {
            status,
            headers,
            body: String::from_utf8_lossy(&body[..body.len().min(BODY_LIMIT)]).into_owned(),
            body_truncated: body.len() > BODY_LIMIT,
        }
    }
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.failed > 0)
    }

    /// Checks (passed, failed, not run): a check passed when it ran and never failed; not run
    /// when nothing it applies to was sent.
    pub fn check_counts(&self) -> (u64, u64, u64) {
        let mut counts = (0, 0, 0);
        for c in &self.checks {
            if c.failed > 0 {
                counts.1 += 1;
            } else if c.passed > 0 {
                counts.0 += 1;
            } else {
                counts.2 += 1;
            }
        }
        counts
    }

    pub fn not_run_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.passed + c.failed == 0)
            .map(|c| c.name)
            .collect()
    }

    pub fn failed_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.failed > 0)
            .map(|c| c.name)
            .collect()
    }

    /// Every answer was a 5XX (or none came): the target is down, not judged.
    pub fn answered_only_server_errors(&self) -> bool {
        let answered: u64 = self
            .statuses
            .iter()
            .filter(|(s, _)| s.as_str() != "no answer")
            .map(|(_, n)| n)
            .sum();
        answered > 0
            && self
                .statuses
                .keys()
                .all(|s| s == "no answer" || s.starts_with('5'))
    }

    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Before anything is sent: every report path must be writable, so a run never ends unable to
/// save what it found. A file that does not exist yet is created and removed again.
pub fn check_writable(targets: &[ReportTarget]) -> Result<(), Fatal> {
    for t in targets {
        let bad = |e: std::io::Error| Fatal::Report {
            path: t.path.display().to_string(),
            reason: e.to_string(),
        };
        if t.path.is_dir() {
            return Err(Fatal::Report {
                path: t.path.display().to_string(),
                reason: "it is a directory".into(),
            });
        }
        let existed = t.path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&t.path)
            .map_err(bad)?;
        if !existed {
            std::fs::remove_file(&t.path).map_err(bad)?;
        }
    }
    Ok(())
}

/// `n` with the word in the number it takes: "1 case", "2 cases".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
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

#[cfg(test)]
mod tests {
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
        let line = cli.replay_command(42);
        assert!(
            line.contains("--campaign-id a --campaign-id 'b c'"),
            "{line}"
        );
        assert!(line.ends_with("--seed 42"), "{line}");
        assert!(
            !line.contains("SECRET") && !line.contains("FORBIDDEN"),
            "{line}"
        );
    }
}
