//! Rotation without downtime: for each leaked application, create a
//! replacement of the same type, bank and IP allowlist, deliver its client
//! id and secret where the service reads them, check that the new pair
//! authenticates, and only then delete the leaked application and confirm
//! it dead (as `revoke` does, through [`crate::revoke::Revoker`]).
//!
//! Nothing is changed until everything that can be checked first has been:
//! the admin token's *granted* scopes (the token response's `scope`, not
//! what was asked for), the leaked applications (read), the destinations
//! (tokens, the GitHub repository's public key, the GitLab project, the
//! file's directory). When the API cannot do it, the run stops there and
//! prints a dashboard [`runbook`].
//!
//! A delivery that fails deletes nothing: the replacement is kept in the
//! [`pending`] store (its secret is shown once, at creation) and reused by
//! the next run. Every step is a line of the audit log, which also tells a
//! rerun where each rotation stands ([`stages`]).

pub mod deliver;
pub mod pending;
pub mod plan;
pub mod runbook;
pub mod stages;
pub mod words;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::revoke::api::{AdminApi, AdminCredential, AdminToken, ApiError, AppInfo};
use crate::revoke::audit::{AuditError, AuditLog, History, Step};
use crate::revoke::confirm::PairCheck;
use crate::revoke::plan::{AppType, Plan, Target};
use crate::revoke::{scopes, Outcome, Revoker};
use crate::secret::Secret;
use crate::verify::client::Answer;
use crate::verify::endpoint::Environment;
use deliver::{Deliverer, Destination, Values};
use pending::{Pending, PendingStore};
use plan::{Rotation, RotationPlan};
use stages::{Stage, Stages};

/// How one rotation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotOutcome {
    /// Replacement delivered and checked; the leaked application deleted
    /// and confirmed dead (or found already gone).
    Rotated {
        replacement: String,
        name: String,
    },
    /// Finished in an earlier run (per the audit log): nothing was sent.
    DoneEarlier {
        at: String,
        outcome: String,
    },
    /// The replacement exists (kept for the next run) but is not delivered
    /// everywhere or does not authenticate yet: the leaked application was
    /// not touched.
    Pending {
        replacement: String,
        name: String,
        reason: String,
    },
    /// Delivered and checked, leaked application deleted, but its death
    /// could not be confirmed at the token endpoint.
    Unconfirmed {
        replacement: String,
        reason: String,
    },
    Failed {
        reason: String,
    },
}

impl RotOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            RotOutcome::Rotated { .. } => "rotated",
            RotOutcome::DoneEarlier { .. } => "done_earlier",
            RotOutcome::Pending { .. } => "pending",
            RotOutcome::Unconfirmed { .. } => "unconfirmed",
            RotOutcome::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RotResult {
    pub rotation: Rotation,
    pub outcome: RotOutcome,
}

/// The run stopped before changing anything.
#[derive(Debug, Clone)]
pub struct Stop {
    pub reason: String,
    /// The dashboard steps, when the API cannot do the rotation.
    pub runbook: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RotateRun {
    pub results: Vec<RotResult>,
    pub unplanned: Vec<String>,
    pub stopped: Option<Stop>,
}

impl RotateRun {
    pub fn count(&self, what: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.as_str() == what)
            .count()
    }

    /// Something is left undone (or the run stopped): non-zero exit.
    pub fn is_failure(&self) -> bool {
        self.stopped.is_some()
            || !self.unplanned.is_empty()
            || self.count("failed") + self.count("pending") > 0
    }

    pub fn tally(&self) -> String {
        format!(
            "{} rotated, {} done in an earlier run, {} pending (replacement kept, leak untouched), {} unconfirmed, {} failed",
            self.count("rotated"),
            self.count("done_earlier"),
            self.count("pending"),
            self.count("unconfirmed"),
            self.count("failed") + self.unplanned.len()
        )
    }
}

/// Why a run stopped as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Whether a token-endpoint answer shows the new pair authenticates: a
/// token, a scope refused after authentication, or a 403 `ip_not_allowed`
/// from outside its allowlist (the allowlist doing its job).
pub fn authenticates(answer: &Answer) -> bool {
    matches!(
        answer,
        Answer::Live(_) | Answer::Authenticated(_) | Answer::IpRestricted
    )
}

/// `leaked (rotated YYYY-MM-DD)`: starts with the leaked one's name.
pub fn replacement_name(leaked: &str, today: &str) -> String {
    let base = if leaked.trim().is_empty() {
        "cybrid-scan replacement"
    } else {
        leaked
    };
    format!("{base} (rotated {today})")
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The scopes reading and replacing an application of `kind` needs.
fn needs(kind: Option<AppType>) -> Vec<(String, &'static str)> {
    let kinds: Vec<AppType> = match kind {
        Some(k) => vec![k],
        None => vec![AppType::Bank, AppType::Organization],
    };
    let mut out = Vec::new();
    for k in kinds {
        out.push((scopes::scope(k, "read"), "reading the leaked application"));
        out.push((
            scopes::scope(k, "execute"),
            "creating the replacement and deleting the leaked application",
        ));
    }
    out
}

/// Everything a rotation run works with.
pub struct Rotator<'a> {
    pub api: &'a AdminApi,
    pub pairs: &'a PairCheck,
    pub admin: &'a AdminCredential,
    pub log: &'a mut AuditLog,
    pub history: &'a History,
    pub stages: &'a Stages,
    pub store: &'a PendingStore,
    pub deliverer: &'a Deliverer,
    pub destinations: &'a [Destination],
    /// The report the plan came from (for the runbook's command).
    pub report: String,
    pub today: String,
}

/// A rotation ready to go: its type and the leaked application's fields.
struct Ready {
    kind: AppType,
    info: Option<AppInfo>,
}

impl<'a> Rotator<'a> {
    fn step(&self, t: &Target, ty: Option<AppType>, action: &'static str) -> Step {
        Step {
            fingerprint: Some(t.fingerprint.clone()),
            environment: Some(t.environment.clone()),
            application_type: ty.map(|k| k.as_str().to_string()),
            action,
            ..Step::default()
        }
    }

    fn log_step(
        &mut self,
        t: &Target,
        ty: Option<AppType>,
        action: &'static str,
        outcome: &str,
        message: impl Into<String>,
    ) -> Result<(), RotateError> {
        let mut s = self.step(t, ty, action);
        s.outcome = outcome.into();
        s.message = Some(message.into());
        self.log.append(s)?;
        Ok(())
    }

    fn environment(&self, t: &Target) -> Result<Environment, String> {
        let env = t.environment.parse::<Environment>().map_err(|_| {
            format!(
                "environment {:?} has no identity service this tool may call",
                t.environment
            )
        })?;
        let endpoints = self.api.endpoints();
        let any = Environment::ALL.iter().any(|e| endpoints.is_overridden(*e));
        if any && !endpoints.is_overridden(env) {
            return Err(format!("no --endpoint for {env} while others were given: refusing to call the real {env} host"));
        }
        Ok(env)
    }

    fn stop(
        &mut self,
        reason: String,
        runbook_for: Option<Vec<runbook::Known>>,
    ) -> Result<Stop, RotateError> {
        self.log.append(Step::run(
            "run",
            "stopped",
            format!("{reason}: nothing was changed"),
        ))?;
        let runbook = runbook_for
            .map(|known| runbook::text(&reason, &known, self.destinations, &self.report));
        if runbook.is_some() {
            self.log.append(Step::run(
                "runbook",
                "printed",
                "the dashboard runbook was printed instead",
            ))?;
        }
        Ok(Stop { reason, runbook })
    }

    /// Rotate every planned application; `progress` hears each result.
    pub fn run(
        &mut self,
        plan: &RotationPlan,
        mut progress: impl FnMut(&RotResult),
    ) -> Result<RotateRun, RotateError> {
        let mut out = RotateRun {
            unplanned: plan.live_without_target.clone(),
            ..RotateRun::default()
        };
        // Finished earlier: nothing to do, nothing to ask for.
        let mut todo: Vec<&Rotation> = Vec::new();
        for r in &plan.rotations {
            let t = &r.target;
            if let Some((at, outcome)) = self.history.finished(&t.fingerprint, &t.environment) {
                self.log_step(
                    t,
                    t.app_type,
                    "rotate",
                    "skipped",
                    format!("{outcome} in an earlier run ({at})"),
                )?;
                let result = RotResult {
                    rotation: r.clone(),
                    outcome: RotOutcome::DoneEarlier {
                        at: at.clone(),
                        outcome: outcome.clone(),
                    },
                };
                progress(&result);
                out.results.push(result);
            } else {
                todo.push(r);
            }
        }
        if todo.is_empty() {
            return Ok(out);
        }
        // 1. One admin token per environment, with exactly the scopes the
        //    rotations need; the granted ones are compared with those asked for.
        let mut wanted: BTreeMap<Environment, BTreeMap<String, &'static str>> = BTreeMap::new();
        for &r in &todo {
            match self.environment(&r.target) {
                Ok(env) => {
                    let w = wanted.entry(env).or_default();
                    for (scope, why) in needs(r.target.app_type) {
                        w.insert(scope, why);
                    }
                }
                Err(reason) => {
                    let stop = self.stop(reason, None)?;
                    out.stopped = Some(stop);
                    return Ok(out);
                }
            }
        }
        let mut tokens: HashMap<Environment, AdminToken> = HashMap::new();
        let everyone = || {
            todo.iter()
                .map(|&r| runbook::Known {
                    rotation: r,
                    info: None,
                })
                .collect::<Vec<_>>()
        };
        for (env, want) in &wanted {
            let request: Vec<&str> = want.keys().map(String::as_str).collect();
            let request = request.join(" ");
            match self.api.mint(*env, self.admin, &request) {
                Ok(tok) => {
                    let missing: BTreeSet<&String> =
                        want.keys().filter(|s| !tok.holds(s)).collect();
                    let mut s = Step::run(
                        "token",
                        "ok",
                        format!(
                            "admin token asked for {request}; granted {}",
                            tok.scopes.join(" ")
                        ),
                    );
                    s.environment = Some(env.to_string());
                    s.http_status = Some(200);
                    self.log.append(s)?;
                    if !missing.is_empty() {
                        let each: Vec<String> = missing
                            .iter()
                            .map(|m| format!("{m} (needed for {})", want[*m]))
                            .collect();
                        let reason = format!(
                            "the identity service did not grant the admin credential {} in {env}",
                            each.join(" and ")
                        );
                        // What the granted scopes can still read fills in the runbook.
                        let infos: Vec<Option<AppInfo>> = todo
                            .iter()
                            .map(|r| self.peek(&r.target, *env, &tok))
                            .collect();
                        let known = todo
                            .iter()
                            .zip(&infos)
                            .map(|(&r, info)| runbook::Known {
                                rotation: r,
                                info: info.as_ref(),
                            })
                            .collect();
                        let stop = self.stop(reason, Some(known))?;
                        out.stopped = Some(stop);
                        return Ok(out);
                    }
                    tokens.insert(*env, tok);
                }
                Err(e) => {
                    let mut s = Step::run("token", "error", e.to_string());
                    s.environment = Some(env.to_string());
                    s.http_status = e.status();
                    self.log.append(s)?;
                    let runbook = matches!(e, ApiError::AdminLacksScope { .. }).then(everyone);
                    let stop = self.stop(e.to_string(), runbook)?;
                    out.stopped = Some(stop);
                    return Ok(out);
                }
            }
        }
        // 2. Read every leaked application (its type, bank, allowlist).
        let mut ready: Vec<(&Rotation, Ready)> = Vec::new();
        for &r in &todo {
            let t = &r.target;
            let Ok(env) = self.environment(t) else {
                continue;
            };
            let Some(token) = tokens.get(&env) else {
                continue;
            };
            if self.stages.get(&t.fingerprint, &t.environment) == Some(Stage::Delivered) {
                // Delivered earlier: only the deletion is left.
                if let Some(kind) = t.app_type {
                    ready.push((r, Ready { kind, info: None }));
                    continue;
                }
            }
            let kinds = match t.app_type {
                Some(k) => vec![k],
                None => vec![AppType::Bank, AppType::Organization],
            };
            let mut found = None;
            let mut problem = None;
            for kind in kinds {
                match self.api.read_application(env, kind, &t.client_id, token) {
                    Ok(Some(info)) => {
                        found = Some((kind, info));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        problem = Some(e.to_string());
                        break;
                    }
                }
            }
            match found {
                Some((kind, info)) => {
                    self.log_step(
                        t,
                        Some(kind),
                        "read",
                        "ok",
                        format!(
                            "leaked application read: name {:?}, {} IP allowlist entr{}",
                            info.name,
                            info.ip_allowlist.len(),
                            if info.ip_allowlist.len() == 1 {
                                "y"
                            } else {
                                "ies"
                            }
                        ),
                    )?;
                    ready.push((
                        r,
                        Ready {
                            kind,
                            info: Some(info),
                        },
                    ));
                }
                None => {
                    let why = problem.unwrap_or_else(|| "the identity service answers 404 (deleted already, or not an application of the admin credential's organization)".into());
                    let reason = format!(
                        "the leaked {} application {} in {} cannot be read: {why}",
                        t.type_label(),
                        t.shown_client_id(),
                        t.environment
                    );
                    self.log_step(t, t.app_type, "read", "error", reason.clone())?;
                    let stop = self.stop(reason, Some(everyone()))?;
                    out.stopped = Some(stop);
                    return Ok(out);
                }
            }
        }
        // 3. The destinations, before anything is created.
        for d in self.destinations {
            if let Err(e) = self.deliverer.preflight(d) {
                let stop = self.stop(format!("destination not usable: {e}"), None)?;
                out.stopped = Some(stop);
                return Ok(out);
            }
        }
        // 4. Rotate, one after the other.
        for (r, ready) in ready {
            let env = match self.environment(&r.target) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let Some(token) = tokens.get(&env) else {
                continue;
            };
            let outcome = self.rotate_one(r, env, &ready, token)?;
            let mut s = self.step(&r.target, Some(ready.kind), "rotate");
            s.outcome = outcome.as_str().into();
            s.message = Some(words::outcome_line(&outcome));
            self.log.append(s)?;
            let result = RotResult {
                rotation: r.clone(),
                outcome,
            };
            progress(&result);
            out.results.push(result);
        }
        Ok(out)
    }

    /// The leaked application's fields for the runbook, when `token` may
    /// read them (nothing is logged as a failure: it is only a help).
    fn peek(&self, t: &Target, env: Environment, token: &AdminToken) -> Option<AppInfo> {
        let kind = t.app_type?;
        if self.environment(t).ok()? != env || !token.holds(&scopes::scope(kind, "read")) {
            return None;
        }
        self.api
            .read_application(env, kind, &t.client_id, token)
            .ok()
            .flatten()
    }

    /// Create (or reuse) the replacement, deliver it, check it, then delete
    /// the leaked application.
    fn rotate_one(
        &mut self,
        r: &Rotation,
        env: Environment,
        ready: &Ready,
        token: &AdminToken,
    ) -> Result<RotOutcome, RotateError> {
        let t = &r.target;
        let kind = ready.kind;
        if self.stages.get(&t.fingerprint, &t.environment) == Some(Stage::Delivered) {
            self.log_step(t, Some(kind), "rotate", "resume", "the replacement was delivered and checked in an earlier run: only the deletion of the leaked application is left")?;
            return self.delete_leaked(t, kind, "(delivered earlier)".into(), String::new());
        }
        let pending = match self.store.load(&t.fingerprint, &t.environment) {
            Ok(p) => p,
            Err(e) => {
                return Ok(RotOutcome::Failed {
                    reason: e.to_string(),
                })
            }
        };
        let pending = match pending {
            Some(p) => {
                self.log_step(t, Some(kind), "create", "reused", format!(
                    "the replacement {:?} ({}) made in an earlier run is reused: nothing is created",
                    p.name,
                    crate::secret::redact(&p.client_id)
                ))?;
                p
            }
            None => {
                if self.stages.get(&t.fingerprint, &t.environment) == Some(Stage::Created) {
                    self.log_step(t, Some(kind), "create", "orphan", "a replacement made in an earlier run was not kept (its pending file is gone): delete it in the dashboard (its name is in the earlier run's lines); a new one is made")?;
                }
                match self.create(t, env, kind, ready.info.as_ref(), token)? {
                    Ok(p) => p,
                    Err(reason) => return Ok(RotOutcome::Failed { reason }),
                }
            }
        };
        let replacement = crate::secret::redact(&pending.client_id);
        let (id, secret) = (pending.client_id(), pending.secret());
        let values = Values {
            names: &r.names,
            client_id: &id,
            secret: &secret,
        };
        let mut failures = Vec::new();
        for d in self.destinations {
            match self.deliverer.deliver(d, &values) {
                Ok(done) => {
                    self.log_step(t, Some(kind), "deliver", "ok", format!("{d}: {done}"))?
                }
                Err(e) => {
                    self.log_step(t, Some(kind), "deliver", "error", e.to_string())?;
                    failures.push(e.to_string());
                }
            }
        }
        if !failures.is_empty() {
            return Ok(RotOutcome::Pending {
                replacement,
                name: pending.name.clone(),
                reason: format!("delivery failed: {}", failures.join("; ")),
            });
        }
        let (answer, attempts) = self.pairs.answer(env, &id, &secret);
        if !authenticates(&answer) {
            let reason = format!("the new pair does not authenticate at the token endpoint yet ({} after {attempts} attempt(s))", answer.reason());
            self.log_step(t, Some(kind), "check", "failed", reason.clone())?;
            return Ok(RotOutcome::Pending {
                replacement,
                name: pending.name.clone(),
                reason,
            });
        }
        let how = match answer {
            Answer::IpRestricted => "authenticated: 403 ip_not_allowed from outside its IP allowlist (the allowlist at work)",
            Answer::Authenticated(_) => "authenticated (the probe scope was refused after authentication)",
            _ => "a token was minted (and dropped)",
        };
        self.log_step(t, Some(kind), "check", "ok", format!("the new pair {how}"))?;
        self.log_step(
            t,
            Some(kind),
            "rotate",
            "delivered",
            format!(
                "replacement {:?} ({replacement}) delivered to {} destination(s) and checked",
                pending.name,
                self.destinations.len()
            ),
        )?;
        if let Err(e) = self.store.remove(&t.fingerprint, &t.environment) {
            self.log_step(t, Some(kind), "pending", "error", e.to_string())?;
        }
        self.delete_leaked(t, kind, replacement, pending.name.clone())
    }

    /// `POST` the replacement, keep it in the pending store.
    fn create(
        &mut self,
        t: &Target,
        env: Environment,
        kind: AppType,
        info: Option<&AppInfo>,
        token: &AdminToken,
    ) -> Result<Result<Pending, String>, RotateError> {
        let info = info.cloned().unwrap_or_default();
        let name = replacement_name(&info.name, &self.today);
        let mut body = serde_json::json!({ "name": name, "ip_allowlist": info.ip_allowlist });
        if kind == AppType::Bank {
            match &info.bank_guid {
                Some(b) => body["bank_guid"] = serde_json::json!(b),
                None => return Ok(Err("the leaked bank application has no bank_guid: cannot make a replacement for the same bank".into())),
            }
        }
        self.log_step(
            t,
            Some(kind),
            "create",
            "sent",
            format!("POST {kind} application {name:?}"),
        )?;
        let created = match self.api.create_application(env, kind, &body, token) {
            Ok(c) => c,
            Err(e) => {
                let mut s = self.step(t, Some(kind), "create");
                s.outcome = "error".into();
                s.http_status = e.status();
                s.message = Some(e.to_string());
                self.log.append(s)?;
                return Ok(Err(format!("creating the replacement failed: {e}")));
            }
        };
        if created.info.ip_allowlist != info.ip_allowlist
            || (kind == AppType::Bank && created.info.bank_guid != info.bank_guid)
        {
            self.log_step(t, Some(kind), "create", "warning", "the replacement's bank or IP allowlist differs from the leaked application's as answered")?;
        }
        let pending = Pending {
            fingerprint: t.fingerprint.clone(),
            environment: t.environment.clone(),
            application_type: kind.as_str().into(),
            name: created.info.name.clone(),
            client_id: created.client_id.expose().to_string(),
            secret: created.secret.expose().to_string(),
            created_at: crate::revoke::audit::now_rfc3339(),
        };
        match self.store.save(&pending) {
            Ok(path) => self.log_step(
                t,
                Some(kind),
                "rotate",
                "created",
                format!(
                    "replacement {:?} ({}) created; its secret is kept in {} until it is delivered",
                    pending.name,
                    created.client_id.redacted(),
                    path.display()
                ),
            )?,
            Err(e) => self.log_step(
                t,
                Some(kind),
                "rotate",
                "created",
                format!(
                    "replacement {:?} ({}) created, but it could not be kept for a rerun: {e}",
                    pending.name,
                    created.client_id.redacted()
                ),
            )?,
        }
        Ok(Ok(pending))
    }

    /// Delete the leaked application and confirm it dead, as `revoke` does.
    fn delete_leaked(
        &mut self,
        t: &Target,
        kind: AppType,
        replacement: String,
        name: String,
    ) -> Result<RotOutcome, RotateError> {
        let mut target = t.clone();
        target.app_type = Some(kind);
        let plan = Plan {
            targets: vec![target],
            ..Plan::default()
        };
        let run = Revoker::new(
            self.api,
            self.pairs,
            self.admin,
            &mut *self.log,
            self.history,
        )
        .run(&plan, |_| {})
        .map_err(|e| match e {
            crate::revoke::RunError::Audit(a) => RotateError::Audit(a),
        })?;
        if let Some(why) = run.stopped {
            return Ok(RotOutcome::Failed { reason: format!("the replacement is delivered, but the leaked application was not deleted: {why}") });
        }
        let Some(result) = run.results.into_iter().next() else {
            return Ok(RotOutcome::Failed {
                reason: "nothing was deleted".into(),
            });
        };
        Ok(match result.outcome {
            Outcome::Revoked { .. } | Outcome::AlreadyRevoked { .. } | Outcome::DoneEarlier { .. } => {
                RotOutcome::Rotated { replacement, name }
            }
            Outcome::Unconfirmed { reason } => RotOutcome::Unconfirmed { replacement, reason },
            Outcome::Failed { reason, .. } => RotOutcome::Failed {
                reason: format!("the replacement is delivered, but deleting the leaked application failed: {reason} (run the same command again: only the deletion is retried)"),
            },
        })
    }
}

/// A pair typed by a person (`--new-from-stdin`): the client id, then the
/// secret, one per line (or `NAME=value` lines, as `exec` destinations get them).
pub fn read_pair(text: &str) -> Option<(Secret, Secret)> {
    let values: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('=').map_or(l, |(_, v)| v.trim()))
        .collect();
    match values.as_slice() {
        [id, secret] if !id.is_empty() && !secret.is_empty() && id != secret => {
            Some((Secret::new(*id), Secret::new(*secret)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pairs() {
        assert_eq!(
            replacement_name("payments-prod", "2026-12-07"),
            "payments-prod (rotated 2026-12-07)"
        );
        assert!(replacement_name("", "2026-12-07").ends_with("(rotated 2026-12-07)"));
        assert_eq!(today().len(), 10);
        let (id, s) = read_pair("ID1\nSECRET1\n").expect("two lines");
        assert_eq!((id.expose(), s.expose()), ("ID1", "SECRET1"));
        let (id, _) =
            read_pair("CYBRID_CLIENT_ID=ID1\nCYBRID_CLIENT_SECRET=S\n").expect("env lines");
        assert_eq!(id.expose(), "ID1");
        assert!(read_pair("ONE\n").is_none());
        assert!(authenticates(&Answer::IpRestricted));
        assert!(!authenticates(&Answer::Invalid));
    }
}
