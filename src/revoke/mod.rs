//! Revocation: delete the applications of credentials verified live, with
//! the responder's own organization credential, and leave a receipt.
//!
//! [`plan`] turns a report (or the scan that just ran) into targets,
//! [`api`] makes the calls, [`audit`] records every step durably before the
//! next one (so a rerun after a crash skips finished work), [`receipt`]
//! words the plan and the result, [`notify`] tells a webhook. Each target
//! goes: admin token for its environment (once per run) → type lookup when
//! unknown → DELETE (404 = already revoked) → GET answering 404 = confirmed.

pub mod api;
pub mod audit;
pub mod notify;
pub mod plan;
pub mod receipt;

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use api::{AdminApi, AdminCredential, AdminToken, ApiError, AppAnswer};
use audit::{AuditError, AuditLog, History, Step};
use plan::{AppType, Plan, Target};

use crate::verify::endpoint::Environment;

/// The audit log used when none is named.
pub const DEFAULT_AUDIT_LOG: &str = "cybrid-scan-audit.jsonl";

/// Revocation flags of a scanning subcommand (`--revoke`).
#[derive(Debug, Clone, Default)]
pub struct RevokeSettings {
    pub enabled: bool,
    pub yes: bool,
    pub audit_log: Option<PathBuf>,
    pub notify_webhook: Option<String>,
}

impl RevokeSettings {
    pub fn audit_log_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_AUDIT_LOG))
    }
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// DELETE answered 204 and a GET then answered 404.
    Revoked {
        confirmed_at: String,
    },
    /// DELETE (or both type lookups) answered 404, and so does the GET.
    AlreadyRevoked {
        confirmed_at: String,
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
            Outcome::DoneEarlier { .. } => "done_earlier",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn is_done(&self) -> bool {
        !matches!(self, Outcome::Failed { .. })
    }
}

/// One target and how it ended.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: Target,
    pub app_type: Option<AppType>,
    pub outcome: Outcome,
    /// The DELETE's status, when one was answered.
    pub delete_status: Option<u16>,
}

/// Everything a run did.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub results: Vec<TargetResult>,
    /// Live findings that could not be planned (no revocation data).
    pub unplanned: Vec<String>,
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
    admin: &'a AdminCredential,
    log: &'a mut AuditLog,
    history: &'a History,
    /// One token (or the reason there is none) per environment.
    tokens: HashMap<Environment, Result<Rc<AdminToken>, ApiError>>,
}

/// The result of one step inside a target, to end the target with.
type Flow<T> = Result<T, (String, Option<u16>)>;

impl<'a> Revoker<'a> {
    pub fn new(
        api: &'a AdminApi,
        admin: &'a AdminCredential,
        log: &'a mut AuditLog,
        history: &'a History,
    ) -> Self {
        Revoker {
            api,
            admin,
            log,
            history,
            tokens: HashMap::new(),
        }
    }

    /// Revoke every target, logging each step; `progress` hears each result.
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
        for target in &plan.targets {
            let result = self.target(target)?;
            progress(&result);
            out.results.push(result);
        }
        Ok(out)
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
            });
        }
        let mut ty = t.app_type;
        let mut delete_status = None;
        let flow = self.steps(t, &mut ty, &mut delete_status)?;
        let outcome = match flow {
            Ok(o) => o,
            Err((reason, status)) => Outcome::Failed { reason, status },
        };
        let mut s = self.step(t, ty, "revoke");
        s.outcome = outcome.as_str().into();
        s.http_status = delete_status;
        if let Outcome::Failed { reason, .. } = &outcome {
            s.message = Some(reason.clone());
        }
        self.log.append(s)?;
        Ok(TargetResult {
            target: t.clone(),
            app_type: ty,
            outcome,
            delete_status,
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

    fn steps(
        &mut self,
        t: &Target,
        ty: &mut Option<AppType>,
        delete_status: &mut Option<u16>,
    ) -> Result<Flow<Outcome>, RunError> {
        let env = match t.environment.parse::<Environment>() {
            Ok(env) => env,
            Err(_) => {
                return Ok(Err((
                    format!(
                        "environment {:?} has no identity service this tool may call",
                        t.environment
                    ),
                    None,
                )))
            }
        };
        let endpoints = self.api.endpoints();
        let any_override = Environment::ALL.iter().any(|e| endpoints.is_overridden(*e));
        if any_override && !endpoints.is_overridden(env) {
            return Ok(Err((
                format!("no --endpoint for {env} while others were given: refusing to call the real {env} host (add --endpoint {env}=URL)"),
                None,
            )));
        }
        if !self.tokens.contains_key(&env) {
            let minted = self.api.mint(env, self.admin);
            let mut s = self.step(t, *ty, "token");
            match &minted {
                Ok(tok) => {
                    s.outcome = "ok".into();
                    s.http_status = Some(200);
                    s.message = Some(format!(
                        "admin token minted with {} (organization {})",
                        api::ADMIN_SCOPE,
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
            self.tokens.insert(env, minted.map(Rc::new));
        }
        let token = match self.tokens.get(&env) {
            Some(Ok(token)) => Rc::clone(token),
            Some(Err(e)) => return Ok(Err((e.to_string(), e.status()))),
            None => return Ok(Err(("no admin token".into(), None))),
        };
        let kind = match *ty {
            Some(k) => k,
            None => match self.lookup(t, env, &token)? {
                Ok(Some(k)) => {
                    *ty = Some(k);
                    k
                }
                Ok(None) => {
                    return Ok(Ok(Outcome::AlreadyRevoked {
                        confirmed_at: audit::now_rfc3339(),
                    }))
                }
                Err(e) => return Ok(Err(e)),
            },
        };
        let mut s = self.step(t, *ty, "delete");
        s.outcome = "sent".into();
        self.log.append(s)?;
        let deleted =
            self.api
                .application(reqwest::Method::DELETE, env, kind, &t.client_id, &token);
        let (answer, status) = match deleted {
            Ok(a) => a,
            Err(e) => return Ok(Err(self.api_failed(t, *ty, "delete", &e)?)),
        };
        *delete_status = Some(status);
        let mut s = self.step(t, *ty, "delete");
        s.http_status = Some(status);
        s.outcome = match answer {
            AppAnswer::Present => "ok".into(),
            AppAnswer::NotFound => "not_found".into(),
        };
        if answer == AppAnswer::NotFound {
            s.message = Some("404: already revoked".into());
        }
        self.log.append(s)?;
        let confirmed = self
            .api
            .application(reqwest::Method::GET, env, kind, &t.client_id, &token);
        let mut s = self.step(t, *ty, "confirm");
        match confirmed {
            Ok((AppAnswer::NotFound, status)) => {
                s.outcome = "gone".into();
                s.http_status = Some(status);
                let entry = self.log.append(s)?;
                Ok(Ok(match answer {
                    AppAnswer::Present => Outcome::Revoked {
                        confirmed_at: entry.time,
                    },
                    AppAnswer::NotFound => Outcome::AlreadyRevoked {
                        confirmed_at: entry.time,
                    },
                }))
            }
            Ok((AppAnswer::Present, status)) => {
                s.outcome = "still_present".into();
                s.http_status = Some(status);
                let reason = format!(
                    "the {kind} application still answers {status} after the DELETE: not revoked"
                );
                s.message = Some(reason.clone());
                self.log.append(s)?;
                Ok(Err((reason, Some(status))))
            }
            Err(e) => {
                let (reason, status) = self.api_failed(t, *ty, "confirm", &e)?;
                Ok(Err((
                    format!(
                        "deleted ({}) but not confirmed: {reason}",
                        delete_status.unwrap_or(0)
                    ),
                    status,
                )))
            }
        }
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
