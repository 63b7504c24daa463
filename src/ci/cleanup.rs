//! `--delete-leaking-logs`: remove the logs that leak, like revocation
//! removes the credential. A secret printed in a CI log stays readable by
//! everyone with read access to the repository for the whole retention
//! period; deleting the log (GitHub: `DELETE .../runs/{id}/logs`; GitLab:
//! erase the job) ends that, but not the leak itself: the credential must
//! still be revoked.
//!
//! Deleting a GitHub run's logs leaves its artifacts: findings in artifacts
//! (`ci --artifacts`) do not make a run's logs a target; the plan lists those
//! artifacts as left in place ([`Plan::artifacts_left`]). Erasing a GitLab
//! job removes its trace and its artifacts, so either kind of finding counts.
//!
//! Only units with findings (after suppression) are touched. The plan is
//! printed first; every step goes to the audit log (`revoke`'s JSON-lines
//! log, actions `ci_delete_logs` / `ci_erase_job`), fsynced before the next
//! request. A rerun is idempotent: 404 and 410 mean already gone.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::{Finding, SourceKind};
use crate::revoke::audit::{AuditError, AuditLog, Step};

use super::{Provider, ProviderKind, UnitRecord};

/// One run (GitHub) or job (GitLab) whose logs leak.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub repository: String,
    pub repo_id: String,
    pub unit: u64,
    /// How reports name it (`owner/repo/actions/runs/ID`, `group/project/-/jobs/ID`).
    pub path: String,
    pub findings: usize,
    /// Distinct credentials (fingerprints) in it.
    pub credentials: usize,
}

/// What `--delete-leaking-logs` will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Artifacts with findings that the deletion leaves in place (GitHub):
    /// their report path and how many findings.
    pub artifacts_left: Vec<(String, usize)>,
}

/// The units of `findings` (CI findings only) to delete, with the ids the
/// API needs from `records`. A finding whose `path` is not its unit's is in
/// an artifact: it counts for a GitLab erase, not for a GitHub log deletion.
pub fn plan(kind: ProviderKind, findings: &[Finding], records: &[UnitRecord]) -> Plan {
    let ids: BTreeMap<(&str, u64), (&str, &str)> = records
        .iter()
        .map(|r| {
            (
                (r.repository.as_str(), r.unit),
                (r.repo_id.as_str(), r.path.as_str()),
            )
        })
        .collect();
    let mut grouped: BTreeMap<(String, u64), (usize, BTreeSet<&str>)> = BTreeMap::new();
    let mut left: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| f.location.source == SourceKind::Ci)
    {
        let (Some(repo), Some(run)) = (&f.location.repository, &f.location.run) else {
            continue;
        };
        let Ok(run) = run.parse::<u64>() else {
            continue;
        };
        let in_artifact = ids
            .get(&(repo.as_str(), run))
            .is_some_and(|(_, path)| *path != f.location.path);
        if in_artifact && kind == ProviderKind::GitHub {
            *left.entry(f.location.path.clone()).or_default() += 1;
            continue;
        }
        let slot = grouped.entry((repo.clone(), run)).or_default();
        slot.0 += 1;
        slot.1.insert(f.fingerprint.as_str());
    }
    let targets = grouped
        .into_iter()
        .filter_map(|((repository, unit), (findings, fps))| {
            let (repo_id, path) = ids.get(&(repository.as_str(), unit))?;
            Some(Target {
                repo_id: repo_id.to_string(),
                path: path.to_string(),
                repository,
                unit,
                findings,
                credentials: fps.len(),
            })
        })
        .collect();
    Plan {
        targets,
        artifacts_left: left.into_iter().collect(),
    }
}

/// The plan, as printed before anything is deleted.
pub fn describe(kind: ProviderKind, plan: &Plan, dry_run: bool) -> String {
    let targets = &plan.targets;
    let what = match kind {
        ProviderKind::GitHub => "delete the logs of",
        ProviderKind::GitLab => "erase (trace and artifacts of)",
    };
    let mut s = String::new();
    if !targets.is_empty() {
        s = format!(
            "{} {what} {} {} with findings:\n",
            if dry_run { "Would" } else { "Will" },
            targets.len(),
            match kind {
                ProviderKind::GitHub => "run(s)",
                ProviderKind::GitLab => "job(s)",
            }
        );
    }
    for t in targets {
        s.push_str(&format!(
            "  {}  ({} finding(s), {} credential(s))\n",
            crate::report::escape_for_terminal(&t.path),
            t.findings,
            t.credentials
        ));
    }
    if !plan.artifacts_left.is_empty() {
        s.push_str(&format!(
            "Not deleted: deleting a run's logs does not delete its artifacts; {} artifact(s) with findings stay until they expire or are deleted (web UI, or DELETE /repos/OWNER/REPO/actions/artifacts/ID):\n",
            plan.artifacts_left.len()
        ));
        for (path, findings) in &plan.artifacts_left {
            s.push_str(&format!(
                "  {}  ({findings} finding(s))\n",
                crate::report::escape_for_terminal(path)
            ));
        }
    }
    s
}

/// What happened to each target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Done {
    pub deleted: usize,
    pub already_gone: usize,
    pub failed: Vec<(String, String)>,
    pub planned: usize,
}

impl Done {
    pub fn note(&self, kind: ProviderKind, dry_run: bool) -> String {
        let noun = match kind {
            ProviderKind::GitHub => "run logs",
            ProviderKind::GitLab => "jobs",
        };
        if dry_run {
            return format!(
                "ci: --dry-run: {} {noun} with findings would be deleted; nothing was changed",
                self.planned
            );
        }
        format!(
            "ci: {} {noun} deleted, {} already gone, {} failed; deleting a log does not revoke what it leaked: revoke the credentials too (`--verify --revoke`, or `cybrid-scan revoke`)",
            self.deleted,
            self.already_gone,
            self.failed.len()
        )
    }
}

/// Delete (or, with `dry_run`, only record the plan of) each target.
/// Stops at the first audit-log write that fails: nothing is done unlogged.
pub fn execute(
    provider: &dyn Provider,
    targets: &[Target],
    audit: &mut AuditLog,
    dry_run: bool,
) -> Result<Done, AuditError> {
    let kind = provider.kind();
    let action = match kind {
        ProviderKind::GitHub => "ci_delete_logs",
        ProviderKind::GitLab => "ci_erase_job",
    };
    let mut done = Done {
        planned: targets.len(),
        ..Done::default()
    };
    // A dry run writes no audit log at all; a real one is on disk first.
    if !dry_run {
        audit.arm()?;
    }
    audit.append(Step::run(
        action,
        if dry_run { "planned_dry_run" } else { "start" },
        format!("{} {} target(s)", kind.as_str(), targets.len()),
    ))?;
    for t in targets {
        let step = |outcome: &str, status: Option<u16>, message: String| Step {
            action,
            outcome: outcome.to_string(),
            http_status: status,
            message: Some(message),
            ..Step::default()
        };
        let name = format!("{} ({} finding(s))", t.path, t.findings);
        if dry_run {
            audit.append(step("planned", None, name))?;
            continue;
        }
        audit.append(step("sent", None, name.clone()))?;
        match provider.delete_logs(&t.repository, &t.repo_id, t.unit) {
            Ok(status @ 200..=299) => {
                done.deleted += 1;
                audit.append(step("deleted", Some(status), name))?;
            }
            Ok(status @ (404 | 410)) => {
                done.already_gone += 1;
                audit.append(step("already_gone", Some(status), name))?;
            }
            Ok(status) => {
                done.failed.push((t.path.clone(), format!("HTTP {status}")));
                audit.append(step("failed", Some(status), name))?;
            }
            Err(e) if matches!(e.status(), Some(404 | 410)) => {
                done.already_gone += 1;
                audit.append(step("already_gone", e.status(), name))?;
            }
            Err(e) => {
                done.failed.push((t.path.clone(), e.to_string()));
                audit.append(step("failed", e.status(), format!("{name}: {e}")))?;
            }
        }
    }
    audit.append(Step::run(
        action,
        "finish",
        format!(
            "{} deleted, {} already gone, {} failed",
            done.deleted,
            done.already_gone,
            done.failed.len()
        ),
    ))?;
    Ok(done)
}
