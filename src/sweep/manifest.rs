//! The sweep manifest: which repositories to scan, and which of them belong
//! to this shard.
//!
//! Each repository has a *key*, its normalised name: URLs with the scheme and
//! host lowercased, user-info (credentials) removed, default ports, trailing
//! `/` and `.git` dropped; local paths as written, without trailing `/`. The
//! key names the repository in reports, names its state file, and decides its
//! shard (SHA-256 of the key, modulo N), so N machines given the same
//! manifest cover it exactly once whatever order the lines are in.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One repository of the manifest.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// What to clone or open: the line as written (URLs may carry
    /// credentials), with relative paths resolved against the manifest's
    /// directory. Never printed.
    pub target: String,
    /// The normalised, credential-free name (see the module comment).
    pub key: String,
    /// 1-based line of the manifest, for messages.
    pub line: usize,
    /// The user-info of a URL (`user:token`), so messages can be scrubbed of it.
    userinfo: Option<String>,
}

impl fmt::Debug for Entry {
    // `target` may hold credentials: show only the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// Parse one manifest line's repository (already trimmed, not a comment).
    pub fn parse(text: &str, line: usize, base: Option<&Path>) -> Self {
        let text = text.trim();
        match split_url(text) {
            Some(url) => Entry {
                target: text.to_string(),
                key: url.normalised(),
                line,
                userinfo: url.userinfo.filter(|u| !u.is_empty()).map(str::to_string),
            },
            None => {
                let key = trim_trailing_slashes(text).to_string();
                let target = match base {
                    Some(base) if Path::new(text).is_relative() => {
                        base.join(text).to_string_lossy().into_owned()
                    }
                    _ => text.to_string(),
                };
                Entry {
                    target,
                    key,
                    line,
                    userinfo: None,
                }
            }
        }
    }

    /// Is this entry a URL (cloned) rather than a local path (opened in place)?
    pub fn is_url(&self) -> bool {
        split_url(&self.target).is_some()
    }

    /// `message` with this entry's credentials (if any) replaced by `***`:
    /// errors from a clone may quote the URL they were given.
    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.replace(&self.target, &self.key);
        if let Some(u) = &self.userinfo {
            out = out.replace(u.as_str(), "***");
            if let Some((_, password)) = u.split_once(':').filter(|(_, p)| !p.is_empty()) {
                out = out.replace(password, "***");
            }
        }
        out
    }

    /// The shard (0-based, of `count`) this repository belongs to.
    pub fn shard(&self, count: u32) -> u32 {
        shard_of(&self.key, count)
    }

    /// A file-name-safe identity of the repository: hex SHA-256 of the key.
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.key.as_bytes()))
    }
}

/// The shard of a repository key among `count` shards.
pub fn shard_of(key: &str, count: u32) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

/// `--shard K/N`: this machine scans shard K (0-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("--shard {0:?}: expected K/N with 0 <= K < N (e.g. 0/4)")]
    Syntax(String),
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ShardError::Syntax(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A parsed manifest.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Distinct repositories, in manifest order.
    pub entries: Vec<Entry>,
    /// Lines naming a repository already listed (same key): `(line, key, first line)`.
    pub duplicates: Vec<(usize, String, usize)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("manifest {path} lists no repositories")]
    Empty { path: String },
}

impl Manifest {
    /// Read a manifest file; relative paths in it are relative to its directory.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let base: PathBuf = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let manifest = Self::parse(&text, Some(&base));
        if manifest.entries.is_empty() {
            return Err(ManifestError::Empty {
                path: path.display().to_string(),
            });
        }
        Ok(manifest)
    }

    /// Parse manifest text: one repository per line, `#` starts a comment
    /// (at the start of a line or after whitespace), blank lines ignored.
    pub fn parse(text: &str, base: Option<&Path>) -> Self {
        let mut manifest = Manifest::default();
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for (i, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            let entry = Entry::parse(line, i + 1, base);
            match seen.get(&entry.key) {
                Some(first) => manifest
                    .duplicates
                    .push((entry.line, entry.key.clone(), *first)),
                None => {
                    seen.insert(entry.key.clone(), entry.line);
                    manifest.entries.push(entry);
                }
            }
        }
        manifest
    }

    /// A manifest of clone URLs listed by an API (`sweep --github-org`):
    /// entry N is "line" N; a URL repeating an earlier key is dropped.
    pub fn from_urls(urls: impl IntoIterator<Item = String>) -> Self {
        let mut manifest = Manifest::default();
        let mut seen = std::collections::HashSet::new();
        for (i, url) in urls.into_iter().enumerate() {
            let entry = Entry::parse(&url, i + 1, None);
            if seen.insert(entry.key.clone()) {
                manifest.entries.push(entry);
            }
        }
        manifest
    }

    /// The entries of one shard (all of them without sharding).
    pub fn shard(&self, shard: Option<Shard>) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| shard.is_none_or(|s| e.shard(s.count) == s.index))
            .collect()
    }
}

/// A line without its comment. `#` inside a URL (a fragment) is not a
/// comment unless preceded by whitespace or at the start of the line.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn trim_trailing_slashes(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    if t.is_empty() && !s.is_empty() {
        "/"
    } else {
        t
    }
}

/// A URL taken apart just enough to normalise it.
struct Url<'a> {
    scheme: String,
    userinfo: Option<&'a str>,
    host: &'a str,
    path: &'a str,
}

/// `scheme://[userinfo@]host[:port]/path` or scp-like `[user@]host:path`;
/// `None` for a local path.
fn split_url(s: &str) -> Option<Url<'_>> {
    if let Some((scheme, rest)) = s.split_once("://") {
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return None;
        }
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        return Some(Url {
            scheme: scheme.to_ascii_lowercase(),
            userinfo,
            host,
            path,
        });
    }
    // scp-like, as git reads it: a colon before any slash, more than one
    // character before it (so `C:\repo` stays a path).
    let colon = s.find(':')?;
    if colon <= 1 || s.find('/').is_some_and(|slash| slash < colon) {
        return None;
    }
    let (authority, path) = (&s[..colon], &s[colon + 1..]);
    let (userinfo, host) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    Some(Url {
        scheme: "ssh".into(),
        userinfo,
        host,
        path,
    })
}

impl Url<'_> {
    fn normalised(&self) -> String {
        let mut host = self.host.to_ascii_lowercase();
        let default_port = match self.scheme.as_str() {
            "https" => Some(":443"),
            "http" => Some(":80"),
            "ssh" | "git+ssh" | "ssh+git" => Some(":22"),
            "git" => Some(":9418"),
            _ => None,
        };
        if let Some(port) = default_port {
            if let Some(stripped) = host.strip_suffix(port) {
                host = stripped.to_string();
            }
        }
        let scheme = match self.scheme.as_str() {
            "git+ssh" | "ssh+git" => "ssh",
            other => other,
        };
        let mut path = self.path.trim_end_matches('/');
        if let Some(p) = path.strip_suffix(".git") {
            path = p.trim_end_matches('/');
        }
        let path = if path.starts_with('/') || path.is_empty() {
            path.to_string()
        } else {
            format!("/{path}")
        };
        format!("{scheme}://{host}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        Entry::parse(s, 1, None).key
    }

    #[test]
    fn urls_normalise_to_one_key() {
        let k = "https://github.com/acme/payments";
        for spelling in [
            "https://github.com/acme/payments",
            "HTTPS://GitHub.COM/acme/payments.git",
            "https://github.com/acme/payments/",
            "https://github.com:443/acme/payments.git/",
            "https://x-access-token:ghp_abc@github.com/acme/payments.git",
        ] {
            assert_eq!(key(spelling), k, "{spelling}");
        }
        // Path case is kept: servers may tell them apart.
        assert_ne!(key("https://github.com/Acme/payments"), k);
        assert_eq!(
            key("git@github.com:acme/payments.git"),
            "ssh://github.com/acme/payments"
        );
        assert_eq!(
            key("ssh://git@GitHub.com:22/acme/payments"),
            "ssh://github.com/acme/payments"
        );
        assert_eq!(key("file:///srv/git/a.git"), "file:///srv/git/a");
    }

    #[test]
    fn paths_stay_paths() {
        assert_eq!(key("/srv/repos/a/"), "/srv/repos/a");
        assert_eq!(key("C:\\repos\\a"), "C:\\repos\\a");
        assert_eq!(key("./a:b/c"), "./a:b/c");
        let e = Entry::parse("sub/repo", 3, Some(Path::new("/etc/m")));
        assert_eq!(e.target, "/etc/m/sub/repo");
        assert_eq!(e.key, "sub/repo");
        assert!(!e.is_url());
    }

    #[test]
    fn credentials_never_reach_the_key_debug_or_messages() {
        let e = Entry::parse("https://bot:s3cr3tTOKEN@git.example.com/a/b.git", 1, None);
        assert_eq!(e.key, "https://git.example.com/a/b");
        assert!(!format!("{e:?}").contains("s3cr3tTOKEN"));
        let msg = e.scrub(
            "failed to clone https://bot:s3cr3tTOKEN@git.example.com/a/b.git: auth s3cr3tTOKEN",
        );
        assert!(!msg.contains("s3cr3tTOKEN"), "{msg}");
        assert!(msg.contains("https://git.example.com/a/b"), "{msg}");
    }

    #[test]
    fn comments_blanks_and_duplicates() {
        let m = Manifest::parse(
            "# org repos\n\nhttps://h/a.git  # main\n  /srv/b\nhttps://H/a\nhttps://h/c#frag\n",
            None,
        );
        let keys: Vec<&str> = m.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["https://h/a", "/srv/b", "https://h/c#frag"]);
        assert_eq!(m.duplicates, vec![(5, "https://h/a".to_string(), 3)]);
        assert_eq!(m.entries[1].line, 4);
    }

    #[test]
    fn shards_partition_the_manifest() {
        let text: String = (0..200).map(|i| format!("https://h/r{i}\n")).collect();
        let m = Manifest::parse(&text, None);
        let mut seen = vec![0u32; m.entries.len()];
        for k in 0..4 {
            let shard = Shard { index: k, count: 4 };
            let part = m.shard(Some(shard));
            assert!(part.len() > 20, "shard {k} has {} entries", part.len());
            for e in part {
                seen[m.entries.iter().position(|x| x == e).unwrap_or(0)] += 1;
            }
        }
        assert!(seen.iter().all(|n| *n == 1));
        // Stable: a fixed key has a fixed shard, on every machine.
        assert_eq!(shard_of("https://h/r0", 4), shard_of("https://h/r0", 4));
        assert_eq!(m.shard(None).len(), 200);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "0/0", "1", "a/b", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
