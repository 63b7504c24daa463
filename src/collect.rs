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
    /// `--max-findings`: findings past it are counted in `dropped`, not kept.
    max_findings: Option<u64>,
    dropped: AtomicU64,
    errors: Mutex<Vec<ScanError>>,
    skipped: Mutex<Vec<Skipped>>,
    files: AtomicU64,
    bytes: AtomicU64,
}

/// Everything a scan gathered, sorted so output is deterministic.
#[derive(Debug, Default)]
pub struct Gathered {
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    pub skipped: Vec<Skipped>,
    pub files: u64,
    pub bytes: u64,
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
        match self.max_findings {
            None => kept.extend(fs),
            Some(max) => {
                for f in fs {
                    if (kept.len() as u64) < max {
                        kept.push(f);
                    } else {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
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

    pub fn bytes_so_far(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn findings_so_far(&self) -> usize {
        lock(&self.findings).len()
    }

    pub fn into_gathered(self) -> Gathered {
        let mut findings = into_inner(self.findings);
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut errors = into_inner(self.errors);
        let dropped = self.dropped.into_inner();
        if let (Some(max), true) = (self.max_findings, dropped > 0) {
            errors.push(ScanError {
                path: ALL_INPUTS.to_string(),
                message: format!(
                    "--max-findings {max} reached: {dropped} more finding(s) not kept (which ones depends on thread timing)"
                ),
            });
        }
        errors.sort();
        let mut skipped = into_inner(self.skipped);
        skipped.sort();
        Gathered {
            findings,
            errors,
            skipped,
            files: self.files.into_inner(),
            bytes: self.bytes.into_inner(),
        }
    }
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
            }
        })
        .collect()
}
