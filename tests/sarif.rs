//! SARIF end to end: every log the tool writes is validated against the
//! official SARIF 2.1.0 schema (OASIS errata01, vendored in tests/data), and
//! the points GitHub code scanning relies on are checked one by one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use cybrid_scan::finding::{
    Confidence, Finding, Fingerprint, Location, SourceKind, Verification, VerificationStatus,
};
use cybrid_scan::report::{self, Format, OutputOptions, Report, Reveal};
use cybrid_scan::secret::Secret;
use serde_json::Value;
use sha2::Digest;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A realistic fake 43-character value, different for each seed.
fn fake(seed: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(seed.as_bytes()))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

fn sample_values() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("sample-values.json")).expect("values");
    let map: serde_json::Map<String, Value> = serde_json::from_str(&text).expect("json");
    // GUIDs (bank, organization) are identifiers shown on purpose, not secrets.
    map.iter()
        .filter(|(k, _)| !k.ends_with("_guid"))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect()
}

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cybrid-scan")
}

/// Validate against the vendored official schema; panic with every error.
fn validate(log: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF fails the schema:\n{}",
        errors.join("\n")
    );
}

fn sarif_of(out: &Output) -> Value {
    let log: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    validate(&log);
    log
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().expect("results")
}

#[test]
fn the_validator_rejects_a_broken_log() {
    // Guards the guard: a schema check that accepts anything proves nothing.
    let dir = tempfile::tempdir().expect("tmp");
    copy_tree(&fixtures().join("samples"), dir.path());
    let out = run(&["dir", ".", "-f", "sarif"], dir.path());
    let mut log: Value = serde_json::from_slice(&out.stdout).expect("json");
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    let result = std::panic::catch_unwind(|| validate(&log));
    assert!(result.is_err(), "startLine 0 must fail the schema");
}

#[test]
fn dir_scan_of_fixtures_is_valid_sarif_with_what_github_needs() {
    let dir = tempfile::tempdir().expect("tmp");
    copy_tree(&fixtures().join("samples"), dir.path());
    let odd = dir.path().join("odd dir");
    std::fs::create_dir_all(&odd).expect("mkdir");
    let odd_secret = fake("odd");
    std::fs::write(
        odd.join("my #1 cfg.env"),
        format!("CYBRID_CLIENT_SECRET={odd_secret}\n"),
    )
    .expect("write");

    let out = run(
        &[
            "dir",
            ".",
            "-f",
            "sarif",
            "--sarif-category",
            "cybrid-scan/dir",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "findings => exit 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "no limit warnings: {stderr}");
    let log = sarif_of(&out);
    let raw = String::from_utf8_lossy(&out.stdout);
    for secret in sample_values().iter().chain([&odd_secret]) {
        assert!(!raw.contains(secret.as_str()), "a secret leaked into SARIF");
    }

    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().is_some_and(|s| s.contains("2.1.0")));
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run");
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "cybrid-scan");
    assert_eq!(driver["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(runs[0]["automationDetails"]["id"], "cybrid-scan/dir/");

    let rules = driver["rules"].as_array().expect("rules");
    assert!(rules.len() >= 4);
    for r in rules {
        let id = r["id"].as_str().expect("id");
        assert!(!r["name"].as_str().expect("name").is_empty());
        assert!(!r["shortDescription"]["text"]
            .as_str()
            .expect("short")
            .is_empty());
        assert!(!r["fullDescription"]["text"]
            .as_str()
            .expect("full")
            .is_empty());
        let help = r["help"]["text"].as_str().expect("help text");
        let markdown = r["help"]["markdown"].as_str().expect("help markdown");
        assert!(
            help.contains("How to rotate") && help.contains("What leaked"),
            "{id}"
        );
        assert!(markdown.contains("**How to rotate:**"), "{id}");
        assert!(
            ["error", "warning", "note"]
                .contains(&r["defaultConfiguration"]["level"].as_str().expect("level")),
            "{id}"
        );
        let tags: Vec<&str> = r["properties"]["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(tags.contains(&"security"), "{id}");
        assert!(["very-high", "high", "medium", "low"]
            .contains(&r["properties"]["precision"].as_str().expect("precision")));
        let sev: f64 = r["properties"]["security-severity"]
            .as_str()
            .expect("severity is a string")
            .parse()
            .expect("severity is a number");
        assert!(sev > 0.0 && sev <= 10.0, "{id}: {sev}");
    }
    let secret_rule = rules
        .iter()
        .find(|r| r["id"] == "cybrid-client-secret")
        .expect("client secret rule");
    assert!(secret_rule["help"]["text"]
        .as_str()
        .is_some_and(|h| h.contains("Partner Portal")));
    assert!(secret_rule["properties"]["security-severity"]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .is_some_and(|s| s >= 9.0));

    // The same findings, in the same order, as the JSON report.
    let json_out = run(&["dir", ".", "-f", "json"], dir.path());
    let json: Value = serde_json::from_slice(&json_out.stdout).expect("json");
    let findings = json["findings"].as_array().expect("findings");
    let results = results(&log);
    assert_eq!(results.len(), findings.len());
    assert!(results.len() >= 18);
    for (r, f) in results.iter().zip(findings) {
        let rule_id = r["ruleId"].as_str().expect("ruleId");
        assert_eq!(rule_id, f["rule_id"]);
        let idx = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[idx]["id"], rule_id);
        let level = r["level"].as_str().expect("level");
        let expected = match f["confidence"].as_str() {
            Some("high") => "error",
            Some("medium") => "warning",
            _ => "note",
        };
        assert_eq!(level, expected, "{rule_id}");
        let text = r["message"]["text"].as_str().expect("message");
        assert!(
            text.starts_with("Cybrid ") && text.contains("not verified"),
            "{text}"
        );
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], f["location"]["line"]);
        assert_eq!(region["startColumn"], f["location"]["column"]);
        assert_eq!(region["endLine"], f["location"]["end_line"]);
        assert_eq!(region["endColumn"], f["location"]["end_column"]);
        assert!(
            region.get("snippet").is_none(),
            "no snippet without --show-secrets"
        );
        let art = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        let uri = art["uri"].as_str().expect("uri");
        assert!(
            !uri.starts_with('/') && !uri.contains("://"),
            "relative: {uri}"
        );
        assert!(!uri.contains(' '), "escaped: {uri}");
        let hash = r["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .expect("primaryLocationLineHash");
        let (hex, n) = hash.split_once(':').expect("hash:occurrence");
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        assert!(n.parse::<u32>().is_ok_and(|n| n >= 1), "{hash}");
        assert_eq!(r["properties"]["fingerprint"], f["fingerprint"]);
    }
    assert!(
        results.iter().any(
            |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "odd%20dir/my%20%231%20cfg.env"
        ),
        "odd path URI-escaped"
    );
}

#[test]
fn show_secrets_is_the_only_way_a_secret_reaches_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let secret = fake("shown");
    std::fs::write(
        dir.path().join("app.env"),
        format!("# sandbox https://id.sandbox.cybrid.app\nCYBRID_CLIENT_SECRET={secret}\n"),
    )
    .expect("write");
    let hidden = run(&["dir", ".", "-f", "sarif"], dir.path());
    let log = sarif_of(&hidden);
    assert_eq!(results(&log).len(), 1);
    assert!(!String::from_utf8_lossy(&hidden.stdout).contains(&secret));

    let shown = run(&["dir", ".", "-f", "sarif", "--show-secrets"], dir.path());
    let log = sarif_of(&shown);
    let region = &results(&log)[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["snippet"]["text"], secret.as_str());
    assert_eq!(region["startLine"], 2);
    let message = results(&log)[0]["message"]["text"]
        .as_str()
        .expect("message");
    assert!(!message.contains(&secret), "never in the message");
}

#[test]
fn line_hash_survives_moved_lines_and_counts_repeats() {
    let dir = tempfile::tempdir().expect("tmp");
    let secret = fake("moved");
    let body = format!("CYBRID_CLIENT_SECRET={secret}\n");
    std::fs::write(dir.path().join("a.env"), &body).expect("write");
    let before = sarif_of(&run(&["dir", ".", "-f", "sarif"], dir.path()));

    std::fs::write(
        dir.path().join("a.env"),
        format!("# one\n# two\n# three\n{body}# again, lower down\n{body}"),
    )
    .expect("write");
    let after = sarif_of(&run(&["dir", ".", "-f", "sarif"], dir.path()));
    let hash = |log: &Value, i: usize| {
        results(log)[i]["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .expect("hash")
            .to_string()
    };
    let line = |log: &Value, i: usize| {
        results(log)[i]["locations"][0]["physicalLocation"]["region"]["startLine"].clone()
    };
    assert_eq!(results(&after).len(), 2);
    assert_eq!(line(&before, 0), 1);
    assert_eq!(line(&after, 0), 4, "the line moved");
    assert_eq!(hash(&before, 0), hash(&after, 0), "same alert identity");
    assert!(hash(&after, 0).ends_with(":1"));
    let (a, b) = (hash(&after, 0), hash(&after, 1));
    assert_eq!(a.split(':').next(), b.split(':').next());
    assert!(
        b.ends_with(":2"),
        "a repeat in the same file is its own alert: {b}"
    );
}

fn finding(rule: &str, seed: &str, status: VerificationStatus, env: Option<&str>) -> Finding {
    let secret = Secret::new(fake(seed));
    Finding {
        rule_id: rule.to_string(),
        fingerprint: Fingerprint::of(rule, &secret),
        secret,
        client_id: None,
        confidence: Confidence::High,
        location: Location {
            source: SourceKind::Git,
            path: "deleted/old config.env".into(),
            line: 3,
            column: 22,
            end_line: 3,
            end_column: 65,
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            author: Some("Dev Eloper <dev@example.com>".into()),
            date: Some("2024-05-06T07:08:09Z".into()),
            at_head: Some(false),
            ..Location::default()
        },
        verification: Verification {
            status,
            environment: env.map(str::to_string),
            ..Verification::default()
        },
        token: None,
        environment_hint: None,
        repository: None,
        allowed_inline: false,
        triage: None,
    }
}

#[test]
fn git_and_verification_data_reach_properties_and_severity() {
    let rules = cybrid_scan::rules::load_rules(&[]).expect("rules");
    let report = Report {
        findings: vec![
            finding(
                "cybrid-client-secret",
                "live",
                VerificationStatus::Live,
                Some("production"),
            ),
            finding(
                "cybrid-client-secret",
                "sandbox",
                VerificationStatus::Live,
                Some("sandbox"),
            ),
            finding(
                "cybrid-client-secret",
                "dead",
                VerificationStatus::Invalid,
                None,
            ),
            finding(
                "acme-other-rule",
                "foreign",
                VerificationStatus::NotChecked,
                None,
            ),
        ],
        ..Report::default()
    };
    let opts = OutputOptions {
        format: Format::Sarif,
        reveal: Reveal::Redact,
        color: false,
        sarif_category: Some("nightly/".into()),
        command: Vec::new(),
    };
    let mut out = Vec::new();
    report::write_report(&report, &opts, &rules, &mut out).expect("write");
    let log: Value = serde_json::from_slice(&out).expect("json");
    validate(&log);
    let text = String::from_utf8_lossy(&out);
    for f in &report.findings {
        assert!(!text.contains(f.secret.expose()), "secret in SARIF");
    }
    let r = results(&log);
    assert_eq!(log["runs"][0]["automationDetails"]["id"], "nightly/");
    let live = &r[0];
    assert_eq!(live["level"], "error");
    assert_eq!(live["properties"]["security-severity"], "9.8");
    let msg = live["message"]["text"].as_str().expect("message");
    assert!(msg.contains("LIVE") && msg.contains("production"), "{msg}");
    assert!(msg.contains("Only in history"), "{msg}");
    let git = &live["properties"]["git"];
    assert_eq!(git["commit"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(git["author"], "Dev Eloper <dev@example.com>");
    assert_eq!(git["date"], "2024-05-06T07:08:09Z");
    assert_eq!(git["at_head"], false);
    assert_eq!(live["properties"]["verification"]["status"], "live");
    assert!(
        live["partialFingerprints"]["primaryLocationLineHash"].is_string(),
        "history-only findings still get a line hash"
    );
    let sandbox_sev: f64 = r[1]["properties"]["security-severity"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("severity");
    assert!((7.0..9.8).contains(&sandbox_sev));
    assert_eq!(r[2]["level"], "note", "verified invalid is no emergency");
    // A rule this build does not know (a merged report) still gets a descriptor.
    let rules_out = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let idx = r[3]["ruleIndex"].as_u64().expect("index") as usize;
    assert_eq!(rules_out[idx]["id"], "acme-other-rule");
}

#[test]
fn more_results_than_github_accepts_is_warned_about() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = String::from("# https://id.sandbox.cybrid.app\n");
    // A few random values look like placeholders and are rightly dropped: go well past the limit.
    for i in 0..25_100 {
        text.push_str(&format!("CYBRID_CLIENT_SECRET={}\n", fake(&i.to_string())));
    }
    std::fs::write(dir.path().join("many.env"), text).expect("write");
    let out = run(
        &["dir", ".", "-f", "sarif", "-o", "out.sarif", "-q"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let log: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.sarif")).expect("read"))
            .expect("json");
    let n = results(&log).len();
    assert!(n > 25_000, "still written whole: {n}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{n} results")) && stderr.contains("at most 25000"),
        "{stderr}"
    );
}
