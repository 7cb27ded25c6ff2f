//! The shared engine: [`Store`] on PostgreSQL (or a PostgreSQL-wire database), for any number of
//! sendid instances on one database.
//!
//! - Pairs and quota: group commit in one transaction per group (`batch.rs`); a 200 only after
//!   `COMMIT` returned.
//! - Workspaces, campaigns and keys: held in memory like on sled, changed with every local
//!   commit, and reloaded when another instance changed them: every admin change increments
//!   the `changes` counter in its own transaction, and each instance polls that counter twice a
//!   second, so an admin change reaches every instance within a second.
//! - The database unreachable: every call fails with `Unavailable` (503) until it is back; the
//!   pool reconnects by itself.
mod batch;
mod schema;
mod standby;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};

use self::batch::{BatchConfig, Batcher};
use super::directory::Records;
use super::{
    ApiKeyRecord, Campaign, CreateOutcome, Directory, NewSendId, PairJob, SendIdEntry, SendIdPage,
    Store, StoreError, StoreOptions, StoreResult, Workspace, WorkspaceChange,
};
use crate::domain::UtcDay;

/// How often each instance looks for admin changes made by the others.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Transactions of pairs in flight at once per instance. One: a group's transaction holds its
/// workspace's day counter from the `UPDATE` to the end of `COMMIT`, so a second one in flight
/// would only wait for that lock while the requests it took could have joined the next, larger
/// group (measured with `bench/run`: one worker ~4,200–6,000 new pairs/s, two ~2,700).
const PAIR_WORKERS: usize = 1;

pub struct PgStore {
    pool: PgPool,
    /// `--database-timeout`: the longest any call waits for the database.
    timeout: Duration,
    directory: Arc<Directory>,
    batcher: Batcher,
    poller: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Where a database URL points, without its password: safe to print.
pub fn describe_url(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "PostgreSQL at {}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("(default database)")
        ),
        Err(_) => "PostgreSQL".into(),
    }
}

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

pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        _ if standby::is_read_only(&e) => standby::refused(&e),
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => {
            StoreError::Conflict("record")
        }
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            StoreError::Corrupt(format!("a record in the database is malformed: {e}"))
        }
        _ => StoreError::Unavailable(format!("database: {e}")),
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Unavailable(format!("encoding a record: {e}")))
}

fn from_json_text<T: serde::de::DeserializeOwned>(v: &str) -> StoreResult<T> {
    serde_json::from_str(v)
        .map_err(|e| StoreError::Corrupt(format!("a record in the database is malformed: {e}")))
}

impl PgStore {
    /// Connects, applies the schema (safe when other instances start at the same moment) and
    /// loads the directory. Fails when the database cannot be reached.
    pub async fn open(url: &str, options: StoreOptions) -> StoreResult<Self> {
        let timeout = options
            .database_timeout
            .unwrap_or(super::DEFAULT_DATABASE_TIMEOUT);
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("the database URL is not valid: {e}")))?;
        let connecting = standby::hooks(PgPoolOptions::new())
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(timeout)
            // No ping before every use (it would be a round trip per query): a connection broken
            // while the database was down fails its next query (503) and is replaced.
            .test_before_acquire(false)
            .connect_with(connect);
        let pool = bounded(timeout, async {
            connecting.await.map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to {}: {e}", describe_url(url)))
            })
        })
        .await?;
        bounded(timeout, standby::refuse(&pool, url)).await?;
        bounded(timeout, schema::migrate(&pool)).await?;
        let (counter, loaded) = bounded(timeout, async {
            load_directory(&pool).await.map_err(db_error)
        })
        .await?;
        let directory = Arc::new(Directory::new(loaded));
        let batcher = Batcher::start(
            pool.clone(),
            PAIR_WORKERS,
            BatchConfig {
                fail_commit: options.fail_flush,
                observer: options.observer,
                timeout,
            },
        );
        let poller = tokio::spawn(poll_changes(
            pool.clone(),
            directory.clone(),
            counter,
            timeout,
        ));
        Ok(Self {
            pool,
            timeout,
            directory,
            batcher,
            poller: std::sync::Mutex::new(Some(poller)),
        })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// Ends an admin change: when it changed something, bumps the change counter in the same
/// transaction (so the other instances reload) and commits; otherwise rolls back.
async fn finish_change(
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

/// Runs an `async` block of database work again on serialization failures and deadlocks, all
/// of it within `limit` (`--database-timeout`).
macro_rules! with_retry {
    ($limit:expr, $work:expr) => {{
        $crate::store::postgres::bounded($limit, async {
            let mut attempt = 0u32;
            loop {
                match $work.await {
                    Err(e) if batch::is_retryable(&e) && attempt < 20 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                    }
                    other => break other.map_err(db_error),
                }
            }
        })
        .await
    }};
}

// After `with_retry!`, which it uses.
mod edits;

/// Reads the change counter, then the directory: a change committed in between is in the
/// directory and is read again at the next poll (the counter moved), never missed.
async fn load_directory(pool: &PgPool) -> Result<(i64, Records), sqlx::Error> {
    let counter: i64 = sqlx::query("SELECT v FROM sendid_meta WHERE k = 'changes'")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let mut dir = Records::default();
    for row in sqlx::query("SELECT id, name, daily_send_id_quota, created_at, seq FROM workspaces")
        .fetch_all(pool)
        .await?
    {
        let w = Workspace {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            daily_send_id_quota: row.try_get::<i64, _>(2)?.max(0) as u64,
            created_at: row.try_get(3)?,
            seq: row.try_get::<i64, _>(4)?.max(0) as u64,
        };
        dir.workspaces.insert(w.id.clone(), w);
    }
    for row in sqlx::query("SELECT campaign_id, workspace_id, name, created_at, seq FROM campaigns")
        .fetch_all(pool)
        .await?
    {
        let c = Campaign {
            campaign_id: row.try_get(0)?,
            workspace_id: row.try_get(1)?,
            name: row.try_get(2)?,
            created_at: row.try_get(3)?,
            seq: row.try_get::<i64, _>(4)?.max(0) as u64,
        };
        dir.campaigns.insert(c.campaign_id.clone(), c);
    }
    for row in sqlx::query(
        "SELECT key_id, hash, workspace_id, name, permissions, allowed_ips, created_at, \
         revoked_at, seq FROM api_keys",
    )
    .fetch_all(pool)
    .await?
    {
        match key_from_row(&row) {
            Ok(k) => {
                dir.keys.insert(k.hash, k);
            }
            Err(e) => tracing::error!(error = %e, "skipping a malformed API key record"),
        }
    }
    Ok((counter, dir))
}

fn key_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<ApiKeyRecord> {
    let get_err = |e: sqlx::Error| StoreError::Corrupt(format!("an API key record: {e}"));
    let hash: Vec<u8> = row.try_get(1).map_err(get_err)?;
    let permissions: String = row.try_get(4).map_err(get_err)?;
    let allowed_ips: String = row.try_get(5).map_err(get_err)?;
    Ok(ApiKeyRecord {
        key_id: row.try_get(0).map_err(get_err)?,
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("an API key hash is not 32 bytes".into()))?,
        workspace_id: row.try_get(2).map_err(get_err)?,
        name: row.try_get(3).map_err(get_err)?,
        permissions: from_json_text(&permissions)?,
        allowed_ips: from_json_text(&allowed_ips)?,
        created_at: row.try_get(6).map_err(get_err)?,
        revoked_at: row.try_get(7).map_err(get_err)?,
        seq: row.try_get::<i64, _>(8).map_err(get_err)?.max(0) as u64,
    })
}

/// Reloads the directory when another instance changed it. A reload that started before a local
/// change does not overwrite it (the next poll reloads instead).
async fn poll_changes(pool: PgPool, directory: Arc<Directory>, mut seen: i64, limit: Duration) {
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

/// Inserts the key; its creation sequence, or `None` when it exists.
async fn insert_key(
    tx: &mut Transaction<'static, Postgres>,
    key: &ApiKeyRecord,
    permissions: &str,
    allowed_ips: &str,
) -> Result<Option<u64>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO api_keys (key_id, hash, workspace_id, name, permissions, allowed_ips, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(&key.key_id)
    .bind(&key.hash[..])
    .bind(&key.workspace_id)
    .bind(&key.name)
    .bind(permissions)
    .bind(allowed_ips)
    .bind(key.created_at)
    .fetch_optional(&mut **tx)
    .await?;
    seq_of(done)
}

fn seq_of(row: Option<sqlx::postgres::PgRow>) -> Result<Option<u64>, sqlx::Error> {
    row.map(|r| r.try_get::<i64, _>(0).map(|s| s.max(0) as u64))
        .transpose()
}

impl Store for PgStore {
    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let permissions = json_text(&key.permissions)?;
            let allowed_ips = json_text(&key.allowed_ips)?;
            let created = with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                // The first instance to insert the marker sets the database up; the others
                // wait for its commit here and then find the marker.
                let marked = sqlx::query(
                    "INSERT INTO sendid_meta (k, v) VALUES ('bootstrapped', 1) \
                     ON CONFLICT (k) DO NOTHING",
                )
                .execute(&mut *tx)
                .await?;
                if marked.rows_affected() == 0 {
                    finish_change(tx, false).await?;
                    return Ok(None);
                }
                let w = insert_workspace(&mut tx, workspace).await?;
                let c = insert_campaign(&mut tx, campaign).await?;
                let k = insert_key(&mut tx, key, &permissions, &allowed_ips).await?;
                finish_change(tx, true).await?;
                Ok::<_, sqlx::Error>(Some((w, c, k)))
            })?;
            let Some((w, c, k)) = created else {
                return Ok(false);
            };
            self.directory.change(|d| {
                let seq = w.unwrap_or_default();
                d.workspaces.insert(
                    workspace.id.clone(),
                    Workspace {
                        seq,
                        ..workspace.clone()
                    },
                );
                let seq = c.unwrap_or_default();
                d.campaigns.insert(
                    campaign.campaign_id.clone(),
                    Campaign {
                        seq,
                        ..campaign.clone()
                    },
                );
                let seq = k.unwrap_or_default();
                d.keys.insert(key.hash, ApiKeyRecord { seq, ..key.clone() });
            });
            Ok(true)
        }
        .boxed()
    }

    fn create_workspace<'a>(&'a self, workspace: &'a Workspace) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let created = with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                let created = insert_workspace(&mut tx, workspace).await?;
                finish_change(tx, created.is_some()).await?;
                Ok::<_, sqlx::Error>(created)
            })?;
            let Some(seq) = created else {
                return Err(StoreError::Conflict("workspace"));
            };
            self.directory.change(|d| {
                let w = Workspace {
                    seq,
                    ..workspace.clone()
                };
                d.workspaces.insert(workspace.id.clone(), w);
            });
            Ok(())
        }
        .boxed()
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

    fn create_campaign<'a>(&'a self, campaign: &'a Campaign) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let created = with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                let created = insert_campaign(&mut tx, campaign).await?;
                if created.is_some() {
                    // Pairs an instance wrote for a deleted campaign of this id in the moment
                    // before it heard of the deletion: the new campaign starts empty.
                    sqlx::query("DELETE FROM pairs WHERE campaign_id = $1")
                        .bind(&campaign.campaign_id)
                        .execute(&mut *tx)
                        .await?;
                }
                finish_change(tx, created.is_some()).await?;
                Ok::<_, sqlx::Error>(created)
            })?;
            let Some(seq) = created else {
                return Err(StoreError::Conflict("campaign"));
            };
            self.directory.change(|d| {
                let c = Campaign {
                    seq,
                    ..campaign.clone()
                };
                d.campaigns.insert(campaign.campaign_id.clone(), c);
            });
            Ok(())
        }
        .boxed()
    }

    fn create_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let permissions = json_text(&key.permissions)?;
            let allowed_ips = json_text(&key.allowed_ips)?;
            let created = with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                let created = insert_key(&mut tx, key, &permissions, &allowed_ips).await?;
                finish_change(tx, created.is_some()).await?;
                Ok::<_, sqlx::Error>(created)
            })?;
            let Some(seq) = created else {
                return Err(StoreError::Conflict("api key"));
            };
            self.directory.change(|d| {
                d.keys.insert(key.hash, ApiKeyRecord { seq, ..key.clone() });
            });
            Ok(())
        }
        .boxed()
    }

    fn revoke_api_key<'a>(
        &'a self,
        key_id: &'a str,
        now_millis: i64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let revoked: Option<Vec<u8>> = with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                let row = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 \
                     WHERE key_id = $1 AND revoked_at IS NULL RETURNING hash",
                )
                .bind(key_id)
                .bind(now_millis)
                .fetch_optional(&mut *tx)
                .await?;
                let hash = row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()?;
                finish_change(tx, hash.is_some()).await?;
                Ok::<_, sqlx::Error>(hash)
            })?;
            let Some(hash) = revoked else {
                return Ok(false);
            };
            // Revoked in this instance's memory before the 204; the others reload it at their
            // next poll.
            self.directory.change(|d| {
                if let Some(k) = d.keys.values_mut().find(|k| k.hash[..] == hash[..]) {
                    k.revoked_at = Some(now_millis);
                }
            });
            Ok(true)
        }
        .boxed()
    }

    // Admin edits: `edits.rs`.
    fn update_workspace<'a>(
        &'a self,
        id: &'a str,
        change: &'a WorkspaceChange,
    ) -> BoxFuture<'a, StoreResult<Option<Workspace>>> {
        self.update_workspace_now(id, change).boxed()
    }

    fn delete_workspace<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.delete_workspace_now(id).boxed()
    }

    fn rename_campaign<'a>(
        &'a self,
        campaign_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.rename_campaign_now(campaign_id, name).boxed()
    }

    fn delete_campaign<'a>(&'a self, campaign_id: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.delete_campaign_now(campaign_id).boxed()
    }

    fn update_api_key<'a>(&'a self, key: &'a ApiKeyRecord) -> BoxFuture<'a, StoreResult<bool>> {
        self.update_api_key_now(key).boxed()
    }

    fn create_send_id<'a>(
        &'a self,
        req: NewSendId<'a>,
    ) -> BoxFuture<'a, StoreResult<CreateOutcome>> {
        // Bounded as a whole: a request queued behind a group the database does not answer is
        // answered 503 too. Its pair may still be committed with that group; a retry finds it.
        async move { bounded(self.timeout, self.batcher.submit(PairJob::new(&req))).await }.boxed()
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

    fn health(&self) -> BoxFuture<'_, StoreResult<()>> {
        standby::health(&self.pool, self.timeout.min(Duration::from_secs(2))).boxed()
    }

    fn close(&self) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            self.batcher.shutdown().await;
            if let Some(poller) = self.poller.lock().unwrap_or_else(|p| p.into_inner()).take() {
                poller.abort();
            }
            self.pool.close().await;
            Ok(())
        }
        .boxed()
    }

    fn reset(&self) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            with_retry!(self.timeout, async {
                let mut tx = self.begin().await?;
                // DELETE rather than TRUNCATE: no exclusive lock, and portable across engines.
                for table in [
                    "pairs",
                    "quota_usage",
                    "api_keys",
                    "campaigns",
                    "workspaces",
                ] {
                    sqlx::query(&format!("DELETE FROM {table}"))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM sendid_meta WHERE k = 'bootstrapped'")
                    .execute(&mut *tx)
                    .await?;
                // The change counter moves: the other instances reload an empty directory.
                finish_change(tx, true).await
            })?;
            self.directory.change(|d| *d = Records::default());
            Ok(())
        }
        .boxed()
    }
}

async fn insert_workspace(
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

async fn insert_campaign(
    tx: &mut Transaction<'static, Postgres>,
    c: &Campaign,
) -> Result<Option<u64>, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO campaigns (campaign_id, workspace_id, name, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(&c.campaign_id)
    .bind(&c.workspace_id)
    .bind(&c.name)
    .bind(c.created_at)
    .fetch_optional(&mut **tx)
    .await?;
    seq_of(done)
}
