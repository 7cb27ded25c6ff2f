//! One open sled database and the threads that write to it. [`super::SledStore`] holds one at a
//! time and replaces it when sled cannot write any more: after an I/O error (a full disk) sled
//! refuses every later write of that open database, so writing again means opening it again
//! from what is on disk — which is what was acknowledged.
use std::path::Path;
use std::sync::Arc;

use super::group_commit::GroupCommit;
use super::layout::{FORMAT, FORMAT_KEY};
use super::pair_writer::PairWriter;
use crate::store::directory::Records;
use crate::store::{OpenError, StoreError, StoreOptions, StoreResult};

/// Written and flushed to test whether the disk takes writes again.
const PROBE_KEY: &[u8] = b"meta:probe";

pub(crate) struct Engine {
    pub db: ::sled::Db,
    pub tree: ::sled::Tree,
    pub commit: Arc<GroupCommit>,
    /// The only writer of pairs, usage counters and campaign sequences.
    pub pairs: PairWriter,
}

/// What the directory is expected to hold when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Nothing yet: a new store is set up.
    New,
    /// A store sendid created (its marker says so): it must open with its data.
    Existing,
    /// No marker (a directory from before markers): decided from what the database holds.
    Unknown,
}

impl Engine {
    /// Opens the database at `path` and checks it is a sendid store; returns it with its
    /// directory's records.
    pub fn open(
        path: &Path,
        options: &StoreOptions,
        expect: Expect,
    ) -> Result<(Self, Records), OpenError> {
        // sled recovers a damaged log by dropping what it cannot read, so a database file full of
        // garbage opens as an empty database; knowing it held something lets us refuse instead.
        let had_data = std::fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let db = ::sled::Config::new()
            .path(path)
            .mode(::sled::Mode::HighThroughput)
            // sled's default page cache is 1 GiB. What a request touches is small: the path from
            // the root to one leaf of the pairs and the last leaf of a campaign's creation-order
            // index (sled's leaves hold at most 16 keys, its index nodes 256). sled counts cached
            // nodes by their serialized size, and they take 2-3× that in memory: going from 8 MiB
            // to 2 MiB lowered the bench's peak RSS by 14 MiB (docs/performance.md). A miss is
            // read back from the OS page cache, not from the disk.
            .cache_capacity(2 * 1024 * 1024)
            // We flush ourselves (group commit); sled's timer would only add fsyncs.
            .flush_every_ms(None)
            .open()
            .map_err(|e| open_error(path, e))?;
        let tree = db.open_tree("sendid").map_err(|e| open_error(path, e))?;
        match tree.get(FORMAT_KEY)? {
            Some(v) if v.as_ref() == FORMAT => {}
            Some(v) => {
                return Err(OpenError::Damaged(format!(
                    "{} holds data of an unknown format {:?}; refusing to touch it",
                    path.display(),
                    String::from_utf8_lossy(&v)
                )))
            }
            None if expect == Expect::Existing => {
                return Err(OpenError::Damaged(format!(
                    "{} is damaged: it held a sendid store, and its database opens without it \
                     (the data cannot be read); restore it from a backup, or look with \
                     `sendid check --data-dir {}`",
                    path.display(),
                    path.display()
                )))
            }
            // `db` is sled's default tree: another program's data would be there.
            None if tree.is_empty() && db.is_empty() && db.tree_names().len() <= 2 && !had_data => {
                tree.insert(FORMAT_KEY, FORMAT)?;
                db.flush()?;
            }
            None if had_data && tree.is_empty() && db.is_empty() => {
                return Err(OpenError::Damaged(format!(
                    "{} is corrupt: its database file holds data that cannot be read; \
                     restore it from a backup or choose another --data-dir",
                    path.display()
                )))
            }
            None => {
                return Err(OpenError::Damaged(format!(
                    "{} is not a sendid data directory (it holds other data)",
                    path.display()
                )))
            }
        }
        let records = super::directory::load(&tree)?;
        let flush_db = db.clone();
        let commit = Arc::new(GroupCommit::start(
            move || flush_db.flush().map(|_| ()).map_err(|e| e.to_string()),
            options.fail_flush.clone(),
            options.observer.clone(),
        ));
        let pairs = PairWriter::start(tree.clone(), commit.clone());
        Ok((
            Self {
                db,
                tree,
                commit,
                pairs,
            },
            records,
        ))
    }

    pub fn apply(&self, batch: ::sled::Batch) -> StoreResult<u64> {
        self.tree.apply_batch(batch)?;
        Ok(self.commit.applied())
    }

    /// Whether a small write reaches the disk now (sled's own flush, not the injected faults
    /// of `StoreOptions::fail_flush`, which the requests themselves see).
    pub fn probe(&self, now_millis: i64) -> StoreResult<()> {
        self.tree.insert(PROBE_KEY, &now_millis.to_be_bytes()[..])?;
        self.db.flush()?;
        Ok(())
    }

    /// Answers what is queued, makes everything durable and stops the threads.
    pub fn stop(&self) -> StoreResult<()> {
        self.pairs.shutdown();
        let flushed = self.db.flush();
        self.commit.shutdown();
        flushed.map(|_| ()).map_err(StoreError::from)
    }
}

pub(crate) fn open_error(path: &Path, e: ::sled::Error) -> OpenError {
    match e {
        // sled 0.34 takes an exclusive `flock` on `<dir>/db` and reports a failure to get it as
        // `ErrorKind::Other` "could not acquire lock on …" wrapping EWOULDBLOCK.
        ::sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock") =>
        {
            OpenError::Locked {
                path: path.to_path_buf(),
            }
        }
        ::sled::Error::Io(io) => OpenError::Io {
            what: "cannot open data directory",
            path: path.to_path_buf(),
            source: io,
        },
        ::sled::Error::Corruption { .. } => OpenError::Damaged(format!(
            "{} is corrupt or not a sendid data directory: {e}",
            path.display()
        )),
        other => OpenError::Damaged(format!(
            "cannot open data directory {}: {other}",
            path.display()
        )),
    }
}
