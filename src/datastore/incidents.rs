//! Reading incidents back: the list, one incident with its occurrences and
//! triage history, and the findings a report is built from.

use rusqlite::{params, Row};
use serde::Serialize;

use super::{Datastore, DatastoreError, Status};
use crate::finding::{
    Confidence, Finding, Fingerprint, Location, SourceKind, Triage, Verification,
    VerificationStatus,
};
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

const INCIDENT_COLUMNS: &str = "i.fingerprint, i.status, i.status_note, i.rule_id, i.secret, i.client_id,
    i.confidence, i.first_seen, i.last_seen, i.verification, i.verification_environment,
    i.verification_reason, i.verified_at,
    (SELECT json_group_array(DISTINCT repository) FROM occurrences o WHERE o.fingerprint = i.fingerprint AND repository != ''),
    (SELECT json_group_array(DISTINCT source) FROM occurrences o WHERE o.fingerprint = i.fingerprint),
    (SELECT count(*) FROM occurrences o WHERE o.fingerprint = i.fingerprint)";

fn incident(r: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        let mut v: Vec<String> = serde_json::from_str(&text).unwrap_or_default();
        v.sort();
        Ok(v)
    };
    Ok(IncidentRecord {
        fingerprint: r.get(0)?,
        status: r.get(1)?,
        status_note: r.get(2)?,
        rule_id: r.get(3)?,
        secret: r.get(4)?,
        client_id: r.get(5)?,
        confidence: r.get(6)?,
        first_seen: r.get(7)?,
        last_seen: r.get(8)?,
        verification: VerificationRecord {
            status: r.get(9)?,
            environment: r.get(10)?,
            reason: r.get(11)?,
            at: r.get(12)?,
        },
        repositories: list(13)?,
        sources: list(14)?,
        occurrences: r.get::<_, i64>(15)? as u64,
    })
}

fn occurrence(r: &Row<'_>) -> rusqlite::Result<OccurrenceRecord> {
    Ok(OccurrenceRecord {
        source: r.get(0)?,
        repository: r.get(1)?,
        path: r.get(2)?,
        entry: r.get(3)?,
        line: r.get::<_, i64>(4)? as u64,
        column: r.get::<_, i64>(5)? as u64,
        end: (r.get::<_, i64>(6)? as u64, r.get::<_, i64>(7)? as u64),
        commit: r.get(8)?,
        blob: r.get(9)?,
        run: r.get(10)?,
        job: r.get(11)?,
        step: r.get(12)?,
        url: r.get(13)?,
        author: r.get(14)?,
        date: r.get(15)?,
        at_head: r.get(16)?,
        first_seen: r.get(17)?,
    })
}

const OCCURRENCE_COLUMNS: &str = "source, repository, path, entry, line, col, end_line, end_col,
    commit_id, blob, ci_run, job, step, url, author, date, at_head, first_seen";

impl Datastore {
    /// Every incident (or those with `status`), most recently seen first.
    pub fn incidents(&self, status: Option<Status>) -> Result<Vec<IncidentRecord>, DatastoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE ?1 IS NULL OR i.status = ?1
             ORDER BY i.last_seen DESC, i.fingerprint"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([status.map(Status::as_str)], incident)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
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
        let mut stmt = self
            .conn
            .prepare(
                "SELECT fingerprint FROM incidents WHERE substr(fingerprint, 1, ?2) = ?1 LIMIT 2",
            )
            .map_err(|e| self.err(e))?;
        let found: Vec<String> = stmt
            .query_map(params![prefix, prefix.len() as i64], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        match found.len() {
            0 => Err(unknown()),
            1 => Ok(found.into_iter().next().unwrap_or_default()),
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
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.fingerprint = ?1");
        let record = self
            .conn
            .query_row(&sql, [fingerprint], incident)
            .map_err(|e| self.err(e))?;
        let occurrences = self.occurrences(fingerprint)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT from_status, to_status, note, who, at FROM triage_history
                 WHERE fingerprint = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let history = stmt
            .query_map([fingerprint], |r| {
                Ok(HistoryRecord {
                    from: r.get(0)?,
                    to: r.get(1)?,
                    note: r.get(2)?,
                    who: r.get(3)?,
                    at: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok((record, occurrences, history))
    }

    pub fn occurrences(&self, fingerprint: &str) -> Result<Vec<OccurrenceRecord>, DatastoreError> {
        let sql = format!(
            "SELECT {OCCURRENCE_COLUMNS} FROM occurrences WHERE fingerprint = ?1
             ORDER BY repository, path, entry, line, col, commit_id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([fingerprint], occurrence)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
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
