//! GitLab's secret-detection report (schema 15), so a merge request widget and
//! the security dashboard show findings. Never holds a secret, even with
//! `--show-secrets`: GitLab stores and displays these reports.

use std::io::{self, Write};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::json::{TOOL_NAME, TOOL_VERSION};
use super::Report;
use crate::finding::{Confidence, Finding, VerificationStatus};

pub const SCHEMA_VERSION: &str = "15.0.7";

fn severity(f: &Finding) -> &'static str {
    if f.verification.status == VerificationStatus::Live {
        return "Critical";
    }
    match f.confidence {
        Confidence::High => "High",
        Confidence::Medium => "Medium",
        Confidence::Low => "Low",
    }
}

/// A stable id per finding location: fingerprint + where, hashed.
fn vulnerability_id(f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(f.fingerprint.as_str().as_bytes());
    h.update([0]);
    h.update(f.location.path.as_bytes());
    h.update([0]);
    h.update(f.location.commit.as_deref().unwrap_or("").as_bytes());
    h.update(f.location.line.to_be_bytes());
    let d = hex::encode(h.finalize());
    // Shaped as a UUID, as GitLab's own analyzers emit.
    format!(
        "{}-{}-{}-{}-{}",
        &d[0..8],
        &d[8..12],
        &d[12..16],
        &d[16..20],
        &d[20..32]
    )
}

fn vulnerability(f: &Finding) -> Value {
    let mut description = format!(
        "A Cybrid credential ({}) with {} confidence; verification: {}.",
        f.rule_id,
        f.confidence,
        f.verification.status.as_str()
    );
    if f.client_id.is_some() {
        description.push_str(" The client_id sits beside it, so the pair can mint tokens.");
    }
    json!({
        "id": vulnerability_id(f),
        "name": format!("Leaked Cybrid credential: {}", f.rule_id),
        "description": description,
        "severity": severity(f),
        "solution": "Delete the leaked application in the Cybrid Partner Portal (or run `cybrid-scan revoke`), create a new credential, keep it in a secret manager, and remove it from the repository history.",
        "location": {
            "file": f.location.path,
            "start_line": f.location.line,
            "end_line": f.location.end_line,
            "commit": { "sha": f.location.commit.clone().unwrap_or_else(|| "0000000000000000000000000000000000000000".into()) }
        },
        "identifiers": [{
            "type": "cybrid_scan_rule_id",
            "name": format!("cybrid-scan rule {}", f.rule_id),
            "value": f.rule_id
        }]
    })
}

fn gitlab_time(unix_ms: u128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((unix_ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let start = now.saturating_sub(report.stats.duration_ms as u128);
    let tool = json!({
        "id": TOOL_NAME,
        "name": TOOL_NAME,
        "version": TOOL_VERSION,
        "vendor": { "name": TOOL_NAME }
    });
    let doc = json!({
        "version": SCHEMA_VERSION,
        "vulnerabilities": report.findings.iter().map(vulnerability).collect::<Vec<_>>(),
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "secret_detection",
            "start_time": gitlab_time(start),
            "end_time": gitlab_time(now),
            "status": "success"
        }
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
