//! The queue in front of both engines' pair writers: a request for a pair waits here, owned, for
//! the writer to take it with every other request waiting at that moment (its group), and is
//! answered once the group's decision is durable. One queue for the sled writer (a thread) and
//! the PostgreSQL one (tasks), so "closed means 503, queued means answered" is decided once.
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use super::{CreateOutcome, NewSendId, StoreError, StoreResult};

/// A request for a pair as the writers queue it: `NewSendId`, owned, so it can wait for its
/// group.
pub(crate) struct PairJob {
    pub workspace_id: String,
    pub limit: u64,
    pub campaign_id: String,
    pub send_id: String,
    pub now_millis: i64,
}

impl PairJob {
    pub fn new(req: &NewSendId<'_>) -> Self {
        Self {
            workspace_id: req.workspace.id.clone(),
            limit: req.workspace.daily_send_id_quota,
            campaign_id: req.campaign_id.to_string(),
            send_id: req.send_id.as_str().to_string(),
            now_millis: req.now_millis,
        }
    }

    /// What `domain::PairLedger` decides from.
    pub fn request(&self) -> crate::domain::PairRequest<'_> {
        crate::domain::PairRequest {
            workspace_id: &self.workspace_id,
            limit: self.limit,
            campaign_id: &self.campaign_id,
            send_id: &self.send_id,
            now_seconds: self.now_millis.div_euclid(1000),
        }
    }
}

/// Where a writer sends a request's final answer.
pub(crate) type Reply = oneshot::Sender<StoreResult<CreateOutcome>>;

type Queued = (PairJob, Reply);

/// The sending side: what `Store::create_send_id` submits to.
pub(crate) struct PairQueue {
    tx: Mutex<Option<mpsc::UnboundedSender<Queued>>>,
}

/// The writer's side.
pub(crate) struct PairInbox {
    rx: mpsc::UnboundedReceiver<Queued>,
}

pub(crate) fn pair_queue() -> (PairQueue, PairInbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        PairQueue {
            tx: Mutex::new(Some(tx)),
        },
        PairInbox { rx },
    )
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the pair writer has stopped".into())
}

impl PairQueue {
    /// Queues the request and waits for the writer's answer, which is final (durable when 200).
    pub async fn submit(&self, job: PairJob) -> StoreResult<CreateOutcome> {
        let (reply, answer) = oneshot::channel();
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(tx) = tx.as_ref() else {
                return Err(StoreError::Unavailable("storage is shutting down".into()));
            };
            tx.send((job, reply)).map_err(|_| stopped())?;
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Takes no more requests (they answer 503); those already queued are still taken by the
    /// writer, which sees the end of its inbox after them. The engine then waits for its writer.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl PairInbox {
    /// The next group: the first request to arrive and every one waiting behind it, at most
    /// `max`. `None` once the queue is closed and empty. For a writer on its own thread.
    pub fn next_group_blocking(&mut self, max: usize) -> Option<Vec<Queued>> {
        let first = self.rx.blocking_recv()?;
        Some(self.group_after(first, max))
    }

    /// [`PairInbox::next_group_blocking`] for a writer that is a task.
    pub async fn next_group(&mut self, max: usize) -> Option<Vec<Queued>> {
        let first = self.rx.recv().await?;
        Some(self.group_after(first, max))
    }

    fn group_after(&mut self, first: Queued, max: usize) -> Vec<Queued> {
        let mut group = vec![first];
        while group.len() < max {
            match self.rx.try_recv() {
                Ok(queued) => group.push(queued),
                Err(_) => break,
            }
        }
        group
    }
}
