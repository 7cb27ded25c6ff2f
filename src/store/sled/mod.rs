//! The embedded engine: [`Store`] on sled. Pairs and quota are written by one thread
//! (`pair_writer.rs`), admin changes under one lock, so check-then-write steps never race (that
//! is what keeps the quota from being over-spent); group commit (`group_commit.rs`) makes them
//! durable with one fsync for many writers. The key layout is in `layout.rs`.
mod directory;
mod group_commit;
mod layout;
mod pair_writer;

use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use self::group_commit::GroupCommit;
use self::layout::*;
use self::pair_writer::PairWriter;
use super::{
    ready, ApiKeyRecord, Campaign, CreateOutcome, Directory, NewSendId, PairJob, SendIdEntry,
    SendIdPage, Store, StoreError, StoreOptions, StoreResult, Workspace,
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
    db: ::sled::Db,
    tree: ::sled::Tree,
    commit: Arc<GroupCommit>,
    /// The only writer of pairs, usage counters and campaign sequences.
    pairs: PairWriter,
    /// Serialises the admin API's check-then-write steps (workspaces, campaigns, keys).
    admin: Mutex<()>,
    /// Workspaces, campaigns and keys in memory, changed with the tree under `admin`.
    directory: Directory,
}

impl SledStore {
    /// Opens (or creates) the data directory. Fails with a clear error when another process holds
    /// it, when it cannot be written, or when it is not a sendid data directory.
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
        refuse_foreign_files(path)?;
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
            // to 2 MiB lowered the bench's peak RSS by 14 MiB (README, "Performance"). A miss is
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
                return Err(StoreError::Corrupt(format!(
                    "{} holds data of an unknown format {:?}; refusing to touch it",
                    path.display(),
                    String::from_utf8_lossy(&v)
                )))
            }
            // `db` is sled's default tree: another program's data would be there.
            None if tree.is_empty() && db.is_empty() && db.tree_names().len() <= 2 && !had_data => {
                tree.insert(FORMAT_KEY, FORMAT)?;
                db.flush()?;
            }
            None if had_data && tree.is_empty() && db.is_empty() => {
                return Err(StoreError::Corrupt(format!(
                    "{} is corrupt: its database file holds data that cannot be read; \
                     restore it from a backup or choose another --data-dir",
                    path.display()
                )))
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "{} is not a sendid data directory (it holds other data)",
                    path.display()
                )))
            }
        }
        let flush_db = db.clone();
        let commit = Arc::new(GroupCommit::start(
            move || flush_db.flush().map(|_| ()).map_err(|e| e.to_string()),
            options.fail_flush,
            options.observer,
        ));
        let pairs = PairWriter::start(tree.clone(), commit.clone());
        let directory = Directory::new(directory::load(&tree)?);
        Ok(Self {
            db,
            tree,
            commit,
            pairs,
            admin: Mutex::new(()),
            directory,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, batch: ::sled::Batch) -> StoreResult<u64> {
        self.tree.apply_batch(batch)?;
        Ok(self.commit.applied())
    }

    fn used(&self, workspace_id: &str, day: UtcDay) -> StoreResult<u64> {
        match self.tree.get(usage_key(workspace_id, day))? {
            Some(v) => decode_u64(&v),
            None => Ok(0),
        }
    }

    /// Flushes everything and stops the writer and the flusher; used at shutdown.
    pub fn close_now(&self) -> StoreResult<()> {
        self.pairs.shutdown();
        self.db.flush()?;
        self.commit.shutdown();
        Ok(())
    }

    async fn insert_new(
        &self,
        k: Vec<u8>,
        v: Vec<u8>,
        extra: Option<(Vec<u8>, Vec<u8>)>,
        what: &'static str,
        applied: impl FnOnce(&mut super::directory::Records),
    ) -> StoreResult<()> {
        let seq = {
            let _guard = self.lock();
            if self.tree.contains_key(&k)? {
                return Err(StoreError::Conflict(what));
            }
            let mut batch = ::sled::Batch::default();
            batch.insert(k, v);
            if let Some((k2, v2)) = extra {
                batch.insert(k2, v2);
            }
            let seq = self.apply(batch)?;
            self.directory.change(applied);
            seq
        };
        self.commit.wait_durable(seq).await
    }
}

/// sled keeps these in its directory; anything else means the directory belongs to someone else.
fn is_sled_file(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs" | "lost+found") || name.starts_with("snap.")
}

/// Refuses a directory that holds other files and no sled database (say, a home directory given
/// as `--data-dir` by mistake): sled would otherwise write its files among them.
fn refuse_foreign_files(path: &Path) -> StoreResult<()> {
    let entries = std::fs::read_dir(path).map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot open data directory {}: {e}",
            path.display()
        ))
    })?;
    let mut foreign = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "db" {
            return Ok(());
        }
        if !is_sled_file(&name) {
            foreign.get_or_insert(name);
        }
    }
    match foreign {
        Some(name) => Err(StoreError::Corrupt(format!(
            "{} is not a sendid data directory: it holds other files (such as {name:?}); \
             choose a new or empty directory with --data-dir",
            path.display()
        ))),
        None => Ok(()),
    }
}

fn open_error(path: &Path, e: ::sled::Error) -> StoreError {
    match e {
        // sled 0.34 takes an exclusive `flock` on `<dir>/db` and reports a failure to get it as
        // `ErrorKind::Other` "could not acquire lock on …" wrapping EWOULDBLOCK.
        ::sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock") =>
        {
            StoreError::Locked(format!(
                "{} is in use by another sendid process (it is locked); stop that process or choose another --data-dir",
                path.display()
            ))
        }
        ::sled::Error::Io(io) => StoreError::Unavailable(format!(
            "cannot open data directory {}: {io}",
            path.display()
        )),
        ::sled::Error::Corruption { .. } => StoreError::Corrupt(format!(
            "{} is corrupt or not a sendid data directory: {e}",
            path.display()
        )),
        other => StoreError::Corrupt(format!(
            "cannot open data directory {}: {other}",
            path.display()
        )),
    }
}

impl Store for SledStore {
    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let seq = {
                let _guard = self.lock();
                if self.tree.contains_key(BOOTSTRAPPED_KEY)? {
                    return Ok(false);
                }
                let workspace = &Workspace {
                    seq: self.db.generate_id()?,
                    ..workspace.clone()
                };
                let campaign = &Campaign {
                    seq: self.db.generate_id()?,
                    ..campaign.clone()
                };
                let key = &ApiKeyRecord {
                    seq: self.db.generate_id()?,
                    ..key.clone()
                };
                let mut batch = ::sled::Batch::default();
                batch.insert(workspace_key(&workspace.id), to_json(workspace)?);
                batch.insert(campaign_key(&campaign.campaign_id), to_json(campaign)?);
                batch.insert(api_key_key(&key.hash), to_json(key)?);
                batch.insert(key_id_key(&key.key_id), &key.hash[..]);
                batch.insert(BOOTSTRAPPED_KEY, &b"1"[..]);
                let seq = self.apply(batch)?;
                self.directory.change(|d| {
                    d.workspaces.insert(workspace.id.clone(), workspace.clone());
                    d.campaigns
                        .insert(campaign.campaign_id.clone(), campaign.clone());
                    d.keys.insert(key.hash, key.clone());
                });
                seq
            };
            self.commit.wait_durable(seq).await?;
            Ok(true)
        }
        .boxed()
    }

    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let workspace = &Workspace {
                seq: self.db.generate_id()?,
                ..workspace.clone()
            };
            self.insert_new(
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
        ready(self.used(workspace_id, day))
    }

    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let campaign = &Campaign {
                seq: self.db.generate_id()?,
                ..campaign.clone()
            };
            self.insert_new(
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
            let key = &ApiKeyRecord {
                seq: self.db.generate_id()?,
                ..key.clone()
            };
            self.insert_new(
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
        async move {
            let seq = {
                let _guard = self.lock();
                let Some(hash) = self.tree.get(key_id_key(key_id))? else {
                    return Ok(false);
                };
                let hash: [u8; 32] = hash[..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a key index entry is malformed".into()))?;
                let Some(mut record) = self.directory.with(|d| d.keys.get(&hash).cloned()) else {
                    return Ok(false);
                };
                if record.revoked_at.is_some() {
                    return Ok(false);
                }
                // Kept, marked revoked: the listing still shows it, authentication never again.
                record.revoked_at = Some(now_millis);
                let mut batch = ::sled::Batch::default();
                batch.insert(api_key_key(&hash), to_json(&record)?);
                let seq = self.apply(batch)?;
                // Revoked in memory before the 204: from then on the key answers 401.
                self.directory.change(|d| {
                    d.keys.insert(hash, record);
                });
                seq
            };
            self.commit.wait_durable(seq).await?;
            Ok(true)
        }
        .boxed()
    }

    fn create_send_id<'a>(
        &'a self,
        req: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>> {
        async move {
            let now_seconds = req.now_millis.div_euclid(1000);
            let limit = req.workspace.daily_send_id_quota;
            let pk = pair_key(req.campaign_id, req.send_id.as_str());
            // A repeat of a durable pair needs no writer: check the tree first, then that no
            // write of it is in flight (the writer registers a pair before it becomes visible).
            if self.tree.contains_key(&pk)? && !self.pairs.is_pending(&pk) {
                let used = self.used(&req.workspace.id, UtcDay::containing(now_seconds))?;
                return Ok(CreateOutcome::Existing(QuotaStatus::new(
                    limit,
                    used,
                    now_seconds,
                )));
            }
            self.pairs.submit(PairJob::new(&req)).await
        }
        .boxed()
    }

    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>> {
        ready(self.list_send_ids_now(campaign_id, after, limit))
    }

    fn health(&self) -> BoxFuture<'_, StoreResult<()>> {
        ready(Ok(()))
    }

    fn close(&self) -> BoxFuture<'_, StoreResult<()>> {
        ready(self.close_now())
    }

    fn reset(&self) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            let seq = {
                let _guard = self.lock();
                // One atomic batch removing every key but the format mark.
                let mut batch = ::sled::Batch::default();
                for key in self.tree.iter().keys() {
                    let key = key?;
                    if key.as_ref() != FORMAT_KEY {
                        batch.remove(key);
                    }
                }
                let seq = self.apply(batch)?;
                self.directory.change(|d| *d = Default::default());
                seq
            };
            self.commit.wait_durable(seq).await
        }
        .boxed()
    }
}

impl SledStore {
    fn list_send_ids_now(
        &self,
        campaign_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<SendIdPage> {
        let prefix = log_prefix(campaign_id);
        // Sequence numbers start at 1; the first wanted may sit inside a record that starts
        // before it, so begin at the last record starting at or before it.
        let first_wanted = after.map_or(1, |a| a.saturating_add(1));
        let wanted_key = log_key(campaign_id, first_wanted);
        let from = match self
            .tree
            .range(prefix.clone()..=wanted_key.clone())
            .next_back()
        {
            Some(item) => item?.0.to_vec(),
            None => wanted_key,
        };
        let mut entries = Vec::with_capacity(limit.min(1000));
        let mut last_seq = None;
        let mut more = false;
        'records: for item in self.tree.range(from..) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let first = decode_u64(&k[prefix.len()..])?;
            let record: Vec<SendIdEntry> = if v.first() == Some(&b'[') {
                from_json(&v)?
            } else {
                vec![from_json(&v)?]
            };
            for (seq, entry) in (first..).zip(record) {
                if seq < first_wanted {
                    continue;
                }
                if entries.len() == limit {
                    more = true;
                    break 'records;
                }
                entries.push(entry);
                last_seq = Some(seq);
            }
        }
        Ok(SendIdPage {
            entries,
            next: if more { last_seq } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(send_id: &str) -> SendIdEntry {
        SendIdEntry {
            send_id: send_id.into(),
            created_at: 1,
        }
    }

    /// A log written one object per pair (before groups shared a record) and one written a group
    /// per record read as one sequence, whatever the page size.
    #[test]
    fn the_listing_reads_single_and_group_records_across_page_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("data"), StoreOptions::default()).unwrap();
        let c = "camp";
        let mut batch = ::sled::Batch::default();
        batch.insert(log_key(c, 1), to_json(&entry("a")).unwrap());
        batch.insert(log_key(c, 2), to_json(&entry("b")).unwrap());
        let group = vec![entry("c"), entry("d"), entry("e")];
        batch.insert(log_key(c, 3), to_json(&group).unwrap());
        batch.insert(log_key(c, 6), to_json(&vec![entry("f")]).unwrap());
        batch.insert(log_key("camp2", 1), to_json(&entry("other")).unwrap());
        store.tree.apply_batch(batch).unwrap();
        let all: Vec<&str> = vec!["a", "b", "c", "d", "e", "f"];
        for limit in 1..=7 {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store.list_send_ids_now(c, after, limit).unwrap();
                seen.extend(page.entries.iter().map(|e| e.send_id.clone()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen, all, "pages of {limit}");
        }
        let from_d = store.list_send_ids_now(c, Some(3), 2).unwrap();
        let ids: Vec<&str> = from_d.entries.iter().map(|e| e.send_id.as_str()).collect();
        assert_eq!((ids, from_d.next), (vec!["d", "e"], Some(5)));
        store.close_now().unwrap();
    }
}
