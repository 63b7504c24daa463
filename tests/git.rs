//! `cybrid-scan git` on real repositories built with the `git` program in
//! temporary directories: history, attribution, ranges (given and from CI
//! variables), the staged index, clones, and damaged or unusual repositories.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

/// A fresh, realistic fake client secret (43 url-safe base64 characters).
fn fake_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn env_line(secret: &str) -> String {
    format!("CYBRID_CLIENT_SECRET={secret}\n")
}

struct Repo {
    _dir: tempfile::TempDir,
    home: PathBuf,
    path: PathBuf,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let path = dir.path().join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&path).unwrap();
        let repo = Repo {
            _dir: dir,
            home,
            path,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// Another directory in the same temporary tree.
    fn sibling(&self, name: &str) -> PathBuf {
        self.path.parent().unwrap().join(name)
    }

    fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ann Leak")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_COMMITTER_NAME", "Ann Leak")
            .env("GIT_COMMITTER_EMAIL", "ann@example.com")
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "protocol.file.allow=always",
            ]);
        cmd
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.command(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.path, args)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Write, stage and commit one file; returns the new commit id.
    fn commit_file(&self, rel: &str, text: &str, message: &str) -> String {
        self.write(rel, text);
        self.git(&["add", "--", rel]);
        self.commit(message)
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

struct Scan {
    code: i32,
    report: Value,
    stderr: String,
}

impl Scan {
    fn findings(&self) -> &Vec<Value> {
        self.report["findings"].as_array().unwrap()
    }

    fn notes(&self) -> String {
        self.report["notes"].to_string()
    }
}

/// Run `cybrid-scan git --format json ARGS` in `dir`, with no CI variables
/// inherited from whatever runs the tests, plus `env`.
fn scan_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Scan {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"));
    cmd.current_dir(dir)
        .args(["git", "--format", "json"])
        .args(args);
    for var in [
        "GITHUB_BASE_REF",
        "GITHUB_SHA",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        "CI_COMMIT_SHA",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_REF",
        "CI_COMMIT_BEFORE_SHA",
        "CI_COMMIT_REF_NAME",
        "CI_DEFAULT_BRANCH",
        "GIT_INDEX_FILE",
        "GIT_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    Scan {
        code: out.status.code().unwrap_or(-1),
        report,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn scan(repo: &Repo, args: &[&str]) -> Scan {
    scan_in(&repo.path, args, &[])
}

#[test]
fn secret_added_then_deleted_is_attributed_to_the_commit_that_leaked_it() {
    let repo = Repo::new();
    let secret = fake_secret();
    repo.commit_file("README.md", "# app\n", "init");
    repo.write("src/readme.txt", "nothing here\n");
    repo.write(
        "deploy/.env",
        &format!("# cybrid sandbox\n{}", env_line(&secret)),
    );
    repo.git(&["add", "."]);
    repo.command(&repo.path)
        .args(["commit", "-q", "-m", "add deploy env"])
        .env("GIT_AUTHOR_NAME", "Bob Builder")
        .env("GIT_AUTHOR_EMAIL", "bob@example.com")
        .env("GIT_AUTHOR_DATE", "2021-03-04T05:06:07+02:00")
        .status()
        .unwrap();
    let leak = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["rm", "-q", "deploy/.env"]);
    repo.commit("remove env");

    let s = scan(&repo, &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1);
    let f = &s.findings()[0];
    let loc = &f["location"];
    assert_eq!(f["rule_id"], "cybrid-client-secret");
    assert_eq!(loc["source"], "git");
    assert_eq!(loc["path"], "deploy/.env");
    assert_eq!(loc["line"], 2);
    assert_eq!(loc["column"], 22);
    assert_eq!(loc["commit"], leak.as_str());
    assert_eq!(loc["author"], "Bob Builder <bob@example.com>");
    assert_eq!(loc["date"], "2021-03-04T05:06:07+02:00");
    assert_eq!(loc["at_head"], false);
    assert!(loc["refs"].to_string().contains("refs/heads/main"));
    // Redacted by default, in every field.
    assert!(!s.report.to_string().contains(&secret));
    assert!(!s.stderr.contains(&secret));
}

#[test]
fn one_blob_in_a_hundred_commits_on_three_branches_is_one_finding() {
    let repo = Repo::new();
    let secret = fake_secret();
    let first = repo.commit_file("config/app.env", &env_line(&secret), "config");
    for i in 0..100 {
        repo.commit_file("counter.txt", &format!("{i}\n"), &format!("tick {i}"));
        if i == 30 {
            repo.git(&["branch", "release"]);
        }
        if i == 60 {
            repo.git(&["branch", "hotfix"]);
        }
    }
    repo.git(&["checkout", "-q", "hotfix"]);
    repo.commit_file("fix.txt", "fixed\n", "fix");
    repo.git(&["checkout", "-q", "main"]);

    let s = scan(&repo, &[]);
    assert_eq!(s.findings().len(), 1, "{}", s.report);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["commit"], first.as_str());
    assert_eq!(loc["at_head"], true);
    let refs = loc["refs"].to_string();
    for r in ["refs/heads/main", "refs/heads/release", "refs/heads/hotfix"] {
        assert!(refs.contains(r), "{refs}");
    }
    // Every blob once: the env file, README-less history has 100 counters + fix.
    assert_eq!(s.report["stats"]["files"], 102);
}

#[test]
fn secret_reachable_only_from_a_tag() {
    let repo = Repo::new();
    let secret = fake_secret();
    repo.commit_file("README.md", "# app\n", "init");
    repo.git(&["checkout", "-q", "-b", "tmp"]);
    let tagged = repo.commit_file("creds.env", &env_line(&secret), "oops");
    repo.git(&["tag", "-a", "-m", "release with creds", "v0.9", "HEAD"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-D", "tmp"]);

    let s = scan(&repo, &[]);
    assert_eq!(s.findings().len(), 1);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["commit"], tagged.as_str());
    assert_eq!(loc["refs"], serde_json::json!(["refs/tags/v0.9"]));
    assert_eq!(loc["at_head"], false);
}

#[test]
fn secrets_in_stashes_including_older_ones() {
    let repo = Repo::new();
    let (old, new) = (fake_secret(), fake_secret());
    repo.commit_file("app.env", "CYBRID_CLIENT_SECRET=\n", "init");
    repo.write("app.env", &env_line(&old));
    repo.git(&["stash", "-q"]);
    repo.write("app.env", &env_line(&new));
    repo.git(&["stash", "-q"]);

    let s = scan(&repo, &[]);
    assert_eq!(s.findings().len(), 2, "{}", s.report);
    let refs: Vec<String> = s
        .findings()
        .iter()
        .map(|f| f["location"]["refs"].to_string())
        .collect();
    assert!(refs.iter().any(|r| r.contains("stash@{1}")), "{refs:?}");
    assert!(refs.iter().any(|r| r.contains("refs/stash")), "{refs:?}");
}

#[test]
fn secret_introduced_by_a_merge_commit() {
    let repo = Repo::new();
    let secret = fake_secret();
    repo.commit_file("settings.env", "MODE=base\n", "base");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit_file("settings.env", "MODE=side\n", "side");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("settings.env", "MODE=main\n", "main");
    let merge = repo
        .command(&repo.path)
        .args(["merge", "-q", "side"])
        .output()
        .unwrap();
    assert!(!merge.status.success(), "the merge must conflict");
    repo.write(
        "settings.env",
        &format!("MODE=merged\n{}", env_line(&secret)),
    );
    repo.git(&["add", "settings.env"]);
    let merged = repo.commit("merge side");

    let s = scan(&repo, &[]);
    assert_eq!(s.findings().len(), 1);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["commit"], merged.as_str());
    assert_eq!(loc["path"], "settings.env");
    assert_eq!(loc["line"], 2);
    assert_eq!(loc["at_head"], true);

    // A range ending at the merge sees what the merge itself brought.
    let r = scan(&repo, &["--range", "HEAD~1..HEAD"]);
    assert_eq!(r.findings().len(), 1, "{}", r.report);
    assert_eq!(r.findings()[0]["location"]["commit"], merged.as_str());
}

#[test]
fn renamed_file_keeps_its_first_path_and_commit() {
    let repo = Repo::new();
    let secret = fake_secret();
    let added = repo.commit_file("old.env", &env_line(&secret), "add");
    std::fs::create_dir_all(repo.path.join("config")).unwrap();
    repo.git(&["mv", "old.env", "config/prod.env"]);
    let renamed = repo.commit("rename");

    let s = scan(&repo, &[]);
    assert_eq!(s.findings().len(), 1);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["commit"], added.as_str());
    assert_eq!(loc["path"], "old.env");
    assert_eq!(
        loc["at_head"], true,
        "the same blob is still at HEAD, renamed"
    );

    // A range holding only the rename: the blob moved, so it is reported there.
    let r = scan(&repo, &["--range", &format!("{added}..{renamed}")]);
    assert_eq!(r.findings().len(), 1);
    assert_eq!(r.findings()[0]["location"]["path"], "config/prod.env");
    assert_eq!(r.findings()[0]["location"]["commit"], renamed.as_str());
}

/// main: A (secret 1) - B (secret 3, after the branch point)
///         \- feature: C (secret 2)
struct TwoBranches {
    repo: Repo,
    base: String,
    feature: String,
    feature_secret: String,
}

fn two_branches() -> TwoBranches {
    let repo = Repo::new();
    let (on_main, on_feature, later_main) = (fake_secret(), fake_secret(), fake_secret());
    let base = repo.commit_file("main.env", &env_line(&on_main), "main secret");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit_file("docs/notes.md", "notes\n", "docs");
    let feature = repo.commit_file("feature.env", &env_line(&on_feature), "feature secret");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("later.env", &env_line(&later_main), "later main secret");
    repo.git(&["checkout", "-q", "feature"]);
    TwoBranches {
        repo,
        base,
        feature,
        feature_secret: on_feature,
    }
}

fn assert_only_feature_secret(t: &TwoBranches, s: &Scan) {
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1, "{}", s.report);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["path"], "feature.env");
    assert_eq!(loc["commit"], t.feature.as_str());
    assert_eq!(loc["at_head"], true);
}

#[test]
fn range_scans_only_what_the_branch_added() {
    let t = two_branches();
    let s = scan(&t.repo, &["--range", "main..feature"]);
    assert_only_feature_secret(&t, &s);
    assert!(
        s.notes().contains("range used: main..feature"),
        "{}",
        s.notes()
    );
    assert!(s.stderr.contains("range used"), "{}", s.stderr);
    // The full history has all three.
    assert_eq!(scan(&t.repo, &[]).findings().len(), 3);
    // Nothing new in an empty range.
    let none = scan(&t.repo, &["--range", "feature..feature"]);
    assert_eq!(none.code, 0);
    // A base that does not exist is a usage error.
    let bad = scan(&t.repo, &["--range", "nosuch..feature"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("nosuch"), "{}", bad.stderr);
}

#[test]
fn range_defaults_come_from_ci_variables() {
    let t = two_branches();
    let dir = &t.repo.path;
    // GitHub Actions on a pull request: the target branch is fetched as origin/main.
    let head = t.repo.git(&["rev-parse", "main"]);
    t.repo
        .git(&["update-ref", "refs/remotes/origin/main", &head]);
    let gh = scan_in(
        dir,
        &["--range"],
        &[("GITHUB_BASE_REF", "main"), ("GITHUB_SHA", &t.feature)],
    );
    assert_only_feature_secret(&t, &gh);
    let notes = gh.notes();
    assert!(notes.contains("origin/main.."), "{notes}");
    assert!(notes.contains("GITHUB_BASE_REF"), "{notes}");
    assert!(gh.stderr.contains("GITHUB_BASE_REF"), "{}", gh.stderr);

    // GitLab merge request pipelines name the base commit itself.
    let gl = scan_in(
        dir,
        &["--range"],
        &[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &t.base),
            ("CI_COMMIT_SHA", &t.feature),
        ],
    );
    assert_only_feature_secret(&t, &gl);
    assert!(
        gl.notes().contains("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        "{}",
        gl.notes()
    );

    // Outside CI there is nothing to go on: say so, exit 2.
    let none = scan_in(dir, &["--range"], &[]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("GITHUB_BASE_REF"), "{}", none.stderr);
    // An empty GITHUB_BASE_REF (a push event) is no range either.
    let push = scan_in(dir, &["--range"], &[("GITHUB_BASE_REF", "")]);
    assert_eq!(push.code, 2);
    assert!(!t.feature_secret.is_empty());
}

/// The paths of a scan's findings, sorted.
fn paths(s: &Scan) -> Vec<String> {
    let mut p: Vec<String> = s
        .findings()
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap_or("?").to_string())
        .collect();
    p.sort();
    p
}

/// A GitHub push event file (what `GITHUB_EVENT_PATH` names) beside the repository.
fn push_event(repo: &Repo, before: &str, after: &str, git_ref: &str) -> PathBuf {
    let path = repo.sibling("event.json");
    let event = serde_json::json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "created": before.bytes().all(|b| b == b'0'),
        "forced": false,
        "repository": { "default_branch": "main" },
    });
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

const ZERO: &str = "0000000000000000000000000000000000000000";

/// main: one.env, then two.env and three.env pushed together; feature (from
/// one.env's commit): feature.env. Checked out on main.
struct Pushes {
    repo: Repo,
    first: String,
    main: String,
    feature: String,
}

fn pushes() -> Pushes {
    let repo = Repo::new();
    let first = repo.commit_file("one.env", &env_line(&fake_secret()), "one");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit_file("docs.md", "docs\n", "docs");
    let feature = repo.commit_file("feature.env", &env_line(&fake_secret()), "feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("two.env", &env_line(&fake_secret()), "two");
    let main = repo.commit_file("three.env", &env_line(&fake_secret()), "three");
    Pushes {
        repo,
        first,
        main,
        feature,
    }
}

fn github_push(p: &Pushes, event: &Path) -> Scan {
    scan_in(
        &p.repo.path,
        &["--range"],
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ],
    )
}

#[test]
fn range_on_a_github_push_scans_before_to_after() {
    let p = pushes();
    let event = push_event(&p.repo, &p.first, &p.main, "refs/heads/main");
    let s = github_push(&p, &event);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(paths(&s), ["three.env", "two.env"], "{}", s.report);
    assert!(s.notes().contains("GITHUB_EVENT_PATH"), "{}", s.notes());
    assert!(s.notes().contains("(2 commit(s)"), "{}", s.notes());
    // A push of commits without secrets is clean, whatever the history holds.
    let quiet = p.repo.commit_file("notes.txt", "hello\n", "notes");
    let event = push_event(&p.repo, &p.main, &quiet, "refs/heads/main");
    let s = github_push(&p, &event);
    assert_eq!(s.code, 0, "{}", s.report);
    assert!(s.findings().is_empty());
}

#[test]
fn range_on_a_github_push_of_a_new_branch_scans_what_no_other_branch_has() {
    let p = pushes();
    // As actions/checkout leaves it: the pushed branch checked out, the
    // others as remote-tracking branches.
    p.repo
        .git(&["update-ref", "refs/remotes/origin/main", &p.main]);
    p.repo
        .git(&["update-ref", "refs/remotes/origin/feature", &p.feature]);
    p.repo.git(&["checkout", "-q", "feature"]);
    p.repo.git(&["branch", "-q", "-D", "main"]);
    let event = push_event(&p.repo, ZERO, &p.feature, "refs/heads/feature");
    let s = github_push(&p, &event);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(paths(&s), ["feature.env"], "{}", s.report);
    assert!(s.notes().contains("new branch"), "{}", s.notes());
    assert!(s.notes().contains("(2 commit(s)"), "{}", s.notes());

    // A new branch with no other ref to compare with: all of its history.
    p.repo
        .git(&["update-ref", "-d", "refs/remotes/origin/main"]);
    let s = github_push(&p, &event);
    assert_eq!(paths(&s), ["feature.env", "one.env"], "{}", s.report);
    assert!(s.notes().contains("no other branch"), "{}", s.notes());
}

#[test]
fn range_on_a_forced_github_push_whose_before_is_gone_falls_back_with_a_note() {
    let p = pushes();
    let gone = "0123456789abcdef0123456789abcdef01234567";
    let event = push_event(&p.repo, gone, &p.feature, "refs/heads/feature");
    let s = github_push(&p, &event);
    assert_eq!(s.code, 1, "{}", s.stderr);
    // main (which has one.env) is another branch: only what feature brings.
    assert_eq!(paths(&s), ["feature.env"], "{}", s.report);
    assert!(s.notes().contains(gone), "{}", s.notes());
    assert!(s.stderr.contains("not in this repository"), "{}", s.stderr);
}

#[test]
fn range_on_github_events_other_than_push_or_a_bad_event_file_is_a_usage_error() {
    let p = pushes();
    let s = scan_in(
        &p.repo.path,
        &["--range"],
        &[("GITHUB_EVENT_NAME", "schedule")],
    );
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("GITHUB_EVENT_NAME"), "{}", s.stderr);
    let missing = p.repo.sibling("no-such-event.json");
    let s = github_push(&p, &missing);
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("no-such-event.json"), "{}", s.stderr);
    let garbage = p.repo.sibling("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let s = github_push(&p, &garbage);
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("garbage.json"), "{}", s.stderr);
}

#[test]
fn range_on_a_gitlab_push_pipeline() {
    let p = pushes();
    let gl = |before: &str, sha: &str, branch: &str| {
        scan_in(
            &p.repo.path,
            &["--range"],
            &[
                ("CI_COMMIT_BEFORE_SHA", before),
                ("CI_COMMIT_SHA", sha),
                ("CI_COMMIT_REF_NAME", branch),
                ("CI_DEFAULT_BRANCH", "main"),
            ],
        )
    };
    let s = gl(&p.first, &p.main, "main");
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(paths(&s), ["three.env", "two.env"], "{}", s.report);
    assert!(s.notes().contains("CI_COMMIT_BEFORE_SHA"), "{}", s.notes());
    // A new branch: all-zero before; main is another branch.
    let s = gl(ZERO, &p.feature, "feature");
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(paths(&s), ["feature.env"], "{}", s.report);
    // Merge request variables win over push ones.
    let s = scan_in(
        &p.repo.path,
        &["--range"],
        &[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &p.first),
            ("CI_COMMIT_BEFORE_SHA", ZERO),
            ("CI_COMMIT_SHA", &p.feature),
        ],
    );
    assert_eq!(paths(&s), ["feature.env"], "{}", s.report);
}

#[test]
fn staged_before_the_first_commit() {
    let repo = Repo::new();
    let secret = fake_secret();
    repo.write("app/.env", &env_line(&secret));
    repo.write("not-staged.env", &env_line(&fake_secret()));
    repo.git(&["add", "app/.env"]);

    let s = scan(&repo, &["--staged"]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1);
    let loc = &s.findings()[0]["location"];
    assert_eq!(loc["path"], "app/.env");
    assert!(loc.get("commit").is_none());
    assert_eq!(s.report["stats"]["files"], 1);
}

#[test]
fn staged_scans_only_what_differs_from_head() {
    let repo = Repo::new();
    let committed = fake_secret();
    repo.commit_file("old.env", &env_line(&committed), "already committed");
    repo.commit_file("clean.txt", "v1\n", "clean");
    let staged = fake_secret();
    repo.write("clean.txt", "v2\n");
    repo.write("new.env", &format!("x=1\n{}", env_line(&staged)));
    repo.git(&["add", "clean.txt", "new.env"]);

    let s = scan(&repo, &["--staged", "--show-secrets"]);
    assert_eq!(s.findings().len(), 1, "{}", s.report);
    assert_eq!(s.findings()[0]["location"]["path"], "new.env");
    assert_eq!(s.findings()[0]["location"]["line"], 2);
    assert_eq!(s.findings()[0]["secret"], staged.as_str());
    assert_eq!(s.report["stats"]["files"], 2, "clean.txt and new.env only");

    // Nothing staged: clean, even though history holds a secret.
    repo.git(&["commit", "-q", "-m", "commit them"]);
    let clean = scan(&repo, &["--staged"]);
    assert_eq!(clean.code, 0, "{}", clean.report);
}

#[test]
fn shallow_clone_is_scanned_and_said_to_be_shallow() {
    let origin = Repo::new();
    let (early, late) = (fake_secret(), fake_secret());
    origin.commit_file("early.env", &env_line(&early), "early");
    origin.git(&["rm", "-q", "early.env"]);
    origin.commit("remove early");
    for i in 0..3 {
        origin.commit_file("n.txt", &format!("{i}\n"), "tick");
    }
    let late_commit = origin.commit_file("late.env", &env_line(&late), "late");
    let url = format!("file://{}", origin.path.display());
    let shallow = origin.sibling("shallow");
    origin.git_in(
        origin.path.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--depth",
            "2",
            &url,
            shallow.to_str().unwrap(),
        ],
    );

    let s = scan_in(&shallow, &[], &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert!(s.notes().contains("shallow"), "{}", s.notes());
    assert_eq!(s.findings().len(), 1, "only what the shallow clone holds");
    assert_eq!(s.findings()[0]["location"]["commit"], late_commit.as_str());
    assert_eq!(s.report["errors"], serde_json::json!([]));
}

#[test]
fn corrupt_object_is_an_error_and_the_rest_is_scanned() {
    let repo = Repo::new();
    let (good, lost) = (fake_secret(), fake_secret());
    repo.write("good.env", &env_line(&good));
    repo.write("lost.env", &format!("# cybrid\n{}", env_line(&lost)));
    repo.git(&["add", "."]);
    repo.commit("two files");
    let blob = repo.git(&["rev-parse", "HEAD:lost.env"]);
    let object = repo
        .path
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    let mut perms = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&object, perms).unwrap();
    std::fs::write(&object, b"this is not zlib data at all").unwrap();

    let s = scan(&repo, &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1);
    assert_eq!(s.findings()[0]["location"]["path"], "good.env");
    let errors = s.report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], "lost.env");
    assert!(errors[0]["message"].as_str().unwrap().contains(&blob));
    assert!(s.stderr.contains("lost.env"), "{}", s.stderr);
}

#[test]
fn bare_repository_by_file_url_and_by_path() {
    let origin = Repo::new();
    let secret = fake_secret();
    let leak = origin.commit_file("k.env", &env_line(&secret), "leak");
    origin.git(&["checkout", "-q", "-b", "other"]);
    origin.git(&["rm", "-q", "k.env"]);
    origin.commit("gone on other");
    let bare = origin.sibling("mirror.git");
    origin.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    let url = format!("file://{}", bare.display());
    let elsewhere = origin.sibling("home");

    let s = scan_in(&elsewhere, &[&url], &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1);
    assert_eq!(s.findings()[0]["location"]["commit"], leak.as_str());
    assert!(s.notes().contains("bare mirror"), "{}", s.notes());

    let keep = origin.sibling("kept");
    let k = scan_in(
        &elsewhere,
        &["--keep-clone", keep.to_str().unwrap(), &url],
        &[],
    );
    assert_eq!(k.findings().len(), 1);
    assert!(keep.join("mirror.git/HEAD").exists());
    // A second run reuses (fetches into) the kept clone.
    let again = scan_in(
        &elsewhere,
        &["--keep-clone", keep.to_str().unwrap(), &url],
        &[],
    );
    assert_eq!(again.findings().len(), 1, "{}", again.stderr);

    let by_path = scan_in(&elsewhere, &[bare.to_str().unwrap()], &[]);
    assert_eq!(by_path.findings().len(), 1);
}

#[test]
fn not_a_repository_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = scan_in(dir.path(), &["."], &[]);
    assert_eq!(s.code, 2);
    assert!(s.stderr.contains("not a git repository"), "{}", s.stderr);

    // With several repositories, one bad one is an error in the report.
    let repo = Repo::new();
    repo.commit_file("k.env", &env_line(&fake_secret()), "leak");
    let missing = dir.path().join("missing");
    let s = scan_in(
        dir.path(),
        &[repo.path.to_str().unwrap(), missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(s.code, 1, "{}", s.stderr);
    assert_eq!(s.findings().len(), 1);
    assert_eq!(
        s.findings()[0]["repository"],
        repo.path.to_str().unwrap(),
        "findings name their repository when several are scanned"
    );
    assert_eq!(s.report["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn submodules_and_huge_blobs_are_reported_as_skipped() {
    let repo = Repo::new();
    let secret = fake_secret();
    repo.commit_file("small.env", &env_line(&fake_secret()), "small");
    let filler = "x".repeat(4096);
    repo.write("big.env", &format!("{filler}\n{}", env_line(&secret)));
    repo.git(&["add", "big.env"]);
    let sub = "8ab686eafeb1f44702738c8b0f24f2567c36da6d";
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{sub},vendor/lib"),
    ]);
    repo.commit("big file and a submodule");

    let s = scan(&repo, &["--max-file-size", "1K"]);
    assert_eq!(s.findings().len(), 1, "only small.env");
    assert_eq!(s.findings()[0]["location"]["path"], "small.env");
    let skipped = s.report["skipped"].to_string();
    assert!(
        skipped.contains("big.env") && skipped.contains("max-file-size"),
        "{skipped}"
    );
    assert!(
        skipped.contains("vendor/lib") && skipped.contains("submodule"),
        "{skipped}"
    );

    let all = scan(&repo, &[]);
    assert_eq!(all.findings().len(), 2);
}

/// The full-history scan reads trees and blobs in pack order: a history
/// spread over a deltified pack, a second (incremental) pack and loose
/// objects must still give every blob once and every secret its commit.
#[test]
fn packed_deltified_and_loose_history_is_scanned_whole() {
    let repo = Repo::new();
    let body = |i: usize, extra: &str| -> String {
        let mut text: String = (0..200)
            .map(|n| format!("setting_{n} = value {n} in a long configuration file\n"))
            .collect();
        text.push_str(&format!("revision = {i}\n{extra}"));
        text
    };
    let (a, b, c) = (fake_secret(), fake_secret(), fake_secret());
    // Versions `range` of `file`, the one at `leak` holding `secret`;
    // returns the commit that leaked it.
    let versions = |file: &str, range: std::ops::Range<usize>, leak: usize, secret: &str| {
        let mut leaked = String::new();
        for i in range {
            let extra = if i == leak {
                env_line(secret)
            } else {
                String::new()
            };
            let id = repo.commit_file(file, &body(i, &extra), &format!("v{i}"));
            if i == leak {
                leaked = id;
            }
        }
        leaked
    };
    let leak_a = versions("config/settings.env", 0..40, 10, &a);
    repo.git(&["repack", "-a", "-d", "-q", "--window=50", "--depth=50"]);
    let leak_b = versions("deploy/values.env", 40..60, 50, &b);
    repo.git(&["repack", "-d", "-q"]);
    let leak_c = repo.commit_file("loose.env", &env_line(&c), "loose");

    let pack_dir = repo.path.join(".git/objects/pack");
    let indexes: Vec<PathBuf> = std::fs::read_dir(&pack_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    assert_eq!(indexes.len(), 2, "{indexes:?}");
    let first_pack = indexes
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let listing = repo.git(&["verify-pack", "-v", first_pack.to_str().unwrap()]);
    let deltified_blobs = listing
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("blob"))
        .filter(|l| l.split_whitespace().count() > 5)
        .count();
    assert!(
        deltified_blobs > 10,
        "the pack has no delta chains to exercise"
    );

    let s = scan(&repo, &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    let mut found: Vec<(String, String)> = s
        .findings()
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["commit"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        ("config/settings.env".to_string(), leak_a),
        ("deploy/values.env".to_string(), leak_b),
        ("loose.env".to_string(), leak_c),
    ];
    expected.sort();
    assert_eq!(found, expected, "{}", s.report);

    // Every reachable blob exactly once.
    let objects = repo.git(&["rev-list", "--objects", "--all"]);
    let ids: Vec<&str> = objects
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut check = repo.command(&repo.path);
    check.args(["cat-file", "--batch-check=%(objecttype)"]);
    check
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = check.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(ids.join("\n").as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let blobs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == "blob")
        .count();
    assert_eq!(s.report["stats"]["files"], blobs as u64, "{}", s.report);

    // Reading blobs through libgit2 one at a time instead of walking the
    // packs' delta trees changes nothing in the report.
    let one_by_one = scan_in(&repo.path, &[], &[("CYBRID_SCAN_PACK_WALK", "0")]);
    for field in ["findings", "leaks", "errors", "skipped"] {
        assert_eq!(one_by_one.report[field], s.report[field], "{field}");
    }
    for stat in ["files", "bytes"] {
        assert_eq!(
            one_by_one.report["stats"][stat], s.report["stats"][stat],
            "{stat}"
        );
    }
}

/// A mirror's thousands of pull-request refs reach every old commit: the
/// report lists the branches and tags first, at most 32 names, and says how
/// many there are in all; `--all-refs` lists every one.
#[test]
fn refs_are_bounded_branches_and_tags_first() {
    let repo = Repo::new();
    let head = repo.commit_file("k.env", &env_line(&fake_secret()), "leak");
    repo.git(&["tag", "v1.0"]);
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted \n");
    let mut pulls: Vec<String> = (1..=200).map(|n| format!("refs/pull/{n}/head")).collect();
    pulls.sort();
    for name in &pulls {
        packed.push_str(&format!("{} {name}\n", head.trim()));
    }
    std::fs::write(repo.path.join(".git/packed-refs"), packed).unwrap();

    let s = scan(&repo, &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    let f = &s.findings()[0];
    let refs: Vec<&str> = f["location"]["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), 32, "{refs:?}");
    assert!(
        refs.contains(&"refs/heads/main") && refs.contains(&"refs/tags/v1.0"),
        "{refs:?}"
    );
    assert!(
        refs.windows(2).all(|w| w[0] < w[1]),
        "listed in name order: {refs:?}"
    );
    let total = f["location"]["refs_total"].as_u64().unwrap();
    assert!(total >= 202, "{total}");
    let leak = &s.report["leaks"][0];
    assert_eq!(leak["refs"].as_array().unwrap().len(), 32);
    assert_eq!(leak["refs_total"].as_u64(), Some(total));

    let all = scan(&repo, &["--all-refs"]);
    let f = &all.findings()[0];
    assert_eq!(
        f["location"]["refs"].as_array().unwrap().len() as u64,
        total
    );
    assert!(f["location"].get("refs_total").is_none());
}
