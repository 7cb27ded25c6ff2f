//! The key layout of the sled engine: everything lives in one tree under tagged keys (`w:`
//! workspaces, `c:` campaigns, `k:` keys by hash, `i:` key ids, `p:` pairs, `l:` a campaign's
//! pairs in creation order, `s:` a campaign's sequence, `u:` a workspace's usage per day), so
//! every logical change is a single atomic `apply_batch`. Records are JSON.
//!
//! A campaign's creation log (`l:` campaign, sequence number) holds, under the sequence number
//! of its first pair, the pairs one group created in that campaign, in order: a JSON array of
//! entries with consecutive sequence numbers. (Data directories written before groups shared a
//! record hold one JSON object per pair; the listing reads both.) One key per pair plus one per
//! group and campaign, rather than two per pair: sled's cost is per key written.
use crate::domain::UtcDay;
use crate::store::{StoreError, StoreResult};

/// Written on a new data directory; a directory without it is not ours.
pub(crate) const FORMAT_KEY: &[u8] = b"meta:format";
pub(crate) const FORMAT: &[u8] = b"sendid/1";
pub(crate) const BOOTSTRAPPED_KEY: &[u8] = b"meta:bootstrapped";

/// `tag:` then the parts separated by NUL: every key of the engine (dispatches.rs and stats.rs
/// too).
pub(crate) fn key(tag: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(tag.as_bytes());
    k.push(b':');
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// The keys of `tag:part\0…`: everything filed under one campaign or workspace.
pub(crate) fn prefix(tag: &str, part: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tag.len() + part.len() + 2);
    k.extend_from_slice(tag.as_bytes());
    k.push(b':');
    k.extend_from_slice(part.as_bytes());
    k.push(0);
    k
}

pub(crate) fn workspace_key(id: &str) -> Vec<u8> {
    key("w", &[id.as_bytes()])
}
pub(crate) fn campaign_key(id: &str) -> Vec<u8> {
    key("c", &[id.as_bytes()])
}
pub(crate) fn api_key_key(hash: &[u8; 32]) -> Vec<u8> {
    key("k", &[hash])
}
pub(crate) fn key_id_key(key_id: &str) -> Vec<u8> {
    key("i", &[key_id.as_bytes()])
}
pub(crate) fn pair_key(campaign_id: &str, send_id: &str) -> Vec<u8> {
    key("p", &[campaign_id.as_bytes(), send_id.as_bytes()])
}
pub(crate) fn log_prefix(campaign_id: &str) -> Vec<u8> {
    let mut k = key("l", &[campaign_id.as_bytes()]);
    k.push(0);
    k
}
pub(crate) fn seq_key(campaign_id: &str) -> Vec<u8> {
    key("s", &[campaign_id.as_bytes()])
}
pub(crate) fn usage_key(workspace_id: &str, day: UtcDay) -> Vec<u8> {
    key("u", &[workspace_id.as_bytes(), &day.number().to_be_bytes()])
}

pub(crate) fn decode_u64(v: &[u8]) -> StoreResult<u64> {
    let bytes: [u8; 8] = v
        .try_into()
        .map_err(|_| StoreError::Corrupt("a counter in the data directory is malformed".into()))?;
    Ok(u64::from_be_bytes(bytes))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(StoreError::Encode)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(v).map_err(|e| {
        StoreError::Corrupt(format!("a record in the data directory is malformed: {e}"))
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PairRecord {
    pub seq: u64,
    pub created_at: i64,
}

pub(crate) fn log_key(campaign_id: &str, seq: u64) -> Vec<u8> {
    let mut k = log_prefix(campaign_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) const KEY_PREFIX: &[u8] = b"k:";
pub(crate) const WORKSPACE_PREFIX: &[u8] = b"w:";
pub(crate) const CAMPAIGN_PREFIX: &[u8] = b"c:";
