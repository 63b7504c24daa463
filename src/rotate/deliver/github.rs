//! GitHub Actions repository secrets: `GET
//! /repos/{owner}/{repo}/actions/secrets/public-key` gives the repository's
//! Curve25519 key, each value is encrypted to it in a libsodium sealed box
//! (RustCrypto `crypto_box`, `seal`), and `PUT
//! /repos/{owner}/{repo}/actions/secrets/{name}` stores it (201 created,
//! 204 updated). Only the sealed box crosses the network.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::Url;
use serde::Deserialize;

use super::{excerpt, url, Values};
use crate::secret::Secret;

#[derive(Deserialize)]
struct PublicKey {
    key_id: String,
    key: String,
}

fn headers(r: RequestBuilder, token: &Secret) -> RequestBuilder {
    r.bearer_auth(token.expose())
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
}

fn failed(what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{what}: {kind}")
}

/// The repository's public key: its id and its 32 bytes.
pub fn public_key(
    http: &Client,
    api: &Url,
    token: &Secret,
    owner: &str,
    repo: &str,
) -> Result<(String, [u8; 32]), String> {
    let u = url(
        api,
        &["repos", owner, repo, "actions", "secrets", "public-key"],
    );
    let what = "reading the repository's public key";
    let response = headers(http.get(u), token)
        .send()
        .map_err(|e| failed(what, &e))?;
    let status = response.status().as_u16();
    let body = response.bytes().map_err(|e| failed(what, &e))?;
    if status != 200 {
        return Err(format!("{what}: HTTP {status} {}", excerpt(&body)));
    }
    let key: PublicKey = serde_json::from_slice(&body)
        .map_err(|_| format!("{what}: the answer is not {{\"key_id\", \"key\"}}"))?;
    let bytes: [u8; 32] = STANDARD
        .decode(key.key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{what}: the key is not 32 bytes of base64"))?;
    Ok((key.key_id, bytes))
}

/// `value` sealed to `key` (libsodium `crypto_box_seal`), base64.
pub fn seal(key: &[u8; 32], value: &Secret) -> Result<String, String> {
    let pk = crypto_box::PublicKey::from(*key);
    pk.seal(&mut crypto_box::aead::OsRng, value.expose().as_bytes())
        .map(|sealed| STANDARD.encode(sealed))
        .map_err(|_| "sealing the value failed".to_string())
}

/// Both values as repository secrets.
pub fn put_secrets(
    http: &Client,
    api: &Url,
    token: &Secret,
    owner: &str,
    repo: &str,
    values: &Values,
) -> Result<String, String> {
    let (key_id, key) = public_key(http, api, token, owner, repo)?;
    let mut done = Vec::new();
    for (name, value) in values.pairs() {
        let what = format!("writing the secret {name}");
        let body = serde_json::json!({
            "encrypted_value": seal(&key, value)?,
            "key_id": key_id,
        });
        let u = url(api, &["repos", owner, repo, "actions", "secrets", name]);
        let response = headers(http.put(u), token)
            .json(&body)
            .send()
            .map_err(|e| failed(&what, &e))?;
        let status = response.status().as_u16();
        match status {
            201 => done.push(format!("{name} created")),
            204 => done.push(format!("{name} updated")),
            _ => {
                let body = response.bytes().unwrap_or_default();
                return Err(format!("{what}: HTTP {status} {}", excerpt(&body)));
            }
        }
    }
    Ok(done.join(", "))
}
