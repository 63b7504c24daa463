//! The revocation audit log: one JSON object per line, appended, each line
//! written whole, flushed and fsynced before the next step runs, so a crash
//! or Ctrl-C loses nothing that happened. A rerun reads it back to skip the
//! applications already confirmed gone. It never holds a secret, a token or
//! a full client_id: a finding is named by its fingerprint.
//!
//! Nothing is written until a run goes ahead ([`AuditLog::arm`], after
//! `--yes` or a yes at the prompt): a dry run or a plan nobody confirmed
//! leaves no file behind. By default the log lives in the user's state
//! directory ([`default_path`]), never in the current or scanned directory,
//! where a CI checkout's next `git add -A` would commit it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// Lines of one run share this id.
    pub run: String,
    /// Who ran it (the operating-system user), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `run`, `load_report`, `credentials`, `plan`, `scopes`, `token`,
    /// `lookup`, `delete`, `confirm` (the leaked pair at the token endpoint),
    /// `confirm_get` (the optional GET), `revoke` (a target's final line),
    /// `notify`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// `start`, `finish`, `planned`, `sent`, `ok`, `not_found`, `dead`,
    /// `alive`, `unknown`, `no_secret`, `gone`, `revoked`, `already_revoked`,
    /// `unconfirmed`, `skipped`, `failed`, `error`, …
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A line being built: what varies between steps.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub fingerprint: Option<String>,
    pub environment: Option<String>,
    pub application_type: Option<String>,
    pub action: &'static str,
    pub http_status: Option<u16>,
    pub outcome: String,
    pub message: Option<String>,
}

impl Step {
    /// A step with no target (the run, the report, the credentials).
    pub fn run(action: &'static str, outcome: &str, message: impl Into<String>) -> Self {
        Step {
            action,
            outcome: outcome.to_string(),
            message: Some(message.into()),
            ..Step::default()
        }
    }
}

/// Why the audit log cannot be used. Revocation does not start (or stops)
/// when it cannot write its log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit log {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("cannot write the audit log {path}: {source} (stopped before the next step)")]
    Write { path: String, source: io::Error },
    #[error("no state directory for the audit log ({0}); name one with --audit-log FILE")]
    NoStateDir(&'static str),
}

/// Where the audit log goes when `--audit-log` names none:
/// `$XDG_STATE_HOME/cybrid-scan/audit.jsonl` (an absolute path only, as the
/// XDG spec says), else the platform's state directory:
/// `~/.local/state/cybrid-scan/` (Linux and other unix),
/// `~/Library/Application Support/cybrid-scan/` (macOS),
/// `%LOCALAPPDATA%\cybrid-scan\` (Windows).
pub fn default_path() -> Result<PathBuf, AuditError> {
    const FILE: &str = "audit.jsonl";
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(state) = absolute("XDG_STATE_HOME") {
        return Ok(state.join("cybrid-scan").join(FILE));
    }
    if cfg!(windows) {
        return absolute("LOCALAPPDATA")
            .map(|d| d.join("cybrid-scan").join(FILE))
            .ok_or(AuditError::NoStateDir("LOCALAPPDATA is not set"));
    }
    let home = absolute("HOME").ok_or(AuditError::NoStateDir(
        "neither XDG_STATE_HOME nor HOME is set",
    ))?;
    Ok(if cfg!(target_os = "macos") {
        home.join("Library/Application Support/cybrid-scan")
            .join(FILE)
    } else {
        home.join(".local/state/cybrid-scan").join(FILE)
    })
}

/// What earlier runs recorded.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// (fingerprint, environment) of targets whose final line says revoked
    /// or already revoked, with that line's time and outcome.
    pub finished: HashMap<(String, String), (String, String)>,
    /// (fingerprint, environment) of targets whose last final line says
    /// `unconfirmed` (deleted, but the token endpoint could not be asked or
    /// gave no usable answer), with that line's time and the HTTP status of
    /// the DELETE (204 deleted, 404 already gone): a rerun only confirms.
    pub unconfirmed: HashMap<(String, String), (String, Option<u16>)>,
    /// (fingerprint, environment) of targets with a DELETE sent but no final
    /// line: a run was interrupted there.
    pub interrupted: Vec<(String, String)>,
    pub lines: usize,
    /// Lines that are not entries (a torn last line after a crash): counted
    /// and reported, never fatal.
    pub unreadable: usize,
}

impl History {
    pub fn finished(&self, fingerprint: &str, environment: &str) -> Option<&(String, String)> {
        self.finished
            .get(&(fingerprint.to_string(), environment.to_string()))
    }

    /// The earlier unconfirmed deletion of this target, if that is where it stands.
    pub fn unconfirmed(
        &self,
        fingerprint: &str,
        environment: &str,
    ) -> Option<&(String, Option<u16>)> {
        self.unconfirmed
            .get(&(fingerprint.to_string(), environment.to_string()))
    }

    fn read(text: &str) -> Self {
        let mut h = History::default();
        let mut sent: Vec<(String, String)> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            h.lines += 1;
            let Ok(e) = serde_json::from_str::<Entry>(line) else {
                h.unreadable += 1;
                continue;
            };
            let (Some(fp), Some(env)) = (e.fingerprint.clone(), e.environment.clone()) else {
                continue;
            };
            let key = (fp, env);
            match (e.action.as_str(), e.outcome.as_str()) {
                ("delete", "sent") => sent.push(key),
                ("revoke", "revoked" | "already_revoked") => {
                    sent.retain(|k| k != &key);
                    h.unconfirmed.remove(&key);
                    h.finished.insert(key, (e.time, e.outcome));
                }
                ("revoke", "unconfirmed") => {
                    sent.retain(|k| k != &key);
                    h.unconfirmed.insert(key, (e.time, e.http_status));
                }
                // `skipped` is written for finished targets: it changes nothing.
                ("revoke", "skipped") => {}
                ("revoke", _) => {
                    sent.retain(|k| k != &key);
                    h.unconfirmed.remove(&key);
                }
                _ => {}
            }
        }
        sent.dedup();
        h.interrupted = sent;
        h
    }
}

/// The log of one run: lines are held in memory until [`AuditLog::arm`],
/// then every line is written and synced before the next step.
#[derive(Debug)]
pub struct AuditLog {
    /// `None` until armed.
    file: Option<File>,
    /// Lines appended before the log was armed.
    pending: Vec<u8>,
    /// The file as found ends in a line cut off by a crash.
    torn_tail: bool,
    path: PathBuf,
    run: String,
    user: Option<String>,
}

/// Now, as RFC 3339 UTC with milliseconds (fixed width, so lines sort).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

impl AuditLog {
    /// Read what earlier runs wrote to `path` (nothing when it does not
    /// exist yet). Nothing is created or written until [`AuditLog::arm`].
    /// A last line cut off by a crash is left as is (and counted); the next
    /// line starts on a fresh line.
    pub fn open(path: &Path) -> Result<(AuditLog, History), AuditError> {
        let open_err = |source| AuditError::Open {
            path: path.display().to_string(),
            source,
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(open_err(e)),
        };
        let history = History::read(&String::from_utf8_lossy(&text));
        let log = AuditLog {
            file: None,
            pending: Vec::new(),
            torn_tail: text.last().is_some_and(|b| *b != b'\n'),
            path: path.to_path_buf(),
            run: hex::encode(rand::thread_rng().gen::<[u8; 8]>()),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .ok()
                .filter(|u| !u.is_empty()),
        };
        Ok((log, history))
    }

    /// The run goes ahead: create the log (its directories mode 0700, the
    /// file 0600, both only when new), write the lines held so far, and say
    /// where on standard error. Later lines are written as they come.
    pub fn arm(&mut self) -> Result<(), AuditError> {
        if self.file.is_some() {
            return Ok(());
        }
        let open_err = |source| AuditError::Open {
            path: self.path.display().to_string(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(open_err)?;
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        self.file = Some(opts.open(&self.path).map_err(open_err)?);
        let mut held = std::mem::take(&mut self.pending);
        if std::mem::take(&mut self.torn_tail) {
            held.insert(0, b'\n');
        }
        if !held.is_empty() {
            self.write_synced(&held)?;
        }
        eprintln!(
            "cybrid-scan: audit log: {}",
            crate::report::escape_for_terminal(&self.path.display().to_string())
        );
        Ok(())
    }

    /// Whether anything has been written (the log was armed).
    pub fn written(&self) -> bool {
        self.file.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// Append one line and make it durable before returning.
    pub fn append(&mut self, step: Step) -> Result<Entry, AuditError> {
        let entry = Entry {
            time: now_rfc3339(),
            run: self.run.clone(),
            user: self.user.clone(),
            fingerprint: step.fingerprint,
            environment: step.environment,
            application_type: step.application_type,
            action: step.action.to_string(),
            http_status: step.http_status,
            outcome: step.outcome,
            message: step.message,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| AuditError::Write {
            path: self.path.display().to_string(),
            source: io::Error::other(e),
        })?;
        line.push(b'\n');
        if self.file.is_some() {
            self.write_synced(&line)?;
        } else {
            self.pending.extend_from_slice(&line);
        }
        Ok(entry)
    }

    /// One `write` of the whole line (O_APPEND), then flush and fsync.
    fn write_synced(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        let path = &self.path;
        let err = |source| AuditError::Write {
            path: path.display().to_string(),
            source,
        };
        let Some(file) = self.file.as_mut() else {
            return Err(err(io::Error::other("the audit log is not open")));
        };
        file.write_all(bytes).map_err(err)?;
        file.flush().map_err(err)?;
        file.sync_data().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_step(fp: &str, action: &'static str, outcome: &str) -> Step {
        Step {
            fingerprint: Some(fp.into()),
            environment: Some("sandbox".into()),
            application_type: Some("bank".into()),
            action,
            outcome: outcome.into(),
            ..Step::default()
        }
    }

    #[test]
    fn lines_survive_a_torn_tail_and_finished_work_is_remembered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        {
            let (mut log, h) = AuditLog::open(&path).expect("open");
            assert_eq!(h.lines, 0);
            log.arm().expect("arm");
            log.append(target_step("aa", "delete", "sent")).expect("w");
            log.append(target_step("aa", "revoke", "revoked"))
                .expect("w");
            log.append(target_step("bb", "delete", "sent")).expect("w");
        }
        // A crash in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).expect("o");
        f.write_all(b"{\"time\":\"2026").expect("torn");
        drop(f);
        let (mut log, h) = AuditLog::open(&path).expect("reopen");
        assert_eq!((h.lines, h.unreadable), (4, 1));
        log.arm().expect("arm");
        assert!(h.finished("aa", "sandbox").is_some());
        assert!(h.finished("bb", "sandbox").is_none());
        assert_eq!(h.interrupted, vec![("bb".into(), "sandbox".into())]);
        log.append(target_step("bb", "revoke", "already_revoked"))
            .expect("w");
        let text = std::fs::read_to_string(&path).expect("read");
        let last = text.lines().last().expect("last line");
        let e: Entry = serde_json::from_str(last).expect("a whole line after the torn one");
        assert_eq!(e.outcome, "already_revoked");
        let (_, h) = AuditLog::open(&path).expect("reopen");
        assert!(h.finished("bb", "sandbox").is_some() && h.interrupted.is_empty());
    }

    #[test]
    fn an_unconfirmed_deletion_is_remembered_until_a_later_final_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let (mut log, _) = AuditLog::open(&path).expect("open");
        log.arm().expect("arm");
        log.append(target_step("aa", "delete", "sent")).expect("w");
        let mut s = target_step("aa", "revoke", "unconfirmed");
        s.http_status = Some(204);
        log.append(s).expect("w");
        let (mut log, h) = AuditLog::open(&path).expect("reopen");
        log.arm().expect("arm");
        assert_eq!(h.unconfirmed("aa", "sandbox").map(|u| u.1), Some(Some(204)));
        assert!(h.interrupted.is_empty() && h.finished("aa", "sandbox").is_none());
        log.append(target_step("aa", "revoke", "revoked"))
            .expect("w");
        let (_, h) = AuditLog::open(&path).expect("reopen");
        assert!(h.unconfirmed("aa", "sandbox").is_none());
        assert!(h.finished("aa", "sandbox").is_some());
    }

    #[test]
    fn nothing_is_written_until_armed_then_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/cybrid-scan/audit.jsonl");
        let (mut log, _) = AuditLog::open(&path).expect("open");
        log.append(Step::run("run", "start", "test")).expect("held");
        log.append(target_step("aa", "plan", "planned"))
            .expect("held");
        assert!(!log.written());
        assert!(!dir.path().join("state").exists(), "created before arm");
        log.arm().expect("arm");
        log.append(Step::run("run", "finish", "done")).expect("w");
        let text = std::fs::read_to_string(&path).expect("read");
        let actions: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Entry>(l).expect("entry").action)
            .collect();
        assert_eq!(actions, ["run", "plan", "run"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("state/cybrid-scan")), 0o700);
            assert_eq!(mode(&dir.path().join("state")), 0o700);
        }
    }
}
