//! The `cybrid-scan` binary: parse, run, map the outcome to an exit status.

mod cmd;

use std::process::ExitCode;

use clap::Parser;
use cybrid_scan::cli::Cli;
use cybrid_scan::exit::Outcome;

fn main() -> ExitCode {
    cmd::install_panic_hook();
    let cli = Cli::parse();
    // A panic has already been reported by the hook (without its payload);
    // the run then ends as "could not run" (2), not with Rust's 101.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd::run(cli)));
    let outcome = match run {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => {
            eprintln!("cybrid-scan: error: {err:#}");
            Outcome::Failed
        }
        Err(_) => Outcome::Failed,
    };
    ExitCode::from(outcome.code())
}
