//! The words a responder reads: the plan before anything happens and the
//! receipt after. Client ids are shown redacted; paths are escaped for the
//! terminal. Pure functions of the plan and results, so they are testable.

use std::fmt::Write as _;

use super::plan::{Plan, Target};
use super::{Outcome, RunResult, TOKEN_LIFETIME};
use crate::report::escape_for_terminal;

fn short(fp: &str) -> &str {
    fp.get(..12).unwrap_or(fp)
}

fn describe(t: &Target) -> String {
    format!(
        "{} application in {}, client_id {}",
        t.type_label(),
        escape_for_terminal(&t.environment),
        t.shown_client_id()
    )
}

fn places(t: &Target) -> String {
    let shown: Vec<String> = t
        .locations
        .iter()
        .take(3)
        .map(|l| escape_for_terminal(l))
        .collect();
    let more = t.locations.len().saturating_sub(shown.len());
    let mut s = shown.join(", ");
    if more > 0 {
        let _ = write!(s, " and {more} more");
    }
    s
}

/// The plan, as printed before anything is changed.
pub fn plan_text(plan: &Plan, source: &str) -> String {
    let mut s = String::new();
    if plan.targets.is_empty() && plan.live_without_target.is_empty() {
        let _ = writeln!(
            s,
            "Nothing to revoke: {} has no finding verified live ({} finding(s) in all).",
            escape_for_terminal(source),
            plan.findings
        );
        return s;
    }
    let _ = writeln!(
        s,
        "Revocation plan ({}): delete {} application(s) with the admin credential ({}), then confirm each with its leaked pair at the token endpoint:",
        escape_for_terminal(source),
        plan.targets.len(),
        super::api::ADMIN_ID_VAR
    );
    for (i, t) in plan.targets.iter().enumerate() {
        let _ = writeln!(s, "  {}. {}", i + 1, describe(t));
        let _ = writeln!(
            s,
            "     finding {} at {}{}",
            short(&t.fingerprint),
            places(t),
            if t.app_type.is_none() {
                " (type looked up with the GET endpoints first)"
            } else {
                ""
            }
        );
        let _ = writeln!(s, "     admin scopes: {}", needed(t));
        if t.secret.is_none() {
            let _ = writeln!(
                s,
                "     no secret in the report (written without --show-secrets), and none at the finding's location any more: the deletion will be made but cannot be confirmed at the token endpoint"
            );
        }
    }
    for place in &plan.live_without_target {
        let _ = writeln!(
            s,
            "  ! live finding at {} has no revocation data in the report: scan again with --verify",
            escape_for_terminal(place)
        );
    }
    s
}

fn needed(t: &Target) -> String {
    let scopes: Vec<String> = super::scopes::for_target(t)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    scopes.join(" ")
}

/// The receipt of a run.
pub fn receipt_text(run: &RunResult, run_id: &str, audit_log: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Revocation receipt (run {run_id}; every step is in {}):",
        escape_for_terminal(audit_log)
    );
    for r in &run.results {
        let mut t = r.target.clone();
        t.app_type = r.app_type.or(t.app_type);
        let line = match &r.outcome {
            Outcome::Revoked { confirmed_at } => format!(
                "  REVOKED          {}: DELETE {}; confirmed dead at {confirmed_at}: the token endpoint refuses the pair{}",
                describe(&t),
                r.delete_status.unwrap_or(204),
                get_note(r.get_gone)
            ),
            Outcome::AlreadyRevoked { confirmed_at } => format!(
                "  ALREADY REVOKED  {}: the identity service answers 404 (deleted before); confirmed dead at {confirmed_at}: the token endpoint refuses the pair{}",
                describe(&t),
                get_note(r.get_gone)
            ),
            Outcome::Unconfirmed { reason } => format!(
                "  UNCONFIRMED      {}: {}, but not confirmed: {reason}",
                describe(&t),
                match r.delete_status {
                    Some(404) | None => "the identity service answers 404".to_string(),
                    Some(status) => format!("DELETE {status}"),
                }
            ),
            Outcome::DoneEarlier { at, outcome } => format!(
                "  DONE EARLIER     {}: {outcome} in an earlier run at {at} (per the audit log; not sent again)",
                describe(&t)
            ),
            Outcome::Failed { reason, .. } => {
                format!("  FAILED           {}: {reason}", describe(&t))
            }
        };
        let _ = writeln!(s, "{line}");
    }
    for place in &run.unplanned {
        let _ = writeln!(
            s,
            "  FAILED           live finding at {}: no revocation data in the report",
            escape_for_terminal(place)
        );
    }
    if let Some(why) = &run.stopped {
        let _ = writeln!(s, "  STOPPED          {why}");
    }
    let _ = writeln!(s, "{}.", run.tally());
    if run.results.iter().any(|r| r.outcome.as_str() != "failed") {
        let _ = writeln!(
            s,
            "WARNING: access tokens minted with these credentials before revocation stay valid until they expire (up to {} h after they were minted). Revocation stops new tokens, not those.",
            TOKEN_LIFETIME.as_secs() / 3600
        );
    }
    if run.count("unconfirmed") > 0 {
        let _ = writeln!(
            s,
            "Unconfirmed deletions were made but the leaked pair could not be tried at the token endpoint: run the same command again to retry only the confirmation (with a report written with --show-secrets if the secret was missing), or scan again with --verify (the finding should be invalid)."
        );
    }
    if run.failed() > 0 {
        let _ = writeln!(
            s,
            "Some revocations failed: fix the cause and run the same command again; finished ones are skipped."
        );
    }
    s
}

/// The optional GET's result, when one was made.
fn get_note(gone: Option<bool>) -> &'static str {
    match gone {
        Some(true) => " (and the application endpoint answers 404)",
        Some(false) => " (though the application endpoint still lists it)",
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::AppType;
    use super::super::TargetResult;
    use super::*;
    use crate::secret::Secret;

    fn target() -> Target {
        Target {
            fingerprint: "0123456789abcdef".into(),
            fingerprints: vec!["0123456789abcdef".into()],
            client_id: Secret::new("AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"),
            secret: None,
            environment: "sandbox".into(),
            app_type: Some(AppType::Bank),
            locations: vec![".env:2".into()],
        }
    }

    #[test]
    fn plan_and_receipt_redact_and_warn() {
        let plan = Plan {
            targets: vec![target()],
            findings: 1,
            live_findings: 1,
            ..Plan::default()
        };
        let text = plan_text(&plan, "r.json");
        assert!(text.contains("bank application in sandbox"));
        assert!(text.contains("admin scopes: bank_applications:execute\n"));
        assert!(text.contains("cannot be confirmed at the token endpoint"));
        assert!(!text.contains("AAAAbbbbCCCCddddEEEE"));
        let run = RunResult {
            results: vec![TargetResult {
                target: target(),
                app_type: Some(AppType::Bank),
                outcome: Outcome::Revoked {
                    confirmed_at: "2026-01-01T00:00:00Z".into(),
                },
                delete_status: Some(204),
                get_gone: None,
            }],
            unplanned: Vec::new(),
            stopped: None,
        };
        let text = receipt_text(&run, "abc", "audit.jsonl");
        assert!(text.contains("REVOKED"));
        assert!(text.contains(
            "confirmed dead at 2026-01-01T00:00:00Z: the token endpoint refuses the pair"
        ));
        assert!(text.contains("up to 8 h"));
        assert!(!text.contains("AAAAbbbbCCCCddddEEEE"));
    }
}
