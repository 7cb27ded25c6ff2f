//! The sandbox's stats of a send on PostgreSQL: one row per send ID (`send_stats`, its days as
//! JSON text), replaced whole by each `PUT` and answered after the commit.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::Row;

use super::retry::{bounded, with_retry};
use super::{db_error, from_json_text, json_text, PgStore};
use crate::domain::DayStats;
use crate::store::lifecycle::StatsStore;
use crate::store::StoreResult;

/// The schema of this resource, applied with the rest (`schema.rs`).
pub(super) const SCHEMA: &[&str] = &["CREATE TABLE IF NOT EXISTS send_stats (
        campaign_id TEXT NOT NULL,
        send_id TEXT NOT NULL,
        days TEXT NOT NULL,
        PRIMARY KEY (campaign_id, send_id)
    )"];

impl StatsStore for PgStore {
    fn set_send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
        days: &'a [DayStats],
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let days = json_text(&days)?;
            let days = &days;
            with_retry(self.timeout, || async move {
                sqlx::query(
                    "INSERT INTO send_stats (campaign_id, send_id, days) VALUES ($1, $2, $3) \
                     ON CONFLICT (campaign_id, send_id) DO UPDATE SET days = EXCLUDED.days",
                )
                .bind(campaign_id)
                .bind(send_id)
                .bind(days)
                .execute(&self.pool)
                .await
                .map(|_| ())
            })
            .await
        }
        .boxed()
    }

    fn send_stats<'a>(
        &'a self,
        campaign_id: &'a str,
        send_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<Vec<DayStats>>> {
        bounded(self.timeout, async move {
            let row =
                sqlx::query("SELECT days FROM send_stats WHERE campaign_id = $1 AND send_id = $2")
                    .bind(campaign_id)
                    .bind(send_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
            match row {
                Some(row) => from_json_text(&row.try_get::<String, _>(0).map_err(db_error)?),
                None => Ok(Vec::new()),
            }
        })
        .boxed()
    }
}
