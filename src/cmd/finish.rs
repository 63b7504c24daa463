//! What every scanning subcommand does after its source has run: build the
//! report, apply suppressions, verification and revocation, write it, pick
//! the exit status.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use cybrid_scan::collect::Gathered;
use cybrid_scan::config::Settings;
use cybrid_scan::detect::Engine;
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::{self, Report};
use cybrid_scan::rules::load_rule_set;
use cybrid_scan::verify::cache::VerdictMemory;
use cybrid_scan::verify::{verify_findings_remembering, VerifyConfig};

/// Compile the built-in rules plus the user's. Every scanning command calls
/// this first, so settings that would fail after the scan (a refused
/// `--endpoint`) are checked here, before any work is done.
pub fn load_engine(settings: &Settings) -> Result<Engine> {
    VerifyConfig::from_settings(&settings.verify)?;
    super::revoke::preflight(settings)?;
    let set = load_rule_set(&settings.rules_dirs)?;
    Ok(Engine::with_providers(set.rules, set.other_providers))
}

/// Turn what a source gathered into the written report and an outcome.
pub fn finish_scan(
    gathered: Gathered,
    started: Instant,
    settings: &Settings,
    engine: &Engine,
    notes: Vec<String>,
) -> Result<Outcome> {
    let mut report = Report {
        findings: gathered.findings,
        errors: gathered.errors,
        skipped: gathered.skipped,
        notes,
        ..Report::default()
    };
    report.stats.files = gathered.files;
    report.stats.bytes = gathered.bytes;
    finish_report(report, started, settings, engine, None)
}

/// [`finish_scan`] for a report already built (a sweep's), with `memory`
/// holding verification verdicts of earlier runs.
pub fn finish_report(
    mut report: Report,
    started: Instant,
    settings: &Settings,
    engine: &Engine,
    memory: Option<&mut dyn VerdictMemory>,
) -> Result<Outcome> {
    // Post-scan pipeline, in order: suppression (baseline, allow-lists) →
    // verification → revocation. Each step is a call into its own module.
    report.findings = settings.suppress.apply(
        std::mem::take(&mut report.findings),
        &mut report.stats.suppressed,
    );
    let before = report.findings.len();
    report
        .findings
        .retain(|f| f.confidence >= settings.min_confidence);
    let below = before - report.findings.len();
    if below > 0 {
        report.notes.push(format!(
            "{below} finding(s) below --min-confidence {} not reported",
            settings.min_confidence
        ));
    }
    if settings.verify.enabled {
        let config = VerifyConfig::from_settings(&settings.verify)?;
        if !settings.quiet && !report.findings.is_empty() {
            eprintln!(
                "cybrid-scan: verifying credential pairs (deadline {:.0} s)...",
                config.deadline.as_secs_f64()
            );
        }
        let summary =
            verify_findings_remembering(&mut report.findings, engine.rules(), &config, memory)?;
        // The human report prints the note itself; other formats get it on stderr too.
        let human_on_stdout = settings.output.format == cybrid_scan::report::Format::Human
            && settings.output_path.is_none();
        if !settings.quiet && summary.pairs > 0 && !human_on_stdout {
            eprintln!("cybrid-scan: {}", summary.note());
        }
        report.notes.push(summary.note());
        // Each endpoint that left credentials unknown, named once, with why.
        for fault in &summary.endpoint_faults {
            let line = format!("verify: {}", fault.describe());
            if !settings.quiet {
                eprintln!("cybrid-scan: {}", report::escape_for_terminal(&line));
            }
            report.notes.push(line);
        }
    }
    let mut revocation_failed = false;
    if settings.revoke.enabled || settings.revoke.notify_webhook.is_some() {
        let done = super::revoke::after_scan(&report.findings, settings, "this scan")?;
        revocation_failed = done.failed;
        report.notes.extend(done.notes);
    }

    report.stats.duration_ms = started.elapsed().as_millis() as u64;
    if settings.deterministic {
        report.make_deterministic();
    }
    report.finish_stats();
    if !settings.quiet {
        for e in &report.errors {
            eprintln!(
                "cybrid-scan: {}: {}",
                report::escape_for_terminal(&e.path),
                report::escape_for_terminal(&e.message)
            );
        }
    }
    write_output(&report, settings, engine)?;
    if revocation_failed {
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::of_scan(
        report.findings.len(),
        report.live_count(),
        settings.findings_status,
    ))
}

fn write_output(report: &Report, settings: &Settings, engine: &Engine) -> Result<()> {
    let result = match &settings.output_path {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = BufWriter::new(file);
            report::write_report(report, &settings.output, engine.rules(), &mut w)
                .and_then(|_| w.flush())
        }
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            report::write_report(report, &settings.output, engine.rules(), &mut w)
                .and_then(|_| w.flush())
        }
    };
    match result {
        // A reader that went away (`| head`) is not a failure of the scan.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the report"),
    }
}
