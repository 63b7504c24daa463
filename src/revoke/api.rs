//! The responder's calls to the identity service: mint a token with the
//! admin credential, then GET and DELETE application endpoints with it.
//! Same HTTP client and retry policy as verification (429, 5xx, timeouts
//! and resets retried with backoff, honouring `Retry-After`). The token is
//! kept in a redacting [`Secret`] and never leaves this module.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::plan::AppType;
use crate::detect::jwt::payload_json;
use crate::secret::Secret;
use crate::verify::client::{safe_http_client, transport_answer, Answer, ClientError, RawAnswer};
use crate::verify::endpoint::{Endpoints, Environment};
use crate::verify::retry::Backoff;

/// The responder's own organization credential, from the environment only.
pub struct AdminCredential {
    client_id: Secret,
    secret: Secret,
}

pub const ADMIN_ID_VAR: &str = "CYBRID_ADMIN_CLIENT_ID";
pub const ADMIN_SECRET_VAR: &str = "CYBRID_ADMIN_CLIENT_SECRET";

/// Why the admin credential is not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("revocation needs the responder's organization credential in the environment: {} not set (flags are never read for it, to keep it out of shell history)", missing.join(" and "))]
pub struct MissingAdmin {
    pub missing: Vec<&'static str>,
}

impl AdminCredential {
    pub fn from_env() -> Result<Self, MissingAdmin> {
        let get = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (id, secret) = (get(ADMIN_ID_VAR), get(ADMIN_SECRET_VAR));
        match (id, secret) {
            (Some(id), Some(secret)) => Ok(AdminCredential {
                client_id: Secret::new(id.trim()),
                secret: Secret::new(secret.trim()),
            }),
            (id, secret) => Err(MissingAdmin {
                missing: [
                    (id.is_none(), ADMIN_ID_VAR),
                    (secret.is_none(), ADMIN_SECRET_VAR),
                ]
                .into_iter()
                .filter_map(|(m, n)| m.then_some(n))
                .collect(),
            }),
        }
    }
}

/// A failed call, phrased for the responder. Never holds a secret or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the admin credential was rejected in {env} (401 invalid_client): check {ADMIN_ID_VAR}/{ADMIN_SECRET_VAR} and that it belongs to the {env} environment")]
    AdminRejected { env: String },
    #[error("the admin credential lacks the scope to revoke in {env} ({status} {code}): it needs {needs}")]
    AdminLacksScope {
        env: String,
        status: u16,
        code: String,
        /// The scope(s) the refused request needed, space-separated.
        needs: String,
    },
    #[error(
        "the admin token was refused in {env} (401 {code}): it is missing, malformed or expired"
    )]
    TokenRefused { env: String, code: String },
    #[error("the identity service in {env} refused the admin credential from this address (403 ip_not_allowed)")]
    IpRestricted { env: String },
    #[error("{what} in {env}: gave up after {attempts} attempt(s), the last answer being {last}")]
    Exhausted {
        what: String,
        env: String,
        attempts: u32,
        last: String,
        status: Option<u16>,
    },
    #[error("{what} in {env}: unexpected answer {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Unexpected {
        what: String,
        env: String,
        status: u16,
        code: Option<String>,
    },
}

impl ApiError {
    /// The HTTP status of the answer that decided it, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::AdminRejected { .. } | ApiError::TokenRefused { .. } => Some(401),
            ApiError::AdminLacksScope { status, .. } | ApiError::Unexpected { status, .. } => {
                Some(*status)
            }
            ApiError::IpRestricted { .. } => Some(403),
            ApiError::Exhausted { status, .. } => *status,
        }
    }
}

/// A minted admin token (redacted in Debug/Display), whose it is and what
/// it may do.
pub struct AdminToken {
    token: Secret,
    pub organization_guid: Option<String>,
    /// The scopes granted (the answer's `scope`, else those requested).
    pub scopes: Vec<String>,
}

impl AdminToken {
    pub fn holds(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message_code: Option<String>,
}

fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|e| e.message_code.or(e.error))
}

/// The answer to a GET or DELETE of an application, after retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAnswer {
    /// 200 (GET) or 204/200 (DELETE).
    Present,
    /// 404: not there (deleted, or never in this organization).
    NotFound,
}

/// Calls to one identity service set-up, with retries.
pub struct AdminApi {
    http: reqwest::blocking::Client,
    endpoints: Endpoints,
    backoff: Backoff,
}

impl AdminApi {
    pub fn new(
        endpoints: Endpoints,
        proxy: Option<&str>,
        timeout: Duration,
        backoff: Backoff,
    ) -> Result<Self, ClientError> {
        Ok(AdminApi {
            http: safe_http_client(proxy, timeout)?,
            endpoints,
            backoff,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Send what `build` makes until the answer is not transient or the
    /// retry budget is spent.
    fn send(
        &self,
        what: &str,
        env: Environment,
        build: impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<RawAnswer, ApiError> {
        self.send_with(what, env, true, build)
    }

    /// [`AdminApi::send`], retrying 5xx answers only when `retry_5xx` (not
    /// for a POST, which the server may have carried out before failing).
    fn send_with(
        &self,
        what: &str,
        env: Environment,
        retry_5xx: bool,
        build: impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<RawAnswer, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (answer, raw) = match build().send() {
                Err(e) => (transport_answer(&e), None),
                Ok(response) => {
                    let raw = RawAnswer::read(response);
                    let answer = match (raw.status, &raw.broken) {
                        (429, _) => Answer::RateLimited(raw.retry_after),
                        (500..=599, _) if retry_5xx => {
                            Answer::ServerError(raw.status, raw.retry_after)
                        }
                        (408, _) => Answer::Timeout,
                        (200..=299, Some(broken)) => broken.clone(),
                        _ => return Ok(raw),
                    };
                    (answer, Some(raw))
                }
            };
            let last = match (&answer, &raw) {
                (_, Some(r)) => format!("HTTP {}", r.status),
                (Answer::Timeout, None) => "a timeout".to_string(),
                _ => "a network error (refused or reset)".to_string(),
            };
            if attempt > self.backoff.retries {
                return Err(ApiError::Exhausted {
                    what: what.to_string(),
                    env: env.to_string(),
                    attempts: attempt,
                    last,
                    status: raw.map(|r| r.status),
                });
            }
            std::thread::sleep(self.backoff.delay(attempt - 1, answer.retry_after()));
        }
    }

    /// `POST /oauth/token` with the admin credential, asking for `scope`
    /// (space-separated: exactly what the planned steps use).
    pub fn mint(
        &self,
        env: Environment,
        admin: &AdminCredential,
        scope: &str,
    ) -> Result<AdminToken, ApiError> {
        let url = self.endpoints.token_url(env);
        let raw = self.send("minting the admin token", env, || {
            self.http
                .post(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .json(&serde_json::json!({
                    "grant_type": "client_credentials",
                    "client_id": admin.client_id.expose(),
                    "client_secret": admin.secret.expose(),
                    "scope": scope,
                }))
        })?;
        let mut body = raw.body;
        let code = error_code(&body);
        let env_s = env.to_string();
        let result = match raw.status {
            200 => match serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                let token = v.get("access_token")?.as_str()?.to_string();
                let granted = v.get("scope").and_then(Value::as_str).unwrap_or(scope);
                let scopes = granted.split_whitespace().map(str::to_string).collect();
                (!token.is_empty()).then_some((token, scopes))
            }) {
                Some((token, scopes)) => Ok(AdminToken {
                    scopes,
                    organization_guid: payload_json(&token).and_then(|p| {
                        p.pointer("/properties/organization_guid")?
                            .as_str()
                            .map(str::to_string)
                    }),
                    token: Secret::new(token),
                }),
                None => Err(ApiError::Unexpected {
                    what: "minting the admin token".into(),
                    env: env_s,
                    status: 200,
                    code: Some("no access_token in the answer".into()),
                }),
            },
            401 if code.as_deref() == Some("invalid_client") => {
                Err(ApiError::AdminRejected { env: env_s })
            }
            400 if code.as_deref() == Some("invalid_scope") => Err(ApiError::AdminLacksScope {
                env: env_s,
                status: 400,
                code: "invalid_scope".into(),
                needs: scope.to_string(),
            }),
            403 if code.as_deref() == Some("ip_not_allowed") => {
                Err(ApiError::IpRestricted { env: env_s })
            }
            status => Err(ApiError::Unexpected {
                what: "minting the admin token".into(),
                env: env_s,
                status,
                code,
            }),
        };
        body.fill(0);
        result
    }

    /// `GET` or `DELETE` of an application, with the admin token.
    pub fn application(
        &self,
        method: reqwest::Method,
        env: Environment,
        kind: AppType,
        client_id: &Secret,
        token: &AdminToken,
    ) -> Result<(AppAnswer, u16), ApiError> {
        let url = self
            .endpoints
            .application_url(env, kind.as_str(), client_id.expose());
        let what = format!("{method} of the {kind} application");
        let raw = self.send(&what, env, || {
            self.http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .bearer_auth(token.token.expose())
        })?;
        let code = error_code(&raw.body);
        let env_s = env.to_string();
        match raw.status {
            200 | 204 => Ok((AppAnswer::Present, raw.status)),
            404 => Ok((AppAnswer::NotFound, 404)),
            401 => Err(ApiError::TokenRefused {
                env: env_s,
                code: code.unwrap_or_else(|| "unauthorized".into()),
            }),
            403 if code.as_deref() == Some("ip_not_allowed") => {
                Err(ApiError::IpRestricted { env: env_s })
            }
            403 => Err(ApiError::AdminLacksScope {
                env: env_s,
                status: 403,
                code: code.unwrap_or_else(|| "forbidden".into()),
                needs: super::scopes::scope(
                    kind,
                    if method == reqwest::Method::GET {
                        "read"
                    } else {
                        "execute"
                    },
                ),
            }),
            status => Err(ApiError::Unexpected {
                what,
                env: env_s,
                status,
                code,
            }),
        }
    }
}

/// An application as `GET` returns it (CYBRID.md's `Application`): what a
/// replacement must copy. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AppInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub bank_guid: Option<String>,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The answer to a `POST` that created an application: its client_id and
/// the secret shown this once (both redacting).
pub struct Created {
    pub client_id: Secret,
    pub secret: Secret,
    pub info: AppInfo,
}

impl AdminApi {
    /// `GET` of an application, with its fields (`None`: 404).
    pub fn read_application(
        &self,
        env: Environment,
        kind: AppType,
        client_id: &Secret,
        token: &AdminToken,
    ) -> Result<Option<AppInfo>, ApiError> {
        let url = self
            .endpoints
            .application_url(env, kind.as_str(), client_id.expose());
        let what = format!("reading the {kind} application");
        let raw = self.send(&what, env, || {
            self.http
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .bearer_auth(token.token.expose())
        })?;
        match raw.status {
            200 => serde_json::from_slice::<AppInfo>(&raw.body)
                .map(Some)
                .map_err(|_| ApiError::Unexpected {
                    what,
                    env: env.to_string(),
                    status: 200,
                    code: Some("not an application".into()),
                }),
            404 => Ok(None),
            status => Err(refusal(&what, env, kind, "read", status, &raw.body)),
        }
    }

    /// `POST` of a new application with `body`; the answer carries its
    /// secret, which is returned in a [`Secret`] and the body wiped.
    pub fn create_application(
        &self,
        env: Environment,
        kind: AppType,
        body: &Value,
        token: &AdminToken,
    ) -> Result<Created, ApiError> {
        let url = self.endpoints.applications_url(env, kind.as_str());
        let what = format!("creating the {kind} application");
        // Not retried after a 5xx, which may come after the application was
        // made: a second POST would make a second one.
        let raw = self.send_with(&what, env, false, || {
            self.http
                .post(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .bearer_auth(token.token.expose())
                .json(body)
        })?;
        let mut bytes = raw.body;
        let result = match raw.status {
            200 | 201 => {
                let parsed = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                    let id = v.get("client_id")?.as_str()?.to_string();
                    let secret = v.get("secret")?.as_str()?.to_string();
                    let info = serde_json::from_value::<AppInfo>(v).ok()?;
                    Some(Created {
                        client_id: Secret::new(id),
                        secret: Secret::new(secret),
                        info,
                    })
                });
                parsed.ok_or_else(|| ApiError::Unexpected {
                    what,
                    env: env.to_string(),
                    status: raw.status,
                    code: Some("no client_id and secret in the answer".into()),
                })
            }
            status => Err(refusal(&what, env, kind, "execute", status, &bytes)),
        };
        bytes.fill(0);
        result
    }
}

/// An application endpoint's refusal, phrased (never the body itself).
fn refusal(
    what: &str,
    env: Environment,
    kind: AppType,
    action: &str,
    status: u16,
    body: &[u8],
) -> ApiError {
    let code = error_code(body);
    let env_s = env.to_string();
    match status {
        401 => ApiError::TokenRefused {
            env: env_s,
            code: code.unwrap_or_else(|| "unauthorized".into()),
        },
        403 if code.as_deref() == Some("ip_not_allowed") => ApiError::IpRestricted { env: env_s },
        403 => ApiError::AdminLacksScope {
            env: env_s,
            status: 403,
            code: code.unwrap_or_else(|| "forbidden".into()),
            needs: super::scopes::scope(kind, action),
        },
        status => ApiError::Unexpected {
            what: what.to_string(),
            env: env_s,
            status,
            code,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_hold_no_secret_and_name_the_fix() {
        let e = ApiError::AdminLacksScope {
            env: "sandbox".into(),
            status: 403,
            code: "invalid_scopes".into(),
            needs: "bank_applications:execute".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("it needs bank_applications:execute"),
            "{text}"
        );
        assert_eq!(e.status(), Some(403));
        let m = MissingAdmin {
            missing: vec![ADMIN_SECRET_VAR],
        };
        assert!(m.to_string().contains("CYBRID_ADMIN_CLIENT_SECRET not set"));
    }
}
