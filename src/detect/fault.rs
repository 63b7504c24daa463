//! Fault injection, compiled only with the `fault-injection` feature (never in
//! a release): lets a test make the engine panic with a secret in the panic
//! message, the worst case, to prove the binary's panic hook withholds it.

/// Environment variable that arms the fault; its value names the fault.
pub const FAULT_VAR: &str = "CYBRID_SCAN_FAULT";

/// Panic inside the engine, carrying the first detected secret, when
/// `CYBRID_SCAN_FAULT=engine-panic`.
pub fn after_scan(found: &[super::Detection]) {
    if std::env::var(FAULT_VAR).as_deref() != Ok("engine-panic") {
        return;
    }
    if let Some(d) = found.first() {
        panic!(
            "injected fault while holding secret {} (client_id {:?})",
            d.secret.expose(),
            d.client_id.as_ref().map(|c| c.expose())
        );
    }
}
