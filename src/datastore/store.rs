//! Opening a datastore and recording a run into it: every finding upserted
//! as an occurrence of its incident, in one transaction.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::backend::{self, Backend, DbError, Param};
use super::schema::{self, SCHEMA_VERSION};
use super::{classify, classify_db, now, DatastoreError};
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

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A PostgreSQL URL as it may be shown: no password, no query string (it
/// may carry `password=`).
pub fn redact_location(location: &str) -> String {
    let shown = crate::source::git::open::redact_url(location);
    match shown.split_once('?') {
        Some((base, _)) => format!("{base}?..."),
        None => shown,
    }
}

/// An open datastore.
pub struct Datastore {
    pub(super) db: Backend,
    /// The file, or the PostgreSQL URL without its credentials: what
    /// messages name.
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
    /// What the run scanned, as (kind, key): `blob` + object id, `tree` +
    /// object id, `content` + the SHA-256 of a file or log.
    pub scanned: Vec<(&'static str, String)>,
    /// The content digest of each file or log (by its shown path) the run
    /// hashed: recorded with the occurrences found in it, so that a later
    /// run that skips the same content reports them.
    pub digests: HashMap<String, String>,
    /// The local roots the run read (absolute), for reading secrets again.
    pub roots: Vec<String>,
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
    /// Open (or create) the datastore at `location`: an SQLite file, or a
    /// PostgreSQL database (`postgres://...`). A file that is not an SQLite
    /// database, a database of another program, or one of a newer schema is
    /// refused before anything is written to it.
    pub fn open(location: &str) -> Result<Self, DatastoreError> {
        Self::open_with(location, true)
    }

    /// Open a datastore that must already exist (reading and triage never
    /// create one).
    pub fn open_existing(location: &str) -> Result<Self, DatastoreError> {
        if !is_postgres(location) && !Path::new(location).exists() {
            return Err(DatastoreError::Missing {
                path: PathBuf::from(location),
            });
        }
        Self::open_with(location, false)
    }

    fn open_with(location: &str, create: bool) -> Result<Self, DatastoreError> {
        let (db, path) = if is_postgres(location) {
            let path = PathBuf::from(redact_location(location));
            let pg = backend::connect_postgres(location, Duration::from_millis(wait_ms()))
                .map_err(|source| DatastoreError::Postgres {
                    path: path.clone(),
                    source,
                })?;
            (Backend::Postgres(Box::new(RefCell::new(pg))), path)
        } else {
            let path = PathBuf::from(location);
            (Backend::Sqlite(open_sqlite(&path)?), path)
        };
        let version = schema::version(&db, &path)?;
        if let Some(found) = version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(DatastoreError::Newer {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if version.is_none() && !create {
            return Err(DatastoreError::Missing { path });
        }
        if version != Some(SCHEMA_VERSION) {
            schema::migrate(&db).map_err(|e| classify_db(&path, e, "unreadable"))?;
        }
        Ok(Datastore { db, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this datastore is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.db.kind() == backend::Kind::Postgres
    }

    pub(super) fn err(&self, e: DbError) -> DatastoreError {
        classify_db(&self.path, e, "unreadable")
    }

    /// The keys of `kind` already scanned under `scan_key`.
    pub fn scanned(&self, kind: &str, scan_key: &str) -> Result<BTreeSet<String>, DatastoreError> {
        let rows = self
            .db
            .query(
                "SELECT key FROM scanned WHERE kind = ?1 AND scan_key = ?2",
                &[Param::Text(kind), Param::Text(scan_key)],
            )
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| r.text(0)).collect())
    }

    /// Record a run: its findings as occurrences of their incidents, its
    /// verdicts, what it scanned. One transaction: all of it or nothing.
    pub fn record(
        &mut self,
        run: &RunInfo,
        findings: &[Finding],
    ) -> Result<Recorded, DatastoreError> {
        let at = now();
        self.db
            .write(|tx| record_in(tx, run, findings, &at))
            .map_err(|e| self.err(e))
    }
}

/// Open an SQLite file read-write (creating it), after checking its header.
fn open_sqlite(path: &Path) -> Result<Connection, DatastoreError> {
    schema::check_header(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let sql = |e| classify(path, e, "not a database SQLite can read");
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(Duration::from_millis(wait_ms()))
        .map_err(sql)?;
    // Refuse a foreign file before changing its journal mode.
    let probe = Backend::Sqlite(conn);
    let version = schema::version(&probe, path)?;
    let Backend::Sqlite(conn) = probe else {
        unreachable!("built as SQLite just above")
    };
    if version.is_some_and(|v| v > SCHEMA_VERSION) {
        return Ok(conn);
    }
    // Readers never wait for the writer; writers wait for each other.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql)?;
    Ok(conn)
}

/// Rows of `scanned` per INSERT (SQLite allows 32,766 parameters).
const SCANNED_PER_STATEMENT: usize = 500;

const INCIDENT_STATE: &str = "SELECT status, status_note FROM incidents WHERE fingerprint = ?1";

fn record_in(
    tx: &Backend,
    run: &RunInfo,
    findings: &[Finding],
    at: &str,
) -> Result<Recorded, DbError> {
    let roots = serde_json::to_string(&run.roots).unwrap_or_else(|_| "[]".to_string());
    let run_id = tx
        .query_opt(
            "INSERT INTO runs (started, finished, command, findings, incidents, new_incidents, bytes, skipped, roots)
             VALUES (?1, ?1, ?2, 0, 0, 0, ?3, ?4, ?5) RETURNING id",
            &[
                Param::Text(&run.started),
                Param::Text(&run.command),
                Param::Int(run.bytes as i64),
                Param::Int(run.skipped as i64),
                Param::Text(&roots),
            ],
        )?
        .map_or(0, |r| r.int(0));
    let mut recorded = Recorded::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for f in findings {
        let fp = f.fingerprint.as_str();
        let before = tx
            .query_opt(INCIDENT_STATE, &[Param::Text(fp)])?
            .map(|r| r.text(0));
        if before.is_none() && seen.insert(fp) {
            recorded.new_incidents += 1;
        } else {
            seen.insert(fp);
        }
        upsert_incident(tx, f, at)?;
        if let Some(status) = &before {
            let live = f.verification.status == VerificationStatus::Live;
            if live && (status == "revoked" || status == "rotated") {
                let env = f
                    .verification
                    .environment
                    .as_deref()
                    .unwrap_or("an unknown environment");
                let note =
                    format!("verified live again in {env} at {at}: reopened (it was {status})");
                super::triage::set_status(tx, fp, status, "open", &note, "cybrid-scan", at)?;
                recorded
                    .reopened
                    .push(format!("incident {}: {note}", &fp[..12.min(fp.len())]));
            }
        }
        insert_occurrence(tx, f, at, run_id, &run.digests)?;
    }
    // Many rows per statement: a round trip to PostgreSQL per object made
    // recording a large history cost more than scanning it.
    for chunk in run.scanned.chunks(SCANNED_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(?{}, ?{}, ?1, ?2)", 2 * i + 3, 2 * i + 4))
            .collect();
        let mut params = vec![Param::Text(&run.scan_key), Param::Int(run_id)];
        for (kind, key) in chunk {
            params.push(Param::Text(kind));
            params.push(Param::Text(key));
        }
        tx.execute(
            &format!(
                "INSERT INTO scanned (kind, key, scan_key, run) VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            ),
            &params,
        )?;
    }
    for fp in &seen {
        if let Some(state) = tx.query_opt(INCIDENT_STATE, &[Param::Text(fp)])? {
            let status = state.text(0);
            if status != "open" {
                recorded.triage.insert(
                    fp.to_string(),
                    Triage {
                        status,
                        note: state.text(1),
                    },
                );
            }
        }
    }
    recorded.incidents = seen.len() as u64;
    tx.execute(
        "UPDATE runs SET finished = ?1, findings = ?2, incidents = ?3, new_incidents = ?4 WHERE id = ?5",
        &[
            Param::Text(&now()),
            Param::Int(findings.len() as i64),
            Param::Int(recorded.incidents as i64),
            Param::Int(recorded.new_incidents as i64),
            Param::Int(run_id),
        ],
    )?;
    Ok(recorded)
}

fn upsert_incident(tx: &Backend, f: &Finding, at: &str) -> Result<(), DbError> {
    let v = &f.verification;
    let checked = v.status != VerificationStatus::NotChecked;
    let client_id = f.client_id.as_ref().map(|c| c.redacted());
    let target = f.revocation_target();
    tx.execute(
        "INSERT INTO incidents (fingerprint, rule_id, secret, client_id, confidence, first_seen, last_seen,
                                verification, verification_environment, verification_reason, verified_at,
                                revocation_client_id, revocation_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?12, ?13)
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
            verified_at = CASE WHEN ?11 THEN excluded.verified_at ELSE incidents.verified_at END,
            revocation_client_id = COALESCE(excluded.revocation_client_id, incidents.revocation_client_id),
            revocation_type = COALESCE(excluded.revocation_type, incidents.revocation_type)",
        &[
            Param::Text(f.fingerprint.as_str()),
            Param::Text(&f.rule_id),
            Param::Text(&f.secret.redacted()),
            Param::OptText(client_id.as_deref()),
            Param::Text(f.confidence.as_str()),
            Param::Text(at),
            Param::Text(v.status.as_str()),
            Param::OptText(v.environment.as_deref()),
            Param::OptText(v.reason.as_deref()),
            Param::OptText(checked.then_some(at)),
            Param::Bool(checked),
            Param::OptText(target.as_ref().map(|t| t.client_id.as_str())),
            Param::OptText(target.as_ref().and_then(|t| t.application_type.as_deref())),
        ],
    )?;
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
    tx: &Backend,
    f: &Finding,
    at: &str,
    run: i64,
    digests: &HashMap<String, String>,
) -> Result<(), DbError> {
    let l = &f.location;
    // A file's or log's occurrences carry its content digest (an archive
    // member's, its archive's: `outer.zip!/inner`).
    let digest = match l.source {
        SourceKind::File | SourceKind::Log => digests
            .get(&l.path)
            .or_else(|| digests.get(l.path.split("!/").next().unwrap_or_default())),
        _ => None,
    };
    // An image stands where a repository would; its layer where an entry would.
    let repository = f
        .repository
        .as_ref()
        .or(l.repository.as_ref())
        .or(l.image.as_ref());
    tx.execute(
        "INSERT INTO occurrences (fingerprint, source, repository, path, entry, line, col, end_line, end_col,
                                  commit_id, blob, ci_run, job, step, url, author, date, at_head, first_seen, run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
         ON CONFLICT (fingerprint, source, repository, path, entry, line, col, commit_id, blob, ci_run, job)
         DO UPDATE SET at_head = excluded.at_head",
        &[
            Param::Text(f.fingerprint.as_str()),
            Param::Text(source_name(l.source)),
            Param::Text(repository.map_or("", String::as_str)),
            Param::Text(&l.path),
            Param::Text(l.entry.as_deref().or(l.layer.as_deref()).unwrap_or("")),
            Param::Int(l.line as i64),
            Param::Int(l.column as i64),
            Param::Int(l.end_line as i64),
            Param::Int(l.end_column as i64),
            Param::Text(l.commit.as_deref().unwrap_or("")),
            Param::Text(l.blob.as_deref().or(digest.map(String::as_str)).unwrap_or("")),
            Param::Text(l.run.as_deref().unwrap_or("")),
            Param::Text(l.job.as_deref().unwrap_or("")),
            Param::OptText(l.step.as_deref()),
            Param::OptText(l.url.as_deref()),
            Param::OptText(l.author.as_deref()),
            Param::OptText(l.date.as_deref()),
            Param::OptBool(l.at_head),
            Param::Text(at),
            Param::Int(run),
        ],
    )?;
    Ok(())
}
