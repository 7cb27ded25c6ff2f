//! How long database work may take, and which failures are tried again: every call is bounded
//! by `--database-timeout` (a database that does not answer is a 503, never a hung request), and
//! a transaction that lost to contention (serialization failure, deadlock — how CockroachDB and
//! YugabyteDB report it) is run again within that bound.
use std::time::Duration;

use super::db_error;
use crate::store::{StoreError, StoreResult};

/// How often an admin transaction is tried again after contention.
const MAX_RETRIES: u32 = 20;

/// What a call that waited `limit` for the database answers: 503, never another status. When
/// the wait was for a `COMMIT` already sent, the change may be committed: a retry of the same
/// request finds it (a pair answers 200 without spending again).
pub(crate) fn timed_out(limit: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "the database did not answer within {} s (--database-timeout)",
        limit.as_secs_f64()
    ))
}

/// Runs database work for at most `limit`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    work: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)))
}

/// SQLSTATE 40001 (serialization failure) and 40P01 (deadlock detected).
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40001" || c == "40P01")
}

/// Runs `work` (one transaction, begun and ended inside it) again on serialization failures and
/// deadlocks, all of it within `limit` (`--database-timeout`).
pub(crate) async fn with_retry<T, Fut>(
    limit: Duration,
    mut work: impl FnMut() -> Fut,
) -> StoreResult<T>
where
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    bounded(limit, async {
        let mut attempt = 0u32;
        loop {
            match work().await {
                Err(e) if is_retryable(&e) && attempt < MAX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                other => break other.map_err(db_error),
            }
        }
    })
    .await
}
