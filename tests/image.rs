//! `cybrid-scan image` on images made by the real tools: buildah builds an
//! image from scratch (a layer with a `.env`, a later layer deleting it, a
//! pair in `Env`, another in a history `created_by` line), then writes it
//! as a `docker save` archive and as an OCI layout. Skipped, with a note,
//! where buildah is not installed (`.ci/run` installs it).

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

struct Buildah {
    args: Vec<String>,
}

impl Buildah {
    fn new(store: &Path) -> Option<Self> {
        let ok = Command::new("buildah")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return None;
        }
        Some(Buildah {
            args: vec![
                "--root".into(),
                store.join("root").display().to_string(),
                "--runroot".into(),
                store.join("runroot").display().to_string(),
                "--storage-driver".into(),
                "vfs".into(),
            ],
        })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("buildah")
            .args(&self.args)
            .args(args)
            .env("BUILDAH_ISOLATION", "chroot")
            .output()
            .expect("buildah runs");
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn pairs_in(report: &Value) -> Vec<(String, String, bool, Option<u64>)> {
    let mut v: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == "cybrid-client-secret")
        .map(|f| {
            let l = &f["location"];
            (
                l["path"].as_str().unwrap_or("").to_string(),
                l["layer"]
                    .as_str()
                    .map_or("", |s| if s == "config" { "config" } else { "layer" })
                    .to_string(),
                f.get("client_id").is_some(),
                l["removed_by_layer"].as_u64(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Where a tool a test needs is missing: fail under `.ci/run` (which sets
/// CYBRID_SCAN_REQUIRE_TOOLS and installs them), else skip with a note.
fn missing(tool: &str) {
    assert!(
        std::env::var_os("CYBRID_SCAN_REQUIRE_TOOLS").is_none(),
        "{tool} is not installed, and CYBRID_SCAN_REQUIRE_TOOLS is set"
    );
    eprintln!("note: image test skipped: {tool} is not installed");
}

/// The image the tests scan, built by buildah from scratch.
struct Leaky {
    buildah: Buildah,
    archive: std::path::PathBuf,
    layout: std::path::PathBuf,
    pairs: [common::Pair; 3],
}

fn build_leaky(tmp: &Path) -> Option<Leaky> {
    let Some(b) = Buildah::new(tmp) else {
        missing("buildah");
        return None;
    };
    let (file_pair, env_pair, run_pair) = (common::pair(), common::pair(), common::pair());
    let ctx = tmp.join("ctx");
    std::fs::create_dir_all(ctx.join("app")).expect("mkdir");
    std::fs::write(
        ctx.join("app/.env"),
        format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            file_pair.id, file_pair.secret
        ),
    )
    .expect("write");
    std::fs::write(ctx.join("app/README"), "nothing here\n").expect("write");

    // Layer 1: the .env.
    let c = b.run(&["from", "scratch"]);
    b.run(&["copy", &c, &ctx.join("app").display().to_string(), "/app/"]);
    b.run(&["commit", "-q", &c, "stage1"]);
    // Layer 2: the .env deleted; Env and a RUN line with pairs of their own.
    let c2 = b.run(&["from", "stage1"]);
    let mnt = b.run(&["mount", &c2]);
    std::fs::remove_file(Path::new(&mnt).join("app/.env")).expect("delete in layer 2");
    b.run(&["umount", &c2]);
    b.run(&[
        "config",
        "--env",
        &format!("CYBRID_CLIENT_ID={}", env_pair.id),
        "--env",
        &format!("CYBRID_CLIENT_SECRET={}", env_pair.secret),
        "--created-by",
        &format!(
            "/bin/sh -c curl -d '{{\"client_id\":\"{}\",\"client_secret\":\"{}\"}}' https://id.sandbox.cybrid.app/oauth/token",
            run_pair.id, run_pair.secret
        ),
        &c2,
    ]);
    b.run(&["commit", "-q", &c2, "leaky:1"]);
    let archive = tmp.join("leaky.tar");
    let layout = tmp.join("layout");
    b.run(&[
        "push",
        "-q",
        "leaky:1",
        &format!("docker-archive:{}:leaky:1", archive.display()),
    ]);
    b.run(&[
        "push",
        "-q",
        "leaky:1",
        &format!("oci:{}:v1", layout.display()),
    ]);
    Some(Leaky {
        buildah: b,
        archive,
        layout,
        pairs: [file_pair, env_pair, run_pair],
    })
}

#[test]
fn docker_archive_and_oci_layout_give_the_three_pairs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(leaky) = build_leaky(tmp.path()) else {
        return;
    };
    let (archive, layout) = (&leaky.archive, &leaky.layout);
    let [file_pair, env_pair, run_pair] = &leaky.pairs;
    for spec in [
        format!("docker-archive:{}", archive.display()),
        format!("oci:{}:v1", layout.display()),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
            .args(["image", &spec, "-f", "json"])
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).expect("JSON");
        let pairs = pairs_in(&report);
        assert_eq!(
            pairs,
            [
                ("app/.env".to_string(), "layer".to_string(), true, Some(2)),
                ("config".to_string(), "config".to_string(), true, None),
                ("config".to_string(), "config".to_string(), true, None),
            ],
            "{spec}: {report}"
        );
        let f = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["location"]["path"] == "app/.env")
            .expect("the deleted file's finding");
        assert_eq!(f["location"]["source"], "image");
        assert!(f["location"]["image"]
            .as_str()
            .is_some_and(|i| i.contains("@sha256:")));
        assert!(f["location"]["layer"]
            .as_str()
            .is_some_and(|l| l.starts_with("sha256:")));
        assert_eq!(f["location"]["line"], 2);
        for p in [file_pair, env_pair, run_pair] {
            assert!(!stdout.contains(&p.secret) && !stderr.contains(&p.secret));
        }
        // The human report says where the deleted file still is.
        let human = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
            .args(["image", &spec, "--no-color"])
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&human.stdout);
        assert!(
            text.contains("removed by layer 2, still in layer 1"),
            "{text}"
        );
    }
}

#[test]
fn an_unreadable_image_is_named_and_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("not-an-image.tar"), b"garbage").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .current_dir(tmp.path())
        .args([
            "image",
            "docker-archive:not-an-image.tar",
            "oci:missing-dir",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not-an-image.tar"), "{stderr}");
    assert!(stderr.contains("missing-dir"), "{stderr}");
}

/// A command of the image scan, isolated from this machine's registry
/// credentials (HOME, DOCKER_CONFIG and the auth files point into `home`).
fn scan_cmd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"));
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("CYBRID_SCAN_REGISTRY_USERNAME")
        .env_remove("CYBRID_SCAN_REGISTRY_PASSWORD")
        .env_remove("CYBRID_SCAN_REGISTRY_HOSTS");
    cmd
}

/// A real registry (Debian's `docker-registry`, the CNCF distribution
/// server) on a loopback port, stopped when dropped.
struct RealRegistry {
    child: std::process::Child,
    addr: String,
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_registry(dir: &Path) -> Option<RealRegistry> {
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        missing("docker-registry");
        return None;
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.join("storage").display()
        ),
    )
    .expect("registry config");
    let child = Command::new("docker-registry")
        .args(["serve", &config.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let registry = RealRegistry { child, addr };
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for _ in 0..100 {
        let up = client
            .get(format!("http://{}/v2/", registry.addr))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if up {
            return Some(registry);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("docker-registry did not answer on {}", registry.addr);
}

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_image_pushed_to_a_registry_gives_the_same_pairs_and_platforms_are_chosen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(leaky) = build_leaky(tmp.path()) else {
        return;
    };
    if Command::new("skopeo").arg("--version").output().is_err() {
        missing("skopeo");
        return;
    }
    let Some(registry) = start_registry(tmp.path()) else {
        return;
    };
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let addr = &registry.addr;
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", leaky.layout.display()),
        &format!("docker://{addr}/team/leaky:1"),
    ]);
    // By tag and by digest: the same three pairs as from the archive.
    let out = scan_cmd(&home)
        .args(["image", &format!("{addr}/team/leaky:1"), "-f", "json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let image = report["findings"][0]["location"]["image"]
        .as_str()
        .expect("image named")
        .to_string();
    assert!(
        image.starts_with(&format!("{addr}/team/leaky:1@sha256:")),
        "{image}"
    );
    let digest = image.rsplit_once('@').expect("digest").1.to_string();
    for spec in [
        format!("{addr}/team/leaky:1"),
        format!("{addr}/team/leaky@{digest}"),
    ] {
        assert_the_three_pairs_with(&home, &spec, &[], &leaky);
    }

    // A multi-platform index: amd64 is the leaky image, arm64 a clean one.
    let b = &leaky.buildah;
    let c = b.run(&["from", "scratch"]);
    let ctx = tmp.path().join("clean");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(ctx.join("README"), "nothing to see\n").expect("write");
    b.run(&[
        "copy",
        &c,
        &ctx.join("README").display().to_string(),
        "/README",
    ]);
    b.run(&["config", "--arch", "arm64", "--os", "linux", &c]);
    b.run(&["commit", "-q", &c, "clean:1"]);
    b.run(&["manifest", "create", "multi:1"]);
    b.run(&[
        "manifest",
        "add",
        "--arch",
        "amd64",
        "--os",
        "linux",
        "multi:1",
        "containers-storage:localhost/leaky:1",
    ]);
    b.run(&[
        "manifest",
        "add",
        "--arch",
        "arm64",
        "--os",
        "linux",
        "multi:1",
        "containers-storage:localhost/clean:1",
    ]);
    b.run(&[
        "manifest",
        "push",
        "-q",
        "--all",
        "--tls-verify=false",
        "multi:1",
        &format!("docker://{addr}/team/multi:1"),
    ]);
    let multi = format!("{addr}/team/multi:1");
    assert_the_three_pairs_with(&home, &multi, &[], &leaky);
    assert_the_three_pairs_with(&home, &multi, &["--platform", "linux/amd64"], &leaky);
    // Two images sharing their layers in one run: each layer fetched and
    // scanned once, the later image's deleted-file notes still right.
    let out = scan_cmd(&home)
        .args([
            "image",
            &format!("{addr}/team/leaky:1"),
            &multi,
            "-f",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let both: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let notes = both["notes"].to_string();
    assert!(
        notes.contains("2 of its 2 layer(s) were scanned already"),
        "{notes}"
    );
    let in_layers = both["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["location"]["layer"] != "config")
        .count();
    assert_eq!(
        in_layers, 1,
        "the shared layer's file is reported once: {both}"
    );
    let out = scan_cmd(&home)
        .args(["image", &multi, "--platform", "linux/arm64", "-f", "json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = scan_cmd(&home)
        .args(["image", &multi, "--platform", "linux/s390x"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no image for platform linux/s390x"),
        "{stderr}"
    );

    // What is not there is named, and fails closed.
    let out = scan_cmd(&home)
        .args(["image", &format!("{addr}/team/absent:1")])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("team/absent"), "{stderr}");
}

fn assert_the_three_pairs_with(home: &Path, spec: &str, extra: &[&str], leaky: &Leaky) {
    let out = scan_cmd(home)
        .args(["image", spec, "-f", "json"])
        .args(extra)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{spec} {extra:?}: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        pairs_in(&report),
        [
            ("app/.env".to_string(), "layer".to_string(), true, Some(2)),
            ("config".to_string(), "config".to_string(), true, None),
            ("config".to_string(), "config".to_string(), true, None),
        ],
        "{spec}: {report}"
    );
    for p in &leaky.pairs {
        assert!(!stdout.contains(&p.secret) && !stderr.contains(&p.secret));
    }
}

/// What the token-auth registry simulator saw.
#[derive(Default)]
struct Seen {
    token_requests: Vec<(String, Option<String>)>,
    storage_authorization: Vec<String>,
    unauthorized: u32,
}

/// A registry that answers as Docker Hub, GHCR and GitLab's do: every API
/// call without a token gets a 401 Bearer challenge; the token service at
/// the realm wants Basic credentials and exactly the challenge's service and
/// scope; manifests are served only as an Accept header asks; blobs redirect
/// to a storage host on another port (which must not see the token).
struct TokenRegistry {
    addr: String,
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
    password: String,
    token: String,
}

fn token_registry(layout: &Path, repo: &'static str) -> TokenRegistry {
    use std::sync::{Arc, Mutex};
    let api = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let storage = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let addr = api.server_addr().to_ip().expect("ip").to_string();
    let storage_addr = storage.server_addr().to_ip().expect("ip").to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let password = common::credential();
    let token = common::credential();
    let blobs = layout.join("blobs/sha256");
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("index JSON");
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).expect("header");
    {
        let (seen, blobs) = (Arc::clone(&seen), blobs.clone());
        std::thread::spawn(move || {
            for req in storage.incoming_requests() {
                let auth = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string());
                if let Some(a) = auth {
                    seen.lock().expect("lock").storage_authorization.push(a);
                }
                let hex = req
                    .url()
                    .trim_start_matches("/storage/sha256:")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let resp = match std::fs::read(blobs.join(&hex)) {
                    Ok(b) => tiny_http::Response::from_data(b),
                    Err(_) => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
                };
                let _ = req.respond(resp);
            }
        });
    }
    {
        let (seen, password, token) = (Arc::clone(&seen), password.clone(), token.clone());
        let api_addr = addr.clone();
        std::thread::spawn(move || {
            use base64::Engine as _;
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("robot:{password}"))
            );
            let scope = format!("repository:{repo}:pull");
            for req in api.incoming_requests() {
                let url = req.url().to_string();
                let get = |name: &'static str| {
                    req.headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.to_string())
                };
                let auth = get("Authorization");
                if let Some(query) = url.strip_prefix("/token?") {
                    let params: std::collections::HashMap<String, String> =
                        form_urlencoded::parse(query.as_bytes())
                            .into_owned()
                            .collect();
                    seen.lock().expect("lock").token_requests.push((
                        params.get("scope").cloned().unwrap_or_default(),
                        auth.clone(),
                    ));
                    let ok = auth.as_deref() == Some(basic.as_str())
                        && params.get("scope") == Some(&scope)
                        && params.get("service").map(String::as_str) == Some("sim-registry");
                    let resp = if ok {
                        tiny_http::Response::from_string(
                            serde_json::json!({"token": token, "expires_in": 300}).to_string(),
                        )
                        .with_header(header("Content-Type", "application/json"))
                    } else {
                        tiny_http::Response::from_string(
                            r#"{"details":"incorrect username or password"}"#,
                        )
                        .with_status_code(401)
                    };
                    let _ = req.respond(resp);
                    continue;
                }
                if auth.as_deref() != Some(format!("Bearer {token}").as_str()) {
                    seen.lock().expect("lock").unauthorized += 1;
                    let challenge = format!(
                        r#"Bearer realm="http://{addr_}/token",service="sim-registry",scope="{scope}""#,
                        addr_ = api_addr
                    );
                    let _ = req.respond(
                        tiny_http::Response::from_string(
                            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                        )
                        .with_status_code(401)
                        .with_header(header("WWW-Authenticate", &challenge)),
                    );
                    continue;
                }
                let prefix = format!("/v2/{repo}/");
                let Some(rest) = url.strip_prefix(&prefix) else {
                    let _ = req
                        .respond(tiny_http::Response::from_data(Vec::new()).with_status_code(404));
                    continue;
                };
                if let Some(reference) = rest.strip_prefix("manifests/") {
                    let descriptor = index["manifests"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|m| {
                            m["digest"] == reference
                                || m["annotations"]["org.opencontainers.image.ref.name"]
                                    == reference
                        })
                        .cloned();
                    let accept = get("Accept").unwrap_or_default();
                    let resp = match descriptor {
                        Some(d) if accept.contains(d["mediaType"].as_str().unwrap_or("?")) => {
                            let digest = d["digest"].as_str().unwrap_or_default();
                            let body = std::fs::read(blobs.join(digest.trim_start_matches("sha256:")))
                                .expect("manifest blob");
                            tiny_http::Response::from_data(body)
                                .with_header(header("Content-Type", d["mediaType"].as_str().unwrap_or_default()))
                                .with_header(header("Docker-Content-Digest", digest))
                        }
                        _ => tiny_http::Response::from_string(
                            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                        )
                        .with_status_code(404),
                    };
                    let _ = req.respond(resp);
                } else if let Some(digest) = rest.strip_prefix("blobs/") {
                    let _ = req.respond(
                        tiny_http::Response::from_data(Vec::new())
                            .with_status_code(307)
                            .with_header(header(
                                "Location",
                                &format!(
                                    "http://{storage_addr}/storage/{digest}?X-Amz-Signature=abc"
                                ),
                            )),
                    );
                } else {
                    let _ = req
                        .respond(tiny_http::Response::from_data(Vec::new()).with_status_code(404));
                }
            }
        });
    }
    TokenRegistry {
        addr,
        seen,
        password,
        token,
    }
}

#[test]
fn a_token_registry_is_answered_with_the_docker_login_and_storage_never_sees_the_token() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(leaky) = build_leaky(tmp.path()) else {
        return;
    };
    let sim = token_registry(&leaky.layout, "org/leaky");
    let spec = format!("{}/org/leaky:v1", sim.addr);

    // No credentials: the token service refuses an anonymous pull; the
    // image is named and the run fails closed.
    let nobody = tmp.path().join("nobody");
    std::fs::create_dir_all(&nobody).expect("home");
    let out = scan_cmd(&nobody)
        .args(["image", &spec])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("org/leaky") && stderr.contains("anonymous"),
        "{stderr}"
    );

    // `docker login` wrote config.json: the scan uses it.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).expect("home");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("robot:{}", sim.password));
    std::fs::write(
        home.join(".docker/config.json"),
        serde_json::json!({"auths": {sim.addr.clone(): {"auth": auth}}}).to_string(),
    )
    .expect("config");
    let out = scan_cmd(&home)
        .args(["image", &spec, "-f", "json"])
        .output()
        .expect("run");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(pairs_in(&report).len(), 3, "{report}");
    for s in [&stdout, &stderr] {
        assert!(!s.contains(&sim.password) && !s.contains(&sim.token));
    }
    let seen = sim.seen.lock().expect("lock");
    assert!(
        seen.storage_authorization.is_empty(),
        "storage saw the token"
    );
    assert!(seen.unauthorized >= 2, "each run was challenged");
    assert!(
        seen.token_requests
            .iter()
            .all(|(scope, _)| scope == "repository:org/leaky:pull"),
        "{:?}",
        seen.token_requests.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    drop(seen);

    // The same credentials from the environment, limited to this host.
    let out = scan_cmd(&nobody)
        .env("CYBRID_SCAN_REGISTRY_USERNAME", "robot")
        .env("CYBRID_SCAN_REGISTRY_PASSWORD", &sim.password)
        .env("CYBRID_SCAN_REGISTRY_HOSTS", &sim.addr)
        .args(["image", &spec])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
