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

/// With `CYBRID_SCAN_FAULT=truncate-after-map`, cut a file that is being
/// read through a memory map to a quarter of its length, right after the
/// first map is made: what another process truncating a log under the reader does.
#[cfg(target_os = "linux")]
pub fn after_map(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if std::env::var(FAULT_VAR).as_deref() != Ok("truncate-after-map")
        || DONE.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return;
    };
    if let Ok(w) = std::fs::File::options()
        .write(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
    {
        let _ = w.set_len(len / 4);
    }
}
