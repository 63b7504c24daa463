//! Hostile inputs: what an attacker (or an unlucky CI machine) can put in
//! front of the scanner. Each test runs the real binary under a watchdog: a
//! scan that hangs fails the test instead of hanging the suite. The watchdog
//! only catches hangs (minutes); no test asserts a speed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generated, fake values (python `secrets.token_bytes(32)`, urlsafe base64).
const SECRET: &str = "q4Vd9xLr2NcZp7Tg0HsWb3Ky6MfJe1QaUo5Ri8XnEtC";
const CLIENT_ID: &str = "Wm3Fh8Kc1Pz6Tq0Vn4Rb9Xs2Lj7Gd5Ya3Eo8Ui1NwM";

/// Long enough for a debug build on a loaded 2-core machine; a hang is forever.
const WATCHDOG: Duration = Duration::from_secs(300);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"));
    c.env_remove("NO_COLOR").env_remove("RUST_BACKTRACE");
    c
}

/// Run the binary in `dir`; fail (and kill it) if it outlives the watchdog.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_measured(dir, args, env).0
}

/// As `run_in`, also returning the child's peak resident memory in bytes
/// (its own `ru_maxrss`, from `wait4`, so tests running in parallel do not mix).
// The child is reaped by `wait4`, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, u64) {
    let mut cmd = bin();
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn cybrid-scan");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    // Drain both pipes on threads so a large report cannot block the child.
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).map(|_| b)
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).map(|_| b)
    });
    let started = Instant::now();
    let pid = child.id() as libc::pid_t;
    let (status, peak) = loop {
        let mut raw = 0;
        // SAFETY: wait4 on our own child with valid out-pointers; rusage is plain data.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut raw, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4 failed");
        if r == pid {
            use std::os::unix::process::ExitStatusExt;
            // ru_maxrss is in KiB on Linux.
            break (
                std::process::ExitStatus::from_raw(raw),
                usage.ru_maxrss as u64 * 1024,
            );
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cybrid-scan {args:?} hung (killed after {WATCHDOG:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: out_reader.join().expect("join").expect("read stdout"),
        stderr: err_reader.join().expect("join").expect("read stderr"),
    };
    (out, peak)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

fn secret_file() -> String {
    format!("CYBRID_CLIENT_ID={CLIENT_ID}\nCYBRID_CLIENT_SECRET={SECRET}\n")
}

fn finding_paths(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["location"]["path"].as_str().expect("path").to_string())
        .collect()
}

fn listed(report: &Value, list: &str, path: &str) -> Option<String> {
    let key = if list == "errors" {
        "message"
    } else {
        "reason"
    };
    report[list]
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["path"].as_str() == Some(path))
        .map(|e| e[key].as_str().unwrap_or_default().to_string())
}

/// A million files, made as hard links to a tiny file per directory (a million
/// directory entries, a thousand inodes: seconds to make, no disk to speak of). Every one is
/// walked, read and counted; the one real secret among them is found once.
/// Runtime: about 40 s in a debug build on 2 cores (mostly the walk itself).
#[cfg(unix)]
#[test]
fn a_million_tiny_files() {
    const DIRS: usize = 1000;
    const PER_DIR: usize = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for d in 0..DIRS {
        // One inode per directory (ext4 allows 65,000 links to an inode).
        let sub = root.join(format!("d{d:03}"));
        let tiny = sub.join("f000");
        write(&tiny, "x=1\n");
        for f in 1..PER_DIR {
            std::fs::hard_link(&tiny, sub.join(format!("f{f:03}"))).expect("link");
        }
    }
    write(&root.join("d500/.env"), secret_file());
    let out = run_in(root, &["dir", ".", "-f", "json", "-q"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(finding_paths(&report), vec!["d500/.env"]);
    assert_eq!(report["stats"]["files"], (DIRS * PER_DIR + 1) as u64);
    assert_eq!(report["stats"]["errors"], 0);
}

/// Directories nested 10,000 deep (a path of 20,000 bytes, five times what
/// the kernel accepts in one path). Made with `mkdirat`, as no path can name
/// the bottom. The scan neither overflows its stack nor stops: what the OS
/// cannot open is listed in `errors`, and files at reachable depths are found.
#[cfg(target_os = "linux")]
#[test]
fn directories_nested_ten_thousand_deep() {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let c_root = CString::new(root.as_os_str().as_bytes()).expect("path");
    let name = CString::new("d").expect("name");
    let env_name = CString::new(".env").expect("name");
    let content = secret_file();
    // SAFETY: plain POSIX calls on file descriptors this test owns; each fd is
    // wrapped in an OwnedFd at once, so it is closed exactly once.
    let mut fd = unsafe {
        let raw = libc::open(c_root.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
        assert!(raw >= 0, "open root");
        OwnedFd::from_raw_fd(raw)
    };
    for depth in 1..=10_000 {
        unsafe {
            use std::os::fd::AsRawFd;
            assert_eq!(
                libc::mkdirat(fd.as_raw_fd(), name.as_ptr(), 0o755),
                0,
                "mkdirat {depth}"
            );
            let raw = libc::openat(
                fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY,
            );
            assert!(raw >= 0, "openat {depth}");
            fd = OwnedFd::from_raw_fd(raw);
            // A secret at depth 100 (reachable by path) and at the very bottom.
            if depth == 100 || depth == 10_000 {
                let f = libc::openat(
                    fd.as_raw_fd(),
                    env_name.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY,
                    0o644,
                );
                assert!(f >= 0, "create .env");
                let mut file = std::fs::File::from_raw_fd(f);
                std::io::Write::write_all(&mut file, content.as_bytes()).expect("write");
            }
        }
    }
    drop(fd);
    let out = run_in(root, &["dir", ".", "-f", "json", "-q"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let paths = finding_paths(&report);
    let at_100 = format!("{}.env", "d/".repeat(100));
    assert!(paths.contains(&at_100), "{paths:?}");
    // The bottom cannot be reached by path: that is reported, not silent.
    let errors = report["errors"].as_array().expect("errors");
    if !paths.iter().any(|p| p.len() > 20_000) {
        assert!(
            errors.iter().any(|e| e["message"]
                .as_str()
                .is_some_and(|m| m.contains("too long") || m.contains("File name"))),
            "{errors:?}"
        );
    }
}

/// File names a terminal would act on: escape sequences, newlines, C1
/// controls, bidi overrides, invalid UTF-8. The human report shows them
/// escaped; not one raw control byte from a name reaches standard output or
/// standard error, and JSON keeps them as JSON escapes.
#[cfg(target_os = "linux")]
#[test]
fn hostile_file_names_cannot_reach_the_terminal() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let names: [&[u8]; 5] = [
        b"clear\x1b[2J\x1b]0;pwned\x07.env",
        b"two\nlines\r.env",
        b"c1\xc2\x9b31m.env",
        b"bidi\xe2\x80\xaevne.txt",
        b"latin1-\xff\xfe.env",
    ];
    for n in names {
        write(&root.join(OsStr::from_bytes(n)), secret_file());
    }
    // An unreadable entry with a hostile name: its error goes to stderr.
    std::os::unix::fs::symlink("missing", root.join(OsStr::from_bytes(b"dangling\x1b[31m")))
        .expect("symlink");
    let out = run_in(root, &["dir", ".", "--follow", "--no-color"], &[]);
    assert_eq!(out.status.code(), Some(1));
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!bytes.contains(&0x1b), "raw ESC on {stream}: {text}");
        assert!(!bytes.contains(&0x07), "raw BEL on {stream}: {text}");
        assert!(!text.contains('\u{9b}'), "raw CSI on {stream}: {text}");
        assert!(
            !text.contains('\u{202e}'),
            "raw bidi override on {stream}: {text}"
        );
        assert!(
            !text.contains("two\nlines"),
            "raw newline in a name on {stream}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("clear\\x1b[2J\\x1b]0;pwned\\x07.env"),
        "{stdout}"
    );
    assert!(stdout.contains("two\\nlines\\r.env"), "{stdout}");
    assert!(stdout.contains("bidi\\u{202e}vne.txt"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dangling\\x1b[31m"));
    // Every file was scanned: five findings, whatever the names.
    let report = json_of(&run_in(root, &["dir", ".", "-f", "json"], &[]));
    assert_eq!(finding_paths(&report).len(), 5);
    assert!(finding_paths(&report).contains(&"clear\x1b[2J\x1b]0;pwned\x07.env".to_string()));
}

/// A Cybrid-issued token whose payload carries terminal escapes in a field the
/// human report prints (`sub_type`): the report shows them escaped.
#[test]
fn escapes_inside_a_scanned_token_cannot_reach_the_terminal() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let payload = r#"{"iss":"https://id.sandbox.cybrid.app","sub":"x","sub_type":"bank\u001b[2J\u001b]0;owned\u0007","exp":4102444800}"#;
    let token = format!(
        "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("curl.sh"),
        format!("Authorization: Bearer {token}\n"),
    );
    let out = run_in(dir.path(), &["dir", ".", "--no-color"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bank\\x1b[2J"));
}

/// `/dev/zero` never ends and a FIFO blocks whoever opens it for reading:
/// as a path argument, inside a tree, and behind a symbolic link with and
/// without `--follow`, each is skipped and listed, and the scan finishes.
#[cfg(unix)]
#[test]
fn dev_zero_and_fifos_never_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join("tree/.env"), secret_file());
    std::os::unix::fs::symlink("/dev/zero", root.join("tree/zero")).expect("symlink");
    let fifo = root.join("tree/pipe");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("path");
    // SAFETY: mkfifo on a NUL-terminated path this test owns.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("pipe", root.join("tree/pipe-link")).expect("symlink");
    for follow in [false, true] {
        let mut args = vec![
            "dir",
            "tree",
            "tree/pipe",
            "tree/zero",
            "/dev/zero",
            "-f",
            "json",
        ];
        if follow {
            args.push("--follow");
        }
        let out = run_in(root, &args, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json_of(&out);
        assert_eq!(finding_paths(&report), vec![".env"]);
        for p in [
            "tree/pipe",
            "tree/zero",
            "/dev/zero",
            "pipe",
            "zero",
            "pipe-link",
        ] {
            let reason = listed(&report, "skipped", p).unwrap_or_else(|| {
                panic!(
                    "{p} not listed as skipped (follow={follow}): {}",
                    report["skipped"]
                )
            });
            assert!(
                reason.contains("not a regular file") || reason.contains("symbolic link"),
                "{p}: {reason}"
            );
        }
    }
}

/// A user rule with a pattern that backtracking engines take exponential time
/// on. The `regex` crate is linear-time (finite automata, no backtracking),
/// so a 1 MB run of `a` is searched in one pass.
#[test]
fn catastrophic_regex_in_a_rules_file_is_linear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        &root.join("rules/evil.toml"),
        r#"
[[rules]]
id = "evil"
name = "evil"
description = "exponential for a backtracking engine"
kind = "client-secret"
keywords = ["aaaa"]
[[rules.patterns]]
regex = '''(?P<secret>(a+)+$)'''
[[rules.patterns]]
regex = '''(?P<secret>(a|aa)+(b|c)+(a*)*$)'''
"#,
    );
    let mut input = "a".repeat(1 << 20);
    input.push('!');
    write(&root.join("scan/input.txt"), &input);
    let out = run_in(
        root,
        &["dir", "scan", "--rules", "rules", "-f", "json"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["stats"]["files"], 1);
    // A pattern whose automaton would be huge is refused at load time, naming the file.
    write(
        &root.join("huge/huge.toml"),
        r#"
[[rules]]
id = "huge"
name = "huge"
description = "an automaton too large to build"
kind = "client-secret"
keywords = ["x"]
[[rules.patterns]]
regex = '''(?P<secret>\w{1000}\w{1000}\w{1000}\w{1000})'''
"#,
    );
    let out = run_in(root, &["dir", "scan", "--rules", "huge"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("huge.toml") && err.contains("huge"), "{err}");
}

/// A 2 GB file that is one line (sparse, so it costs no disk): skipped and
/// reported under the default --max-file-size, never read into memory.
#[cfg(unix)]
#[test]
fn a_two_gigabyte_single_line_is_skipped_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join(".env"), secret_file());
    let big = std::fs::File::create(root.join("one-line.log")).expect("create");
    big.set_len(2 << 30).expect("sparse 2 GB");
    drop(big);
    let out = run_in(root, &["dir", ".", "-f", "json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(finding_paths(&report), vec![".env"]);
    let reason = listed(&report, "skipped", "one-line.log").expect("listed as skipped");
    assert!(reason.contains("max-file-size"), "{reason}");
    assert!(report["stats"]["bytes"].as_u64().expect("bytes") < 1 << 20);
}

/// 100,000 pairs in one 13 MB file, and the same on one minified line: every
/// candidate looks up its context and its partner by binary search, so this
/// is seconds (it was quadratic: about 40 minutes for 200,000).
#[test]
fn a_hundred_thousand_pairs_in_one_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let value = |i: usize, salt: u8| {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        use sha2::Digest;
        let raw = sha2::Sha256::new()
            .chain_update([salt])
            .chain_update(i.to_le_bytes())
            .finalize();
        URL_SAFE_NO_PAD.encode(raw)
    };
    let mut lines = String::new();
    let mut one_line = String::new();
    for i in 0..100_000 {
        let (id, secret) = (value(i, 0x5a), value(i, 0xa7));
        lines.push_str(&format!(
            "CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET={secret}\n"
        ));
        one_line.push_str(&format!(
            "cybrid_client_id=\"{id}\" cybrid_client_secret=\"{secret}\" "
        ));
    }
    write(&root.join("many.env"), lines);
    write(&root.join("bundle.min.js"), one_line);
    let out = run_in(root, &["dir", ".", "-f", "jsonl"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 200_000);
    assert_eq!(
        text.lines().filter(|l| l.contains("\"client_id\"")).count(),
        200_000,
        "every secret paired with its id"
    );
}

/// A scan writes nothing to the temp directory (no spill files that could
/// hold a secret), and the report it writes is redacted.
#[test]
fn no_temp_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scan = tempfile::tempdir().expect("tempdir");
    write(&scan.path().join(".env"), secret_file());
    let out = run_in(
        scan.path(),
        &["dir", ".", "-f", "json", "-o", "report.json"],
        &[("TMPDIR", tmp.path().to_str().expect("utf8"))],
    );
    assert_eq!(out.status.code(), Some(1));
    let left: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let report = std::fs::read_to_string(scan.path().join("report.json")).expect("report");
    assert!(!report.contains(SECRET));
}

/// A panic inside the engine whose message holds a secret (injected with the
/// `fault-injection` feature, which only test builds have), with
/// `RUST_BACKTRACE=1`: standard error names an internal error and where, and
/// holds neither the secret nor its client_id. The run ends with status 2.
#[cfg(feature = "fault-injection")]
#[test]
fn a_panic_in_the_engine_prints_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join(".env"), secret_file());
    for threads in ["1", "2"] {
        let out = run_in(
            dir.path(),
            &["dir", ".", "--threads", threads, "-f", "json"],
            &[
                ("CYBRID_SCAN_FAULT", "engine-panic"),
                ("RUST_BACKTRACE", "1"),
            ],
        );
        let all = [out.stdout.clone(), out.stderr.clone()].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("internal error"), "{text}");
        assert!(
            text.contains("fault.rs"),
            "the panic happened where injected: {text}"
        );
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains(&SECRET[4..20]), "{text}");
        assert!(!text.contains(CLIENT_ID), "{text}");
        assert_eq!(out.status.code(), Some(2));
    }
}

/// The log source reads a 2 GB file that is one line (sparse zeros, the
/// secret at the very end) as a stream: found at line 1, column ~2^31, in
/// bounded memory (windows of 1 MiB plus lookback, not the line).
#[cfg(target_os = "linux")]
#[test]
fn a_two_gigabyte_single_line_streams_through_the_log_source() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let tail = format!(" cybrid client_secret={SECRET}");
    let size: u64 = 2 << 30;
    let mut big = std::fs::File::create(root.join("one-line.log")).expect("create");
    big.set_len(size).expect("sparse 2 GB");
    big.seek(SeekFrom::Start(size - tail.len() as u64))
        .expect("seek");
    big.write_all(tail.as_bytes()).expect("write tail");
    drop(big);
    let (out, peak) = run_measured(
        root,
        &["logs", "one-line.log", "-f", "json", "--threads", "2"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let f = &report["findings"][0]["location"];
    assert_eq!(f["line"], 1);
    assert_eq!(f["column"], size - SECRET.len() as u64 + 1);
    assert!(
        peak < 256 << 20,
        "peak RSS {} MiB for a 2 GB line",
        peak >> 20
    );
}

/// In a directory of logs, a link to /dev/zero and a FIFO are skipped and
/// listed (only a path named on the command line is read as a stream).
#[cfg(unix)]
#[test]
fn the_log_source_skips_dev_zero_and_fifos_met_in_a_walk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join("logs/job.log"), secret_file());
    std::os::unix::fs::symlink("/dev/zero", root.join("logs/zero.log")).expect("symlink");
    let c =
        std::ffi::CString::new(root.join("logs/pipe.log").to_str().expect("utf8")).expect("path");
    // SAFETY: mkfifo on a NUL-terminated path this test owns.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = run_in(root, &["logs", "logs", "-f", "json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    for p in ["logs/zero.log", "logs/pipe.log"] {
        assert!(
            listed(&report, "skipped", p).is_some(),
            "{p}: {}",
            report["skipped"]
        );
    }
}

/// A zip of logs whose entries inflate to 8 × 64 MiB (a zip bomb of 600 KB).
/// The first entry is a real, repetitive log (compression over 1000:1) with a
/// secret on its last line: it is scanned whole and the secret found; the
/// decompression cap then stops the rest, says so in `errors`, and memory
/// stays bounded whatever the ratio.
#[cfg(target_os = "linux")]
#[test]
fn zip_bomb_is_capped_and_a_repetitive_real_log_is_not() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let file = std::fs::File::create(root.join("logs.zip")).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let line = b"2024-05-01T10:00:00.0000000Z npm WARN deprecated inflight@1.0.6: leaks memory\n";
    let block: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
    zip.start_file("1_build.txt", opts).expect("entry");
    for _ in 0..40 {
        zip.write_all(&block).expect("write");
    }
    zip.write_all(secret_file().as_bytes()).expect("write");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..8 {
        zip.start_file(format!("{}_bomb.txt", i + 2), opts)
            .expect("entry");
        for _ in 0..64 {
            zip.write_all(&zeros).expect("write");
        }
    }
    zip.finish().expect("finish");
    let (out, peak) = run_measured(
        root,
        &[
            "logs",
            "logs.zip",
            "-f",
            "json",
            "--max-decompressed-size",
            "100M",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    let newlines = 40 * block.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(findings[0]["location"]["line"], newlines + 2);
    let errors = report["errors"].to_string();
    assert!(errors.contains("max-decompressed-size"), "{errors}");
    assert!(peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
}

/// Memory grows with findings (about 2 KB each), so `--max-findings` caps
/// them: the report keeps that many, and says in `errors` how many more
/// there were; the exit status still says findings remain.
#[test]
fn max_findings_caps_what_is_kept_and_says_so() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use sha2::Digest;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::new();
    for i in 0..5_000u32 {
        let v = |salt: u8| {
            URL_SAFE_NO_PAD.encode(
                sha2::Sha256::new()
                    .chain_update([salt])
                    .chain_update(i.to_le_bytes())
                    .finalize(),
            )
        };
        text.push_str(&format!(
            "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
            v(1),
            v(2)
        ));
    }
    write(&dir.path().join("many.env"), text);
    for source in ["dir", "logs"] {
        let out = run_in(
            dir.path(),
            &[source, "many.env", "-f", "json", "--max-findings", "100"],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        let report = json_of(&out);
        assert_eq!(report["findings"].as_array().map(Vec::len), Some(100));
        let errors = report["errors"].to_string();
        assert!(
            errors.contains("--max-findings 100 reached: 4900 more"),
            "{source}: {errors}"
        );
    }
}

/// A big log truncated by another process while it is read through a memory
/// map (injected right after the map is made): the scan does not die of
/// `SIGBUS`; it names the file as cut short and where, and still reports the
/// leak it read before the cut (status 1: findings win over partial damage).
#[cfg(all(feature = "fault-injection", target_os = "linux"))]
#[test]
fn a_log_truncated_under_the_mapped_reader_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Vec::with_capacity(40 << 20);
    log.extend_from_slice(secret_file().as_bytes());
    while log.len() < 40 << 20 {
        log.extend_from_slice(
            b"2024-05-01T10:00:00.0000000Z npm install ok passed 200 GET retry\n",
        );
    }
    log.extend_from_slice(b"CYBRID_CLIENT_ID=Zk2Lp9Qr4Ts7Vw1Xy5Bn8Cm3Df6Gh0Jk2Lp9Qr4Ts7Vw\n");
    write(&dir.path().join("big.log"), &log);
    for threads in ["1", "2"] {
        std::fs::write(dir.path().join("big.log"), &log).expect("rewrite");
        let out = run_in(
            dir.path(),
            &["logs", "big.log", "--threads", threads, "-f", "json"],
            &[("CYBRID_SCAN_FAULT", "truncate-after-map")],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}\n{text}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        let errors = report["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["path"] == "big.log"
                && e["message"].as_str().unwrap_or_default().contains(&format!(
                    "after {} bytes (the file was cut short",
                    log.len() / 4
                ))),
            "{text}"
        );
        let findings = report["findings"].as_array().expect("findings");
        assert!(
            findings.iter().any(|f| f["location"]["line"] == 2),
            "the leak read before the cut is reported: {text}"
        );
        assert!(!text.contains(SECRET) && !stderr.contains(SECRET));
    }
}
