//! Scanning what the CI APIs hand back, through the log pipeline.
//!
//! A GitHub run's logs come as a zip archive, which needs seeking: it is
//! spooled in memory up to a bound and spills to an anonymous temporary file
//! (deleted when dropped) past it, so memory stays bounded however big the
//! archive. Its entries are inflated with one budget per archive (a zip bomb
//! stops there, and says so). A GitLab trace is scanned straight off the
//! network stream. Every log goes through [`scan_stream`]: the same
//! normalisation, windows and rules as `cybrid-scan logs`.

use std::collections::BTreeSet;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use crate::collect::ScanError;
use crate::detect::prefilter::Prefilter;
use crate::detect::Engine;
use crate::finding::{Location, SourceKind};
use crate::source::log::input::{cap_error, Capped};
use crate::source::log::scan_stream;
use crate::source::log::stream::Scanner;
use crate::source::log::zipentry::{EntryReader, WholeInflater};
use crate::sweep::state::StoredFinding;

use super::{Unit, UnitRecord, UnitStatus};

/// Archives up to this size stay in memory; bigger ones spill to a temporary file.
pub const SPILL_ABOVE: usize = 16 << 20;

/// What every unit's scan shares.
pub struct ScanContext<'e> {
    pub engine: &'e Engine,
    pub prefilter: &'e Prefilter,
    /// New bytes per scanning window.
    pub chunk: usize,
    /// Per archive or trace: bytes read (inflated) at most.
    pub max_decompressed: u64,
    pub spill_above: usize,
    /// `--artifacts`: scan the runs' / jobs' artifacts too.
    pub artifacts: bool,
    /// A binary artifact entry is read whole (as `dir` reads a file) up to
    /// this size (`--max-file-size`); a bigger one is listed in `skipped`.
    pub max_binary: u64,
}

impl ScanContext<'_> {
    pub(super) fn scanner(&self) -> Scanner<'_> {
        Scanner::new(self.engine, self.prefilter, self.chunk, false)
    }
}

/// A downloaded archive, in memory or in a temporary file.
pub enum Spool {
    Memory(Cursor<Vec<u8>>),
    File(std::fs::File),
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spool::Memory(c) => c.read(buf),
            Spool::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spool {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spool::Memory(c) => c.seek(pos),
            Spool::File(f) => f.seek(pos),
        }
    }
}

/// Read `reader` whole into a [`Spool`]: memory up to `in_memory` bytes, a
/// temporary file past it; more than `max` bytes is an error.
pub fn spool(reader: &mut dyn Read, in_memory: usize, max: u64) -> io::Result<Spool> {
    let mut head = Vec::new();
    reader.take(in_memory as u64 + 1).read_to_end(&mut head)?;
    if head.len() <= in_memory {
        return Ok(Spool::Memory(Cursor::new(head)));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&head)?;
    drop(head);
    let copied = io::copy(
        &mut reader.take(max.saturating_sub(in_memory as u64 + 1) + 1),
        &mut file,
    )?;
    if in_memory as u64 + 1 + copied > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("archive larger than {max} bytes (--max-decompressed-size); not scanned"),
        ));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Spool::File(file))
}

/// A GitHub job, as the run's jobs listing gives it.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub id: u64,
    pub name: String,
    pub html_url: String,
}

/// A zip entry's place: the job's directory and the step file, or a
/// top-level job log.
#[derive(Debug, PartialEq, Eq)]
enum EntryName<'a> {
    /// `job/3_Run tests.txt`: job directory, step (`3_Run tests`), its number.
    Step {
        job: &'a str,
        step: &'a str,
        number: Option<u32>,
    },
    /// `0_job.txt`: the whole job's log.
    Job { job: &'a str },
}

fn parse_entry(name: &str) -> EntryName<'_> {
    match name.split_once('/') {
        Some((job, file)) => {
            let step = strip_txt(file);
            let number = step.split_once('_').and_then(|(n, _)| n.parse().ok());
            EntryName::Step { job, step, number }
        }
        None => {
            let stem = strip_txt(name);
            let job = match stem.split_once('_') {
                Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => rest,
                _ => stem,
            };
            EntryName::Job { job }
        }
    }
}

fn strip_txt(s: &str) -> &str {
    s.strip_suffix(".txt").unwrap_or(s)
}

/// Job names as archive directory names: GitHub replaces characters a file
/// name cannot hold; compare with every non-alphanumeric character folded.
fn fold(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect()
}

fn find_job<'j>(jobs: &'j [JobInfo], dir: &str) -> Option<&'j JobInfo> {
    jobs.iter()
        .find(|j| j.name == dir)
        .or_else(|| jobs.iter().find(|j| fold(&j.name) == fold(dir)))
}

/// Scan a GitHub run's log archive into `record`. `Err` when the archive
/// cannot be opened at all (corrupt, truncated, not a zip).
pub fn github_archive(
    ctx: &ScanContext<'_>,
    archive: Spool,
    unit: &Unit,
    jobs: &[JobInfo],
    record: &mut UnitRecord,
) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(archive)
        .map_err(|e| format!("log archive unreadable (corrupt or truncated zip): {e}"))?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    // A job's top-level log repeats its step logs: scanned only when the
    // archive has no step logs for that job (so each line is reported once,
    // with its step).
    let with_steps: BTreeSet<&str> = names
        .iter()
        .filter_map(|n| match parse_entry(n) {
            EntryName::Step { job, .. } => Some(job),
            EntryName::Job { .. } => None,
        })
        .collect();
    let mut budget = ctx.max_decompressed;
    let mut scanner = ctx.scanner();
    let mut whole = WholeInflater::default();
    for i in 0..archive.len() {
        let inflated = whole.entry(&mut archive, i, budget);
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                record.errors.push(ScanError {
                    path: record.path.clone(),
                    message: format!("log archive entry #{i} cannot be read: {e}"),
                });
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let (job_dir, step, number) = match parse_entry(&name) {
            EntryName::Step { job, step, number } => (job, Some(step), number),
            EntryName::Job { job } if with_steps.contains(job) => continue,
            EntryName::Job { job } => (job, None, None),
        };
        if budget == 0 {
            record.errors.push(ScanError {
                path: format!("{}!{name}", record.path),
                message: format!(
                    "{} (a zip bomb, or raise the limit)",
                    cap_error(ctx.max_decompressed)
                ),
            });
            break;
        }
        let job = find_job(jobs, job_dir);
        let job_url = job.map_or_else(|| unit.web_url.clone(), |j| j.html_url.clone());
        let base = Location {
            source: SourceKind::Ci,
            path: record.path.clone(),
            entry: Some(name.clone()),
            repository: Some(unit.repo.name.clone()),
            run: Some(unit.id.to_string()),
            job: Some(job.map_or(job_dir, |j| j.name.as_str()).to_string()),
            step: step.map(str::to_string),
            ..Location::default()
        };
        let source = EntryReader::new(inflated, &mut entry);
        let mut capped = Capped::new(source, budget);
        let scanned = scan_stream(ctx.engine, &mut scanner, &mut capped, &base);
        budget = budget.saturating_sub(scanned.bytes);
        record.logs += 1;
        record.bytes += scanned.bytes;
        for mut f in scanned.findings {
            f.location.url = Some(match number {
                Some(n) => format!("{job_url}#step:{n}:{}", f.location.line),
                None => job_url.clone(),
            });
            record.findings.push(StoredFinding::of(&f));
        }
        if let Some(e) = scanned.failure {
            record.errors.push(ScanError {
                path: format!("{}!{name}", record.path),
                message: stream_failure(&e, ctx.max_decompressed),
            });
        }
    }
    Ok(())
}

/// Scan one GitLab job trace straight off `reader` into `record`.
///
/// Returns `false` when the trace broke off for a reason a later sweep may
/// not meet (the network, the deadline): the record is then incomplete.
pub fn gitlab_trace(
    ctx: &ScanContext<'_>,
    reader: &mut dyn Read,
    unit: &Unit,
    record: &mut UnitRecord,
) -> bool {
    let base = Location {
        source: SourceKind::Ci,
        path: record.path.clone(),
        repository: Some(unit.repo.name.clone()),
        run: Some(unit.id.to_string()),
        job: unit.name.clone(),
        ..Location::default()
    };
    let mut scanner = ctx.scanner();
    let mut capped = Capped::new(reader, ctx.max_decompressed);
    let scanned = scan_stream(ctx.engine, &mut scanner, &mut capped, &base);
    record.logs += 1;
    record.bytes += scanned.bytes;
    for mut f in scanned.findings {
        f.location.url = Some(format!("{}#L{}", unit.web_url, f.location.line));
        record.findings.push(StoredFinding::of(&f));
    }
    let Some(e) = scanned.failure else {
        return true;
    };
    let complete = e.kind() == io::ErrorKind::FileTooLarge;
    let mut message = stream_failure(&e, ctx.max_decompressed);
    if !complete {
        message.push_str("; a rerun scans the job again");
    }
    record.errors.push(ScanError {
        path: record.path.clone(),
        message,
    });
    complete
}

pub(super) fn stream_failure(e: &io::Error, cap: u64) -> String {
    if e.kind() == io::ErrorKind::FileTooLarge {
        format!("stopped after {cap} bytes (--max-decompressed-size; a zip bomb or a huge log): the rest was not scanned; findings before that point are reported")
    } else {
        format!("log broke off ({e}); findings before that point are reported")
    }
}

/// An empty record for `unit`.
pub fn new_record(unit: &Unit, path: String, status: UnitStatus) -> UnitRecord {
    UnitRecord {
        repository: unit.repo.name.clone(),
        repo_id: unit.repo.id.clone(),
        unit: unit.id,
        path,
        status,
        findings: Vec::new(),
        errors: Vec::new(),
        skipped: Vec::new(),
        logs: 0,
        bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(
            parse_entry("build/3_Run tests.txt"),
            EntryName::Step {
                job: "build",
                step: "3_Run tests",
                number: Some(3)
            }
        );
        assert_eq!(parse_entry("0_build.txt"), EntryName::Job { job: "build" });
        assert_eq!(parse_entry("notes.txt"), EntryName::Job { job: "notes" });
    }

    #[test]
    fn jobs_found_by_folded_name() {
        let jobs = vec![JobInfo {
            id: 7,
            name: "test (ubuntu, 1.88)".into(),
            html_url: "u".into(),
        }];
        assert_eq!(
            find_job(&jobs, "test (ubuntu, 1.88)").map(|j| j.id),
            Some(7)
        );
        assert_eq!(
            find_job(&jobs, "test _ubuntu_ 1.88_").map(|j| j.id),
            Some(7)
        );
        assert!(find_job(&jobs, "other").is_none());
    }

    #[test]
    fn spool_spills_and_caps() {
        let data = vec![b'x'; 100];
        assert!(matches!(
            spool(&mut &data[..], 200, 1000),
            Ok(Spool::Memory(_))
        ));
        let mut s = spool(&mut &data[..], 10, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(s, Spool::File(_)));
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, data);
        assert!(spool(&mut &data[..], 10, 99).is_err());
        assert!(spool(&mut &data[..], 10, 100).is_ok());
    }
}
