//! What a scan produces: a finding with its location, confidence and verdict.
//!
//! A `Finding` owns everything; it outlives the chunk it was found in and flows
//! through verification, suppression and reporting unchanged in shape.

use crate::refs::RefSet;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// One step down, used when the evidence around a candidate is weaker.
    pub fn lowered(self) -> Self {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the bytes came from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[default]
    File,
    Git,
    Log,
    /// A CI job log fetched through the GitHub or GitLab API (`ci`).
    Ci,
    /// A file of a container image's layer, or its configuration (`image`).
    Image,
}

/// A position in the scanned input, plus provenance for git and archives.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub source: SourceKind,
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub end_line: u64,
    pub end_column: u64,
    /// Archive entry inside `path` (e.g. a zip of CI logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The blob the secret is in (git): one credential rebuilt into many
    /// blobs is counted by them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_head: Option<bool>,
    /// Refs that reach the commit. Shared between the findings of one
    /// commit: a GitHub mirror's thousands of pull-request refs are listed
    /// once in memory, not once per finding.
    #[serde(default, skip_serializing_if = "RefSet::is_empty")]
    pub refs: RefSet,
    /// How many refs reach the commit, when `refs` lists only the first
    /// few (reports list at most 32 unless `--all-refs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refs_total: Option<u64>,
    /// Image: the image as named, `@` its digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image: the layer's digest, or `config` for the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Image: the layer's position, 1 for the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_number: Option<u64>,
    /// Image: the layer that deletes or overwrites this file, so that the
    /// final image no longer shows it (it is still in the layer it was in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by_layer: Option<u64>,
    /// CI: `owner/repo` (GitHub) or the project's path (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// CI: the GitHub workflow run id or the GitLab job id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// CI: the job's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// CI (GitHub): the step's number and name, as in the log archive (`3_Run tests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// CI: a link to the line in the CI's web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `dir`: the file is excluded by `.gitignore`/`.ignore` (so most
    /// likely not committed) and was scanned because its name holds secrets
    /// by convention (`.env`, `*.pem`, …). Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored_by_vcs: bool,
    /// Why the finding here is Cybrid's. Kept with the location because it is
    /// read from the bytes at this place; reports write it beside `location`
    /// as the finding's `context`, not inside it.
    #[serde(skip)]
    pub context: Option<Context>,
}

/// The state of a credential after (optional) verification.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    #[default]
    NotChecked,
    Live,
    Invalid,
    Unknown,
    Unverifiable,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::NotChecked => "not_checked",
            VerificationStatus::Live => "live",
            VerificationStatus::Invalid => "invalid",
            VerificationStatus::Unknown => "unknown",
            VerificationStatus::Unverifiable => "unverifiable",
        }
    }
}

/// What the token endpoint said about a pair. Never holds a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub status: VerificationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `bank`, `organization` or `customer`, from the minted token's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// The bank or organization GUID the credential acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The application's IP allowlist (`[]`: none, usable from anywhere),
    /// read when an admin credential was at hand; absent when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
}

impl Verification {
    /// The reason of a verdict whose pair the token endpoint authenticated
    /// but refused to this machine's address (its IP allowlist).
    pub const IP_RESTRICTED: &'static str = "ip_restricted";

    /// The pair authenticated: live, or refused only by an IP allowlist (the
    /// credential is right and works from inside the list; it stays
    /// `unknown` because this machine could not use it). Either can be
    /// revoked or rotated: a deleted application answers `invalid_client`
    /// from anywhere, so its death is confirmed all the same.
    pub fn authenticated(&self) -> bool {
        self.status == VerificationStatus::Live
            || (self.status == VerificationStatus::Unknown
                && self.reason.as_deref() == Some(Self::IP_RESTRICTED))
    }
}

/// What `cybrid-scan revoke` needs to delete a leaked application, kept in
/// the JSON report for live findings only. The client_id is written in full
/// (the one exception to redaction): alone it cannot mint a token, and the
/// delete endpoints are addressed by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationTarget {
    pub client_id: String,
    pub environment: String,
    /// `bank` or `organization`, from the minted token's `sub_type`; absent
    /// when unknown (revocation then asks the GET endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
}

/// Facts decoded from a leaked access token (JWT). Decoded, never verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Expiry as RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub expired: bool,
}

/// What made a finding Cybrid's: the value's own key, a block it sits in,
/// the project it belongs to, or a Cybrid host beside it (or, for a token,
/// its issuer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Key,
    Parent,
    Project,
    Host,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Key => "key",
            Via::Parent => "parent",
            Via::Project => "project",
            Via::Host => "host",
        }
    }
}

/// Why a finding was attributed to Cybrid, so a reviewer can see at a glance
/// why a generic `CLIENT_SECRET` was reported. Holds names, never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Context {
    /// The key the value is assigned to, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `None` only while a project-context candidate awaits its project's evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// What named Cybrid: the key, the parent block, the manifest or host, the issuer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence: String,
    /// Anything a reviewer should know about the confidence (an unpaired client id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Context {
    /// A candidate that only its project's evidence can make Cybrid's.
    pub fn awaits_project(&self) -> bool {
        self.via.is_none()
    }

    /// One line for the human report: `via key CYBRID_CLIENT_SECRET`.
    pub fn describe(&self) -> String {
        let via = self.via.map_or("project (pending)", Via::as_str);
        let mut s = format!("Cybrid's via {via}");
        if !self.evidence.is_empty() {
            s.push_str(": ");
            s.push_str(&self.evidence);
        }
        if let Some(n) = &self.note {
            s.push_str(" (");
            s.push_str(n);
            s.push(')');
        }
        s
    }
}

/// A one-way, line-free, path-free identity of a leaked secret under one rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    /// Domain tag keeps these hashes from colliding with any other SHA-256 of the secret.
    const DOMAIN: &'static [u8] = b"cybrid-scan/fingerprint/v1\0";

    pub fn of(rule_id: &str, secret: &Secret) -> Self {
        let mut h = Sha256::new();
        h.update(Self::DOMAIN);
        h.update(rule_id.as_bytes());
        h.update([0u8]);
        h.update(secret.expose().as_bytes());
        Fingerprint(hex::encode(h.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One leaked credential at one place.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule_id: String,
    pub fingerprint: Fingerprint,
    pub secret: Secret,
    pub client_id: Option<Secret>,
    pub confidence: Confidence,
    pub location: Location,
    pub verification: Verification,
    pub token: Option<TokenInfo>,
    /// Cybrid environment named by a host near the finding, used to pick where to verify.
    pub environment_hint: Option<String>,
    /// Set by sweeps: which repository of the manifest this came from.
    pub repository: Option<String>,
    /// A `cybrid-scan:allow` comment is on the finding's line or the line
    /// before; set where the bytes are still at hand ([`crate::collect::to_findings`]),
    /// acted on (dropped and counted) by the suppression step.
    pub allowed_inline: bool,
    /// The incident's triage in the datastore (`--datastore`), when it is
    /// not `open`.
    pub triage: Option<Triage>,
}

/// How a person triaged a credential's incident in the datastore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// `revoked`, `rotated`, `false_positive`, `test_credential`, `accepted_risk`.
    pub status: String,
    pub note: String,
}

impl Triage {
    /// Statuses that say the finding needs no action: it no longer fails a
    /// gate and becomes a SARIF suppression.
    pub const SUPPRESSING: [&'static str; 3] =
        ["false_positive", "test_credential", "accepted_risk"];

    pub fn suppresses(&self) -> bool {
        Self::SUPPRESSING.contains(&self.status.as_str())
    }
}

impl Finding {
    /// The revocation target of a finding whose pair authenticated (live,
    /// or refused only by its IP allowlist) with a known pair.
    pub fn revocation_target(&self) -> Option<RevocationTarget> {
        if !self.verification.authenticated() {
            return None;
        }
        Some(RevocationTarget {
            client_id: self.client_id.as_ref()?.expose().to_string(),
            environment: self.verification.environment.clone()?,
            application_type: self
                .verification
                .sub_type
                .clone()
                .filter(|t| t == "bank" || t == "organization"),
        })
    }

    /// Whether its incident was triaged as needing no action.
    pub fn triaged_away(&self) -> bool {
        self.triage.as_ref().is_some_and(Triage::suppresses)
    }

    /// Sort key that makes reports identical whatever the thread count.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            &self.repository,
            &self.location.path,
            &self.location.entry,
            self.location.line,
            self.location.column,
            &self.rule_id,
            &self.location.commit,
            &self.fingerprint,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_rule_scoped() {
        let s = Secret::new("k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ");
        let a = Fingerprint::of("cybrid-client-secret", &s);
        let b = Fingerprint::of("cybrid-client-secret", &s);
        let c = Fingerprint::of("cybrid-client-id", &s);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().len(), 64);
        assert!(!a.as_str().contains(s.expose()));
    }
}
