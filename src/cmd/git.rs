//! `cybrid-scan git`: scan repositories' history, a commit range, or the
//! staged changes, one repository after another.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use cybrid_scan::cli::GitArgs;
use cybrid_scan::collect::Unit;
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::Format;
use cybrid_scan::source::git::auth::GitAuth;
use cybrid_scan::source::git::open::redact_url;
use cybrid_scan::source::git::{scan_repository, CiVars, GitMode, GitOptions, RangeSpec};

use super::pipeline::Pipeline;

pub fn run(args: GitArgs) -> Result<Outcome> {
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
    let mut pipeline = Pipeline::start(&args.common, root)?;
    // Local repositories only: a URL is cloned to a temporary directory.
    pipeline.record_roots(
        repos
            .iter()
            .map(std::path::Path::new)
            .filter(|p| p.is_dir()),
    );
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
    // A token for HTTPS clones, from the environment (CYBRID_SCAN_GIT_TOKEN).
    let (auth, unusable) = GitAuth::from_env();
    if let Some(why) = unusable {
        pipeline.say(&format!("note: {why}"));
    }
    let auth = (!auth.is_empty()).then(|| std::sync::Arc::new(auth));
    let mut notes = Vec::new();
    let mut failed = 0;
    for spec in &repos {
        let opts = GitOptions {
            mode: mode.clone(),
            max_file_size: pipeline.settings.max_file_size,
            threads: pipeline.settings.threads,
            pool: None,
            progress: !pipeline.settings.quiet && std::io::stderr().is_terminal(),
            keep_clone: args.keep_clone.clone(),
            label: several.then(|| redact_url(spec)),
            index_file: index_file.clone(),
            auth: auth.clone(),
            known: pipeline.known_blobs_in(spec),
        };
        match scan_repository(spec, &opts, &pipeline.engine, &pipeline.collector) {
            Ok(summary) => {
                notes.extend(summary.notes);
                if let Some(why) = summary.incomplete {
                    pipeline.collector.input_failed(redact_url(spec), why);
                }
            }
            Err(e) if several => {
                failed += 1;
                pipeline
                    .collector
                    .input_failed(redact_url(spec), e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if failed == repos.len() {
        anyhow::bail!("no repository could be scanned");
    }
    // Machine-readable reports carry notes inside; say them on stderr as well
    // so a CI log shows which range was used.
    if pipeline.settings.output.format != Format::Human {
        for note in &notes {
            pipeline.say(&format!("note: {note}"));
        }
    }
    for note in notes {
        pipeline.note(note);
    }
    pipeline.finish(Unit::Blobs)
}
