//! Group commit on PostgreSQL: requests for pairs wait in a queue; a worker takes every request
//! waiting at once and decides and writes them in ONE transaction.
//!
//! **The usual case: three round trips** (`BEGIN`, one statement, `COMMIT`). The statement
//! (`SPEND`) inserts the group's pairs with `INSERT … ON CONFLICT DO NOTHING RETURNING` and, in
//! the same statement, moves each workspace's day counter by the number of pairs it inserted,
//! conditionally: `used + inserted <= limit`. The counter's row lock is taken by that `UPDATE`
//! and held only for the rest of the statement and the `COMMIT`. Which pairs were inserted says
//! which existed; `domain::PairLedger` then decides rules 6–8 in arrival order from exactly that
//! knowledge, and the decisions must agree with what was written (every pair the ledger creates
//! inserted, every counter moved as the ledger says) or the transaction is rolled back. When a
//! counter could not move (the quota would be exceeded, or the day's row does not exist yet),
//! the group is rolled back and decided on the careful path below, which refuses exactly the
//! pairs past the end of the quota.
//!
//! **The careful path: five round trips.**
//!
//! 1. `BEGIN`
//! 2. one statement that locks the (workspace, day) usage rows of the group (an upsert that
//!    inserts a missing row at 0 and otherwise rewrites the row unchanged, in a fixed order so
//!    two instances cannot deadlock) and returns their `used`; then one that finds the pairs of
//!    the group that already exist (after the lock, so it sees what the previous holder wrote);
//! 3. rules 6–8 decided in memory by `domain::PairLedger`, then one statement that inserts the
//!    new pairs (`INSERT … SELECT FROM UNNEST … ON CONFLICT DO NOTHING`) and moves each usage
//!    row from the value read to the new one (`UPDATE … WHERE used = <value read>`): both
//!    counts are checked, and any surprise rolls the whole group back and decides it again;
//! 4. `COMMIT` — only then is anyone answered.
//!
//! `SPEND` is prepared once per connection: planning it costs more than running it (measured:
//! half of PostgreSQL's CPU per pair when sent unprepared), and its plan cannot go wrong as the
//! tables grow — it reaches `pairs` only through the insert's conflict check on the primary key,
//! and `quota_usage`, which every group updates, is analyzed (and the plan redone) as often as
//! autovacuum comes by. The careful path's statements are sent unprepared (`persistent(false)`):
//! a plan for `FIND` cached while `pairs` was empty scanned the whole table for every group once
//! it was large.
//!
//! The usage row lock is what makes the quota exact across instances: two instances deciding
//! for the same workspace and day take turns. Serialization failures and deadlocks (SQLSTATE
//! 40001, 40P01, as CockroachDB and YugabyteDB report contention) are retried transparently.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};
use tokio::sync::Mutex;

use super::db_error;
use super::retry::{is_retryable, timed_out};
use crate::domain::{PairDecision, PairLedger, PairRequest};
use crate::store::{
    pair_queue, CreateOutcome, FlushObserver, PairJob as Job, PairQueue, Reply, StoreError,
    StoreResult,
};

/// The most requests decided and written in one transaction.
const MAX_GROUP: usize = 512;
/// How often a group is decided again after a serialization failure, deadlock or surprise.
const MAX_RETRIES: u32 = 20;
/// Workspaces whose day this instance saw refused (so groups for them take the careful path
/// at once), at most this many remembered.
const EXHAUSTED_MEMORY: usize = 4096;

pub(crate) struct Batcher {
    queue: PairQueue,
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

#[derive(Clone)]
pub(crate) struct BatchConfig {
    pub fail_commit: Option<Arc<AtomicBool>>,
    pub observer: Option<Arc<dyn FlushObserver>>,
    /// `--database-timeout`, for each attempt at a group's transaction.
    pub timeout: Duration,
}

/// (workspace, UTC day, daily quota) seen with no unit left: the fast path would only fail.
type Exhausted = Arc<std::sync::Mutex<HashSet<(String, i64, u64)>>>;

impl Batcher {
    /// `workers` transactions may be in flight at once (groups of the same workspace take turns
    /// on its day counter; see `PAIR_WORKERS`).
    pub fn start(pool: PgPool, workers: usize, config: BatchConfig) -> Self {
        let (queue, inbox) = pair_queue();
        let inbox = Arc::new(Mutex::new(inbox));
        let exhausted = Exhausted::default();
        let handles = (0..workers.max(1))
            .map(|_| {
                let inbox = inbox.clone();
                let pool = pool.clone();
                let config = config.clone();
                let exhausted = exhausted.clone();
                tokio::spawn(async move {
                    loop {
                        let Some(jobs) = inbox.lock().await.next_group(MAX_GROUP).await else {
                            return;
                        };
                        run_group(&pool, &config, &exhausted, jobs).await;
                    }
                })
            })
            .collect();
        Self {
            queue,
            workers: std::sync::Mutex::new(handles),
        }
    }

    pub async fn submit(&self, job: Job) -> StoreResult<CreateOutcome> {
        self.queue.submit(job).await
    }

    /// Stops taking requests and waits for the groups in flight to be answered.
    pub async fn shutdown(&self) {
        self.queue.close();
        let handles: Vec<_> =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }
}

enum GroupError {
    /// Contention: decide the whole group again.
    Retry(String),
    Fail(StoreError),
}

impl From<sqlx::Error> for GroupError {
    fn from(e: sqlx::Error) -> Self {
        if is_retryable(&e) {
            GroupError::Retry(e.to_string())
        } else {
            GroupError::Fail(db_error(e))
        }
    }
}

async fn run_group(
    pool: &PgPool,
    config: &BatchConfig,
    exhausted: &Exhausted,
    group: Vec<(Job, Reply)>,
) {
    let (jobs, replies): (Vec<Job>, Vec<Reply>) = group.into_iter().unzip();
    let started = Instant::now();
    let mut attempt = 0;
    let mut fast = !touches_exhausted(exhausted, &jobs);
    let result = loop {
        // Each attempt bounded: a database that does not answer fails the group (503), and the
        // connection it hung on is dropped. When it hung after `COMMIT` was sent the pairs may
        // be committed; a retry finds them and answers 200 without spending again.
        let group = &jobs;
        let attempt_at = |fast| async move {
            let work = async {
                if fast {
                    spend(pool, config, group).await
                } else {
                    decide_and_write(pool, config, group).await
                }
            };
            tokio::time::timeout(config.timeout, work)
                .await
                .unwrap_or_else(|_| Err(GroupError::Fail(timed_out(config.timeout))))
        };
        let written = match attempt_at(fast).await {
            Err(GroupError::Retry(why)) if fast && why == CAREFUL => {
                fast = false;
                continue;
            }
            other => other,
        };
        match written {
            Ok(outcomes) => break Ok(outcomes),
            Err(GroupError::Retry(why)) if attempt < MAX_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, reason = %why, "group of pairs decided again");
                let jitter = u64::from(rand_u16() % 5);
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) + jitter)).await;
            }
            Err(GroupError::Retry(why)) => {
                break Err(StoreError::Unavailable(format!(
                    "gave up after {MAX_RETRIES} retries: {why}"
                )))
            }
            Err(GroupError::Fail(e)) => break Err(e),
        }
    };
    if let Some(o) = &config.observer {
        o.flushed(jobs.len(), started.elapsed(), result.is_ok());
    }
    if let Ok(outcomes) = &result {
        remember_exhausted(exhausted, &jobs, outcomes);
    }
    match result {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "a group of pairs was not committed; none of it is acknowledged");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Unavailable(e.to_string())));
            }
        }
    }
}

fn touches_exhausted(exhausted: &Exhausted, jobs: &[Job]) -> bool {
    let known = exhausted.lock().unwrap_or_else(|p| p.into_inner());
    !known.is_empty()
        && jobs
            .iter()
            .any(|j| known.contains(&(j.workspace_id.clone(), j.request().day().number(), j.limit)))
}

fn remember_exhausted(exhausted: &Exhausted, jobs: &[Job], outcomes: &[CreateOutcome]) {
    let mut known = exhausted.lock().unwrap_or_else(|p| p.into_inner());
    for (job, outcome) in jobs.iter().zip(outcomes) {
        if let CreateOutcome::QuotaExhausted(_) = outcome {
            if known.len() >= EXHAUSTED_MEMORY {
                known.clear();
            }
            known.insert((
                job.workspace_id.clone(),
                job.request().day().number(),
                job.limit,
            ));
        }
    }
}

fn rand_u16() -> u16 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([bytes[0], bytes[1]])
}

const LOCK: &str = "
INSERT INTO quota_usage (workspace_id, utc_day, used)
SELECT w, d, 0 FROM UNNEST($1::TEXT[], $2::INT8[]) AS t(w, d) ORDER BY w, d
ON CONFLICT (workspace_id, utc_day) DO UPDATE SET used = quota_usage.used
RETURNING workspace_id, utc_day, used";

/// Run after `LOCK`, as a statement of its own: under READ COMMITTED it then sees every pair
/// committed by whoever held the usage rows before us (in the same statement it would not, and a
/// pair just created elsewhere could be refused 429 instead of answered 200).
const FIND: &str = "
SELECT p.campaign_id, p.send_id
FROM pairs p JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS q(c, s)
    ON p.campaign_id = q.c AND p.send_id = q.s";

const WRITE: &str = "
WITH ins AS (
    INSERT INTO pairs (campaign_id, send_id, created_at)
    SELECT c, s, t FROM UNNEST($1::TEXT[], $2::TEXT[], $3::INT8[]) AS n(c, s, t)
    ON CONFLICT (campaign_id, send_id) DO NOTHING
    RETURNING 1
), upd AS (
    UPDATE quota_usage SET used = u.after
    FROM UNNEST($4::TEXT[], $5::INT8[], $6::INT8[], $7::INT8[]) AS u(w, d, before, after)
    WHERE quota_usage.workspace_id = u.w AND quota_usage.utc_day = u.d
      AND quota_usage.used = u.before
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)";

/// Why the fast path hands a group to the careful one.
const CAREFUL: &str = "a day counter could not move by what the group inserted";

/// The group's distinct pairs, in arrival order, inserted unless they exist; each workspace's
/// day counter moved by what it inserted, only if that stays within its quota. Returns one row
/// per inserted pair (`kind` 0), and one per (workspace, day) of the group (`kind` 1) with its
/// units used after the statement and whether this statement moved it.
const SPEND: &str = "
WITH ins AS (
    INSERT INTO pairs (campaign_id, send_id, created_at)
    SELECT c, s, t FROM UNNEST($1::TEXT[], $2::TEXT[], $3::INT8[]) WITH ORDINALITY AS n(c, s, t, i)
    ORDER BY i
    ON CONFLICT (campaign_id, send_id) DO NOTHING
    RETURNING campaign_id, send_id
), spent AS (
    SELECT n.w, n.d, count(*) AS k
    FROM ins JOIN UNNEST($1::TEXT[], $2::TEXT[], $4::TEXT[], $5::INT8[]) AS n(c, s, w, d)
        ON ins.campaign_id = n.c AND ins.send_id = n.s
    GROUP BY n.w, n.d
), upd AS (
    UPDATE quota_usage SET used = quota_usage.used + spent.k
    FROM spent JOIN UNNEST($6::TEXT[], $7::INT8[], $8::INT8[]) AS l(w, d, lim)
        ON l.w = spent.w AND l.d = spent.d
    WHERE quota_usage.workspace_id = spent.w AND quota_usage.utc_day = spent.d
      AND quota_usage.used + spent.k <= l.lim
    RETURNING quota_usage.workspace_id, quota_usage.utc_day, quota_usage.used
)
SELECT 0, campaign_id, send_id, 0::INT8, 0::INT8, FALSE FROM ins
UNION ALL
SELECT 1, l.w, NULL, l.d, COALESCE(upd.used, q.used, 0), upd.used IS NOT NULL
FROM UNNEST($6::TEXT[], $7::INT8[]) AS l(w, d)
    LEFT JOIN upd ON upd.workspace_id = l.w AND upd.utc_day = l.d
    LEFT JOIN quota_usage q ON q.workspace_id = l.w AND q.utc_day = l.d";

/// The fast path (see the module's comment). `Err(Retry(CAREFUL))` sends the group to the
/// careful path; nothing was written then.
async fn spend(
    pool: &PgPool,
    config: &BatchConfig,
    jobs: &[Job],
) -> Result<Vec<CreateOutcome>, GroupError> {
    let requests: Vec<PairRequest<'_>> = jobs.iter().map(Job::request).collect();
    // Distinct pairs in arrival order, each with the workspace and day of its first request.
    let mut seen = HashSet::new();
    let (mut c, mut s, mut t, mut w, mut d) = (vec![], vec![], vec![], vec![], vec![]);
    for (job, req) in jobs.iter().zip(&requests) {
        if seen.insert((req.campaign_id, req.send_id)) {
            c.push(req.campaign_id);
            s.push(req.send_id);
            t.push(job.now_millis);
            w.push(req.workspace_id);
            d.push(req.day().number());
        }
    }
    // The group's (workspace, day) and the quota to hold each to.
    let mut limits: Vec<(&str, i64, i64)> = requests
        .iter()
        .map(|r| {
            let limit = i64::try_from(r.limit).unwrap_or(i64::MAX);
            (r.workspace_id, r.day().number(), limit)
        })
        .collect();
    limits.sort_unstable();
    limits.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));

    let mut tx = pool.begin().await?;
    let rows = sqlx::query(SPEND)
        .bind(&c)
        .bind(&s)
        .bind(&t)
        .bind(&w)
        .bind(&d)
        .bind(limits.iter().map(|l| l.0).collect::<Vec<_>>())
        .bind(limits.iter().map(|l| l.1).collect::<Vec<_>>())
        .bind(limits.iter().map(|l| l.2).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
    let mut inserted: HashSet<(String, String)> = HashSet::new();
    // (workspace, day) -> (units used after the statement, moved by it)
    let mut after: HashMap<(String, i64), (u64, bool)> = HashMap::new();
    for row in rows {
        let kind: i32 = row.try_get(0)?;
        let a: String = row.try_get(1)?;
        if kind == 0 {
            inserted.insert((a, row.try_get(2)?));
        } else {
            let day: i64 = row.try_get(3)?;
            let used: i64 = row.try_get(4)?;
            after.insert((a, day), (used.max(0) as u64, row.try_get(5)?));
        }
    }
    // Units each (workspace, day) inserted, to find its count before the statement.
    let mut spent: HashMap<(&str, i64), u64> = HashMap::new();
    for i in 0..c.len() {
        if inserted.contains(&(c[i].to_string(), s[i].to_string())) {
            *spent.entry((w[i], d[i])).or_default() += 1;
        }
    }
    let moved_all = spent.iter().all(|((ws, day), _)| {
        after
            .get(&(ws.to_string(), *day))
            .is_some_and(|(_, moved)| *moved)
    });
    if !moved_all {
        tx.rollback().await?;
        return Err(GroupError::Retry(CAREFUL.into()));
    }

    let mut ledger = PairLedger::default();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for req in &requests {
        let key = (req.workspace_id.to_string(), req.day().number());
        let (decision, status) = ledger.decide::<GroupError>(
            *req,
            || Ok(!inserted.contains(&(req.campaign_id.to_string(), req.send_id.to_string()))),
            || {
                let (used, _) = after
                    .get(&key)
                    .ok_or_else(|| GroupError::Retry("a day counter was not read".into()))?;
                let own = spent
                    .get(&(req.workspace_id, req.day().number()))
                    .copied()
                    .unwrap_or(0);
                Ok(used.saturating_sub(own))
            },
        )?;
        outcomes.push(match decision {
            PairDecision::Existing => CreateOutcome::Existing(status),
            PairDecision::Exhausted => CreateOutcome::QuotaExhausted(status),
            PairDecision::Create => CreateOutcome::Created(status),
        });
    }
    // What was written must be what the rules decide; anything else is not committed.
    let agrees = inserted.iter().all(|(cid, sid)| ledger.creates(cid, sid))
        && ledger.changed_usage().all(|(ws, day, _, used)| {
            after
                .get(&(ws.to_string(), day.number()))
                .is_some_and(|(n, _)| *n == used)
        })
        && outcomes
            .iter()
            .filter(|o| matches!(o, CreateOutcome::Created(_)))
            .count()
            == inserted.len();
    if !agrees {
        tx.rollback().await?;
        return Err(GroupError::Retry(CAREFUL.into()));
    }
    commit(tx, config).await?;
    Ok(outcomes)
}

async fn commit(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    config: &BatchConfig,
) -> Result<(), GroupError> {
    if config
        .fail_commit
        .as_ref()
        .is_some_and(|f| f.load(Ordering::SeqCst))
    {
        tx.rollback().await?;
        return Err(GroupError::Fail(StoreError::Unavailable(
            "injected commit failure".into(),
        )));
    }
    tx.commit().await?;
    Ok(())
}

async fn decide_and_write(
    pool: &PgPool,
    config: &BatchConfig,
    jobs: &[Job],
) -> Result<Vec<CreateOutcome>, GroupError> {
    let requests: Vec<PairRequest<'_>> = jobs.iter().map(Job::request).collect();
    let mut days: Vec<(&str, i64)> = requests
        .iter()
        .map(|r| (r.workspace_id, r.day().number()))
        .collect();
    days.sort_unstable();
    days.dedup();
    let mut pairs: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.campaign_id, r.send_id))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();

    let mut tx = pool.begin().await?;
    let locked = sqlx::query(LOCK)
        .persistent(false)
        .bind(days.iter().map(|d| d.0).collect::<Vec<_>>())
        .bind(days.iter().map(|d| d.1).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
    let mut used: HashMap<(String, i64), u64> = HashMap::new();
    for row in locked {
        let w: String = row.try_get(0)?;
        let day: i64 = row.try_get(1)?;
        let n: i64 = row.try_get(2)?;
        used.insert((w, day), n.max(0) as u64);
    }
    let found = sqlx::query(FIND)
        .persistent(false)
        .bind(pairs.iter().map(|p| p.0).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.1).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
    let mut existing: HashSet<(String, String)> = HashSet::new();
    for row in found {
        existing.insert((row.try_get(0)?, row.try_get(1)?));
    }

    let mut ledger = PairLedger::default();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut new_c = Vec::new();
    let mut new_s = Vec::new();
    let mut new_t = Vec::new();
    for (job, req) in jobs.iter().zip(&requests) {
        let (decision, status) = ledger.decide::<GroupError>(
            *req,
            || Ok(existing.contains(&(req.campaign_id.to_string(), req.send_id.to_string()))),
            || {
                used.get(&(req.workspace_id.to_string(), req.day().number()))
                    .copied()
                    .ok_or_else(|| GroupError::Retry("a usage row was not locked".into()))
            },
        )?;
        outcomes.push(match decision {
            PairDecision::Existing => CreateOutcome::Existing(status),
            PairDecision::Exhausted => CreateOutcome::QuotaExhausted(status),
            PairDecision::Create => {
                new_c.push(req.campaign_id);
                new_s.push(req.send_id);
                new_t.push(job.now_millis);
                CreateOutcome::Created(status)
            }
        });
    }
    if ledger.is_empty() {
        // Nothing to write: every answer rests on committed rows.
        tx.rollback().await?;
        return Ok(outcomes);
    }

    let mut uw = Vec::new();
    let mut ud = Vec::new();
    let mut ubefore = Vec::new();
    let mut uafter = Vec::new();
    for (workspace_id, day, before, after) in ledger.changed_usage() {
        uw.push(workspace_id);
        ud.push(day.number());
        ubefore.push(before as i64);
        uafter.push(after as i64);
    }
    let row = sqlx::query(WRITE)
        .persistent(false)
        .bind(&new_c)
        .bind(&new_s)
        .bind(&new_t)
        .bind(&uw)
        .bind(&ud)
        .bind(&ubefore)
        .bind(&uafter)
        .fetch_one(&mut *tx)
        .await?;
    let inserted: i64 = row.try_get(0)?;
    let updated: i64 = row.try_get(1)?;
    if inserted as usize != new_c.len() || updated as usize != uw.len() {
        tx.rollback().await?;
        return Err(GroupError::Retry(format!(
            "another instance wrote a pair of this group ({inserted} of {} inserted, {updated} of {} counters moved)",
            new_c.len(),
            uw.len()
        )));
    }
    commit(tx, config).await?;
    Ok(outcomes)
}
