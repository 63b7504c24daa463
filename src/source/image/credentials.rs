//! Registry credentials, from where container tools keep them, so that a
//! user who can `docker pull` an image can scan it with nothing more:
//! `CYBRID_SCAN_REGISTRY_USERNAME`/`_PASSWORD` (for CI, optionally limited to
//! the hosts in `CYBRID_SCAN_REGISTRY_HOSTS`), then the auth files of
//! skopeo/podman (`REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`)
//! and Docker (`$DOCKER_CONFIG/config.json`, `~/.docker/config.json`), with
//! their credential helpers (`credHelpers`, `credsStore`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

/// What the registry's token service (or Basic challenge) gets.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` of a Docker config).
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken(_) => write!(f, "IdentityToken(<redacted>)"),
        }
    }
}

/// Where a credential came from, for messages (never the credential).
#[derive(Debug, Clone)]
pub struct Found {
    pub credential: Credential,
    pub from: String,
}

/// The credential for `host` (as the image names it), if any.
pub fn for_host(host: &str) -> Result<Option<Found>, String> {
    if let (Ok(username), Ok(password)) = (
        std::env::var("CYBRID_SCAN_REGISTRY_USERNAME"),
        std::env::var("CYBRID_SCAN_REGISTRY_PASSWORD"),
    ) {
        let allowed = std::env::var("CYBRID_SCAN_REGISTRY_HOSTS").map_or(true, |hosts| {
            hosts
                .split([',', ' '])
                .any(|h| !h.is_empty() && same_host(h, host))
        });
        if allowed && !username.is_empty() {
            return Ok(Some(Found {
                credential: Credential::Basic { username, password },
                from: "CYBRID_SCAN_REGISTRY_USERNAME/_PASSWORD".to_string(),
            }));
        }
    }
    for file in auth_files() {
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", file.display())),
        };
        let config: Value = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
        if let Some(found) = in_config(&config, host, &file)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn auth_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(Path::new(&d).join("containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => files.push(Path::new(&d).join("config.json")),
        None => {
            if let Some(h) = std::env::var_os("HOME") {
                files.push(Path::new(&h).join(".docker/config.json"));
            }
        }
    }
    files
}

/// Docker Hub has several names; every other host is compared as written.
fn canonical(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io"
        }
        h => h,
    }
}

/// `https://host/v1/`, `host`, `http://host` all name `host`.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

fn same_host(key: &str, host: &str) -> bool {
    canonical(key_host(key)) == canonical(host)
}

fn in_config(config: &Value, host: &str, file: &Path) -> Result<Option<Found>, String> {
    if let Some(helpers) = config["credHelpers"].as_object() {
        if let Some((_, helper)) = helpers.iter().find(|(k, _)| same_host(k, host)) {
            if let Some(helper) = helper.as_str() {
                return from_helper(helper, host);
            }
        }
    }
    if let Some(auths) = config["auths"].as_object() {
        if let Some((_, entry)) = auths.iter().find(|(k, _)| same_host(k, host)) {
            let from = file.display().to_string();
            if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
                return Ok(Some(Found {
                    credential: Credential::IdentityToken(token.to_string()),
                    from,
                }));
            }
            if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .ok_or_else(|| {
                        format!("{from}: the auth entry for {host} is not base64 of user:password")
                    })?;
                let (username, password) = decoded.split_once(':').ok_or_else(|| {
                    format!("{from}: the auth entry for {host} is not user:password")
                })?;
                return Ok(Some(Found {
                    credential: Credential::Basic {
                        username: username.to_string(),
                        password: password.to_string(),
                    },
                    from,
                }));
            }
            if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
                return Ok(Some(Found {
                    credential: Credential::Basic {
                        username: u.to_string(),
                        password: p.to_string(),
                    },
                    from,
                }));
            }
        }
    }
    match config["credsStore"].as_str() {
        Some(store) if !store.is_empty() => from_helper(store, host),
        _ => Ok(None),
    }
}

/// `docker-credential-NAME get`, the server on standard input (the
/// credential helper protocol); "not found" is no credential.
fn from_helper(name: &str, host: &str) -> Result<Option<Found>, String> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!("credential helper name {name:?} is not valid"));
    }
    let program = format!("docker-credential-{name}");
    let server = if canonical(host) == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if said.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        // Its message may echo what it read: name the helper and the status only.
        return Err(format!("{program} get failed ({})", out.status));
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("{program} get did not answer JSON"))?;
    let username = v["Username"].as_str().unwrap_or_default().to_string();
    let secret = v["Secret"].as_str().unwrap_or_default().to_string();
    if secret.is_empty() {
        return Ok(None);
    }
    let credential = if username == "<token>" {
        Credential::IdentityToken(secret)
    } else {
        Credential::Basic {
            username,
            password: secret,
        }
    };
    Ok(Some(Found {
        credential,
        from: program,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auths_match_every_spelling_of_a_host() {
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p:w");
        let config = json!({"auths": {
            "https://index.docker.io/v1/": {"auth": auth},
            "http://127.0.0.1:5000": {"username": "a", "password": "b"},
            "ghcr.io": {"identitytoken": "rt"},
        }});
        let f = Path::new("config.json");
        let hub = in_config(&config, "docker.io", f)
            .expect("ok")
            .expect("hub");
        assert_eq!(
            hub.credential,
            Credential::Basic {
                username: "u".into(),
                password: "p:w".into()
            }
        );
        assert!(in_config(&config, "127.0.0.1:5000", f)
            .expect("ok")
            .is_some());
        assert_eq!(
            in_config(&config, "ghcr.io", f)
                .expect("ok")
                .expect("ghcr")
                .credential,
            Credential::IdentityToken("rt".into())
        );
        assert!(in_config(&config, "quay.io", f).expect("ok").is_none());
        let shown = format!("{:?}", hub.credential);
        assert!(!shown.contains("p:w"), "{shown}");
    }
}
