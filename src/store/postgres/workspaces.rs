//! Workspaces on PostgreSQL: the `workspaces` table. Deleting one deletes its campaigns with
//! their pairs, its keys and its day counters (`quota_usage`), in one transaction.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::changes::finish_change;
use super::retry::with_retry;
use super::{seq_of, PgStore};
use crate::store::{Resource, StoreError, StoreResult, Workspace, WorkspaceChange, WorkspaceStore};

/// The columns [`from_row`] reads, in its order.
pub(super) const COLUMNS: &str = "id, name, daily_send_id_quota, created_at, seq";

pub(super) fn from_row(row: &PgRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        daily_send_id_quota: row.try_get::<i64, _>(2)?.max(0) as u64,
        created_at: row.try_get(3)?,
        seq: row.try_get::<i64, _>(4)?.max(0) as u64,
    })
}

/// Inserts the workspace; its creation sequence, or `None` when it exists.
pub(super) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    w: &Workspace,
) -> Result<Option<u64>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO workspaces (id, name, daily_send_id_quota, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(&w.id)
    .bind(&w.name)
    .bind(w.daily_send_id_quota.min(i64::MAX as u64) as i64)
    .bind(w.created_at)
    .fetch_optional(&mut **tx)
    .await?;
    seq_of(done)
}

/// The workspace as the database holds it: read after an insert found it there (in the same
/// transaction: the insert waited for the commit of another instance's, so this read sees it).
async fn select(
    tx: &mut Transaction<'static, Postgres>,
    id: &str,
) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

impl WorkspaceStore for PgStore {
    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let (created, found) = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let created = insert(&mut tx, workspace).await?;
                let found = match created {
                    Some(_) => None,
                    None => select(&mut tx, &workspace.id).await?,
                };
                finish_change(tx, created.is_some()).await?;
                Ok((created, found))
            })
            .await?;
            let Some(seq) = created else {
                // Created by another instance, maybe a moment ago: in this one's directory
                // before the conflict is answered, not only at its next poll.
                if let Some(found) = found {
                    self.directory.put_workspace(found);
                }
                return Err(StoreError::Conflict {
                    resource: Resource::Workspace,
                    id: workspace.id.clone(),
                });
            };
            self.directory.put_workspace(Workspace {
                seq,
                ..workspace.clone()
            });
            Ok(())
        }
        .boxed()
    }

    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        async move {
            let Some(before) = self.directory.workspace(id) else {
                return Ok(None);
            };
            if change.is_empty() {
                return Ok(Some(before));
            }
            let quota = change
                .daily_send_id_quota
                .map(|q| q.min(i64::MAX as u64) as i64);
            let statement = format!(
                "UPDATE workspaces SET name = COALESCE($2, name), \
                 daily_send_id_quota = COALESCE($3, daily_send_id_quota) \
                 WHERE id = $1 RETURNING {COLUMNS}"
            );
            let statement = &statement;
            let updated = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let row = sqlx::query(statement)
                    .bind(id)
                    .bind(&change.name)
                    .bind(quota)
                    .fetch_optional(&mut *tx)
                    .await?;
                let workspace = row.as_ref().map(from_row).transpose()?;
                finish_change(tx, workspace.is_some()).await?;
                Ok(workspace)
            })
            .await?;
            match &updated {
                Some(w) => self.directory.put_workspace(w.clone()),
                // Deleted by another instance meanwhile.
                None => self.directory.remove_workspace(id),
            }
            Ok(updated)
        }
        .boxed()
    }

    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let deleted = with_retry(self.timeout, || async move {
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
                        "DELETE FROM dispatches WHERE campaign_id IN \
                         (SELECT campaign_id FROM campaigns WHERE workspace_id = $1)",
                        "DELETE FROM send_stats WHERE campaign_id IN \
                         (SELECT campaign_id FROM campaigns WHERE workspace_id = $1)",
                        "DELETE FROM campaigns WHERE workspace_id = $1",
                        "DELETE FROM api_keys WHERE workspace_id = $1",
                        "DELETE FROM quota_usage WHERE workspace_id = $1",
                    ] {
                        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
                    }
                }
                finish_change(tx, done).await
            })
            .await?;
            if deleted {
                // Gone from this instance's memory before the 204: its keys answer 401 here at
                // once, and on the other instances after their next poll.
                self.directory.remove_workspace(id);
            }
            Ok(deleted)
        }
        .boxed()
    }
}
