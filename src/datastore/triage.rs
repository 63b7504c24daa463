//! Triage: an incident's status, changed by a person (or reopened by a scan
//! that finds it live again), each change kept with its note, who and when.

use serde::{Deserialize, Serialize};

use super::backend::{Backend, DbError, Param};
use super::{now, Datastore, DatastoreError};

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Status {
    /// Needs action.
    Open,
    /// The credential was deleted at Cybrid.
    Revoked,
    /// Replaced by a new credential, the old one deleted.
    Rotated,
    /// Not a credential.
    FalsePositive,
    /// A credential of a test environment, knowingly public.
    TestCredential,
    /// Known and accepted.
    AcceptedRisk,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Revoked => "revoked",
            Status::Rotated => "rotated",
            Status::FalsePositive => "false_positive",
            Status::TestCredential => "test_credential",
            Status::AcceptedRisk => "accepted_risk",
        }
    }
}

/// Who triages: `--who`, else `$USER`, else `unknown`.
pub fn who(given: Option<&str>) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Set an incident's status and keep the change in its history.
pub(super) fn set_status(
    db: &Backend,
    fingerprint: &str,
    from: &str,
    to: &str,
    note: &str,
    who: &str,
    at: &str,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE incidents SET status = ?2, status_note = ?3 WHERE fingerprint = ?1",
        &[Param::Text(fingerprint), Param::Text(to), Param::Text(note)],
    )?;
    db.execute(
        "INSERT INTO triage_history (fingerprint, from_status, to_status, note, who, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            Param::Text(fingerprint),
            Param::Text(from),
            Param::Text(to),
            Param::Text(note),
            Param::Text(who),
            Param::Text(at),
        ],
    )?;
    Ok(())
}

/// One triage change made.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub fingerprint: String,
    pub from: String,
    pub to: String,
}

impl Datastore {
    /// Triage the incidents whose fingerprints start with `prefixes` (each
    /// must name exactly one), all in one transaction.
    pub fn triage(
        &mut self,
        prefixes: &[String],
        status: Status,
        note: &str,
        who: &str,
    ) -> Result<Vec<Change>, DatastoreError> {
        let mut targets = Vec::new();
        for p in prefixes {
            let fp = self.resolve(p)?;
            if !targets.contains(&fp) {
                targets.push(fp);
            }
        }
        let changes: Vec<(String, Status, String)> = targets
            .into_iter()
            .map(|fp| (fp, status, note.to_string()))
            .collect();
        self.set_statuses(&changes, who)
    }

    /// Set each (fingerprint, status, note) given in full, all in one
    /// transaction; a fingerprint the datastore does not hold is left out
    /// (a revocation of a credential no scan recorded). Each change is
    /// kept in the incident's history with `who` and the time.
    pub fn set_statuses(
        &mut self,
        changes: &[(String, Status, String)],
        who: &str,
    ) -> Result<Vec<Change>, DatastoreError> {
        let at = now();
        self.db
            .write(|tx| {
                let mut done = Vec::new();
                for (fp, status, note) in changes {
                    let Some(row) = tx.query_opt(
                        "SELECT status FROM incidents WHERE fingerprint = ?1",
                        &[Param::Text(fp)],
                    )?
                    else {
                        continue;
                    };
                    let from = row.text(0);
                    set_status(tx, fp, &from, status.as_str(), note, who, &at)?;
                    done.push(Change {
                        fingerprint: fp.clone(),
                        from,
                        to: status.as_str().to_string(),
                    });
                }
                Ok(done)
            })
            .map_err(|e| self.err(e))
    }
}
