//! Where the quota is spent: one thread owns every creation of a (campaign_id, send_id) pair.
//! It takes all requests waiting at once, decides rules 6–8 for each in arrival order (through
//! the engine-independent `domain::PairLedger`), and
//! writes the whole group as one atomic sled batch — one usage counter update per workspace and
//! one sequence update per campaign, however many pairs the group creates. Being the only
//! writer of those keys is what keeps the quota from ever being over-spent.
//!
//! The same thread then flushes (`GroupCommit::flush_now`) and answers the whole group: one
//! hand-off in (the request to this thread) and one out (the answer), and the requests that
//! arrive during a flush are the next group, so groups grow with the load and a flush is paid
//! per group, not per request.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::group_commit::GroupCommit;
use super::layout::{decode_u64, log_key, pair_key, seq_key, to_json, usage_key, PairRecord};
use crate::domain::{PairDecision, PairLedger};
use crate::store::{
    pair_queue, CreateOutcome, PairJob as Job, PairQueue, Reply, SendIdEntry, StoreError,
    StoreResult,
};

/// The most requests decided and written together.
const MAX_GROUP: usize = 512;

/// Marks a pair whose batch is being applied; its durability sequence number is not known yet.
const APPLYING: u64 = u64::MAX;

/// Pairs written but perhaps not yet durable, with their write sequence numbers. A request that
/// finds one of these must wait for that write's flush before answering 200.
pub(crate) type Pending = Arc<Mutex<HashMap<Vec<u8>, u64>>>;

pub(crate) struct PairWriter {
    queue: PairQueue,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pending: Pending,
}

impl PairWriter {
    pub fn start(tree: ::sled::Tree, commit: Arc<GroupCommit>) -> Self {
        let (queue, mut inbox) = pair_queue();
        let pending: Pending = Arc::default();
        let thread = {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("sendid-pair-writer".into())
                .spawn(move || {
                    while let Some(jobs) = inbox.next_group_blocking(MAX_GROUP) {
                        decide_and_write(&tree, &commit, &pending, jobs);
                    }
                })
                .expect("spawning the pair-writer thread")
        };
        Self {
            queue,
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

    /// Decides, writes and makes durable; the answer is final.
    pub async fn submit(&self, job: Job) -> StoreResult<CreateOutcome> {
        self.queue.submit(job).await
    }

    /// Answers what is queued, then stops the thread.
    pub fn shutdown(&self) {
        self.queue.close();
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

/// A campaign's creation sequence as this group moves it, and the pairs it creates.
struct CampaignLog {
    /// The last sequence number used (stored, or given by this group).
    last: u64,
    /// The sequence number of this group's first pair in the campaign, if it created one.
    first_new: Option<u64>,
    entries: Vec<SendIdEntry>,
}

/// How an answer depends on durability.
enum Wait {
    Nothing,
    /// A pair an earlier group wrote whose flush failed: it needs a flush that succeeds.
    Earlier,
    ThisBatch,
}

fn decide_and_write(
    tree: &::sled::Tree,
    commit: &GroupCommit,
    pending: &Pending,
    jobs: Vec<(Job, Reply)>,
) {
    let mut ledger = PairLedger::default();
    let mut seqs: HashMap<String, CampaignLog> = HashMap::new();
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

    let mut write_error = None;
    if !created.is_empty() {
        for (workspace_id, day, _, used) in ledger.changed_usage() {
            batch.insert(usage_key(workspace_id, day), &used.to_be_bytes()[..]);
        }
        for (campaign, log) in &seqs {
            if let Some(first) = log.first_new {
                batch.insert(seq_key(campaign), &log.last.to_be_bytes()[..]);
                // The campaign's pairs created by this group, in order, as one record.
                match to_json(&log.entries) {
                    Ok(v) => batch.insert(log_key(campaign, first), v),
                    Err(e) => write_error = Some(e),
                }
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
        let applied = match write_error.take() {
            Some(e) => Err(e),
            None => tree.apply_batch(batch).map_err(StoreError::from),
        };
        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
        match applied {
            Ok(()) => {
                let seq = commit.applied();
                for key in &created {
                    p.insert(key.clone(), seq);
                }
            }
            Err(e) => {
                for key in &created {
                    p.remove(key);
                }
                write_error = Some(e);
            }
        }
    }

    // One flush for everything in the group that must be durable before its answer.
    let must_wait = |r: &StoreResult<(CreateOutcome, Wait)>| match r {
        Ok((_, Wait::ThisBatch)) => write_error.is_none(),
        Ok((_, Wait::Earlier)) => true,
        _ => false,
    };
    let waiting = decided.iter().filter(|(_, r)| must_wait(r)).count();
    let flushed = if waiting > 0 {
        commit.flush_now(waiting)
    } else {
        Ok(())
    };
    // Forget pairs that are durable now, so their repeats take the lock-free path again.
    pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|_, seq| !commit.is_durable(*seq));

    for (reply, result) in decided {
        let answer = match (result, &write_error, &flushed) {
            (Err(e), _, _) => Err(e),
            (Ok((outcome, Wait::Nothing)), _, _) => Ok(outcome),
            // The group was written as one: when it failed, nothing it created may be answered
            // as done (and a repeat of a pair it created is not there either).
            (Ok((_, Wait::ThisBatch)), Some(e), _) => Err(StoreError::Unavailable(e.to_string())),
            (Ok(_), _, Err(e)) => Err(StoreError::Unavailable(e.to_string())),
            (Ok((outcome, _)), _, Ok(())) => Ok(outcome),
        };
        let _ = reply.send(answer);
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    tree: &::sled::Tree,
    pending: &Pending,
    job: &Job,
    ledger: &mut PairLedger,
    seqs: &mut HashMap<String, CampaignLog>,
    created: &mut HashSet<Vec<u8>>,
    batch: &mut ::sled::Batch,
    commit: &GroupCommit,
) -> StoreResult<(CreateOutcome, Wait)> {
    let pk = pair_key(&job.campaign_id, &job.send_id);
    let request = job.request();
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
            let not_durable = pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&pk)
                .is_some_and(|seq| !commit.is_durable(*seq));
            let wait = if not_durable {
                Wait::Earlier
            } else {
                Wait::Nothing
            };
            Ok((CreateOutcome::Existing(status), wait))
        }
        // Rule 7: new, and today's quota is used up.
        PairDecision::Exhausted => Ok((CreateOutcome::QuotaExhausted(status), Wait::Nothing)),
        // Rule 8: create it.
        PairDecision::Create => {
            let log = match seqs.entry(job.campaign_id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let last = match tree.get(seq_key(e.key()))? {
                        Some(v) => decode_u64(&v)?,
                        None => 0,
                    };
                    e.insert(CampaignLog {
                        last,
                        first_new: None,
                        entries: Vec::new(),
                    })
                }
            };
            log.last += 1;
            log.first_new.get_or_insert(log.last);
            log.entries.push(SendIdEntry {
                send_id: job.send_id.clone(),
                created_at: job.now_millis,
            });
            batch.insert(
                pk.clone(),
                to_json(&PairRecord {
                    seq: log.last,
                    created_at: job.now_millis,
                })?,
            );
            created.insert(pk);
            Ok((CreateOutcome::Created(status), Wait::ThisBatch))
        }
    }
}
