//! Rules as data: parsed from TOML files in `rules/` (embedded at build time)
//! and from `--rules DIR`, compiled once, shared read-only by every worker.

use regex::bytes::Regex;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::finding::Confidence;

/// The rule files shipped in the binary.
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    ("rules/cybrid.toml", include_str!("../rules/cybrid.toml")),
    crate::detect::owner::BUILTIN_PROVIDERS,
];

#[derive(Debug, Error)]
pub enum RuleError {
    #[error("cannot read rules file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid rules file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("rule {rule} in {path}: pattern does not compile: {message}")]
    Regex {
        path: String,
        rule: String,
        message: String,
    },
    #[error("rule {rule} in {path}: {message}")]
    Invalid {
        path: String,
        rule: String,
        message: String,
    },
}

/// What a rule's match is, which decides pairing and verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    ClientId,
    ClientSecret,
    AccessToken,
    WebhookSigningKey,
}

/// How the captured text relates to the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// The capture is the credential.
    #[default]
    Plain,
    /// The capture is base64 of the credential (Kubernetes Secret data).
    Base64,
    /// The capture is base64 of `client_id:client_secret` (HTTP Basic).
    Basic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    /// Other providers' names (see `rules/providers.toml`); read by
    /// [`crate::detect::owner::parse_providers`].
    #[serde(default)]
    #[allow(dead_code)]
    other_providers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    description: String,
    kind: RuleKind,
    keywords: Vec<String>,
    /// Keywords are matched case-insensitively unless this is set (base64 fragments).
    #[serde(default)]
    keywords_case_sensitive: bool,
    /// Words that select small regions where a generic key (`clientSecret`)
    /// may hold a value that only project context can make Cybrid's.
    #[serde(default)]
    generic_keywords: Vec<String>,
    #[serde(default)]
    requires_context: bool,
    #[serde(default = "default_confidence")]
    confidence: Confidence,
    /// Shortest accepted value: shorter-than-real values get low confidence.
    #[serde(default)]
    min_len: Option<usize>,
    /// The length of a real value; anything shorter is low confidence.
    #[serde(default)]
    full_len: Option<usize>,
    patterns: Vec<PatternSpec>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negative_examples: Vec<String>,
    #[serde(default)]
    help: Option<String>,
}

fn default_confidence() -> Confidence {
    Confidence::High
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSpec {
    regex: String,
    #[serde(default)]
    encoding: Encoding,
}

/// A compiled pattern: a regex with a `secret` capture (and maybe `client_id`).
#[derive(Debug)]
pub struct Pattern {
    pub regex: Regex,
    pub encoding: Encoding,
    pub secret_group: usize,
    pub client_id_group: Option<usize>,
    /// The key the value is assigned to (`key` capture), when the pattern has one.
    pub key_group: Option<usize>,
}

impl Pattern {
    /// Does the pattern use a Unicode word boundary (`\b` outside `(?-u:…)`)?
    /// The regex crate's lazy DFA gives up on those at the first non-ASCII
    /// byte and the search falls back to the PikeVM, many times slower.
    pub fn has_unicode_word_boundary(&self) -> bool {
        regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(self.regex.as_str())
            .is_ok_and(|hir| hir.properties().look_set().contains_word_unicode())
    }
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: RuleKind,
    pub keywords: Vec<String>,
    pub keywords_case_sensitive: bool,
    pub generic_keywords: Vec<String>,
    pub requires_context: bool,
    pub confidence: Confidence,
    pub min_len: usize,
    pub full_len: Option<usize>,
    pub patterns: Vec<Pattern>,
    pub examples: Vec<String>,
    pub negative_examples: Vec<String>,
    pub help: Option<String>,
    /// Which file the rule came from, for error messages.
    pub origin: String,
}

/// Parse and compile one rules file's text; `origin` names it in errors.
pub fn parse_rules(origin: &str, text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    file.rules
        .into_iter()
        .map(|spec| compile(origin, spec))
        .collect()
}

fn compile(origin: &str, spec: RuleSpec) -> Result<Rule, RuleError> {
    let invalid = |message: &str| RuleError::Invalid {
        path: origin.to_string(),
        rule: spec.id.clone(),
        message: message.to_string(),
    };
    if spec.keywords.is_empty() || spec.keywords.iter().any(|k| k.is_empty()) {
        return Err(invalid("needs at least one non-empty keyword"));
    }
    if spec.patterns.is_empty() {
        return Err(invalid("needs at least one pattern"));
    }
    let mut patterns = Vec::with_capacity(spec.patterns.len());
    for p in &spec.patterns {
        let regex = regex::bytes::RegexBuilder::new(&p.regex)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| RuleError::Regex {
                path: origin.to_string(),
                rule: spec.id.clone(),
                message: e.to_string(),
            })?;
        let names: Vec<Option<&str>> = regex.capture_names().collect();
        let secret_group = names
            .iter()
            .position(|n| *n == Some("secret"))
            .ok_or_else(|| invalid("pattern lacks a named capture `secret`"))?;
        let client_id_group = names.iter().position(|n| *n == Some("client_id"));
        let key_group = names.iter().position(|n| *n == Some("key"));
        patterns.push(Pattern {
            regex,
            encoding: p.encoding,
            secret_group,
            client_id_group,
            key_group,
        });
    }
    Ok(Rule {
        min_len: spec.min_len.unwrap_or(1),
        full_len: spec.full_len,
        id: spec.id,
        name: spec.name,
        description: spec.description,
        kind: spec.kind,
        keywords: spec.keywords,
        keywords_case_sensitive: spec.keywords_case_sensitive,
        generic_keywords: spec.generic_keywords,
        requires_context: spec.requires_context,
        confidence: spec.confidence,
        patterns,
        examples: spec.examples,
        negative_examples: spec.negative_examples,
        help: spec.help,
        origin: origin.to_string(),
    })
}

/// The built-in rules plus every `*.toml` file in each extra directory (sorted, so order is stable).
pub fn load_rules(extra_dirs: &[PathBuf]) -> Result<Vec<Rule>, RuleError> {
    Ok(load_rule_set(extra_dirs)?.rules)
}

/// Rules and the other providers' names, from the built-in files and each extra directory.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub other_providers: Vec<String>,
}

/// [`load_rules`] plus the `other_providers` lists of the same files.
pub fn load_rule_set(extra_dirs: &[PathBuf]) -> Result<RuleSet, RuleError> {
    let mut rules = Vec::new();
    let mut other_providers = Vec::new();
    for (origin, text) in BUILTIN_RULES {
        rules.extend(parse_rules(origin, text)?);
        other_providers.extend(crate::detect::owner::parse_providers(origin, text)?);
    }
    for dir in extra_dirs {
        for path in rule_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| RuleError::Read {
                path: path.clone(),
                source,
            })?;
            let origin = path.display().to_string();
            rules.extend(parse_rules(&origin, &text)?);
            other_providers.extend(crate::detect::owner::parse_providers(&origin, &text)?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in &rules {
        if !seen.insert(r.id.clone()) {
            return Err(RuleError::Invalid {
                path: r.origin.clone(),
                rule: r.id.clone(),
                message: "duplicate rule id".into(),
            });
        }
    }
    other_providers.sort();
    other_providers.dedup();
    Ok(RuleSet {
        rules,
        other_providers,
    })
}

fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let read = std::fs::read_dir(dir).map_err(|source| RuleError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_keep_the_fast_matcher_on_non_ascii_input() {
        for rule in load_rules(&[]).expect("built-in rules") {
            for p in &rule.patterns {
                assert!(
                    !p.has_unicode_word_boundary(),
                    "{}: {}",
                    rule.id,
                    p.regex.as_str()
                );
            }
        }
    }

    #[test]
    fn a_unicode_word_boundary_is_flagged_and_an_ascii_one_is_not() {
        let rule = |regex: &str| {
            let text = format!(
                "[[rules]]\nid = \"t\"\nname = \"t\"\ndescription = \"t\"\nkind = \"client-secret\"\nkeywords = [\"k\"]\nconfidence = \"high\"\nmin_len = 4\nexamples = [\"k abcd\"]\n[[rules.patterns]]\nregex = '''{regex}'''\n"
            );
            parse_rules("t.toml", &text).expect("parses")
        };
        assert!(rule(r"\bk (?P<secret>[a-z]{4})").remove(0).patterns[0].has_unicode_word_boundary());
        assert!(
            !rule(r"(?-u:\b)k (?P<secret>[a-z]{4})").remove(0).patterns[0]
                .has_unicode_word_boundary()
        );
    }
}
