//! Delivering a new client id and secret to where the service reads them:
//! a GitHub Actions repository secret ([`github`]), a GitLab CI/CD variable
//! ([`gitlab`]), a command's standard input ([`exec`]) or a `.env` file
//! ([`file`]). Errors name the destination and what went wrong, never a
//! value.

pub mod exec;
pub mod file;
pub mod github;
pub mod gitlab;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::plan::SecretNames;
use crate::secret::Secret;

/// Where the new pair goes (`--deliver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    GitHub { owner: String, repo: String },
    GitLab { project: String },
    Exec(String),
    File(PathBuf),
}

/// Why a `--deliver` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--deliver {0:?}: expected github:OWNER/REPO, gitlab:GROUP/PROJECT, exec:COMMAND or file:PATH"
)]
pub struct BadDestination(pub String);

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Destination {
    pub fn parse(spec: &str) -> Result<Self, BadDestination> {
        let bad = || BadDestination(spec.to_string());
        let (kind, rest) = spec.split_once(':').ok_or_else(bad)?;
        match kind {
            "github" => {
                let (owner, repo) = rest.split_once('/').ok_or_else(bad)?;
                if !is_slug(owner) || !is_slug(repo) {
                    return Err(bad());
                }
                Ok(Destination::GitHub {
                    owner: owner.into(),
                    repo: repo.into(),
                })
            }
            "gitlab" => {
                let parts: Vec<&str> = rest.split('/').collect();
                if parts.len() < 2 || !parts.iter().all(|p| is_slug(p)) {
                    return Err(bad());
                }
                Ok(Destination::GitLab {
                    project: rest.into(),
                })
            }
            "exec" if !rest.trim().is_empty() => Ok(Destination::Exec(rest.into())),
            "file" if !rest.is_empty() => Ok(Destination::File(PathBuf::from(rest))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Destination {
    /// As shown to people: an `exec` command only by its program (its
    /// arguments may hold anything).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match self {
            Destination::GitHub { owner, repo } => format!("github:{owner}/{repo}"),
            Destination::GitLab { project } => format!("gitlab:{project}"),
            Destination::Exec(cmd) => {
                let program = cmd.split_whitespace().next().unwrap_or_default();
                if cmd.trim() == program {
                    format!("exec:{program}")
                } else {
                    format!("exec:{program} …")
                }
            }
            Destination::File(p) => format!("file:{}", p.display()),
        };
        f.write_str(&crate::report::escape_for_terminal(&shown))
    }
}

/// The pair being delivered, and its names.
pub struct Values<'a> {
    pub names: &'a SecretNames,
    pub client_id: &'a Secret,
    pub secret: &'a Secret,
}

impl Values<'_> {
    /// `(name, value)` for the id, then the secret.
    pub fn pairs(&self) -> [(&str, &Secret); 2] {
        [
            (self.names.id.as_str(), self.client_id),
            (self.names.secret.as_str(), self.secret),
        ]
    }

    /// `text` with both values replaced by their redacted forms.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, v) in self.pairs() {
            if !v.is_empty() {
                out = out.replace(v.expose(), &v.redacted());
            }
        }
        out
    }
}

/// A delivery that did not happen (or not entirely). Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{destination}: {message}")]
pub struct DeliveryError {
    pub destination: String,
    pub message: String,
}

/// The API roots and tokens of the hosted destinations.
#[derive(Debug, Clone)]
pub struct Hosts {
    pub github_api: Url,
    pub gitlab_api: Url,
    pub github_token: Option<Secret>,
    pub gitlab_token: Option<Secret>,
    pub timeout: Duration,
}

pub const GITHUB_TOKEN_VAR: &str = "GITHUB_TOKEN";
pub const GITLAB_TOKEN_VAR: &str = "GITLAB_TOKEN";

/// Sends values to destinations.
pub struct Deliverer {
    http: reqwest::blocking::Client,
    hosts: Hosts,
}

impl Deliverer {
    pub fn new(
        hosts: Hosts,
        proxy: Option<&str>,
    ) -> Result<Self, crate::verify::client::ClientError> {
        Ok(Deliverer {
            http: crate::verify::client::safe_http_client(proxy, hosts.timeout)?,
            hosts,
        })
    }

    fn error(dest: &Destination, message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            destination: dest.to_string(),
            message: message.into(),
        }
    }

    /// What can be checked before anything is changed: tokens present,
    /// the GitHub repository's public key readable, the GitLab project
    /// there, the file's directory there, the command's shell there.
    pub fn preflight(&self, dest: &Destination) -> Result<(), DeliveryError> {
        match dest {
            Destination::GitHub { owner, repo } => {
                let token =
                    self.hosts.github_token.as_ref().ok_or_else(|| {
                        Self::error(dest, format!("{GITHUB_TOKEN_VAR} is not set"))
                    })?;
                github::public_key(&self.http, &self.hosts.github_api, token, owner, repo)
                    .map(|_| ())
                    .map_err(|m| Self::error(dest, m))
            }
            Destination::GitLab { project } => {
                let token =
                    self.hosts.gitlab_token.as_ref().ok_or_else(|| {
                        Self::error(dest, format!("{GITLAB_TOKEN_VAR} is not set"))
                    })?;
                gitlab::project_exists(&self.http, &self.hosts.gitlab_api, token, project)
                    .map_err(|m| Self::error(dest, m))
            }
            Destination::Exec(_) => Ok(()),
            Destination::File(path) => file::check_dir(path).map_err(|m| Self::error(dest, m)),
        }
    }

    /// Deliver both values to `dest`; a line saying what was done.
    pub fn deliver(&self, dest: &Destination, values: &Values) -> Result<String, DeliveryError> {
        let done = match dest {
            Destination::GitHub { owner, repo } => {
                let token =
                    self.hosts.github_token.as_ref().ok_or_else(|| {
                        Self::error(dest, format!("{GITHUB_TOKEN_VAR} is not set"))
                    })?;
                github::put_secrets(
                    &self.http,
                    &self.hosts.github_api,
                    token,
                    owner,
                    repo,
                    values,
                )
            }
            Destination::GitLab { project } => {
                let token =
                    self.hosts.gitlab_token.as_ref().ok_or_else(|| {
                        Self::error(dest, format!("{GITLAB_TOKEN_VAR} is not set"))
                    })?;
                gitlab::put_variables(&self.http, &self.hosts.gitlab_api, token, project, values)
            }
            Destination::Exec(cmd) => exec::run(cmd, values),
            Destination::File(path) => file::write(path, values),
        };
        done.map_err(|m| Self::error(dest, values.scrub(&m)))
    }
}

/// `base` + path segments, each percent-encoded (`group/project` becomes
/// the one segment `group%2Fproject`, as GitLab wants it).
pub fn url(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

/// A short, terminal-safe excerpt of an API's error body (never echoed
/// whole: it could quote what was sent).
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(200).collect();
    crate::report::escape_for_terminal(short.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_and_show_no_command_arguments() {
        assert_eq!(
            Destination::parse("github:acme/payments"),
            Ok(Destination::GitHub {
                owner: "acme".into(),
                repo: "payments".into()
            })
        );
        assert!(matches!(
            Destination::parse("gitlab:acme/sub/payments"),
            Ok(Destination::GitLab { .. })
        ));
        for bad in [
            "github:acme",
            "github:a/b/c",
            "gitlab:acme",
            "exec:",
            "file:",
            "s3:x",
            "github:../x",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
        let d = Destination::parse("exec:vault kv put secret/payments -").expect("exec");
        assert_eq!(d.to_string(), "exec:vault …");
    }
}
