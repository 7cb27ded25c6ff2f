//! Pairs on PostgreSQL: new ones decided and written in groups (`batch.rs`), the day counters
//! (`quota_usage`) read, a campaign's pairs listed by their sequence.
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::Row;

use super::retry::bounded;
use super::{db_error, PgStore};
use crate::domain::UtcDay;
use crate::store::{
    CreateOutcome, NewSendId, PairJob, PairStore, SendIdEntry, SendIdPage, StoreResult,
};

impl PairStore for PgStore {
    fn create_send_id<'a>(
        &'a self,
        req: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>> {
        // Bounded as a whole: a request queued behind a group the database does not answer is
        // answered 503 too. Its pair may still be committed with that group; a retry finds it.
        async move { bounded(self.timeout, self.batcher.submit(PairJob::new(&req))).await }.boxed()
    }

    fn used_on<'a>(
        &'a self,
        workspace_id: &'a str,
        day: UtcDay,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        bounded(self.timeout, async move {
            let row = sqlx::query(
                "SELECT used FROM quota_usage WHERE workspace_id = $1 AND utc_day = $2",
            )
            .bind(workspace_id)
            .bind(day.number())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            Ok(match row {
                Some(r) => r.try_get::<i64, _>(0).map_err(db_error)?.max(0) as u64,
                None => 0,
            })
        })
        .boxed()
    }

    fn list_send_ids<'a>(
        &'a self,
        campaign_id: &'a str,
        after: Option<u64>,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<SendIdPage>> {
        bounded(self.timeout, async move {
            let rows = sqlx::query(
                "SELECT send_id, created_at, seq FROM pairs \
                 WHERE campaign_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(campaign_id)
            .bind(after.map_or(0, |a| a.min(i64::MAX as u64) as i64))
            .bind(limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let more = rows.len() > limit;
            let mut entries = Vec::with_capacity(rows.len().min(limit));
            let mut last = None;
            for row in rows.into_iter().take(limit) {
                entries.push(SendIdEntry {
                    send_id: row.try_get(0).map_err(db_error)?,
                    created_at: row.try_get(1).map_err(db_error)?,
                });
                last = Some(row.try_get::<i64, _>(2).map_err(db_error)? as u64);
            }
            Ok(SendIdPage {
                entries,
                next: if more { last } else { None },
            })
        })
        .boxed()
    }
}
