//! Revocation against the identity-service simulator, over real HTTP on
//! loopback: a `--verify` scan writes a JSON report, `cybrid-scan revoke`
//! deletes the live applications with a responder credential, and the
//! simulator, the audit log and a second scan show what happened.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use cybrid_scan::idsim::{AppKind, Application, Fault, FaultKind, FaultTarget, Seed, Simulator};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{guid, pair, Pair};

fn app(p: &Pair, env: &str, kind: AppKind, org: &str) -> Application {
    Application {
        client_id: p.id.clone(),
        client_secret: p.secret.clone(),
        environment: env.into(),
        kind,
        guid: String::new(),
        organization_guid: org.into(),
        scopes: Vec::new(),
        ip_allowlist: Vec::new(),
        name: String::new(),
    }
}

fn fault(kind: FaultKind) -> Fault {
    Fault::new(kind)
}

/// A simulator with an organization, its responder (admin) credential in
/// sandbox and production, and a place for fixtures and reports.
struct World {
    sim: Simulator,
    org: String,
    admin: Pair,
    dir: TempDir,
}

impl World {
    fn new() -> World {
        World::with_admin_scopes(&[])
    }

    /// A world whose admin credential may ask for `scopes` only (an empty
    /// list: an organization application's default scopes, read and execute
    /// on both application kinds among them).
    fn with_admin_scopes(scopes: &[&str]) -> World {
        let sim = Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).expect("simulator");
        let org = guid();
        let admin = pair();
        for env in ["sandbox", "production"] {
            let mut a = app(&admin, env, AppKind::Organization, &org);
            a.scopes = scopes.iter().map(|s| s.to_string()).collect();
            sim.add_application(a);
        }
        World {
            sim,
            org,
            admin,
            dir: TempDir::new().expect("tempdir"),
        }
    }

    fn src(&self) -> PathBuf {
        let p = self.dir.path().join("src");
        fs::create_dir_all(&p).expect("mkdir");
        p
    }

    /// A leaked pair of this organization, live in `env`, written to `file`.
    fn leak(&self, file: &str, env: &str, kind: AppKind) -> Pair {
        let p = pair();
        self.sim.add_application(app(&p, env, kind, &self.org));
        fs::write(
            self.src().join(file),
            format!(
                "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
                p.id, p.secret
            ),
        )
        .expect("write fixture");
        p
    }

    fn endpoints(&self) -> Vec<String> {
        let url = self.sim.url();
        vec![
            "--endpoint".into(),
            format!("sandbox={url}/sandbox"),
            "--endpoint".into(),
            format!("production={url}/production"),
        ]
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `dir src --verify -f json -o report.json` (plus `extra`).
    fn scan(&self, extra: &[&str]) -> Run {
        let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
        cmd.arg("dir")
            .arg(self.src())
            .args(["--verify", "-f", "json", "-o"])
            .arg(self.path("report.json"))
            .args(self.endpoints())
            .args(extra)
            .env("CYBRID_ADMIN_CLIENT_ID", &self.admin.id)
            .env("CYBRID_ADMIN_CLIENT_SECRET", &self.admin.secret)
            .env("XDG_STATE_HOME", self.state())
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(120));
        Run::of(cmd.output().expect("run scan"))
    }

    fn report(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.path("report.json")).expect("report"))
            .expect("JSON report")
    }

    fn revoke_cmd(&self, extra: &[&str]) -> Command {
        let mut cmd = self.revoke_default_log_cmd(extra);
        cmd.arg("--audit-log").arg(self.path("audit.jsonl"));
        cmd
    }

    /// `revoke` with no `--audit-log`, run in the world's directory, with
    /// `XDG_STATE_HOME` at [`World::state`].
    fn revoke_default_log_cmd(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
        cmd.args(["revoke", "--report"])
            .arg(self.path("report.json"))
            .args(self.endpoints())
            .args(extra)
            .env("CYBRID_ADMIN_CLIENT_ID", &self.admin.id)
            .env("CYBRID_ADMIN_CLIENT_SECRET", &self.admin.secret)
            .env("XDG_STATE_HOME", self.state())
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// The state directory the tests give as `XDG_STATE_HOME`.
    fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Files in the world's directory other than those the tests make.
    fn stray_files(&self) -> Vec<String> {
        fs::read_dir(self.dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !["src", "report.json", "audit.jsonl", "state"].contains(&n.as_str()))
            .collect()
    }

    fn revoke(&self, extra: &[&str]) -> Run {
        Run::of(self.revoke_cmd(extra).output().expect("run revoke"))
    }

    fn audit(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.path("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("every audit line is whole JSON"))
            .collect()
    }

    fn alive(&self, p: &Pair) -> bool {
        self.sim.applications().iter().any(|a| a.client_id == p.id)
    }

    fn deletes(&self, p: &Pair) -> u64 {
        self.sim
            .stats()
            .delete_requests_by_client
            .get(&p.id)
            .copied()
            .unwrap_or(0)
    }

    /// No secret, admin secret, leaked client_id in full, or token anywhere.
    fn assert_no_leak(&self, run: &Run, leaked: &[&Pair]) {
        let audit = fs::read_to_string(self.path("audit.jsonl")).unwrap_or_default();
        for (what, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("audit log", &audit),
        ] {
            for p in leaked {
                assert!(!text.contains(&p.secret), "secret in {what}:\n{text}");
                assert!(!text.contains(&p.id), "full client_id in {what}:\n{text}");
            }
            assert!(!text.contains(&self.admin.secret), "admin secret in {what}");
            assert!(!text.contains(&self.admin.id), "admin id in {what}");
            assert!(!text.contains("eyJ"), "a token in {what}:\n{text}");
        }
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(out: std::process::Output) -> Run {
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The audit lines of `action` with `outcome`.
fn lines<'a>(audit: &'a [Value], action: &str, outcome: &str) -> Vec<&'a Value> {
    audit
        .iter()
        .filter(|l| l["action"] == action && l["outcome"] == outcome)
        .collect()
}

fn fingerprint_of(report: &Value, p: &Pair) -> String {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["revocation"]["client_id"] == p.id.as_str())
        .and_then(|f| f["fingerprint"].as_str())
        .expect("a live finding for the pair")
        .to_string()
}

#[test]
fn revokes_bank_and_organization_credentials_and_a_rerun_does_no_work_twice() {
    let w = World::new();
    let bank = w.leak("bank.env", "sandbox", AppKind::Bank);
    let org = w.leak("org.env", "production", AppKind::Organization);
    let scan = w.scan(&["--show-secrets"]);
    assert_eq!(scan.status, 3, "{}", scan.stderr);

    let run = w.revoke(&["--yes"]);
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        !w.alive(&bank) && !w.alive(&org),
        "both applications deleted"
    );
    assert_eq!(w.sim.stats().applications_deleted, 2);
    assert_eq!((w.deletes(&bank), w.deletes(&org)), (1, 1));
    assert_eq!(run.stdout.matches("REVOKED ").count(), 2, "{}", run.stdout);
    assert!(run.stdout.contains("bank application in sandbox"));
    assert!(run
        .stdout
        .contains("organization application in production"));
    assert_eq!(
        run.stdout
            .matches(": the token endpoint refuses the pair")
            .count(),
        2,
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("stay valid until they expire (up to 8 h"));
    w.assert_no_leak(&run, &[&bank, &org]);
    // The admin token was minted once per environment, with exactly the
    // scope its deletion needs (the types are known: no read scope).
    let stats = w.sim.stats();
    let scopes = &stats.token_request_scopes;
    assert_eq!(
        scopes.get("bank_applications:execute"),
        Some(&1),
        "{scopes:?}"
    );
    assert_eq!(
        scopes.get("organization_applications:execute"),
        Some(&1),
        "{scopes:?}"
    );
    assert!(!scopes.keys().any(|k| k.contains("applications:read")));

    let report = w.report();
    let audit = w.audit();
    for (p, env, kind) in [
        (&bank, "sandbox", "bank"),
        (&org, "production", "organization"),
    ] {
        let fp = fingerprint_of(&report, p);
        let done: Vec<_> = lines(&audit, "revoke", "revoked")
            .into_iter()
            .filter(|l| l["fingerprint"] == fp.as_str())
            .collect();
        assert_eq!(done.len(), 1, "one final line for {kind}");
        assert_eq!(done[0]["environment"], env);
        assert_eq!(done[0]["application_type"], kind);
        assert_eq!(done[0]["http_status"], 204);
        assert!(done[0]["time"].as_str().is_some_and(|t| t.contains('T')));
        assert!(audit.iter().any(|l| l["fingerprint"] == fp.as_str()
            && l["action"] == "confirm"
            && l["outcome"] == "dead"
            && l["http_status"] == 401));
    }

    // A new --verify scan of the same source: both invalid now.
    let again = w.scan(&[]);
    assert_eq!(again.status, 1, "{}", again.stderr);
    let statuses: Vec<Value> = w.report()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == "cybrid-client-secret")
        .map(|f| f["verification"]["status"].clone())
        .collect();
    assert_eq!(statuses, vec!["invalid", "invalid"]);

    // Rerun the same command (same report, same audit log): nothing sent.
    fs::write(
        w.path("report.json"),
        serde_json::to_string(&report).expect("json"),
    )
    .expect("restore the first report");
    let before = w.sim.stats();
    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}", rerun.stderr);
    assert_eq!(
        rerun.stdout.matches("DONE EARLIER").count(),
        2,
        "{}",
        rerun.stdout
    );
    let after = w.sim.stats();
    assert_eq!(after.application_requests, before.application_requests);
    assert_eq!(after.token_requests, before.token_requests);

    // With a fresh audit log the DELETEs answer 404: already revoked, success.
    fs::remove_file(w.path("audit.jsonl")).expect("rm audit");
    let fresh = w.revoke(&["--yes"]);
    assert_eq!(fresh.status, 0, "{}", fresh.stderr);
    assert_eq!(
        fresh.stdout.matches("ALREADY REVOKED").count(),
        2,
        "{}",
        fresh.stdout
    );
    assert_eq!((w.deletes(&bank), w.deletes(&org)), (2, 2));
    assert_eq!(
        w.sim.stats().applications_deleted,
        2,
        "nothing deleted twice"
    );
    assert_eq!(lines(&w.audit(), "revoke", "already_revoked").len(), 2);
}

#[test]
fn a_run_killed_between_two_revocations_is_finished_by_a_rerun() {
    let w = World::new();
    let a = w.leak("a.env", "sandbox", AppKind::Bank);
    let b = w.leak("b.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let report = w.report();
    // Targets run in fingerprint order: slow down the second one's DELETE.
    let (fa, fb) = (fingerprint_of(&report, &a), fingerprint_of(&report, &b));
    let (first, second) = if fa < fb { (&a, &b) } else { (&b, &a) };
    let (f_first, f_second) = if fa < fb { (fa, fb) } else { (fb, fa) };
    let mut slow = fault(FaultKind::Slow);
    slow.client_id = Some(second.id.clone());
    slow.endpoint = Some(FaultTarget::Applications);
    slow.delay_ms = Some(120_000);
    slow.times = Some(1);
    w.sim.add_fault(slow);

    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .args(["revoke", "--yes", "--report"])
        .arg(w.path("report.json"))
        .arg("--audit-log")
        .arg(w.path("audit.jsonl"))
        .args(w.endpoints())
        .args(["--timeout", "300"])
        .env("CYBRID_ADMIN_CLIENT_ID", &w.admin.id)
        .env("CYBRID_ADMIN_CLIENT_SECRET", &w.admin.secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start revoke");
    // Wait until the first is confirmed and the second DELETE is on the wire.
    let give_up = Instant::now() + Duration::from_secs(90);
    loop {
        let audit = w.audit();
        let first_done = lines(&audit, "revoke", "revoked")
            .iter()
            .any(|l| l["fingerprint"] == f_first.as_str());
        let second_sent = lines(&audit, "delete", "sent")
            .iter()
            .any(|l| l["fingerprint"] == f_second.as_str());
        if first_done && second_sent && w.deletes(second) == 1 {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "revoke never reached the second DELETE"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    w.sim.clear_faults();

    // The server acted on the second DELETE, the client died before the answer.
    assert!(!w.alive(first) && !w.alive(second));
    let killed = w.audit();
    assert!(lines(&killed, "revoke", "revoked").len() == 1);

    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(rerun.stdout.contains("DONE EARLIER"), "{}", rerun.stdout);
    assert!(rerun.stdout.contains("ALREADY REVOKED"), "{}", rerun.stdout);
    assert_eq!(w.deletes(first), 1, "the finished one is not sent again");
    assert_eq!(w.deletes(second), 2, "the interrupted one is retried once");
    assert_eq!(
        w.sim.stats().applications_deleted,
        2,
        "nothing revoked twice"
    );
    // The log is complete: every line whole, the interrupted DELETE is
    // there, and each target has exactly one finishing line.
    let audit = w.audit();
    assert!(audit.len() > killed.len());
    let finishing = |fp: &str| {
        audit
            .iter()
            .filter(|l| {
                l["action"] == "revoke"
                    && l["fingerprint"] == fp
                    && (l["outcome"] == "revoked" || l["outcome"] == "already_revoked")
            })
            .count()
    };
    assert_eq!((finishing(&f_first), finishing(&f_second)), (1, 1));
    assert_eq!(
        lines(&audit, "delete", "sent")
            .iter()
            .filter(|l| l["fingerprint"] == f_second.as_str())
            .count(),
        2
    );
    let runs: BTreeMap<String, usize> = audit.iter().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l["run"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
        m
    });
    assert_eq!(runs.len(), 2, "two runs recorded");
    w.assert_no_leak(&rerun, &[&a, &b]);
}

#[test]
fn an_admin_credential_lacking_the_scope_is_a_clear_failure() {
    // At the token endpoint: the admin application may not ask for the scope.
    let w = World::new();
    let weak = pair();
    let mut weak_app = app(&weak, "sandbox", AppKind::Organization, &w.org);
    weak_app.scopes = vec![
        "banks:read".into(),
        "organization_applications:execute".into(),
    ];
    w.sim.add_application(weak_app);
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = Run::of(
        w.revoke_cmd(&["--yes"])
            .env("CYBRID_ADMIN_CLIENT_ID", &weak.id)
            .env("CYBRID_ADMIN_CLIENT_SECRET", &weak.secret)
            .output()
            .expect("run"),
    );
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("STOPPED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("lacks the scope bank_applications:execute"),
        "{}",
        run.stdout
    );
    assert!(w.alive(&leaked));
    assert_eq!(w.deletes(&leaked), 0);
    let audit = w.audit();
    let token = lines(&audit, "token", "error");
    assert_eq!(token.len(), 1);
    assert_eq!(token[0]["http_status"], 400);
    assert_eq!(lines(&audit, "run", "stopped").len(), 1);
    assert!(!run.stdout.contains(&weak.secret) && !run.stderr.contains(&weak.secret));

    // At the application endpoint: 403 invalid_scopes.
    let mut forbidden = fault(FaultKind::InvalidScopes);
    forbidden.endpoint = Some(FaultTarget::Applications);
    w.sim.add_fault(forbidden);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stdout.contains("(403 invalid_scopes)"),
        "{}",
        run.stdout
    );
    assert!(w.alive(&leaked));
    let audit = w.audit();
    assert!(lines(&audit, "delete", "error")
        .iter()
        .any(|l| l["http_status"] == 403));
    w.assert_no_leak(&run, &[&leaked]);
}

#[test]
fn dry_run_and_no_consent_change_nothing() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&[]).status, 3);
    let before = w.sim.stats();
    let dry = w.revoke(&["--dry-run", "--yes"]);
    assert_eq!(dry.status, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("Revocation plan"), "{}", dry.stdout);
    assert!(dry.stdout.contains("bank application in sandbox"));
    assert!(dry.stdout.contains("Dry run: nothing was changed."));
    // No TTY and no --yes: the plan only, and a status that says so.
    let plan_only = w.revoke(&[]);
    assert_eq!(plan_only.status, 1);
    assert!(plan_only.stdout.contains("--yes was not given"));
    let after = w.sim.stats();
    assert_eq!(after.token_requests, before.token_requests);
    assert_eq!(after.application_requests, 0);
    assert!(w.alive(&leaked));
    // A plan-only run writes no audit log at all.
    assert!(!w.path("audit.jsonl").exists(), "{:?}", w.audit());
    assert!(!dry.stderr.contains("audit log") && !plan_only.stderr.contains("audit log"));
    w.assert_no_leak(&dry, &[&leaked]);
}

#[test]
fn the_default_audit_log_is_in_the_state_directory_never_the_current_one() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let audit = w.state().join("cybrid-scan").join("audit.jsonl");
    // Plan only (dry run, or no consent): nothing written anywhere.
    for extra in [&["--dry-run", "--yes"][..], &[]] {
        let run = Run::of(w.revoke_default_log_cmd(extra).output().expect("run"));
        assert!(run.stdout.contains("Revocation plan"), "{}", run.stdout);
        assert!(!w.state().exists(), "{extra:?} created the state directory");
        assert_eq!(w.stray_files(), Vec::<String>::new());
    }
    // For real: under XDG_STATE_HOME, owner-only, and the path is said once.
    let run = Run::of(w.revoke_default_log_cmd(&["--yes"]).output().expect("run"));
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&leaked));
    let text = fs::read_to_string(&audit).expect("audit log in the state directory");
    assert!(text.contains("\"outcome\":\"revoked\""), "{text}");
    assert_eq!(
        run.stderr
            .matches(&format!("audit log: {}", audit.display()))
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(w.stray_files(), Vec::<String>::new());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&audit), 0o600);
        assert_eq!(mode(&w.state().join("cybrid-scan")), 0o700);
    }
}

#[test]
fn bad_input_is_refused_with_a_message_and_a_status() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    let cases: Vec<(&str, String, &str)> = vec![
        ("not json", "this is { not json".into(), "is not a cybrid-scan JSON report"),
        (
            "newer",
            r#"{"tool":{"name":"cybrid-scan","version":"9.0.0","report_version":99},"findings":[],"stats":{"files":0,"bytes":0,"duration_ms":0}}"#.into(),
            "newer cybrid-scan",
        ),
    ];
    for (what, text, expected) in cases {
        fs::write(w.path("report.json"), text).expect("write");
        let run = w.revoke(&["--yes"]);
        assert_eq!(run.status, 2, "{what}");
        assert!(run.stderr.contains(expected), "{what}: {}", run.stderr);
        // Refused before consent: nothing for the audit log.
        assert!(w.audit().is_empty(), "{what}: {:?}", w.audit());
    }
    // A scan without --verify has no verification data.
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("dir")
        .arg(w.src())
        .args(["-f", "json", "-o"])
        .arg(w.path("report.json"))
        .timeout(Duration::from_secs(60));
    assert_eq!(cmd.output().expect("scan").status.code(), Some(1));
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("no verification data"),
        "{}",
        run.stderr
    );

    // Missing admin credentials.
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = Run::of(
        w.revoke_cmd(&["--yes"])
            .env_remove("CYBRID_ADMIN_CLIENT_ID")
            .env_remove("CYBRID_ADMIN_CLIENT_SECRET")
            .output()
            .expect("run"),
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("CYBRID_ADMIN_CLIENT_ID and CYBRID_ADMIN_CLIENT_SECRET not set"),
        "{}",
        run.stderr
    );
    assert_eq!(w.audit().last().expect("line")["action"], "credentials");

    // A 429 storm on the application endpoints: retried, then a failure.
    let mut storm = fault(FaultKind::RateLimit);
    storm.endpoint = Some(FaultTarget::Applications);
    storm.retry_after = Some(0);
    w.sim.add_fault(storm);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stdout
            .contains("gave up after 4 attempt(s), the last answer being HTTP 429"),
        "{}",
        run.stdout
    );
    assert_eq!(w.deletes(&leaked), 4, "one attempt and three retries");
    assert!(lines(&w.audit(), "delete", "error")
        .iter()
        .any(|l| l["http_status"] == 429));
    assert!(w.alive(&leaked));
    // The storm passes; the same command finishes the job.
    w.sim.clear_faults();
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(!w.alive(&leaked));
}

#[test]
fn an_unknown_application_type_is_looked_up_first() {
    let w = World::new();
    // Without banks:read the probe is refused after authentication: live,
    // but with no sub_type, so the type is unknown in the report.
    let p = pair();
    let mut a = app(&p, "sandbox", AppKind::Organization, &w.org);
    a.scopes = vec!["customers:read".into()];
    w.sim.add_application(a);
    fs::write(
        w.src().join(".env"),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            p.id, p.secret
        ),
    )
    .expect("write");
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("REVOKED          organization application"),
        "{}",
        run.stdout
    );
    assert!(!w.alive(&p));
    let audit = w.audit();
    assert_eq!(
        lines(&audit, "lookup", "not_found")[0]["application_type"],
        "bank"
    );
    assert_eq!(
        lines(&audit, "lookup", "found")[0]["application_type"],
        "organization"
    );
}

/// A loopback webhook receiver: answers 500 to the first POST, then 200,
/// and keeps every body.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let n = {
                let mut b = keep.lock().expect("lock");
                b.push(String::from_utf8_lossy(&body).into_owned());
                b.len()
            };
            let status = if n == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, bodies)
}

#[test]
fn the_webhook_gets_a_redacted_summary_with_retries() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let (url, bodies) = webhook_receiver();
    let run = w.revoke(&["--yes", "--notify-webhook", &url]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 2, "500 first, then retried");
    let body: Value = serde_json::from_str(&bodies[1]).expect("JSON summary");
    assert!(body["text"]
        .as_str()
        .is_some_and(|t| t.contains("1 revoked")));
    assert_eq!(body["revocations"][0]["outcome"], "revoked");
    assert_eq!(body["revocations"][0]["application_type"], "bank");
    assert_eq!(body["live_findings"][0]["environment"], "sandbox");
    for b in &bodies {
        assert!(!b.contains(&leaked.secret) && !b.contains(&leaked.id) && !b.contains("eyJ"));
        assert!(!b.contains(&w.admin.secret) && !b.contains(&w.admin.id));
    }
    let audit = w.audit();
    assert_eq!(lines(&audit, "notify", "ok")[0]["http_status"], 200);
}

#[test]
fn scan_verify_revoke_in_one_go_and_refused_without_yes_when_not_interactive() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    // Not interactive and no --yes: refused before anything is scanned or sent.
    let refused = w.scan(&["--revoke"]);
    assert_eq!(refused.status, 2);
    assert!(!w.state().exists() && w.stray_files().is_empty());
    assert!(
        refused.stderr.contains("--revoke needs --yes"),
        "{}",
        refused.stderr
    );
    assert_eq!(w.sim.stats().token_requests, 0);
    assert!(w.alive(&leaked));

    let (url, bodies) = webhook_receiver();
    let audit_log = w.path("scan-audit.jsonl");
    let audit_arg = audit_log.display().to_string();
    let run = w.scan(&[
        "--revoke",
        "--yes",
        "--audit-log",
        &audit_arg,
        "--notify-webhook",
        &url,
    ]);
    assert_eq!(run.status, 3, "live at scan time: {}", run.stderr);
    assert!(!w.alive(&leaked));
    assert!(run.stderr.contains("REVOKED"), "{}", run.stderr);
    assert!(run.stderr.contains("up to 8 h"));
    let report = w.report();
    assert!(report["notes"].as_array().expect("notes").iter().any(|n| n
        .as_str()
        .is_some_and(|n| n.starts_with("revocation: 1 revoked"))));
    let audit = fs::read_to_string(&audit_log).expect("audit log");
    assert!(audit.contains("\"outcome\":\"revoked\""));
    assert!(!audit.contains(&leaked.id) && !audit.contains(&leaked.secret));
    assert_eq!(bodies.lock().expect("lock").len(), 2);
    assert!(!run.stderr.contains(&leaked.secret) && !run.stderr.contains(&leaked.id));
}

/// The application-endpoint requests the simulator saw with `method`.
fn app_requests(w: &World, method: &str) -> u64 {
    w.sim
        .stats()
        .requests
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{method} ")) && k.contains("_applications/"))
        .map(|(_, n)| n)
        .sum()
}

/// A leaked pair that lacks `banks:read`: verification sees it live (the
/// scope is refused after authentication) but learns no `sub_type`, so the
/// report does not know its type and revocation must look it up.
fn leak_of_unknown_type(w: &World, file: &str, kind: AppKind) -> Pair {
    let p = pair();
    let mut a = app(&p, "sandbox", kind, &w.org);
    a.scopes = vec!["customers:read".into()];
    w.sim.add_application(a);
    fs::write(
        w.src().join(file),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            p.id, p.secret
        ),
    )
    .expect("write fixture");
    p
}

#[test]
fn an_admin_credential_with_execute_scopes_only_revokes_and_confirms_on_the_pair() {
    // (a): exactly the scopes deletion needs, no read scope at all.
    let w = World::with_admin_scopes(&[
        "bank_applications:execute",
        "organization_applications:execute",
    ]);
    let bank = w.leak("bank.env", "sandbox", AppKind::Bank);
    let org = w.leak("org.env", "sandbox", AppKind::Organization);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&bank) && !w.alive(&org));
    assert_eq!(run.stdout.matches("REVOKED ").count(), 2, "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("confirmed dead at 20").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("the token endpoint refuses the pair"));
    // One admin token, asking for both execute scopes (both types in
    // sandbox); not one GET; each leaked pair tried once after its DELETE.
    let stats = w.sim.stats();
    assert_eq!(
        stats
            .token_request_scopes
            .get("bank_applications:execute organization_applications:execute"),
        Some(&1),
        "{:?}",
        stats.token_request_scopes
    );
    assert_eq!(app_requests(&w, "GET"), 0);
    assert_eq!((w.deletes(&bank), w.deletes(&org)), (1, 1));
    // Verification's probe, then the confirmation.
    assert_eq!(stats.token_requests_by_client.get(&bank.id), Some(&2));
    let audit = w.audit();
    assert_eq!(lines(&audit, "token", "ok").len(), 1);
    assert_eq!(lines(&audit, "delete", "sent").len(), 2);
    assert_eq!(lines(&audit, "delete", "ok").len(), 2);
    assert_eq!(lines(&audit, "confirm", "dead").len(), 2);
    assert_eq!(lines(&audit, "revoke", "revoked").len(), 2);
    assert!(lines(&audit, "confirm_get", "gone").is_empty());
    w.assert_no_leak(&run, &[&bank, &org]);

    // The rerun is a no-op.
    let before = w.sim.stats();
    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}", rerun.stdout);
    assert_eq!(rerun.stdout.matches("DONE EARLIER").count(), 2);
    let after = w.sim.stats();
    assert_eq!(after.token_requests, before.token_requests);
    assert_eq!(after.application_requests, before.application_requests);
    w.assert_no_leak(&rerun, &[&bank, &org]);
}

#[test]
fn an_admin_credential_with_execute_and_read_looks_up_unknown_types_and_confirms() {
    // (b): the read scopes are asked for only because one type is unknown.
    let w = World::with_admin_scopes(&[
        "bank_applications:execute",
        "organization_applications:execute",
        "bank_applications:read",
        "organization_applications:read",
    ]);
    let known = w.leak("bank.env", "sandbox", AppKind::Bank);
    let unknown = leak_of_unknown_type(&w, "org.env", AppKind::Organization);
    // In production only the known type: execute alone is asked for there.
    let prod = w.leak("prod.env", "production", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let report = w.report();
    let unknown_fp = fingerprint_of(&report, &unknown);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&known) && !w.alive(&unknown) && !w.alive(&prod));
    assert_eq!(run.stdout.matches("REVOKED ").count(), 3, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("(and the application endpoint answers 404)"),
        "the optional GET, since the sandbox token holds the read scope: {}",
        run.stdout
    );
    let scopes = w.sim.stats().token_request_scopes;
    assert_eq!(
        scopes.get("bank_applications:execute bank_applications:read organization_applications:execute organization_applications:read"),
        Some(&1),
        "{scopes:?}"
    );
    assert_eq!(
        scopes.get("bank_applications:execute"),
        Some(&1),
        "{scopes:?}"
    );
    let audit = w.audit();
    let found = lines(&audit, "lookup", "found");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["fingerprint"], unknown_fp.as_str());
    assert_eq!(found[0]["application_type"], "organization");
    assert_eq!(lines(&audit, "confirm_get", "gone").len(), 2);
    assert_eq!(lines(&audit, "confirm", "dead").len(), 3);
    assert_eq!(lines(&audit, "revoke", "revoked").len(), 3);
    w.assert_no_leak(&run, &[&known, &unknown, &prod]);

    let before = w.sim.stats();
    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}", rerun.stdout);
    assert_eq!(rerun.stdout.matches("DONE EARLIER").count(), 3);
    let after = w.sim.stats();
    assert_eq!(after.token_requests, before.token_requests);
    assert_eq!(after.application_requests, before.application_requests);
}

/// (c) and (d): a credential that may not delete stops the run before any
/// DELETE, naming the scope it lacks.
fn stops_before_any_delete(admin_scopes: &[&str]) {
    let w = World::with_admin_scopes(admin_scopes);
    let bank = w.leak("bank.env", "sandbox", AppKind::Bank);
    let org = w.leak("org.env", "production", AppKind::Organization);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    for text in [&run.stdout, &run.stderr] {
        assert!(
            text.contains("lacks the scope bank_applications:execute"),
            "{text}"
        );
        assert!(text.contains("organization_applications:execute"), "{text}");
        assert!(text.contains("stopped before any DELETE"), "{text}");
    }
    assert!(!run.stdout.contains("REVOKED"), "{}", run.stdout);
    assert!(w.alive(&bank) && w.alive(&org));
    assert_eq!(app_requests(&w, "DELETE") + app_requests(&w, "GET"), 0);
    let audit = w.audit();
    assert_eq!(
        lines(&audit, "token", "error").len(),
        2,
        "one per environment"
    );
    let missing = lines(&audit, "scopes", "missing");
    assert_eq!(missing.len(), 2);
    assert!(missing.iter().any(|l| l["environment"] == "sandbox"
        && l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("bank_applications:execute: refused"))));
    assert!(lines(&audit, "delete", "sent").is_empty());
    assert!(lines(&audit, "revoke", "revoked").is_empty());
    assert_eq!(lines(&audit, "run", "stopped").len(), 1);
    w.assert_no_leak(&run, &[&bank, &org]);
}

#[test]
fn an_admin_credential_with_read_scopes_only_stops_before_any_delete() {
    stops_before_any_delete(&["bank_applications:read", "organization_applications:read"]);
}

#[test]
fn an_admin_credential_with_banks_read_only_stops_before_any_delete() {
    stops_before_any_delete(&["banks:read"]);
}

#[test]
fn a_confirmation_that_cannot_be_had_is_unconfirmed_and_a_rerun_only_confirms() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let fp = fingerprint_of(&w.report(), &leaked);
    // The token endpoint fails for the leaked pair only (the admin's own
    // token request goes through).
    let mut down = fault(FaultKind::ServerError);
    down.client_id = Some(leaked.id.clone());
    down.endpoint = Some(FaultTarget::Token);
    w.sim.add_fault(down);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("UNCONFIRMED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("DELETE 204, but not confirmed: the token endpoint gave no usable answer after 4 attempt(s) (server_error)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("REVOKED "), "{}", run.stdout);
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(!w.alive(&leaked), "the DELETE itself went through");
    let audit = w.audit();
    let unconfirmed = lines(&audit, "revoke", "unconfirmed");
    assert_eq!(unconfirmed.len(), 1);
    assert_eq!(unconfirmed[0]["http_status"], 204);
    assert_eq!(unconfirmed[0]["fingerprint"], fp.as_str());
    assert_eq!(lines(&audit, "confirm", "unknown").len(), 1);
    w.assert_no_leak(&run, &[&leaked]);

    // A hanging token endpoint: still unconfirmed, and only the pair is asked.
    w.sim.clear_faults();
    let mut hang = fault(FaultKind::Hang);
    hang.client_id = Some(leaked.id.clone());
    hang.endpoint = Some(FaultTarget::Token);
    w.sim.add_fault(hang);
    let admin_tokens = |w: &World| {
        w.sim
            .stats()
            .token_requests_by_client
            .get(&w.admin.id)
            .copied()
    };
    let admin_before = admin_tokens(&w);
    let hung = w.revoke(&["--yes", "--timeout", "1"]);
    assert_eq!(hung.status, 4, "{}\n{}", hung.stdout, hung.stderr);
    assert!(hung.stdout.contains("(timeout)"), "{}", hung.stdout);
    assert_eq!(w.deletes(&leaked), 1, "no second DELETE");
    assert_eq!(admin_tokens(&w), admin_before, "no admin token either");
    assert_eq!(lines(&w.audit(), "revoke", "unconfirmed").len(), 2);

    // The endpoint is back: the rerun confirms, and does nothing else.
    w.sim.clear_faults();
    let pair_before = w
        .sim
        .stats()
        .token_requests_by_client
        .get(&leaked.id)
        .copied();
    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(
        rerun.stdout.contains("REVOKED          bank application"),
        "{}",
        rerun.stdout
    );
    assert!(rerun.stdout.contains("DELETE 204; confirmed dead at"));
    assert_eq!(w.deletes(&leaked), 1);
    assert_eq!(admin_tokens(&w), admin_before);
    assert_eq!(
        w.sim
            .stats()
            .token_requests_by_client
            .get(&leaked.id)
            .copied(),
        pair_before.map(|n| n + 1),
        "one token request with the pair"
    );
    let audit = w.audit();
    assert_eq!(lines(&audit, "delete", "sent").len(), 1);
    let done = lines(&audit, "revoke", "revoked");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["http_status"], 204);
    assert_eq!(lines(&audit, "confirm", "retry").len(), 2);
    // And now it is finished.
    let last = w.revoke(&["--yes"]);
    assert_eq!(last.status, 0);
    assert!(last.stdout.contains("DONE EARLIER"), "{}", last.stdout);
    w.assert_no_leak(&rerun, &[&leaked]);
}

#[test]
fn from_a_redacted_report_the_deletion_is_made_but_left_unconfirmed() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    assert_eq!(w.scan(&[]).status, 3);
    let report = fs::read_to_string(w.path("report.json")).expect("report");
    assert!(!report.contains(&leaked.secret), "redacted by default");
    // The secret is read again from the finding's location when it is
    // there: move the file away, so that it is not.
    let (file, away) = (w.src().join("a.env"), w.path("a.env.away"));
    fs::rename(&file, &away).expect("move the fixture away");
    let dry = w.revoke(&["--dry-run"]);
    assert!(
        dry.stdout
            .contains("cannot be confirmed at the token endpoint"),
        "{}",
        dry.stdout
    );
    assert!(dry
        .stdout
        .contains("admin scopes: bank_applications:execute"));
    let before = w
        .sim
        .stats()
        .token_requests_by_client
        .get(&leaked.id)
        .copied();
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&leaked));
    assert!(
        run.stdout.contains("written without --show-secrets"),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.sim
            .stats()
            .token_requests_by_client
            .get(&leaked.id)
            .copied(),
        before,
        "no secret, no token request with the pair"
    );
    assert_eq!(lines(&w.audit(), "confirm", "no_secret").len(), 1);
    w.assert_no_leak(&run, &[&leaked]);
    // The same findings, with the secret at hand: only the confirmation runs.
    fs::rename(&away, &file).expect("move the fixture back");
    assert_eq!(w.scan(&["--show-secrets"]).status, 1, "invalid now");
    let mut with_secret: Value = serde_json::from_str(&report).expect("json");
    for f in with_secret["findings"].as_array_mut().expect("findings") {
        if f["revocation"]["client_id"] == leaked.id.as_str()
            && f["rule_id"] == "cybrid-client-secret"
        {
            f["secret"] = Value::String(leaked.secret.clone());
        }
    }
    fs::write(
        w.path("report.json"),
        serde_json::to_string(&with_secret).expect("json"),
    )
    .expect("write");
    let rerun = w.revoke(&["--yes"]);
    assert_eq!(rerun.status, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(rerun.stdout.contains("REVOKED "), "{}", rerun.stdout);
    assert_eq!(w.deletes(&leaked), 1);
}

#[test]
fn a_404_for_a_pair_that_still_works_is_a_failure_not_already_revoked() {
    // The leaked application belongs to another organization: the admin's
    // DELETE answers 404, yet the pair still mints tokens.
    let w = World::new();
    let p = pair();
    w.sim
        .add_application(app(&p, "sandbox", AppKind::Bank, &guid()));
    fs::write(
        w.src().join(".env"),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            p.id, p.secret
        ),
    )
    .expect("write");
    assert_eq!(w.scan(&["--show-secrets"]).status, 3);
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(!run.stdout.contains("ALREADY REVOKED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("the token endpoint still issues tokens for the pair: not revoked"),
        "{}",
        run.stdout
    );
    assert!(w.alive(&p));
    let audit = w.audit();
    assert_eq!(lines(&audit, "delete", "not_found").len(), 1);
    assert_eq!(lines(&audit, "confirm", "alive").len(), 1);
    assert_eq!(lines(&audit, "revoke", "failed").len(), 1);
    w.assert_no_leak(&run, &[&p]);
}

/// `incidents show FP --format json` of a datastore.
fn incident(ds: &Path, fp: &str) -> Value {
    let out = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .args(["incidents", "show", fp, "--format", "json", "--datastore"])
        .arg(ds)
        .output()
        .expect("incidents show");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn revoke_and_scan_revoke_record_the_revocation_in_the_datastore() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    let ds = w.path("incidents.db");
    let ds_arg = ds.display().to_string();
    let scan = w.scan(&["--datastore", &ds_arg, "--show-secrets"]);
    assert_eq!(scan.status, 3, "{}", scan.stderr);
    let fp = fingerprint_of(&w.report(), &leaked);
    let run = w.revoke(&["--yes", "--datastore", &ds_arg]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(!w.alive(&leaked));
    assert!(
        run.stderr.contains("1 incident(s) marked revoked"),
        "{}",
        run.stderr
    );
    let shown = incident(&ds, &fp);
    assert_eq!(shown["status"], "revoked");
    let history = shown["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["from"], "open");
    assert_eq!(history[0]["to"], "revoked");
    assert!(history[0]["at"].is_string() && history[0]["who"].is_string());
    let note = history[0]["note"].as_str().expect("note");
    assert!(note.contains("revoked by cybrid-scan revoke"), "{note}");
    assert!(note.contains("token endpoint refused the pair"), "{note}");
    assert!(note.contains("audit.jsonl"), "{note}");
    w.assert_no_leak(&run, &[&leaked]);

    // A scan with --revoke records it too, once its findings are in.
    let other = w.leak("b.env", "sandbox", AppKind::Bank);
    let ds2 = w.path("second.db").display().to_string();
    let audit = w.path("scan-audit.jsonl").display().to_string();
    let run = w.scan(&[
        "--revoke",
        "--yes",
        "--audit-log",
        &audit,
        "--datastore",
        &ds2,
    ]);
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert!(!w.alive(&other));
    let fp = w.report()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["location"]["path"] == "b.env" && f["rule_id"] == "cybrid-client-secret")
        .and_then(|f| f["fingerprint"].as_str())
        .expect("b.env's secret")
        .to_string();
    let shown = incident(Path::new(&ds2), &fp);
    assert_eq!(shown["status"], "revoked", "{shown}");
    assert_eq!(
        w.report()["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["fingerprint"] == fp.as_str())
            .expect("finding")["triage"]["status"],
        "revoked"
    );

    // A datastore that cannot be opened stops revoke before anything is deleted.
    let third = w.leak("c.env", "sandbox", AppKind::Bank);
    let scan = w.scan(&["--show-secrets"]);
    assert_eq!(scan.status, 3, "{}", scan.stderr);
    let bad = w.path("not-a-datastore.db");
    fs::write(&bad, "{\"findings\": []}").expect("write");
    let run = w.revoke(&["--yes", "--datastore", &bad.display().to_string()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        w.alive(&third),
        "revoked although the datastore was refused"
    );
}

#[test]
fn a_pair_refused_only_by_its_ip_allowlist_is_revoked_and_confirmed() {
    let w = World::new();
    // A production-style key pinned to a runner's address: this machine
    // (loopback) is outside the list, so the token endpoint answers 403
    // `ip_not_allowed` after authenticating the pair.
    let leaked = pair();
    let mut a = app(&leaked, "sandbox", AppKind::Bank, &w.org);
    a.ip_allowlist = vec!["52.14.200.17".into()];
    w.sim.add_application(a);
    fs::write(
        w.src().join("deploy.env"),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            leaked.id, leaked.secret
        ),
    )
    .expect("write fixture");
    let scan = w.scan(&[]);
    assert_eq!(scan.status, 1, "unknown, not live: {}", scan.stderr);
    let report = w.report();
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule_id"] == "cybrid-client-secret")
        .expect("the secret's finding");
    assert_eq!(f["verification"]["status"], "unknown");
    assert_eq!(f["verification"]["reason"], "ip_restricted");
    assert_eq!(
        f["revocation"]["client_id"],
        leaked.id.as_str(),
        "an authenticated pair can be revoked: {f}"
    );
    let human = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .arg("dir")
        .arg(w.src())
        .args(["--verify", "--no-color"])
        .args(w.endpoints())
        .output()
        .expect("human");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("restricted by an IP allowlist"), "{text}");

    // Deleted, and confirmed from outside the list: a deleted application
    // answers invalid_client from anywhere.
    let run = w.revoke(&["--yes"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&leaked));
    assert!(run.stdout.contains("REVOKED "), "{}", run.stdout);
    w.assert_no_leak(&run, &[&leaked]);
}

#[test]
fn the_live_credentials_of_a_datastore_are_revoked_without_a_report() {
    let w = World::new();
    let leaked = w.leak("a.env", "sandbox", AppKind::Bank);
    let ds = w.path("incidents.db").display().to_string();
    assert_eq!(w.scan(&["--datastore", &ds]).status, 3);
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.args(["revoke", "--datastore", &ds, "--yes", "--audit-log"])
        .arg(w.path("audit.jsonl"))
        .args(w.endpoints())
        .env("CYBRID_ADMIN_CLIENT_ID", &w.admin.id)
        .env("CYBRID_ADMIN_CLIENT_SECRET", &w.admin.secret)
        .env("XDG_STATE_HOME", w.state())
        .current_dir(w.dir.path())
        .timeout(Duration::from_secs(120));
    let run = Run::of(cmd.output().expect("revoke"));
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!w.alive(&leaked));
    assert!(run.stdout.contains("REVOKED "), "{}", run.stdout);
    assert_eq!(
        lines(&w.audit(), "confirm", "dead").len(),
        1,
        "confirmed with the secret read again"
    );
    w.assert_no_leak(&run, &[&leaked]);
    // A datastore that does not exist is refused before anything is done.
    let mut missing = Command::cargo_bin("cybrid-scan").expect("binary");
    missing
        .args(["revoke", "--datastore"])
        .arg(w.path("nope.db"))
        .args(["--yes", "--audit-log"])
        .arg(w.path("audit2.jsonl"))
        .env("XDG_STATE_HOME", w.state());
    let refused = Run::of(missing.output().expect("revoke"));
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("nope.db"), "{}", refused.stderr);
}

#[test]
fn with_the_admin_credential_at_hand_verify_reads_each_live_keys_ip_allowlist() {
    let w = World::new();
    let open = w.leak("open.env", "sandbox", AppKind::Bank);
    // A second key pinned to the address the simulator sees this machine as.
    let pinned = pair();
    let mut a = app(&pinned, "sandbox", AppKind::Bank, &w.org);
    a.ip_allowlist = vec!["52.14.200.17".into()];
    w.sim.add_application(a);
    fs::write(
        w.src().join("pinned.env"),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            pinned.id, pinned.secret
        ),
    )
    .expect("write fixture");
    w.sim
        .set_client_address(Some("52.14.200.17".parse().expect("ip")));
    let run = w.scan(&["--read-allowlists"]);
    w.sim.set_client_address(None);
    assert_eq!(run.status, 3, "{}", run.stderr);
    let report = w.report();
    let allowlist_of = |p: &Pair| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["revocation"]["client_id"] == p.id.as_str())
            .map(|f| f["verification"]["ip_allowlist"].clone())
            .expect("a live finding")
    };
    assert_eq!(allowlist_of(&open), serde_json::json!([]));
    assert_eq!(allowlist_of(&pinned), serde_json::json!(["52.14.200.17"]));
    let human = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .arg("dir")
        .arg(w.src())
        .args(["--verify", "--read-allowlists", "--no-color"])
        .args(w.endpoints())
        .env("CYBRID_ADMIN_CLIENT_ID", &w.admin.id)
        .env("CYBRID_ADMIN_CLIENT_SECRET", &w.admin.secret)
        .output()
        .expect("human");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("no IP allowlist (usable from anywhere)"),
        "{text}"
    );
    assert!(!text.contains(&w.admin.secret) && !text.contains(&open.secret));
}
