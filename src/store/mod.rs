//! The storage seam: the records sendid keeps and the [`Store`] trait every engine implements.
//! Nothing here knows an engine: the embedded default lives in `sled/`, the shared one in
//! `postgres/`. Rules 6–8 are decided by `domain::quota::PairLedger`; an engine only finds what
//! it needs for the decision and applies it atomically.
mod directory;
pub mod postgres;
pub mod sled;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::domain::{KeyHash, QuotaStatus, SendId, UtcDay};

pub use self::postgres::PgStore;
pub use self::sled::SledStore;

/// Told about every group commit (one durable write releasing a batch of writers), for metrics.
pub trait FlushObserver: Send + Sync {
    fn flushed(&self, batch: usize, elapsed: std::time::Duration, ok: bool);
}

/// Knobs for tests and operations, the same for every engine.
#[derive(Clone, Default)]
pub struct StoreOptions {
    /// When set to true, every commit of new pairs fails (fault injection for the 503 path).
    pub fail_flush: Option<Arc<AtomicBool>>,
    /// Told about every group commit (metrics).
    pub observer: Option<Arc<dyn FlushObserver>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub daily_send_id_quota: u64,
    pub created_at: i64,
    /// Creation order, assigned by the store when the record is created (listings follow it).
    #[serde(default)]
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub campaign_id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_at: i64,
    /// Creation order, assigned by the store when the record is created (listings follow it).
    #[serde(default)]
    pub seq: u64,
}

/// An API key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub workspace_id: String,
    pub name: Option<String>,
    pub permissions: Vec<String>,
    /// CIDR blocks; empty means "any address".
    pub allowed_ips: Vec<ipnet::IpNet>,
    #[serde(with = "hash_hex")]
    pub hash: [u8; 32],
    pub created_at: i64,
    /// When the key was revoked (Unix milliseconds); a revoked key is kept for the listing but
    /// never authenticates. Absent in records written before revocation was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Creation order, assigned by the store when the record is created (listings follow it).
    #[serde(default)]
    pub seq: u64,
}

impl ApiKeyRecord {
    pub fn key_hash(&self) -> KeyHash {
        KeyHash(self.hash)
    }
}

/// A request to create (or find) the pair (campaign_id, send_id).
#[derive(Debug, Clone)]
pub struct NewSendId<'a> {
    pub workspace: &'a Workspace,
    pub campaign_id: &'a str,
    pub send_id: &'a SendId,
    pub now_millis: i64,
}

/// A request for a pair as the engines' writers queue it: `NewSendId`, owned, so it can wait
/// for its group.
pub(crate) struct PairJob {
    pub workspace_id: String,
    pub limit: u64,
    pub campaign_id: String,
    pub send_id: String,
    pub now_millis: i64,
}

impl PairJob {
    pub fn new(req: &NewSendId<'_>) -> Self {
        Self {
            workspace_id: req.workspace.id.clone(),
            limit: req.workspace.daily_send_id_quota,
            campaign_id: req.campaign_id.to_string(),
            send_id: req.send_id.as_str().to_string(),
            now_millis: req.now_millis,
        }
    }

    /// What `domain::PairLedger` decides from.
    pub fn request(&self) -> crate::domain::PairRequest<'_> {
        crate::domain::PairRequest {
            workspace_id: &self.workspace_id,
            limit: self.limit,
            campaign_id: &self.campaign_id,
            send_id: &self.send_id,
            now_seconds: self.now_millis.div_euclid(1000),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// A new pair was created and is durable; it used one unit of quota.
    Created(QuotaStatus),
    /// The pair already existed (and is durable); no quota was used.
    Existing(QuotaStatus),
    /// The pair is new and today's quota is used up; nothing was written.
    QuotaExhausted(QuotaStatus),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendIdEntry {
    pub send_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendIdPage {
    pub entries: Vec<SendIdEntry>,
    /// The cursor for the next page, `None` on the last page.
    pub next: Option<u64>,
}

/// Where a listing of workspaces, campaigns or keys resumes: after the item with this creation
/// sequence (then time and id, for records written before sequences were kept). Listings are in
/// creation order, so the cursor stays valid whatever is created meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListCursor {
    pub seq: u64,
    pub created_at: i64,
    pub id: String,
}

impl ListCursor {
    /// The opaque form handed to clients as `next` and taken back as `after`.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.seq, self.created_at, self.id)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let (seq, rest) = raw.split_once('.')?;
        let (created_at, id) = rest.split_once('.')?;
        Some(Self {
            seq: seq.parse().ok()?,
            created_at: created_at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<ListCursor>,
}

impl<T> Page<T> {
    /// Pages `items` (any order) in creation order after `after`: the one place listing order
    /// and paging are decided, for every engine that can hand over its records.
    pub fn of(
        mut items: Vec<T>,
        cursor: impl Fn(&T) -> ListCursor,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Self {
        items.retain(|item| after.is_none_or(|a| cursor(item) > *a));
        items.sort_by_cached_key(|item| cursor(item));
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(&cursor)
        } else {
            None
        };
        Self { items, next }
    }
}

impl Workspace {
    pub fn cursor(&self) -> ListCursor {
        ListCursor {
            seq: self.seq,
            created_at: self.created_at,
            id: self.id.clone(),
        }
    }
}

impl Campaign {
    pub fn cursor(&self) -> ListCursor {
        ListCursor {
            seq: self.seq,
            created_at: self.created_at,
            id: self.campaign_id.clone(),
        }
    }
}

impl ApiKeyRecord {
    pub fn cursor(&self) -> ListCursor {
        ListCursor {
            seq: self.seq,
            created_at: self.created_at,
            id: self.key_id.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything sendid keeps. Every method is a future: an engine may need the network for any of
/// them. Writes resolve only once the write is durable (on disk, or committed).
pub trait Store: Send + Sync + 'static {
    /// Creates the demo workspace, campaign and key on a new store, atomically. Returns `false`
    /// (and writes nothing) when the store was set up before (by this or another instance).
    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>>;
    fn workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Workspace>>>;
    /// Quota units spent by `workspace_id` on `day`.
    fn used_on<'a>(&'a self, workspace_id: &'a str, day: UtcDay)
        -> BoxFuture<'a, StoreResult<u64>>;

    /// Fails with `Conflict` when the campaign id exists (in any workspace).
    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>>;
    fn campaign<'a>(&'a self, campaign_id: &'a str)
        -> BoxFuture<'a, StoreResult<Option<Campaign>>>;

    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>>;
    /// The key with this hash, unless it is revoked.
    fn api_key_by_hash<'a>(
        &'a self,
        hash: &'a KeyHash,
    ) -> BoxFuture<'a, StoreResult<Option<ApiKeyRecord>>>;
    /// Returns `false` when no such key exists or it is already revoked.
    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>>;

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
    ) -> BoxFuture<'a, StoreResult<Page<Workspace>>>;
    /// The campaigns of a workspace, in creation order.
    fn list_campaigns<'a>(
        &'a self,
        workspace_id: &'a str,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<Campaign>>>;
    /// The keys of a workspace, revoked ones included, in creation order.
    fn list_api_keys<'a>(
        &'a self,
        workspace_id: &'a str,
        after: Option<&'a ListCursor>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Page<ApiKeyRecord>>>;

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
}

mod hash_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let hex = String::deserialize(d)?;
        let mut out = [0u8; 32];
        if hex.len() != 64 {
            return Err(D::Error::custom("hash must be 64 hex digits"));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).map_err(D::Error::custom)?;
        }
        Ok(out)
    }
}
