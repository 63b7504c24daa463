//! The `cybrid-scan` binary: parse, run, map the outcome to an exit status.

mod cmd;

use std::process::ExitCode;

use clap::Parser;
use cybrid_scan::cli::Cli;
use cybrid_scan::exit::Outcome;

fn main() -> ExitCode {
    cmd::install_panic_hook();
    let cli = Cli::parse();
    let outcome = match cmd::run(cli) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("cybrid-scan: error: {err:#}");
            Outcome::Failed
        }
    };
    ExitCode::from(outcome.code())
}
