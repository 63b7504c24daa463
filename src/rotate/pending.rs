//! The replacement created but not yet delivered everywhere: its secret is
//! shown once, at creation, so a rerun after a failed delivery can only
//! reuse the replacement if the secret was kept. It is kept here, and only
//! here: one JSON file per rotation in the state directory
//! (`…/cybrid-scan/pending/`, directory 0700, file 0600, written
//! atomically and synced), removed as soon as every destination has the
//! new pair and the pair has been checked. The alternative (delete the
//! orphan and create another on a rerun) needs the orphan's client id
//! anyway, and leaves a window where a destination holds a pair that is
//! about to be deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// A replacement waiting for its deliveries.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pending {
    pub fingerprint: String,
    pub environment: String,
    pub application_type: String,
    pub name: String,
    pub client_id: String,
    pub secret: String,
    pub created_at: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("fingerprint", &self.fingerprint)
            .field("environment", &self.environment)
            .field("client_id", &crate::secret::redact(&self.client_id))
            .finish_non_exhaustive()
    }
}

impl Pending {
    pub fn client_id(&self) -> Secret {
        Secret::new(self.client_id.clone())
    }

    pub fn secret(&self) -> Secret {
        Secret::new(self.secret.clone())
    }
}

/// Why the pending store cannot be used (never holds a secret).
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("cannot write the pending replacement to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read the pending replacement {path}: {message}")]
    Read { path: String, message: String },
}

/// The directory of pending replacements.
#[derive(Debug, Clone)]
pub struct PendingStore {
    dir: PathBuf,
}

impl PendingStore {
    /// Beside the audit log: `<its directory>/pending`.
    pub fn beside(audit_log: &Path) -> Self {
        let parent = audit_log
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        PendingStore {
            dir: parent.join("pending"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, fingerprint: &str, environment: &str) -> PathBuf {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        };
        self.dir
            .join(format!("{}-{}.json", safe(fingerprint), safe(environment)))
    }

    /// The pending replacement of this rotation, if one was kept.
    pub fn load(
        &self,
        fingerprint: &str,
        environment: &str,
    ) -> Result<Option<Pending>, PendingError> {
        let path = self.path(fingerprint, environment);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(PendingError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| PendingError::Read {
                path: path.display().to_string(),
                // serde's message names a line and column, never the value.
                message: format!("not a pending replacement ({})", e.classify_name()),
            })
    }

    /// Keep `p` (atomically: a 0600 temporary file in the same directory,
    /// synced, then renamed over the old one).
    pub fn save(&self, p: &Pending) -> Result<PathBuf, PendingError> {
        let path = self.path(&p.fingerprint, &p.environment);
        let err = |source| PendingError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&self.dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(err)?;
        }
        let mut bytes = serde_json::to_vec(p).map_err(|e| err(std::io::Error::other(e)))?;
        let written = tmp.write_all(&bytes).and_then(|_| tmp.as_file().sync_all());
        bytes.fill(0);
        written.map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(path)
    }

    /// Forget the pending replacement (delivered and checked).
    pub fn remove(&self, fingerprint: &str, environment: &str) -> Result<(), PendingError> {
        let path = self.path(fingerprint, environment);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(PendingError::Write {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// Extension for serde_json errors: the category only.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "bad JSON",
            serde_json::error::Category::Data => "missing or wrong fields",
            serde_json::error::Category::Eof => "cut off",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_owner_only_read_back_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PendingStore::beside(&dir.path().join("state/audit.jsonl"));
        let p = Pending {
            fingerprint: "ab/cd".into(),
            environment: "sandbox".into(),
            application_type: "bank".into(),
            name: "x (rotated 2026-12-07)".into(),
            client_id: "ID".into(),
            secret: "SECRETVALUE".into(),
            created_at: "t".into(),
        };
        let path = store.save(&p).expect("save");
        assert!(!format!("{p:?}").contains("SECRETVALUE"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = std::fs::metadata(store.dir())
                .expect("stat")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700);
        }
        let back = store.load("ab/cd", "sandbox").expect("load").expect("kept");
        assert_eq!(back.secret, "SECRETVALUE");
        store.remove("ab/cd", "sandbox").expect("remove");
        assert!(store.load("ab/cd", "sandbox").expect("load").is_none());
        assert_eq!(
            std::fs::read_dir(store.dir()).expect("list").count(),
            0,
            "no temporary file left"
        );
    }
}
