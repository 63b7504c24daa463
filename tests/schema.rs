//! The JSON Schema shipped in docs/schema/ describes what the binary really
//! writes: real reports of `dir`, `git`, `logs`, `sweep`, `ci` (against a
//! tiny loopback GitHub stand-in), `merge`, `baseline` and a `--verify` scan
//! (live findings carry `revocation`) are validated against
//! `report.schema.json`, and every line of their `--format jsonl` against
//! `finding.schema.json`. A renamed field, a changed type or an unlisted enum
//! value fails here, so the schema cannot drift from the serializers.

mod common;

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::thread;

use assert_cmd::Command;
use cybrid_scan::idsim::{AppKind, Application, Seed, Simulator};
use serde_json::{json, Value};

const SCHEMA_BASE: &str =
    "https://raw.githubusercontent.com/cybrid-scan/cybrid-scan/main/docs/schema/";
const GH_TOKEN: &str = "ghp_simulatedTokenForTestsOnly000000000000";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_file(name: &str) -> Value {
    let path = root().join("docs/schema").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Schemas {
    report: jsonschema::Validator,
    finding: jsonschema::Validator,
}

fn schemas() -> Schemas {
    let report = schema_file("report.schema.json");
    let finding = schema_file("finding.schema.json");
    assert_eq!(
        report["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "draft 2020-12"
    );
    assert_eq!(report["$id"], format!("{SCHEMA_BASE}report.schema.json"));
    assert_eq!(finding["$id"], format!("{SCHEMA_BASE}finding.schema.json"));
    let report_validator = jsonschema::validator_for(&report).expect("report schema compiles");
    // finding.schema.json refers to report.schema.json's $defs by a relative
    // URI; hand the report schema over under its $id (no network, no files).
    let finding_validator = jsonschema::options()
        .with_resource(
            format!("{SCHEMA_BASE}report.schema.json"),
            jsonschema::Resource::from_contents(report).expect("resource"),
        )
        .build(&finding)
        .expect("finding schema compiles");
    Schemas {
        report: report_validator,
        finding: finding_validator,
    }
}

fn errors_of(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

impl Schemas {
    fn check_report(&self, what: &str, report: &Value) {
        let errors = errors_of(&self.report, report);
        assert!(
            errors.is_empty(),
            "{what}: the JSON report fails docs/schema/report.schema.json:\n{}\n{report:#}",
            errors.join("\n")
        );
    }

    fn check_lines(&self, what: &str, jsonl: &str) -> usize {
        let mut n = 0;
        for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: a JSONL line is not JSON ({e}): {line}"));
            let errors = errors_of(&self.finding, &v);
            assert!(
                errors.is_empty(),
                "{what}: a JSONL line fails docs/schema/finding.schema.json:\n{}\n{line}",
                errors.join("\n")
            );
            n += 1;
        }
        n
    }
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("cybrid-scan").expect("binary built");
    c.env_remove("GITHUB_TOKEN")
        .env_remove("GITLAB_TOKEN")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI");
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().expect("run cybrid-scan");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `args` twice, as `-f json` and `-f jsonl`; check both against the
/// schema and return the JSON report.
fn both_formats(s: &Schemas, what: &str, args: &[&str], prepare: impl Fn(&mut Command)) -> Value {
    let mut json_cmd = bin();
    prepare(&mut json_cmd);
    let out = run(json_cmd.args(args).args(["-f", "json", "--quiet"]));
    assert!(
        [0, 1, 3].contains(&out.code),
        "{what}: exit {}\n{}",
        out.code,
        out.stderr
    );
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    s.check_report(what, &report);

    let mut lines_cmd = bin();
    prepare(&mut lines_cmd);
    let out = run(lines_cmd.args(args).args(["-f", "jsonl", "--quiet"]));
    let n = s.check_lines(what, &out.stdout);
    assert_eq!(
        n,
        report["findings"].as_array().map_or(0, Vec::len),
        "{what}: one JSONL line per finding"
    );
    report
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn env_file(p: &common::Pair) -> String {
    format!(
        "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        p.id, p.secret
    )
}

/// A repository made with the `git` program: a pair committed on `main`,
/// removed again, a tag, a second branch with another leak.
fn git_repo(at: &Path, home: &Path) {
    std::fs::create_dir_all(at).expect("mkdir");
    std::fs::create_dir_all(home).expect("mkdir");
    let git = |args: &[&str]| {
        let out = StdCommand::new("git")
            .current_dir(at)
            .env("HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ann Leak")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_COMMITTER_NAME", "Ann Leak")
            .env("GIT_COMMITTER_EMAIL", "ann@example.com")
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    write(&at.join("README.md"), "# app\n");
    write(&at.join("config/app.env"), &env_file(&common::pair()));
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "add config"]);
    git(&["tag", "v1"]);
    git(&["rm", "-q", "config/app.env"]);
    git(&["commit", "-q", "-m", "remove config"]);
    git(&["checkout", "-q", "-b", "feature"]);
    write(
        &at.join("deploy/values.yaml"),
        &format!("cybrid:\n  client_secret: {}\n", common::credential()),
    );
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "deploy values"]);
    git(&["checkout", "-q", "main"]);
}

/// A change to a valid report that the schema must refuse.
type Mutation = Box<dyn Fn(&mut Value)>;

#[test]
fn the_schema_is_strict_where_a_drift_would_hide() {
    let report = schema_file("report.schema.json");
    assert_eq!(report["additionalProperties"], false, "top-level object");
    for def in [
        "finding",
        "location",
        "leak",
        "verification",
        "revocation",
        "token",
        "context",
        "stats",
        "error",
        "skipped",
        "repository",
    ] {
        assert_eq!(
            report["$defs"][def]["additionalProperties"], false,
            "$defs/{def} must refuse unknown fields"
        );
    }
    assert_eq!(report["properties"]["tool"]["additionalProperties"], false);
    assert_eq!(
        report["$defs"]["stats"]["properties"]["read"]["additionalProperties"],
        false
    );

    // Guard the guard: mutations of a real report must fail the schema.
    let s = schemas();
    let dir = root().join("fixtures/samples");
    let out = run(bin().arg("dir").arg(&dir).args(["-f", "json", "--quiet"]));
    let good: Value = serde_json::from_str(&out.stdout).expect("json");
    s.check_report("dir fixtures/samples", &good);
    assert!(!good["findings"].as_array().expect("findings").is_empty());

    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "renamed location field",
            Box::new(|r| {
                let loc = r["findings"][0]["location"]
                    .as_object_mut()
                    .expect("location");
                let line = loc.remove("line").expect("line");
                loc.insert("lineno".into(), line);
            }),
        ),
        (
            "line as a string",
            Box::new(|r| r["findings"][0]["location"]["line"] = json!("3")),
        ),
        (
            "unknown top-level field",
            Box::new(|r| r["extra"] = json!(1)),
        ),
        (
            "unknown verification status",
            Box::new(|r| r["findings"][0]["verification"]["status"] = json!("maybe")),
        ),
        (
            "unknown confidence",
            Box::new(|r| r["findings"][0]["confidence"] = json!("certain")),
        ),
        (
            "missing fingerprint",
            Box::new(|r| {
                r["findings"][0]
                    .as_object_mut()
                    .expect("finding")
                    .remove("fingerprint");
            }),
        ),
        (
            "stats.read.count as a string",
            Box::new(|r| r["stats"]["read"] = json!({"count": "12", "unit": "files"})),
        ),
        (
            "unknown stats field",
            Box::new(|r| r["stats"]["lines"] = json!(12)),
        ),
        (
            "newer report_version",
            Box::new(|r| r["tool"]["report_version"] = json!(2)),
        ),
        (
            "leak occurrences as a float",
            Box::new(|r| r["leaks"][0]["occurrences"] = json!(1.5)),
        ),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(
            !s.report.is_valid(&bad),
            "the schema accepts a report with {what}"
        );
    }
    let mut line = good["findings"][0].clone();
    assert!(s.finding.is_valid(&line));
    line["location"]["column"] = json!(-1);
    assert!(!s.finding.is_valid(&line), "negative column accepted");
}

#[test]
fn dir_reports_match_the_schema() {
    let s = schemas();
    let samples = root().join("fixtures/samples");
    let samples = samples.to_str().expect("utf-8 path");
    let report = both_formats(&s, "dir fixtures/samples", &["dir", samples], |_| {});
    assert_eq!(report["stats"]["read"]["unit"], "files");
    assert!(!report["leaks"].as_array().expect("leaks").is_empty());

    // Skipped files, the config file's suppression counts, context and tokens.
    let tmp = tempfile::tempdir().expect("tmp");
    let p = common::pair();
    write(&tmp.path().join("app/.env"), &env_file(&p));
    write(
        &tmp.path().join("app/allowed.env"),
        &format!(
            "CYBRID_CLIENT_SECRET={}  # cybrid-scan:allow rotated\n",
            common::credential()
        ),
    );
    write(&tmp.path().join("big.bin"), &"x".repeat(4096));
    let path = tmp.path().to_str().expect("utf-8");
    let report = both_formats(
        &s,
        "dir with skips and suppression",
        &["dir", path, "--max-file-size", "1K", "--show-secrets"],
        |_| {},
    );
    assert!(!report["skipped"].as_array().expect("skipped").is_empty());
    assert!(report["stats"]["suppressed"].is_object(), "{report:#}");
}

#[test]
fn git_reports_match_the_schema() {
    let s = schemas();
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("repo");
    git_repo(&repo, &tmp.path().join("home"));
    let path = repo.to_str().expect("utf-8");
    let report = both_formats(&s, "git", &["git", path], |_| {});
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.len() >= 2, "{report:#}");
    let loc = &findings[0]["location"];
    assert_eq!(loc["source"], "git");
    for key in ["commit", "author", "date", "blob", "at_head", "refs"] {
        assert!(
            findings.iter().any(|f| !f["location"][key].is_null()),
            "git locations carry `{key}`: {report:#}"
        );
    }
    assert_eq!(report["stats"]["read"]["unit"], "blobs");

    // A range scan (notes say which range was used) and one ref's worth.
    both_formats(
        &s,
        "git --range",
        &["git", path, "--range", "main..feature"],
        |_| {},
    );
    both_formats(&s, "git --all-refs", &["git", path, "--all-refs"], |_| {});
}

#[test]
fn logs_reports_match_the_schema() {
    let s = schemas();
    let tmp = tempfile::tempdir().expect("tmp");
    let p = common::pair();
    let log = tmp.path().join("build.log");
    write(
        &log,
        &format!(
            "2024-05-01T10:00:00.1234567Z \x1b[32mstarting\x1b[0m\n2024-05-01T10:00:01.0000000Z {}",
            env_file(&p)
        ),
    );
    // A zip of logs: findings name their `entry`.
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(
        "build/3_Run env.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("entry");
    zip.write_all(env_file(&common::pair()).as_bytes())
        .expect("write");
    std::fs::write(
        tmp.path().join("logs_1.zip"),
        zip.finish().expect("zip").into_inner(),
    )
    .expect("write zip");
    // A broken gzip: an entry in `errors`.
    std::fs::write(tmp.path().join("broken.log.gz"), b"\x1f\x8b\x08\x00garbage").expect("gz");

    let path = tmp.path().to_str().expect("utf-8");
    let report = both_formats(&s, "logs", &["logs", path], |_| {});
    assert_eq!(report["stats"]["read"]["unit"], "log lines");
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.iter().any(|f| f["location"]["entry"].is_string()));
    assert!(findings.iter().all(|f| f["location"]["source"] == "log"));
    assert!(!report["errors"].as_array().expect("errors").is_empty());
}

#[test]
fn sweep_merge_and_baseline_reports_match_the_schema() {
    let s = schemas();
    let tmp = tempfile::tempdir().expect("tmp");
    git_repo(&tmp.path().join("app"), &tmp.path().join("home"));
    git_repo(&tmp.path().join("infra"), &tmp.path().join("home"));
    let manifest = tmp.path().join("repos.txt");
    write(&manifest, "# the org\napp\ninfra\nmissing-repo\n");
    let manifest = manifest.to_str().expect("utf-8");
    let report = both_formats(&s, "sweep", &["sweep", "--manifest", manifest], |_| {});
    let repos = report["repositories"].as_array().expect("repositories");
    assert_eq!(repos.len(), 3, "{report:#}");
    assert!(repos
        .iter()
        .any(|r| r["status"] == "failed" && r["error"].is_string()));
    assert!(report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["repository"].is_string()));
    assert!(report["leaks"]
        .as_array()
        .expect("leaks")
        .iter()
        .all(|l| l["repositories"].is_array()));

    // merge: the two shards of a manifest of the two good repositories.
    let good = tmp.path().join("good.txt");
    write(&good, "app\ninfra\n");
    let shard = |k: &str| {
        let out = run(bin().arg("sweep").arg("--manifest").arg(&good).args([
            "--shard",
            &format!("{k}/2"),
            "-f",
            "json",
            "--quiet",
        ]));
        assert!([0, 1].contains(&out.code), "shard {k}: {}", out.stderr);
        let shard_report: Value = serde_json::from_str(&out.stdout).expect("shard JSON");
        s.check_report("sweep --shard", &shard_report);
        let path = tmp.path().join(format!("shard-{k}.json"));
        std::fs::write(&path, &out.stdout).expect("write shard");
        (
            path,
            shard_report["findings"].as_array().map_or(0, Vec::len),
        )
    };
    let ((a, na), (b, nb)) = (shard("0"), shard("1"));
    let out = run(bin().arg("merge").arg(&a).arg(&b).args(["-f", "json"]));
    assert!([0, 1].contains(&out.code), "merge: {}", out.stderr);
    let merged: Value = serde_json::from_str(&out.stdout).expect("merged JSON");
    s.check_report("merge", &merged);
    assert_eq!(merged["findings"].as_array().map(Vec::len), Some(na + nb));

    // baseline: the deterministic report meant to be committed.
    let baseline = tmp.path().join("baseline.json");
    let samples = root().join("fixtures/samples");
    let out = run(bin()
        .arg("baseline")
        .arg(&baseline)
        .arg("dir")
        .arg(&samples)
        .arg("--quiet"));
    assert!([0, 1].contains(&out.code), "baseline: {}", out.stderr);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).expect("baseline")).expect("json");
    s.check_report("baseline", &written);
}

#[test]
fn a_verified_report_with_revocation_targets_matches_the_schema() {
    let s = schemas();
    let sim = Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).expect("simulator");
    let p = common::pair();
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
    let tmp = tempfile::tempdir().expect("tmp");
    write(&tmp.path().join(".env"), &env_file(&common::pair()));
    write(&tmp.path().join("live/.env"), &env_file(&p));
    write(
        &tmp.path().join("lone.env"),
        &format!("CYBRID_CLIENT_SECRET={}\n", common::credential()),
    );
    let url = sim.url();
    let path = tmp.path().to_str().expect("utf-8");
    let report = both_formats(
        &s,
        "dir --verify",
        &[
            "dir",
            path,
            "--verify",
            "--endpoint",
            &format!("sandbox={url}/sandbox"),
            "--endpoint",
            &format!("production={url}/production"),
        ],
        |_| {},
    );
    let findings = report["findings"].as_array().expect("findings");
    let live = findings
        .iter()
        .find(|f| f["verification"]["status"] == "live")
        .unwrap_or_else(|| panic!("a live finding: {report:#}"));
    assert_eq!(live["revocation"]["client_id"], p.id.as_str());
    assert!(findings
        .iter()
        .any(|f| f["verification"]["status"] == "invalid"));
}

/// The smallest GitHub Actions API that `ci github acme/app` reads: one
/// repository, one completed run with one job, its log archive behind a
/// redirect.
fn github_stand_in(archive: Vec<u8>) -> (Arc<tiny_http::Server>, String) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
    let port = server.server_addr().to_ip().expect("ip").port();
    let base = format!("http://127.0.0.1:{port}");
    let (srv, url) = (server.clone(), base.clone());
    thread::spawn(move || {
        for request in srv.incoming_requests() {
            let path = request.url().split('?').next().unwrap_or("").to_string();
            let authorized = request.headers().iter().any(|h| {
                h.field.equiv("authorization") && h.value.as_str() == format!("Bearer {GH_TOKEN}")
            });
            let json_answer = |status: u16, v: Value| {
                tiny_http::Response::from_string(v.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("content-type", "application/json")
                            .expect("header"),
                    )
                    .boxed()
            };
            let answer = match path.as_str() {
                "/download/7.zip" => tiny_http::Response::from_data(archive.clone()).boxed(),
                _ if !authorized => json_answer(401, json!({"message": "Bad credentials"})),
                "/repos/acme/app" => json_answer(200, json!({"full_name": "acme/app"})),
                "/repos/acme/app/actions/runs" => json_answer(
                    200,
                    json!({"total_count": 1, "workflow_runs": [{"id": 7, "status": "completed",
                        "created_at": "2024-05-01T10:00:00Z",
                        "html_url": "https://github.example/acme/app/actions/runs/7"}]}),
                ),
                "/repos/acme/app/actions/runs/7/jobs" => json_answer(
                    200,
                    json!({"total_count": 1, "jobs": [{"id": 9007, "name": "build",
                        "html_url": "https://github.example/acme/app/actions/runs/7/job/9007"}]}),
                ),
                "/repos/acme/app/actions/runs/7/logs" => tiny_http::Response::empty(302)
                    .with_header(
                        tiny_http::Header::from_bytes("location", format!("{url}/download/7.zip"))
                            .expect("header"),
                    )
                    .boxed(),
                _ => json_answer(404, json!({"message": "Not Found"})),
            };
            let _ = request.respond(answer);
        }
    });
    (server, base)
}

#[test]
fn ci_reports_match_the_schema() {
    let s = schemas();
    let p = common::pair();
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let step = format!(
        "2024-05-01T10:00:05.2000000Z CI=true\n2024-05-01T10:00:05.2000000Z CYBRID_CLIENT_ID={}\n2024-05-01T10:00:05.2000000Z CYBRID_CLIENT_SECRET={}\n",
        p.id, p.secret
    );
    zip.start_file("build/3_Run env.txt", opts).expect("entry");
    zip.write_all(step.as_bytes()).expect("write");
    zip.start_file("0_build.txt", opts).expect("entry");
    zip.write_all(step.as_bytes()).expect("write");
    let (server, api) = github_stand_in(zip.finish().expect("zip").into_inner());

    let report = both_formats(
        &s,
        "ci github",
        &["ci", "github", "acme/app", "--api-url", &api],
        |c| {
            c.env("GITHUB_TOKEN", GH_TOKEN);
        },
    );
    server.unblock();
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "{report:#}");
    let loc = &findings[0]["location"];
    assert_eq!(loc["source"], "ci");
    for key in ["repository", "run", "job", "step", "url", "entry"] {
        assert!(
            loc[key].is_string(),
            "ci location carries `{key}`: {report:#}"
        );
    }
    assert_eq!(report["stats"]["read"]["unit"], "runs");
}
