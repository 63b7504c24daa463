//! Directory walk: parallel, `.gitignore`-aware, hidden files included (that
//! is where `.env` lives), binary files scanned, every skip accounted for.

use std::io::Read;
use std::path::{Path, PathBuf};

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
}

/// Scan every file under each root. Each root is one project (with its
/// nested package roots): generic pairs that need project context are held
/// until the root has been walked, then kept or dropped.
pub fn scan_paths(roots: &[PathBuf], opts: &FsOptions, engine: &Engine, out: &Collector) {
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
            Ok(md) if md.is_dir() => walk(root, &scan),
            Ok(_) => {
                let mut scratch = Scratch::default();
                let mut buf = Vec::new();
                scan_file(
                    root,
                    &root.display().to_string(),
                    &scan,
                    &mut scratch,
                    &mut buf,
                );
            }
        }
        out.findings(projects.resolve());
    }
}

/// What every file of one root's walk shares.
struct Scan<'a> {
    opts: &'a FsOptions,
    engine: &'a Engine,
    out: &'a Collector,
    projects: &'a Projects,
}

fn walk(root: &Path, scan: &Scan<'_>) {
    let (opts, out) = (scan.opts, scan.out);
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .ignore(!opts.no_ignore)
        .git_ignore(!opts.no_ignore)
        .git_global(!opts.no_ignore)
        .git_exclude(!opts.no_ignore)
        .parents(!opts.no_ignore)
        .require_git(false)
        .follow_links(opts.follow_links)
        .threads(opts.threads.max(1))
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())))
        .build_parallel();
    walker.run(|| {
        let mut scratch = Scratch::default();
        let mut buf = Vec::new();
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
            let shown = relative(root, entry.path());
            if ft.is_symlink() {
                out.skip(shown, "symbolic link not followed (use --follow)");
            } else if !ft.is_file() {
                out.skip(shown, "not a regular file");
            } else {
                scan_file(entry.path(), &shown, scan, &mut scratch, &mut buf);
            }
            WalkState::Continue
        })
    });
}

fn scan_file(path: &Path, shown: &str, scan: &Scan<'_>, scratch: &mut Scratch, buf: &mut Vec<u8>) {
    let (opts, out) = (scan.opts, scan.out);
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
    out.scanned(buf.len() as u64);
    if archive::format_of(buf).is_some() {
        // Members are scanned, not the container's bytes (a stored member
        // would otherwise be found twice).
        let limits = archive::Limits::new(opts.max_file_size);
        let mut members = Members { scan, scratch };
        archive::expand(buf, shown, &limits, &mut members);
    } else if let Some(text) = archive::decode_binary_text(buf) {
        scan_bytes(shown, &text, scan, scratch);
    } else {
        scan_bytes(shown, buf, scan, scratch);
    }
    if buf.capacity() > 64 << 20 {
        *buf = Vec::new();
    }
}

/// Scan `bytes` shown as `shown` (a file, or a member `outer!/inner`).
fn scan_bytes(shown: &str, bytes: &[u8], scan: &Scan<'_>, scratch: &mut Scratch) {
    let detections = scan.engine.scan(bytes, scratch);
    scan.projects.observe(shown, bytes, scratch);
    if !detections.is_empty() {
        let base = Location {
            source: SourceKind::File,
            path: shown.to_string(),
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
}

impl archive::Visitor for Members<'_, '_> {
    fn member(&mut self, path: &str, data: &[u8]) {
        scan_bytes(path, data, self.scan, self.scratch);
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
