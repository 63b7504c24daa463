//! The state one repository's scan shares between workers: the engine and
//! collector, the "seen" sets that make each tree and blob read once, the
//! blobs that had findings (kept until they are attributed) and counters for
//! the progress line.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use git2::{ObjectType, Oid};

use super::attribute::Attribution;
use super::oidset::{LocalOidSet, OidSet};
use super::treecache::TreeCache;
use super::workers::Slot;
use super::GitOptions;
use crate::collect::{to_findings, Collector};
use crate::detect::{Engine, Scratch};
use crate::finding::{Finding, Location, SourceKind};
use crate::project::Projects;
use crate::source::archive;

/// The stages of a scan, in order, as the progress line names them: a long
/// attribution must not look like a hang after the blobs are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Commits = 0,
    Trees = 1,
    Blobs = 2,
    Attribution = 3,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Commits => "commits",
            Phase::Trees => "trees",
            Phase::Blobs => "blobs",
            Phase::Attribution => "attribution",
        }
    }

    fn from_u8(n: u8) -> Self {
        match n {
            0 => Phase::Commits,
            1 => Phase::Trees,
            2 => Phase::Blobs,
            _ => Phase::Attribution,
        }
    }
}

/// A blob with findings, waiting for attribution.
pub(crate) struct Hit {
    pub oid: Oid,
    /// Where the walk met the blob (used if attribution finds nothing better).
    pub path: String,
    pub findings: Vec<Finding>,
}

pub(crate) struct Scan<'a> {
    engine: &'a Engine,
    out: &'a Collector,
    max_size: u64,
    /// Repository name stamped on findings (sweeps, several repositories).
    label: Option<String>,
    /// How the repository is named in progress output.
    pub shown: String,
    pub trees: OidSet,
    pub blobs: OidSet,
    /// Tree bytes from the tree pass, for attribution's second walk.
    pub tree_cache: TreeCache,
    hits: Mutex<Vec<Hit>>,
    submodules: Mutex<BTreeSet<String>>,
    blobs_scanned: AtomicU64,
    history_errors: AtomicU64,
    /// Trees read so far, and blobs queued for scanning once the trees are
    /// done (0 until then): the progress line's view of the earlier passes.
    pub trees_read: AtomicU64,
    pub blobs_queued: AtomicU64,
    bytes_scanned: AtomicU64,
    findings: AtomicU64,
    pub done: AtomicBool,
    phase: AtomicU8,
    /// When each phase began, for `CYBRID_SCAN_TIMINGS`.
    phases: Mutex<Vec<(Phase, Instant)>>,
    /// Project evidence from any blob of the history; generic pairs wait for it.
    projects: Projects,
}

impl<'a> Scan<'a> {
    pub fn new(engine: &'a Engine, out: &'a Collector, opts: &GitOptions, shown: &str) -> Self {
        Scan {
            engine,
            out,
            max_size: opts.max_file_size,
            label: opts.label.clone(),
            shown: shown.to_string(),
            trees: OidSet::default(),
            blobs: OidSet::default(),
            tree_cache: TreeCache::default(),
            hits: Mutex::default(),
            submodules: Mutex::default(),
            blobs_scanned: AtomicU64::new(0),
            history_errors: AtomicU64::new(0),
            trees_read: AtomicU64::new(0),
            blobs_queued: AtomicU64::new(0),
            bytes_scanned: AtomicU64::new(0),
            findings: AtomicU64::new(0),
            done: AtomicBool::new(false),
            phase: AtomicU8::new(Phase::Commits as u8),
            phases: Mutex::new(vec![(Phase::Commits, Instant::now())]),
            projects: Projects::default(),
        }
    }

    /// Enter the next stage of the scan.
    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        lock(&self.phases).push((phase, Instant::now()));
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    /// How long each phase took, up to now (a phase entered twice is summed).
    pub fn phase_times(&self) -> Vec<(Phase, Duration)> {
        let marks = lock(&self.phases);
        let now = Instant::now();
        let mut out: Vec<(Phase, Duration)> = Vec::new();
        for (i, (phase, start)) in marks.iter().enumerate() {
            let end = marks.get(i + 1).map_or(now, |(_, t)| *t);
            let took = end.saturating_duration_since(*start);
            match out.iter_mut().find(|(p, _)| p == phase) {
                Some((_, d)) => *d += took,
                None => out.push((*phase, took)),
            }
        }
        out
    }

    /// The path as reported: prefixed with the repository when several are scanned.
    fn place(&self, path: &str) -> String {
        match &self.label {
            Some(label) => format!("{label}: {path}"),
            None => path.to_string(),
        }
    }

    pub fn error(&self, path: &str, message: impl std::fmt::Display) {
        self.out.error(self.place(path), message);
    }

    /// A ref, commit or walk that could not be read: everything behind it
    /// went unscanned, so the repository's scan is incomplete (exit 2), not
    /// merely damaged in one place.
    pub fn history_error(&self, path: &str, message: impl std::fmt::Display) {
        self.history_errors.fetch_add(1, Ordering::Relaxed);
        self.error(path, message);
    }

    /// How many refs, commits or walks could not be read.
    pub fn history_errors(&self) -> u64 {
        self.history_errors.load(Ordering::Relaxed)
    }

    pub fn skip(&self, path: &str, reason: impl Into<String>) {
        self.out.skip(self.place(path), reason);
    }

    /// A submodule is another repository: say so once per path.
    pub fn submodule(&self, path: &str, commit: Oid) {
        let new = lock(&self.submodules).insert(path.to_string());
        if new {
            self.skip(
                path,
                format!("submodule (commit {commit}) not followed: scan its repository separately"),
            );
        }
    }

    /// Read blob `oid` (met at `path`) and scan it.
    pub fn scan_blob(&self, slot: &mut Slot, oid: Oid, path: &str) {
        let odb = match slot.repo.odb() {
            Ok(o) => o,
            Err(e) => {
                return self.error(
                    path,
                    format!("cannot open object database: {}", e.message()),
                )
            }
        };
        match odb.read_header(oid) {
            Err(e) => {
                return self.error(path, format!("cannot read blob {oid}: {}", e.message()));
            }
            Ok((size, _)) if size as u64 > self.max_size => {
                return self.too_large(oid, path, size as u64);
            }
            Ok(_) => {}
        }
        let object = match odb.read(oid) {
            Ok(o) => o,
            Err(e) => {
                return self.error(path, format!("cannot read blob {oid}: {}", e.message()));
            }
        };
        if object.kind() != ObjectType::Blob {
            return self.error(
                path,
                format!("object {oid} is a {}, not a blob", object.kind()),
            );
        }
        self.scan_bytes(&mut slot.scratch, oid, path, object.data());
    }

    /// The message for a blob over `--max-file-size`, the same whichever
    /// reader met it.
    pub fn too_large(&self, oid: Oid, path: &str, size: u64) {
        self.skip(
            path,
            format!(
                "blob {oid} larger than --max-file-size ({size} > {} bytes)",
                self.max_size
            ),
        );
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Scan the contents of blob `oid`, met at `path`.
    pub fn scan_bytes(&self, scratch: &mut Scratch, oid: Oid, path: &str, data: &[u8]) {
        self.out.scanned(data.len() as u64);
        self.blobs_scanned.fetch_add(1, Ordering::Relaxed);
        self.bytes_scanned
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let mut findings = Vec::new();
        if archive::format_of(data).is_some() {
            // A committed archive: its members, named `path!/inner`.
            let limits = archive::Limits::new(self.max_size);
            let mut members = Members {
                scan: self,
                scratch,
                findings: &mut findings,
            };
            archive::expand(data, path, &limits, &mut members);
        } else if let Some(text) = archive::decode_binary_text(data) {
            self.detect(scratch, path, &text, &mut findings);
        } else {
            self.detect(scratch, path, data, &mut findings);
        }
        if findings.is_empty() {
            return;
        }
        self.findings
            .fetch_add(findings.len() as u64, Ordering::Relaxed);
        lock(&self.hits).push(Hit {
            oid,
            path: path.to_string(),
            findings,
        });
    }

    /// Detect in `data` (a blob, or a member `path!/inner` of one).
    fn detect(&self, scratch: &mut Scratch, path: &str, data: &[u8], into: &mut Vec<Finding>) {
        let detections = self.engine.scan(data, scratch);
        self.projects.observe(path, data, scratch);
        if detections.is_empty() {
            return;
        }
        let base = Location {
            source: SourceKind::Git,
            path: path.to_string(),
            ..Location::default()
        };
        into.extend(to_findings(self.engine, data, detections, &base));
    }

    /// Project evidence from a manifest that is not scanned (see `staged`).
    pub fn observe_manifest(&self, path: &str, bytes: &[u8]) {
        self.projects.observe_manifest(path, bytes);
    }

    /// The blobs that had findings: what attribution has to place.
    pub fn hit_oids(&self) -> LocalOidSet {
        lock(&self.hits).iter().map(|h| h.oid).collect()
    }

    pub fn blobs_scanned(&self) -> u64 {
        self.blobs_scanned.load(Ordering::Relaxed)
    }

    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned.load(Ordering::Relaxed)
    }

    pub fn findings_so_far(&self) -> u64 {
        self.findings.load(Ordering::Relaxed)
    }

    /// Give each finding its provenance and hand them to the collector.
    /// Returns how many there were.
    pub fn finish(&self, attribution: Attribution) -> u64 {
        let hits = std::mem::take(&mut *lock(&self.hits));
        let project = self.projects.repository_evidence();
        let mut count = 0;
        for mut hit in hits {
            crate::project::keep_with(&mut hit.findings, project.as_deref());
            let origin = attribution.get(&hit.oid);
            let blob = hit.oid.to_string();
            let findings = hit.findings.into_iter().map(|mut f| {
                let loc = &mut f.location;
                loc.blob = Some(blob.clone());
                // A member of a committed archive keeps its `!/inner` part
                // wherever attribution places the archive.
                let member = loc
                    .path
                    .strip_prefix(hit.path.as_str())
                    .filter(|rest| rest.starts_with("!/"))
                    .map(str::to_string);
                match origin {
                    Some(o) => {
                        loc.path = o.path.clone();
                        loc.commit = o.commit.clone();
                        loc.author = o.author.clone();
                        loc.date = o.date.clone();
                        loc.at_head = o.at_head;
                        loc.refs = o.refs.clone();
                    }
                    None => loc.path = hit.path.clone(),
                }
                if let Some(member) = member {
                    loc.path.push_str(&member);
                }
                f.repository = self.label.clone();
                f
            });
            let findings: Vec<Finding> = findings.collect();
            count += findings.len() as u64;
            self.out.findings(findings);
        }
        count
    }
}

/// A committed archive's members go through the same detection as blobs.
struct Members<'s, 'a> {
    scan: &'s Scan<'a>,
    scratch: &'s mut Scratch,
    findings: &'s mut Vec<Finding>,
}

impl archive::Visitor for Members<'_, '_> {
    fn member(&mut self, path: &str, data: &[u8]) {
        self.scan.detect(self.scratch, path, data, self.findings);
    }
    fn error(&mut self, path: &str, message: String) {
        self.scan.error(path, message);
    }
    fn skip(&mut self, path: &str, reason: String) {
        self.scan.skip(path, reason);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `dir/name` from a tree walk's prefix (`""` or `"dir/"`) and an entry name.
pub(crate) fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let mut s = String::with_capacity(prefix.len() + name.len());
    s.push_str(prefix);
    s.push_str(&name);
    s
}
