//! Rotation against the identity-service simulator and strict GitHub and
//! GitLab API simulators (tiny_http on loopback): a `--verify` scan writes a
//! report, `cybrid-scan rotate` replaces each leaked application, delivers
//! the new pair, checks it and deletes the leak. The GitHub simulator
//! really opens the sealed boxes with the repository's private key; the
//! GitLab one applies its masking rules.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cybrid_scan::idsim::{AppKind, Application, Fault, FaultKind, FaultTarget, Seed, Simulator};
use serde_json::{json, Value};
use tempfile::TempDir;

mod common;
use common::{guid, pair, Pair};

const GH_TOKEN: &str = "ghp_simulatedTokenForTestsOnly111111111111";
const GL_TOKEN: &str = "glpat-simulatedTokenForTestsOnly11";
/// The public address the leaked key's allowlist holds (the CI runner the
/// scan runs on); rotation runs from elsewhere (loopback).
const RUNNER_IP: &str = "52.14.200.17";
const ALLOWLIST: [&str; 2] = ["52.14.200.17", "52.14.201.0/24"];

/// One request as a simulator saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

type Handler = dyn Fn(&Seen) -> (u16, Value) + Send + Sync;

/// A loopback HTTP server that records requests and answers with `handler`.
struct Sim {
    server: Arc<tiny_http::Server>,
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Sim {
    fn start(handler: Arc<Handler>) -> Sim {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, log) = (server.clone(), seen.clone());
        thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let seen = Seen {
                    method: request.method().to_string(),
                    url: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_ascii_lowercase(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect(),
                    body,
                };
                log.lock().expect("log").push(seen.clone());
                let (status, v) = handler(&seen);
                let body = if v.is_null() {
                    Vec::new()
                } else {
                    v.to_string().into_bytes()
                };
                let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("header");
                let _ = request.respond(
                    tiny_http::Response::from_data(body)
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        Sim {
            server,
            url: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    fn seen(&self, method: &str) -> usize {
        self.seen
            .lock()
            .expect("log")
            .iter()
            .filter(|s| s.method == method)
            .count()
    }

    fn all_seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// GitHub Actions secrets of one repository, `acme/payments`: its key pair
/// (the private key opens what the client sealed) and the plaintexts.
struct GitHub {
    secret_key: crypto_box::SecretKey,
    key_id: String,
    secrets: Mutex<BTreeMap<String, String>>,
}

fn github_sim() -> (Sim, Arc<GitHub>) {
    let gh = Arc::new(GitHub {
        secret_key: crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng),
        key_id: "568250167242549743".into(),
        secrets: Mutex::new(BTreeMap::new()),
    });
    let world = gh.clone();
    let handler = move |s: &Seen| -> (u16, Value) {
        if s.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {GH_TOKEN}"))
        {
            return (401, json!({"message": "Bad credentials"}));
        }
        if s.headers.get("accept").map(String::as_str) != Some("application/vnd.github+json") {
            return (415, json!({"message": "Unsupported Media Type"}));
        }
        let prefix = "/repos/acme/payments/actions/secrets/";
        let Some(rest) = s.url.strip_prefix(prefix) else {
            return (404, json!({"message": "Not Found"}));
        };
        if s.method == "GET" && rest == "public-key" {
            let key = STANDARD.encode(world.secret_key.public_key().as_bytes());
            return (200, json!({"key_id": world.key_id, "key": key}));
        }
        if s.method != "PUT" {
            return (404, json!({"message": "Not Found"}));
        }
        let name = rest;
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.to_ascii_uppercase().starts_with("GITHUB_")
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return (422, json!({"message": "Invalid secret name"}));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&s.body) else {
            return (400, json!({"message": "Problems parsing JSON"}));
        };
        if body["key_id"] != world.key_id.as_str() {
            return (
                422,
                json!({"message": "key_id does not match the repository's key"}),
            );
        }
        let opened = body["encrypted_value"]
            .as_str()
            .and_then(|v| STANDARD.decode(v).ok())
            .and_then(|sealed| world.secret_key.unseal(&sealed).ok())
            .and_then(|plain| String::from_utf8(plain).ok());
        let Some(plain) = opened else {
            return (
                422,
                json!({"message": "encrypted_value is not a sealed box for this key"}),
            );
        };
        let existed = world
            .secrets
            .lock()
            .expect("secrets")
            .insert(name.to_ascii_uppercase(), plain)
            .is_some();
        (if existed { 204 } else { 201 }, Value::Null)
    };
    (Sim::start(Arc::new(handler)), gh)
}

/// A GitLab variable as stored.
#[derive(Debug, Clone)]
struct Variable {
    value: String,
    masked: bool,
    protected: bool,
}

struct GitLab {
    variables: Mutex<BTreeMap<String, Variable>>,
    /// Answer 500 to every variable write (a GitLab outage).
    failing: AtomicBool,
}

/// GitLab's rule for a masked value: one line, at least 8 characters, of
/// the Base64 alphabet and `@:.~-_` only.
fn maskable(v: &str) -> bool {
    v.len() >= 8
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=@:.~-_".contains(c))
}

fn gitlab_sim() -> (Sim, Arc<GitLab>) {
    let gl = Arc::new(GitLab {
        variables: Mutex::new(BTreeMap::new()),
        failing: AtomicBool::new(false),
    });
    let world = gl.clone();
    let handler = move |s: &Seen| -> (u16, Value) {
        if s.headers.get("private-token").map(String::as_str) != Some(GL_TOKEN) {
            return (401, json!({"message": "401 Unauthorized"}));
        }
        // tiny_http gives the raw path: the project is one %2F-encoded segment.
        let project = "/api/v4/projects/acme%2Fpayments";
        if s.method == "GET" && s.url == project {
            return (
                200,
                json!({"id": 42, "path_with_namespace": "acme/payments"}),
            );
        }
        let Some(rest) = s.url.strip_prefix(project) else {
            return (404, json!({"message": "404 Project Not Found"}));
        };
        if world.failing.load(Ordering::SeqCst) {
            return (500, json!({"message": "500 Internal Server Error"}));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&s.body) else {
            return (400, json!({"error": "body is not JSON"}));
        };
        let value = body["value"].as_str().unwrap_or_default().to_string();
        let masked = body["masked"].as_bool().unwrap_or(false);
        let protected = body["protected"].as_bool().unwrap_or(false);
        if masked && !maskable(&value) {
            return (400, json!({"message": {"value": ["is invalid"]}}));
        }
        let mut vars = world.variables.lock().expect("vars");
        match (s.method.as_str(), rest.strip_prefix("/variables")) {
            ("PUT", Some(key)) if key.starts_with('/') => {
                let key = &key[1..];
                match vars.get_mut(key) {
                    Some(v) => {
                        *v = Variable {
                            value,
                            masked,
                            protected,
                        };
                        (
                            200,
                            json!({"key": key, "masked": masked, "protected": protected}),
                        )
                    }
                    None => (404, json!({"message": "404 Variable Not Found"})),
                }
            }
            ("POST", Some("")) => {
                let Some(key) = body["key"].as_str() else {
                    return (400, json!({"message": {"key": ["can't be blank"]}}));
                };
                if vars.contains_key(key) {
                    return (
                        400,
                        json!({"message": {"key": [format!("({key}) has already been taken")]}}),
                    );
                }
                vars.insert(
                    key.to_string(),
                    Variable {
                        value,
                        masked,
                        protected,
                    },
                );
                (
                    201,
                    json!({"key": key, "masked": masked, "protected": protected}),
                )
            }
            _ => (404, json!({"message": "404 Not Found"})),
        }
    };
    (Sim::start(Arc::new(handler)), gl)
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

/// The identity service with an organization, its admin credential, a
/// leaked bank key with an IP allowlist, and the GitHub and GitLab simulators.
struct World {
    sim: Simulator,
    org: String,
    admin: Pair,
    leaked: Pair,
    bank: String,
    dir: TempDir,
    github: Sim,
    gh: Arc<GitHub>,
    gitlab: Sim,
    gl: Arc<GitLab>,
}

impl World {
    fn new() -> World {
        let sim = Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).expect("simulator");
        let org = guid();
        let admin = pair();
        sim.add_application(Application {
            client_id: admin.id.clone(),
            client_secret: admin.secret.clone(),
            environment: "sandbox".into(),
            kind: AppKind::Organization,
            guid: String::new(),
            organization_guid: org.clone(),
            scopes: Vec::new(),
            ip_allowlist: Vec::new(),
            name: "responder".into(),
        });
        let leaked = pair();
        let bank = guid();
        sim.add_application(Application {
            client_id: leaked.id.clone(),
            client_secret: leaked.secret.clone(),
            environment: "sandbox".into(),
            kind: AppKind::Bank,
            guid: bank.clone(),
            organization_guid: org.clone(),
            scopes: Vec::new(),
            ip_allowlist: ALLOWLIST.iter().map(|s| s.to_string()).collect(),
            name: "payments-prod".into(),
        });
        let dir = TempDir::new().expect("tempdir");
        fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        fs::write(
            dir.path().join("src/.env"),
            format!(
                "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
                leaked.id, leaked.secret
            ),
        )
        .expect("fixture");
        let (github, gh) = github_sim();
        let (gitlab, gl) = gitlab_sim();
        World {
            sim,
            org,
            admin,
            leaked,
            bank,
            dir,
            github,
            gh,
            gitlab,
            gl,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `dir src --verify -f json` from the runner (inside the allowlist).
    fn scan(&self, extra: &[&str]) {
        self.sim
            .set_client_address(Some(RUNNER_IP.parse().expect("ip")));
        let out = Command::cargo_bin("cybrid-scan")
            .expect("binary")
            .arg("dir")
            .arg(self.path("src"))
            .args(["--verify", "-f", "json", "-o"])
            .arg(self.path("report.json"))
            .args(["--endpoint", &format!("sandbox={}", self.sim.url())])
            .args(extra)
            .timeout(Duration::from_secs(120))
            .output()
            .expect("scan");
        self.sim.set_client_address(None);
        assert_eq!(
            out.status.code(),
            Some(3),
            "the leak verifies live: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report = self.path("report.json").display().to_string();
        assert!(
            stderr.contains(&format!("cybrid-scan rotate --report {report} --deliver")),
            "the scan's own JSON output is what rotate takes: {stderr}"
        );
    }

    fn rotate_cmd(&self, extra: &[&str]) -> Command {
        let report = self.path("report.json").display().to_string();
        self.rotate_from(&["--report", &report], extra)
    }

    /// `rotate` taking its credentials from `source` (`--report FILE` or `--datastore LOCATION`).
    fn rotate_from(&self, source: &[&str], extra: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
        cmd.arg("rotate")
            .args(source)
            .args(["--endpoint", &format!("sandbox={}", self.sim.url())])
            .args(["--github-api-url", &self.github.url])
            .args(["--gitlab-api-url", &self.gitlab.url])
            .arg("--audit-log")
            .arg(self.path("state/audit.jsonl"))
            .args(extra)
            .env("CYBRID_ADMIN_CLIENT_ID", &self.admin.id)
            .env("CYBRID_ADMIN_CLIENT_SECRET", &self.admin.secret)
            .env("GITHUB_TOKEN", GH_TOKEN)
            .env("GITLAB_TOKEN", GL_TOKEN)
            .env("XDG_STATE_HOME", self.path("xdg"))
            .current_dir(self.dir.path())
            .timeout(Duration::from_secs(120));
        cmd
    }

    fn rotate(&self, extra: &[&str]) -> Run {
        Run::of(self.rotate_cmd(extra).output().expect("rotate"))
    }

    fn deliver_args(&self) -> Vec<String> {
        vec![
            "--deliver".into(),
            "github:acme/payments".into(),
            "--deliver".into(),
            "gitlab:acme/payments".into(),
            "--deliver".into(),
            format!("file:{}", self.path("deploy.env").display()),
            "--deliver".into(),
            format!("exec:cat > '{}'", self.path("vault-input").display()),
        ]
    }

    fn alive(&self, id: &str) -> bool {
        self.sim.applications().iter().any(|a| a.client_id == id)
    }

    /// Applications created through the API, other than the seeded ones.
    fn replacements(&self) -> Vec<Application> {
        self.sim
            .applications()
            .into_iter()
            .filter(|a| {
                a.client_id != self.admin.id
                    && a.client_id != self.leaked.id
                    && a.name.starts_with("payments-prod")
            })
            .collect()
    }

    fn audit_text(&self) -> String {
        fs::read_to_string(self.path("state/audit.jsonl")).unwrap_or_default()
    }

    fn audit(&self) -> Vec<Value> {
        self.audit_text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("whole JSON lines"))
            .collect()
    }

    /// No secret (leaked, new, admin) and no token in what the run printed
    /// or logged.
    fn assert_no_secret(&self, run: &Run, new: &[&Application]) {
        let audit = self.audit_text();
        for (what, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("audit log", &audit),
        ] {
            assert!(
                !text.contains(&self.leaked.secret),
                "leaked secret in {what}:\n{text}"
            );
            assert!(
                !text.contains(&self.leaked.id),
                "leaked client id in {what}:\n{text}"
            );
            assert!(!text.contains(&self.admin.secret), "admin secret in {what}");
            for a in new {
                assert!(
                    !text.contains(&a.client_secret),
                    "new secret in {what}:\n{text}"
                );
                assert!(
                    !text.contains(&a.client_id),
                    "new client id in full in {what}:\n{text}"
                );
            }
            assert!(!text.contains("eyJ"), "a token in {what}");
            assert!(
                !text.contains(GH_TOKEN) && !text.contains(GL_TOKEN),
                "a CI token in {what}"
            );
        }
    }

    fn assert_delivered(&self, new: &Application) {
        let gh = self.gh.secrets.lock().expect("secrets").clone();
        assert_eq!(
            gh.get("CYBRID_CLIENT_ID"),
            Some(&new.client_id),
            "GitHub id"
        );
        assert_eq!(
            gh.get("CYBRID_CLIENT_SECRET"),
            Some(&new.client_secret),
            "GitHub secret, opened with the repository's private key"
        );
        let gl = self.gl.variables.lock().expect("vars").clone();
        for (key, value) in [
            ("CYBRID_CLIENT_ID", &new.client_id),
            ("CYBRID_CLIENT_SECRET", &new.client_secret),
        ] {
            let v = gl
                .get(key)
                .unwrap_or_else(|| panic!("GitLab variable {key}"));
            assert_eq!(&v.value, value);
            assert!(v.masked && v.protected, "{key} masked and protected");
        }
        let expected = format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            new.client_id, new.client_secret
        );
        assert_eq!(
            fs::read_to_string(self.path("deploy.env")).expect("file"),
            expected
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(self.path("deploy.env"))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            fs::read_to_string(self.path("vault-input")).expect("exec input"),
            expected,
            "the command got the values on standard input"
        );
    }

    fn pending_files(&self) -> Vec<PathBuf> {
        fs::read_dir(self.path("state/pending"))
            .map(|d| d.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default()
    }
}

fn lines<'a>(audit: &'a [Value], action: &str, outcome: &str) -> Vec<&'a Value> {
    audit
        .iter()
        .filter(|l| l["action"] == action && l["outcome"] == outcome)
        .collect()
}

#[test]
fn a_bank_key_with_an_allowlist_is_replaced_delivered_and_deleted_and_a_rerun_does_nothing() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    let mut args: Vec<String> = w.deliver_args();
    args.push("--yes".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = w.rotate(&args);
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let new = w.replacements();
    assert_eq!(new.len(), 1, "one replacement");
    let new = &new[0];
    assert_eq!(new.kind, AppKind::Bank);
    assert_eq!(new.guid, w.bank, "same bank");
    assert_eq!(new.organization_guid, w.org);
    assert_eq!(
        new.ip_allowlist,
        ALLOWLIST.map(String::from).to_vec(),
        "same IP allowlist"
    );
    assert!(
        new.name.starts_with("payments-prod (rotated 20"),
        "{}",
        new.name
    );
    assert!(!w.alive(&w.leaked.id), "the leaked application is deleted");
    w.assert_delivered(new);
    assert!(run.stdout.contains("ROTATED"), "{}", run.stdout);
    let audit = w.audit();
    assert_eq!(lines(&audit, "rotate", "rotated").len(), 1);
    assert_eq!(
        lines(&audit, "revoke", "revoked").len(),
        1,
        "deleted and confirmed dead"
    );
    let check = lines(&audit, "check", "ok");
    assert!(
        check[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ip_not_allowed"),
        "the new key's allowlist answered: {check:?}"
    );
    assert!(
        w.pending_files().is_empty(),
        "the pending secret is gone once delivered"
    );
    w.assert_no_secret(&run, &[new]);

    // A rerun creates nothing, delivers nothing, and exits 0.
    let puts = w.github.seen("PUT");
    let created = w.sim.stats().applications_created;
    let again = w.rotate(&args);
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("DONE EARLIER"), "{}", again.stdout);
    assert_eq!(w.sim.stats().applications_created, created);
    assert_eq!(w.github.seen("PUT"), puts);
    w.assert_no_secret(&again, &[new]);
}

#[test]
fn a_failed_delivery_deletes_nothing_and_a_rerun_reuses_the_replacement() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    w.gl.failing.store(true, Ordering::SeqCst);
    let mut args: Vec<String> = w.deliver_args();
    args.push("--yes".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = w.rotate(&args);
    assert_eq!(
        run.status, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(w.alive(&w.leaked.id), "a failed delivery deletes nothing");
    assert_eq!(w.sim.stats().applications_deleted, 0);
    let new = w.replacements();
    assert_eq!(new.len(), 1);
    assert!(
        run.stdout.contains("PENDING") && run.stdout.contains("NOT deleted"),
        "{}",
        run.stdout
    );
    let pending = w.pending_files();
    assert_eq!(pending.len(), 1, "the replacement is kept for the rerun");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&pending[0])
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    w.assert_no_secret(&run, &[&new[0]]);

    w.gl.failing.store(false, Ordering::SeqCst);
    let again = w.rotate(&args);
    assert_eq!(
        again.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        again.stdout, again.stderr
    );
    assert_eq!(
        w.sim.stats().applications_created,
        1,
        "the rerun reuses the replacement"
    );
    assert!(!w.alive(&w.leaked.id));
    w.assert_delivered(&new[0]);
    assert!(w.pending_files().is_empty());
    assert_eq!(lines(&w.audit(), "create", "reused").len(), 1);
    w.assert_no_secret(&again, &[&new[0]]);
}

#[test]
fn a_run_killed_after_creating_the_replacement_is_finished_by_a_rerun() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    // The first destination kills cybrid-scan itself (its parent) mid-delivery.
    let run = w.rotate(&[
        "--yes",
        "--deliver",
        "exec:kill -9 $PPID",
        "--deliver",
        "github:acme/payments",
    ]);
    assert_ne!(run.status, 0);
    assert!(w.alive(&w.leaked.id));
    assert_eq!(w.replacements().len(), 1);
    let again = w.rotate(&["--yes", "--deliver", "github:acme/payments"]);
    assert_eq!(
        again.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        again.stdout, again.stderr
    );
    assert_eq!(
        w.sim.stats().applications_created,
        1,
        "nothing created twice"
    );
    let new = &w.replacements()[0];
    assert_eq!(
        w.gh.secrets.lock().expect("s").get("CYBRID_CLIENT_SECRET"),
        Some(&new.client_secret)
    );
    assert!(!w.alive(&w.leaked.id));
    w.assert_no_secret(&again, &[new]);
}

#[test]
fn a_dropped_scope_stops_before_anything_and_prints_the_runbook_and_revoke_stops_too() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    w.sim.add_fault(Fault {
        client_id: Some(w.admin.id.clone()),
        endpoint: Some(FaultTarget::Token),
        scopes: Some(vec!["bank_applications:execute".into()]),
        ..Fault::new(FaultKind::DropScopes)
    });
    let run = w.rotate(&["--yes", "--deliver", "github:acme/payments"]);
    assert_eq!(
        run.status, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("did not grant") && run.stderr.contains("bank_applications:execute"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("Developers > API keys"),
        "runbook: {}",
        run.stdout
    );
    assert!(run.stdout.contains("--new-from-stdin"), "{}", run.stdout);
    assert!(
        run.stdout.contains("github:acme/payments"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&w.bank) && run.stdout.contains("52.14.200.17, 52.14.201.0/24"),
        "the runbook names the bank and the allowlist (read scope granted): {}",
        run.stdout
    );
    assert_eq!(w.sim.stats().applications_created, 0);
    assert!(w.alive(&w.leaked.id));
    assert_eq!(
        w.github.seen("PUT") + w.github.seen("GET"),
        0,
        "no destination touched"
    );
    w.assert_no_secret(&run, &[]);

    // revoke compares the granted scopes too, and deletes nothing.
    let out = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .args(["revoke", "--yes", "--report"])
        .arg(w.path("report.json"))
        .args(["--endpoint", &format!("sandbox={}", w.sim.url())])
        .arg("--audit-log")
        .arg(w.path("revoke-audit.jsonl"))
        .env("CYBRID_ADMIN_CLIENT_ID", &w.admin.id)
        .env("CYBRID_ADMIN_CLIENT_SECRET", &w.admin.secret)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("revoke");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lacks the scope bank_applications:execute"),
        "{stderr}"
    );
    assert!(w.alive(&w.leaked.id));
    assert_eq!(w.sim.stats().delete_requests_by_client.len(), 0);
}

#[test]
fn a_pair_from_the_dashboard_is_delivered_checked_and_the_leak_watched_until_it_dies() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    // The responder made this key in the dashboard (same bank and allowlist).
    let fresh = pair();
    w.sim.add_application(Application {
        client_id: fresh.id.clone(),
        client_secret: fresh.secret.clone(),
        environment: "sandbox".into(),
        kind: AppKind::Bank,
        guid: w.bank.clone(),
        organization_guid: w.org.clone(),
        scopes: Vec::new(),
        ip_allowlist: ALLOWLIST.iter().map(|s| s.to_string()).collect(),
        name: "payments-prod (rotated by hand)".into(),
    });
    let file = format!("file:{}", w.path("deploy.env").display());
    let mut cmd = w.rotate_cmd(&[
        "--yes",
        "--new-from-stdin",
        "--deliver",
        "github:acme/payments",
        "--deliver",
        &file,
        "--watch-interval",
        "1",
        "--watch-for",
        "30",
    ]);
    cmd.write_stdin(format!("{}\n{}\n", fresh.id, fresh.secret));
    let child = thread::spawn(move || Run::of(cmd.output().expect("rotate")));
    // ... and deletes the leaked one there a little later.
    thread::sleep(Duration::from_millis(2500));
    assert!(w.sim.remove_application("sandbox", &w.leaked.id));
    let run = child.join().expect("run");
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("ROTATED"), "{}", run.stdout);
    assert_eq!(
        w.sim.stats().applications_created,
        0,
        "nothing created through the API"
    );
    assert_eq!(
        w.gh.secrets.lock().expect("s").get("CYBRID_CLIENT_SECRET"),
        Some(&fresh.secret)
    );
    let audit = w.audit();
    assert_eq!(lines(&audit, "watch", "dead").len(), 1);
    let text = w.audit_text();
    for t in [&run.stdout, &run.stderr, &text] {
        assert!(
            !t.contains(&fresh.secret) && !t.contains(&w.leaked.secret),
            "a secret in {t}"
        );
    }
}

#[test]
fn dry_run_and_no_consent_change_nothing_and_bad_input_is_refused() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    let scanned = w.sim.stats().token_requests;
    let dry = w.rotate(&["--dry-run", "--deliver", "github:acme/payments"]);
    assert_eq!(dry.status, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("Rotation plan") && dry.stdout.contains("CYBRID_CLIENT_SECRET"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("Dry run"), "{}", dry.stdout);
    let refused = w.rotate(&["--deliver", "github:acme/payments"]);
    assert_eq!(refused.status, 1, "{}", refused.stdout);
    assert!(refused.stdout.contains("Not confirmed"));
    assert_eq!(w.sim.stats().applications_created, 0);
    assert_eq!(
        w.sim.stats().token_requests,
        scanned,
        "nothing contacted the identity service"
    );
    assert!(w.github.all_seen().is_empty() && w.gitlab.all_seen().is_empty());
    assert!(
        !w.path("state/audit.jsonl").exists(),
        "no audit log for a plan nobody confirmed"
    );
    for bad in [
        vec!["--yes", "--deliver", "s3:bucket"],
        vec!["--yes", "--deliver", "github:acme"],
        vec![
            "--yes",
            "--deliver",
            "github:acme/payments",
            "--secret-names",
            "ONE",
        ],
        vec!["--yes"],
    ] {
        let r = w.rotate(&bad);
        assert_eq!(r.status, 2, "{bad:?}: {}", r.stderr);
        assert_eq!(w.sim.stats().applications_created, 0);
    }
    let names = w.rotate(&[
        "--dry-run",
        "--deliver",
        "github:acme/payments",
        "--secret-names",
        "PAY_ID,PAY_SECRET",
    ]);
    assert!(
        names.stdout.contains("PAY_ID and PAY_SECRET"),
        "{}",
        names.stdout
    );
}

#[test]
fn the_verify_banner_prints_the_commands_that_revoke_or_rotate_and_revoke_says_what_it_did() {
    let w = World::new();
    w.sim
        .set_client_address(Some(RUNNER_IP.parse().expect("ip")));
    let scan = |extra: &[&str]| {
        let out = Command::cargo_bin("cybrid-scan")
            .expect("binary")
            .arg("dir")
            .arg(w.path("src"))
            .arg("--verify")
            .args(["--endpoint", &format!("sandbox={}", w.sim.url())])
            .args(extra)
            .env("CYBRID_ADMIN_CLIENT_ID", &w.admin.id)
            .env("CYBRID_ADMIN_CLIENT_SECRET", &w.admin.secret)
            .env("XDG_STATE_HOME", w.path("xdg"))
            .timeout(Duration::from_secs(120))
            .output()
            .expect("scan");
        Run::of(out)
    };
    let run = scan(&[]);
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("LIVE Cybrid credential(s): revoke or rotate them now"),
        "{}",
        run.stdout
    );
    let src = w.path("src").display().to_string();
    assert!(
        run.stdout.contains(&format!(
            "cybrid-scan dir {src} --verify --endpoint sandbox={} -f json -o cybrid-report.json",
            w.sim.url()
        )),
        "the scan again, as the JSON report revoke and rotate take: {}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("cybrid-scan revoke --report cybrid-report.json"));
    assert!(
        run.stdout.contains(&format!(
            "LIVE in sandbox (bank credential); reach: bank {}",
            w.bank
        )),
        "the verdict says what the credential reaches: {}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("cybrid-scan rotate --report cybrid-report.json --deliver"));
    assert!(!run.stdout.contains(&w.leaked.secret));

    // After --revoke, the banner says what was revoked instead.
    let run = scan(&["--revoke", "--yes"]);
    assert!(
        run.stdout.contains("revocation: 1 revoked"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("revoke or rotate them now"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_redacted_report_is_enough_the_secret_is_read_again_from_its_location() {
    let w = World::new();
    w.scan(&[]);
    let report = fs::read_to_string(w.path("report.json")).expect("report");
    assert!(!report.contains(&w.leaked.secret), "redacted");
    let root = fs::canonicalize(w.path("src")).expect("canonical");
    let v: Value = serde_json::from_str(&report).expect("json");
    assert_eq!(
        v["roots"],
        json!([root.display().to_string()]),
        "the report records the scanned root"
    );
    let run = w.rotate(&["--yes", "--deliver", "github:acme/payments"]);
    assert_eq!(
        run.status, 0,
        "confirmed, not 4: stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let audit = w.audit();
    assert_eq!(
        lines(&audit, "confirm", "dead").len(),
        1,
        "the leaked pair was tried with the secret read again"
    );
    assert!(!w.alive(&w.leaked.id));
    let new = w.replacements();
    w.assert_no_secret(&run, &[&new[0]]);
}

#[test]
fn a_value_gitlab_cannot_mask_is_refused_and_never_stored_unmasked() {
    let w = World::new();
    w.scan(&["--show-secrets"]);
    // A pair made by hand whose secret GitLab cannot mask (a space, a '!').
    let id = common::credential();
    let secret = "not maskable!".to_string();
    w.sim.add_application(Application {
        client_id: id.clone(),
        client_secret: secret.clone(),
        environment: "sandbox".into(),
        kind: AppKind::Bank,
        guid: w.bank.clone(),
        organization_guid: w.org.clone(),
        scopes: Vec::new(),
        ip_allowlist: Vec::new(),
        name: "by hand".into(),
    });
    let mut cmd = w.rotate_cmd(&[
        "--yes",
        "--new-from-stdin",
        "--deliver",
        "gitlab:acme/payments",
        "--watch-for",
        "0",
    ]);
    cmd.write_stdin(format!("{id}\n{secret}\n"));
    let run = Run::of(cmd.output().expect("rotate"));
    assert_eq!(
        run.status, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("is invalid"),
        "GitLab's refusal is shown: {}",
        run.stderr
    );
    assert!(
        !w.gl
            .variables
            .lock()
            .expect("vars")
            .contains_key("CYBRID_CLIENT_SECRET"),
        "never stored unmasked"
    );
    assert!(w.alive(&w.leaked.id), "nothing deleted");
    for t in [&run.stdout, &run.stderr, &w.audit_text()] {
        assert!(
            !t.contains(&secret) && !t.contains(&w.leaked.secret),
            "a secret in {t}"
        );
    }
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn from_a_redacted_git_report_the_secret_is_read_again_from_the_blob() {
    let w = World::new();
    // The leak is only in history: committed, then removed.
    let repo = w.path("repo");
    fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q"]);
    fs::copy(w.path("src/.env"), repo.join(".env")).expect("copy");
    git(&repo, &["add", ".env"]);
    git(&repo, &["commit", "-qm", "add config"]);
    git(&repo, &["rm", "-q", ".env"]);
    git(&repo, &["commit", "-qm", "remove config"]);
    w.sim
        .set_client_address(Some(RUNNER_IP.parse().expect("ip")));
    let out = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .arg("git")
        .arg(&repo)
        .args(["--verify", "-f", "json", "-o"])
        .arg(w.path("report.json"))
        .args(["--endpoint", &format!("sandbox={}", w.sim.url())])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("scan");
    w.sim.set_client_address(None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!fs::read_to_string(w.path("report.json"))
        .expect("report")
        .contains(&w.leaked.secret));
    let run = w.rotate(&["--yes", "--deliver", "github:acme/payments"]);
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(
        lines(&w.audit(), "confirm", "dead").len(),
        1,
        "confirmed with the secret read from the blob"
    );
    let new = w.replacements();
    w.assert_no_secret(&run, &[&new[0]]);
}

#[test]
fn an_organization_key_is_replaced_by_an_organization_key() {
    let w = World::new();
    let leaked = pair();
    w.sim.add_application(Application {
        client_id: leaked.id.clone(),
        client_secret: leaked.secret.clone(),
        environment: "sandbox".into(),
        kind: AppKind::Organization,
        guid: String::new(),
        organization_guid: w.org.clone(),
        scopes: Vec::new(),
        ip_allowlist: vec!["52.14.200.17".into()],
        name: "ops-automation".into(),
    });
    fs::write(
        w.path("src/.env"),
        format!(
            "OPS_CYBRID_ID={}\nOPS_CYBRID_SECRET={}\n",
            leaked.id, leaked.secret
        ),
    )
    .expect("fixture");
    w.scan(&[]);
    let run = w.rotate(&["--yes", "--deliver", "github:acme/payments"]);
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let new: Vec<Application> = w
        .sim
        .applications()
        .into_iter()
        .filter(|a| a.name.starts_with("ops-automation (rotated "))
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].kind, AppKind::Organization);
    assert_eq!(new[0].organization_guid, w.org);
    assert_eq!(new[0].ip_allowlist, vec!["52.14.200.17".to_string()]);
    assert!(
        !w.sim
            .applications()
            .iter()
            .any(|a| a.client_id == leaked.id),
        "deleted"
    );
    let gh = w.gh.secrets.lock().expect("secrets").clone();
    assert_eq!(
        gh.get("OPS_CYBRID_SECRET"),
        Some(&new[0].client_secret),
        "delivered under the names it leaked under"
    );
    assert_eq!(gh.get("OPS_CYBRID_ID"), Some(&new[0].client_id));
    for t in [&run.stdout, &run.stderr, &w.audit_text()] {
        assert!(
            !t.contains(&leaked.secret) && !t.contains(&new[0].client_secret),
            "a secret in {t}"
        );
    }
}

#[test]
fn the_live_credentials_of_a_datastore_are_rotated_and_their_incidents_marked() {
    let w = World::new();
    let ds = w.path("incidents.db").display().to_string();
    // A redacted scan recorded into the datastore (which keeps no secret):
    // the secret is read again from the file, the client id comes from the
    // incident's application.
    w.scan(&["--datastore", &ds]);
    let stored = fs::read(&ds).expect("datastore");
    assert!(
        !stored
            .windows(w.leaked.secret.len())
            .any(|b| b == w.leaked.secret.as_bytes()),
        "no secret at rest"
    );
    let run = Run::of(
        w.rotate_from(
            &["--datastore", &ds],
            &["--yes", "--deliver", "github:acme/payments"],
        )
        .output()
        .expect("rotate"),
    );
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!w.alive(&w.leaked.id), "the leaked application is deleted");
    let new = w.replacements();
    assert_eq!(new.len(), 1);
    assert_eq!(
        lines(&w.audit(), "confirm", "dead").len(),
        1,
        "confirmed with the re-read secret"
    );
    w.assert_no_secret(&run, &[&new[0]]);
    let listed = Command::cargo_bin("cybrid-scan")
        .expect("binary")
        .args(["incidents", "list", "--format", "json", "--datastore", &ds])
        .output()
        .expect("incidents");
    let v: Value = serde_json::from_slice(&listed.stdout).expect("json");
    let statuses: Vec<&str> = v["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter(|i| i["rule_id"] == "cybrid-client-secret")
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses, ["rotated"], "{v}");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        !text.contains(&w.leaked.id),
        "incidents list shows no full client id"
    );
    // Nothing open is left: a rerun has nothing to do.
    let again = Run::of(
        w.rotate_from(
            &["--datastore", &ds],
            &["--yes", "--deliver", "github:acme/payments"],
        )
        .output()
        .expect("rotate"),
    );
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(w.replacements().len(), 1, "nothing created");
}
