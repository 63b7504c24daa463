//! Whose credential is this? A value belongs to the key it is assigned to,
//! that key to the blocks it sits in, and the file to its project. This
//! module turns what [`super::structure`] read into that decision:
//!
//! 1. a key that names Cybrid makes the value Cybrid's (`via: key`);
//! 2. a key whose first word names another provider makes it not Cybrid's;
//! 3. the nearest parent that names a provider decides: Cybrid (`via:
//!    parent`) or another one (not Cybrid's);
//! 4. a Cybrid host in reach (`via: host`);
//! 5. otherwise only the project can tell (`via: project`, decided when the
//!    whole root, repository or job log has been read).
//!
//! Proximity to the bare word `cybrid` no longer makes a value Cybrid's.

use serde::Deserialize;

use super::structure::{Parent, ParentKind};
use crate::rules::RuleError;

/// The built-in list of other providers (data, in `rules/providers.toml`).
pub const BUILTIN_PROVIDERS: (&str, &str) = (
    "rules/providers.toml",
    include_str!("../../rules/providers.toml"),
);

/// Parse a file's `other_providers = [...]` (other keys are the rules').
pub fn parse_providers(origin: &str, text: &str) -> Result<Vec<String>, RuleError> {
    #[derive(Debug, Deserialize)]
    struct Loose {
        #[serde(default)]
        other_providers: Vec<String>,
    }
    let parsed: Loose = toml::from_str(text).map_err(|e| RuleError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    Ok(parsed
        .other_providers
        .into_iter()
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect())
}

/// The built-in providers, lowercased.
pub fn builtin_providers() -> Vec<String> {
    parse_providers(BUILTIN_PROVIDERS.0, BUILTIN_PROVIDERS.1).unwrap_or_default()
}

/// True when `text` names Cybrid (any case).
pub fn names_cybrid(text: &str) -> bool {
    memchr::memmem::find(text.to_ascii_lowercase().as_bytes(), b"cybrid").is_some()
}

/// Prefixes that say where a value comes from, not whose it is.
const NEUTRAL_PREFIXES: &[&str] = &[
    "process", "env", "import", "meta", "react", "app", "next", "public", "vite", "nuxt", "expo",
    "vue", "gatsby", "ng", "config", "settings", "secrets", "os", "environ", "system", "getenv",
    "export", "const", "let", "var", "val", "readonly", "static",
];

/// The words of a key: `process.env.REACT_APP_AuthClientSecret` ->
/// `auth`, `client`, `secret` (neutral prefixes dropped).
pub fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let first = words
        .iter()
        .position(|w| !NEUTRAL_PREFIXES.contains(&w.as_str()))
        .unwrap_or(words.len());
    words.split_off(first)
}

/// The provider a key's first word names, if it is another one.
pub fn other_provider<'p>(key: &str, providers: &'p [String]) -> Option<&'p str> {
    let words = key_words(key);
    let first = words.first()?;
    providers
        .iter()
        .find(|p| {
            *p == first
                || (p.len() >= 4 && first.starts_with(p.as_str()) && first.len() <= p.len() + 1)
        })
        .map(String::as_str)
}

/// What the key and parents say about a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The key names Cybrid.
    Key,
    /// This parent (by its description) names Cybrid.
    Parent(String),
    /// Another provider's: drop it.
    Other,
    /// Neither: a host or the project has to decide.
    Undecided,
}

/// Decide from the key alone (cheap: parents are read only when this is undecided).
pub fn by_key(key: Option<&str>, providers: &[String]) -> Owner {
    match key {
        Some(k) if names_cybrid(k) => Owner::Key,
        Some(k) if other_provider(k, providers).is_some() => Owner::Other,
        _ => Owner::Undecided,
    }
}

/// Decide from the parents, nearest first: the first that names a provider wins.
pub fn by_parents(parents: &[Parent], providers: &[String]) -> Owner {
    for p in parents {
        if names_cybrid(&p.text) {
            return Owner::Parent(p.describe());
        }
        // A title is prose: one that names a provider anywhere says whose lines follow.
        let other = match p.kind {
            ParentKind::Title => p_words_name_provider(&p.text, providers),
            _ => header_key(&p.text).is_some_and(|k| other_provider(k, providers).is_some()),
        };
        if other {
            return Owner::Other;
        }
    }
    Owner::Undecided
}

fn p_words_name_provider(text: &str, providers: &[String]) -> bool {
    key_words(text)
        .iter()
        .any(|w| providers.iter().any(|p| p.len() >= 4 && p == w))
}

/// The name a block header gives its block: the last identifier-ish token
/// (`auth0: {` -> `auth0`, `"okta": {` -> `okta`, `[stripe]` -> `stripe`).
fn header_key(text: &str) -> Option<&str> {
    text.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .find(|t| !t.is_empty() && !matches!(*t, "dict" | "key" | "string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_providers() {
        let p = builtin_providers();
        assert_eq!(
            key_words("process.env.REACT_APP_AuthClientSecret"),
            ["auth", "client", "secret"]
        );
        assert_eq!(other_provider("AUTH0_CLIENT_SECRET", &p), Some("auth0"));
        assert_eq!(other_provider("stripeSecretKey", &p), Some("stripe"));
        assert_eq!(
            other_provider("process.env.OKTA_CLIENT_ID", &p),
            Some("okta")
        );
        assert_eq!(other_provider("CLIENT_SECRET_PLAID", &p), None);
        assert_eq!(other_provider("clientSecret", &p), None);
        assert_eq!(by_key(Some("CybridAPI_Secret"), &p), Owner::Key);
        assert_eq!(by_key(Some("GOOGLE_CLIENT_ID"), &p), Owner::Other);
    }

    #[test]
    fn nearest_named_parent_decides() {
        let p = builtin_providers();
        let block = |t: &str| Parent {
            text: t.into(),
            kind: ParentKind::Block,
        };
        assert_eq!(
            by_parents(&[block("auth0: {"), block("cybrid: {")], &p),
            Owner::Other
        );
        assert!(matches!(
            by_parents(&[block("credentials: {"), block("cybrid: {")], &p),
            Owner::Parent(_)
        ));
        assert_eq!(by_parents(&[block("env: {")], &p), Owner::Undecided);
    }
}
