//! `cybrid-scan baseline FILE [dir PATH... | git REPO...]`: run a scan and
//! write its findings as a JSON report meant to be committed and passed back
//! with `--baseline`. The content is deterministic (sorted, no timings or
//! counters, secrets always redacted) so it changes only when findings do.

use std::ffi::OsString;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cybrid_scan::cli::{BaselineArgs, Cli, Command, CommonArgs};
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::json::read_report;

pub fn run(args: BaselineArgs) -> Result<Outcome> {
    let mut scan = args.scan.into_iter();
    let sub = scan.next().unwrap_or_else(|| "dir".to_string());
    if sub != "dir" && sub != "git" {
        bail!("baseline scans with `dir PATH...` or `git REPO...`, not `{sub}`");
    }
    // Our flags go right after the subcommand, before any `--` the user wrote.
    let mut argv: Vec<OsString> = vec!["cybrid-scan".into(), sub.clone().into()];
    argv.extend(["--format", "json", "--deterministic", "--output"].map(OsString::from));
    argv.push(args.output.clone().into_os_string());
    argv.extend(scan.map(OsString::from));
    // A usage error here is the user's: clap prints it and exits with status 2.
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    let common = match &cli.command {
        Command::Dir(a) => &a.common,
        Command::Git(a) => &a.common,
        _ => bail!("baseline scans with `dir` or `git`"),
    };
    refuse_churn(common)?;
    let quiet = common.quiet;
    match super::run(cli)? {
        Outcome::Failed => Ok(Outcome::Failed),
        _ => {
            let written = read_report(&args.output)
                .with_context(|| format!("cannot read back {}", args.output.display()))?;
            if !quiet {
                eprintln!(
                    "cybrid-scan: baseline {} written: {} finding(s); pass it with --baseline {} to report only new ones",
                    args.output.display(),
                    written.findings.len(),
                    args.output.display()
                );
            }
            Ok(Outcome::Clean)
        }
    }
}

/// Options that would put secrets or run-to-run state into a committed file.
fn refuse_churn(common: &CommonArgs) -> Result<()> {
    if common.show_secrets {
        bail!("a baseline is meant to be committed: it never holds secrets (drop --show-secrets)");
    }
    if common.verify || common.revoke {
        bail!("a baseline records fingerprints, not verification results (drop --verify; verify the scans that use it)");
    }
    if common.baseline.is_some() {
        bail!("a baseline is written from a full scan: drop --baseline (findings it suppressed would be lost from the new one)");
    }
    Ok(())
}
