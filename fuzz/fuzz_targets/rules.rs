//! The rules parser on arbitrary TOML text: errors, never panics; a rule
//! set it accepts builds an engine that can scan.
#![no_main]

use cybrid_scan::detect::{Engine, Scratch};
use cybrid_scan::rules::parse_rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = parse_rules("fuzz.toml", text) else {
        return;
    };
    if rules.is_empty() {
        return;
    }
    let examples: Vec<String> = rules
        .iter()
        .flat_map(|r| r.examples.iter().chain(&r.negative_examples))
        .take(8)
        .map(|e| e.chars().take(4096).collect())
        .collect();
    let engine = Engine::new(rules);
    let mut scratch = Scratch::default();
    for e in &examples {
        for d in engine.scan(e.as_bytes(), &mut scratch) {
            assert!(d.start < d.end && d.end <= e.len());
        }
    }
});
