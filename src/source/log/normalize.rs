//! Log normalisation: what a CI log adds around the text a job printed
//! (ANSI escape sequences, GitHub Actions and GitLab timestamps, GitLab
//! section markers, `\r` rewrites) is removed before matching, so a secret
//! split by a colour code is still one run of characters. Every kept byte
//! remembers where it came from, so findings keep the original line, column
//! and byte span (redaction rewrites exactly those bytes).
//!
//! Only the regions around keyword hits are normalised: most of a log has no
//! keyword and is never copied.

use memchr::memmem;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
/// Longest escape sequence stripped; a longer run is malformed and left as text.
const MAX_ESCAPE: usize = 256;
const BOM: &[u8] = "\u{feff}".as_bytes();

/// A normalised copy of a region plus the map back to the region's bytes.
#[derive(Debug, Default)]
pub struct Normalized {
    pub bytes: Vec<u8>,
    /// Start of each run of kept bytes: (offset in `bytes`, offset in the original).
    runs: Vec<(usize, usize)>,
}

impl Normalized {
    /// Offset in the original region of normalised byte `at` (`at < bytes.len()`).
    pub fn original(&self, at: usize) -> usize {
        let i = self
            .runs
            .partition_point(|(n, _)| *n <= at)
            .saturating_sub(1);
        match self.runs.get(i) {
            Some((n, o)) => o + (at - n),
            None => at,
        }
    }

    /// Original span of the normalised span `start..end` (`start < end`).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.original(start), self.original(end - 1) + 1)
    }

    /// The original offsets of a normalised span as contiguous runs
    /// `(original start, normalised start, len)`: a secret split by an escape
    /// sequence is two runs.
    pub fn original_runs(&self, start: usize, end: usize) -> Vec<(usize, usize, usize)> {
        let mut out: Vec<(usize, usize, usize)> = Vec::new();
        let mut at = start;
        while at < end {
            let i = self
                .runs
                .partition_point(|(n, _)| *n <= at)
                .saturating_sub(1);
            let next = self.runs.get(i + 1).map_or(usize::MAX, |(n, _)| *n);
            let stop = end.min(next);
            out.push((self.original(at), at, stop - at));
            at = stop;
        }
        out
    }
}

/// One edit of the original: drop `start..end`, writing `with` in its place.
#[derive(Debug, Clone, Copy)]
struct Edit {
    start: usize,
    end: usize,
    with: Option<u8>,
}

/// Normalise `region`; `at_line_start` says whether its first byte starts a
/// line (only then can it carry a timestamp prefix).
pub fn normalize(region: &[u8], at_line_start: bool, out: &mut Normalized) {
    let mut edits = Vec::new();
    line_prefixes(region, at_line_start, &mut edits);
    escapes(region, &mut edits);
    section_markers(region, &mut edits);
    carriage_returns(region, &mut edits);
    edits.sort_by_key(|e| (e.start, std::cmp::Reverse(e.end)));

    out.bytes.clear();
    out.runs.clear();
    let mut at = 0;
    for e in edits {
        if e.start < at {
            // Inside an edit already applied (a marker's `\r`, an escape in a marker).
            continue;
        }
        keep(region, at, e.start, out);
        if let Some(b) = e.with {
            out.runs.push((out.bytes.len(), e.start));
            out.bytes.push(b);
        }
        at = e.end;
    }
    keep(region, at, region.len(), out);
}

fn keep(region: &[u8], from: usize, to: usize, out: &mut Normalized) {
    if from < to {
        out.runs.push((out.bytes.len(), from));
        out.bytes.extend_from_slice(&region[from..to]);
    }
}

/// A BOM and a timestamp at the start of each line: GitHub Actions
/// (`2024-05-01T10:00:00.1234567Z `) and GitLab (`2024-05-01T10:00:00.123456Z 00O+ `).
fn line_prefixes(region: &[u8], at_line_start: bool, edits: &mut Vec<Edit>) {
    let starts = at_line_start
        .then_some(0)
        .into_iter()
        .chain(memchr::memchr_iter(b'\n', region).map(|i| i + 1));
    for start in starts {
        let mut end = start;
        if region[start..].starts_with(BOM) {
            end += BOM.len();
        }
        if let Some(len) = timestamp_len(&region[end..]) {
            end += len;
            end += gitlab_stream_len(&region[end..]);
        }
        if end > start {
            edits.push(Edit {
                start,
                end,
                with: None,
            });
        }
    }
}

/// Length of `YYYY-MM-DDTHH:MM:SS[.fraction]Z ` at the start of `s`.
fn timestamp_len(s: &[u8]) -> Option<usize> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    if s.len() < SHAPE.len() + 2 {
        return None;
    }
    for (c, want) in s.iter().zip(SHAPE) {
        let ok = match want {
            b'd' => c.is_ascii_digit(),
            w => c == w,
        };
        if !ok {
            return None;
        }
    }
    let mut i = SHAPE.len();
    if s.get(i) == Some(&b'.') {
        i += 1;
        let digits = s[i..]
            .iter()
            .take(12)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        i += digits;
    }
    if s.get(i) != Some(&b'Z') || s.get(i + 1) != Some(&b' ') {
        return None;
    }
    Some(i + 2)
}

/// GitLab's stream tag after its timestamp: two hex digits, `O` or `E`, an
/// optional `+` (continuation), a space.
fn gitlab_stream_len(s: &[u8]) -> usize {
    let ok = s.len() >= 4
        && s[0].is_ascii_hexdigit()
        && s[1].is_ascii_hexdigit()
        && matches!(s[2], b'O' | b'E');
    if !ok {
        return 0;
    }
    let plus = usize::from(s[3] == b'+');
    if s.get(3 + plus) == Some(&b' ') {
        4 + plus
    } else {
        0
    }
}

/// ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ESC \`),
/// charset selection (`ESC ( B`) and two-byte escapes.
fn escapes(region: &[u8], edits: &mut Vec<Edit>) {
    for start in memchr::memchr_iter(ESC, region) {
        if let Some(len) = escape_len(&region[start..]) {
            edits.push(Edit {
                start,
                end: start + len,
                with: None,
            });
        }
    }
}

fn escape_len(s: &[u8]) -> Option<usize> {
    let kind = *s.get(1)?;
    let limit = s.len().min(MAX_ESCAPE);
    match kind {
        b'[' => {
            // Parameters and intermediates, then one final byte in @..~.
            let mut i = 2;
            while i < limit && (0x20..=0x3f).contains(&s[i]) {
                i += 1;
            }
            (i < limit && (0x40..=0x7e).contains(&s[i])).then_some(i + 1)
        }
        b']' | b'P' | b'_' | b'^' => {
            let mut i = 2;
            while i < limit {
                match s[i] {
                    BEL => return Some(i + 1),
                    ESC if s.get(i + 1) == Some(&b'\\') => return Some(i + 2),
                    b'\n' => return None,
                    _ => i += 1,
                }
            }
            None
        }
        b'(' | b')' | b'*' | b'+' | b'#' | b'%' => s.get(2).map(|_| 3),
        0x40..=0x7e => Some(2),
        _ => None,
    }
}

/// GitLab CI collapsible-section markers:
/// `section_start:1714557600:step_script[collapsed=true]\r` (the `ESC[0K`
/// around them goes with the escapes).
fn section_markers(region: &[u8], edits: &mut Vec<Edit>) {
    for start in memmem::find_iter(region, b"section_") {
        if let Some(len) = section_marker_len(&region[start..]) {
            edits.push(Edit {
                start,
                end: start + len,
                with: None,
            });
        }
    }
}

fn section_marker_len(s: &[u8]) -> Option<usize> {
    let mut i = if s.starts_with(b"section_start:") {
        14
    } else if s.starts_with(b"section_end:") {
        12
    } else {
        return None;
    };
    let digits = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || s.get(i + digits) != Some(&b':') {
        return None;
    }
    i += digits + 1;
    let name = s[i..]
        .iter()
        .take(256)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        .count();
    if name == 0 {
        return None;
    }
    i += name;
    if s.get(i) == Some(&b'[') {
        let close = s[i..].iter().take(256).position(|c| *c == b']')?;
        i += close + 1;
    }
    if s.get(i) == Some(&b'\r') {
        i += 1;
    }
    Some(i)
}

/// `\r\n` becomes `\n`; a lone `\r` (a progress line redrawn) ends a line,
/// so each redraw is matched as its own line and nothing printed is lost.
fn carriage_returns(region: &[u8], edits: &mut Vec<Edit>) {
    for at in memchr::memchr_iter(b'\r', region) {
        let crlf = region.get(at + 1) == Some(&b'\n');
        edits.push(Edit {
            start: at,
            end: at + 1,
            with: (!crlf).then_some(b'\n'),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &[u8]) -> Normalized {
        let mut n = Normalized::default();
        normalize(s, true, &mut n);
        n
    }

    #[test]
    fn strips_ansi_and_maps_back() {
        let s = b"key=\x1b[32mAbCd\x1b[0;1mEfGh\x1b[0m end";
        let n = norm(s);
        assert_eq!(n.bytes, b"key=AbCdEfGh end");
        let at = 4; // 'A'
        assert_eq!(n.original(at), 9);
        assert_eq!(&s[n.original(8)..n.original(8) + 1], b"E");
        let (a, b) = n.original_span(4, 12);
        assert_eq!((a, b), (9, 23));
        let runs = n.original_runs(4, 12);
        assert_eq!(runs, vec![(9, 4, 4), (19, 8, 4)]);
    }

    #[test]
    fn strips_github_and_gitlab_prefixes() {
        let s = "\u{feff}2024-05-01T10:00:00.1234567Z one\n2024-05-01T10:00:01.1234567Z two\r\n2024-05-01T10:00:02.123456Z 00O+ three\nnot 2024-05-01T10:00:00Z inline\n";
        let n = norm(s.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&n.bytes),
            "one\ntwo\nthree\nnot 2024-05-01T10:00:00Z inline\n"
        );
    }

    #[test]
    fn strips_gitlab_sections_and_lone_cr() {
        let s = b"\x1b[0Ksection_start:1714557600:step_script[collapsed=true]\r\x1b[0K\x1b[36;1m$ env\x1b[0;m\n10%\r50%\rdone\n\x1b[0Ksection_end:1714557601:step_script\r\x1b[0K\n";
        let n = norm(s);
        assert_eq!(
            String::from_utf8_lossy(&n.bytes),
            "$ env\n10%\n50%\ndone\n\n"
        );
    }

    #[test]
    fn malformed_escapes_and_timestamps_are_text() {
        let s = b"a\x1b[12;\n2024-05-01T10:00:00.Z x\n\x1b";
        let n = norm(s);
        assert_eq!(n.bytes, s.to_vec());
        assert_eq!(n.original(3), 3);
    }

    #[test]
    fn timestamp_only_at_true_line_start() {
        let mut n = Normalized::default();
        normalize(b"2024-05-01T10:00:00Z x", false, &mut n);
        assert_eq!(n.bytes, b"2024-05-01T10:00:00Z x");
    }
}
