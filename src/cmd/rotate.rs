//! `cybrid-scan rotate`: the human edges around the library's rotation
//! (plan, consent, progress, runbook, receipt), safe by default: nothing is
//! created, delivered or deleted without `--yes` or a "yes" typed at a
//! terminal, and `--dry-run` contacts nothing.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cybrid_scan::ci::http::check_api_url;
use cybrid_scan::cli::RotateArgs;
use cybrid_scan::datastore::store::redact_location;
use cybrid_scan::datastore::{Datastore, Status};
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::json::read_report;
use cybrid_scan::revoke::api::{AdminApi, AdminCredential};
use cybrid_scan::revoke::audit::{self, AuditLog, Step};
use cybrid_scan::revoke::confirm::{PairCheck, PairState};
use cybrid_scan::rotate::deliver::{
    Deliverer, Destination, Hosts, Values, GITHUB_TOKEN_VAR, GITLAB_TOKEN_VAR,
};
use cybrid_scan::rotate::pending::PendingStore;
use cybrid_scan::rotate::plan::{self, RotationPlan, SecretNames};
use cybrid_scan::rotate::stages::Stages;
use cybrid_scan::rotate::{authenticates, read_pair, today, words, RotOutcome, RotateRun, Rotator};
use cybrid_scan::secret::Secret;
use cybrid_scan::verify::endpoint::{Endpoints, Environment};
use cybrid_scan::verify::retry::Backoff;

fn print(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn seconds(what: &str, secs: f64, min: f64) -> Result<Duration> {
    if secs.is_finite() && secs >= min {
        Ok(Duration::from_secs_f64(secs))
    } else {
        bail!("{what} must be at least {min} second(s), not {secs}")
    }
}

fn token_from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}

/// Record `err` in the audit log under `action`, then return it.
fn logged(log: &mut AuditLog, action: &'static str, err: anyhow::Error) -> anyhow::Error {
    match log.append(Step::run(action, "error", format!("{err:#}"))) {
        Ok(_) => err,
        Err(e) => err.context(format!("and the audit log could not record it: {e}")),
    }
}

/// The checked arguments.
struct Checked {
    endpoints: Endpoints,
    timeout: Duration,
    destinations: Vec<Destination>,
    names: Option<SecretNames>,
    hosts: Hosts,
    watch_for: Duration,
    watch_interval: Duration,
}

fn check(args: &RotateArgs) -> Result<Checked> {
    let timeout = seconds("--timeout", args.timeout, 0.001)?;
    let destinations = args
        .deliver
        .iter()
        .map(|d| Destination::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        endpoints: Endpoints::parse(&args.endpoint)?,
        timeout,
        destinations,
        names: args
            .secret_names
            .as_deref()
            .map(SecretNames::parse)
            .transpose()?,
        hosts: Hosts {
            github_api: check_api_url(&args.github_api_url).context("--github-api-url")?,
            gitlab_api: check_api_url(&args.gitlab_api_url).context("--gitlab-api-url")?,
            github_token: token_from_env(GITHUB_TOKEN_VAR),
            gitlab_token: token_from_env(GITLAB_TOKEN_VAR),
            timeout,
        },
        watch_for: seconds("--watch-for", args.watch_for, 0.0)?,
        watch_interval: seconds("--watch-interval", args.watch_interval, 1.0)?,
    })
}

pub fn run(args: RotateArgs) -> Result<Outcome> {
    // The datastore, when it is the source: open before anything changes,
    // so that one that cannot record the rotations stops the run first.
    let mut datastore = match (&args.report, &args.datastore) {
        (Some(_), _) => None,
        (None, Some(d)) => Some(Datastore::open_existing(d)?),
        (None, None) => bail!("rotate needs --report FILE or --datastore LOCATION"),
    };
    let path = match &args.audit_log {
        Some(p) => p.clone(),
        None => audit::default_path()?,
    };
    let (mut log, history) = AuditLog::open(&path)?;
    let stages = Stages::read(&path);
    let store = PendingStore::beside(&path);
    let source = match (&args.report, &args.datastore) {
        (Some(r), _) => r.display().to_string(),
        (None, d) => format!(
            "datastore {}",
            redact_location(d.as_deref().unwrap_or_default())
        ),
    };
    log.append(Step::run(
        "run",
        "start",
        format!(
            "cybrid-scan {} rotate {source} ({} destination(s)){}{}{}",
            env!("CARGO_PKG_VERSION"),
            args.deliver.len(),
            if args.dry_run { " --dry-run" } else { "" },
            if args.yes { " --yes" } else { "" },
            if args.new_from_stdin {
                " --new-from-stdin"
            } else {
                ""
            }
        ),
    ))?;
    let checked = check(&args).map_err(|e| logged(&mut log, "arguments", e))?;
    let record = match (&args.report, datastore.as_ref()) {
        (Some(r), _) => read_report(r).map_err(|e| logged(&mut log, "load_report", e.into()))?,
        (None, Some(store)) => store
            .revocation_report()
            .map_err(|e| logged(&mut log, "datastore", e.into()))?,
        (None, None) => bail!("rotate needs --report FILE or --datastore LOCATION"),
    };
    let mut plan = plan::from_report(&record, &source, checked.names.as_ref())
        .map_err(|e| logged(&mut log, "load_report", e.into()))?;
    if let Some(fp) = &args.fingerprint {
        plan.rotations.retain(|r| {
            r.target
                .fingerprints
                .iter()
                .any(|f| f.starts_with(fp.as_str()))
        });
        if plan.rotations.is_empty() {
            let e = anyhow::anyhow!(
                "no live credential of {source} has a fingerprint starting with {fp}"
            );
            return Err(logged(&mut log, "plan", e));
        }
    }
    print(&words::plan_text(&plan, &checked.destinations, &source));
    if plan.rotations.is_empty() && plan.live_without_target.is_empty() {
        log.append(Step::run("run", "finish", "nothing to rotate"))?;
        return Ok(Outcome::Clean);
    }
    if args.new_from_stdin {
        return from_stdin(&args, &checked, &plan, &mut log);
    }
    if checked.destinations.is_empty() {
        let e = anyhow::anyhow!("rotate needs at least one --deliver destination: a replacement nobody receives would only make an outage");
        return Err(logged(&mut log, "arguments", e));
    }
    if args.dry_run {
        print("Dry run: nothing was changed, nothing was contacted.\n");
        log.append(Step::run("run", "finish", "dry run: nothing changed"))?;
        return Ok(Outcome::Clean);
    }
    if !consent(&args, plan.rotations.len(), &mut log)? {
        return Ok(Outcome::Findings(1));
    }
    log.arm()?;
    let admin =
        AdminCredential::from_env().map_err(|e| logged(&mut log, "credentials", e.into()))?;
    let api = AdminApi::new(
        checked.endpoints.clone(),
        args.proxy.as_deref(),
        checked.timeout,
        Backoff::default(),
    )
    .map_err(|e| logged(&mut log, "arguments", e.into()))?;
    let pairs = PairCheck::new(
        checked.endpoints.clone(),
        args.proxy.as_deref(),
        checked.timeout,
        Backoff::default(),
    )
    .map_err(|e| logged(&mut log, "arguments", e.into()))?;
    let deliverer = Deliverer::new(checked.hosts.clone(), args.proxy.as_deref())
        .map_err(|e| logged(&mut log, "arguments", e.into()))?;
    let total = plan.rotations.len();
    let mut n = 0;
    let mut rotator = Rotator {
        api: &api,
        pairs: &pairs,
        admin: &admin,
        log: &mut log,
        history: &history,
        stages: &stages,
        store: &store,
        deliverer: &deliverer,
        destinations: &checked.destinations,
        report: source.clone(),
        today: today(),
    };
    let run = rotator.run(&plan, |r| {
        n += 1;
        eprintln!(
            "cybrid-scan: [{n}/{total}] {} application in {}: {}",
            r.rotation.target.type_label(),
            r.rotation.target.environment,
            r.outcome.as_str()
        );
    })?;
    if let Some(stop) = &run.stopped {
        eprintln!("cybrid-scan: error: {}: nothing was changed", stop.reason);
        if let Some(runbook) = &stop.runbook {
            print(runbook);
        }
    }
    print(&words::receipt_text(
        &run,
        log.run_id(),
        &log.path().display().to_string(),
    ));
    log.append(Step::run("run", "finish", run.tally()))?;
    if let Some(store) = datastore.as_mut() {
        record_rotations(store, &run, &log)?;
    }
    Ok(if run.is_failure() {
        Outcome::Failed
    } else if run.count("unconfirmed") > 0 {
        Outcome::Unconfirmed
    } else {
        Outcome::Clean
    })
}

/// `--yes`, or a yes at the terminal; `false` (logged) otherwise.
fn consent(args: &RotateArgs, count: usize, log: &mut AuditLog) -> Result<bool> {
    if args.yes {
        return Ok(true);
    }
    if !interactive() {
        print("Not confirmed: standard input is not a terminal and --yes was not given, so nothing was changed. Run again with --yes to rotate.\n");
        log.append(Step::run(
            "run",
            "finish",
            "plan only: not interactive and no --yes",
        ))?;
        return Ok(false);
    }
    if !confirm(&format!("Replace these {count} application(s) now (create, deliver, check, then delete the leaked ones)?")) {
        print("Not confirmed: nothing was changed.\n");
        log.append(Step::run("run", "finish", "declined at the prompt"))?;
        return Ok(false);
    }
    Ok(true)
}

/// Read at most a few KiB of standard input.
fn read_stdin() -> Result<String> {
    let mut text = String::new();
    io::stdin()
        .lock()
        .take(16 * 1024)
        .read_to_string(&mut text)
        .context("reading the new pair from standard input")?;
    Ok(text)
}

/// `--new-from-stdin`: a pair made in the dashboard. Deliver it, check it,
/// then watch the leaked pair until it stops working (the user deletes it
/// in the dashboard), bounded by --watch-for and paced by --watch-interval.
fn from_stdin(
    args: &RotateArgs,
    checked: &Checked,
    plan: &RotationPlan,
    log: &mut AuditLog,
) -> Result<Outcome> {
    let [rotation] = plan.rotations.as_slice() else {
        let e = anyhow::anyhow!("--new-from-stdin takes one credential and the report has {} live ones: choose one with --fingerprint", plan.rotations.len());
        return Err(logged(log, "arguments", e));
    };
    let t = &rotation.target;
    if args.dry_run {
        print("Dry run: the pair would be read from standard input, delivered, checked, and the leaked pair watched; nothing was changed.\n");
        log.append(Step::run("run", "finish", "dry run: nothing changed"))?;
        return Ok(Outcome::Clean);
    }
    if !args.yes && !interactive() {
        print("Not confirmed: --new-from-stdin needs --yes when standard input is not a terminal; nothing was read or changed.\n");
        log.append(Step::run(
            "run",
            "finish",
            "plan only: not interactive and no --yes",
        ))?;
        return Ok(Outcome::Findings(1));
    }
    if interactive() {
        eprintln!(
            "Paste the new client id, then the new secret (one per line), then end with Ctrl-D:"
        );
    }
    let text = read_stdin()?;
    let Some((id, secret)) = read_pair(&text) else {
        let e = anyhow::anyhow!("standard input does not hold a pair: give the client id, then the secret, one per line");
        return Err(logged(log, "arguments", e));
    };
    drop(text);
    if !args.yes && !confirm("Deliver this pair and watch the leaked one?") {
        print("Not confirmed: nothing was changed.\n");
        log.append(Step::run("run", "finish", "declined at the prompt"))?;
        return Ok(Outcome::Findings(1));
    }
    log.arm()?;
    let env: Environment = t.environment.parse().map_err(|_| {
        anyhow::anyhow!(
            "environment {:?} has no identity service this tool may call",
            t.environment
        )
    })?;
    let overridden = |e: Environment| checked.endpoints.is_overridden(e);
    if Environment::ALL.iter().any(|e| overridden(*e)) && !overridden(env) {
        let e = anyhow::anyhow!("no --endpoint for {env} while others were given: refusing to call the real {env} host (add --endpoint {env}=URL)");
        return Err(logged(log, "arguments", e));
    }
    let step = |action: &'static str, outcome: &str, message: String| Step {
        fingerprint: Some(t.fingerprint.clone()),
        environment: Some(t.environment.clone()),
        application_type: t.app_type.map(|k| k.as_str().to_string()),
        action,
        outcome: outcome.into(),
        message: Some(message),
        ..Step::default()
    };
    let deliverer = Deliverer::new(checked.hosts.clone(), args.proxy.as_deref())?;
    let pairs = PairCheck::new(
        checked.endpoints.clone(),
        args.proxy.as_deref(),
        checked.timeout,
        Backoff::default(),
    )?;
    // Check first: a pair mistyped or from the wrong environment goes nowhere.
    let (answer, _) = pairs.answer(env, &id, &secret);
    if !authenticates(&answer) {
        let why = format!("the pair from standard input does not authenticate in {env} ({}): nothing was delivered", answer.reason());
        log.append(step("check", "failed", why.clone()))?;
        eprintln!("cybrid-scan: error: {why}");
        return Ok(Outcome::Failed);
    }
    log.append(step("check", "ok", "the new pair authenticates".into()))?;
    for d in &checked.destinations {
        if let Err(e) = deliverer.preflight(d) {
            log.append(step("deliver", "error", e.to_string()))?;
            eprintln!("cybrid-scan: error: destination not usable: {e}: nothing was delivered");
            return Ok(Outcome::Failed);
        }
    }
    let values = Values {
        names: &rotation.names,
        client_id: &id,
        secret: &secret,
    };
    let mut failed = false;
    for d in &checked.destinations {
        match deliverer.deliver(d, &values) {
            Ok(done) => {
                log.append(step("deliver", "ok", format!("{d}: {done}")))?;
                eprintln!("cybrid-scan: delivered to {d}: {done}");
            }
            Err(e) => {
                failed = true;
                log.append(step("deliver", "error", e.to_string()))?;
                eprintln!("cybrid-scan: error: {e}");
            }
        }
    }
    if failed {
        print("Delivery failed: fix the cause and run the same command again with the same pair. Do not delete the leaked key yet.\n");
        log.append(Step::run("run", "finish", "delivery failed"))?;
        return Ok(Outcome::Failed);
    }
    let Some(leaked) = &t.secret else {
        let why = "the leaked secret is not at hand (the report was written without --show-secrets), so it cannot be watched: delete the leaked key in the dashboard, then scan again with --verify to confirm";
        log.append(step("watch", "no_secret", why.into()))?;
        print(&format!("Delivered. {why}.\n"));
        return Ok(Outcome::Unconfirmed);
    };
    print(&format!(
        "Delivered. Now delete the leaked key {} in the dashboard (Developers > API keys); watching it for up to {} s...\n",
        t.shown_client_id(),
        checked.watch_for.as_secs()
    ));
    let until = Instant::now() + checked.watch_for;
    let mut tries = 0u32;
    loop {
        tries += 1;
        let state = pairs.check(env, &t.client_id, leaked);
        if state == PairState::Dead {
            log.append(step(
                "watch",
                "dead",
                format!("the leaked pair stopped working (401 invalid_client) after {tries} tries"),
            ))?;
            log.append(step("revoke", "revoked", "deleted in the dashboard; confirmed dead at the token endpoint by rotate --new-from-stdin".into()))?;
            log.append(step("rotate", "rotated", "replaced by a pair made in the dashboard, delivered and checked; the leaked one is confirmed dead".into()))?;
            print(&format!(
                "ROTATED: the leaked key {} no longer works (confirmed at the token endpoint).\n",
                t.shown_client_id()
            ));
            log.append(Step::run(
                "run",
                "finish",
                "rotated (new pair from standard input)",
            ))?;
            return Ok(Outcome::Clean);
        }
        if Instant::now() + checked.watch_interval > until {
            let why = match state {
                PairState::Alive(a) => a.to_string(),
                PairState::Unknown(u) => u,
                PairState::Dead => String::new(),
            };
            log.append(step(
                "watch",
                "still_alive",
                format!("after {tries} tries: {why}"),
            ))?;
            print(&format!(
                "UNCONFIRMED: the leaked key {} still works after {} s ({why}). Delete it in the dashboard and run the same command again to watch it die.\n",
                t.shown_client_id(),
                checked.watch_for.as_secs()
            ));
            log.append(Step::run(
                "run",
                "finish",
                "leaked pair still alive at the end of the watch",
            ))?;
            return Ok(Outcome::Unconfirmed);
        }
        std::thread::sleep(checked.watch_interval);
    }
}

/// Each rotated credential's incident becomes `rotated`, its history saying
/// which replacement took over and where the receipt is.
fn record_rotations(store: &mut Datastore, run: &RotateRun, log: &AuditLog) -> Result<()> {
    let mut changes = Vec::new();
    for r in &run.results {
        let RotOutcome::Rotated { replacement, .. } = &r.outcome else {
            continue;
        };
        let note = format!(
            "rotated by cybrid-scan: replaced by the application {replacement}, the leaked one deleted and confirmed; receipt in {} (run {})",
            log.path().display(),
            log.run_id()
        );
        for fp in &r.rotation.target.fingerprints {
            changes.push((fp.clone(), Status::Rotated, note.clone()));
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let who = std::env::var("USER").unwrap_or_else(|_| "cybrid-scan".to_string());
    let done = store.set_statuses(&changes, &who)?;
    eprintln!(
        "cybrid-scan: datastore {}: {} incident(s) marked rotated",
        store.path().display(),
        done.len()
    );
    Ok(())
}
