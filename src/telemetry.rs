//! Logging. Secrets never reach a log line: keys and tokens are only ever held as hashes or
//! `Debug`-masked values, and requests are logged without their headers (see
//! `api::access_log` for the one line each request gets).
//!
//! Log lines leave the process through [`sink`]: formatting happens on the caller's thread, the
//! write to stderr on a thread of its own, behind a bounded queue. A sink that is full (ENOSPC),
//! closed (EPIPE) or slow (a pipe nobody reads) can therefore never block, delay, fail or drop
//! an answer, nor hold up SIGTERM: lines that cannot be written are dropped and counted
//! (`sendid_log_lines_dropped_total` in `/metrics`), and the count is reported in the log once
//! writing works again.
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub mod sink;

pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = sink::start(format);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // The writer never fails, and the fallback (eprintln!) panics when stderr fails.
        .log_internal_errors(false);
    if format == LogFormat::Json {
        // The default hook prints a panic as text (a handler's panic is answered with a 500 by
        // CatchPanic, but the hook runs first): in JSON mode it is a JSON event like any other.
        std::panic::set_hook(Box::new(|info| {
            tracing::error!(target: "sendid::panic", panic = %info, "a thread panicked");
        }));
    }
    let _ = match format {
        // One JSON object per line: timestamp, level, target, the event's fields flattened,
        // and the request span (its request id) when there is one.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Writes `text` to stdout as it is, never panicking (`print!` panics on EPIPE or ENOSPC);
/// `false` when it could not be written whole.
pub fn print_stdout(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).is_ok() && out.flush().is_ok()
}

/// Writes `text` to stderr as it is, never panicking (`eprint!` panics when stderr fails).
pub fn print_stderr(text: &str) {
    let _ = sink::write_fd(2, text.as_bytes());
}
