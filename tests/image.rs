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

#[test]
fn docker_archive_and_oci_layout_give_the_three_pairs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(b) = Buildah::new(tmp.path()) else {
        eprintln!("note: image test skipped: buildah is not installed");
        return;
    };
    let (file_pair, env_pair, run_pair) = (common::pair(), common::pair(), common::pair());
    let ctx = tmp.path().join("ctx");
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
    let archive = tmp.path().join("leaky.tar");
    let layout = tmp.path().join("layout");
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
        for p in [&file_pair, &env_pair, &run_pair] {
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
