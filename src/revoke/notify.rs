//! `--notify-webhook URL`: POST a redacted JSON summary of the live findings
//! and what revocation did to a chat or incident webhook. The body carries a
//! `text` line (what Slack-style incoming webhooks display) and structured
//! fields; never a secret, a token or a full client_id. Sent with the same
//! HTTP client rules and retry policy as the identity-service calls.

use std::time::Duration;

use reqwest::Url;
use serde_json::{json, Value};

use super::plan::Plan;
use super::{Outcome, RunResult, TOKEN_LIFETIME};
use crate::report::json::{TOOL_NAME, TOOL_VERSION};
use crate::verify::client::{safe_http_client, transport_answer, RawAnswer};
use crate::verify::endpoint::is_loopback;
use crate::verify::retry::Backoff;

/// Why the webhook URL is refused or the POST failed. The URL is never
/// echoed: a webhook URL usually holds its own secret token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("--notify-webhook is not a valid URL")]
    BadUrl,
    #[error(
        "--notify-webhook must be https (plain http only to a loopback address), without user-info"
    )]
    Insecure,
    #[error("cannot set up the HTTP client for the webhook: {0}")]
    Client(String),
    #[error(
        "the webhook did not accept the summary after {attempts} attempt(s): last answer {last}"
    )]
    Failed { attempts: u32, last: String },
}

/// Check a webhook URL: https anywhere, http only to loopback.
pub fn check_url(raw: &str) -> Result<Url, NotifyError> {
    let url = Url::parse(raw.trim()).map_err(|_| NotifyError::BadUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(NotifyError::Insecure);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(url.host_str().unwrap_or_default()) => Ok(url),
        _ => Err(NotifyError::Insecure),
    }
}

/// The summary body.
pub fn summary(plan: &Plan, run: Option<&RunResult>, source: &str) -> Value {
    let outcome_of =
        |fp: &str| run.and_then(|r| r.results.iter().find(|x| x.target.fingerprint == fp));
    let live: Vec<Value> = plan
        .targets
        .iter()
        .map(|t| {
            let r = outcome_of(&t.fingerprint);
            json!({
                "fingerprint": t.fingerprint,
                "environment": t.environment,
                "application_type": r.and_then(|r| r.app_type).or(t.app_type).map(|k| k.as_str()),
                "client_id": t.shown_client_id(),
                "locations": t.locations,
                "revocation": r.map(|r| r.outcome.as_str()).unwrap_or("not_attempted"),
            })
        })
        .collect();
    let revocations: Vec<Value> = run
        .map(|r| {
            r.results
                .iter()
                .map(|x| {
                    let (reason, confirmed_at) = match &x.outcome {
                        Outcome::Failed { reason, .. } | Outcome::Unconfirmed { reason } => {
                            (Some(reason.clone()), None)
                        }
                        Outcome::Revoked { confirmed_at }
                        | Outcome::AlreadyRevoked { confirmed_at } => {
                            (None, Some(confirmed_at.clone()))
                        }
                        Outcome::DoneEarlier { at, .. } => (None, Some(at.clone())),
                    };
                    json!({
                        "fingerprint": x.target.fingerprint,
                        "environment": x.target.environment,
                        "application_type": x.app_type.map(|k| k.as_str()),
                        "outcome": x.outcome.as_str(),
                        "http_status": x.delete_status,
                        "confirmed_at": confirmed_at,
                        "reason": reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let text = match run {
        Some(r) if r.stopped.is_some() => format!(
            "cybrid-scan: {} live Cybrid credential(s) in {source}; revocation stopped before any DELETE: the admin credential lacks a scope it needs (see the audit log).",
            plan.targets.len() + plan.live_without_target.len(),
        ),
        Some(r) => format!(
            "cybrid-scan: {} live Cybrid credential(s) in {source}: {}. Tokens minted before revocation stay valid until they expire (up to {} h).",
            plan.targets.len() + plan.live_without_target.len(),
            r.tally(),
            TOKEN_LIFETIME.as_secs() / 3600
        ),
        None => format!(
            "cybrid-scan: {} live Cybrid credential(s) in {source}; not revoked (run cybrid-scan revoke).",
            plan.targets.len() + plan.live_without_target.len()
        ),
    };
    json!({
        "text": text,
        "tool": {"name": TOOL_NAME, "version": TOOL_VERSION},
        "source": source,
        "live_findings": live,
        "live_without_revocation_data": plan.live_without_target,
        "revocations": revocations,
    })
}

/// POST `body` to `url`, retrying 429, 5xx, timeouts and resets. Returns
/// the status that accepted it.
pub fn post(
    url: &Url,
    body: &Value,
    proxy: Option<&str>,
    timeout: Duration,
    backoff: Backoff,
) -> Result<u16, NotifyError> {
    let http = safe_http_client(proxy, timeout).map_err(|e| NotifyError::Client(e.to_string()))?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (last, retry_after) = match http.post(url.clone()).json(body).send() {
            Ok(response) => {
                let raw = RawAnswer::read(response);
                match raw.status {
                    200..=299 => return Ok(raw.status),
                    408 | 429 | 500..=599 => (format!("HTTP {}", raw.status), raw.retry_after),
                    status => {
                        return Err(NotifyError::Failed {
                            attempts: attempt,
                            last: format!("HTTP {status}"),
                        })
                    }
                }
            }
            Err(e) => (transport_answer(&e).reason().to_string(), None),
        };
        if attempt > backoff.retries {
            return Err(NotifyError::Failed {
                attempts: attempt,
                last,
            });
        }
        std::thread::sleep(backoff.delay(attempt - 1, retry_after));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        assert!(check_url("https://hooks.example.com/services/T/B/x").is_ok());
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/x"),
            Err(NotifyError::Insecure)
        );
        assert_eq!(
            check_url("https://u:p@hooks.example.com/x"),
            Err(NotifyError::Insecure)
        );
        assert_eq!(check_url("not a url"), Err(NotifyError::BadUrl));
    }
}
