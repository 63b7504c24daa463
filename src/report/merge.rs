//! Merging JSON reports (the shards of a sweep, or scans of several
//! machines) into one. Works on the records as written, so redaction and
//! the revocation data of live findings pass through unchanged.
//!
//! A finding seen in several reports (same fingerprint, repository, path,
//! commit and line) is kept once, with the most decisive verification any
//! report had for it (`live` over `invalid` over `unknown`, …). A repository
//! summarised by several reports is kept once, a scanned summary winning over
//! a failed one; the merge says so in a note, since shards should not overlap.

use std::collections::{BTreeMap, BTreeSet};

use super::json::{FindingRecord, ReportRecord, ToolRecord};
use super::{RepositoryStatus, RepositorySummary, Stats};
use crate::finding::VerificationStatus;

/// The identity of a finding across reports.
type FindingKey = (String, Option<String>, String, Option<String>, u64);

fn key_of(f: &FindingRecord) -> FindingKey {
    (
        f.fingerprint.clone(),
        f.repository.clone(),
        f.location.path.clone(),
        f.location.commit.clone(),
        f.location.line,
    )
}

/// Report order: the order of [`crate::finding::Finding::sort_key`].
fn order(f: &FindingRecord) -> impl Ord + '_ {
    (
        &f.repository,
        &f.location.path,
        &f.location.entry,
        f.location.line,
        f.location.column,
        &f.rule_id,
        &f.location.commit,
        &f.fingerprint,
    )
}

/// How much a verification tells: a duplicate keeps the most telling one.
fn weight(status: VerificationStatus) -> u8 {
    match status {
        VerificationStatus::Live => 4,
        VerificationStatus::Invalid => 3,
        VerificationStatus::Unknown => 2,
        VerificationStatus::Unverifiable => 1,
        VerificationStatus::NotChecked => 0,
    }
}

/// What a merge did, besides the merged report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    pub reports: usize,
    pub duplicate_findings: usize,
    /// Repositories that more than one report summarised.
    pub overlapping_repositories: Vec<String>,
}

/// Merge `reports` into one report record.
pub fn merge(reports: Vec<ReportRecord>) -> (ReportRecord, MergeSummary) {
    let mut summary = MergeSummary {
        reports: reports.len(),
        ..MergeSummary::default()
    };
    let mut findings: BTreeMap<FindingKey, FindingRecord> = BTreeMap::new();
    let mut errors = BTreeSet::new();
    let mut skipped = BTreeSet::new();
    let mut notes: Vec<String> = Vec::new();
    let mut repositories: BTreeMap<String, RepositorySummary> = BTreeMap::new();
    let mut stats = Stats::default();
    for report in reports {
        stats.files += report.stats.files;
        stats.bytes += report.stats.bytes;
        // Shards run side by side: the merged run took as long as the longest.
        stats.duration_ms = stats.duration_ms.max(report.stats.duration_ms);
        for (cause, n) in report.stats.suppressed {
            *stats.suppressed.entry(cause).or_default() += n;
        }
        for f in report.findings {
            match findings.entry(key_of(&f)) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(f);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    summary.duplicate_findings += 1;
                    if weight(f.verification.status) > weight(o.get().verification.status) {
                        o.insert(f);
                    }
                }
            }
        }
        errors.extend(report.errors);
        skipped.extend(report.skipped);
        for note in report.notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        for r in report.repositories {
            match repositories.get(&r.repository) {
                None => {
                    repositories.insert(r.repository.clone(), r);
                }
                Some(existing) => {
                    summary.overlapping_repositories.push(r.repository.clone());
                    if existing.status == RepositoryStatus::Failed
                        && r.status == RepositoryStatus::Scanned
                    {
                        repositories.insert(r.repository.clone(), r);
                    }
                }
            }
        }
    }
    let mut findings: Vec<FindingRecord> = findings.into_values().collect();
    findings.sort_by(|a, b| order(a).cmp(&order(b)));
    // Per-repository counts follow the merged findings.
    let mut repositories: Vec<RepositorySummary> = repositories.into_values().collect();
    for r in &mut repositories {
        let mine = findings
            .iter()
            .filter(|f| f.repository.as_deref() == Some(r.repository.as_str()));
        r.findings = 0;
        r.live = 0;
        for f in mine {
            r.findings += 1;
            if f.verification.status == VerificationStatus::Live {
                r.live += 1;
            }
        }
    }
    summary.overlapping_repositories.sort();
    summary.overlapping_repositories.dedup();
    if !summary.overlapping_repositories.is_empty() {
        notes.push(format!(
            "merge: {} repositor(y/ies) appear in more than one report (overlapping shards?): {}",
            summary.overlapping_repositories.len(),
            summary.overlapping_repositories.join(", ")
        ));
    }
    stats.findings = findings.len() as u64;
    stats.errors = errors.len() as u64;
    stats.skipped = skipped.len() as u64;
    let merged = ReportRecord {
        tool: ToolRecord {
            name: super::json::TOOL_NAME.into(),
            version: super::json::TOOL_VERSION.into(),
            report_version: super::json::REPORT_SCHEMA_VERSION,
        },
        leaks: super::json::leak_records(&findings),
        findings,
        stats,
        errors: errors.into_iter().collect(),
        skipped: skipped.into_iter().collect(),
        notes,
        repositories,
        // Shards are sweeps of clones: no local root to read secrets from.
        roots: Vec::new(),
    };
    (merged, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Confidence, Location, Verification};

    fn finding(repo: &str, fp: &str, line: u64, status: VerificationStatus) -> FindingRecord {
        FindingRecord {
            rule_id: "cybrid-client-secret".into(),
            fingerprint: fp.into(),
            secret: "abc…xyz".into(),
            client_id: None,
            confidence: Confidence::High,
            location: Location {
                path: ".env".into(),
                line,
                column: 1,
                ..Location::default()
            },
            verification: Verification {
                status,
                ..Verification::default()
            },
            revocation: None,
            token: None,
            environment_hint: None,
            repository: Some(repo.into()),
            context: None,
            triage: None,
        }
    }

    fn repo(name: &str, status: RepositoryStatus) -> RepositorySummary {
        RepositorySummary {
            repository: name.into(),
            status,
            error: None,
            findings: 9,
            live: 9,
            commits: 1,
            blobs: 1,
            bytes: 1,
            errors: 0,
            duration_ms: 1,
            notes: Vec::new(),
        }
    }

    fn report(
        findings: Vec<FindingRecord>,
        repos: Vec<RepositorySummary>,
        ms: u64,
    ) -> ReportRecord {
        ReportRecord {
            tool: ToolRecord {
                name: "cybrid-scan".into(),
                version: "0".into(),
                report_version: 1,
            },
            findings,
            leaks: Vec::new(),
            stats: Stats {
                files: 2,
                bytes: 10,
                duration_ms: ms,
                ..Stats::default()
            },
            errors: Vec::new(),
            skipped: Vec::new(),
            notes: vec!["shared note".into()],
            repositories: repos,
            roots: Vec::new(),
        }
    }

    #[test]
    fn shards_merge_and_duplicates_keep_the_decisive_verdict() {
        use VerificationStatus::*;
        let a = report(
            vec![
                finding("r2", "f1", 3, NotChecked),
                finding("r1", "f1", 3, Unknown),
            ],
            vec![
                repo("r2", RepositoryStatus::Scanned),
                repo("r1", RepositoryStatus::Failed),
            ],
            5,
        );
        let b = report(
            vec![
                finding("r1", "f1", 3, Live),
                finding("r1", "f1", 4, NotChecked),
            ],
            vec![repo("r1", RepositoryStatus::Scanned)],
            7,
        );
        let (m, s) = merge(vec![a, b]);
        assert_eq!(s.duplicate_findings, 1);
        assert_eq!(s.overlapping_repositories, ["r1"]);
        let got: Vec<(Option<&str>, u64, VerificationStatus)> = m
            .findings
            .iter()
            .map(|f| {
                (
                    f.repository.as_deref(),
                    f.location.line,
                    f.verification.status,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("r1"), 3, Live),
                (Some("r1"), 4, NotChecked),
                (Some("r2"), 3, NotChecked)
            ]
        );
        assert_eq!(
            (m.stats.files, m.stats.bytes, m.stats.duration_ms),
            (4, 20, 7)
        );
        assert_eq!(m.stats.findings, 3);
        let r1 = &m.repositories[0];
        assert_eq!(
            (r1.repository.as_str(), r1.status, r1.findings, r1.live),
            ("r1", RepositoryStatus::Scanned, 2, 1)
        );
        assert_eq!(m.notes[0], "shared note");
        assert_eq!(m.notes.len(), 2, "one shared note plus the overlap note");
    }
}
