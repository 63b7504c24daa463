//! Bounded-memory scanning of a byte stream in overlapping windows.
//!
//! A window is `[lookback | new bytes]`. Each byte is *owned* by exactly one
//! window, and a detection is kept only by the window that owns its first
//! byte; since a window reaches at least `max_match_len` past what it owns,
//! a secret that crosses a read boundary is seen whole, and found once. The
//! lookback gives the engine the context (a `cybrid` keyword, a host) that
//! came just before.
//!
//! The keyword prefilter runs on the raw window; only the regions around its
//! hits are normalised (see `normalize`) and handed to the engine. Line
//! numbers are counted over owned bytes as they pass, so a finding's line is
//! that of the original log whatever was stripped.

use std::io::{self, Read};
use std::ops::Range;

use crate::detect::prefilter::{Hit, Prefilter};
use crate::detect::{Detection, Engine, Scratch, DEFAULT_RADIUS};
use crate::secret::redact;

use super::normalize::{normalize, Normalized};

/// New bytes read per window by default.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// Owned bytes per memory map in `scan_mapped`.
#[cfg(target_os = "linux")]
const MAP_SPAN: usize = 16 << 20;

/// Where a stream's bytes sit in the whole input, and which of them this
/// scan answers for (a big file is split into segments scanned in parallel).
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// Offset in the input of the first byte the reader yields.
    pub data_start: u64,
    /// Detections starting in `own_from..own_to` are this segment's.
    pub own_from: u64,
    /// `None`: up to the end of the stream.
    pub own_to: Option<u64>,
}

impl Segment {
    pub const WHOLE: Segment = Segment {
        data_start: 0,
        own_from: 0,
        own_to: None,
    };
}

/// A position in the input, placed relative to its segment until the
/// newlines before the segment are known.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    pub offset: u64,
    /// Newlines between the segment's start and this offset.
    pub newlines: u64,
    /// Offset of the first byte of this offset's line, when it lies in bytes this scan saw.
    pub line_start: Option<u64>,
}

/// Bytes to write over the input at `offset` (a redacted secret, or a piece of one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Patch {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// A detection found by a segment, not yet placed on a line.
#[derive(Debug)]
pub struct Pending {
    pub detection: Detection,
    pub start: Mark,
    pub end: Mark,
    pub patches: Vec<Patch>,
    /// A `cybrid-scan:allow` comment is on its line or the line before.
    pub allowed_inline: bool,
}

/// What one segment's scan produced.
#[derive(Debug, Default)]
pub struct SegmentScan {
    pub pending: Vec<Pending>,
    /// Newlines in the owned bytes.
    pub newlines: u64,
    /// Offset of the last newline in the owned bytes.
    pub last_newline: Option<u64>,
    /// Owned bytes scanned.
    pub bytes: u64,
    /// The read that ended the stream early, with the offset where it failed.
    pub failure: Option<(u64, io::Error)>,
    /// The first Cybrid host the stream names: what makes a generic client
    /// id and secret pair in the same job log Cybrid's (project context).
    pub cybrid_host: Option<String>,
}

/// The pieces a stream scan works with; one per thread.
pub struct Scanner<'e> {
    engine: &'e Engine,
    prefilter: &'e Prefilter,
    chunk: usize,
    overlap: usize,
    lookback: usize,
    patches: bool,
    scratch: Scratch,
    keyword_hits: Vec<Hit>,
    hits: Vec<(usize, usize, usize)>,
    norm: Normalized,
    buf: Vec<u8>,
}

impl<'e> Scanner<'e> {
    /// `patches`: also compute the redaction patches of each detection.
    pub fn new(engine: &'e Engine, prefilter: &'e Prefilter, chunk: usize, patches: bool) -> Self {
        let overlap = engine.max_match_len();
        Scanner {
            engine,
            prefilter,
            chunk: chunk.max(1),
            overlap,
            lookback: DEFAULT_RADIUS,
            patches,
            scratch: Scratch::default(),
            keyword_hits: Vec::new(),
            hits: Vec::new(),
            norm: Normalized::default(),
            buf: Vec::new(),
        }
    }

    /// Bytes before a segment's owned start that its reader should also yield.
    pub fn keep(&self) -> u64 {
        (self.lookback + self.overlap) as u64
    }

    /// Bytes past a segment's owned end that its reader should also yield.
    pub fn overlap(&self) -> u64 {
        self.overlap as u64
    }

    /// Scan `reader`, which yields the input from `seg.data_start` on.
    /// `size_hint` (when known) keeps small inputs from taking a full window.
    pub fn scan(
        &mut self,
        reader: &mut dyn Read,
        seg: Segment,
        size_hint: Option<u64>,
    ) -> SegmentScan {
        let mut out = SegmentScan::default();
        let cap = self.lookback + self.overlap + self.chunk;
        let cap = size_hint.map_or(cap, |h| cap.min(usize::try_from(h).unwrap_or(cap) + 1));
        // The buffer keeps its length from input to input: only bytes below
        // `filled` are ever read, so it is zero-filled once, not once per
        // input (a run's zip holds thousands of small step logs).
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < cap.max(1) {
            buf.resize(cap.max(1), 0);
        }
        let mut filled = 0usize;
        let mut win_abs = seg.data_start;
        let mut own_lo = seg.own_from;
        loop {
            if filled == buf.len() {
                // Only when the size hint was too small (a growing file).
                buf.resize(self.lookback + self.overlap + self.chunk, 0);
            }
            // Each window adds at most `chunk` new bytes to what it keeps.
            let target = (filled + self.chunk).min(buf.len());
            let ended = match fill(reader, &mut buf[..target], &mut filled) {
                Ok(eof) => eof,
                Err(e) => {
                    out.failure = Some((win_abs + filled as u64, e));
                    true
                }
            };
            let win_end = win_abs + filled as u64;
            let reached_end = seg
                .own_to
                .is_some_and(|to| win_end >= to.saturating_add(self.overlap as u64));
            let last = ended || reached_end;
            let mut own_hi = if last {
                win_end
            } else {
                win_end.saturating_sub(self.overlap as u64)
            };
            if let Some(to) = seg.own_to {
                own_hi = own_hi.min(to);
            }
            if own_hi > own_lo {
                let lo = (own_lo - win_abs) as usize;
                let hi = (own_hi - win_abs) as usize;
                self.window(&buf[..filled], win_abs, lo..hi, &mut out);
                own_lo = own_hi;
            }
            if last {
                break;
            }
            // Slide: keep the lookback before the next owned byte.
            let next_start = own_lo.saturating_sub(self.lookback as u64).max(win_abs);
            let shift = (next_start - win_abs) as usize;
            buf.copy_within(shift..filled, 0);
            filled -= shift;
            win_abs = next_start;
        }
        if buf.capacity() <= 2 * (self.lookback + self.overlap + self.chunk) {
            self.buf = buf;
        }
        out
    }

    /// Scan the bytes `seg` owns of a regular file of `len` bytes through
    /// memory maps rather than reads: no kernel copy, and the pages are read
    /// straight from the page cache. Windows are the same as `scan`'s (up to
    /// `chunk` owned bytes after a lookback), so the findings are too.
    ///
    /// `None` when maps cannot be used here; the caller reads instead.
    #[cfg(target_os = "linux")]
    pub fn scan_mapped(
        &mut self,
        file: &std::fs::File,
        seg: Segment,
        len: u64,
    ) -> Option<SegmentScan> {
        use crate::mapped::MappedRange;
        let mut out = SegmentScan::default();
        let own_end = seg.own_to.map_or(len, |to| to.min(len));
        let (lookback, overlap) = (self.lookback as u64, self.overlap as u64);
        let step = self.chunk as u64;
        // Owned bytes per map: enough windows to amortise the map, few
        // enough that its pages (counted in RSS while mapped) stay small.
        let span = (MAP_SPAN as u64).max(step);
        // Where the bytes a window owns from `at` are read from: the
        // segment's own start keeps what its reader keeps (as `scan`),
        // later windows their lookback.
        let context_from = |at: u64| {
            if at == seg.own_from {
                seg.data_start
            } else {
                at.saturating_sub(lookback)
            }
        };
        let mut own_lo = seg.own_from;
        while own_lo < own_end {
            let span_end = (own_lo + span).min(own_end);
            let map_from = context_from(own_lo);
            let map_to = (span_end + overlap).min(len);
            let map = match MappedRange::new(file, map_from, (map_to - map_from) as usize) {
                Ok(Some(map)) => map,
                // No slot or no handler: only before anything was scanned
                // can the caller still read the segment instead.
                Ok(None) if own_lo == seg.own_from => return None,
                Ok(None) => {
                    out.failure = Some((own_lo, io::Error::other("could not map the file")));
                    break;
                }
                Err(e) => {
                    out.failure = Some((own_lo, e));
                    break;
                }
            };
            #[cfg(all(feature = "fault-injection", target_os = "linux"))]
            crate::detect::fault::after_map(file);
            let data = map.bytes();
            let mut sub = own_lo;
            while sub < span_end {
                let sub_hi = (sub + step).min(span_end);
                let win_lo = context_from(sub).max(map_from);
                let win_hi = (sub_hi + overlap).min(map_to);
                let win = &data[(win_lo - map_from) as usize..(win_hi - map_from) as usize];
                self.window(
                    win,
                    win_lo,
                    (sub - win_lo) as usize..(sub_hi - win_lo) as usize,
                    &mut out,
                );
                sub = sub_hi;
            }
            if map.cut_short() {
                // Bytes up to the new end were read as they were.
                let now = file.metadata().map_or(own_lo, |m| m.len().max(own_lo));
                out.failure = Some((
                    now,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file was cut short while it was being read (truncated by another process)",
                    ),
                ));
                break;
            }
            own_lo = span_end;
        }
        Some(out)
    }

    /// Scan one window whose owned bytes are `own` (indices into `win`).
    fn window(&mut self, win: &[u8], win_abs: u64, own: Range<usize>, out: &mut SegmentScan) {
        let owned_newlines =
            self.prefilter
                .hits_and_newlines(win, own.clone(), &mut self.keyword_hits);
        self.hits.clear();
        let (prefilter, lookback) = (self.prefilter, self.lookback);
        self.hits.extend(
            self.keyword_hits
                .iter()
                .map(|h| (h.start, h.end, prefilter.radius(h, lookback))),
        );
        if out.cybrid_host.is_none() {
            if let Some(h) = self.keyword_hits.iter().find(|h| h.host) {
                out.cybrid_host = Some(crate::detect::prefilter::host_name(win, h.start, h.end));
            }
        }
        if !self.hits.is_empty() {
            let regions = regions(win, &self.hits);
            for (lo, hi) in regions {
                if hi <= own.start || lo >= own.end {
                    continue;
                }
                let at_line_start = if lo == 0 {
                    win_abs == 0
                } else {
                    win[lo - 1] == b'\n'
                };
                normalize(&win[lo..hi], at_line_start, &mut self.norm);
                let detections = self.engine.scan(&self.norm.bytes, &mut self.scratch);
                for d in detections {
                    let (s, e) = self.norm.original_span(d.start, d.end);
                    let (start, end) = (lo + s, lo + e);
                    if !own.contains(&start) {
                        continue;
                    }
                    let patches = if self.patches {
                        patches_for(&self.norm, &d, lo, win_abs)
                    } else {
                        Vec::new()
                    };
                    let mark = |at: usize| Mark {
                        offset: win_abs + at as u64,
                        newlines: out.newlines + count_newlines(&win[own.start..at.max(own.start)]),
                        line_start: memchr::memrchr(b'\n', &win[..at])
                            .map(|i| win_abs + i as u64 + 1)
                            .or(out.last_newline.map(|p| p + 1)),
                    };
                    let (start_mark, end_mark) = (mark(start), mark(end));
                    out.pending.push(Pending {
                        detection: Detection {
                            start: 0,
                            end: 0,
                            ..d
                        },
                        start: start_mark,
                        end: end_mark,
                        patches,
                        allowed_inline: crate::suppress::inline::allows(win, start, end),
                    });
                }
            }
        }
        let owned = &win[own.clone()];
        out.newlines += owned_newlines;
        if let Some(i) = memchr::memrchr(b'\n', owned) {
            out.last_newline = Some(win_abs + (own.start + i) as u64);
        }
        out.bytes += owned.len() as u64;
    }
}

/// Read until `buf` is full or the reader ends; `Ok(true)` at end of input.
fn fill(reader: &mut dyn Read, buf: &mut [u8], filled: &mut usize) -> io::Result<bool> {
    while *filled < buf.len() {
        match reader.read(&mut buf[*filled..]) {
            Ok(0) => return Ok(true),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The redacted bytes of a detection, at their original offsets: the
/// secret's text as it appears, then every occurrence of its paired
/// client_id in the same region.
fn patches_for(norm: &Normalized, d: &Detection, lo: usize, win_abs: u64) -> Vec<Patch> {
    let mut spans = vec![(d.start, d.end)];
    if let Some(id) = &d.client_id {
        let id = id.expose().as_bytes();
        if !id.is_empty() {
            spans.extend(memchr::memmem::find_iter(&norm.bytes, id).map(|at| (at, at + id.len())));
        }
    }
    let mut out = Vec::new();
    for (start, end) in spans {
        let text = String::from_utf8_lossy(&norm.bytes[start..end]);
        let mut redacted = redact(&text).into_bytes();
        if redacted.len() != end - start {
            redacted = vec![b'*'; end - start];
        }
        for (orig, at, len) in norm.original_runs(start, end) {
            out.push(Patch {
                offset: win_abs + (lo + orig) as u64,
                bytes: redacted[at - start..at - start + len].to_vec(),
            });
        }
    }
    out
}

/// Disjoint ranges around each hit (each with its radius), widened to whole
/// lines (within a bound), merged, in order.
fn regions(win: &[u8], hits: &[(usize, usize, usize)]) -> Vec<(usize, usize)> {
    const EDGE_SLACK: usize = 4096;
    let mut spans: Vec<(usize, usize)> = hits
        .iter()
        .map(|&(start, end, radius)| {
            let a = start.saturating_sub(radius);
            let floor = a.saturating_sub(EDGE_SLACK);
            let lo = memchr::memrchr(b'\n', &win[floor..a]).map_or(floor, |i| floor + i + 1);
            let b = (end + radius).min(win.len());
            let ceil = (b + EDGE_SLACK).min(win.len());
            let hi = memchr::memchr(b'\n', &win[b..ceil]).map_or(ceil, |i| b + i + 1);
            (lo, hi)
        })
        .collect();
    // Generic keywords look less far, so starts are not in hit order.
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Newlines in `bytes` (memchr counts with AVX2 where the CPU has it).
pub fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_newlines() {
        let mut v = vec![b'a'; 40_000];
        for i in (0..v.len()).step_by(7) {
            v[i] = b'\n';
        }
        let naive = v.iter().filter(|b| **b == b'\n').count() as u64;
        assert_eq!(count_newlines(&v), naive);
        assert_eq!(
            count_newlines(&v[3..39_999]),
            v[3..39_999].iter().filter(|b| **b == b'\n').count() as u64
        );
        assert_eq!(count_newlines(b""), 0);
    }
}
