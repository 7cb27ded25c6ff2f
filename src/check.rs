//! `sendid check --data-dir DIR`: verifies a sled data directory without serving — what it
//! holds and whether it opens whole — the way `pg_checksums` or SQLite's `integrity_check` let
//! an operator look before trusting a store. Exit 0 whole, 1 damaged, 2 nothing to check.
use std::process::ExitCode;

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> ExitCode {
    match crate::store::sled::check::check(&args.data_dir) {
        Err(why) => {
            eprintln!("sendid check: {why}");
            ExitCode::from(2)
        }
        Ok(report) => {
            println!("sendid check: {}", args.data_dir.display());
            for fact in &report.facts {
                println!("  {fact}");
            }
            if report.damage.is_empty() {
                println!("  whole: yes");
                ExitCode::SUCCESS
            } else {
                for what in &report.damage {
                    println!("  DAMAGED: {what}");
                }
                println!(
                    "  whole: no — sendid refuses to start on it; restore it from a backup \
                     (see docs/operations.md)"
                );
                ExitCode::from(1)
            }
        }
    }
}
