//! Dispatches on PostgreSQL: one row each (`dispatches`, the record as JSON text beside the
//! columns it is looked up by), inserted in one transaction with the pair a broadcast
//! generated (`pairs`, no quota row touched), answered only after the commit. Every instance
//! reads them from the database, so several instances agree at once.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::Row;

use super::retry::{bounded, with_retry};
use super::{db_error, from_json_text, json_text, PgStore};
use crate::domain::Dispatch;
use crate::store::lifecycle::{DispatchPage, DispatchStore};
use crate::store::StoreResult;

/// The schema of this resource, applied with the rest (`schema.rs`); additive, so a database
/// of an older build gains it at its next start.
pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS dispatches (
        dispatch_id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        send_id TEXT,
        created_at BIGINT NOT NULL,
        record TEXT NOT NULL,
        seq BIGSERIAL NOT NULL UNIQUE
    )",
    "CREATE INDEX IF NOT EXISTS dispatches_by_campaign ON dispatches (campaign_id, seq)",
    "CREATE INDEX IF NOT EXISTS dispatches_by_send ON dispatches (campaign_id, send_id, created_at)",
    // A campaign's channel and audience (what its analytics are keyed by and a broadcast counts).
    "ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS channel TEXT NOT NULL DEFAULT 'email'",
    "ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS audience_size BIGINT NOT NULL DEFAULT 0",
];

fn rows_to_dispatches(rows: Vec<sqlx::postgres::PgRow>) -> StoreResult<Vec<Dispatch>> {
    rows.into_iter()
        .map(|row| {
            let record: String = row.try_get(0).map_err(db_error)?;
            let seq: i64 = row.try_get(1).map_err(db_error)?;
            let mut d: Dispatch = from_json_text(&record)?;
            d.seq = seq as u64;
            Ok(d)
        })
        .collect()
}

impl DispatchStore for PgStore {
    fn pair_exists<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        bounded(self.timeout, async move {
            let row = sqlx::query("SELECT 1 FROM pairs WHERE campaign_id = $1 AND send_id = $2")
                .bind(campaign_id)
                .bind(send_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
            Ok(row.is_some())
        })
        .boxed()
    }

    fn record_dispatch<'a>(&'a self, dispatch: &'a Dispatch) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let record = json_text(dispatch)?;
            let record = &record;
            with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                if let (true, Some(send_id)) = (dispatch.send_id_generated, &dispatch.send_id) {
                    sqlx::query(
                        "INSERT INTO pairs (campaign_id, send_id, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (campaign_id, send_id) DO NOTHING",
                    )
                    .bind(&dispatch.campaign_id)
                    .bind(send_id)
                    .bind(dispatch.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "INSERT INTO dispatches (dispatch_id, campaign_id, send_id, created_at, record) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&dispatch.dispatch_id)
                .bind(&dispatch.campaign_id)
                .bind(&dispatch.send_id)
                .bind(dispatch.created_at)
                .bind(record)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            })
            .await
        }
        .boxed()
    }

    fn list_dispatches<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: Option<&'a str>,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<DispatchPage>> {
        bounded(self.timeout, async move {
            let rows = sqlx::query(
                "SELECT record, seq FROM dispatches \
                 WHERE campaign_id = $1 AND ($2::TEXT IS NULL OR send_id = $2) AND seq > $3 \
                 ORDER BY seq LIMIT $4",
            )
            .bind(campaign_id)
            .bind(send_id)
            .bind(after.map_or(0, |a| a.min(i64::MAX as u64) as i64))
            .bind(limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let mut dispatches = rows_to_dispatches(rows)?;
            let more = dispatches.len() > limit;
            dispatches.truncate(limit);
            Ok(DispatchPage::new(dispatches, more))
        })
        .boxed()
    }

    fn dispatches_of_send<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        from_millis: i64,
        to_millis: i64,
    ) -> BoxFuture<'a, StoreResult<Vec<Dispatch>>> {
        bounded(self.timeout, async move {
            let rows = sqlx::query(
                "SELECT record, seq FROM dispatches \
                 WHERE campaign_id = $1 AND send_id = $2 AND created_at >= $3 AND created_at < $4 \
                 ORDER BY seq",
            )
            .bind(campaign_id)
            .bind(send_id)
            .bind(from_millis)
            .bind(to_millis)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows_to_dispatches(rows)
        })
        .boxed()
    }
}
