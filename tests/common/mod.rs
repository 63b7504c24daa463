//! Credentials for the integration tests that plant, verify and revoke them.
#![allow(dead_code)] // each test binary uses its own part

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng;

/// A fresh 43-character value shaped like a Cybrid client_id or secret:
/// alphanumeric (a `_`/`-` separated part such as `id` would be dropped as a
/// placeholder by the engine) and never containing "eyJ" (how a JWT starts,
/// which the no-leak checks look for: a random value has it about once in 6,000).
pub fn credential() -> String {
    loop {
        let v = URL_SAFE_NO_PAD.encode(rand::thread_rng().gen::<[u8; 32]>());
        if v.bytes().all(|b| b.is_ascii_alphanumeric()) && !v.contains("eyJ") {
            return v;
        }
    }
}

/// An application's client_id and client_secret.
#[derive(Clone)]
pub struct Pair {
    pub id: String,
    pub secret: String,
}

pub fn pair() -> Pair {
    Pair {
        id: credential(),
        secret: credential(),
    }
}

/// A random 32-hex GUID, as the identity service gives applications.
pub fn guid() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 16]>())
}

/// `git ARGS` in `dir` with a fixed author, committer and date, `main` as the
/// first branch and no signing or system config: the same commits on every
/// machine. Fails the test, with git's stderr, when git does.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
