use std::process::ExitCode;

use sendid_conformance::{cli, Exit};

fn main() -> ExitCode {
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
