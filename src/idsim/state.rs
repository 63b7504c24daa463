//! The simulator's world: live applications per environment, tokens it has
//! minted, faults waiting to be served, and counters tests can assert on.

use std::collections::{BTreeMap, HashMap};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Environments the simulator serves.
pub const ENVIRONMENTS: [&str; 3] = ["sandbox", "production", "staging"];

/// Whether an application belongs to a bank or to the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    #[default]
    Bank,
    Organization,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Bank => "bank",
            AppKind::Organization => "organization",
        }
    }

    /// Scopes an application of this kind gets when none are given.
    pub fn default_scopes(self) -> Vec<String> {
        let common = [
            "banks:read",
            "accounts:read",
            "customers:read",
            "customers:write",
            "quotes:execute",
            "trades:execute",
            "transfers:execute",
        ];
        let extra: &[&str] = match self {
            AppKind::Bank => &["banks:write", "bank_applications:read"],
            AppKind::Organization => &[
                "banks:write",
                "organizations:read",
                "bank_applications:read",
                "bank_applications:execute",
                "organization_applications:read",
                "organization_applications:execute",
            ],
        };
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    }
}

/// A client-credentials application (what a leaked pair belongs to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(rename = "type", default)]
    pub kind: AppKind,
    /// The bank's GUID (bank applications) or the organization's.
    #[serde(default)]
    pub guid: String,
    #[serde(default)]
    pub organization_guid: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When non-empty, token requests from other addresses get 403 ip_not_allowed.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub name: String,
}

fn default_environment() -> String {
    "sandbox".into()
}

/// A fresh 32-hex GUID, as Cybrid writes them.
pub fn new_guid() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 16]>())
}

impl Application {
    /// Fill what was left out: GUIDs, scopes, name.
    pub fn completed(mut self) -> Self {
        if self.organization_guid.is_empty() {
            self.organization_guid = new_guid();
        }
        if self.guid.is_empty() {
            self.guid = match self.kind {
                AppKind::Organization => self.organization_guid.clone(),
                AppKind::Bank => new_guid(),
            };
        }
        if self.scopes.is_empty() {
            self.scopes = self.kind.default_scopes();
        }
        if self.name.is_empty() {
            self.name = format!("{} application", self.kind.as_str());
        }
        self
    }
}

/// Faults the simulator can serve instead of (or before) a normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After`.
    RateLimit,
    /// 500.
    ServerError,
    /// Answer normally after `delay_ms`.
    Slow,
    /// Never answer (until the simulator stops).
    Hang,
    /// Reset the TCP connection (RST) instead of answering.
    Reset,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 403 `ip_not_allowed`.
    IpNotAllowed,
    /// 400 `invalid_scope`.
    InvalidScope,
    /// 307 to `location` (a client must not follow it with the pair).
    Redirect,
    /// 403 `invalid_scopes` from the application endpoints: the caller's
    /// token lacks the scope (a responder credential short of a permission).
    InvalidScopes,
    /// 401 `authentication_malformed` from the application endpoints.
    Unauthenticated,
    /// The token endpoint answers 200 but grants fewer scopes than asked
    /// for: those in the fault's `scopes` are dropped from the grant (an
    /// identity service that narrows what an application may do).
    DropScopes,
}

/// Which endpoints a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    Token,
    Applications,
}

/// A fault to serve: for one client_id or all, one environment or all,
/// the next `times` matching requests or forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<FaultTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Seconds, for `rate_limit` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Milliseconds, for `slow` (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Where a `redirect` points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The scopes a `drop_scopes` fault leaves out of the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl Fault {
    /// A fault of `kind` for every request, forever; narrow it with the fields.
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            client_id: None,
            environment: None,
            endpoint: None,
            times: None,
            retry_after: None,
            delay_ms: None,
            location: None,
            scopes: None,
        }
    }

    fn matches(&self, env: &str, target: FaultTarget, client_id: Option<&str>) -> bool {
        self.environment.as_deref().is_none_or(|e| e == env)
            && self.endpoint.is_none_or(|t| t == target)
            && self
                .client_id
                .as_deref()
                .is_none_or(|c| Some(c) == client_id)
    }
}

/// A token the simulator minted, with what it allows.
#[derive(Debug, Clone)]
pub struct Grant {
    pub environment: String,
    pub organization_guid: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

/// Counters, as served by `GET /__sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub token_requests: u64,
    pub tokens_issued: u64,
    #[serde(default)]
    pub token_requests_by_environment: BTreeMap<String, u64>,
    #[serde(default)]
    pub token_requests_by_client: BTreeMap<String, u64>,
    /// How the pair was sent: `json`, `form` or `basic`.
    #[serde(default)]
    pub token_request_formats: BTreeMap<String, u64>,
    /// The `scope` parameter of each token request.
    #[serde(default)]
    pub token_request_scopes: BTreeMap<String, u64>,
    pub application_requests: u64,
    pub applications_deleted: u64,
    /// Applications created with `POST /api/{bank,organization}_applications`.
    #[serde(default)]
    pub applications_created: u64,
    /// `DELETE` requests on the application endpoints by client_id, whatever
    /// the answer (a revocation retried or repeated shows up here).
    #[serde(default)]
    pub delete_requests_by_client: BTreeMap<String, u64>,
    pub faults_served: u64,
    /// Every request by `METHOD /path` (the path as received).
    #[serde(default)]
    pub requests: BTreeMap<String, u64>,
}

/// Everything behind the simulator's lock.
#[derive(Debug, Default)]
pub struct World {
    pub applications: Vec<Application>,
    pub faults: Vec<Fault>,
    pub grants: HashMap<String, Grant>,
    pub stats: Stats,
    /// The address token requests are taken to come from, instead of the
    /// connection's peer: a test stands the scanner inside or outside an IP
    /// allowlist (entries must be public addresses, never loopback).
    pub client_address: Option<std::net::IpAddr>,
}

impl World {
    pub fn add_application(&mut self, app: Application) -> Application {
        let app = app.completed();
        self.applications
            .retain(|a| !(a.client_id == app.client_id && a.environment == app.environment));
        self.applications.push(app.clone());
        app
    }

    pub fn application(&self, env: &str, client_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.environment == env && a.client_id == client_id)
    }

    /// The fault to serve for this request, if any (consuming one use).
    pub fn take_fault(
        &mut self,
        env: &str,
        target: FaultTarget,
        client_id: Option<&str>,
    ) -> Option<Fault> {
        // Faults for a particular client win over global ones.
        let pos = self
            .faults
            .iter()
            .position(|f| f.client_id.is_some() && f.matches(env, target, client_id))
            .or_else(|| {
                self.faults
                    .iter()
                    .position(|f| f.client_id.is_none() && f.matches(env, target, client_id))
            })?;
        let fault = self.faults[pos].clone();
        if let Some(times) = &mut self.faults[pos].times {
            *times = times.saturating_sub(1);
            if *times == 0 {
                self.faults.remove(pos);
            }
        }
        self.stats.faults_served += 1;
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind, client_id: Option<&str>, times: Option<u64>) -> Fault {
        Fault {
            client_id: client_id.map(str::to_string),
            times,
            ..Fault::new(kind)
        }
    }

    #[test]
    fn faults_are_counted_down_and_client_specific_first() {
        let mut w = World::default();
        w.faults.push(fault(FaultKind::ServerError, None, None));
        w.faults
            .push(fault(FaultKind::RateLimit, Some("abc"), Some(2)));
        let take = |w: &mut World, c| {
            w.take_fault("sandbox", FaultTarget::Token, c)
                .map(|f| f.kind)
        };
        assert_eq!(take(&mut w, Some("abc")), Some(FaultKind::RateLimit));
        assert_eq!(take(&mut w, Some("abc")), Some(FaultKind::RateLimit));
        assert_eq!(take(&mut w, Some("abc")), Some(FaultKind::ServerError));
        assert_eq!(take(&mut w, None), Some(FaultKind::ServerError));
        assert_eq!(w.stats.faults_served, 4);
    }

    #[test]
    fn applications_are_completed() {
        let app: Application =
            serde_json::from_str(r#"{"client_id":"a","client_secret":"b","type":"organization"}"#)
                .expect("parse");
        let app = app.completed();
        assert_eq!(app.environment, "sandbox");
        assert_eq!(app.guid, app.organization_guid);
        assert_eq!(app.guid.len(), 32);
        assert!(app.scopes.iter().any(|s| s == "banks:read"));
    }
}
