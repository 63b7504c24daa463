//! `--verify`: is a leaked client_id + client_secret pair live?
//!
//! Each distinct pair (see [`cache`]) is sent once per environment to that
//! environment's token endpoint ([`client`]) by a few worker threads, under a
//! shared rate limit ([`ratelimit`]), with bounded retries ([`retry`]) and
//! one deadline for the whole run. A network fault or a deadline never makes
//! a pair `invalid`: only the service's own 401 `invalid_client` does.

pub mod allowlist;
pub mod cache;
pub mod client;
pub mod endpoint;
pub mod ratelimit;
pub mod reach;
pub mod retry;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cli::CommonArgs;
use crate::finding::{Finding, Verification, VerificationStatus};
use crate::rules::{Rule, RuleKind};
use crate::secret::Secret;
use cache::{PairCache, PairKey, VerdictMemory};
use client::{Answer, ClientError, TokenClient};
use endpoint::{EndpointError, Endpoints, Environment};
use ratelimit::RateLimiter;
use retry::Backoff;

pub const DEFAULT_CONCURRENCY: usize = 8;
pub const DEFAULT_RATE: f64 = 10.0;
pub const DEFAULT_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_DEADLINE_SECS: f64 = 120.0;

/// Verification flags as given (validated by [`VerifyConfig::from_settings`]).
#[derive(Debug, Clone, Default)]
pub struct VerifySettings {
    pub enabled: bool,
    pub endpoints: Vec<String>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub timeout: Option<f64>,
    pub deadline: Option<f64>,
    pub proxy: Option<String>,
    /// `--read-allowlists`: read live keys' applications with the admin credential.
    pub read_allowlists: bool,
}

impl VerifySettings {
    pub fn from_args(args: &CommonArgs) -> Self {
        VerifySettings {
            enabled: args.verify,
            endpoints: args.endpoint.clone(),
            concurrency: args.verify_concurrency,
            rate: args.verify_rate,
            timeout: args.verify_timeout,
            deadline: args.verify_deadline,
            proxy: args.proxy.clone(),
            read_allowlists: args.read_allowlists,
        }
    }
}

/// Why the verification settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("--{flag} must be a positive number, not {value}")]
    NotPositive { flag: &'static str, value: String },
}

/// Checked verification settings.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub endpoints: Endpoints,
    pub concurrency: usize,
    pub rate: f64,
    pub timeout: Duration,
    pub deadline: Duration,
    pub backoff: Backoff,
    pub proxy: Option<String>,
}

fn positive_secs(
    flag: &'static str,
    v: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    let v = v.unwrap_or(default);
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::NotPositive {
            flag,
            value: v.to_string(),
        })
    }
}

impl VerifyConfig {
    pub fn from_settings(s: &VerifySettings) -> Result<Self, ConfigError> {
        let endpoints = Endpoints::parse(&s.endpoints)?;
        let concurrency = s.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(ConfigError::NotPositive {
                flag: "verify-concurrency",
                value: "0".into(),
            });
        }
        let rate = s.rate.unwrap_or(DEFAULT_RATE);
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::NotPositive {
                flag: "verify-rate",
                value: rate.to_string(),
            });
        }
        let timeout = positive_secs("verify-timeout", s.timeout, DEFAULT_TIMEOUT_SECS)?;
        let deadline = positive_secs("verify-deadline", s.deadline, DEFAULT_DEADLINE_SECS)?;
        if let Some(p) = &s.proxy {
            reqwest::Proxy::all(p).map_err(|_| ClientError::Proxy(p.clone()))?;
        }
        Ok(VerifyConfig {
            endpoints,
            concurrency,
            rate,
            timeout,
            deadline,
            backoff: Backoff::default(),
            proxy: s.proxy.clone(),
        })
    }

    /// Environments a pair is tried in, in order: the one named near the
    /// finding first, then sandbox and production (staging only when named
    /// near the finding or given with `--endpoint`). When `--endpoint` was
    /// given, only the environments it names are used, so a test or demo
    /// pointed at a simulator never reaches a real Cybrid host.
    pub fn environments(&self, hint: Option<&str>) -> Vec<Environment> {
        let hinted = hint.and_then(|h| h.parse::<Environment>().ok());
        let any_override = Environment::ALL
            .iter()
            .any(|e| self.endpoints.is_overridden(*e));
        let mut order: Vec<Environment> = hinted.into_iter().collect();
        for env in Environment::ALL {
            let wanted = env != Environment::Staging || self.endpoints.is_overridden(env);
            if wanted && !order.contains(&env) {
                order.push(env);
            }
        }
        if any_override {
            order.retain(|e| self.endpoints.is_overridden(*e));
        }
        order
    }
}

/// What a verification run did, for the report's notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub pairs: usize,
    pub requests: u64,
    pub live: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub unverifiable: usize,
    /// Distinct pairs whose verdict came from an earlier run's memory.
    pub recalled: usize,
    pub deadline_reached: bool,
    pub elapsed: Duration,
    /// Endpoints that could not be reached or kept failing, one each.
    pub endpoint_faults: Vec<EndpointFault>,
}

/// A token endpoint that left credentials unknown: where (a URL without
/// user information or query, so no secret or client id), why, how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFault {
    pub url: String,
    /// `connection refused`, `DNS lookup failed`, `timed out`, `HTTP 500`, …
    pub cause: String,
    /// Distinct credential pairs whose check there ended unknown.
    pub pairs: usize,
}

impl EndpointFault {
    /// `cannot reach URL: connection refused (3 credential(s) left unknown)`.
    pub fn describe(&self) -> String {
        let what = if self.cause.starts_with("HTTP ") {
            format!("{} kept failing: {}", self.url, self.cause)
        } else {
            format!("cannot reach {}: {}", self.url, self.cause)
        };
        format!("{what} ({} credential(s) left unknown)", self.pairs)
    }
}

/// `url` as it may be shown: no user information, query or fragment.
fn shown_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Summary {
    pub fn note(&self) -> String {
        let mut s = format!(
            "verification: {} distinct pair(s), {} token request(s): {} live, {} invalid, {} unknown; {} unverifiable finding(s); {:.2} s",
            self.pairs,
            self.requests,
            self.live,
            self.invalid,
            self.unknown,
            self.unverifiable,
            self.elapsed.as_secs_f64()
        );
        if self.recalled > 0 {
            s.push_str(&format!(
                "; {} pair(s) answered from the verification cache",
                self.recalled
            ));
        }
        if self.deadline_reached {
            s.push_str("; the verification deadline was reached (unfinished checks are unknown)");
        }
        s
    }
}

/// One distinct pair to check.
struct Job {
    client_id: Secret,
    secret: Secret,
    environments: Vec<Environment>,
    /// Which distinct pair (slot of the [`PairCache`]) this is.
    slot: usize,
    key: PairKey,
}

/// Shared state of the workers.
struct Run<'a> {
    client: TokenClient,
    config: &'a VerifyConfig,
    limiter: RateLimiter,
    deadline: Instant,
    requests: AtomicU64,
    deadline_reached: std::sync::atomic::AtomicBool,
    /// Per environment: the first endpoint fault seen, and how many pairs
    /// it (or a later one there) left unknown.
    faults: Mutex<std::collections::BTreeMap<Environment, (String, usize)>>,
}

/// Verify every pair in `findings` in place; `rules` tells each finding's kind.
pub fn verify_findings(
    findings: &mut [Finding],
    rules: &[Rule],
    config: &VerifyConfig,
) -> Result<Summary, ConfigError> {
    verify_findings_remembering(findings, rules, config, None)
}

/// [`verify_findings`], first asking `memory` (verdicts of earlier runs) and
/// telling it the verdicts reached now.
pub fn verify_findings_remembering(
    findings: &mut [Finding],
    rules: &[Rule],
    config: &VerifyConfig,
    mut memory: Option<&mut dyn VerdictMemory>,
) -> Result<Summary, ConfigError> {
    let started = Instant::now();
    let kind_of = |id: &str| rules.iter().find(|r| r.id == id).map(|r| r.kind);
    let mut cache = PairCache::default();
    let mut jobs: Vec<Job> = Vec::new();
    // One verdict per distinct pair, filled from memory or by the jobs.
    let mut verdicts: Vec<Option<Verification>> = Vec::new();
    let mut slot_of: Vec<Option<usize>> = Vec::with_capacity(findings.len());
    let mut summary = Summary::default();
    for f in findings.iter_mut() {
        let kind = kind_of(&f.rule_id);
        let slot = match (kind, &f.client_id) {
            (Some(RuleKind::ClientSecret), Some(id)) => {
                let key = PairKey::of(id, &f.secret);
                let (slot, new) = cache.slot_of(key);
                if new {
                    let recalled = memory.as_ref().and_then(|m| m.recall(&key));
                    if recalled.is_some() {
                        summary.recalled += 1;
                    } else {
                        jobs.push(Job {
                            client_id: id.clone(),
                            secret: f.secret.clone(),
                            environments: config.environments(f.environment_hint.as_deref()),
                            slot,
                            key,
                        });
                    }
                    verdicts.push(recalled);
                }
                Some(slot)
            }
            (Some(RuleKind::ClientSecret), None) => {
                f.verification = unverifiable("no client_id found near the secret");
                summary.unverifiable += 1;
                None
            }
            (Some(RuleKind::ClientId), _) => {
                f.verification =
                    unverifiable("a client_id alone cannot be checked (no secret found near it)");
                summary.unverifiable += 1;
                None
            }
            _ => None,
        };
        slot_of.push(slot);
    }
    summary.pairs = verdicts.len();
    if !jobs.is_empty() {
        let run = Run {
            client: TokenClient::new(
                config.endpoints.clone(),
                config.proxy.as_deref(),
                config.timeout,
            )?,
            config,
            limiter: RateLimiter::new(config.rate),
            deadline: started + config.deadline,
            requests: AtomicU64::new(0),
            deadline_reached: Default::default(),
            faults: Default::default(),
        };
        for (job, verdict) in jobs.iter().zip(run.all(&jobs)) {
            if let Some(m) = memory.as_mut() {
                m.remember(&job.key, &verdict);
            }
            verdicts[job.slot] = Some(verdict);
        }
        summary.requests = run.requests.load(Ordering::Relaxed);
        summary.deadline_reached = run.deadline_reached.load(Ordering::Relaxed);
        let faults = run.faults.into_inner().unwrap_or_else(|e| e.into_inner());
        summary.endpoint_faults = faults
            .into_iter()
            .map(|(env, (cause, pairs))| EndpointFault {
                url: shown_url(&config.endpoints.token_url(env)),
                cause,
                pairs,
            })
            .collect();
    }
    for v in verdicts.iter().flatten() {
        match v.status {
            VerificationStatus::Live => summary.live += 1,
            VerificationStatus::Invalid => summary.invalid += 1,
            _ => summary.unknown += 1,
        }
    }
    for (f, slot) in findings.iter_mut().zip(slot_of) {
        if let Some(Some(v)) = slot.and_then(|i| verdicts.get(i)) {
            f.verification = v.clone();
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn unverifiable(reason: &str) -> Verification {
    Verification {
        status: VerificationStatus::Unverifiable,
        reason: Some(reason.to_string()),
        ..Verification::default()
    }
}

fn unknown(reason: &str, env: Option<Environment>) -> Verification {
    Verification {
        status: VerificationStatus::Unknown,
        environment: env.map(|e| e.to_string()),
        reason: Some(reason.to_string()),
        ..Verification::default()
    }
}

/// The end of trying one pair in one environment.
enum EnvResult {
    Final(Verification),
    Invalid,
    Unknown(&'static str),
}

impl Run<'_> {
    /// Check all jobs with `concurrency` workers; one verdict per job, in order.
    fn all(&self, jobs: &[Job]) -> Vec<Verification> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Verification>>> = Mutex::new(vec![None; jobs.len()]);
        let workers = self.config.concurrency.min(jobs.len()).max(1);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let verdict = self.pair(job);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(verdict);
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|v| v.unwrap_or_else(|| unknown("internal_error", None)))
            .collect()
    }

    /// Try the pair in each environment until one knows it.
    fn pair(&self, job: &Job) -> Verification {
        let mut first_unknown: Option<&'static str> = None;
        let mut rejected = Vec::new();
        for env in &job.environments {
            match self.in_environment(job, *env) {
                EnvResult::Final(v) => return v,
                EnvResult::Invalid => rejected.push(env.as_str()),
                EnvResult::Unknown(reason) => {
                    first_unknown.get_or_insert(reason);
                    if reason == "deadline" {
                        break;
                    }
                }
            }
        }
        match first_unknown {
            Some(reason) => unknown(reason, None),
            None if rejected.is_empty() => unknown("no_environment", None),
            None => Verification {
                status: VerificationStatus::Invalid,
                reason: Some(format!("invalid_client in {}", rejected.join(", "))),
                ..Verification::default()
            },
        }
    }

    /// One environment, with retries for transient answers.
    fn in_environment(&self, job: &Job, env: Environment) -> EnvResult {
        let backoff = self.config.backoff;
        let mut last: Option<Answer> = None;
        for attempt in 0..=backoff.retries {
            if !self.limiter.acquire(self.deadline) {
                return self.out_of_time(env, last);
            }
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return self.out_of_time(env, last);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let answer = self.client.probe(
                env,
                &job.client_id,
                &job.secret,
                self.config.timeout.min(remaining),
            );
            if !answer.is_transient() {
                return settle(answer, env);
            }
            if attempt == backoff.retries {
                self.endpoint_failed(env, &answer);
                return EnvResult::Unknown(answer.reason());
            }
            let wait = backoff.delay(attempt, answer.retry_after());
            last = Some(answer);
            if Instant::now() + wait >= self.deadline {
                return self.out_of_time(env, last);
            }
            std::thread::sleep(wait);
        }
        self.out_of_time(env, last)
    }

    fn out_of_time(&self, env: Environment, last: Option<Answer>) -> EnvResult {
        self.deadline_reached.store(true, Ordering::Relaxed);
        match last {
            Some(a) => {
                self.endpoint_failed(env, &a);
                EnvResult::Unknown(a.reason())
            }
            None => EnvResult::Unknown("deadline"),
        }
    }

    /// Count a pair left unknown in `env` by the endpoint's fault (the
    /// first cause seen there is the one named).
    fn endpoint_failed(&self, env: Environment, answer: &Answer) {
        let Some(cause) = answer.endpoint_fault() else {
            return;
        };
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.entry(env).or_insert((cause, 0)).1 += 1;
    }
}

/// A non-transient answer, as a verdict for this environment.
fn settle(answer: Answer, env: Environment) -> EnvResult {
    match answer {
        Answer::Live(claims) => EnvResult::Final(Verification {
            status: VerificationStatus::Live,
            environment: Some(env.to_string()),
            reason: None,
            sub_type: claims.sub_type,
            subject: claims.sub,
            organization_guid: claims.organization_guid,
            scopes: claims.scopes,
            ip_allowlist: None,
        }),
        Answer::Authenticated(reason) => EnvResult::Final(Verification {
            status: VerificationStatus::Live,
            environment: Some(env.to_string()),
            reason: Some(reason.to_string()),
            ..Verification::default()
        }),
        Answer::Invalid => EnvResult::Invalid,
        Answer::IpRestricted | Answer::Forbidden => {
            EnvResult::Final(unknown(answer.reason(), Some(env)))
        }
        other => EnvResult::Unknown(other.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoints: &[&str]) -> VerifyConfig {
        VerifyConfig::from_settings(&VerifySettings {
            enabled: true,
            endpoints: endpoints.iter().map(|s| s.to_string()).collect(),
            ..VerifySettings::default()
        })
        .expect("valid settings")
    }

    #[test]
    fn environment_order() {
        use Environment::*;
        let real = config(&[]);
        assert_eq!(real.environments(None), vec![Sandbox, Production]);
        assert_eq!(
            real.environments(Some("production")),
            vec![Production, Sandbox]
        );
        assert_eq!(
            real.environments(Some("staging")),
            vec![Staging, Sandbox, Production]
        );
        assert_eq!(real.environments(Some("demo")), vec![Sandbox, Production]);
        let sim = config(&["production=http://127.0.0.1:1"]);
        assert_eq!(sim.environments(None), vec![Production]);
        let staging = config(&["staging=http://127.0.0.1:1"]);
        assert_eq!(staging.environments(Some("sandbox")), vec![Staging]);
    }

    #[test]
    fn endpoint_faults_show_no_user_information_or_query() {
        let url = reqwest::Url::parse("https://id:secret@id.example/oauth/token?client_id=x#f")
            .expect("url");
        assert_eq!(shown_url(&url), "https://id.example/oauth/token");
        let fault = EndpointFault {
            url: shown_url(&url),
            cause: "connection refused".into(),
            pairs: 3,
        };
        assert_eq!(
            fault.describe(),
            "cannot reach https://id.example/oauth/token: connection refused (3 credential(s) left unknown)"
        );
    }

    #[test]
    fn bad_numbers_are_refused() {
        let bad = VerifySettings {
            rate: Some(0.0),
            ..VerifySettings::default()
        };
        assert!(VerifyConfig::from_settings(&bad).is_err());
        let bad = VerifySettings {
            deadline: Some(f64::NAN),
            ..VerifySettings::default()
        };
        assert!(VerifyConfig::from_settings(&bad).is_err());
        let bad = VerifySettings {
            concurrency: Some(0),
            ..VerifySettings::default()
        };
        assert!(VerifyConfig::from_settings(&bad).is_err());
    }
}
