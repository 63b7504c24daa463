//! The keyword prefilter: one pass over a chunk decides which rules run at all
//! and where. Contract (as in ripgrep): it may over-report, it must never miss.
//! A chunk with no hit costs only this pass.
//!
//! The pass is a `regex` alternation of the keywords rather than a
//! case-insensitive Aho-Corasick automaton: the regex crate turns
//! `(?i:cybrid)|…` into a SIMD literal search (about 10 GB/s here) while
//! ASCII-case-insensitive Aho-Corasick falls back to a byte-at-a-time
//! automaton (under 0.3 GB/s). Hosts are not keywords: they all contain
//! `cybrid`, and the environment is read from the bytes around that hit.

use regex::bytes::{Regex, RegexBuilder};

use super::fingerprint::Fingerprints;

use crate::rules::Rule;

/// Cybrid hosts by environment; a hit on one is Cybrid context and names the environment.
pub const ENVIRONMENT_HOSTS: &[(&str, &str)] = &[
    ("sandbox.cybrid.app", "sandbox"),
    ("production.cybrid.app", "production"),
    ("staging.cybrid.app", "staging"),
    ("demo.cybrid.app", "demo"),
];

/// The word that gives Cybrid context to a 43-character candidate.
pub const CONTEXT_WORD: &str = "cybrid";

/// Regions around a generic keyword's hit (rules' `generic_keywords`) are
/// this small: a client id and secret pair sits within a few lines of the
/// word `secret`, and most code says `secret` somewhere.
pub const GENERIC_RADIUS: usize = 1024;

#[derive(Debug, Clone)]
struct Keyword {
    /// Lowercased when case-insensitive.
    text: String,
    case_sensitive: bool,
    /// Indices of the rules this keyword turns on.
    rules: Vec<usize>,
    context: bool,
    /// Only some rules' `generic_keywords` name it: its regions are small.
    generic: bool,
}

/// A keyword occurrence in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    keyword: usize,
    environment: Option<&'static str>,
    /// The hit is inside a Cybrid host name (`….cybrid.app`, `….cybrid.com`).
    pub host: bool,
}

#[derive(Debug)]
pub struct Prefilter {
    regex: Regex,
    keywords: Vec<Keyword>,
    /// The SIMD candidate test; `None` falls back to the regex alone.
    fingerprints: Option<Fingerprints>,
}

impl Prefilter {
    pub fn new(rules: &[Rule]) -> Self {
        let mut keywords: Vec<Keyword> = Vec::new();
        let mut add = |text: String, case_sensitive: bool, generic: bool| {
            let text = if case_sensitive {
                text
            } else {
                text.to_ascii_lowercase()
            };
            if let Some(k) = keywords
                .iter_mut()
                .find(|k| k.text == text && k.case_sensitive == case_sensitive)
            {
                k.generic &= generic;
            } else {
                keywords.push(Keyword {
                    context: text.to_ascii_lowercase().contains(CONTEXT_WORD),
                    text,
                    case_sensitive,
                    rules: Vec::new(),
                    generic,
                });
            }
        };
        add(CONTEXT_WORD.to_string(), false, false);
        for r in rules {
            for k in &r.keywords {
                add(k.clone(), r.keywords_case_sensitive, false);
            }
            // Generic keywords in their three real spellings (`secret`,
            // `clientSecret`, `CLIENT_SECRET`), matched case-sensitively: a
            // case-insensitive literal expands to every mix of cases and
            // pushes the SIMD literal search into its slower wide mode, which
            // every byte of every input then pays for.
            for k in &r.generic_keywords {
                let lower = k.to_ascii_lowercase();
                let mut title = lower.clone();
                if let Some(first) = title.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                add(k.to_ascii_uppercase(), true, true);
                add(title, true, true);
                add(lower, true, true);
            }
        }
        // Longest first: at one position the alternation prefers the earlier branch,
        // and the longer keyword is the more specific one.
        keywords.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.text.cmp(&b.text)));
        for kw in &mut keywords {
            // A hit on a longer keyword that contains a rule's keyword also counts for
            // that rule, because only the longer one is reported at that position.
            kw.rules = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    let contains = |k: &String| {
                        kw.text
                            .to_ascii_lowercase()
                            .contains(&k.to_ascii_lowercase())
                    };
                    r.generic_keywords.iter().any(contains)
                        || r.keywords.iter().any(|k| {
                            if r.keywords_case_sensitive && kw.case_sensitive {
                                kw.text.contains(k.as_str())
                            } else {
                                contains(k)
                            }
                        })
                })
                .map(|(i, _)| i)
                .collect();
        }
        let alternation: Vec<String> = keywords
            .iter()
            .map(|k| {
                let escaped = regex::escape(&k.text);
                if k.case_sensitive {
                    escaped
                } else {
                    format!("(?i:{escaped})")
                }
            })
            .collect();
        let regex = RegexBuilder::new(&alternation.join("|"))
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .expect("an alternation of escaped literals always compiles");
        let fingerprints = Fingerprints::accelerated()
            .then(|| {
                Fingerprints::new(
                    keywords
                        .iter()
                        .map(|k| (k.text.as_bytes(), !k.case_sensitive)),
                )
            })
            .flatten();
        Prefilter {
            regex,
            keywords,
            fingerprints,
        }
    }

    /// The keyword that the alternation would match at `at` (its earliest
    /// branch that matches there).
    fn keyword_at(&self, haystack: &[u8], at: usize) -> Option<usize> {
        let rest = &haystack[at..];
        self.keywords.iter().position(|k| {
            let text = k.text.as_bytes();
            rest.len() >= text.len()
                && if k.case_sensitive {
                    &rest[..text.len()] == text
                } else {
                    rest[..text.len()].eq_ignore_ascii_case(text)
                }
        })
    }

    /// Every keyword occurrence, in order. Empty means nothing in this chunk can match.
    pub fn hits(&self, haystack: &[u8], out: &mut Vec<Hit>) {
        out.clear();
        if let Some(fingerprints) = &self.fingerprints {
            fingerprints.candidates(haystack, &mut |at| self.take(haystack, at, out));
            return;
        }
        self.regex_hits(haystack, out);
    }

    /// `hits`, and the newlines in `haystack[lines]` counted in the same
    /// pass over memory (a log window needs both).
    pub fn hits_and_newlines(
        &self,
        haystack: &[u8],
        lines: std::ops::Range<usize>,
        out: &mut Vec<Hit>,
    ) -> u64 {
        out.clear();
        if let Some(fingerprints) = &self.fingerprints {
            return fingerprints
                .candidates_and_newlines(haystack, lines, &mut |at| self.take(haystack, at, out));
        }
        self.regex_hits(haystack, out);
        memchr::memchr_iter(b'\n', &haystack[lines]).count() as u64
    }

    /// At a candidate: the hit there, if a keyword matches, and the next
    /// position to look at (leftmost-first and non-overlapping, as the
    /// regex's `find_iter`).
    fn take(&self, haystack: &[u8], at: usize, out: &mut Vec<Hit>) -> usize {
        match self.keyword_at(haystack, at) {
            Some(keyword) => {
                let end = at + self.keywords[keyword].text.len();
                out.push(self.hit(haystack, at, end, keyword));
                end
            }
            None => at + 1,
        }
    }

    /// `hits` by the regex alone: where there are no fingerprints, and the
    /// reference the SIMD path is tested (and fuzzed) against.
    #[doc(hidden)]
    pub fn regex_hits(&self, haystack: &[u8], out: &mut Vec<Hit>) {
        for m in self.regex.find_iter(haystack) {
            let text = m.as_bytes();
            let Some(keyword) = self.keywords.iter().position(|k| {
                if k.case_sensitive {
                    k.text.as_bytes() == text
                } else {
                    k.text.as_bytes().eq_ignore_ascii_case(text)
                }
            }) else {
                continue;
            };
            out.push(self.hit(haystack, m.start(), m.end(), keyword));
        }
    }

    fn hit(&self, haystack: &[u8], start: usize, end: usize, keyword: usize) -> Hit {
        let (environment, host) = if self.keywords[keyword].context {
            (
                host_environment(haystack, start, end),
                is_host(haystack, start, end),
            )
        } else {
            (None, false)
        };
        Hit {
            start,
            end,
            keyword,
            environment,
            host,
        }
    }

    pub fn activates(&self, hit: &Hit, rule: usize) -> bool {
        self.keywords[hit.keyword].rules.contains(&rule)
    }

    pub fn is_context(&self, hit: &Hit) -> bool {
        self.keywords[hit.keyword].context
    }

    pub fn environment(&self, hit: &Hit) -> Option<&'static str> {
        hit.environment
    }

    /// How far around `hit` rules look: the whole neighbourhood for Cybrid
    /// keywords, a few lines for generic ones.
    pub fn radius(&self, hit: &Hit, full: usize) -> usize {
        if self.keywords[hit.keyword].generic {
            full.min(GENERIC_RADIUS)
        } else {
            full
        }
    }
}

/// `….cybrid.app` or `….cybrid.com` around a `cybrid` hit at `start..end`.
fn is_host(haystack: &[u8], start: usize, end: usize) -> bool {
    let Some(after) = haystack.get(end..end + 4) else {
        return false;
    };
    let tld = after.eq_ignore_ascii_case(b".app") || after.eq_ignore_ascii_case(b".com");
    let label_end = haystack
        .get(end + 4)
        .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
    let before = start.checked_sub(1).map(|i| haystack[i]);
    tld && label_end && matches!(before, Some(b'.') | Some(b'/') | Some(b'@'))
}

/// The host name around a host hit at `start..end` (`id.sandbox.cybrid.app`).
pub fn host_name(haystack: &[u8], start: usize, end: usize) -> String {
    let mut lo = start;
    while lo > 0
        && start - lo < 128
        && (haystack[lo - 1].is_ascii_alphanumeric() || matches!(haystack[lo - 1], b'.' | b'-'))
    {
        lo -= 1;
    }
    let hi = (end + 4).min(haystack.len());
    String::from_utf8_lossy(&haystack[lo..hi]).to_ascii_lowercase()
}

/// `sandbox.cybrid.app` around a `cybrid` hit at `start..end` names the sandbox.
fn host_environment(haystack: &[u8], start: usize, end: usize) -> Option<&'static str> {
    let after = haystack.get(end..end + 4)?;
    if !after.eq_ignore_ascii_case(b".app") {
        return None;
    }
    ENVIRONMENT_HOSTS.iter().find_map(|(host, env)| {
        let label = &host.as_bytes()[..host.len() - "cybrid.app".len()];
        let from = start.checked_sub(label.len())?;
        haystack[from..start]
            .eq_ignore_ascii_case(label)
            .then_some(*env)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_from_hosts() {
        let text = b"url=https://id.Sandbox.cybrid.app/oauth x cybrid y production.CYBRID.APP";
        let p = Prefilter::new(&[]);
        let mut hits = Vec::new();
        p.hits(text, &mut hits);
        let envs: Vec<Option<&str>> = hits.iter().map(|h| p.environment(h)).collect();
        assert_eq!(envs, vec![Some("sandbox"), None, Some("production")]);
        assert!(hits.iter().all(|h| p.is_context(h)));
    }

    #[test]
    fn the_simd_path_gives_exactly_the_regex_hits() {
        let rules = crate::rules::load_rules(&[]).expect("built-in rules");
        let p = Prefilter::new(&rules);
        assert_eq!(p.fingerprints.is_some(), Fingerprints::accelerated());
        let pieces: [&[u8]; 14] = [
            b"cybrid",
            b"CyBRiD",
            b"secret",
            b"Secret",
            b"SECRET",
            b"sEcret",
            b"Y3licmlkLmFwc",
            b"N5YnJpZC5jb2",
            b"jeWJyaWQuY29t",
            b"id.sandbox.cybrid.app",
            b"cybri",
            b"Y3lic",
            b"\n",
            b" ",
        ];
        let mut rng =
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x2545_f491_4f6c_dd1du64);
        let mut next = || rand::Rng::gen::<u64>(&mut rng);
        for round in 0..400 {
            let len = (next() % 600) as usize + round;
            let mut hay: Vec<u8> = (0..len)
                .map(|_| b"abcdeirsty3NYWj\n "[(next() % 17) as usize])
                .collect();
            for _ in 0..(next() % 12) {
                let piece = pieces[(next() % pieces.len() as u64) as usize];
                let at = (next() % (hay.len() as u64 + 1)) as usize;
                hay.splice(at..at, piece.iter().copied());
            }
            let (mut simd, mut regex) = (Vec::new(), Vec::new());
            p.hits(&hay, &mut simd);
            p.regex_hits(&hay, &mut regex);
            assert_eq!(
                simd,
                regex,
                "round {round}: {}",
                String::from_utf8_lossy(&hay)
            );
        }
    }
}
