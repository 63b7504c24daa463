//! Decoding (never verifying) a JWT's payload to tell whether a Cybrid
//! identity service minted it, and when it expires.
//!
//! Decoding is split + base64url + JSON; a JWT crate would add a crypto
//! backend we never use, since the scanner must not trust or check signatures.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use crate::finding::TokenInfo;

#[derive(Debug, Deserialize)]
struct Payload {
    iss: Option<String>,
    exp: Option<i64>,
    sub: Option<String>,
    sub_type: Option<String>,
}

/// The payload JSON of a compact JWT, if it decodes.
pub fn payload_json(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// The Cybrid environment of an identity-service issuer URL.
pub fn cybrid_environment(issuer: &str) -> Option<&'static str> {
    let host = issuer
        .strip_prefix("https://")?
        .trim_end_matches('/')
        .to_ascii_lowercase();
    match host.as_str() {
        "id.sandbox.cybrid.app" => Some("sandbox"),
        "id.production.cybrid.app" => Some("production"),
        "id.staging.cybrid.app" => Some("staging"),
        "id.demo.cybrid.app" => Some("demo"),
        _ => None,
    }
}

/// Is `issuer` a Cybrid host: `http(s)://` + any host under `cybrid.app` or
/// `cybrid.com` (public environments, and development and local identity
/// services such as `http://api-idp.local.cybrid.com:3000`), any port or path.
pub fn is_cybrid_issuer(issuer: &str) -> bool {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return false,
        None => authority,
    }
    .to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid
        && [".cybrid.app", ".cybrid.com"]
            .iter()
            .any(|d| host.ends_with(d) && host.len() > d.len())
}

/// Facts about a token whose issuer is a Cybrid identity host; `None` otherwise.
/// The environment is known for the public identity hosts only.
pub fn decode_cybrid_token(token: &str, now_unix: i64) -> Option<TokenInfo> {
    let payload: Payload = serde_json::from_value(payload_json(token)?).ok()?;
    let issuer = payload.iss?;
    if !is_cybrid_issuer(&issuer) {
        return None;
    }
    let environment = cybrid_environment(&issuer);
    let expires_at = payload.exp.and_then(|e| {
        time::OffsetDateTime::from_unix_timestamp(e)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    });
    Some(TokenInfo {
        issuer,
        environment: environment.map(str::to_string),
        sub_type: payload.sub_type,
        subject: payload.sub,
        expires_at,
        expired: payload.exp.is_some_and(|e| e < now_unix),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzUxMiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn cybrid_issuer_and_expiry() {
        let t = token(r#"{"iss":"https://id.sandbox.cybrid.app","exp":100,"sub_type":"bank"}"#);
        let info = decode_cybrid_token(&t, 200).expect("cybrid token");
        assert!(info.expired);
        assert_eq!(info.environment.as_deref(), Some("sandbox"));
        assert_eq!(info.sub_type.as_deref(), Some("bank"));
        assert!(!decode_cybrid_token(&t, 50).expect("token").expired);
    }

    #[test]
    fn development_and_local_issuers() {
        let t = token(r#"{"iss":"http://api-idp.local.cybrid.com:3000","exp":100}"#);
        let info = decode_cybrid_token(&t, 200).expect("local cybrid token");
        assert_eq!(info.environment, None);
        assert!(is_cybrid_issuer("https://id.dev.cybrid.app/"));
        assert!(!is_cybrid_issuer("https://cybrid.app.evil.com"));
        assert!(!is_cybrid_issuer("https://evil.com/x.cybrid.app"));
        assert!(!is_cybrid_issuer("https://x.cybrid.app@evil.com"));
        assert!(!is_cybrid_issuer("ftp://id.sandbox.cybrid.app"));
    }

    #[test]
    fn other_issuers_and_garbage() {
        assert!(decode_cybrid_token(
            &token(r#"{"iss":"https://id.sandbox.cybrid.app.evil.com"}"#),
            0
        )
        .is_none());
        assert!(decode_cybrid_token("eyJ.eyJ!!.x", 0).is_none());
        assert!(decode_cybrid_token("", 0).is_none());
    }
}
