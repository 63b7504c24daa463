//! `--datastore`: incidents recorded across runs and sources, triage that
//! survives rescans and shows as SARIF suppressions, reports from the
//! datastore, and the faults (a foreign or corrupt file, a newer schema, a
//! lock held too long, a killed scan). Real git repositories made by `git`
//! in temporary directories, the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

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

    fn git(&self, args: &[&str]) {
        let status = StdCommand::new("git")
            .current_dir(&self.path)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ann Leak")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_COMMITTER_NAME", "Ann Leak")
            .env("GIT_COMMITTER_EMAIL", "ann@example.com")
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn commit(&self, file: &str, text: &str, message: &str) {
        let p = self.path.join(file);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }
}

fn env_file(p: &common::Pair) -> String {
    format!(
        "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        p.id, p.secret
    )
}

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("cybrid-scan").unwrap();
    cmd.env_remove("CYBRID_SCAN_DATASTORE_WAIT_MS");
    cmd
}

fn scan_git(repo: &Path, ds: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = bin()
        .arg("git")
        .arg(repo)
        .arg("--datastore")
        .arg(ds)
        .args(["-f", "json"])
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn incidents(ds: &Path, extra: &[&str]) -> Vec<Value> {
    let out = bin()
        .args(["incidents", "list", "--format", "json", "--datastore"])
        .arg(ds)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["incidents"].as_array().unwrap().clone()
}

/// Every byte the datastore holds on disk (the file and any WAL beside it).
fn datastore_bytes(ds: &Path) -> Vec<u8> {
    let mut all = std::fs::read(ds).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut p = ds.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            all.extend(b);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_rescan_adds_no_incident_and_no_occurrence_and_no_secret_is_stored() {
    let repo = Repo::new();
    let pair = common::pair();
    repo.commit(".env", &env_file(&pair), "add env");
    // Another blob (git findings are one per blob).
    repo.commit(
        "config/app.env",
        &format!("# copied\n{}", env_file(&pair)),
        "copy env",
    );
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("incidents.db");

    let (code, first, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 1);
    // The run's own report is the same with and without the datastore.
    let plain = bin()
        .arg("git")
        .arg(&repo.path)
        .args(["-f", "json"])
        .output()
        .unwrap();
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(first["findings"], plain["findings"]);
    // Rescanned: its blobs are not read again, nothing new is recorded.
    let (code, second, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 0);
    assert_eq!(second["findings"], serde_json::json!([]));
    // A directory scan reads everything each time: its occurrences are
    // upserted, not added again.
    for _ in 0..2 {
        let out = bin()
            .arg("dir")
            .arg(&repo.path)
            .arg("--datastore")
            .arg(&ds)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
    }

    let list = incidents(&ds, &[]);
    assert_eq!(list.len(), 1, "{list:?}");
    let i = &list[0];
    assert_eq!(i["status"], "open");
    assert_eq!(i["occurrences"], 4, "two blobs and two files");
    assert_eq!(i["sources"], serde_json::json!(["file", "git"]));
    assert_eq!(i["fingerprint"], first["findings"][0]["fingerprint"]);
    assert!(i["secret"].as_str().unwrap().contains('*'));

    let db = rusqlite::Connection::open(&ds).unwrap();
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 4);
    drop(db);
    let bytes = datastore_bytes(&ds);
    assert!(
        !contains(&bytes, &pair.secret),
        "the secret is in the datastore"
    );
    assert!(
        !contains(&bytes, &pair.id),
        "the client_id is in the datastore"
    );
}

#[test]
fn one_credential_in_a_repository_a_directory_and_a_log_is_one_incident() {
    let repo = Repo::new();
    let pair = common::pair();
    repo.commit(".env", &env_file(&pair), "add env");
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.sqlite");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(".env"), env_file(&pair)).unwrap();
    let log = dir.path().join("deploy.log");
    std::fs::write(
        &log,
        format!(
            "2024-05-01T10:00:00Z starting deploy\n2024-05-01T10:00:01Z env CYBRID_CLIENT_SECRET={} CYBRID_CLIENT_ID={}\n",
            pair.secret, pair.id
        ),
    )
    .unwrap();

    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    for (cmd, target) in [("dir", &files), ("logs", &log)] {
        let out = bin()
            .arg(cmd)
            .arg(target)
            .arg("--datastore")
            .arg(&ds)
            .args(["-f", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}");
    }
    let list = incidents(&ds, &[]);
    let secrets: Vec<&Value> = list
        .iter()
        .filter(|i| i["rule_id"] == "cybrid-client-secret")
        .collect();
    assert_eq!(secrets.len(), 1, "{list:#?}");
    assert_eq!(
        secrets[0]["sources"],
        serde_json::json!(["file", "git", "log"])
    );
    assert_eq!(secrets[0]["occurrences"], 3);
    let fp = secrets[0]["fingerprint"].as_str().unwrap();
    let show = bin()
        .args([
            "incidents",
            "show",
            &fp[..10],
            "--format",
            "json",
            "--datastore",
        ])
        .arg(&ds)
        .output()
        .unwrap();
    assert!(show.status.success());
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["fingerprint"], fp);
    assert_eq!(show["places"].as_array().unwrap().len(), 3);
}

#[test]
fn triage_survives_rescans_passes_the_gate_and_is_a_sarif_suppression() {
    let repo = Repo::new();
    let pair = common::pair();
    repo.commit(".env", &env_file(&pair), "add env");
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let (code, report, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 1);
    let fp = report["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    let out = bin()
        .args([
            "incidents",
            "triage",
            &fp[..8],
            "--status",
            "test_credential",
        ])
        .args([
            "--note",
            "sandbox key from the tutorial <b>",
            "--who",
            "ana",
        ])
        .arg("--datastore")
        .arg(&ds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The credential again, in a new file: the triage holds, the gate
    // passes, JSON and SARIF say why.
    repo.commit("copy/.env", &format!("# 1\n{}", env_file(&pair)), "copy");
    let (code, report, stderr) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["findings"][0]["triage"]["status"], "test_credential");
    repo.commit("copy/.env", &format!("# 2\n{}", env_file(&pair)), "copy");
    let sarif = bin()
        .arg("git")
        .arg(&repo.path)
        .arg("--datastore")
        .arg(&ds)
        .args(["-f", "sarif"])
        .output()
        .unwrap();
    assert_eq!(sarif.status.code(), Some(0));
    let sarif: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let suppression = &sarif["runs"][0]["results"][0]["suppressions"][0];
    assert_eq!(suppression["kind"], "external");
    assert_eq!(
        suppression["justification"],
        "sandbox key from the tutorial <b>"
    );

    let list = incidents(&ds, &["--status", "test_credential"]);
    assert_eq!(list.len(), 1);
    assert!(incidents(&ds, &["--status", "open"]).is_empty());
    let show = bin()
        .args(["incidents", "show", &fp, "--format", "json", "--datastore"])
        .arg(&ds)
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let history = show["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["from"], "open");
    assert_eq!(history[0]["to"], "test_credential");
    assert_eq!(history[0]["who"], "ana");

    // Back to open: the gate fails again.
    bin()
        .args([
            "incidents",
            "triage",
            &fp,
            "--status",
            "open",
            "--note",
            "not a test key after all",
        ])
        .arg("--datastore")
        .arg(&ds)
        .assert()
        .success();
    repo.commit("copy/.env", &format!("# 3\n{}", env_file(&pair)), "copy");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
}

#[test]
fn an_unknown_fingerprint_or_a_missing_datastore_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let out = bin()
        .args(["incidents", "list", "--datastore"])
        .arg(&ds)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!ds.exists(), "reading created the datastore");
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    let out = bin()
        .args([
            "incidents",
            "triage",
            "abc123",
            "--status",
            "revoked",
            "--note",
            "x",
        ])
        .arg("--datastore")
        .arg(&ds)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no incident"));
}

/// Run a scan on `ds` and expect exit 2, a message naming it, and the file
/// byte for byte as it was.
fn refused(ds: &Path, why: &str) {
    let before = std::fs::read(ds).unwrap();
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    let (code, _, stderr) = scan_git(&repo.path, ds, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&ds.display().to_string()), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
    for args in [&["incidents", "list"][..], &["report"][..]] {
        let out = bin()
            .args(args)
            .arg("--datastore")
            .arg(ds)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
    assert_eq!(std::fs::read(ds).unwrap(), before, "the file was changed");
}

#[test]
fn a_foreign_or_corrupt_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.db");
    let bytes: Vec<u8> = (0..8192).map(|_| rand::random::<u8>()).collect();
    std::fs::write(&random, bytes).unwrap();
    refused(&random, "not a cybrid-scan datastore");

    let json = dir.path().join("report.json");
    std::fs::write(&json, "{\"findings\": []}\n").unwrap();
    refused(&json, "not a cybrid-scan datastore");

    // Another program's SQLite database.
    let other = dir.path().join("other.sqlite");
    let db = rusqlite::Connection::open(&other).unwrap();
    db.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    drop(db);
    refused(&other, "another program");

    // Ours, then damaged past its header.
    let damaged = dir.path().join("damaged.db");
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    assert_eq!(scan_git(&repo.path, &damaged, &[]).0, 1);
    let mut b = std::fs::read(&damaged).unwrap();
    for x in b.iter_mut().skip(100) {
        *x = 0xA5;
    }
    std::fs::write(&damaged, b).unwrap();
    refused(&damaged, "not a cybrid-scan datastore");
}

#[test]
fn a_newer_schema_is_refused_and_an_older_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    let db = rusqlite::Connection::open(&ds).unwrap();
    db.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    db.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(db);
    refused(&ds, "schema version 99");
}

#[test]
fn a_locked_datastore_waits_then_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    let mut db = rusqlite::Connection::open(&ds).unwrap();
    let tx = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let started = std::time::Instant::now();
    let out = bin()
        .arg("git")
        .arg(&repo.path)
        .arg("--datastore")
        .arg(&ds)
        .env("CYBRID_SCAN_DATASTORE_WAIT_MS", "400")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is locked"), "{stderr}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    tx.rollback().unwrap();
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 0, "already scanned");
}

#[test]
fn a_scan_killed_mid_way_leaves_a_consistent_datastore_that_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let files = dir.path().join("files");
    // Enough input that the kill lands during the scan (most of the time;
    // the assertions hold whenever it lands).
    for i in 0..40 {
        let sub = files.join(format!("d{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(".env"), env_file(&common::pair())).unwrap();
        std::fs::write(
            sub.join("big.txt"),
            "lorem ipsum dolor sit amet\n".repeat(40_000),
        )
        .unwrap();
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cybrid-scan"))
        .arg("dir")
        .arg(&files)
        .arg("--datastore")
        .arg(&ds)
        .args(["-q", "-j", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    if ds.exists() {
        let db = rusqlite::Connection::open(&ds).unwrap();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let n: i64 = db
            .query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
            .unwrap_or(0);
        assert!(n == 0 || n == 40, "a partial run was recorded: {n}");
    }
    let out = bin()
        .arg("dir")
        .arg(&files)
        .arg("--datastore")
        .arg(&ds)
        .args(["-q", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(incidents(&ds, &[]).len(), 40);
}

#[test]
fn reports_from_the_datastore_reuse_the_writers_and_hold_no_secret() {
    let repo = Repo::new();
    let pair = common::pair();
    repo.commit(".env", &env_file(&pair), "add env");
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    for format in ["human", "json", "jsonl", "sarif", "gitlab"] {
        let out = bin()
            .args(["report", "--format", format, "--datastore"])
            .arg(&ds)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(&pair.secret), "{format}");
        assert!(!text.contains(&pair.id), "{format}");
        if format == "json" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["findings"].as_array().unwrap().len(), 1);
            assert_eq!(v["findings"][0]["location"]["path"], ".env");
            assert!(v["findings"][0]["location"]["commit"].is_string());
        }
    }
}

/// Debian's Chromium, when installed; the HTML tests skip (saying so) without it.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let ok = StdCommand::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then(|| PathBuf::from(name))
        })
}

/// The DOM of `page` after its script ran, with `hash` in its URL.
fn rendered(browser: &Path, page: &Path, hash: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = StdCommand::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{hash}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `<tr data-fingerprint=…>` opening tags of a page, by fingerprint.
fn rows(dom: &str) -> Vec<(String, bool)> {
    dom.match_indices("<tr data-fingerprint=\"")
        .map(|(at, m)| {
            let rest = &dom[at + m.len()..];
            let fp = rest[..rest.find('"').unwrap()].to_string();
            let tag = &rest[..rest.find('>').unwrap()];
            (fp, tag.contains("hidden"))
        })
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium_and_filters_by_status_and_repository() {
    let (a, b) = (Repo::new(), Repo::new());
    let (p1, p2, p3) = (common::pair(), common::pair(), common::pair());
    a.commit(".env", &env_file(&p1), "one");
    a.commit("deploy/.env", &env_file(&p2), "two");
    b.commit(
        "settings.env",
        &env_file(&p3),
        "three <script>alert(1)</script>",
    );
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let manifest = dir.path().join("repos.txt");
    std::fs::write(
        &manifest,
        format!("{}\n{}\n", a.path.display(), b.path.display()),
    )
    .unwrap();
    let out = bin()
        .args(["sweep", "-q", "--manifest"])
        .arg(&manifest)
        .arg("--datastore")
        .arg(&ds)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let list = incidents(&ds, &[]);
    assert_eq!(list.len(), 3);
    let in_b: Vec<String> = list
        .iter()
        .filter(|i| {
            i["repositories"]
                .to_string()
                .contains(&*b.path.to_string_lossy())
        })
        .map(|i| i["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_b.len(), 1, "{list:#?}");
    let dismissed = list[0]["fingerprint"].as_str().unwrap().to_string();
    bin()
        .args([
            "incidents",
            "triage",
            &dismissed,
            "--status",
            "false_positive",
        ])
        .args(["--note", "\"><img src=x onerror=alert(1)> a fixture"])
        .arg("--datastore")
        .arg(&ds)
        .assert()
        .success();

    let page = dir.path().join("incidents.html");
    bin()
        .args(["report", "--format", "html", "-o"])
        .arg(&page)
        .arg("--datastore")
        .arg(&ds)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    for p in [&p1, &p2, &p3] {
        assert!(!html.contains(&p.secret) && !html.contains(&p.id));
    }
    // Self-contained: nothing fetched from anywhere.
    for external in ["<link", "src=\"http", "src=\"//", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(!html.contains("<img src=x"), "the note was not escaped");
    let all = rows(&html);
    assert_eq!(all.len(), 3);

    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CYBRID_SCAN_REQUIRE_TOOLS").is_none(),
            "chromium is not installed, and CYBRID_SCAN_REQUIRE_TOOLS is set"
        );
        eprintln!(
            "note: chromium is not installed: the page was checked as text only, not rendered"
        );
        return;
    };
    let dom = rendered(&browser, &page, "");
    let shown = rows(&dom);
    assert_eq!(shown.len(), 3, "the rows did not survive the DOM");
    assert!(shown.iter().all(|(_, hidden)| !hidden));
    assert!(!dom.contains("<img src=\"x\""), "the note became markup");

    let dom = rendered(&browser, &page, "#status=false_positive");
    let visible: Vec<String> = rows(&dom)
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(fp, _)| fp)
        .collect();
    assert_eq!(visible, vec![dismissed.clone()]);
    assert!(dom.contains("1 of 3 shown"));

    let hash = format!("#repository={}", urlencode(&b.path.to_string_lossy()));
    let visible: Vec<String> = rows(&rendered(&browser, &page, &hash))
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(fp, _)| fp)
        .collect();
    assert_eq!(visible, in_b);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn note_of(report: &Value, needle: &str) -> Option<String> {
    report["notes"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains(needle))
        .map(str::to_string)
}

#[test]
fn a_second_history_scan_reads_only_new_blobs_and_attributes_them_fully() {
    let repo = Repo::new();
    let (old, new) = (common::pair(), common::pair());
    repo.commit(".env", &env_file(&old), "add env");
    for i in 0..30 {
        repo.commit(
            &format!("src/m{i}.txt"),
            &format!("some ordinary source text {i}\n").repeat(200),
            "more",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let (code, first, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 1);
    let first_bytes = first["stats"]["bytes"].as_u64().unwrap();
    assert!(first_bytes > 100_000);

    // Unchanged: nothing is read again, and the note says why.
    let (code, second, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 0, "findings of skipped blobs are not re-reported");
    let second_bytes = second["stats"]["bytes"].as_u64().unwrap();
    assert!(
        second_bytes * 100 < first_bytes,
        "{second_bytes} of {first_bytes} bytes read again"
    );
    let note = note_of(&second, "already scanned (datastore) skipped").unwrap();
    assert!(note.contains("31 tree(s)"), "{note}"); // one root tree per commit

    // A new commit: only its blob is read, and it is attributed in full.
    repo.commit("deploy/prod.env", &env_file(&new), "deploy settings");
    let (code, third, _) = scan_git(&repo.path, &ds, &[]);
    assert_eq!(code, 1);
    let findings = third["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let loc = &findings[0]["location"];
    assert_eq!(loc["path"], "deploy/prod.env");
    assert_eq!(
        loc["author"].as_str().unwrap(),
        "Ann Leak <ann@example.com>"
    );
    assert!(loc["commit"].as_str().unwrap().len() == 40);
    assert!(loc["refs"].to_string().contains("main"), "{loc}");
    assert!(third["stats"]["bytes"].as_u64().unwrap() < 1_000);
    assert_eq!(incidents(&ds, &[]).len(), 2);

    // Other rules: everything is read again.
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("acme.toml"),
        "[[rules]]\nid = \"acme-cybrid-proxy-key\"\nname = \"Acme proxy key\"\ndescription = \"d\"\nkind = \"client-secret\"\nkeywords = [\"cybrid_proxy\"]\nexamples = [\"cybrid_proxy_key=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ\"]\n[[rules.patterns]]\nregex = '''cybrid_proxy_key=(?P<secret>[A-Za-z0-9_\\-]{43})'''\n",
    )
    .unwrap();
    let rules_arg = rules.path().to_string_lossy().into_owned();
    let (code, other, _) = scan_git(&repo.path, &ds, &["--rules", &rules_arg]);
    assert_eq!(code, 1);
    assert!(other["stats"]["bytes"].as_u64().unwrap() > first_bytes);
    assert!(note_of(&other, "already scanned").is_none());
}

#[test]
fn a_revoked_credential_that_verifies_live_again_is_reopened_with_a_note() {
    use cybrid_scan::idsim::{AppKind, Application, Seed, Simulator};
    let sim = Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).unwrap();
    let pair = common::pair();
    sim.add_application(Application {
        client_id: pair.id.clone(),
        client_secret: pair.secret.clone(),
        environment: "sandbox".into(),
        kind: AppKind::Bank,
        guid: String::new(),
        organization_guid: String::new(),
        scopes: Vec::new(),
        ip_allowlist: Vec::new(),
        name: String::new(),
    });
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(".env"), env_file(&pair)).unwrap();
    let ds = dir.path().join("ds.db");
    let scan = || {
        bin()
            .arg("dir")
            .arg(&files)
            .args(["--verify", "-f", "json", "--endpoint"])
            .arg(format!("sandbox={}/sandbox", sim.url()))
            .arg("--endpoint")
            .arg(format!("production={}/production", sim.url()))
            .arg("--datastore")
            .arg(&ds)
            .output()
            .unwrap()
    };
    let out = scan();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = incidents(&ds, &[]);
    assert_eq!(list[0]["verification"]["status"], "live");
    assert!(list[0]["verification"]["at"].is_string());
    let fp = list[0]["fingerprint"].as_str().unwrap().to_string();
    bin()
        .args([
            "incidents",
            "triage",
            &fp,
            "--status",
            "revoked",
            "--note",
            "deleted",
        ])
        .arg("--datastore")
        .arg(&ds)
        .assert()
        .success();

    // Still live: the incident is open again, and its history says why.
    let out = scan();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reopened"), "{stderr}");
    let list = incidents(&ds, &[]);
    assert_eq!(list[0]["status"], "open");
    let show = bin()
        .args(["incidents", "show", &fp, "--format", "json", "--datastore"])
        .arg(&ds)
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let last = show["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["from"], "revoked");
    assert_eq!(last["to"], "open");
    assert!(last["note"]
        .as_str()
        .unwrap()
        .contains("verified live again in sandbox"));
    assert!(!contains(&datastore_bytes(&ds), &pair.secret));
}

/// `dir` (or `logs`) into a datastore: status, report, stderr.
fn scan_files(cmd: &str, root: &Path, ds: Option<&Path>, extra: &[&str]) -> (i32, Value, String) {
    let mut c = bin();
    c.arg(cmd).arg(root).args(["-f", "json"]).args(extra);
    if let Some(ds) = ds {
        c.arg("--datastore").arg(ds);
    }
    let out = c.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each finding as (rule, fingerprint, path, line, column, entry).
fn places(report: &Value) -> Vec<(String, String, String, u64, u64, String)> {
    let mut v: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
                l["column"].as_u64().unwrap(),
                l["entry"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_dir_scan_hashes_unchanged_files_and_still_reports_their_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("src");
    std::fs::create_dir_all(root.join("config")).unwrap();
    let (a, b) = (common::pair(), common::pair());
    std::fs::write(root.join("config/.env"), env_file(&a)).unwrap();
    std::fs::write(root.join("app.env"), format!("# app\n{}", env_file(&b))).unwrap();
    std::fs::write(root.join("main.rs"), "fn main() {}\n".repeat(500)).unwrap();
    let ds = tmp.path().join("ds.db");

    let (code, plain, _) = scan_files("dir", &root, None, &[]);
    assert_eq!(code, 1);
    assert!(note_of(&plain, "unchanged since").is_none());
    let (code, first, _) = scan_files("dir", &root, Some(&ds), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        places(&first),
        places(&plain),
        "the datastore changes no report"
    );
    let first_bytes = first["stats"]["bytes"].as_u64().unwrap();
    assert!(first_bytes > 6000);

    // Unchanged: nothing scanned again, the same findings reported.
    let (code, second, _) = scan_files("dir", &root, Some(&ds), &[]);
    assert_eq!(code, 1, "the unchanged files' findings still fail the gate");
    assert_eq!(places(&second), places(&plain));
    assert_eq!(second["stats"]["bytes"], 0);
    let note = note_of(&second, "unchanged since").expect("a note on what was skipped");
    assert!(note.starts_with("3 file(s)"), "{note}");
    for f in second["findings"].as_array().unwrap() {
        assert!(f["location"].get("blob").is_none(), "{f}");
        assert_eq!(f["verification"]["status"], "not_checked");
    }
    // No new occurrence either.
    let list = incidents(&ds, &[]);
    let occurrences: u64 = list
        .iter()
        .map(|i| i["occurrences"].as_u64().unwrap())
        .sum();
    assert_eq!(occurrences, places(&plain).len() as u64);

    // One file changed, one copied: only those are scanned; the copy's
    // findings carry its own path.
    std::fs::write(root.join("main.rs"), "fn main() { println!(); }\n").unwrap();
    std::fs::copy(root.join("config/.env"), root.join("copy.env")).unwrap();
    let (code, third, _) = scan_files("dir", &root, Some(&ds), &[]);
    assert_eq!(code, 1);
    let (_, plain_now, _) = scan_files("dir", &root, None, &[]);
    assert_eq!(places(&third), places(&plain_now));
    assert!(places(&third).iter().any(|p| p.2 == "copy.env"));
    assert_eq!(third["stats"]["bytes"], 26, "only main.rs was read again");

    // Other rules (here: another --min-confidence) scan everything again.
    let all = plain_now["stats"]["bytes"].as_u64().unwrap();
    let (_, other, _) = scan_files("dir", &root, Some(&ds), &["--min-confidence", "medium"]);
    assert_eq!(other["stats"]["bytes"].as_u64().unwrap(), all);
    assert!(note_of(&other, "unchanged since").is_none());

    // --show-secrets needs the secrets, which the datastore does not hold.
    let (_, shown, _) = scan_files("dir", &root, Some(&ds), &["--show-secrets"]);
    assert_eq!(shown["stats"]["bytes"].as_u64().unwrap(), all);
    assert!(!contains(&datastore_bytes(&ds), &a.secret));
}

#[test]
fn a_second_logs_scan_skips_unchanged_logs_and_archives_and_reports_their_findings() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (a, b) = (common::pair(), common::pair());
    std::fs::write(
        logs.join("app.log"),
        format!("INFO start\nDEBUG env {}INFO done\n", env_file(&a)),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("old\n{}", env_file(&b)).as_bytes())
        .unwrap();
    std::fs::write(logs.join("app.log.1.gz"), gz.finish().unwrap()).unwrap();
    let ds = tmp.path().join("ds.db");

    let (code, plain, _) = scan_files("logs", &logs, None, &[]);
    assert_eq!(code, 1);
    let (_, first, _) = scan_files("logs", &logs, Some(&ds), &[]);
    assert_eq!(places(&first), places(&plain));
    let (code, second, _) = scan_files("logs", &logs, Some(&ds), &[]);
    assert_eq!(code, 1);
    assert_eq!(places(&second), places(&plain));
    assert_eq!(second["stats"]["bytes"], 0);
    assert!(note_of(&second, "unchanged since").is_some());

    // A log that grew is read again, whole; the archive is not.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("app.log"))
        .unwrap();
    writeln!(f, "INFO more").unwrap();
    let (_, third, _) = scan_files("logs", &logs, Some(&ds), &[]);
    assert_eq!(places(&third).len(), places(&plain).len());
    let note = note_of(&third, "unchanged since").unwrap();
    assert!(note.starts_with("1 file(s)"), "{note}");
}

#[test]
fn two_roots_with_the_same_relative_path_keep_their_own_findings_on_a_second_dir_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    std::fs::write(one.join("app.env"), env_file(&common::pair())).unwrap();
    std::fs::write(
        two.join("app.env"),
        format!("# two\n{}", env_file(&common::pair())),
    )
    .unwrap();
    let ds = tmp.path().join("ds.db");
    let scan = || {
        let out = bin()
            .arg("dir")
            .arg(&one)
            .arg(&two)
            .args(["-f", "json", "--datastore"])
            .arg(&ds)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = scan();
    let second = scan();
    assert_eq!(places(&second), places(&first));
    assert_eq!(places(&first).len(), 2, "one finding per pair");
}

fn sweep(manifest: &Path, ds: &Path) -> (i32, Value) {
    let out = bin()
        .args(["sweep", "--manifest"])
        .arg(manifest)
        .arg("--datastore")
        .arg(ds)
        .args(["-f", "json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn a_fork_swept_later_records_its_own_occurrences_of_the_same_blobs() {
    let repo = Repo::new();
    let leaked = common::pair();
    repo.commit(".env", &env_file(&leaked), "add env");
    repo.commit("src/app.txt", &"ordinary text\n".repeat(100), "more");
    let dir = tempfile::tempdir().unwrap();
    let fork = dir.path().join("fork.git");
    let status = StdCommand::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&repo.path)
        .arg(&fork)
        .status()
        .unwrap();
    assert!(status.success());
    let ds = dir.path().join("ds.db");
    let (one, both) = (dir.path().join("one.txt"), dir.path().join("both.txt"));
    std::fs::write(&one, format!("{}\n", repo.path.display())).unwrap();
    std::fs::write(
        &both,
        format!("{}\n{}\n", repo.path.display(), fork.display()),
    )
    .unwrap();
    assert_eq!(sweep(&one, &ds).0, 1);
    // The fork holds the very same blobs: they are read there too, and the
    // one incident gains the fork as a second repository.
    let (code, swept) = sweep(&both, &ds);
    assert_eq!(code, 1, "the fork's copy of the leak is reported: {swept}");
    let all = incidents(&ds, &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        all[0]["repositories"].as_array().map(Vec::len),
        Some(2),
        "{all:#?}"
    );
    // Swept again, neither reads anything new.
    let (code, again) = sweep(&both, &ds);
    assert_eq!(code, 0, "{again}");
    assert!(note_of(&again, "already scanned").is_some(), "{again}");
    assert!(
        again["stats"]["bytes"].as_u64().unwrap_or(u64::MAX) < 100,
        "{again}"
    );
}

#[test]
fn a_version_1_datastore_is_migrated_and_keeps_its_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.db");
    let repo = Repo::new();
    repo.commit(".env", &env_file(&common::pair()), "add env");
    assert_eq!(scan_git(&repo.path, &ds, &[]).0, 1);
    // Back to what version 1 wrote: no revocation columns, no run roots.
    let db = rusqlite::Connection::open(&ds).unwrap();
    db.execute_batch(
        "ALTER TABLE incidents DROP COLUMN revocation_client_id;
         ALTER TABLE incidents DROP COLUMN revocation_type;
         ALTER TABLE runs DROP COLUMN roots;
         UPDATE meta SET value = '1' WHERE key = 'schema_version';",
    )
    .unwrap();
    db.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(db);
    assert_eq!(incidents(&ds, &[]).len(), 1);
    let other = Repo::new();
    other.commit(".env", &env_file(&common::pair()), "another");
    assert_eq!(
        scan_git(&other.path, &ds, &[]).0,
        1,
        "a version 1 file is written to"
    );
    assert_eq!(incidents(&ds, &[]).len(), 2);
    let db = rusqlite::Connection::open(&ds).unwrap();
    let version: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "2");
    let roots: String = db
        .query_row("SELECT roots FROM runs ORDER BY id DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(roots.contains("repo"), "{roots}");
}
