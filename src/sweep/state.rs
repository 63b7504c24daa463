//! `--state DIR`: what a sweep has finished, so a rerun after a crash, a
//! Ctrl-C or a lost machine does only the rest.
//!
//! Each finished repository is one file, `DIR/repos/<sha256 of its key>.json`,
//! written whole or not at all (temporary file, fsync, rename, fsync of the
//! directory). A file records the repository's findings, per-object errors,
//! skips and summary, plus the *scan key* (tool version, rules, size limit)
//! it was made under: a rerun reuses a scanned repository only under the same
//! key, and always retries a failed one. The final report is assembled from
//! these records, so a resumed sweep reports exactly what an uninterrupted
//! one would.
//!
//! The records hold the secrets as found (verification at the end of the
//! sweep and `--show-secrets` need them), so files are created `0600` in a
//! `0700` directory: protect the state directory like the repositories.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::Entry;
use crate::collect::{ScanError, Skipped};
use crate::finding::Finding;
use crate::report::json::FindingRecord;
use crate::report::{RepositorySummary, Reveal};

/// Bumped when the record shape changes; older records are rescanned.
pub const STATE_VERSION: u32 = 1;

/// Prefix of temporary files; leftovers of a killed run are removed on open.
const TEMP_PREFIX: &str = ".tmp-";

/// One finished repository, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoRecord {
    pub state_version: u32,
    /// The normalised repository name (the manifest key).
    pub key: String,
    /// What the scan was made under; see [`crate::sweep::scan_key`].
    pub scan_key: String,
    pub summary: RepositorySummary,
    /// Findings with their secrets as found.
    pub findings: Vec<StoredFinding>,
    #[serde(default)]
    pub errors: Vec<ScanError>,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// A finding as stored: the report record (secrets shown) plus what the
/// report leaves out but the post-scan suppression needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFinding {
    #[serde(flatten)]
    pub record: FindingRecord,
    /// A `cybrid-scan:allow` comment marks it (dropped and counted at the end).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allowed_inline: bool,
}

impl StoredFinding {
    pub fn of(f: &Finding) -> Self {
        StoredFinding {
            record: FindingRecord::from_finding(f, Reveal::Show),
            allowed_inline: f.allowed_inline,
        }
    }

    pub fn into_finding(self) -> Finding {
        let mut f = self.record.into_finding();
        f.allowed_inline = self.allowed_inline;
        f
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// The state directory of one sweep (one shard).
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    repos: PathBuf,
}

/// What loading a repository's record found.
#[derive(Debug)]
pub enum Loaded {
    /// No record: never finished.
    Missing,
    /// A record that can stand in for a scan.
    Done(Box<RepoRecord>),
    /// A record that must be redone, and why (failed, other rules, unreadable).
    Redo(String),
}

impl StateDir {
    /// Open (creating it `0700` if needed) and clear leftovers of a killed run.
    pub fn open(root: &Path) -> Result<Self, StateError> {
        let repos = root.join("repos");
        let io_err = |source| StateError::Io {
            path: root.display().to_string(),
            source,
        };
        create_private_dir(&repos).map_err(io_err)?;
        for entry in fs::read_dir(&repos).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(StateDir {
            root: root.to_path_buf(),
            repos,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn record_path(&self, entry: &Entry) -> PathBuf {
        self.repos.join(format!("{}.json", entry.id()))
    }

    /// Whether `entry` is finished under `scan_key`.
    pub fn load(&self, entry: &Entry, scan_key: &str) -> Loaded {
        let path = self.record_path(entry);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::Missing,
            Err(e) => return Loaded::Redo(format!("cannot read {}: {e}", path.display())),
        };
        let record: RepoRecord = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => return Loaded::Redo(format!("unreadable record {}: {e}", path.display())),
        };
        if record.state_version != STATE_VERSION || record.key != entry.key {
            Loaded::Redo("record from another version".into())
        } else if record.scan_key != scan_key {
            Loaded::Redo("rules or settings changed since it was scanned".into())
        } else if record.summary.status != crate::report::RepositoryStatus::Scanned {
            Loaded::Redo("failed last time".into())
        } else {
            Loaded::Done(Box::new(record))
        }
    }

    /// Record a finished repository, atomically.
    pub fn save(&self, entry: &Entry, record: &RepoRecord) -> Result<(), StateError> {
        let path = self.record_path(entry);
        let bytes = serde_json::to_vec(record).map_err(|e| StateError::Io {
            path: path.display().to_string(),
            source: e.into(),
        })?;
        write_atomically(&path, &bytes).map_err(|source| StateError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Write `bytes` to `path` so that a reader (or a crash) sees either the
/// old file or the whole new one: temporary file in the same directory
/// (`0600`), fsync, rename over `path`, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RepositoryStatus;

    fn record(entry: &Entry, status: RepositoryStatus, scan_key: &str) -> RepoRecord {
        RepoRecord {
            state_version: STATE_VERSION,
            key: entry.key.clone(),
            scan_key: scan_key.into(),
            summary: RepositorySummary {
                repository: entry.key.clone(),
                status,
                error: None,
                findings: 0,
                live: 0,
                commits: 1,
                blobs: 2,
                bytes: 3,
                errors: 0,
                duration_ms: 4,
                notes: Vec::new(),
            },
            findings: Vec::new(),
            errors: Vec::new(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn finished_failed_changed_and_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("open");
        let a = Entry::parse("https://h/a", 1, None);
        let b = Entry::parse("https://h/b", 2, None);
        assert!(matches!(state.load(&a, "k1"), Loaded::Missing));
        state
            .save(&a, &record(&a, RepositoryStatus::Scanned, "k1"))
            .expect("save");
        state
            .save(&b, &record(&b, RepositoryStatus::Failed, "k1"))
            .expect("save");
        assert!(matches!(state.load(&a, "k1"), Loaded::Done(_)));
        assert!(matches!(state.load(&a, "k2"), Loaded::Redo(_)));
        assert!(matches!(state.load(&b, "k1"), Loaded::Redo(_)));
        // A torn temporary file from a killed run is cleared on open; a
        // truncated record is redone, not trusted.
        fs::write(dir.path().join("repos").join(".tmp-xyz"), b"{").expect("write");
        fs::write(state.record_path(&b), b"{\"state_version\":").expect("write");
        let state = StateDir::open(dir.path()).expect("reopen");
        assert!(!dir.path().join("repos").join(".tmp-xyz").exists());
        assert!(matches!(state.load(&b, "k1"), Loaded::Redo(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(state.record_path(&a))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "record readable by others: {mode:o}");
        }
    }
}
