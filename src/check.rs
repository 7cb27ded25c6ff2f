//! `sendid check --data-dir DIR`: verifies a sled data directory without serving — what it
//! holds and whether it opens whole — the way `pg_checksums` or SQLite's `integrity_check` let
//! an operator look before trusting a store. Exit 0 whole, 1 damaged, 2 nothing to check.
use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::telemetry::{print_stderr, print_stdout};

pub fn run(args: &CheckArgs) -> ExitCode {
    match crate::store::sled::check::check(&args.sled.data_dir) {
        Err(why) => {
            print_stderr(&format!("sendid check: {why}\n"));
            ExitCode::from(2)
        }
        Ok(report) => {
            // Printed with a closed or full stdout too: the exit code is the verdict.
            let mut out = format!("sendid check: {}\n", args.sled.data_dir.display());
            for fact in &report.facts {
                out.push_str(&format!("  {fact}\n"));
            }
            for what in &report.damage {
                out.push_str(&format!("  DAMAGED: {what}\n"));
            }
            let whole = report.damage.is_empty();
            out.push_str(if whole {
                "  whole: yes\n"
            } else {
                "  whole: no — sendid refuses to start on it; restore it from a backup \
                 (see docs/operations.md)\n"
            });
            print_stdout(&out);
            if whole {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
