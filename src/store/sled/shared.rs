//! What a [`super::SledStore`] shares with its recovery thread (`recovery.rs`): the open
//! database, the admin lock, the in-memory directory and what is known about a fault; and the
//! one sequence every admin write follows ([`Shared::admin_write`]).
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::recovery::Fault;
use crate::store::{Directory, Resource, StoreError, StoreOptions, StoreResult};

/// What an admin write decided under the admin lock ([`Shared::admin_write`]).
pub(crate) enum Step<'a, T> {
    /// Nothing to write: this is the answer.
    Answer(T),
    /// Apply the batch; once it is applied, the function changes the directory to match and
    /// gives the answer.
    Write(::sled::Batch, Box<dyn FnOnce(&Directory) -> T + Send + 'a>),
}

/// Everything a [`super::SledStore`] shares with its recovery thread.
pub(crate) struct Shared {
    pub path: std::path::PathBuf,
    pub options: StoreOptions,
    /// The open database; `None` only while it is being reopened (or after close).
    pub engine: RwLock<Option<Arc<Engine>>>,
    /// Serialises the admin API's check-then-write steps (workspaces, campaigns, keys).
    pub admin: Mutex<()>,
    /// Workspaces, campaigns and keys in memory, changed with the tree under `admin`.
    pub directory: Directory,
    pub fault: Fault,
}

impl Shared {
    pub fn engine(&self) -> StoreResult<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| match self.fault.cause() {
                Some(cause) => StoreError::Unavailable(format!("storage is reopening: {cause}")),
                None => StoreError::Unavailable("storage is closed".into()),
            })
    }

    pub fn is_current(&self, engine: &Arc<Engine>) -> bool {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|e| Arc::ptr_eq(e, engine))
    }

    /// Notes what a write on `engine` came to: a write that failed on the open database means
    /// the store cannot write; one that was made durable means it can.
    pub fn noted<T>(
        &self,
        engine: &Arc<Engine>,
        result: StoreResult<T>,
        wrote: bool,
    ) -> StoreResult<T> {
        match &result {
            Err(StoreError::Unavailable(cause)) if self.is_current(engine) => self.fault.set(cause),
            Ok(_) if wrote => self.fault.clear(),
            _ => {}
        }
        result
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the open database out and stops it; waits (briefly) for the requests that still
    /// hold it, so that sled lets go of its files.
    pub fn take_engine(&self) -> Option<StoreResult<()>> {
        let engine = self
            .engine
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        let stopped = engine.stop();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Arc::strong_count(&engine) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(engine);
        Some(stopped)
    }

    /// The admin write sequence, the one place it is written: under the admin lock, `decide`
    /// looks at the tree and the directory and says what to write; the batch is applied (one
    /// atomic change) and the directory changed — so the next request sees the change — then,
    /// with the lock released, the write is awaited durable. A failed apply or flush is noted
    /// (the store cannot write); a durable one clears that.
    pub async fn admin_write<'a, T>(
        &self,
        decide: impl FnOnce(&Engine, &Directory) -> StoreResult<Step<'a, T>>,
    ) -> StoreResult<T> {
        let e = self.engine()?;
        let (seq, answer) = {
            let _guard = self.lock();
            match decide(&e, &self.directory)? {
                Step::Answer(answer) => return Ok(answer),
                Step::Write(batch, then) => {
                    let seq = self.noted(&e, e.apply(batch), false)?;
                    (seq, then(&self.directory))
                }
            }
        };
        self.noted(&e, e.commit.wait_durable(seq).await, true)?;
        Ok(answer)
    }
}

/// `Conflict` when `key` is in the tree: a record that must be new (`resource` `id`).
pub(crate) fn refuse_existing(
    e: &Engine,
    key: &[u8],
    resource: Resource,
    id: &str,
) -> StoreResult<()> {
    if e.tree.contains_key(key)? {
        return Err(StoreError::Conflict {
            resource,
            id: id.to_string(),
        });
    }
    Ok(())
}
