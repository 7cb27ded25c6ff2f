//! The schema, applied at start. Safe when several instances start at once: every statement is
//! idempotent (`IF NOT EXISTS`, `ON CONFLICT DO NOTHING`), the whole migration is one
//! transaction, and a start that loses a race on the catalog (PostgreSQL may report a duplicate
//! type or relation when two `CREATE TABLE IF NOT EXISTS` run together) simply tries again.
//! No advisory locks: CockroachDB has none.
use std::time::Duration;

use sqlx::PgPool;

use super::db_error;
use crate::store::StoreResult;

/// The version this build writes; recorded in `sendid_schema`.
pub const VERSION: i64 = 1;

const STATEMENTS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sendid_schema (version BIGINT PRIMARY KEY)",
    // `changes` counts admin changes; every instance polls it to refresh its cache.
    // `bootstrapped` marks the database whose demo workspace was created.
    "CREATE TABLE IF NOT EXISTS sendid_meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workspaces (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        daily_send_id_quota BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL UNIQUE
    )",
    "CREATE TABLE IF NOT EXISTS campaigns (
        campaign_id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL UNIQUE
    )",
    // permissions and allowed_ips as JSON text: portable across PostgreSQL-wire engines.
    "CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        hash BYTEA NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL,
        name TEXT,
        permissions TEXT NOT NULL,
        allowed_ips TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        seq BIGSERIAL NOT NULL UNIQUE
    )",
    // A pair, once; `seq` orders a campaign's pairs for listing.
    "CREATE TABLE IF NOT EXISTS pairs (
        campaign_id TEXT NOT NULL,
        send_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL,
        PRIMARY KEY (campaign_id, send_id)
    )",
    "CREATE INDEX IF NOT EXISTS pairs_by_campaign_seq ON pairs (campaign_id, seq)",
    // Quota units spent per workspace and UTC day (days since 1970-01-01).
    "CREATE TABLE IF NOT EXISTS quota_usage (
        workspace_id TEXT NOT NULL,
        utc_day BIGINT NOT NULL,
        used BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, utc_day)
    )",
    "INSERT INTO sendid_meta (k, v) VALUES ('changes', 0) ON CONFLICT (k) DO NOTHING",
];

/// Every resource's statements, in order: the tables above, then those of the send lifecycle
/// (each additive, so a database of an older build gains them at its next start).
fn statements() -> impl Iterator<Item = &'static str> {
    STATEMENTS
        .iter()
        .chain(super::dispatches::SCHEMA)
        .chain(super::stats::SCHEMA)
        .copied()
}

pub async fn migrate(pool: &PgPool) -> StoreResult<()> {
    let mut attempt = 0;
    loop {
        match try_migrate(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 20 && is_race(&e) => {
                attempt += 1;
                tracing::debug!(error = %e, "schema migration raced another instance; retrying");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(db_error(e)),
        }
    }
}

async fn try_migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for statement in statements() {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    sqlx::query("INSERT INTO sendid_schema (version) VALUES ($1) ON CONFLICT (version) DO NOTHING")
        .bind(VERSION)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Errors two instances creating the same catalog entries at once may see.
fn is_race(e: &sqlx::Error) -> bool {
    let code = e
        .as_database_error()
        .and_then(|d| d.code().map(|c| c.into_owned()));
    matches!(
        code.as_deref(),
        Some("23505" | "42P07" | "42701" | "42710" | "40001" | "40P01" | "XX000")
    )
}
