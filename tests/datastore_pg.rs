//! `--datastore postgres://...` against a real PostgreSQL server: this test
//! binary starts one (initdb into a temporary directory, `pg_ctl start` on a
//! free loopback port; as `nobody` when run as root, since PostgreSQL refuses
//! to run as root), gives each test its own database, and stops the server
//! when the binary exits. Without PostgreSQL's server binaries the tests fail
//! and say how to get them, unless `CYBRID_SCAN_SKIP_PG=1` says to skip.
//!
//! The test: a sweep split into 4 shards running at once into one
//! PostgreSQL datastore gives the same incidents, occurrences and triage as
//! one unsharded sweep into SQLite.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use assert_cmd::Command;
use serde_json::Value;

use common::{git, pair, Pair};

/// The running server: its data directory, binaries and port.
struct Server {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `runuser -u nobody --` when the tests run as root.
    as_user: Option<&'static str>,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();

/// PostgreSQL's server binaries: `$CYBRID_SCAN_PG_BIN`, else the newest
/// Debian `/usr/lib/postgresql/N/bin`, else `pg_config --bindir`.
fn pg_bin() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("CYBRID_SCAN_PG_BIN").map(PathBuf::from) {
        return has(&d).then_some(d);
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    debian.sort();
    if let Some((_, d)) = debian.pop() {
        return Some(d);
    }
    let out = StdCommand::new("pg_config").arg("--bindir").output().ok()?;
    let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    has(&d).then_some(d)
}

fn run_as(server_user: Option<&str>, program: &Path) -> StdCommand {
    match server_user {
        Some(user) => {
            let mut c = StdCommand::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => StdCommand::new(program),
    }
}

extern "C" fn stop_server() {
    if let Some(Some(s)) = SERVER.get() {
        let _ = run_as(s.as_user, &s.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-s", "-D"])
            .arg(s.dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&s.dir);
    }
}

fn start_server() -> Option<Server> {
    let Some(bin) = pg_bin() else {
        if std::env::var("CYBRID_SCAN_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin, \
             $CYBRID_SCAN_PG_BIN or `pg_config --bindir`: install them (Debian: apt-get install postgresql) \
             or set CYBRID_SCAN_SKIP_PG=1 to skip the PostgreSQL datastore tests"
        );
    };
    let as_user = (unsafe { libc::geteuid() } == 0).then_some("nobody");
    let dir = tempfile::Builder::new()
        .prefix("cybrid-scan-pg.")
        .tempdir()
        .expect("tempdir")
        .keep();
    let data = dir.join("data");
    if as_user.is_some() {
        // The server runs as nobody: it owns its directory.
        let status = StdCommand::new("chown")
            .args(["nobody:", dir.to_str().expect("utf-8")])
            .status()
            .expect("chown");
        assert!(status.success(), "chown nobody {}", dir.display());
    }
    let out = run_as(as_user, &bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "cybrid",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
         -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=60"
    );
    let out = run_as(as_user, &bin.join("pg_ctl"))
        .args(["start", "-w", "-t", "60", "-s", "-o", &options, "-l"])
        .arg(dir.join("server.log"))
        .arg("-D")
        .arg(&data)
        .output()
        .expect("run pg_ctl start");
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    // Stopped when this binary exits; if it is killed instead, a watchdog
    // stops the server once this process is gone.
    unsafe { libc::atexit(stop_server) };
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 2; done; {stop} {pg_ctl} stop -m immediate -s -D {data}; rm -rf {dir}",
        pid = std::process::id(),
        stop = as_user.map_or(String::new(), |u| format!("runuser -u {u} --")),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let _ = StdCommand::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    Some(Server {
        dir,
        bin,
        port,
        as_user,
    })
}

/// A fresh, empty database on the shared server, as a `postgres://` URL;
/// `None` when `CYBRID_SCAN_SKIP_PG=1` and there is no server.
fn database(test: &str) -> Option<String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = SERVER.get_or_init(start_server).as_ref()?;
    let name = format!("{test}_{}", N.fetch_add(1, Ordering::Relaxed));
    let out = StdCommand::new(server.bin.join("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "cybrid",
            "-d",
            "postgres",
        ])
        .args(["-p", &server.port.to_string(), "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(format!(
        "postgres://cybrid@127.0.0.1:{}/{name}",
        server.port
    ))
}

macro_rules! database_or_skip {
    ($name:expr) => {
        match database($name) {
            Some(url) => url,
            None => {
                eprintln!("CYBRID_SCAN_SKIP_PG=1: PostgreSQL datastore test skipped");
                return;
            }
        }
    };
}

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("cybrid-scan").expect("binary");
    cmd.env_remove("CYBRID_SCAN_DATASTORE_WAIT_MS");
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().expect("run cybrid-scan");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn commit_file(repo: &Path, name: &str, text: &str) {
    let path = repo.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&path, text).expect("write");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", &format!("add {name}")]);
}

fn env_text(p: &Pair) -> String {
    format!(
        "CYBRID_CLIENT_ID={}\nCYBRID_CLIENT_SECRET={}\n",
        p.id, p.secret
    )
}

/// `n` repositories: each has its own pair, every third also one pair
/// shared by all of those (one incident recorded by several shards at once).
fn repositories(root: &Path, n: usize) -> (PathBuf, Vec<Pair>) {
    let shared = pair();
    let mut pairs = vec![shared.clone()];
    let mut lines = Vec::new();
    for i in 0..n {
        let repo = root.join(format!("repo-{i:02}"));
        fs::create_dir_all(&repo).expect("mkdir");
        git(&repo, &["init", "-q"]);
        commit_file(&repo, "README.md", &format!("# repo {i}\n"));
        let own = pair();
        commit_file(&repo, ".env", &env_text(&own));
        pairs.push(own);
        if i % 3 == 0 {
            // Each its own blob: a blob already scanned in another
            // repository is not read (nor attributed) again.
            commit_file(
                &repo,
                "deploy/cybrid.env",
                &format!("# repo {i}\n{}", env_text(&shared)),
            );
        }
        lines.push(repo.to_string_lossy().into_owned());
    }
    let manifest = root.join("manifest.txt");
    fs::write(&manifest, lines.join("\n") + "\n").expect("manifest");
    (manifest, pairs)
}

fn incidents(ds: &str) -> Vec<Value> {
    let out = run(bin().args(["incidents", "list", "--format", "json", "--datastore", ds]));
    assert_eq!(out.code, 0, "incidents list: {}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("incidents JSON");
    v["incidents"].as_array().cloned().unwrap_or_default()
}

/// Every incident with its places and triage history, without what
/// depends on when it was recorded.
fn state(ds: &str) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for i in incidents(ds) {
        let fp = i["fingerprint"].as_str().expect("fingerprint").to_string();
        let out = run(bin().args([
            "incidents",
            "show",
            &fp,
            "--format",
            "json",
            "--datastore",
            ds,
        ]));
        assert_eq!(out.code, 0, "incidents show: {}", out.stderr);
        let mut v: Value = serde_json::from_str(&out.stdout).expect("show JSON");
        let obj = v.as_object_mut().expect("object");
        for key in ["first_seen", "last_seen"] {
            obj.remove(key);
        }
        for place in obj
            .get_mut("places")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            place.as_object_mut().map(|p| p.remove("first_seen"));
        }
        for change in obj
            .get_mut("history")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            change.as_object_mut().map(|c| c.remove("at"));
        }
        all.insert(fp, v);
    }
    all
}

fn sweep(manifest: &Path, ds: &str, extra: &[&str]) -> Out {
    run(bin()
        .args(["sweep", "--manifest"])
        .arg(manifest)
        .args(["--datastore", ds, "-f", "json", "-q"])
        .args(extra))
}

fn triage(ds: &str, fp: &str, status: &str, note: &str) {
    let out = run(bin().args([
        "incidents",
        "triage",
        fp,
        "--status",
        status,
        "--note",
        note,
        "--who",
        "ann",
        "--datastore",
        ds,
    ]));
    assert_eq!(out.code, 0, "triage: {}", out.stderr);
}

#[test]
fn four_concurrent_shards_into_postgres_equal_one_sweep_into_sqlite() {
    let pg = database_or_skip!("shards");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (manifest, pairs) = repositories(tmp.path(), 12);
    let sqlite = tmp.path().join("incidents.db");
    let sqlite = sqlite.to_str().expect("utf-8");

    // Both datastores know one repository first, and one of its incidents
    // is triaged: the sweeps must keep that triage.
    let first = tmp.path().join("first.txt");
    fs::write(
        &first,
        fs::read_to_string(&manifest)
            .expect("manifest")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("write");
    for ds in [pg.as_str(), sqlite] {
        let out = sweep(&first, ds, &[]);
        assert_eq!(out.code, 1, "first sweep into {ds}: {}", out.stderr);
    }
    let known = incidents(sqlite);
    assert_eq!(known.len(), 2, "the shared pair and repo-00's own");
    let fp = known[0]["fingerprint"].as_str().expect("fingerprint");
    for ds in [pg.as_str(), sqlite] {
        triage(ds, fp, "test_credential", "sandbox key of the quick-start");
    }

    // One unsharded sweep into SQLite; four shards at once into PostgreSQL.
    let whole = sweep(&manifest, sqlite, &[]);
    assert_eq!(whole.code, 1, "unsharded sweep: {}", whole.stderr);
    let shards: Vec<_> = (0..4)
        .map(|k| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cybrid-scan"));
            cmd.args(["sweep", "--manifest"])
                .arg(&manifest)
                .args([
                    "--shard",
                    &format!("{k}/4"),
                    "--datastore",
                    &pg,
                    "-f",
                    "json",
                    "-q",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn shard")
        })
        .collect();
    for (k, child) in shards.into_iter().enumerate() {
        let out = child.wait_with_output().expect("shard");
        assert!(
            [0, 1].contains(&out.status.code().unwrap_or(-1)),
            "shard {k}/4: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let (from_pg, from_sqlite) = (state(&pg), state(sqlite));
    assert_eq!(from_sqlite.len(), pairs.len(), "one incident per pair");
    assert_eq!(
        from_pg, from_sqlite,
        "PostgreSQL (4 shards) differs from SQLite (1 sweep)"
    );
    let shared = &from_pg[fp];
    assert_eq!(shared["status"], "test_credential");
    assert_eq!(shared["history"].as_array().map(Vec::len), Some(1));
    // Every incident has all its places: 12 repositories, the shared pair in 4.
    let places: usize = from_pg
        .values()
        .map(|v| v["places"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(places, 12 + 4);

    // No secret anywhere in the database.
    let dump = pg_dump(&pg);
    for p in &pairs {
        assert!(
            !dump.contains(&p.secret),
            "a secret is stored in PostgreSQL"
        );
    }
}

fn pg_dump(url: &str) -> String {
    let server = SERVER
        .get()
        .and_then(Option::as_ref)
        .expect("server started");
    let out = StdCommand::new(server.bin.join("pg_dump"))
        .arg("--data-only")
        .arg(url)
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn concurrent_triage_and_scans_lose_no_change() {
    let pg = database_or_skip!("triage");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (manifest, _) = repositories(tmp.path(), 4);
    let out = sweep(&manifest, &pg, &[]);
    assert_eq!(out.code, 1, "sweep: {}", out.stderr);
    let fps: Vec<String> = incidents(&pg)
        .iter()
        .filter_map(|i| i["fingerprint"].as_str().map(str::to_string))
        .collect();
    assert_eq!(fps.len(), 5);
    // Each incident triaged twice by its own process, all at once, while
    // two more sweeps record into the same database.
    let exe = assert_cmd::cargo::cargo_bin("cybrid-scan");
    let mut children = Vec::new();
    for fp in &fps {
        for (status, note) in [("accepted_risk", "first"), ("false_positive", "second")] {
            let mut cmd = std::process::Command::new(&exe);
            cmd.args([
                "incidents",
                "triage",
                fp,
                "--status",
                status,
                "--note",
                note,
            ])
            .args(["--who", "ann", "--datastore", &pg])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
            children.push(cmd.spawn().expect("spawn triage"));
        }
    }
    for _ in 0..2 {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["sweep", "--manifest"])
            .arg(&manifest)
            .args(["--datastore", &pg, "-q", "-f", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        children.push(cmd.spawn().expect("spawn sweep"));
    }
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            [0, 1].contains(&out.status.code().unwrap_or(-1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (fp, v) in state(&pg) {
        let history = v["history"].as_array().cloned().unwrap_or_default();
        assert_eq!(history.len(), 2, "{fp}: every triage kept: {history:?}");
        // Each change starts where the previous one ended: none was lost.
        assert_eq!(history[0]["from"], "open");
        assert_eq!(history[1]["from"], history[0]["to"]);
        assert_eq!(v["status"], history[1]["to"]);
    }
}

#[test]
fn a_database_of_another_program_is_refused_and_an_unreachable_server_fails_closed() {
    let pg = database_or_skip!("foreign");
    let server = SERVER.get().and_then(Option::as_ref).expect("server");
    let out = StdCommand::new(server.bin.join("psql"))
        .args(["-X", "-q", &pg, "-c", "CREATE TABLE accounts (id int)"])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let p = pair();
    fs::write(dir.path().join(".env"), env_text(&p)).expect("write");
    let out = run(bin().arg("dir").arg(dir.path()).args(["--datastore", &pg]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not a cybrid-scan datastore"),
        "{}",
        out.stderr
    );

    // incidents and report never create one: an empty database is refused.
    let empty = database("empty").expect("database");
    let out = run(bin().args(["incidents", "list", "--datastore", &empty]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    // Nothing listens there; the password never shows.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("postgres://cybrid:hunter2pass@127.0.0.1:{port}/x");
    let out = run(bin().arg("dir").arg(dir.path()).args(["--datastore", &url]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2pass"), "{}", out.stderr);
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);
}

#[test]
fn incremental_scans_and_reports_work_the_same_on_postgres() {
    let pg = database_or_skip!("incremental");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (manifest, _) = repositories(tmp.path(), 2);
    let first = sweep(&manifest, &pg, &[]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let second = sweep(&manifest, &pg, &[]);
    let report: Value = serde_json::from_str(&second.stdout).expect("JSON");
    assert_eq!(
        report["stats"]["bytes"], 0,
        "the second sweep read nothing again"
    );
    for format in ["json", "sarif", "html"] {
        let out = run(bin().args(["report", "--datastore", &pg, "--format", format]));
        assert!(
            [0, 1].contains(&out.code),
            "report {format}: {}",
            out.stderr
        );
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn first_runs_at_once_into_a_new_database_create_the_schema_once() {
    let pg = database_or_skip!("fresh");
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = assert_cmd::cargo::cargo_bin("cybrid-scan");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let dir = tmp.path().join(format!("d{i}"));
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(dir.join(".env"), env_text(&pair())).expect("write");
            std::process::Command::new(&exe)
                .arg("dir")
                .arg(&dir)
                .args(["-q", "--datastore", &pg])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(incidents(&pg).len(), 4);
}
