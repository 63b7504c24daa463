//! Reading incidents back: the list, one incident with its occurrences and
//! triage history, and the findings a report is built from.

use serde::Serialize;

use super::backend::{Kind, Param, Row};
use super::{Datastore, DatastoreError, Status};
use crate::finding::RevocationTarget;
use crate::finding::{
    Confidence, Finding, Fingerprint, Location, SourceKind, Triage, Verification,
    VerificationStatus,
};
use crate::report::json::{FindingRecord, ReportRecord, ToolRecord, REPORT_SCHEMA_VERSION};
use crate::report::Reveal;
use crate::report::Stats;
use crate::secret::Secret;

/// What the datastore knows of one credential (`incidents list`).
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRecord {
    pub fingerprint: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_note: String,
    pub rule_id: String,
    /// Redacted: the datastore holds no secret.
    pub secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub confidence: String,
    pub repositories: Vec<String>,
    pub sources: Vec<String>,
    pub occurrences: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub verification: VerificationRecord,
    /// An authenticated credential's application (client id in full, type):
    /// for `revoke`/`rotate --datastore` only, never listed.
    #[serde(skip)]
    pub revocation: Option<(String, Option<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerificationRecord {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the verdict was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// One place an incident's credential was found.
#[derive(Debug, Clone, Serialize)]
pub struct OccurrenceRecord {
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repository: String,
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entry: String,
    pub line: u64,
    pub column: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commit: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub blob: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub run: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub first_seen: String,
    #[serde(skip)]
    end: (u64, u64),
    #[serde(skip)]
    step: Option<String>,
    #[serde(skip)]
    at_head: Option<bool>,
}

/// One triage change, as `incidents show` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRecord {
    pub from: String,
    pub to: String,
    pub note: String,
    pub who: String,
    pub at: String,
}

/// The incident columns, with each incident's repositories and sources as
/// a JSON list (each engine has its own aggregate for it).
fn incident_columns(kind: Kind) -> String {
    let list = |expr: &str, filter: &str| {
        match kind {
        Kind::Sqlite => format!(
            "(SELECT json_group_array(DISTINCT {expr}) FROM occurrences o WHERE o.fingerprint = i.fingerprint{filter})"
        ),
        Kind::Postgres => format!(
            "(SELECT COALESCE(json_agg(DISTINCT {expr})::text, '[]') FROM occurrences o WHERE o.fingerprint = i.fingerprint{filter})"
        ),
    }
    };
    format!(
        "i.fingerprint, i.status, i.status_note, i.rule_id, i.secret, i.client_id,
         i.confidence, i.first_seen, i.last_seen, i.verification, i.verification_environment,
         i.verification_reason, i.verified_at, {}, {},
         (SELECT count(*) FROM occurrences o WHERE o.fingerprint = i.fingerprint),
         i.revocation_client_id, i.revocation_type",
        list("repository", " AND repository != ''"),
        list("source", "")
    )
}

fn incident(r: &Row) -> IncidentRecord {
    let list = |i: usize| -> Vec<String> {
        let mut v: Vec<String> = serde_json::from_str(&r.text(i)).unwrap_or_default();
        v.sort();
        v
    };
    IncidentRecord {
        fingerprint: r.text(0),
        status: r.text(1),
        status_note: r.text(2),
        rule_id: r.text(3),
        secret: r.text(4),
        client_id: r.opt_text(5),
        confidence: r.text(6),
        first_seen: r.text(7),
        last_seen: r.text(8),
        verification: VerificationRecord {
            status: r.text(9),
            environment: r.opt_text(10),
            reason: r.opt_text(11),
            at: r.opt_text(12),
        },
        repositories: list(13),
        sources: list(14),
        occurrences: r.int(15) as u64,
        revocation: r.opt_text(16).map(|id| (id, r.opt_text(17))),
    }
}

fn occurrence(r: &Row) -> OccurrenceRecord {
    let n = |i: usize| r.int(i).max(0) as u64;
    OccurrenceRecord {
        source: r.text(0),
        repository: r.text(1),
        path: r.text(2),
        entry: r.text(3),
        line: n(4),
        column: n(5),
        end: (n(6), n(7)),
        commit: r.text(8),
        blob: r.text(9),
        run: r.text(10),
        job: r.text(11),
        step: r.opt_text(12),
        url: r.opt_text(13),
        author: r.opt_text(14),
        date: r.opt_text(15),
        at_head: r.opt_bool(16),
        first_seen: r.text(17),
    }
}

const OCCURRENCE_COLUMNS: &str = "source, repository, path, entry, line, col, end_line, end_col,
    commit_id, blob, ci_run, job, step, url, author, date, at_head, first_seen";

impl Datastore {
    /// Every incident (or those with `status`), most recently seen first.
    pub fn incidents(&self, status: Option<Status>) -> Result<Vec<IncidentRecord>, DatastoreError> {
        let columns = incident_columns(self.db.kind());
        let rows = match status {
            Some(s) => self.db.query(
                &format!(
                    "SELECT {columns} FROM incidents i WHERE i.status = ?1
                     ORDER BY i.last_seen DESC, i.fingerprint"
                ),
                &[Param::Text(s.as_str())],
            ),
            None => self.db.query(
                &format!(
                    "SELECT {columns} FROM incidents i ORDER BY i.last_seen DESC, i.fingerprint"
                ),
                &[],
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(incident).collect())
    }

    /// The one incident whose fingerprint starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<String, DatastoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        let unknown = || DatastoreError::UnknownIncident {
            path: self.path.clone(),
            prefix: prefix.clone(),
        };
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        // Hex digits only: no LIKE wildcard in the pattern.
        let found = self
            .db
            .query(
                "SELECT fingerprint FROM incidents WHERE fingerprint LIKE ?1 LIMIT 2",
                &[Param::Text(&format!("{prefix}%"))],
            )
            .map_err(|e| self.err(e))?;
        match found.len() {
            0 => Err(unknown()),
            1 => Ok(found[0].text(0)),
            count => Err(DatastoreError::AmbiguousIncident {
                path: self.path.clone(),
                prefix,
                count,
            }),
        }
    }

    /// One incident, its occurrences and its triage history.
    pub fn incident(
        &self,
        fingerprint: &str,
    ) -> Result<(IncidentRecord, Vec<OccurrenceRecord>, Vec<HistoryRecord>), DatastoreError> {
        let columns = incident_columns(self.db.kind());
        let record = self
            .db
            .query_opt(
                &format!("SELECT {columns} FROM incidents i WHERE i.fingerprint = ?1"),
                &[Param::Text(fingerprint)],
            )
            .map_err(|e| self.err(e))?
            .map(|r| incident(&r))
            .ok_or_else(|| DatastoreError::UnknownIncident {
                path: self.path.clone(),
                prefix: fingerprint.to_string(),
            })?;
        let occurrences = self.occurrences(fingerprint)?;
        let history = self
            .db
            .query(
                "SELECT from_status, to_status, note, who, at FROM triage_history
                 WHERE fingerprint = ?1 ORDER BY id",
                &[Param::Text(fingerprint)],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| HistoryRecord {
                from: r.text(0),
                to: r.text(1),
                note: r.text(2),
                who: r.text(3),
                at: r.text(4),
            })
            .collect();
        Ok((record, occurrences, history))
    }

    pub fn occurrences(&self, fingerprint: &str) -> Result<Vec<OccurrenceRecord>, DatastoreError> {
        let sql = format!(
            "SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE fingerprint = ?1
             ORDER BY repository, path, entry, line, col, commit_id"
        );
        let rows = self
            .db
            .query(&sql, &[Param::Text(fingerprint)])
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(occurrence).collect())
    }

    /// The findings recorded for a file or log whose content had `digest`,
    /// as found now at `shown`: the same lines and columns, the path (and
    /// an archive member's outer path) made `shown`. Secrets are the
    /// redacted forms the datastore holds.
    pub fn findings_of_content(
        &self,
        shown: &str,
        digest: &str,
    ) -> Result<Vec<Finding>, DatastoreError> {
        let fps = self
            .db
            .query(
                "SELECT DISTINCT fingerprint FROM occurrences
                 WHERE blob = ?1 AND source IN ('file', 'log') ORDER BY fingerprint",
                &[Param::Text(digest)],
            )
            .map_err(|e| self.err(e))?;
        let columns = incident_columns(self.db.kind());
        let mut all = Vec::new();
        for fp in fps.iter().map(|r| r.text(0)) {
            let Some(record) = self
                .db
                .query_opt(
                    &format!("SELECT {columns} FROM incidents i WHERE i.fingerprint = ?1"),
                    &[Param::Text(&fp)],
                )
                .map_err(|e| self.err(e))?
                .map(|r| incident(&r))
            else {
                continue;
            };
            let rows = self
                .db
                .query(
                    &format!(
                        "SELECT {OCCURRENCE_COLUMNS} FROM occurrences
                         WHERE fingerprint = ?1 AND blob = ?2 AND source IN ('file', 'log')"
                    ),
                    &[Param::Text(&fp), Param::Text(digest)],
                )
                .map_err(|e| self.err(e))?;
            for o in rows.iter().map(occurrence) {
                let base = o.path.split("!/").next().unwrap_or_default().to_string();
                all.push((base, to_finding(&record, o)));
            }
        }
        // The same content may have been recorded under several paths: the
        // one it has now if it is among them, else the first.
        let chosen = all
            .iter()
            .map(|(b, _)| b.as_str())
            .find(|b| *b == shown)
            .or_else(|| all.iter().map(|(b, _)| b.as_str()).min())
            .map(str::to_string);
        let Some(chosen) = chosen else {
            return Ok(Vec::new());
        };
        Ok(all
            .into_iter()
            .filter(|(b, _)| *b == chosen)
            .map(|(b, mut f)| {
                f.location.path = format!("{shown}{}", &f.location.path[b.len()..]);
                f.location.blob = None;
                f.triage = None;
                // As a scan without --verify says (the stored verdict stays).
                f.verification = Verification::default();
                f
            })
            .collect())
    }

    /// Every occurrence as a finding, for the report writers: secrets and
    /// client ids are the redacted forms the datastore holds.
    pub fn findings(&self, status: Option<Status>) -> Result<Vec<Finding>, DatastoreError> {
        let mut out = Vec::new();
        for i in self.incidents(status)? {
            for o in self.occurrences(&i.fingerprint)? {
                out.push(to_finding(&i, o));
            }
        }
        Ok(out)
    }
}

impl Datastore {
    /// The open incidents whose credential authenticated (live, or refused
    /// only by its IP allowlist), each occurrence as a finding of a report
    /// that `revoke` and `rotate` take: the application's client id in its
    /// `revocation`, the secret redacted (it is read again from the
    /// occurrences' locations under the runs' roots).
    pub fn revocation_report(&self) -> Result<ReportRecord, DatastoreError> {
        let mut findings = Vec::new();
        for i in self.incidents(Some(Status::Open))? {
            let Some((client_id, application_type)) = i.revocation.clone() else {
                continue;
            };
            let Some(environment) = i.verification.environment.clone() else {
                continue;
            };
            for o in self.occurrences(&i.fingerprint)? {
                let f = to_finding(&i, o);
                if !f.verification.authenticated() {
                    continue;
                }
                let mut record = FindingRecord::from_finding(&f, Reveal::Redact);
                record.revocation = Some(RevocationTarget {
                    client_id: client_id.clone(),
                    environment: environment.clone(),
                    application_type: application_type.clone(),
                });
                findings.push(record);
            }
        }
        let mut roots: Vec<String> = Vec::new();
        for r in self
            .db
            .query("SELECT DISTINCT roots FROM runs", &[])
            .map_err(|e| self.err(e))?
        {
            for root in serde_json::from_str::<Vec<String>>(&r.text(0)).unwrap_or_default() {
                if !roots.contains(&root) {
                    roots.push(root);
                }
            }
        }
        Ok(ReportRecord {
            tool: ToolRecord {
                name: "cybrid-scan".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                report_version: REPORT_SCHEMA_VERSION,
            },
            findings,
            leaks: Vec::new(),
            stats: Stats::default(),
            errors: Vec::new(),
            skipped: Vec::new(),
            notes: vec!["verification: the verdicts recorded in the datastore".to_string()],
            repositories: Vec::new(),
            roots,
        })
    }
}

fn to_finding(i: &IncidentRecord, o: OccurrenceRecord) -> Finding {
    let some = |s: String| (!s.is_empty()).then_some(s);
    let source = match o.source.as_str() {
        "git" => SourceKind::Git,
        "log" => SourceKind::Log,
        "ci" => SourceKind::Ci,
        "image" => SourceKind::Image,
        _ => SourceKind::File,
    };
    let ci = source == SourceKind::Ci;
    let image = source == SourceKind::Image;
    let repository = some(o.repository);
    // Images are recorded with the image where a repository would be and
    // the layer where an archive entry would be.
    let (entry, layer) = if image {
        (None, some(o.entry))
    } else {
        (some(o.entry), None)
    };
    Finding {
        rule_id: i.rule_id.clone(),
        fingerprint: Fingerprint(i.fingerprint.clone()),
        secret: Secret::new(i.secret.clone()),
        client_id: i.client_id.clone().map(Secret::new),
        confidence: match i.confidence.as_str() {
            "high" => Confidence::High,
            "medium" => Confidence::Medium,
            _ => Confidence::Low,
        },
        location: Location {
            source,
            path: o.path,
            line: o.line,
            column: o.column,
            end_line: o.end.0,
            end_column: o.end.1,
            entry,
            layer,
            image: repository.clone().filter(|_| image),
            blob: some(o.blob),
            commit: some(o.commit),
            author: o.author,
            date: o.date,
            at_head: o.at_head,
            repository: repository.clone().filter(|_| ci),
            run: some(o.run),
            job: some(o.job),
            step: o.step,
            url: o.url,
            ..Location::default()
        },
        verification: Verification {
            status: verification_status(&i.verification.status),
            environment: i.verification.environment.clone(),
            reason: i.verification.reason.clone(),
            ..Verification::default()
        },
        token: None,
        environment_hint: None,
        repository: repository.filter(|_| !ci),
        allowed_inline: false,
        triage: (i.status != "open").then(|| Triage {
            status: i.status.clone(),
            note: i.status_note.clone(),
        }),
    }
}

fn verification_status(s: &str) -> VerificationStatus {
    match s {
        "live" => VerificationStatus::Live,
        "invalid" => VerificationStatus::Invalid,
        "unknown" => VerificationStatus::Unknown,
        "unverifiable" => VerificationStatus::Unverifiable,
        _ => VerificationStatus::NotChecked,
    }
}
