//! What a run is configured with, as the runner sees it: [`RunConfig`], built from the command
//! line ([`crate::cli::Cli::into_config`]) or by a caller of its own. The runner never sees the
//! command line; the oracle and the properties take [`Profile`] from here, not from `cli`.
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Only what Braze's public documentation promises.
    Braze,
    /// The whole sendid contract.
    Strict,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Braze => "braze",
            Profile::Strict => "strict",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Junit,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTarget {
    pub format: ReportFormat,
    pub path: PathBuf,
}

/// Everything a run needs to know before it starts.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub base_url: url::Url,
    pub api_key: String,
    pub forbidden_api_key: Option<String>,
    pub campaign_ids: Vec<String>,
    /// `--spec`: a path or an http(s) URL; `None`: the built-in document.
    pub spec: Option<String>,
    pub profile: Profile,
    pub cases: u32,
    pub seed: Option<u64>,
    pub max_creates: u64,
    pub exhaust_quota: bool,
    pub concurrency: u32,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub max_shrinks: u32,
    pub reports: Vec<ReportTarget>,
    pub fail_on_skipped: bool,
    /// Draw a progress bar when stderr is a terminal.
    pub progress: bool,
    /// Certificate authorities trusted besides the built-in ones.
    pub ca_certs: Vec<reqwest::Certificate>,
    /// Verbose terminal output: the per-check table.
    pub verbose: bool,
    /// The command that replays this run, without `--seed` (added by [`RunConfig::replay_command`]).
    pub replay_prefix: String,
}

impl RunConfig {
    /// The command that replays this run with `seed`: no secret in it.
    pub fn replay_command(&self, seed: u64) -> String {
        format!("{} --seed {seed}", self.replay_prefix)
    }

    /// The environment variables a replay needs: the keys of this run.
    pub fn secret_env_vars(&self) -> Vec<&'static str> {
        let mut vars = vec!["SENDID_API_KEY"];
        if self.forbidden_api_key.is_some() {
            vars.push("SENDID_FORBIDDEN_API_KEY");
        }
        vars
    }

    pub fn strict(&self) -> bool {
        self.profile == Profile::Strict
    }

    /// Requests of one burst: `--concurrency`, at least 8.
    pub fn burst_size(&self) -> usize {
        (self.concurrency as usize).max(8)
    }
}
