//! Git objects a datastore already holds as scanned under the same rules: a
//! history scan leaves them unread (their findings were recorded when they
//! were first scanned) and hands back the ones it did read, to be recorded
//! in their turn. A tree is recorded only from a run that read everything
//! under it, so a known tree stands for all its blobs. Attribution of a new
//! blob's finding still walks the whole history (commit, refs, author).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use git2::Oid;

#[derive(Debug, Default)]
pub struct KnownBlobs {
    known: HashSet<Oid>,
    scanned: Mutex<Vec<Oid>>,
    trees: Mutex<Vec<Oid>>,
    skipped: AtomicU64,
    skipped_trees: AtomicU64,
}

impl KnownBlobs {
    /// From the datastore's hex object ids of blobs and trees (anything
    /// else is ignored).
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a String>) -> Self {
        KnownBlobs {
            known: ids
                .into_iter()
                .filter_map(|s| Oid::from_str(s).ok())
                .collect(),
            ..KnownBlobs::default()
        }
    }

    pub fn contains(&self, oid: &Oid) -> bool {
        self.known.contains(oid)
    }

    /// Count `n` blobs left unread.
    pub fn skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// Blobs about to be read.
    pub fn reading(&self, oids: impl IntoIterator<Item = Oid>) {
        if let Ok(mut s) = self.scanned.lock() {
            s.extend(oids);
        }
    }

    /// Count `n` trees left unread (and every blob under them).
    pub fn skipped_trees(&self, n: u64) {
        self.skipped_trees.fetch_add(n, Ordering::Relaxed);
    }

    pub fn skipped_trees_count(&self) -> u64 {
        self.skipped_trees.load(Ordering::Relaxed)
    }

    /// Trees read (all their blobs read or known).
    pub fn reading_trees(&self, oids: impl IntoIterator<Item = Oid>) {
        if let Ok(mut s) = self.trees.lock() {
            s.extend(oids);
        }
    }

    /// The trees read (hex ids), emptied.
    pub fn take_trees(&self) -> Vec<String> {
        self.trees
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
            .iter()
            .map(Oid::to_string)
            .collect()
    }

    pub fn skipped_count(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The blobs read (hex ids), emptied.
    pub fn take_scanned(&self) -> Vec<String> {
        self.scanned
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
            .iter()
            .map(Oid::to_string)
            .collect()
    }
}
