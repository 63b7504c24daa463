//! `cybrid-scan dir` end to end: the real binary on temp trees built from `fixtures/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"));
    c.env_remove("NO_COLOR");
    c
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A temp copy of fixtures/samples (so tests can add files next to them).
fn samples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures().join("samples"), dir.path());
    dir
}

fn values() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("sample-values.json")).expect("values");
    serde_json::from_str(&text).expect("values json")
}

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cybrid-scan")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// (rule, path, line, column, confidence, paired)
type Row = (String, String, u64, u64, String, bool);

fn rows(report: &Value) -> Vec<Row> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                f["rule_id"].as_str().expect("rule").to_string(),
                l["path"].as_str().expect("path").to_string(),
                l["line"].as_u64().expect("line"),
                l["column"].as_u64().expect("column"),
                f["confidence"].as_str().expect("confidence").to_string(),
                f.get("client_id").is_some(),
            )
        })
        .collect()
}

const EXPECTED: &[(&str, &str, u64, u64, &str, bool)] = &[
    ("cybrid-client-secret", ".env", 4, 22, "high", true),
    (
        "cybrid-client-secret",
        "android/app/src/main/java/app/demo/CybridAuth.kt",
        6,
        32,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "build-cache/.gradle/caches/8.5/transforms/cybrid-sdk/classes.bin",
        13,
        150,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "ci/build-1234.log",
        2,
        197,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "config/multi-env.env",
        3,
        30,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "config/settings.yaml",
        36,
        18,
        "medium",
        false,
    ),
    (
        "cybrid-client-secret",
        "deploy/provision.sh",
        5,
        26,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "docs/SETUP.md",
        9,
        117,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "http/token.http",
        3,
        22,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "ios/Demo/CybridConfig.swift",
        8,
        27,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "k8s/cybrid-secret.yaml",
        9,
        18,
        "high",
        true,
    ),
    (
        "cybrid-client-secret",
        "notes/screenshot-transcription.md",
        2,
        16,
        "low",
        false,
    ),
    (
        "cybrid-client-secret",
        "scripts/get-token.sh",
        3,
        56,
        "high",
        true,
    ),
    (
        "cybrid-access-token",
        "tokens/session-dump.txt",
        2,
        23,
        "high",
        false,
    ),
    (
        "cybrid-access-token",
        "tokens/session-dump.txt",
        4,
        23,
        "low",
        false,
    ),
    (
        "cybrid-client-id",
        "web/dist/main.8f3a1c.min.js",
        1,
        13866,
        // Issue #19: a client id with no secret beside it is `low`.
        "low",
        false,
    ),
    (
        "cybrid-client-secret",
        "web/src/config/cybrid.ts",
        9,
        20,
        "high",
        true,
    ),
    (
        "cybrid-webhook-signing-key",
        "webhooks/receiver.py",
        4,
        31,
        "high",
        false,
    ),
];

fn expected() -> Vec<Row> {
    EXPECTED
        .iter()
        .map(|(r, p, l, c, conf, paired)| {
            (
                r.to_string(),
                p.to_string(),
                *l,
                *c,
                conf.to_string(),
                *paired,
            )
        })
        .collect()
}

#[test]
fn finds_every_sample_exactly() {
    let dir = samples();
    let out = run(&["dir", ".", "-f", "json"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rows(&json_of(&out)), expected());
}

#[test]
fn pairs_the_right_client_id_with_each_secret() {
    let dir = samples();
    let v = values();
    let out = run(&["dir", ".", "-f", "json", "--show-secrets"], dir.path());
    let report = json_of(&out);
    let by_path = |p: &str| -> (String, String) {
        let f = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["location"]["path"] == p)
            .unwrap_or_else(|| panic!("no finding in {p}"));
        (
            f["client_id"].as_str().unwrap_or_default().to_string(),
            f["secret"].as_str().expect("secret").to_string(),
        )
    };
    let pair = |id: &str, secret: &str| {
        (
            v[id].as_str().expect("id").to_string(),
            v[secret].as_str().expect("s").to_string(),
        )
    };
    assert_eq!(by_path(".env"), pair("env_id", "env_secret"));
    assert_eq!(by_path("deploy/provision.sh"), pair("sh_id", "sh_secret"));
    assert_eq!(
        by_path("web/src/config/cybrid.ts"),
        pair("ts_id", "ts_secret")
    );
    assert_eq!(
        by_path("ios/Demo/CybridConfig.swift"),
        pair("swift_id", "swift_secret")
    );
    assert_eq!(
        by_path("scripts/get-token.sh"),
        pair("curl_id", "curl_secret")
    );
    assert_eq!(
        by_path("k8s/cybrid-secret.yaml"),
        pair("k8s_id", "k8s_secret")
    );
    assert_eq!(by_path("http/token.http"), pair("basic_id", "basic_secret"));
    assert_eq!(by_path("ci/build-1234.log"), pair("log_id", "log_secret"));
    assert_eq!(
        by_path("build-cache/.gradle/caches/8.5/transforms/cybrid-sdk/classes.bin"),
        pair("gradle_id", "gradle_secret")
    );
    let token = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule_id"] == "cybrid-access-token" && f["confidence"] == "low")
        .expect("expired token");
    assert_eq!(token["token"]["expired"], true);
    assert_eq!(token["token"]["environment"], "production");
    assert_eq!(token["token"]["sub_type"], "organization");
}

#[test]
fn hard_negatives_never_fire() {
    let out = run(&["dir", "negatives", "-f", "json"], &fixtures());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json_of(&out);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["stats"]["files"], 7);
}

#[test]
fn no_secret_in_any_output_unless_asked() {
    let dir = samples();
    let v = values();
    let secrets: Vec<&str> = v
        .values()
        .filter_map(Value::as_str)
        .filter(|s| s.len() >= 40)
        .collect();
    for format in ["human", "json", "jsonl"] {
        let out = run(&["dir", ".", "-f", format], dir.path());
        let all = [out.stdout, out.stderr].concat();
        let text = String::from_utf8_lossy(&all);
        for s in &secrets {
            assert!(!text.contains(s), "{format} output leaks a secret");
            assert!(
                !text.contains(&s[4..20]),
                "{format} output leaks part of a secret"
            );
        }
    }
    let out = run(&["dir", ".", "-f", "jsonl", "--show-secrets"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(secrets.iter().filter(|s| text.contains(**s)).count() >= 20);
    assert_eq!(text.lines().count(), EXPECTED.len());
}

#[test]
fn deterministic_whatever_the_thread_count() {
    let dir = samples();
    let strip = |out: Output| {
        let mut v = json_of(&out);
        v["stats"]["duration_ms"] = Value::Null;
        v
    };
    let one = strip(run(
        &["dir", ".", "-f", "json", "--threads", "1"],
        dir.path(),
    ));
    let eight = strip(run(
        &["dir", ".", "-f", "json", "--threads", "8"],
        dir.path(),
    ));
    assert_eq!(one, eight);
    let human1 = run(&["dir", ".", "--threads", "1"], dir.path()).stdout;
    let human8 = run(&["dir", ".", "--threads", "8"], dir.path()).stdout;
    let cut = |b: Vec<u8>| {
        let t = String::from_utf8_lossy(&b).to_string();
        t.lines()
            // The summary line holds the run's duration.
            .filter(|l| !l.contains(" read, "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(cut(human1), cut(human8));
}

#[test]
fn exit_codes() {
    let dir = samples();
    assert_eq!(
        run(&["dir", ".", "--exit-code", "7"], dir.path())
            .status
            .code(),
        Some(7)
    );
    assert_eq!(
        run(&["dir", "negatives"], &fixtures()).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["dir", "--no-such-flag"], dir.path()).status.code(),
        Some(2)
    );
    let missing = run(&["dir", "does-not-exist"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does-not-exist"));
    // One bad root among good ones: reported, the rest still scanned.
    let mixed = run(&["dir", ".", "does-not-exist", "-f", "json"], dir.path());
    assert_eq!(mixed.status.code(), Some(1));
    let report = json_of(&mixed);
    assert_eq!(report["errors"][0]["path"], "does-not-exist");
    assert_eq!(
        report["findings"].as_array().map(Vec::len),
        Some(EXPECTED.len())
    );
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

const SECRET_LINE: &str = "CYBRID_CLIENT_SECRET=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ\n";

#[test]
fn gitignore_honoured_hidden_scanned_dot_git_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join(".gitignore"), "ignored/\n");
    write(&root.join("ignored/.env"), SECRET_LINE);
    write(&root.join(".hidden/.env"), SECRET_LINE);
    write(&root.join(".git/config.env"), SECRET_LINE);
    let paths = |args: &[&str]| -> Vec<String> {
        let report = json_of(&run(args, root));
        rows(&report).into_iter().map(|r| r.1).collect()
    };
    write(&root.join("ignored/app.txt"), SECRET_LINE);
    // An ignored .env is scanned all the same (its name says it holds
    // secrets); an ignored app.txt is not, and is counted.
    assert_eq!(
        paths(&["dir", ".", "-f", "json"]),
        vec![".hidden/.env", "ignored/.env"]
    );
    assert_eq!(
        paths(&["dir", ".", "-f", "json", "--no-ignore"]),
        vec![".hidden/.env", "ignored/.env", "ignored/app.txt"]
    );
}

#[test]
fn ignored_files_are_counted_and_secret_files_among_them_scanned_and_marked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join(".gitignore"), "ignored/\n*.log\n.env.local\n");
    write(&root.join(".ignore"), "vendor/\n");
    write(&root.join(".hidden/.env"), SECRET_LINE);
    // A different secret in each file: one block each in the human report.
    for (i, f) in [
        "ignored/.env",
        "ignored/app.txt",
        "build.log",
        ".env.local",
        "vendor/secrets.yaml",
    ]
    .iter()
    .enumerate()
    {
        let line = SECRET_LINE.replace("BaZ", &format!("Ba{}", (b'A' + i as u8) as char));
        write(&root.join(f), line);
    }
    write(&root.join("ignored/deep/notes.txt"), "nothing here\n");
    write(&root.join("vendor/lib.js"), "nothing here\n");
    write(&root.join(".git/config.env"), SECRET_LINE);

    let report = json_of(&run(&["dir", ".", "-f", "json"], root));
    let marked: Vec<(String, bool)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                l["path"].as_str().expect("path").to_string(),
                l["ignored_by_vcs"] == true,
            )
        })
        .collect();
    assert_eq!(
        marked,
        [
            (".env.local".to_string(), true),
            (".hidden/.env".to_string(), false),
            ("ignored/.env".to_string(), true),
            ("vendor/secrets.yaml".to_string(), true),
        ]
    );
    // A finding in a file the rules do not exclude has no such key at all.
    let kept = &report["findings"][1]["location"];
    assert!(kept.get("ignored_by_vcs").is_none(), "{kept}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(
            "4 file(s) excluded by .gitignore/.ignore were not scanned (--no-ignore scans them)"
        ),
        "{notes}"
    );
    assert!(
        notes.contains("3 file(s) excluded by .gitignore/.ignore scanned anyway"),
        "{notes}"
    );

    let human = run(&["dir", "."], root);
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(text.matches("likely not committed").count(), 3, "{text}");

    // --no-ignore: everything scanned, nothing marked, nothing to note.
    let all = json_of(&run(&["dir", ".", "-f", "json", "--no-ignore"], root));
    assert_eq!(all["findings"].as_array().expect("findings").len(), 6);
    assert!(!all.to_string().contains("ignored_by_vcs"));
    assert!(all.get("notes").is_none(), "{}", all["notes"]);
}

#[test]
fn oversized_files_are_named_in_the_human_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for i in 0..25 {
        write(&root.join(format!("big{i:02}.txt")), "x".repeat(100));
    }
    write(&root.join("small.txt"), "x");
    let out = run(&["dir", ".", "--max-file-size", "50"], root);
    let text = String::from_utf8_lossy(&out.stdout);
    let named: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("skipped: big"))
        .collect();
    assert_eq!(named.len(), 20, "{text}");
    assert!(
        named[0].starts_with("skipped: big00.txt: larger than --max-file-size"),
        "{text}"
    );
    assert!(
        text.contains("skipped: and 5 more file(s) larger than --max-file-size"),
        "{text}"
    );
    assert!(!text.contains("small.txt"));
}

#[test]
fn crlf_invalid_utf8_binary_and_a_huge_single_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        &root.join("crlf.env"),
        format!("A=1\r\nB=2\r\n{}", SECRET_LINE.replace('\n', "\r\n")),
    );
    let mut garbage = vec![0xffu8, 0xfe, 0x00, 0xc3, 0x28, b'\n'];
    garbage.extend_from_slice(SECRET_LINE.as_bytes());
    write(&root.join("latin1.bin"), garbage);
    let mut huge = vec![b'a'; 100 * 1024 * 1024];
    huge.extend_from_slice(b" cybrid client_secret=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ");
    write(&root.join("huge.min.js"), &huge);
    let report = json_of(&run(
        &["dir", ".", "-f", "json", "--max-file-size", "200M"],
        root,
    ));
    let got: Vec<(String, u64, u64)> = rows(&report).into_iter().map(|r| (r.1, r.2, r.3)).collect();
    assert_eq!(
        got,
        vec![
            ("crlf.env".to_string(), 3, 22),
            ("huge.min.js".to_string(), 1, 100 * 1024 * 1024 + 23),
            ("latin1.bin".to_string(), 2, 22),
        ]
    );
    // With the default cap the 100 MB file is skipped and said so, not dropped silently.
    let report = json_of(&run(&["dir", ".", "-f", "json"], root));
    assert_eq!(report["skipped"][0]["path"], "huge.min.js");
    assert!(report["skipped"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("max-file-size")));
    assert_eq!(report["stats"]["skipped"], 1);
}

#[cfg(unix)]
#[test]
fn symlink_loops_fifos_and_dangling_links_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join("a/.env"), SECRET_LINE);
    std::os::unix::fs::symlink("..", root.join("a/loop")).expect("symlink");
    std::os::unix::fs::symlink("missing-target", root.join("dangling")).expect("symlink");
    let fifo = root.join("pipe");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let out = run(&["dir", ".", "-f", "json", "--follow"], root);
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let paths: Vec<String> = rows(&report).into_iter().map(|r| r.1).collect();
    assert_eq!(paths, vec!["a/.env"]);
    let errors = report["errors"].to_string();
    assert!(errors.contains("loop"), "{errors}");
    assert!(errors.contains("dangling"), "{errors}");
    assert!(report["skipped"].to_string().contains("pipe"));
    // Without --follow, links are listed as skipped rather than followed.
    let report = json_of(&run(&["dir", ".", "-f", "json"], root));
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains("a/loop") && skipped.contains("dangling"),
        "{skipped}"
    );
}

#[test]
fn broken_pipe_is_not_an_error() {
    let dir = samples();
    let mut child = bin()
        .args(["dir", ".", "-f", "jsonl", "--threads", "1"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("error") && !stderr.contains("panic"),
        "{stderr}"
    );
}

#[test]
fn colour_only_when_asked_for_a_terminal() {
    let dir = samples();
    let out = run(&["dir", "."], dir.path());
    assert!(
        !out.stdout.contains(&0x1b),
        "no ANSI escapes when stdout is not a terminal"
    );
}

#[test]
fn fingerprints_ignore_path_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("one.env"), SECRET_LINE);
    write(
        &dir.path().join("deep/two.env"),
        format!("\n\n\n# moved\n{SECRET_LINE}"),
    );
    let report = json_of(&run(&["dir", ".", "-f", "json"], dir.path()));
    let fps: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["fingerprint"].as_str().expect("fp"))
        .collect();
    assert_eq!(fps.len(), 2);
    assert_eq!(fps[0], fps[1]);
    assert!(!fps[0].contains("k3Jd8sPq"));
}

#[test]
fn rules_check_passes_and_catches_bad_user_rules() {
    let out = bin().args(["rules", "check"]).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let user = tempfile::tempdir().expect("tempdir");
    let rule = |examples: &str, negatives: &str, regex: &str| {
        format!(
            "[[rules]]\nid = \"acme-cybrid-proxy-key\"\nname = \"n\"\ndescription = \"d\"\nkind = \"client-secret\"\nkeywords = [\"cybrid_proxy\"]\nexamples = [{examples}]\nnegative_examples = [{negatives}]\n[[rules.patterns]]\nregex = '''{regex}'''\n"
        )
    };
    let good_regex = r"cybrid_proxy_key=(?P<secret>[A-Za-z0-9_\-]{43})";
    let good_example = "\"cybrid_proxy_key=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ\"";
    let cases = [
        (rule(good_example, "", good_regex), 0, ""),
        (
            rule(good_example, good_example, good_regex),
            1,
            "negative example 1 is detected",
        ),
        (
            rule("\"nothing here\"", "", good_regex),
            1,
            "contains none of the rule's keywords",
        ),
        (
            rule(good_example, "", "(?P<secret>[a-z"),
            2,
            "does not compile",
        ),
        (
            rule(good_example, "", "cybrid_proxy_key=[a-z]+"),
            2,
            "named capture `secret`",
        ),
    ];
    for (text, code, message) in cases {
        std::fs::write(user.path().join("acme.toml"), text).expect("write rule");
        let out = bin()
            .args(["rules", "check", "--rules"])
            .arg(user.path())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn user_rules_extend_a_scan() {
    let user = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        user.path().join("acme.toml"),
        "[[rules]]\nid = \"acme-cybrid-proxy-key\"\nname = \"Acme proxy key\"\ndescription = \"d\"\nkind = \"client-secret\"\nkeywords = [\"cybrid_proxy\"]\nexamples = [\"cybrid_proxy_key=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ\"]\n[[rules.patterns]]\nregex = '''cybrid_proxy_key=(?P<secret>[A-Za-z0-9_\\-]{43})'''\n",
    )
    .expect("write rule");
    let data = tempfile::tempdir().expect("tempdir");
    write(
        &data.path().join("p.cfg"),
        "cybrid_proxy_key=Zk3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1Ba\n",
    );
    let out = bin()
        .args(["dir", ".", "-f", "json", "--rules"])
        .arg(user.path())
        .current_dir(data.path())
        .output()
        .expect("run");
    let report = json_of(&out);
    assert_eq!(report["findings"][0]["rule_id"], "acme-cybrid-proxy-key");
}

#[test]
fn gitlab_and_hook_formats() {
    let dir = samples();
    let out = run(&["dir", ".", "-f", "gitlab", "--show-secrets"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(doc["version"], "15.0.7");
    assert_eq!(doc["scan"]["type"], "secret_detection");
    let vulns = doc["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), EXPECTED.len());
    assert_eq!(vulns[0]["location"]["file"], ".env");
    assert_eq!(vulns[0]["location"]["start_line"], 4);
    let text = String::from_utf8_lossy(&out.stdout);
    for s in values()
        .values()
        .filter_map(Value::as_str)
        .filter(|s| s.len() >= 40)
    {
        assert!(!text.contains(s), "GitLab reports never carry secrets");
    }
    let out = run(&["dir", ".env", "-f", "hook"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("cybrid-scan: .env:4:22: cybrid-client-secret (high) "));
    assert!(lines[1].contains("cybrid-scan:allow"));
}

/// A full disk under `-o`: exit 2, the message names the report, the
/// previous report is untouched and no temporary file is left. Needs a real
/// small file system: a 64 KiB tmpfs, mounted when the test may (root);
/// skipped with a note elsewhere.
#[test]
fn a_full_disk_keeps_the_previous_report() {
    let mnt = tempfile::tempdir().expect("tempdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(mnt.path())
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("note: a_full_disk_keeps_the_previous_report skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path());
    let report = mnt.path().join("report.json");
    let previous = b"{\"previous\": \"good report\"}\n";
    std::fs::write(&report, previous).expect("previous report");
    // Fill the rest, so the new report cannot fit.
    let filler = vec![b'x'; 60 * 1024];
    let _ = std::fs::write(mnt.path().join("filler"), &filler);
    let dir = samples();
    let out = run(
        &[
            "dir",
            ".",
            "-f",
            "json",
            "-o",
            report.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(report.to_str().expect("path")), "{stderr}");
    assert_eq!(std::fs::read(&report).expect("still there"), previous);
    let left: Vec<String> = std::fs::read_dir(mnt.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "report.json" && n != "filler")
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    // With room, the report replaces the previous one whole.
    std::fs::remove_file(mnt.path().join("filler")).expect("rm filler");
    let out = run(
        &[
            "dir",
            ".",
            "-f",
            "json",
            "-o",
            report.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let written: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    assert!(!written["findings"].as_array().expect("findings").is_empty());
}
