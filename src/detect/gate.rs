//! Value-shape gating: a pattern runs only near text its `secret` capture
//! could match.
//!
//! Why: in a project that integrates Cybrid every file names it, so keyword
//! regions cover whole files, and two dozen patterns each made a full regex
//! pass over every byte of a regenerated SDK's history (27 GB inflated):
//! matching, not reading, became the cost of a history scan. Every pattern's
//! secret is a run of characters from a small class (base64url, hex, base64)
//! of a minimum length; such runs are rare in code, and finding them is one
//! cheap pass that mostly skips `min_len` bytes at a time.
//!
//! The gate is derived from each pattern (regex-syntax: the bytes the
//! `secret` group can match and its minimum length), so user rules get it
//! too, and it is sound: a match's secret lies inside a run, and the window
//! around the run reaches [`BACK`] bytes (widened to a line start) before it
//! and [`FORWARD`] after, more than any shipped pattern's key and separators
//! span. A pattern whose secret can hold other bytes, or is short, is not gated.

use regex_syntax::hir::{Class, Hir, HirKind};

/// How far before a run a match may start (key, separators, a paired id).
const BACK: usize = 1024;
/// A window's start is moved back to its line's start when one is this close.
const LINE_SLACK: usize = 1024;
/// How far after a run a match may end (closing quotes, braces).
const FORWARD: usize = 256;
/// Neighbouring windows merge while the result stays this short. Past it a
/// new, overlapping window starts: a window is matched as a whole (an
/// overlapping set pass, then each matching pattern's capture search), so
/// one window spanning a region dense with value-shaped runs (every line of
/// a CI log carrying a sha256) would make that whole region pay for the one
/// line that holds a credential.
const MERGE_CAP: usize = 16 * 1024;
/// Shorter secrets are not worth gating: runs that short are everywhere.
const MIN_GATED_LEN: usize = 16;

/// The shape a pattern's secret has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    class: [bool; 256],
    min_len: usize,
}

impl Gate {
    /// The gate of `pattern` (its `secret` group), if it has a useful one.
    pub fn of(pattern: &str) -> Option<Gate> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        let secret = find_group(&hir, "secret")?;
        let min_len = secret.properties().minimum_len()?;
        if min_len < MIN_GATED_LEN {
            return None;
        }
        let mut class = [false; 256];
        collect(secret, &mut class)?;
        // A class holding whitespace or most bytes gates nothing.
        if class[usize::from(b' ')]
            || class[usize::from(b'\n')]
            || class.iter().filter(|b| **b).count() > 96
        {
            return None;
        }
        Some(Gate { class, min_len })
    }

    /// The smallest gate that holds every one of `gates`: the union of their
    /// classes, the shortest of their lengths. Its runs contain every run of
    /// each of them, so one pass over a region serves them all.
    pub fn union(gates: &[Gate]) -> Option<Gate> {
        let min_len = gates.iter().map(|g| g.min_len).min()?;
        let mut class = [false; 256];
        for g in gates {
            for (b, on) in g.class.iter().enumerate() {
                class[b] |= *on;
            }
        }
        Some(Gate { class, min_len })
    }

    /// The maximal runs of class bytes in `bytes[lo..hi]` at least
    /// `min_len` long, appended to `out`. Mostly looks at one byte in
    /// `min_len`: a byte outside the class at the probe rules out every run
    /// that would cover it.
    pub fn runs(&self, bytes: &[u8], lo: usize, hi: usize, out: &mut Vec<(usize, usize)>) {
        let mut i = lo;
        // bytes[i..good] are known to be in the class.
        let mut good = lo;
        while i + self.min_len <= hi {
            let probe = i + self.min_len - 1;
            let mut j = probe + 1;
            while j > good && self.class[usize::from(bytes[j - 1])] {
                j -= 1;
            }
            if j > good {
                i = j;
                good = probe + 1;
                continue;
            }
            let mut end = probe + 1;
            while end < hi && self.class[usize::from(bytes[end])] {
                end += 1;
            }
            out.push((i, end));
            i = end + 1;
            good = i;
        }
    }

    /// The windows of `bytes[lo..hi]` where a secret of this shape can sit,
    /// merged up to [`MERGE_CAP`] (so they may overlap) and in order,
    /// appended to `out`, found inside `runs` (the runs of a gate that holds
    /// this one, such as [`Gate::union`]).
    pub fn windows_in(
        &self,
        bytes: &[u8],
        (lo, hi): (usize, usize),
        runs: &[(usize, usize)],
        out: &mut Vec<(usize, usize)>,
    ) {
        let first = out.len();
        for &(run_start, run_end) in runs {
            let mut i = run_start;
            while i < run_end {
                if !self.class[usize::from(bytes[i])] {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < run_end && self.class[usize::from(bytes[i])] {
                    i += 1;
                }
                if i - start < self.min_len {
                    continue;
                }
                let floor = start.saturating_sub(BACK).max(lo);
                let slack_floor = floor.saturating_sub(LINE_SLACK).max(lo);
                let from = memchr::memrchr(b'\n', &bytes[slack_floor..floor])
                    .map_or(floor, |p| slack_floor + p + 1);
                let to = (i + FORWARD).min(hi);
                let mergeable = out.len() > first;
                match out.last_mut() {
                    Some(last) if mergeable && from <= last.1 && to - last.0 <= MERGE_CAP => {
                        last.1 = last.1.max(to)
                    }
                    _ => out.push((from, to)),
                }
            }
        }
    }

    /// [`runs`](Self::runs) then [`windows_in`](Self::windows_in) with this
    /// gate alone.
    pub fn windows(&self, bytes: &[u8], lo: usize, hi: usize, out: &mut Vec<(usize, usize)>) {
        let mut runs = Vec::new();
        self.runs(bytes, lo, hi, &mut runs);
        self.windows_in(bytes, (lo, hi), &runs, out);
    }
}

/// The capture group named `name`, anywhere in `hir`.
fn find_group<'h>(hir: &'h Hir, name: &str) -> Option<&'h Hir> {
    match hir.kind() {
        HirKind::Capture(c) if c.name.as_deref() == Some(name) => Some(&c.sub),
        HirKind::Capture(c) => find_group(&c.sub, name),
        HirKind::Repetition(r) => find_group(&r.sub, name),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().find_map(|h| find_group(h, name))
        }
        _ => None,
    }
}

/// Mark every byte `hir` can match; `None` if that cannot be bounded
/// (a class beyond ASCII).
fn collect(hir: &Hir, class: &mut [bool; 256]) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(()),
        HirKind::Literal(lit) => {
            for b in lit.0.iter() {
                class[usize::from(*b)] = true;
            }
            Some(())
        }
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    class[usize::from(b)] = true;
                }
            }
            Some(())
        }
        HirKind::Class(Class::Unicode(c)) => {
            // `(?i)[a-z]` also matches the Kelvin sign and the long s: their
            // UTF-8 bytes join the class (rare in text, so the gate stays
            // useful). A class with many non-ASCII characters is not gated.
            let mut wide = 0u32;
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    if ch.is_ascii() {
                        class[ch as usize] = true;
                        continue;
                    }
                    wide += 1;
                    if wide > 64 {
                        return None;
                    }
                    let mut buf = [0u8; 4];
                    for b in ch.encode_utf8(&mut buf).bytes() {
                        class[usize::from(b)] = true;
                    }
                }
            }
            Some(())
        }
        HirKind::Capture(c) => collect(&c.sub, class),
        HirKind::Repetition(r) => collect(&r.sub, class),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().try_for_each(|h| collect(h, class))
        }
    }
}

/// Sort `windows` (start, end, gates as a bitmask) and merge overlapping
/// ones while a merged window stays within [`MERGE_CAP`], uniting their
/// gates. Each input window lies whole inside one output window that names
/// its gates, which is what gating needs: a match inside a gate's window is
/// inside a merged one searched with that gate's patterns.
pub fn merge(windows: &mut Vec<(usize, usize, u32)>) {
    windows.sort_unstable();
    let mut out = 0;
    for i in 0..windows.len() {
        let (from, to, gates) = windows[i];
        if out > 0 {
            let last = &mut windows[out - 1];
            if from <= last.1 && (to <= last.1 || to - last.0 <= MERGE_CAP) {
                last.1 = last.1.max(to);
                last.2 |= gates;
                continue;
            }
        }
        windows[out] = (from, to, gates);
        out += 1;
    }
    windows.truncate(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_every_window_whole_and_bounded() {
        // Dense windows (a CI log with a hash on every line), out of order,
        // some nested, plus one far away.
        let dense = 10 * MERGE_CAP / 100;
        let mut windows: Vec<(usize, usize, u32)> = (0..dense)
            .rev()
            .map(|i| (i * 100, i * 100 + 1300, 1 << (i % 3)))
            .chain([(500, 600, 8), (dense * 200, dense * 200 + 100, 16)])
            .collect();
        let inputs = windows.clone();
        merge(&mut windows);
        for w in &inputs {
            assert!(
                windows
                    .iter()
                    .any(|m| m.0 <= w.0 && w.1 <= m.1 && m.2 & w.2 == w.2),
                "{w:?} split across merged windows, or its gate lost"
            );
        }
        assert!(windows.windows(2).all(|p| p[0].0 < p[1].0));
        assert!(windows.iter().all(|m| m.1 - m.0 <= MERGE_CAP));
        assert!(
            windows.len() >= 10 && windows.len() < 30,
            "{}",
            windows.len()
        );
        assert_eq!(windows.last(), Some(&(dense * 200, dense * 200 + 100, 16)));
    }

    #[test]
    fn gates_come_from_the_secret_group() {
        // (?i) folds k and s into two non-ASCII letters: their UTF-8 bytes join.
        let g = Gate::of(r"(?i)key\s*=\s*(?P<secret>[a-z0-9_\-]{40,43})").expect("gated");
        assert!(g.class[0xe2] && g.class[0x84] && g.class[0xaa]);
        assert_eq!(g.min_len, 40);
        assert!(
            g.class[usize::from(b'A')] && g.class[usize::from(b'_')] && g.class[usize::from(b'-')]
        );
        assert!(!g.class[usize::from(b'"')] && !g.class[usize::from(b'.')]);
        let hex = Gate::of(r"id = (?P<secret>(?-i:[0-9a-f]{32}))").expect("gated");
        assert_eq!(hex.min_len, 32);
        assert!(!hex.class[usize::from(b'g')]);
        // short, or able to hold any byte, or no secret group: not gated
        assert_eq!(Gate::of(r"(?P<secret>[a-z]{4})"), None);
        assert_eq!(Gate::of(r"(?P<secret>.{40})"), None);
        assert_eq!(Gate::of(r"(?P<secret>[^\n]{40})"), None);
        assert_eq!(Gate::of(r"(?P<other>[a-z]{40})"), None);
    }

    #[test]
    fn windows_surround_long_enough_runs_only() {
        let mut class = [false; 256];
        for b in b'a'..=b'z' {
            class[usize::from(b)] = true;
        }
        let g = Gate { class, min_len: 8 };
        let mut text = vec![b' '; 5000];
        text[3000..3010].copy_from_slice(b"abcdefghij");
        text[100..107].copy_from_slice(b"abcdefg");
        text[1500] = b'\n';
        let mut out = Vec::new();
        g.windows(&text, 0, text.len(), &mut out);
        // one run (the 7-letter one is too short); the window starts at the line
        // start within reach before it and ends FORWARD after it
        assert_eq!(out, vec![(1501, 3010 + FORWARD)]);
        // a run exactly min_len long at the region's end counts
        let mut out = Vec::new();
        g.windows(&text, 2500, 3010, &mut out);
        assert_eq!(out, vec![(2500, 3010)]);
        // shorter than the region: nothing
        let mut out = Vec::new();
        g.windows(&text, 3003, 3010, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn windows_found_through_the_union_are_the_gates_own() {
        let base64url = Gate::of(r"(?P<secret>[A-Za-z0-9_\-]{40,43})").expect("gated");
        let hex = Gate::of(r"(?P<secret>[0-9a-f]{32})").expect("gated");
        let b64 = Gate::of(r"(?P<secret>[A-Za-z0-9+/]{54,58}={0,2})").expect("gated");
        let gates = [base64url, hex, b64];
        let union = Gate::union(&gates).expect("union");
        assert_eq!(union.min_len, 32);
        let mut text = Vec::new();
        let mut x = 99u32;
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let r = (x >> 16) % 1000;
            text.push(match r {
                0..=9 => b' ',
                10..=12 => b'\n',
                13..=15 => b'/',
                16..=18 => b'+',
                19..=21 => b'_',
                _ => b"0123456789abcdefABCXYZ"[(r % 22) as usize],
            });
        }
        // Runs of each gate's own shape, planted among the random ones.
        for (at, plant) in [
            (5_000, &b"0123456789abcdef0123456789abcdef01234567"[..]),
            (
                50_000,
                &b"Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/=="[..],
            ),
            (120_000, &b"aB3_-xYz09aB3_-xYz09aB3_-xYz09aB3_-xYz09aB3"[..]),
        ] {
            text[at - 1] = b' ';
            text[at..at + plant.len()].copy_from_slice(plant);
            text[at + plant.len()] = b' ';
        }
        let mut runs = Vec::new();
        union.runs(&text, 100, text.len() - 100, &mut runs);
        assert!(runs.len() > 10);
        for g in &gates {
            let mut alone = Vec::new();
            g.windows(&text, 100, text.len() - 100, &mut alone);
            let mut shared = Vec::new();
            g.windows_in(&text, (100, text.len() - 100), &runs, &mut shared);
            assert!(!alone.is_empty());
            assert_eq!(alone, shared);
        }
    }

    #[test]
    fn finds_every_run_like_a_plain_scan() {
        // Compare the skipping scan with a byte-by-byte one on varied text.
        let g = Gate::of(r"(?P<secret>[A-Za-z0-9_\-]{20,})").expect("gated");
        let mut text = Vec::new();
        let mut x = 12345u32;
        for _ in 0..20000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let r = (x >> 16) % 100;
            text.push(match r {
                0..=3 => b' ',
                4 => b'\n',
                5 => b'"',
                _ => b"abcXYZ019_-"[(r % 11) as usize],
            });
        }
        let mut runs = Vec::new();
        let mut s = None;
        for (i, b) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
            let inside = g.class[usize::from(*b)] && i < text.len();
            match (inside, s) {
                (true, None) => s = Some(i),
                (false, Some(st)) => {
                    if i - st >= 20 {
                        runs.push((st, i));
                    }
                    s = None;
                }
                _ => {}
            }
        }
        assert!(!runs.is_empty());
        let mut out = Vec::new();
        g.windows(&text, 0, text.len(), &mut out);
        for (st, en) in runs {
            assert!(
                out.iter()
                    .any(|(lo, hi)| *lo <= st.saturating_sub(BACK) && en <= *hi),
                "run {st}..{en} not covered"
            );
        }
    }
}
