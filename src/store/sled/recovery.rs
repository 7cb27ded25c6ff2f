//! A store that cannot write (a full disk, an I/O error): what is known about it, and how it
//! recovers by itself. Every request that needs a write answers 503 meanwhile (its write fails);
//! reads go on from the open database; `/health` names the cause. Twice a second a small write
//! is tried on the open database; once sled has refused a write it refuses every later one, so
//! when there is room again the database is opened anew from the disk — everything acknowledged
//! is there, since a 200 came only after its flush — and the directory reloaded from it.
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::engine::{Engine, Expect};
use super::marker::now_millis;
use super::shared::Shared;
use crate::store::{FlushObserver, OpenError};

/// How often a store that cannot write tries again.
const TICK: Duration = Duration::from_millis(500);
/// Free space below which reopening is not tried (sled writes in segments of 512 KiB).
const ROOM: u64 = 2 * 1024 * 1024;

impl Shared {
    /// Opens the database again from the disk and reloads the directory from it.
    pub(super) fn reopen(&self) -> Result<(), OpenError> {
        self.take_engine();
        // sled's own threads let go of the files a moment after the last handle.
        let deadline = Instant::now() + Duration::from_secs(3);
        let (engine, records) = loop {
            match Engine::open(&self.path, &self.options, Expect::Existing) {
                Err(OpenError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                other => break other?,
            }
        };
        let probe = engine.probe(now_millis());
        {
            let _guard = self.lock();
            self.directory.replace(records);
            *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(engine));
        }
        Ok(probe?)
    }
}

/// Why the store cannot write, and since when; `None` while it can.
pub(crate) struct Fault {
    state: Mutex<Option<(String, Instant)>>,
    observer: Option<Arc<dyn FlushObserver>>,
}

impl Fault {
    pub fn new(observer: Option<Arc<dyn FlushObserver>>) -> Self {
        Self {
            state: Mutex::new(None),
            observer,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<(String, Instant)>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, cause: &str) {
        let mut state = self.state();
        if state.is_none() {
            tracing::error!(
                cause,
                "storage cannot write: requests that need a write answer 503 until it can"
            );
            *state = Some((cause.to_string(), Instant::now()));
            if let Some(o) = &self.observer {
                o.writable(Some(cause));
            }
        }
    }

    pub fn clear(&self) {
        let mut state = self.state();
        if let Some((_, since)) = state.take() {
            tracing::warn!(
                after_seconds = since.elapsed().as_secs_f64(),
                "storage writes again"
            );
            if let Some(o) = &self.observer {
                o.writable(None);
            }
        }
    }

    pub fn is_set(&self) -> bool {
        self.state().is_some()
    }

    /// The cause in words, with how long it has lasted.
    pub fn cause(&self) -> Option<String> {
        self.state().as_ref().map(|(cause, since)| {
            format!(
                "{cause} (writes have failed for {:.0} s; they answer 503 until the disk takes them again)",
                since.elapsed().as_secs_f64()
            )
        })
    }
}

/// The recovery thread; stops when dropped.
pub(crate) struct Recovery {
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recovery {
    pub fn start(shared: Weak<Shared>) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sendid-store-recovery".into())
            .spawn(move || recover(shared, stopped))
            .expect("spawning the store-recovery thread");
        Self {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        }
    }

    pub fn stop(&self) {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Recovery {
    fn drop(&mut self) {
        self.stop();
    }
}

fn recover(shared: Weak<Shared>, stopped: mpsc::Receiver<()>) {
    let mut backoff = TICK;
    let mut next_reopen = Instant::now();
    loop {
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.fault.is_set() {
            backoff = TICK;
            continue;
        }
        // The open database may take writes again (a fault that was not sled's own).
        if let Ok(engine) = shared.engine() {
            if engine.probe(now_millis()).is_ok() {
                shared.fault.clear();
                continue;
            }
        }
        if Instant::now() < next_reopen || !has_room(&shared.path) {
            continue;
        }
        match shared.reopen() {
            Ok(()) => shared.fault.clear(),
            Err(e) => {
                tracing::warn!(error = %e, "reopening the store to write again failed; trying later");
                next_reopen = Instant::now() + backoff;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Whether the filesystem of `path` has room for sled to write (true when it cannot be told).
fn has_room(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is a valid C string.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut s) != 0 {
            return true;
        }
        (s.f_bavail as u64).saturating_mul(s.f_frsize as u64) >= ROOM
    }
}
