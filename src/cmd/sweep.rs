//! `cybrid-scan sweep --manifest FILE | --github-org ORG | --gitlab-group
//! GROUP`: every repository of a manifest or of an organisation (or of one
//! shard of them), resumable with `--state DIR`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cybrid_scan::ci::{self, ProviderKind};
use cybrid_scan::cli::SweepArgs;
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::{ReadCount, Report, RepositoryStatus};
use cybrid_scan::source::git::auth::GitAuth;
use cybrid_scan::sweep::git::GitScanner;
use cybrid_scan::sweep::manifest::{Manifest, Shard};
use cybrid_scan::sweep::org::{self, OrgFilter};
use cybrid_scan::sweep::progress::{Display, Progress};
use cybrid_scan::sweep::state::StateDir;
use cybrid_scan::sweep::verdicts::VerdictCache;
use cybrid_scan::sweep::{self, scan_key, SweepOptions};
use cybrid_scan::verify::cache::VerdictMemory;

use super::pipeline::Pipeline;

/// Plain progress lines (not a terminal) come this often.
const LINE_EVERY: Duration = Duration::from_secs(10);
/// Each request of an organisation's listing (and each read of its answer).
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// The listing has no overall deadline; this keeps the arithmetic finite.
const NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

/// The repositories to sweep and how to clone them.
struct Repositories {
    manifest: Manifest,
    /// How the report names where they came from ("the manifest's").
    whose: &'static str,
    /// Notes for the report (what the listing left out).
    notes: Vec<String>,
    auth: GitAuth,
}

pub fn run(args: SweepArgs) -> Result<Outcome> {
    // No repository of a sweep is trusted for settings: only --config counts.
    let pipeline = Pipeline::start(&args.common, None)?;
    let (settings, engine) = (&pipeline.settings, &pipeline.engine);
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    let Repositories {
        manifest,
        whose,
        notes: listing_notes,
        auth,
    } = repositories(&args, &pipeline)?;
    let entries = manifest.shard(shard);
    let state = args
        .state
        .as_deref()
        .map(StateDir::open)
        .transpose()
        .context("cannot use the state directory")?;

    // Notes go into the report: only what every run of this sweep would say.
    let mut notes = listing_notes;
    if let Some(s) = shard {
        notes.push(format!(
            "sweep: shard {s}: {} of {whose} {} repositories",
            entries.len(),
            manifest.entries.len()
        ));
    }
    for (line, key, first) in &manifest.duplicates {
        notes.push(format!(
            "manifest line {line} repeats {key} (line {first}); scanned once"
        ));
    }
    let say = |text: &str| pipeline.say(text);

    let threads = settings.threads.max(1);
    let opts = SweepOptions {
        concurrency: args.concurrent_repos.map_or(threads.max(2), |n| n as usize),
        scan_key: scan_key(engine.rules(), settings.max_file_size),
    };
    let scanner = GitScanner::new(engine, threads, settings.max_file_size)
        .context("cannot start the scanning threads")?
        .with_auth(auth)
        .with_known(pipeline.known_blobs());
    let display = if settings.quiet {
        Display::Quiet
    } else if std::io::stderr().is_terminal() {
        Display::Bar
    } else {
        Display::Lines { every: LINE_EVERY }
    };
    let progress = Progress::new(display, entries.len() as u64);
    let done = sweep::run(&entries, &scanner, state.as_ref(), &opts, &progress);
    if done.resumed > 0 {
        say(&format!(
            "sweep: {} repositories finished in an earlier run were taken from the state directory; {} scanned now",
            done.resumed, done.scanned
        ));
    }
    for (key, why) in &done.redone {
        say(&format!("sweep: {key}: rescanned ({why})"));
    }
    for e in &done.state_errors {
        say(&format!(
            "sweep: warning: {e} (a rerun will scan that repository again)"
        ));
    }

    let assembled = sweep::assemble(done.records);
    let failed = assembled
        .repositories
        .iter()
        .filter(|r| r.status == RepositoryStatus::Failed)
        .count();
    let all_failed = failed > 0 && failed == assembled.repositories.len();
    let mut report = Report {
        // A repository that could not be scanned fails the sweep (exit 2)
        // and stays unfinished in the state directory.
        failed_inputs: failed as u64,
        findings: assembled.findings,
        errors: assembled.errors,
        skipped: assembled.skipped,
        notes,
        repositories: assembled.repositories,
        ..Report::default()
    };
    report.stats.files = assembled.blobs;
    report.stats.bytes = assembled.bytes;
    report.stats.read = Some(ReadCount::new(assembled.blobs, "blobs"));

    // Verdicts of earlier runs live beside the repositories' records.
    let mut cache = match (&state, settings.verify.enabled) {
        (Some(state), true) => {
            let ttl = Duration::from_secs_f64(args.verify_cache_ttl.max(0.0));
            let cache = VerdictCache::load(state.root(), ttl);
            if let Some(why) = &cache.discarded {
                say(&format!(
                    "sweep: the verification cache was unreadable and is started afresh ({why})"
                ));
            }
            Some(cache)
        }
        _ => None,
    };
    drop(scanner);
    let quiet = settings.quiet;
    let outcome =
        pipeline.finish_report(report, cache.as_mut().map(|c| c as &mut dyn VerdictMemory));
    if let Some(cache) = cache.as_mut() {
        if let Err(e) = cache.save() {
            if !quiet {
                eprintln!("cybrid-scan: sweep: warning: cannot save the verification cache: {e}");
            }
        }
    }
    let outcome = outcome?;
    if all_failed {
        anyhow::bail!("no repository of the sweep could be scanned (the report lists why)");
    }
    Ok(outcome)
}

/// The manifest, or the organisation's repositories listed through the API
/// with the clone token for the API's host; the generic clone token
/// (`CYBRID_SCAN_GIT_TOKEN`) is added either way.
fn repositories(args: &SweepArgs, pipeline: &Pipeline) -> Result<Repositories> {
    let (generic, unusable) = GitAuth::from_env();
    if let Some(why) = unusable {
        pipeline.say(&format!("note: {why}"));
    }
    let (kind, target) = match (&args.manifest, &args.github_org, &args.gitlab_group) {
        (Some(path), _, _) => {
            return Ok(Repositories {
                manifest: Manifest::read(path)?,
                whose: "the manifest's",
                notes: Vec::new(),
                auth: generic,
            })
        }
        (None, Some(org), _) => (ProviderKind::GitHub, org),
        (None, None, Some(group)) => (ProviderKind::GitLab, group),
        // clap requires one of the three.
        (None, None, None) => {
            anyhow::bail!("name the repositories: --manifest, --github-org or --gitlab-group")
        }
    };
    let connection = ci::connect(
        kind,
        args.api_url.as_deref(),
        API_TIMEOUT,
        Instant::now() + NO_DEADLINE,
    )?;
    if connection.token.is_none() {
        pipeline.say(&format!(
            "sweep: {} is not set: only public repositories can be listed and cloned",
            connection.token_var
        ));
    }
    let filter = OrgFilter {
        include_archived: args.include_archived,
        include_forks: args.include_forks,
    };
    let listing = org::list(connection.provider.as_ref(), target, filter)
        .with_context(|| format!("cannot list the repositories of {target}"))?;
    let mut auth = org::git_auth(kind, &connection);
    auth.extend(generic);
    Ok(Repositories {
        notes: vec![listing.note(kind, target)],
        whose: match kind {
            ProviderKind::GitHub => "the organisation's",
            ProviderKind::GitLab => "the group's",
        },
        manifest: listing.manifest,
        auth,
    })
}
