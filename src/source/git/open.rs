//! Turning a REPO argument into an open repository. Local paths (working
//! trees, `.git` directories, bare repositories) are opened in place; URLs
//! are cloned as bare mirrors (every ref, no checkout) into a temporary
//! directory that is removed afterwards, or into `--keep-clone DIR`.
//! Credentials come from a token for the URL's host ([`super::auth`]), else
//! from the user's own git setup (ssh-agent, credential helpers); URLs are
//! shown with any user-info removed.

use std::path::{Path, PathBuf};

use git2::build::RepoBuilder;
use git2::{
    AutotagOption, Cred, CredentialType, FetchOptions, RemoteCallbacks, RemoteRedirect, Repository,
};

use super::auth::GitAuth;

use super::GitError;

/// An open repository and what keeps it alive.
pub struct Opened {
    pub repo: Repository,
    /// The `.git` directory (or the bare repository): what workers open.
    pub git_dir: PathBuf,
    /// The repository as named in messages (URLs redacted).
    pub shown: String,
    /// Said once in the report (e.g. that a clone was made and where).
    pub note: Option<String>,
    // Declared last: dropped after `repo`, so the clone is closed before removal.
    _temp: Option<tempfile::TempDir>,
}

/// Refspec of a mirror: every ref of the remote, under the same name.
const MIRROR: &str = "+refs/*:refs/*";

/// Is `spec` a URL (or scp-style `user@host:path`) rather than a local path?
pub fn is_url(spec: &str) -> bool {
    if let Some((scheme, _)) = spec.split_once("://") {
        return !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    }
    // scp-like syntax, as git reads it: a colon before any slash, and not a local path.
    match (spec.find(':'), spec.find('/')) {
        (Some(colon), slash) => {
            colon > 1 && slash.is_none_or(|s| colon < s) && !Path::new(spec).exists()
        }
        _ => false,
    }
}

/// `https://user:token@host/x` → `https://***@host/x`. Paths are unchanged.
pub fn redact_url(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => spec.to_string(),
    }
}

pub fn open(
    spec: &str,
    keep_clone: Option<&Path>,
    auth: Option<&GitAuth>,
) -> Result<Opened, GitError> {
    if is_url(spec) {
        return clone(spec, keep_clone, auth);
    }
    let repo = Repository::open_ext(
        spec,
        git2::RepositoryOpenFlags::empty(),
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .map_err(|e| GitError::NotARepository {
        repo: spec.to_string(),
        message: e.message().to_string(),
    })?;
    Ok(Opened {
        git_dir: repo.path().to_path_buf(),
        repo,
        shown: spec.to_string(),
        note: None,
        _temp: None,
    })
}

fn clone(url: &str, keep_clone: Option<&Path>, auth: Option<&GitAuth>) -> Result<Opened, GitError> {
    let shown = redact_url(url);
    let failed = |message: String| GitError::Clone {
        repo: shown.clone(),
        // libgit2 may quote the URL back; never with its credentials.
        message: auth.map_or_else(
            || message.replace(url, &shown),
            |a| a.scrub(&message.replace(url, &shown)),
        ),
    };
    let (dest, temp, note) = match keep_clone {
        Some(dir) => {
            let dest = dir.join(clone_name(url));
            let note = format!("{shown}: mirror kept in {}", dest.display());
            (dest, None, note)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("cybrid-scan-clone-")
                .tempdir()
                .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
            let note = format!(
                "{shown}: cloned as a bare mirror into a temporary directory, removed after the scan"
            );
            (temp.path().join("repo.git"), Some(temp), note)
        }
    };
    let repo = if dest.join("HEAD").exists() {
        // A clone kept by an earlier run: bring it up to date instead.
        let repo = Repository::open_bare(&dest).map_err(|e| failed(e.message().to_string()))?;
        fetch_mirror(&repo, url, auth).map_err(|e| failed(e.message().to_string()))?;
        repo
    } else {
        let mut builder = RepoBuilder::new();
        builder
            .bare(true)
            .fetch_options(fetch_options(url, auth))
            .remote_create(|repo, name, url| repo.remote_with_fetch(name, url, MIRROR));
        builder
            .clone(url, &dest)
            .map_err(|e| failed(e.message().to_string()))?
    };
    Ok(Opened {
        git_dir: repo.path().to_path_buf(),
        repo,
        shown,
        note: Some(note),
        _temp: temp,
    })
}

fn fetch_mirror(repo: &Repository, url: &str, auth: Option<&GitAuth>) -> Result<(), git2::Error> {
    let mut remote = repo.remote_anonymous(url)?;
    remote.fetch(&[MIRROR], Some(&mut fetch_options(url, auth)), None)
}

fn fetch_options(clone_url: &str, auth: Option<&GitAuth>) -> FetchOptions<'static> {
    let auth = auth.filter(|a| !a.is_empty()).cloned();
    // A clone that may carry a token follows no redirect: the token could
    // otherwise be led to another host.
    let carries_token = auth
        .as_ref()
        .is_some_and(|a| a.for_url(clone_url).is_some());
    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0;
    let mut offered = false;
    callbacks.credentials(move |url, username, allowed| {
        // libgit2 asks again after each rejected credential: give up eventually.
        attempts += 1;
        if attempts > 4 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(c) = auth.as_ref().and_then(|a| a.for_url(url)) {
                // Offered once: asked again means it was refused.
                if offered {
                    return Err(git2::Error::from_str(&format!(
                        "authentication failed: {} refused the token from {} (user {})",
                        c.host, c.source, c.username
                    )));
                }
                offered = true;
                return Cred::userpass_plaintext(c.username, c.token);
            }
        }
        let user = username.unwrap_or("git");
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let config = git2::Config::open_default()?;
            return Cred::credential_helper(&config, url, username);
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        Cred::default()
    });
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks);
    if carries_token {
        fetch.follow_redirects(RemoteRedirect::None);
    }
    fetch.download_tags(AutotagOption::All);
    fetch
}

/// A directory name for a clone kept in `--keep-clone DIR`: the URL's last
/// path component, made safe.
fn clone_name(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let base = last.strip_suffix(".git").unwrap_or(last);
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    format!("{}.git", if safe.is_empty() { "repo" } else { safe })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_url("https://github.com/o/r.git"));
        assert!(is_url("ssh://git@host/o/r"));
        assert!(is_url("file:///tmp/x.git"));
        assert!(is_url("git@github.com:o/r.git"));
        assert!(!is_url("."));
        assert!(!is_url("/tmp/repo"));
        assert!(!is_url("./a:b/c"));
        assert!(!is_url("C:/work/repo"));
    }

    #[test]
    fn credentials_never_shown() {
        assert_eq!(
            redact_url("https://user:tok3n@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://github.com/o/r"),
            "https://github.com/o/r"
        );
        assert_eq!(redact_url("/tmp/a@b"), "/tmp/a@b");
    }

    #[test]
    fn clone_names() {
        assert_eq!(clone_name("https://github.com/o/r.git"), "r.git");
        assert_eq!(clone_name("git@github.com:o/r"), "r.git");
        assert_eq!(clone_name("file:///tmp/x/"), "x.git");
        assert_eq!(clone_name("https://h/.."), "repo.git");
    }
}
