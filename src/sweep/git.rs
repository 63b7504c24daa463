//! The sweep's repositories are git repositories: each is handed to the git
//! source ([`crate::source::git::scan_repository`]) for its full history,
//! URLs cloned to a temporary bare mirror and removed afterwards.
//!
//! Threads: the sweep's repository workers only open or clone and walk
//! commits (mostly waiting on the network or on the pool); blob reading and
//! scanning, the real work, runs on one rayon pool shared by every
//! repository in flight, so a large repository at the end of a sweep gets
//! all the threads and many small ones share them.

use std::sync::Arc;

use super::manifest::Entry;
use super::{RepoScan, RepoScanner};
use crate::collect::Collector;
use crate::detect::Engine;
use crate::source::git::auth::GitAuth;
use crate::source::git::known::KnownIndex;
use crate::source::git::{scan_repository, GitMode, GitOptions};

/// Scans each repository's full history with a shared pool.
pub struct GitScanner<'a> {
    engine: &'a Engine,
    options: GitOptions,
    /// What the datastore holds as scanned, per repository.
    known: Option<Arc<KnownIndex>>,
}

impl<'a> GitScanner<'a> {
    /// `threads` blob-scanning threads shared by all repositories.
    pub fn new(
        engine: &'a Engine,
        threads: usize,
        max_file_size: u64,
    ) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("cybrid-sweep-{i}"))
            .build()?;
        Ok(GitScanner {
            engine,
            options: GitOptions {
                mode: GitMode::History,
                max_file_size,
                threads: threads.max(1),
                pool: Some(Arc::new(pool)),
                progress: false,
                keep_clone: None,
                label: None,
                index_file: None,
                auth: None,
                known: None,
            },
            known: None,
        })
    }

    /// Clone URLs with these tokens ([`crate::source::git::auth`]).
    pub fn with_auth(mut self, auth: GitAuth) -> Self {
        self.options.auth = (!auth.is_empty()).then(|| Arc::new(auth));
        self
    }
}

impl GitScanner<'_> {
    /// Leave unread the blobs a datastore already holds as scanned in the
    /// same repository.
    pub fn with_known(mut self, known: Option<Arc<KnownIndex>>) -> Self {
        self.known = known;
        self
    }
}

impl RepoScanner for GitScanner<'_> {
    fn scan(&self, entry: &Entry, out: &Collector) -> Result<RepoScan, String> {
        let mut options = self.options.clone();
        options.label = Some(entry.key.clone());
        options.known = self
            .known
            .as_ref()
            .map(|k| k.for_repo(&crate::source::git::known::repository_key(&entry.target)));
        match scan_repository(&entry.target, &options, self.engine, out) {
            // Refs or commits that could not be read: failed, so the state
            // directory does not hold it as done and a rerun retries it.
            Ok(summary) if summary.incomplete.is_some() => {
                Err(summary.incomplete.unwrap_or_default())
            }
            Ok(summary) => Ok(RepoScan {
                commits: summary.commits,
                notes: summary.notes,
            }),
            Err(e) => Err(e.to_string()),
        }
    }
}
