//! One token request and what its answer means.
//!
//! The client is built for handing a secret over safely: rustls with the
//! system's web PKI roots and certificate checks on, no redirects followed
//! (a 3xx would carry the body elsewhere), no proxy from the environment
//! (only `--proxy`), bounded body reads. The access token in a 200 answer is
//! decoded for its claims and dropped before this module returns.

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::endpoint::{Endpoints, Environment};
use super::retry::parse_retry_after;
use crate::detect::jwt::payload_json;
use crate::secret::Secret;

/// The least-privilege scope valid for bank and organization credentials.
pub const PROBE_SCOPE: &str = "banks:read";

/// Answers bigger than this are not a token response; stop reading there.
const MAX_BODY: u64 = 64 * 1024;

/// Why building the HTTP client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--proxy {0:?} is not a usable proxy URL")]
    Proxy(String),
    #[error("cannot set up the HTTPS client: {0}")]
    Build(String),
}

/// What the identity service's answer says about the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with a token: the pair works in this environment.
    Live(Claims),
    /// The client authenticated, then the scope (or grant) was refused.
    Authenticated(&'static str),
    /// 401 invalid_client.
    Invalid,
    /// 403 with the IP allowlist's message code.
    IpRestricted,
    /// Any other 403.
    Forbidden,
    RateLimited(Option<Duration>),
    /// A 5xx (its status), with the `Retry-After` it gave.
    ServerError(u16, Option<Duration>),
    Timeout,
    /// No answer: the connection failed, and how.
    Network(NetCause),
    /// A 3xx: not followed, by design.
    Redirect,
    /// Anything else (garbage JSON, odd status): not evidence either way.
    Unexpected,
}

impl Answer {
    /// Worth another try after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Answer::RateLimited(_) | Answer::ServerError(..) | Answer::Timeout | Answer::Network(_)
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Answer::RateLimited(d) | Answer::ServerError(_, d) => *d,
            _ => None,
        }
    }

    /// The `unknown` reason this answer stands for.
    pub fn reason(&self) -> &'static str {
        match self {
            Answer::RateLimited(_) => "rate_limited",
            Answer::ServerError(..) => "server_error",
            Answer::Timeout => "timeout",
            Answer::Network(cause) => cause.reason(),
            Answer::IpRestricted => "ip_restricted",
            Answer::Forbidden => "forbidden",
            Answer::Redirect => "redirect_refused",
            Answer::Unexpected => "unexpected_response",
            Answer::Authenticated(r) => r,
            Answer::Live(_) | Answer::Invalid => "",
        }
    }

    /// What went wrong with the endpoint itself, for the one line that names
    /// it (`connection refused`, `HTTP 503`); `None` when the answer is about
    /// the credential, not the endpoint.
    pub fn endpoint_fault(&self) -> Option<String> {
        match self {
            Answer::Network(cause) => Some(cause.describe().to_string()),
            Answer::Timeout => Some("timed out".to_string()),
            Answer::ServerError(status, _) => Some(format!("HTTP {status}")),
            Answer::RateLimited(_) => Some("HTTP 429 (rate limited)".to_string()),
            _ => None,
        }
    }
}

/// Why a request got no answer. Told apart from the error chain's types
/// and texts; never holds anything of the request (no URL, no body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetCause {
    Refused,
    Dns,
    Tls,
    Reset,
    Other,
}

impl NetCause {
    /// The verification `reason` of a finding left unknown by it.
    pub fn reason(self) -> &'static str {
        match self {
            NetCause::Refused => "network: connection refused",
            NetCause::Dns => "network: DNS lookup failed",
            NetCause::Tls => "network: TLS handshake failed",
            NetCause::Reset => "network: connection reset",
            NetCause::Other => "network",
        }
    }

    pub fn describe(self) -> &'static str {
        self.reason().trim_start_matches("network: ")
    }

    /// The cause named somewhere in `err`'s chain of sources.
    pub fn of(err: &(dyn std::error::Error + 'static)) -> Self {
        use std::io::ErrorKind;
        let mut next = Some(err);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    ErrorKind::ConnectionRefused => return NetCause::Refused,
                    ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof => return NetCause::Reset,
                    _ => {}
                }
            }
            let text = e.to_string().to_ascii_lowercase();
            if text.contains("dns error") || text.contains("failed to lookup address") {
                return NetCause::Dns;
            }
            if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
                return NetCause::Tls;
            }
            if text.contains("connection refused") {
                return NetCause::Refused;
            }
            if text.contains("connection closed")
                || text.contains("connection reset")
                || text.contains("incomplete message")
            {
                return NetCause::Reset;
            }
            next = e.source();
        }
        NetCause::Other
    }
}

/// What a minted token's payload says: the blast radius of the leak.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub sub: Option<String>,
    pub sub_type: Option<String>,
    pub organization_guid: Option<String>,
    pub scopes: Vec<String>,
    /// The environment named by the token's issuer, when it is a Cybrid one.
    pub issuer_environment: Option<String>,
}

/// An HTTP client fit to carry a credential (also used by revocation):
/// rustls with certificate verification, no redirects, no proxy unless
/// `proxy` is given (environment variables are ignored), `timeout` per
/// request and per connection attempt.
pub fn safe_http_client(
    proxy: Option<&str>,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, ClientError> {
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("cybrid-scan/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if let Some(p) = proxy {
        let proxy = reqwest::Proxy::all(p).map_err(|_| ClientError::Proxy(p.to_string()))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| ClientError::Build(e.to_string()))
}

/// An answer read in full (up to a bound): status, `Retry-After`, body.
pub struct RawAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
    /// Set when the body broke off (timeout or reset) before its end; the
    /// body is then empty.
    pub broken: Option<Answer>,
}

impl RawAnswer {
    /// Read `response`'s status, `Retry-After` and at most 64 KiB of body.
    pub fn read(response: reqwest::blocking::Response) -> Self {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let mut body = Vec::new();
        let mut broken = None;
        if let Err(e) = response.take(MAX_BODY).read_to_end(&mut body) {
            broken = Some(if is_timeout_io(&e) {
                Answer::Timeout
            } else {
                Answer::Network(NetCause::of(&e))
            });
            body.fill(0);
            body.clear();
        }
        RawAnswer {
            status,
            retry_after,
            body,
            broken,
        }
    }
}

/// The HTTPS client that sends pairs to token endpoints.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::blocking::Client,
    endpoints: Endpoints,
}

impl TokenClient {
    pub fn new(
        endpoints: Endpoints,
        proxy: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Ok(TokenClient {
            http: safe_http_client(proxy, timeout)?,
            endpoints,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// One `POST /oauth/token` with the pair and the probe scope.
    pub fn probe(
        &self,
        env: Environment,
        client_id: &Secret,
        secret: &Secret,
        timeout: Duration,
    ) -> Answer {
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": client_id.expose(),
            "client_secret": secret.expose(),
            "scope": PROBE_SCOPE,
        });
        let sent = self
            .http
            .post(self.endpoints.token_url(env))
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send();
        drop(body);
        let response = match sent {
            Ok(r) => r,
            Err(e) => return transport_answer(&e),
        };
        let RawAnswer {
            status,
            retry_after,
            mut body,
            broken,
        } = RawAnswer::read(response);
        // A status that already decides (401, 403, 429, 5xx) stands even
        // if the body broke off; a 200 without its body does not.
        if let (200, Some(broken)) = (status, broken) {
            return broken;
        }
        let answer = classify(status, retry_after, &body);
        // The token, if any, lives only in `body`: gone when this returns.
        body.fill(0);
        answer
    }
}

fn is_timeout_io(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<reqwest::Error>())
            .is_some_and(|r| r.is_timeout())
}

/// What a request that got no answer at all means.
pub fn transport_answer(e: &reqwest::Error) -> Answer {
    if e.is_timeout() {
        Answer::Timeout
    } else {
        Answer::Network(NetCause::of(e))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message_code: Option<String>,
}

/// What an answer of `status` with `body` means (pure, for tests).
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let error = || serde_json::from_slice::<ErrorBody>(body).ok();
    match status {
        200 => {
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return Answer::Unexpected;
            };
            match value.get("access_token").and_then(Value::as_str) {
                Some(token) if !token.is_empty() => Answer::Live(claims(token, &value)),
                _ => Answer::Unexpected,
            }
        }
        300..=399 => Answer::Redirect,
        400 => match error().and_then(|e| e.error).as_deref() {
            Some("invalid_scope") => Answer::Authenticated("scope_refused"),
            Some("unauthorized_client") => Answer::Authenticated("grant_refused"),
            _ => Answer::Unexpected,
        },
        401 => match error().and_then(|e| e.error).as_deref() {
            Some("invalid_client") => Answer::Invalid,
            _ => Answer::Unexpected,
        },
        403 => match error() {
            Some(e)
                if e.message_code.as_deref() == Some("ip_not_allowed")
                    || e.error.as_deref() == Some("ip_not_allowed") =>
            {
                Answer::IpRestricted
            }
            _ => Answer::Forbidden,
        },
        408 => Answer::Timeout,
        429 => Answer::RateLimited(retry_after),
        500..=599 => Answer::ServerError(status, retry_after),
        _ => Answer::Unexpected,
    }
}

fn claims(token: &str, response: &Value) -> Claims {
    let payload = payload_json(token).unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let scopes = match payload.get("scope").or_else(|| response.get("scope")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    Claims {
        sub: text(payload.get("sub")),
        sub_type: text(payload.get("sub_type")),
        organization_guid: text(payload.pointer("/properties/organization_guid")),
        scopes,
        issuer_environment: payload
            .get("iss")
            .and_then(Value::as_str)
            .and_then(crate::detect::jwt::cybrid_environment)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn token_answer_yields_claims() {
        let payload = r#"{"iss":"https://id.sandbox.cybrid.app","sub":"b1","sub_type":"bank","scope":["banks:read"],"properties":{"organization_guid":"o1","type":"sandbox"}}"#;
        let token = format!("eyJ4Ijp9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload));
        let body = serde_json::json!({"access_token": token, "token_type": "Bearer"}).to_string();
        let Answer::Live(c) = classify(200, None, body.as_bytes()) else {
            panic!("not live");
        };
        assert_eq!(c.sub_type.as_deref(), Some("bank"));
        assert_eq!(c.sub.as_deref(), Some("b1"));
        assert_eq!(c.organization_guid.as_deref(), Some("o1"));
        assert_eq!(c.scopes, vec!["banks:read".to_string()]);
        assert_eq!(c.issuer_environment.as_deref(), Some("sandbox"));
    }

    #[test]
    fn error_answers() {
        let b = |s: &str| s.as_bytes().to_vec();
        assert_eq!(
            classify(401, None, &b(r#"{"error":"invalid_client"}"#)),
            Answer::Invalid
        );
        assert_eq!(classify(401, None, &b("<html>")), Answer::Unexpected);
        assert_eq!(
            classify(400, None, &b(r#"{"error":"invalid_scope"}"#)),
            Answer::Authenticated("scope_refused")
        );
        assert_eq!(
            classify(
                403,
                None,
                &b(r#"{"error":"forbidden","message_code":"ip_not_allowed"}"#)
            ),
            Answer::IpRestricted
        );
        assert_eq!(classify(403, None, &b("{}")), Answer::Forbidden);
        assert_eq!(
            classify(429, Some(Duration::from_secs(1)), b"").retry_after(),
            Some(Duration::from_secs(1))
        );
        assert!(classify(503, None, b"").is_transient());
        assert_eq!(classify(200, None, b"{not json"), Answer::Unexpected);
        assert_eq!(classify(302, None, b""), Answer::Redirect);
        assert_eq!(
            classify(502, None, b"").endpoint_fault().as_deref(),
            Some("HTTP 502")
        );
        assert_eq!(
            classify(401, None, br#"{"error":"invalid_client"}"#).endpoint_fault(),
            None
        );
    }

    #[test]
    fn network_causes_from_error_chains() {
        use std::io::{Error, ErrorKind};
        let refused = Error::new(ErrorKind::ConnectionRefused, "x");
        assert_eq!(NetCause::of(&refused), NetCause::Refused);
        let dns = Error::other("dns error: failed to lookup address information");
        assert_eq!(NetCause::of(&dns), NetCause::Dns);
        let tls = Error::new(
            ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert_eq!(NetCause::of(&tls), NetCause::Tls);
        assert_eq!(NetCause::of(&Error::other("?")), NetCause::Other);
        assert_eq!(NetCause::Refused.describe(), "connection refused");
        assert_eq!(
            Answer::Network(NetCause::Dns).reason(),
            "network: DNS lookup failed"
        );
    }
}
