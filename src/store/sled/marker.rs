//! What tells a new data directory from one that held a store and no longer opens whole: a
//! marker file (`sendid-store.json`) written when sendid creates the store, and at every clean
//! close a seal in it — the length and CRC-32 of each of sled's files as sendid left them.
//!
//! sled recovers a damaged log by dropping what it cannot read (and then writes over it), so a
//! damaged store would open as an emptier one, or as a new one. With the marker, a store that
//! held data must open with it; with the seal, a store closed cleanly is checked byte for byte
//! *before* sled touches it, so a damaged one is refused with nothing written. A store that was
//! not closed cleanly (a crash, `kill -9`) has no seal: it opens as sled recovers it, and must
//! still hold its format record.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::store::OpenError;

pub(crate) const MARKER: &str = "sendid-store.json";
const MARKER_TMP: &str = "sendid-store.json.tmp";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Marker {
    /// The layout's version (`layout::FORMAT`).
    pub format: String,
    /// When the store was created (Unix milliseconds).
    pub created_at: i64,
    /// Set at a clean close, removed before sled opens the files again.
    #[serde(default)]
    pub sealed: Option<Seal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seal {
    /// When the store was closed (Unix milliseconds).
    pub at: i64,
    /// Each regular file of the directory (the marker aside) as sendid left it.
    pub files: BTreeMap<String, FileSum>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileSum {
    pub len: u64,
    pub crc32: u32,
}

/// sled keeps these in its directory (with our marker); anything else means the directory
/// belongs to someone else.
pub(crate) fn is_store_file(name: &str) -> bool {
    matches!(
        name,
        "conf" | "db" | "blobs" | "lost+found" | MARKER | MARKER_TMP
    ) || name.starts_with("snap.")
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn when(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{millis} ms"))
}

/// The marker, `None` when the directory has none.
pub(crate) fn read(dir: &Path) -> Result<Option<Marker>, OpenError> {
    let path = dir.join(MARKER);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OpenError::Io {
                what: "cannot read",
                path,
                source,
            })
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        OpenError::Damaged(format!(
            "{} is damaged: its marker {MARKER} cannot be read ({e}); restore the data directory \
             from a backup, or look with `sendid check --data-dir {}`",
            dir.display(),
            dir.display()
        ))
    })
}

/// Writes the marker atomically (a temporary file, fsync, rename, fsync of the directory).
pub(crate) fn write(dir: &Path, marker: &Marker) -> Result<(), OpenError> {
    let fail = |source: std::io::Error| OpenError::Io {
        what: "cannot write",
        path: dir.join(MARKER),
        source,
    };
    let bytes = serde_json::to_vec_pretty(marker).map_err(crate::store::StoreError::Encode)?;
    let tmp = dir.join(MARKER_TMP);
    {
        let mut file = std::fs::File::create(&tmp).map_err(fail)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, dir.join(MARKER)).map_err(fail)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)
}

fn sum(path: &Path) -> std::io::Result<FileSum> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileSum {
        len,
        crc32: hasher.finalize(),
    })
}

/// Every regular file of the directory but the marker, summed.
pub(crate) fn seal_of(dir: &Path) -> std::io::Result<Seal> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MARKER || name == MARKER_TMP || !entry.file_type()?.is_file() {
            continue;
        }
        files.insert(name, sum(&entry.path())?);
    }
    Ok(Seal {
        at: now_millis(),
        files,
    })
}

/// What changed since the seal, in words; empty when every sealed file is as it was.
pub(crate) fn damage(dir: &Path, seal: &Seal) -> Vec<String> {
    let mut found = Vec::new();
    for (name, was) in &seal.files {
        let path = dir.join(name);
        match sum(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                found.push(format!("its file {name} is missing"))
            }
            Err(e) => found.push(format!("its file {name} cannot be read ({e})")),
            Ok(now) if now.len != was.len => found.push(format!(
                "its file {name} is {} bytes, and was {} when sendid closed it ({})",
                now.len,
                was.len,
                if now.len < was.len {
                    "truncated"
                } else {
                    "grown"
                }
            )),
            Ok(now) if now.crc32 != was.crc32 => found.push(format!(
                "the contents of its file {name} changed ({} bytes, the same length, but not the \
                 same bytes: overwritten)",
                now.len
            )),
            Ok(_) => {}
        }
    }
    found
}

/// Whether no process holds sled's lock on `db` any more (so sled has let go of the files).
pub(crate) fn released(dir: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(dir.join("db")) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; it is released when `file` is closed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Refuses a directory that holds other files and no sled database (say, a home directory given
/// as `--data-dir` by mistake): sled would otherwise write its files among them.
pub(crate) fn refuse_foreign_files(path: &Path) -> Result<(), OpenError> {
    let entries = std::fs::read_dir(path).map_err(|source| OpenError::Io {
        what: "cannot open data directory",
        path: path.to_path_buf(),
        source,
    })?;
    let mut foreign = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "db" || name == MARKER {
            return Ok(());
        }
        if !is_store_file(&name) {
            foreign.get_or_insert(name);
        }
    }
    match foreign {
        Some(name) => Err(OpenError::Damaged(format!(
            "{} is not a sendid data directory: it holds other files (such as {name:?}); \
             choose a new or empty directory with --data-dir",
            path.display()
        ))),
        None => Ok(()),
    }
}
