//! The human report: one block per distinct credential (however many
//! blobs, files or commits hold it), live credentials first and loud,
//! colour only on a terminal and never when `NO_COLOR` is set.

use std::io::{self, Write};

use super::leaks::{self, Leak};
use super::{escape_for_terminal, OutputOptions, Report, RepositoryStatus};
use crate::finding::{Confidence, Finding, VerificationStatus};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn where_of(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(repo) = &f.repository {
        s.push_str(&escape_for_terminal(repo));
        s.push_str(": ");
    }
    s.push_str(&escape_for_terminal(&f.location.path));
    if let Some(entry) = &f.location.entry {
        s.push('!');
        s.push_str(&escape_for_terminal(entry));
    }
    if let Some(commit) = &f.location.commit {
        let short: String = commit.chars().take(12).collect();
        s.push_str(&format!(" @ {}", escape_for_terminal(&short)));
    }
    if let Some(image) = &f.location.image {
        s.push_str(&format!(" in {}", escape_for_terminal(image)));
        match (f.location.layer_number, f.location.removed_by_layer) {
            (Some(n), Some(by)) => {
                s.push_str(&format!(" (removed by layer {by}, still in layer {n})"))
            }
            (Some(n), None) => s.push_str(&format!(" (layer {n})")),
            _ => s.push_str(" (configuration)"),
        }
    }
    s
}

/// Places listed under a leak before `+N more`.
const SHOWN_PLACES: usize = 5;

fn place_of(f: &Finding) -> String {
    let mut s = where_of(f);
    if let Some(i) = s.find(" @ ") {
        s.insert_str(i, &format!(":{}:{}", f.location.line, f.location.column));
    } else {
        s.push_str(&format!(":{}:{}", f.location.line, f.location.column));
    }
    s
}

pub fn write(report: &Report, opts: &OutputOptions, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint { on: opts.color };
    // One block per distinct credential, live ones first: they are the ones
    // to act on now; a credential rebuilt into 97 blobs is one block.
    let leaks = leaks::group(&report.findings);
    let live = leaks
        .iter()
        .filter(|l| l.verification.status == VerificationStatus::Live)
        .count();
    if live > 0 {
        // After --revoke, say what was done; otherwise the commands that do it.
        let revoked = report.notes.iter().find(|n| n.starts_with("revocation: "));
        let banner = match revoked {
            Some(note) => format!(" {live} LIVE Cybrid credential(s) found; {note} "),
            None => format!(" {live} LIVE Cybrid credential(s): revoke or rotate them now "),
        };
        writeln!(
            out,
            "{}",
            paint.wrap("1;41;97", &escape_for_terminal(&banner))
        )?;
        if revoked.is_none() {
            for line in super::next::lines(&opts.command) {
                writeln!(out, "{}", escape_for_terminal(&line))?;
            }
        }
        writeln!(out)?;
    }
    for leak in &leaks {
        write_leak(leak, opts, &paint, out)?;
        writeln!(out)?;
    }
    for note in &report.notes {
        writeln!(out, "note: {}", escape_for_terminal(note))?;
    }
    write_oversized(report, out)?;
    write_repositories(report, &paint, out)?;
    writeln!(out, "{}", summary(report))
}

fn write_leak(
    leak: &Leak<'_>,
    opts: &OutputOptions,
    paint: &Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    let conf = match leak.confidence {
        Confidence::High => paint.wrap("1;31", "high"),
        Confidence::Medium => paint.wrap("33", "medium"),
        Confidence::Low => paint.wrap("2", "low"),
    };
    let mut head = format!(
        "{}  {}  {}",
        paint.wrap("1;35", &escape_for_terminal(leak.rule_id())),
        conf,
        escape_for_terminal(&opts.reveal.secret(&leak.first.secret))
    );
    if let Some(id) = &leak.shown.client_id {
        head.push_str(&format!(
            "  client_id {}",
            escape_for_terminal(&opts.reveal.secret(id))
        ));
    }
    writeln!(out, "{head}")?;
    let first = leak.first;
    let mut origin = if leak.occurrences() == 1 {
        format!("  at {}", place_of(first))
    } else {
        format!("  first seen at {}", place_of(first))
    };
    if let Some(a) = &first.location.author {
        origin.push_str(&format!(
            " by {} on {}",
            escape_for_terminal(a),
            escape_for_terminal(first.location.date.as_deref().unwrap_or("?"))
        ));
    }
    writeln!(out, "{origin}")?;
    let mut details = Vec::new();
    if leak.occurrences() > 1 {
        details.push(format!("seen in {}", leak.seen_in()));
    }
    match leak.at_head {
        Some(true) if leak.occurrences() > 1 => details.push("still at HEAD".into()),
        Some(false) => details.push("no longer at HEAD (still in history)".into()),
        _ => {}
    }
    let v = leak.verification;
    match v.status {
        VerificationStatus::NotChecked => {}
        VerificationStatus::Live => details.push(paint.wrap(
            "1;31",
            &format!(
                "LIVE in {}{}{}",
                escape_for_terminal(v.environment.as_deref().unwrap_or("?")),
                v.sub_type
                    .as_deref()
                    .map(|s| format!(" ({} credential)", escape_for_terminal(s)))
                    .unwrap_or_default(),
                crate::verify::reach::text(v)
                    .map(|r| format!("; {}", escape_for_terminal(&r)))
                    .unwrap_or_default()
            ),
        )),
        other => details.push(format!(
            "verification: {}{}{}",
            other.as_str(),
            v.reason
                .as_deref()
                .map(|r| format!(" ({})", escape_for_terminal(r)))
                .unwrap_or_default(),
            crate::verify::reach::text(v)
                .map(|r| format!("; {r}"))
                .unwrap_or_default()
        )),
    }
    // Triage notes are the user's text: escaped like paths.
    if let Some(t) = &first.triage {
        details.push(format!(
            "triaged {}{}",
            escape_for_terminal(&t.status),
            if t.note.is_empty() {
                String::new()
            } else {
                format!(": {}", escape_for_terminal(&t.note))
            }
        ));
    }
    // Key and parent names come from the scanned bytes: escaped like paths.
    if let Some(c) = &first.location.context {
        details.push(escape_for_terminal(&c.describe()));
    }
    // Token fields come from the scanned token's payload: escaped like paths.
    if let Some(t) = &first.token {
        details.push(format!(
            "token for {} {}, {}",
            escape_for_terminal(t.environment.as_deref().unwrap_or("?")),
            escape_for_terminal(t.sub_type.as_deref().unwrap_or("subject")),
            match (&t.expires_at, t.expired) {
                (Some(at), true) => format!("expired {}", escape_for_terminal(at)),
                (Some(at), false) => format!("expires {}", escape_for_terminal(at)),
                (None, _) => "no expiry".to_string(),
            }
        ));
    }
    if first.location.ignored_by_vcs {
        details.push("in a file .gitignore/.ignore excludes (likely not committed)".into());
    }
    if let Some(url) = &first.location.url {
        details.push(format!("see {}", escape_for_terminal(url)));
    }
    if !details.is_empty() {
        writeln!(out, "  {}", details.join("; "))?;
    }
    if leak.occurrences() > 1 {
        for f in leak.findings.iter().take(SHOWN_PLACES) {
            writeln!(out, "    {}", place_of(f))?;
        }
        if leak.occurrences() > SHOWN_PLACES {
            writeln!(out, "    +{} more", leak.occurrences() - SHOWN_PLACES)?;
        }
    }
    Ok(())
}

/// Oversized files listed before `and N more`.
const SHOWN_OVERSIZED: usize = 20;

/// Files skipped for `--max-file-size`, by name: a secret in one of them
/// was not looked for, so the reader should know which.
fn write_oversized(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let big: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason.contains("--max-file-size"))
        .collect();
    for s in big.iter().take(SHOWN_OVERSIZED) {
        writeln!(
            out,
            "skipped: {}: {}",
            escape_for_terminal(&s.path),
            escape_for_terminal(&s.reason)
        )?;
    }
    if big.len() > SHOWN_OVERSIZED {
        writeln!(
            out,
            "skipped: and {} more file(s) larger than --max-file-size (all in the JSON report's skipped)",
            big.len() - SHOWN_OVERSIZED
        )?;
    }
    Ok(())
}

/// A sweep's repositories, one line each: failed ones first (with why),
/// then those with findings, then the clean ones.
fn write_repositories(report: &Report, paint: &Paint, out: &mut dyn Write) -> io::Result<()> {
    if report.repositories.is_empty() {
        return Ok(());
    }
    let failed = report
        .repositories
        .iter()
        .filter(|r| r.status == RepositoryStatus::Failed)
        .count();
    writeln!(
        out,
        "repositories: {} scanned, {} failed",
        report.repositories.len() - failed,
        failed
    )?;
    let mut ordered: Vec<_> = report.repositories.iter().collect();
    ordered.sort_by_key(|r| (r.status != RepositoryStatus::Failed, r.findings == 0));
    for r in ordered {
        let name = escape_for_terminal(&r.repository);
        let secs = r.duration_ms as f64 / 1000.0;
        match r.status {
            RepositoryStatus::Failed => writeln!(
                out,
                "  {}  {name}: {}",
                paint.wrap("1;31", "FAILED"),
                escape_for_terminal(r.error.as_deref().unwrap_or("unknown error"))
            )?,
            RepositoryStatus::Scanned => {
                let mut line = format!(
                    "  {}  {name}: {} finding(s)",
                    if r.findings > 0 {
                        paint.wrap("1;33", "leaks ")
                    } else {
                        "clean ".to_string()
                    },
                    r.findings
                );
                if r.live > 0 {
                    line.push_str(&paint.wrap("1;31", &format!(", {} LIVE", r.live)));
                }
                line.push_str(&format!(
                    "; {} blob(s), {:.1} MB, {} commit(s), {secs:.2} s",
                    r.blobs,
                    r.bytes as f64 / 1e6,
                    r.commits
                ));
                if r.errors > 0 {
                    line.push_str(&format!("; {} unreadable object(s)", r.errors));
                }
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

/// One-line summary of a report: distinct credentials first (what there is
/// to act on), then occurrences, then what was read in the source's unit.
pub fn summary(report: &Report) -> String {
    let count = |c: Confidence| report.findings.iter().filter(|f| f.confidence == c).count();
    let s = &report.stats;
    let leaks = leaks::group(&report.findings);
    let mut text = credentials(&leaks);
    let places = report.findings.len();
    if places > 0 {
        text.push_str(&format!(
            " in {} ({} high, {} medium, {} low)",
            plural(places, "place", "places"),
            count(Confidence::High),
            count(Confidence::Medium),
            count(Confidence::Low),
        ));
    }
    let (read, unit) = match &s.read {
        Some(r) => (r.count, r.unit.as_str()),
        None => (s.files, "files"),
    };
    text.push_str(&format!(
        "; {} {unit} read, {:.1} MB, {:.2} s",
        thousands(read),
        s.bytes as f64 / 1e6,
        s.duration_ms as f64 / 1000.0
    ));
    if report.live_count() > 0 {
        text.push_str(&format!("; {} LIVE", report.live_count()));
    }
    let unread = report
        .errors
        .iter()
        .filter(|e| e.path != crate::collect::ALL_INPUTS)
        .count();
    if unread > 0 {
        text.push_str(&format!("; {unread} input(s) could not be read"));
    }
    if report.dropped > 0 {
        text.push_str(&format!(
            "; {} more finding(s) not kept (--max-findings)",
            report.dropped
        ));
    }
    if !report.skipped.is_empty() {
        text.push_str(&format!("; {} skipped", report.skipped.len()));
    }
    let suppressed: u64 = s.suppressed.values().sum();
    if suppressed > 0 {
        let by: Vec<String> = s
            .suppressed
            .iter()
            .map(|(k, v)| format!("{v} by {k}"))
            .collect();
        text.push_str(&format!("; {suppressed} suppressed ({})", by.join(", ")));
    }
    text
}

/// "2 credentials (1 pair, 1 token)": distinct credentials by kind.
fn credentials(leaks: &[Leak<'_>]) -> String {
    if leaks.is_empty() {
        return "no credentials".to_string();
    }
    // In the order a responder cares about.
    const KINDS: [(&str, &str, &str); 6] = [
        ("pair", "pair", "pairs"),
        ("secret", "unpaired secret", "unpaired secrets"),
        ("token", "token", "tokens"),
        ("webhook", "webhook signing key", "webhook signing keys"),
        ("id", "client id", "client ids"),
        ("other", "other", "other"),
    ];
    let mut counts = [0usize; 6];
    for leak in leaks {
        let rule = leak.rule_id();
        let kind = if rule.contains("access-token") || rule.contains("token") {
            "token"
        } else if rule.contains("webhook") {
            "webhook"
        } else if rule.contains("client-id") {
            "id"
        } else if rule.contains("secret") {
            if leak.findings.iter().any(|f| f.client_id.is_some()) {
                "pair"
            } else {
                "secret"
            }
        } else {
            "other"
        };
        if let Some(i) = KINDS.iter().position(|(k, _, _)| *k == kind) {
            counts[i] += 1;
        }
    }
    let parts: Vec<String> = KINDS
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|((_, one, many), n)| plural(n, one, many))
        .collect();
    format!(
        "{} ({})",
        plural(leaks.len(), "credential", "credentials"),
        parts.join(", ")
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n as u64))
    }
}

/// 1234567 -> "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
