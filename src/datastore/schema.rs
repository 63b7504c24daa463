//! The datastore's schema and its migrations. `meta.schema_version` says
//! which migrations a file has had: an older file is migrated forward in one
//! transaction, a newer one refused, a file that is not ours left untouched.

use std::io::Read;
use std::path::Path;

use super::backend::{Backend, DbError, Kind, Param};
use super::DatastoreError;

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Marks the file as ours in the SQLite header (`PRAGMA application_id`): "Cybr".
pub const APPLICATION_ID: i64 = 0x4379_6272;

/// Marks a PostgreSQL schema as ours (`meta.application`).
pub const APPLICATION: &str = "cybrid-scan";

/// `MIGRATIONS[i]` takes an SQLite datastore from version `i` to `i + 1`;
/// `PG_MIGRATIONS[i]` the same PostgreSQL one (the same tables, in its types).
const MIGRATIONS: &[&str] = &[V1, V2];
const PG_MIGRATIONS: &[&str] = &[PG_V1, V2];

/// Version 2: what `revoke --datastore` and `rotate --datastore` need,
/// still no secret. An authenticated (live or IP-allowlisted) credential's
/// application: its client id in full (it names the application to delete
/// or replace and cannot mint a token alone: the one exception to
/// redaction, as in the JSON report's `revocation`) and its type; and each
/// run's local roots, under which a finding's secret can be read again.
const V2: &str = "
ALTER TABLE incidents ADD COLUMN revocation_client_id TEXT;
ALTER TABLE incidents ADD COLUMN revocation_type TEXT;
ALTER TABLE runs ADD COLUMN roots TEXT NOT NULL DEFAULT '[]';
";

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

const PG_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    command TEXT NOT NULL,
    findings BIGINT NOT NULL,
    incidents BIGINT NOT NULL,
    new_incidents BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    skipped BIGINT NOT NULL
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
    id BIGSERIAL PRIMARY KEY,
    fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
    source TEXT NOT NULL,
    repository TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL,
    entry TEXT NOT NULL DEFAULT '',
    line BIGINT NOT NULL,
    col BIGINT NOT NULL,
    end_line BIGINT NOT NULL,
    end_col BIGINT NOT NULL,
    commit_id TEXT NOT NULL DEFAULT '',
    blob TEXT NOT NULL DEFAULT '',
    ci_run TEXT NOT NULL DEFAULT '',
    job TEXT NOT NULL DEFAULT '',
    step TEXT,
    url TEXT,
    author TEXT,
    date TEXT,
    at_head BOOLEAN,
    first_seen TEXT NOT NULL,
    run BIGINT NOT NULL REFERENCES runs(id),
    UNIQUE (fingerprint, source, repository, path, entry, line, col, commit_id, blob, ci_run, job)
);
CREATE INDEX occurrences_by_incident ON occurrences(fingerprint);
CREATE TABLE triage_history (
    id BIGSERIAL PRIMARY KEY,
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
    run BIGINT NOT NULL,
    PRIMARY KEY (kind, key, scan_key)
);
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

/// The schema version of an open datastore, reading only: `None` for an
/// empty one (new), an error for one that holds another program's tables.
pub fn version(db: &Backend, path: &Path) -> Result<Option<i64>, DatastoreError> {
    let foreign = |why: String| DatastoreError::Foreign {
        path: path.to_path_buf(),
        why,
    };
    let (tables, meta) = match db.kind() {
        Kind::Sqlite => (
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        ),
        Kind::Postgres => (
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'meta'",
        ),
    };
    let tables = db
        .query_opt(tables, &[])
        .map_err(|e| super::classify_db(path, e, "not a database SQLite can read"))?
        .map_or(0, |r| r.int(0));
    if tables == 0 {
        return Ok(None);
    }
    let has_meta = db
        .query_opt(meta, &[])
        .map_err(|e| foreign(super::describe(&e)))?
        .is_some_and(|r| r.int(0) > 0);
    let ours = has_meta
        && match db.kind() {
            Kind::Sqlite => db
                .query_opt("PRAGMA application_id", &[])
                .map_err(|e| foreign(super::describe(&e)))?
                .is_some_and(|r| r.int(0) == APPLICATION_ID),
            Kind::Postgres => db
                .query_opt("SELECT value FROM meta WHERE key = 'application'", &[])
                .map_err(|e| foreign(super::describe(&e)))?
                .is_some_and(|r| r.text(0) == APPLICATION),
        };
    if !ours {
        return Err(foreign(match db.kind() {
            Kind::Sqlite => "an SQLite database of another program".into(),
            Kind::Postgres => "a PostgreSQL schema holding another program's tables".into(),
        }));
    }
    let v = db
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .map_err(|e| foreign(super::describe(&e)))?
        .and_then(|r| r.text(0).parse::<i64>().ok());
    match v {
        Some(v) if v >= 1 => Ok(Some(v)),
        _ => Err(foreign("no schema version in its meta table".into())),
    }
}

/// Bring a datastore to [`SCHEMA_VERSION`] in one writing transaction
/// (another process may have migrated it while this one waited: the version
/// is read again inside it).
pub fn migrate(db: &Backend) -> Result<(), DbError> {
    let (meta, migrations) = match db.kind() {
        Kind::Sqlite => (
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            MIGRATIONS,
        ),
        Kind::Postgres => (
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'meta'",
            PG_MIGRATIONS,
        ),
    };
    db.write(|tx| {
        let has_meta = tx.query_opt(meta, &[])?.is_some_and(|r| r.int(0) > 0);
        let from = if has_meta {
            tx.query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
                .and_then(|r| r.text(0).parse::<i64>().ok())
                .unwrap_or(0)
        } else {
            0
        };
        if from >= SCHEMA_VERSION {
            return Ok(());
        }
        for sql in migrations.iter().skip(from as usize) {
            tx.batch(sql)?;
        }
        match tx.kind() {
            Kind::Sqlite => tx.batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?,
            Kind::Postgres => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('application', ?1) ON CONFLICT (key) DO NOTHING",
                    &[Param::Text(APPLICATION)],
                )?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[Param::Text(&SCHEMA_VERSION.to_string())],
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_every_migration() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION as usize);
        assert_eq!(PG_MIGRATIONS.len(), SCHEMA_VERSION as usize);
    }
}
