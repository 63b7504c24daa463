//! The detection engine on arbitrary bytes: it never panics, every span it
//! reports lies within the input (and is not empty), the same input gives
//! the same detections, and line/column mapping agrees with a plain count.
#![no_main]

use std::sync::OnceLock;

use cybrid_scan::collect::to_findings;
use cybrid_scan::detect::{Engine, Scratch};
use cybrid_scan::finding::Location;
use cybrid_scan::rules::load_rules;
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(load_rules(&[]).expect("built-in rules compile")))
}

fuzz_target!(|data: &[u8]| {
    let engine = engine();
    let mut scratch = Scratch::default();
    let first = engine.scan(data, &mut scratch);
    let key = |ds: &[cybrid_scan::detect::Detection]| -> Vec<(usize, usize, usize, String, Option<String>)> {
        ds.iter()
            .map(|d| {
                (
                    d.rule,
                    d.start,
                    d.end,
                    d.secret.expose().to_string(),
                    d.client_id.as_ref().map(|c| c.expose().to_string()),
                )
            })
            .collect()
    };
    for d in &first {
        assert!(d.start < d.end && d.end <= data.len(), "span out of the input");
        assert!(d.rule < engine.rules().len());
        assert!(!d.secret.is_empty());
    }
    // Scratch reuse must not change anything, nor must a fresh one.
    let again = engine.scan(data, &mut scratch);
    assert_eq!(key(&first[..]), key(&again[..]), "same input, different detections");
    let fresh = engine.scan(data, &mut Scratch::default());
    assert_eq!(key(&first[..]), key(&fresh[..]), "scratch state leaked between scans");

    let spans: Vec<(usize, usize)> = first.iter().map(|d| (d.start, d.end)).collect();
    let findings = to_findings(engine, data, first, &Location::default());
    for (f, (start, end)) in findings.iter().zip(spans) {
        let line = 1 + data[..start].iter().filter(|b| **b == b'\n').count() as u64;
        let line_start = data[..start].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        assert_eq!(f.location.line, line);
        assert_eq!(f.location.column, (start - line_start + 1) as u64);
        let end_line = 1 + data[..end].iter().filter(|b| **b == b'\n').count() as u64;
        let end_line_start = data[..end].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        assert_eq!(f.location.end_line, end_line);
        assert_eq!(f.location.end_column, (end - end_line_start + 1) as u64);
    }
});
