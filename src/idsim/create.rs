//! `POST /api/{bank,organization}_applications`: a new application, whose
//! secret is in the answer once (`ApplicationWithSecret`), as CYBRID.md
//! documents it. The body is checked as strictly as the API does: `name`
//! required, `bank_guid` required for a bank application and one of the
//! caller's organization's banks, no other field, and the API-keys guide's
//! IP allowlist rules (at most 3 entries, IPv4 address or CIDR, public
//! addresses only); anything else is `422 invalid_parameter`.

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{json, Value};

use super::state::{AppKind, Application, Grant, World};

/// At most this many allowlist entries.
pub const MAX_ALLOWLIST: usize = 3;

/// Why a body is refused, as the `error_message` of a 422.
pub type Invalid = String;

/// A fresh value shaped like a client_id or secret: 43 characters, and
/// alphanumeric (so tests can grep for it without a regex).
pub fn new_credential() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    loop {
        let v = URL_SAFE_NO_PAD.encode(rand::thread_rng().gen::<[u8; 32]>());
        if v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return v;
        }
    }
}

/// Whether `ip` is a public unicast address (not private, loopback,
/// link-local, multicast, reserved, CGNAT, documentation, benchmarking,
/// "this network" or broadcast).
pub fn is_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let refused = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0);
    !refused
}

/// One allowlist entry: `a.b.c.d` or `a.b.c.d/len`, every address of it public.
pub fn check_entry(entry: &str) -> Result<(), Invalid> {
    let bad = || format!("ip_allowlist: {entry:?} is not a public IPv4 address or CIDR");
    let (addr, len) = match entry.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().map_err(|_| bad())?),
        None => (entry, 32),
    };
    let ip: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let first = u32::from(ip) & mask;
    let last = first | !mask;
    if first != u32::from(ip)
        || !is_public(Ipv4Addr::from(first))
        || !is_public(Ipv4Addr::from(last))
    {
        return Err(bad());
    }
    Ok(())
}

/// The `ip_allowlist` field, when present.
pub fn check_allowlist(v: &Value) -> Result<Vec<String>, Invalid> {
    let Some(list) = v.as_array() else {
        return Err("ip_allowlist must be an array of strings".into());
    };
    if list.len() > MAX_ALLOWLIST {
        return Err(format!(
            "ip_allowlist has {} entries, at most {MAX_ALLOWLIST} are allowed",
            list.len()
        ));
    }
    let mut out = Vec::new();
    for e in list {
        let Some(s) = e.as_str() else {
            return Err("ip_allowlist must be an array of strings".into());
        };
        check_entry(s)?;
        out.push(s.to_string());
    }
    Ok(out)
}

/// Create the application `body` asks for, in `env`, for the grant's
/// organization; the stored application.
pub fn create(
    world: &mut World,
    env: &str,
    kind: AppKind,
    grant: &Grant,
    body: &[u8],
) -> Result<Application, Invalid> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err("the body must be a JSON object".into());
    };
    let allowed: &[&str] = match kind {
        AppKind::Bank => &["name", "bank_guid", "ip_allowlist"],
        AppKind::Organization => &["name", "ip_allowlist"],
    };
    if let Some(extra) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown parameter {extra:?}"));
    }
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("name is required")?
        .to_string();
    let guid = match kind {
        AppKind::Organization => grant.organization_guid.clone(),
        AppKind::Bank => {
            let bank = fields
                .get("bank_guid")
                .and_then(Value::as_str)
                .ok_or("bank_guid is required")?;
            let known = world.applications.iter().any(|a| {
                a.kind == AppKind::Bank
                    && a.guid == bank
                    && a.organization_guid == grant.organization_guid
            });
            if !known {
                return Err(format!(
                    "bank_guid {bank:?} is not a bank of this organization"
                ));
            }
            bank.to_string()
        }
    };
    let ip_allowlist = match fields.get("ip_allowlist") {
        Some(v) => check_allowlist(v)?,
        None => Vec::new(),
    };
    let app = Application {
        client_id: new_credential(),
        client_secret: new_credential(),
        environment: env.to_string(),
        kind,
        guid,
        organization_guid: grant.organization_guid.clone(),
        scopes: Vec::new(),
        ip_allowlist,
        name,
    };
    world.stats.applications_created += 1;
    Ok(world.add_application(app))
}

/// The 201 answer: the application with its secret, the only time it is shown.
pub fn with_secret(mut body: Value, app: &Application) -> Value {
    body["secret"] = json!(app.client_secret);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_allowlist_rules() {
        assert!(check_entry("52.14.200.17").is_ok());
        assert!(check_entry("52.14.200.0/24").is_ok());
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.0/24",
            "203.0.113.5",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "169.254.1.1",
            "52.14.200.17/33",
            "52.14.200.1/24",
            "::1",
            "host",
        ] {
            assert!(check_entry(bad).is_err(), "{bad}");
        }
        let four = json!([
            "52.14.200.17",
            "52.14.200.18",
            "52.14.200.19",
            "52.14.200.20"
        ]);
        assert!(check_allowlist(&four).is_err());
        assert!(check_allowlist(&json!([])).expect("empty").is_empty());
    }
}
