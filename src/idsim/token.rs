//! Access tokens shaped like Cybrid's: an RS512 JWT whose payload carries
//! the issuer host, subject, subject type, scopes and organization. The
//! signature is random bytes of the right length: nothing checks it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng;
use serde_json::json;

use super::state::Application;

/// Bank and organization tokens live 8 h.
pub const LIFETIME_SECS: i64 = 8 * 3600;

/// A compact JWT for `app`, minted at `now` with `scopes`.
pub fn mint(app: &Application, scopes: &[String], kid: &str, now: i64) -> String {
    let header = json!({"kid": kid, "alg": "RS512"});
    let env = &app.environment;
    let payload = json!({
        "iss": format!("https://id.{env}.cybrid.app"),
        "aud": [
            format!("https://bank.{env}.cybrid.app"),
            format!("https://organization.{env}.cybrid.app"),
            format!("https://id.{env}.cybrid.app"),
        ],
        "iat": now,
        "exp": now + LIFETIME_SECS,
        "jti": super::state::new_guid(),
        "sub": app.guid,
        "sub_type": app.kind.as_str(),
        "scope": scopes,
        "properties": {
            "organization_guid": app.organization_guid,
            "type": if env == "production" { "production" } else { "sandbox" },
        },
    });
    let signature: Vec<u8> = (0..512).map(|_| rand::thread_rng().gen::<u8>()).collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// A key id that looks like Cybrid's (a base64url SHA-256 thumbprint).
pub fn new_kid() -> String {
    URL_SAFE_NO_PAD.encode(rand::thread_rng().gen::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::jwt::decode_cybrid_token;

    #[test]
    fn minted_tokens_decode_as_cybrid_tokens() {
        let app = Application {
            client_id: "a".into(),
            client_secret: "b".into(),
            environment: "production".into(),
            kind: super::super::state::AppKind::Organization,
            guid: String::new(),
            organization_guid: String::new(),
            scopes: Vec::new(),
            ip_allowlist: Vec::new(),
            name: String::new(),
        }
        .completed();
        let t = mint(&app, &["banks:read".into()], &new_kid(), 1_000);
        let info = decode_cybrid_token(&t, 2_000).expect("decodes");
        assert_eq!(info.environment.as_deref(), Some("production"));
        assert_eq!(info.sub_type.as_deref(), Some("organization"));
        assert_eq!(info.subject.as_deref(), Some(app.guid.as_str()));
        assert!(!info.expired);
    }
}
