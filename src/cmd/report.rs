//! `cybrid-scan report --datastore LOCATION`: every incident of a datastore
//! as a report, through the same writers as a scan's (and an HTML page).

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use cybrid_scan::cli::{ReportArgs, StoreReportFormat};
use cybrid_scan::datastore::{self, Datastore};
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::{self, html, Format, OutputOptions, Report, Reveal};
use cybrid_scan::rules::load_rule_set;

use super::write_atomically;

pub fn run(args: ReportArgs) -> Result<Outcome> {
    let ds = Datastore::open_existing(&args.store.datastore)?;
    let format = match args.format {
        StoreReportFormat::Human => Format::Human,
        StoreReportFormat::Json => Format::Json,
        StoreReportFormat::Jsonl => Format::Jsonl,
        StoreReportFormat::Sarif => Format::Sarif,
        StoreReportFormat::Gitlab => Format::Gitlab,
        StoreReportFormat::Html => return write_html(&ds, &args),
    };
    let mut findings = ds.findings(args.status)?;
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut report = Report {
        findings,
        ..Report::default()
    };
    report.make_deterministic();
    report.finish_stats();
    let opts = OutputOptions {
        format,
        // The datastore holds redacted forms only: shown as they are.
        reveal: Reveal::Show,
        color: false,
        sarif_category: None,
        command: Vec::new(),
    };
    let rules = load_rule_set(&[])?.rules;
    emit(args.output.as_deref(), |w| {
        report::write_report(&report, &opts, &rules, w)
    })
}

/// The HTML page: one row per incident.
fn write_html(ds: &Datastore, args: &ReportArgs) -> Result<Outcome> {
    let mut incidents = Vec::new();
    for i in ds.incidents(args.status)? {
        let places = ds.occurrences(&i.fingerprint)?;
        incidents.push((i, places));
    }
    let generated = datastore::now();
    emit(args.output.as_deref(), |w| {
        html::write(&incidents, &generated, w)
    })
}

/// Write to `output` (atomically) or standard output.
fn emit(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Outcome> {
    match output {
        Some(path) => write_atomically(path, write)?,
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            match write(&mut w).and_then(|_| w.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                other => other.context("cannot write the report to standard output")?,
            }
        }
    }
    Ok(Outcome::Clean)
}
