//! The JSON and JSONL reports of INTERFACE.md. The record types here also
//! read reports back (baselines, revocation, merging shard reports).

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::{Report, RepositorySummary, Reveal, Stats};
use crate::collect::{ScanError, Skipped};
use crate::finding::{
    Confidence, Context, Finding, Fingerprint, Location, RevocationTarget, TokenInfo, Triage,
    Verification,
};
use crate::secret::Secret;

pub const TOOL_NAME: &str = "cybrid-scan";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Bumped when the JSON shape changes incompatibly; readers refuse newer ones.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolRecord {
    pub name: String,
    pub version: String,
    #[serde(default = "default_schema")]
    pub report_version: u32,
}

fn default_schema() -> u32 {
    REPORT_SCHEMA_VERSION
}

/// One finding as written to (and read from) a JSON report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindingRecord {
    pub rule_id: String,
    pub fingerprint: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub confidence: Confidence,
    pub location: Location,
    #[serde(default)]
    pub verification: Verification,
    /// Live findings only: what revocation needs (client_id unredacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Why the finding is Cybrid's: key, parent, project or host (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// The incident's triage in the datastore (`--datastore`), when not `open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
}

/// One distinct credential of a report: its findings grouped by fingerprint
/// ([`super::leaks`]). Written for people and dashboards; readers of a
/// report rebuild it from `findings`, so it is never read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeakRecord {
    pub fingerprint: String,
    pub rule_id: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub confidence: Confidence,
    pub verification: Verification,
    pub first_seen: Location,
    pub last_seen: Location,
    pub occurrences: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub blobs: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub commits: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_head: Option<bool>,
    #[serde(default)]
    pub refs: Vec<String>,
    /// How many refs reach it, when `refs` lists only the first few.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refs_total: Option<u64>,
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
}

/// The leaks of records read from reports (merging shards): their secret
/// strings pass through exactly as the shards wrote them.
pub fn leak_records(findings: &[FindingRecord]) -> Vec<LeakRecord> {
    let findings: Vec<Finding> = findings
        .iter()
        .cloned()
        .map(FindingRecord::into_finding)
        .collect();
    super::leaks::group(&findings)
        .iter()
        .map(|l| LeakRecord::from_leak(l, Reveal::Show))
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LeakRecord {
    pub fn from_leak(leak: &super::leaks::Leak<'_>, reveal: Reveal) -> Self {
        // The places themselves: refs are listed once, for the whole leak.
        let place = |f: &Finding| Location {
            refs: Default::default(),
            ..f.location.clone()
        };
        let all_refs = leak.refs();
        let refs = crate::refs::listed(all_refs.iter().copied(), crate::refs::listed_limit());
        LeakRecord {
            refs_total: (refs.len() < all_refs.len()).then_some(all_refs.len() as u64),
            refs: refs.into_iter().map(str::to_string).collect(),
            fingerprint: leak.fingerprint().to_string(),
            rule_id: leak.rule_id().to_string(),
            secret: reveal.secret(&leak.first.secret),
            client_id: leak.shown.client_id.as_ref().map(|c| reveal.secret(c)),
            confidence: leak.confidence,
            verification: leak.verification.clone(),
            first_seen: place(leak.first),
            last_seen: place(leak.last),
            occurrences: leak.occurrences() as u64,
            blobs: leak.blobs as u64,
            commits: leak.commits as u64,
            files: leak.files as u64,
            at_head: leak.at_head,
            paths: leak.paths.iter().map(|p| p.to_string()).collect(),
            repositories: leak.repositories.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// A whole JSON report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRecord {
    pub tool: ToolRecord,
    pub findings: Vec<FindingRecord>,
    /// One entry per distinct credential (INTERFACE.md); derived from
    /// `findings`, ignored when a report is read back.
    #[serde(default, skip_deserializing)]
    pub leaks: Vec<LeakRecord>,
    pub stats: Stats,
    #[serde(default)]
    pub errors: Vec<ScanError>,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Sweeps: one summary per repository of the manifest (or shard).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<RepositorySummary>,
    /// `dir` and `git`: the local roots scanned, absolute (a finding's
    /// `path` is relative to one of them). `revoke` and `rotate` read a
    /// redacted finding's secret again from there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roots: Vec<String>,
}

impl FindingRecord {
    pub fn from_finding(f: &Finding, reveal: Reveal) -> Self {
        FindingRecord {
            rule_id: f.rule_id.clone(),
            fingerprint: f.fingerprint.to_string(),
            secret: reveal.secret(&f.secret),
            client_id: f.client_id.as_ref().map(|c| reveal.secret(c)),
            confidence: f.confidence,
            location: f.location.clone(),
            verification: f.verification.clone(),
            revocation: f.revocation_target(),
            token: f.token.clone(),
            environment_hint: f.environment_hint.clone(),
            repository: f.repository.clone(),
            context: f.location.context.clone(),
            triage: f.triage.clone(),
        }
    }
}

impl FindingRecord {
    /// Back to a finding. Its secret and client_id are the strings as
    /// written: exact only in a record written with secrets shown (a sweep's
    /// state files), redacted text otherwise. A report does not record inline
    /// allow comments (those findings were dropped before it was written).
    pub fn into_finding(self) -> Finding {
        let mut location = self.location;
        location.context = self.context;
        Finding {
            rule_id: self.rule_id,
            fingerprint: Fingerprint(self.fingerprint),
            secret: Secret::new(self.secret),
            client_id: self.client_id.map(Secret::new),
            confidence: self.confidence,
            location,
            verification: self.verification,
            token: self.token,
            environment_hint: self.environment_hint,
            repository: self.repository,
            allowed_inline: false,
            triage: self.triage,
        }
    }
}

impl ReportRecord {
    pub fn from_report(report: &Report, reveal: Reveal) -> Self {
        ReportRecord {
            tool: ToolRecord {
                name: TOOL_NAME.into(),
                version: TOOL_VERSION.into(),
                report_version: REPORT_SCHEMA_VERSION,
            },
            findings: report
                .findings
                .iter()
                .map(|f| FindingRecord::from_finding(f, reveal))
                .collect(),
            leaks: super::leaks::group(&report.findings)
                .iter()
                .map(|l| LeakRecord::from_leak(l, reveal))
                .collect(),
            stats: report.stats.clone(),
            errors: report.errors.clone(),
            skipped: report.skipped.clone(),
            notes: report.notes.clone(),
            repositories: report.repositories.clone(),
            roots: report.roots.clone(),
        }
    }
}

pub fn write(report: &Report, reveal: Reveal, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ReportRecord::from_report(report, reveal))?;
    writeln!(out)
}

pub fn write_lines(report: &Report, reveal: Reveal, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        serde_json::to_writer(&mut *out, &FindingRecord::from_finding(f, reveal))?;
        writeln!(out)?;
    }
    Ok(())
}

/// Errors reading an earlier report.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read report {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path} is not a cybrid-scan JSON report: {message}")]
    NotAReport { path: String, message: String },
    #[error("{path} was written by a newer cybrid-scan (report version {found}, this one reads up to {REPORT_SCHEMA_VERSION}); upgrade cybrid-scan")]
    TooNew { path: String, found: u32 },
}

/// Read a JSON report written by this tool (or an older version of it).
pub fn read_report(path: &std::path::Path) -> Result<ReportRecord, ReadError> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    // Check the version first with a probe that skips everything else, so a
    // newer report gets the right error; then parse straight into records
    // (no intermediate `Value`: large baselines would cost several times their size).
    #[derive(Deserialize)]
    struct Probe {
        tool: Option<ProbeTool>,
    }
    #[derive(Deserialize)]
    struct ProbeTool {
        report_version: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(&text).map_err(|e| ReadError::NotAReport {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let found = probe
        .tool
        .and_then(|t| t.report_version)
        .unwrap_or(REPORT_SCHEMA_VERSION);
    if found > REPORT_SCHEMA_VERSION {
        return Err(ReadError::TooNew { path: shown, found });
    }
    serde_json::from_slice(&text).map_err(|e| ReadError::NotAReport {
        path: shown,
        message: e.to_string(),
    })
}
