//! Reports: one `Report` value, several sinks (human, JSON, JSONL, SARIF). Redaction
//! is decided here once, for every sink, by [`Reveal`].

pub mod gitlab;
pub mod hook;
pub mod html;
pub mod human;
pub mod json;
pub mod leaks;
pub mod merge;
pub mod next;
pub mod sarif;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::collect::{ScanError, Skipped};
use crate::finding::{Finding, VerificationStatus};

/// Output formats users can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Human,
    Json,
    Jsonl,
    Sarif,
    /// Compact lines for pre-commit hooks: where, what, and how to proceed.
    Hook,
    /// GitLab's secret-detection report (for `artifacts: reports: secret_detection`).
    Gitlab,
}

/// Whether secrets may be printed. Only `--show-secrets` sets `Show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    Redact,
    Show,
}

impl Reveal {
    pub fn secret(self, s: &crate::secret::Secret) -> String {
        match self {
            Reveal::Redact => s.redacted(),
            Reveal::Show => s.expose().to_string(),
        }
    }
}

/// Counters for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub findings: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub errors: u64,
    /// Findings dropped by a baseline, allow comment, allowed path or fingerprint, by cause.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed: BTreeMap<String, u64>,
    /// What the source read, in its own unit (files, blobs, log lines, runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadCount>,
}

/// A count in the unit a source reads: a directory walk counts files, a
/// history blobs, a log stream lines, a CI sweep runs or jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadCount {
    pub count: u64,
    pub unit: String,
}

impl ReadCount {
    pub fn new(count: u64, unit: &str) -> Self {
        ReadCount {
            count,
            unit: unit.to_string(),
        }
    }
}

/// Whether a sweep could scan a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepositoryStatus {
    Scanned,
    Failed,
}

/// One repository of a sweep, as the report summarises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySummary {
    /// The normalised, credential-free name from the manifest.
    pub repository: String,
    pub status: RepositoryStatus,
    /// Why it could not be scanned (when `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub findings: u64,
    #[serde(default)]
    pub live: u64,
    #[serde(default)]
    pub commits: u64,
    /// Unique blobs (or files) scanned.
    #[serde(default)]
    pub blobs: u64,
    #[serde(default)]
    pub bytes: u64,
    /// Objects that could not be read (listed in the report's `errors`).
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The whole result of a run, ready for any sink.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    pub skipped: Vec<Skipped>,
    pub stats: Stats,
    /// Notes about the scan as a whole (shallow history, range used, …).
    pub notes: Vec<String>,
    /// Sweeps only: one summary per repository, sorted by name.
    pub repositories: Vec<RepositorySummary>,
    /// Inputs that could not be scanned at all (each is in `errors` too):
    /// the run fails closed (exit 2) however clean the rest was.
    pub failed_inputs: u64,
    /// Findings already left out by the `--max-findings` memory bound.
    pub dropped: u64,
    /// The local roots scanned (absolute), so `revoke` and `rotate` can
    /// read a finding's secret again from its location.
    pub roots: Vec<String>,
}

impl Report {
    pub fn live_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.verification.status == VerificationStatus::Live)
            .count()
    }

    /// Drop what changes from run to run though the findings do not
    /// (timings, file and byte counts), for reports that get committed.
    pub fn make_deterministic(&mut self) {
        self.stats.duration_ms = 0;
        self.stats.files = 0;
        self.stats.bytes = 0;
        self.stats.read = None;
        self.roots.clear();
    }

    /// Fill the derived counters from the lists (and each repository's
    /// findings and live counts from the findings that name it).
    pub fn finish_stats(&mut self) {
        self.stats.findings = self.findings.len() as u64;
        self.stats.errors = self.errors.len() as u64;
        self.stats.skipped = self.skipped.len() as u64;
        if self.repositories.is_empty() {
            return;
        }
        let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for f in &self.findings {
            if let Some(repo) = &f.repository {
                let c = counts.entry(repo.as_str()).or_default();
                c.0 += 1;
                if f.verification.status == VerificationStatus::Live {
                    c.1 += 1;
                }
            }
        }
        for r in &mut self.repositories {
            let (findings, live) = counts
                .get(r.repository.as_str())
                .copied()
                .unwrap_or_default();
            r.findings = findings;
            r.live = live;
        }
    }
}

/// Settings that shape output but not detection.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub format: Format,
    pub reveal: Reveal,
    pub color: bool,
    pub sarif_category: Option<String>,
    /// The command line of the scan (program first), for the next-step
    /// commands under a LIVE banner; empty when not a scan.
    pub command: Vec<String>,
}

/// Write `report` in the chosen format.
pub fn write_report(
    report: &Report,
    opts: &OutputOptions,
    rules: &[crate::rules::Rule],
    out: &mut dyn Write,
) -> io::Result<()> {
    match opts.format {
        Format::Human => human::write(report, opts, out),
        Format::Json => json::write(report, opts.reveal, out),
        Format::Jsonl => json::write_lines(report, opts.reveal, out),
        Format::Hook => hook::write(report, opts, out),
        Format::Gitlab => gitlab::write(report, out),
        Format::Sarif => {
            for warning in sarif::write(report, opts, rules, out)? {
                eprintln!("cybrid-scan: warning: {warning}");
            }
            Ok(())
        }
    }
}

/// Make a path or name safe to print on a terminal: control characters and
/// escapes are shown as `\x..`, so a hostile file name cannot move the cursor,
/// and bidirectional overrides as `\u{..}`, so it cannot reorder what is shown.
pub fn escape_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Unicode's explicit directional formatting characters (UAX #9).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape_for_terminal;

    #[test]
    fn terminal_escapes_newlines_and_bidi_overrides_are_neutralised() {
        let shown = escape_for_terminal("a\x1b[2Jb\nc\u{9b}d\u{202e}txt.exe");
        assert_eq!(shown, "a\\x1b[2Jb\\nc\\x9bd\\u{202e}txt.exe");
        assert!(!shown.chars().any(|c| c.is_control()));
    }
}
