//! Pulling an image's parts from a registry over the distribution HTTP API
//! v2 (what Docker Hub, GHCR, GitLab's registry, ECR and `registry:2`
//! serve): the manifest (an index picks the platform), the configuration
//! and the layers as streams, each checked against its digest. A 401 with a
//! `Bearer` challenge is answered with a token from the realm it names
//! (anonymous or with the user's credentials), a `Basic` one with the
//! credentials. A loopback registry is spoken to over plain HTTP, as Docker
//! does; anything else only over TLS, and credentials never go over plain
//! HTTP to a non-loopback host.

use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::credentials::{self, Credential, Found};
use super::reference::RegistryRef;
use crate::verify::endpoint::is_loopback;

/// What a manifest request accepts: OCI and Docker, single and multi-platform.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Bytes of a manifest or configuration read at most.
const MAX_JSON: u64 = 64 << 20;
/// Attempts of one request when the registry says "later" (429, 502-504).
const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` honoured; longer is an error that says so.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Message(String),
}

fn err(m: impl Into<String>) -> RegistryError {
    RegistryError::Message(m.into())
}

/// One repository of one registry, with the token it was granted.
#[derive(Debug)]
pub struct Registry {
    client: Client,
    base: Url,
    /// `host/repository`, for messages.
    pub name: String,
    repository: String,
    credential: Option<Found>,
    /// The bearer token of the last challenge (or Basic, once asked for).
    auth: Mutex<Option<String>>,
}

impl Registry {
    pub fn connect(r: &RegistryRef) -> Result<Self, RegistryError> {
        let host = r.api_host();
        let loopback = is_loopback(host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }));
        let scheme = if loopback { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| err(format!("{}: not a registry address: {e}", r.host)))?;
        let mut builder = Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(30))
            // Per read of a body, so that a multi-GB layer may take its time.
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("cybrid-scan/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                // Blobs redirect to storage; never from TLS down to plain HTTP
                // off this machine. reqwest drops Authorization across hosts.
                let ok = attempt.url().scheme() == "https"
                    || attempt.url().host_str().is_some_and(is_loopback);
                if attempt.previous().len() >= 8 {
                    attempt.error("too many redirects")
                } else if ok {
                    attempt.follow()
                } else {
                    attempt.error("redirect to plain http refused")
                }
            }));
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| err(format!("HTTP client: {e}")))?;
        let credential = credentials::for_host(&r.host).map_err(|e| {
            err(format!(
                "{}: could not read registry credentials: {e}",
                r.host
            ))
        })?;
        Ok(Registry {
            client,
            base,
            name: format!("{}/{}", r.host, r.repository),
            repository: r.repository.clone(),
            credential,
            auth: Mutex::new(None),
        })
    }

    fn url(&self, kind: &str, reference: &str) -> Result<Url, RegistryError> {
        self.base
            .join(&format!("v2/{}/{kind}/{reference}", self.repository))
            .map_err(|e| err(format!("{}: {e}", self.name)))
    }

    /// GET with the challenge answered and "later" retried.
    fn get(&self, url: &Url, accept: Option<&str>) -> Result<Response, RegistryError> {
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.client.get(url.clone());
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(auth) = self.auth.lock().ok().and_then(|a| a.clone()) {
                req = req.header(AUTHORIZATION, auth);
            }
            let resp = req
                .send()
                .map_err(|e| err(format!("{}: {}", self.name, without_url(&e))))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let auth = self.answer(&challenge)?;
                if let Ok(mut a) = self.auth.lock() {
                    *a = Some(auth);
                }
                continue;
            }
            let retry = matches!(status.as_u16(), 429 | 502 | 503 | 504);
            if retry && attempt < ATTEMPTS {
                let wait = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_millis(500 << attempt), Duration::from_secs);
                if wait <= MAX_RETRY_AFTER {
                    std::thread::sleep(wait);
                    continue;
                }
            }
            return Err(self.refusal(resp));
        }
    }

    /// The registry's own words for a refusal (its `errors[0]`), with what to do.
    fn refusal(&self, resp: Response) -> RegistryError {
        let status = resp.status();
        let mut body = Vec::new();
        let _ = resp.take(64 << 10).read_to_end(&mut body);
        let said = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                let e = &v["errors"][0];
                e["code"]
                    .as_str()
                    .map(|c| format!("{c}: {}", e["message"].as_str().unwrap_or("")))
            })
            .unwrap_or_default();
        let hint = match status.as_u16() {
            401 | 403 if self.credential.is_none() => {
                " (no credentials found for this registry: `docker login`, or set CYBRID_SCAN_REGISTRY_USERNAME/_PASSWORD)"
                    .to_string()
            }
            401 | 403 => format!(
                " (credentials from {} were refused or lack pull access)",
                self.credential.as_ref().map_or("", |c| c.from.as_str())
            ),
            404 => " (no such repository, tag or digest)".to_string(),
            _ => String::new(),
        };
        err(format!("{}: HTTP {status} {said}{hint}", self.name)
            .replace("  ", " ")
            .trim_end()
            .to_string())
    }

    /// The `Authorization` value that answers `challenge`.
    fn answer(&self, challenge: &str) -> Result<String, RegistryError> {
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            return match self.credential.as_ref().map(|c| &c.credential) {
                Some(Credential::Basic { username, password }) => {
                    self.refuse_plain_http(&self.base)?;
                    Ok(basic(username, password))
                }
                _ => Err(err(format!(
                    "{}: the registry asks for a user name and password and none was found (`docker login`, or CYBRID_SCAN_REGISTRY_USERNAME/_PASSWORD)",
                    self.name
                ))),
            };
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(err(format!(
                "{}: unauthorized, and the registry's challenge ({scheme:?}) is not Bearer or Basic",
                self.name
            )));
        }
        let param = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let realm = param("realm")
            .ok_or_else(|| err(format!("{}: Bearer challenge without a realm", self.name)))?;
        let realm = Url::parse(&realm)
            .map_err(|e| err(format!("{}: token realm is not a URL: {e}", self.name)))?;
        let scope =
            param("scope").unwrap_or_else(|| format!("repository:{}:pull", self.repository));
        let mut query: Vec<(&str, String)> = vec![("scope", scope)];
        if let Some(service) = param("service") {
            query.push(("service", service));
        }
        let resp = match self.credential.as_ref().map(|c| &c.credential) {
            Some(Credential::IdentityToken(refresh)) => {
                self.refuse_plain_http(&realm)?;
                let mut form = query.clone();
                form.push(("grant_type", "refresh_token".to_string()));
                form.push(("refresh_token", refresh.clone()));
                form.push(("client_id", "cybrid-scan".to_string()));
                self.client.post(realm.clone()).form(&form).send()
            }
            Some(Credential::Basic { username, password }) => {
                self.refuse_plain_http(&realm)?;
                self.client
                    .get(realm.clone())
                    .query(&query)
                    .header(AUTHORIZATION, basic(username, password))
                    .send()
            }
            None => self.client.get(realm.clone()).query(&query).send(),
        }
        .map_err(|e| err(format!("{}: token service: {}", self.name, without_url(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            let hint = if self.credential.is_some() {
                "the credentials were refused"
            } else {
                "anonymous pulls are refused: `docker login`, or set CYBRID_SCAN_REGISTRY_USERNAME/_PASSWORD"
            };
            return Err(err(format!(
                "{}: token service {} answered HTTP {status} ({hint})",
                self.name,
                realm.host_str().unwrap_or_default()
            )));
        }
        let body: Value = resp
            .json()
            .map_err(|_| err(format!("{}: token service did not answer JSON", self.name)))?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| err(format!("{}: token service answered no token", self.name)))?;
        Ok(format!("Bearer {token}"))
    }

    /// Credentials go over TLS, or plain HTTP to this machine only.
    fn refuse_plain_http(&self, url: &Url) -> Result<(), RegistryError> {
        if url.scheme() == "https" || url.host_str().is_some_and(is_loopback) {
            Ok(())
        } else {
            Err(err(format!(
                "{}: refusing to send credentials over plain http to {}",
                self.name,
                url.host_str().unwrap_or_default()
            )))
        }
    }

    /// A manifest or index, checked against `reference` when that is a digest;
    /// returns it with its digest.
    pub fn manifest(&self, reference: &str) -> Result<(Value, String), RegistryError> {
        let url = self.url("manifests", reference)?;
        let resp = self.get(&url, Some(MANIFEST_TYPES))?;
        let bytes = read_limited(resp, &self.name)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(err(format!(
                "{}: the manifest for {reference} has digest {digest}: refusing it",
                self.name
            )));
        }
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("{}: manifest is not JSON: {e}", self.name)))?;
        Ok((value, digest))
    }

    /// A small blob (the configuration), read whole and checked.
    pub fn small_blob(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let mut bytes = Vec::new();
        self.blob(digest)?
            .take(MAX_JSON)
            .read_to_end(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        Ok(bytes)
    }

    /// A blob as a stream that fails at its end if the bytes are not `digest`'s.
    pub fn blob(&self, digest: &str) -> Result<Box<dyn Read + Send>, RegistryError> {
        let url = self.url("blobs", digest)?;
        let resp = self.get(&url, None)?;
        let expected = digest
            .strip_prefix("sha256:")
            .map(|h| h.to_ascii_lowercase());
        Ok(Box::new(Checked {
            inner: resp,
            hasher: Sha256::new(),
            expected,
            name: format!("{}@{digest}", self.name),
        }))
    }
}

/// `Basic base64(user:password)`.
fn basic(username: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// A reqwest error without its URL (a token service URL may carry a query).
fn without_url(e: &reqwest::Error) -> String {
    let mut shown = e.to_string();
    if let Some(u) = e.url() {
        shown = shown.replace(u.as_str(), u.host_str().unwrap_or_default());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        shown.push_str(": ");
        shown.push_str(&s.to_string());
        source = s.source();
    }
    shown
}

fn read_limited(resp: Response, name: &str) -> Result<Vec<u8>, RegistryError> {
    let mut bytes = Vec::new();
    resp.take(MAX_JSON + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(format!("{name}: {e}")))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(err(format!(
            "{name}: manifest larger than {} MiB",
            MAX_JSON >> 20
        )));
    }
    Ok(bytes)
}

/// `Bearer realm="…",service="…",scope="…"` -> ("Bearer", [(realm, …), …]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.push((name.trim().to_string(), value.trim().to_string()));
    }
    (scheme.to_string(), params)
}

/// A body read through a SHA-256 that must match the blob's digest at EOF.
struct Checked {
    inner: Response,
    hasher: Sha256,
    expected: Option<String>,
    name: String,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(expected) = self.expected.take() {
                let got = hex::encode(std::mem::take(&mut self.hasher).finalize());
                if got != expected {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: content has digest sha256:{got}", self.name),
                    ));
                }
            }
        } else if self.expected.is_some() {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_registries_send_them() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.docker.io/token".into()),
                ("service".into(), "registry.docker.io".into()),
                ("scope".into(), "repository:library/alpine:pull".into()),
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "Basic");
        assert_eq!(p, vec![("realm".into(), "Registry Realm".into())]);
    }
}
