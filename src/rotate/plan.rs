//! What to rotate: the live applications of a report (one per environment
//! and client_id, as `revoke` plans them), each with the names its new
//! client id and secret are delivered under.

use crate::report::json::ReportRecord;
use crate::revoke::plan::{self, PlanError, Target};

/// The names the new client id and secret are delivered under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNames {
    pub id: String,
    pub secret: String,
}

pub const DEFAULT_ID_NAME: &str = "CYBRID_CLIENT_ID";
pub const DEFAULT_SECRET_NAME: &str = "CYBRID_CLIENT_SECRET";

/// Why `--secret-names` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--secret-names {0:?}: give two names, ID,SECRET, each of letters, digits and _ (not starting with a digit), and different")]
pub struct BadNames(pub String);

/// A name every destination accepts: an environment variable's, a GitHub
/// secret's and a GitLab variable's.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 200
}

impl Default for SecretNames {
    fn default() -> Self {
        SecretNames {
            id: DEFAULT_ID_NAME.into(),
            secret: DEFAULT_SECRET_NAME.into(),
        }
    }
}

/// `word` replaced (its last occurrence, any case) by `by`, in the case of
/// what it replaces: `CYBRID_CLIENT_SECRET` -> `CYBRID_CLIENT_ID`.
fn swap(key: &str, word: &str, by: &str) -> Option<String> {
    let at = key.to_ascii_lowercase().rfind(word)?;
    let found = &key[at..at + word.len()];
    // Only a whole word: `_SECRET`, `Secret` after a lower-case letter, at the end or before `_`.
    let before = key[..at].chars().last();
    let after = key[at + word.len()..].chars().next();
    let starts = before.is_none_or(|c| c == '_')
        || (before.is_some_and(|c| c.is_ascii_lowercase())
            && found.starts_with(|c: char| c.is_ascii_uppercase()));
    if !starts || after.is_some_and(|c| c != '_') {
        return None;
    }
    let by = if found.chars().all(|c| !c.is_ascii_lowercase()) {
        by.to_ascii_uppercase()
    } else if found.starts_with(|c: char| c.is_ascii_uppercase()) {
        let mut b = by.to_string();
        b[..1].make_ascii_uppercase();
        b
    } else {
        by.to_string()
    };
    Some(format!("{}{by}{}", &key[..at], &key[at + word.len()..]))
}

impl SecretNames {
    /// `ID,SECRET`.
    pub fn parse(spec: &str) -> Result<Self, BadNames> {
        let bad = || BadNames(spec.to_string());
        let (id, secret) = spec.split_once(',').ok_or_else(bad)?;
        let (id, secret) = (id.trim(), secret.trim());
        if !is_name(id) || !is_name(secret) || id == secret {
            return Err(bad());
        }
        Ok(SecretNames {
            id: id.into(),
            secret: secret.into(),
        })
    }

    /// The names the leak was found under: the finding's key when it is a
    /// variable name with `secret` (or `id`) in it, its partner derived;
    /// otherwise `CYBRID_CLIENT_ID` / `CYBRID_CLIENT_SECRET`.
    pub fn from_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Self {
        let keys: Vec<&str> = keys.filter(|k| is_name(k)).collect();
        for k in &keys {
            if let Some(id) = swap(k, "secret", "id") {
                if is_name(&id) {
                    return SecretNames {
                        id,
                        secret: k.to_string(),
                    };
                }
            }
        }
        for k in &keys {
            if let Some(secret) = swap(k, "id", "secret") {
                if is_name(&secret) {
                    return SecretNames {
                        id: k.to_string(),
                        secret,
                    };
                }
            }
        }
        SecretNames::default()
    }
}

/// One application to replace.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub target: Target,
    pub names: SecretNames,
}

/// What to rotate.
#[derive(Debug, Clone, Default)]
pub struct RotationPlan {
    pub rotations: Vec<Rotation>,
    /// Live findings without revocation data (an older report).
    pub live_without_target: Vec<String>,
    pub findings: usize,
}

/// The plan of a report read back from `path`; `names` (from
/// `--secret-names`) wins over the findings' keys.
pub fn from_report(
    record: &ReportRecord,
    path: &str,
    names: Option<&SecretNames>,
) -> Result<RotationPlan, PlanError> {
    let p = plan::from_report(record, path)?;
    let rotations = p
        .targets
        .into_iter()
        .map(|target| {
            let names = names.cloned().unwrap_or_else(|| {
                SecretNames::from_keys(
                    record
                        .findings
                        .iter()
                        .filter(|f| target.fingerprints.contains(&f.fingerprint))
                        .filter_map(|f| f.context.as_ref()?.key.as_deref()),
                )
            });
            Rotation { target, names }
        })
        .collect();
    Ok(RotationPlan {
        rotations,
        live_without_target: p.live_without_target,
        findings: p.findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_key_the_leak_was_found_under() {
        let n = SecretNames::from_keys(["CYBRID_CLIENT_SECRET"].into_iter());
        assert_eq!(
            (n.id.as_str(), n.secret.as_str()),
            ("CYBRID_CLIENT_ID", "CYBRID_CLIENT_SECRET")
        );
        let n = SecretNames::from_keys(["PAYMENTS_CYBRID_ID"].into_iter());
        assert_eq!(
            (n.id.as_str(), n.secret.as_str()),
            ("PAYMENTS_CYBRID_ID", "PAYMENTS_CYBRID_SECRET")
        );
        let n = SecretNames::from_keys(["CybridAPI_Secret"].into_iter());
        assert_eq!(n.id, "CybridAPI_Id");
        let n = SecretNames::from_keys(["cybrid.client_secret"].into_iter());
        assert_eq!(n, SecretNames::default());
        let n = SecretNames::from_keys(["CYBRID_BANK"].into_iter());
        assert_eq!(n, SecretNames::default());
        let n = SecretNames::from_keys(["clientSecret"].into_iter());
        assert_eq!(n.id, "clientId");
        assert!(SecretNames::parse("A,B").is_ok());
        assert!(SecretNames::parse("A").is_err());
        assert!(SecretNames::parse("A,A").is_err());
        assert!(SecretNames::parse("1A,B").is_err());
        assert!(SecretNames::parse("A,B C").is_err());
    }
}
