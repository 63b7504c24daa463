//! A secret value that cannot be printed by accident.
//!
//! `Debug` and `Display` always redact; the plaintext is reachable only through
//! [`Secret::expose`], which the report layer calls when the user passed
//! `--show-secrets`, and the verifier calls to send the pair to Cybrid.

use std::fmt;

/// How many leading characters a redacted value keeps, so a human can tell two
/// findings apart without the value being usable.
pub const REDACT_KEEP: usize = 4;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plaintext. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The redacted form: the first few characters, then `*` for the rest, same length.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// Values longer than this (access tokens) are redacted to a short form that
/// states their length instead of a wall of `*`.
pub const REDACT_FULL_WIDTH_MAX: usize = 64;

/// Redact any string the way secrets are redacted everywhere in the tool.
pub fn redact(value: &str) -> String {
    if value.len() > REDACT_FULL_WIDTH_MAX {
        let head: String = value.chars().take(REDACT_KEEP).collect();
        return format!("{head}********…({} chars)", value.len());
    }
    redact_same_length(value)
}

/// The same-length redaction, for rewriting files in place without moving columns.
pub fn redact_same_length(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        if i < REDACT_KEEP && value.len() > 2 * REDACT_KEEP {
            out.push(c);
        } else {
            out.push('*');
        }
    }
    out
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd");
        let shown = format!("{s} {s:?}");
        assert!(!shown.contains("EfGhIj"));
        assert!(shown.starts_with("AbCd*"));
        assert_eq!(s.redacted().len(), s.len());
    }

    #[test]
    fn short_values_are_fully_masked() {
        assert_eq!(redact("abcdef"), "******");
    }

    #[test]
    fn long_values_state_their_length() {
        let jwt = "eyJ".repeat(100);
        assert_eq!(redact(&jwt), "eyJe********…(300 chars)");
        assert_eq!(redact_same_length(&jwt).len(), 300);
    }
}
