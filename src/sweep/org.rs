//! `sweep --github-org ORG` / `--gitlab-group GROUP`: the repositories of an
//! organisation or group, listed through the same API client as `ci`
//! ([`crate::ci::connect`]: token from the environment, pagination, rate
//! limits, retries), filtered (archived repositories and forks are left out
//! unless asked for, as peers do), and turned into manifest entries keyed by
//! their credential-free clone URL, so sharding, `--state` and reports work
//! exactly as for a manifest. The clones authenticate with the same token,
//! sent only to the API's own host ([`git_auth`]).

use reqwest::Url;

use super::manifest::Manifest;
use crate::ci::http::HttpError;
use crate::ci::{Connection, Listed, Provider, ProviderKind};
use crate::source::git::auth::{clone_host_of_api, GitAuth, GITHUB_USER, GITLAB_USER};

/// Which listed repositories to sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrgFilter {
    pub include_archived: bool,
    pub include_forks: bool,
}

/// The repositories to sweep, and what was left out.
#[derive(Debug, Default)]
pub struct OrgListing {
    /// One entry per repository to sweep, in listing order.
    pub manifest: Manifest,
    /// Repositories the API listed.
    pub listed: usize,
    /// Left out: archived (without `--include-archived`).
    pub archived: usize,
    /// Left out: forks (without `--include-forks`; an archived fork counts
    /// as archived).
    pub forks: usize,
    /// Left out: no http(s) clone URL in the listing (their names).
    pub unusable: Vec<String>,
}

impl OrgListing {
    /// The report's note on what was listed and left out.
    pub fn note(&self, kind: ProviderKind, target: &str) -> String {
        let what = match kind {
            ProviderKind::GitHub => "github org",
            ProviderKind::GitLab => "gitlab group",
        };
        let mut note = format!(
            "sweep: {what} {target}: {} repositories listed, {} to sweep",
            self.listed,
            self.manifest.entries.len()
        );
        if self.archived > 0 || self.forks > 0 {
            note.push_str(&format!(
                "; skipped {} archived (--include-archived sweeps them) and {} fork(s) (--include-forks)",
                self.archived, self.forks
            ));
        }
        if !self.unusable.is_empty() {
            note.push_str(&format!(
                "; skipped {} without an http(s) clone URL: {}",
                self.unusable.len(),
                self.unusable.join(", ")
            ));
        }
        note
    }
}

/// List `target`'s repositories through `provider` and keep those `filter` takes.
pub fn list(
    provider: &dyn Provider,
    target: &str,
    filter: OrgFilter,
) -> Result<OrgListing, HttpError> {
    Ok(select(provider.list(target)?, filter))
}

/// The filtering of [`list`], on a listing.
pub fn select(listed: Vec<Listed>, filter: OrgFilter) -> OrgListing {
    let mut out = OrgListing {
        listed: listed.len(),
        ..OrgListing::default()
    };
    let mut urls = Vec::new();
    for l in listed {
        if l.archived && !filter.include_archived {
            out.archived += 1;
            continue;
        }
        if l.fork && !filter.include_forks {
            out.forks += 1;
            continue;
        }
        match l.clone_url.as_deref().filter(|u| usable(u)) {
            Some(url) => urls.push(url.to_string()),
            None => out.unusable.push(l.repo.name),
        }
    }
    out.manifest = Manifest::from_urls(urls);
    out
}

/// An http(s) URL with a host and nothing that would split a manifest line.
fn usable(url: &str) -> bool {
    !url.chars().any(char::is_whitespace)
        && Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
}

/// The clone credential of a connection: its token for the API's own host
/// (`github.com` for `api.github.com`), user `x-access-token` (GitHub) or
/// `oauth2` (GitLab). Empty without a token.
pub fn git_auth(kind: ProviderKind, connection: &Connection) -> GitAuth {
    let mut auth = GitAuth::default();
    if let (Some(token), Some(host)) = (&connection.token, clone_host_of_api(&connection.root)) {
        let user = match kind {
            ProviderKind::GitHub => GITHUB_USER,
            ProviderKind::GitLab => GITLAB_USER,
        };
        auth.add(&host, user, token.expose(), connection.token_var);
    }
    auth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::Repo;

    fn listed(name: &str, url: Option<&str>, archived: bool, fork: bool) -> Listed {
        Listed {
            repo: Repo {
                name: name.into(),
                id: name.into(),
            },
            clone_url: url.map(str::to_string),
            archived,
            fork,
        }
    }

    #[test]
    fn archived_and_forks_are_left_out_unless_asked() {
        let all = || {
            vec![
                listed("o/a", Some("https://github.com/o/a.git"), false, false),
                listed("o/b", Some("https://github.com/o/b.git"), true, false),
                listed("o/c", Some("https://github.com/o/c.git"), false, true),
                listed("o/d", Some("file:///etc"), false, false),
                listed("o/e", None, false, false),
                listed("o/a2", Some("https://GitHub.com/o/a"), false, false),
            ]
        };
        let l = select(all(), OrgFilter::default());
        let keys: Vec<&str> = l.manifest.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["https://github.com/o/a"]);
        assert_eq!((l.listed, l.archived, l.forks), (6, 1, 1));
        assert_eq!(l.unusable, ["o/d", "o/e"]);
        let note = l.note(ProviderKind::GitHub, "o");
        assert!(note.contains("skipped 1 archived"), "{note}");
        let l = select(
            all(),
            OrgFilter {
                include_archived: true,
                include_forks: true,
            },
        );
        assert_eq!(l.manifest.entries.len(), 3);
    }
}
