//! Where sources deliver what they find: findings, unreadable inputs and
//! deliberate skips, plus counters. Shared by worker threads; locks are taken
//! only when something is found or goes wrong, never per clean file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::detect::lines::{position_after, LineMap};
use crate::detect::{Detection, Engine};
use crate::finding::{Finding, Fingerprint, Location, Verification};

/// An input that could not be read (or read whole), with why. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScanError {
    pub path: String,
    pub message: String,
}

/// An input deliberately not scanned (too large, not a regular file, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Default)]
pub struct Collector {
    findings: Mutex<Vec<Finding>>,
    /// `--max-findings`: a memory bound. The findings that sort first are
    /// kept (whatever order threads deliver them in); the rest are counted
    /// in `dropped`.
    max_findings: Option<u64>,
    dropped: AtomicU64,
    errors: Mutex<Vec<ScanError>>,
    /// Inputs that could not be scanned at all (a path that does not exist,
    /// a repository whose commits cannot be read): the run fails closed.
    failed_inputs: AtomicU64,
    skipped: Mutex<Vec<Skipped>>,
    files: AtomicU64,
    bytes: AtomicU64,
    lines: AtomicU64,
}

/// Everything a scan gathered, sorted so output is deterministic.
#[derive(Debug, Default)]
pub struct Gathered {
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    pub skipped: Vec<Skipped>,
    pub files: u64,
    pub bytes: u64,
    /// Findings left out by the `--max-findings` memory bound.
    pub dropped: u64,
    /// Inputs that could not be scanned at all (also in `errors`).
    pub failed_inputs: u64,
    /// Lines read, where the source counts them (logs).
    pub lines: u64,
}

/// What a source counts as one thing read, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Files of a directory walk (the collector's `scanned` calls).
    Files,
    /// Unique blobs of a history (the collector's `scanned` calls).
    Blobs,
    /// Lines of logs (the collector's `lines_read` calls).
    Lines,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Files => "files",
            Unit::Blobs => "blobs",
            Unit::Lines => "log lines",
        }
    }

    /// How many of this unit `gathered` counts.
    pub fn count(self, gathered: &Gathered) -> u64 {
        match self {
            Unit::Files | Unit::Blobs => gathered.files,
            Unit::Lines => gathered.lines,
        }
    }
}

/// Where the error about findings past `--max-findings` is filed.
pub const ALL_INPUTS: &str = "(all inputs)";

impl Collector {
    /// A collector that keeps at most `max` findings (memory grows with
    /// findings, about 2 KB each, so a hostile input full of credentials
    /// could otherwise take any amount); `None` keeps all.
    pub fn with_max_findings(max: Option<u64>) -> Self {
        Collector {
            max_findings: max,
            ..Collector::default()
        }
    }

    pub fn finding(&self, f: Finding) {
        self.findings(std::iter::once(f));
    }

    pub fn findings(&self, fs: impl IntoIterator<Item = Finding>) {
        let mut fs = fs.into_iter().peekable();
        if fs.peek().is_none() {
            return;
        }
        let mut kept = lock(&self.findings);
        kept.extend(fs);
        if let Some(max) = self.max_findings.map(|m| m as usize) {
            // Let the list grow to twice the bound, then keep the first
            // `max` in report order: memory stays bounded, and which
            // findings are kept does not depend on thread timing.
            if kept.len() > max.saturating_mul(2).max(max + 64) {
                let dropped = keep_first(&mut kept, max);
                self.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
        }
    }

    /// An input that could not be scanned at all: named in `errors`, and
    /// the run cannot pass as clean.
    pub fn input_failed(&self, path: impl Into<String>, message: impl std::fmt::Display) {
        self.failed_inputs.fetch_add(1, Ordering::Relaxed);
        self.error(path, message);
    }

    pub fn error(&self, path: impl Into<String>, message: impl std::fmt::Display) {
        lock(&self.errors).push(ScanError {
            path: path.into(),
            message: message.to_string(),
        });
    }

    pub fn skip(&self, path: impl Into<String>, reason: impl Into<String>) {
        lock(&self.skipped).push(Skipped {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// Count one scanned input of `bytes` bytes.
    pub fn scanned(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Count `n` lines read (sources whose unit is the line: logs).
    pub fn lines_read(&self, n: u64) {
        self.lines.fetch_add(n, Ordering::Relaxed);
    }

    pub fn bytes_so_far(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn findings_so_far(&self) -> usize {
        lock(&self.findings).len()
    }

    pub fn into_gathered(self) -> Gathered {
        let mut findings = into_inner(self.findings);
        let mut dropped = self.dropped.into_inner();
        match self.max_findings {
            Some(max) => dropped += keep_first(&mut findings, max as usize),
            None => findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key())),
        }
        let mut errors = into_inner(self.errors);
        errors.sort();
        let mut skipped = into_inner(self.skipped);
        skipped.sort();
        Gathered {
            findings,
            errors,
            skipped,
            files: self.files.into_inner(),
            bytes: self.bytes.into_inner(),
            dropped,
            failed_inputs: self.failed_inputs.into_inner(),
            lines: self.lines.into_inner(),
        }
    }
}

/// Sort `findings` into report order and keep the first `max`; returns how
/// many were dropped.
pub fn keep_first(findings: &mut Vec<Finding>, max: usize) -> u64 {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let dropped = findings.len().saturating_sub(max);
    findings.truncate(max);
    dropped as u64
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked mid-push leaves a usable Vec; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Turn an engine's detections in `bytes` into findings at `base` (whose
/// line and column are filled in here). Inline `cybrid-scan:allow` comments
/// are looked up here too, while the bytes are at hand, so every source gets them.
pub fn to_findings(
    engine: &Engine,
    bytes: &[u8],
    detections: Vec<Detection>,
    base: &Location,
) -> Vec<Finding> {
    let mut map = LineMap::new(bytes);
    detections
        .into_iter()
        .map(|d| {
            let start = map.position(d.start);
            // The end is found from the start, not through the map: detections of
            // different rules may overlap, and a map sent backwards rescans from the top.
            let end = position_after(start, &bytes[d.start..d.end.min(bytes.len()).max(d.start)]);
            let rule_id = engine.rules()[d.rule].id.clone();
            let mut location = base.clone();
            location.line = start.line;
            location.column = start.column;
            location.end_line = end.line;
            location.end_column = end.column;
            location.context = d.context;
            Finding {
                fingerprint: Fingerprint::of(&rule_id, &d.secret),
                rule_id,
                secret: d.secret,
                client_id: d.client_id,
                confidence: d.confidence,
                location,
                verification: Verification::default(),
                token: d.token,
                environment_hint: d.environment_hint.map(str::to_string),
                repository: None,
                allowed_inline: crate::suppress::inline::allows(bytes, d.start, d.end),
                triage: None,
            }
        })
        .collect()
}
