//! Suppression and the config file, end to end: inline allow comments in
//! several languages, allow-lists, config errors with file:line, precedence
//! (flags > config > defaults), and baselines that survive a real `git rebase`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
}

/// A realistic fake 43-character value, different for each seed.
fn fake(seed: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(seed.as_bytes()))
}

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("run cybrid-scan")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn paths(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["location"]["path"].as_str().expect("path").to_string())
        .collect()
}

fn fingerprints(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["fingerprint"].as_str().expect("fingerprint").to_string())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn inline_allow_in_many_comment_styles() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let s = |n: &str| fake(&format!("inline-{n}"));
    write(
        d,
        "a.env",
        &format!("CYBRID_CLIENT_SECRET={} # cybrid-scan:allow\n", s("a")),
    );
    write(
        d,
        "b.js",
        &format!(
            "// cybrid-scan:allow: documented test value\nconst CYBRID_CLIENT_SECRET = \"{}\";\n",
            s("b")
        ),
    );
    write(
        d,
        "c.c",
        &format!(
            "/* cybrid-scan:allow */ static const char *CYBRID_CLIENT_SECRET = \"{}\";\n",
            s("c")
        ),
    );
    write(
        d,
        "d.md",
        &format!(
            "# Setup\n\n<!-- cybrid-scan:allow -->\n    CYBRID_CLIENT_SECRET={}\n",
            s("d")
        ),
    );
    write(
        d,
        "e.sql",
        &format!(
            "SET @cybrid_client_secret = '{}'; -- cybrid-scan:allow\n",
            s("e")
        ),
    );
    // Not allowed: no marker, and a marker two lines up.
    write(
        d,
        "f.py",
        &format!("CYBRID_CLIENT_SECRET = \"{}\"\n", s("f")),
    );
    write(
        d,
        "g.env",
        &format!("# cybrid-scan:allow\n\nCYBRID_CLIENT_SECRET={}\n", s("g")),
    );

    let out = run(&["dir", ".", "-f", "json"], d);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(
        paths(&report),
        BTreeSet::from(["f.py".to_string(), "g.env".to_string()])
    );
    assert_eq!(report["stats"]["suppressed"]["inline comment"], 5);

    let human = run(&["dir", ".", "--no-color"], d);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("5 suppressed (5 by inline comment)"),
        "summary says what was suppressed: {text}"
    );
}

#[test]
fn inline_allow_works_in_logs_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    write(
        d,
        "ci.log",
        &format!(
            "step 1\nexport CYBRID_CLIENT_SECRET={} # cybrid-scan:allow\nexport CYBRID_CLIENT_SECRET={}\n",
            fake("log-allowed"),
            fake("log-reported")
        ),
    );
    let out = run(&["logs", "ci.log", "-f", "json"], d);
    let report = json_of(&out);
    assert_eq!(report["findings"].as_array().expect("findings").len(), 1);
    assert_eq!(report["findings"][0]["location"]["line"], 3);
    assert_eq!(report["stats"]["suppressed"]["inline comment"], 1);
}

#[test]
fn config_allows_paths_and_fingerprints_and_counts_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    write(
        d,
        "tests/fixtures/a.env",
        &format!("CYBRID_CLIENT_SECRET={}\n", fake("p1")),
    );
    write(
        d,
        "docs/guide.md",
        &format!("CYBRID_CLIENT_SECRET={}\n", fake("p2")),
    );
    write(
        d,
        "src/known.env",
        &format!("CYBRID_CLIENT_SECRET={}\n", fake("p3")),
    );
    write(
        d,
        "src/new.env",
        &format!("CYBRID_CLIENT_SECRET={}\n", fake("p4")),
    );

    let all = json_of(&run(&["dir", ".", "-f", "json"], d));
    assert_eq!(all["findings"].as_array().expect("findings").len(), 4);
    let known = all["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["location"]["path"] == "src/known.env")
        .expect("known finding")["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();

    write(
        d,
        ".cybrid-scan.toml",
        &format!(
            "[allow]\npaths = [\"tests/fixtures/**\", \"*.md\"]\nfingerprints = [\"{known}\"]\n"
        ),
    );
    let out = run(&["dir", ".", "-f", "json"], d);
    let report = json_of(&out);
    assert_eq!(paths(&report), BTreeSet::from(["src/new.env".to_string()]));
    let sup = &report["stats"]["suppressed"];
    assert_eq!(sup["allowed path"], 2);
    assert_eq!(sup["allowed fingerprint"], 1);
}

fn config_error(config: &str, via_flag: bool) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    write(d, "a.env", "nothing here\n");
    let name = if via_flag {
        "ci/scan.toml"
    } else {
        ".cybrid-scan.toml"
    };
    write(d, name, config);
    let out = if via_flag {
        run(&["dir", ".", "--config", "ci/scan.toml"], d)
    } else {
        run(&["dir", "."], d)
    };
    let shown = if via_flag {
        "ci/scan.toml".to_string()
    } else {
        "./.cybrid-scan.toml".to_string()
    };
    (out.status.code(), stderr(&out), shown)
}

#[test]
fn config_errors_name_file_line_and_key() {
    let cases: &[(&str, bool, usize, &str)] = &[
        (
            "format = \"json\"\nfromat = \"sarif\"\n",
            false,
            2,
            "`fromat`",
        ),
        (
            "[allow]\npaths = [\"x/**\"]\n\n[verify]\ntimeout = 5\nconcurency = 3\n",
            true,
            6,
            "`verify.concurency`",
        ),
        ("\n\n[verify]\nrate = 0\n", false, 4, "`verify.rate`"),
        ("max_file_size = \"huge\"\n", true, 1, "`max_file_size`"),
        ("format = \"xml\"\n", false, 1, "`format`"),
        (
            "[allow]\nfingerprints = [\"not-hex\"]\n",
            false,
            2,
            "`allow.fingerprints`",
        ),
        ("[allow]\npaths = [\"src/[\"]\n", true, 2, "`allow.paths`"),
        (
            "[verify]\nendpoints = { sandbox = \"ftp://x\" }\n",
            false,
            2,
            "`verify.endpoints.sandbox`",
        ),
    ];
    for (config, via_flag, line, key) in cases {
        let (code, err, shown) = config_error(config, *via_flag);
        assert_eq!(code, Some(2), "bad config => exit 2: {err}");
        assert!(
            err.contains(&format!("{shown}:{line}:")),
            "expected {shown}:{line}: in {err:?}"
        );
        assert!(err.contains(key), "expected {key} in {err:?}");
    }
    let (code, err, _) = config_error("format = \"json\"\n", true);
    assert_eq!(code, Some(0), "a valid config is accepted: {err}");
    let dir = tempfile::tempdir().expect("tmp");
    let out = run(&["dir", ".", "--config", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[test]
fn flags_beat_config_which_beats_defaults() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let mut big = format!("CYBRID_CLIENT_SECRET={}\n", fake("big"));
    big.push_str(&"# padding\n".repeat(200));
    write(d, "big.env", &big);
    write(
        d,
        "rules/acme.toml",
        r#"
[[rules]]
id = "acme-cybrid-bridge-key"
name = "ACME bridge key"
description = "A key for ACME's bridge to Cybrid."
kind = "webhook-signing-key"
keywords = ["acmebridge"]
confidence = "medium"
help = "Rotate it in the ACME console."
examples = ["acmebridge = 9f3c1e7a40b2d85e6c19f0a7b3d4e218"]
negative_examples = ["acmebridge = 9f3c1e7a"]

[[rules.patterns]]
regex = '''acmebridge\s*=\s*(?P<secret>[0-9a-f]{32})'''
"#,
    );
    write(
        d,
        "app.cfg",
        "acmebridge = 5e0b9c2d71f4a8e36b1c07d9f2a4e85c\n",
    );

    // Defaults: human report, 50M cap, built-in rules only.
    let out = run(&["dir", ".", "--no-color"], d);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("big.env") && !text.contains("acme-cybrid-bridge-key"),
        "{text}"
    );

    // The config file: JSON, a 100-byte cap, extra rules (relative to the file).
    write(
        d,
        ".cybrid-scan.toml",
        "format = \"json\"\nmax_file_size = 100\nrules = [\"rules\"]\n",
    );
    let report = json_of(&run(&["dir", "."], d));
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert!(
        skipped.contains(&"big.env"),
        "over the config's cap: {skipped:?}"
    );
    assert!(!skipped.contains(&"app.cfg"), "under it: {skipped:?}");
    assert!(report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["rule_id"] == "acme-cybrid-bridge-key"));

    // Flags win: human format, a bigger cap.
    let out = run(
        &[
            "dir",
            ".",
            "-f",
            "human",
            "--max-file-size",
            "1M",
            "--no-color",
        ],
        d,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("big.env"), "flag cap beats config: {text}");
    assert!(
        serde_json::from_slice::<Value>(&out.stdout).is_err(),
        "flag format beats config"
    );

    // --config FILE replaces the root's file (which is not even read).
    write(d, ".cybrid-scan.toml", "this is not toml = = =\n");
    write(d, "other.toml", "format = \"jsonl\"\n");
    let out = run(&["dir", ".", "--config", "other.toml"], d);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let first = String::from_utf8_lossy(&out.stdout);
    let first = first.lines().next().expect("a line");
    let v: Value = serde_json::from_str(first).expect("jsonl line");
    assert!(v["rule_id"].is_string());
    // And the broken root file is an error when it is the one used.
    assert_eq!(run(&["dir", "."], d).status.code(), Some(2));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_SYSTEM", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn baseline_survives_a_rebase_that_moves_lines() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    let old = fake("accepted-old");
    write(
        &repo,
        "config/app.env",
        &format!("APP=demo\nCYBRID_BASE_URL=https://bank.sandbox.cybrid.app\nCYBRID_CLIENT_SECRET={old}\n"),
    );
    write(&repo, "README.md", "demo\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);

    let base = tmp.path().join("baseline.json");
    let base_s = base.to_str().expect("utf8");
    let out = run(&["baseline", base_s, "dir", "repo"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = std::fs::read(&base).expect("baseline written");
    let baseline: Value = serde_json::from_slice(&first).expect("json");
    assert_eq!(baseline["findings"].as_array().expect("findings").len(), 1);
    assert_eq!(baseline["findings"][0]["location"]["line"], 3);
    assert_eq!(baseline["stats"]["duration_ms"], 0, "no timings");
    assert!(!String::from_utf8_lossy(&first).contains(&old), "redacted");
    // Deterministic: the same tree gives the same bytes.
    run(&["baseline", base_s, "dir", "repo", "-q"], tmp.path());
    assert_eq!(std::fs::read(&base).expect("again"), first, "no churn");

    // A branch moves the secret down; main moves on; the branch is rebased.
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    let content = std::fs::read_to_string(repo.join("config/app.env")).expect("read");
    write(
        &repo,
        "config/app.env",
        &format!("# header\n# added by feature\n# more\n{content}"),
    );
    git(&repo, &["commit", "-q", "-am", "feature: document"]);
    git(&repo, &["checkout", "-q", "main"]);
    write(&repo, "README.md", "demo\nmore docs\n");
    git(&repo, &["commit", "-q", "-am", "main: docs"]);
    git(&repo, &["checkout", "-q", "feature"]);
    git(&repo, &["rebase", "-q", "main"]);

    let out = run(
        &["dir", "repo", "-f", "json", "--baseline", base_s],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_of(&out);
    assert!(report["findings"].as_array().expect("findings").is_empty());
    assert_eq!(report["stats"]["suppressed"]["baseline"], 1);

    // Rebuilt after the rebase: the line moved, the fingerprints did not.
    let moved = tmp.path().join("moved.json");
    run(
        &["baseline", moved.to_str().expect("utf8"), "dir", "repo"],
        tmp.path(),
    );
    let moved: Value = serde_json::from_slice(&std::fs::read(&moved).expect("read")).expect("json");
    assert_eq!(moved["findings"][0]["location"]["line"], 6);
    assert_eq!(fingerprints(&moved), fingerprints(&baseline));

    // A new leak is still reported through the baseline.
    let new = fake("brand-new");
    write(
        &repo,
        "config/prod.env",
        &format!("CYBRID_CLIENT_SECRET={new}\n"),
    );
    let out = run(
        &["dir", "repo", "-f", "json", "--baseline", base_s],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(
        paths(&report),
        BTreeSet::from(["config/prod.env".to_string()])
    );
    assert_eq!(report["stats"]["suppressed"]["baseline"], 1);
}

#[test]
fn bad_baselines_and_baseline_misuse_fail_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    write(d, "a.env", &format!("CYBRID_CLIENT_SECRET={}\n", fake("x")));
    let out = run(&["dir", ".", "--baseline", "nope.json"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));
    write(d, "junk.json", "{\"hello\": 1}");
    let out = run(&["dir", ".", "--baseline", "junk.json"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a cybrid-scan JSON report"),
        "{}",
        stderr(&out)
    );

    for args in [
        &["baseline", "b.json", "dir", ".", "--show-secrets"][..],
        &["baseline", "b.json", "dir", ".", "--baseline", "x.json"][..],
        &["baseline", "b.json", "logs", "x.log"][..],
        &["baseline", "b.json", "dir", ".", "-f", "sarif"][..],
    ] {
        let out = run(args, d);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!d.join("b.json").exists(), "{args:?} wrote a baseline");
    }
}
