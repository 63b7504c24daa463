//! Triage: an incident's status, changed by a person (or reopened by a scan
//! that finds it live again), each change kept with its note, who and when.

use rusqlite::{params, Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};

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
    conn: &Connection,
    fingerprint: &str,
    from: &str,
    to: &str,
    note: &str,
    who: &str,
    at: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE incidents SET status = ?2, status_note = ?3 WHERE fingerprint = ?1",
    )?
    .execute(params![fingerprint, to, note])?;
    conn.prepare_cached(
        "INSERT INTO triage_history (fingerprint, from_status, to_status, note, who, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![fingerprint, from, to, note, who, at])?;
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
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| super::classify(&self.path, e, "unreadable"))?;
        let mut changes = Vec::new();
        for fp in targets {
            let from: String = tx
                .query_row(
                    "SELECT status FROM incidents WHERE fingerprint = ?1",
                    [&fp],
                    |r| r.get(0),
                )
                .map_err(|e| super::classify(&self.path, e, "unreadable"))?;
            set_status(&tx, &fp, &from, status.as_str(), note, who, &at)
                .map_err(|e| super::classify(&self.path, e, "unreadable"))?;
            changes.push(Change {
                fingerprint: fp,
                from,
                to: status.as_str().to_string(),
            });
        }
        tx.commit()
            .map_err(|e| super::classify(&self.path, e, "unreadable"))?;
        Ok(changes)
    }
}
