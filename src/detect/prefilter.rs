//! The keyword prefilter: one Aho-Corasick pass over a chunk decides which
//! rules run at all and where. Contract (as in ripgrep): it may over-report,
//! it must never miss. A chunk with no hit costs only this pass.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

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

#[derive(Debug, Clone)]
struct KeywordInfo {
    /// Indices of the rules this keyword turns on.
    rules: Vec<usize>,
    context: bool,
    environment: Option<&'static str>,
}

/// A keyword occurrence in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    keyword: usize,
}

#[derive(Debug)]
pub struct Prefilter {
    ac: AhoCorasick,
    keywords: Vec<KeywordInfo>,
}

impl Prefilter {
    pub fn new(rules: &[Rule]) -> Self {
        let mut words: Vec<String> = Vec::new();
        for w in rules
            .iter()
            .flat_map(|r| r.keywords.iter())
            .map(|k| k.to_ascii_lowercase())
            .chain(std::iter::once(CONTEXT_WORD.to_string()))
            .chain(ENVIRONMENT_HOSTS.iter().map(|(h, _)| h.to_string()))
        {
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let keywords = words
            .iter()
            .map(|w| KeywordInfo {
                // A hit on a longer keyword that contains a rule's keyword also counts
                // for that rule, because leftmost-longest matching reports only the longer.
                rules: rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        r.keywords
                            .iter()
                            .any(|k| w.contains(&k.to_ascii_lowercase()))
                    })
                    .map(|(i, _)| i)
                    .collect(),
                context: w.contains(CONTEXT_WORD),
                environment: ENVIRONMENT_HOSTS
                    .iter()
                    .find(|(h, _)| w == h)
                    .map(|(_, e)| *e),
            })
            .collect();
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .expect("keyword automaton from a bounded keyword list");
        Prefilter { ac, keywords }
    }

    /// Every keyword occurrence, in order. Empty means nothing in this chunk can match.
    pub fn hits(&self, haystack: &[u8], out: &mut Vec<Hit>) {
        out.clear();
        out.extend(self.ac.find_iter(haystack).map(|m| Hit {
            start: m.start(),
            end: m.end(),
            keyword: m.pattern().as_usize(),
        }));
    }

    pub fn activates(&self, hit: &Hit, rule: usize) -> bool {
        self.keywords[hit.keyword].rules.contains(&rule)
    }

    pub fn is_context(&self, hit: &Hit) -> bool {
        self.keywords[hit.keyword].context
    }

    pub fn environment(&self, hit: &Hit) -> Option<&'static str> {
        self.keywords[hit.keyword].environment
    }
}
