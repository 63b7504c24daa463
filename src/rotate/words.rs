//! What a responder reads: the rotation plan before anything happens and
//! the receipt after. Client ids redacted, paths escaped; no secret.

use std::fmt::Write as _;

use super::deliver::Destination;
use super::plan::RotationPlan;
use super::{RotOutcome, RotateRun};
use crate::report::escape_for_terminal;

/// One outcome in words (also the audit log's message).
pub fn outcome_line(o: &RotOutcome) -> String {
    match o {
        RotOutcome::Rotated { replacement, name } => format!(
            "replaced by {}{replacement}, delivered and checked; the leaked application is deleted and confirmed dead",
            if name.is_empty() { String::new() } else { format!("{name:?} ") }
        ),
        RotOutcome::DoneEarlier { at, outcome } => {
            format!("{outcome} in an earlier run at {at}: nothing was sent")
        }
        RotOutcome::Pending { replacement, name, reason } => format!(
            "{reason}. The leaked application was NOT deleted. The replacement {name:?} ({replacement}) is kept and will be reused: fix the cause and run the same command again"
        ),
        RotOutcome::Unconfirmed { replacement, reason } => format!(
            "replaced by {replacement} and the leaked application deleted, but its death is not confirmed: {reason}"
        ),
        RotOutcome::Failed { reason } => reason.clone(),
    }
}

/// The plan, printed before anything is changed.
pub fn plan_text(plan: &RotationPlan, destinations: &[Destination], source: &str) -> String {
    let mut s = String::new();
    if plan.rotations.is_empty() && plan.live_without_target.is_empty() {
        let _ = writeln!(
            s,
            "Nothing to rotate: {} has no finding verified live ({} finding(s) in all).",
            escape_for_terminal(source),
            plan.findings
        );
        return s;
    }
    let _ = writeln!(
        s,
        "Rotation plan ({}): for each leaked application, create a replacement (same type, bank and IP allowlist), deliver it, check it, then delete the leaked one:",
        escape_for_terminal(source)
    );
    for (i, r) in plan.rotations.iter().enumerate() {
        let t = &r.target;
        let _ = writeln!(
            s,
            "  {}. {} application in {}, client_id {}, found at {}",
            i + 1,
            t.type_label(),
            escape_for_terminal(&t.environment),
            t.shown_client_id(),
            escape_for_terminal(&t.locations.join(", "))
        );
        let _ = writeln!(
            s,
            "     delivered as {} and {}",
            escape_for_terminal(&r.names.id),
            escape_for_terminal(&r.names.secret)
        );
    }
    for place in &plan.live_without_target {
        let _ = writeln!(
            s,
            "  ! live finding at {} has no revocation data in the report: scan again with --verify",
            escape_for_terminal(place)
        );
    }
    if destinations.is_empty() {
        let _ = writeln!(
            s,
            "  destinations: none (--deliver): the new pair would reach no service"
        );
    } else {
        let shown: Vec<String> = destinations.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "  destinations: {}", shown.join(", "));
    }
    s
}

/// The receipt of a run.
pub fn receipt_text(run: &RotateRun, run_id: &str, audit_log: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Rotation receipt (run {run_id}; every step is in {}):",
        escape_for_terminal(audit_log)
    );
    for r in &run.results {
        let t = &r.rotation.target;
        let label = match r.outcome {
            RotOutcome::Rotated { .. } => "ROTATED     ",
            RotOutcome::DoneEarlier { .. } => "DONE EARLIER",
            RotOutcome::Pending { .. } => "PENDING     ",
            RotOutcome::Unconfirmed { .. } => "UNCONFIRMED ",
            RotOutcome::Failed { .. } => "FAILED      ",
        };
        let _ = writeln!(
            s,
            "  {label} {} application in {}, client_id {}: {}",
            t.type_label(),
            escape_for_terminal(&t.environment),
            t.shown_client_id(),
            escape_for_terminal(&outcome_line(&r.outcome))
        );
    }
    for place in &run.unplanned {
        let _ = writeln!(
            s,
            "  FAILED       live finding at {}: no revocation data in the report",
            escape_for_terminal(place)
        );
    }
    if let Some(stop) = &run.stopped {
        let _ = writeln!(
            s,
            "  STOPPED      {}: nothing was changed",
            escape_for_terminal(&stop.reason)
        );
    }
    let _ = writeln!(s, "{}.", run.tally());
    if run.count("rotated") > 0 {
        let _ = writeln!(
            s,
            "WARNING: access tokens minted with the leaked credentials before deletion stay valid until they expire (up to {} h).",
            crate::revoke::TOKEN_LIFETIME.as_secs() / 3600
        );
    }
    s
}
