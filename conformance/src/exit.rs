//! Named exit codes (docs/contract.md §5).
use std::fmt;

/// How a run ended; the process exit status is the discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every check that ran passed.
    Conformant = 0,
    /// At least one check found a violation.
    Violation = 1,
    /// Bad flags, or a spec that does not parse or lacks the operation.
    Usage = 2,
    /// The target could not be reached, or (`--profile braze`) answered nothing but 5XX.
    Unreachable = 3,
    /// `--fail-on-skipped`: no check failed, but some did not run.
    Inconclusive = 4,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The name of the result, as the last line and the JSON report give it.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Conformant => "conformant",
            Exit::Violation => "violation",
            Exit::Usage => "usage",
            Exit::Unreachable => "unreachable",
            Exit::Inconclusive => "inconclusive",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Exit::Conformant => "conformant",
            Exit::Violation => "violation",
            Exit::Usage => "usage",
            Exit::Unreachable => "unreachable",
            Exit::Inconclusive => "inconclusive",
        };
        write!(f, "{name} ({})", self.code())
    }
}

/// Errors that end a run before or instead of a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("bad usage: {0}")]
    Usage(String),
    #[error("bad spec ({source_name}): {reason}")]
    Spec { source_name: String, reason: String },
    #[error("the target {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "the target {url} answered nothing but {status} ({attempts} attempts, retried with \
         backoff): busy or in maintenance; try again later"
    )]
    ServerErrors {
        url: String,
        status: u16,
        attempts: u32,
    },
    /// The target refused the run's own setup (key, permission, campaign, base URL).
    #[error("setup refused: {0}")]
    Setup(String),
    #[error("cannot write the report {path}: {reason}")]
    Report { path: String, reason: String },
}

impl Fatal {
    pub fn exit(&self) -> Exit {
        match self {
            Fatal::Usage(_) | Fatal::Spec { .. } | Fatal::Report { .. } | Fatal::Setup(_) => {
                Exit::Usage
            }
            Fatal::Unreachable { .. } | Fatal::ServerErrors { .. } => Exit::Unreachable,
        }
    }
}
