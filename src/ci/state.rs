//! `ci --state DIR`: the units (runs, jobs) a CI sweep has finished, so a
//! rerun after a kill does only the rest and reports the same.
//!
//! One file per finished unit, `DIR/ci/<sha256 of its key>.json`, written
//! whole or not at all (`sweep`'s [`write_atomically`]). The key names the
//! API, the repository and the unit; the record also carries the scan key
//! (tool version, rules, limits) it was made under and is redone under
//! another. Only final outcomes are recorded (scanned, or logs gone for
//! good); a unit still running, or one that failed, is tried again.
//!
//! Records hold the secrets as found (verification at the end needs them),
//! so files are `0600` in a `0700` directory, as `sweep`'s are.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ProviderKind, Unit, UnitRecord};
use crate::sweep::state::write_atomically;

/// Bumped when the record shape changes; older records are redone.
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("state directory {path}: {source}")]
pub struct CiStateError {
    path: String,
    source: io::Error,
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: u32,
    key: String,
    scan_key: String,
    record: UnitRecord,
}

/// The state directory of one CI sweep (one shard).
#[derive(Debug)]
pub struct CiState {
    dir: PathBuf,
    /// The API root: the same repository name on another instance is another unit.
    api: String,
    scan_key: String,
}

impl CiState {
    /// Open (creating it `0700`) and clear temporary files of a killed run.
    pub fn open(root: &Path, api: &str, scan_key: String) -> Result<Self, CiStateError> {
        let dir = root.join("ci");
        let err = |source| CiStateError {
            path: root.display().to_string(),
            source,
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(err)?;
        for entry in fs::read_dir(&dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(CiState {
            dir,
            api: api.to_string(),
            scan_key,
        })
    }

    fn key(&self, kind: ProviderKind, unit: &Unit) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            kind.as_str(),
            self.api,
            unit.repo.name,
            unit.id
        )
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.json",
            hex::encode(Sha256::digest(key.as_bytes()))
        ))
    }

    /// The record of a finished unit, if one was made under the same scan
    /// key. An unreadable record (a torn write) is redone, not trusted.
    pub fn load(&self, kind: ProviderKind, unit: &Unit) -> Option<UnitRecord> {
        let key = self.key(kind, unit);
        let bytes = fs::read(self.path(&key)).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        (stored.version == VERSION && stored.key == key && stored.scan_key == self.scan_key)
            .then_some(stored.record)
    }

    pub fn save(
        &self,
        kind: ProviderKind,
        unit: &Unit,
        record: &UnitRecord,
    ) -> Result<(), CiStateError> {
        let key = self.key(kind, unit);
        let path = self.path(&key);
        let stored = Stored {
            version: VERSION,
            key,
            scan_key: self.scan_key.clone(),
            record: record.clone(),
        };
        let err = |source| CiStateError {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| err(io::Error::other(e)))?;
        write_atomically(&path, &bytes).map_err(err)
    }
}
