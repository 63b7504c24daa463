//! `cybrid-scan merge REPORT...`: combine JSON reports (a sweep's shards)
//! into one JSON or SARIF report, each finding once.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};
use cybrid_scan::cli::MergeArgs;
use cybrid_scan::exit::{Outcome, DEFAULT_FINDINGS_STATUS};
use cybrid_scan::finding::VerificationStatus;
use cybrid_scan::report::json::{read_report, ReportRecord};
use cybrid_scan::report::merge::merge;
use cybrid_scan::report::{self, Format, OutputOptions, Report, Reveal};
use cybrid_scan::rules::load_rules;

pub fn run(args: MergeArgs) -> Result<Outcome> {
    let mut reports = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        reports.push(read_report(path)?);
    }
    let (merged, summary) = merge(reports);
    eprintln!(
        "cybrid-scan: merged {} report(s): {} finding(s), {} repositor(y/ies), {} duplicate finding(s) dropped",
        summary.reports,
        merged.findings.len(),
        merged.repositories.len(),
        summary.duplicate_findings
    );
    let live = merged
        .findings
        .iter()
        .filter(|f| f.verification.status == VerificationStatus::Live)
        .count();
    let outcome = Outcome::of_scan(merged.findings.len(), live, false, DEFAULT_FINDINGS_STATUS);
    let written = match &args.output {
        Some(path) => {
            super::write_atomically(path, |w| write(merged, &args, w))?;
            Ok(())
        }
        None => {
            let mut w = BufWriter::new(io::stdout().lock());
            write(merged, &args, &mut w).and_then(|_| w.flush())
        }
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write the merged report")?,
    }
    Ok(outcome)
}

/// JSON is written from the records themselves (redaction and revocation
/// data exactly as the shards wrote them); other formats go through a
/// `Report` whose secrets are the records' strings, passed through as is.
fn write(merged: ReportRecord, args: &MergeArgs, out: &mut dyn Write) -> io::Result<()> {
    let format = args.format;
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &merged)?;
        return writeln!(out);
    }
    let mut report = Report {
        findings: merged
            .findings
            .into_iter()
            .map(|f| f.into_finding())
            .collect(),
        errors: merged.errors,
        skipped: merged.skipped,
        stats: merged.stats,
        notes: merged.notes,
        repositories: merged.repositories,
        ..Report::default()
    };
    report.finish_stats();
    let rules = load_rules(&[]).map_err(io::Error::other)?;
    let opts = OutputOptions {
        format,
        reveal: Reveal::Show,
        color: false,
        sarif_category: args.sarif_category.clone(),
        command: Vec::new(),
    };
    report::write_report(&report, &opts, &rules, out)
}
