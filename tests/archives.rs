//! Shipped artefacts: an `.ipa` with a binary `Info.plist`, an `.apk` with a
//! JSON asset, a `.tar.gz` of a build, and a `.zip` committed to git, each
//! made here with real zip, tar, gzip and plist writers and generated
//! credentials. Findings are named `outer!/inner` and paired as in source.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn binary_plist(pair: &common::Pair) -> Vec<u8> {
    let mut dict = plist::Dictionary::new();
    dict.insert("CFBundleIdentifier".into(), "com.example.demo".into());
    dict.insert("CybridClientId".into(), pair.id.clone().into());
    dict.insert("CybridClientSecret".into(), pair.secret.clone().into());
    let mut out = Vec::new();
    plist::Value::Dictionary(dict)
        .to_writer_binary(&mut out)
        .expect("bplist");
    assert!(out.starts_with(b"bplist00"));
    out
}

fn scan(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .current_dir(dir)
        .args(args)
        .args(["-f", "json"])
        .output()
        .expect("run");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (path, rule, paired) of every finding.
fn found(report: &Value) -> Vec<(String, String, bool)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap_or("").to_string(),
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f.get("client_id").is_some(),
            )
        })
        .collect()
}

#[test]
fn ipa_apk_and_tgz_give_their_pairs_through_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ios, android, build) = (common::pair(), common::pair(), common::pair());
    std::fs::write(
        dir.path().join("Demo.ipa"),
        zip_of(&[
            ("Payload/CybridDemo.app/Info.plist", &binary_plist(&ios)),
            ("Payload/CybridDemo.app/CybridDemo", b"\x7fELF not really"),
        ]),
    )
    .expect("ipa");
    let asset = format!(
        "{{\n  \"CYBRID_CLIENT_ID\": \"{}\",\n  \"CYBRID_CLIENT_SECRET\": \"{}\"\n}}\n",
        android.id, android.secret
    );
    std::fs::write(
        dir.path().join("app-release.apk"),
        zip_of(&[
            (
                "AndroidManifest.xml",
                b"\x03\x00\x08\x00\x10\x00\x00\x00garbage!",
            ),
            ("assets/config.json", asset.as_bytes()),
            ("classes.dex", b"dex\n035\0"),
        ]),
    )
    .expect("apk");
    let mut tar = tar::Builder::new(Vec::new());
    let env = format!(
        "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        build.id, build.secret
    );
    let mut h = tar::Header::new_gnu();
    h.set_size(env.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "dist/.env", env.as_bytes())
        .expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().expect("tar")).expect("gz");
    std::fs::write(dir.path().join("build.tgz"), gz.finish().expect("gz")).expect("tgz");
    // A truncated archive beside them: reported, the scan goes on.
    std::fs::write(
        dir.path().join("broken.zip"),
        &zip_of(&[("a.txt", b"hello")])[..20],
    )
    .expect("broken");

    let (code, report, stderr) = scan(dir.path(), &["dir", "."]);
    assert_eq!(code, 1, "{stderr}");
    let mut got = found(&report);
    got.sort();
    let secret = |p: &str| (p.to_string(), "cybrid-client-secret".to_string(), true);
    assert_eq!(
        got,
        [
            secret("Demo.ipa!/Payload/CybridDemo.app/Info.plist"),
            secret("app-release.apk!/assets/config.json"),
            secret("build.tgz!/build.tar!/dist/.env"),
        ],
        "{report}"
    );
    let errors = report["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["path"] == "broken.zip"),
        "{errors:?}"
    );
    let text = report.to_string() + &stderr;
    for p in [&ios, &android, &build] {
        assert!(!text.contains(&p.secret), "a secret in the default output");
    }
}

#[test]
fn a_committed_zip_gives_its_pair_through_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = common::pair();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .current_dir(dir.path())
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    let env = format!(
        "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        pair.id, pair.secret
    );
    std::fs::write(
        dir.path().join("release.zip"),
        zip_of(&[("config/.env", env.as_bytes())]),
    )
    .expect("zip");
    git(&["add", "release.zip"]);
    git(&["commit", "-qm", "ship the release"]);
    git(&["mv", "release.zip", "old-release.zip"]);
    git(&["commit", "-qm", "rename"]);

    let (code, report, stderr) = scan(dir.path(), &["git", "."]);
    assert_eq!(code, 1, "{stderr}");
    let got = found(&report);
    assert_eq!(
        got,
        [(
            "release.zip!/config/.env".to_string(),
            "cybrid-client-secret".to_string(),
            true
        )],
        "{report}"
    );
    let f = &report["findings"][0]["location"];
    assert!(f["commit"].as_str().is_some_and(|c| c.len() == 40));
    assert!(!report.to_string().contains(&pair.secret));
}
