//! `--verify` against the identity-service simulator, over real HTTP on
//! loopback: the real `cybrid-scan` binary, a simulator started in-process
//! (or as the `cybrid-idsim` binary), credentials generated per test.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cybrid_scan::idsim::{AppKind, Application, Fault, FaultKind, Seed, Simulator};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{pair, Pair};

fn app(p: &Pair, env: &str, kind: AppKind) -> Application {
    Application {
        client_id: p.id.clone(),
        client_secret: p.secret.clone(),
        environment: env.into(),
        kind,
        guid: String::new(),
        organization_guid: String::new(),
        scopes: Vec::new(),
        ip_allowlist: Vec::new(),
        name: String::new(),
    }
}

fn fault(kind: FaultKind) -> Fault {
    Fault::new(kind)
}

fn simulator() -> Simulator {
    Simulator::start("127.0.0.1:0", "sandbox", Seed::default()).expect("simulator starts")
}

/// A `.env`-style file with the pair (and an optional line before it).
fn write_env(dir: &Path, name: &str, p: &Pair, extra: &str) {
    fs::write(
        dir.join(name),
        format!(
            "{extra}\nCYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            p.id, p.secret
        ),
    )
    .expect("write fixture");
}

struct Scan {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Scan {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).expect("JSON report on stdout")
    }

    fn findings(&self) -> Vec<Value> {
        self.json()["findings"]
            .as_array()
            .cloned()
            .expect("findings array")
    }

    fn only_verification(&self) -> Value {
        let f = self.findings();
        assert_eq!(f.len(), 1, "one finding expected: {}", self.stdout);
        f[0]["verification"].clone()
    }

    /// Neither the secret nor any JWT appears anywhere we print.
    fn assert_no_leak(&self, secrets: &[&str]) {
        for text in [&self.stdout, &self.stderr] {
            for s in secrets {
                assert!(!text.contains(s), "secret leaked in output:\n{text}");
            }
            assert!(!text.contains("eyJ"), "a token leaked in output:\n{text}");
        }
    }
}

/// `cybrid-scan dir DIR --verify` with both environments on the simulator.
fn scan(dir: &Path, sim_url: &str, extra: &[&str]) -> Scan {
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("dir")
        .arg(dir)
        .args(["--verify", "-f", "json"])
        .arg("--endpoint")
        .arg(format!("sandbox={sim_url}/sandbox"))
        .arg("--endpoint")
        .arg(format!("production={sim_url}/production"))
        .args(extra)
        .timeout(Duration::from_secs(120));
    let out = cmd.output().expect("run cybrid-scan");
    Scan {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn live_bank_credential_is_reported_with_its_blast_radius() {
    let sim = simulator();
    let p = pair();
    let stored = sim.add_application(app(&p, "sandbox", AppKind::Bank));
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 3, "live => exit 3; stderr: {}", scan.stderr);
    let v = scan.only_verification();
    assert_eq!(v["status"], "live");
    assert_eq!(v["environment"], "sandbox");
    assert_eq!(v["sub_type"], "bank");
    assert_eq!(v["subject"], stored.guid.as_str());
    assert_eq!(v["organization_guid"], stored.organization_guid.as_str());
    assert_eq!(v["scopes"], serde_json::json!(["banks:read"]));
    let f = &scan.findings()[0];
    assert_eq!(f["revocation"]["client_id"], p.id.as_str());
    assert_eq!(f["revocation"]["environment"], "sandbox");
    assert_eq!(f["revocation"]["application_type"], "bank");
    // The client_id is in full only in the revocation object.
    assert_eq!(scan.stdout.matches(&p.id).count(), 1);
    scan.assert_no_leak(&[&p.secret]);
    // One request, JSON body, least-privilege scope, and nothing else called.
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.token_request_formats.get("json"), Some(&1));
    assert_eq!(stats.token_request_scopes.get("banks:read"), Some(&1));
    assert_eq!(stats.application_requests, 0);

    // The human report shows it first and loudly, still redacted.
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    let out = cmd
        .arg("dir")
        .arg(dir.path())
        .args(["--verify", "--no-color", "--endpoint"])
        .arg(format!("sandbox={}", sim.url()))
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout.starts_with(" 1 LIVE Cybrid credential"), "{stdout}");
    assert!(stdout.contains("LIVE in sandbox (bank credential)"));
    assert!(!stdout.contains(&p.secret) && !stdout.contains(&p.id));
}

#[test]
fn sandbox_then_production_and_organization_credentials() {
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "production", AppKind::Organization));
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), "config.env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 3);
    let v = scan.only_verification();
    assert_eq!(v["status"], "live");
    assert_eq!(v["environment"], "production");
    assert_eq!(v["sub_type"], "organization");
    let f = &scan.findings()[0];
    assert_eq!(f["revocation"]["application_type"], "organization");
    assert_eq!(f["revocation"]["environment"], "production");
    let stats = sim.stats();
    assert_eq!(stats.token_requests_by_environment.get("sandbox"), Some(&1));
    assert_eq!(
        stats.token_requests_by_environment.get("production"),
        Some(&1)
    );
    scan.assert_no_leak(&[&p.secret]);
}

#[test]
fn a_host_near_the_finding_picks_the_environment() {
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "production", AppKind::Bank));
    let dir = TempDir::new().expect("tempdir");
    write_env(
        dir.path(),
        ".env",
        &p,
        "CYBRID_AUTH_URL=https://id.production.cybrid.app",
    );
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.only_verification()["environment"], "production");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 1, "production tried first, only");
    assert_eq!(
        stats.token_requests_by_environment.get("production"),
        Some(&1)
    );
}

#[test]
fn unknown_pair_is_invalid_in_every_environment() {
    let sim = simulator();
    let p = pair();
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 1, "findings but none live");
    let v = scan.only_verification();
    assert_eq!(v["status"], "invalid");
    assert!(scan.findings()[0].get("revocation").is_none());
    assert_eq!(sim.stats().token_requests, 2);
    scan.assert_no_leak(&[&p.secret, &p.id]);
}

#[test]
fn refused_scope_still_means_live() {
    let sim = simulator();
    let p = pair();
    let mut a = app(&p, "sandbox", AppKind::Bank);
    a.scopes = vec!["customers:read".into()];
    sim.add_application(a);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 3);
    let v = scan.only_verification();
    assert_eq!(v["status"], "live");
    assert_eq!(v["reason"], "scope_refused");
    let rev = &scan.findings()[0]["revocation"];
    assert_eq!(rev["client_id"], p.id.as_str());
    assert!(rev.get("application_type").is_none());
    assert_eq!(sim.stats().token_requests, 1);
}

#[test]
fn ip_allowlist_makes_it_unknown_not_invalid() {
    let sim = simulator();
    let p = pair();
    let mut a = app(&p, "sandbox", AppKind::Bank);
    a.ip_allowlist = vec!["203.0.113.7".into()];
    sim.add_application(a);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 1);
    let v = scan.only_verification();
    assert_eq!(v["status"], "unknown");
    assert_eq!(v["reason"], "ip_restricted");
    assert_eq!(v["environment"], "sandbox");
    assert_eq!(
        sim.stats().token_requests,
        1,
        "no retry, no other environment"
    );
}

#[test]
fn rate_limited_then_ok_honours_retry_after() {
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "sandbox", AppKind::Bank));
    let mut f = fault(FaultKind::RateLimit);
    f.times = Some(2);
    f.retry_after = Some(1);
    sim.add_fault(f);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 3, "{}", scan.stderr);
    assert_eq!(scan.only_verification()["status"], "live");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 3);
    assert_eq!(stats.faults_served, 2);
}

#[test]
fn always_500_is_unknown_after_the_retry_budget() {
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "sandbox", AppKind::Bank));
    sim.add_fault(fault(FaultKind::ServerError));
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(scan.status, 1);
    let v = scan.only_verification();
    assert_eq!(v["status"], "unknown");
    assert_eq!(v["reason"], "server_error");
    // 1 attempt + 3 retries in each of the two environments, then stop.
    assert_eq!(sim.stats().token_requests, 8);
}

#[test]
fn resets_and_garbage_are_unknown() {
    let sim = simulator();
    let (a, b) = (pair(), pair());
    sim.add_application(app(&a, "sandbox", AppKind::Bank));
    sim.add_application(app(&b, "sandbox", AppKind::Bank));
    let mut reset = fault(FaultKind::Reset);
    reset.client_id = Some(a.id.clone());
    sim.add_fault(reset);
    let mut garbage = fault(FaultKind::Garbage);
    garbage.client_id = Some(b.id.clone());
    sim.add_fault(garbage);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), "a.env", &a, "");
    write_env(dir.path(), "b.env", &b, "");
    let scan = scan(dir.path(), &sim.url(), &[]);
    let findings = scan.findings();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["location"]["path"], "a.env");
    assert_eq!(findings[0]["verification"]["status"], "unknown");
    assert_eq!(
        findings[0]["verification"]["reason"],
        "network: connection reset"
    );
    assert_eq!(findings[1]["verification"]["status"], "unknown");
    assert_eq!(findings[1]["verification"]["reason"], "unexpected_response");
    scan.assert_no_leak(&[&a.secret, &b.secret]);
}

#[test]
fn redirects_are_not_followed_and_environment_proxies_are_ignored() {
    // The redirect target is a second simulator that must see nothing.
    let target = simulator();
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "sandbox", AppKind::Bank));
    target.add_application(app(&p, "sandbox", AppKind::Bank));
    let mut redirect = fault(FaultKind::Redirect);
    redirect.location = Some(format!("{}/sandbox/oauth/token", target.url()));
    redirect.times = Some(1);
    sim.add_fault(redirect);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let redirected = scan(dir.path(), &sim.url(), &[]);
    assert_eq!(redirected.only_verification()["status"], "unknown");
    assert_eq!(redirected.only_verification()["reason"], "redirect_refused");
    assert_eq!(
        target.stats().requests.len(),
        0,
        "the pair went nowhere else"
    );

    // A dead proxy in the environment is ignored; one given with --proxy is used.
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    let out = cmd
        .arg("dir")
        .arg(dir.path())
        .args(["--verify", "-f", "json", "--endpoint"])
        .arg(format!("sandbox={}", sim.url()))
        .env("HTTP_PROXY", &dead_url)
        .env("http_proxy", &dead_url)
        .env("ALL_PROXY", &dead_url)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "environment proxy ignored");
    let before = sim.stats().token_requests;
    let proxied = scan(dir.path(), &sim.url(), &["--proxy", &dead_url]);
    assert_eq!(proxied.only_verification()["status"], "unknown");
    assert_eq!(
        proxied.only_verification()["reason"],
        "network: connection refused"
    );
    assert_eq!(sim.stats().token_requests, before, "went to the proxy only");
}

#[test]
fn slow_answers_within_the_timeout_count_and_slower_ones_are_unknown() {
    let sim = simulator();
    let (quick, slow) = (pair(), pair());
    sim.add_application(app(&quick, "sandbox", AppKind::Bank));
    sim.add_application(app(&slow, "sandbox", AppKind::Bank));
    let mut f = fault(FaultKind::Slow);
    f.client_id = Some(quick.id.clone());
    f.delay_ms = Some(100);
    sim.add_fault(f);
    let mut f = fault(FaultKind::Slow);
    f.client_id = Some(slow.id.clone());
    f.delay_ms = Some(2_000);
    f.environment = Some("sandbox".into());
    sim.add_fault(f);
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), "a-quick.env", &quick, "");
    write_env(dir.path(), "b-slow.env", &slow, "");
    let scan = scan(dir.path(), &sim.url(), &["--verify-timeout", "0.5"]);
    let findings = scan.findings();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["verification"]["status"], "live");
    assert_eq!(findings[1]["verification"]["status"], "unknown");
    assert_eq!(findings[1]["verification"]["reason"], "timeout");
    let by_client = sim.stats().token_requests_by_client;
    assert_eq!(by_client.get(&quick.id), Some(&1));
    // Four timed-out attempts in sandbox; production then answers 401, which
    // cannot make it invalid since sandbox never answered.
    assert_eq!(by_client.get(&slow.id), Some(&5));
}

#[test]
fn a_hanging_server_cannot_hang_the_scan() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let p = pair();
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(
        dir.path(),
        &url,
        &["--verify-timeout", "0.5", "--verify-deadline", "2"],
    );
    assert_eq!(scan.status, 1, "{}", scan.stderr);
    let v = scan.only_verification();
    assert_eq!(v["status"], "unknown");
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(reason == "timeout" || reason == "deadline", "{reason}");
    assert!(scan.json()["notes"][0]
        .as_str()
        .unwrap_or_default()
        .contains("deadline was reached"));
}

#[test]
fn a_thousand_findings_of_fifty_pairs_make_fifty_requests() {
    let sim = simulator();
    let pairs: Vec<Pair> = (0..50).map(|_| pair()).collect();
    for p in &pairs {
        sim.add_application(app(p, "sandbox", AppKind::Bank));
    }
    let dir = TempDir::new().expect("tempdir");
    let mut body = String::new();
    for p in &pairs {
        body.push_str(&format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n\n",
            p.id, p.secret
        ));
    }
    for i in 0..20 {
        fs::write(dir.path().join(format!("service-{i:02}.env")), &body).expect("write");
    }
    let scan = scan(dir.path(), &sim.url(), &["--verify-rate", "500"]);
    assert_eq!(scan.status, 3, "{}", scan.stderr);
    let findings = scan.findings();
    assert_eq!(findings.len(), 1000);
    let not_live: Vec<&Value> = findings
        .iter()
        .filter(|f| f["verification"]["status"] != "live")
        .collect();
    assert!(not_live.is_empty(), "{:?}", not_live.first());
    assert_eq!(sim.stats().token_requests, 50);
    let secrets: Vec<&str> = pairs.iter().map(|p| p.secret.as_str()).collect();
    scan.assert_no_leak(&secrets);
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_scanning() {
    let p = pair();
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    let out = cmd
        .arg("dir")
        .arg(dir.path())
        .args(["--verify", "--endpoint", "sandbox=http://192.0.2.10:8080"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("plain http is only allowed to a loopback address"));
    assert!(out.stdout.is_empty(), "no report: nothing was scanned");
}

#[test]
fn halves_without_a_partner_are_unverifiable_and_cost_no_request() {
    let sim = simulator();
    let (a, b) = (pair(), pair());
    let dir = TempDir::new().expect("tempdir");
    fs::write(
        dir.path().join("secret.env"),
        format!("CYBRID_CLIENT_SECRET={}\n", a.secret),
    )
    .expect("write");
    fs::write(
        dir.path().join("id.env"),
        format!("CYBRID_CLIENT_ID={}\n", b.id),
    )
    .expect("write");
    let scan = scan(dir.path(), &sim.url(), &[]);
    let findings = scan.findings();
    assert_eq!(findings.len(), 2);
    for f in &findings {
        assert_eq!(f["verification"]["status"], "unverifiable", "{f}");
    }
    assert_eq!(sim.stats().token_requests, 0);
    assert_eq!(scan.status, 1);
}

#[test]
fn show_secrets_shows_the_pair_but_never_the_token() {
    let sim = simulator();
    let p = pair();
    sim.add_application(app(&p, "sandbox", AppKind::Bank));
    let dir = TempDir::new().expect("tempdir");
    write_env(dir.path(), ".env", &p, "");
    let scan = scan(dir.path(), &sim.url(), &["--show-secrets"]);
    assert_eq!(scan.status, 3);
    assert!(scan.stdout.contains(&p.secret));
    scan.assert_no_leak(&[]);
}

/// The simulator binary, its application endpoints, and the other ways a
/// client can send the pair.
#[test]
fn simulator_binary_serves_tokens_and_application_endpoints() {
    let leaked = pair();
    let admin = pair();
    let org = "0123456789abcdef0123456789abcdef";
    let seed = serde_json::json!({"applications": [
        {"client_id": leaked.id, "client_secret": leaked.secret, "type": "bank",
         "organization_guid": org},
        {"client_id": admin.id, "client_secret": admin.secret, "type": "organization",
         "organization_guid": org},
    ]});
    let dir = TempDir::new().expect("tempdir");
    let seed_path = dir.path().join("apps.json");
    fs::write(&seed_path, seed.to_string()).expect("write seed");
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_cybrid-idsim"))
        .args(["--port", "0", "--applications"])
        .arg(&seed_path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cybrid-idsim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read URL");
    let base = line.trim().to_string();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    // Form body and HTTP Basic both authenticate.
    let form = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", leaked.id.as_str()),
            ("client_secret", leaked.secret.as_str()),
            ("scope", "banks:read"),
        ])
        .send()
        .expect("form request");
    assert_eq!(form.status().as_u16(), 200);
    let token_of = |scope: &str| -> String {
        let r = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&admin.id, Some(&admin.secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .expect("basic request");
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().expect("json");
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().expect("token").to_string();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().expect("header"))
                .expect("b64"),
        )
        .expect("header json");
        assert_eq!(header["alg"], "RS512");
        token
    };
    let wrong = http
        .post(format!("{base}/oauth/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials",
            "client_id": leaked.id, "client_secret": admin.secret, "scope": "banks:read"}))
        .send()
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().expect("json");
    assert_eq!(body["error"], "invalid_client");

    let app_url = format!("{base}/api/bank_applications/{}", leaked.id);
    let read_only = token_of("banks:read");
    let r = http
        .delete(&app_url)
        .bearer_auth(&read_only)
        .send()
        .expect("delete");
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().expect("json");
    assert_eq!(body["message_code"], "invalid_scopes");

    let exec = token_of("bank_applications:execute organization_applications:execute");
    // GET needs :read and DELETE :execute (CYBRID.md): neither stands in
    // for the other.
    let r = http.get(&app_url).bearer_auth(&exec).send().expect("get");
    assert_eq!(r.status().as_u16(), 403, "an execute token may not read");
    let body: Value = r.json().expect("json");
    assert_eq!(body["message_code"], "invalid_scopes");
    assert_eq!(
        body["error_message"],
        "Invalid scopes. Required: bank_applications:read"
    );
    let read = token_of("bank_applications:read organization_applications:read");
    let r = http.get(&app_url).bearer_auth(&read).send().expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .get(format!(
            "{base}/api/organization_applications/{}",
            leaked.id
        ))
        .bearer_auth(&read)
        .send()
        .expect("get org");
    assert_eq!(
        r.status().as_u16(),
        404,
        "a bank application, not an org one"
    );
    let r = http
        .delete(&app_url)
        .bearer_auth(&read)
        .send()
        .expect("delete");
    assert_eq!(r.status().as_u16(), 403, "a read token may not delete");
    let r = http
        .delete(&app_url)
        .bearer_auth(&exec)
        .send()
        .expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    let r = http.get(&app_url).bearer_auth(&read).send().expect("get");
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().expect("json");
    assert_eq!(body["message_code"], "not_found");
    let r = http.get(&app_url).send().expect("no token");
    assert_eq!(r.status().as_u16(), 401);

    let stats: Value = http
        .get(format!("{base}/__sim/stats"))
        .send()
        .and_then(|r| r.json())
        .expect("stats");
    assert_eq!(stats["applications_deleted"], 1);
    assert_eq!(stats["token_request_formats"]["basic"], 3);
    let _ = child.kill();
    let _ = child.wait();
}

/// `cybrid-scan dir DIR --verify -f json` with only sandbox, at `base`.
fn scan_sandbox_at(dir: &Path, base: &str, extra: &[&str]) -> Scan {
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.arg("dir")
        .arg(dir)
        .args(["--verify", "-f", "json", "--endpoint"])
        .arg(format!("sandbox={base}"))
        .args(extra)
        .timeout(Duration::from_secs(120));
    let out = cmd.output().expect("run cybrid-scan");
    Scan {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Two pairs in two files; returns them.
fn two_pairs(dir: &Path) -> (Pair, Pair) {
    let (a, b) = (pair(), pair());
    write_env(dir, "a.env", &a, "");
    write_env(dir, "b.env", &b, "");
    (a, b)
}

/// The endpoint line on stderr is there exactly once, in the notes too,
/// and neither it nor anything printed holds a secret or client id.
fn assert_named_once(scan: &Scan, line: &str, pairs: &[&Pair]) {
    assert_eq!(
        scan.stderr.matches(line).count(),
        1,
        "expected once on stderr: {line}\n{}",
        scan.stderr
    );
    let notes = scan.json()["notes"].to_string();
    assert!(notes.contains(line), "{notes}");
    for p in pairs {
        for text in [&scan.stdout, &scan.stderr] {
            assert!(!text.contains(&p.secret) && !text.contains(&p.id));
        }
    }
}

#[test]
fn an_unreachable_endpoint_is_named_once_with_its_cause() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let dir = TempDir::new().expect("tempdir");
    let (a, b) = two_pairs(dir.path());
    let scan = scan_sandbox_at(dir.path(), &format!("http://{addr}"), &[]);
    assert_eq!(scan.status, 1, "{}", scan.stderr);
    for f in scan.findings() {
        assert_eq!(f["verification"]["status"], "unknown");
        assert_eq!(f["verification"]["reason"], "network: connection refused");
    }
    assert_named_once(
        &scan,
        &format!(
            "verify: cannot reach http://{addr}/oauth/token: connection refused (2 credential(s) left unknown)"
        ),
        &[&a, &b],
    );
}

#[test]
fn a_failing_endpoint_is_named_once_per_endpoint_with_its_status() {
    let sim = simulator();
    let dir = TempDir::new().expect("tempdir");
    let (a, b) = two_pairs(dir.path());
    sim.add_application(app(&a, "sandbox", AppKind::Bank));
    sim.add_application(app(&b, "sandbox", AppKind::Bank));
    sim.add_fault(fault(FaultKind::ServerError));
    let url = sim.url();
    let scan = scan(dir.path(), &url, &[]);
    assert_eq!(scan.status, 1, "{}", scan.stderr);
    for env in ["sandbox", "production"] {
        assert_named_once(
            &scan,
            &format!(
                "verify: {url}/{env}/oauth/token kept failing: HTTP 500 (2 credential(s) left unknown)"
            ),
            &[&a, &b],
        );
    }
    assert_eq!(
        scan.stderr.matches("verify: ").count(),
        2,
        "{}",
        scan.stderr
    );
}

#[test]
fn an_endpoint_that_never_answers_is_named_once_as_timed_out() {
    // Accepts connections and holds them open, never answering.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = TempDir::new().expect("tempdir");
    let p = pair();
    write_env(dir.path(), ".env", &p, "");
    let scan = scan_sandbox_at(
        dir.path(),
        &format!("http://{addr}"),
        &["--verify-timeout", "0.3"],
    );
    assert_eq!(scan.status, 1, "{}", scan.stderr);
    assert_eq!(scan.only_verification()["reason"], "timeout");
    assert_named_once(
        &scan,
        &format!(
            "verify: cannot reach http://{addr}/oauth/token: timed out (1 credential(s) left unknown)"
        ),
        &[&p],
    );
}
