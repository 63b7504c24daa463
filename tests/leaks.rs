//! One leak, many places: a credential rebuilt into 100 blobs is 100
//! findings (JSON, JSONL, SARIF: one per location) but one leak (the JSON
//! `leaks` array, one human block); and the refs that reach each finding's
//! commit are exactly what `git for-each-ref --contains` says, on a history
//! with many pull-request refs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

fn fake_value() -> String {
    loop {
        let bytes: [u8; 32] = rand::random();
        let v = URL_SAFE_NO_PAD.encode(bytes);
        if !v.contains("eyJ") {
            return v;
        }
    }
}

struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        std::fs::create_dir_all(&path).unwrap();
        let repo = Repo { _dir: dir, path };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// `git -c commit.gpgsign=false` in the repository, isolated from the
    /// machine's configuration, as Ann Leak.
    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.path)
            .env("HOME", self.path.parent().unwrap())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ann Leak")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_COMMITTER_NAME", "Ann Leak")
            .env("GIT_COMMITTER_EMAIL", "ann@example.com")
            .args(["-c", "commit.gpgsign=false"]);
        cmd
    }

    fn git(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Commit `text` as `rel` at a fixed, increasing date; returns the commit.
    fn commit(&self, rel: &str, text: &str, n: u32) -> String {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self.git(&["add", "--", rel]);
        let date = format!("{} +0000", 1_700_000_000 + n * 60);
        let out = self
            .command()
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(["commit", "-q", "-m"])
            .arg(format!("build {n}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        self.git(&["rev-parse", "HEAD"])
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .current_dir(dir)
        .args(args)
        .env_remove("GITHUB_BASE_REF")
        .env_remove("CI_MERGE_REQUEST_DIFF_BASE_SHA")
        .output()
        .unwrap()
}

/// A compiled bundle rebuilt in 100 commits, the same demo credential in
/// every build; pull-request refs and branches off every tenth build.
fn rebuilt_bundle() -> (Repo, String, Vec<String>) {
    let repo = Repo::new();
    let (id, secret) = (fake_value(), fake_value());
    let mut commits = Vec::new();
    for n in 0..100u32 {
        let bundle = format!(
            "/*! build {n} */var e={{authUrl:\"https://id.sandbox.cybrid.app/oauth/token\",\
             credentials:JSON.parse('{{\"clientId\":\"{id}\",\"clientSecret\":\"{secret}\"}}'),h:{n}}};\n"
        );
        commits.push(repo.commit("dist/main.js", &bundle, n));
        if n % 10 == 5 {
            let c = commits[n as usize].clone();
            repo.git(&["update-ref", &format!("refs/pull/{n}/head"), &c]);
            repo.git(&["update-ref", &format!("refs/pull/{n}/merge"), &c]);
            repo.git(&["tag", &format!("v0.{n}"), &c]);
        }
    }
    (repo, secret, commits)
}

#[test]
fn one_credential_in_100_blobs_is_one_leak() {
    let (repo, secret, commits) = rebuilt_bundle();

    let json = run(&repo.path, &["git", "-f", "json", "."]);
    assert_eq!(json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let secrets: Vec<&Value> = findings
        .iter()
        .filter(|f| f["rule_id"] == "cybrid-client-secret")
        .collect();
    assert_eq!(secrets.len(), 100, "one finding per blob");
    let leaks = report["leaks"].as_array().unwrap();
    let leak = leaks
        .iter()
        .find(|l| l["rule_id"] == "cybrid-client-secret")
        .expect("a leak for the secret");
    assert_eq!(
        leaks
            .iter()
            .filter(|l| l["rule_id"] == "cybrid-client-secret")
            .count(),
        1
    );
    assert_eq!(leak["fingerprint"], secrets[0]["fingerprint"]);
    assert_eq!(leak["occurrences"], 100);
    assert_eq!(leak["blobs"], 100);
    assert_eq!(leak["commits"], 100);
    assert_eq!(leak["first_seen"]["commit"], commits[0].as_str());
    assert_eq!(leak["last_seen"]["commit"], commits[99].as_str());
    assert_eq!(leak["at_head"], true);
    assert_eq!(leak["paths"], serde_json::json!(["dist/main.js"]));
    assert_eq!(leak["confidence"], "high");
    assert!(leak["client_id"].is_string(), "{leak}");
    let refs: Vec<&str> = leak["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(refs.contains(&"refs/heads/main") && refs.contains(&"refs/pull/95/merge"));
    assert!(refs.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    let text = String::from_utf8_lossy(&json.stdout);
    assert!(!text.contains(&secret), "redacted everywhere");

    let human = run(&repo.path, &["git", "--no-color", "."]);
    let text = String::from_utf8_lossy(&human.stdout).to_string();
    assert!(!text.contains(&secret));
    let blocks = text
        .lines()
        .filter(|l| l.starts_with("cybrid-client-secret"))
        .count();
    assert_eq!(blocks, 1, "{text}");
    assert!(
        text.contains("seen in 100 blobs, 100 commits, 1 path; still at HEAD"),
        "{text}"
    );
    assert!(text.contains("+95 more"), "{text}");
    assert!(
        text.contains("first seen at dist/main.js:1:") && text.contains(&commits[0][..12]),
        "{text}"
    );

    let jsonl = run(&repo.path, &["git", "-f", "jsonl", "."]);
    let lines = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .filter(|l| l.contains("\"cybrid-client-secret\""))
        .count();
    assert_eq!(lines, 100, "jsonl stays one finding per line");

    let sarif = run(&repo.path, &["git", "-f", "sarif", "."]);
    let sarif: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let prints: BTreeSet<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "cybrid-client-secret")
        .map(|r| r["properties"]["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        prints.len(),
        1,
        "every result carries the leak's fingerprint"
    );
}

#[test]
fn refs_are_exactly_those_that_contain_the_commit() {
    let (repo, _, _) = rebuilt_bundle();
    // A side line off build 42 with a credential of its own, reached only
    // by its branch and pull-request ref.
    repo.git(&["checkout", "-q", "-b", "feature", "HEAD~57"]);
    repo.commit(
        "side.env",
        &format!("CYBRID_CLIENT_SECRET={}\n", fake_value()),
        200,
    );
    let side = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["update-ref", "refs/pull/500/head", &side]);
    repo.git(&["checkout", "-q", "main"]);
    // Every ref, not the first 32 a report lists by default.
    let report: Value =
        serde_json::from_slice(&run(&repo.path, &["git", "-f", "json", "--all-refs", "."]).stdout)
            .unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() >= 101);
    for f in findings {
        let commit = f["location"]["commit"].as_str().unwrap();
        let mut expected: Vec<String> = repo
            .git(&["for-each-ref", "--contains", commit, "--format=%(refname)"])
            .lines()
            .map(str::to_string)
            .collect();
        let on_head = Command::new("git")
            .current_dir(&repo.path)
            .args(["merge-base", "--is-ancestor", commit, "HEAD"])
            .status()
            .unwrap()
            .success();
        if on_head {
            expected.push("HEAD".into());
        }
        expected.sort();
        let got: Vec<String> = f["location"]["refs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, expected, "refs of {commit}");
    }
    let side_finding = findings
        .iter()
        .find(|f| f["location"]["path"] == "side.env")
        .unwrap();
    assert_eq!(side_finding["location"]["at_head"], false);
    assert_eq!(
        side_finding["location"]["refs"],
        serde_json::json!(["refs/heads/feature", "refs/pull/500/head"])
    );
}
