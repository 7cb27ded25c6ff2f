//! The records sendid keeps, as every engine stores and returns them, and the listing order.
use serde::{Deserialize, Serialize};

use crate::domain::{ApiKey, KeyHash, QuotaStatus, SendId};

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
    /// The channel its analytics are keyed by (`domain::series::CHANNELS`); records written
    /// before campaigns had one are `email`.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// How many users a broadcast of it reaches (what `sent` counts); 0 for older records.
    #[serde(default)]
    pub audience_size: u64,
    pub created_at: i64,
    /// Creation order, assigned by the store when the record is created (listings follow it).
    #[serde(default)]
    pub seq: u64,
}

fn default_channel() -> String {
    crate::domain::series::DEFAULT_CHANNEL.into()
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
    /// A new key of `workspace_id`: its secret (to show once, never stored) and its record
    /// (only the secret's hash). The one place a key is minted: the admin API, the demo
    /// bootstrap and `sendid keys create` all come here.
    pub fn mint(
        workspace_id: &str,
        name: Option<String>,
        permissions: Vec<String>,
        allowed_ips: Vec<ipnet::IpNet>,
        now_millis: i64,
    ) -> (ApiKey, Self) {
        let key = ApiKey::generate();
        let record = Self {
            key_id: uuid::Uuid::new_v4().to_string(),
            workspace_id: workspace_id.to_string(),
            name,
            permissions,
            allowed_ips,
            hash: key.hash().0,
            created_at: now_millis,
            revoked_at: None,
            seq: 0,
        };
        (key, record)
    }

    pub fn key_hash(&self) -> KeyHash {
        KeyHash(self.hash)
    }

    /// What an edit of a key changes (`Store::update_api_key`): its name, permissions and
    /// allow-list, from `edit`; its id, hash, workspace and revocation stay.
    pub fn edit_from(&mut self, edit: &ApiKeyRecord) {
        self.name = edit.name.clone();
        self.permissions = edit.permissions.clone();
        self.allowed_ips = edit.allowed_ips.clone();
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

/// What a `PATCH` (or a changed fixture) changes of a workspace; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub daily_send_id_quota: Option<u64>,
}

impl WorkspaceChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.daily_send_id_quota.is_none()
    }

    /// `workspace` with the change applied.
    pub fn applied_to(&self, mut workspace: Workspace) -> Workspace {
        if let Some(name) = &self.name {
            workspace.name = name.clone();
        }
        if let Some(quota) = self.daily_send_id_quota {
            workspace.daily_send_id_quota = quota;
        }
        workspace
    }

    /// For people: `name "A" -> "B", daily_send_id_quota 5 -> 3` (given the old values).
    pub fn describe(&self, before: &Workspace) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name {:?} -> {name:?}", before.name));
        }
        if let Some(quota) = self.daily_send_id_quota {
            parts.push(format!(
                "daily_send_id_quota {} -> {quota}",
                before.daily_send_id_quota
            ));
        }
        parts.join(", ")
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
