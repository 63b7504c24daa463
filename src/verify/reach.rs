//! Blast radius (issue #29, point 6): what a live credential can reach,
//! from its verdict (the minted token's claims): the environment, the kind
//! of subject (an organization credential reaches every bank), the subject,
//! and the scopes granted, of which those that write or execute (moving
//! money, creating customers, managing other credentials) weigh most.
//! One number orders the human report's live credentials and is the SARIF
//! `security-severity`; a sentence says it to people. Unknowns count as the
//! worse case.

use crate::finding::{Verification, VerificationStatus};

/// Scopes that change something.
fn acts(scope: &str) -> bool {
    scope.ends_with(":execute") || scope.ends_with(":write")
}

/// The `security-severity` of a live credential (0.0–10.0), `None` when not live.
pub fn severity(v: &Verification) -> Option<f64> {
    if v.status != VerificationStatus::Live {
        return None;
    }
    let base = match v.environment.as_deref() {
        Some("production") => 9.5,
        Some(_) => 8.5,
        None => 9.0,
    };
    let subject = match v.sub_type.as_deref() {
        Some("bank") => 0.2,
        Some("customer") => 0.0,
        // An organization credential, or one whose kind is unknown.
        _ => 0.3,
    };
    let scopes = if v.scopes.iter().any(|s| acts(s)) {
        0.2
    } else {
        0.0
    };
    // Pinned to a few addresses, a leaked key is of little use to others.
    let pinned = match v.ip_allowlist.as_deref() {
        Some(list) if !list.is_empty() => -1.0,
        _ => 0.0,
    };
    let sum: f64 = base + subject + scopes + pinned;
    Some((sum * 10.0).round().min(100.0) / 10.0)
}

/// [`severity`] as SARIF writes it (`"9.8"`).
pub fn severity_text(v: &Verification) -> Option<String> {
    severity(v).map(|s| format!("{s:.1}"))
}

/// For sorting: higher reach first (tenths of severity; 0 when not live).
pub fn rank(v: &Verification) -> u32 {
    severity(v).map_or(0, |s| (s * 10.0).round() as u32)
}

/// `reach: bank 0123…cdef, 9 scopes (4 that write or execute)`.
pub fn text(v: &Verification) -> Option<String> {
    if v.authenticated() && v.status != VerificationStatus::Live {
        return Some(
            "reach: restricted by an IP allowlist (the pair authenticates, but not from this machine's address)"
                .to_string(),
        );
    }
    if v.status != VerificationStatus::Live {
        return None;
    }
    let mut parts = Vec::new();
    match (v.sub_type.as_deref(), v.subject.as_deref()) {
        (Some(t), Some(s)) => parts.push(format!("{t} {s}")),
        (Some(t), None) => parts.push(t.to_string()),
        _ => parts.push(
            "subject unknown (the token endpoint authenticated the pair but minted no token)"
                .into(),
        ),
    }
    if !v.scopes.is_empty() {
        let acting = v.scopes.iter().filter(|s| acts(s)).count();
        parts.push(format!(
            "{} scope(s) ({acting} that write or execute)",
            v.scopes.len()
        ));
    }
    match v.ip_allowlist.as_deref() {
        Some([]) => parts.push("no IP allowlist (usable from anywhere)".into()),
        Some(list) => parts.push(format!("IP allowlist {}", list.join(", "))),
        None => {}
    }
    Some(format!("reach: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(env: Option<&str>, sub: Option<&str>, scopes: &[&str]) -> Verification {
        Verification {
            status: VerificationStatus::Live,
            environment: env.map(str::to_string),
            sub_type: sub.map(str::to_string),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Verification::default()
        }
    }

    #[test]
    fn production_organizations_that_act_reach_furthest() {
        let org = live(
            Some("production"),
            Some("organization"),
            &["banks:read", "bank_applications:execute"],
        );
        let bank = live(Some("production"), Some("bank"), &["banks:read"]);
        let sandbox = live(
            Some("sandbox"),
            Some("organization"),
            &["transfers:execute"],
        );
        assert_eq!(severity_text(&org).as_deref(), Some("10.0"));
        assert!(rank(&org) > rank(&bank) && rank(&bank) > rank(&sandbox));
        assert_eq!(
            severity_text(&live(Some("production"), None, &[])).as_deref(),
            Some("9.8")
        );
        assert_eq!(severity(&Verification::default()), None);
        assert!(text(&org)
            .expect("live")
            .contains("2 scope(s) (1 that write or execute)"));
    }
}
