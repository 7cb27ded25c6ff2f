//! The command line (docs/contract.md §5); environment fallbacks for the secrets live here and only here.
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::exit::Exit;

/// Holds a server — sendid, a mock, Braze itself — to the `POST /sends/id/create` contract.
#[derive(Debug, Clone, Parser)]
#[command(name = "sendid-conformance", version, about, long_about = None)]
pub struct Cli {
    /// Base URL of the target, e.g. http://127.0.0.1:8080 or https://rest.iad-01.braze.com
    #[arg(long, value_parser = parse_base_url)]
    pub base_url: url::Url,

    /// REST API key with the permission `sends.id.create`.
    #[arg(long, env = "SENDID_API_KEY", hide_env_values = true)]
    pub api_key: String,

    /// A campaign of the key's workspace.
    #[arg(long)]
    pub campaign_id: String,

    /// OpenAPI document (JSON) to hold responses against, a path or an http(s) URL; default: the
    /// `openapi/sends.json` built into this binary.
    #[arg(long, value_name = "PATH|URL")]
    pub spec: Option<String>,

    /// A valid key of the workspace without `sends.id.create`; turns on the 403 checks.
    #[arg(long, env = "SENDID_FORBIDDEN_API_KEY", hide_env_values = true)]
    pub forbidden_api_key: Option<String>,

    /// Generated cases per property.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub cases: u32,

    /// Seed of the run; printed on every run, the same seed replays the same requests.
    #[arg(long)]
    pub seed: Option<u64>,

    /// The most quota-consuming requests (new pairs) the run may send.
    #[arg(long, default_value_t = 10)]
    pub max_creates: u64,

    /// Allow the run to drive the quota to 0 and check the 429 rules (spends the whole quota).
    #[arg(long)]
    pub exhaust_quota: bool,

    /// `strict`: this whole contract; `braze`: only what Braze documents.
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    pub profile: Profile,

    /// Write a report: `junit=PATH` or `json=PATH`; repeatable.
    #[arg(long = "report", value_name = "FORMAT=PATH", value_parser = parse_report)]
    pub reports: Vec<ReportTarget>,

    /// Requests in flight at once for the properties that spend no quota.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 10.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Most requests spent shrinking one failure to a minimal request.
    #[arg(long, default_value_t = 512)]
    pub max_shrinks: u32,

    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Also trust the certificate authorities in this PEM file (an https target with a private
    /// CA or a self-signed certificate).
    #[arg(long, value_name = "PATH", value_parser = parse_ca_cert)]
    pub ca_cert: Option<CaCert>,
}

/// The certificates of `--ca-cert`, read and parsed when the command line is.
#[derive(Debug, Clone)]
pub struct CaCert {
    pub path: PathBuf,
    pub certs: Vec<reqwest::Certificate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
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

impl Cli {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }
}

/// Parses the command line; on `--help`/`--version` prints and returns `Err(Conformant)`, on bad
/// flags prints the error and returns `Err(Usage)` (exit 2).
pub fn parse<I, T>(args: I) -> Result<Cli, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(e) => {
            let _ = e.print();
            match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Err(Exit::Conformant)
                }
                _ => Err(Exit::Usage),
            }
        }
    }
}

fn parse_base_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("scheme {other:?}: use http or https")),
    }
}

fn parse_report(s: &str) -> Result<ReportTarget, String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| "expected FORMAT=PATH, e.g. junit=report.xml".to_string())?;
    let format = match format {
        "junit" => ReportFormat::Junit,
        "json" => ReportFormat::Json,
        other => {
            return Err(format!(
                "unknown report format {other:?}: use junit or json"
            ))
        }
    };
    if path.is_empty() {
        return Err("the report path is empty".into());
    }
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path),
    })
}

fn parse_ca_cert(s: &str) -> Result<CaCert, String> {
    let pem = std::fs::read(s).map_err(|e| format!("cannot read {s}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{s} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{s} holds no PEM certificate"));
    }
    Ok(CaCert {
        path: PathBuf::from(s),
        certs,
    })
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 3600.0 {
        Ok(secs)
    } else {
        Err("the timeout must be between 0 and 3600 seconds".into())
    }
}
