//! The log source's readers (plain, gzip, zip, told by magic bytes) on an
//! arbitrary file, in small windows and with a small decompression cap:
//! never panics, never reads past the cap, and every finding's line and
//! column lie inside what was read.
#![no_main]

use std::sync::OnceLock;

use cybrid_scan::collect::Collector;
use cybrid_scan::detect::Engine;
use cybrid_scan::rules::load_rules;
use cybrid_scan::source::log::{scan_logs, LogOptions};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(load_rules(&[]).expect("built-in rules compile")))
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    // /dev/shm when there is one: a file per run, no disk writes.
    let dir = tempfile::Builder::new()
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temp dir");
    let path = dir.path().join(if knobs & 1 == 1 { "ci.log.gz" } else { "ci.log" });
    std::fs::write(&path, body).expect("write input");
    // Each window rescans up to 64 KiB of lookback, so tiny windows cost
    // lookback x bytes: cap what is inflated in proportion to the window
    // (a 1-byte window over a 1 MiB bomb took 14 s and tripped the timeout;
    // real windows are 1 MiB).
    let chunk = 1 + (knobs as usize >> 1) * 97;
    let cap = (chunk as u64 * 512).min(1 << 20);
    let opts = LogOptions {
        threads: 1,
        chunk,
        max_decompressed: cap,
        ..LogOptions::default()
    };
    let collector = Collector::default();
    scan_logs(std::slice::from_ref(&path), &opts, engine(), &collector);
    let gathered = collector.into_gathered();
    for f in &gathered.findings {
        assert!(f.location.line >= 1 && f.location.column >= 1);
        // A plain input is read whole; an inflated one stops at the cap.
        assert!(f.location.column <= cap.max(body.len() as u64) + 1);
    }
});
