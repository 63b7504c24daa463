//! The next step after a `--verify` scan that found live credentials: the
//! exact commands that revoke or rotate them. The report they need is the
//! same scan written as JSON; its command is the scan's own, with the
//! output options replaced and anything that may hold a secret or acts
//! (`--notify-webhook URL`, `--revoke`, `--yes`) left out.

/// Where the suggested JSON report goes.
pub const REPORT_FILE: &str = "cybrid-report.json";

/// Options whose value is the next argument, dropped with it.
const DROPPED_WITH_VALUE: [&str; 6] = [
    "-f",
    "--format",
    "-o",
    "--output",
    "--notify-webhook",
    "--audit-log",
];
const DROPPED: [&str; 3] = ["--revoke", "--yes", "--no-color"];

/// `arg` quoted for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The scan `argv` (program first) again, writing a JSON report to `file`.
/// `None` when there is nothing to rebuild from.
pub fn json_scan_command(argv: &[String], file: &str) -> Option<String> {
    let (_, args) = argv.split_first()?;
    let mut out = vec!["cybrid-scan".to_string()];
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if DROPPED_WITH_VALUE.contains(&a.as_str()) {
            skip = true;
            continue;
        }
        let name = a.split('=').next().unwrap_or_default();
        if a.contains('=') && DROPPED_WITH_VALUE.contains(&name) {
            continue;
        }
        if DROPPED.contains(&a.as_str()) {
            continue;
        }
        out.push(shell_quote(a));
    }
    if !out.iter().any(|a| a == "--verify") {
        out.push("--verify".into());
    }
    out.extend(["-f".into(), "json".into(), "-o".into(), shell_quote(file)]);
    Some(out.join(" "))
}

/// The next step when the scan itself wrote the JSON report to `file`
/// (said on standard error: the report is the output).
pub fn for_report(live: usize, file: &str) -> String {
    let file = shell_quote(file);
    format!(
        "{live} live credential(s): delete them with `cybrid-scan revoke --report {file}`, or replace them first with `cybrid-scan rotate --report {file} --deliver github:OWNER/REPO`"
    )
}

/// The lines printed under the LIVE banner.
pub fn lines(argv: &[String]) -> Vec<String> {
    let mut l = Vec::new();
    if let Some(scan) = json_scan_command(argv, REPORT_FILE) {
        l.push(format!("  1. write the report they need:   {scan}"));
    } else {
        l.push(format!(
            "  1. write the report they need:   the same scan with --verify -f json -o {REPORT_FILE}"
        ));
    }
    l.push(format!(
        "  2. delete them:                  cybrid-scan revoke --report {REPORT_FILE}"
    ));
    l.push(format!(
        "     or replace them first:        cybrid-scan rotate --report {REPORT_FILE} --deliver github:OWNER/REPO"
    ));
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_scan_again_as_json_without_output_or_actions() {
        let a = argv(&[
            "/usr/bin/cybrid-scan",
            "git",
            "my repo",
            "--verify",
            "-o",
            "r.txt",
            "--format=human",
            "--revoke",
            "--yes",
            "--notify-webhook",
            "https://hooks.example/T0/secret",
        ]);
        assert_eq!(
            json_scan_command(&a, "cybrid-report.json").as_deref(),
            Some("cybrid-scan git 'my repo' --verify -f json -o cybrid-report.json")
        );
        let a = argv(&["cybrid-scan", "dir", "."]);
        assert_eq!(
            json_scan_command(&a, "x.json").as_deref(),
            Some("cybrid-scan dir . --verify -f json -o x.json")
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(json_scan_command(&[], "x").is_none());
    }
}
