//! Where a write becomes durable. Writers apply their change to sled (in memory), take a
//! sequence number, and wait here; one flusher thread flushes once for everyone who is waiting,
//! so N concurrent writers cost one flush instead of N. The pair writer, which has a whole group
//! to make durable, flushes on its own thread instead ([`GroupCommit::flush_now`]): no hand-off,
//! and the requests that arrive meanwhile form its next, larger group.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::store::{FlushObserver, StoreError};

type Waiter = (u64, oneshot::Sender<Result<(), String>>);

/// The flush itself and what every flush reports to; shared by the flusher thread and
/// [`GroupCommit::flush_now`].
struct Flusher {
    flush: Box<dyn Fn() -> Result<(), String> + Send + Sync>,
    fail_flush: Option<Arc<AtomicBool>>,
    observer: Option<Arc<dyn FlushObserver>>,
    /// Highest sequence number whose write has been applied to sled.
    applied: AtomicU64,
    /// Highest sequence number known to be on disk.
    durable: AtomicU64,
}

impl Flusher {
    /// Makes every write applied before the call durable; `writers` is how many requests wait
    /// on it, for the batch-size metric.
    fn flush(&self, writers: usize) -> Result<(), String> {
        // Every waiter applied its write before asking, so `target` covers them all.
        let target = self.applied.load(Ordering::SeqCst);
        let started = Instant::now();
        let result = if self
            .fail_flush
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            Err("injected flush failure".to_string())
        } else {
            (self.flush)()
        };
        if let Some(o) = &self.observer {
            o.flushed(writers, started.elapsed(), result.is_ok());
        }
        match &result {
            Ok(()) => {
                self.durable.fetch_max(target, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::error!(error = %e, "flush failed; writes in this batch are not acknowledged");
            }
        }
        result
    }
}

pub struct GroupCommit {
    flusher: Arc<Flusher>,
    tx: Mutex<Option<mpsc::Sender<Waiter>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl GroupCommit {
    /// `flush` makes every write applied before the call durable.
    pub fn start(
        flush: impl Fn() -> Result<(), String> + Send + Sync + 'static,
        fail_flush: Option<Arc<AtomicBool>>,
        observer: Option<Arc<dyn FlushObserver>>,
    ) -> Self {
        let flusher = Arc::new(Flusher {
            flush: Box::new(flush),
            fail_flush,
            observer,
            applied: AtomicU64::new(0),
            durable: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel::<Waiter>();
        let thread = {
            let flusher = flusher.clone();
            std::thread::Builder::new()
                .name("sendid-group-commit".into())
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        let mut batch = vec![first];
                        batch.extend(rx.try_iter());
                        let already = flusher.durable.load(Ordering::SeqCst);
                        let result = if batch.iter().all(|(seq, _)| *seq <= already) {
                            Ok(())
                        } else {
                            flusher.flush(batch.len())
                        };
                        for (_, reply) in batch {
                            let _ = reply.send(result.clone());
                        }
                    }
                })
                .expect("spawning the group-commit thread")
        };
        Self {
            flusher,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Flushes on the calling thread: every write applied before the call is durable when it
    /// returns `Ok`. For the pair writer, which waits for its whole group anyway.
    pub fn flush_now(&self, writers: usize) -> Result<(), StoreError> {
        self.flusher
            .flush(writers)
            .map_err(|e| StoreError::Unavailable(format!("flush failed: {e}")))
    }

    /// Call right after a write was applied (still on the pair-writer thread or under the admin
    /// lock, so sequence numbers follow the order of writes). Returns the write's sequence number.
    pub fn applied(&self) -> u64 {
        self.flusher.applied.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn is_durable(&self, seq: u64) -> bool {
        self.flusher.durable.load(Ordering::SeqCst) >= seq
    }

    /// Resolves once write `seq` is on disk.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        if self.is_durable(seq) {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(tx) = tx.as_ref() else {
                return Err(StoreError::Unavailable("storage is shutting down".into()));
            };
            tx.send((seq, reply))
                .map_err(|_| StoreError::Unavailable("the flusher has stopped".into()))?;
        }
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("flush failed: {e}"))),
            Err(_) => Err(StoreError::Unavailable("the flusher has stopped".into())),
        }
    }

    /// Stops the flusher after it has answered everyone already waiting.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}
