//! API keys on sled: `k:` hash → the record, `i:` key id → the hash. A revoked key is kept,
//! marked, for the listing.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::layout::{api_key_key, key_id_key, to_json};
use super::shared::{refuse_existing, Step};
use super::SledStore;
use crate::store::{ApiKeyRecord, ApiKeyStore, Resource, StoreError, StoreResult};

/// Adds the key's record and its id's index entry to `batch`.
pub(super) fn write(batch: &mut ::sled::Batch, key: &ApiKeyRecord) -> StoreResult<()> {
    batch.insert(api_key_key(&key.hash), to_json(key)?);
    batch.insert(key_id_key(&key.key_id), &key.hash[..]);
    Ok(())
}

/// Adds the removal of a key (record and index entry) to `batch`.
pub(super) fn remove(batch: &mut ::sled::Batch, key_id: &str, hash: &[u8; 32]) {
    batch.remove(api_key_key(hash));
    batch.remove(key_id_key(key_id));
}

impl SledStore {
    /// Rewrites the key `key_id` as `change` leaves it (in memory before it is durable-awaited:
    /// from then on authentication sees the new record). `false` when there is no such key or
    /// `change` declines.
    async fn change_api_key(
        &self,
        key_id: &str,
        change: impl FnOnce(&mut ApiKeyRecord) -> bool,
    ) -> StoreResult<bool> {
        self.shared
            .admin_write(move |e, d| {
                let Some(hash) = e.tree.get(key_id_key(key_id))? else {
                    return Ok(Step::Answer(false));
                };
                let hash: [u8; 32] = hash[..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a key index entry is malformed".into()))?;
                let Some(mut record) = d.key(&hash) else {
                    return Ok(Step::Answer(false));
                };
                if !change(&mut record) {
                    return Ok(Step::Answer(false));
                }
                let mut batch = ::sled::Batch::default();
                batch.insert(api_key_key(&hash), to_json(&record)?);
                Ok(Step::Write(
                    batch,
                    Box::new(|d| {
                        d.put_key(record);
                        true
                    }),
                ))
            })
            .await
    }
}

impl ApiKeyStore for SledStore {
    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>> {
        self.shared
            .admin_write(move |e, _| {
                refuse_existing(e, &api_key_key(&key.hash), Resource::ApiKey, &key.key_id)?;
                let key = ApiKeyRecord {
                    seq: e.db.generate_id()?,
                    ..key.clone()
                };
                let mut batch = ::sled::Batch::default();
                write(&mut batch, &key)?;
                Ok(Step::Write(batch, Box::new(|d| d.put_key(key))))
            })
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

    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>> {
        self.change_api_key(&key.key_id, |record| {
            record.edit_from(key);
            true
        })
        .boxed()
    }
}
