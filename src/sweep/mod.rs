//! Sweeps: many repositories from a manifest, scanned in parallel, resumable
//! from a state directory, split into shards across machines.
//!
//! [`manifest`] says which repositories (and which belong to this shard);
//! [`run`] scans those not already finished in the [`state`] directory with a
//! few repository workers, each handing one repository to a
//! [`RepoScanner`] (the git source); every finished repository becomes a
//! [`state::RepoRecord`], saved at once. [`assemble`] turns the records, and
//! only the records, into the report's findings and per-repository summaries,
//! so an interrupted and resumed sweep reports exactly what an uninterrupted
//! one does. Verification happens once, after assembly, over the whole sweep
//! (with the [`verdicts`] cache), so a pair leaked in many repositories costs
//! one request and the rate limit holds across the sweep.

pub mod git;
pub mod manifest;
pub mod org;
pub mod progress;
pub mod state;
pub mod verdicts;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::collect::{Collector, ScanError, Skipped};
use crate::finding::Finding;
use crate::report::{RepositoryStatus, RepositorySummary};
use crate::rules::Rule;
use manifest::Entry;
use progress::Progress;
use state::{Loaded, RepoRecord, StateDir, StoredFinding, STATE_VERSION};

/// What a repository scan reports besides what it put in the collector.
#[derive(Debug, Clone, Default)]
pub struct RepoScan {
    pub commits: u64,
    pub notes: Vec<String>,
}

/// Scans one repository of a sweep. Implemented over the git source by the
/// binary; the sweep itself only needs this.
pub trait RepoScanner: Sync {
    /// Scan `entry` into `out` (findings, per-object errors and skips, bytes).
    /// `Err` is why the repository could not be scanned at all (clone
    /// failed, not a repository); it must not contain credentials.
    fn scan(&self, entry: &Entry, out: &Collector) -> Result<RepoScan, String>;
}

/// The identity of what a scan depends on besides the repository: tool
/// version, rules and size limit. A state record made under another key is
/// rescanned rather than trusted.
pub fn scan_key(rules: &[Rule], max_file_size: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"cybrid-scan/sweep-scan-key/v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(max_file_size.to_le_bytes());
    for rule in rules {
        h.update(format!("{rule:?}").as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// How the sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Repositories scanned at the same time.
    pub concurrency: usize,
    /// See [`scan_key`].
    pub scan_key: String,
}

/// What a sweep run did.
#[derive(Debug, Default)]
pub struct SweepRun {
    /// One record per repository of the shard, finished now or earlier.
    pub records: Vec<RepoRecord>,
    /// Taken from the state directory without scanning.
    pub resumed: usize,
    /// Scanned in this run (successfully or not).
    pub scanned: usize,
    /// Records that could not be saved (the sweep went on; a rerun redoes them).
    pub state_errors: Vec<String>,
    /// Records found in the state directory but redone, and why.
    pub redone: Vec<(String, String)>,
}

/// Scan every entry not already finished in `state`.
pub fn run(
    entries: &[&Entry],
    scanner: &dyn RepoScanner,
    state: Option<&StateDir>,
    opts: &SweepOptions,
    progress: &Progress,
) -> SweepRun {
    let mut out = SweepRun::default();
    let mut todo: Vec<&Entry> = Vec::new();
    for entry in entries {
        match state.map(|s| s.load(entry, &opts.scan_key)) {
            Some(Loaded::Done(record)) => {
                progress.resumed(record.findings.len() as u64, record.summary.bytes);
                out.resumed += 1;
                out.records.push(*record);
            }
            Some(Loaded::Redo(why)) => {
                out.redone.push((entry.key.clone(), why));
                todo.push(entry);
            }
            Some(Loaded::Missing) | None => todo.push(entry),
        }
    }
    out.scanned = todo.len();
    let next = AtomicUsize::new(0);
    let finished: Mutex<Vec<RepoRecord>> = Mutex::new(Vec::with_capacity(todo.len()));
    let state_errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let workers = opts.concurrency.clamp(1, todo.len().max(1));
    progress.run(|| {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = todo.get(i) else { break };
                    let record = scan_one(entry, i, scanner, &opts.scan_key, progress);
                    if let Some(state) = state {
                        if let Err(e) = state.save(entry, &record) {
                            lock(&state_errors).push(e.to_string());
                        }
                    }
                    lock(&finished).push(record);
                });
            }
        });
    });
    out.records.extend(into_inner(finished));
    out.state_errors = into_inner(state_errors);
    out
}

/// Scan one repository into a record; a failure (or a panic inside the
/// scanner) becomes a `failed` record, never the end of the sweep.
fn scan_one(
    entry: &Entry,
    id: usize,
    scanner: &dyn RepoScanner,
    scan_key: &str,
    progress: &Progress,
) -> RepoRecord {
    let started = Instant::now();
    let collector = Arc::new(Collector::default());
    progress.start(id, Arc::clone(&collector));
    let result = catch_unwind(AssertUnwindSafe(|| scanner.scan(entry, &collector)))
        .unwrap_or_else(|_| Err("internal error while scanning (see standard error)".into()));
    let duration_ms = started.elapsed().as_millis() as u64;
    // The progress display holds the other reference; release it first.
    progress.finish(
        id,
        result.is_err(),
        collector.findings_so_far() as u64,
        collector.bytes_so_far(),
    );
    let gathered = match Arc::try_unwrap(collector) {
        Ok(c) => c.into_gathered(),
        Err(_) => Default::default(),
    };
    let (status, error, scan) = match result {
        Ok(scan) => (RepositoryStatus::Scanned, None, scan),
        Err(e) => {
            // The report names the repository already; drop a repeat of it.
            let e = entry.scrub(&e);
            let e = e
                .strip_prefix(entry.key.as_str())
                .and_then(|rest| rest.strip_prefix(": "))
                .map_or_else(|| e.clone(), str::to_string);
            // The key is the path as written; say where it was looked for.
            let e = if !entry.is_url() && entry.target != entry.key {
                format!("{e} (a relative path: resolved against the manifest's directory)")
            } else {
                e
            };
            (RepositoryStatus::Failed, Some(e), RepoScan::default())
        }
    };
    let findings: Vec<StoredFinding> = gathered
        .findings
        .into_iter()
        .map(|mut f| {
            f.repository = Some(entry.key.clone());
            StoredFinding::of(&f)
        })
        .collect();
    let scrub_error = |e: ScanError| ScanError {
        path: entry.scrub(&e.path),
        message: entry.scrub(&e.message),
    };
    let errors: Vec<ScanError> = gathered.errors.into_iter().map(scrub_error).collect();
    RepoRecord {
        state_version: STATE_VERSION,
        key: entry.key.clone(),
        scan_key: scan_key.to_string(),
        summary: RepositorySummary {
            repository: entry.key.clone(),
            status,
            error,
            findings: findings.len() as u64,
            live: 0,
            commits: scan.commits,
            blobs: gathered.files,
            bytes: gathered.bytes,
            errors: errors.len() as u64,
            duration_ms,
            notes: scan.notes.iter().map(|n| entry.scrub(n)).collect(),
        },
        findings,
        errors,
        skipped: gathered
            .skipped
            .into_iter()
            .map(|s| Skipped {
                path: entry.scrub(&s.path),
                reason: s.reason,
            })
            .collect(),
    }
}

/// A sweep's records, combined into report material, sorted.
#[derive(Debug, Default)]
pub struct Assembled {
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    pub skipped: Vec<Skipped>,
    pub repositories: Vec<RepositorySummary>,
    pub blobs: u64,
    pub bytes: u64,
}

/// Combine records (in any order) into what the report shows. A failed
/// repository is also listed in `errors`, named by its key.
pub fn assemble(records: Vec<RepoRecord>) -> Assembled {
    let mut out = Assembled::default();
    for record in records {
        out.blobs += record.summary.blobs;
        out.bytes += record.summary.bytes;
        if let Some(e) = &record.summary.error {
            out.errors.push(ScanError {
                path: record.key.clone(),
                message: e.clone(),
            });
        }
        out.findings
            .extend(record.findings.into_iter().map(StoredFinding::into_finding));
        out.errors.extend(record.errors);
        out.skipped.extend(record.skipped);
        out.repositories.push(record.summary);
    }
    out.findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out.errors.sort();
    out.skipped.sort();
    out.repositories
        .sort_by(|a, b| a.repository.cmp(&b.repository));
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Fingerprint, Location};
    use crate::secret::Secret;
    use manifest::Manifest;
    use progress::Display;

    /// Plants one finding in repositories whose key ends in an even digit,
    /// fails those whose key contains "bad", counts its calls.
    struct Planted {
        calls: AtomicUsize,
    }

    impl RepoScanner for Planted {
        fn scan(&self, entry: &Entry, out: &Collector) -> Result<RepoScan, String> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if entry.key.contains("bad") {
                return Err(format!("cannot clone {}: refused", entry.target));
            }
            out.scanned(10);
            if entry.key.ends_with(['0', '2', '4', '6', '8']) {
                let secret = Secret::new(format!("secret-of-{}", entry.key));
                out.finding(Finding {
                    rule_id: "r".into(),
                    fingerprint: Fingerprint::of("r", &secret),
                    secret,
                    client_id: None,
                    confidence: crate::finding::Confidence::High,
                    location: Location {
                        path: "a.env".into(),
                        line: 1,
                        column: 1,
                        ..Location::default()
                    },
                    verification: Default::default(),
                    token: None,
                    environment_hint: None,
                    repository: None,
                    allowed_inline: false,
                    triage: None,
                });
            }
            Ok(RepoScan::default())
        }
    }

    fn opts() -> SweepOptions {
        SweepOptions {
            concurrency: 3,
            scan_key: "k".into(),
        }
    }

    #[test]
    fn resume_skips_finished_and_retries_failed() {
        let text: String = (0..10)
            .map(|i| format!("https://h/r{i}\n"))
            .chain(["https://u:tok3n@h/bad\n".to_string()])
            .collect();
        let manifest = Manifest::parse(&text, None);
        let entries = manifest.shard(None);
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(dir.path()).expect("state");
        let quiet = || Progress::new(Display::Quiet, entries.len() as u64);

        let first = Planted {
            calls: AtomicUsize::new(0),
        };
        let run1 = run(&entries, &first, Some(&state), &opts(), &quiet());
        assert_eq!(first.calls.load(Ordering::Relaxed), 11);
        let a = assemble(run1.records);
        assert_eq!(a.findings.len(), 5);
        assert!(a.findings.iter().all(|f| f.repository.is_some()));
        assert_eq!(a.repositories.len(), 11);
        let failed: Vec<_> = a
            .repositories
            .iter()
            .filter(|r| r.status == RepositoryStatus::Failed)
            .collect();
        assert_eq!(failed.len(), 1);
        let why = failed[0].error.as_deref().unwrap_or_default();
        assert!(
            why.contains("https://h/bad") && !why.contains("tok3n"),
            "{why}"
        );

        let second = Planted {
            calls: AtomicUsize::new(0),
        };
        let run2 = run(&entries, &second, Some(&state), &opts(), &quiet());
        assert_eq!(
            second.calls.load(Ordering::Relaxed),
            1,
            "only the failed one"
        );
        assert_eq!((run2.resumed, run2.scanned), (10, 1));
        let b = assemble(run2.records);
        let secrets = |x: &Assembled| -> Vec<String> {
            x.findings
                .iter()
                .map(|f| f.secret.expose().to_string())
                .collect()
        };
        assert_eq!(secrets(&a), secrets(&b));
        assert_eq!(a.repositories.len(), b.repositories.len());

        // Other rules: everything is rescanned.
        let third = Planted {
            calls: AtomicUsize::new(0),
        };
        let changed = SweepOptions {
            concurrency: 2,
            scan_key: "other".into(),
        };
        run(&entries, &third, Some(&state), &changed, &quiet());
        assert_eq!(third.calls.load(Ordering::Relaxed), 11);
    }

    #[test]
    fn a_panicking_scanner_fails_one_repository_only() {
        struct Panics;
        impl RepoScanner for Panics {
            fn scan(&self, entry: &Entry, _: &Collector) -> Result<RepoScan, String> {
                if entry.key.ends_with('1') {
                    panic!("boom");
                }
                Ok(RepoScan::default())
            }
        }
        let manifest = Manifest::parse("/r1\n/r2\n/r3\n", None);
        let entries = manifest.shard(None);
        let run = run(
            &entries,
            &Panics,
            None,
            &opts(),
            &Progress::new(Display::Quiet, 3),
        );
        let a = assemble(run.records);
        let statuses: Vec<_> = a.repositories.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                RepositoryStatus::Failed,
                RepositoryStatus::Scanned,
                RepositoryStatus::Scanned
            ]
        );
    }
}
