//! A token for HTTPS clones, without a `git` binary or a credential helper:
//! libgit2's credential callback answers a host's `401` with the token as a
//! Basic password, for that host only.
//!
//! Where a token comes from:
//! - `sweep --github-org`: `GITHUB_TOKEN`, user `x-access-token`, for the
//!   GitHub host of `--api-url` (`api.github.com` means `github.com`);
//! - `sweep --gitlab-group`: `GITLAB_TOKEN`, user `oauth2`, for the GitLab
//!   instance's host;
//! - any clone (`git URL`, `sweep --manifest`): `CYBRID_SCAN_GIT_TOKEN` for
//!   the hosts listed in `CYBRID_SCAN_GIT_HOSTS` (comma-separated; without it
//!   the token is sent nowhere), user `CYBRID_SCAN_GIT_USERNAME` (default
//!   `x-access-token`; GitLab wants `oauth2`).
//!
//! The token goes over https, or plain http to a loopback host only; a clone
//! that may carry it follows no redirect (so it cannot be led to another
//! host), and it is offered once: a refused token is an error naming the
//! host and where the token came from, never the token.

use std::fmt;

use reqwest::Url;

use crate::verify::endpoint::is_loopback;

/// The generic token for clones (any subcommand).
pub const TOKEN_VAR: &str = "CYBRID_SCAN_GIT_TOKEN";
/// The hosts [`TOKEN_VAR`] is sent to, comma-separated.
pub const HOSTS_VAR: &str = "CYBRID_SCAN_GIT_HOSTS";
/// The Basic user name sent with [`TOKEN_VAR`].
pub const USERNAME_VAR: &str = "CYBRID_SCAN_GIT_USERNAME";
/// GitHub's user name for a token over HTTPS.
pub const GITHUB_USER: &str = "x-access-token";
/// GitLab's user name for a token over HTTPS.
pub const GITLAB_USER: &str = "oauth2";

/// One token and the hosts it may go to.
#[derive(Clone)]
struct HostToken {
    /// Lowercase host names (no port).
    hosts: Vec<String>,
    username: String,
    token: String,
    /// Where the token came from (an environment variable), for messages.
    source: String,
}

/// Tokens for clones, by host. `Debug` never shows a token.
#[derive(Clone, Default)]
pub struct GitAuth {
    tokens: Vec<HostToken>,
}

impl fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for t in &self.tokens {
            list.entry(&format_args!(
                "{} for {} (user {})",
                t.source,
                t.hosts.join(","),
                t.username
            ));
        }
        list.finish()
    }
}

/// What a clone of one URL sends.
pub struct Credential<'a> {
    pub username: &'a str,
    pub token: &'a str,
    /// The environment variable it came from.
    pub source: &'a str,
    /// The host it is sent to.
    pub host: String,
}

impl GitAuth {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Send `token` (from `source`, an environment variable) as `username`'s
    /// password to `host` (a host name: any port, https or loopback http).
    /// Empty tokens or hosts are ignored.
    pub fn add(&mut self, host: &str, username: &str, token: &str, source: &str) {
        self.add_hosts(&[host], username, token, source);
    }

    fn add_hosts(&mut self, hosts: &[&str], username: &str, token: &str, source: &str) {
        let token = token.trim();
        let hosts: Vec<String> = hosts
            .iter()
            .map(|h| normal_host(h))
            .filter(|h| !h.is_empty())
            .collect();
        if token.is_empty() || hosts.is_empty() {
            return;
        }
        self.tokens.push(HostToken {
            hosts,
            username: username.to_string(),
            token: token.to_string(),
            source: source.to_string(),
        });
    }

    /// The generic token from the environment ([`TOKEN_VAR`], [`HOSTS_VAR`],
    /// [`USERNAME_VAR`]), with a note when it is set but cannot be used.
    pub fn from_env() -> (Self, Option<String>) {
        let mut auth = GitAuth::default();
        let token = std::env::var(TOKEN_VAR).unwrap_or_default();
        if token.trim().is_empty() {
            return (auth, None);
        }
        let hosts = std::env::var(HOSTS_VAR).unwrap_or_default();
        let hosts: Vec<&str> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            return (
                auth,
                Some(format!(
                    "{TOKEN_VAR} is set but {HOSTS_VAR} names no host: the token is sent nowhere"
                )),
            );
        }
        let username = std::env::var(USERNAME_VAR)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| GITHUB_USER.to_string());
        auth.add_hosts(&hosts, username.trim(), &token, TOKEN_VAR);
        (auth, None)
    }

    /// Another set's tokens after this one's (the first match wins).
    pub fn extend(&mut self, other: GitAuth) {
        self.tokens.extend(other.tokens);
    }

    /// The credential for `url`, if a token may go there: its host is one of
    /// a token's hosts, over https (or http to a loopback host), and the URL
    /// carries no user-info of its own.
    pub fn for_url(&self, url: &str) -> Option<Credential<'_>> {
        let url = Url::parse(url).ok()?;
        let host = url.host_str().map(normal_host)?;
        let secure = match url.scheme() {
            "https" => true,
            "http" => is_loopback(&host),
            _ => false,
        };
        if !secure || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        self.tokens
            .iter()
            .find(|t| t.hosts.contains(&host))
            .map(|t| Credential {
                username: &t.username,
                token: &t.token,
                source: &t.source,
                host: host.clone(),
            })
    }

    /// `message` with every token replaced by `***` (libgit2 never quotes a
    /// password, but an error must not carry one whatever happens).
    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for t in &self.tokens {
            out = out.replace(&t.token, "***");
        }
        out
    }
}

/// A host name as compared: lowercase, without brackets' surrounding spaces.
fn normal_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The host an API's repositories are cloned from: the API's own host, but
/// `github.com` for `api.github.com` (GitHub Enterprise Server serves both
/// on one host).
pub fn clone_host_of_api(api: &Url) -> Option<String> {
    let host = api.host_str().map(normal_host)?;
    Some(match host.as_str() {
        "api.github.com" => "github.com".to_string(),
        _ => host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_to_its_host_only() {
        let mut auth = GitAuth::default();
        auth.add("GitHub.com", GITHUB_USER, "tok3n", "GITHUB_TOKEN");
        let c = auth
            .for_url("https://github.com/acme/a.git")
            .expect("match");
        assert_eq!((c.username, c.token), ("x-access-token", "tok3n"));
        assert!(auth.for_url("https://github.com:8443/acme/a.git").is_some());
        for other in [
            "https://gitlab.com/acme/a.git",
            "https://github.com.evil.example/acme/a.git",
            "http://github.com/acme/a.git",
            "ssh://git@github.com/acme/a.git",
            "https://me:pw@github.com/acme/a.git",
            "git@github.com:acme/a.git",
        ] {
            assert!(auth.for_url(other).is_none(), "{other}");
        }
        let mut local = GitAuth::default();
        local.add("127.0.0.1", GITLAB_USER, "t", "GITLAB_TOKEN");
        assert!(local.for_url("http://127.0.0.1:9/g/p.git").is_some());
        assert!(!format!("{auth:?}").contains("tok3n"));
        assert_eq!(auth.scrub("x tok3n y"), "x *** y");
    }

    #[test]
    fn empty_tokens_and_hosts_are_ignored() {
        let mut auth = GitAuth::default();
        auth.add("github.com", GITHUB_USER, "  ", "X");
        auth.add(" ", GITHUB_USER, "t", "X");
        assert!(auth.is_empty());
    }

    #[test]
    fn clone_hosts() {
        let host = |u: &str| clone_host_of_api(&Url::parse(u).expect("url"));
        assert_eq!(
            host("https://api.github.com").as_deref(),
            Some("github.com")
        );
        assert_eq!(
            host("https://ghe.example.com/api/v3").as_deref(),
            Some("ghe.example.com")
        );
        assert_eq!(host("http://127.0.0.1:1234").as_deref(), Some("127.0.0.1"));
    }
}
