//! `cybrid-scan ci github|gitlab` against local simulators of the two APIs
//! (tiny_http on 127.0.0.1 only): real zips and traces with planted,
//! generated credentials; Link and X-Next-Page pagination; the log archive
//! behind a redirect to a separate "download host" that records whether a
//! token reached it; rate-limit answers; 410s; a corrupt zip; an HTML error
//! page; a zip bomb; recorded DELETE / erase calls; resume after a kill.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use serde_json::{json, Value};

const GH_TOKEN: &str = "ghp_simulatedTokenForTestsOnly000000000000";
const GL_TOKEN: &str = "glpat-simulatedTokenForTestsOnly00";

/// One request as a simulator saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    /// When the request reached the simulator.
    at: Instant,
    /// The same, on the wall clock (rate-limit resets are epoch seconds).
    wall: SystemTime,
}

impl Seen {
    fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
    fn query(&self, key: &str) -> Option<String> {
        let q = self.url.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| v.to_string())
        })
    }
}

/// An answer a simulator gives.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    /// Send the body 4 KiB at a time, pausing this long before each piece
    /// (a slow network).
    trickle: Option<Duration>,
}

/// A body read 4 KiB at a time, slowly.
struct Trickle {
    body: Cursor<Vec<u8>>,
    pause: Duration,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        thread::sleep(self.pause);
        let n = buf.len().min(4096);
        self.body.read(&mut buf[..n])
    }
}

impl Answer {
    fn json(status: u16, v: Value) -> Self {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
            delay: Duration::ZERO,
            trickle: None,
        }
    }
    fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Answer {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            delay: Duration::ZERO,
            trickle: None,
        }
    }
    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

/// A loopback HTTP server that records every request and answers with `handler`.
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
            for request in s.incoming_requests() {
                let (handler, log) = (handler.clone(), log.clone());
                thread::spawn(move || {
                    let seen = Seen {
                        at: Instant::now(),
                        wall: SystemTime::now(),
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
                    };
                    log.lock().expect("log").push(seen.clone());
                    let answer = handler(&seen);
                    thread::sleep(answer.delay);
                    let headers: Vec<tiny_http::Header> = answer
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes())
                                .expect("header")
                        })
                        .collect();
                    let status = tiny_http::StatusCode(answer.status);
                    let len = answer.body.len();
                    let _ = match answer.trickle {
                        None => request.respond(tiny_http::Response::new(
                            status,
                            headers,
                            Cursor::new(answer.body),
                            Some(len),
                            None,
                        )),
                        Some(pause) => request.respond(tiny_http::Response::new(
                            status,
                            headers,
                            Trickle {
                                body: Cursor::new(answer.body),
                                pause,
                            },
                            Some(len),
                            None,
                        )),
                    };
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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A GitHub step log (timestamps, ANSI colours) with an `env` dump leaking
/// `pair` at a known line.
fn step_log(pair: &common::Pair) -> (Vec<u8>, u64) {
    let mut log = String::new();
    log.push_str("2024-05-01T10:00:05.1000000Z ##[group]Run env | sort\n");
    log.push_str("2024-05-01T10:00:05.1000000Z \x1b[36;1menv | sort\x1b[0m\n");
    log.push_str("2024-05-01T10:00:05.1000000Z ##[endgroup]\n");
    log.push_str("2024-05-01T10:00:05.2000000Z CI=true\n");
    log.push_str(&format!(
        "2024-05-01T10:00:05.2000000Z CYBRID_CLIENT_ID={}\n",
        pair.id
    ));
    log.push_str(&format!(
        "2024-05-01T10:00:05.2000000Z CYBRID_CLIENT_SECRET={}\n",
        pair.secret
    ));
    log.push_str("2024-05-01T10:00:05.2000000Z HOME=/home/runner\n");
    (log.into_bytes(), 6)
}

/// A binary file (NUL bytes around it) with `pair` in it.
fn binary_with(pair: &common::Pair) -> Vec<u8> {
    let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
    b.extend_from_slice(&[0u8; 300]);
    b.extend_from_slice(
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            pair.id, pair.secret
        )
        .as_bytes(),
    );
    b.extend_from_slice(&[0u8, 1, 2, 3, 0xff, 0xfe, 0]);
    b
}

/// A run's log archive as GitHub builds it: per-job directories of
/// per-step files, plus each job's whole log at the top level.
fn run_zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(*name, opts).expect("entry");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// What the GitHub simulator serves for one run.
#[derive(Clone)]
enum Logs {
    Zip(Vec<u8>),
    Gone,
    Corrupt,
}

#[derive(Clone)]
struct GhRun {
    repo: &'static str,
    id: u64,
    status: &'static str,
    created: &'static str,
    logs: Logs,
}

/// The GitHub simulator's world, and its faults.
struct GitHubWorld {
    runs: Vec<GhRun>,
    /// Runs whose logs were deleted through the API.
    deleted: Mutex<Vec<u64>>,
    /// The first org listing answers 403 with Retry-After (a secondary limit).
    secondary_limit: AtomicBool,
    /// The first jobs listing answers 502.
    bad_gateway: AtomicBool,
    /// Log downloads of this run stall (to kill the scan mid-sweep).
    stall: Mutex<Option<u64>>,
    downloads: Mutex<BTreeMap<u64, u32>>,
    /// Workflow artifacts: (run, artifact id, name, expired, zip).
    artifacts: Vec<(u64, u64, &'static str, bool, Logs)>,
}

const PAGE: usize = 2;

fn github_handler(world: Arc<GitHubWorld>, api: String, download: String) -> Arc<Handler> {
    Arc::new(move |r: &Seen| {
        if r.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {GH_TOKEN}"))
        {
            return Answer::json(401, json!({"message": "Bad credentials"}));
        }
        let parts: Vec<&str> = r.path().trim_start_matches('/').split('/').collect();
        let page: usize = r.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let paged = |items: Vec<Value>, wrap: &dyn Fn(Vec<Value>) -> Value| {
            let total = items.len();
            let from = (page - 1) * PAGE;
            let slice: Vec<Value> = items.into_iter().skip(from).take(PAGE).collect();
            let mut a = Answer::json(200, wrap(slice));
            if from + PAGE < total {
                let base = format!("{api}{}", r.path());
                a = a.header(
                    "Link",
                    &format!(
                        "<{base}?per_page=100&page={}>; rel=\"next\", <{base}?per_page=100&page=99>; rel=\"last\"",
                        page + 1
                    ),
                );
            }
            a
        };
        match (r.method.as_str(), parts.as_slice()) {
            ("GET", ["orgs", "acme", "repos"]) => {
                if world.secondary_limit.swap(false, Ordering::SeqCst) {
                    return Answer::json(
                        403,
                        json!({"message": "You have exceeded a secondary rate limit."}),
                    )
                    .header("Retry-After", "1");
                }
                let repos = ["acme/app", "acme/infra", "acme/locked", "acme/broken"];
                paged(
                    repos.iter().map(|n| json!({"full_name": n})).collect(),
                    &|v| Value::Array(v),
                )
            }
            ("GET", ["repos", o, n])
                if ["app", "infra", "locked", "broken"].contains(n) && *o == "acme" =>
            {
                Answer::json(200, json!({"full_name": format!("{o}/{n}")}))
            }
            ("GET", ["orgs", _, "repos"]) => Answer::json(404, json!({"message": "Not Found"})),
            ("GET", ["repos", "acme", "locked", "actions", "runs"]) => Answer::json(
                403,
                json!({"message": "Resource not accessible by personal access token"}),
            ),
            ("GET", ["repos", "acme", "broken", "actions", "runs"]) => Answer::bytes(
                200,
                "text/html",
                b"<html><body>Unicorn! This page is taking too long to load.</body></html>"
                    .to_vec(),
            ),
            ("GET", ["repos", o, n, "actions", "runs"]) => {
                let name = format!("{o}/{n}");
                let runs: Vec<Value> = world
                    .runs
                    .iter()
                    .filter(|run| run.repo == name)
                    .map(|run| {
                        json!({"id": run.id, "status": run.status, "created_at": run.created,
                               "html_url": format!("https://github.example/{name}/actions/runs/{}", run.id)})
                    })
                    .collect();
                paged(runs, &|v| json!({"total_count": 99, "workflow_runs": v}))
            }
            ("GET", ["repos", o, n, "actions", "runs", id, "jobs"]) => {
                if world.bad_gateway.swap(false, Ordering::SeqCst) {
                    return Answer::bytes(502, "text/html", b"<html>Bad Gateway</html>".to_vec());
                }
                json_jobs(o, n, id)
            }
            ("GET", ["repos", _, _, "actions", "runs", id, "logs"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let Some(run) = world.runs.iter().find(|run| run.id == id) else {
                    return Answer::json(404, json!({"message": "Not Found"}));
                };
                if world.deleted.lock().expect("deleted").contains(&id)
                    || matches!(run.logs, Logs::Gone)
                {
                    return Answer::json(410, json!({"message": "Logs have expired"}));
                }
                Answer::bytes(302, "text/plain", Vec::new()).header(
                    "Location",
                    &format!("{download}/blob/{id}.zip?sig=presigned-signature-xyz&se=2030"),
                )
            }
            ("GET", ["repos", _, _, "actions", "runs", id, "artifacts"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let listed: Vec<Value> = world
                    .artifacts
                    .iter()
                    .filter(|a| a.0 == id)
                    .map(|(_, aid, name, expired, _)| {
                        json!({"id": aid, "name": name, "expired": expired, "size_in_bytes": 1000,
                               "archive_download_url": format!("{api}/repos/x/y/actions/artifacts/{aid}/zip"),
                               "workflow_run": {"id": id}})
                    })
                    .collect();
                paged(listed, &|v| json!({"total_count": 3, "artifacts": v}))
            }
            ("GET", ["repos", _, _, "actions", "artifacts", aid, "zip"]) => {
                let aid: u64 = aid.parse().unwrap_or(0);
                match world.artifacts.iter().find(|a| a.1 == aid) {
                    Some((_, _, _, false, _)) => Answer::bytes(302, "text/plain", Vec::new())
                        .header(
                            "Location",
                            &format!(
                                "{download}/artifact/{aid}.zip?sig=presigned-signature-xyz&se=2030"
                            ),
                        ),
                    Some(_) => Answer::json(410, json!({"message": "Artifact has expired"})),
                    None => Answer::json(404, json!({"message": "Not Found"})),
                }
            }
            ("DELETE", ["repos", _, _, "actions", "runs", id, "logs"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let mut deleted = world.deleted.lock().expect("deleted");
                if deleted.contains(&id) {
                    return Answer::json(404, json!({"message": "Not Found"}));
                }
                deleted.push(id);
                Answer::bytes(204, "text/plain", Vec::new())
            }
            _ => Answer::json(404, json!({"message": "Not Found"})),
        }
    })
}

fn json_jobs(o: &str, n: &str, id: &str) -> Answer {
    Answer::json(
        200,
        json!({"total_count": 2, "jobs": [
            {"id": 9000 + id.parse::<u64>().unwrap_or(0), "name": "build",
             "html_url": format!("https://github.example/{o}/{n}/actions/runs/{id}/job/{}", 9000 + id.parse::<u64>().unwrap_or(0))},
            {"id": 8000 + id.parse::<u64>().unwrap_or(0), "name": "deploy (prod)",
             "html_url": format!("https://github.example/{o}/{n}/actions/runs/{id}/job/{}", 8000 + id.parse::<u64>().unwrap_or(0))}
        ]}),
    )
}

fn download_handler(world: Arc<GitHubWorld>) -> Arc<Handler> {
    Arc::new(move |r: &Seen| {
        if let Some(aid) = r.path().strip_prefix("/artifact/") {
            let aid: u64 = aid.trim_end_matches(".zip").parse().unwrap_or(0);
            if r.query("sig").as_deref() != Some("presigned-signature-xyz") {
                return Answer::bytes(
                    403,
                    "application/xml",
                    b"<Error>AuthenticationFailed</Error>".to_vec(),
                );
            }
            return match world.artifacts.iter().find(|a| a.1 == aid).map(|a| &a.4) {
                Some(Logs::Zip(z)) => Answer::bytes(200, "application/zip", z.clone()),
                Some(Logs::Corrupt) => {
                    let mut z = run_zip(&[("report.txt", vec![b'x'; 5000])]);
                    z.truncate(z.len() / 2);
                    Answer::bytes(200, "application/zip", z)
                }
                _ => Answer::bytes(
                    404,
                    "application/xml",
                    b"<Error>BlobNotFound</Error>".to_vec(),
                ),
            };
        }
        let id: u64 = r
            .path()
            .trim_start_matches("/blob/")
            .trim_end_matches(".zip")
            .parse()
            .unwrap_or(0);
        if r.query("sig").as_deref() != Some("presigned-signature-xyz") {
            return Answer::bytes(
                403,
                "application/xml",
                b"<Error>AuthenticationFailed</Error>".to_vec(),
            );
        }
        *world
            .downloads
            .lock()
            .expect("downloads")
            .entry(id)
            .or_default() += 1;
        let stall = *world.stall.lock().expect("stall") == Some(id);
        let run = world.runs.iter().find(|run| run.id == id);
        let mut a = match run.map(|r| &r.logs) {
            Some(Logs::Zip(z)) => Answer::bytes(200, "application/zip", z.clone()),
            Some(Logs::Corrupt) => {
                let mut z = run_zip(&[("build/1_Set up job.txt", vec![b'x'; 5000])]);
                z.truncate(z.len() / 2);
                Answer::bytes(200, "application/zip", z)
            }
            _ => Answer::bytes(
                404,
                "application/xml",
                b"<Error>BlobNotFound</Error>".to_vec(),
            ),
        };
        if stall {
            a.delay = Duration::from_secs(60);
        }
        a
    })
}

struct GitHubSims {
    api: Sim,
    download: Sim,
    world: Arc<GitHubWorld>,
    leaks: Vec<(u64, common::Pair, u64)>,
    /// Run 102's artifact `test-results`: the pair in its text file, the one in its binary.
    artifact_leaks: (common::Pair, common::Pair),
}

/// acme/app: run 103 in progress, 102 leaks in `build` step 3, 101 expired
/// (410); acme/infra: 201 leaks in `deploy (prod)` (only a top-level job
/// log), 202 a corrupt zip, 203 clean; acme/locked: 403; acme/broken: HTML.
fn github_sims() -> GitHubSims {
    github_sims_with(|h| h)
}

/// [`github_sims`] with the API's handler wrapped by `wrap` (to add faults
/// in front of it: rate limits, slow answers).
fn github_sims_with(wrap: impl FnOnce(Arc<Handler>) -> Arc<Handler>) -> GitHubSims {
    let (p1, p2) = (common::pair(), common::pair());
    let (log1, line1) = step_log(&p1);
    let (log2, line2) = step_log(&p2);
    let mut whole1 = b"2024-05-01T10:00:00.0000000Z Set up job\n".to_vec();
    whole1.extend_from_slice(&log1);
    let zip102 = run_zip(&[
        ("0_build.txt", whole1),
        (
            "build/1_Set up job.txt",
            b"2024-05-01T10:00:00.0000000Z Set up job\n".to_vec(),
        ),
        ("build/3_Run env.txt", log1),
    ]);
    let zip201 = run_zip(&[("1_deploy _prod_.txt", log2)]);
    let zip203 = run_zip(&[(
        "build/1_Build.txt",
        b"2024-05-01T10:00:00.0000000Z cargo build\n".to_vec(),
    )]);
    let runs = vec![
        GhRun {
            repo: "acme/app",
            id: 103,
            status: "in_progress",
            created: "2024-05-03T10:00:00Z",
            logs: Logs::Gone,
        },
        GhRun {
            repo: "acme/app",
            id: 102,
            status: "completed",
            created: "2024-05-02T10:00:00Z",
            logs: Logs::Zip(zip102),
        },
        GhRun {
            repo: "acme/app",
            id: 101,
            status: "completed",
            created: "2024-05-01T10:00:00Z",
            logs: Logs::Gone,
        },
        GhRun {
            repo: "acme/infra",
            id: 203,
            status: "completed",
            created: "2024-05-03T10:00:00Z",
            logs: Logs::Zip(zip203),
        },
        GhRun {
            repo: "acme/infra",
            id: 202,
            status: "completed",
            created: "2024-05-02T10:00:00Z",
            logs: Logs::Corrupt,
        },
        GhRun {
            repo: "acme/infra",
            id: 201,
            status: "completed",
            created: "2024-04-01T10:00:00Z",
            logs: Logs::Zip(zip201),
        },
    ];
    // Run 102's artifacts (fetched only with --artifacts), two per listing
    // page: a corrupt zip, an expired one, and one with a text file and a
    // binary each leaking a pair.
    let (p3, p4) = (common::pair(), common::pair());
    let (text3, _) = step_log(&p3);
    let artifact = run_zip(&[
        ("reports/env.txt", text3),
        ("bin/app.bin", binary_with(&p4)),
    ]);
    let world = Arc::new(GitHubWorld {
        runs,
        deleted: Mutex::new(Vec::new()),
        secondary_limit: AtomicBool::new(true),
        bad_gateway: AtomicBool::new(true),
        stall: Mutex::new(None),
        downloads: Mutex::new(BTreeMap::new()),
        artifacts: vec![
            (102, 5003, "coverage", false, Logs::Corrupt),
            (102, 5002, "old-build", true, Logs::Gone),
            (102, 5001, "test-results", false, Logs::Zip(artifact)),
        ],
    });
    let download = Sim::start(download_handler(world.clone()));
    // The API's URL is known only once it listens: hand it over through a cell.
    let api_url = Arc::new(Mutex::new(String::new()));
    let (cell, w, d) = (api_url.clone(), world.clone(), download.url.clone());
    let api = Sim::start(wrap(Arc::new(move |r: &Seen| {
        let api = cell.lock().expect("url").clone();
        github_handler(w.clone(), api, d.clone())(r)
    })));
    *api_url.lock().expect("url") = api.url.clone();
    GitHubSims {
        api,
        download,
        world,
        leaks: vec![(102, p1, line1), (201, p2, line2)],
        artifact_leaks: (p3, p4),
    }
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("cybrid-scan").expect("binary built");
    c.env_remove("GITHUB_TOKEN").env_remove("GITLAB_TOKEN");
    c
}

struct Out {
    code: i32,
    report: Value,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Out {
        code: out.status.code().unwrap_or(-1),
        report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn github(s: &GitHubSims, extra: &[&str]) -> Command {
    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN)
        .args([
            "ci",
            "github",
            "acme",
            "--api-url",
            &s.api.url,
            "-f",
            "json",
            "--quiet",
        ])
        .args(extra);
    c
}

fn paths(v: &Value, key: &str) -> Vec<(String, String)> {
    v[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").to_string(),
                e["message"]
                    .as_str()
                    .or(e["reason"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn assert_no_secret(out: &Out, pairs: &[&common::Pair]) {
    for p in pairs {
        for s in [&p.id, &p.secret] {
            assert!(!out.stdout.contains(s.as_str()), "secret in the report");
            assert!(!out.stderr.contains(s.as_str()), "secret on stderr");
        }
    }
    for t in [GH_TOKEN, GL_TOKEN, "presigned-signature-xyz"] {
        assert!(
            !out.stdout.contains(t) && !out.stderr.contains(t),
            "token or signature printed"
        );
    }
}

#[test]
fn github_org_end_to_end() {
    let s = github_sims();
    let out = run(&mut github(&s, &[]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let findings = out.report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{}", out.report);

    // Run 102: found in the step file (not again in the job's whole log), at its line, with a link to it.
    let (_, p1, line1) = &s.leaks[0];
    let f = &findings[0];
    let l = &f["location"];
    assert_eq!(l["source"], "ci");
    assert_eq!(l["repository"], "acme/app");
    assert_eq!(l["run"], "102");
    assert_eq!(l["job"], "build");
    assert_eq!(l["step"], "3_Run env");
    assert_eq!(l["entry"], "build/3_Run env.txt");
    assert_eq!(l["path"], "acme/app/actions/runs/102");
    assert_eq!(l["line"], *line1);
    assert_eq!(
        l["url"],
        format!("https://github.example/acme/app/actions/runs/102/job/9102#step:3:{line1}")
    );
    assert_eq!(f["rule_id"], "cybrid-client-secret");
    assert_ne!(f["secret"], p1.secret.as_str(), "redacted by default");

    // Run 201 (older): a top-level job log only; its job found by its folded name.
    let l = &findings[1]["location"];
    assert_eq!(l["repository"], "acme/infra");
    assert_eq!(l["run"], "201");
    assert_eq!(l["job"], "deploy (prod)");
    assert!(l.get("step").is_none());
    assert_eq!(
        l["url"],
        "https://github.example/acme/infra/actions/runs/201/job/8201"
    );

    // Faults: each listed with its reason; the sweep went on.
    let skipped = paths(&out.report, "skipped");
    assert!(
        skipped
            .iter()
            .any(|(p, r)| p == "acme/app/actions/runs/103" && r.contains("not finished")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(p, r)| p == "acme/app/actions/runs/101" && r.contains("410")),
        "{skipped:?}"
    );
    let errors = paths(&out.report, "errors");
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "acme/infra/actions/runs/202" && m.contains("zip")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "acme/locked" && m.contains("403")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "acme/broken" && m.contains("not JSON")),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 3, "{errors:?}");

    // The token reached the API on every request and never the download host.
    let api = s.api.seen();
    assert!(api.iter().all(|r| r.headers.contains_key("authorization")));
    let downloads = s.download.seen();
    assert!(!downloads.is_empty());
    assert!(
        downloads
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "token sent to the download host"
    );
    // Link pagination followed (2 repos/runs per page), the secondary limit
    // waited out, the 502 retried.
    assert!(api
        .iter()
        .any(|r| r.path() == "/orgs/acme/repos" && r.query("page").as_deref() == Some("2")));
    assert!(api
        .iter()
        .any(|r| r.path() == "/repos/acme/app/actions/runs"
            && r.query("page").as_deref() == Some("2")));
    assert_eq!(
        api.iter()
            .filter(|r| r.path() == "/orgs/acme/repos" && r.query("page").is_none())
            .count(),
        2
    );
    assert_no_secret(&out, &[p1, &s.leaks[1].1]);
}

#[test]
fn github_since_max_runs_one_repo_and_human_report() {
    let s = github_sims();
    s.world.secondary_limit.store(false, Ordering::SeqCst);
    let out = run(&mut github(&s, &["--since", "2024-04-15"]));
    let runs: Vec<&str> = out.report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["location"]["run"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(runs, ["102"], "run 201 is older than --since");
    assert!(!s.world.downloads.lock().expect("d").contains_key(&201));
    s.world.downloads.lock().expect("d").clear();

    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme/infra",
        "--api-url",
        &s.api.url,
        "--max-runs",
        "1",
        "--no-color",
        "--quiet",
    ]);
    let out = run(&mut c);
    assert_eq!(out.code, 0, "only run 203 (clean) is taken: {}", out.stdout);
    assert_eq!(
        *s.world.downloads.lock().expect("d"),
        BTreeMap::from([(203, 1)])
    );

    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme/app",
        "--api-url",
        &s.api.url,
        "--no-color",
        "--quiet",
    ]);
    let out = run(&mut c);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("acme/app/actions/runs/102!build/3_Run env.txt"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("#step:3:6"), "{}", out.stdout);
    assert_no_secret(&out, &[&s.leaks[0].1]);
}

#[test]
fn github_refusals() {
    // No token for a non-loopback plain http URL; a bad --since; a token never from flags.
    let out = run(bin().env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme",
        "--api-url",
        "http://example.com",
    ]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
    let out = run(bin().args(["ci", "github", "acme", "--since", "last week"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--since"), "{}", out.stderr);
    let out = run(bin().args(["ci", "github", "acme", "--token", "x"]));
    assert_eq!(out.code, 2);
    let out = run(bin().args(["ci", "github", "acme", "--delete-leaking-logs"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
}

#[test]
fn github_zip_bomb_is_bounded_and_reported() {
    let pair = common::pair();
    let (log, _) = step_log(&pair);
    let zip = run_zip(&[
        ("build/1_Leak.txt", log),
        ("build/2_Bomb.txt", vec![b'\n'; 8 << 20]),
    ]);
    assert!(zip.len() < 200_000, "compresses like a bomb: {}", zip.len());
    let world = Arc::new(GitHubWorld {
        runs: vec![GhRun {
            repo: "acme/app",
            id: 7,
            status: "completed",
            created: "2024-05-01T10:00:00Z",
            logs: Logs::Zip(zip),
        }],
        deleted: Mutex::new(Vec::new()),
        secondary_limit: AtomicBool::new(false),
        bad_gateway: AtomicBool::new(false),
        stall: Mutex::new(None),
        downloads: Mutex::new(BTreeMap::new()),
        artifacts: Vec::new(),
    });
    let download = Sim::start(download_handler(world.clone()));
    let cell = Arc::new(Mutex::new(String::new()));
    let (c2, w, d) = (cell.clone(), world.clone(), download.url.clone());
    let api = Sim::start(Arc::new(move |r: &Seen| {
        github_handler(w.clone(), c2.lock().expect("u").clone(), d.clone())(r)
    }));
    *cell.lock().expect("u") = api.url.clone();
    let out = run(bin().env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme/app",
        "--api-url",
        &api.url,
        "-f",
        "json",
        "--quiet",
        "--max-decompressed-size",
        "1M",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.report["findings"].as_array().expect("f").len(), 1);
    let errors = paths(&out.report, "errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].0.ends_with("!build/2_Bomb.txt") && errors[0].1.contains("stopped after 1048576"),
        "{errors:?}"
    );
}

#[test]
fn delete_leaking_logs_plan_dry_run_audit_and_idempotent_rerun() {
    let s = github_sims();
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.to_str().expect("utf-8");
    let state = dir.path().join("state");
    let state_s = state.to_str().expect("utf-8");
    let deletes = |sim: &Sim| {
        sim.seen()
            .iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| r.path().to_string())
            .collect::<Vec<_>>()
    };

    // Dry run: the plan, logged; nothing deleted.
    let out = run(&mut github(
        &s,
        &["--delete-leaking-logs", "--dry-run", "--audit-log", audit_s],
    ));
    assert_eq!(out.code, 1);
    assert!(deletes(&s.api).is_empty());
    // A dry run writes no audit log: the plan is on stderr.
    assert!(!audit.exists(), "the dry run wrote the audit log");
    assert!(!out.stderr.contains("audit log"), "{}", out.stderr);

    // For real, with --yes: only the two runs with findings.
    let out = run(&mut github(
        &s,
        &[
            "--delete-leaking-logs",
            "--yes",
            "--audit-log",
            audit_s,
            "--state",
            state_s,
        ],
    ));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        deletes(&s.api),
        [
            "/repos/acme/app/actions/runs/102/logs",
            "/repos/acme/infra/actions/runs/201/logs"
        ]
    );
    let notes = out.report["notes"].to_string();
    assert!(
        notes.contains("2 run logs deleted") && notes.contains("revoke"),
        "{notes}"
    );
    let text = std::fs::read_to_string(&audit).expect("audit");
    assert_eq!(text.matches("\"outcome\":\"deleted\"").count(), 2, "{text}");
    assert!(text.contains("\"http_status\":204"));

    // Rerun from the state: same report, the deletions come back 404: already gone.
    let again = run(&mut github(
        &s,
        &[
            "--delete-leaking-logs",
            "--yes",
            "--audit-log",
            audit_s,
            "--state",
            state_s,
        ],
    ));
    assert_eq!(again.report["findings"], out.report["findings"]);
    let text = std::fs::read_to_string(&audit).expect("audit");
    assert_eq!(
        text.matches("\"outcome\":\"already_gone\"").count(),
        2,
        "{text}"
    );
    // Without state: the logs are gone (410), nothing to delete; the org's
    // unreadable repositories and run keep the sweep from passing as clean.
    let fresh = run(&mut github(
        &s,
        &["--delete-leaking-logs", "--yes", "--audit-log", audit_s],
    ));
    assert_eq!(fresh.code, 2, "{}", fresh.stdout);
    assert_eq!(deletes(&s.api).len(), 4);
    for o in [&out, &again, &fresh] {
        assert_no_secret(o, &[&s.leaks[0].1, &s.leaks[1].1]);
    }
    assert!(!text.contains(&s.leaks[0].1.secret));
}

#[test]
fn resume_after_a_kill_gives_the_same_report() {
    let s = github_sims();
    s.world.secondary_limit.store(false, Ordering::SeqCst);
    let reference = run(&mut github(&s, &["--deterministic"]));
    s.world.downloads.lock().expect("d").clear();

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_s = state.to_str().expect("utf-8").to_string();
    *s.world.stall.lock().expect("stall") = Some(201);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cybrid-scan"))
        .env("GITHUB_TOKEN", GH_TOKEN)
        .args([
            "ci",
            "github",
            "acme",
            "--api-url",
            &s.api.url,
            "-f",
            "json",
            "--quiet",
            "--concurrency",
            "1",
            "--state",
            &state_s,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the stalled download is reached, then kill the scan.
    let started = Instant::now();
    while !s.world.downloads.lock().expect("d").contains_key(&201) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never reached run 201"
        );
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let done_before: usize = std::fs::read_dir(state.join("ci")).expect("state").count();
    assert!(
        done_before >= 2,
        "some runs were recorded before the kill: {done_before}"
    );
    *s.world.stall.lock().expect("stall") = None;
    s.world.downloads.lock().expect("d").clear();

    let resumed = run(&mut github(&s, &["--deterministic", "--state", &state_s]));
    assert_eq!(resumed.report["findings"], reference.report["findings"]);
    assert_eq!(resumed.report["errors"], reference.report["errors"]);
    assert_eq!(resumed.report["skipped"], reference.report["skipped"]);
    // Only what was not finished was fetched again (201 and the corrupt 202 are retried).
    let again: Vec<u64> = s
        .world
        .downloads
        .lock()
        .expect("d")
        .keys()
        .copied()
        .collect();
    assert!(again.contains(&201) && !again.contains(&102), "{again:?}");
}

#[test]
fn shards_split_the_repositories() {
    let s = github_sims();
    s.world.secondary_limit.store(false, Ordering::SeqCst);
    let mut all = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = run(&mut github(&s, &["--shard", &shard]));
        for f in out.report["findings"].as_array().expect("f") {
            all.push(f["location"]["run"].as_str().unwrap_or("").to_string());
        }
    }
    all.sort();
    assert_eq!(all, ["102", "201"]);
}

#[test]
fn github_artifacts_text_and_binary_behind_the_redirect() {
    let s = github_sims();
    s.world.secondary_limit.store(false, Ordering::SeqCst);
    let artifact_requests = |sims: &GitHubSims| {
        let api = sims
            .api
            .seen()
            .into_iter()
            .filter(|r| r.path().contains("artifacts"));
        let dl = sims
            .download
            .seen()
            .into_iter()
            .filter(|r| r.path().starts_with("/artifact/"));
        api.chain(dl).count()
    };

    // Without --artifacts none are listed or fetched.
    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme/app",
        "--api-url",
        &s.api.url,
        "-f",
        "json",
        "--quiet",
    ]);
    let plain = run(&mut c);
    assert_eq!(plain.report["findings"].as_array().expect("f").len(), 1);
    assert_eq!(artifact_requests(&s), 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let audit = dir.path().join("audit.jsonl");
    let args = [
        "ci",
        "github",
        "acme/app",
        "--api-url",
        &s.api.url,
        "-f",
        "json",
        "--quiet",
        "--artifacts",
        "--state",
        state.to_str().expect("utf-8"),
        "--delete-leaking-logs",
        "--dry-run",
        "--audit-log",
        audit.to_str().expect("utf-8"),
    ];
    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN).args(args);
    let out = run(&mut c);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let findings = out.report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 3, "{}", out.report);
    // The run's log first (its path), then the artifact's entries.
    assert_eq!(findings[0]["location"]["path"], "acme/app/actions/runs/102");
    let (p3, p4) = &s.artifact_leaks;
    let by_entry = |e: &str| {
        findings
            .iter()
            .find(|f| f["location"]["entry"] == e)
            .unwrap_or_else(|| panic!("no finding in {e}: {}", out.report))
    };
    let text = &by_entry("test-results/reports/env.txt")["location"];
    assert_eq!(text["source"], "ci");
    assert_eq!(text["path"], "acme/app/actions/runs/102/artifacts/5001");
    assert_eq!(text["repository"], "acme/app");
    assert_eq!(text["run"], "102");
    assert!(text.get("job").is_none() && text.get("step").is_none());
    assert_eq!(
        text["line"], 6,
        "timestamps and ANSI normalised like a run log"
    );
    assert_eq!(
        text["url"],
        "https://github.example/acme/app/actions/runs/102#artifacts"
    );
    let binary = by_entry("test-results/bin/app.bin");
    assert_eq!(
        binary["location"]["path"],
        "acme/app/actions/runs/102/artifacts/5001"
    );
    assert_eq!(binary["rule_id"], "cybrid-client-secret");
    assert_eq!(binary["location"]["line"], 2, "{binary}");

    let skipped = paths(&out.report, "skipped");
    assert!(
        skipped
            .iter()
            .any(|(p, r)| p == "acme/app/actions/runs/102/artifacts/5002"
                && r.contains("old-build")
                && r.contains("expired")),
        "{skipped:?}"
    );
    let errors = paths(&out.report, "errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].0 == "acme/app/actions/runs/102/artifacts/5003" && errors[0].1.contains("zip"),
        "{errors:?}"
    );

    // Listed with Link pagination; downloads through the redirect, the token
    // sent to the API and never to the download host; the expired one not fetched.
    let api = s.api.seen();
    assert!(api
        .iter()
        .any(|r| r.path() == "/repos/acme/app/actions/runs/102/artifacts"
            && r.query("page").as_deref() == Some("2")));
    let zips: Vec<&Seen> = api.iter().filter(|r| r.path().ends_with("/zip")).collect();
    assert_eq!(zips.len(), 2, "{zips:?}");
    assert!(zips.iter().all(|r| r.headers.contains_key("authorization")));
    let fetched: Vec<Seen> = s
        .download
        .seen()
        .into_iter()
        .filter(|r| r.path().starts_with("/artifact/"))
        .collect();
    let mut got: Vec<&str> = fetched.iter().map(|r| r.path()).collect();
    got.sort();
    assert_eq!(got, ["/artifact/5001.zip", "/artifact/5003.zip"]);
    assert!(
        fetched
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "token sent to the download host"
    );

    // Deleting logs leaves artifacts: the plan says so; run 102 is planned for its log finding.
    let notes = out.report["notes"].to_string();
    assert!(
        notes.contains("1 artifact(s) with findings not deleted")
            && notes.contains("acme/app/actions/runs/102/artifacts/5001"),
        "{notes}"
    );
    assert!(
        out.stderr.contains("does not delete its artifacts"),
        "{}",
        out.stderr
    );
    assert!(!audit.exists(), "the dry run wrote the audit log");
    assert_no_secret(&out, &[&s.leaks[0].1, p3, p4]);

    // Resumed from the state: the same report, no artifact fetched again.
    let before = artifact_requests(&s);
    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN).args(args);
    let again = run(&mut c);
    assert_eq!(again.report["findings"], out.report["findings"]);
    assert_eq!(again.report["errors"], out.report["errors"]);
    assert_eq!(again.report["skipped"], out.report["skipped"]);
    assert_eq!(artifact_requests(&s), before);
}

// ---------------------------------------------------------------- GitLab

/// A job: id, name, status, trace (`None`: the trace answers 404).
type GlJob = (u64, &'static str, &'static str, Option<Vec<u8>>);

struct GitLabWorld {
    /// (project id, path, jobs)
    projects: Vec<(u64, &'static str, Vec<GlJob>)>,
    erased: Mutex<Vec<u64>>,
    limited: AtomicU32,
    /// Jobs' artifacts archives: (job id, zip; `None`: a corrupt one).
    artifacts: Vec<(u64, Option<Vec<u8>>)>,
}

fn gitlab_handler(world: Arc<GitLabWorld>, base: Arc<Mutex<String>>) -> Arc<Handler> {
    Arc::new(move |r: &Seen| {
        if r.headers.get("private-token").map(String::as_str) != Some(GL_TOKEN) {
            return Answer::json(401, json!({"message": "401 Unauthorized"}));
        }
        if world.limited.load(Ordering::SeqCst) > 0 && r.path().ends_with("/jobs") {
            world.limited.fetch_sub(1, Ordering::SeqCst);
            return Answer::json(429, json!({"message": "Retry later"}))
                .header("RateLimit-Reset", &(now_secs() + 1).to_string());
        }
        let web = base.lock().expect("b").clone();
        // tiny_http gives the raw path: %2F stays encoded, as GitLab expects.
        let path = r.path().trim_start_matches("/api/v4/");
        let parts: Vec<&str> = path.split('/').collect();
        let page: usize = r.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let paged = |items: Vec<Value>| {
            let total = items.len();
            let from = (page - 1) * PAGE;
            let slice: Vec<Value> = items.into_iter().skip(from).take(PAGE).collect();
            let next = if from + PAGE < total {
                (page + 1).to_string()
            } else {
                String::new()
            };
            Answer::json(200, Value::Array(slice)).header("X-Next-Page", &next)
        };
        let project = |key: &str| {
            world
                .projects
                .iter()
                .find(|(id, p, _)| id.to_string() == key || p.replace('/', "%2F") == key)
        };
        match (r.method.as_str(), parts.as_slice()) {
            ("GET", ["groups", "grp"]) => Answer::json(200, json!({"id": 5, "full_path": "grp"})),
            ("GET", ["groups", "5", "projects"]) => {
                assert_eq!(r.query("include_subgroups").as_deref(), Some("true"));
                paged(world.projects.iter().map(|(id, p, _)| json!({"id": id, "path_with_namespace": p})).collect())
            }
            ("GET", ["groups", _]) => Answer::json(404, json!({"message": "404 Group Not Found"})),
            ("GET", ["projects", key]) => match project(key) {
                Some((id, p, _)) => Answer::json(200, json!({"id": id, "path_with_namespace": p})),
                None => Answer::json(404, json!({"message": "404 Project Not Found"})),
            },
            ("GET", ["projects", key, "jobs"]) => match project(key) {
                Some((_, p, jobs)) => paged(
                    jobs.iter()
                        .map(|(id, name, status, _)| {
                            let mut j = json!({"id": id, "name": name, "status": status,
                                "created_at": "2024-05-01T10:00:00Z", "web_url": format!("{web}/{p}/-/jobs/{id}")});
                            if world.artifacts.iter().any(|a| a.0 == *id) {
                                j["artifacts_file"] = json!({"filename": "artifacts.zip", "size": 1000});
                            }
                            j
                        })
                        .collect(),
                ),
                None => Answer::json(404, json!({"message": "404 Project Not Found"})),
            },
            ("GET", ["projects", key, "jobs", id, "trace"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                if world.erased.lock().expect("e").contains(&id) {
                    return Answer::bytes(200, "text/plain", Vec::new());
                }
                match project(key).and_then(|(_, _, jobs)| jobs.iter().find(|j| j.0 == id)) {
                    Some((_, _, _, Some(trace))) => Answer::bytes(200, "text/plain", trace.clone()),
                    _ => Answer::json(404, json!({"message": "404 Not found"})),
                }
            }
            ("GET", ["projects", _, "jobs", id, "artifacts"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                if world.erased.lock().expect("e").contains(&id) {
                    return Answer::json(404, json!({"message": "404 Not Found"}));
                }
                match world.artifacts.iter().find(|a| a.0 == id) {
                    Some((_, Some(z))) => Answer::bytes(200, "application/zip", z.clone()),
                    Some((_, None)) => {
                        let mut z = run_zip(&[("report.txt", vec![b'x'; 5000])]);
                        z.truncate(z.len() / 2);
                        Answer::bytes(200, "application/zip", z)
                    }
                    None => Answer::json(404, json!({"message": "404 Not Found"})),
                }
            }
            ("POST", ["projects", _, "jobs", id, "erase"]) => {
                let id: u64 = id.parse().unwrap_or(0);
                world.erased.lock().expect("e").push(id);
                Answer::json(201, json!({"id": id}))
            }
            _ => Answer::json(404, json!({"message": "404 Not Found"})),
        }
    })
}

fn gitlab_trace(pair: &common::Pair) -> (Vec<u8>, u64) {
    let t = format!(
        "2024-05-01T10:00:00.100000Z 00O \x1b[0KRunning with gitlab-runner 16.11.0\x1b[0;m\n\
         2024-05-01T10:00:04.100000Z 00O section_start:1714557604:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting \"step_script\"\x1b[0;m\n\
         2024-05-01T10:00:04.200000Z 00O \x1b[32;1m$ cat config/cybrid.yml\x1b[0;m\n\
         2024-05-01T10:00:04.200001Z 01O cybrid:\n\
         2024-05-01T10:00:04.200002Z 01O   base_url: https://bank.sandbox.cybrid.app\n\
         2024-05-01T10:00:04.200003Z 01O   client_id: \x1b[33m{}\x1b[0m\n\
         2024-05-01T10:00:04.200004Z 01O   client_secret: \x1b[33m{}\x1b[0m\n\
         2024-05-01T10:00:06.600000Z 00O \x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m\n",
        pair.id, pair.secret
    );
    (t.into_bytes(), 7)
}

#[test]
fn gitlab_group_end_to_end_with_erase() {
    let (p1, p2) = (common::pair(), common::pair());
    let (t1, line1) = gitlab_trace(&p1);
    let (t2, _) = gitlab_trace(&p2);
    let clean = b"2024-05-01T10:00:00.100000Z 00O all good\n".to_vec();
    let world = Arc::new(GitLabWorld {
        projects: vec![
            (
                11,
                "grp/api",
                vec![
                    (504, "test", "running", Some(clean.clone())),
                    (503, "lint", "success", Some(clean.clone())),
                    (502, "deploy", "failed", Some(t1)),
                    (501, "old", "success", None),
                ],
            ),
            (
                12,
                "grp/sub/worker",
                vec![(601, "build", "success", Some(t2))],
            ),
            (13, "grp/sub/empty", vec![]),
        ],
        erased: Mutex::new(Vec::new()),
        limited: AtomicU32::new(1),
        artifacts: Vec::new(),
    });
    let base = Arc::new(Mutex::new(String::new()));
    let sim = Sim::start(gitlab_handler(world.clone(), base.clone()));
    *base.lock().expect("b") = sim.url.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let out = run(bin().env("GITLAB_TOKEN", GL_TOKEN).args([
        "ci",
        "gitlab",
        "grp",
        "--api-url",
        &sim.url,
        "-f",
        "json",
        "--quiet",
        "--delete-leaking-logs",
        "--yes",
        "--audit-log",
        audit.to_str().expect("utf-8"),
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let findings = out.report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{}", out.report);
    let l = &findings[0]["location"];
    assert_eq!(l["source"], "ci");
    assert_eq!(l["repository"], "grp/api");
    assert_eq!(l["run"], "502");
    assert_eq!(l["job"], "deploy");
    assert_eq!(l["line"], line1);
    assert_eq!(l["path"], "grp/api/-/jobs/502");
    assert_eq!(l["url"], format!("{}/grp/api/-/jobs/502#L{line1}", sim.url));
    assert_eq!(findings[1]["location"]["repository"], "grp/sub/worker");

    let skipped = paths(&out.report, "skipped");
    assert!(
        skipped
            .iter()
            .any(|(p, r)| p == "grp/api/-/jobs/504" && r.contains("not finished")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(p, r)| p == "grp/api/-/jobs/501" && r.contains("404")),
        "{skipped:?}"
    );
    assert!(paths(&out.report, "errors").is_empty(), "{}", out.report);

    let seen = sim.seen();
    // X-Next-Page followed; the 429 waited out; only jobs with findings erased.
    assert!(
        seen.iter()
            .any(|r| r.path() == "/api/v4/projects/11/jobs"
                && r.query("page").as_deref() == Some("2"))
    );
    assert!(seen.iter().any(
        |r| r.path() == "/api/v4/groups/5/projects" && r.query("page").as_deref() == Some("2")
    ));
    let erased: Vec<String> = seen
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        erased,
        [
            "/api/v4/projects/11/jobs/502/erase",
            "/api/v4/projects/12/jobs/601/erase"
        ]
    );
    let text = std::fs::read_to_string(&audit).expect("audit");
    assert_eq!(
        text.matches("\"action\":\"ci_erase_job\"").count(),
        6,
        "{text}"
    );
    assert_no_secret(&out, &[&p1, &p2]);

    // One project by its path.
    let out = run(bin().env("GITLAB_TOKEN", GL_TOKEN).args([
        "ci",
        "gitlab",
        "grp/sub/worker",
        "--api-url",
        &sim.url,
        "-f",
        "json",
        "--quiet",
    ]));
    assert_eq!(
        out.code, 0,
        "erased: its trace is empty now: {}",
        out.stdout
    );
    assert_eq!(
        out.report["notes"][0],
        "ci gitlab: 1 repositories, 1 runs/jobs listed"
    );
}

#[test]
fn gitlab_job_artifacts_archive() {
    let (p1, p2) = (common::pair(), common::pair());
    let (t1, line1) = gitlab_trace(&p1);
    let clean = b"2024-05-01T10:00:00.100000Z 00O all good\n".to_vec();
    let archive = run_zip(&[
        ("config/cybrid.log", t1),
        ("dist/app.bin", binary_with(&p2)),
        ("dist/huge.log", vec![b'\n'; 8 << 20]),
    ]);
    let world = Arc::new(GitLabWorld {
        projects: vec![(
            11,
            "grp/api",
            vec![
                (504, "package", "success", Some(clean.clone())),
                (503, "lint", "success", Some(clean.clone())),
                (502, "deploy", "failed", Some(clean.clone())),
            ],
        )],
        erased: Mutex::new(Vec::new()),
        limited: AtomicU32::new(0),
        artifacts: vec![(502, Some(archive)), (504, None)],
    });
    let base = Arc::new(Mutex::new(String::new()));
    let sim = Sim::start(gitlab_handler(world.clone(), base.clone()));
    *base.lock().expect("b") = sim.url.clone();
    let sweep = |extra: &[&str]| {
        run(bin()
            .env("GITLAB_TOKEN", GL_TOKEN)
            .args([
                "ci",
                "gitlab",
                "grp/api",
                "--api-url",
                &sim.url,
                "-f",
                "json",
                "--quiet",
            ])
            .args(extra))
    };

    let plain = sweep(&[]);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert!(!sim.seen().iter().any(|r| r.path().ends_with("/artifacts")));

    let out = sweep(&["--artifacts", "--max-decompressed-size", "1M"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let findings = out.report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{}", out.report);
    let l = &findings[0]["location"];
    assert_eq!(l["source"], "ci");
    assert_eq!(l["path"], "grp/api/-/jobs/502/artifacts");
    assert_eq!(l["entry"], "artifacts.zip/config/cybrid.log");
    assert_eq!(l["repository"], "grp/api");
    assert_eq!(l["run"], "502");
    assert_eq!(l["job"], "deploy");
    assert_eq!(l["line"], line1);
    assert_eq!(
        l["url"],
        format!("{}/grp/api/-/jobs/502/artifacts/browse", sim.url)
    );
    assert_eq!(
        findings[1]["location"]["entry"],
        "artifacts.zip/dist/app.bin"
    );

    // The corrupt archive and the bomb listed; the job without artifacts (404) is not an error.
    let errors = paths(&out.report, "errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(
            |(p, m)| p == "grp/api/-/jobs/502/artifacts!artifacts.zip/dist/huge.log"
                && m.contains("stopped after 1048576")
        ),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "grp/api/-/jobs/504/artifacts" && m.contains("zip")),
        "{errors:?}"
    );
    assert!(paths(&out.report, "skipped").is_empty(), "{}", out.report);
    let asked: Vec<String> = sim
        .seen()
        .iter()
        .filter(|r| r.path().ends_with("/artifacts"))
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_no_secret(&out, &[&p1, &p2]);

    // Binary entries are read whole like `dir` reads a file, so --max-file-size
    // bounds them (listed); text entries stream through the log pipeline.
    let capped = sweep(&[
        "--artifacts",
        "--max-decompressed-size",
        "1M",
        "--max-file-size",
        "100",
    ]);
    let findings = capped.report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{}", capped.report);
    assert_eq!(
        findings[0]["location"]["entry"],
        "artifacts.zip/config/cybrid.log"
    );
    assert!(
        paths(&capped.report, "skipped").iter().any(|(p, r)| p
            == "grp/api/-/jobs/502/artifacts!artifacts.zip/dist/app.bin"
            && r.contains("--max-file-size")),
        "{}",
        capped.report
    );
}

// ------------------------------------------------ rate limits and deadline

/// Every answer a wrapped handler gave: the request, its status, its headers.
type Answered = Arc<Mutex<Vec<(Seen, u16, Vec<(String, String)>)>>>;

/// Wrap `inner` so that every answer it gives is recorded.
fn recording(inner: Arc<Handler>) -> (Answered, Arc<Handler>) {
    let log: Answered = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let handler: Arc<Handler> = Arc::new(move |r: &Seen| {
        let a = inner(r);
        l.lock()
            .expect("answers")
            .push((r.clone(), a.status, a.headers.clone()));
        a
    });
    (log, handler)
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).expect("clock")
}

/// GitHub's primary rate limit as the API applies it: `limit` requests per
/// window, the window ending at the epoch second `x-ratelimit-reset`; every
/// answer carries the `x-ratelimit-*` headers, and a request with nothing
/// left gets 403 "API rate limit exceeded" until the reset.
struct PrimaryLimit {
    limit: u32,
    on: AtomicBool,
    /// (reset, remaining) of the current window.
    window: Mutex<(u64, u32)>,
    /// Requests that came while the budget was spent (before its reset).
    exceeded: Mutex<Vec<String>>,
    /// Answers that spent the budget (remaining 0): when, and the reset.
    exhausted: Mutex<Vec<(SystemTime, u64)>>,
}

fn primary_limit(limit: u32, inner: Arc<Handler>) -> (Arc<PrimaryLimit>, Arc<Handler>) {
    let state = Arc::new(PrimaryLimit {
        limit,
        on: AtomicBool::new(false),
        window: Mutex::new((0, limit)),
        exceeded: Mutex::new(Vec::new()),
        exhausted: Mutex::new(Vec::new()),
    });
    let st = state.clone();
    let handler: Arc<Handler> = Arc::new(move |r: &Seen| {
        if !st.on.load(Ordering::SeqCst) {
            return inner(r);
        }
        let (reset, remaining) = {
            let mut w = st.window.lock().expect("window");
            if epoch(r.wall).as_secs() >= w.0 {
                // A new window: two seconds from the second this one opened.
                *w = (epoch(r.wall).as_secs() + 2, st.limit);
            }
            if w.1 == 0 {
                st.exceeded.lock().expect("exceeded").push(format!(
                    "{} at {:?}",
                    r.url,
                    epoch(r.wall)
                ));
                (w.0, None)
            } else {
                w.1 -= 1;
                if w.1 == 0 {
                    st.exhausted.lock().expect("exhausted").push((r.wall, w.0));
                }
                (w.0, Some(w.1))
            }
        };
        let answer = match remaining {
            Some(_) => inner(r),
            None => Answer::json(
                403,
                json!({"message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
                       "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            ),
        };
        let limit = st.limit.to_string();
        let left = remaining.unwrap_or(0);
        answer
            .header("x-ratelimit-limit", &limit)
            .header("x-ratelimit-remaining", &left.to_string())
            .header("x-ratelimit-used", &(st.limit - left).to_string())
            .header("x-ratelimit-reset", &reset.to_string())
            .header("x-ratelimit-resource", "core")
    });
    (state, handler)
}

fn github_loud(s: &GitHubSims, extra: &[&str]) -> Command {
    let mut c = bin();
    c.env("GITHUB_TOKEN", GH_TOKEN)
        .args([
            "ci",
            "github",
            "acme",
            "--api-url",
            &s.api.url,
            "-f",
            "json",
        ])
        .args(["--deterministic", "--concurrency", "4"])
        .args(extra);
    c
}

#[test]
fn github_primary_rate_limit_pauses_every_worker_until_the_reset() {
    let limiter = Arc::new(Mutex::new(None));
    let cell = limiter.clone();
    let s = github_sims_with(move |h| {
        let (state, h) = primary_limit(5, h);
        *cell.lock().expect("l") = Some(state);
        h
    });
    let limiter = limiter.lock().expect("l").clone().expect("limiter");
    // The reference sweep, unlimited (it also uses up the one-off faults).
    let reference = run(&mut github_loud(&s, &["--quiet"]));
    assert_eq!(reference.code, 1, "{}", reference.stderr);
    s.world.downloads.lock().expect("d").clear();

    limiter.on.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let out = run(&mut github_loud(&s, &[]));
    let took = started.elapsed();
    let exhausted = limiter.exhausted.lock().expect("e").clone();
    // The budget ran out (the client may also hold back before the API's
    // count reaches 0: requests on their way are counted against it).
    assert!(!exhausted.is_empty(), "the sweep spent the budget");
    let first_reset = exhausted[0].1;
    // Nothing reached the API between a spent budget and its reset.
    let exceeded = limiter.exceeded.lock().expect("x").clone();
    assert!(
        exceeded.is_empty(),
        "requests while the budget was spent: {exceeded:#?}"
    );
    let api = s.api.seen();
    for (spent_at, reset) in &exhausted {
        let early: Vec<&Seen> = api
            .iter()
            .filter(|r| r.wall > *spent_at && epoch(r.wall).as_secs() < *reset)
            .collect();
        assert!(early.is_empty(), "before the reset {reset}: {early:?}");
    }
    // ... and the sweep went on after each reset, to the full report.
    assert!(
        api.iter().any(|r| epoch(r.wall).as_secs() >= first_reset),
        "nothing asked after the reset"
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    for key in ["findings", "errors", "skipped", "notes"] {
        assert_eq!(out.report[key], reference.report[key], "{key}");
    }
    assert!(
        out.stderr.contains("waited for the API's rate limit"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_no_secret(&out, &[&s.leaks[0].1, &s.leaks[1].1]);
}

/// Answer the first request for each of `paths` with `status` and
/// `Retry-After: 1` (GitHub's secondary rate limit); the rest go to `inner`.
fn secondary_limits(paths: Vec<(&'static str, u16)>, inner: Arc<Handler>) -> Arc<Handler> {
    let pending = Mutex::new(paths);
    Arc::new(move |r: &Seen| {
        let hit = {
            let mut p = pending.lock().expect("pending");
            let i = p.iter().position(|(path, _)| *path == r.path());
            i.map(|i| p.remove(i).1)
        };
        match hit {
            Some(status) => Answer::json(
                status,
                json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                       "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
            )
            .header("retry-after", "1"),
            None => inner(r),
        }
    })
}

#[test]
fn github_secondary_rate_limit_waits_retry_after_then_succeeds() {
    // Ten runs whose downloads take 300 ms, four workers: while one waits
    // out a secondary limit, the others have work to start.
    const LIMITED: [(&str, u16); 2] = [
        ("/repos/acme/app/actions/runs/310/logs", 403),
        ("/repos/acme/app/actions/runs/306/jobs", 429),
    ];
    let answers = Arc::new(Mutex::new(None));
    let cell = answers.clone();
    let (_world, api, _download, pairs) = slow_github_org(move |h| {
        let (log, h) = recording(secondary_limits(LIMITED.to_vec(), h));
        *cell.lock().expect("a") = Some(log);
        h
    });
    let out = run(bin().env("GITHUB_TOKEN", GH_TOKEN).args([
        "ci",
        "github",
        "acme/app",
        "--api-url",
        &api.url,
        "-f",
        "json",
        "--concurrency",
        "4",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let answers = answers.lock().expect("a").clone().expect("log");
    let answers = answers.lock().expect("answers").clone();
    for (path, status) in LIMITED {
        let tries: Vec<_> = answers.iter().filter(|(r, ..)| r.path() == path).collect();
        assert_eq!(tries.len(), 2, "{path}: limited once, then retried");
        assert_eq!(tries[0].1, status);
        assert_eq!(header_of(&tries[0].2, "retry-after"), Some("1"));
        assert!(tries[1].1 < 400, "{path}: the retry succeeded");
        let limited_at = tries[0].0.at;
        assert!(
            tries[1].0.at >= limited_at + Duration::from_secs(1),
            "{path}: retried {:?} after the limit, before Retry-After",
            tries[1].0.at - limited_at
        );
        // The limit is the token's: no worker started a request while it
        // lasted (requests already on their way may arrive just after it).
        let during: Vec<&str> = answers
            .iter()
            .filter(|(r, ..)| {
                r.at > limited_at + Duration::from_millis(300)
                    && r.at < limited_at + Duration::from_secs(1)
            })
            .map(|(r, ..)| r.url.as_str())
            .collect();
        assert!(
            during.is_empty(),
            "{path}: requests during the pause: {during:?}"
        );
    }
    // Every run's finding is in the report: nothing was lost to the limits.
    assert_eq!(
        runs_of(&out.report, "findings"),
        (301..=310).map(|r| r.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(out.report["errors"], json!([]));
    assert!(
        out.stderr
            .contains("waited for the API's rate limit 2 time(s)"),
        "{}",
        out.stderr
    );
    assert_no_secret(&out, &pairs.iter().collect::<Vec<_>>());
}

#[test]
fn gitlab_429_waits_until_ratelimit_reset_then_succeeds() {
    let (p1, p2) = (common::pair(), common::pair());
    let (t1, _) = gitlab_trace(&p1);
    let (t2, _) = gitlab_trace(&p2);
    let clean = b"2024-05-01T10:00:00.100000Z 00O all good\n".to_vec();
    let world = Arc::new(GitLabWorld {
        projects: vec![
            (
                11,
                "grp/api",
                vec![
                    (506, "e2e", "success", Some(clean.clone())),
                    (505, "unit", "success", Some(clean.clone())),
                    (504, "build", "success", Some(clean.clone())),
                    (503, "audit", "success", Some(clean.clone())),
                    (502, "deploy", "failed", Some(t1)),
                    (501, "lint", "success", Some(clean)),
                ],
            ),
            (
                12,
                "grp/sub/worker",
                vec![(601, "build", "success", Some(t2))],
            ),
            (13, "grp/sub/empty", vec![]),
        ],
        erased: Mutex::new(Vec::new()),
        // The first job listing answers 429 with RateLimit-Reset.
        limited: AtomicU32::new(1),
        artifacts: Vec::new(),
    });
    let base = Arc::new(Mutex::new(String::new()));
    // Traces take 300 ms each, and job 505's first one answers 429: while
    // one worker waits, the others have traces to start.
    let inner = gitlab_handler(world.clone(), base.clone());
    let limited_trace = AtomicBool::new(true);
    let slow: Arc<Handler> = Arc::new(move |r: &Seen| {
        if r.path().ends_with("/jobs/505/trace") && limited_trace.swap(false, Ordering::SeqCst) {
            return Answer::json(429, json!({"message": "Retry later"}))
                .header("RateLimit-Reset", &(now_secs() + 1).to_string());
        }
        let mut a = inner(r);
        if r.path().ends_with("/trace") {
            a.delay = Duration::from_millis(300);
        }
        a
    });
    let (answers, handler) = recording(slow);
    let sim = Sim::start(handler);
    *base.lock().expect("b") = sim.url.clone();
    let out = run(bin().env("GITLAB_TOKEN", GL_TOKEN).args([
        "ci",
        "gitlab",
        "grp",
        "--api-url",
        &sim.url,
        "-f",
        "json",
        "--concurrency",
        "4",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let answers = answers.lock().expect("answers").clone();
    let limited: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status == 429)
        .collect();
    assert_eq!(limited.len(), 2, "{limited:?}");
    for (r, _, headers) in &limited {
        let reset: u64 = header_of(headers, "ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .expect("RateLimit-Reset");
        // The same listing is asked again, at or after the reset, and answered.
        let retry = answers
            .iter()
            .find(|(o, status, _)| o.path() == r.path() && o.at > r.at && *status == 200)
            .unwrap_or_else(|| panic!("{} never retried", r.url));
        assert!(
            epoch(retry.0.wall).as_secs() >= reset,
            "{} retried at {:?}, before its reset {reset}",
            r.url,
            epoch(retry.0.wall)
        );
        // Nobody else asked in the meantime (past requests already on their way).
        let during: Vec<&str> = answers
            .iter()
            .filter(|(o, ..)| {
                o.at > r.at + Duration::from_millis(300) && epoch(o.wall).as_secs() < reset
            })
            .map(|(o, ..)| o.url.as_str())
            .collect();
        assert!(during.is_empty(), "requests before the reset: {during:?}");
    }
    let runs: Vec<&str> = out.report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["location"]["run"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(runs, ["502", "601"]);
    assert_eq!(out.report["errors"], json!([]));
    assert!(
        out.stderr.contains("waited for the API's rate limit"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(GL_TOKEN) && !out.stdout.contains(GL_TOKEN));
}

/// acme/app with ten finished runs, each leaking its own pair in step 3 of
/// `build`; downloads take 300 ms each (and a `stall`ed one 60 s).
fn slow_github_org(
    wrap: impl FnOnce(Arc<Handler>) -> Arc<Handler>,
) -> (Arc<GitHubWorld>, Sim, Sim, Vec<common::Pair>) {
    let pairs: Vec<common::Pair> = (0..10).map(|_| common::pair()).collect();
    let runs = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| GhRun {
            repo: "acme/app",
            id: 310 - i as u64,
            status: "completed",
            created: "2024-05-01T10:00:00Z",
            logs: Logs::Zip(run_zip(&[("build/3_Run env.txt", step_log(p).0)])),
        })
        .collect();
    let world = Arc::new(GitHubWorld {
        runs,
        deleted: Mutex::new(Vec::new()),
        secondary_limit: AtomicBool::new(false),
        bad_gateway: AtomicBool::new(false),
        stall: Mutex::new(None),
        downloads: Mutex::new(BTreeMap::new()),
        artifacts: Vec::new(),
    });
    let inner = download_handler(world.clone());
    let download = Sim::start(Arc::new(move |r: &Seen| {
        let mut a = inner(r);
        a.delay = a.delay.max(Duration::from_millis(300));
        a
    }));
    let cell = Arc::new(Mutex::new(String::new()));
    let (c2, w, d) = (cell.clone(), world.clone(), download.url.clone());
    let api = Sim::start(wrap(Arc::new(move |r: &Seen| {
        github_handler(w.clone(), c2.lock().expect("u").clone(), d.clone())(r)
    })));
    *cell.lock().expect("u") = api.url.clone();
    (world, api, download, pairs)
}

fn runs_of(report: &Value, key: &str) -> Vec<String> {
    let mut runs: Vec<String> = report[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| match key {
            "findings" => e["location"]["run"].as_str().unwrap_or("").to_string(),
            _ => e["path"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    runs.sort();
    runs
}

#[test]
fn deadline_stops_in_time_reports_what_is_left_and_state_finishes_it() {
    let (world, api, _download, pairs) = slow_github_org(|h| h);
    let sweep = |extra: &[&str]| {
        let mut c = bin();
        c.env("GITHUB_TOKEN", GH_TOKEN)
            .args(["ci", "github", "acme/app", "--api-url", &api.url])
            .args([
                "-f",
                "json",
                "--quiet",
                "--deterministic",
                "--concurrency",
                "1",
            ])
            .args(extra);
        c
    };
    let reference = run(&mut sweep(&[]));
    assert_eq!(reference.code, 1, "{}", reference.stderr);
    assert_eq!(runs_of(&reference.report, "findings").len(), 10);
    world.downloads.lock().expect("d").clear();

    // Runs are taken newest first, one at a time: 310 and 309 finish, 308
    // stalls past the deadline, 307..301 are never started.
    *world.stall.lock().expect("stall") = Some(308);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_s = state.to_str().expect("utf-8");
    let started = Instant::now();
    let out = run(&mut sweep(&[
        "--deadline",
        "5",
        "--timeout",
        "30",
        "--state",
        state_s,
    ]));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5 + 5),
        "stopped {took:?} after the start, the deadline was 5 s (the stalled download would take 30 s)"
    );
    assert_eq!(out.code, 1, "findings remain: {}", out.stderr);
    // What was done is reported whole; what was not is in errors, with the reason.
    assert_eq!(runs_of(&out.report, "findings"), ["309", "310"]);
    let errors = paths(&out.report, "errors");
    assert_eq!(
        runs_of(&out.report, "errors"),
        ["301", "302", "303", "304", "305", "306", "307", "308"]
    );
    assert!(
        errors.iter().all(|(_, m)| m.contains("deadline")),
        "{errors:?}"
    );
    let notes = out.report["notes"].to_string();
    assert!(
        notes.contains("deadline") && notes.contains("8 "),
        "{notes}"
    );
    assert_no_secret(&out, &pairs.iter().collect::<Vec<_>>());

    // A rerun with the state finishes the rest: the uninterrupted report.
    *world.stall.lock().expect("stall") = None;
    world.downloads.lock().expect("d").clear();
    let again = run(&mut sweep(&["--state", state_s]));
    assert_eq!(again.code, 1);
    for key in ["findings", "errors", "skipped"] {
        assert_eq!(again.report[key], reference.report[key], "{key}");
    }
    let fetched: Vec<u64> = world.downloads.lock().expect("d").keys().copied().collect();
    assert_eq!(
        fetched,
        (301..=308).collect::<Vec<u64>>(),
        "310 and 309 came from the state"
    );
}

#[test]
fn gitlab_deadline_mid_trace_keeps_its_findings_and_a_rerun_reads_it_again() {
    let (p1, p2) = (common::pair(), common::pair());
    // Job 702's trace: the leak near its start, then 400 KB more; trickled,
    // it would take ten seconds.
    let (mut slow, _) = gitlab_trace(&p1);
    for i in 0..8000 {
        slow.extend_from_slice(
            format!("2024-05-01T10:00:07.{i:06}Z 01O test {i} passed\n").as_bytes(),
        );
    }
    let (quick, _) = gitlab_trace(&p2);
    let clean = b"2024-05-01T10:00:00.100000Z 00O all good\n".to_vec();
    let world = Arc::new(GitLabWorld {
        projects: vec![(
            11,
            "grp/api",
            vec![
                (703, "lint", "success", Some(clean)),
                (702, "deploy", "failed", Some(slow)),
                (701, "build", "success", Some(quick)),
            ],
        )],
        erased: Mutex::new(Vec::new()),
        limited: AtomicU32::new(0),
        artifacts: Vec::new(),
    });
    let base = Arc::new(Mutex::new(String::new()));
    let inner = gitlab_handler(world.clone(), base.clone());
    let trickle = Arc::new(AtomicBool::new(false));
    let t = trickle.clone();
    let sim = Sim::start(Arc::new(move |r: &Seen| {
        let mut a = inner(r);
        if r.path().ends_with("/jobs/702/trace") && t.load(Ordering::SeqCst) {
            a.trickle = Some(Duration::from_millis(100));
        }
        a
    }));
    *base.lock().expect("b") = sim.url.clone();
    let sweep = |extra: &[&str]| {
        let mut c = bin();
        c.env("GITLAB_TOKEN", GL_TOKEN)
            .args(["ci", "gitlab", "grp/api", "--api-url", &sim.url])
            .args([
                "-f",
                "json",
                "--quiet",
                "--deterministic",
                "--concurrency",
                "1",
            ])
            .args(["--chunk-size", "4096"])
            .args(extra);
        c
    };
    let reference = run(&mut sweep(&[]));
    assert_eq!(runs_of(&reference.report, "findings"), ["701", "702"]);

    trickle.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_s = state.to_str().expect("utf-8");
    let started = Instant::now();
    let out = run(&mut sweep(&["--deadline", "2", "--state", state_s]));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2 + 4), "stopped after {took:?}");
    assert_eq!(out.code, 1, "{}", out.stderr);
    // 702's leak was read before the deadline: it is reported.
    assert_eq!(runs_of(&out.report, "findings"), ["702"]);
    let errors = paths(&out.report, "errors");
    assert_eq!(runs_of(&out.report, "errors"), ["701", "702"], "{errors:?}");
    assert!(
        errors.iter().all(|(_, m)| m.contains("deadline")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p.ends_with("/702") && m.contains("a rerun scans the job again")),
        "{errors:?}"
    );
    assert!(out.report["notes"].to_string().contains("deadline"));

    // The rerun reads 702 again (it was not recorded as done), not 703.
    trickle.store(false, Ordering::SeqCst);
    let before = sim.seen().len();
    let again = run(&mut sweep(&["--state", state_s]));
    for key in ["findings", "errors", "skipped"] {
        assert_eq!(again.report[key], reference.report[key], "{key}");
    }
    let traces: Vec<String> = sim.seen()[before..]
        .iter()
        .filter(|r| r.path().ends_with("/trace"))
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        traces,
        [
            "/api/v4/projects/11/jobs/702/trace",
            "/api/v4/projects/11/jobs/701/trace"
        ]
    );
}

// ---------------------------------------------------------------------------
// One road: the options every scanning subcommand takes mean the same in
// `dir`, `git`, `logs`, `sweep` and `ci` (issue: one pipeline), and an input
// that cannot be scanned never passes as clean (issue: fail closed).
// ---------------------------------------------------------------------------

/// `git` in `dir`, failing the test when it fails.
fn git_in(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The same two pairs the GitHub world leaks, as each source would meet
/// them: two `.env` files (dir), their history (git, and sweep through a
/// manifest), one CI-style log (logs), and the simulated org (ci).
struct Inputs {
    sims: GitHubSims,
    tmp: tempfile::TempDir,
}

impl Inputs {
    fn new() -> Self {
        let sims = github_sims();
        let tmp = tempfile::tempdir().expect("tempdir");
        let files = tmp.path().join("files");
        std::fs::create_dir_all(&files).expect("mkdir");
        for (i, (_, p, _)) in sims.leaks.iter().enumerate() {
            std::fs::write(
                files.join(format!("app{i}.env")),
                format!(
                    "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
                    p.id, p.secret
                ),
            )
            .expect("write");
        }
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        git_in(&repo, &["init", "-q"]);
        for i in 0..sims.leaks.len() {
            let name = format!("app{i}.env");
            std::fs::copy(files.join(&name), repo.join(&name)).expect("copy");
            git_in(&repo, &["add", &name]);
            git_in(&repo, &["commit", "-qm", &format!("add {name}")]);
        }
        std::fs::write(
            tmp.path().join("manifest.txt"),
            format!("{}\n", repo.display()),
        )
        .expect("manifest");
        let mut log = Vec::new();
        for (_, p, _) in &sims.leaks {
            log.extend(step_log(p).0);
        }
        std::fs::write(tmp.path().join("job.log"), log).expect("log");
        Inputs { sims, tmp }
    }

    /// The command for `sub` on its input, JSON on stdout, plus `extra`.
    fn command(&self, sub: &str, extra: &[&str]) -> Command {
        let t = self.tmp.path();
        let mut c = bin();
        match sub {
            "dir" => c.arg("dir").arg(t.join("files")),
            "git" => c.arg("git").arg(t.join("repo")),
            "logs" => c.arg("logs").arg(t.join("job.log")),
            "sweep" => c.args(["sweep", "--manifest"]).arg(t.join("manifest.txt")),
            "ci" => c
                .env("GITHUB_TOKEN", GH_TOKEN)
                .args(["ci", "github", "acme/app", "acme/infra", "--api-url"])
                .arg(&self.sims.api.url),
            other => panic!("no such subcommand {other}"),
        };
        c.current_dir(t).args(extra);
        if !extra.contains(&"--format") {
            c.args(["-f", "json"]);
        }
        c
    }
}

const SCANNERS: [&str; 5] = ["dir", "git", "logs", "sweep", "ci"];

fn findings_of(out: &Out) -> Vec<Value> {
    out.report["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn common_options_mean_the_same_in_every_scanning_subcommand() {
    let inputs = Inputs::new();
    let (p1, p2) = (&inputs.sims.leaks[0].1, &inputs.sims.leaks[1].1);
    let sim = cybrid_scan::idsim::Simulator::start(
        "127.0.0.1:0",
        "sandbox",
        cybrid_scan::idsim::Seed::default(),
    )
    .expect("identity simulator");
    sim.add_application(cybrid_scan::idsim::Application {
        client_id: p1.id.clone(),
        client_secret: p1.secret.clone(),
        environment: "sandbox".into(),
        kind: cybrid_scan::idsim::AppKind::Bank,
        guid: String::new(),
        organization_guid: String::new(),
        scopes: Vec::new(),
        ip_allowlist: Vec::new(),
        name: String::new(),
    });
    let endpoints = [
        "--endpoint".to_string(),
        format!("sandbox={}/sandbox", sim.url()),
        "--endpoint".to_string(),
        format!("production={}/production", sim.url()),
        "--endpoint".to_string(),
        format!("staging={}/staging", sim.url()),
    ];
    for sub in SCANNERS {
        let ctx = |what: &str, out: &Out| {
            format!(
                "{sub} {what}: exit {}\n{}\n{}",
                out.code, out.stdout, out.stderr
            )
        };

        // Plain: both pairs, exit 1.
        let plain = run(&mut inputs.command(sub, &[]));
        assert_eq!(plain.code, 1, "{}", ctx("plain", &plain));
        let all = findings_of(&plain);
        assert_eq!(all.len(), 2, "{}", ctx("plain", &plain));
        assert_no_secret(&plain, &[p1, p2]);

        // --max-findings 1: the first in report order, the same every run,
        // the rest counted in errors, exit 1.
        let mut kept = Vec::new();
        for _ in 0..3 {
            let one = run(&mut inputs.command(sub, &["--max-findings", "1", "--threads", "4"]));
            assert_eq!(one.code, 1, "{}", ctx("--max-findings", &one));
            let f = findings_of(&one);
            assert_eq!(f.len(), 1, "{}", ctx("--max-findings", &one));
            assert!(
                one.report["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .any(|e| e["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("--max-findings 1 reached: 1 more")),
                "{}",
                ctx("--max-findings", &one)
            );
            kept.push(f[0]["location"].clone());
        }
        assert!(
            kept.windows(2).all(|w| w[0] == w[1]),
            "{sub}: --max-findings keeps different findings: {kept:?}"
        );
        assert_eq!(
            kept[0], all[0]["location"],
            "{sub}: not the first in report order"
        );

        // --min-confidence: nothing below it is reported.
        let high = run(&mut inputs.command(sub, &["--min-confidence", "high"]));
        let below = all.iter().filter(|f| f["confidence"] != "high").count();
        assert_eq!(
            findings_of(&high).len(),
            all.len() - below,
            "{}",
            ctx("--min-confidence", &high)
        );
        assert!(findings_of(&high).iter().all(|f| f["confidence"] == "high"));

        // --baseline: an earlier report's findings are dropped, exit 0.
        let baseline = inputs.tmp.path().join(format!("{sub}-baseline.json"));
        std::fs::write(&baseline, &plain.stdout).expect("baseline");
        let base = run(inputs.command(sub, &[]).arg("--baseline").arg(&baseline));
        // (The simulated org's run 202 is a corrupt zip: without findings, the
        // CI sweep is incomplete, never clean.)
        let clean = if sub == "ci" { 2 } else { 0 };
        assert_eq!(base.code, clean, "{}", ctx("--baseline", &base));
        assert!(
            findings_of(&base).is_empty(),
            "{}",
            ctx("--baseline", &base)
        );

        // --format sarif -o FILE: the file holds the SARIF, stdout nothing.
        let sarif = inputs.tmp.path().join(format!("{sub}.sarif"));
        let out = run(inputs
            .command(sub, &["--format", "sarif", "-o"])
            .arg(&sarif));
        assert_eq!(out.code, 1, "{}", ctx("-o", &out));
        assert!(out.stdout.is_empty(), "{}", ctx("-o", &out));
        let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).expect("sarif written"))
            .expect("SARIF is JSON");
        assert_eq!(
            doc["runs"][0]["results"].as_array().map(Vec::len),
            Some(2),
            "{sub}"
        );

        // --exit-code.
        let out = run(&mut inputs.command(sub, &["--exit-code", "7"]));
        assert_eq!(out.code, 7, "{}", ctx("--exit-code", &out));

        // --quiet: nothing on standard error but what went wrong.
        let out = run(&mut inputs.command(sub, &["--quiet"]));
        assert_eq!(out.code, 1);
        for line in out.stderr.lines() {
            assert!(
                line.contains("cannot")
                    || line.contains("not JSON")
                    || line.contains("403")
                    || line.contains("zip"),
                "{sub} --quiet said: {line}"
            );
        }

        // --threads: 0 is a usage error; far too many is clamped, with a note.
        let out = run(&mut inputs.command(sub, &["--threads", "0"]));
        assert_eq!(out.code, 2, "{}", ctx("--threads 0", &out));
        assert!(
            out.stderr.contains("--threads"),
            "{}",
            ctx("--threads 0", &out)
        );
        let started = Instant::now();
        let out = run(&mut inputs.command(sub, &["--threads", "100000"]));
        assert_eq!(out.code, 1, "{}", ctx("--threads 100000", &out));
        assert!(
            out.stderr.contains("--threads 100000 is more than helps"),
            "{}",
            ctx("--threads 100000", &out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{sub} --threads 100000 took {:?}",
            started.elapsed()
        );

        // --verify: the live pair is live (exit 3), the other one not.
        let out = run(inputs.command(sub, &["--verify"]).args(&endpoints));
        assert_eq!(out.code, 3, "{}", ctx("--verify", &out));
        let statuses: Vec<(String, String)> = findings_of(&out)
            .iter()
            .map(|f| {
                (
                    f["verification"]["status"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    f["fingerprint"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            statuses.iter().filter(|(s, _)| s == "live").count(),
            1,
            "{sub}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|(s, _)| s == "invalid").count(),
            1,
            "{sub}: {statuses:?}"
        );
        // (The live pair's client id is in full in its `revocation` object.)
        for p in [p1, p2] {
            assert!(!out.stdout.contains(&p.secret) && !out.stderr.contains(&p.secret));
        }
    }
}

/// A repository whose only pack lost its second half.
fn truncated_repo(at: &std::path::Path) {
    std::fs::create_dir_all(at).expect("mkdir");
    git_in(at, &["init", "-q"]);
    for i in 0..5 {
        std::fs::write(
            at.join(format!("f{i}.txt")),
            format!("content {i}\n").repeat(200),
        )
        .expect("write");
        git_in(at, &["add", "."]);
        git_in(at, &["commit", "-qm", &format!("c{i}")]);
    }
    git_in(at, &["gc", "-q"]);
    let pack_dir = at.join(".git/objects/pack");
    let pack = std::fs::read_dir(&pack_dir)
        .expect("pack dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .expect("a pack");
    let len = std::fs::metadata(&pack).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&pack)
        .expect("open pack");
    f.set_len(len / 2).expect("truncate");
}

#[test]
fn what_could_not_be_scanned_never_passes_as_clean() {
    let inputs = Inputs::new();
    let t = inputs.tmp.path();
    truncated_repo(&t.join("broken"));
    std::fs::write(
        t.join("broken.txt"),
        format!("{}\n", t.join("broken").display()),
    )
    .expect("manifest");
    let cases: Vec<(&str, Command)> = vec![
        ("dir", {
            let mut c = bin();
            c.current_dir(t).args(["dir", "typo-dir", "-f", "json"]);
            c
        }),
        ("git", {
            let mut c = bin();
            c.current_dir(t).args(["git", "broken", "-f", "json"]);
            c
        }),
        ("logs", {
            let mut c = bin();
            c.current_dir(t).args(["logs", "typo.log", "-f", "json"]);
            c
        }),
        ("sweep", {
            let mut c = bin();
            c.current_dir(t).args([
                "sweep",
                "--manifest",
                "broken.txt",
                "--state",
                "state",
                "-f",
                "json",
            ]);
            c
        }),
        ("ci", {
            let mut c = bin();
            c.current_dir(t).env("GITHUB_TOKEN", GH_TOKEN).args([
                "ci",
                "github",
                "acme/locked",
                "--api-url",
                &inputs.sims.api.url,
                "-f",
                "json",
            ]);
            c
        }),
    ];
    for (sub, mut cmd) in cases {
        let out = run(&mut cmd);
        assert_eq!(
            out.code, 2,
            "{sub}: exit {}\n{}\n{}",
            out.code, out.stdout, out.stderr
        );
        let named = ["typo-dir", "broken", "typo.log", "acme/locked"];
        assert!(
            named.iter().any(|n| out.stderr.contains(n)),
            "{sub}: the input is not named: {}",
            out.stderr
        );
    }
    // The sweep recorded the repository as failed: the rerun scans it again.
    let mut again = bin();
    again.current_dir(t).args([
        "sweep",
        "--manifest",
        "broken.txt",
        "--state",
        "state",
        "-f",
        "json",
    ]);
    let out = run(&mut again);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("failed last time"), "{}", out.stderr);

    // One good input and one that cannot be read: the findings are reported
    // (exit 1); the unreadable one alone is never 0.
    let mut mixed = bin();
    mixed
        .current_dir(t)
        .args(["logs", "job.log", "typo.log", "-f", "json"]);
    let out = run(&mut mixed);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(findings_of(&out).len(), 2);
    assert_eq!(out.report["errors"][0]["path"], "typo.log");

    // Partial damage keeps the rest and passes, unless --fail-on-errors.
    std::fs::write(t.join("clean.log"), "nothing here\n").expect("write");
    std::fs::write(
        t.join("damaged.log.gz"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
    )
    .expect("write");
    let mut lenient = bin();
    lenient
        .current_dir(t)
        .args(["logs", "clean.log", "damaged.log.gz", "-f", "json"]);
    let out = run(&mut lenient);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.report["errors"].as_array().expect("errors").is_empty());
    let mut strict = bin();
    strict.current_dir(t).args([
        "logs",
        "clean.log",
        "damaged.log.gz",
        "-f",
        "json",
        "--fail-on-errors",
    ]);
    assert_eq!(run(&mut strict).code, 2);
}
