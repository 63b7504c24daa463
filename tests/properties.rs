//! Property tests: for generated credentials planted in generated text, the
//! engine finds each exactly once at the right line and column, whatever the
//! offset, line ending or (for the log source) read-window size; and no
//! report format, `Debug` output or message ever holds a secret unless
//! `--show-secrets` asked for it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;

use cybrid_scan::collect::{to_findings, Collector};
use cybrid_scan::detect::{Engine, Scratch};
use cybrid_scan::finding::{Finding, Location, SourceKind};
use cybrid_scan::report::{write_report, Format, OutputOptions, Report, Reveal};
use cybrid_scan::rules::load_rules;
use cybrid_scan::source::log::{scan_logs, LogOptions};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(load_rules(&[]).expect("built-in rules")))
}

/// A client_secret or client_id as Cybrid issues them: 32 random bytes, base64url.
fn credential() -> impl Strategy<Value = String> {
    proptest::array::uniform32(any::<u8>()).prop_map(|b| URL_SAFE_NO_PAD.encode(b))
}

/// A Cybrid-issued access token with a random subject and signature.
fn cybrid_jwt() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["sandbox", "production", "staging"]),
        "[0-9a-f]{32}",
        prop::sample::select(vec!["bank", "organization", "customer"]),
        proptest::collection::vec(any::<u8>(), 64..256),
    )
        .prop_map(|(env, sub, sub_type, sig)| {
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS512","typ":"JWT","kid":"k1"}"#);
            let payload = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"iss":"https://id.{env}.cybrid.app","aud":["api"],"sub":"{sub}","sub_type":"{sub_type}","exp":4102444800}}"#
            ));
            format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig))
        })
}

/// What gets planted: a secret behind its key, or a bare bearer token.
#[derive(Debug, Clone)]
enum Plant {
    Secret(String),
    Token(String),
}

impl Plant {
    fn value(&self) -> &str {
        match self {
            Plant::Secret(s) | Plant::Token(s) => s,
        }
    }

    /// The text put in the line, and the byte offset of the value in it.
    fn text(&self) -> (String, usize) {
        let key = match self {
            Plant::Secret(_) => "CYBRID_CLIENT_SECRET=",
            Plant::Token(_) => "Authorization: Bearer ",
        };
        (format!("{key}{}", self.value()), key.len())
    }

    fn rule(&self) -> &'static str {
        match self {
            Plant::Secret(_) => "cybrid-client-secret",
            Plant::Token(_) => "cybrid-access-token",
        }
    }
}

fn plant() -> impl Strategy<Value = Plant> {
    prop_oneof![
        credential().prop_map(Plant::Secret),
        cybrid_jwt().prop_map(Plant::Token),
    ]
}

/// Random text (any Unicode but line breaks), a planted credential in it,
/// and where the credential's first byte is (1-based line, byte column).
#[derive(Debug, Clone)]
struct Planted {
    text: Vec<u8>,
    plant: Plant,
    line: u64,
    column: u64,
}

prop_compose! {
    fn planted()(
        lines in proptest::collection::vec("[^\r\n]{0,60}", 1..30),
        crlf in any::<bool>(),
        at in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        plant in plant(),
        final_newline in any::<bool>(),
    ) -> Planted {
        let eol = if crlf { "\r\n" } else { "\n" };
        let at = at.index(lines.len());
        let host = &lines[at];
        // Split the host line at a char boundary; spaces keep the value off its neighbours.
        let bounds: Vec<usize> = host.char_indices().map(|(i, _)| i).chain([host.len()]).collect();
        let split = bounds[cut.index(bounds.len())];
        let (planted, value_at) = plant.text();
        let before = format!("{} ", &host[..split]);
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            if i == at {
                text.push_str(&before);
                text.push_str(&planted);
                text.push(' ');
                text.push_str(&host[split..]);
            } else {
                text.push_str(l);
            }
            if i + 1 < lines.len() || final_newline {
                text.push_str(eol);
            }
        }
        Planted {
            text: text.into_bytes(),
            plant,
            line: at as u64 + 1,
            column: (before.len() + value_at) as u64 + 1,
        }
    }
}

fn findings_of(bytes: &[u8]) -> Vec<Finding> {
    let mut scratch = Scratch::default();
    let detections = engine().scan(bytes, &mut scratch);
    let base = Location {
        source: SourceKind::File,
        path: "input.txt".into(),
        ..Location::default()
    };
    to_findings(engine(), bytes, detections, &base)
}

/// (rule, line, column) of every finding whose secret is `value`, and how many findings in all.
fn where_found(findings: &[Finding], value: &str) -> (Vec<(String, u64, u64)>, usize) {
    let hits = findings
        .iter()
        .filter(|f| f.secret.expose() == value)
        .map(|f| (f.rule_id.clone(), f.location.line, f.location.column))
        .collect();
    (hits, findings.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Found once, by the right rule, at the right line and byte column.
    #[test]
    fn a_planted_credential_is_found_once_where_it_is(p in planted()) {
        let findings = findings_of(&p.text);
        let (hits, total) = where_found(&findings, p.plant.value());
        prop_assert_eq!(hits, vec![(p.plant.rule().to_string(), p.line, p.column)]);
        prop_assert_eq!(total, 1);
        let f = &findings[0];
        // The end is past the value, on the same line.
        prop_assert_eq!(f.location.end_line, p.line);
        prop_assert_eq!(f.location.end_column, p.column + p.plant.value().len() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The log source reads in windows; whatever their size (down to a few
    /// bytes, so credentials and their keys straddle many window edges), it
    /// reports exactly what a whole-buffer scan does.
    #[test]
    fn the_log_source_finds_the_same_whatever_its_window(
        p in planted(),
        extra in proptest::collection::vec(planted(), 0..3),
        chunk in prop_oneof![1usize..64, 64usize..4096, Just(1 << 20)],
    ) {
        let mut text = p.text.clone();
        let mut values = vec![p.plant.value().to_string()];
        for e in &extra {
            text.extend_from_slice(b"\n");
            text.extend_from_slice(&e.text);
            values.push(e.plant.value().to_string());
        }
        // The log source strips terminal escapes (its own tests cover them);
        // random junk ending in `ESC [ ` would swallow the next character,
        // the first letter of a planted key, and change what the whole-buffer
        // scan is compared with. This property is about windows: no escapes.
        for b in text.iter_mut() {
            if *b == 0x1b || *b == 0x9b {
                *b = b'?';
            }
        }
        let whole: Vec<(u64, u64, String)> = findings_of(&text)
            .iter()
            .map(|f| (f.location.line, f.location.column, f.secret.expose().to_string()))
            .collect();
        prop_assert_eq!(whole.len(), values.len());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ci.log");
        std::fs::write(&path, &text).expect("write");
        let collector = Collector::default();
        let opts = LogOptions { chunk, ..LogOptions::default() };
        scan_logs(std::slice::from_ref(&path), &opts, engine(), &collector);
        let gathered = collector.into_gathered();
        prop_assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
        let streamed: Vec<(u64, u64, String)> = gathered
            .findings
            .iter()
            .map(|f| (f.location.line, f.location.column, f.secret.expose().to_string()))
            .collect();
        prop_assert_eq!(streamed, whole);
    }
}

const FORMATS: [Format; 6] = [
    Format::Human,
    Format::Json,
    Format::Jsonl,
    Format::Sarif,
    Format::Hook,
    Format::Gitlab,
];

fn render(report: &Report, format: Format, reveal: Reveal) -> String {
    let opts = OutputOptions {
        format,
        reveal,
        color: false,
        sarif_category: None,
        command: Vec::new(),
    };
    let mut out = Vec::new();
    write_report(report, &opts, engine().rules(), &mut out).expect("write report");
    String::from_utf8(out).expect("reports are UTF-8")
}

/// Every 8-byte window of `value` past the part a redaction keeps: any of
/// them in an output is a leak.
fn leaks(text: &str, value: &str) -> Option<String> {
    let tail = &value[cybrid_scan::secret::REDACT_KEEP..];
    (0..=tail.len().saturating_sub(8))
        .map(|i| &tail[i..i + 8])
        .find(|w| text.contains(w))
        .map(|w| format!("…{w}…"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No format shows a secret, its client_id or any 8 characters of them
    /// unless asked; `Debug` of every type that holds one redacts.
    #[test]
    fn no_output_holds_a_secret_unless_asked(
        secret in credential(),
        id in credential(),
        token in cybrid_jwt(),
    ) {
        let text = format!(
            "CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET={secret}\nAuthorization: Bearer {token}\n"
        );
        let findings = findings_of(text.as_bytes());
        prop_assert_eq!(findings.len(), 2);
        let report = Report { findings, ..Report::default() };
        for format in FORMATS {
            let shown = render(&report, format, Reveal::Redact);
            for value in [&secret, &id, &token] {
                prop_assert_eq!(leaks(&shown, value), None, "{:?} leaks", format);
            }
        }
        // Asked for: the formats meant to show secrets show them whole.
        for format in [Format::Human, Format::Json, Format::Jsonl, Format::Sarif] {
            let shown = render(&report, format, Reveal::Show);
            prop_assert!(shown.contains(&secret), "{:?} --show-secrets hides the secret", format);
        }
        let mut scratch = Scratch::default();
        let debug = format!(
            "{:?} {:?} {:?}",
            report,
            engine().scan(text.as_bytes(), &mut scratch),
            report.findings.iter().map(|f| &f.fingerprint).collect::<Vec<_>>()
        );
        for value in [&secret, &id, &token] {
            prop_assert_eq!(leaks(&debug, value), None, "Debug leaks");
        }
    }
}

/// Run the binary; stdout and stderr together.
fn scan_output(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).map(|_| s)
    });
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read");
    let status = child.wait().expect("wait");
    out.extend(reader.join().expect("join").expect("read stderr"));
    (status.code(), String::from_utf8_lossy(&out).into_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// The same through the real binary, standard error included, for every
    /// format and both sources that take a file (dir, logs).
    #[test]
    fn the_binary_prints_no_secret_unless_asked(secret in credential(), id in credential()) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("deploy.log"),
            format!("CYBRID_CLIENT_ID={id}\nCYBRID_CLIENT_SECRET={secret}\n"),
        )
        .expect("write");
        for source in ["dir", "logs"] {
            for format in ["human", "json", "jsonl", "sarif", "hook", "gitlab"] {
                let (code, shown) = scan_output(dir.path(), &[source, "deploy.log", "-f", format]);
                prop_assert_eq!(code, Some(1), "{} -f {}: {}", source, format, shown);
                for value in [&secret, &id] {
                    prop_assert_eq!(leaks(&shown, value), None, "{} -f {} leaks", source, format);
                }
            }
            let (_, shown) =
                scan_output(dir.path(), &[source, "deploy.log", "-f", "json", "--show-secrets"]);
            prop_assert!(shown.contains(&secret));
        }
    }
}

/// A line of source-like text: keys of every shape the rules read, long
/// identifiers and hashes (runs the value-shape gate stops at), and now and
/// then a generated credential behind one of those keys.
fn code_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "CYBRID_CLIENT_SECRET=",
        "cybrid_client_id: ",
        "  clientSecret: process.env.CYBRID_CLIENT_SECRET || \"",
        "<key>CybridClientSecret</key>\n  <string>",
        "variable \"cybrid_client_secret\" {\n  type = string\n  default = \"",
        "CLIENT_ID = '",
        "secret ",
        "webhook_signing_key = ",
        "external_bank_account_guid_with_http_info_and_more_words = ",
        "# cybrid api bank: ",
        "",
    ]);
    let value = prop_oneof![
        credential(),
        "[0-9a-f]{32}",
        "[0-9a-f]{64}",
        "[a-z_]{30,60}",
        "[A-Za-z0-9_-]{20,50}",
        Just("cybrid.app".to_string()),
        Just("sandbox".to_string()),
    ];
    (key, value, "[ a-z\"',;]{0,12}").prop_map(|(k, v, tail)| format!("{k}{v}{tail}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Value-shape gating runs each pattern only around runs its secret can
    /// match: it must find exactly what running every pattern over whole
    /// regions finds, with one scratch reused across chunks of the same length
    /// (windows cached for one chunk must not leak into the next).
    #[test]
    fn gating_changes_nothing(chunks in proptest::collection::vec(
        proptest::collection::vec(code_line(), 1..80), 1..4)) {
        static UNGATED: OnceLock<Engine> = OnceLock::new();
        let ungated = UNGATED.get_or_init(|| {
            Engine::new(load_rules(&[]).expect("built-in rules")).ungated()
        });
        let gated = engine();
        prop_assert!(gated.gated_patterns().0 > 0);
        let width = chunks.iter().map(|c| c.join("\n").len()).max().unwrap_or(0);
        let mut reused = Scratch::default();
        for lines in chunks {
            let mut text = lines.join("\n").into_bytes();
            // Same length for every chunk: same regions, so a stale cache would show.
            text.resize(width, b' ');
            let key = |d: &cybrid_scan::detect::Detection| {
                (d.rule, d.start, d.end, d.confidence, d.client_id.is_some())
            };
            let want: Vec<_> = ungated.scan(&text, &mut Scratch::default()).iter().map(key).collect();
            let got: Vec<_> = gated.scan(&text, &mut reused).iter().map(key).collect();
            prop_assert_eq!(got, want);
        }
    }
}

/// Found by `gating_changes_nothing`: a match the engine rejects must not
/// hide one that starts inside it. Here the first block's lazy search for a
/// `default` runs past a client-id key into the second block, is rejected
/// for crossing that key, and the second block's own match starts inside it.
#[test]
fn a_rejected_match_does_not_hide_the_next_one() {
    // Generated value, not a credential.
    let secret = "kdWILhobHw89Uf7xSWF8eOhGtWTH2zoH22-mW6L3vKI";
    let text = format!(
        "variable \"cybrid_client_secret\" {{\n  type = string\n  default = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAa,\";\n\
         cybrid_client_id: aLwC-AMc___tI9-cTUnD\n\
         variable \"cybrid_client_secret\" {{\n  type = string\n  default = \"{secret}\"\n}}\n"
    );
    let at = text.find(secret).expect("planted");
    for engine in [
        engine(),
        &Engine::new(load_rules(&[]).expect("rules")).ungated(),
    ] {
        let found: Vec<_> = engine
            .scan(text.as_bytes(), &mut Scratch::default())
            .into_iter()
            .map(|d| (d.start, d.end))
            .collect();
        assert_eq!(found, vec![(at, at + secret.len())]);
    }
}
