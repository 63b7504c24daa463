//! One leak, many places. A credential compiled into a bundle that was
//! rebuilt in 97 commits is 97 findings (one per blob: scripts and code
//! scanning alerts rely on that) but one leak to act on. Findings of the same
//! credential share a fingerprint (rule + secret); this groups them, for the
//! human report's blocks and the JSON report's `leaks` array.

use std::collections::{BTreeSet, HashMap};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::finding::{Confidence, Finding, Verification, VerificationStatus};
use crate::refs::RefSet;

/// Every finding of one credential, and what they add up to.
#[derive(Debug)]
pub struct Leak<'a> {
    /// In report order (path, line, …).
    pub findings: Vec<&'a Finding>,
    /// Where it was first seen: the oldest introducing commit in history,
    /// else the first place in report order.
    pub first: &'a Finding,
    /// The newest introducing commit, else the last place in report order.
    pub last: &'a Finding,
    pub confidence: Confidence,
    /// The most telling verdict among its findings (live first).
    pub verification: &'a Verification,
    /// The finding whose client id is shown (the paired one, if any is).
    pub shown: &'a Finding,
    /// Whether any copy is still at HEAD (git), `None` outside git.
    pub at_head: Option<bool>,
    /// Distinct paths, sorted.
    pub paths: Vec<&'a str>,
    /// Distinct repositories of a sweep, sorted.
    pub repositories: Vec<&'a str>,
    /// Distinct blobs and commits (git); distinct files otherwise.
    pub blobs: usize,
    pub commits: usize,
    pub files: usize,
}

impl Leak<'_> {
    pub fn fingerprint(&self) -> &str {
        self.first.fingerprint.as_str()
    }

    pub fn rule_id(&self) -> &str {
        &self.first.rule_id
    }

    pub fn occurrences(&self) -> usize {
        self.findings.len()
    }

    /// Union of the refs that reach any of its commits, sorted. Computed on
    /// demand: a mirror's thousands of refs are listed only where asked.
    pub fn refs(&self) -> Vec<&str> {
        RefSet::union(self.findings.iter().map(|f| &f.location.refs))
    }

    /// "100 blobs, 97 commits, 2 paths" or "3 files": where it was seen.
    pub fn seen_in(&self) -> String {
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let mut parts = Vec::new();
        if self.blobs > 0 {
            parts.push(plural(self.blobs, "blob"));
            if self.commits > 0 {
                parts.push(plural(self.commits, "commit"));
            }
            parts.push(plural(self.paths.len(), "path"));
        }
        let outside_git = self.findings.len()
            - self
                .findings
                .iter()
                .filter(|f| f.location.blob.is_some())
                .count();
        if outside_git > 0 {
            parts.push(plural(self.files, "file"));
        }
        if self.repositories.len() > 1 {
            parts.push(
                plural(self.repositories.len(), "repository")
                    .replace("repositorys", "repositories"),
            );
        }
        parts.join(", ")
    }
}

/// How much a verdict says, for picking a leak's: live above all.
fn weight(v: &Verification) -> u8 {
    match v.status {
        VerificationStatus::Live => 4,
        VerificationStatus::Unknown => 3,
        VerificationStatus::Invalid => 2,
        VerificationStatus::Unverifiable => 1,
        VerificationStatus::NotChecked => 0,
    }
}

fn date_of(f: &Finding) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(f.location.date.as_deref()?, &Rfc3339).ok()
}

/// Group `findings` (in report order) by fingerprint. Leaks come out live
/// first, then by confidence (highest first), then in the order of their
/// first finding.
pub fn group(findings: &[Finding]) -> Vec<Leak<'_>> {
    let mut by_print: HashMap<&str, usize> = HashMap::new();
    let mut members: Vec<Vec<&Finding>> = Vec::new();
    for f in findings {
        let slot = *by_print.entry(f.fingerprint.as_str()).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[slot].push(f);
    }
    let mut leaks: Vec<(usize, Leak<'_>)> = members
        .into_iter()
        .enumerate()
        .filter_map(|(i, fs)| Some((i, summarise(fs)?)))
        .collect();
    leaks.sort_by(|(ia, a), (ib, b)| {
        let live = |l: &Leak<'_>| l.verification.status == VerificationStatus::Live;
        let reach = |l: &Leak<'_>| crate::verify::reach::rank(l.verification);
        live(b)
            .cmp(&live(a))
            .then(reach(b).cmp(&reach(a)))
            .then(b.confidence.cmp(&a.confidence))
            .then(ia.cmp(ib))
    });
    leaks.into_iter().map(|(_, l)| l).collect()
}

fn summarise(findings: Vec<&Finding>) -> Option<Leak<'_>> {
    let head = *findings.first()?;
    // Oldest and newest by introducing date where there are dates; report
    // order breaks ties and stands in where there are none.
    let dated: Vec<(OffsetDateTime, usize)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((date_of(f)?, i)))
        .collect();
    let first = dated.iter().min().map_or(head, |(_, i)| findings[*i]);
    let last = dated
        .iter()
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        .map_or(findings[findings.len() - 1], |(_, i)| findings[*i]);
    let confidence = findings
        .iter()
        .map(|f| f.confidence)
        .max()
        .unwrap_or(head.confidence);
    let verification = findings
        .iter()
        .map(|f| &f.verification)
        .max_by_key(|v| weight(v))
        .unwrap_or(&head.verification);
    let shown = findings
        .iter()
        .copied()
        .find(|f| f.client_id.is_some())
        .unwrap_or(head);
    let at_head = findings
        .iter()
        .filter_map(|f| f.location.at_head)
        .reduce(|a, b| a || b);
    let paths: BTreeSet<&str> = findings.iter().map(|f| f.location.path.as_str()).collect();
    let repositories: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f.repository.as_deref())
        .collect();
    let blobs: BTreeSet<(Option<&str>, &str)> = findings
        .iter()
        .filter_map(|f| Some((f.repository.as_deref(), f.location.blob.as_deref()?)))
        .collect();
    let commits: BTreeSet<(Option<&str>, &str)> = findings
        .iter()
        .filter_map(|f| Some((f.repository.as_deref(), f.location.commit.as_deref()?)))
        .collect();
    let files: BTreeSet<(Option<&str>, &str, Option<&str>)> = findings
        .iter()
        .filter(|f| f.location.blob.is_none())
        .map(|f| {
            (
                f.repository.as_deref(),
                f.location.path.as_str(),
                f.location.entry.as_deref(),
            )
        })
        .collect();
    Some(Leak {
        first,
        last,
        confidence,
        verification,
        shown,
        at_head,
        paths: paths.into_iter().collect(),
        repositories: repositories.into_iter().collect(),
        blobs: blobs.len(),
        commits: commits.len(),
        files: files.len(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Fingerprint, Location, SourceKind};
    use crate::secret::Secret;

    fn finding(secret: &str, path: &str, blob: Option<&str>, date: Option<&str>) -> Finding {
        let secret = Secret::new(secret);
        Finding {
            rule_id: "cybrid-client-secret".into(),
            fingerprint: Fingerprint::of("cybrid-client-secret", &secret),
            secret,
            client_id: None,
            confidence: Confidence::Medium,
            location: Location {
                source: if blob.is_some() {
                    SourceKind::Git
                } else {
                    SourceKind::File
                },
                path: path.into(),
                line: 1,
                column: 1,
                blob: blob.map(str::to_string),
                commit: blob.map(|b| format!("c{b}")),
                date: date.map(str::to_string),
                ..Location::default()
            },
            verification: Verification::default(),
            token: None,
            environment_hint: None,
            repository: None,
            allowed_inline: false,
            triage: None,
        }
    }

    #[test]
    fn one_credential_in_many_blobs_is_one_leak() {
        let mut fs: Vec<Finding> = (0..100)
            .map(|i| {
                finding(
                    "k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ",
                    "dist/main.js",
                    Some(&format!("{i:040x}")),
                    Some(&format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60)),
                )
            })
            .collect();
        fs.push(finding(
            "another-secret-value-of-43-characters-xxxxx",
            "a.env",
            None,
            None,
        ));
        fs[37].confidence = Confidence::High;
        fs[50].location.date = Some("2023-06-01T00:00:00+02:00".into());
        let leaks = group(&fs);
        assert_eq!(leaks.len(), 2);
        let big = &leaks[0];
        assert_eq!(big.occurrences(), 100);
        assert_eq!(big.confidence, Confidence::High);
        assert_eq!(big.seen_in(), "100 blobs, 100 commits, 1 path");
        assert_eq!(
            big.first.location.blob, fs[50].location.blob,
            "oldest date first"
        );
        assert_eq!(big.last.location.blob, fs[99].location.blob);
        assert_eq!(leaks[1].seen_in(), "1 file");
    }
}
