//! The datastore: what must outlive a run. Every finding is recorded as an
//! occurrence of its incident (one incident per distinct credential, keyed by
//! its fingerprint), with verification verdicts, a triage status and its
//! history, and what has already been scanned under which rules. Either an
//! SQLite file or a PostgreSQL database (for many machines at once), with the
//! same schema and the same SQL ([`backend`]); one transaction per run: a run
//! killed mid-way leaves the previous state whole.
//!
//! No secret is stored: only fingerprints, redacted forms and locations.

pub mod backend;
pub mod incidents;
pub mod schema;
pub mod store;
pub mod triage;

use std::path::PathBuf;

pub use store::{Datastore, Recorded, RunInfo};
pub use triage::Status;

/// Why the datastore could not be used. Messages name the file, never a
/// secret (none is stored).
#[derive(Debug, thiserror::Error)]
pub enum DatastoreError {
    #[error("datastore {path}: not a cybrid-scan datastore ({why}); the file was left unchanged")]
    Foreign { path: PathBuf, why: String },
    #[error("datastore {path} has schema version {found}, newer than this cybrid-scan reads ({supported}): upgrade cybrid-scan; the file was left unchanged")]
    Newer {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("datastore {path} is locked by another process (waited {waited_ms} ms); try again when it has finished")]
    Locked { path: PathBuf, waited_ms: u64 },
    #[error("datastore {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("datastore {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("datastore {path} does not exist (a scan with --datastore creates it)")]
    Missing { path: PathBuf },
    #[error("datastore {path}: no incident has a fingerprint starting with {prefix:?}")]
    UnknownIncident { path: PathBuf, prefix: String },
    #[error("datastore {path}: {count} incidents have a fingerprint starting with {prefix:?}; give more of it")]
    AmbiguousIncident {
        path: PathBuf,
        prefix: String,
        count: usize,
    },
    #[error("datastore {path}: {source}")]
    Postgres {
        path: PathBuf,
        #[source]
        source: postgres::Error,
    },
}

/// The current time as RFC 3339 (UTC, seconds), as every datastore column holds it.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An engine's error as the user should read it (see [`classify`]); a
/// PostgreSQL lock held too long says so too.
pub(crate) fn classify_db(
    path: &std::path::Path,
    e: backend::DbError,
    foreign: &str,
) -> DatastoreError {
    match e {
        backend::DbError::Sqlite(e) => classify(path, e, foreign),
        backend::DbError::Postgres(e) => {
            if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                DatastoreError::Locked {
                    path: path.to_path_buf(),
                    waited_ms: store::wait_ms(),
                }
            } else {
                DatastoreError::Postgres {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        }
    }
}

/// An engine's error in one line.
pub(crate) fn describe(e: &backend::DbError) -> String {
    match e {
        backend::DbError::Sqlite(e) => e.to_string(),
        backend::DbError::Postgres(e) => e.to_string(),
    }
}

/// An SQLite error as the user should read it: a lock held too long says
/// so; a file SQLite cannot read as a database is not ours; anything else
/// names the file.
pub(crate) fn classify(
    path: &std::path::Path,
    e: rusqlite::Error,
    foreign: &str,
) -> DatastoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DatastoreError::Locked {
            path: path.to_path_buf(),
            waited_ms: store::wait_ms(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => DatastoreError::Foreign {
            path: path.to_path_buf(),
            why: format!("{foreign}: {e}"),
        },
        _ => DatastoreError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        },
    }
}
