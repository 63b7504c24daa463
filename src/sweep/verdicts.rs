//! The verification cache of a sweep's state directory: a pair leaked into
//! forty repositories is checked once, and a rerun within the TTL sends no
//! token request for pairs already settled.
//!
//! Only settled verdicts are kept (`live`, `invalid`): an `unknown` (rate
//! limited, timed out) is asked again next time. Entries are keyed by the
//! verifier's one-way pair key, never by a plaintext, and carry the time they
//! were checked; those older than the TTL are dropped when the file is read.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::state::write_atomically;
use crate::finding::{Verification, VerificationStatus};
use crate::verify::cache::{PairKey, VerdictMemory};

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "verification-cache.json";
/// How long a verdict is trusted by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Remembered {
    /// Seconds since the Unix epoch.
    checked_at: u64,
    verdict: Verification,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<String, Remembered>,
}

/// Verdicts remembered across runs, loaded from and saved to one file.
#[derive(Debug)]
pub struct VerdictCache {
    path: PathBuf,
    file: CacheFile,
    now: u64,
    changed: bool,
    /// Why the file on disk was not used, if it was not.
    pub discarded: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl VerdictCache {
    /// Read `dir/verification-cache.json`, keeping entries younger than `ttl`.
    /// A missing file is an empty cache; an unreadable one is set aside
    /// (it costs requests, not correctness) and said in `discarded`.
    pub fn load(dir: &Path, ttl: Duration) -> Self {
        Self::load_at(dir, ttl, unix_now())
    }

    fn load_at(dir: &Path, ttl: Duration, now: u64) -> Self {
        let path = dir.join(FILE_NAME);
        let (mut file, discarded) = match std::fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => (CacheFile::default(), None),
            Err(e) => (CacheFile::default(), Some(e.to_string())),
            Ok(bytes) => match serde_json::from_slice::<CacheFile>(&bytes) {
                Ok(f) if f.version == 1 => (f, None),
                Ok(f) => (
                    CacheFile::default(),
                    Some(format!("unknown version {}", f.version)),
                ),
                Err(e) => (CacheFile::default(), Some(e.to_string())),
            },
        };
        let before = file.entries.len();
        let ttl = ttl.as_secs();
        file.entries
            .retain(|_, r| r.checked_at <= now && now - r.checked_at < ttl);
        let changed = before != file.entries.len() || discarded.is_some();
        file.version = 1;
        VerdictCache {
            path,
            file,
            now,
            changed,
            discarded,
        }
    }

    pub fn len(&self) -> usize {
        self.file.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file.entries.is_empty()
    }

    /// Write the cache back (atomically) if anything changed.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.changed {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&self.file)?;
        write_atomically(&self.path, &bytes)?;
        self.changed = false;
        Ok(())
    }
}

impl VerdictMemory for VerdictCache {
    fn recall(&self, key: &PairKey) -> Option<Verification> {
        self.file
            .entries
            .get(&key.to_hex())
            .map(|r| r.verdict.clone())
    }

    fn remember(&mut self, key: &PairKey, verdict: &Verification) {
        if matches!(
            verdict.status,
            VerificationStatus::Live | VerificationStatus::Invalid
        ) {
            self.file.entries.insert(
                key.to_hex(),
                Remembered {
                    checked_at: self.now,
                    verdict: verdict.clone(),
                },
            );
            self.changed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn verdict(status: VerificationStatus) -> Verification {
        Verification {
            status,
            ..Verification::default()
        }
    }

    #[test]
    fn settled_verdicts_persist_until_the_ttl() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = PairKey::of(&Secret::new("id-a"), &Secret::new("secret-a"));
        let unknown = PairKey::of(&Secret::new("id-b"), &Secret::new("secret-b"));
        let ttl = Duration::from_secs(100);
        let mut c = VerdictCache::load_at(dir.path(), ttl, 1_000);
        c.remember(&live, &verdict(VerificationStatus::Live));
        c.remember(&unknown, &verdict(VerificationStatus::Unknown));
        c.save().expect("save");
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).expect("read");
        assert!(!text.contains("secret-a") && !text.contains("id-a"));

        let c = VerdictCache::load_at(dir.path(), ttl, 1_050);
        assert_eq!(
            c.recall(&live).map(|v| v.status),
            Some(VerificationStatus::Live)
        );
        assert_eq!(c.recall(&unknown), None, "unknown is asked again");
        let c = VerdictCache::load_at(dir.path(), ttl, 1_100);
        assert!(c.is_empty(), "expired at the TTL");
    }

    #[test]
    fn a_corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").expect("write");
        let mut c = VerdictCache::load(dir.path(), DEFAULT_TTL);
        assert!(c.is_empty());
        assert!(c.discarded.is_some());
        c.save().expect("rewritten");
        let c = VerdictCache::load(dir.path(), DEFAULT_TTL);
        assert!(c.discarded.is_none());
    }
}
