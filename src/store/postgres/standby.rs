//! A database that accepts no writes: a read-only standby (a Patroni replica named directly, a
//! router still sending connections to a demoted primary) or `default_transaction_read_only`.
//! At start it is named as such, with the fix; while running, writes on it answer 503
//! (`Unavailable`), `/health` says why, and connections that turned read-only are closed instead
//! of going back into the pool, so the pool reconnects — through the router, to the new primary.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres};

use super::{bounded, db_error, describe_url, timed_out};
use crate::store::{OpenError, StoreError, StoreResult};

/// What to do about it, in every message.
const FIX: &str = "point --database-url at the primary, or at a router that follows it \
                   (HAProxy over Patroni: docs/deploying.md, \"High availability\")";

/// How long after the last read-only answer every connection is checked before it is used and
/// when it is given back. Outside that window there is no check, so no extra round trip.
const WATCH: Duration = Duration::from_secs(30);

/// SQLSTATE 25006 `read_only_sql_transaction`: "cannot execute INSERT in a read-only transaction".
pub(crate) fn is_read_only(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "25006")
}

/// The error of a write refused as read-only; opens the watch window (see [`hooks`]).
pub(crate) fn refused(e: &sqlx::Error) -> StoreError {
    seen();
    StoreError::Unavailable(format!(
        "the database is a read-only standby ({e}); its connections are closed and replaced; {FIX}"
    ))
}

/// Milliseconds after `EPOCH` (plus one; 0 = never) of the last read-only answer. Process-wide:
/// it only decides whether connections are checked, so a second store in the process at worst
/// checks a little more.
static LAST_SEEN: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_millis() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

fn seen() {
    LAST_SEEN.store(now_millis(), Ordering::Relaxed);
}

fn watching() -> bool {
    let last = LAST_SEEN.load(Ordering::Relaxed);
    last != 0 && now_millis().saturating_sub(last) < WATCH.as_millis() as u64
}

/// Whether the session on `executor` may not write.
async fn read_only<'e>(executor: impl Executor<'e, Database = Postgres>) -> sqlx::Result<bool> {
    let value: String = sqlx::query_scalar("SHOW transaction_read_only")
        .fetch_one(executor)
        .await?;
    Ok(value == "on")
}

/// While the window is open, a connection is kept (`Ok(true)`) only when it may write; an
/// error closes it too.
fn keep(conn: &mut PgConnection) -> BoxFuture<'_, sqlx::Result<bool>> {
    Box::pin(async move {
        if !watching() {
            return Ok(true);
        }
        let read_only = read_only(&mut *conn).await?;
        if read_only {
            tracing::warn!("closing a database connection to a read-only standby");
        }
        Ok(!read_only)
    })
}

/// The pool's hooks: connections found read-only are closed, on the way out and on the way back.
pub(crate) fn hooks(options: PgPoolOptions) -> PgPoolOptions {
    options
        .before_acquire(|conn, _| keep(conn))
        .after_release(|conn, _| keep(conn))
}

/// At start: a read-only database is refused with the fix (sendid writes on every request).
pub(crate) async fn refuse(pool: &PgPool, url: &str, limit: Duration) -> Result<(), OpenError> {
    let what = bounded(limit, async {
        if !read_only(pool).await.map_err(db_error)? {
            return Ok(None);
        }
        // Not every PostgreSQL-wire database has pg_is_in_recovery(): unknown is "not a standby".
        let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(pool)
            .await
            .unwrap_or(false);
        Ok(Some(if recovering {
            "is a read-only standby (pg_is_in_recovery() is true)"
        } else {
            "is read-only, as a standby is (transaction_read_only is on: default_transaction_read_only?)"
        }))
    })
    .await?;
    match what {
        None => Ok(()),
        Some(what) => Err(OpenError::ReadOnly {
            target: describe_url(url),
            what,
        }),
    }
}

/// `/health`: the database answers within `limit` and accepts writes.
pub(crate) async fn health(pool: &PgPool, limit: Duration) -> StoreResult<()> {
    match tokio::time::timeout(limit, read_only(pool)).await {
        Ok(Ok(false)) => Ok(()),
        Ok(Ok(true)) => {
            seen();
            Err(StoreError::Unavailable(format!(
                "the database is a read-only standby (transaction_read_only is on); {FIX}"
            )))
        }
        Ok(Err(e)) => Err(db_error(e)),
        Err(_) => Err(timed_out(limit)),
    }
}
