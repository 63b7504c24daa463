//! The pre-commit report: where each secret is, one line each, and what to do,
//! in as few lines as a developer will actually read in a blocked commit.

use std::io::{self, Write};

use super::{escape_for_terminal, OutputOptions, Report};

pub fn write(report: &Report, opts: &OutputOptions, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    for f in &report.findings {
        writeln!(
            out,
            "cybrid-scan: {}:{}:{}: {} ({}) {}",
            escape_for_terminal(&f.location.path),
            f.location.line,
            f.location.column,
            f.rule_id,
            f.confidence,
            opts.reveal.secret(&f.secret)
        )?;
    }
    writeln!(
        out,
        "cybrid-scan: commit blocked: remove the secret (rotate it if it was ever pushed), or if it is a false positive add a `cybrid-scan:allow` comment on that line."
    )
}
