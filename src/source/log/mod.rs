//! Log sources: CI logs and other large text streams, plain or gzip (told by
//! magic bytes), zip archives of per-step logs, files, directories or
//! standard input. Inputs are scanned in parallel and a big plain file is
//! split across cores; every stream is read in bounded windows (`stream`),
//! normalised only around keyword hits (`normalize`), and can be rewritten
//! with its findings redacted (`redact`).

pub mod input;
pub mod normalize;
pub mod redact;
pub mod stream;
pub mod zipentry;

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use flate2::bufread::MultiGzDecoder;
use rayon::prelude::*;

use crate::collect::Collector;
use crate::detect::prefilter::Prefilter;
use crate::detect::Engine;
use crate::finding::{Finding, Fingerprint, Location, SourceKind, Verification};

use input::{Capped, Input, Kind};
use stream::{Mark, Patch, Pending, Scanner, Segment, SegmentScan};

/// Default for `--max-decompressed-size`.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 64 << 30;

/// A plain file at least this big is split into segments scanned in parallel.
const SPLIT_MIN: u64 = 32 << 20;
/// A plain file at least this big is read through memory maps (unless
/// `--no-mmap`): below it, a few reads cost less than setting up maps.
const MAP_MIN: u64 = 4 << 20;
/// Compressed bytes buffered ahead of the inflater.
const COMPRESSED_BUFFER: usize = 256 << 10;

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub threads: usize,
    /// New bytes per window (tests force small windows to cross boundaries).
    pub chunk: usize,
    /// Per input: decompression stops after this many bytes, and says so.
    pub max_decompressed: u64,
    /// Skip inputs whose size on disk is larger (only when asked for: logs stream).
    pub max_file_size: Option<u64>,
    /// Rewrite each input with its findings redacted.
    pub redact: Option<redact::RedactOptions>,
    /// With a datastore: regular files whose bytes it has already scanned
    /// are hashed, not scanned.
    pub known: Option<std::sync::Arc<crate::source::known::KnownContent>>,
    /// Read big plain files through memory maps (`--no-mmap` turns it off).
    pub mmap: bool,
}

/// The hex SHA-256 of a file's bytes, read in 1 MiB blocks.
fn hash_file(file: &mut File) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(h.finalize()))
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            threads: 1,
            chunk: stream::DEFAULT_CHUNK,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
            max_file_size: None,
            redact: None,
            known: None,
            mmap: true,
        }
    }
}

/// Scan every input into `out`; returns notes for the report (inputs read
/// in an unexpected way, files rewritten).
pub fn scan_logs(
    args: &[PathBuf],
    opts: &LogOptions,
    engine: &Engine,
    out: &Collector,
) -> Vec<String> {
    let inputs = input::expand(
        args,
        |path, msg| out.input_failed(path, msg),
        |path, msg| out.error(path, msg),
        |path, why| out.skip(path, why),
    );
    // The engine's own prefilter: compiling a second copy costs every run.
    let prefilter = engine.prefilter();
    let notes = Mutex::new(Vec::new());
    let job = Job {
        opts,
        engine,
        prefilter,
        out,
        notes: &notes,
    };
    inputs.par_iter().for_each(|input| job.input(input));
    let mut notes = notes.into_inner().unwrap_or_else(|e| e.into_inner());
    notes.sort();
    notes
}

struct Job<'a> {
    opts: &'a LogOptions,
    engine: &'a Engine,
    prefilter: &'a Prefilter,
    out: &'a Collector,
    notes: &'a Mutex<Vec<String>>,
}

/// Where a stream's findings go: the input, and the archive entry if any.
struct Origin<'a> {
    path: &'a str,
    entry: Option<&'a str>,
}

impl Job<'_> {
    fn note(&self, note: String) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(note);
    }

    fn scanner(&self) -> Scanner<'_> {
        Scanner::new(
            self.engine,
            self.prefilter,
            self.opts.chunk,
            self.opts.redact.is_some(),
        )
    }

    fn input(&self, input: &Input) {
        let shown = input.shown();
        let scans = match input {
            Input::Stdin => {
                if self.opts.redact.is_some() {
                    return self.out.error(
                        shown,
                        "--redact-in-place needs files; standard input cannot be rewritten",
                    );
                }
                match stdin_file() {
                    // Redirected from a regular file (`logs - < FILE`): read
                    // it as that file, split and mapped, not as a pipe.
                    Some(path) => self.path(&path, shown),
                    None => self.stream(shown, Box::new(io::stdin()), None),
                }
            }
            Input::Path { path, .. } => self.path(path, shown),
        };
        let Some((kind, scans)) = scans else {
            return;
        };
        let failed = scans.iter().any(|s| s.failure.is_some());
        let patches = self.finish(
            Origin {
                path: shown,
                entry: None,
            },
            kind == Kind::Gzip,
            scans,
        );
        if let (Some(redact), Input::Path { path, .. }) = (&self.opts.redact, input) {
            if failed {
                self.out.error(
                    shown,
                    "not rewritten: it could not be read whole (see the error above)",
                );
            } else if !patches.is_empty() {
                match redact::rewrite(path, kind == Kind::Gzip, patches, redact) {
                    Ok(done) => {
                        if let Some(bak) = &done.backup {
                            // Said even under -q: a plaintext copy of the secrets now sits beside the log.
                            eprintln!(
                                "cybrid-scan: warning: {} holds the original log, secrets in plaintext (mode 0600); delete it once the redaction is checked",
                                crate::report::escape_for_terminal(&bak.display().to_string())
                            );
                        }
                        self.note(done.describe(shown))
                    }
                    Err(e) => self.out.error(shown, format!("not rewritten: {e}")),
                }
            }
        }
    }

    /// Scan a named path; `None` when it was not scanned (already reported).
    fn path(&self, path: &Path, shown: &str) -> Option<(Kind, Vec<SegmentScan>)> {
        let mut file = input::open(path)
            .map_err(|e| self.out.error(shown, e))
            .ok()?;
        let md = file
            .metadata()
            .map_err(|e| self.out.error(shown, format!("cannot stat: {e}")))
            .ok()?;
        if md.is_dir() {
            self.out.error(shown, "is a directory");
            return None;
        }
        let regular = md.is_file();
        if let Some(max) = self.opts.max_file_size.filter(|_| regular) {
            if md.len() > max {
                self.out.skip(
                    shown,
                    format!("larger than --max-file-size ({} > {max} bytes)", md.len()),
                );
                return None;
            }
        }
        if self.opts.redact.is_some() && !regular {
            self.out.error(
                shown,
                "--redact-in-place needs a regular file; this is not one",
            );
            return None;
        }
        if !regular {
            // A FIFO, /dev/stdin, a character device: one pass, as a stream.
            return self.stream(shown, Box::new(file), None);
        }
        if let Some(known) = &self.opts.known {
            let digest = hash_file(&mut file)
                .map_err(|e| self.out.error(shown, format!("cannot read: {e}")))
                .ok()?;
            if known.check(shown, digest, md.len()) {
                return None;
            }
            file.seek(SeekFrom::Start(0))
                .map_err(|e| self.out.error(shown, format!("cannot read: {e}")))
                .ok()?;
        }
        let magic = input::read_magic(&mut file)
            .map_err(|e| self.out.error(shown, format!("cannot read: {e}")))
            .ok()?;
        let kind = input::kind_of(&magic);
        match kind {
            Kind::Plain => {
                if has_gz_name(path) {
                    self.note(format!(
                        "{shown}: named like a gzip file but not gzip-compressed; scanned as plain text"
                    ));
                }
                Some((kind, self.plain_file(path, md.len())))
            }
            Kind::Zip => {
                if self.opts.redact.is_some() {
                    self.out.error(
                        shown,
                        "--redact-in-place cannot rewrite inside a zip archive; extract it, redact the files, zip them again",
                    );
                    return None;
                }
                self.zip(file, shown);
                None
            }
            Kind::Gzip | Kind::Unsupported(_) => {
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| self.out.error(shown, format!("cannot read: {e}")))
                    .ok()?;
                self.stream(shown, Box::new(file), Some(md.len()))
            }
        }
    }

    /// A plain regular file: split across cores when big enough.
    fn plain_file(&self, path: &Path, size: u64) -> Vec<SegmentScan> {
        let parts = if self.opts.threads > 1 && size >= SPLIT_MIN {
            let per = size
                .div_ceil(self.opts.threads as u64 * 4)
                .max(SPLIT_MIN / 2);
            size.div_ceil(per)
        } else {
            1
        };
        let per = size.div_ceil(parts.max(1)).max(1);
        let mapped = self.opts.mmap && size >= MAP_MIN;
        #[cfg(not(target_os = "linux"))]
        let _ = mapped;
        let probe = self.scanner();
        let (keep, overlap) = (probe.keep(), probe.overlap());
        drop(probe);
        let segments: Vec<Segment> = (0..parts.max(1))
            .map(|k| {
                let own_from = k * per;
                Segment {
                    data_start: own_from.saturating_sub(keep),
                    own_from,
                    own_to: (k + 1 < parts).then_some((k + 1) * per),
                }
            })
            .collect();
        // One scanner per worker thread, reused from segment to segment: its
        // window buffer (over a MB) is faulted in and zeroed once per thread,
        // not once per segment.
        segments
            .par_iter()
            .map_init(
                || self.scanner(),
                |scanner, seg| {
                    let opened = File::open(path);
                    #[cfg(target_os = "linux")]
                    if let (true, Ok(f)) = (mapped, &opened) {
                        if let Some(scan) = scanner.scan_mapped(f, *seg, size) {
                            return scan;
                        }
                    }
                    let opened = opened.and_then(|mut f| {
                        f.seek(SeekFrom::Start(seg.data_start))?;
                        Ok(f)
                    });
                    match opened {
                        Ok(f) => {
                            let limit = seg
                                .own_to
                                .map_or(u64::MAX, |to| to + overlap - seg.data_start);
                            let hint = size.saturating_sub(seg.data_start).min(limit);
                            scanner.scan(&mut f.take(limit), *seg, Some(hint))
                        }
                        Err(e) => SegmentScan {
                            failure: Some((seg.own_from, e)),
                            ..SegmentScan::default()
                        },
                    }
                },
            )
            .collect()
    }

    /// Any non-seekable or compressed input, read once from its start.
    fn stream(
        &self,
        shown: &str,
        mut source: Box<dyn Read + Send>,
        size_hint: Option<u64>,
    ) -> Option<(Kind, Vec<SegmentScan>)> {
        let magic = input::read_magic(&mut source)
            .map_err(|e| self.out.error(shown, format!("cannot read: {e}")))
            .ok()?;
        let kind = input::kind_of(&magic);
        let source = Cursor::new(magic).chain(source);
        let mut scanner = self.scanner();
        let scan = match kind {
            Kind::Plain => scanner.scan(&mut { source }, Segment::WHOLE, size_hint),
            Kind::Gzip => std::thread::scope(|s| {
                let decoder =
                    MultiGzDecoder::new(BufReader::with_capacity(COMPRESSED_BUFFER, source));
                let mut pipe = input::pipe(s, Capped::new(decoder, self.opts.max_decompressed));
                scanner.scan(&mut pipe, Segment::WHOLE, None)
            }),
            Kind::Zip => {
                self.out.error(
                    shown,
                    "a zip archive can only be read from a file (zip needs to seek); pass its path",
                );
                return None;
            }
            Kind::Unsupported(what) => {
                self.out.error(
                    shown,
                    format!("{what}-compressed input is not supported; decompress it and pipe it in: e.g. `{what} -dc FILE | cybrid-scan logs -`"),
                );
                return None;
            }
        };
        Some((kind, vec![scan]))
    }

    /// A zip archive of logs (GitHub Actions' download): entry by entry.
    fn zip(&self, file: File, shown: &str) {
        let mut archive = match zip::ZipArchive::new(BufReader::new(file)) {
            Ok(a) => a,
            Err(e) => {
                return self
                    .out
                    .error(shown, format!("unreadable zip archive: {e}"))
            }
        };
        let mut budget = self.opts.max_decompressed;
        let mut scanner = self.scanner();
        let mut whole = zipentry::WholeInflater::default();
        for i in 0..archive.len() {
            let inflated = whole.entry(&mut archive, i, budget);
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    self.out
                        .error(shown, format!("zip entry #{i} cannot be read: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().to_string();
            let at = format!("{shown}!{name}");
            if budget == 0 {
                self.out
                    .error(at, input::cap_error(self.opts.max_decompressed).to_string());
                break;
            }
            let source = zipentry::EntryReader::new(inflated, &mut entry);
            let mut reader = match input::decode(source) {
                Ok((_, r)) => r,
                Err(e) => {
                    self.out.error(at, format!("cannot read: {e}"));
                    continue;
                }
            };
            let mut capped = Capped::new(&mut reader, budget);
            let scan = scanner.scan(&mut capped, Segment::WHOLE, None);
            budget = budget.saturating_sub(scan.bytes);
            self.finish(
                Origin {
                    path: shown,
                    entry: Some(&name),
                },
                true,
                vec![scan],
            );
        }
    }

    /// Place the segments' detections on lines, hand findings and errors to
    /// the collector, and return the redaction patches in input order.
    fn finish(&self, origin: Origin<'_>, compressed: bool, scans: Vec<SegmentScan>) -> Vec<Patch> {
        let mut newlines = 0u64;
        let mut last_newline: Option<u64> = None;
        let mut bytes = 0u64;
        let mut findings = Vec::new();
        let mut patches = Vec::new();
        let shown = match origin.entry {
            Some(e) => format!("{}!{e}", origin.path),
            None => origin.path.to_string(),
        };
        // A generic pair is Cybrid's when the same job log names a Cybrid host.
        let host = scans.iter().find_map(|s| s.cybrid_host.clone());
        let mut failed = false;
        for scan in scans {
            for mut p in scan.pending {
                if !settle_project(&mut p, host.as_deref()) {
                    continue;
                }
                findings.push(self.finding(&origin, p.start, p.end, newlines, last_newline, &p));
                patches.extend(p.patches);
            }
            // One error per input: the first place its reading failed (the
            // segments after it fail at the same cut).
            if let Some((at, e)) = scan.failure.filter(|_| !failed) {
                failed = true;
                let message = if e.kind() == io::ErrorKind::FileTooLarge {
                    e.to_string()
                } else if compressed {
                    format!("compressed data damaged or truncated after {at} decompressed bytes ({e}); findings before that point are reported")
                } else {
                    format!("read failed after {at} bytes ({e}); findings before that point are reported")
                };
                self.out.error(shown.clone(), message);
            }
            newlines += scan.newlines;
            last_newline = scan.last_newline.or(last_newline);
            bytes += scan.bytes;
        }
        self.out.scanned(bytes);
        // A last line without its newline is a line too.
        let unterminated = last_newline.map_or(bytes > 0, |at| at + 1 < bytes);
        self.out.lines_read(newlines + u64::from(unterminated));
        self.out.findings(findings);
        patches.sort();
        patches
    }

    fn finding(
        &self,
        origin: &Origin<'_>,
        start: Mark,
        end: Mark,
        newlines: u64,
        last_newline: Option<u64>,
        p: &Pending,
    ) -> Finding {
        let base = Location {
            source: SourceKind::Log,
            path: origin.path.to_string(),
            entry: origin.entry.map(str::to_string),
            ..Location::default()
        };
        place_finding(self.engine, base, start, end, (newlines, last_newline), p)
    }
}

/// A detection placed on its line: `before` is (newlines, offset of the last
/// newline) in the input ahead of the scan that found it.
fn place_finding(
    engine: &Engine,
    mut location: Location,
    start: Mark,
    end: Mark,
    before: (u64, Option<u64>),
    p: &Pending,
) -> Finding {
    let (newlines, last_newline) = before;
    let place = |m: Mark| {
        let line = newlines + m.newlines + 1;
        let line_start = m.line_start.or(last_newline.map(|n| n + 1)).unwrap_or(0);
        (line, m.offset - line_start + 1)
    };
    (location.line, location.column) = place(start);
    (location.end_line, location.end_column) = place(end);
    let d = &p.detection;
    location.context = d.context.clone();
    let rule_id = engine.rules()[d.rule].id.clone();
    Finding {
        fingerprint: Fingerprint::of(&rule_id, &d.secret),
        rule_id,
        secret: d.secret.clone(),
        client_id: d.client_id.clone(),
        confidence: d.confidence,
        location,
        verification: Verification::default(),
        token: d.token.clone(),
        environment_hint: d.environment_hint.map(str::to_string),
        repository: None,
        allowed_inline: p.allowed_inline,
        triage: None,
    }
}

/// A generic pair waiting for project evidence is Cybrid's when the same
/// job log names a Cybrid host (`host`): say so, or tell the caller to drop it.
fn settle_project(p: &mut Pending, host: Option<&str>) -> bool {
    let Some(c) = p.detection.context.as_mut().filter(|c| c.awaits_project()) else {
        return true;
    };
    match host {
        Some(h) => {
            c.via = Some(crate::finding::Via::Project);
            c.evidence = format!("the same log names the Cybrid host {h}");
            true
        }
        None => false,
    }
}

/// What one stream fed through [`scan_stream`] gave.
#[derive(Debug, Default)]
pub struct StreamResult {
    pub findings: Vec<Finding>,
    /// Bytes scanned.
    pub bytes: u64,
    /// Lines in the stream (a last line without a newline counts).
    pub lines: u64,
    /// Why the stream ended early; the findings before that point are kept.
    pub failure: Option<io::Error>,
}

/// Scan one stream through the log pipeline (normalisation, windows, every
/// rule) and place its findings at `base`, line and column filled in. The
/// `ci` source feeds each fetched log (a zip entry, a job trace) through here.
pub fn scan_stream(
    engine: &Engine,
    scanner: &mut Scanner<'_>,
    reader: &mut dyn Read,
    base: &Location,
) -> StreamResult {
    let scan = scanner.scan(reader, Segment::WHOLE, None);
    let host = scan.cybrid_host.clone();
    let findings = scan
        .pending
        .into_iter()
        .filter_map(|mut p| settle_project(&mut p, host.as_deref()).then_some(p))
        .map(|p| place_finding(engine, base.clone(), p.start, p.end, (0, None), &p))
        .collect();
    let trailing = scan
        .last_newline
        .map_or(scan.bytes > 0, |n| n + 1 < scan.bytes);
    StreamResult {
        findings,
        bytes: scan.bytes,
        lines: scan.newlines + u64::from(trailing),
        failure: scan.failure.map(|(_, e)| e),
    }
}

/// A path that reopens standard input from its start, when standard input
/// is a regular file not yet read from (Linux: `/proc/self/fd/0`).
fn stdin_file() -> Option<std::path::PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = io::stdin().as_raw_fd();
        // SAFETY: fstat and lseek on our own standard input, with a zeroed stat buffer.
        let (regular, at_start) = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let regular =
                libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
            (regular, libc::lseek(fd, 0, libc::SEEK_CUR) == 0)
        };
        let path = std::path::PathBuf::from(format!("/proc/self/fd/{fd}"));
        if regular && at_start && File::open(&path).is_ok() {
            return Some(path);
        }
    }
    None
}

fn has_gz_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("tgz"))
}
