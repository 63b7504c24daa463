//! `cybrid-scan logs` on real files: CI logs in GitHub Actions and GitLab CI
//! shapes, gzip (whole, truncated, mislabelled, capped), zip log archives,
//! standard input, FIFOs, binary garbage, secrets across window boundaries,
//! big files split across cores, and `--redact-in-place` round trips.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::RngCore;
use serde_json::Value;

// Generated for these fixtures (fixtures/logs/README.md); never issued by Cybrid.
const ENV_ID: &str = "gsbppwba-V1Uy3cAqon5B1PPTQK7Ze_IdhMgInXll0A";
const ENV_SECRET: &str = "T6fYV3R62XqQli0vO0F2b3pclci2q094BJ8VixjkhYg";
const SPLIT_SECRET: &str = "smbqRIga4ah7lHxB6Ah7V3dIdYQ_D5ROFScEuWJzQjk";
const CURL_ID: &str = "EZJM-VGxiUhMN4ElVUONYMrMR6dRI04rzsN5A4JhQDo";
const CURL_SECRET: &str = "1M2wHW8Gqu-okwG0Lb3i9Len0JmlmLkL4JxJlXV6Mgc";
const GL_ID: &str = "4-dvNU7gJk8iiPnV-KNE1hmb-sXJYVLfcTuy5E3_-mc";
const GL_SECRET: &str = "q7UVMZAUlQvbz9c5hqA2ziELHC9IuE_cu87vhRimF8c";
const GL_JSON_SECRET: &str = "4C_zWFl2J4_0iXot2LIUuMPigUrfOtJqcdp79USb27k";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs")
        .join(name)
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("cybrid-scan").expect("binary built");
    c.env_remove("NO_COLOR");
    c
}

/// A fresh fake credential: 32 random bytes, URL-safe base64.
fn fake() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let v = URL_SAFE_NO_PAD.encode(b);
    // Values must be credential-shaped, not placeholder-shaped.
    if v.starts_with('-') || v.ends_with('-') {
        return fake();
    }
    v
}

struct Run {
    code: i32,
    report: Value,
}

impl Run {
    fn findings(&self) -> &Vec<Value> {
        self.report["findings"].as_array().expect("findings array")
    }

    fn errors(&self) -> &Vec<Value> {
        self.report["errors"].as_array().expect("errors array")
    }

    fn secrets(&self) -> Vec<&str> {
        self.findings()
            .iter()
            .map(|f| f["secret"].as_str().expect("secret"))
            .collect()
    }

    fn finding(&self, secret: &str) -> &Value {
        self.findings()
            .iter()
            .find(|f| f["secret"] == secret)
            .unwrap_or_else(|| panic!("no finding for a value; report: {}", self.report))
    }
}

/// Run `logs` with JSON output and secrets shown (tests compare values).
fn scan(args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let mut cmd = bin();
    cmd.args(["logs", "-f", "json", "--show-secrets"])
        .args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().expect("run cybrid-scan");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        report,
    }
}

fn loc(f: &Value) -> (u64, u64) {
    (
        f["location"]["line"].as_u64().expect("line"),
        f["location"]["column"].as_u64().expect("column"),
    )
}

/// 1-based line and byte column of the first occurrence of `needle`.
fn position_of(hay: &[u8], needle: &[u8]) -> (u64, u64) {
    let at = hay
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present");
    let line = hay[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = hay[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, (at - line_start) as u64 + 1)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

#[test]
fn github_actions_log_with_colours_timestamps_env_and_curl() {
    let path = fixture("github-actions.log");
    let raw = fs::read(&path).expect("fixture");
    let run = scan(&[path.to_str().expect("utf-8 path")], None);
    assert_eq!(run.code, 1, "{}", run.report);
    let mut secrets = run.secrets();
    secrets.sort();
    let mut want = vec![ENV_SECRET, SPLIT_SECRET, CURL_SECRET];
    want.sort();
    assert_eq!(secrets, want);

    // The `env` echo: paired with the id on the line above, original line and column.
    let env = run.finding(ENV_SECRET);
    assert_eq!(env["client_id"], ENV_ID);
    assert_eq!(env["location"]["source"], "log");
    assert!(env["location"]["path"]
        .as_str()
        .expect("path")
        .ends_with("github-actions.log"));
    assert_eq!(loc(env), position_of(&raw, ENV_SECRET.as_bytes()));

    // Split by a colour code: found whole, placed at its first byte, its end
    // column past the escape sequences inside it.
    let split = run.finding(SPLIT_SECRET);
    let (line, column) = position_of(&raw, &SPLIT_SECRET.as_bytes()[..12]);
    assert_eq!(loc(split), (line, column));
    assert_eq!(split["location"]["end_line"], line);
    let escapes = "\x1b[01;31m\x1b[K".len() + "\x1b[m\x1b[K".len();
    assert_eq!(
        split["location"]["end_column"],
        column + SPLIT_SECRET.len() as u64 + escapes as u64
    );

    // The failing curl to the token endpoint.
    let curl = run.finding(CURL_SECRET);
    assert_eq!(curl["client_id"], CURL_ID);
    assert_eq!(curl["environment_hint"], "sandbox");
    assert_eq!(loc(curl), position_of(&raw, CURL_SECRET.as_bytes()));
}

#[test]
fn gitlab_log_with_sections_stream_tags_and_wrapped_json() {
    let path = fixture("gitlab-ci.log");
    let raw = fs::read(&path).expect("fixture");
    let run = scan(&[path.to_str().expect("utf-8 path")], None);
    assert_eq!(run.code, 1, "{}", run.report);
    let mut secrets = run.secrets();
    secrets.sort();
    let mut want = vec![GL_SECRET, GL_JSON_SECRET];
    want.sort();
    assert_eq!(secrets, want);
    let yaml = run.finding(GL_SECRET);
    assert_eq!(yaml["client_id"], GL_ID);
    assert_eq!(loc(yaml), position_of(&raw, GL_SECRET.as_bytes()));
    // The value sits on the line after its key, behind a timestamp and a
    // stream tag: only found because those are stripped.
    let json = run.finding(GL_JSON_SECRET);
    assert_eq!(loc(json), position_of(&raw, GL_JSON_SECRET.as_bytes()));
}

#[test]
fn human_output_names_file_line_and_column_redacted() {
    let path = fixture("github-actions.log");
    let out = bin()
        .args(["logs", "--no-color"])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("github-actions.log"), "{text}");
    assert!(text.contains("21:51"), "{text}");
    assert!(
        !text.contains(ENV_SECRET),
        "secret printed without --show-secrets"
    );
    assert!(text.contains(&format!("{}{}", &ENV_SECRET[..4], "*".repeat(39))));
}

/// A log of `lines` filler lines with secrets at chosen lines (each with its context key).
fn synthetic_log(lines: usize, leaks: &[(usize, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 1..=lines {
        if let Some((_, v)) = leaks.iter().find(|(at, _)| *at == i) {
            out.extend_from_slice(
                format!("2024-05-01T10:00:00.0000000Z export CYBRID_CLIENT_SECRET={v}\n")
                    .as_bytes(),
            );
        } else {
            out.extend_from_slice(
                format!("2024-05-01T10:00:00.0000000Z step {i}: \x1b[32mok\x1b[0m compiling module_{i} (cached)\n")
                    .as_bytes(),
            );
        }
    }
    out
}

#[test]
fn secrets_across_window_boundaries_are_found_once_at_their_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let leaks: Vec<(usize, String)> = [3usize, 97, 98, 500, 1501, 2999]
        .iter()
        .map(|l| (*l, fake()))
        .collect();
    let log = synthetic_log(3000, &leaks);
    let path = dir.path().join("build.log");
    fs::write(&path, &log).expect("write log");
    let p = path.to_str().expect("utf-8 path");
    let whole = scan(&[p], None);
    assert_eq!(whole.findings().len(), leaks.len(), "{}", whole.report);
    // Windows of a few hundred bytes: every secret straddles some boundary
    // for one of these sizes, and the windows' overlap is larger than a chunk.
    for chunk in ["97", "256", "1000", "4096", "65536"] {
        let run = scan(&[p, "--chunk-size", chunk], None);
        assert_eq!(
            run.findings().len(),
            leaks.len(),
            "chunk {chunk}: {}",
            run.report
        );
        for (line, v) in &leaks {
            let f = run.finding(v);
            assert_eq!(loc(f), position_of(&log, v.as_bytes()), "chunk {chunk}");
            assert_eq!(loc(f).0, *line as u64);
        }
        assert_eq!(run.report["stats"]["bytes"], log.len() as u64);
    }
}

#[test]
fn secret_cut_by_the_end_of_a_read_is_found_once_and_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = "2024-05-01T10:00:00.0000000Z CYBRID_CLIENT_SECRET=";
    // The first window ends at byte 4096: cut the secret after 20 bytes (too
    // short to match) and after 41 (long enough to pass for a truncated value).
    for inside in [20usize, 41] {
        let v = fake();
        let filler = "x".repeat(4096 - prefix.len() - inside - 1);
        let after = "2024-05-01T10:00:01.0000000Z build step output\n".repeat(1000);
        let log = format!("{filler}\n{prefix}{v}\n{after}");
        let at = log.find(&v).expect("present");
        assert_eq!(at + inside, 4096);
        let path = dir.path().join(format!("edge-{inside}.log"));
        fs::write(&path, &log).expect("write");
        let run = scan(
            &[path.to_str().expect("utf-8"), "--chunk-size", "4096"],
            None,
        );
        assert_eq!(run.secrets(), vec![v.as_str()], "{}", run.report);
        assert_eq!(loc(&run.findings()[0]), (2, prefix.len() as u64 + 1));
        assert_eq!(run.findings()[0]["confidence"], "high");
    }
}

#[test]
fn gzip_is_read_by_magic_and_matches_the_plain_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = fs::read(fixture("github-actions.log")).expect("fixture");
    let gz = dir.path().join("job.log.gz");
    fs::write(&gz, gzip(&raw)).expect("write");
    // No .gz name: told by magic bytes alone.
    let unnamed = dir.path().join("job-output");
    fs::write(&unnamed, gzip(&raw)).expect("write");
    let plain = scan(
        &[fixture("github-actions.log").to_str().expect("utf-8")],
        None,
    );
    for p in [&gz, &unnamed] {
        let run = scan(&[p.to_str().expect("utf-8")], None);
        assert!(run.errors().is_empty(), "{}", run.report);
        let got: Vec<_> = run
            .findings()
            .iter()
            .map(|f| (f["secret"].clone(), loc(f)))
            .collect();
        let want: Vec<_> = plain
            .findings()
            .iter()
            .map(|f| (f["secret"].clone(), loc(f)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(run.report["stats"]["bytes"], raw.len() as u64);
    }
}

#[test]
fn truncated_gzip_keeps_findings_before_the_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let early = fake();
    let late = fake();
    // Random filler does not compress: the late secret is far into the stream.
    let mut log =
        format!("2024-05-01T10:00:00.0000000Z CYBRID_CLIENT_SECRET={early}\n").into_bytes();
    let mut noise = vec![0u8; 3 << 20];
    rand::thread_rng().fill_bytes(&mut noise);
    log.extend(
        URL_SAFE_NO_PAD
            .encode(&noise)
            .as_bytes()
            .chunks(100)
            .flat_map(|c| {
                let mut l = c.to_vec();
                l.push(b'\n');
                l
            }),
    );
    log.extend(format!("CYBRID_CLIENT_SECRET={late}\n").as_bytes());
    let gz = gzip(&log);
    let path = dir.path().join("cut.log.gz");
    fs::write(&path, &gz[..gz.len() / 2]).expect("write");
    let run = scan(&[path.to_str().expect("utf-8")], None);
    assert_eq!(run.secrets(), vec![early.as_str()], "{}", run.report);
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.report);
    assert!(errors[0]["path"]
        .as_str()
        .expect("path")
        .ends_with("cut.log.gz"));
    let msg = errors[0]["message"].as_str().expect("message");
    assert!(msg.contains("damaged or truncated after"), "{msg}");
    assert!(msg.contains("findings before that point"), "{msg}");
    assert!(!msg.contains(&early), "error leaks a secret");
}

#[test]
fn file_named_gz_that_is_not_gzip_is_scanned_as_text_and_noted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = fake();
    let path = dir.path().join("not-really.log.gz");
    fs::write(&path, format!("CYBRID_CLIENT_SECRET={v}\n")).expect("write");
    let run = scan(&[path.to_str().expect("utf-8")], None);
    assert_eq!(run.secrets(), vec![v.as_str()]);
    let notes = run.report["notes"].to_string();
    assert!(notes.contains("not gzip-compressed"), "{}", run.report);
}

#[test]
fn max_decompressed_size_stops_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let early = fake();
    let late = fake();
    let mut log = format!("CYBRID_CLIENT_SECRET={early}\n").into_bytes();
    log.extend(std::iter::repeat_n(b"all quiet on the build front\n", 100_000).flatten());
    log.extend(format!("CYBRID_CLIENT_SECRET={late}\n").as_bytes());
    let path = dir.path().join("bomb.log.gz");
    fs::write(&path, gzip(&log)).expect("write");
    let run = scan(
        &[
            path.to_str().expect("utf-8"),
            "--max-decompressed-size",
            "1M",
        ],
        None,
    );
    assert_eq!(run.secrets(), vec![early.as_str()], "{}", run.report);
    let msg = run.errors()[0]["message"].as_str().expect("message");
    assert!(msg.contains("--max-decompressed-size"), "{msg}");
    assert_eq!(run.report["stats"]["bytes"], 1 << 20);
    // Under the cap: the whole stream, no error.
    let run = scan(
        &[
            path.to_str().expect("utf-8"),
            "--max-decompressed-size",
            "10M",
        ],
        None,
    );
    assert_eq!(run.findings().len(), 2);
    assert!(run.errors().is_empty());
}

#[test]
fn standard_input_plain_gzip_and_default() {
    let raw = fs::read(fixture("gitlab-ci.log")).expect("fixture");
    let plain = scan(&["-"], Some(raw.clone()));
    assert_eq!(plain.findings().len(), 2, "{}", plain.report);
    assert_eq!(plain.findings()[0]["location"]["path"], "<stdin>");
    let gz = scan(&["-"], Some(gzip(&raw)));
    let lines = |r: &Run| r.findings().iter().map(loc).collect::<Vec<_>>();
    assert_eq!(lines(&gz), lines(&plain));
    // No input named and a pipe on standard input: it is read.
    let default = scan(&[], Some(raw));
    assert_eq!(lines(&default), lines(&plain));
}

#[test]
fn zip_archive_of_step_logs_names_the_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logs.zip");
    let gh = fs::read(fixture("github-actions.log")).expect("fixture");
    let gl = fs::read(fixture("gitlab-ci.log")).expect("fixture");
    {
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).expect("create zip"));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.add_directory("build/", opts).expect("dir");
        zip.start_file("build/1_Set up job.txt", opts)
            .expect("entry");
        zip.write_all(b"2024-05-01T10:00:00.0000000Z Current runner version: '2.316.0'\n")
            .expect("write");
        zip.start_file("build/3_Run tests.txt", opts)
            .expect("entry");
        zip.write_all(&gh).expect("write");
        zip.start_file("deploy/2_Deploy.txt.gz", opts)
            .expect("entry");
        zip.write_all(&gzip(&gl)).expect("write");
        zip.finish().expect("finish zip");
    }
    let run = scan(&[path.to_str().expect("utf-8")], None);
    assert!(run.errors().is_empty(), "{}", run.report);
    assert_eq!(run.findings().len(), 5, "{}", run.report);
    let env = run.finding(ENV_SECRET);
    assert_eq!(env["location"]["entry"], "build/3_Run tests.txt");
    assert!(env["location"]["path"]
        .as_str()
        .expect("path")
        .ends_with("logs.zip"));
    assert_eq!(loc(env), position_of(&gh, ENV_SECRET.as_bytes()));
    let json = run.finding(GL_JSON_SECRET);
    assert_eq!(json["location"]["entry"], "deploy/2_Deploy.txt.gz");
    assert_eq!(loc(json), position_of(&gl, GL_JSON_SECRET.as_bytes()));
    assert_eq!(run.report["stats"]["files"], 3);

    let out = bin()
        .args(["logs", "--no-color"])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("logs.zip!build/3_Run tests.txt"), "{text}");
}

#[test]
fn directories_are_walked_with_gzip_inside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("runs/1234");
    fs::create_dir_all(&nested).expect("mkdir");
    fs::copy(fixture("github-actions.log"), nested.join("job.log")).expect("copy");
    let gl = fs::read(fixture("gitlab-ci.log")).expect("fixture");
    fs::write(nested.join(".hidden-job.log.gz"), gzip(&gl)).expect("write");
    let run = scan(&[dir.path().to_str().expect("utf-8")], None);
    assert_eq!(run.findings().len(), 5, "{}", run.report);
    assert_eq!(run.report["stats"]["files"], 2);
}

#[test]
fn fifo_binary_garbage_and_invalid_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Binary garbage with invalid UTF-8 around a leaked line.
    let v = fake();
    let mut garbage = vec![0u8; 200_000];
    rand::thread_rng().fill_bytes(&mut garbage);
    garbage.extend_from_slice(b"\xff\xfe\xc3(\n");
    garbage.extend_from_slice(format!("CYBRID_CLIENT_SECRET={v}\n").as_bytes());
    garbage.extend_from_slice(&[0x80, 0x81, 0, 0, 0xc0]);
    let bin_path = dir.path().join("core.dump");
    fs::write(&bin_path, &garbage).expect("write");
    let run = scan(&[bin_path.to_str().expect("utf-8")], None);
    assert_eq!(run.secrets(), vec![v.as_str()]);
    assert!(run.errors().is_empty());

    // A FIFO named on the command line is read as a stream.
    let fifo = dir.path().join("live.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let raw = fs::read(fixture("gitlab-ci.log")).expect("fixture");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(fifo)
                .expect("open fifo");
            f.write_all(&raw).expect("write fifo");
        })
    };
    let run = scan(&[fifo.to_str().expect("utf-8")], None);
    writer.join().expect("writer");
    assert_eq!(run.findings().len(), 2, "{}", run.report);

    // In a directory walk a FIFO is skipped and listed, never opened (it would block).
    let run = scan(&[dir.path().to_str().expect("utf-8")], None);
    let skipped = run.report["skipped"].to_string();
    assert!(skipped.contains("live.pipe"), "{}", run.report);
    assert_eq!(run.secrets(), vec![v.as_str()]);
}

#[test]
fn unreadable_inputs_are_errors_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = fake();
    let good = dir.path().join("good.log");
    fs::write(&good, format!("CYBRID_CLIENT_SECRET={v}\n")).expect("write");
    let locked = dir.path().join("locked.log");
    fs::write(&locked, "CYBRID_CLIENT_SECRET=whatever\n").expect("write");
    let zstd = dir.path().join("job.log.zst");
    fs::write(&zstd, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).expect("write");
    let broken_zip = dir.path().join("broken.zip");
    fs::write(&broken_zip, b"PK\x03\x04 not really a zip").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    }
    let denied = fs::File::open(&locked).is_err(); // false when tests run as root
    let missing = dir.path().join("missing.log");
    let run = scan(
        &[
            missing.to_str().expect("utf-8"),
            locked.to_str().expect("utf-8"),
            zstd.to_str().expect("utf-8"),
            broken_zip.to_str().expect("utf-8"),
            good.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(run.secrets(), vec![v.as_str()]);
    let errors = run.errors();
    let message_for = |name: &str| {
        errors
            .iter()
            .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
    };
    assert!(message_for("missing.log").is_some_and(|m| m.contains("cannot open")));
    assert!(message_for("job.log.zst").is_some_and(|m| m.contains("zstd")));
    assert!(message_for("broken.zip").is_some_and(|m| m.contains("zip")));
    if denied {
        assert!(message_for("locked.log").is_some_and(|m| m.contains("ermission")));
    }
    assert_eq!(run.code, 1);
}

#[test]
fn big_file_split_across_cores_matches_a_single_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.log");
    let leaks: Vec<(usize, String)> = [1usize, 123_456, 250_001, 399_999, 480_000]
        .iter()
        .map(|l| (*l, fake()))
        .collect();
    // ~40 MB: above the size at which a plain file is split into segments.
    let log = synthetic_log(480_000, &leaks);
    assert!(log.len() > 36 << 20);
    fs::write(&path, &log).expect("write");
    let p = path.to_str().expect("utf-8");
    let one = scan(&[p, "--threads", "1"], None);
    let many = scan(&[p, "--threads", "4"], None);
    assert_eq!(placed(&one), placed(&many));
    assert_eq!(one.findings().len(), leaks.len());
    for (line, v) in &leaks {
        assert_eq!(loc(many.finding(v)), position_of(&log, v.as_bytes()));
        assert_eq!(loc(many.finding(v)).0, *line as u64);
    }
    assert_eq!(many.report["stats"]["bytes"], log.len() as u64);
    assert_eq!(many.report["stats"]["files"], 1);
}

/// A big log is read through memory maps (16 MiB at a time, 1 MiB windows)
/// unless `--no-mmap`: both read the same findings at the same places, for
/// secrets cut by a window's or a map's end, on one thread and split.
#[test]
fn a_big_log_read_through_maps_matches_plain_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.log");
    let cuts: [usize; 5] = [1 << 20, 2 << 20, (16 << 20) + 7, 17 << 20, (33 << 20) - 3];
    let mut log = Vec::with_capacity(34 << 20);
    let mut leaks = Vec::new();
    let mut i = 0usize;
    for cut in cuts {
        let v = fake();
        let line = format!("2024-05-01T10:00:00.0000000Z export CYBRID_CLIENT_SECRET={v}\n");
        // The secret starts 20 bytes before the cut.
        let start_at = cut - 20 - (line.len() - v.len() - 1);
        while log.len() < start_at {
            i += 1;
            let filler =
                format!("2024-05-01T10:00:00.0000000Z step {i}: ok compiling module_{i}\n");
            let room = start_at - log.len();
            if filler.len() <= room {
                log.extend_from_slice(filler.as_bytes());
            } else {
                log.extend(std::iter::repeat_n(b' ', room - 1));
                log.push(b'\n');
            }
        }
        log.extend_from_slice(line.as_bytes());
        leaks.push(v);
    }
    log.extend_from_slice(b"2024-05-01T10:00:00.0000000Z done\n");
    fs::write(&path, &log).expect("write");
    let p = path.to_str().expect("utf-8");
    let reference = scan(&[p, "--no-mmap", "--threads", "1"], None);
    assert_eq!(
        reference.findings().len(),
        leaks.len(),
        "{}",
        reference.report
    );
    for v in &leaks {
        assert_eq!(loc(reference.finding(v)), position_of(&log, v.as_bytes()));
    }
    for args in [
        &["--threads", "1"][..],
        &["--threads", "2"],
        &["--threads", "1", "--chunk-size", "65536"],
        &["--threads", "2", "--chunk-size", "300000"],
        &["--threads", "2", "--no-mmap"],
    ] {
        let run = scan(&[&[p][..], args].concat(), None);
        assert_eq!(placed(&run), placed(&reference), "{args:?}");
        assert!(run.errors().is_empty(), "{args:?}: {}", run.report);
        assert_eq!(run.report["stats"]["bytes"], log.len() as u64, "{args:?}");
    }
    // Standard input redirected from the file is read as the file (mapped,
    // split), and still named `<stdin>`.
    let out = bin()
        .args(["logs", "-f", "json", "--show-secrets", "-"])
        .pipe_stdin(&path)
        .expect("stdin from the file")
        .output()
        .expect("run cybrid-scan");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        report: serde_json::from_slice(&out.stdout).expect("JSON"),
    };
    assert_eq!(run.code, 1);
    assert_eq!(placed(&run), placed(&reference));
    assert!(
        run.findings()
            .iter()
            .all(|f| f["location"]["path"] == "<stdin>"),
        "{}",
        run.report
    );
}

/// Each finding's secret and position, sorted: what two runs must agree on.
fn placed(r: &Run) -> Vec<(String, (u64, u64))> {
    let mut v: Vec<_> = r
        .findings()
        .iter()
        .map(|f| (f["secret"].as_str().unwrap_or_default().to_string(), loc(f)))
        .collect();
    v.sort();
    v
}

/// Bytes that differ between two equal-length buffers.
fn differing(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "length changed");
    (0..a.len()).filter(|i| a[*i] != b[*i]).collect()
}

#[test]
fn redact_in_place_plain_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.log");
    let original = fs::read(fixture("github-actions.log")).expect("fixture");
    fs::write(&path, &original).expect("write");
    let p = path.to_str().expect("utf-8");
    let out = bin()
        .args(["logs", "-f", "json", "--redact-in-place", p])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report["notes"].to_string().contains("redacted in place"),
        "{report}"
    );

    let rewritten = fs::read(&path).expect("read back");
    // No plaintext copy is left behind unless asked for (--backup).
    let left: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("job.log")]);
    // Only the secrets' bytes (and paired ids) changed, each to '*' after its first four characters.
    let changed = differing(&original, &rewritten);
    assert!(!changed.is_empty());
    for i in &changed {
        assert_eq!(rewritten[*i], b'*');
    }
    let text = String::from_utf8_lossy(&rewritten);
    for v in [ENV_SECRET, CURL_SECRET, ENV_ID, CURL_ID] {
        assert!(!text.contains(v), "value left in the rewritten log");
        assert!(text.contains(&format!("{}{}", &v[..4], "*".repeat(39))));
    }
    // The split secret is redacted around its escape codes, which stay.
    assert!(!text.contains(&SPLIT_SECRET[4..12]));
    assert!(text.contains(&format!("{}********\x1b[01;31m\x1b[K", &SPLIT_SECRET[..4])));
    let expected_changes: usize = [ENV_SECRET, SPLIT_SECRET, CURL_SECRET, ENV_ID, CURL_ID]
        .iter()
        .map(|v| v.len() - 4)
        .sum();
    assert_eq!(changed.len(), expected_changes);

    // The rewritten log scans clean; a second pass changes nothing.
    let clean = scan(&[p], None);
    assert_eq!(clean.code, 0, "{}", clean.report);
    assert!(clean.findings().is_empty());
    let again = bin()
        .args(["logs", "-q", "--redact-in-place", p])
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(fs::read(&path).expect("read"), rewritten);
}

#[test]
fn redact_in_place_gzip_stays_gzip_without_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.log.gz");
    let original = fs::read(fixture("gitlab-ci.log")).expect("fixture");
    fs::write(&path, gzip(&original)).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    let p = path.to_str().expect("utf-8");
    let out = bin()
        .args(["logs", "-q", "--redact-in-place", "--no-backup", p])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("job.log.gz.bak").exists());
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
    let gz = fs::read(&path).expect("read");
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "no longer gzip");
    let mut rewritten = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut rewritten)
        .expect("valid gzip");
    for i in differing(&original, &rewritten) {
        assert_eq!(rewritten[i], b'*');
    }
    let text = String::from_utf8_lossy(&rewritten);
    for v in [GL_SECRET, GL_JSON_SECRET, GL_ID] {
        assert!(!text.contains(v));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "permissions not kept");
    }
    assert_eq!(scan(&[p], None).code, 0);
}

#[cfg(unix)]
#[test]
fn redact_in_place_backup_is_owner_only_and_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.log");
    let original = fs::read(fixture("github-actions.log")).expect("fixture");
    fs::write(&path, &original).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    // An older, world-readable backup is replaced, not reused.
    let bak = dir.path().join("job.log.bak");
    fs::write(&bak, "old").expect("write");
    fs::set_permissions(&bak, fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = bin()
        .args(["logs", "-q", "--redact-in-place", "--backup"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read(&bak).expect("backup"), original);
    let mode = |p: &std::path::Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&bak), 0o600, "backup readable by others");
    assert_eq!(mode(&path), 0o644, "the log's own mode changed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("plaintext").count(), 1, "{stderr}");
    assert!(stderr.contains("job.log.bak"), "{stderr}");
    assert!(!stderr.contains(ENV_SECRET) && !stderr.contains(CURL_SECRET));
    let left = fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(left, 2, "temporary files left behind");
}

#[test]
fn redact_in_place_refuses_what_it_cannot_rewrite_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = fake();
    let mut log = format!("CYBRID_CLIENT_SECRET={v}\n").into_bytes();
    let mut noise = vec![0u8; 1 << 20];
    rand::thread_rng().fill_bytes(&mut noise);
    log.extend(URL_SAFE_NO_PAD.encode(&noise).as_bytes());
    let gz = gzip(&log);
    let path = dir.path().join("cut.log.gz");
    fs::write(&path, &gz[..gz.len() / 2]).expect("write");
    let out = bin()
        .args(["logs", "-f", "json", "--redact-in-place"])
        .arg(&path)
        .output()
        .expect("run");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report["errors"].to_string().contains("not rewritten"),
        "{report}"
    );
    assert_eq!(fs::read(&path).expect("read"), gz[..gz.len() / 2]);

    let stdin = bin()
        .args(["logs", "--redact-in-place", "-"])
        .write_stdin(Vec::<u8>::new())
        .output()
        .expect("run");
    assert_eq!(stdin.status.code(), Some(2));
}
