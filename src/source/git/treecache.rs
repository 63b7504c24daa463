//! Trees kept from the tree pass for attribution. Attribution walks the
//! trees of history a second time, commit by commit, to find where each blob
//! with findings first appeared; reading them from the object database again
//! means inflating and un-deltifying every tree twice, most of attribution's
//! time. The tree pass already holds each tree's bytes once, so it keeps
//! them here, up to a fixed budget (past it, attribution reads from the
//! object database as before): memory stays bounded, whatever the history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use git2::Oid;

use super::oidset::OidBuild;

/// Bytes of trees kept at most.
pub(crate) const BUDGET: usize = 64 << 20;

const SHARDS: usize = 16;

type Shard = Mutex<HashMap<Oid, Arc<[u8]>, OidBuild>>;

pub(crate) struct TreeCache {
    shards: Vec<Shard>,
    bytes: AtomicUsize,
    budget: usize,
}

impl Default for TreeCache {
    fn default() -> Self {
        TreeCache::new(BUDGET)
    }
}

impl TreeCache {
    pub fn new(budget: usize) -> Self {
        TreeCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            bytes: AtomicUsize::new(0),
            budget,
        }
    }

    fn shard(&self, oid: &Oid) -> &Shard {
        &self.shards[usize::from(oid.as_bytes()[1]) % SHARDS]
    }

    /// Keep a copy of tree `oid`'s bytes, if the budget allows.
    pub fn keep(&self, oid: Oid, data: &[u8]) {
        let before = self.bytes.fetch_add(data.len(), Ordering::Relaxed);
        if before + data.len() > self.budget {
            self.bytes.fetch_sub(data.len(), Ordering::Relaxed);
            return;
        }
        lock(self.shard(&oid)).insert(oid, Arc::from(data));
    }

    pub fn get(&self, oid: &Oid) -> Option<Arc<[u8]>> {
        lock(self.shard(oid)).get(oid).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_the_budget_only() {
        let cache = TreeCache::new(10);
        let a = Oid::from_bytes(&[1; 20]).unwrap();
        let b = Oid::from_bytes(&[2; 20]).unwrap();
        cache.keep(a, b"123456");
        cache.keep(b, b"123456");
        assert_eq!(cache.get(&a).as_deref(), Some(&b"123456"[..]));
        assert!(cache.get(&b).is_none(), "over the budget: not kept");
    }
}
