//! One road from a source to the report. A scanning subcommand builds one
//! [`Pipeline`] from its flags, hands its source the engine and collector,
//! and finishes through it: suppression, `--min-confidence`,
//! `--max-findings`, verification, revocation, the report in every format,
//! `--output` and the exit status are decided here once, so an option means
//! the same in `dir`, `git`, `logs`, `sweep` and `ci` (ripgrep's split between
//! a searcher and its sink; Nosey Parker's single scan pipeline).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cybrid_scan::cli::CommonArgs;
use cybrid_scan::collect::{keep_first, Collector, Unit, ALL_INPUTS};
use cybrid_scan::config::Settings;
use cybrid_scan::datastore::{self, triage, Datastore, RunInfo, Status};
use cybrid_scan::detect::Engine;
use cybrid_scan::exit::Outcome;
use cybrid_scan::finding::VerificationStatus;
use cybrid_scan::refs;
use cybrid_scan::report::Reveal;
use cybrid_scan::report::{self, escape_for_terminal, Format, ReadCount, Report};
use cybrid_scan::revoke::api::{AdminApi, AdminCredential};
use cybrid_scan::rules::load_rule_set;
use cybrid_scan::source::git::known::{repository_key, KnownBlobs, KnownIndex};
use cybrid_scan::source::known::KnownContent;
use cybrid_scan::sweep::scan_key;
use cybrid_scan::verify::allowlist::read_allowlists;
use cybrid_scan::verify::cache::VerdictMemory;
use cybrid_scan::verify::endpoint::Endpoints;
use cybrid_scan::verify::retry::Backoff;
use cybrid_scan::verify::{verify_findings_remembering, VerifyConfig};

/// The settings, engine and collector of one run, and how it finishes.
pub struct Pipeline {
    pub settings: Settings,
    pub engine: Engine,
    pub collector: Collector,
    started: Instant,
    /// Notes for the report: only what every run of the same scan would say.
    notes: Vec<String>,
    /// `--datastore`: opened before the scan, so a bad one fails first.
    datastore: Option<Datastore>,
    /// When the run started, as the datastore records it.
    started_at: String,
    /// With a datastore: the git blobs it has already scanned under the
    /// same [`scan_key`](datastore_scan_key), and those this run reads.
    known: Option<Arc<KnownIndex>>,
    /// With a datastore: the files and logs it has already scanned under
    /// the same scan key, by content digest, and those this run hashes.
    content: Option<Arc<KnownContent>>,
    scan_key: String,
    /// The local roots scanned, absolute (the JSON report's `roots`).
    roots: Vec<String>,
}

impl Pipeline {
    /// Resolve flags and the config file (looked for in `root`), compile the
    /// rules, and check what would otherwise fail after the scan (a refused
    /// `--endpoint`, revocation without credentials) before any work is done.
    pub fn start(common: &CommonArgs, root: Option<&Path>) -> Result<Self> {
        let started = Instant::now();
        let settings = Settings::load(common, root)?;
        let engine = load_engine(&settings)?;
        let collector = Collector::with_max_findings(settings.max_findings);
        let datastore = settings
            .datastore
            .as_deref()
            .map(Datastore::open)
            .transpose()?;
        let scan_key = datastore_scan_key(&settings, &engine);
        let known = match &datastore {
            Some(ds) => {
                let mut ids = ds.scanned("blob", &scan_key)?;
                ids.append(&mut ds.scanned("tree", &scan_key)?);
                Some(Arc::new(KnownIndex::new(&ids)))
            }
            None => None,
        };
        // The datastore holds no secret: with --verify, --revoke or
        // --show-secrets every file is scanned again, for its secrets.
        let needs_secrets = settings.verify.enabled
            || settings.revoke.enabled
            || settings.output.reveal == Reveal::Show;
        let content = match &datastore {
            Some(ds) if !needs_secrets => Some(Arc::new(KnownContent::new(
                &ds.scanned("content", &scan_key)?,
            ))),
            _ => None,
        };
        let pipeline = Pipeline {
            known,
            content,
            scan_key,
            notes: Vec::new(),
            settings,
            engine,
            collector,
            started,
            datastore,
            started_at: datastore::now(),
            roots: Vec::new(),
        };
        // Said, not reported: they depend on the machine, and the report
        // holds only what every run of the same scan would say.
        for note in &pipeline.settings.notes {
            pipeline.say(&format!("note: {note}"));
        }
        Ok(pipeline)
    }

    /// The blobs to leave unread, and to note those read (`--datastore`).
    pub fn known_blobs(&self) -> Option<Arc<KnownIndex>> {
        self.known.clone()
    }

    /// The objects the datastore holds as scanned in the repository `spec`
    /// names (a path or a URL), to leave unread there.
    pub fn known_blobs_in(&self, spec: &str) -> Option<Arc<KnownBlobs>> {
        self.known
            .as_ref()
            .map(|k| k.for_repo(&repository_key(spec)))
    }

    /// The files and logs to hash rather than scan, and to note those
    /// scanned (`--datastore`); `None` without a datastore: no hashing.
    pub fn known_content(&self) -> Option<Arc<KnownContent>> {
        self.content.clone()
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Record the local roots scanned (those that exist), absolute, so that
    /// `revoke` and `rotate` can read a finding's secret again.
    pub fn record_roots<'p>(&mut self, roots: impl IntoIterator<Item = &'p std::path::Path>) {
        for r in roots {
            if let Ok(abs) = std::fs::canonicalize(r) {
                let shown = abs.display().to_string();
                if !self.roots.contains(&shown) {
                    self.roots.push(shown);
                }
            }
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// A line on standard error, unless `--quiet`.
    pub fn say(&self, text: &str) {
        if !self.settings.quiet {
            eprintln!("cybrid-scan: {}", escape_for_terminal(text));
        }
    }

    /// Finish a scan whose source delivered into the collector, counting
    /// what it read in `unit`.
    pub fn finish(self, unit: Unit) -> Result<Outcome> {
        let Pipeline {
            settings,
            engine,
            collector,
            started,
            notes,
            datastore,
            started_at,
            known,
            content,
            scan_key,
            roots,
        } = self;
        let gathered = collector.into_gathered();
        let read = ReadCount::new(unit.count(&gathered), unit.name());
        let mut report = Report {
            findings: gathered.findings,
            errors: gathered.errors,
            skipped: gathered.skipped,
            failed_inputs: gathered.failed_inputs,
            dropped: gathered.dropped,
            roots,
            ..Report::default()
        };
        report.stats.files = gathered.files;
        report.stats.bytes = gathered.bytes;
        report.stats.read = Some(read);
        Pipeline {
            settings,
            engine,
            collector: Collector::default(),
            started,
            notes,
            datastore,
            started_at,
            known,
            content,
            scan_key,
            roots: Vec::new(),
        }
        .finish_report(report, None)
    }

    /// Finish a report a source assembled itself (a sweep's, a CI sweep's),
    /// with `memory` holding verification verdicts of earlier runs.
    pub fn finish_report(
        self,
        mut report: Report,
        memory: Option<&mut dyn VerdictMemory>,
    ) -> Result<Outcome> {
        let settings = &self.settings;
        let mut datastore = self.datastore;
        let mut notes = self.notes;
        if let Some(k) = &self.known {
            let (blobs, trees) = k.skipped();
            if blobs + trees > 0 {
                notes.push(format!(
                    "{blobs} blob(s) and {trees} tree(s) with every blob under them already scanned (datastore) skipped: their findings were recorded when first scanned"
                ));
            }
        }
        notes.append(&mut report.notes);
        report.notes = notes;
        // Files and logs unchanged since the datastore scanned them: their
        // findings come from it, under the path they have now.
        let mut digests = std::collections::HashMap::new();
        // Digests of the files this run scanned, to record as scanned.
        let mut content_scanned = Vec::new();
        if let (Some(c), Some(store)) = (&self.content, datastore.as_ref()) {
            let skipped = c.take_skipped();
            let mut known = 0usize;
            for (shown, digest) in &skipped {
                let found = store.findings_of_content(shown, digest)?;
                known += found.len();
                report.findings.extend(found);
                digests.insert(shown.clone(), digest.clone());
            }
            if !skipped.is_empty() {
                report
                    .findings
                    .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
                report.notes.push(format!(
                    "{} file(s) ({} bytes) unchanged since the datastore scanned them under the same rules: hashed, not scanned; their {known} finding(s) are reported from the datastore (redacted)",
                    skipped.len(),
                    c.skipped_bytes()
                ));
            }
            let whole =
                report.errors.is_empty() && report.failed_inputs == 0 && report.dropped == 0;
            let scanned = if whole { c.take_scanned() } else { Vec::new() };
            // Two roots may hold the same relative path with different
            // contents: such a path's findings cannot be tied to one digest,
            // so neither digest is recorded (both are scanned next time).
            let mut ambiguous = std::collections::HashSet::new();
            for (shown, digest) in &scanned {
                if let Some(prev) = digests.insert(shown.clone(), digest.clone()) {
                    if prev != *digest {
                        ambiguous.insert(shown.clone());
                    }
                }
            }
            for shown in &ambiguous {
                digests.remove(shown);
            }
            content_scanned = scanned
                .into_iter()
                .filter(|(shown, _)| !ambiguous.contains(shown))
                .map(|(_, digest)| digest)
                .collect();
        }
        // In order: suppression (baseline, allow-lists) → confidence →
        // the findings cap → verification → revocation.
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
        apply_max_findings(&mut report, settings.max_findings);
        if settings.verify.enabled {
            let config = VerifyConfig::from_settings(&settings.verify)?;
            if !settings.quiet && !report.findings.is_empty() {
                eprintln!(
                    "cybrid-scan: verifying credential pairs (deadline {:.0} s)...",
                    config.deadline.as_secs_f64()
                );
            }
            let summary = verify_findings_remembering(
                &mut report.findings,
                self.engine.rules(),
                &config,
                memory,
            )?;
            // The human report prints the note itself; other formats get it on stderr too.
            let human_on_stdout =
                settings.output.format == Format::Human && settings.output_path.is_none();
            if !settings.quiet && summary.pairs > 0 && !human_on_stdout {
                eprintln!("cybrid-scan: {}", summary.note());
            }
            report.notes.push(summary.note());
            // Each endpoint that left credentials unknown, named once, with why.
            for fault in &summary.endpoint_faults {
                let line = format!("verify: {}", fault.describe());
                if !settings.quiet {
                    eprintln!("cybrid-scan: {}", escape_for_terminal(&line));
                }
                report.notes.push(line);
            }
            // Asked for, with the admin credential: what each live key's
            // application allows (its IP allowlist).
            if settings.verify.read_allowlists
                && report
                    .findings
                    .iter()
                    .any(|f| f.revocation_target().is_some())
            {
                let lines = match AdminCredential::from_env() {
                    Err(e) => vec![format!("verify: IP allowlists not read: {e}")],
                    Ok(admin) => {
                        let api = AdminApi::new(
                            Endpoints::parse(&settings.verify.endpoints)?,
                            settings.verify.proxy.as_deref(),
                            config.timeout,
                            Backoff::default(),
                        )?;
                        read_allowlists(&mut report.findings, &api, &admin)
                    }
                };
                for line in lines {
                    if !settings.quiet {
                        eprintln!("cybrid-scan: {}", escape_for_terminal(&line));
                    }
                    report.notes.push(line);
                }
            }
        }
        let mut revocation_failed = false;
        let mut revoked = Vec::new();
        if settings.revoke.enabled || settings.revoke.notify_webhook.is_some() {
            let done = super::revoke::after_scan(&report.findings, settings, "this scan")?;
            revocation_failed = done.failed;
            revoked = done.revoked;
            report.notes.extend(done.notes);
        }
        if let Some(store) = datastore.as_mut() {
            // What was read is recorded as scanned only when nothing was
            // lost on the way (an unreadable object, the findings cap): a
            // rerun reads it again otherwise.
            let whole =
                report.errors.is_empty() && report.failed_inputs == 0 && report.dropped == 0;
            let scanned = match &self.known {
                Some(k) if whole => k.take_scanned(),
                _ => Vec::new(),
            };
            let mut scanned: Vec<(&'static str, String)> = scanned;
            scanned.extend(content_scanned.into_iter().map(|d| ("content", d)));
            let run = RunInfo {
                digests,
                started: self.started_at.clone(),
                command: command_name(),
                bytes: report.stats.bytes,
                skipped: self.known.as_ref().map_or(0, |k| {
                    let (blobs, trees) = k.skipped();
                    blobs + trees
                }),
                scan_key: self.scan_key.clone(),
                scanned,
                roots: report.roots.clone(),
            };
            record(store, &run, &mut report, settings.quiet)?;
            if !revoked.is_empty() {
                // After the run's findings: their incidents exist now.
                let changed = store.set_statuses(&revoked, &triage::who(None))?;
                let statuses: std::collections::HashMap<&str, &str> = revoked
                    .iter()
                    .map(|(fp, _, note)| (fp.as_str(), note.as_str()))
                    .collect();
                for f in &mut report.findings {
                    if let Some(note) = statuses.get(f.fingerprint.as_str()) {
                        f.triage = Some(cybrid_scan::finding::Triage {
                            status: Status::Revoked.as_str().to_string(),
                            note: note.to_string(),
                        });
                    }
                }
                if !settings.quiet {
                    eprintln!(
                        "cybrid-scan: datastore: {} incident(s) marked revoked",
                        changed.len()
                    );
                }
            }
        }

        report.stats.duration_ms = self.started.elapsed().as_millis() as u64;
        if settings.deterministic {
            report.make_deterministic();
        }
        report.finish_stats();
        if !settings.quiet {
            for e in &report.errors {
                eprintln!(
                    "cybrid-scan: {}: {}",
                    escape_for_terminal(&e.path),
                    escape_for_terminal(&e.message)
                );
            }
        }
        let listed = if settings.all_refs {
            usize::MAX
        } else {
            refs::DEFAULT_LISTED
        };
        for f in &mut report.findings {
            let total = f.location.refs.len();
            if total > listed {
                f.location.refs_total = Some(total as u64);
            }
        }
        // Reports list the first refs of each set; state files (written
        // during the scan) keep them all.
        refs::set_listed_limit(listed);
        let written = write_output(&report, settings, &self.engine);
        refs::set_listed_limit(usize::MAX);
        written?;
        if revocation_failed {
            return Ok(Outcome::Failed);
        }
        // A JSON report written to a file is what revoke and rotate take:
        // say so (the human report says it under its LIVE banner).
        let live_now = report.live_count();
        if let (Format::Json, Some(path), false, false) = (
            settings.output.format,
            &settings.output_path,
            settings.quiet,
            settings.revoke.enabled,
        ) {
            if live_now > 0 {
                eprintln!(
                    "cybrid-scan: {}",
                    escape_for_terminal(&cybrid_scan::report::next::for_report(
                        live_now,
                        &path.display().to_string()
                    ))
                );
            }
        }
        let read_errors = report.errors.iter().any(|e| e.path != ALL_INPUTS);
        let incomplete = report.failed_inputs > 0 || (settings.fail_on_errors && read_errors);
        if incomplete && !settings.quiet {
            let why = if report.failed_inputs > 0 {
                format!(
                    "{} input(s) could not be scanned at all",
                    report.failed_inputs
                )
            } else {
                format!(
                    "{} error(s) and --fail-on-errors",
                    report
                        .errors
                        .iter()
                        .filter(|e| e.path != ALL_INPUTS)
                        .count()
                )
            };
            eprintln!("cybrid-scan: incomplete scan: {why} (exit status 2; the report lists them in errors)");
        }
        // Findings of incidents triaged as needing no action fail no gate.
        let counted = report.findings.iter().filter(|f| !f.triaged_away());
        let live = counted
            .clone()
            .filter(|f| f.verification.status == VerificationStatus::Live)
            .count();
        Ok(Outcome::of_scan(
            counted.count(),
            live,
            incomplete,
            settings.findings_status,
        ))
    }
}

/// Record the run's findings in the datastore (one transaction) and mark
/// each with its incident's triage.
fn record(store: &mut Datastore, run: &RunInfo, report: &mut Report, quiet: bool) -> Result<()> {
    let recorded = store.record(run, &report.findings)?;
    for f in &mut report.findings {
        f.triage = recorded.triage.get(f.fingerprint.as_str()).cloned();
    }
    if quiet {
        return Ok(());
    }
    let say = |text: &str| eprintln!("cybrid-scan: {}", escape_for_terminal(text));
    for note in &recorded.reopened {
        say(&format!("datastore: {note}"));
    }
    say(&format!(
        "datastore {}: {} finding(s) recorded as occurrences of {} incident(s), {} new",
        store.path().display(),
        report.findings.len(),
        recorded.incidents,
        recorded.new_incidents
    ));
    let triaged = report.findings.iter().filter(|f| f.triaged_away()).count();
    if triaged > 0 {
        say(&format!(
            "datastore: {triaged} finding(s) of incidents triaged false_positive, test_credential or accepted_risk do not count for the exit status"
        ));
    }
    Ok(())
}

/// What a datastore's record of "already scanned" depends on: the tool
/// version, rules and size limit ([`scan_key`]), and what decides which
/// findings are recorded (`--min-confidence`, the baseline and the config
/// file's allow-lists). Any change rescans.
fn datastore_scan_key(settings: &Settings, engine: &Engine) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cybrid-scan/datastore-scan-key/v1\0");
    h.update(scan_key(engine.rules(), settings.max_file_size).as_bytes());
    h.update(settings.min_confidence.as_str().as_bytes());
    for file in [&settings.baseline, &settings.config_file] {
        h.update([0u8]);
        if let Some(bytes) = file.as_ref().and_then(|p| std::fs::read(p).ok()) {
            h.update(Sha256::digest(bytes));
        }
    }
    hex::encode(h.finalize())
}

/// The subcommand, for the datastore's `runs` table: never its arguments
/// (a clone URL may carry a token).
fn command_name() -> String {
    let args: Vec<String> = std::env::args().skip(1).take(2).collect();
    match args.as_slice() {
        [ci, provider] if ci == "ci" => format!("ci {provider}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// Compile the built-in rules plus the user's, after checking the settings
/// that would otherwise fail after the scan.
pub fn load_engine(settings: &Settings) -> Result<Engine> {
    VerifyConfig::from_settings(&settings.verify)?;
    super::revoke::preflight(settings)?;
    let set = load_rule_set(&settings.rules_dirs)?;
    Ok(Engine::with_providers(set.rules, set.other_providers))
}

/// `--max-findings N`: the first N findings in report order (path, line,
/// column; repository first in a sweep) are kept, on every run; the rest are
/// counted in one error.
fn apply_max_findings(report: &mut Report, max: Option<u64>) {
    let Some(max) = max else { return };
    let dropped = report.dropped + keep_first(&mut report.findings, max as usize);
    report.dropped = dropped;
    if dropped > 0 {
        report.errors.push(cybrid_scan::collect::ScanError {
            path: ALL_INPUTS.to_string(),
            message: format!(
                "--max-findings {max} reached: {dropped} more finding(s) not kept (the first {max} in report order are kept: by path, line and column)"
            ),
        });
        report.errors.sort();
    }
}

/// Write the report to standard output, or atomically to `--output`: a
/// temporary file beside it, renamed over it only once complete, so a full
/// disk or a crash never leaves a truncated report nor destroys the last
/// good one.
fn write_output(report: &Report, settings: &Settings, engine: &Engine) -> Result<()> {
    match &settings.output_path {
        Some(path) => write_atomically(path, |w| {
            report::write_report(report, &settings.output, engine.rules(), w)
        }),
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            let result = report::write_report(report, &settings.output, engine.rules(), &mut w)
                .and_then(|_| w.flush());
            match result {
                // A reader that went away (`| head`) is not a failure of the scan.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write the report to standard output"),
            }
        }
    }
}

/// Write `path` through a temporary file in the same directory, then
/// rename; on any failure the temporary is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let shown = path.display();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map_or("report".into(), |n| n.to_string_lossy())
        ))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| {
            format!(
                "cannot write the report {shown}: cannot create a temporary file in {}",
                dir.display()
            )
        })?;
    let mut w = BufWriter::new(tmp);
    write(&mut w).and_then(|_| w.flush()).with_context(|| {
        format!("cannot write the report {shown} (the previous file, if any, is untouched)")
    })?;
    let tmp = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| {
            format!("cannot write the report {shown} (the previous file, if any, is untouched)")
        })?;
    tmp.as_file().sync_all().with_context(|| {
        format!("cannot write the report {shown} (the previous file, if any, is untouched)")
    })?;
    // A report readable by whoever could read the one it replaces (a
    // temporary file is created 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode));
    }
    tmp.persist(path).map_err(|e| e.error).with_context(|| {
        format!("cannot write the report {shown} (the previous file, if any, is untouched)")
    })?;
    Ok(())
}
