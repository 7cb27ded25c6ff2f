use std::process::ExitCode;

use sendid_conformance::{cli, Exit};

fn main() -> ExitCode {
    die_quietly_on_a_closed_pipe();
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(exit) => return exit.into(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return Exit::Usage.into();
        }
    };
    runtime.block_on(sendid_conformance::run(cli)).exit.into()
}

/// `sendid-conformance … | head`: once the reader is gone, end as Unix tools do (killed by
/// SIGPIPE, nothing printed) instead of panicking in `println!`. Rust ignores SIGPIPE by default;
/// sockets are unaffected (Rust sends with MSG_NOSIGNAL / SO_NOSIGPIPE).
fn die_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; it only restores the
    // default disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
