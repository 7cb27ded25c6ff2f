//! The log's way out: a bounded queue in front of one thread that writes to stderr.
//!
//! A request's thread only formats its line and offers it to the queue (`try_send`); when the
//! queue is full — the sink is slower than the log, or blocked outright — the line is dropped and
//! counted instead of waiting. The writer thread takes the lines and writes them to file
//! descriptor 2 itself (not through `std::io::stderr`, whose lock a blocked write would hold);
//! a line the sink refuses (ENOSPC, EPIPE, EIO) is dropped and counted too. The first line
//! written after any were dropped is preceded by one saying how many.
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{
    sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError,
};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Lines the queue holds: at a few hundred bytes a line, about a megabyte at most, and at the
/// bench's ~40,000 requests/s a tenth of a second of a stalled sink.
pub const QUEUE_LINES: usize = 4096;

static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Lines offered to the queue and lines the writer has finished with (written or dropped).
static QUEUED: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<SyncSender<Vec<u8>>> = OnceLock::new();

/// Log lines that could not be written since the process started (queue full or sink failing).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Starts the writer thread (once per process) and returns the writer for the subscriber.
pub fn start(format: LogFormat) -> QueueWriter {
    QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE_LINES);
        let spawned = std::thread::Builder::new()
            .name("sendid-log".into())
            .spawn(move || write_lines(rx, format));
        if spawned.is_err() {
            // No thread, no log: the queue fills, and every line is counted as dropped.
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        tx
    });
    QueueWriter
}

/// Waits until the queue is written out, at most `timeout` (a blocked sink must not keep the
/// process from exiting); `true` when everything offered was written or dropped.
pub fn flush(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if DONE.load(Ordering::Acquire) >= QUEUED.load(Ordering::Acquire) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Offers one formatted line to the queue; never blocks.
fn offer(line: &[u8]) {
    let Some(tx) = QUEUE.get() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    QUEUED.fetch_add(1, Ordering::AcqRel);
    match tx.try_send(line.to_vec()) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            DONE.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What one write may gather: the lines queued meanwhile go out together, one system call for
/// many.
const BATCH_BYTES: usize = 64 * 1024;
/// After a busy spell the writer looks at the queue every millisecond, for this many empty
/// looks, before it blocks on it again: a writer blocked on the queue must be woken by every
/// request that logs (a futex call on the request's path), one that polls never is.
const POLLS_BEFORE_BLOCKING: u32 = 50;

fn write_lines(rx: Receiver<Vec<u8>>, format: LogFormat) {
    let mut reported = 0;
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let mut empty_polls = POLLS_BEFORE_BLOCKING;
    loop {
        let first = if empty_polls < POLLS_BEFORE_BLOCKING {
            match rx.try_recv() {
                Ok(line) => Some(line),
                Err(TryRecvError::Empty) => {
                    empty_polls += 1;
                    std::thread::sleep(Duration::from_millis(1));
                    None
                }
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            // Woken at least once a second, so lines lost before a quiet spell are reported.
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => Some(line),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        let dropped = DROPPED.load(Ordering::Relaxed);
        if dropped > reported {
            let notice = dropped_notice(format, dropped - reported, dropped);
            if write_fd(2, notice.as_bytes()).is_ok() {
                reported = dropped;
            }
        }
        let Some(first) = first else {
            continue;
        };
        empty_polls = 0;
        batch.clear();
        batch.extend_from_slice(&first);
        let mut lines = 1;
        while batch.len() < BATCH_BYTES {
            match rx.try_recv() {
                Ok(line) => {
                    batch.extend_from_slice(&line);
                    lines += 1;
                }
                Err(_) => break,
            }
        }
        if write_fd(2, &batch).is_err() {
            DROPPED.fetch_add(lines, Ordering::Relaxed);
        }
        DONE.fetch_add(lines, Ordering::AcqRel);
    }
}

/// The line that reports lines lost, in the log's own format.
fn dropped_notice(format: LogFormat, lost: u64, total: u64) -> String {
    let now = chrono::Utc::now();
    let message = "log lines were dropped: the log's sink was full, closed or too slow";
    match format {
        LogFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "WARN",
                "target": "sendid::log",
                "message": message,
                "dropped": lost,
                "dropped_total": total,
            })
        ),
        LogFormat::Text => format!(
            "{}  WARN {message}: {lost} lines since the last report ({total} in all)\n",
            now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
    }
}

/// Writes all of `buf` to the file descriptor, retrying on EINTR; never panics.
pub fn write_fd(fd: libc::c_int, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: writes from a live slice to a descriptor the process holds (or gets EBADF).
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// The subscriber's writer: each event arrives as one `write` of its formatted line.
#[derive(Debug, Clone, Copy)]
pub struct QueueWriter;

impl Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        offer(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = QueueWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
