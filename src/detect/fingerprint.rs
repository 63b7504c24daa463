//! A SIMD superset test for "a keyword may start here", Teddy-style: each
//! keyword's first three bytes (both cases where it is case-insensitive)
//! set one bucket bit in a table per byte position and nibble, and a
//! position is a candidate when some bucket survives all three positions.
//!
//! Why not the `regex` alternation alone: it runs at about 5–9 GB/s here,
//! as fast as the kernel copies a file; a log scan then costs twice a
//! `cat`. This test runs at memory speed, and the exact check (in
//! `Prefilter::hits`) only sees the rare candidates. It may over-report
//! (nibbles of different keywords mix within a bucket), never miss.

use std::ops::Range;

/// Positions the fingerprint covers.
const WIDTH: usize = 3;

/// Nibble tables: `lo[j][n]` has bucket bit `b` when a keyword of bucket `b`
/// may have a byte with low nibble `n` at position `j`; `hi` likewise.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    lo: [[u8; 16]; WIDTH],
    hi: [[u8; 16]; WIDTH],
    /// `ascii[j][b]`: the buckets that may have byte `b` (or `b + 128`) at
    /// position `j`; AVX-512 VBMI looks a whole byte up in one instruction.
    ascii: [[u8; 128]; WIDTH],
}

impl Fingerprints {
    /// `keywords`: (text, case-insensitive). `None` when there is nothing to
    /// look for (an empty keyword would match everywhere).
    pub fn new<'a>(keywords: impl IntoIterator<Item = (&'a [u8], bool)>) -> Option<Self> {
        let mut lo = [[0u8; 16]; WIDTH];
        let mut hi = [[0u8; 16]; WIDTH];
        let mut ascii = [[0u8; 128]; WIDTH];
        let mut buckets: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut any = false;
        for (text, insensitive) in keywords {
            if text.is_empty() {
                return None;
            }
            any = true;
            // The bytes each position may hold.
            let sets: Vec<Vec<u8>> = (0..WIDTH)
                .map(|j| match text.get(j) {
                    None => (0..=255).collect(),
                    Some(&b) if insensitive && b.is_ascii_alphabetic() => {
                        vec![b.to_ascii_lowercase(), b.to_ascii_uppercase()]
                    }
                    Some(&b) => vec![b],
                })
                .collect();
            // Keywords with the same fingerprint share a bucket; up to 8 distinct ones
            // get a bucket each, the rest are folded in (more candidates, none missed).
            let key: Vec<u8> = sets.iter().flat_map(|s| s.iter().copied()).collect();
            let bucket = match buckets.iter().position(|b| b.contains(&key)) {
                Some(i) => i % 8,
                None => {
                    buckets.push(vec![key]);
                    (buckets.len() - 1) % 8
                }
            };
            for (j, set) in sets.iter().enumerate() {
                for &b in set {
                    lo[j][usize::from(b & 0x0f)] |= 1 << bucket;
                    hi[j][usize::from(b >> 4)] |= 1 << bucket;
                    ascii[j][usize::from(b & 0x7f)] |= 1 << bucket;
                }
            }
        }
        any.then_some(Fingerprints { lo, hi, ascii })
    }

    /// Whether this CPU runs the test in SIMD. Without it the scalar test is
    /// slower than the regex's own literal search (NEON Teddy on aarch64),
    /// which callers should use instead.
    pub fn accelerated() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether a keyword may start at `at` (scalar form of the SIMD test;
    /// bytes past the end never match).
    fn candidate_at(&self, hay: &[u8], at: usize) -> bool {
        let mut bits = 0xffu8;
        for j in 0..WIDTH {
            let b = match hay.get(at + j) {
                Some(&b) => b,
                // Past the end: only buckets that accept any byte there go on.
                None => {
                    bits &= (0..16).fold(0xff, |acc, n| acc & self.lo[j][n] & self.hi[j][n]);
                    continue;
                }
            };
            bits &= self.lo[j][usize::from(b & 0x0f)] & self.hi[j][usize::from(b >> 4)];
        }
        bits != 0
    }

    /// Call `found` with every candidate position of `hay`, in increasing
    /// order. `found` returns the first position it still wants (candidates
    /// before it are skipped: a match was taken there).
    pub fn candidates(&self, hay: &[u8], found: &mut dyn FnMut(usize) -> usize) {
        self.scan::<false>(hay, 0..0, found);
    }

    /// `candidates`, and the number of newlines in `hay[lines]`, counted in
    /// the same pass: a log scan needs both, and reading a window from
    /// memory once is what its speed depends on.
    pub fn candidates_and_newlines(
        &self,
        hay: &[u8],
        lines: Range<usize>,
        found: &mut dyn FnMut(usize) -> usize,
    ) -> u64 {
        self.scan::<true>(hay, lines, found)
    }

    fn scan<const COUNT: bool>(
        &self,
        hay: &[u8],
        lines: Range<usize>,
        found: &mut dyn FnMut(usize) -> usize,
    ) -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            let simd = if std::is_x86_feature_detected!("avx512vbmi")
                && std::is_x86_feature_detected!("avx512bw")
            {
                // SAFETY: the CPU has AVX-512 BW and VBMI (checked just above).
                Some(unsafe { x86::avx512::<COUNT>(self, hay, lines.clone(), found) })
            } else if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                Some(unsafe { x86::avx2::<COUNT>(self, hay, lines.clone(), found) })
            } else {
                None
            };
            if let Some(done) = simd {
                return done.newlines + self.scalar::<COUNT>(hay, done, lines, found);
            }
        }
        self.scalar::<COUNT>(hay, Done::default(), lines, found)
    }

    /// Positions from `done.at`, the ones below `done.skip` already
    /// consumed; newlines of `lines` from `done.at` on.
    fn scalar<const COUNT: bool>(
        &self,
        hay: &[u8],
        done: Done,
        lines: Range<usize>,
        found: &mut dyn FnMut(usize) -> usize,
    ) -> u64 {
        let mut skip = done.skip;
        for at in done.at..hay.len() {
            if at >= skip && self.candidate_at(hay, at) {
                skip = found(at);
            }
        }
        if !COUNT {
            return 0;
        }
        let (from, to) = (lines.start.max(done.at), lines.end.min(hay.len()));
        if from < to {
            memchr::memchr_iter(b'\n', &hay[from..to]).count() as u64
        } else {
            0
        }
    }
}

/// How far a SIMD scan got: the scalar tail goes on from there.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Debug, Default, Clone, Copy)]
struct Done {
    /// First position not scanned.
    at: usize,
    /// Candidates before this were consumed by a match.
    skip: usize,
    /// Newlines of the counted range below `at`.
    newlines: u64,
}

/// Bit `i` set when `base + i` lies in `lines` (64 positions).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn in_range(base: usize, lines: &Range<usize>) -> u64 {
    if base >= lines.start && base + 64 <= lines.end {
        return !0;
    }
    let lo = lines.start.saturating_sub(base).min(64);
    let hi = lines.end.saturating_sub(base).min(64);
    if hi <= lo {
        return 0;
    }
    let below_hi = if hi == 64 { !0 } else { (1u64 << hi) - 1 };
    below_hi & !((1u64 << lo) - 1)
}

/// One SIMD block of 64 positions from `base`: its candidates (`bits`) go to
/// `found` unless a match already covers them, and its newlines (`nl`) in
/// `lines` are counted.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn take_block<const COUNT: bool>(
    base: usize,
    mut bits: u64,
    nl: u64,
    lines: &Range<usize>,
    done: &mut Done,
    found: &mut dyn FnMut(usize) -> usize,
) {
    if COUNT {
        done.newlines += u64::from((nl & in_range(base, lines)).count_ones());
    }
    while bits != 0 {
        let pos = base + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        if pos >= done.skip {
            done.skip = found(pos);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{take_block, Done, Fingerprints, WIDTH};
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// Bytes ahead of the scan to ask the memory system for: a mapped file
    /// is read straight from RAM, and the hardware prefetcher stops at each
    /// 4 KiB page.
    const PREFETCH_AHEAD: usize = 2048;

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub unsafe fn avx512<const COUNT: bool>(
        f: &Fingerprints,
        hay: &[u8],
        lines: Range<usize>,
        found: &mut dyn FnMut(usize) -> usize,
    ) -> Done {
        // Each iteration reads 128 + WIDTH - 1 bytes from `at`.
        const STEP: usize = 128;
        // SAFETY (both loads): 128-byte tables, 64 bytes from offsets 0 and 64.
        let tables: [(__m512i, __m512i); WIDTH] = std::array::from_fn(|j| unsafe {
            (
                _mm512_loadu_si512(f.ascii[j].as_ptr().cast()),
                _mm512_loadu_si512(f.ascii[j][64..].as_ptr().cast()),
            )
        });
        let ptr = hay.as_ptr();
        let newline = _mm512_set1_epi8(b'\n' as i8);
        // Candidates and newlines of 64 bytes from `p`, as bit masks.
        let block = |p: *const u8| -> (u64, u64) {
            // SAFETY: the caller keeps p + 64 + WIDTH - 1 within `hay`.
            let (v0, v1, v2) = unsafe {
                (
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(1).cast()),
                    _mm512_loadu_si512(p.add(2).cast()),
                )
            };
            let c0 = _mm512_permutex2var_epi8(tables[0].0, v0, tables[0].1);
            let c1 = _mm512_permutex2var_epi8(tables[1].0, v1, tables[1].1);
            let c2 = _mm512_permutex2var_epi8(tables[2].0, v2, tables[2].1);
            // c0 & c1 & c2 in one instruction.
            let all = _mm512_ternarylogic_epi32::<0x80>(c0, c1, c2);
            let nl = if COUNT {
                _mm512_cmpeq_epi8_mask(v0, newline)
            } else {
                0
            };
            (_mm512_test_epi8_mask(all, all), nl)
        };
        let mut done = Done::default();
        while done.at + STEP + WIDTH - 1 <= hay.len() {
            let at = done.at;
            if at + PREFETCH_AHEAD < hay.len() {
                // SAFETY: in bounds; a prefetch never faults anyway.
                unsafe {
                    _mm_prefetch(ptr.add(at + PREFETCH_AHEAD).cast(), _MM_HINT_T0);
                    _mm_prefetch(ptr.add(at + PREFETCH_AHEAD + 64).cast(), _MM_HINT_T0);
                }
            }
            // SAFETY: the loop condition keeps both blocks' loads within `hay`.
            let (a, b) = unsafe { (block(ptr.add(at)), block(ptr.add(at + 64))) };
            take_block::<COUNT>(at, a.0, a.1, &lines, &mut done, found);
            take_block::<COUNT>(at + 64, b.0, b.1, &lines, &mut done, found);
            done.at += STEP;
        }
        done
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn avx2<const COUNT: bool>(
        f: &Fingerprints,
        hay: &[u8],
        lines: Range<usize>,
        found: &mut dyn FnMut(usize) -> usize,
    ) -> Done {
        // Each iteration reads 64 + WIDTH - 1 bytes from `at`.
        const STEP: usize = 64;
        let table = |t: &[u8; 16]| {
            // SAFETY: 16 readable bytes; loadu has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(t.as_ptr().cast()) };
            _mm256_broadcastsi128_si256(v)
        };
        let lo: [__m256i; WIDTH] = std::array::from_fn(|j| table(&f.lo[j]));
        let hi: [__m256i; WIDTH] = std::array::from_fn(|j| table(&f.hi[j]));
        let nib = _mm256_set1_epi8(0x0f);
        let zero = _mm256_setzero_si256();
        let newline = _mm256_set1_epi8(b'\n' as i8);
        let ptr = hay.as_ptr();
        // Candidates and newlines of 32 bytes from `p`, as bit masks.
        let block = |p: *const u8| -> (u32, u32) {
            let mut acc = _mm256_set1_epi8(-1);
            let mut nl = 0u32;
            for j in 0..WIDTH {
                // SAFETY: the caller keeps p + 32 + WIDTH - 1 within `hay`.
                let v = unsafe { _mm256_loadu_si256(p.add(j).cast()) };
                if COUNT && j == 0 {
                    nl = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, newline)) as u32;
                }
                let l = _mm256_shuffle_epi8(lo[j], _mm256_and_si256(v, nib));
                let h = _mm256_shuffle_epi8(hi[j], _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                acc = _mm256_and_si256(acc, _mm256_and_si256(l, h));
            }
            (
                !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, zero)) as u32),
                nl,
            )
        };
        let mut done = Done::default();
        while done.at + STEP + WIDTH - 1 <= hay.len() {
            let at = done.at;
            if at + PREFETCH_AHEAD < hay.len() {
                // SAFETY: in bounds; a prefetch never faults anyway.
                unsafe { _mm_prefetch(ptr.add(at + PREFETCH_AHEAD).cast(), _MM_HINT_T0) };
            }
            // SAFETY: the loop condition keeps both blocks' loads within `hay`.
            let ((a, na), (b, nb)) = unsafe { (block(ptr.add(at)), block(ptr.add(at + 32))) };
            let bits = u64::from(a) | (u64::from(b) << 32);
            let nl = u64::from(na) | (u64::from(nb) << 32);
            take_block::<COUNT>(at, bits, nl, &lines, &mut done, found);
            done.at += STEP;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &Fingerprints, hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        f.candidates(hay, &mut |at| {
            out.push(at);
            at + 1
        });
        out
    }

    /// The scalar nibble test at every position.
    fn nibble(f: &Fingerprints, hay: &[u8], from: usize) -> Vec<usize> {
        (from..hay.len())
            .filter(|&at| f.candidate_at(hay, at))
            .collect()
    }

    /// The 7-bit whole-byte test AVX-512 makes, at positions below `to`.
    fn ascii(f: &Fingerprints, hay: &[u8], to: usize) -> Vec<usize> {
        (0..to)
            .filter(|&at| {
                (0..WIDTH).fold(0xff, |acc, j| {
                    acc & f.ascii[j][usize::from(hay[at + j] & 0x7f)]
                }) != 0
            })
            .collect()
    }

    /// Each SIMD scan the CPU has, with the reference its candidates must equal.
    fn per_implementation(
        f: &Fingerprints,
        hay: &[u8],
    ) -> Vec<(&'static str, Vec<usize>, Vec<usize>)> {
        let mut out = vec![("scalar", nibble(f, hay, 0), nibble(f, hay, 0))];
        #[cfg(target_arch = "x86_64")]
        {
            type Simd = unsafe fn(
                &Fingerprints,
                &[u8],
                Range<usize>,
                &mut dyn FnMut(usize) -> usize,
            ) -> Done;
            let run = |simd: Simd| {
                let mut got = Vec::new();
                // SAFETY: only called when the CPU has the features (below).
                let Done { at: done, .. } = unsafe {
                    simd(f, hay, 0..0, &mut |at| {
                        got.push(at);
                        at + 1
                    })
                };
                got.extend(nibble(f, hay, done));
                (got, done)
            };
            if std::is_x86_feature_detected!("avx2") {
                // The same nibble test as the scalar one, everywhere.
                out.push(("avx2", run(x86::avx2::<false>).0, nibble(f, hay, 0)));
            }
            if std::is_x86_feature_detected!("avx512vbmi")
                && std::is_x86_feature_detected!("avx512bw")
            {
                let (got, done) = run(x86::avx512::<false>);
                let mut want = ascii(f, hay, done);
                want.extend(nibble(f, hay, done));
                out.push(("avx512", got, want));
            }
        }
        out
    }

    fn keywords() -> Vec<(&'static [u8], bool)> {
        vec![
            (b"cybrid".as_slice(), true),
            (b"secret".as_slice(), false),
            (b"Secret".as_slice(), false),
            (b"SECRET".as_slice(), false),
            (b"Y3licmlkLmFwc".as_slice(), false),
            (b"N5YnJpZC5hcH".as_slice(), false),
            (b"jeWJyaWQuYXBw".as_slice(), false),
            (b"Y3licmlkLmNvb".as_slice(), false),
            (b"ab".as_slice(), false),
        ]
    }

    #[test]
    fn every_keyword_start_is_a_candidate_in_every_implementation() {
        let f = Fingerprints::new(keywords()).expect("keywords");
        let mut rng =
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x9e37_79b9_7f4a_7c15u64);
        let mut next = || rand::Rng::gen::<u64>(&mut rng);
        let words: [&[u8]; 8] = [
            b"CyBrId",
            b"secret",
            b"SECRET",
            b"Y3licmlkLmFwc",
            b"jeW",
            b"ab",
            b"sec",
            b"a",
        ];
        for len in (0..400).chain([4096, 10_000]) {
            let mut hay: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            for _ in 0..len / 20 {
                let w = words[(next() % words.len() as u64) as usize];
                let at = (next() % (len as u64 + 1)) as usize;
                if at + w.len() <= len {
                    hay[at..at + w.len()].copy_from_slice(w);
                }
            }
            let mut starts = Vec::new();
            for (text, insensitive) in keywords() {
                for at in 0..hay.len() {
                    let end = at + text.len();
                    if end <= hay.len()
                        && if insensitive {
                            hay[at..end].eq_ignore_ascii_case(text)
                        } else {
                            &hay[at..end] == text
                        }
                    {
                        starts.push(at);
                    }
                }
            }
            let auto = all(&f, &hay);
            for at in &starts {
                assert!(auto.contains(at), "{at} missed at length {len}");
            }
            for (name, got, want) in per_implementation(&f, &hay) {
                assert_eq!(got, want, "{name} at length {len}");
                for at in &starts {
                    assert!(got.contains(at), "{name}: {at} missed at length {len}");
                }
            }
        }
    }

    #[test]
    fn a_skip_mark_drops_the_candidates_before_it() {
        let f = Fingerprints::new([(b"aaa".as_slice(), false)]).expect("keyword");
        let hay = vec![b'a'; 300];
        let mut seen = Vec::new();
        f.candidates(&hay, &mut |at| {
            seen.push(at);
            at + 3
        });
        assert_eq!(seen, (0..298).step_by(3).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_to_look_for_is_none() {
        assert!(Fingerprints::new(Vec::<(&[u8], bool)>::new()).is_none());
        assert!(Fingerprints::new([(b"".as_slice(), false)]).is_none());
    }

    #[test]
    fn newlines_of_a_range_are_counted_in_the_same_pass() {
        let f = Fingerprints::new(keywords()).expect("keywords");
        let mut hay = Vec::new();
        for i in 0..3000usize {
            hay.extend(std::iter::repeat_n(b'x', i % 97));
            hay.push(b'\n');
        }
        let count =
            |r: std::ops::Range<usize>| hay[r].iter().filter(|&&b| b == b'\n').count() as u64;
        for (a, b) in [
            (0, hay.len()),
            (0, 0),
            (5, 6),
            (63, 200),
            (129, 4097),
            (1000, hay.len() - 3),
        ] {
            let got = f.candidates_and_newlines(&hay, a..b, &mut |at| at + 1);
            assert_eq!(got, count(a..b), "{a}..{b}");
            let got = f.scan::<true>(&hay[..b], a..b, &mut |at| at + 1);
            assert_eq!(got, count(a..b), "{a}..{b} ending the haystack");
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            let done = unsafe { x86::avx2::<true>(&f, &hay, 100..9000, &mut |at| at + 1) };
            let tail = f.scalar::<true>(&hay, done, 100..9000, &mut |at| at + 1);
            assert_eq!(done.newlines + tail, count(100..9000));
        }
    }
}
