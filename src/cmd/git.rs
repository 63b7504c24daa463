//! `cybrid-scan git`: scan repositories' history, a commit range, or the
//! staged changes, one repository after another.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use cybrid_scan::cli::GitArgs;
use cybrid_scan::collect::Collector;
use cybrid_scan::config::Settings;
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::Format;
use cybrid_scan::source::git::open::redact_url;
use cybrid_scan::source::git::{scan_repository, CiVars, GitMode, GitOptions, RangeSpec};

use super::{finish_scan, load_engine};

pub fn run(args: GitArgs) -> Result<Outcome> {
    let started = Instant::now();
    let repos = if args.repos.is_empty() {
        vec![".".to_string()]
    } else {
        args.repos
    };
    // The config file is looked for in the first repository's working tree.
    let root = repos
        .first()
        .map(std::path::Path::new)
        .filter(|p| p.is_dir());
    let settings = Settings::load(&args.common, root)?;
    let engine = load_engine(&settings)?;
    let mode = match (&args.range, args.staged) {
        (_, true) => GitMode::Staged,
        (Some(r), false) if r.trim().is_empty() => {
            GitMode::Range(RangeSpec::FromCi(Box::new(CiVars::from_env())))
        }
        (Some(r), false) => GitMode::Range(RangeSpec::Given(r.clone())),
        (None, false) => GitMode::History,
    };
    // While `git commit -a` or `git commit PATH` runs hooks, the index being
    // committed is a temporary file that GIT_INDEX_FILE names.
    let index_file = match (&mode, repos.as_slice()) {
        (GitMode::Staged, [only]) if only == "." => {
            std::env::var_os("GIT_INDEX_FILE").map(PathBuf::from)
        }
        _ => None,
    };
    let several = repos.len() > 1;
    let collector = Collector::default();
    let mut notes = Vec::new();
    let mut failed = 0;
    for spec in &repos {
        let opts = GitOptions {
            mode: mode.clone(),
            max_file_size: settings.max_file_size,
            threads: settings.threads,
            pool: None,
            progress: !settings.quiet && std::io::stderr().is_terminal(),
            keep_clone: args.keep_clone.clone(),
            label: several.then(|| redact_url(spec)),
            index_file: index_file.clone(),
        };
        match scan_repository(spec, &opts, &engine, &collector) {
            Ok(summary) => notes.extend(summary.notes),
            Err(e) if several => {
                failed += 1;
                collector.error(redact_url(spec), e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if failed == repos.len() {
        anyhow::bail!("no repository could be scanned");
    }
    // Machine-readable reports carry notes inside; say them on stderr as well
    // so a CI log shows which range was used.
    if !settings.quiet && settings.output.format != Format::Human {
        for note in &notes {
            eprintln!("cybrid-scan: note: {note}");
        }
    }
    finish_scan(
        collector.into_gathered(),
        started,
        &settings,
        &engine,
        notes,
    )
}
