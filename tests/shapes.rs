//! Issue #19 end to end: credentials the way real code holds them (property
//! lists, XML settings, fallback defaults, blocks named for Cybrid, project
//! context), in `dir`, `git` and `logs`, with the attribution each finding
//! carries; and the negatives beside them, which must stay silent.
//!
//! Fixtures are written by `scripts/gen-shape-fixtures.py` with generated
//! values; `fixtures/shapes-values.json` names each one. Lines and columns are
//! computed here from the fixture text, so a finding in the wrong place fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// A temp copy of `fixtures/NAME`, away from this repository's ignore files.
fn tree(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures().join(name), dir.path());
    dir
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

/// (client_id, secret) of a generated shape.
fn value(shape: &str) -> (Option<String>, String) {
    let text = std::fs::read_to_string(fixtures().join("shapes-values.json")).expect("values");
    let all: Value = serde_json::from_str(&text).expect("values json");
    let v = &all[shape];
    (
        v["client_id"].as_str().map(str::to_string),
        v["secret"].as_str().expect("secret").to_string(),
    )
}

/// 1-based line and byte column of the first `needle` in `file`.
fn position(file: &Path, needle: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(file).expect("fixture");
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{} lacks the value", file.display()));
    let line = text[..at].matches('\n').count() as u64 + 1;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, (at - line_start) as u64 + 1)
}

/// What a test asserts of one finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    rule: String,
    path: String,
    line: u64,
    column: u64,
    confidence: String,
    client_id: Option<String>,
    via: Option<String>,
    key: Option<String>,
}

fn seen(report: &Value) -> Vec<Seen> {
    let mut out: Vec<Seen> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let l = &f["location"];
            let s = |v: &Value| v.as_str().map(str::to_string);
            Seen {
                rule: s(&f["rule_id"]).expect("rule"),
                path: s(&l["path"]).expect("path"),
                line: l["line"].as_u64().expect("line"),
                column: l["column"].as_u64().expect("column"),
                confidence: s(&f["confidence"]).expect("confidence"),
                client_id: s(&f["client_id"]),
                via: s(&f["context"]["via"]),
                key: s(&f["context"]["key"]),
            }
        })
        .collect();
    out.sort();
    out
}

/// The expected finding of a shape: its secret's place in `root/path`.
fn expect(
    root: &Path,
    shape: &str,
    path: &str,
    rule: &str,
    confidence: &str,
    via: &str,
    key: Option<&str>,
) -> Seen {
    let (id, secret) = value(shape);
    let (line, column) = position(&root.join(path), &secret);
    Seen {
        rule: rule.into(),
        path: path.into(),
        line,
        column,
        confidence: confidence.into(),
        client_id: id,
        via: Some(via.into()),
        key: key.map(str::to_string),
    }
}

const SECRET: &str = "cybrid-client-secret";

/// (shape, path, via, key) of every client-secret shape in fixtures/shapes.
const SHAPES: &[(&str, &str, &str, &str)] = &[
    (
        "actions",
        "actions/.github/workflows/e2e.yml",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "compose",
        "compose/docker-compose.yml",
        "parent",
        "CLIENT_SECRET",
    ),
    ("readme", "docs/README.md", "key", "CybridAPI_Secret"),
    (
        "app_config",
        "dotnet/Payments/App.config",
        "key",
        "Cybrid:ClientSecret",
    ),
    ("hex_id", "env/legacy.env", "key", "CYBRID_CLIENT_SECRET"),
    ("helm", "helm/values.yaml", "parent", "clientSecret"),
    (
        "plist",
        "ios/CybridDemo/Info.plist",
        "key",
        "CybridClientSecret",
    ),
    ("constants", "js/cybrid.js", "key", "CYBRID_CLIENT_SECRET"),
    (
        "json_nested",
        "json/appsettings.json",
        "parent",
        "ClientSecret",
    ),
    ("k8s", "k8s/payments-secret.yaml", "parent", "client_secret"),
    (
        "kt_fallback",
        "kotlin/src/main/kotlin/demo/Env.kt",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "py_fallback",
        "python/app/settings.py",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "rb_fallback",
        "ruby/config/initializers/payments.rb",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "sh_fallback",
        "shell/start.sh",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "strings_xml",
        "android/app/src/main/res/values/strings.xml",
        "key",
        "cybrid_client_secret",
    ),
    (
        "swift_fallback",
        "swift/Sources/Demo/Env.swift",
        "key",
        "CYBRID_CLIENT_SECRET",
    ),
    (
        "terraform",
        "terraform/variables.tf",
        "key",
        "cybrid_client_secret",
    ),
    ("toml", "toml/config.toml", "parent", "client_secret"),
    (
        "ts_fallback",
        "web/src/environments/environment.ts",
        "key",
        "process.env.CYBRID_CLIENT_SECRET",
    ),
    (
        "yaml_nested",
        "yaml/application.yml",
        "parent",
        "client_secret",
    ),
];

fn expected_shapes(root: &Path) -> Vec<Seen> {
    let mut want: Vec<Seen> = SHAPES
        .iter()
        .map(|(shape, path, via, key)| expect(root, shape, path, SECRET, "high", via, Some(key)))
        .collect();
    // The curl transcript's customer token from a local identity service: expired.
    let mut token = expect(
        root,
        "local_jwt",
        "transcripts/customer-token.txt",
        "cybrid-access-token",
        "low",
        "host",
        None,
    );
    token.client_id = None;
    want.push(token);
    want.sort();
    want
}

#[test]
fn dir_finds_every_shape_with_its_key_pair_and_attribution() {
    let dir = tree("shapes");
    let out = run(&["dir", ".", "-f", "json", "--show-secrets"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(seen(&report), expected_shapes(dir.path()));
    // Every pair was found: each secret carries its own generated client id.
    let paired = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == SECRET)
        .all(|f| f["client_id"].is_string());
    assert!(paired);
}

#[test]
fn evidence_names_the_parent_and_never_a_value() {
    let dir = tree("shapes");
    let report = json_of(&run(
        &["dir", ".", "-f", "json", "--show-secrets"],
        dir.path(),
    ));
    let evidence = |path: &str| -> String {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["location"]["path"] == path)
            .map(|f| f["context"]["evidence"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(evidence("toml/config.toml"), "in section `[cybrid]`");
    assert_eq!(
        evidence("k8s/payments-secret.yaml"),
        "Secret named `cybrid-api`"
    );
    assert_eq!(
        evidence("compose/docker-compose.yml"),
        "inside `cybrid-worker:`"
    );
    assert_eq!(evidence("yaml/application.yml"), "inside `cybrid:`");
    assert_eq!(
        evidence("transcripts/customer-token.txt"),
        "issued by http://api-idp.local.cybrid.com:3000"
    );
    for f in report["findings"].as_array().expect("findings") {
        let context = f["context"].to_string();
        for v in [&f["secret"], &f["client_id"]] {
            if let Some(v) = v.as_str() {
                assert!(!context.contains(v), "context holds a value: {context}");
            }
        }
    }
}

#[test]
fn project_context_makes_a_generic_pair_cybrids_and_says_so() {
    let dir = tree("project");
    let root = dir.path();
    let out = run(&["dir", ".", "-f", "json", "--show-secrets"], root);
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let want = {
        let mut w = vec![
            expect(
                root,
                "karma",
                "karma.conf.js",
                SECRET,
                "medium",
                "project",
                Some("CLIENT_SECRET_PLAID"),
            ),
            expect(
                root,
                "component",
                "src/app/login/login.component.ts",
                SECRET,
                "medium",
                "project",
                Some("publicClientSecret"),
            ),
            expect(
                root,
                "bundle",
                "dist/main.js",
                SECRET,
                "medium",
                "project",
                Some("publicClientSecret"),
            ),
        ];
        w.sort();
        w
    };
    assert_eq!(seen(&report), want);
    for f in report["findings"].as_array().expect("findings") {
        assert_eq!(
            f["context"]["evidence"],
            "package.json depends on @cybrid/cybrid-api-bank-angular"
        );
    }
    // The same shapes in a project that does not use Cybrid: nothing.
    let other = tree("not-a-project");
    let out = run(&["dir", ".", "-f", "json"], other.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(seen(&json_of(&out)).is_empty());
}

#[test]
fn nested_package_roots_are_projects_of_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy_tree(&fixtures().join("project"), &root.join("packages/wallet"));
    copy_tree(
        &fixtures().join("not-a-project"),
        &root.join("packages/other"),
    );
    std::fs::write(
        root.join("package.json"),
        "{\"name\": \"monorepo\", \"private\": true}\n",
    )
    .expect("write");
    let report = json_of(&run(&["dir", ".", "-f", "json"], root));
    let paths: Vec<String> = seen(&report).into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        vec![
            "packages/wallet/dist/main.js",
            "packages/wallet/karma.conf.js",
            "packages/wallet/src/app/login/login.component.ts",
        ]
    );
}

#[test]
fn negatives_beside_cybrid_lines_report_nothing() {
    let dir = tree("shapes-negatives");
    let out = run(&["dir", ".", "-f", "json"], dir.path());
    let report = json_of(&out);
    assert!(seen(&report).is_empty(), "{:#?}", seen(&report));
    assert_eq!(out.status.code(), Some(0));
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository whose first commit holds the generic pairs and whose second
/// adds the manifest that makes them Cybrid's: evidence from any blob of the
/// history counts, and each finding stays with the commit that introduced it.
#[test]
fn git_holds_project_candidates_until_the_history_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    copy_tree(&fixtures().join("project"), root);
    std::fs::remove_file(root.join("package.json")).expect("rm");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "app"]);
    let first = git(root, &["rev-parse", "HEAD"]);
    let out = run(&["git", ".", "-f", "json"], root);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no manifest yet: nothing is Cybrid's"
    );
    assert!(seen(&json_of(&out)).is_empty());
    std::fs::copy(
        fixtures().join("project/package.json"),
        root.join("package.json"),
    )
    .expect("copy");
    copy_tree(&fixtures().join("shapes"), &root.join("shapes"));
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "depend on the Cybrid SDK"]);
    let report = json_of(&run(&["git", ".", "-f", "json", "--show-secrets"], root));
    let findings = report["findings"].as_array().expect("findings");
    let project: Vec<&Value> = findings
        .iter()
        .filter(|f| f["context"]["via"] == "project")
        .collect();
    assert_eq!(project.len(), 3, "{findings:#?}");
    for f in &project {
        assert_eq!(f["location"]["commit"].as_str(), Some(first.as_str()));
        assert_eq!(f["confidence"], "medium");
        assert_eq!(
            f["context"]["evidence"],
            "package.json depends on @cybrid/cybrid-api-bank-angular"
        );
    }
    let karma = project
        .iter()
        .find(|f| f["location"]["path"] == "karma.conf.js")
        .expect("karma pair");
    let (id, secret) = value("karma");
    let (line, column) = position(&root.join("karma.conf.js"), &secret);
    assert_eq!(karma["secret"].as_str(), Some(secret.as_str()));
    assert_eq!(karma["client_id"].as_str(), id.as_deref());
    assert_eq!(karma["location"]["line"].as_u64(), Some(line));
    assert_eq!(karma["location"]["column"].as_u64(), Some(column));
    // Every shape is found in history as in a directory, under shapes/.
    let shapes: Vec<Seen> = seen(&report)
        .into_iter()
        .filter(|s| s.path.starts_with("shapes/"))
        .map(|mut s| {
            s.path = s.path["shapes/".len()..].to_string();
            s.client_id = None;
            s
        })
        .collect();
    let want: Vec<Seen> = expected_shapes(&root.join("shapes"))
        .into_iter()
        .map(|mut s| {
            s.client_id = None;
            s
        })
        .collect();
    assert_eq!(shapes, want);
}

fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// In a job log, a generic pair is Cybrid's when the same log names a Cybrid host.
#[test]
fn logs_pair_generic_keys_with_a_host_in_the_same_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (id, secret) = value("karma");
    let filler = "2024-05-01T10:00:00.0000000Z step output line\n".repeat(3000);
    let pair = format!(
        "2024-05-01T10:00:01.0000000Z env: {{ CLIENT_ID: '{id}', CLIENT_SECRET: '{secret}' }}\n",
        id = id.as_deref().expect("id")
    );
    write(
        &root.join("with-host.log"),
        &format!(
            "{pair}{filler}2024-05-01T10:00:09.0000000Z POST https://id.sandbox.cybrid.app/oauth/token 401\n"
        ),
    );
    write(&root.join("no-host.log"), &format!("{pair}{filler}"));
    let (_, shell_secret) = value("sh_fallback");
    write(
        &root.join("fallback.log"),
        &format!("+ CLIENT_SECRET=\"${{CYBRID_CLIENT_SECRET:-{shell_secret}}}\"\n"),
    );
    let (_, token) = value("local_jwt");
    write(
        &root.join("token.log"),
        &format!("> Authorization: Bearer {token}\n"),
    );
    let report = json_of(&run(
        &[
            "logs",
            "with-host.log",
            "no-host.log",
            "fallback.log",
            "token.log",
            "-f",
            "json",
        ],
        root,
    ));
    let mut got: Vec<(String, u64, String, String, Option<String>)> = seen(&report)
        .into_iter()
        .map(|s| (s.path, s.line, s.rule, s.confidence, s.via))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "fallback.log".into(),
                1,
                SECRET.into(),
                "high".into(),
                Some("key".into())
            ),
            (
                "token.log".into(),
                1,
                "cybrid-access-token".into(),
                "low".into(),
                Some("host".into())
            ),
            (
                "with-host.log".into(),
                1,
                SECRET.into(),
                "medium".into(),
                Some("project".into())
            ),
        ]
    );
    let with_host = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["location"]["path"] == "with-host.log")
        .expect("finding");
    assert_eq!(
        with_host["context"]["evidence"],
        "the same log names the Cybrid host id.sandbox.cybrid.app"
    );
}

#[test]
fn min_confidence_decides_what_is_reported_and_the_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (id, secret) = value("readme");
    let id = id.expect("id");
    // A setup guide: a real-looking client id beside a placeholder secret.
    write(
        &root.join("SETUP.md"),
        &format!("CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET=your_secret\n"),
    );
    let out = run(&["dir", ".", "-f", "json"], root);
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let lone = &report["findings"][0];
    assert_eq!(lone["rule_id"], "cybrid-client-id");
    assert_eq!(lone["confidence"], "low");
    assert!(lone["context"]["note"]
        .as_str()
        .is_some_and(|n| n.contains("client id alone")));
    let out = run(
        &["dir", ".", "-f", "json", "--min-confidence", "medium"],
        root,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(seen(&json_of(&out)).is_empty());
    // A pair is never lowered: it stays above the gate.
    write(
        &root.join(".env"),
        &format!("CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET={secret}\n"),
    );
    let out = run(
        &["dir", ".", "-f", "json", "--min-confidence", "high"],
        root,
    );
    assert_eq!(out.status.code(), Some(1));
    let kept = seen(&json_of(&out));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].path, ".env");
    assert!(kept[0].client_id.is_some(), "paired");
    let bad = run(&["dir", ".", "--min-confidence", "certain"], root);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn context_in_sarif_and_the_human_report() {
    let dir = tree("shapes");
    let sarif = json_of(&run(&["dir", "toml", "-f", "sarif"], dir.path()));
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["properties"]["context"]["via"], "parent");
    assert_eq!(result["properties"]["context"]["key"], "client_secret");
    let human = run(&["dir", "toml", "--no-color"], dir.path());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Cybrid's via parent: in section `[cybrid]`"),
        "{text}"
    );
}

/// `git --staged` (pre-commit): the project is the repository, so a generic
/// pair staged today is Cybrid's because the package.json committed long ago
/// depends on Cybrid's SDK. Only manifests are read from the index for it.
#[test]
fn staged_generic_pair_gets_project_evidence_from_the_index() {
    for (manifest_dir, want) in [("project", true), ("not-a-project", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        std::fs::copy(
            fixtures().join(manifest_dir).join("package.json"),
            root.join("package.json"),
        )
        .expect("copy");
        write(&root.join("README.md"), "# wallet\n");
        git(root, &["add", "-A"]);
        git(root, &["commit", "-qm", "app"]);
        std::fs::copy(
            fixtures().join("project/karma.conf.js"),
            root.join("karma.conf.js"),
        )
        .expect("copy");
        git(root, &["add", "karma.conf.js"]);
        let out = run(
            &["git", ".", "--staged", "-f", "json", "--show-secrets"],
            root,
        );
        let report = json_of(&out);
        let found = report["findings"].as_array().expect("findings");
        if !want {
            assert!(found.is_empty(), "{found:#?}");
            assert_eq!(out.status.code(), Some(0));
            continue;
        }
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        let (id, secret) = value("karma");
        let (line, column) = position(&root.join("karma.conf.js"), &secret);
        assert_eq!(f["rule_id"], SECRET);
        assert_eq!(f["location"]["path"], "karma.conf.js");
        assert_eq!(f["location"]["line"].as_u64(), Some(line));
        assert_eq!(f["location"]["column"].as_u64(), Some(column));
        assert_eq!(f["secret"].as_str(), Some(secret.as_str()));
        assert_eq!(f["client_id"].as_str(), id.as_deref());
        assert_eq!(f["confidence"], "medium");
        assert_eq!(f["context"]["via"], "project");
        assert_eq!(f["context"]["key"], "CLIENT_SECRET_PLAID");
        assert_eq!(
            f["context"]["evidence"],
            "package.json depends on @cybrid/cybrid-api-bank-angular"
        );
    }
}

/// 1-based line and byte column of the first `needle` in a file that may be binary.
fn position_in_bytes(file: &Path, needle: &str) -> (u64, u64) {
    let bytes = std::fs::read(file).expect("fixture");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{} lacks the value", file.display()));
    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, (at - line_start) as u64 + 1)
}

/// Android builds: a Gradle `buildConfigField("String", "KEY", "\"…\"")`
/// (the value is a Java literal inside a string), the generated
/// `BuildConfig.java`, and Gradle's execution history, where the
/// GenerateBuildConfig task's fields are Java-serialized objects: each key,
/// then its object, then its value. The generic keys are Cybrid's because
/// `app/build.gradle.kts` (a subproject of the root's Gradle build) depends
/// on Cybrid's SDK.
fn android_expected(root: &Path, prefix: &str) -> Vec<Seen> {
    let evidence_key = |shape: &str, path: &str, confidence: &str, via: &str, key: &str| {
        let (id, secret) = value(shape);
        let (line, column) = position_in_bytes(&root.join(path), &secret);
        Seen {
            rule: SECRET.into(),
            path: format!("{prefix}{path}"),
            line,
            column,
            confidence: confidence.into(),
            client_id: id,
            via: Some(via.into()),
            key: Some(key.into()),
        }
    };
    let mut want = vec![
        evidence_key(
            "gradle_field",
            "app/build.gradle.kts",
            "high",
            "key",
            "CYBRID_CLIENT_SECRET",
        ),
        evidence_key(
            "build_config",
            "app/build/generated/source/buildConfig/debug/app/example/wallet/BuildConfig.java",
            "medium",
            "project",
            "CLIENT_SECRET",
        ),
        evidence_key(
            "execution_history",
            ".gradle/8.2/executionHistory/executionHistory.bin",
            "medium",
            "project",
            "CLIENT_SECRET",
        ),
    ];
    want.sort();
    want
}

#[test]
fn android_build_config_fields_and_gradle_caches_in_dir_and_git() {
    let dir = tree("shapes-android");
    let root = dir.path();
    let out = run(&["dir", ".", "-f", "json", "--show-secrets"], root);
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(seen(&report), android_expected(root, ""));
    for f in report["findings"].as_array().expect("findings") {
        let evidence = f["context"]["evidence"].as_str().expect("evidence");
        if f["context"]["via"] == "project" {
            assert_eq!(
                evidence,
                "app/build.gradle.kts depends on cybrid-api-bank-kotlin"
            );
        }
    }

    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "android app"]);
    let report = json_of(&run(&["git", ".", "-f", "json", "--show-secrets"], root));
    assert_eq!(seen(&report), android_expected(root, ""));
}

#[test]
fn android_build_config_field_in_a_build_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, secret) = value("gradle_field");
    let gradle = std::fs::read_to_string(fixtures().join("shapes-android/app/build.gradle.kts"))
        .expect("fixture");
    let log: String = gradle
        .lines()
        .map(|l| format!("2024-05-01T10:00:00.0000000Z + {l}\n"))
        .collect();
    let path = dir.path().join("build.log");
    write(&path, &log);
    let out = run(
        &["logs", "build.log", "-f", "json", "--show-secrets"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let (line, column) = position(&path, &secret);
    assert_eq!(
        seen(&report),
        vec![Seen {
            rule: SECRET.into(),
            path: "build.log".into(),
            line,
            column,
            confidence: "high".into(),
            client_id: id,
            via: Some("key".into()),
            key: Some("CYBRID_CLIENT_SECRET".into()),
        }]
    );
}

/// Webhook signing keys: in an API document's example payload (an OpenAPI
/// `example:` block, a Markdown "Example response" code block, a response
/// block right after its request block under a scraped "RequestResponse"
/// tab label) they are examples, not credentials (CYBRID.md), and are not
/// reported; in configuration they keep `high`.
#[test]
fn webhook_keys_in_documentation_examples_are_not_reported_and_config_keeps_high() {
    let dir = tree("shapes-docs");
    let root = dir.path();
    let want = |shape: &str, path: &str, confidence: &str, via: &str, key: &str| {
        let (_, secret) = value(shape);
        let (line, column) = position(&root.join(path), &secret);
        Seen {
            rule: "cybrid-webhook-signing-key".into(),
            path: path.into(),
            line,
            column,
            confidence: confidence.into(),
            client_id: None,
            via: Some(via.into()),
            key: Some(key.into()),
        }
    };
    let expected = vec![want(
        "webhook_config",
        "deploy/receiver.env",
        "high",
        "key",
        "CYBRID_WEBHOOK_SIGNING_KEY",
    )];
    let report = json_of(&run(&["dir", ".", "-f", "json"], root));
    assert_eq!(seen(&report), expected);
    // The example keys are in the fixtures, right beside Cybrid's name.
    for shape in ["webhook_markdown", "webhook_scraped", "webhook_openapi"] {
        let (_, secret) = value(shape);
        let text: String = [
            "docs/webhooks.md",
            "docs/subscriptions.md",
            "openapi/cybrid-bank.yaml",
        ]
        .iter()
        .map(|p| std::fs::read_to_string(root.join(p)).expect("fixture"))
        .collect();
        assert!(text.contains(&secret), "{shape} not in the fixtures");
    }
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "docs"]);
    let report = json_of(&run(&["git", ".", "-f", "json"], root));
    assert_eq!(seen(&report), expected);
}

/// Setup guides: Markdown bold labels (`- **Client Secret**: `…``,
/// `**Client Secret:** `…``) in sections whose heading names Cybrid, with a
/// blank line after the heading and a `## Production` part under the
/// document's `# Cybrid …` title; a webhook key as a fallback default. The
/// negatives beside them: a section for another provider inside a Cybrid
/// guide, a placeholder, and the same labels with no Cybrid heading at all.
#[test]
fn setup_guides_bold_labels_sections_and_webhook_fallbacks() {
    // Generated values, not credentials.
    let (id1, secret1) = (
        "GA2H9dPBoOAfL8p58sDT6B2NuRwo1ncbsGzKEs1Bxpg",
        "O8hyw3d0A7d4cki4N7BGPxeHXwyx4aD7dWlD2Bxw0UY",
    );
    let (id2, secret2) = (
        "Qz7vN2kLp9RtX4mB8cY1sD6fH3jW0eA5uG2iK7oP9nM",
        "Xk2Tz9LmQ4wRb7NvC1pYs8HdF5gJ3aE6uK0oI2qW4eR",
    );
    let other = "Vb8nM2xQ7wE4rT1yU6iO3pA9sD5fG0hJ2kL8zX4cV7b";
    let signing = "4f1c9e2a7b3d5e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |name: &str, text: String| std::fs::write(root.join(name), text).expect("write");
    write(
        "SETUP.md",
        format!(
            "# Cybrid sandbox setup\n\nCreate an application in the Partner Portal, then:\n\n\
             - **Client ID**: `{id1}`\n- **Client Secret**: `{secret1}`\n\n\
             ## Production\n\n**Client ID:** `{id2}`\n**Client Secret:** `{secret2}`\n\n\
             ## Auth0 (login)\n\n- **Client Secret**: `{other}`\n\n\
             ## Rotating\n\n- **Client Secret**: `<your client secret>`\n"
        ),
    );
    write(
        "OTHER.md",
        format!("# Payments setup\n\n- **Client Secret**: `{other}`\n"),
    );
    write(
        "webhook.js",
        format!(
            "const express = require('express');\n\
             const SIGNING_KEY = process.env.CYBRID_WEBHOOK_SIGNING_KEY || '{signing}';\n"
        ),
    );
    let pair = |id: &str, secret: &str, key: &str| {
        let (line, column) = position(&root.join("SETUP.md"), secret);
        Seen {
            rule: "cybrid-client-secret".into(),
            path: "SETUP.md".into(),
            line,
            column,
            confidence: "high".into(),
            client_id: Some(id.into()),
            via: Some("parent".into()),
            key: Some(key.into()),
        }
    };
    let (line, column) = position(&root.join("webhook.js"), signing);
    let mut expected = vec![
        pair(id1, secret1, "Client Secret"),
        pair(id2, secret2, "Client Secret"),
        Seen {
            rule: "cybrid-webhook-signing-key".into(),
            path: "webhook.js".into(),
            line,
            column,
            confidence: "high".into(),
            client_id: None,
            via: Some("key".into()),
            key: Some("process.env.CYBRID_WEBHOOK_SIGNING_KEY".into()),
        },
    ];
    expected.sort();
    let out = run(&["dir", ".", "-f", "json", "--show-secrets"], root);
    let report = json_of(&out);
    assert_eq!(seen(&report), expected);
    for f in report["findings"].as_array().expect("findings") {
        if f["rule_id"] == "cybrid-client-secret" {
            assert_eq!(f["context"]["evidence"], "under `# Cybrid sandbox setup`");
        }
    }
}
