//! Campaigns on PostgreSQL: the `campaigns` table. Deleting one deletes its pairs; its
//! workspace's day counters (`quota_usage`) stay, so the quota it spent stays spent.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::changes::finish_change;
use super::retry::with_retry;
use super::{seq_of, PgStore};
use crate::store::{Campaign, CampaignStore, Resource, StoreError, StoreResult};

/// The columns [`from_row`] reads, in its order.
pub(super) const COLUMNS: &str =
    "campaign_id, workspace_id, name, created_at, seq, channel, audience_size";

pub(super) fn from_row(row: &PgRow) -> Result<Campaign, sqlx::Error> {
    Ok(Campaign {
        campaign_id: row.try_get(0)?,
        workspace_id: row.try_get(1)?,
        name: row.try_get(2)?,
        created_at: row.try_get(3)?,
        seq: row.try_get::<i64, _>(4)?.max(0) as u64,
        channel: row.try_get(5)?,
        audience_size: row.try_get::<i64, _>(6)?.max(0) as u64,
    })
}

/// Inserts the campaign; its creation sequence, or `None` when it exists.
pub(super) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    c: &Campaign,
) -> Result<Option<u64>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO campaigns (campaign_id, workspace_id, name, created_at, channel, audience_size) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(&c.campaign_id)
    .bind(&c.workspace_id)
    .bind(&c.name)
    .bind(c.created_at)
    .bind(&c.channel)
    .bind(c.audience_size.min(i64::MAX as u64) as i64)
    .fetch_optional(&mut **tx)
    .await?;
    seq_of(done)
}

/// The campaign as the database holds it: read after an insert found it there (in the same
/// transaction: the insert waited for the commit of another instance's, so this read sees it).
async fn select(
    tx: &mut Transaction<'static, Postgres>,
    campaign_id: &str,
) -> Result<Option<Campaign>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE campaign_id = $1"
    ))
    .bind(campaign_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Deletes what is filed under a campaign: its pairs, dispatches and send stats.
async fn delete_filed(
    tx: &mut Transaction<'static, Postgres>,
    campaign_id: &str,
) -> Result<(), sqlx::Error> {
    for table in ["pairs", "dispatches", "send_stats"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE campaign_id = $1"))
            .bind(campaign_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl CampaignStore for PgStore {
    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let (created, found) = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let created = insert(&mut tx, campaign).await?;
                if created.is_some() {
                    // Pairs (and sends) an instance wrote for a deleted campaign of this id in
                    // the moment before it heard of the deletion: the new campaign starts empty.
                    delete_filed(&mut tx, &campaign.campaign_id).await?;
                }
                let found = match created {
                    Some(_) => None,
                    None => select(&mut tx, &campaign.campaign_id).await?,
                };
                finish_change(tx, created.is_some()).await?;
                Ok((created, found))
            })
            .await?;
            let Some(seq) = created else {
                // Created by another instance, maybe a moment ago: in this one's directory
                // before the conflict is answered, not only at its next poll.
                if let Some(found) = found {
                    self.directory.put_campaign(found);
                }
                return Err(StoreError::Conflict {
                    resource: Resource::Campaign,
                    id: campaign.campaign_id.clone(),
                });
            };
            self.directory.put_campaign(Campaign {
                seq,
                ..campaign.clone()
            });
            Ok(())
        }
        .boxed()
    }

    fn set_campaign_audience<'a>(
        &'a self,
        campaign_id: &'a str,
        channel: &'a str,
        audience_size: u64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let size = audience_size.min(i64::MAX as u64) as i64;
            let changed = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE campaigns SET channel = $2, audience_size = $3 WHERE campaign_id = $1",
                )
                .bind(campaign_id)
                .bind(channel)
                .bind(size)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                finish_change(tx, done).await
            })
            .await?;
            if let Some(mut c) = self.directory.campaign(campaign_id).filter(|_| changed) {
                c.channel = channel.to_string();
                c.audience_size = audience_size;
                self.directory.put_campaign(c);
            }
            Ok(changed)
        }
        .boxed()
    }

    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let renamed = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let done = sqlx::query("UPDATE campaigns SET name = $2 WHERE campaign_id = $1")
                    .bind(campaign_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                finish_change(tx, done).await
            })
            .await?;
            if renamed {
                self.directory.rename_campaign(campaign_id, name);
            }
            Ok(renamed)
        }
        .boxed()
    }

    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let deleted = with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                let done = sqlx::query("DELETE FROM campaigns WHERE campaign_id = $1")
                    .bind(campaign_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if done {
                    delete_filed(&mut tx, campaign_id).await?;
                }
                finish_change(tx, done).await
            })
            .await?;
            if deleted {
                self.directory.remove_campaign(campaign_id);
            }
            Ok(deleted)
        }
        .boxed()
    }
}
