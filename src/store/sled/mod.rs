//! The embedded engine: [`Store`] on sled. Pairs and quota are written by one thread
//! (`pair_writer.rs`), admin changes under one lock, so check-then-write steps never race (that
//! is what keeps the quota from being over-spent); group commit (`group_commit.rs`) makes them
//! durable with one fsync for many writers. The key layout is in `layout.rs`.
//!
//! - `engine.rs`: one open sled database with its threads;
//! - `recovery.rs`: a store that cannot write (a full disk): 503 for writes, and reopening the
//!   database once it can;
//! - `marker.rs`: a new directory told from a damaged one, checked before sled touches it;
//! - `check.rs`: `sendid check`, which looks at a copy.
pub(crate) mod check;
mod directory;
mod dispatches;
mod edits;
mod engine;
mod group_commit;
mod layout;
mod listing;
mod marker;
mod pair_writer;
mod recovery;
mod stats;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use self::engine::{Engine, Expect};
use self::layout::*;
use self::marker::Marker;
use self::recovery::{Fault, Recovery, Shared};
use super::{
    ready, ApiKeyRecord, Campaign, CreateOutcome, Directory, NewSendId, PairJob, SendIdPage, Store,
    StoreError, StoreOptions, StoreResult, Workspace, WorkspaceChange,
};
use crate::domain::{QuotaStatus, UtcDay};

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

pub struct SledStore {
    shared: Arc<Shared>,
    recovery: Recovery,
    /// The marker as this start wrote it, sealed at a clean close.
    marker: Mutex<Marker>,
}

fn used(tree: &::sled::Tree, workspace_id: &str, day: UtcDay) -> StoreResult<u64> {
    match tree.get(usage_key(workspace_id, day))? {
        Some(v) => decode_u64(&v),
        None => Ok(0),
    }
}

impl SledStore {
    /// Opens (or creates) the data directory. Fails with a clear error when another process holds
    /// it, when it cannot be written, when it is not a sendid data directory, or when it held a
    /// store that no longer opens whole (and then nothing in it was written).
    pub fn open(path: &Path, options: StoreOptions) -> StoreResult<Self> {
        if path.exists() && !path.is_dir() {
            return Err(StoreError::Unavailable(format!(
                "cannot create data directory {}: it is a file, not a directory",
                path.display()
            )));
        }
        std::fs::create_dir_all(path).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                path.display()
            ))
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
    pub fn close_now(&self) -> StoreResult<()> {
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

    async fn insert_new(
        &self,
        e: &Arc<Engine>,
        k: Vec<u8>,
        v: Vec<u8>,
        extra: Option<(Vec<u8>, Vec<u8>)>,
        what: &'static str,
        applied: impl FnOnce(&mut super::directory::Records),
    ) -> StoreResult<()> {
        let s = &*self.shared;
        let seq = {
            let _guard = s.lock();
            if e.tree.contains_key(&k)? {
                return Err(StoreError::Conflict(what));
            }
            let mut batch = ::sled::Batch::default();
            batch.insert(k, v);
            if let Some((k2, v2)) = extra {
                batch.insert(k2, v2);
            }
            let seq = s.noted(e, e.apply(batch), false)?;
            s.directory.change(applied);
            seq
        };
        s.noted(e, e.commit.wait_durable(seq).await, true)
    }
}

/// A directory with a marker held a store: when it was sealed at a clean close, every file must
/// be as it was (checked before sled opens, so a damaged store is refused with nothing written);
/// sled's database file must be there in any case.
fn verify(path: &Path, m: &Marker) -> StoreResult<()> {
    let refuse = |what: String| {
        StoreError::Corrupt(format!(
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

impl Store for SledStore {
    fn directory(&self) -> &Directory {
        &self.shared.directory
    }

    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let s = &*self.shared;
            let e = s.engine()?;
            let seq = {
                let _guard = s.lock();
                if e.tree.contains_key(BOOTSTRAPPED_KEY)? {
                    return Ok(false);
                }
                let workspace = &Workspace {
                    seq: e.db.generate_id()?,
                    ..workspace.clone()
                };
                let campaign = &Campaign {
                    seq: e.db.generate_id()?,
                    ..campaign.clone()
                };
                let key = &ApiKeyRecord {
                    seq: e.db.generate_id()?,
                    ..key.clone()
                };
                let mut batch = ::sled::Batch::default();
                batch.insert(workspace_key(&workspace.id), to_json(workspace)?);
                batch.insert(campaign_key(&campaign.campaign_id), to_json(campaign)?);
                batch.insert(api_key_key(&key.hash), to_json(key)?);
                batch.insert(key_id_key(&key.key_id), &key.hash[..]);
                batch.insert(BOOTSTRAPPED_KEY, &b"1"[..]);
                let seq = s.noted(&e, e.apply(batch), false)?;
                s.directory.change(|d| {
                    d.workspaces.insert(workspace.id.clone(), workspace.clone());
                    d.campaigns
                        .insert(campaign.campaign_id.clone(), campaign.clone());
                    d.keys.insert(key.hash, key.clone());
                });
                seq
            };
            s.noted(&e, e.commit.wait_durable(seq).await, true)?;
            Ok(true)
        }
        .boxed()
    }

    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let e = self.shared.engine()?;
            let workspace = &Workspace {
                seq: e.db.generate_id()?,
                ..workspace.clone()
            };
            self.insert_new(
                &e,
                workspace_key(&workspace.id),
                to_json(workspace)?,
                None,
                "workspace",
                |d| {
                    d.workspaces.insert(workspace.id.clone(), workspace.clone());
                },
            )
            .await
        }
        .boxed()
    }

    fn used_on<'a>(
        &'a self,
        workspace_id: &'a str,
        day: UtcDay,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        ready(
            self.shared
                .engine()
                .and_then(|e| used(&e.tree, workspace_id, day)),
        )
    }

    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let e = self.shared.engine()?;
            let campaign = &Campaign {
                seq: e.db.generate_id()?,
                ..campaign.clone()
            };
            self.insert_new(
                &e,
                campaign_key(&campaign.campaign_id),
                to_json(campaign)?,
                None,
                "campaign",
                |d| {
                    d.campaigns
                        .insert(campaign.campaign_id.clone(), campaign.clone());
                },
            )
            .await
        }
        .boxed()
    }

    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let e = self.shared.engine()?;
            let key = &ApiKeyRecord {
                seq: e.db.generate_id()?,
                ..key.clone()
            };
            self.insert_new(
                &e,
                api_key_key(&key.hash),
                to_json(key)?,
                Some((key_id_key(&key.key_id), key.hash.to_vec())),
                "api key",
                |d| {
                    d.keys.insert(key.hash, key.clone());
                },
            )
            .await
        }
        .boxed()
    }

    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        // Kept, marked revoked: the listing still shows it, authentication never again (from
        // the 204 on: the record changes in memory first).
        self.change_api_key(key_id, move |record| {
            let active = record.revoked_at.is_none();
            if active {
                record.revoked_at = Some(now_millis);
            }
            active
        })
        .boxed()
    }

    // Admin edits: `edits.rs`.
    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        self.update_workspace_now(id, change).boxed()
    }

    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.delete_workspace_now(id).boxed()
    }

    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.rename_campaign_now(campaign_id, name).boxed()
    }

    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.delete_campaign_now(campaign_id).boxed()
    }

    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>> {
        self.update_api_key_now(key).boxed()
    }

    fn create_send_id<'a>(
        &'a self,
        req: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>> {
        async move {
            let now_seconds = req.now_millis.div_euclid(1000);
            let limit = req.workspace.daily_send_id_quota;
            let s = &*self.shared;
            let e = s.engine()?;
            let pk = pair_key(req.campaign_id, req.send_id.as_str());
            // A repeat of a durable pair needs no writer: check the tree first, then that no
            // write of it is in flight (the writer registers a pair before it becomes visible).
            if e.tree.contains_key(&pk)? && !e.pairs.is_pending(&pk) {
                let used = used(&e.tree, &req.workspace.id, UtcDay::containing(now_seconds))?;
                return Ok(CreateOutcome::Existing(QuotaStatus::new(
                    limit,
                    used,
                    now_seconds,
                )));
            }
            let answer = e.pairs.submit(PairJob::new(&req)).await;
            let wrote = matches!(answer, Ok(CreateOutcome::Created(_)));
            s.noted(&e, answer, wrote)
        }
        .boxed()
    }

    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>> {
        ready(
            self.shared
                .engine()
                .and_then(|e| listing::list_send_ids(&e.tree, campaign_id, after, limit)),
        )
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
        ready(self.close_now())
    }

    fn reset(&self) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            let s = &*self.shared;
            let e = s.engine()?;
            let seq = {
                let _guard = s.lock();
                // One atomic batch removing every key but the format mark.
                let mut batch = ::sled::Batch::default();
                for key in e.tree.iter().keys() {
                    let key = key?;
                    if key.as_ref() != FORMAT_KEY {
                        batch.remove(key);
                    }
                }
                let seq = s.noted(&e, e.apply(batch), false)?;
                s.directory.change(|d| *d = Default::default());
                seq
            };
            s.noted(&e, e.commit.wait_durable(seq).await, true)
        }
        .boxed()
    }
}
