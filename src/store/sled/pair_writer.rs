//! Where the quota is spent: one thread owns every creation of a (campaign_id, send_id) pair.
//! It takes all requests waiting at once, decides rules 6–8 for each in arrival order (through
//! the engine-independent `domain::PairLedger`), and
//! writes the whole group as one atomic sled batch — one usage counter update per workspace and
//! one sequence update per campaign, however many pairs the group creates. Being the only
//! writer of those keys is what keeps the quota from ever being over-spent.
//!
//! The batch is then made durable by group commit (`group_commit.rs`), while this thread is
//! already applying the next group.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::oneshot;

use super::group_commit::GroupCommit;
use super::layout::{decode_u64, log_key, pair_key, seq_key, to_json, usage_key, PairRecord};
use crate::domain::{PairDecision, PairLedger, PairRequest};
use crate::store::{CreateOutcome, SendIdEntry, StoreError, StoreResult};

/// The most requests decided and written together.
const MAX_GROUP: usize = 512;

/// Marks a pair whose batch is being applied; its durability sequence number is not known yet.
const APPLYING: u64 = u64::MAX;

pub(crate) struct Job {
    pub workspace_id: String,
    pub limit: u64,
    pub campaign_id: String,
    pub send_id: String,
    pub now_millis: i64,
}

type Reply = oneshot::Sender<StoreResult<Decision>>;

/// The answer, and the write sequence number that must be durable before it may be given.
pub(crate) struct Decision {
    pub outcome: CreateOutcome,
    pub wait_for: Option<u64>,
}

/// Pairs written but perhaps not yet durable, with their write sequence numbers. A request that
/// finds one of these must wait for that write's flush before answering 200.
pub(crate) type Pending = Arc<Mutex<HashMap<Vec<u8>, u64>>>;

pub(crate) struct PairWriter {
    tx: Mutex<Option<mpsc::Sender<(Job, Reply)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pending: Pending,
}

impl PairWriter {
    pub fn start(tree: ::sled::Tree, commit: Arc<GroupCommit>) -> Self {
        let (tx, rx) = mpsc::channel::<(Job, Reply)>();
        let pending: Pending = Arc::default();
        let thread = {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("sendid-pair-writer".into())
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        let mut jobs = vec![first];
                        jobs.extend(rx.try_iter().take(MAX_GROUP - 1));
                        decide_and_write(&tree, &commit, &pending, jobs);
                    }
                })
                .expect("spawning the pair-writer thread")
        };
        Self {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            pending,
        }
    }

    /// True when the pair may not be durable yet (so a repeat must take the slow path).
    pub fn is_pending(&self, pair_key: &[u8]) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(pair_key)
    }

    pub async fn submit(&self, job: Job) -> StoreResult<Decision> {
        let (reply, rx) = oneshot::channel();
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(tx) = tx.as_ref() else {
                return Err(StoreError::Unavailable("storage is shutting down".into()));
            };
            tx.send((job, reply))
                .map_err(|_| StoreError::Unavailable("the pair writer has stopped".into()))?;
        }
        rx.await
            .map_err(|_| StoreError::Unavailable("the pair writer has stopped".into()))?
    }

    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for PairWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How an answer depends on durability.
enum Wait {
    Nothing,
    Seq(u64),
    ThisBatch,
}

fn decide_and_write(
    tree: &::sled::Tree,
    commit: &GroupCommit,
    pending: &Pending,
    jobs: Vec<(Job, Reply)>,
) {
    let mut ledger = PairLedger::default();
    let mut seqs: HashMap<String, (u64, bool)> = HashMap::new();
    let mut created: HashSet<Vec<u8>> = HashSet::new();
    let mut batch = ::sled::Batch::default();
    let mut decided: Vec<(Reply, StoreResult<(CreateOutcome, Wait)>)> =
        Vec::with_capacity(jobs.len());

    for (job, reply) in jobs {
        let result = decide(
            tree,
            pending,
            &job,
            &mut ledger,
            &mut seqs,
            &mut created,
            &mut batch,
            commit,
        );
        decided.push((reply, result));
    }

    let mut batch_seq = None;
    let mut batch_error = None;
    if !created.is_empty() {
        for (workspace_id, day, _, used) in ledger.changed_usage() {
            batch.insert(usage_key(workspace_id, day), &used.to_be_bytes()[..]);
        }
        for (campaign, (seq, dirty)) in &seqs {
            if *dirty {
                batch.insert(seq_key(campaign), &seq.to_be_bytes()[..]);
            }
        }
        // Registered before the pairs become visible, so the lock-free repeat path in
        // `SledStore::create_send_id` cannot answer 200 for a pair that is not yet durable.
        {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            for key in &created {
                p.insert(key.clone(), APPLYING);
            }
        }
        let applied = tree.apply_batch(batch);
        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
        match applied {
            Ok(()) => {
                let seq = commit.applied();
                for key in &created {
                    p.insert(key.clone(), seq);
                }
                batch_seq = Some(seq);
            }
            Err(e) => {
                for key in &created {
                    p.remove(key);
                }
                batch_error = Some(StoreError::from(e));
            }
        }
    }
    // Forget pairs that are durable now, so their repeats take the lock-free path again.
    pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|_, seq| !commit.is_durable(*seq));

    // Answers that wait for this group's flush are handed to the flusher in one message; the
    // rest are answered now.
    let mut after_flush = Vec::new();
    for (reply, result) in decided {
        let answer = match (result, &batch_error) {
            (Err(e), _) => Err(e),
            // The group was written as one: when it failed, nothing in it may be answered as done.
            (Ok(_), Some(e)) => Err(StoreError::Unavailable(e.to_string())),
            (Ok((outcome, Wait::ThisBatch)), None) => {
                after_flush.push((reply, outcome));
                continue;
            }
            (Ok((outcome, Wait::Nothing)), None) => Ok(Decision {
                outcome,
                wait_for: None,
            }),
            (Ok((outcome, Wait::Seq(s))), None) => Ok(Decision {
                outcome,
                wait_for: Some(s),
            }),
        };
        let _ = reply.send(answer);
    }
    if let (Some(seq), false) = (batch_seq, after_flush.is_empty()) {
        let writers = after_flush.len();
        commit.after_durable(seq, writers, move |flushed| {
            for (reply, outcome) in after_flush {
                let answer = match &flushed {
                    Ok(()) => Ok(Decision {
                        outcome,
                        wait_for: None,
                    }),
                    Err(e) => Err(StoreError::Unavailable(e.to_string())),
                };
                let _ = reply.send(answer);
            }
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    tree: &::sled::Tree,
    pending: &Pending,
    job: &Job,
    ledger: &mut PairLedger,
    seqs: &mut HashMap<String, (u64, bool)>,
    created: &mut HashSet<Vec<u8>>,
    batch: &mut ::sled::Batch,
    commit: &GroupCommit,
) -> StoreResult<(CreateOutcome, Wait)> {
    let now_seconds = job.now_millis.div_euclid(1000);
    let pk = pair_key(&job.campaign_id, &job.send_id);
    let request = PairRequest {
        workspace_id: &job.workspace_id,
        limit: job.limit,
        campaign_id: &job.campaign_id,
        send_id: &job.send_id,
        now_seconds,
    };
    let (decision, status) = ledger.decide(
        request,
        || Ok::<_, StoreError>(tree.contains_key(&pk)?),
        || match tree.get(usage_key(&job.workspace_id, request.day()))? {
            Some(v) => decode_u64(&v),
            None => Ok(0),
        },
    )?;
    match decision {
        // Rule 6: the pair exists — 200, no quota (once its write is durable).
        PairDecision::Existing if created.contains(&pk) => {
            Ok((CreateOutcome::Existing(status), Wait::ThisBatch))
        }
        PairDecision::Existing => {
            let waiting = pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&pk)
                .copied()
                .filter(|seq| !commit.is_durable(*seq));
            let wait = waiting.map_or(Wait::Nothing, Wait::Seq);
            Ok((CreateOutcome::Existing(status), wait))
        }
        // Rule 7: new, and today's quota is used up.
        PairDecision::Exhausted => Ok((CreateOutcome::QuotaExhausted(status), Wait::Nothing)),
        // Rule 8: create it.
        PairDecision::Create => {
            let seq = match seqs.entry(job.campaign_id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let current = match tree.get(seq_key(e.key()))? {
                        Some(v) => decode_u64(&v)?,
                        None => 0,
                    };
                    e.insert((current, false))
                }
            };
            seq.0 += 1;
            seq.1 = true;
            batch.insert(
                pk.clone(),
                to_json(&PairRecord {
                    seq: seq.0,
                    created_at: job.now_millis,
                })?,
            );
            batch.insert(
                log_key(&job.campaign_id, seq.0),
                to_json(&SendIdEntry {
                    send_id: job.send_id.clone(),
                    created_at: job.now_millis,
                })?,
            );
            created.insert(pk);
            Ok((CreateOutcome::Created(status), Wait::ThisBatch))
        }
    }
}
