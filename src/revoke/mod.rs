//! Revocation: delete the applications of credentials verified live, with
//! the responder's own organization credential, and leave a receipt.
//!
//! [`plan`] turns a report (or the scan that just ran) into targets,
//! [`scopes`] works out which scopes the admin token needs, [`api`] makes
//! the admin calls, [`confirm`] asks the token endpoint about the leaked
//! pair, [`audit`] records every step durably before the next one (so a
//! rerun after a crash skips finished work), [`receipt`] words the plan and
//! the result, [`notify`] tells a webhook.
//!
//! A run first mints one admin token per environment with exactly the
//! scopes its targets need; when the credential lacks one, it stops there,
//! before any DELETE. Each target then goes: type lookup when unknown →
//! DELETE (404 = already gone) → a token request with the leaked pair,
//! whose `401 invalid_client` confirms the credential dead. A confirmation
//! that cannot be had leaves the target `unconfirmed`; a rerun only
//! confirms it.

pub mod api;
pub mod audit;
pub mod confirm;
pub mod notify;
pub mod plan;
pub mod receipt;
pub mod reread;
pub mod scopes;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use api::{AdminApi, AdminCredential, AdminToken, ApiError, AppAnswer};
use audit::{AuditError, AuditLog, History, Step};
use confirm::{PairCheck, PairState};
use plan::{AppType, Plan, Target};
use scopes::Needs;

use crate::verify::endpoint::Environment;

/// Revocation flags of a scanning subcommand (`--revoke`).
#[derive(Debug, Clone, Default)]
pub struct RevokeSettings {
    pub enabled: bool,
    pub yes: bool,
    pub audit_log: Option<PathBuf>,
    pub notify_webhook: Option<String>,
}

impl RevokeSettings {
    /// `--audit-log`, else [`audit::default_path`] (the user's state directory).
    pub fn audit_log_path(&self) -> Result<PathBuf, AuditError> {
        match &self.audit_log {
            Some(p) => Ok(p.clone()),
            None => audit::default_path(),
        }
    }
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// DELETE answered 204 and the token endpoint then refused the pair.
    Revoked {
        confirmed_at: String,
    },
    /// DELETE (or both type lookups) answered 404, and the token endpoint
    /// refuses the pair.
    AlreadyRevoked {
        confirmed_at: String,
    },
    /// Deleted (or already gone), but the token endpoint could not say
    /// whether the pair is dead: no secret to ask with, or no usable answer.
    /// Not a failure, not a revocation; a rerun only retries the confirmation.
    Unconfirmed {
        reason: String,
    },
    /// A finished line for it is in the audit log already.
    DoneEarlier {
        at: String,
        outcome: String,
    },
    Failed {
        reason: String,
        status: Option<u16>,
    },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Revoked { .. } => "revoked",
            Outcome::AlreadyRevoked { .. } => "already_revoked",
            Outcome::Unconfirmed { .. } => "unconfirmed",
            Outcome::DoneEarlier { .. } => "done_earlier",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// Revoked and confirmed, now or earlier.
    pub fn is_done(&self) -> bool {
        !matches!(self, Outcome::Failed { .. } | Outcome::Unconfirmed { .. })
    }
}

/// One target and how it ended.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: Target,
    pub app_type: Option<AppType>,
    pub outcome: Outcome,
    /// The DELETE's status, when one was answered (for a confirmation
    /// retried by a rerun: the earlier run's).
    pub delete_status: Option<u16>,
    /// The optional GET after the DELETE (made only when the admin token
    /// holds the read scope anyway): `Some(true)` when it answered 404.
    pub get_gone: Option<bool>,
}

/// Everything a run did.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub results: Vec<TargetResult>,
    /// Live findings that could not be planned (no revocation data).
    pub unplanned: Vec<String>,
    /// Set when the run stopped before any DELETE (the admin credential
    /// lacks a scope the plan needs): why, naming the scopes.
    pub stopped: Option<String>,
}

impl RunResult {
    pub fn count(&self, what: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.as_str() == what)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.count("failed") + self.unplanned.len()
    }

    /// Something failed or the run stopped: exit status 2.
    pub fn is_failure(&self) -> bool {
        self.failed() > 0 || self.stopped.is_some()
    }

    /// `N revoked, N already revoked, N unconfirmed, N done in an earlier
    /// run, N failed`.
    pub fn tally(&self) -> String {
        format!(
            "{} revoked, {} already revoked, {} unconfirmed, {} done in an earlier run, {} failed",
            self.count("revoked"),
            self.count("already_revoked"),
            self.count("unconfirmed"),
            self.count("done_earlier"),
            self.failed()
        )
    }
}

/// Why a run stopped as a whole (a target's failure does not stop it).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Runs the plan's targets one after the other.
pub struct Revoker<'a> {
    api: &'a AdminApi,
    pairs: &'a PairCheck,
    admin: &'a AdminCredential,
    log: &'a mut AuditLog,
    history: &'a History,
    /// One token (or the reason there is none) per environment, minted
    /// before any target is touched.
    tokens: HashMap<Environment, Result<Rc<AdminToken>, ApiError>>,
}

/// The result of one step inside a target, to end the target with.
type Flow<T> = Result<T, (String, Option<u16>)>;

/// What is known about a target while its steps run.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    ty: Option<AppType>,
    delete_status: Option<u16>,
    get_gone: Option<bool>,
}

/// The admin credential lacks scopes in one environment.
struct Shortfall {
    env: Environment,
    missing: Vec<String>,
    needs: Needs,
}

impl Shortfall {
    fn message(&self) -> String {
        if self.missing.is_empty() {
            return format!(
                "the admin credential was refused the scopes {} in {} (400 invalid_scope), and asking for each alone did not tell which one it lacks",
                self.needs.request(),
                self.env
            );
        }
        let each: Vec<String> = self
            .missing
            .iter()
            .map(|s| format!("{s} (needed for {})", self.needs.why(s)))
            .collect();
        format!(
            "the admin credential lacks the scope {} in {}",
            each.join(" and "),
            self.env
        )
    }
}

impl<'a> Revoker<'a> {
    pub fn new(
        api: &'a AdminApi,
        pairs: &'a PairCheck,
        admin: &'a AdminCredential,
        log: &'a mut AuditLog,
        history: &'a History,
    ) -> Self {
        Revoker {
            api,
            pairs,
            admin,
            log,
            history,
            tokens: HashMap::new(),
        }
    }

    /// Revoke every target, logging each step; `progress` hears each result.
    /// Admin tokens are minted first; if the credential lacks a scope the
    /// plan needs, nothing else is sent and `stopped` says why.
    pub fn run(
        &mut self,
        plan: &Plan,
        mut progress: impl FnMut(&TargetResult),
    ) -> Result<RunResult, RunError> {
        let mut out = RunResult {
            unplanned: plan.live_without_target.clone(),
            ..RunResult::default()
        };
        for place in &plan.live_without_target {
            self.log.append(Step::run(
                "plan",
                "failed",
                format!("live finding at {place} has no revocation data in the report (written by an older cybrid-scan?): scan again with --verify"),
            ))?;
        }
        let shortfalls = self.mint_tokens(plan)?;
        if !shortfalls.is_empty() {
            let why: Vec<String> = shortfalls.iter().map(Shortfall::message).collect();
            let stopped = format!(
                "{}: stopped before any DELETE, nothing was changed. Give the admin credential the missing scope(s), or use one that has them, and run the same command again.",
                why.join("; ")
            );
            self.log
                .append(Step::run("run", "stopped", stopped.clone()))?;
            out.stopped = Some(stopped);
            return Ok(out);
        }
        for target in &plan.targets {
            let result = self.target(target)?;
            progress(&result);
            out.results.push(result);
        }
        Ok(out)
    }

    /// Mint one admin token per environment whose targets need a DELETE,
    /// with exactly the scopes they need. Returns the environments where the
    /// credential lacks a scope (each missing scope named).
    fn mint_tokens(&mut self, plan: &Plan) -> Result<Vec<Shortfall>, RunError> {
        let mut needs: BTreeMap<Environment, Needs> = BTreeMap::new();
        for t in &plan.targets {
            let (fp, env) = (&t.fingerprint, &t.environment);
            if self.history.finished(fp, env).is_some()
                || self.history.unconfirmed(fp, env).is_some()
            {
                continue;
            }
            if let Ok(env) = self.environment(t) {
                needs.entry(env).or_default().add(t);
            }
        }
        let mut shortfalls = Vec::new();
        for (env, need) in needs {
            let request = need.request();
            let minted = self.api.mint(env, self.admin, &request);
            let mut s = Step {
                environment: Some(env.to_string()),
                action: "token",
                ..Step::default()
            };
            match &minted {
                Ok(tok) => {
                    s.outcome = "ok".into();
                    s.http_status = Some(200);
                    s.message = Some(format!(
                        "admin token minted with {request} (organization {})",
                        tok.organization_guid.as_deref().unwrap_or("unknown")
                    ));
                }
                Err(e) => {
                    s.outcome = "error".into();
                    s.http_status = e.status();
                    s.message = Some(e.to_string());
                }
            }
            self.log.append(s)?;
            // The identity service may grant fewer scopes than asked for
            // (the answer's `scope`): stop as for a refused scope.
            if let Ok(tok) = &minted {
                let missing: Vec<String> = need
                    .scopes()
                    .filter(|s| !tok.holds(s))
                    .map(str::to_string)
                    .collect();
                if !missing.is_empty() {
                    self.log.append(Step {
                        environment: Some(env.to_string()),
                        action: "scopes",
                        outcome: "not_granted".into(),
                        message: Some(format!(
                            "asked for {request}, granted {}",
                            tok.scopes.join(" ")
                        )),
                        ..Step::default()
                    })?;
                    shortfalls.push(Shortfall {
                        env,
                        missing,
                        needs: need,
                    });
                    continue;
                }
            }
            if let Err(ApiError::AdminLacksScope { status: 400, .. }) = &minted {
                let missing = self.missing_scopes(env, &need)?;
                shortfalls.push(Shortfall {
                    env,
                    missing,
                    needs: need,
                });
                continue;
            }
            self.tokens.insert(env, minted.map(Rc::new));
        }
        Ok(shortfalls)
    }

    /// Which of `need`'s scopes the admin credential may not ask for: each
    /// is asked for alone (the tokens are dropped), so the message can name
    /// the missing one rather than the whole set.
    fn missing_scopes(&mut self, env: Environment, need: &Needs) -> Result<Vec<String>, RunError> {
        let mut missing = Vec::new();
        for scope in need.scopes() {
            let answer = self.api.mint(env, self.admin, scope);
            let mut s = Step {
                environment: Some(env.to_string()),
                action: "scopes",
                http_status: answer.as_ref().err().map_or(Some(200), ApiError::status),
                ..Step::default()
            };
            match answer {
                Ok(_) => {
                    s.outcome = "granted".into();
                    s.message = Some(format!("{scope}: granted (token dropped)"));
                }
                Err(ApiError::AdminLacksScope { status: 400, .. }) => {
                    s.outcome = "missing".into();
                    s.message = Some(format!(
                        "{scope}: refused (400 invalid_scope), needed for {}",
                        need.why(scope)
                    ));
                    missing.push(scope.to_string());
                }
                Err(e) => {
                    s.outcome = "error".into();
                    s.message = Some(format!("{scope}: {e}"));
                }
            }
            self.log.append(s)?;
        }
        Ok(missing)
    }

    fn step(&self, t: &Target, ty: Option<AppType>, action: &'static str) -> Step {
        Step {
            fingerprint: Some(t.fingerprint.clone()),
            environment: Some(t.environment.clone()),
            application_type: ty.map(|k| k.as_str().to_string()),
            action,
            ..Step::default()
        }
    }

    /// The environment `t` may be revoked in, or why not.
    fn environment(&self, t: &Target) -> Result<Environment, String> {
        let env = t.environment.parse::<Environment>().map_err(|_| {
            format!(
                "environment {:?} has no identity service this tool may call",
                t.environment
            )
        })?;
        let endpoints = self.api.endpoints();
        let any_override = Environment::ALL.iter().any(|e| endpoints.is_overridden(*e));
        if any_override && !endpoints.is_overridden(env) {
            return Err(format!("no --endpoint for {env} while others were given: refusing to call the real {env} host (add --endpoint {env}=URL)"));
        }
        Ok(env)
    }

    fn target(&mut self, t: &Target) -> Result<TargetResult, RunError> {
        if let Some((at, outcome)) = self.history.finished(&t.fingerprint, &t.environment) {
            let mut s = self.step(t, t.app_type, "revoke");
            s.outcome = "skipped".into();
            s.message = Some(format!("{outcome} in an earlier run ({at})"));
            self.log.append(s)?;
            return Ok(TargetResult {
                target: t.clone(),
                app_type: t.app_type,
                outcome: Outcome::DoneEarlier {
                    at: at.clone(),
                    outcome: outcome.clone(),
                },
                delete_status: None,
                get_gone: None,
            });
        }
        let mut track = Track {
            ty: t.app_type,
            ..Track::default()
        };
        let earlier = self
            .history
            .unconfirmed(&t.fingerprint, &t.environment)
            .cloned();
        let flow = match earlier {
            // Deleted in an earlier run: only the confirmation is retried.
            Some((at, status)) => {
                track.delete_status = status;
                let mut s = self.step(t, track.ty, "confirm");
                s.outcome = "retry".into();
                s.message = Some(format!(
                    "deleted in an earlier run ({at}) but not confirmed: asking the token endpoint again, nothing else is sent"
                ));
                self.log.append(s)?;
                match self.environment(t) {
                    Ok(env) => self.confirm(t, env, &mut track, None)?,
                    Err(reason) => Err((reason, None)),
                }
            }
            None => self.steps(t, &mut track)?,
        };
        let outcome = match flow {
            Ok(o) => o,
            Err((reason, status)) => Outcome::Failed { reason, status },
        };
        let mut s = self.step(t, track.ty, "revoke");
        s.outcome = outcome.as_str().into();
        s.http_status = track.delete_status;
        if let Outcome::Failed { reason, .. } | Outcome::Unconfirmed { reason } = &outcome {
            s.message = Some(reason.clone());
        }
        self.log.append(s)?;
        Ok(TargetResult {
            target: t.clone(),
            app_type: track.ty,
            outcome,
            delete_status: track.delete_status,
            get_gone: track.get_gone,
        })
    }

    /// Log an API failure of `action` and turn it into the target's end.
    fn api_failed(
        &mut self,
        t: &Target,
        ty: Option<AppType>,
        action: &'static str,
        e: &ApiError,
    ) -> Result<(String, Option<u16>), RunError> {
        let mut s = self.step(t, ty, action);
        s.outcome = "error".into();
        s.http_status = e.status();
        s.message = Some(e.to_string());
        self.log.append(s)?;
        Ok((e.to_string(), e.status()))
    }

    fn steps(&mut self, t: &Target, track: &mut Track) -> Result<Flow<Outcome>, RunError> {
        let env = match self.environment(t) {
            Ok(env) => env,
            Err(reason) => return Ok(Err((reason, None))),
        };
        let token = match self.tokens.get(&env) {
            Some(Ok(token)) => Rc::clone(token),
            Some(Err(e)) => return Ok(Err((e.to_string(), e.status()))),
            None => return Ok(Err(("no admin token".into(), None))),
        };
        let kind = match track.ty {
            Some(k) => k,
            None => match self.lookup(t, env, &token)? {
                Ok(Some(k)) => {
                    track.ty = Some(k);
                    k
                }
                // Neither endpoint knows it: gone already, or not this
                // organization's. The pair decides which.
                Ok(None) => return self.confirm(t, env, track, Some(&token)),
                Err(e) => return Ok(Err(e)),
            },
        };
        let mut s = self.step(t, track.ty, "delete");
        s.outcome = "sent".into();
        self.log.append(s)?;
        let deleted =
            self.api
                .application(reqwest::Method::DELETE, env, kind, &t.client_id, &token);
        let (answer, status) = match deleted {
            Ok(a) => a,
            Err(e) => return Ok(Err(self.api_failed(t, track.ty, "delete", &e)?)),
        };
        track.delete_status = Some(status);
        let mut s = self.step(t, track.ty, "delete");
        s.http_status = Some(status);
        s.outcome = match answer {
            AppAnswer::Present => "ok".into(),
            AppAnswer::NotFound => "not_found".into(),
        };
        if answer == AppAnswer::NotFound {
            s.message = Some("404: already gone, or not an application of this organization (the pair tells which)".into());
        }
        self.log.append(s)?;
        self.confirm(t, env, track, Some(&token))
    }

    /// After the DELETE (or lookups that found nothing): the optional GET
    /// when `token` holds the read scope, then the leaked pair at the token
    /// endpoint, which decides.
    fn confirm(
        &mut self,
        t: &Target,
        env: Environment,
        track: &mut Track,
        token: Option<&AdminToken>,
    ) -> Result<Flow<Outcome>, RunError> {
        if let (Some(kind), Some(token)) = (track.ty, token) {
            if token.holds(&scopes::scope(kind, "read")) {
                track.get_gone = self.confirm_get(t, env, kind, token)?;
            }
        }
        let deleted_now = track.delete_status.is_some_and(|s| s != 404);
        let Some(secret) = &t.secret else {
            let reason = "the leaked secret is not at hand (the report was written without --show-secrets, and the finding's recorded location can no longer be read), so the token endpoint could not be asked whether the pair still works".to_string();
            let mut s = self.step(t, track.ty, "confirm");
            s.outcome = "no_secret".into();
            s.message = Some(reason.clone());
            self.log.append(s)?;
            return Ok(Ok(Outcome::Unconfirmed { reason }));
        };
        let state = self.pairs.check(env, &t.client_id, secret);
        let mut s = self.step(t, track.ty, "confirm");
        let flow = match &state {
            PairState::Dead => {
                s.outcome = "dead".into();
                s.http_status = Some(401);
                s.message = Some("the token endpoint refuses the pair (401 invalid_client)".into());
                let entry = self.log.append(s)?;
                return Ok(Ok(if deleted_now {
                    Outcome::Revoked {
                        confirmed_at: entry.time,
                    }
                } else {
                    Outcome::AlreadyRevoked {
                        confirmed_at: entry.time,
                    }
                }));
            }
            PairState::Alive(why) => {
                let reason = if deleted_now {
                    format!("the DELETE answered {}, but {why}: not revoked (run again; if it persists, ask Cybrid)", track.delete_status.unwrap_or(204))
                } else {
                    format!("the identity service answers 404 for this application (not in the admin credential's organization, or of the other type), and {why}: not revoked")
                };
                s.outcome = "alive".into();
                s.message = Some(reason.clone());
                Err((reason, None))
            }
            PairState::Unknown(why) => {
                let reason = format!("{why}; run the same command again to retry the confirmation (nothing is deleted twice)");
                s.outcome = "unknown".into();
                s.message = Some(reason.clone());
                Ok(Outcome::Unconfirmed { reason })
            }
        };
        self.log.append(s)?;
        Ok(flow)
    }

    /// The optional GET after a DELETE: recorded, never decisive.
    fn confirm_get(
        &mut self,
        t: &Target,
        env: Environment,
        kind: AppType,
        token: &AdminToken,
    ) -> Result<Option<bool>, RunError> {
        let got = self
            .api
            .application(reqwest::Method::GET, env, kind, &t.client_id, token);
        let mut s = self.step(t, Some(kind), "confirm_get");
        let gone = match got {
            Ok((answer, status)) => {
                s.http_status = Some(status);
                s.outcome = match answer {
                    AppAnswer::NotFound => "gone".into(),
                    AppAnswer::Present => "still_present".into(),
                };
                Some(answer == AppAnswer::NotFound)
            }
            Err(e) => {
                s.outcome = "error".into();
                s.http_status = e.status();
                s.message = Some(e.to_string());
                None
            }
        };
        self.log.append(s)?;
        Ok(gone)
    }

    /// Which kind of application `t` is: bank first, then organization;
    /// `None` when neither endpoint knows it (already gone).
    fn lookup(
        &mut self,
        t: &Target,
        env: Environment,
        token: &AdminToken,
    ) -> Result<Flow<Option<AppType>>, RunError> {
        for kind in [AppType::Bank, AppType::Organization] {
            let got = self
                .api
                .application(reqwest::Method::GET, env, kind, &t.client_id, token);
            let mut s = self.step(t, Some(kind), "lookup");
            match got {
                Ok((answer, status)) => {
                    s.http_status = Some(status);
                    s.outcome = match answer {
                        AppAnswer::Present => "found".into(),
                        AppAnswer::NotFound => "not_found".into(),
                    };
                    self.log.append(s)?;
                    if answer == AppAnswer::Present {
                        return Ok(Ok(Some(kind)));
                    }
                }
                Err(e) => return Ok(Err(self.api_failed(t, Some(kind), "lookup", &e)?)),
            }
        }
        Ok(Ok(None))
    }
}

/// How long tokens minted with a leaked bank or organization credential stay
/// valid after revocation, at most.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);
