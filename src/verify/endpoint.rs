//! Where a Cybrid environment's identity service lives, and the rule that
//! keeps a credential from going anywhere else.
//!
//! By default only `https://id.{sandbox,production,staging}.cybrid.app` are
//! used. `--endpoint ENV=URL` points one environment elsewhere (a simulator, a
//! recording proxy); plain `http` is accepted only for loopback hosts, so a
//! pair never crosses a network in the clear.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use reqwest::Url;

/// A Cybrid environment that has an identity service we may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Environment {
    Sandbox,
    Production,
    Staging,
}

impl Environment {
    pub const ALL: [Environment; 3] = [
        Environment::Sandbox,
        Environment::Production,
        Environment::Staging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
            Environment::Staging => "staging",
        }
    }

    /// The real identity host of this environment.
    pub fn default_base(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://id.sandbox.cybrid.app/",
            Environment::Production => "https://id.production.cybrid.app/",
            Environment::Staging => "https://id.staging.cybrid.app/",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Ok(Environment::Sandbox),
            "production" => Ok(Environment::Production),
            "staging" => Ok(Environment::Staging),
            other => Err(EndpointError::UnknownEnvironment(other.to_string())),
        }
    }
}

/// Why an `--endpoint` was refused. Messages never hold a secret (an
/// endpoint URL with user-info is refused before it is echoed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("--endpoint {0:?}: expected ENV=URL, e.g. sandbox=http://127.0.0.1:8080")]
    Syntax(String),
    #[error("--endpoint: unknown environment {0:?} (use sandbox, production or staging)")]
    UnknownEnvironment(String),
    #[error("--endpoint {env}: {url:?} is not a valid URL: {message}")]
    BadUrl {
        env: String,
        url: String,
        message: String,
    },
    #[error("--endpoint {env}: scheme {scheme:?} is not allowed (use https, or http for a loopback address)")]
    Scheme { env: String, scheme: String },
    #[error("--endpoint {env}: plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost), not {host:?}: credentials would cross the network unencrypted; use https")]
    InsecureHost { env: String, host: String },
    #[error("--endpoint {env}: the URL must not carry a user name, password, query or fragment")]
    Extras { env: String },
    #[error("--endpoint {0}: given more than once")]
    Duplicate(String),
}

/// The identity-service base URL of each environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    bases: BTreeMap<Environment, Url>,
    /// Environments the user pointed elsewhere with `--endpoint`.
    overridden: Vec<Environment>,
}

impl Default for Endpoints {
    fn default() -> Self {
        let bases = Environment::ALL
            .iter()
            .filter_map(|e| Url::parse(e.default_base()).ok().map(|u| (*e, u)))
            .collect();
        Endpoints {
            bases,
            overridden: Vec::new(),
        }
    }
}

impl Endpoints {
    /// The defaults with each `ENV=URL` of `specs` applied, after the safety check.
    pub fn parse(specs: &[String]) -> Result<Self, EndpointError> {
        let mut endpoints = Endpoints::default();
        for spec in specs {
            let (env, url) = spec
                .split_once('=')
                .ok_or_else(|| EndpointError::Syntax(spec.clone()))?;
            let env: Environment = env.parse()?;
            if endpoints.overridden.contains(&env) {
                return Err(EndpointError::Duplicate(env.to_string()));
            }
            let url = check_url(env, url.trim())?;
            endpoints.bases.insert(env, url);
            endpoints.overridden.push(env);
        }
        Ok(endpoints)
    }

    /// The base URL (always ending in `/`) of `env`.
    pub fn base(&self, env: Environment) -> &Url {
        // Every environment has a base: the defaults fill the map.
        &self.bases[&env]
    }

    /// Whether the user pointed `env` somewhere with `--endpoint`.
    pub fn is_overridden(&self, env: Environment) -> bool {
        self.overridden.contains(&env)
    }

    /// `{base}/oauth/token`.
    pub fn token_url(&self, env: Environment) -> Url {
        join(self.base(env), "oauth/token")
    }

    /// `{base}/api/{bank|organization}_applications` (create).
    pub fn applications_url(&self, env: Environment, kind: &str) -> Url {
        join(self.base(env), &format!("api/{kind}_applications"))
    }

    /// `{base}/api/{bank|organization}_applications/{client_id}`.
    pub fn application_url(&self, env: Environment, kind: &str, client_id: &str) -> Url {
        let mut url = join(self.base(env), &format!("api/{kind}_applications/"));
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(client_id);
        }
        url
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path(), path);
    url.set_path(&joined);
    url
}

fn check_url(env: Environment, raw: &str) -> Result<Url, EndpointError> {
    let env_name = env.to_string();
    let mut url = Url::parse(raw).map_err(|e| EndpointError::BadUrl {
        env: env_name.clone(),
        url: if raw.contains('@') {
            "<withheld: it has user-info>".into()
        } else {
            raw.into()
        },
        message: e.to_string(),
    })?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(EndpointError::Extras { env: env_name });
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or_default().to_string();
            if !is_loopback(&host) {
                return Err(EndpointError::InsecureHost {
                    env: env_name,
                    host,
                });
            }
        }
        other => {
            return Err(EndpointError::Scheme {
                env: env_name,
                scheme: other.to_string(),
            })
        }
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `localhost`, `127.0.0.0/8` or `::1` (brackets allowed).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> Result<Endpoints, EndpointError> {
        Endpoints::parse(&[spec.to_string()])
    }

    #[test]
    fn defaults_are_cybrid_hosts() {
        let e = Endpoints::default();
        assert_eq!(
            e.token_url(Environment::Sandbox).as_str(),
            "https://id.sandbox.cybrid.app/oauth/token"
        );
        assert_eq!(
            e.application_url(Environment::Production, "bank", "abc")
                .as_str(),
            "https://id.production.cybrid.app/api/bank_applications/abc"
        );
    }

    #[test]
    fn loopback_http_and_paths() {
        let e = one("sandbox=http://127.0.0.1:8080").expect("loopback");
        assert_eq!(
            e.token_url(Environment::Sandbox).as_str(),
            "http://127.0.0.1:8080/oauth/token"
        );
        assert!(e.is_overridden(Environment::Sandbox));
        let e = one("production=http://localhost:9/production").expect("path");
        assert_eq!(
            e.token_url(Environment::Production).as_str(),
            "http://localhost:9/production/oauth/token"
        );
        assert!(one("staging=http://[::1]:8080/").is_ok());
        assert!(one("sandbox=https://idp.example.com").is_ok());
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            one("sandbox=http://10.1.2.3:8080"),
            Err(EndpointError::InsecureHost { .. })
        ));
        assert!(matches!(
            one("sandbox=http://localhost.evil.com"),
            Err(EndpointError::InsecureHost { .. })
        ));
        assert!(matches!(
            one("sandbox=ftp://127.0.0.1"),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            one("demo=https://x"),
            Err(EndpointError::UnknownEnvironment(_))
        ));
        assert!(matches!(one("sandbox"), Err(EndpointError::Syntax(_))));
        assert!(matches!(
            one("sandbox=https://u:p@x.example"),
            Err(EndpointError::Extras { .. })
        ));
        let twice = Endpoints::parse(&["sandbox=https://a".into(), "sandbox=https://b".into()]);
        assert!(matches!(twice, Err(EndpointError::Duplicate(_))));
    }
}
