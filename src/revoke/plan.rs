//! Which applications to delete, from a report read back or from the
//! findings of the scan that just ran. One target per leaked application
//! (environment + client_id), however many places it was found in.

use std::collections::BTreeMap;
use std::fmt;

use crate::finding::{Finding, Fingerprint, RevocationTarget, VerificationStatus};
use crate::report::json::{FindingRecord, ReportRecord};
use crate::secret::Secret;

/// Whether a leaked credential belongs to a bank or an organization
/// application: it picks the endpoint (`/api/{bank,organization}_applications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppType {
    Bank,
    Organization,
}

impl AppType {
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Bank => "bank",
            AppType::Organization => "organization",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bank" => Some(AppType::Bank),
            "organization" => Some(AppType::Organization),
            _ => None,
        }
    }
}

impl fmt::Display for AppType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One application to delete.
#[derive(Debug, Clone)]
pub struct Target {
    /// The smallest fingerprint of its findings: the target's name in the
    /// audit log, stable across reruns of the same report.
    pub fingerprint: String,
    pub fingerprints: Vec<String>,
    pub client_id: Secret,
    /// The leaked client_secret, in memory only, when the scan that just ran
    /// found it or the report was written with `--show-secrets` (checked
    /// against the finding's fingerprint). Without it the deletion cannot
    /// be confirmed at the token endpoint.
    pub secret: Option<Secret>,
    /// As the report says it (checked against known environments when run).
    pub environment: String,
    /// `None`: ask the GET endpoints.
    pub app_type: Option<AppType>,
    /// `path:line` of each finding (for the plan and the receipt).
    pub locations: Vec<String>,
}

impl Target {
    /// The client_id as it may be shown: redacted.
    pub fn shown_client_id(&self) -> String {
        self.client_id.redacted()
    }

    /// `bank`, `organization` or `unknown type`.
    pub fn type_label(&self) -> &'static str {
        self.app_type.map_or("unknown type", AppType::as_str)
    }
}

/// What to revoke, and what could not be planned.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Live findings that lack the `revocation` data (an older report):
    /// each is a failure to report, not a silent skip.
    pub live_without_target: Vec<String>,
    pub findings: usize,
    pub live_findings: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// Why a report cannot be planned from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{path} has no verification data ({findings} finding(s), none checked): scan again with --verify -f json, then revoke from that report")]
    NotVerified { path: String, findings: usize },
}

/// One live finding, wherever it came from.
struct Live<'a> {
    fingerprint: &'a str,
    target: Option<RevocationTarget>,
    /// The pair's secret, when known exactly.
    secret: Option<Secret>,
    location: String,
}

/// `secret` as the leaked client_secret of `fingerprint`'s finding, only if
/// it is exact (a redacted value never matches the fingerprint) and is not
/// the client_id itself (a finding of the id alone).
fn exact_secret(
    rule_id: &str,
    fingerprint: &str,
    secret: &str,
    client_id: Option<&str>,
) -> Option<Secret> {
    let candidate = Secret::new(secret);
    let paired = client_id.is_some_and(|id| id != secret);
    (paired && Fingerprint::of(rule_id, &candidate).as_str() == fingerprint).then_some(candidate)
}

fn location_of(path: &str, line: u64, repository: Option<&str>) -> String {
    match repository {
        Some(repo) => format!("{repo}: {path}:{line}"),
        None => format!("{path}:{line}"),
    }
}

/// Group live findings by (environment, client_id), in a stable order.
fn group<'a>(live: impl Iterator<Item = Live<'a>>, findings: usize) -> Plan {
    let mut plan = Plan {
        findings,
        ..Plan::default()
    };
    let mut by_app: BTreeMap<(String, String), Target> = BTreeMap::new();
    for l in live {
        plan.live_findings += 1;
        let Some(t) = l.target else {
            plan.live_without_target.push(l.location);
            continue;
        };
        let entry = by_app
            .entry((t.environment.clone(), t.client_id.clone()))
            .or_insert_with(|| Target {
                fingerprint: l.fingerprint.to_string(),
                fingerprints: Vec::new(),
                client_id: Secret::new(t.client_id.clone()),
                secret: None,
                environment: t.environment.clone(),
                app_type: None,
                locations: Vec::new(),
            });
        if entry.secret.is_none() {
            entry.secret = l.secret;
        }
        if entry.app_type.is_none() {
            entry.app_type = t.application_type.as_deref().and_then(AppType::parse);
        }
        if !entry.fingerprints.iter().any(|f| f == l.fingerprint) {
            entry.fingerprints.push(l.fingerprint.to_string());
        }
        if l.fingerprint < entry.fingerprint.as_str() {
            entry.fingerprint = l.fingerprint.to_string();
        }
        if !entry.locations.contains(&l.location) {
            entry.locations.push(l.location);
        }
    }
    plan.targets = by_app.into_values().collect();
    plan.targets
        .sort_by(|a, b| (&a.environment, &a.fingerprint).cmp(&(&b.environment, &b.fingerprint)));
    plan
}

/// The plan of a report read back from `path`.
pub fn from_report(record: &ReportRecord, path: &str) -> Result<Plan, PlanError> {
    let checked = |f: &FindingRecord| f.verification.status != VerificationStatus::NotChecked;
    let noted = record.notes.iter().any(|n| n.starts_with("verification:"));
    if !record.findings.is_empty() && !noted && !record.findings.iter().any(checked) {
        return Err(PlanError::NotVerified {
            path: path.to_string(),
            findings: record.findings.len(),
        });
    }
    let live = record
        .findings
        .iter()
        .filter(|f| f.verification.authenticated())
        .map(|f| Live {
            fingerprint: &f.fingerprint,
            target: f.revocation.clone(),
            // The report's value when exact (--show-secrets), else read
            // again from the finding's location under the report's roots.
            secret: exact_secret(
                &f.rule_id,
                &f.fingerprint,
                &f.secret,
                f.revocation.as_ref().map(|t| t.client_id.as_str()),
            )
            .or_else(|| {
                let id = f.revocation.as_ref()?.client_id.as_str();
                super::reread::secret_at(&record.roots, &f.location, &f.rule_id, &f.fingerprint, id)
            }),
            location: location_of(&f.location.path, f.location.line, f.repository.as_deref()),
        });
    Ok(group(live, record.findings.len()))
}

/// The plan of the scan that just ran (`--verify --revoke`).
pub fn from_findings(findings: &[Finding]) -> Plan {
    let live = findings
        .iter()
        .filter(|f| f.verification.authenticated())
        .map(|f| Live {
            fingerprint: f.fingerprint.as_str(),
            target: f.revocation_target(),
            secret: exact_secret(
                &f.rule_id,
                f.fingerprint.as_str(),
                f.secret.expose(),
                f.client_id.as_ref().map(Secret::expose),
            ),
            location: location_of(&f.location.path, f.location.line, f.repository.as_deref()),
        });
    group(live, findings.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Verification};

    fn record(fp: &str, status: VerificationStatus, target: Option<(&str, &str)>) -> FindingRecord {
        FindingRecord {
            rule_id: "cybrid-client-secret".into(),
            fingerprint: fp.into(),
            secret: "***".into(),
            client_id: None,
            confidence: crate::finding::Confidence::High,
            location: Location {
                path: format!("{fp}.env"),
                line: 2,
                ..Location::default()
            },
            verification: Verification {
                status,
                ..Verification::default()
            },
            revocation: target.map(|(id, ty)| RevocationTarget {
                client_id: id.into(),
                environment: "sandbox".into(),
                application_type: (!ty.is_empty()).then(|| ty.to_string()),
            }),
            token: None,
            environment_hint: None,
            repository: None,
            context: None,
            triage: None,
        }
    }

    fn report(findings: Vec<FindingRecord>) -> ReportRecord {
        serde_json::from_value(serde_json::json!({
            "tool": {"name": "cybrid-scan", "version": "0"},
            "findings": [], "stats": {"files": 0, "bytes": 0, "duration_ms": 0}
        }))
        .map(|mut r: ReportRecord| {
            r.findings = findings;
            r
        })
        .expect("report")
    }

    #[test]
    fn one_target_per_application_and_the_smallest_fingerprint_names_it() {
        let r = report(vec![
            record("bb", VerificationStatus::Live, Some(("id1", "bank"))),
            record("aa", VerificationStatus::Live, Some(("id1", ""))),
            record("cc", VerificationStatus::Live, Some(("id2", ""))),
            record("dd", VerificationStatus::Invalid, None),
            record("ee", VerificationStatus::Live, None),
        ]);
        let plan = from_report(&r, "r.json").expect("plan");
        assert_eq!(plan.targets.len(), 2);
        assert_eq!(plan.targets[0].fingerprint, "aa");
        assert_eq!(plan.targets[0].app_type, Some(AppType::Bank));
        assert_eq!(plan.targets[0].locations.len(), 2);
        assert_eq!(plan.targets[1].app_type, None);
        assert_eq!(plan.live_without_target, vec!["ee.env:2".to_string()]);
        assert_eq!(plan.live_findings, 4);
    }

    #[test]
    fn only_an_exact_secret_is_kept_for_the_confirmation() {
        let exact = "SSSSssssTTTTttttUUUUuuuuVVVVvvvvWWWWwwwwXXX";
        let fp = Fingerprint::of("cybrid-client-secret", &Secret::new(exact));
        let mut shown = record(fp.as_str(), VerificationStatus::Live, Some(("id1", "bank")));
        shown.secret = exact.into();
        let mut redacted = shown.clone();
        redacted.secret = crate::secret::redact(exact);
        let plan = from_report(&report(vec![redacted.clone()]), "r.json").expect("plan");
        assert!(
            plan.targets[0].secret.is_none(),
            "a redacted value is not a secret"
        );
        let plan = from_report(&report(vec![redacted, shown]), "r.json").expect("plan");
        assert_eq!(
            plan.targets[0].secret.as_ref().map(Secret::expose),
            Some(exact)
        );
    }

    #[test]
    fn a_report_without_verification_is_refused() {
        let r = report(vec![record("aa", VerificationStatus::NotChecked, None)]);
        assert!(matches!(
            from_report(&r, "r.json"),
            Err(PlanError::NotVerified { findings: 1, .. })
        ));
        assert!(from_report(&report(vec![]), "r.json")
            .expect("empty")
            .is_empty());
    }
}
