//! The storage seam: the [`Store`] trait every engine implements. Nothing here knows an engine:
//! the embedded default lives in `sled/`, the shared one in `postgres/`.
//!
//! - What is decided once, for every engine: rules 6–8 by `domain::quota::PairLedger`; the
//!   directory's reads (key lookup with revocation, workspaces, campaigns, listings) by
//!   `directory.rs`, as the trait's provided methods; the writers' queue by `queue.rs`.
//! - What an engine supplies: its storage — loading the directory and keeping it current, the
//!   admin writes, and the pair writer that finds what the ledger needs and applies its
//!   decision atomically and durably.
pub mod directory;
pub mod lifecycle;
pub mod postgres;
mod queue;
mod records;
pub mod sled;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::domain::{KeyHash, UtcDay};

pub use self::directory::Directory;
pub use self::postgres::PgStore;
pub(crate) use self::queue::{pair_queue, PairJob, PairQueue, Reply};
pub use self::records::{
    ApiKeyRecord, Campaign, CreateOutcome, ListCursor, NewSendId, Page, SendIdEntry, SendIdPage,
    Workspace, WorkspaceChange,
};
pub use self::sled::SledStore;

/// Told about every group commit (one durable write releasing a batch of writers), for metrics.
pub trait FlushObserver: Send + Sync {
    fn flushed(&self, batch: usize, elapsed: std::time::Duration, ok: bool);
    /// The store stopped being able to write (`Some(cause)`) or can again (`None`).
    fn writable(&self, _cause: Option<&str>) {}
}

/// Knobs for tests and operations, the same for every engine.
#[derive(Clone, Default)]
pub struct StoreOptions {
    /// When set to true, every commit of new pairs fails (fault injection for the 503 path).
    pub fail_flush: Option<Arc<AtomicBool>>,
    /// Told about every group commit (metrics).
    pub observer: Option<Arc<dyn FlushObserver>>,
    /// How long a database may take to connect, hand out a connection or answer a statement
    /// before the request is answered 503 (`--database-timeout`); `None`: 5 s.
    pub database_timeout: Option<std::time::Duration>,
}

/// `--database-timeout`'s default.
pub const DEFAULT_DATABASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// The data directory is held by another process (sled's lock); the message names it.
    #[error("{0}")]
    Locked(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An answer known without waiting, as the trait's future.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    futures_util::future::ready(value).boxed()
}

/// Everything sendid keeps. Every method is a future: an engine may need the network for any of
/// them. Writes resolve only once the write is durable (on disk, or committed).
///
/// The directory's reads are provided here, from [`Store::directory`], the same for every
/// engine; an engine implements the rest.
pub trait Store: lifecycle::DispatchStore + lifecycle::StatsStore {
    /// The engine's workspaces, campaigns and keys, kept current with every write it commits.
    fn directory(&self) -> &Directory;

    /// Creates the demo workspace, campaign and key on a new store, atomically. Returns `false`
    /// (and writes nothing) when the store was set up before (by this or another instance).
    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>>;

    fn workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        ready(Ok(self.directory().workspace(id)))
    }

    /// Quota units spent by `workspace_id` on `day`.
    fn used_on<'a>(&'a self, workspace_id: &'a str, day: UtcDay)
        -> BoxFuture<'a, StoreResult<u64>>;

    /// Fails with `Conflict` when the campaign id exists (in any workspace).
    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>>;

    fn campaign<'a>(
        &'a self,
        campaign_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Campaign>>> {
        ready(Ok(self.directory().campaign(campaign_id)))
    }

    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>>;

    /// The key with this hash, unless it is revoked.
    fn api_key_by_hash<'a>(
        &'a self,
        hash: &'a KeyHash,
    ) -> BoxFuture<'a, StoreResult<Option<ApiKeyRecord>>> {
        ready(Ok(self.directory().active_key(hash)))
    }

    /// Returns `false` when no such key exists or it is already revoked.
    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    // Admin edits (PATCH/DELETE, fixtures). Each resolves once durable and changes the
    // directory before it does, so the next request sees it.

    /// Changes what `change` gives of a workspace; its spent quota stays. `None` when there is
    /// no such workspace.
    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>>;
    /// Deletes a workspace with its campaigns, their pairs, its keys and its quota counters.
    /// `false` when there is no such workspace.
    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
    /// Renames a campaign; `false` when there is no such campaign.
    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;
    /// Deletes a campaign and its pairs; the quota they spent stays spent. `false` when there
    /// is no such campaign.
    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
    /// Replaces the name, permissions and allow-list of the key `key.key_id` (its hash,
    /// workspace and revocation stay). `false` when there is no such key.
    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>>;

    /// Rules 6–8 of docs/contract.md §1 in one atomic step: find the pair, or spend one unit of
    /// today's quota and create it, or refuse. Resolves only when the answer is durable.
    fn create_send_id<'a>(
        &'a self,
        request: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>>;

    /// Workspaces in creation order.
    fn list_workspaces<'a>(
        &'a self,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<Workspace>>> {
        ready(Ok(self.directory().list_workspaces(after, limit)))
    }

    /// The campaigns of a workspace, in creation order.
    fn list_campaigns<'a>(
        &'a self,
        workspace_id: &'a str,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<Campaign>>> {
        ready(Ok(self.directory().list_campaigns(
            workspace_id,
            after,
            limit,
        )))
    }

    /// The keys of a workspace, revoked ones included, in creation order.
    fn list_api_keys<'a>(
        &'a self,
        workspace_id: &'a str,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<ApiKeyRecord>>> {
        ready(Ok(self.directory().list_api_keys(
            workspace_id,
            after,
            limit,
        )))
    }

    /// Pairs of a campaign in creation order, after the cursor `after`.
    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>>;

    /// Whether the store can answer now (`/health`).
    fn health(&self) -> BoxFuture<'_, StoreResult<()>>;

    /// Makes everything durable and stops the engine's background work; used at shutdown.
    fn close(&self) -> BoxFuture<'_, StoreResult<()>>;

    /// Deletes every workspace, campaign, key, pair and quota count, and the mark of the demo
    /// bootstrap, durably: the store is as new, and [`Store::bootstrap`] sets it up again. For
    /// the sandbox's `POST /admin/reset`. A pair whose write is already under way may land after
    /// it (reset between tests, not during them).
    fn reset(&self) -> BoxFuture<'_, StoreResult<()>>;
}
