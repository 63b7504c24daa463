//! The dashboard runbook: when the admin credential cannot create or
//! delete applications (the identity service did not grant the scopes) or
//! the leaked application cannot be read, `rotate` changes nothing and
//! prints the API-keys guide's steps instead, filled in with what is known,
//! ending with the `rotate --new-from-stdin` command that takes over from
//! there. Pure text, no secret: client ids are redacted.

use std::fmt::Write as _;

use super::deliver::Destination;
use super::plan::Rotation;
use crate::report::escape_for_terminal;
use crate::revoke::api::AppInfo;

/// What the runbook knows about one rotation.
pub struct Known<'a> {
    pub rotation: &'a Rotation,
    pub info: Option<&'a AppInfo>,
}

/// The runbook for `known`, after `why` (the reason the API cannot do it).
pub fn text(why: &str, known: &[Known], destinations: &[Destination], report: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Rotation cannot be done through the API: {}",
        escape_for_terminal(why)
    );
    let _ = writeln!(
        s,
        "Nothing was changed. Rotate in the Cybrid dashboard instead:"
    );
    for (i, k) in known.iter().enumerate() {
        let t = &k.rotation.target;
        let _ = writeln!(
            s,
            "\n  {}. The {} key {} in {} (found at {}):",
            i + 1,
            t.type_label(),
            t.shown_client_id(),
            escape_for_terminal(&t.environment),
            escape_for_terminal(&t.locations.join(", "))
        );
        let host = format!("https://id.{}.cybrid.app", t.environment);
        let _ = writeln!(
            s,
            "     a. Sign in to the {} dashboard and open Developers > API keys ({}).",
            escape_for_terminal(&t.environment),
            escape_for_terminal(&host)
        );
        let bank = k
            .info
            .and_then(|i| i.bank_guid.as_deref())
            .map_or("the same bank as the leaked key".to_string(), |b| {
                format!("bank {}", escape_for_terminal(b))
            });
        let name = k.info.map_or("the leaked key's name".to_string(), |i| {
            escape_for_terminal(&i.name)
        });
        let _ = writeln!(
            s,
            "     b. Create a new {} API key for {bank}, named \"{name} (rotated …)\".",
            t.type_label()
        );
        let allow = match k.info {
            Some(i) if i.ip_allowlist.is_empty() => {
                "no IP allowlist (as the leaked key)".to_string()
            }
            Some(i) => format!(
                "the IP allowlist {}",
                escape_for_terminal(&i.ip_allowlist.join(", "))
            ),
            None => "the same IP allowlist as the leaked key (the dashboard shows it)".to_string(),
        };
        let _ = writeln!(s, "     c. Give it {allow}.");
        let _ = writeln!(
            s,
            "     d. Copy the client id and the secret: the secret is shown only once."
        );
        let _ = writeln!(
            s,
            "     e. Deliver, check and watch the leaked key with (paste the id, then the secret, one per line):"
        );
        let dests: Vec<String> = destinations
            .iter()
            .map(|d| format!(" --deliver '{d}'"))
            .collect();
        let _ = writeln!(
            s,
            "          cybrid-scan rotate --report {} --fingerprint {}{} --secret-names {},{} --new-from-stdin",
            escape_for_terminal(report),
            t.fingerprint.get(..16).unwrap_or(&t.fingerprint),
            dests.concat(),
            k.rotation.names.id,
            k.rotation.names.secret
        );
        let _ = writeln!(
            s,
            "     f. Delete the leaked key {} in the dashboard once the service runs on the new one; the command above watches it stop working.",
            t.shown_client_id()
        );
    }
    if destinations.is_empty() {
        let _ = writeln!(s, "\n  No --deliver destination was given: update wherever the service reads its credentials.");
    } else {
        let shown: Vec<String> = destinations.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "\n  Destinations to update: {}", shown.join(", "));
    }
    s
}
