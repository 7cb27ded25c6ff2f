//! API keys on PostgreSQL: the `api_keys` table, its permissions and allow-list as JSON text
//! (portable across PostgreSQL-wire engines). A revoked key is kept, marked, for the listing.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::changes::finish_change;
use super::retry::with_retry;
use super::{from_json_text, json_text, seq_of, PgStore};
use crate::store::{ApiKeyRecord, ApiKeyStore, Resource, StoreError, StoreResult};

/// The columns [`from_row`] reads, in its order.
pub(super) const COLUMNS: &str = "key_id, hash, workspace_id, name, permissions, allowed_ips, \
                                  created_at, revoked_at, seq";

pub(super) fn from_row(row: &PgRow) -> StoreResult<ApiKeyRecord> {
    let get_err = |e: sqlx::Error| StoreError::Corrupt(format!("an API key record: {e}"));
    let hash: Vec<u8> = row.try_get(1).map_err(get_err)?;
    let permissions: String = row.try_get(4).map_err(get_err)?;
    let allowed_ips: String = row.try_get(5).map_err(get_err)?;
    Ok(ApiKeyRecord {
        key_id: row.try_get(0).map_err(get_err)?,
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("an API key hash is not 32 bytes".into()))?,
        workspace_id: row.try_get(2).map_err(get_err)?,
        name: row.try_get(3).map_err(get_err)?,
        permissions: from_json_text(&permissions)?,
        allowed_ips: from_json_text(&allowed_ips)?,
        created_at: row.try_get(6).map_err(get_err)?,
        revoked_at: row.try_get(7).map_err(get_err)?,
        seq: row.try_get::<i64, _>(8).map_err(get_err)?.max(0) as u64,
    })
}

/// A key's permissions and allow-list as stored.
pub(super) struct Encoded {
    pub permissions: String,
    pub allowed_ips: String,
}

impl Encoded {
    pub fn of(key: &ApiKeyRecord) -> StoreResult<Self> {
        Ok(Self {
            permissions: json_text(&key.permissions)?,
            allowed_ips: json_text(&key.allowed_ips)?,
        })
    }
}

/// Inserts the key; its creation sequence, or `None` when it exists.
pub(super) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    key: &ApiKeyRecord,
    encoded: &Encoded,
) -> Result<Option<u64>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO api_keys (key_id, hash, workspace_id, name, permissions, allowed_ips, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(&key.key_id)
    .bind(&key.hash[..])
    .bind(&key.workspace_id)
    .bind(&key.name)
    .bind(&encoded.permissions)
    .bind(&encoded.allowed_ips)
    .bind(key.created_at)
    .fetch_optional(&mut **tx)
    .await?;
    seq_of(done)
}

/// The keys a new key's insert met (the same id or the same hash) as the database holds them:
/// read in the insert's transaction, which waited for the commit of another instance's.
async fn select(
    tx: &mut Transaction<'static, Postgres>,
    key: &ApiKeyRecord,
) -> Result<Vec<StoreResult<ApiKeyRecord>>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_id = $1 OR hash = $2"
    ))
    .bind(&key.key_id)
    .bind(&key.hash[..])
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

impl ApiKeyStore for PgStore {
    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let encoded = &Encoded::of(key)?;
            let (created, found) = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let created = insert(&mut tx, key, encoded).await?;
                let found = match created {
                    Some(_) => Vec::new(),
                    None => select(&mut tx, key).await?,
                };
                finish_change(tx, created.is_some()).await?;
                Ok((created, found))
            })
            .await?;
            let Some(seq) = created else {
                // Created by another instance, maybe a moment ago: in this one's directory
                // before the conflict is answered, not only at its next poll (a fixture key
                // authenticates as soon as the start that met it is announced).
                for found in found {
                    match found {
                        Ok(k) => self.directory.put_key(k),
                        Err(e) => {
                            tracing::error!(error = %e, "skipping a malformed API key record")
                        }
                    }
                }
                return Err(StoreError::Conflict {
                    resource: Resource::ApiKey,
                    id: key.key_id.clone(),
                });
            };
            self.directory.put_key(ApiKeyRecord { seq, ..key.clone() });
            Ok(())
        }
        .boxed()
    }

    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let revoked: Option<Vec<u8>> = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let row = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 \
                     WHERE key_id = $1 AND revoked_at IS NULL RETURNING hash",
                )
                .bind(key_id)
                .bind(now_millis)
                .fetch_optional(&mut *tx)
                .await?;
                let hash = row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()?;
                finish_change(tx, hash.is_some()).await?;
                Ok(hash)
            })
            .await?;
            let Some(hash) = revoked else {
                return Ok(false);
            };
            // Revoked in this instance's memory before the 204; the others reload it at their
            // next poll.
            self.directory.revoke_key(&hash, now_millis);
            Ok(true)
        }
        .boxed()
    }

    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let encoded = &Encoded::of(key)?;
            let hash: Option<Vec<u8>> = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let row = sqlx::query(
                    "UPDATE api_keys SET name = $2, permissions = $3, allowed_ips = $4 \
                     WHERE key_id = $1 RETURNING hash",
                )
                .bind(&key.key_id)
                .bind(&key.name)
                .bind(&encoded.permissions)
                .bind(&encoded.allowed_ips)
                .fetch_optional(&mut *tx)
                .await?;
                let hash = row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()?;
                finish_change(tx, hash.is_some()).await?;
                Ok(hash)
            })
            .await?;
            let Some(hash) = hash else {
                return Ok(false);
            };
            self.directory.edit_key(&hash, key);
            Ok(true)
        }
        .boxed()
    }
}
