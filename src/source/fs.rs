//! Directory walk: parallel, `.gitignore`-aware, hidden files included (that
//! is where `.env` lives), binary files scanned, every skip accounted for.
//!
//! Ignored is not invisible: a second, listing-only walk without the ignore
//! rules counts what they excluded (for the report's notes), and files that
//! hold secrets by convention ([`secret_by_convention`]) are scanned even
//! when ignored, their findings marked `ignored_by_vcs`: a gitignored `.env`
//! is not committed, but it is copied into a Docker build context, a
//! tarball, a backup.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::archive;
use crate::collect::{to_findings, Collector};
use crate::detect::{Engine, Scratch};
use crate::finding::{Location, SourceKind};
use crate::project::Projects;

/// Default cap on a single file: big enough for minified bundles and build caches.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 50 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FsOptions {
    pub no_ignore: bool,
    pub follow_links: bool,
    pub max_file_size: u64,
    pub threads: usize,
    /// With a datastore: files whose content it has already scanned are
    /// hashed, not scanned (package manifests excepted: project evidence).
    pub known: Option<std::sync::Arc<super::known::KnownContent>>,
}

/// Whether a file's name says it holds secrets by convention: `.env`,
/// `.env.*`, `*.env`, `.envrc`, `*.pem`, `*.key`, `*.tfvars`, `.npmrc`,
/// `.netrc`/`_netrc`, `.pypirc`, `credentials`, `*credentials*.json`,
/// `service-account*.json`, `client_secret*.json`, `secrets.*`. Such files
/// are scanned even when `.gitignore`/`.ignore` excludes them.
pub fn secret_by_convention(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        ".env" | ".envrc" | ".npmrc" | ".netrc" | "_netrc" | ".pypirc" | "credentials"
    ) || n.starts_with(".env.")
        || [".env", ".pem", ".key", ".tfvars"]
            .iter()
            .any(|ext| n.ends_with(ext))
        || n.starts_with("secrets.")
        || (n.ends_with(".json")
            && (n.contains("credentials")
                || n.starts_with("service-account")
                || n.starts_with("client_secret")))
}

/// Scan every file under each root. Each root is one project (with its
/// nested package roots): generic pairs that need project context are held
/// until the root has been walked, then kept or dropped. Returns notes for
/// the report (what the ignore rules excluded).
pub fn scan_paths(
    roots: &[PathBuf],
    opts: &FsOptions,
    engine: &Engine,
    out: &Collector,
) -> Vec<String> {
    let (mut excluded, mut rescued) = (0u64, 0u64);
    for root in roots {
        let projects = Projects::default();
        let scan = Scan {
            opts,
            engine,
            out,
            projects: &projects,
        };
        match std::fs::metadata(root) {
            Err(e) => out.input_failed(root.display().to_string(), format!("cannot open: {e}")),
            Ok(md) if md.is_dir() => {
                let seen = walk(root, &scan);
                if !opts.no_ignore {
                    let ignored = find_ignored(root, opts, seen);
                    excluded += ignored.count;
                    rescued += ignored.secret_files.len() as u64;
                    let mut scratch = Scratch::default();
                    let mut buf = Vec::new();
                    for path in &ignored.secret_files {
                        let file = Target {
                            path,
                            shown: &relative(root, path),
                            ignored_by_vcs: true,
                        };
                        scan_file(&file, &scan, &mut scratch, &mut buf);
                    }
                }
            }
            Ok(_) => {
                let mut scratch = Scratch::default();
                let mut buf = Vec::new();
                let file = Target {
                    path: root,
                    shown: &root.display().to_string(),
                    ignored_by_vcs: false,
                };
                scan_file(&file, &scan, &mut scratch, &mut buf);
            }
        }
        out.findings(projects.resolve());
    }
    let mut notes = Vec::new();
    if excluded > rescued {
        notes.push(format!(
            "{} file(s) excluded by .gitignore/.ignore were not scanned (--no-ignore scans them)",
            excluded - rescued
        ));
    }
    if rescued > 0 {
        notes.push(format!(
            "{rescued} file(s) excluded by .gitignore/.ignore scanned anyway: their names hold secrets by convention (.env, *.pem, credentials JSON, …); their findings say ignored_by_vcs"
        ));
    }
    notes
}

/// One file to scan: where it is, how it is shown, whether the ignore
/// rules exclude it.
struct Target<'p> {
    path: &'p Path,
    shown: &'p str,
    ignored_by_vcs: bool,
}

/// What the ignore-aware walk met: per directory, how many entries (other
/// than directories) it yielded, and which secret-by-convention files.
#[derive(Default)]
struct Seen {
    per_dir: Mutex<HashMap<PathBuf, u64>>,
    secret_files: Mutex<HashSet<PathBuf>>,
}

/// A walk thread's own per-directory counts, added to the shared ones once,
/// when the thread is done (no lock per file).
struct Tally<'a> {
    counts: HashMap<PathBuf, u64>,
    into: &'a Mutex<HashMap<PathBuf, u64>>,
}

impl Tally<'_> {
    fn count(&mut self, path: &Path) {
        if let Some(dir) = path.parent() {
            match self.counts.get_mut(dir) {
                Some(n) => *n += 1,
                None => {
                    self.counts.insert(dir.to_path_buf(), 1);
                }
            }
        }
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        let mut all = self.into.lock().unwrap_or_else(|e| e.into_inner());
        for (dir, n) in self.counts.drain() {
            *all.entry(dir).or_default() += n;
        }
    }
}

/// What the ignore rules excluded under one root.
struct Ignored {
    count: u64,
    /// Excluded files whose names hold secrets by convention.
    secret_files: Vec<PathBuf>,
}

/// List `root` again without the ignore rules (nothing is read): entries
/// the first walk did not yield were excluded by them.
fn find_ignored(root: &Path, opts: &FsOptions, seen: Seen) -> Ignored {
    let all: Mutex<HashMap<PathBuf, u64>> = Mutex::default();
    let secret_files: Mutex<Vec<PathBuf>> = Mutex::default();
    let known = seen
        .secret_files
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    base_walker(root, opts, true).build_parallel().run(|| {
        let mut tally = Tally {
            counts: HashMap::new(),
            into: &all,
        };
        let (secret_files, known) = (&secret_files, &known);
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            if ft.is_dir() {
                return WalkState::Continue;
            }
            tally.count(entry.path());
            if ft.is_file()
                && secret_by_convention(&entry.file_name().to_string_lossy())
                && !known.contains(entry.path())
            {
                secret_files
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(entry.path().to_path_buf());
            }
            WalkState::Continue
        })
    });
    let all = all.into_inner().unwrap_or_else(|e| e.into_inner());
    let yielded = seen.per_dir.into_inner().unwrap_or_else(|e| e.into_inner());
    let count = all
        .iter()
        .map(|(dir, n)| n.saturating_sub(yielded.get(dir).copied().unwrap_or(0)))
        .sum();
    let mut secret_files = secret_files.into_inner().unwrap_or_else(|e| e.into_inner());
    secret_files.sort();
    Ignored {
        count,
        secret_files,
    }
}

/// The walker both walks share: hidden files included, `.git/` never
/// entered; `no_ignore` turns every ignore rule off.
fn base_walker(root: &Path, opts: &FsOptions, no_ignore: bool) -> WalkBuilder {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .ignore(!no_ignore)
        .git_ignore(!no_ignore)
        .git_global(!no_ignore)
        .git_exclude(!no_ignore)
        .parents(!no_ignore)
        .require_git(false)
        .follow_links(opts.follow_links)
        .threads(opts.threads.max(1))
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())));
    builder
}

/// What every file of one root's walk shares.
struct Scan<'a> {
    opts: &'a FsOptions,
    engine: &'a Engine,
    out: &'a Collector,
    projects: &'a Projects,
}

/// Walk `root` with the ignore rules (unless `--no-ignore`), scanning each
/// file; returns what it met, for [`find_ignored`].
fn walk(root: &Path, scan: &Scan<'_>) -> Seen {
    let (opts, out) = (scan.opts, scan.out);
    let seen = Seen::default();
    base_walker(root, opts, opts.no_ignore)
        .build_parallel()
        .run(|| {
            let mut scratch = Scratch::default();
            let mut buf = Vec::new();
            let mut tally = Tally {
                counts: HashMap::new(),
                into: &seen.per_dir,
            };
            let seen = &seen;
            Box::new(move |entry| {
                let entry = match entry {
                    Ok(e) => e,
                    Err(err) => {
                        let path = error_path(&err).unwrap_or_else(|| root.display().to_string());
                        out.error(path, err);
                        return WalkState::Continue;
                    }
                };
                let Some(ft) = entry.file_type() else {
                    return WalkState::Continue;
                };
                if ft.is_dir() {
                    return WalkState::Continue;
                }
                tally.count(entry.path());
                let shown = relative(root, entry.path());
                if ft.is_symlink() {
                    out.skip(shown, "symbolic link not followed (use --follow)");
                } else if !ft.is_file() {
                    out.skip(shown, "not a regular file");
                } else {
                    if secret_by_convention(&entry.file_name().to_string_lossy()) {
                        seen.secret_files
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(entry.path().to_path_buf());
                    }
                    let file = Target {
                        path: entry.path(),
                        shown: &shown,
                        ignored_by_vcs: false,
                    };
                    scan_file(&file, scan, &mut scratch, &mut buf);
                }
                WalkState::Continue
            })
        });
    seen
}

fn scan_file(target: &Target<'_>, scan: &Scan<'_>, scratch: &mut Scratch, buf: &mut Vec<u8>) {
    let (opts, out) = (scan.opts, scan.out);
    let (path, shown) = (target.path, target.shown);
    // Look before opening: opening a FIFO for reading blocks until a writer
    // comes, and a device such as /dev/zero never ends.
    match std::fs::metadata(path) {
        Ok(md) if !md.is_file() => return out.skip(shown, "not a regular file"),
        Ok(_) => {}
        Err(e) => return out.error(shown, format!("cannot open: {e}")),
    }
    let file = match open_no_block(path) {
        Ok(f) => f,
        Err(e) => return out.error(shown, format!("cannot open: {e}")),
    };
    let md = match file.metadata() {
        Ok(m) => m,
        Err(e) => return out.error(shown, format!("cannot stat: {e}")),
    };
    if !md.is_file() {
        return out.skip(shown, "not a regular file");
    }
    if md.len() > opts.max_file_size {
        return out.skip(
            shown,
            format!(
                "larger than --max-file-size ({} > {} bytes)",
                md.len(),
                opts.max_file_size
            ),
        );
    }
    buf.clear();
    // Read at most one byte past the cap: a file growing while we read is still bounded.
    if let Err(e) = file.take(opts.max_file_size + 1).read_to_end(buf) {
        return out.error(shown, format!("cannot read: {e}"));
    }
    if let Some(known) = &opts.known {
        if !crate::project::is_manifest(shown)
            && known.check(shown, super::known::digest(buf), buf.len() as u64)
        {
            return;
        }
    }
    out.scanned(buf.len() as u64);
    if archive::format_of(buf).is_some() {
        // Members are scanned, not the container's bytes (a stored member
        // would otherwise be found twice).
        let limits = archive::Limits::new(opts.max_file_size);
        let mut members = Members {
            scan,
            scratch,
            ignored_by_vcs: target.ignored_by_vcs,
        };
        archive::expand(buf, shown, &limits, &mut members);
    } else if let Some(text) = archive::decode_binary_text(buf) {
        scan_bytes(shown, &text, target.ignored_by_vcs, scan, scratch);
    } else {
        scan_bytes(shown, buf, target.ignored_by_vcs, scan, scratch);
    }
    if buf.capacity() > 64 << 20 {
        *buf = Vec::new();
    }
}

/// Scan `bytes` shown as `shown` (a file, or a member `outer!/inner`).
fn scan_bytes(
    shown: &str,
    bytes: &[u8],
    ignored_by_vcs: bool,
    scan: &Scan<'_>,
    scratch: &mut Scratch,
) {
    let detections = scan.engine.scan(bytes, scratch);
    scan.projects.observe(shown, bytes, scratch);
    if !detections.is_empty() {
        let base = Location {
            source: SourceKind::File,
            path: shown.to_string(),
            ignored_by_vcs,
            ..Location::default()
        };
        let findings = to_findings(scan.engine, bytes, detections, &base);
        scan.out.findings(scan.projects.hold(findings));
    }
}

/// An archive's members go through the same scan as files.
struct Members<'s, 'a> {
    scan: &'s Scan<'a>,
    scratch: &'s mut Scratch,
    ignored_by_vcs: bool,
}

impl archive::Visitor for Members<'_, '_> {
    fn member(&mut self, path: &str, data: &[u8]) {
        scan_bytes(path, data, self.ignored_by_vcs, self.scan, self.scratch);
    }
    fn error(&mut self, path: &str, message: String) {
        self.scan.out.error(path, message);
    }
    fn skip(&mut self, path: &str, reason: String) {
        self.scan.out.skip(path, reason);
    }
}

/// Open for reading without ever blocking in `open`: should the path be
/// swapped for a FIFO after it was looked at, the open still returns and the
/// `fstat` that follows skips it. Reads from a regular file ignore the flag.
fn open_no_block(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    opts.open(path)
}

/// The path shown for a file: relative to the walked root.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn error_path(err: &ignore::Error) -> Option<String> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.display().to_string()),
        ignore::Error::WithDepth { err, .. } => error_path(err),
        ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Loop { child, .. } => Some(child.display().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::secret_by_convention;

    #[test]
    fn secret_files_by_name() {
        for yes in [
            ".env",
            ".env.local",
            "prod.env",
            ".envrc",
            "server.pem",
            "tls.KEY",
            "prod.tfvars",
            ".npmrc",
            ".netrc",
            "_netrc",
            "credentials",
            "credentials.json",
            "gcp-credentials-prod.json",
            "service-account-ci.json",
            "client_secret_123.json",
            "secrets.yaml",
        ] {
            assert!(secret_by_convention(yes), "{yes}");
        }
        for no in [
            "env.rs",
            "README.md",
            "app.log",
            "keys.txt",
            "package.json",
            "environment.ts",
        ] {
            assert!(!secret_by_convention(no), "{no}");
        }
    }
}
