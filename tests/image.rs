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
        let mut cmd = scan_cmd(&home);
        cmd.args(["image", &spec, "-f", "json"]);
        let out = cmd.output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
            assert!(!stdout.contains(&p.secret));
        }
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
