//! `cybrid-scan sweep` and `merge` on real repositories made with `git`:
//! 36 manifest entries (leaks planted in some, one with a corrupt object, one
//! broken, two unreachable URLs, one cloned over `file://`), run through the
//! real binary: a full sweep, shards, a sweep killed and resumed, and
//! verification against the identity-service simulator with the cache.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use cybrid_scan::idsim::{AppKind, Application, Seed, Simulator};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{git, pair, Pair};

/// Repositories made with `git` (plus the entries that are not repositories).
const REPOS: usize = 32;
/// A credential in a URL of the manifest: must never be printed.
const URL_TOKEN: &str = "tok3nNeverPrinted";

fn commit_file(repo: &Path, name: &str, text: &str, message: &str) {
    let path = repo.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&path, text).expect("write");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

fn env_text(p: &Pair) -> String {
    format!(
        "# service settings\nCYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        p.id, p.secret
    )
}

/// The generated repositories and what was planted where.
struct Fixture {
    _dir: TempDir,
    manifest: PathBuf,
    /// (repository key, secret) of every planted leak.
    planted: BTreeSet<(String, String)>,
    /// Every distinct planted pair.
    pairs: Vec<Pair>,
    /// Keys of the entries that cannot be scanned at all.
    failing: BTreeSet<String>,
    /// Key of the repository with a corrupt object.
    corrupt: String,
    /// Every repository key of the manifest.
    keys: BTreeSet<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut planted = BTreeSet::new();
    let mut pairs = Vec::new();
    let mut lines = vec![
        "# every repository of the organisation".to_string(),
        String::new(),
    ];
    let mut keys = BTreeSet::new();
    // One pair leaked into several repositories: verified once.
    let shared = pair();
    pairs.push(shared.clone());
    for i in 0..REPOS {
        let name = format!("repo-{i:02}");
        let repo = root.join(&name);
        fs::create_dir(&repo).expect("mkdir");
        git(&repo, &["init", "-q"]);
        commit_file(&repo, "README.md", &format!("# {name}\n"), "init");
        commit_file(&repo, "src/main.rs", "fn main() {}\n", "code");
        let key = repo.to_string_lossy().into_owned();
        if i % 3 == 0 {
            let p = pair();
            commit_file(&repo, ".env", &env_text(&p), "add settings");
            if i % 2 == 0 {
                // Deleted again: still in history.
                fs::remove_file(repo.join(".env")).expect("rm");
                git(&repo, &["commit", "-q", "-am", "remove settings"]);
            }
            planted.insert((key.clone(), p.secret.clone()));
            pairs.push(p);
        }
        if i % 10 == 1 {
            commit_file(
                &repo,
                "deploy/cybrid.env",
                &env_text(&shared),
                "deploy settings",
            );
            planted.insert((key.clone(), shared.secret.clone()));
        }
        if i == 5 {
            // Cloned as a URL (a bare mirror in a temporary directory); no
            // leak is planted in repo-05 (5 % 3 != 0, 5 % 10 != 1).
            let url = format!("file://{}/.git", repo.display());
            lines.push(url);
            keys.insert(format!("file://{}", repo.display()));
            continue;
        }
        keys.insert(key.clone());
        lines.push(key);
    }
    // A repository with a corrupt object: listed, the rest of it scanned.
    let corrupt = root.join("corrupt");
    fs::create_dir(&corrupt).expect("mkdir");
    git(&corrupt, &["init", "-q"]);
    let p = pair();
    commit_file(&corrupt, ".env", &env_text(&p), "settings");
    commit_file(&corrupt, "notes.txt", "some notes\n", "notes");
    let out = StdCommand::new("git")
        .current_dir(&corrupt)
        .args(["rev-parse", "HEAD:notes.txt"])
        .output()
        .expect("rev-parse");
    let oid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let object = corrupt.join(".git/objects").join(&oid[..2]).join(&oid[2..]);
    let mut perms = fs::metadata(&object).expect("object").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&object, perms).expect("chmod");
    fs::write(&object, b"this is not a zlib stream").expect("corrupt");
    let corrupt_key = corrupt.to_string_lossy().into_owned();
    planted.insert((corrupt_key.clone(), p.secret.clone()));
    pairs.push(p);
    lines.push(format!("{corrupt_key}   # has a corrupt object"));
    keys.insert(corrupt_key.clone());
    // Not a repository at all.
    let broken = root.join("broken");
    fs::create_dir_all(broken.join(".git")).expect("mkdir");
    fs::write(broken.join(".git/HEAD"), "garbage\n").expect("write");
    let broken_key = broken.to_string_lossy().into_owned();
    lines.push(broken_key.clone());
    keys.insert(broken_key.clone());
    // Unreachable: nothing there, and nothing listening (with a credential).
    lines.push("file:///nonexistent/repo.git".into());
    lines.push(format!(
        "https://bot:{URL_TOKEN}@127.0.0.1:9/acme/unreachable.git"
    ));
    keys.insert("file:///nonexistent/repo".into());
    keys.insert("https://127.0.0.1:9/acme/unreachable".into());
    // A repeated line (another spelling of the same key) is scanned once.
    lines.push(format!("{}/", root.join("repo-00").display()));
    lines.push(String::new());
    let manifest = root.join("manifest.txt");
    fs::write(&manifest, lines.join("\n")).expect("manifest");
    let failing: BTreeSet<String> = [
        broken_key,
        "file:///nonexistent/repo".to_string(),
        "https://127.0.0.1:9/acme/unreachable".to_string(),
    ]
    .into();
    Fixture {
        _dir: dir,
        manifest,
        planted,
        pairs,
        failing,
        corrupt: corrupt_key,
        keys,
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "JSON report expected ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn sweep(extra: &[&str]) -> Run {
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("sweep")
        .arg("--manifest")
        .arg(&fixture().manifest)
        .args(["-f", "json"])
        .args(extra)
        .timeout(Duration::from_secs(300));
    let out = cmd.output().expect("run sweep");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn leaks(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["repository"].as_str().expect("repository").to_string(),
                f["secret"].as_str().expect("secret").to_string(),
            )
        })
        .collect()
}

fn repositories(report: &Value) -> Vec<String> {
    report["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["repository"].as_str().expect("name").to_string())
        .collect()
}

/// The report without what differs between any two runs (timings).
fn comparable(mut report: Value) -> Value {
    report["stats"]["duration_ms"] = Value::Null;
    if let Some(repos) = report["repositories"].as_array_mut() {
        for r in repos {
            r["duration_ms"] = Value::Null;
        }
    }
    report
}

/// The reference: one uninterrupted sweep with secrets shown.
fn full_run() -> &'static Value {
    static FULL: OnceLock<Value> = OnceLock::new();
    FULL.get_or_init(|| {
        let run = sweep(&["--show-secrets"]);
        assert_eq!(run.status, 1, "findings exit status: {}", run.stderr);
        run.json()
    })
}

#[test]
fn a_full_sweep_finds_exactly_the_planted_leaks() {
    let fx = fixture();
    let report = full_run();
    assert_eq!(leaks(report), fx.planted);
    assert!(report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["rule_id"] == "cybrid-client-secret" && f["location"]["commit"].is_string()));
    // Every entry is summarised once; the failing ones say why and did not
    // stop the others.
    let names = repositories(report);
    assert_eq!(names.iter().cloned().collect::<BTreeSet<_>>(), fx.keys);
    assert_eq!(names.len(), fx.keys.len(), "no repository twice");
    for r in report["repositories"].as_array().expect("repositories") {
        let name = r["repository"].as_str().unwrap_or_default();
        let failed = fx.failing.contains(name);
        assert_eq!(
            r["status"],
            if failed { "failed" } else { "scanned" },
            "{r}"
        );
        assert_eq!(r["error"].is_string(), failed, "{r}");
        let planted = fx.planted.iter().filter(|(k, _)| k == name).count() as u64;
        assert_eq!(r["findings"], planted, "{r}");
        if !failed {
            assert!(r["commits"].as_u64().unwrap_or(0) >= 1, "{r}");
        }
    }
    let corrupt = report["repositories"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["repository"] == fx.corrupt.as_str()))
        .expect("corrupt repository summarised");
    assert!(corrupt["errors"].as_u64().unwrap_or(0) >= 1, "{corrupt}");
    let errors = report["errors"].as_array().expect("errors");
    for key in &fx.failing {
        assert!(
            errors.iter().any(|e| e["path"] == key.as_str()),
            "{key} not in errors"
        );
    }
    assert!(errors
        .iter()
        .any(|e| e["path"].as_str().unwrap_or("").starts_with(&fx.corrupt)));
    let notes = report["notes"].as_array().expect("notes");
    assert!(notes
        .iter()
        .any(|n| n.as_str().unwrap_or("").contains("repeats")));
    let text = report.to_string();
    assert!(!text.contains(URL_TOKEN), "credential of a URL printed");
}

#[test]
fn redacted_by_default_and_a_human_summary_per_repository() {
    let fx = fixture();
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("sweep")
        .arg("--manifest")
        .arg(&fx.manifest)
        .timeout(Duration::from_secs(300));
    let out = cmd.output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for p in &fx.pairs {
        assert!(!stdout.contains(&p.secret) && !stderr.contains(&p.secret));
        assert!(!stdout.contains(&p.id) && !stderr.contains(&p.id));
    }
    assert!(!stdout.contains(URL_TOKEN) && !stderr.contains(URL_TOKEN));
    let failed = fx.failing.len();
    assert!(
        stdout.contains(&format!(
            "repositories: {} scanned, {failed} failed",
            fx.keys.len() - failed
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED  file:///nonexistent/repo"),
        "{stdout}"
    );
    // Not a terminal: plain progress lines, ending with the totals.
    assert!(
        stderr.contains(&format!("sweep: {n}/{n} repositories", n = fx.keys.len())),
        "{stderr}"
    );
    // --quiet: nothing on standard error.
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("sweep")
        .arg("--manifest")
        .arg(&fx.manifest)
        .args(["--quiet", "-f", "json"])
        .timeout(Duration::from_secs(300));
    let out = cmd.output().expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn four_shards_cover_the_manifest_exactly_once_and_merge_back() {
    let fx = fixture();
    let full = full_run();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen: Vec<String> = Vec::new();
    let mut union = BTreeSet::new();
    let mut paths = Vec::new();
    for k in 0..4 {
        let out = dir.path().join(format!("report-{k}.json"));
        let run = sweep(&[
            "--shard",
            &format!("{k}/4"),
            "--show-secrets",
            "-o",
            out.to_str().expect("utf-8 path"),
        ]);
        // A shard whose only failure is the missing repository, without
        // findings, is incomplete (2), never clean.
        assert!(
            run.status == 0
                || run.status == 1
                || (run.status == 2 && run.stderr.contains("could not be scanned at all")),
            "{}",
            run.stderr
        );
        let report: Value =
            serde_json::from_slice(&fs::read(&out).expect("shard report")).expect("json");
        let names = repositories(&report);
        assert!(!names.is_empty(), "shard {k} is empty");
        seen.extend(names);
        union.extend(leaks(&report));
        paths.push(out);
    }
    let distinct: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), distinct.len(), "a repository in two shards");
    assert_eq!(distinct, fx.keys);
    assert_eq!(union, fx.planted);

    // merge REPORT... gives the unsharded run's findings and repositories.
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("merge")
        .args(&paths)
        .timeout(Duration::from_secs(60));
    let out = cmd.output().expect("merge");
    assert_eq!(out.status.code(), Some(1));
    let merged: Value = serde_json::from_slice(&out.stdout).expect("merged json");
    assert_eq!(merged["findings"], full["findings"]);
    let strip = |v: &Value| comparable(v.clone())["repositories"].clone();
    assert_eq!(strip(&merged), strip(full));
    assert_eq!(merged["errors"], full["errors"]);

    // The same shard twice: its findings once, and the overlap said.
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("merge")
        .args([&paths[0], &paths[0], &paths[1]])
        .timeout(Duration::from_secs(60));
    let out = cmd.output().expect("merge");
    let twice: Value = serde_json::from_slice(&out.stdout).expect("json");
    let once: Value = serde_json::from_slice(&fs::read(&paths[0]).expect("read")).expect("json");
    let part: Value = serde_json::from_slice(&fs::read(&paths[1]).expect("read")).expect("json");
    assert_eq!(
        twice["findings"].as_array().map(Vec::len),
        Some(
            once["findings"].as_array().map_or(0, Vec::len)
                + part["findings"].as_array().map_or(0, Vec::len)
        )
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate finding(s) dropped"));
    assert!(twice["notes"].to_string().contains("more than one report"));
}

#[test]
fn a_sweep_killed_midway_resumes_to_the_same_report() {
    let fx = fixture();
    let state = tempfile::tempdir().expect("tempdir");
    let records = state.path().join("repos");
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("cybrid-scan"))
        .arg("sweep")
        .arg("--manifest")
        .arg(&fx.manifest)
        .arg("--state")
        .arg(state.path())
        .args([
            "--threads",
            "1",
            "--concurrent-repos",
            "1",
            "-f",
            "json",
            "--show-secrets",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sweep");
    let count = || {
        fs::read_dir(&records).map_or(0, |d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let finished = count();
    assert!(finished >= 2, "no state written");
    assert!(
        finished < fx.keys.len(),
        "the sweep finished before it could be killed ({finished} records)"
    );

    let resumed = sweep(&[
        "--state",
        state.path().to_str().expect("utf-8"),
        "--show-secrets",
    ]);
    assert_eq!(resumed.status, 1, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("taken from the state directory"),
        "{}",
        resumed.stderr
    );
    assert_eq!(comparable(resumed.json()), comparable(full_run().clone()));

    // A third run scans nothing again but the failed ones, same report.
    let again = sweep(&[
        "--state",
        state.path().to_str().expect("utf-8"),
        "--show-secrets",
    ]);
    let taken = fx.keys.len() - fx.failing.len();
    assert!(
        again.stderr.contains(&format!(
            "{taken} repositories finished in an earlier run were taken from the state directory; {} scanned now",
            fx.failing.len()
        )),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("failed last time"),
        "{}",
        again.stderr
    );
    assert_eq!(comparable(again.json()), comparable(full_run().clone()));
}

#[test]
fn the_verification_cache_spares_the_second_run_every_token_request() {
    let fx = fixture();
    let sim = Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).expect("simulator");
    // Half the pairs are live applications; the rest are unknown (invalid).
    for p in fx.pairs.iter().step_by(2) {
        sim.add_application(Application {
            client_id: p.id.clone(),
            client_secret: p.secret.clone(),
            environment: "sandbox".into(),
            kind: AppKind::Bank,
            guid: String::new(),
            organization_guid: String::new(),
            scopes: Vec::new(),
            ip_allowlist: Vec::new(),
            name: String::new(),
        });
    }
    let state = tempfile::tempdir().expect("tempdir");
    let endpoint = format!("sandbox={}/sandbox", sim.url());
    let args = |ttl: &str| -> Vec<String> {
        vec![
            "--state".into(),
            state.path().to_string_lossy().into_owned(),
            "--verify".into(),
            "--endpoint".into(),
            endpoint.clone(),
            "--verify-cache-ttl".into(),
            ttl.into(),
        ]
    };
    let run = |ttl: &str| {
        let a = args(ttl);
        sweep(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let first = run("86400");
    assert_eq!(first.status, 3, "live findings exit 3: {}", first.stderr);
    let live_pairs = fx.pairs.len().div_ceil(2);
    // One request per distinct pair, though the shared pair leaked in several repositories.
    assert_eq!(sim.stats().token_requests, fx.pairs.len() as u64);
    let report = first.json();
    let live: usize = report["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["live"].as_u64().unwrap_or(0) as usize)
        .sum();
    let live_findings = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["verification"]["status"] == "live")
        .count();
    assert_eq!(live, live_findings);
    assert!(
        live_findings >= live_pairs,
        "{live_findings} < {live_pairs}"
    );
    for p in &fx.pairs {
        assert!(!first.stdout.contains(&p.secret) && !first.stderr.contains(&p.secret));
    }
    let cache = fs::read_to_string(state.path().join("verification-cache.json")).expect("cache");
    for p in &fx.pairs {
        assert!(!cache.contains(&p.secret) && !cache.contains(&p.id));
    }

    let second = run("86400");
    assert_eq!(second.status, 3);
    assert_eq!(
        sim.stats().token_requests,
        fx.pairs.len() as u64,
        "the second run sent token requests"
    );
    assert_eq!(
        comparable(second.json())["findings"],
        comparable(report.clone())["findings"]
    );
    assert!(second
        .stdout
        .contains("answered from the verification cache"));

    // Verdicts older than the TTL are asked again.
    let third = run("0");
    assert_eq!(third.status, 3);
    assert_eq!(sim.stats().token_requests, 2 * fx.pairs.len() as u64);
}
