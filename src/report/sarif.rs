//! SARIF 2.1.0 for code-scanning services (GitHub's in particular): one run,
//! every rule described with how to rotate what leaked, and results that name
//! the credential type and its verification state but never the secret.
//!
//! GitHub matches alerts across runs by `partialFingerprints`; it would
//! compute `primaryLocationLineHash` from the file's text, which history-only
//! findings no longer have, so this writer computes it itself from the rule
//! and the secret's fingerprint (stable across moved lines and rebases).

use std::collections::HashMap;
use std::io::{self, Write};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};
use serde_sarif::sarif;
use sha2::{Digest, Sha256};

use super::json::{TOOL_NAME, TOOL_VERSION};
use super::{OutputOptions, Report, Reveal};
use crate::finding::{Confidence, Finding, SourceKind, VerificationStatus};
use crate::rules::{Rule, RuleKind};

/// The `$schema` written into every log (the OASIS errata01 schema).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/cybrid-scan/cybrid-scan";
/// GitHub code scanning: results per run it accepts, and upload size (gzipped).
pub const GITHUB_MAX_RESULTS: usize = 25_000;
pub const GITHUB_MAX_GZIP_BYTES: u64 = 10 * 1024 * 1024;
/// Tool notifications kept for unreadable inputs; the rest are summarised.
const MAX_NOTIFICATIONS: usize = 1000;
/// `security-severity` of a credential verified invalid (a live one's
/// follows its reach: [`crate::verify::reach::severity`]).
const SEVERITY_INVALID: &str = "2.0";

/// Characters escaped in a relative URI path: controls, space and the URI
/// delimiters that would change its meaning (`%`, `#`, `?`, …); `/` stays.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Write `report` as SARIF; returns warnings about GitHub's limits, if any.
pub fn write(
    report: &Report,
    opts: &OutputOptions,
    rules: &[Rule],
    out: &mut dyn Write,
) -> io::Result<Vec<String>> {
    let log = build(report, opts, rules);
    // Streamed, not built in memory: a sweep's SARIF can be hundreds of MB.
    let mut probe = SizeProbe::new(out);
    // serde_json writes in tiny pieces; feed the probe (and gzip) in large ones.
    let mut buffered = io::BufWriter::with_capacity(1 << 16, &mut probe);
    serde_json::to_writer_pretty(&mut buffered, &log)?;
    writeln!(buffered)?;
    buffered.flush()?;
    drop(buffered);
    let gzipped = probe.finish()?;
    Ok(limit_warnings(report.findings.len(), gzipped))
}

/// Passes bytes through and measures their gzipped size, gzipping only once
/// they pass GitHub's limit (gzip can only shrink them, so smaller logs are
/// under it): memory stays bounded by that limit, small logs cost nothing.
struct SizeProbe<'a> {
    out: &'a mut dyn Write,
    head: Vec<u8>,
    gz: Option<flate2::write::GzEncoder<Count>>,
}

/// A sink that only counts.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> SizeProbe<'a> {
    fn new(out: &'a mut dyn Write) -> Self {
        SizeProbe {
            out,
            head: Vec::new(),
            gz: None,
        }
    }

    /// The gzipped size, when the raw size passed the limit.
    fn finish(self) -> io::Result<Option<u64>> {
        self.gz.map(|gz| gz.finish().map(|c| c.0)).transpose()
    }
}

impl Write for SizeProbe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write_all(buf)?;
        match &mut self.gz {
            Some(gz) => gz.write_all(buf)?,
            None => {
                self.head.extend_from_slice(buf);
                if self.head.len() as u64 > GITHUB_MAX_GZIP_BYTES {
                    let mut gz =
                        flate2::write::GzEncoder::new(Count(0), flate2::Compression::default());
                    gz.write_all(&self.head)?;
                    self.head = Vec::new();
                    self.gz = Some(gz);
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The whole SARIF log as a value.
pub fn build(report: &Report, opts: &OutputOptions, rules: &[Rule]) -> sarif::Sarif {
    let mut descriptors: Vec<sarif::ReportingDescriptor> = rules.iter().map(descriptor).collect();
    // Findings read back from reports (merge) may name rules this build lacks.
    for f in &report.findings {
        if !descriptors.iter().any(|d| d.id == f.rule_id) {
            descriptors.push(unknown_descriptor(&f.rule_id));
        }
    }
    let index: HashMap<String, usize> = descriptors
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.clone(), i))
        .collect();
    let descriptors_names: Vec<String> = descriptors
        .iter()
        .map(|d| {
            d.short_description
                .as_ref()
                .map_or_else(|| d.id.clone(), |s| s.text.clone())
        })
        .collect();
    let mut occurrences: HashMap<(String, String), u32> = HashMap::new();
    let results: Vec<sarif::Result> = report
        .findings
        .iter()
        .map(|f| {
            let line_hash = line_hash(f);
            let n = occurrences
                .entry((line_hash.clone(), f.location.path.clone()))
                .or_default();
            *n += 1;
            let i = index.get(&f.rule_id).copied();
            let name = i
                .map(|i| descriptors_names[i].clone())
                .unwrap_or_else(|| f.rule_id.clone());
            result(f, opts.reveal, i, &name, &line_hash, *n)
        })
        .collect();

    let driver = sarif::ToolComponent::builder()
        .name(TOOL_NAME)
        .semantic_version(TOOL_VERSION)
        .version(TOOL_VERSION)
        .information_uri(INFORMATION_URI)
        .rules(descriptors)
        .build();
    let mut run = sarif::Run::builder()
        .tool(sarif::Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation(report)])
        .build();
    if let Some(category) = &opts.sarif_category {
        // GitHub takes everything up to the last `/` as the category.
        let id = if category.ends_with('/') {
            category.clone()
        } else {
            format!("{category}/")
        };
        run.automation_details = Some(sarif::RunAutomationDetails::builder().id(id).build());
    }
    let mut props = serde_json::Map::new();
    props.insert("stats".into(), json!(report.stats));
    if !report.notes.is_empty() {
        props.insert("notes".into(), json!(report.notes));
    }
    run.properties = Some(bag(None, props));
    sarif::Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn descriptor(rule: &Rule) -> sarif::ReportingDescriptor {
    let help = rule
        .help
        .as_deref()
        .unwrap_or("Rotate the credential in the Cybrid Partner Portal and purge it from history.");
    let text = format!(
        "What leaked: {}\n\nHow to rotate: {}\n\nA deliberate test value can be allowed with a `cybrid-scan:allow` comment on its line, or by its fingerprint in .cybrid-scan.toml.",
        rule.description, help
    );
    let markdown = format!(
        "**What leaked:** {}\n\n**How to rotate:** {}\n\nA deliberate test value can be allowed with a `cybrid-scan:allow` comment on its line (or the line before), or by listing its fingerprint under `[allow] fingerprints` in `.cybrid-scan.toml`.",
        rule.description, help
    );
    let mut props = serde_json::Map::new();
    props.insert("precision".into(), json!(precision(rule.confidence)));
    props.insert(
        "security-severity".into(),
        json!(rule_severity(rule.kind, rule.confidence)),
    );
    props.insert("kind".into(), json!(kind_name(rule.kind)));
    sarif::ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(pascal_case(&rule.id))
        .short_description(message_string(&rule.name))
        .full_description(message_string(&rule.description))
        .help(
            sarif::MultiformatMessageString::builder()
                .text(text)
                .markdown(markdown)
                .build(),
        )
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(json!(level_of(rule.confidence)))
                .build(),
        )
        .properties(bag(
            Some(vec![
                "security".into(),
                "secret".into(),
                "cybrid".into(),
                kind_name(rule.kind).into(),
            ]),
            props,
        ))
        .build()
}

fn unknown_descriptor(id: &str) -> sarif::ReportingDescriptor {
    let mut props = serde_json::Map::new();
    props.insert("precision".into(), json!("medium"));
    props.insert("security-severity".into(), json!("7.0"));
    sarif::ReportingDescriptor::builder()
        .id(id.to_string())
        .name(pascal_case(id))
        .short_description(message_string(id))
        .full_description(message_string(&format!(
            "A credential found by rule {id}, which this build of cybrid-scan does not know."
        )))
        .help(
            sarif::MultiformatMessageString::builder()
                .text("Rotate the leaked credential and purge it from history.")
                .markdown("Rotate the leaked credential and purge it from history.")
                .build(),
        )
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(json!("warning"))
                .build(),
        )
        .properties(bag(Some(vec!["security".into(), "secret".into()]), props))
        .build()
}

fn result(
    f: &Finding,
    reveal: Reveal,
    rule_index: Option<usize>,
    rule_name: &str,
    line_hash: &str,
    occurrence: u32,
) -> sarif::Result {
    let mut fingerprints = std::collections::BTreeMap::new();
    fingerprints.insert(
        "primaryLocationLineHash".to_string(),
        format!("{line_hash}:{occurrence}"),
    );
    fingerprints.insert(
        "cybridScanFingerprint/v1".to_string(),
        f.fingerprint.to_string(),
    );
    let mut r = sarif::Result::builder()
        .rule_id(f.rule_id.clone())
        .level(result_level(f))
        .message(
            sarif::Message::builder()
                .text(message(f, rule_name))
                .build(),
        )
        .locations(vec![location(f, reveal)])
        .partial_fingerprints(fingerprints)
        .properties(result_properties(f, reveal))
        .build();
    r.rule_index = rule_index.map(|i| i as i64);
    // Triaged in the datastore as needing no action: suppressed outside the
    // source (SARIF 3.35), with the triage note as justification.
    if let Some(t) = f.triage.as_ref().filter(|t| t.suppresses()) {
        r.suppressions = Some(vec![sarif::Suppression::builder()
            .kind(serde_json::json!("external"))
            .status(serde_json::json!("accepted"))
            .justification(t.note.clone())
            .build()]);
    }
    r
}

/// What the result says: the credential type and its state, never the value.
fn message(f: &Finding, what: &str) -> String {
    let paired = if f.client_id.is_some() {
        " (with its client_id)"
    } else {
        ""
    };
    let v = &f.verification;
    let state = match v.status {
        VerificationStatus::Live => format!(
            "verified LIVE in {}: revoke it now",
            v.environment.as_deref().unwrap_or("an unknown environment")
        ),
        VerificationStatus::Invalid => "verified invalid (no longer accepted)".into(),
        VerificationStatus::NotChecked => "not verified".into(),
        other => format!(
            "verification {}{}",
            other.as_str(),
            v.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    };
    let mut text = format!("{what}{paired} leaked; {state}.");
    if let Some(t) = &f.token {
        text.push_str(&format!(
            " Access token for {}{}.",
            t.environment.as_deref().unwrap_or("an unknown environment"),
            if t.expired { ", expired" } else { "" }
        ));
    }
    if f.location.at_head == Some(false) {
        text.push_str(" Only in history: the file no longer has it at HEAD.");
    }
    text
}

fn result_level(f: &Finding) -> sarif::ResultLevel {
    match f.verification.status {
        VerificationStatus::Live => sarif::ResultLevel::Error,
        VerificationStatus::Invalid => sarif::ResultLevel::Note,
        _ => match f.confidence {
            Confidence::High => sarif::ResultLevel::Error,
            Confidence::Medium => sarif::ResultLevel::Warning,
            Confidence::Low => sarif::ResultLevel::Note,
        },
    }
}

fn location(f: &Finding, reveal: Reveal) -> sarif::Location {
    let (uri, base) = artifact_uri(&f.location.path);
    let mut artifact = sarif::ArtifactLocation::builder().uri(uri).build();
    artifact.uri_base_id = base.map(str::to_string);
    let mut physical = sarif::PhysicalLocation::builder()
        .artifact_location(artifact)
        .build();
    let l = &f.location;
    if l.line >= 1 {
        let mut region = sarif::Region::builder().start_line(l.line as i64).build();
        if l.column >= 1 {
            region.start_column = Some(l.column as i64);
        }
        if l.end_line >= l.line {
            region.end_line = Some(l.end_line as i64);
            if l.end_column >= 1 && (l.end_line > l.line || l.end_column > l.column) {
                region.end_column = Some(l.end_column as i64);
            }
        }
        // The snippet is the secret itself, so only when the user asked for secrets.
        if reveal == Reveal::Show {
            region.snippet = Some(
                sarif::ArtifactContent::builder()
                    .text(f.secret.expose().to_string())
                    .build(),
            );
        }
        physical.region = Some(region);
    }
    sarif::Location::builder()
        .physical_location(physical)
        .build()
}

/// A report path as a URI reference: relative paths stay relative to the
/// source root (`%SRCROOT%`), absolute ones become `file://` URIs.
pub fn artifact_uri(path: &str) -> (String, Option<&'static str>) {
    let mut p = path.replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    if p.starts_with('/') {
        (format!("file://{}", utf8_percent_encode(&p, PATH)), None)
    } else {
        // A first segment with `:` would read as a URI scheme.
        let escaped = utf8_percent_encode(&p, PATH).to_string();
        let escaped = match escaped.split('/').next() {
            Some(first) if first.contains(':') => {
                escaped.replacen(first, &first.replace(':', "%3A"), 1)
            }
            _ => escaped,
        };
        (escaped, Some("%SRCROOT%"))
    }
}

fn result_properties(f: &Finding, reveal: Reveal) -> sarif::PropertyBag {
    let mut p = serde_json::Map::new();
    p.insert("confidence".into(), json!(f.confidence.as_str()));
    p.insert("fingerprint".into(), json!(f.fingerprint.as_str()));
    p.insert("secret".into(), json!(reveal.secret(&f.secret)));
    if let Some(id) = &f.client_id {
        p.insert("client_id".into(), json!(reveal.secret(id)));
    }
    p.insert(
        "source".into(),
        json!(match f.location.source {
            SourceKind::File => "file",
            SourceKind::Git => "git",
            SourceKind::Log => "log",
            SourceKind::Ci => "ci",
            SourceKind::Image => "image",
        }),
    );
    for (key, value) in [
        ("image", f.location.image.as_ref().map(|v| json!(v))),
        ("layer", f.location.layer.as_ref().map(|v| json!(v))),
        ("layer_number", f.location.layer_number.map(|v| json!(v))),
        (
            "removed_by_layer",
            f.location.removed_by_layer.map(|v| json!(v)),
        ),
    ] {
        if let Some(v) = value {
            p.insert(key.into(), v);
        }
    }
    let l = &f.location;
    let mut git = serde_json::Map::new();
    if let Some(c) = &l.commit {
        git.insert("commit".into(), json!(c));
    }
    if let Some(a) = &l.author {
        git.insert("author".into(), json!(a));
    }
    if let Some(d) = &l.date {
        git.insert("date".into(), json!(d));
    }
    if let Some(h) = l.at_head {
        git.insert("at_head".into(), json!(h));
    }
    if !l.refs.is_empty() {
        git.insert("refs".into(), json!(l.refs));
    }
    if let Some(total) = l.refs_total {
        git.insert("refs_total".into(), json!(total));
    }
    if !git.is_empty() {
        p.insert("git".into(), Value::Object(git));
    }
    if let Some(e) = &l.entry {
        p.insert("entry".into(), json!(e));
    }
    if l.source == SourceKind::Ci {
        p.insert(
            "ci".into(),
            json!({ "repository": l.repository, "run": l.run, "job": l.job, "step": l.step, "url": l.url }),
        );
    }
    if let Some(r) = &f.repository {
        p.insert("repository".into(), json!(r));
    }
    if let Some(env) = &f.environment_hint {
        p.insert("environment_hint".into(), json!(env));
    }
    p.insert("verification".into(), json!(f.verification));
    if let Some(t) = &f.token {
        p.insert("token".into(), json!(t));
    }
    if let Some(c) = &f.location.context {
        p.insert("context".into(), json!(c));
    }
    if let Some(s) = result_severity(f) {
        p.insert("security-severity".into(), json!(s));
    }
    bag(None, p)
}

/// A result-level override of the rule's `security-severity` once
/// verification knows more: for a live credential, its reach (environment,
/// kind of subject, scopes that act: [`crate::verify::reach`]).
fn result_severity(f: &Finding) -> Option<String> {
    let v = &f.verification;
    match v.status {
        VerificationStatus::Live => crate::verify::reach::severity_text(v),
        VerificationStatus::Invalid => Some(SEVERITY_INVALID.to_string()),
        _ => None,
    }
}

/// The tool's own `primaryLocationLineHash`: rule and fingerprint, hashed.
/// The occurrence counter (`:N`) is added per file by the caller.
fn line_hash(f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(b"cybrid-scan/sarif-line-hash/v1\0");
    h.update(f.rule_id.as_bytes());
    h.update([0u8]);
    h.update(f.fingerprint.as_str().as_bytes());
    hex::encode(&h.finalize()[..8])
}

fn invocation(report: &Report) -> sarif::Invocation {
    let mut notes: Vec<sarif::Notification> = report
        .errors
        .iter()
        .take(MAX_NOTIFICATIONS)
        .map(|e| notification(&format!("{}: {}", e.path, e.message), "error"))
        .collect();
    if report.errors.len() > MAX_NOTIFICATIONS {
        notes.push(notification(
            &format!(
                "{} more inputs could not be read (see the JSON report)",
                report.errors.len() - MAX_NOTIFICATIONS
            ),
            "error",
        ));
    }
    if !report.skipped.is_empty() {
        notes.push(notification(
            &format!(
                "{} input(s) skipped (too large, not regular files, …)",
                report.skipped.len()
            ),
            "note",
        ));
    }
    let mut inv = sarif::Invocation::builder()
        .execution_successful(true)
        .build();
    if !notes.is_empty() {
        inv.tool_execution_notifications = Some(notes);
    }
    inv
}

fn notification(text: &str, level: &str) -> sarif::Notification {
    sarif::Notification::builder()
        .message(sarif::Message::builder().text(text.to_string()).build())
        .level(json!(level))
        .build()
}

/// GitHub refuses (or truncates) runs beyond its limits: say so plainly.
fn limit_warnings(results: usize, gzipped: Option<u64>) -> Vec<String> {
    let mut warnings = Vec::new();
    if results > GITHUB_MAX_RESULTS {
        warnings.push(format!(
            "SARIF has {results} results; GitHub code scanning accepts at most {GITHUB_MAX_RESULTS} per run (and shows only the top 5,000): narrow the scan, add a baseline, or split it with --sarif-category"
        ));
    }
    if let Some(gz) = gzipped.filter(|gz| *gz > GITHUB_MAX_GZIP_BYTES) {
        warnings.push(format!(
            "SARIF is {:.1} MB gzipped; GitHub code scanning refuses uploads above 10 MB gzipped: narrow the scan or add a baseline",
            gz as f64 / (1024.0 * 1024.0)
        ));
    }
    warnings
}

fn message_string(text: &str) -> sarif::MultiformatMessageString {
    sarif::MultiformatMessageString::builder()
        .text(text.to_string())
        .build()
}

fn bag(tags: Option<Vec<String>>, props: serde_json::Map<String, Value>) -> sarif::PropertyBag {
    let mut b = sarif::PropertyBag::builder()
        .additional_properties(
            props
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .build();
    b.tags = tags;
    b
}

fn level_of(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "error",
        Confidence::Medium => "warning",
        Confidence::Low => "note",
    }
}

fn precision(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

fn kind_name(k: RuleKind) -> &'static str {
    match k {
        RuleKind::ClientId => "client-id",
        RuleKind::ClientSecret => "client-secret",
        RuleKind::AccessToken => "access-token",
        RuleKind::WebhookSigningKey => "webhook-signing-key",
    }
}

/// GitHub's scale: 9.0+ critical, 7.0+ high, 4.0+ medium, below that low.
fn rule_severity(kind: RuleKind, confidence: Confidence) -> &'static str {
    match (kind, confidence) {
        (RuleKind::ClientSecret, Confidence::Low) => "7.0",
        (RuleKind::ClientSecret, _) => "9.1",
        (RuleKind::AccessToken, _) => "8.1",
        (RuleKind::WebhookSigningKey, _) => "7.5",
        (RuleKind::ClientId, _) => "3.9",
    }
}

fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_escaped() {
        assert_eq!(
            artifact_uri("config/my app#1.env"),
            ("config/my%20app%231.env".to_string(), Some("%SRCROOT%"))
        );
        assert_eq!(artifact_uri("./a/ü.txt").0, "a/%C3%BC.txt");
        assert_eq!(artifact_uri("c:x/y").0, "c%3Ax/y");
        assert_eq!(artifact_uri("/tmp/x y").0, "file:///tmp/x%20y");
        assert_eq!(artifact_uri("/tmp/x y").1, None);
    }

    #[test]
    fn size_limit_is_measured_gzipped() {
        use rand::RngCore;
        let gzipped = |bytes: &[u8]| {
            let mut out = Vec::new();
            let mut probe = SizeProbe::new(&mut out);
            for piece in bytes.chunks(4096) {
                probe.write_all(piece).expect("write");
            }
            let gz = probe.finish().expect("gzip");
            assert_eq!(out, bytes, "passed through unchanged");
            gz
        };
        // Small logs are not measured at all.
        assert_eq!(gzipped(b"{}"), None);
        // Eleven megabytes of zeros gzip to almost nothing: measured, no warning.
        let zeros = vec![0u8; 11 << 20];
        let gz = gzipped(&zeros);
        assert!(gz.is_some_and(|n| n < 1 << 20), "{gz:?}");
        assert!(limit_warnings(1, gz).is_empty());
        // The same size of random bytes does not shrink: warned.
        let mut noise = vec![0u8; 11 << 20];
        rand::thread_rng().fill_bytes(&mut noise);
        let w = limit_warnings(1, gzipped(&noise));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("10 MB gzipped"), "{}", w[0]);
        assert_eq!(limit_warnings(GITHUB_MAX_RESULTS + 1, None).len(), 1);
        assert!(limit_warnings(GITHUB_MAX_RESULTS, None).is_empty());
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(pascal_case("cybrid-client-secret"), "CybridClientSecret");
    }
}
