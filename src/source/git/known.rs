//! Git objects a datastore already holds as scanned under the same rules: a
//! history scan leaves them unread (their findings were recorded when they
//! were first scanned) and hands back the ones it did read, to be recorded
//! in their turn. A tree is recorded only from a run that read everything
//! under it, so a known tree stands for all its blobs. Attribution of a new
//! blob's finding still walks the whole history (commit, refs, author).
//!
//! What is known is known *per repository* (the datastore's keys are
//! `REPOSITORY<TAB>OID`): a blob scanned in one repository is read again in
//! a fork or a copy swept later, so that its findings are recorded as
//! occurrences there too (one incident, both repositories).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use git2::Oid;

/// Every repository's known objects, handing out one [`KnownBlobs`] per
/// repository scanned and gathering what each read.
#[derive(Debug, Default)]
pub struct KnownIndex {
    by_repo: HashMap<String, HashSet<Oid>>,
    issued: Mutex<Vec<Arc<KnownBlobs>>>,
}

impl KnownIndex {
    /// From the datastore's keys of blobs and trees (`REPOSITORY<TAB>OID`;
    /// anything else, such as a bare id of an older datastore, is ignored,
    /// and that object is read once more).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a String>) -> Self {
        let mut by_repo: HashMap<String, HashSet<Oid>> = HashMap::new();
        for key in keys {
            if let Some((repo, oid)) = key.rsplit_once('\t') {
                if let Ok(oid) = Oid::from_str(oid) {
                    by_repo.entry(repo.to_string()).or_default().insert(oid);
                }
            }
        }
        KnownIndex {
            by_repo,
            issued: Mutex::default(),
        }
    }

    /// The known objects of `repo` (as [`repository_key`] names it).
    pub fn for_repo(&self, repo: &str) -> Arc<KnownBlobs> {
        let known = Arc::new(KnownBlobs {
            repo: repo.to_string(),
            known: self.by_repo.get(repo).cloned().unwrap_or_default(),
            ..KnownBlobs::default()
        });
        if let Ok(mut issued) = self.issued.lock() {
            issued.push(Arc::clone(&known));
        }
        known
    }

    /// What every repository read, as `(kind, key)` for the datastore, emptied.
    pub fn take_scanned(&self) -> Vec<(&'static str, String)> {
        let issued = self.issued.lock().map(|i| i.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for k in issued {
            let key = |oid: String| format!("{}\t{oid}", k.repo);
            out.extend(k.take_scanned().into_iter().map(|o| ("blob", key(o))));
            out.extend(k.take_trees().into_iter().map(|o| ("tree", key(o))));
        }
        out
    }

    /// Blobs and trees left unread, over every repository.
    pub fn skipped(&self) -> (u64, u64) {
        self.issued
            .lock()
            .map(|i| {
                i.iter().fold((0, 0), |(b, t), k| {
                    (b + k.skipped_count(), t + k.skipped_trees_count())
                })
            })
            .unwrap_or((0, 0))
    }
}

/// The name a repository is known by across runs: a local path made
/// absolute (so that `.` and `/src/app` are one), a URL without credentials.
pub fn repository_key(spec: &str) -> String {
    let path = std::path::Path::new(spec);
    if path.exists() {
        if let Ok(abs) = std::fs::canonicalize(path) {
            return abs.display().to_string();
        }
    }
    crate::source::git::open::redact_url(spec)
}

#[derive(Debug, Default)]
pub struct KnownBlobs {
    /// The repository these objects are known in.
    repo: String,
    known: HashSet<Oid>,
    scanned: Mutex<Vec<Oid>>,
    trees: Mutex<Vec<Oid>>,
    skipped: AtomicU64,
    skipped_trees: AtomicU64,
}

impl KnownBlobs {
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
