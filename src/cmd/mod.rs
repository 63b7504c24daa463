//! Subcommands: each turns parsed arguments into a run of the library's
//! pieces. `anyhow` lives here, at the binary's edge.

mod baseline;
mod ci;
mod completions;
mod dir;
mod git;
mod image;
mod incidents;
mod logs;
mod merge;
mod pipeline;
mod report;
mod revoke;
mod rotate;
mod rules;
mod sweep;

use anyhow::Result;
use cybrid_scan::cli::{Cli, Command};
use cybrid_scan::exit::Outcome;

pub use pipeline::write_atomically;

pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Dir(args) => dir::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Baseline(args) => baseline::run(args),
        Command::Git(args) => git::run(args),
        Command::Revoke(args) => revoke::run(args),
        Command::Rotate(args) => rotate::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Ci(args) => ci::run(args),
        Command::Image(args) => image::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
        Command::Incidents(args) => incidents::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// Panics print a fixed message and location only: a payload could hold
/// bytes from a scanned input, and those may be a secret.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "cybrid-scan: internal error{place} (details withheld: they may contain scanned data). Please report it."
        );
    }));
}
