//! Admin edits on PostgreSQL (PATCH/DELETE, changed fixtures): each is one transaction that
//! also bumps the change counter (`finish_change`), so the other instances reload their
//! directory at their next poll, within a second; this instance changes its own before it
//! answers.
//!
//! Deleting a campaign deletes its pairs; its workspace's day counters (`quota_usage`) stay, so
//! the quota it spent stays spent. Deleting a workspace deletes its campaigns, their pairs, its
//! keys and its counters.
use std::time::Duration;

use sqlx::Row;

use super::{batch, db_error, finish_change, json_text, PgStore};
use crate::store::{ApiKeyRecord, StoreResult, Workspace, WorkspaceChange};

impl PgStore {
    pub(super) async fn update_workspace_now(
        &self,
        id: &str,
        change: &WorkspaceChange,
    ) -> StoreResult<Option<Workspace>> {
        let Some(before) = self.directory.workspace(id) else {
            return Ok(None);
        };
        if change.is_empty() {
            return Ok(Some(before));
        }
        let quota = change
            .daily_send_id_quota
            .map(|q| q.min(i64::MAX as u64) as i64);
        let updated = with_retry!(self.timeout, async {
            let mut tx = self.begin().await?;
            let row = sqlx::query(
                "UPDATE workspaces SET name = COALESCE($2, name), \
                 daily_send_id_quota = COALESCE($3, daily_send_id_quota) \
                 WHERE id = $1 RETURNING id, name, daily_send_id_quota, created_at, seq",
            )
            .bind(id)
            .bind(&change.name)
            .bind(quota)
            .fetch_optional(&mut *tx)
            .await?;
            let workspace = row
                .map(|r| {
                    Ok::<_, sqlx::Error>(Workspace {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        daily_send_id_quota: r.try_get::<i64, _>(2)?.max(0) as u64,
                        created_at: r.try_get(3)?,
                        seq: r.try_get::<i64, _>(4)?.max(0) as u64,
                    })
                })
                .transpose()?;
            finish_change(tx, workspace.is_some()).await?;
            Ok::<_, sqlx::Error>(workspace)
        })?;
        if let Some(w) = &updated {
            self.directory.change(|d| {
                d.workspaces.insert(w.id.clone(), w.clone());
            });
        } else {
            // Deleted by another instance meanwhile.
            self.directory.change(|d| {
                d.workspaces.remove(id);
            });
        }
        Ok(updated)
    }

    pub(super) async fn rename_campaign_now(
        &self,
        campaign_id: &str,
        name: &str,
    ) -> StoreResult<bool> {
        let renamed = with_retry!(self.timeout, async {
            let mut tx = self.begin().await?;
            let done = sqlx::query("UPDATE campaigns SET name = $2 WHERE campaign_id = $1")
                .bind(campaign_id)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            finish_change(tx, done).await
        })?;
        if renamed {
            self.directory.change(|d| {
                if let Some(c) = d.campaigns.get_mut(campaign_id) {
                    c.name = name.to_string();
                }
            });
        }
        Ok(renamed)
    }

    pub(super) async fn update_api_key_now(&self, key: &ApiKeyRecord) -> StoreResult<bool> {
        let permissions = json_text(&key.permissions)?;
        let allowed_ips = json_text(&key.allowed_ips)?;
        let hash: Option<Vec<u8>> = with_retry!(self.timeout, async {
            let mut tx = self.begin().await?;
            let row = sqlx::query(
                "UPDATE api_keys SET name = $2, permissions = $3, allowed_ips = $4 \
                 WHERE key_id = $1 RETURNING hash",
            )
            .bind(&key.key_id)
            .bind(&key.name)
            .bind(&permissions)
            .bind(&allowed_ips)
            .fetch_optional(&mut *tx)
            .await?;
            let hash = row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()?;
            finish_change(tx, hash.is_some()).await?;
            Ok::<_, sqlx::Error>(hash)
        })?;
        let Some(hash) = hash else {
            return Ok(false);
        };
        self.directory.change(|d| {
            if let Some(k) = d.keys.values_mut().find(|k| k.hash[..] == hash[..]) {
                k.name = key.name.clone();
                k.permissions = key.permissions.clone();
                k.allowed_ips = key.allowed_ips.clone();
            }
        });
        Ok(true)
    }

    pub(super) async fn delete_campaign_now(&self, campaign_id: &str) -> StoreResult<bool> {
        let deleted = with_retry!(self.timeout, async {
            let mut tx = self.begin().await?;
            let done = sqlx::query("DELETE FROM campaigns WHERE campaign_id = $1")
                .bind(campaign_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if done {
                sqlx::query("DELETE FROM pairs WHERE campaign_id = $1")
                    .bind(campaign_id)
                    .execute(&mut *tx)
                    .await?;
            }
            finish_change(tx, done).await
        })?;
        if deleted {
            self.directory.change(|d| {
                d.campaigns.remove(campaign_id);
            });
        }
        Ok(deleted)
    }

    pub(super) async fn delete_workspace_now(&self, id: &str) -> StoreResult<bool> {
        let deleted = with_retry!(self.timeout, async {
            let mut tx = self.begin().await?;
            let done = sqlx::query("DELETE FROM workspaces WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if done {
                for statement in [
                    "DELETE FROM pairs WHERE campaign_id IN \
                     (SELECT campaign_id FROM campaigns WHERE workspace_id = $1)",
                    "DELETE FROM campaigns WHERE workspace_id = $1",
                    "DELETE FROM api_keys WHERE workspace_id = $1",
                    "DELETE FROM quota_usage WHERE workspace_id = $1",
                ] {
                    sqlx::query(statement).bind(id).execute(&mut *tx).await?;
                }
            }
            finish_change(tx, done).await
        })?;
        if deleted {
            // Gone from this instance's memory before the 204: its keys answer 401 here at
            // once, and on the other instances after their next poll.
            self.directory.change(|d| {
                d.workspaces.remove(id);
                d.campaigns.retain(|_, c| c.workspace_id != id);
                d.keys.retain(|_, k| k.workspace_id != id);
            });
        }
        Ok(deleted)
    }
}
