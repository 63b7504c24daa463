//! A SIMD gate in front of the keyword prefilter, for the bulk of a log.
//!
//! The engine's keyword automaton is case-insensitive, which leaves it
//! without a vectorised prefilter: on gigabytes of logs it would be the
//! bottleneck. The gate searches (with `aho_corasick::packed`, i.e. Teddy)
//! for every case variant of a short piece of each keyword; a keyword
//! occurrence always contains its piece, so the gate never misses one (it
//! may over-report: "hybrid" contains "ybr"). Each candidate is then
//! confirmed by the real prefilter on a few bytes around it.

use aho_corasick::packed::{Config, MatchKind, Searcher};

use crate::detect::prefilter::{Hit, Prefilter, CONTEXT_WORD, ENVIRONMENT_HOSTS};
use crate::rules::Rule;

/// Teddy takes at most this many patterns.
const MAX_PATTERNS: usize = 64;
/// Length of the piece taken from each keyword.
const PIECE: usize = 3;

/// Keyword-bearing spans of a window, found fast.
pub struct Gate {
    searcher: Option<Searcher>,
    /// Longest keyword: how far around a candidate to confirm.
    reach: usize,
    confirm: Vec<Hit>,
}

impl Gate {
    pub fn new(rules: &[Rule]) -> Self {
        let words = keywords(rules);
        let reach = words.iter().map(Vec::len).max().unwrap_or(0);
        Gate {
            searcher: build(&words),
            reach,
            confirm: Vec::new(),
        }
    }

    /// Spans of keyword hits in `hay` (start, end), in order; over-reporting
    /// is allowed, missing is not.
    pub fn hits(&mut self, prefilter: &Prefilter, hay: &[u8], out: &mut Vec<(usize, usize)>) {
        out.clear();
        let Some(searcher) = &self.searcher else {
            prefilter.hits(hay, &mut self.confirm);
            out.extend(self.confirm.iter().map(|h| (h.start, h.end)));
            return;
        };
        // Confirm on merged neighbourhoods of the candidates. A piece skipped
        // because it overlapped a reported one lies within PIECE bytes of it,
        // so `reach + PIECE` around each candidate holds every keyword.
        let margin = self.reach + PIECE;
        let mut pending: Option<(usize, usize)> = None;
        for cand in searcher.find_iter(hay) {
            let lo = cand.start().saturating_sub(margin);
            let hi = (cand.end() + margin).min(hay.len());
            pending = match pending {
                Some((a, b)) if lo <= b => Some((a, b.max(hi))),
                Some(done) => {
                    confirm_in(prefilter, hay, done, &mut self.confirm, out);
                    Some((lo, hi))
                }
                None => Some((lo, hi)),
            };
        }
        if let Some(done) = pending {
            confirm_in(prefilter, hay, done, &mut self.confirm, out);
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Keyword hits in `hay[lo..hi]`, at their offsets in `hay`.
fn confirm_in(
    prefilter: &Prefilter,
    hay: &[u8],
    (lo, hi): (usize, usize),
    scratch: &mut Vec<Hit>,
    out: &mut Vec<(usize, usize)>,
) {
    prefilter.hits(&hay[lo..hi], scratch);
    out.extend(scratch.iter().map(|h| (lo + h.start, lo + h.end)));
}

/// Every word the prefilter looks for, lowercased, minus those that contain
/// another (a hit on the longer one implies the shorter is there).
fn keywords(rules: &[Rule]) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = rules
        .iter()
        .flat_map(|r| r.keywords.iter())
        .map(|k| k.to_ascii_lowercase().into_bytes())
        .chain(std::iter::once(CONTEXT_WORD.as_bytes().to_vec()))
        .chain(ENVIRONMENT_HOSTS.iter().map(|(h, _)| h.as_bytes().to_vec()))
        .collect();
    words.sort();
    words.dedup();
    let all = words.clone();
    words.retain(|w| {
        !all.iter()
            .any(|o| o != w && o.len() < w.len() && contains(w, o))
    });
    words
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The packed searcher over each keyword's cheapest piece in all cases, or
/// `None` when there are too many variants (or no SIMD): then the gate is
/// the prefilter itself.
fn build(words: &[Vec<u8>]) -> Option<Searcher> {
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    for w in words {
        if w.len() < PIECE {
            return None;
        }
        let piece = w
            .windows(PIECE)
            .min_by_key(|p| p.iter().filter(|c| c.is_ascii_alphabetic()).count())?;
        patterns.extend(case_variants(piece));
        if patterns.len() > MAX_PATTERNS {
            return None;
        }
    }
    patterns.sort();
    patterns.dedup();
    if patterns.is_empty() {
        return None;
    }
    Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .builder()
        .extend(&patterns)
        .build()
}

fn case_variants(piece: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::with_capacity(piece.len())];
    for c in piece {
        if c.is_ascii_alphabetic() {
            let mut upper = out.clone();
            for v in &mut out {
                v.push(c.to_ascii_lowercase());
            }
            for v in &mut upper {
                v.push(c.to_ascii_uppercase());
            }
            out.extend(upper);
        } else {
            for v in &mut out {
                v.push(*c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load_rules;

    fn gate_and_prefilter() -> (Gate, Prefilter) {
        let rules = load_rules(&[]).expect("built-in rules");
        (Gate::new(&rules), Prefilter::new(&rules))
    }

    #[test]
    fn gate_is_built_for_the_builtin_rules() {
        let (gate, _) = gate_and_prefilter();
        assert!(gate.searcher.is_some() || !is_x86_feature_detected_ssse3());
    }

    fn is_x86_feature_detected_ssse3() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("ssse3")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    #[test]
    fn never_misses_what_the_prefilter_finds() {
        let (mut gate, pre) = gate_and_prefilter();
        let mut text = Vec::new();
        for (i, kw) in [
            "CyBrId",
            "cybrid",
            "HYBRID",
            "id.sandbox.cybrid.app",
            "y3LICMLKlmfwc",
            "xx",
        ]
        .iter()
        .enumerate()
        {
            text.extend(std::iter::repeat_n(b'.', 300 * i + 7));
            text.extend_from_slice(kw.as_bytes());
        }
        let mut want = Vec::new();
        pre.hits(&text, &mut want);
        let mut got = Vec::new();
        gate.hits(&pre, &text, &mut got);
        let want: Vec<_> = want.iter().map(|h| (h.start, h.end)).collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 4);
    }

    proptest::proptest! {
        #[test]
        fn gate_finds_every_prefilter_hit(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[a-zA-Z0-9 .\n]{0,40}").expect("regex"),
                    proptest::string::string_regex("(?i:cybrid|ybr|sandbox\\.cybrid\\.app|y3licmlklmfwc|jewjyawq|n5ynjpzc5ach)").expect("regex"),
                ],
                0..40,
            )
        ) {
            let (mut gate, pre) = gate_and_prefilter();
            let text = parts.concat();
            let mut want = Vec::new();
            pre.hits(text.as_bytes(), &mut want);
            let mut got = Vec::new();
            gate.hits(&pre, text.as_bytes(), &mut got);
            for h in want {
                proptest::prop_assert!(got.contains(&(h.start, h.end)), "missed {:?} in {:?}", (h.start, h.end), text);
            }
        }
    }

    #[test]
    fn case_variants_cover_every_case() {
        let v = case_variants(b"a1b");
        assert_eq!(v.len(), 4);
        assert!(v.contains(&b"A1b".to_vec()));
    }
}
