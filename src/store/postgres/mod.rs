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
//!
//! The resources, one file each: `workspaces.rs`, `campaigns.rs`, `api_keys.rs`, `pairs.rs`;
//! here the pool's opening, the demo bootstrap and the reset. The plumbing: `retry.rs` (the
//! `--database-timeout` bound and retries on contention), `changes.rs` (the change counter and
//! the directory's reload), `batch.rs` (group commit of pairs), `schema.rs`.
mod api_keys;
mod batch;
mod campaigns;
mod changes;
mod dispatches;
mod pairs;
mod retry;
mod schema;
mod standby;
mod stats;
mod workspaces;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};

use self::batch::{BatchConfig, Batcher};
pub use self::changes::POLL_INTERVAL;
use self::changes::{finish_change, load_directory, poll_changes, reload_now};
use self::retry::with_retry;
pub(crate) use self::retry::{bounded, timed_out};
use super::directory::Records;
use super::{
    ApiKeyRecord, Campaign, Directory, HasDirectory, OpenError, Resource, Store, StoreError,
    StoreOptions, StoreResult, Workspace,
};

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

pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        _ if standby::is_read_only(&e) => standby::refused(&e),
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => {
            match d.constraint().and_then(resource_of) {
                Some(resource) => StoreError::Conflict {
                    resource,
                    id: conflicting_value(d.as_ref()).unwrap_or_default(),
                },
                None => StoreError::Unavailable(format!("database: {e}")),
            }
        }
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            StoreError::Corrupt(format!("a record in the database is malformed: {e}"))
        }
        _ => StoreError::Unavailable(format!("database: {e}")),
    }
}

/// The resource whose unique constraint a unique violation broke, by the constraint's name
/// (PostgreSQL's defaults for `schema.rs`'s tables: `<table>_pkey`, `<table>_<column>_key`).
/// `None` for the tables no client creates in (`sendid_meta`, `quota_usage`): a violation there
/// is the database's trouble, not a conflict to report.
fn resource_of(constraint: &str) -> Option<Resource> {
    match constraint {
        "workspaces_pkey" | "workspaces_seq_key" => Some(Resource::Workspace),
        "campaigns_pkey" | "campaigns_seq_key" => Some(Resource::Campaign),
        "api_keys_pkey" | "api_keys_hash_key" | "api_keys_seq_key" => Some(Resource::ApiKey),
        "pairs_pkey" => Some(Resource::Pair),
        _ => None,
    }
}

/// The value a unique violation names, from PostgreSQL's detail `Key (id)=(w1) already exists.`
fn conflicting_value(d: &dyn sqlx::error::DatabaseError) -> Option<String> {
    let detail = d
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?
        .detail()?;
    let (_, rest) = detail.split_once(")=(")?;
    let (value, _) = rest.rsplit_once(')')?;
    Some(value.to_string())
}

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(StoreError::Encode)
}

fn from_json_text<T: serde::de::DeserializeOwned>(v: &str) -> StoreResult<T> {
    serde_json::from_str(v)
        .map_err(|e| StoreError::Corrupt(format!("a record in the database is malformed: {e}")))
}

impl PgStore {
    /// Connects, applies the schema (safe when other instances start at the same moment) and
    /// loads the directory. Fails when the database cannot be reached.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, OpenError> {
        let timeout = options
            .database_timeout
            .unwrap_or(super::DEFAULT_DATABASE_TIMEOUT);
        let connect = PgConnectOptions::from_str(url).map_err(OpenError::BadUrl)?;
        let connecting = standby::hooks(PgPoolOptions::new())
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(timeout)
            // No ping before every use (it would be a round trip per query): a connection broken
            // while the database was down fails its next query (503) and is replaced.
            .test_before_acquire(false)
            .connect_with(connect);
        let pool = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| timed_out(timeout))?
            .map_err(|source| OpenError::Connect {
                target: describe_url(url),
                source,
            })?;
        standby::refuse(&pool, url, timeout).await?;
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

/// The creation sequence an `INSERT … RETURNING seq` gave, `None` when it inserted nothing.
fn seq_of(row: Option<sqlx::postgres::PgRow>) -> Result<Option<u64>, sqlx::Error> {
    row.map(|r| r.try_get::<i64, _>(0).map(|s| s.max(0) as u64))
        .transpose()
}

impl HasDirectory for PgStore {
    fn directory(&self) -> &Directory {
        &self.directory
    }
}

impl Store for PgStore {
    fn bootstrap<'a>(
        &'a self,
        workspace: &'a Workspace,
        campaign: &'a Campaign,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        async move {
            let encoded = &api_keys::Encoded::of(key)?;
            let created = with_retry(self.timeout, || async move {
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
                let w = workspaces::insert(&mut tx, workspace).await?;
                let c = campaigns::insert(&mut tx, campaign).await?;
                let k = api_keys::insert(&mut tx, key, encoded).await?;
                finish_change(tx, true).await?;
                Ok(Some((w, c, k)))
            })
            .await?;
            let Some((w, c, k)) = created else {
                // Set up before, perhaps by an instance starting at this moment whose commit
                // came after this one loaded the directory.
                bounded(self.timeout, async {
                    reload_now(&self.pool, &self.directory)
                        .await
                        .map_err(db_error)
                })
                .await?;
                return Ok(false);
            };
            self.directory.put_workspace(Workspace {
                seq: w.unwrap_or_default(),
                ..workspace.clone()
            });
            self.directory.put_campaign(Campaign {
                seq: c.unwrap_or_default(),
                ..campaign.clone()
            });
            self.directory.put_key(ApiKeyRecord {
                seq: k.unwrap_or_default(),
                ..key.clone()
            });
            Ok(true)
        }
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
            with_retry(self.timeout, || async move {
                let mut tx = self.begin().await?;
                // DELETE rather than TRUNCATE: no exclusive lock, and portable across engines.
                for table in [
                    "pairs",
                    "dispatches",
                    "send_stats",
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
            })
            .await?;
            self.directory.replace(Records::default());
            Ok(())
        }
        .boxed()
    }
}
