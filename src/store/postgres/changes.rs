//! How the instances on one database keep their directories current: every admin change
//! increments the `changes` counter in its own transaction ([`finish_change`]); each instance
//! polls that counter twice a second ([`poll_changes`]) and reloads the directory when it moved,
//! so an admin change reaches every instance within a second.
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, Postgres, Row, Transaction};

use super::retry::bounded;
use super::{api_keys, campaigns, db_error, workspaces};
use crate::store::directory::Records;
use crate::store::Directory;

/// How often each instance looks for admin changes made by the others.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Ends an admin change: when it changed something, bumps the change counter in the same
/// transaction (so the other instances reload) and commits; otherwise rolls back.
pub(crate) async fn finish_change(
    mut tx: Transaction<'static, Postgres>,
    changed: bool,
) -> Result<bool, sqlx::Error> {
    if changed {
        sqlx::query("UPDATE sendid_meta SET v = v + 1 WHERE k = 'changes'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(changed)
}

/// Reads the change counter, then the directory: a change committed in between is in the
/// directory and is read again at the next poll (the counter moved), never missed.
pub(crate) async fn load_directory(pool: &PgPool) -> Result<(i64, Records), sqlx::Error> {
    let counter: i64 = sqlx::query("SELECT v FROM sendid_meta WHERE k = 'changes'")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let mut dir = Records::default();
    let select = |columns: &str, table: &str| format!("SELECT {columns} FROM {table}");
    for row in sqlx::query(&select(workspaces::COLUMNS, "workspaces"))
        .fetch_all(pool)
        .await?
    {
        let w = workspaces::from_row(&row)?;
        dir.workspaces.insert(w.id.clone(), w);
    }
    for row in sqlx::query(&select(campaigns::COLUMNS, "campaigns"))
        .fetch_all(pool)
        .await?
    {
        let c = campaigns::from_row(&row)?;
        dir.campaigns.insert(c.campaign_id.clone(), c);
    }
    for row in sqlx::query(&select(api_keys::COLUMNS, "api_keys"))
        .fetch_all(pool)
        .await?
    {
        match api_keys::from_row(&row) {
            Ok(k) => {
                dir.keys.insert(k.hash, k);
            }
            Err(e) => tracing::error!(error = %e, "skipping a malformed API key record"),
        }
    }
    Ok((counter, dir))
}

/// Loads the directory again at once rather than at the next poll: for a start that found the
/// database set up by an instance that committed after this one loaded it (its demo key must
/// authenticate here as soon as this start is announced). A local change made during the load
/// wins, and the load is tried again.
pub(crate) async fn reload_now(pool: &PgPool, directory: &Directory) -> Result<(), sqlx::Error> {
    loop {
        let before = directory.changes();
        let (_, records) = load_directory(pool).await?;
        if directory.replace_unless_changed(before, records) {
            return Ok(());
        }
    }
}

/// Reloads the directory when another instance changed it. A reload that started before a local
/// change does not overwrite it (the next poll reloads instead).
pub(crate) async fn poll_changes(
    pool: PgPool,
    directory: Arc<Directory>,
    mut seen: i64,
    limit: Duration,
) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let counter = bounded(limit, async {
            sqlx::query("SELECT v FROM sendid_meta WHERE k = 'changes'")
                .fetch_one(&pool)
                .await
                .and_then(|r| r.try_get::<i64, _>(0))
                .map_err(db_error)
        })
        .await;
        match counter {
            Ok(c) if c == seen => {}
            Ok(_) => {
                let before = directory.changes();
                match bounded(limit, async {
                    load_directory(&pool).await.map_err(db_error)
                })
                .await
                {
                    Ok((c, records)) => {
                        if directory.replace_unless_changed(before, records) {
                            seen = c;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reloading workspaces, campaigns and keys failed")
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "polling for admin changes failed"),
        }
    }
}
