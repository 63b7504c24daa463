//! The datastore's schema and its migrations. `meta.schema_version` says
//! which migrations a file has had: an older file is migrated forward in one
//! transaction, a newer one refused, a file that is not ours left untouched.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::{classify, DatastoreError};

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Marks the file as ours in the SQLite header (`PRAGMA application_id`): "Cybr".
pub const APPLICATION_ID: i64 = 0x4379_6272;

/// `MIGRATIONS[i]` takes a datastore from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    command TEXT NOT NULL,
    findings INTEGER NOT NULL,
    incidents INTEGER NOT NULL,
    new_incidents INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    skipped INTEGER NOT NULL
);
CREATE TABLE incidents (
    fingerprint TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    client_id TEXT,
    confidence TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    status_note TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    verification TEXT NOT NULL DEFAULT 'not_checked',
    verification_environment TEXT,
    verification_reason TEXT,
    verified_at TEXT
);
CREATE TABLE occurrences (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
    source TEXT NOT NULL,
    repository TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL,
    entry TEXT NOT NULL DEFAULT '',
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    end_col INTEGER NOT NULL,
    commit_id TEXT NOT NULL DEFAULT '',
    blob TEXT NOT NULL DEFAULT '',
    ci_run TEXT NOT NULL DEFAULT '',
    job TEXT NOT NULL DEFAULT '',
    step TEXT,
    url TEXT,
    author TEXT,
    date TEXT,
    at_head INTEGER,
    first_seen TEXT NOT NULL,
    run INTEGER NOT NULL REFERENCES runs(id),
    UNIQUE (fingerprint, source, repository, path, entry, line, col, commit_id, blob, ci_run, job)
);
CREATE INDEX occurrences_by_incident ON occurrences(fingerprint);
CREATE TABLE triage_history (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX triage_history_by_incident ON triage_history(fingerprint);
CREATE TABLE scanned (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    scan_key TEXT NOT NULL,
    run INTEGER NOT NULL,
    PRIMARY KEY (kind, key, scan_key)
) WITHOUT ROWID;
";

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuse, before SQLite touches it, a file that is not an SQLite database
/// at all (a JSON report given by mistake, random bytes).
pub fn check_header(path: &Path) -> Result<(), DatastoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(DatastoreError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut head = Vec::with_capacity(16);
    file.by_ref()
        .take(16)
        .read_to_end(&mut head)
        .map_err(|source| DatastoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if head.is_empty() || head.as_slice() == SQLITE_MAGIC {
        Ok(())
    } else {
        Err(DatastoreError::Foreign {
            path: path.to_path_buf(),
            why: "not an SQLite database".into(),
        })
    }
}

/// The schema version of an open file, reading only: `None` for an empty
/// database (new), an error for one that holds another program's tables.
pub fn version(conn: &Connection, path: &Path) -> Result<Option<i64>, DatastoreError> {
    let foreign = |why: String| DatastoreError::Foreign {
        path: path.to_path_buf(),
        why,
    };
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| classify(path, e, "not a database SQLite can read"))?;
    if tables == 0 {
        return Ok(None);
    }
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| foreign(e.to_string()))?;
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| foreign(e.to_string()))?;
    if !has_meta || app != APPLICATION_ID {
        return Err(foreign("an SQLite database of another program".into()));
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| foreign(e.to_string()))?;
    match v.and_then(|v| v.parse::<i64>().ok()) {
        Some(v) if v >= 1 => Ok(Some(v)),
        _ => Err(foreign("no schema version in its meta table".into())),
    }
}

/// Bring a database at `from` (`0` for a new one) to [`SCHEMA_VERSION`] in
/// one transaction.
pub fn migrate(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have migrated it while this one waited.
    let has_meta: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    let from = if has_meta > 0 {
        tx.query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(from)
    } else {
        0
    };
    if from >= SCHEMA_VERSION {
        return tx.commit();
    }
    for sql in MIGRATIONS.iter().skip(from as usize) {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()
}
