//! Where a write becomes durable. Writers apply their change to sled (in memory), take a
//! sequence number, and wait here; one flusher thread fsyncs once for everyone who is waiting,
//! so N concurrent writers cost one flush instead of N.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::store::{FlushObserver, StoreError};

/// Who to tell when a write is durable: one waiting task, or a callback for a whole group of
/// writers (the pair writer hands over its group in one message, saving a wake-up per request).
enum Notify {
    One(oneshot::Sender<Result<(), String>>),
    Group(usize, Box<dyn FnOnce(Result<(), String>) + Send>),
}

impl Notify {
    fn writers(&self) -> usize {
        match self {
            Notify::One(_) => 1,
            Notify::Group(n, _) => *n,
        }
    }

    fn send(self, result: Result<(), String>) {
        match self {
            Notify::One(reply) => {
                let _ = reply.send(result);
            }
            Notify::Group(_, callback) => callback(result),
        }
    }
}

type Waiter = (u64, Notify);

pub struct GroupCommit {
    /// Highest sequence number whose write has been applied to sled.
    applied: Arc<AtomicU64>,
    /// Highest sequence number known to be on disk.
    durable: Arc<AtomicU64>,
    tx: Mutex<Option<mpsc::Sender<Waiter>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl GroupCommit {
    /// `flush` makes every write applied before the call durable.
    pub fn start(
        flush: impl Fn() -> Result<(), String> + Send + 'static,
        fail_flush: Option<Arc<AtomicBool>>,
        observer: Option<Arc<dyn FlushObserver>>,
    ) -> Self {
        let applied = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel::<Waiter>();
        let thread = {
            let applied = applied.clone();
            let durable = durable.clone();
            std::thread::Builder::new()
                .name("sendid-group-commit".into())
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        let mut batch = vec![first];
                        batch.extend(rx.try_iter());
                        let already = durable.load(Ordering::SeqCst);
                        if batch.iter().all(|(seq, _)| *seq <= already) {
                            for (_, notify) in batch {
                                notify.send(Ok(()));
                            }
                            continue;
                        }
                        let writers: usize = batch.iter().map(|(_, n)| n.writers()).sum();
                        // Every waiter applied its write before sending, so `target` covers them all.
                        let target = applied.load(Ordering::SeqCst);
                        let started = Instant::now();
                        let result = if fail_flush.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                            Err("injected flush failure".to_string())
                        } else {
                            flush()
                        };
                        let elapsed = started.elapsed();
                        if let Some(o) = &observer {
                            o.flushed(writers, elapsed, result.is_ok());
                        }
                        match &result {
                            Ok(()) => {
                                durable.fetch_max(target, Ordering::SeqCst);
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "flush failed; writes in this batch are not acknowledged");
                            }
                        }
                        for (_, notify) in batch {
                            notify.send(result.clone());
                        }
                    }
                })
                .expect("spawning the group-commit thread")
        };
        Self {
            applied,
            durable,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Call right after a write was applied (still on the pair-writer thread or under the admin
    /// lock, so sequence numbers follow the order of writes). Returns the write's sequence number.
    pub fn applied(&self) -> u64 {
        self.applied.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn is_durable(&self, seq: u64) -> bool {
        self.durable.load(Ordering::SeqCst) >= seq
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
            tx.send((seq, Notify::One(reply)))
                .map_err(|_| StoreError::Unavailable("the flusher has stopped".into()))?;
        }
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("flush failed: {e}"))),
            Err(_) => Err(StoreError::Unavailable("the flusher has stopped".into())),
        }
    }

    /// Calls `then` (on the flusher thread) once write `seq` is on disk, or with the error when
    /// its flush failed. `writers` is how many requests wait on it, for the batch-size metric.
    pub fn after_durable(
        &self,
        seq: u64,
        writers: usize,
        then: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) {
        let callback = move |r: Result<(), String>| {
            then(r.map_err(|e| StoreError::Unavailable(format!("flush failed: {e}"))))
        };
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let sent = match tx.as_ref() {
            Some(tx) => tx
                .send((seq, Notify::Group(writers, Box::new(callback))))
                .map_err(|e| e.0),
            None => Err((seq, Notify::Group(writers, Box::new(callback)))),
        };
        if let Err((_, notify)) = sent {
            notify.send(Err("storage is shutting down".into()));
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
