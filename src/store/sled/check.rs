//! `sendid check`: what a data directory holds and whether it opens whole, without serving and
//! without writing to it — the seal is checked in place, and sled opens a copy (sled writes to
//! what it opens, and drops what it cannot read).
use std::path::{Path, PathBuf};

use super::engine::{Engine, Expect};
use super::layout::{from_json, PairRecord};
use super::marker;
use crate::store::{OpenError, StoreError, StoreOptions};

/// What `sendid check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Facts, one a line.
    pub facts: Vec<String>,
    /// What is wrong, one a line; empty when the store is whole.
    pub damage: Vec<String>,
}

/// Looks at the store in `dir`. `Err` when there is nothing to check (no such directory, not a
/// sendid store, in use by a server).
pub fn check(dir: &Path) -> Result<CheckReport, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut report = CheckReport::default();
    let db = dir.join("db");
    let found = match marker::read(dir) {
        Ok(m) => m,
        Err(e) => {
            report.damage.push(e.to_string());
            None
        }
    };
    match &found {
        Some(m) => report.facts.push(format!(
            "a sendid store ({}), created {}",
            m.format,
            marker::when(m.created_at)
        )),
        None if !db.exists() && report.damage.is_empty() => {
            return Err(format!(
                "{} holds no sendid store (no {} and no database file db)",
                dir.display(),
                marker::MARKER
            ))
        }
        None => report
            .facts
            .push("no marker (a store from before sendid kept one)".into()),
    }
    if db.exists() && !marker::released(dir) {
        return Err(format!(
            "{} is in use by a running sendid (it is locked); stop it first: its files change \
             while it runs",
            dir.display()
        ));
    }
    if let Some(seal) = found.as_ref().and_then(|m| m.sealed.as_ref()) {
        let changed = marker::damage(dir, seal);
        if changed.is_empty() {
            report.facts.push(format!(
                "closed cleanly at {}; every file is as sendid left it",
                marker::when(seal.at)
            ));
        } else {
            report.damage.extend(
                changed
                    .into_iter()
                    .map(|c| format!("{c} since sendid closed it at {}", marker::when(seal.at))),
            );
        }
    } else if found.is_some() {
        report.facts.push(
            "not closed cleanly (a crash, kill -9, or still running): no seal to compare \
             the files with"
                .into(),
        );
    }
    match std::fs::metadata(&db) {
        Err(_) => report.damage.push("its database file db is missing".into()),
        Ok(m) if m.len() == 0 => report.damage.push("its database file db is empty".into()),
        Ok(m) => report
            .facts
            .push(format!("database file db: {} bytes", m.len())),
    }
    if !report.damage.is_empty() {
        return Ok(report);
    }
    let expect = if found.is_some() {
        Expect::Existing
    } else {
        Expect::Unknown
    };
    match open_copy(dir, expect) {
        Ok(held) => report.facts.push(held),
        Err(e) => report.damage.push(format!("it does not open whole: {e}")),
    }
    Ok(report)
}

/// Opens a copy of the directory and counts what it holds, decoding every record.
fn open_copy(dir: &Path, expect: Expect) -> Result<String, String> {
    let copy = std::env::temp_dir().join(format!("sendid-check-{}", uuid::Uuid::new_v4()));
    let result = copy_dir(dir, &copy)
        .map_err(|e| format!("cannot copy it to {} to open it: {e}", copy.display()))
        .and_then(|()| count(&copy, expect).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(&copy);
    result
}

fn copy_dir(from: &Path, to: &PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn count(copy: &Path, expect: Expect) -> Result<String, OpenError> {
    let (engine, records) = Engine::open(copy, &StoreOptions::default(), expect)?;
    let mut pairs = 0u64;
    let counted = (|| {
        for item in engine.tree.scan_prefix(b"p:") {
            let (_, v) = item?;
            let _: PairRecord = from_json(&v)?;
            pairs += 1;
        }
        Ok::<_, StoreError>(())
    })();
    let _ = engine.stop();
    counted?;
    let revoked = records
        .keys
        .values()
        .filter(|k| k.revoked_at.is_some())
        .count();
    Ok(format!(
        "opens whole: {} workspaces, {} campaigns, {} API keys ({revoked} revoked), {pairs} pairs",
        records.workspaces.len(),
        records.campaigns.len(),
        records.keys.len(),
    ))
}
