//! Opening a datastore and recording a run into it: every finding upserted
//! as an occurrence of its incident, in one transaction.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::schema::{self, SCHEMA_VERSION};
use super::{classify, now, DatastoreError};
use crate::finding::{Finding, SourceKind, Triage, VerificationStatus};

/// How long a run waits for another writer before giving up.
pub const DEFAULT_WAIT_MS: u64 = 10_000;

/// The wait, which tests shorten with `CYBRID_SCAN_DATASTORE_WAIT_MS`.
pub fn wait_ms() -> u64 {
    std::env::var("CYBRID_SCAN_DATASTORE_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_WAIT_MS)
}

/// An open datastore.
pub struct Datastore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
}

/// What a run was, for the `runs` table.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub started: String,
    /// The subcommand (`git`, `sweep`...), never its arguments (a clone URL
    /// may carry a token).
    pub command: String,
    pub bytes: u64,
    /// What the run did not read again because the datastore had it.
    pub skipped: u64,
    /// The digest of the rules and engine the run scanned with.
    pub scan_key: String,
    /// What the run scanned, as (kind, key): `blob` + object id, `file` + content hash.
    pub scanned: Vec<(&'static str, String)>,
}

/// What recording a run found in the datastore.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The triage of each recorded incident that is not `open`, by fingerprint.
    pub triage: HashMap<String, Triage>,
    /// Notes on incidents reopened because they verified live again.
    pub reopened: Vec<String>,
    pub incidents: u64,
    pub new_incidents: u64,
}

impl Datastore {
    /// Open (or create) the datastore at `location`. A file that is not an
    /// SQLite database, or one of another program, or of a newer schema, is
    /// refused before anything is written to it.
    pub fn open(location: &str) -> Result<Self, DatastoreError> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Err(DatastoreError::Unsupported {
                location: crate::source::git::open::redact_url(location),
            });
        }
        let path = PathBuf::from(location);
        schema::check_header(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sql = |e| classify(&path, e, "not a database SQLite can read");
        let mut conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
        conn.busy_timeout(Duration::from_millis(wait_ms()))
            .map_err(sql)?;
        let version = schema::version(&conn, &path)?;
        if let Some(found) = version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(DatastoreError::Newer {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Readers never wait for the writer; writers wait for each other.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        if version != Some(SCHEMA_VERSION) {
            schema::migrate(&mut conn, version.unwrap_or(0)).map_err(sql)?;
        }
        Ok(Datastore { conn, path })
    }

    /// Open a datastore that must already exist (reading and triage never
    /// create one).
    pub fn open_existing(location: &str) -> Result<Self, DatastoreError> {
        let postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        if !postgres && !Path::new(location).exists() {
            return Err(DatastoreError::Missing {
                path: PathBuf::from(location),
            });
        }
        Self::open(location)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> DatastoreError {
        classify(&self.path, e, "unreadable")
    }

    /// The keys of `kind` already scanned under `scan_key`.
    pub fn scanned(&self, kind: &str, scan_key: &str) -> Result<BTreeSet<String>, DatastoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM scanned WHERE kind = ?1 AND scan_key = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![kind, scan_key], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Record a run: its findings as occurrences of their incidents, its
    /// verdicts, what it scanned. One transaction: all of it or nothing.
    pub fn record(
        &mut self,
        run: &RunInfo,
        findings: &[Finding],
    ) -> Result<Recorded, DatastoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e, "unreadable");
        let at = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO runs (started, finished, command, findings, incidents, new_incidents, bytes, skipped)
             VALUES (?1, ?1, ?2, 0, 0, 0, ?3, ?4)",
            params![run.started, run.command, run.bytes as i64, run.skipped as i64],
        )
        .map_err(err)?;
        let run_id = tx.last_insert_rowid();
        let mut recorded = Recorded::default();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for f in findings {
            let fp = f.fingerprint.as_str();
            let before: Option<(String, String)> = tx
                .prepare_cached("SELECT status, status_note FROM incidents WHERE fingerprint = ?1")
                .and_then(|mut s| s.query_row([fp], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(err)?;
            if before.is_none() && seen.insert(fp) {
                recorded.new_incidents += 1;
            } else {
                seen.insert(fp);
            }
            upsert_incident(&tx, f, &at).map_err(err)?;
            if let Some((status, _)) = &before {
                let live = f.verification.status == VerificationStatus::Live;
                if live && (status == "revoked" || status == "rotated") {
                    let env = f
                        .verification
                        .environment
                        .as_deref()
                        .unwrap_or("an unknown environment");
                    let note =
                        format!("verified live again in {env} at {at}: reopened (it was {status})");
                    super::triage::set_status(&tx, fp, status, "open", &note, "cybrid-scan", &at)
                        .map_err(err)?;
                    recorded
                        .reopened
                        .push(format!("incident {}: {note}", &fp[..12.min(fp.len())]));
                }
            }
            insert_occurrence(&tx, f, &at, run_id).map_err(err)?;
        }
        for (kind, key) in &run.scanned {
            tx.prepare_cached(
                "INSERT INTO scanned (kind, key, scan_key, run) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![kind, key, run.scan_key, run_id]))
            .map_err(err)?;
        }
        for fp in &seen {
            let state: (String, String) = tx
                .prepare_cached("SELECT status, status_note FROM incidents WHERE fingerprint = ?1")
                .and_then(|mut s| s.query_row([fp], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(err)?;
            if state.0 != "open" {
                recorded.triage.insert(
                    fp.to_string(),
                    Triage {
                        status: state.0,
                        note: state.1,
                    },
                );
            }
        }
        recorded.incidents = seen.len() as u64;
        tx.execute(
            "UPDATE runs SET finished = ?1, findings = ?2, incidents = ?3, new_incidents = ?4 WHERE id = ?5",
            params![
                now(),
                findings.len() as i64,
                recorded.incidents as i64,
                recorded.new_incidents as i64,
                run_id
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(recorded)
    }
}

fn upsert_incident(tx: &rusqlite::Transaction<'_>, f: &Finding, at: &str) -> rusqlite::Result<()> {
    let v = &f.verification;
    let checked = v.status != VerificationStatus::NotChecked;
    tx.prepare_cached(
        "INSERT INTO incidents (fingerprint, rule_id, secret, client_id, confidence, first_seen, last_seen,
                                verification, verification_environment, verification_reason, verified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(fingerprint) DO UPDATE SET
            last_seen = excluded.last_seen,
            client_id = COALESCE(incidents.client_id, excluded.client_id),
            confidence = CASE WHEN (CASE excluded.confidence WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
                                 > (CASE incidents.confidence WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
                              THEN excluded.confidence ELSE incidents.confidence END,
            verification = CASE WHEN ?11 THEN excluded.verification ELSE incidents.verification END,
            verification_environment = CASE WHEN ?11 THEN excluded.verification_environment
                                            ELSE incidents.verification_environment END,
            verification_reason = CASE WHEN ?11 THEN excluded.verification_reason
                                       ELSE incidents.verification_reason END,
            verified_at = CASE WHEN ?11 THEN excluded.verified_at ELSE incidents.verified_at END",
    )?
    .execute(params![
        f.fingerprint.as_str(),
        f.rule_id,
        f.secret.redacted(),
        f.client_id.as_ref().map(|c| c.redacted()),
        f.confidence.as_str(),
        at,
        v.status.as_str(),
        v.environment,
        v.reason,
        checked.then_some(at),
        checked,
    ])?;
    Ok(())
}

pub(super) fn source_name(s: SourceKind) -> &'static str {
    match s {
        SourceKind::File => "file",
        SourceKind::Git => "git",
        SourceKind::Log => "log",
        SourceKind::Ci => "ci",
        SourceKind::Image => "image",
    }
}

fn insert_occurrence(
    tx: &rusqlite::Transaction<'_>,
    f: &Finding,
    at: &str,
    run: i64,
) -> rusqlite::Result<()> {
    let l = &f.location;
    // An image stands where a repository would; its layer where an entry would.
    let repository = f
        .repository
        .as_ref()
        .or(l.repository.as_ref())
        .or(l.image.as_ref());
    tx.prepare_cached(
        "INSERT INTO occurrences (fingerprint, source, repository, path, entry, line, col, end_line, end_col,
                                  commit_id, blob, ci_run, job, step, url, author, date, at_head, first_seen, run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
         ON CONFLICT DO UPDATE SET at_head = excluded.at_head",
    )?
    .execute(params![
        f.fingerprint.as_str(),
        source_name(l.source),
        repository.map_or("", String::as_str),
        l.path,
        l.entry.as_deref().or(l.layer.as_deref()).unwrap_or(""),
        l.line as i64,
        l.column as i64,
        l.end_line as i64,
        l.end_column as i64,
        l.commit.as_deref().unwrap_or(""),
        l.blob.as_deref().unwrap_or(""),
        l.run.as_deref().unwrap_or(""),
        l.job.as_deref().unwrap_or(""),
        l.step,
        l.url,
        l.author,
        l.date,
        l.at_head,
        at,
        run,
    ])?;
    Ok(())
}
