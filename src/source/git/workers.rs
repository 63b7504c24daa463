//! The worker pool that reads and scans blobs. libgit2 handles are not
//! shareable between threads, so each worker thread gets its own
//! `Repository` (opened on first use) and its own engine scratch space, kept
//! in a slot indexed by the thread's position in the pool: no lock is ever
//! contended on the hot path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use git2::Repository;

use crate::detect::Scratch;

/// One thread's private state.
pub(crate) struct Slot {
    pub repo: Repository,
    pub scratch: Scratch,
}

pub(crate) struct Workers {
    git_dir: PathBuf,
    /// One per pool thread, plus one (the last) for the calling thread.
    slots: Vec<Mutex<Option<Slot>>>,
    pub pool: Arc<rayon::ThreadPool>,
}

impl Workers {
    /// Workers on `shared` (a sweep's pool, shared by the repositories it
    /// scans at once), or on a pool of `threads` threads of their own.
    pub fn new(
        git_dir: PathBuf,
        threads: usize,
        shared: Option<Arc<rayon::ThreadPool>>,
    ) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = match shared {
            Some(pool) => pool,
            None => Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads.max(1))
                    .thread_name(|i| format!("cybrid-git-{i}"))
                    .build()?,
            ),
        };
        let threads = pool.current_num_threads();
        Ok(Workers {
            git_dir,
            slots: (0..=threads).map(|_| Mutex::new(None)).collect(),
            pool,
        })
    }

    /// Run `f` with the current thread's slot. Must not wait on other pool
    /// work inside `f` (spawning is fine): the slot stays locked meanwhile.
    pub fn with<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> Result<R, git2::Error> {
        let index = self
            .pool
            .current_thread_index()
            .unwrap_or(self.slots.len() - 1);
        let mut guard = self.slots[index].lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(Slot {
                repo: Repository::open(&self.git_dir)?,
                scratch: Scratch::default(),
            });
        }
        match guard.as_mut() {
            Some(slot) => Ok(f(slot)),
            None => unreachable!("slot was just filled"),
        }
    }
}
