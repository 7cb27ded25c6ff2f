//! The storage seam: the [`Store`] trait every engine implements, one trait per resource
//! ([`WorkspaceStore`], [`CampaignStore`], [`ApiKeyStore`], [`PairStore`]) under it. Nothing here
//! knows an engine: the embedded default lives in `sled/`, the shared one in `postgres/`, each
//! with one file per resource (`workspaces.rs`, `campaigns.rs`, `api_keys.rs`, `pairs.rs`)
//! beside its plumbing.
//!
//! - What is decided once, for every engine: rules 6–8 by `domain::quota::PairLedger`; the
//!   directory's reads (key lookup with revocation, workspaces, campaigns, listings) and its
//!   changes (a workspace's deletion taking its campaigns and keys) by `directory.rs`, the reads
//!   as the traits' provided methods; the writers' queue by `queue.rs`.
//! - What an engine supplies: its storage — loading the directory and keeping it current, the
//!   admin writes, and the pair writer that finds what the ledger needs and applies its
//!   decision atomically and durably.
//!
//! A new resource is a trait here (added to [`Store`]'s list), and one file per engine that
//! implements it. The errors are in `error.rs`: [`StoreError`] for a call, [`OpenError`] for
//! opening a store.
pub mod directory;
mod error;
pub mod lifecycle;
pub mod postgres;
mod queue;
mod records;
pub mod sled;

pub use self::lifecycle::{DispatchPage, DispatchStore, StatsStore};

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::domain::{KeyHash, UtcDay};

pub use self::directory::Directory;
pub use self::error::{OpenError, Resource, StoreError, StoreResult};
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

/// An answer known without waiting, as the trait's future.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    futures_util::future::ready(value).boxed()
}

/// What every resource's trait reads from: the engine's workspaces, campaigns and keys, kept
/// current with every write it commits.
pub trait HasDirectory: Send + Sync + 'static {
    fn directory(&self) -> &Directory;
}

/// Everything sendid keeps, resource by resource. Every method is a future: an engine may need
/// the network for any of them. Writes resolve only once the write is durable (on disk, or
/// committed).
///
/// The directory's reads are provided, from [`HasDirectory::directory`], the same for every
/// engine; an engine implements the rest. Admin edits (PATCH/DELETE, fixtures) change the
/// directory before they resolve, so the next request sees them.
pub trait Store:
    WorkspaceStore + CampaignStore + ApiKeyStore + PairStore + DispatchStore + StatsStore
{
    /// Creates the demo workspace, campaign and key on a new store, atomically. Returns `false`
    /// (and writes nothing) when the store was set up before (by this or another instance).
    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>>;

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

/// Workspaces: each has a daily quota of new pairs, spent by its campaigns.
pub trait WorkspaceStore: HasDirectory {
    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>>;

    fn workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        ready(Ok(self.directory().workspace(id)))
    }

    /// Workspaces in creation order.
    fn list_workspaces<'a>(
        &'a self,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<Workspace>>> {
        ready(Ok(self.directory().list_workspaces(after, limit)))
    }

    /// Changes what `change` gives of a workspace; its spent quota stays. `None` when there is
    /// no such workspace.
    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>>;

    /// Deletes a workspace with its campaigns, their pairs, its keys and its quota counters
    /// (in memory: [`Directory`]'s `remove_workspace`). `false` when there is no such
    /// workspace.
    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
}

/// Campaigns: each belongs to one workspace; a campaign id is unique across workspaces.
pub trait CampaignStore: HasDirectory {
    /// Fails with `Conflict` when the campaign id exists (in any workspace).
    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>>;

    fn campaign<'a>(
        &'a self,
        campaign_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Campaign>>> {
        ready(Ok(self.directory().campaign(campaign_id)))
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

    /// Renames a campaign; `false` when there is no such campaign.
    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Deletes a campaign and its pairs; the quota they spent stays spent. `false` when there
    /// is no such campaign.
    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
}

/// API keys: stored as their hash, kept (marked) when revoked.
pub trait ApiKeyStore: HasDirectory {
    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>>;

    /// The key with this hash, unless it is revoked.
    fn api_key_by_hash<'a>(
        &'a self,
        hash: &'a KeyHash,
    ) -> BoxFuture<'a, StoreResult<Option<ApiKeyRecord>>> {
        ready(Ok(self.directory().active_key(hash)))
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

    /// Returns `false` when no such key exists or it is already revoked.
    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Replaces the name, permissions and allow-list of the key `key.key_id` (its hash,
    /// workspace and revocation stay). `false` when there is no such key.
    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>>;
}

/// Pairs (campaign_id, send_id) and the quota units their creation spends.
pub trait PairStore: HasDirectory {
    /// Rules 6–8 of docs/contract.md §1 in one atomic step: find the pair, or spend one unit of
    /// today's quota and create it, or refuse. Resolves only when the answer is durable.
    fn create_send_id<'a>(
        &'a self,
        request: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>>;

    /// Quota units spent by `workspace_id` on `day`.
    fn used_on<'a>(&'a self, workspace_id: &'a str, day: UtcDay)
        -> BoxFuture<'a, StoreResult<u64>>;

    /// Pairs of a campaign in creation order, after the cursor `after`.
    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>>;
}
