//! The embedded engine: [`Store`] on sled. Pairs and quota are written by one thread
//! (`pair_writer.rs`), admin changes under one lock, so check-then-write steps never race (that
//! is what keeps the quota from being over-spent); group commit (`group_commit.rs`) makes them
//! durable with one fsync for many writers. The key layout is in `layout.rs`.
//!
//! - The resources, one file each: `workspaces.rs`, `campaigns.rs`, `api_keys.rs`, `pairs.rs`;
//!   here the store's opening, closing, demo bootstrap and reset.
//! - `shared.rs`: what the store shares with its recovery thread, and the one sequence every
//!   admin write follows (lock, apply, directory change, durable wait);
//! - `engine.rs`: one open sled database with its threads; `directory.rs` loads the records;
//! - `recovery.rs`: a store that cannot write (a full disk): 503 for writes, and reopening the
//!   database once it can;
//! - `marker.rs`: a new directory told from a damaged one, checked before sled touches it;
//! - `check.rs`: `sendid check`, which looks at a copy.
mod api_keys;
mod campaigns;
pub(crate) mod check;
mod directory;
mod dispatches;
mod engine;
mod group_commit;
mod layout;
mod marker;
mod pair_writer;
mod pairs;
mod recovery;
mod shared;
mod stats;
mod workspaces;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use self::engine::{Engine, Expect};
use self::layout::{BOOTSTRAPPED_KEY, FORMAT, FORMAT_KEY};
use self::marker::Marker;
use self::recovery::{Fault, Recovery};
use self::shared::{Shared, Step};
use super::{
    ready, ApiKeyRecord, Campaign, Directory, HasDirectory, OpenError, Store, StoreError,
    StoreOptions, StoreResult, Workspace,
};

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        match e {
            ::sled::Error::Corruption { .. } => {
                StoreError::Corrupt(format!("data is corrupt: {e}"))
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// sled failing while a store is opened (not the directory's fault: an I/O error).
impl From<::sled::Error> for OpenError {
    fn from(e: ::sled::Error) -> Self {
        OpenError::Store(e.into())
    }
}

pub struct SledStore {
    shared: Arc<Shared>,
    recovery: Recovery,
    /// The marker as this start wrote it, sealed at a clean close.
    marker: Mutex<Marker>,
}

impl SledStore {
    /// Opens (or creates) the data directory. Fails with a clear error when another process holds
    /// it, when it cannot be written, when it is not a sendid data directory, or when it held a
    /// store that no longer opens whole (and then nothing in it was written).
    pub fn open(path: &Path, options: StoreOptions) -> Result<Self, OpenError> {
        if path.exists() && !path.is_dir() {
            return Err(OpenError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        std::fs::create_dir_all(path).map_err(|source| OpenError::Io {
            what: "cannot create data directory",
            path: path.to_path_buf(),
            source,
        })?;
        marker::refuse_foreign_files(path)?;
        let found = marker::read(path)?;
        let expect = match &found {
            Some(m) => {
                verify(path, m)?;
                if m.sealed.is_some() {
                    // Unsealed before sled touches the files: a crash from here on must not
                    // leave a seal that no longer holds.
                    let unsealed = Marker {
                        sealed: None,
                        ..m.clone()
                    };
                    marker::write(path, &unsealed)?;
                }
                Expect::Existing
            }
            None if std::fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0) => {
                Expect::Unknown
            }
            None => Expect::New,
        };
        let (engine, records) = Engine::open(path, &options, expect)?;
        let marker = Marker {
            format: String::from_utf8_lossy(FORMAT).into_owned(),
            created_at: found.map_or_else(marker::now_millis, |m| m.created_at),
            sealed: None,
        };
        if let Err(e) = marker::write(path, &marker) {
            let _ = engine.stop();
            return Err(e);
        }
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            fault: Fault::new(options.observer.clone()),
            options,
            engine: RwLock::new(Some(Arc::new(engine))),
            admin: Mutex::new(()),
            directory: Directory::new(records),
        });
        Ok(Self {
            recovery: Recovery::start(Arc::downgrade(&shared)),
            shared,
            marker: Mutex::new(marker),
        })
    }

    /// Flushes everything and stops the writer and the flusher; used at shutdown. Then seals
    /// the directory (`marker.rs`), so the next start can tell it is whole.
    fn stop_and_seal(&self) -> StoreResult<()> {
        self.recovery.stop();
        let Some(stopped) = self.shared.take_engine() else {
            return Ok(());
        };
        stopped?;
        if self.shared.fault.is_set() {
            return Ok(());
        }
        self.seal();
        Ok(())
    }

    fn seal(&self) {
        let path = &self.shared.path;
        let deadline = Instant::now() + Duration::from_secs(3);
        while !marker::released(path) {
            if Instant::now() > deadline {
                tracing::warn!("sled still holds the data directory; it is not sealed");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut marker = self.marker.lock().unwrap_or_else(|p| p.into_inner());
        match marker::seal_of(path) {
            Ok(seal) => {
                marker.sealed = Some(seal);
                if let Err(e) = marker::write(path, &marker) {
                    tracing::warn!(error = %e, "sealing the data directory failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "sealing the data directory failed"),
        }
    }
}

/// A directory with a marker held a store: when it was sealed at a clean close, every file must
/// be as it was (checked before sled opens, so a damaged store is refused with nothing written);
/// sled's database file must be there in any case.
fn verify(path: &Path, m: &Marker) -> Result<(), OpenError> {
    let refuse = |what: String| {
        OpenError::Damaged(format!(
            "{} is damaged: {what}. It held a sendid store (created {}), so it is not taken for a \
             new one and nothing was written; restore the data directory from a backup, or look \
             with `sendid check --data-dir {}`",
            path.display(),
            marker::when(m.created_at),
            path.display()
        ))
    };
    match std::fs::metadata(path.join("db")) {
        Err(_) => return Err(refuse("its database file db is missing".into())),
        Ok(meta) if meta.len() == 0 => {
            return Err(refuse("its database file db is empty (truncated)".into()))
        }
        Ok(_) => {}
    }
    if let Some(seal) = &m.sealed {
        let found = marker::damage(path, seal);
        if !found.is_empty() {
            return Err(refuse(format!(
                "{} since sendid closed it cleanly at {} (the data directory's files are corrupt)",
                found.join("; "),
                marker::when(seal.at)
            )));
        }
    }
    Ok(())
}

impl HasDirectory for SledStore {
    fn directory(&self) -> &Directory {
        &self.shared.directory
    }
}

impl Store for SledStore {
    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.shared
            .admin_write(move |e, _| {
                if e.tree.contains_key(BOOTSTRAPPED_KEY)? {
                    return Ok(Step::Answer(false));
                }
                let workspace = Workspace {
                    seq: e.db.generate_id()?,
                    ..workspace.clone()
                };
                let campaign = Campaign {
                    seq: e.db.generate_id()?,
                    ..campaign.clone()
                };
                let key = ApiKeyRecord {
                    seq: e.db.generate_id()?,
                    ..key.clone()
                };
                let mut batch = ::sled::Batch::default();
                workspaces::write(&mut batch, &workspace)?;
                campaigns::write(&mut batch, &campaign)?;
                api_keys::write(&mut batch, &key)?;
                batch.insert(BOOTSTRAPPED_KEY, &b"1"[..]);
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.put_workspace(workspace);
                        d.put_campaign(campaign);
                        d.put_key(key);
                        true
                    }),
                ))
            })
            .boxed()
    }

    fn health(&self) -> BoxFuture<'_, StoreResult<()>> {
        ready(match self.shared.fault.cause() {
            Some(cause) => Err(StoreError::Unavailable(format!(
                "cannot write to {}: {cause}",
                self.shared.path.display()
            ))),
            None => self.shared.engine().map(|_| ()),
        })
    }

    fn close(&self) -> BoxFuture<'_, StoreResult<()>> {
        ready(self.stop_and_seal())
    }

    fn reset(&self) -> BoxFuture<'_, StoreResult<()>> {
        self.shared
            .admin_write(|e, _| {
                // One atomic batch removing every key but the format mark.
                let mut batch = ::sled::Batch::default();
                for key in e.tree.iter().keys() {
                    let key = key?;
                    if key.as_ref() != FORMAT_KEY {
                        batch.remove(key);
                    }
                }
                Ok(Step::Write(
                    batch,
                    Box::new(|d| d.replace(Default::default())),
                ))
            })
            .boxed()
    }
}
