//! Git repositories: every blob reachable from any ref, scanned once, then
//! attributed to the commit that introduced it; or only what a commit range
//! adds (CI); or only what is staged (pre-commit).
//!
//! Everything goes through libgit2 (`git2`): the `git` program is never run
//! on a scanned repository, so its config and hooks never execute.
//!
//! Shape of a scan: [`open`] turns a path or URL into a repository (cloning
//! URLs as bare mirrors); a mode module ([`history`], [`range`], [`staged`])
//! decides which blobs to read and feeds them to the [`workers`], which scan
//! each once; only blobs with findings are then attributed ([`attribute`]).
//! [`scan_repository`] is the one entry point, reused by `sweep`.

mod attribute;
pub mod auth;
mod commit;
mod delta;
#[doc(hidden)]
pub mod fuzzing;
mod history;
pub mod known;
mod oidset;
pub mod open;
mod packfile;
mod packorder;
mod packwalk;
mod progress;
mod push;
pub mod range;
mod reach;
mod scan;
mod staged;
mod tree;
mod treecache;
mod workers;

use std::path::PathBuf;

use crate::collect::Collector;
use crate::detect::Engine;

pub use range::CiVars;

/// Which blobs of a repository to scan.
#[derive(Debug, Clone)]
pub enum GitMode {
    /// Every blob reachable from any ref (branches, tags, remotes, stash, HEAD).
    History,
    /// Blobs added or changed by the commits in a range.
    Range(RangeSpec),
    /// Blobs staged in the index that differ from HEAD.
    Staged,
}

/// Where a range comes from.
#[derive(Debug, Clone)]
pub enum RangeSpec {
    /// `BASE..HEAD`, `BASE...HEAD`, or `BASE` (meaning `BASE..HEAD`).
    Given(String),
    /// Worked out from CI variables (GitHub Actions pull requests and pushes,
    /// GitLab merge request and push pipelines).
    FromCi(Box<CiVars>),
}

#[derive(Debug, Clone)]
pub struct GitOptions {
    pub mode: GitMode,
    /// Blobs larger than this are skipped (and reported as skipped).
    pub max_file_size: u64,
    /// Worker threads reading and scanning blobs.
    pub threads: usize,
    /// Scan blobs on this pool instead of one of `threads` threads: a sweep
    /// shares one pool between the repositories it scans at once. The
    /// calling thread must not be one of its threads.
    pub pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    /// Draw a progress line on standard error (the caller checks it is a terminal).
    pub progress: bool,
    /// Clone URLs into this directory and keep them, instead of a temporary one.
    pub keep_clone: Option<PathBuf>,
    /// Stamp findings with this repository name, and prefix error paths with it.
    pub label: Option<String>,
    /// With `Staged`: read this index file instead of the repository's
    /// (what `GIT_INDEX_FILE` names while `git commit -a` runs hooks).
    pub index_file: Option<PathBuf>,
    /// Tokens for cloning URLs over HTTPS, by host ([`auth`]).
    pub auth: Option<std::sync::Arc<auth::GitAuth>>,
    /// History mode: blobs already scanned (`--datastore`), left unread.
    pub known: Option<std::sync::Arc<known::KnownBlobs>>,
}

/// What one repository's scan did, beyond its findings.
#[derive(Debug, Clone, Default)]
pub struct RepoSummary {
    /// Facts about the scan as a whole: shallow history, the range used, …
    pub notes: Vec<String>,
    pub commits: u64,
    pub blobs: u64,
    pub findings: u64,
    /// Why the scan is incomplete (refs or commits that could not be read):
    /// the repository must not pass as clean, nor be recorded as done.
    pub incomplete: Option<String>,
}

/// Why a repository could not be scanned at all. Per-object problems are not
/// errors of this kind: they go to the collector and the scan goes on.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{repo}: not a git repository ({message})")]
    NotARepository { repo: String, message: String },
    #[error("{repo}: cannot clone: {message}")]
    Clone { repo: String, message: String },
    #[error("{repo}: {message}")]
    Range { repo: String, message: String },
    #[error("{repo}: {message}")]
    Git { repo: String, message: String },
}

/// Scan one repository (a path, or a URL to clone) into `out`.
pub fn scan_repository(
    spec: &str,
    opts: &GitOptions,
    engine: &Engine,
    out: &Collector,
) -> Result<RepoSummary, GitError> {
    configure_libgit2();
    let opened = open::open(spec, opts.keep_clone.as_deref(), opts.auth.as_deref())?;
    let mut summary = RepoSummary::default();
    if let Some(note) = &opened.note {
        summary.notes.push(note.clone());
    }
    if opened.repo.is_shallow() {
        summary.notes.push(format!(
            "{}: history is shallow (a shallow clone): commits before the cut were not scanned; fetch with --unshallow for a full scan",
            opened.shown
        ));
    }
    let ctx = scan::Scan::new(engine, out, opts, &opened.shown);
    let workers = workers::Workers::new(opened.git_dir.clone(), opts.threads, opts.pool.clone())
        .map_err(|e| GitError::Git {
            repo: opened.shown.clone(),
            message: e.to_string(),
        })?;
    let result = std::thread::scope(|s| {
        let display = progress::Progress::start(s, opts.progress, &ctx);
        let result = match &opts.mode {
            GitMode::History => history::run(&opened, &workers, &ctx, opts.known.as_deref()),
            GitMode::Range(spec) => range::run(&opened, spec, &workers, &ctx),
            GitMode::Staged => staged::run(&opened, opts.index_file.as_deref(), &workers, &ctx),
        };
        display.finish();
        result
    });
    let done = result?;
    if std::env::var_os("CYBRID_SCAN_TIMINGS").is_some() {
        let phases: Vec<String> = ctx
            .phase_times()
            .iter()
            .map(|(p, d)| format!("{} {:.3} s", p.name(), d.as_secs_f64()))
            .collect();
        eprintln!("cybrid-scan: {}: {}", opened.shown, phases.join(", "));
    }
    summary.notes.extend(done.notes);
    summary.commits = done.commits;
    summary.blobs = ctx.blobs_scanned();
    let history_errors = ctx.history_errors();
    if history_errors > 0 {
        summary.incomplete = Some(format!(
            "history incomplete: {history_errors} ref(s) or commit(s) could not be read (listed in errors); what lies behind them was not scanned"
        ));
    }
    summary.findings = ctx.finish(done.attribution);
    Ok(summary)
}

/// Process-wide libgit2 settings, applied once.
fn configure_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Every object is read once: libgit2's object cache would only grow
        // (to 256 MB) without ever being hit.
        git2::opts::enable_caching(false);
        // Re-hashing every object read (SHA-1 with collision detection) was
        // a third of the scan's CPU; `git cat-file` does not do it either. A
        // damaged object still fails to inflate and is reported.
        git2::opts::strict_hash_verification(false);
        // The owner check protects `git` users from config that runs
        // programs; nothing from a scanned repository's config is ever
        // executed here, and security teams scan checkouts they do not own.
        // SAFETY: called once, before any other libgit2 use in this process.
        let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
    });
}

/// What a mode module hands back: how many commits it looked at, notes, and
/// where each blob with findings came from.
#[derive(Debug, Default)]
pub(crate) struct ModeResult {
    pub commits: u64,
    pub notes: Vec<String>,
    pub attribution: attribute::Attribution,
}
