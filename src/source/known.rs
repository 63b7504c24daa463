//! Files and logs a datastore already holds as scanned under the same rules,
//! by the SHA-256 of their bytes as they are on disk (a `.gz` log by its
//! compressed bytes): `dir` and `logs` hash each input (only when a
//! datastore is given), leave the known ones unscanned, and hand back every
//! (path, digest) they met. The pipeline records the digests scanned now and
//! reports the skipped inputs' findings from the datastore, so a rerun on
//! unchanged files reports what a full scan would.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

#[derive(Debug, Default)]
pub struct KnownContent {
    known: HashSet<String>,
    /// (shown path, digest) of every input hashed and scanned.
    scanned: Mutex<Vec<(String, String)>>,
    /// (shown path, digest) of every input left unscanned.
    skipped: Mutex<Vec<(String, String)>>,
    skipped_bytes: AtomicU64,
}

/// The hex SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl KnownContent {
    /// From the datastore's digests of inputs scanned under the same rules.
    pub fn new<'a>(digests: impl IntoIterator<Item = &'a String>) -> Self {
        KnownContent {
            known: digests.into_iter().cloned().collect(),
            ..KnownContent::default()
        }
    }

    /// `shown` holds `digest` (`len` bytes): whether it is known (leave it
    /// unscanned). Either way it is remembered.
    pub fn check(&self, shown: &str, digest: String, len: u64) -> bool {
        let known = self.known.contains(&digest);
        if known {
            self.skipped_bytes.fetch_add(len, Ordering::Relaxed);
            lock(&self.skipped).push((shown.to_string(), digest));
        } else {
            lock(&self.scanned).push((shown.to_string(), digest));
        }
        known
    }

    /// The inputs scanned, emptied.
    pub fn take_scanned(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *lock(&self.scanned))
    }

    /// The inputs left unscanned, emptied.
    pub fn take_skipped(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *lock(&self.skipped))
    }

    pub fn skipped_count(&self) -> u64 {
        lock(&self.skipped).len() as u64
    }

    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_are_skipped_and_every_input_is_remembered() {
        let d = digest(b"CYBRID_CLIENT_ID=x\n");
        let k = KnownContent::new([&d]);
        assert!(k.check("a/.env", d.clone(), 19));
        assert!(!k.check("b/.env", digest(b"other"), 5));
        assert_eq!(k.skipped_bytes(), 19);
        assert_eq!(k.take_skipped(), vec![("a/.env".to_string(), d)]);
        assert_eq!(k.take_scanned().len(), 1);
    }
}
