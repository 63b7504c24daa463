//! `cybrid-scan sweep --github-org` / `--gitlab-group`, and clone tokens
//! from the environment, against loopback stand-ins only: a GitHub or GitLab
//! REST API (tiny_http on 127.0.0.1) listing repositories over two pages,
//! whose clone URLs point to a loopback smart-HTTP git server (`git
//! http-backend` behind a tiny CGI shim) that demands `Authorization: Basic`
//! with the token. The token must reach the git server and never appear in
//! standard output, standard error, the report or the state directory.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use tempfile::TempDir;

mod common;
use common::{pair, Pair};

const GH_TOKEN: &str = "ghp_orgSweepTokenForTestsOnly0000000000000";
const GL_TOKEN: &str = "glpat-orgSweepTokenForTestsOnly00";
const GENERIC_TOKEN: &str = "genericCloneTokenForTestsOnly000";

fn git(dir: &Path, args: &[&str]) {
    let out = StdCommand::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bare repositories under `root/acme/NAME.git`, each with one leaked pair.
struct Repos {
    dir: TempDir,
    /// (name, pair) in creation order.
    leaks: Vec<(String, Pair)>,
}

fn repos(names: &[&str]) -> Repos {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut leaks = Vec::new();
    for name in names {
        let work = dir.path().join("work").join(name);
        fs::create_dir_all(&work).expect("mkdir");
        git(&work, &["init", "-q"]);
        let p = pair();
        fs::write(
            work.join(".env"),
            format!(
                "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
                p.id, p.secret
            ),
        )
        .expect("write");
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "settings"]);
        let bare = dir.path().join("acme").join(format!("{name}.git"));
        fs::create_dir_all(bare.parent().expect("parent")).expect("mkdir");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &work.to_string_lossy(),
                &bare.to_string_lossy(),
            ],
        );
        leaks.push((name.to_string(), p));
    }
    Repos { dir, leaks }
}

/// A request as a stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    url: String,
    authorization: Option<String>,
    private_token: Option<String>,
    /// Headers `git http-backend` is told about.
    pass: Vec<(String, String)>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(v: Value) -> Self {
        Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }
    fn status(status: u16) -> Self {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"{\"message\":\"Not Found\"}".to_vec(),
        }
    }
    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Seen, &mut dyn Read) -> Answer + Send + Sync;

/// A loopback HTTP server recording every request.
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
                let (handler, log) = (handler.clone(), log.clone());
                thread::spawn(move || {
                    let header = |name: &'static str| {
                        request
                            .headers()
                            .iter()
                            .find(|h| h.field.equiv(name))
                            .map(|h| h.value.as_str().to_string())
                    };
                    let seen = Seen {
                        url: request.url().to_string(),
                        authorization: header("Authorization"),
                        private_token: header("Private-Token"),
                        pass: ["Content-Type", "Content-Encoding", "Git-Protocol"]
                            .iter()
                            .filter_map(|n| header(n).map(|v| (n.to_string(), v)))
                            .collect(),
                    };
                    log.lock().expect("log").push(seen.clone());
                    let mut body = Vec::new();
                    let _ = request.as_reader().read_to_end(&mut body);
                    let answer = handler(&seen, &mut Cursor::new(body));
                    let headers: Vec<tiny_http::Header> = answer
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok()
                        })
                        .collect();
                    let len = answer.body.len();
                    let _ = request.respond(tiny_http::Response::new(
                        tiny_http::StatusCode(answer.status),
                        headers,
                        Cursor::new(answer.body),
                        Some(len),
                        None,
                    ));
                });
            }
        });
        Sim {
            server,
            url: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A smart-HTTP git server over `root`: `git http-backend` as CGI, behind
/// Basic authentication as `user` with `token`.
fn git_server(root: PathBuf, user: &'static str, token: &'static str) -> Sim {
    let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{token}")));
    Sim::start(Arc::new(move |seen: &Seen, body: &mut dyn Read| {
        if seen.authorization.as_deref() != Some(expected.as_str()) {
            return Answer {
                status: 401,
                headers: vec![("WWW-Authenticate".into(), "Basic realm=\"git\"".into())],
                body: b"authentication required\n".to_vec(),
            };
        }
        cgi(&root, seen, body)
    }))
}

/// Run `git http-backend` for one request (RFC 3875, the parts git uses).
fn cgi(root: &Path, seen: &Seen, body: &mut dyn Read) -> Answer {
    let (path, query) = seen.url.split_once('?').unwrap_or((&seen.url, ""));
    let mut input = Vec::new();
    let _ = body.read_to_end(&mut input);
    let mut cmd = StdCommand::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env(
            "REQUEST_METHOD",
            if input.is_empty() { "GET" } else { "POST" },
        )
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", input.len().to_string())
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in &seen.pass {
        let var = match k.as_str() {
            "Content-Type" => "CONTENT_TYPE",
            "Content-Encoding" => "HTTP_CONTENT_ENCODING",
            _ => "GIT_PROTOCOL",
        };
        cmd.env(var, v);
    }
    let mut child = cmd.spawn().expect("git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("http-backend output");
    let _ = writer.join();
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Answer {
            status: 500,
            headers: Vec::new(),
            body: raw,
        };
    };
    let mut answer = Answer {
        status: 200,
        headers: Vec::new(),
        body: raw[end + sep..].to_vec(),
    };
    for line in String::from_utf8_lossy(&raw[..end]).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("Status") {
            answer.status = v
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
        } else {
            answer.headers.push((k.to_string(), v.to_string()));
        }
    }
    answer
}

/// A GitHub REST stand-in: org `acme` lists a, b (archived) on page 1 and
/// c (a fork) on page 2, cloned from `git`.
fn github_api(git: String) -> Sim {
    let api = Arc::new(Mutex::new(String::new()));
    let base = api.clone();
    let sim = Sim::start(Arc::new(move |seen: &Seen, _: &mut dyn Read| {
        if seen.authorization.as_deref() != Some(&format!("Bearer {GH_TOKEN}")) {
            return Answer::status(401);
        }
        let repo = |name: &str, archived: bool, fork: bool| {
            json!({
                "full_name": format!("acme/{name}"),
                "clone_url": format!("{git}/acme/{name}.git"),
                "archived": archived,
                "fork": fork,
            })
        };
        let (path, query) = seen.url.split_once('?').unwrap_or((&seen.url, ""));
        if path != "/orgs/acme/repos" {
            return Answer::status(404);
        }
        if query.contains("page=2") {
            return Answer::json(json!([repo("c", false, true)]));
        }
        let next = format!(
            "<{}/orgs/acme/repos?per_page=100&type=all&page=2>; rel=\"next\"",
            base.lock().expect("base")
        );
        Answer::json(json!([repo("a", false, false), repo("b", true, false)])).header("Link", &next)
    }));
    *api.lock().expect("base") = sim.url.clone();
    sim
}

/// A GitLab REST stand-in: group `acme` (id 7) lists a, b (archived) on
/// page 1 and c (a fork) on page 2.
fn gitlab_api(git: String) -> Sim {
    Sim::start(Arc::new(move |seen: &Seen, _: &mut dyn Read| {
        if seen.private_token.as_deref() != Some(GL_TOKEN) {
            return Answer::status(401);
        }
        let project = |id: u64, name: &str, archived: bool, fork: bool| {
            json!({
                "id": id,
                "path_with_namespace": format!("acme/{name}"),
                "http_url_to_repo": format!("{git}/acme/{name}.git"),
                "archived": archived,
                "forked_from_project": if fork { json!({"id": 99}) } else { Value::Null },
            })
        };
        let (path, query) = seen.url.split_once('?').unwrap_or((&seen.url, ""));
        match path {
            "/api/v4/groups/acme" => Answer::json(json!({"id": 7})),
            "/api/v4/groups/7/projects" if query.contains("page=2") => {
                Answer::json(json!([project(3, "c", false, true)])).header("X-Next-Page", "")
            }
            "/api/v4/groups/7/projects" => Answer::json(json!([
                project(1, "a", false, false),
                project(2, "b", true, false)
            ]))
            .header("X-Next-Page", "2"),
            _ => Answer::status(404),
        }
    }))
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    report: Value,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.timeout(Duration::from_secs(120)).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Out {
        code: out.status.code().unwrap_or(-1),
        report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("cybrid-scan").expect("binary built");
    for var in [
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "CYBRID_SCAN_GIT_TOKEN",
        "CYBRID_SCAN_GIT_HOSTS",
        "CYBRID_SCAN_GIT_USERNAME",
    ] {
        c.env_remove(var);
    }
    // No git configuration of the machine takes part.
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    c
}

fn repositories(report: &Value) -> BTreeSet<String> {
    report["repositories"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["repository"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn secrets(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["secret"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn notes(report: &Value) -> String {
    report["notes"].to_string()
}

/// Every file under `dir`, read as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&fs::read(&p).unwrap_or_default()));
        }
    }
    out
}

fn assert_no_token(out: &Out, token: &str) {
    assert!(!out.stdout.contains(token), "token in the report");
    assert!(!out.stderr.contains(token), "token on stderr");
    let encoded = STANDARD.encode(format!("x:{token}"));
    assert!(!out.stdout.contains(&encoded[4..]) && !out.stderr.contains(&encoded[4..]));
}

fn basic_seen(sim: &Sim, user: &str, token: &str) -> usize {
    let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{token}")));
    sim.seen()
        .iter()
        .filter(|s| s.authorization.as_deref() == Some(expected.as_str()))
        .count()
}

#[test]
fn github_org_lists_two_pages_filters_and_clones_with_the_token() {
    let r = repos(&["a", "b", "c"]);
    let git_srv = git_server(r.dir.path().to_path_buf(), "x-access-token", GH_TOKEN);
    let api = github_api(git_srv.url.clone());
    let state = tempfile::tempdir().expect("state");
    let sweep = |extra: &[&str]| {
        run(bin()
            .env("GITHUB_TOKEN", GH_TOKEN)
            .args(["sweep", "--github-org", "acme", "--api-url", &api.url])
            .args(["-f", "json", "--show-secrets"])
            .args(extra))
    };

    // Default: archived and forks are left out, and the note says so.
    let out = sweep(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let key = |n: &str| format!("{}/acme/{n}", git_srv.url);
    assert_eq!(repositories(&out.report), BTreeSet::from([key("a")]));
    assert_eq!(
        secrets(&out.report),
        BTreeSet::from([r.leaks[0].1.secret.clone()])
    );
    let n = notes(&out.report);
    assert!(
        n.contains("3 repositories listed, 1 to sweep")
            && n.contains("skipped 1 archived")
            && n.contains("1 fork(s)"),
        "{n}"
    );
    // Both pages were read, with the token; the git server got Basic auth.
    let pages: Vec<String> = api.seen().iter().map(|s| s.url.clone()).collect();
    assert!(pages.iter().any(|u| u.contains("page=2")), "{pages:?}");
    assert!(basic_seen(&git_srv, "x-access-token", GH_TOKEN) > 0);
    assert_no_token(&out, GH_TOKEN);

    // Everything, with a state directory; then resumed from it.
    let state_arg = state.path().to_string_lossy().into_owned();
    let all = [
        "--include-archived",
        "--include-forks",
        "--state",
        &state_arg,
    ];
    let out = sweep(&all);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        repositories(&out.report),
        BTreeSet::from([key("a"), key("b"), key("c")])
    );
    let planted: BTreeSet<String> = r.leaks.iter().map(|(_, p)| p.secret.clone()).collect();
    assert_eq!(secrets(&out.report), planted);
    assert_no_token(&out, GH_TOKEN);
    let again = sweep(&all);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(secrets(&again.report), planted);
    assert!(
        again
            .stderr
            .contains("3 repositories finished in an earlier run"),
        "{}",
        again.stderr
    );
    let stored = all_text(state.path());
    assert!(
        !stored.is_empty() && !stored.contains(GH_TOKEN),
        "token in the state"
    );

    // Sharded: the two shards cover the organisation once.
    let mut covered = Vec::new();
    for s in ["0/2", "1/2"] {
        let out = sweep(&["--include-archived", "--include-forks", "--shard", s]);
        covered.extend(repositories(&out.report));
    }
    covered.sort();
    assert_eq!(covered, [key("a"), key("b"), key("c")]);
}

#[test]
fn a_refused_token_fails_the_repository_without_showing_it() {
    let r = repos(&["a"]);
    // The git server wants another token than the API's.
    let git_srv = git_server(r.dir.path().to_path_buf(), "x-access-token", "other");
    let api = github_api(git_srv.url.clone());
    let out = run(bin()
        .env("GITHUB_TOKEN", GH_TOKEN)
        .args(["sweep", "--github-org", "acme", "--api-url", &api.url])
        .args(["-f", "json"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let errors = out.report["errors"].to_string();
    assert!(
        errors.contains("refused the token from GITHUB_TOKEN"),
        "{errors}"
    );
    assert_no_token(&out, GH_TOKEN);
}

#[test]
fn gitlab_group_pages_with_x_next_page_and_clones_as_oauth2() {
    let r = repos(&["a", "b", "c"]);
    let git_srv = git_server(r.dir.path().to_path_buf(), "oauth2", GL_TOKEN);
    let api = gitlab_api(git_srv.url.clone());
    let out = run(bin()
        .env("GITLAB_TOKEN", GL_TOKEN)
        .args(["sweep", "--gitlab-group", "acme", "--api-url", &api.url])
        .args(["-f", "json", "--show-secrets", "--include-forks"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let key = |n: &str| format!("{}/acme/{n}", git_srv.url);
    assert_eq!(
        repositories(&out.report),
        BTreeSet::from([key("a"), key("c")])
    );
    assert_eq!(
        secrets(&out.report),
        BTreeSet::from([r.leaks[0].1.secret.clone(), r.leaks[2].1.secret.clone()])
    );
    let n = notes(&out.report);
    assert!(
        n.contains("3 repositories listed, 2 to sweep") && n.contains("skipped 1 archived"),
        "{n}"
    );
    let seen = api.seen();
    assert!(seen.iter().any(|s| s.url.contains("page=2")));
    assert!(basic_seen(&git_srv, "oauth2", GL_TOKEN) > 0);
    assert_no_token(&out, GL_TOKEN);
}

#[test]
fn one_source_only_and_filters_need_an_org() {
    for args in [
        vec!["sweep"],
        vec!["sweep", "--manifest", "m", "--github-org", "acme"],
        vec!["sweep", "--github-org", "a", "--gitlab-group", "b"],
        vec!["sweep", "--manifest", "m", "--include-forks"],
        vec![
            "sweep",
            "--manifest",
            "m",
            "--api-url",
            "http://127.0.0.1:9",
        ],
    ] {
        let out = run(bin().args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    // Plain http to a non-loopback API is refused before any request.
    let out = run(bin().env("GITHUB_TOKEN", GH_TOKEN).args([
        "sweep",
        "--github-org",
        "acme",
        "--api-url",
        "http://example.com",
    ]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
    assert_no_token(&out, GH_TOKEN);
}

/// The Kubernetes Jobs' way: a manifest sweep (and `git URL`) clones with
/// CYBRID_SCAN_GIT_TOKEN for the hosts in CYBRID_SCAN_GIT_HOSTS, no `git`
/// binary or credential helper involved.
#[test]
fn manifest_and_git_clone_with_the_generic_token_for_listed_hosts_only() {
    let r = repos(&["a"]);
    let git_srv = git_server(r.dir.path().to_path_buf(), "oauth2", GENERIC_TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("manifest.txt");
    let url = format!("{}/acme/a.git", git_srv.url);
    fs::write(&manifest, format!("{url}\n")).expect("manifest");
    let manifest = manifest.to_string_lossy().into_owned();
    let sweep = |hosts: Option<&str>| {
        let mut c = bin();
        c.env("CYBRID_SCAN_GIT_TOKEN", GENERIC_TOKEN)
            .env("CYBRID_SCAN_GIT_USERNAME", "oauth2");
        if let Some(h) = hosts {
            c.env("CYBRID_SCAN_GIT_HOSTS", h);
        }
        run(c
            .args(["sweep", "--manifest", &manifest])
            .args(["-f", "json", "--show-secrets"]))
    };
    let out = sweep(Some("example.com, 127.0.0.1"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        secrets(&out.report),
        BTreeSet::from([r.leaks[0].1.secret.clone()])
    );
    assert!(basic_seen(&git_srv, "oauth2", GENERIC_TOKEN) > 0);
    assert_no_token(&out, GENERIC_TOKEN);

    // Not for a host it was not given to: the server's 401 fails the clone.
    let before = git_srv.seen().len();
    let out = sweep(Some("git.example.com"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(git_srv.seen()[before..]
        .iter()
        .all(|s| s.authorization.is_none()));
    assert_no_token(&out, GENERIC_TOKEN);
    // Without hosts, it is sent nowhere, and a note says so.
    let out = sweep(None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("CYBRID_SCAN_GIT_HOSTS names no host"),
        "{}",
        out.stderr
    );

    // `git URL` clones the same way.
    let out = run(bin()
        .env("CYBRID_SCAN_GIT_TOKEN", GENERIC_TOKEN)
        .env("CYBRID_SCAN_GIT_HOSTS", "127.0.0.1")
        .env("CYBRID_SCAN_GIT_USERNAME", "oauth2")
        .args(["git", &url, "-f", "json", "--show-secrets"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        secrets(&out.report),
        BTreeSet::from([r.leaks[0].1.secret.clone()])
    );
    assert_no_token(&out, GENERIC_TOKEN);
}
