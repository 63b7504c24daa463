//! A live credential's IP allowlist, read from its application when the
//! admin credential `revoke` uses is in the environment: a key usable from
//! anywhere reaches further than one pinned to a runner's address (the
//! blast radius of issue #29). Only the `…_applications:read` scopes are
//! asked for; without an admin credential nothing is asked, and a verdict
//! says nothing about an allowlist it could not read.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;
use crate::revoke::api::{AdminApi, AdminCredential};
use crate::revoke::plan::AppType;
use crate::revoke::scopes::scope;
use crate::secret::Secret;
use crate::verify::endpoint::Environment;

/// Read the allowlist of every authenticated finding's application and
/// record it in its verdict; returns notes on what could not be read.
pub fn read_allowlists(
    findings: &mut [Finding],
    api: &AdminApi,
    admin: &AdminCredential,
) -> Vec<String> {
    // (environment, client_id) -> the type, when the verdict knows it.
    let mut wanted: BTreeMap<(String, String), Option<AppType>> = BTreeMap::new();
    for f in findings.iter() {
        if let Some(t) = f.revocation_target() {
            let kind = t.application_type.as_deref().and_then(AppType::parse);
            wanted.insert((t.environment, t.client_id), kind);
        }
    }
    let mut notes = Vec::new();
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let envs: BTreeSet<String> = wanted.keys().map(|(e, _)| e.clone()).collect();
    for env_name in envs {
        let Ok(env) = env_name.parse::<Environment>() else {
            continue;
        };
        let kinds: BTreeSet<AppType> = wanted
            .iter()
            .filter(|((e, _), _)| *e == env_name)
            .flat_map(|(_, k)| match k {
                Some(k) => vec![*k],
                None => vec![AppType::Bank, AppType::Organization],
            })
            .collect();
        let asked: Vec<String> = kinds.iter().map(|k| scope(*k, "read")).collect();
        let token = match api.mint(env, admin, &asked.join(" ")) {
            Ok(t) => t,
            Err(e) => {
                notes.push(format!("verify: IP allowlists in {env_name} not read: {e}"));
                continue;
            }
        };
        for ((e, client_id), kind) in wanted.iter().filter(|((e, _), _)| *e == env_name) {
            let id = Secret::new(client_id.clone());
            let tries: Vec<AppType> = match kind {
                Some(k) => vec![*k],
                None => vec![AppType::Bank, AppType::Organization],
            };
            for k in tries {
                if !token.holds(&scope(k, "read")) {
                    continue;
                }
                match api.read_application(env, k, &id, &token) {
                    Ok(Some(info)) => {
                        found.insert((e.clone(), client_id.clone()), info.ip_allowlist);
                        break;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        notes.push(format!(
                            "verify: the IP allowlist of {} in {env_name} not read: {err}",
                            id.redacted()
                        ));
                        break;
                    }
                }
            }
        }
    }
    for f in findings.iter_mut() {
        if let Some(t) = f.revocation_target() {
            if let Some(list) = found.get(&(t.environment, t.client_id)) {
                f.verification.ip_allowlist = Some(list.clone());
            }
        }
    }
    notes
}
