//! The command line (docs/contract.md §5); environment fallbacks for the secrets live here and only here.
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::RunConfig;
pub use crate::config::{Profile, ReportFormat, ReportTarget};
use crate::exit::Exit;
pub use crate::shell::shell_word;

/// Holds a server — sendid, a mock, Braze itself — to the `POST /sends/id/create` contract.
#[derive(Debug, Clone, Parser)]
#[command(name = "sendid-conformance", version, about, long_about = None, after_help = after_help())]
pub struct Cli {
    /// The command line as given (program path first), for the printed `replay:` line.
    #[arg(skip)]
    pub argv: Vec<OsString>,

    /// Base URL of the target, e.g. http://127.0.0.1:8080 or https://rest.iad-01.braze.com
    #[arg(long, value_parser = parse_base_url)]
    pub base_url: url::Url,

    /// REST API key with the permission `sends.id.create`.
    #[arg(long, env = "SENDID_API_KEY", hide_env_values = true)]
    pub api_key: String,

    /// A campaign of the key's workspace. Repeat it with other campaigns of the same workspace to
    /// check the cross-campaign rules (a pair is per campaign, the quota per workspace).
    #[arg(long = "campaign-id", value_name = "ID", required = true)]
    pub campaign_ids: Vec<String>,

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

    /// The most quota-consuming requests (new pairs) the run may send; what each budget buys is
    /// listed below.
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

    /// Requests in flight at once for the properties that spend no quota, and the size of the
    /// concurrent bursts (at least 8), each sent over connections of its own.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Seconds to wait for each response (0.001 to 3600).
    #[arg(long, default_value_t = 10.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// `--profile braze`: how often a 5XX, or a 429 that is not the send-ID quota, is retried.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,

    /// `--profile braze`: the first retry's delay in seconds, doubled for each next one (a
    /// longer `Retry-After` wins).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_backoff)]
    pub retry_backoff: f64,

    /// Most requests spent shrinking one failure to a minimal request.
    #[arg(long, default_value_t = 512)]
    pub max_shrinks: u32,

    /// Exit 4 (inconclusive) when no check failed but some did not run.
    #[arg(long)]
    pub fail_on_skipped: bool,

    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Also print the per-check table and every property's line (the reports always have them).
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Also trust the certificate authorities in this PEM file (an https target with a private
    /// CA or a self-signed certificate).
    #[arg(long, value_name = "PATH", value_parser = parse_ca_cert)]
    pub ca_cert: Option<CaCert>,

    /// Print the catalogue of checks — each class of defect, its rule, its checks, the
    /// properties that exercise them and their cost in units — and exit (no other flag needed).
    #[arg(long)]
    pub list_checks: bool,
}

/// The certificates of `--ca-cert`, read and parsed when the command line is.
#[derive(Debug, Clone)]
pub struct CaCert {
    pub path: PathBuf,
    pub certs: Vec<reqwest::Certificate>,
}

/// Printed under `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  conformant: every check that ran passed
  1  violation: at least one check failed
  2  usage: bad flags, a spec that does not parse or lacks POST /sends/id/create, a report
     path that cannot be written
  2  also: the target refused the run's own setup (the key, its permission, a campaign, or no
     POST /sends/id/create at --base-url); one message names the flag to check
  3  unreachable: the target could not be reached, or (--profile braze) answered nothing but 5XX
  4  inconclusive: --fail-on-skipped and some checks did not run

Keys: SENDID_API_KEY and SENDID_FORBIDDEN_API_KEY are read when --api-key and
--forbidden-api-key are not given; keys are never printed.";

/// `--help`'s closing text: what each budget buys, then the exit codes.
fn after_help() -> String {
    format!("{}\n\n{EXIT_CODES}", crate::properties::what_budgets_buy())
}

/// Bounds of `--timeout`, in seconds.
pub const TIMEOUT_MIN: f64 = 0.001;
pub const TIMEOUT_MAX: f64 = 3600.0;

/// Flags with an environment fallback, and its variable.
pub const ENV_FALLBACKS: &[(&str, &str)] = &[
    ("--api-key", "SENDID_API_KEY"),
    ("--forbidden-api-key", "SENDID_FORBIDDEN_API_KEY"),
];

/// Flags whose value is a secret: never part of a printed command.
const SECRET_FLAGS: &[&str] = &["--api-key", "--forbidden-api-key"];

impl Cli {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }

    pub fn retry_backoff(&self) -> Duration {
        Duration::from_secs_f64(self.retry_backoff)
    }

    /// The environment variables a replay needs: the keys of this run.
    pub fn secret_env_vars(&self) -> Vec<&'static str> {
        let mut vars = vec!["SENDID_API_KEY"];
        if self.forbidden_api_key.is_some() {
            vars.push("SENDID_FORBIDDEN_API_KEY");
        }
        vars
    }

    /// The command that replays this run: the program as invoked and every flag as given, but
    /// the secrets (read from the environment instead) and the seed (pinned to `seed`).
    pub fn replay_command(&self, seed: u64) -> String {
        format!("{} --seed {seed}", self.replay_prefix())
    }

    /// [`Cli::replay_command`] without its `--seed`.
    fn replay_prefix(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut args = self.argv.iter().map(|a| a.to_string_lossy().into_owned());
        words.push(args.next().unwrap_or_else(|| "sendid-conformance".into()));
        let mut skip_value = false;
        for arg in args {
            if std::mem::take(&mut skip_value) {
                continue;
            }
            let flag = arg.split('=').next().unwrap_or("");
            // The keys stay out of it, the seed is pinned, and a replay never overwrites the
            // reports of the run it replays.
            if SECRET_FLAGS.contains(&flag) || flag == "--seed" || flag == "--report" {
                skip_value = !arg.contains('=');
                continue;
            }
            words.push(arg);
        }
        words
            .iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What the runner is given: the flags as values, the command line gone.
    pub fn into_config(self) -> RunConfig {
        use std::io::IsTerminal;
        let replay_prefix = self.replay_prefix();
        RunConfig {
            timeout: self.timeout(),
            retry_backoff: self.retry_backoff(),
            progress: !self.no_progress && std::io::stderr().is_terminal(),
            ca_certs: self.ca_cert.map(|c| c.certs).unwrap_or_default(),
            base_url: self.base_url,
            api_key: self.api_key,
            forbidden_api_key: self.forbidden_api_key,
            campaign_ids: self.campaign_ids,
            spec: self.spec,
            profile: self.profile,
            cases: self.cases,
            seed: self.seed,
            max_creates: self.max_creates,
            exhaust_quota: self.exhaust_quota,
            concurrency: self.concurrency,
            retries: self.retries,
            max_shrinks: self.max_shrinks,
            reports: self.reports,
            fail_on_skipped: self.fail_on_skipped,
            verbose: self.verbose,
            replay_prefix,
        }
    }
}

/// Parses the command line; on `--help`/`--version` prints and returns `Err(Conformant)`, on bad
/// flags prints the error and returns `Err(Usage)` (exit 2).
pub fn parse<I, T>(args: I) -> Result<Cli, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if argv.iter().skip(1).any(|a| a == "--list-checks") {
        print!("{}", crate::classes::catalogue());
        return Err(Exit::Conformant);
    }
    match Cli::try_parse_from(argv.clone()) {
        Ok(mut cli) => {
            cli.argv = argv;
            Ok(cli)
        }
        Err(e) => {
            let _ = e.print();
            if e.kind() == clap::error::ErrorKind::MissingRequiredArgument {
                // clap names the flag only; the environment fallback is as good a way to give it.
                let text = e.to_string();
                for (flag, var) in ENV_FALLBACKS {
                    if text.contains(&format!("{flag} <")) {
                        eprintln!("  {flag} can also come from the environment: export {var}=…");
                    }
                }
            }
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
        other => Err(format!("scheme {other}: use http or https")),
    }
}

fn parse_report(s: &str) -> Result<ReportTarget, String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| "expected FORMAT=PATH, e.g. junit=report.xml".to_string())?;
    let format = match format {
        "junit" => ReportFormat::Junit,
        "json" => ReportFormat::Json,
        other => return Err(format!("unknown report format {other}: use junit or json")),
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
        .map_err(|_| format!("{s} is not a number of seconds"))?;
    if secs.is_finite() && (TIMEOUT_MIN..=TIMEOUT_MAX).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "{s} is out of bounds: the timeout must be from {TIMEOUT_MIN} to {TIMEOUT_MAX} seconds"
        ))
    }
}

fn parse_backoff(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("{s} is not a number of seconds"))?;
    if secs.is_finite() && (0.0..=60.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "{s} is out of bounds: the backoff must be from 0 to 60 seconds"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        parse(args.iter().copied()).expect("parses")
    }

    #[test]
    fn the_replay_command_keeps_every_flag_but_the_secrets_and_pins_the_seed() {
        let c = cli(&[
            "./target/release/sendid-conformance",
            "--base-url",
            "http://127.0.0.1:4010",
            "--api-key",
            "SECRET-1",
            "--forbidden-api-key=SECRET-2",
            "--campaign-id",
            "it's",
            "--cases",
            "6",
            "--seed",
            "99",
            "--exhaust-quota",
            "--report",
            "json=r.json",
            "--report=junit=r.xml",
        ]);
        let replay = c.replay_command(17);
        assert_eq!(
            replay,
            "./target/release/sendid-conformance --base-url http://127.0.0.1:4010 \
             --campaign-id 'it'\\''s' --cases 6 --exhaust-quota --seed 17"
        );
        assert_eq!(
            c.secret_env_vars(),
            vec!["SENDID_API_KEY", "SENDID_FORBIDDEN_API_KEY"]
        );
    }

    #[test]
    fn the_timeout_bounds_are_the_real_ones() {
        assert!(parse_timeout("0")
            .unwrap_err()
            .contains("from 0.001 to 3600"));
        assert!(parse_timeout("3601").is_err());
        assert_eq!(parse_timeout("0.001"), Ok(0.001));
        assert_eq!(parse_timeout("3600"), Ok(3600.0));
    }
}
