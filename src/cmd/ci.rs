//! `cybrid-scan ci github|gitlab TARGET...`: sweep CI logs through the API,
//! report, and on request delete the logs that leak.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cybrid_scan::ci::cleanup;
use cybrid_scan::ci::scan::{ScanContext, SPILL_ABOVE};
use cybrid_scan::ci::state::CiState;
use cybrid_scan::ci::{self, Counters, Filter, Provider, ProviderKind, SweepOptions};
use cybrid_scan::cli::{CiArgs, CiProvider, CiSourceArgs};
use cybrid_scan::detect::prefilter::Prefilter;
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::{ReadCount, Report};
use cybrid_scan::revoke::audit::AuditLog;
use cybrid_scan::source::log::stream;
use cybrid_scan::sweep::manifest::Shard;

use super::pipeline::Pipeline;

/// Default for `--max-decompressed-size` here: one archive or trace.
const DEFAULT_MAX_LOG: u64 = 4 << 30;
/// No `--deadline`: a sweep of a large org may take days; this only keeps
/// the arithmetic finite.
const NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

pub fn run(args: CiArgs) -> Result<Outcome> {
    match args.provider {
        CiProvider::Github(a) => sweep(ProviderKind::GitHub, a),
        CiProvider::Gitlab(a) => sweep(ProviderKind::GitLab, a),
    }
}

fn sweep(kind: ProviderKind, args: CiSourceArgs) -> Result<Outcome> {
    // Nothing swept is trusted for settings: only --config counts.
    let pipeline = Pipeline::start(&args.common, None)?;
    let started = pipeline.started();
    let (settings, engine) = (&pipeline.settings, &pipeline.engine);
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    let since = args
        .since
        .as_deref()
        .map(ci::parse_since)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let yes = settings.revoke.yes;
    if args.delete_leaking_logs && !args.dry_run && !yes && !interactive() {
        bail!("--delete-leaking-logs needs --yes when standard input is not a terminal (nothing was scanned)");
    }
    let prefilter = Prefilter::new(engine.rules());
    let max_log = args.max_decompressed_size.unwrap_or(DEFAULT_MAX_LOG);
    let ctx = ScanContext {
        engine,
        prefilter: &prefilter,
        chunk: args.chunk_size.map_or(stream::DEFAULT_CHUNK, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        }),
        max_decompressed: max_log,
        spill_above: SPILL_ABOVE,
        artifacts: args.artifacts,
        max_binary: settings.max_file_size,
    };
    let deadline = args
        .deadline
        .map_or(NO_DEADLINE, |s| Duration::from_secs_f64(s.max(0.0)));
    let ci::Connection {
        provider,
        root,
        token,
        token_var,
    } = ci::connect(
        kind,
        args.api_url.as_deref(),
        Duration::from_secs_f64(args.timeout.max(0.1)),
        started + deadline,
    )?;
    let say = |text: &str| pipeline.say(text);
    if token.is_none() {
        say(&format!(
            "ci: {token_var} is not set: only public repositories can be read, and logs cannot be deleted"
        ));
    }
    let state = args
        .state
        .as_deref()
        .map(|dir| {
            CiState::open(
                dir,
                root.as_str(),
                // A run recorded without its artifacts is not done for a
                // sweep with --artifacts (nor the other way round).
                if args.artifacts {
                    format!(
                        "{}+artifacts:{}",
                        cybrid_scan::sweep::scan_key(engine.rules(), max_log),
                        settings.max_file_size
                    )
                } else {
                    cybrid_scan::sweep::scan_key(engine.rules(), max_log)
                },
            )
        })
        .transpose()
        .context("cannot use the state directory")?;
    let opts = SweepOptions {
        concurrency: args.concurrency as usize,
        shard,
        filter: Filter {
            since,
            max_runs: args.max_runs,
        },
    };

    let counters = Counters::default();
    let finished = AtomicBool::new(false);
    let swept = std::thread::scope(|s| {
        if !settings.quiet {
            s.spawn(|| show_progress(&counters, provider.as_ref(), &finished));
        }
        let swept = ci::sweep(
            provider.as_ref(),
            &args.targets,
            &opts,
            &ctx,
            state.as_ref(),
            &counters,
        );
        finished.store(true, Ordering::Relaxed);
        swept
    });
    if swept.resumed > 0 {
        say(&format!(
            "ci: {} run(s) finished in an earlier run were taken from the state directory",
            swept.resumed
        ));
    }
    for e in &swept.state_errors {
        say(&format!(
            "ci: warning: {e} (a rerun will scan that run again)"
        ));
    }
    let waits = provider.waits();
    // Where the workers' time went (summed over workers): for tuning and
    // the benchmark; not in the report, which must not vary between runs.
    let secs = |ns: u64| ns as f64 / 1e9;
    let busy = counters.busy_ns.load(Ordering::Relaxed);
    let requests = waits
        .request_ns
        .load(Ordering::Relaxed)
        .saturating_sub(counters.listing_request_ns.load(Ordering::Relaxed));
    let network = requests + waits.body_ns.load(Ordering::Relaxed);
    let paused = waits.paused_ms.load(Ordering::Relaxed) * 1_000_000;
    say(&format!(
        "ci: time: {:.2} s wall; workers {:.2} s on runs/jobs: {:.2} s waiting on the network (for answers {:.2} s, reading download bodies {:.2} s), {:.2} s paused (rate limits, backoff), {:.2} s scanning; {} MB of logs",
        started.elapsed().as_secs_f64(),
        secs(busy),
        secs(network),
        secs(requests),
        secs(waits.body_ns.load(Ordering::Relaxed)),
        secs(paused),
        secs(busy.saturating_sub(network + paused)),
        counters.bytes.load(Ordering::Relaxed) / 1_000_000,
    ));
    let rate_waits = waits.rate_limit.load(Ordering::Relaxed);
    if rate_waits > 0 {
        say(&format!(
            "ci: waited for the API's rate limit {rate_waits} time(s) ({:.1} s in all)",
            waits.paused_ms.load(Ordering::Relaxed) as f64 / 1000.0
        ));
    }

    // Notes go into the report: only what every run of this sweep would say.
    let mut notes = vec![format!(
        "ci {}: {} repositories, {} runs/jobs listed",
        kind.as_str(),
        swept.repositories,
        swept.units
    )];
    if let Some(s) = shard {
        notes.push(format!("ci: shard {s} of the repositories"));
    }
    let nothing_listed = swept.repositories == 0 && !swept.errors.is_empty();
    let failed_inputs = swept.failed;
    let records = swept.records.clone();
    let (findings, errors, skipped, logs, bytes) = ci::assemble(swept);
    // The deadline: what it left undone is in `errors`, each with the reason.
    let cut_off = errors
        .iter()
        .filter(|e| e.message.contains("(--deadline)"))
        .count();
    if cut_off > 0 {
        notes.push(format!(
            "ci: the overall deadline (--deadline) was reached: {cut_off} run(s), job(s) or listing(s) were not finished (in errors, reason \"deadline\"); what finished before it is reported whole; rerun with the same --state to finish the rest"
        ));
    }
    let mut report = Report {
        findings,
        errors,
        skipped,
        notes,
        failed_inputs,
        ..Report::default()
    };
    report.stats.files = logs;
    report.stats.bytes = bytes;
    report.stats.read = Some(ReadCount::new(
        logs,
        match kind {
            ProviderKind::GitHub => "runs",
            ProviderKind::GitLab => "jobs",
        },
    ));

    let mut cleanup_failed = false;
    if args.delete_leaking_logs {
        // Act on what the report will show: findings left after suppression.
        let mut ignored = Default::default();
        let kept = settings
            .suppress
            .apply(report.findings.clone(), &mut ignored);
        let plan = cleanup::plan(kind, &kept, &records);
        let targets = &plan.targets;
        if !plan.artifacts_left.is_empty() {
            let paths: Vec<&str> = plan
                .artifacts_left
                .iter()
                .map(|(p, _)| p.as_str())
                .collect();
            report.notes.push(format!(
                "ci: --delete-leaking-logs: {} artifact(s) with findings not deleted (deleting a run's logs keeps its artifacts; delete them in the web UI or through the API, and revoke the credentials): {}",
                paths.len(),
                paths.join(", ")
            ));
        }
        if targets.is_empty() {
            if !plan.artifacts_left.is_empty() {
                eprint!("{}", cleanup::describe(kind, &plan, args.dry_run));
            }
            say("ci: --delete-leaking-logs: no run has findings in its logs; nothing to delete");
        } else {
            eprint!("{}", cleanup::describe(kind, &plan, args.dry_run));
            let go = args.dry_run || yes || confirm(targets.len());
            if go {
                let (mut audit, _) = AuditLog::open(&settings.revoke.audit_log_path()?)?;
                let done = cleanup::execute(provider.as_ref(), targets, &mut audit, args.dry_run)?;
                let note = done.note(kind, args.dry_run);
                say(&note);
                for (path, why) in &done.failed {
                    say(&format!("ci: {path}: not deleted: {why}"));
                }
                cleanup_failed = !done.failed.is_empty();
                report.notes.push(note);
            } else {
                say("ci: nothing deleted (not confirmed)");
            }
        }
    }

    let outcome = pipeline.finish_report(report, None)?;
    if nothing_listed {
        bail!("no repository could be listed (the report's errors say why)");
    }
    if cleanup_failed {
        return Ok(Outcome::Failed);
    }
    Ok(outcome)
}

fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

fn confirm(count: usize) -> bool {
    if !interactive() {
        return false;
    }
    eprint!("Delete these {count} log(s) now? This cannot be undone. [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// A progress bar on a terminal, a line every 10 s otherwise.
fn show_progress(counters: &Counters, provider: &dyn Provider, finished: &AtomicBool) {
    let tty = io::stderr().is_terminal();
    let bar = if tty {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut last_line = Instant::now();
    while !finished.load(Ordering::Relaxed) {
        let text = format!(
            "runs {}/{} ({} from state), {:.1} MB, {} finding(s), {} rate-limit wait(s)",
            counters.done.load(Ordering::Relaxed),
            counters.queued.load(Ordering::Relaxed),
            counters.resumed.load(Ordering::Relaxed),
            counters.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            counters.findings.load(Ordering::Relaxed),
            provider.waits().rate_limit.load(Ordering::Relaxed),
        );
        if tty {
            bar.set_message(text);
            bar.tick();
        } else if last_line.elapsed() >= Duration::from_secs(10) {
            eprintln!("cybrid-scan: ci: {text}");
            last_line = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
