//! Suppression: findings a team has already accepted are dropped after the
//! scan and counted by cause, never silently lost. Causes, checked in order:
//! an inline `cybrid-scan:allow` comment, an allowed path glob, an allowed
//! fingerprint (both from the config file), and a baseline (an earlier JSON
//! report). Fingerprints hold no line, path or commit, so a baseline survives
//! moved lines, rebases and squash merges.

pub mod inline;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::finding::Finding;
use crate::report::json::{read_report, ReadError};

/// Cause names, as counted in `stats.suppressed` and shown in the summary.
pub const BY_INLINE: &str = "inline comment";
pub const BY_PATH: &str = "allowed path";
pub const BY_FINGERPRINT: &str = "allowed fingerprint";
pub const BY_BASELINE: &str = "baseline";

/// What the config file allows: path globs and fingerprints.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    paths: Option<GlobSet>,
    fingerprints: BTreeSet<String>,
}

impl AllowList {
    /// Compile path globs (gitignore-like: a glob without `/` matches at any
    /// depth; `*` stays inside one directory, `**` crosses them) and take
    /// fingerprints as given (lower-case hex).
    pub fn new(paths: &[String], fingerprints: &[String]) -> Result<Self, globset::Error> {
        let paths = if paths.is_empty() {
            None
        } else {
            let mut set = GlobSetBuilder::new();
            for p in paths {
                set.add(path_glob(p)?);
            }
            Some(set.build()?)
        };
        Ok(AllowList {
            paths,
            fingerprints: fingerprints
                .iter()
                .map(|f| f.to_ascii_lowercase())
                .collect(),
        })
    }

    fn allows_path(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        self.paths.as_ref().is_some_and(|set| set.is_match(path))
    }
}

/// One glob as [`AllowList::new`] reads it.
pub fn path_glob(pattern: &str) -> Result<Glob, globset::Error> {
    let trimmed = pattern.strip_prefix("./").unwrap_or(pattern);
    let anchored = if let Some(rest) = trimmed.strip_prefix('/') {
        rest.to_string()
    } else if trimmed.contains('/') {
        trimmed.to_string()
    } else {
        format!("**/{trimmed}")
    };
    // A directory glob (`fixtures/`) allows everything under it.
    let full = if anchored.ends_with('/') {
        format!("{anchored}**")
    } else {
        anchored
    };
    GlobBuilder::new(&full).literal_separator(true).build()
}

/// Everything that can suppress a finding, ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Suppressor {
    allow: AllowList,
    baseline: BTreeSet<String>,
}

impl Suppressor {
    pub fn new(allow: AllowList) -> Self {
        Suppressor {
            allow,
            baseline: BTreeSet::new(),
        }
    }

    /// Add the fingerprints of an earlier JSON report.
    pub fn with_baseline(mut self, path: &Path) -> Result<Self, ReadError> {
        let report = read_report(path)?;
        self.baseline
            .extend(report.findings.into_iter().map(|f| f.fingerprint));
        Ok(self)
    }

    /// Why `f` is suppressed, if it is.
    pub fn cause(&self, f: &Finding) -> Option<&'static str> {
        if f.allowed_inline {
            Some(BY_INLINE)
        } else if self.allow.allows_path(&f.location.path) {
            Some(BY_PATH)
        } else if self.allow.fingerprints.contains(f.fingerprint.as_str()) {
            Some(BY_FINGERPRINT)
        } else if self.baseline.contains(f.fingerprint.as_str()) {
            Some(BY_BASELINE)
        } else {
            None
        }
    }

    /// Keep the findings nothing suppresses; count the others by cause.
    pub fn apply(
        &self,
        findings: Vec<Finding>,
        counts: &mut BTreeMap<String, u64>,
    ) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| match self.cause(f) {
                Some(cause) => {
                    *counts.entry(cause.to_string()).or_default() += 1;
                    false
                }
                None => true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(globs: &[&str]) -> AllowList {
        let globs: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
        AllowList::new(&globs, &[]).expect("globs compile")
    }

    #[test]
    fn globs_follow_gitignore_habits() {
        let a = allow(&["*.md", "tests/fixtures/**", "/docs/*.txt", "vendor/"]);
        assert!(a.allows_path("README.md"));
        assert!(a.allows_path("deep/down/notes.md"));
        assert!(a.allows_path("tests/fixtures/a/b.env"));
        assert!(a.allows_path("./tests/fixtures/x"));
        assert!(!a.allows_path("src/tests/fixtures/x"));
        assert!(a.allows_path("docs/a.txt"));
        assert!(!a.allows_path("docs/sub/a.txt"));
        assert!(a.allows_path("vendor/lib/x.js"));
        assert!(!a.allows_path("src/main.rs"));
        assert!(!AllowList::default().allows_path("anything"));
    }
}
