//! `cybrid-scan revoke --report FILE`, and the `--revoke` step of a scan:
//! the human edges around the library's revocation (plan, confirmation on a
//! terminal, progress, receipt, webhook), safe by default: nothing is
//! deleted without `--yes` or a "yes" typed at a terminal.

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use cybrid_scan::cli::RevokeArgs;
use cybrid_scan::config::Settings;
use cybrid_scan::datastore::{triage, Datastore, Status};
use cybrid_scan::exit::Outcome;
use cybrid_scan::finding::Finding;
use cybrid_scan::report::json::read_report;
use cybrid_scan::revoke::api::{AdminApi, AdminCredential};
use cybrid_scan::revoke::audit::{self, AuditLog, History, Step};
use cybrid_scan::revoke::confirm::PairCheck;
use cybrid_scan::revoke::plan::{self, Plan};
use cybrid_scan::revoke::{notify, receipt, Revoker, RunResult};
use cybrid_scan::verify::endpoint::Endpoints;
use cybrid_scan::verify::retry::Backoff;
use cybrid_scan::verify::DEFAULT_TIMEOUT_SECS;

/// Where the plan and receipt go: stdout for `revoke`, stderr during a scan
/// (whose stdout is the report).
#[derive(Clone, Copy)]
enum Channel {
    Stdout,
    Stderr,
}

impl Channel {
    fn print(self, text: &str) {
        match self {
            Channel::Stdout => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            Channel::Stderr => eprint!("{text}"),
        }
    }
}

/// Everything a revocation run needs besides the plan.
struct Job<'a> {
    endpoints: Endpoints,
    proxy: Option<&'a str>,
    timeout: Duration,
    yes: bool,
    dry_run: bool,
    webhook: Option<reqwest::Url>,
    channel: Channel,
    source: String,
}

/// Record `err` in the audit log under `action`, then return it.
fn logged(log: &mut AuditLog, action: &'static str, err: anyhow::Error) -> anyhow::Error {
    match log.append(Step::run(action, "error", format!("{err:#}"))) {
        Ok(_) => err,
        Err(e) => err.context(format!("and the audit log could not record it: {e}")),
    }
}

fn timeout_of(secs: f64) -> Result<Duration> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        anyhow::bail!("--timeout must be a positive number of seconds, not {secs}")
    }
}

pub fn run(args: RevokeArgs) -> Result<Outcome> {
    let path = match &args.audit_log {
        Some(p) => p.clone(),
        None => audit::default_path()?,
    };
    let (mut log, history) = AuditLog::open(&path)?;
    let source = match (&args.report, &args.datastore) {
        (Some(r), _) => r.display().to_string(),
        (None, Some(d)) => format!(
            "datastore {}",
            cybrid_scan::datastore::store::redact_location(d)
        ),
        (None, None) => anyhow::bail!("revoke needs --report FILE or --datastore LOCATION"),
    };
    log.append(Step::run(
        "run",
        "start",
        format!(
            "cybrid-scan {} revoke {source}{}{}",
            env!("CARGO_PKG_VERSION"),
            if args.dry_run { " --dry-run" } else { "" },
            if args.yes { " --yes" } else { "" }
        ),
    ))?;
    let checked = (|| -> Result<_> {
        let endpoints = Endpoints::parse(&args.endpoint)?;
        let timeout = timeout_of(args.timeout)?;
        let webhook = args
            .notify_webhook
            .as_deref()
            .map(notify::check_url)
            .transpose()?;
        Ok((endpoints, timeout, webhook))
    })();
    let (endpoints, timeout, webhook) = checked.map_err(|e| logged(&mut log, "arguments", e))?;
    // Opened before anything is revoked: a datastore that cannot record the
    // outcome stops the run first (fail closed).
    let mut datastore = args
        .datastore
        .as_deref()
        .map(|d| match args.report {
            // The source of what to revoke: it must exist already.
            None => Datastore::open_existing(d),
            Some(_) => Datastore::open(d),
        })
        .transpose()
        .map_err(|e| logged(&mut log, "datastore", e.into()))?;
    let record = match (&args.report, datastore.as_ref()) {
        (Some(r), _) => read_report(r).map_err(|e| logged(&mut log, "load_report", e.into()))?,
        (None, Some(store)) => store
            .revocation_report()
            .map_err(|e| logged(&mut log, "datastore", e.into()))?,
        (None, None) => anyhow::bail!("revoke needs --report FILE or --datastore LOCATION"),
    };
    let plan = plan::from_report(&record, &source)
        .map_err(|e| logged(&mut log, "load_report", e.into()))?;
    let job = Job {
        endpoints,
        proxy: args.proxy.as_deref(),
        timeout,
        yes: args.yes,
        dry_run: args.dry_run,
        webhook,
        channel: Channel::Stdout,
        source,
    };
    let done = carry_out(&plan, &job, &mut log, &history)?;
    if let (Some(store), Done::Ran(run)) = (datastore.as_mut(), &done) {
        let recorded =
            record_revocations(store, run, &log).map_err(|e| logged(&mut log, "datastore", e))?;
        if recorded > 0 {
            eprintln!(
                "cybrid-scan: datastore {}: {recorded} incident(s) marked revoked",
                store.path().display()
            );
        }
    }
    Ok(match done {
        Done::Nothing | Done::DryRun => Outcome::Clean,
        Done::NotConfirmed => Outcome::Findings(1),
        Done::Ran(run) if run.is_failure() => Outcome::Failed,
        Done::Ran(run) if run.count("unconfirmed") > 0 => Outcome::Unconfirmed,
        Done::Ran(_) => Outcome::Clean,
    })
}

/// How a run ended.
enum Done {
    Nothing,
    DryRun,
    NotConfirmed,
    Ran(RunResult),
}

/// Whether a person can be asked: standard input and error are terminals.
fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Ask on the terminal; `false` unless the answer is y or yes.
fn confirm(count: usize) -> bool {
    eprint!(
        "Delete these {count} application(s) now? Their credentials stop working at once. [y/N] "
    );
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Print the plan, get consent, revoke, print the receipt, notify.
fn carry_out(plan: &Plan, job: &Job, log: &mut AuditLog, history: &History) -> Result<Done> {
    job.channel.print(&receipt::plan_text(plan, &job.source));
    if history.unreadable > 0 {
        eprintln!(
            "cybrid-scan: warning: {} unreadable line(s) in the audit log {} (a line cut off by a crash?); they are kept and ignored",
            history.unreadable,
            log.path().display()
        );
    }
    if !history.interrupted.is_empty() {
        eprintln!(
            "cybrid-scan: {} revocation(s) were interrupted in an earlier run (DELETE sent, no answer recorded): they are sent again, and a 404 counts as done",
            history.interrupted.len()
        );
    }
    if plan.targets.is_empty() && plan.live_without_target.is_empty() {
        log.append(Step::run("run", "finish", "nothing to revoke"))?;
        return Ok(Done::Nothing);
    }
    for t in &plan.targets {
        log.append(Step {
            fingerprint: Some(t.fingerprint.clone()),
            environment: Some(t.environment.clone()),
            application_type: t.app_type.map(|k| k.as_str().to_string()),
            action: "plan",
            outcome: if history.finished(&t.fingerprint, &t.environment).is_some() {
                "done_earlier".into()
            } else if history
                .unconfirmed(&t.fingerprint, &t.environment)
                .is_some()
            {
                "confirm_only".into()
            } else {
                "planned".into()
            },
            ..Step::default()
        })?;
    }
    if job.dry_run {
        job.channel.print("Dry run: nothing was changed.\n");
        log.append(Step::run("run", "finish", "dry run: nothing changed"))?;
        return Ok(Done::DryRun);
    }
    if !job.yes {
        if !interactive() {
            job.channel.print(
                "Not confirmed: standard input is not a terminal and --yes was not given, so nothing was changed. Run again with --yes to revoke.\n",
            );
            log.append(Step::run(
                "run",
                "finish",
                "plan only: not interactive and no --yes",
            ))?;
            return Ok(Done::NotConfirmed);
        }
        if !confirm(plan.targets.len()) {
            job.channel.print("Not confirmed: nothing was changed.\n");
            log.append(Step::run("run", "finish", "declined at the prompt"))?;
            return Ok(Done::NotConfirmed);
        }
    }
    // Consent given: from here on every step is on disk before the next one.
    log.arm()?;
    let admin = AdminCredential::from_env().map_err(|e| logged(log, "credentials", e.into()))?;
    let api = AdminApi::new(
        job.endpoints.clone(),
        job.proxy,
        job.timeout,
        Backoff::default(),
    )
    .map_err(|e| logged(log, "arguments", e.into()))?;
    let pairs = PairCheck::new(
        job.endpoints.clone(),
        job.proxy,
        job.timeout,
        Backoff::default(),
    )
    .map_err(|e| logged(log, "arguments", e.into()))?;
    let total = plan.targets.len();
    let mut n = 0;
    let run = Revoker::new(&api, &pairs, &admin, log, history).run(plan, |r| {
        n += 1;
        eprintln!(
            "cybrid-scan: [{n}/{total}] {} application in {}: {}",
            r.app_type
                .or(r.target.app_type)
                .map_or("unknown-type", |k| k.as_str()),
            r.target.environment,
            r.outcome.as_str()
        );
    })?;
    if let Some(why) = &run.stopped {
        eprintln!("cybrid-scan: error: {why}");
    }
    job.channel.print(&receipt::receipt_text(
        &run,
        log.run_id(),
        &log.path().display().to_string(),
    ));
    if let Some(url) = &job.webhook {
        send_webhook(
            url,
            &notify::summary(plan, Some(&run), &job.source),
            job,
            log,
        )?;
    }
    log.append(Step::run("run", "finish", run.tally()))?;
    Ok(Done::Ran(run))
}

/// POST the summary; a failure is logged and warned about, not fatal.
fn send_webhook(
    url: &reqwest::Url,
    body: &serde_json::Value,
    job: &Job,
    log: &mut AuditLog,
) -> Result<()> {
    match notify::post(url, body, job.proxy, job.timeout, Backoff::default()) {
        Ok(status) => {
            let mut s = Step::run("notify", "ok", "summary posted to the webhook");
            s.http_status = Some(status);
            log.append(s)?;
        }
        Err(e) => {
            eprintln!("cybrid-scan: warning: {e}");
            log.append(Step::run("notify", "error", e.to_string()))?;
        }
    }
    Ok(())
}

/// Checks made before a `--revoke` scan starts, so a CI gate fails fast
/// rather than after the scan: consent, admin credential, webhook URL.
pub fn preflight(settings: &Settings) -> Result<()> {
    let r = &settings.revoke;
    if let Some(url) = &r.notify_webhook {
        notify::check_url(url)?;
    }
    if !r.enabled {
        return Ok(());
    }
    let problem = if !r.yes && !interactive() {
        Some(anyhow::anyhow!(
            "--revoke needs --yes when standard input is not a terminal (nothing was scanned)"
        ))
    } else {
        AdminCredential::from_env().err().map(anyhow::Error::from)
    };
    // Refused before anything ran: nothing for the audit log.
    problem.map_or(Ok(()), Err)
}

/// What `--revoke` / `--notify-webhook` did during a scan, for its notes.
pub struct ScanRevocation {
    pub notes: Vec<String>,
    pub failed: bool,
    /// The confirmed revocations, for the datastore (`--datastore`).
    pub revoked: Vec<(String, Status, String)>,
}

/// Each confirmed revocation of `run` as a status change of the incidents
/// of its findings: `revoked`, with a note saying how it was confirmed (or
/// that it could not be) and where the audit log is. Failed ones and those
/// done in an earlier run change nothing.
pub fn revocations(run: &RunResult, log: &AuditLog) -> Vec<(String, Status, String)> {
    let mut out = Vec::new();
    for r in &run.results {
        let how = match &r.outcome {
            cybrid_scan::revoke::Outcome::Revoked { confirmed_at } => {
                format!("application deleted in {}; the token endpoint refused the pair at {confirmed_at}", r.target.environment)
            }
            cybrid_scan::revoke::Outcome::AlreadyRevoked { confirmed_at } => format!(
                "application already gone in {}; the token endpoint refused the pair at {confirmed_at}",
                r.target.environment
            ),
            // Deleted, but not confirmed dead: still revoked (the DELETE was
            // answered); a later --verify that finds it live reopens it.
            cybrid_scan::revoke::Outcome::Unconfirmed { reason } => format!(
                "application deleted in {}, not confirmed at the token endpoint ({reason})",
                r.target.environment
            ),
            _ => continue,
        };
        let note = format!(
            "revoked by cybrid-scan revoke: {how} (audit log {}, run {})",
            log.path().display(),
            log.run_id()
        );
        for fp in &r.target.fingerprints {
            out.push((fp.clone(), Status::Revoked, note.clone()));
        }
    }
    out
}

/// Record `run`'s confirmed revocations in the datastore; how many
/// incidents changed.
fn record_revocations(store: &mut Datastore, run: &RunResult, log: &AuditLog) -> Result<usize> {
    let changes = revocations(run, log);
    let done = store.set_statuses(&changes, &triage::who(None))?;
    Ok(done.len())
}

/// The revocation point of a scan's pipeline (after verification).
pub fn after_scan(
    findings: &[Finding],
    settings: &Settings,
    source: &str,
) -> Result<ScanRevocation> {
    let r = &settings.revoke;
    let plan = plan::from_findings(findings);
    let source = source.to_string();
    let timeout = timeout_of(settings.verify.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS))?;
    let webhook = r
        .notify_webhook
        .as_deref()
        .map(notify::check_url)
        .transpose()?;
    let job = Job {
        endpoints: Endpoints::parse(&settings.verify.endpoints)?,
        proxy: settings.verify.proxy.as_deref(),
        timeout,
        yes: r.yes,
        dry_run: false,
        webhook,
        channel: Channel::Stderr,
        source,
    };
    if !r.enabled {
        // --notify-webhook without --revoke: tell about live findings only.
        if let (Some(url), false) = (&job.webhook, plan.is_empty()) {
            let body = notify::summary(&plan, None, &job.source);
            if let Err(e) = notify::post(url, &body, job.proxy, job.timeout, Backoff::default()) {
                eprintln!("cybrid-scan: warning: {e}");
            }
        }
        return Ok(ScanRevocation {
            notes: Vec::new(),
            failed: false,
            revoked: Vec::new(),
        });
    }
    let (mut log, history) = AuditLog::open(&r.audit_log_path()?)?;
    log.append(Step::run(
        "run",
        "start",
        format!(
            "cybrid-scan {} scan of {} with --verify --revoke",
            env!("CARGO_PKG_VERSION"),
            job.source
        ),
    ))?;
    let done = carry_out(&plan, &job, &mut log, &history).context("revocation")?;
    Ok(match done {
        Done::Ran(run) => ScanRevocation {
            notes: vec![match &run.stopped {
                Some(why) => format!("revocation: {why} (audit log {})", log.path().display()),
                None => format!(
                    "revocation: {} (audit log {})",
                    run.tally(),
                    log.path().display()
                ),
            }],
            failed: run.is_failure(),
            revoked: revocations(&run, &log),
        },
        Done::NotConfirmed => ScanRevocation {
            notes: vec!["revocation: not confirmed, nothing revoked".into()],
            failed: false,
            revoked: Vec::new(),
        },
        Done::Nothing | Done::DryRun => ScanRevocation {
            notes: Vec::new(),
            failed: false,
            revoked: Vec::new(),
        },
    })
}
