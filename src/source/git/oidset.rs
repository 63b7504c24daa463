//! A set of object ids shared by worker threads: the "seen" sets that make
//! every tree walked once and every blob scanned once. Object ids are already
//! uniformly random, so their first eight bytes are the hash; the set is split
//! into shards so two workers rarely wait on the same lock.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use git2::Oid;

const SHARDS: usize = 64;

/// Hashes an object id by taking its leading bytes: no mixing is needed.
#[derive(Default)]
pub struct OidHasher(u64);

impl Hasher for OidHasher {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(head) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*head);
        } else {
            for b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(*b);
            }
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type OidBuild = BuildHasherDefault<OidHasher>;
/// A single-threaded set of object ids with the cheap hasher.
pub type LocalOidSet = HashSet<Oid, OidBuild>;

/// A thread-safe set of object ids.
pub struct OidSet {
    shards: Vec<Mutex<LocalOidSet>>,
}

impl Default for OidSet {
    fn default() -> Self {
        OidSet {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl OidSet {
    /// Insert `oid`; true when it was not there before (the caller now owns its work).
    pub fn insert(&self, oid: Oid) -> bool {
        let shard = usize::from(oid.as_bytes()[oid.as_bytes().len() - 1]) % SHARDS;
        self.shards[shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_once() {
        let set = OidSet::default();
        let a = Oid::from_str("8ab686eafeb1f44702738c8b0f24f2567c36da6d").unwrap();
        let b = Oid::from_str("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391").unwrap();
        assert!(set.insert(a));
        assert!(!set.insert(a));
        assert!(set.insert(b));
        assert!(!set.insert(b));
    }
}
