//! `ci`: CI job logs where they live, fetched through the GitHub Actions and
//! GitLab CI APIs, scanned through the log pipeline, optionally cleaned up.
//!
//! The sweep has three phases. [`Provider::repositories`] turns the command
//! line's targets into repositories (an org's or group's, or one), which are
//! then sharded like `sweep`'s. [`Provider::units`] lists each repository's
//! *units*: GitHub workflow runs or GitLab jobs, newest first, narrowed by
//! `--since` / `--max-runs`. A few workers then take units one at a time and
//! [`Provider::scan`] each: download (streamed; a zip archive spills to a
//! temporary file past a bound), scan every log through
//! [`crate::source::log::scan_stream`], and return a [`UnitRecord`]. Final
//! records are saved in the state directory ([`state`]) as they finish; the
//! report is assembled from records only, so a resumed sweep reports what an
//! uninterrupted one would. [`cleanup`] deletes the logs of units with findings.
//!
//! [`http`] is the polite, token-careful client both providers share.

pub mod artifact;
pub mod cleanup;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod scan;
pub mod state;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::collect::{ScanError, Skipped};
use crate::finding::Finding;
use crate::sweep::manifest::{shard_of, Shard};
use crate::sweep::state::StoredFinding;
use http::HttpError;
use scan::ScanContext;
use state::CiState;

/// One repository (GitHub) or project (GitLab) to sweep.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Repo {
    /// `owner/repo` or the project's full path: how reports name it.
    pub name: String,
    /// What the API addresses it by (GitLab: the numeric id).
    pub id: String,
}

/// The API client of one provider, as `ci` and `sweep --github-org` /
/// `--gitlab-group` make it: token from `GITHUB_TOKEN` / `GITLAB_TOKEN`
/// only, `api_url` (the REST root; the GitLab instance) checked (https, or
/// http to loopback), the same rate-limit handling and retries.
pub struct Connection {
    pub provider: Box<dyn Provider>,
    /// The checked `--api-url` (or the provider's default).
    pub root: reqwest::Url,
    /// The token, if the environment has one.
    pub token: Option<http::Token>,
    /// The variable it is read from.
    pub token_var: &'static str,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("root", &self.root.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Connect to `kind`'s API (see [`Connection`]).
pub fn connect(
    kind: ProviderKind,
    api_url: Option<&str>,
    timeout: std::time::Duration,
    deadline: std::time::Instant,
) -> Result<Connection, http::ApiUrlError> {
    let (token_var, default_api) = match kind {
        ProviderKind::GitHub => ("GITHUB_TOKEN", github::DEFAULT_API),
        ProviderKind::GitLab => ("GITLAB_TOKEN", gitlab::DEFAULT_INSTANCE),
    };
    let token = std::env::var(token_var)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| http::Token::new(t.trim().to_string()));
    let root = http::check_api_url(api_url.unwrap_or(default_api))?;
    let base = match kind {
        ProviderKind::GitHub => root.clone(),
        ProviderKind::GitLab => {
            let mut b = root.clone();
            let path = format!("{}/api/v4", b.path().trim_end_matches('/'));
            b.set_path(&path);
            b
        }
    };
    let config = http::ApiConfig {
        base,
        token: token.clone(),
        auth: match kind {
            ProviderKind::GitHub => http::Auth::Bearer,
            ProviderKind::GitLab => http::Auth::PrivateToken,
        },
        headers: match kind {
            ProviderKind::GitHub => github::HEADERS.to_vec(),
            ProviderKind::GitLab => Vec::new(),
        },
        timeout: timeout.max(std::time::Duration::from_millis(100)),
        deadline,
        backoff: crate::verify::retry::Backoff {
            base: std::time::Duration::from_millis(500),
            cap: std::time::Duration::from_secs(30),
            retries: 4,
        },
    };
    let api = http::Api::new(config)?;
    let provider: Box<dyn Provider> = match kind {
        ProviderKind::GitHub => Box::new(github::GitHub::new(api)),
        ProviderKind::GitLab => Box::new(gitlab::GitLab::new(api)),
    };
    Ok(Connection {
        provider,
        root,
        token,
        token_var,
    })
}

/// A repository as the API lists it, with what `sweep --github-org` /
/// `--gitlab-group` need to clone and filter it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub repo: Repo,
    /// GitHub's `clone_url`, GitLab's `http_url_to_repo`.
    pub clone_url: Option<String>,
    pub archived: bool,
    /// GitHub's `fork`; GitLab: has a `forked_from_project`.
    pub fork: bool,
}

/// One run (GitHub) or job (GitLab) to fetch and scan.
#[derive(Debug, Clone)]
pub struct Unit {
    pub repo: Repo,
    /// The run id (GitHub) or job id (GitLab).
    pub id: u64,
    /// The job's name (GitLab); GitHub jobs are listed when the run is scanned.
    pub name: Option<String>,
    /// The artifacts archive's file name, when the listing gives it (GitLab).
    pub artifact_name: Option<String>,
    /// Whether the CI has finished it (its logs are final).
    pub finished: bool,
    /// `status` as the API says it (for the skip reason).
    pub status: String,
    /// The run's or job's page in the web UI.
    pub web_url: String,
}

impl Unit {
    /// How reports and errors name the unit: a path like the web UI's.
    pub fn path(&self, provider: ProviderKind) -> String {
        match provider {
            ProviderKind::GitHub => format!("{}/actions/runs/{}", self.repo.name, self.id),
            ProviderKind::GitLab => format!("{}/-/jobs/{}", self.repo.name, self.id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    GitHub,
    GitLab,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::GitHub => "github",
            ProviderKind::GitLab => "gitlab",
        }
    }
}

/// Which units of a repository to take.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only runs/jobs created at or after this time.
    pub since: Option<time::OffsetDateTime>,
    /// At most this many, newest first, per repository.
    pub max_runs: Option<u64>,
}

impl Filter {
    /// Whether a unit created at `created_at` (RFC 3339) is too old; an
    /// unreadable date is kept (nothing is silently dropped).
    pub fn too_old(&self, created_at: Option<&str>) -> bool {
        let (Some(since), Some(at)) = (self.since, created_at) else {
            return false;
        };
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|t| t < since)
    }
}

/// Parse `--since`: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_since(s: &str) -> Result<time::OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("--since {s:?}: expected YYYY-MM-DD or an RFC 3339 time"))
}

/// What scanning one unit ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// Its logs were read (perhaps with per-entry errors, listed).
    Scanned,
    /// The CI no longer has its logs (404/410): nothing to scan, for good.
    Expired,
}

/// One finished unit: what the report and the state directory hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitRecord {
    pub repository: String,
    /// What the API addresses the repository by (GitLab: the project id).
    #[serde(default)]
    pub repo_id: String,
    pub unit: u64,
    pub path: String,
    pub status: UnitStatus,
    pub findings: Vec<StoredFinding>,
    #[serde(default)]
    pub errors: Vec<ScanError>,
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Log files (zip entries or traces) scanned.
    pub logs: u64,
    pub bytes: u64,
}

/// Why a unit has no record: it is reported, and a rerun tries it again.
#[derive(Debug)]
pub enum Unfinished {
    /// Not an error: e.g. still running.
    Skip(String),
    Error(String),
    /// Read in part (the trace broke off: the network, the deadline): its
    /// findings so far and the error are reported, but it is not recorded
    /// as done, so a rerun with the state scans it again.
    Partial(Box<UnitRecord>),
}

impl From<HttpError> for Unfinished {
    fn from(e: HttpError) -> Self {
        Unfinished::Error(e.to_string())
    }
}

/// A CI API the sweep can read.
pub trait Provider: Sync {
    fn kind(&self) -> ProviderKind;
    /// The repositories a command-line target names. `Err` says why the
    /// target could not be listed (it is reported; the sweep goes on).
    fn repositories(&self, target: &str) -> Result<Vec<Repo>, HttpError> {
        Ok(self.list(target)?.into_iter().map(|l| l.repo).collect())
    }
    /// The same repositories, as listed (clone URL, archived, fork).
    fn list(&self, target: &str) -> Result<Vec<Listed>, HttpError>;
    /// A repository's units, newest first, narrowed by `filter`.
    fn units(&self, repo: &Repo, filter: &Filter) -> Result<Vec<Unit>, HttpError>;
    /// Fetch and scan one finished unit.
    fn scan(&self, unit: &Unit, ctx: &ScanContext<'_>) -> Result<UnitRecord, Unfinished>;
    /// Delete a unit's logs (GitHub) or erase the job (GitLab); the HTTP status.
    fn delete_logs(&self, repo: &str, repo_id: &str, unit: u64) -> Result<u16, HttpError>;
    /// Rate-limit pauses and retries so far (for progress and notes).
    fn waits(&self) -> &http::Waits;
}

/// How the sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub concurrency: usize,
    pub shard: Option<Shard>,
    pub filter: Filter,
}

/// Counters the progress display reads while workers run.
#[derive(Debug, Default)]
pub struct Counters {
    pub queued: AtomicU64,
    pub done: AtomicU64,
    pub bytes: AtomicU64,
    pub findings: AtomicU64,
    pub resumed: AtomicU64,
    /// Time workers spent on units (fetching and scanning), summed, in
    /// nanoseconds: less the provider's request and body time, what
    /// scanning (unpacking, normalising, matching) took.
    pub busy_ns: AtomicU64,
    /// The provider's `request_ns` when the listings were done (the rest
    /// was spent on units).
    pub listing_request_ns: AtomicU64,
}

/// What the whole sweep gathered.
#[derive(Debug, Default)]
pub struct Swept {
    pub records: Vec<UnitRecord>,
    /// Units and targets that could not be read (retried on a rerun).
    pub errors: Vec<ScanError>,
    pub skipped: Vec<Skipped>,
    pub repositories: u64,
    pub units: u64,
    /// Records taken from the state directory.
    pub resumed: u64,
    pub state_errors: Vec<String>,
    /// Targets, repositories and runs/jobs that could not be read at all
    /// (each in `errors`): the sweep is incomplete, never clean.
    pub failed: u64,
}

/// Sweep `targets` with `provider`: list, shard, scan (resuming from
/// `state`), and hand every record and error back.
pub fn sweep(
    provider: &dyn Provider,
    targets: &[String],
    opts: &SweepOptions,
    ctx: &ScanContext<'_>,
    state: Option<&CiState>,
    counters: &Counters,
) -> Swept {
    let mut swept = Swept::default();
    let kind = provider.kind();

    // 1. Repositories, de-duplicated, then this shard's.
    let mut repos: Vec<Repo> = Vec::new();
    for target in targets {
        match provider.repositories(target) {
            Ok(found) => repos.extend(found),
            Err(e) => {
                swept.failed += 1;
                swept.errors.push(ScanError {
                    path: target.clone(),
                    message: format!("cannot list: {e}"),
                })
            }
        }
    }
    repos.sort();
    repos.dedup_by(|a, b| a.name == b.name);
    if let Some(shard) = opts.shard {
        repos.retain(|r| shard_of(&shard_key(kind, &r.name), shard.count) == shard.index);
    }
    swept.repositories = repos.len() as u64;

    // 2. Units of every repository, listed by the workers.
    type Listed = Mutex<Option<Result<Vec<Unit>, HttpError>>>;
    let listed: Vec<Listed> = repos.iter().map(|_| Mutex::new(None)).collect();
    parallel(opts.concurrency, repos.len(), |i| {
        let units = provider.units(&repos[i], &opts.filter);
        if let Ok(u) = &units {
            counters.queued.fetch_add(u.len() as u64, Ordering::Relaxed);
        }
        *lock(&listed[i]) = Some(units);
    });
    let mut units = Vec::new();
    for (repo, slot) in repos.iter().zip(listed) {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(u)) => units.extend(u),
            Some(Err(e)) => {
                swept.failed += 1;
                swept.errors.push(ScanError {
                    path: repo.name.clone(),
                    message: format!("cannot list runs: {e}"),
                })
            }
            None => {}
        }
    }
    swept.units = units.len() as u64;

    counters.listing_request_ns.store(
        provider.waits().request_ns.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );

    // 3. Scan each unit not already finished.
    let state_errors = Mutex::new(Vec::new());
    let results: Vec<Mutex<Option<UnitOutcome>>> = units.iter().map(|_| Mutex::new(None)).collect();
    parallel(opts.concurrency, units.len(), |i| {
        let unit = &units[i];
        let outcome = if let Some(record) = state.and_then(|s| s.load(kind, unit)) {
            counters.resumed.fetch_add(1, Ordering::Relaxed);
            UnitOutcome::Done(record, true)
        } else if !unit.finished {
            UnitOutcome::Unfinished(Unfinished::Skip(format!(
                "run not finished (status {}): its logs are not final; a later sweep will scan it",
                unit.status
            )))
        } else {
            let started = std::time::Instant::now();
            let scanned = provider.scan(unit, ctx);
            counters.busy_ns.fetch_add(
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            match scanned {
                Ok(record) => {
                    // Saved at once: a kill after this point keeps this unit.
                    if let Some(state) = state {
                        if let Err(e) = state.save(kind, unit, &record) {
                            lock(&state_errors).push(e.to_string());
                        }
                    }
                    UnitOutcome::Done(record, false)
                }
                Err(Unfinished::Partial(record)) => UnitOutcome::Partial(*record),
                Err(u) => UnitOutcome::Unfinished(u),
            }
        };
        if let UnitOutcome::Done(record, _) | UnitOutcome::Partial(record) = &outcome {
            counters.bytes.fetch_add(record.bytes, Ordering::Relaxed);
            counters
                .findings
                .fetch_add(record.findings.len() as u64, Ordering::Relaxed);
        }
        counters.done.fetch_add(1, Ordering::Relaxed);
        *lock(&results[i]) = Some(outcome);
    });
    swept.state_errors = state_errors.into_inner().unwrap_or_else(|e| e.into_inner());
    for (unit, slot) in units.iter().zip(results) {
        let path = unit.path(kind);
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(UnitOutcome::Done(record, resumed)) => {
                swept.resumed += u64::from(resumed);
                swept.records.push(record);
            }
            Some(UnitOutcome::Partial(record)) => swept.records.push(record),
            Some(UnitOutcome::Unfinished(Unfinished::Partial(record))) => {
                swept.records.push(*record)
            }
            Some(UnitOutcome::Unfinished(Unfinished::Skip(reason))) => {
                swept.skipped.push(Skipped { path, reason })
            }
            Some(UnitOutcome::Unfinished(Unfinished::Error(message))) => {
                swept.failed += 1;
                swept.errors.push(ScanError { path, message })
            }
            None => {
                swept.failed += 1;
                swept.errors.push(ScanError {
                    path,
                    message: "not scanned (a worker stopped)".into(),
                })
            }
        }
    }
    swept
}

enum UnitOutcome {
    /// The record, and whether it came from the state directory.
    Done(UnitRecord, bool),
    /// Reported, not saved in the state ([`Unfinished::Partial`]).
    Partial(UnitRecord),
    Unfinished(Unfinished),
}

/// The key a repository is sharded by (same hash as `sweep`'s manifest keys).
pub fn shard_key(kind: ProviderKind, name: &str) -> String {
    format!("{}:{}", kind.as_str(), name.to_ascii_lowercase())
}

/// Run `job(0..n)` on `workers` threads, each taking the next index.
fn parallel(workers: usize, n: usize, job: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                // A panic in one unit must not lose the others: it is
                // reported as "not scanned" for that unit.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(i)));
            });
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The findings, errors and skips of the records, ready for a report.
pub fn assemble(swept: Swept) -> (Vec<Finding>, Vec<ScanError>, Vec<Skipped>, u64, u64) {
    let mut findings = Vec::new();
    let mut errors = swept.errors;
    let mut skipped = swept.skipped;
    let (mut logs, mut bytes) = (0, 0);
    for r in swept.records {
        findings.extend(r.findings.into_iter().map(StoredFinding::into_finding));
        errors.extend(r.errors);
        skipped.extend(r.skipped);
        logs += r.logs;
        bytes += r.bytes;
    }
    findings.sort_by(|a, b| {
        (
            &a.location.repository,
            &a.location.run,
            &a.location.path,
            &a.location.entry,
        )
            .cmp(&(
                &b.location.repository,
                &b.location.run,
                &b.location.path,
                &b.location.entry,
            ))
            .then_with(|| a.sort_key().cmp(&b.sort_key()))
    });
    errors.sort();
    skipped.sort();
    (findings, errors, skipped, logs, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert!(parse_since("2024-05-01").is_ok());
        assert!(parse_since("2024-05-01T10:00:00Z").is_ok());
        assert!(parse_since("May 1").is_err());
        let f = Filter {
            since: parse_since("2024-05-01").ok(),
            max_runs: None,
        };
        assert!(f.too_old(Some("2024-04-30T23:59:59Z")));
        assert!(!f.too_old(Some("2024-05-01T00:00:00Z")));
        assert!(!f.too_old(Some("not a date")));
        assert!(!f.too_old(None));
    }
}
