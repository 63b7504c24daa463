//! The keyword prefilter's SIMD path against the regex it replaces, on
//! arbitrary bytes: the same hits (keyword, start, end, host, environment)
//! in the same order, and the newlines of any range counted right. A hit
//! the SIMD path misses is a credential never looked at.
#![no_main]

use std::sync::OnceLock;

use cybrid_scan::detect::prefilter::Prefilter;
use libfuzzer_sys::fuzz_target;

fn prefilter() -> &'static Prefilter {
    static P: OnceLock<Prefilter> = OnceLock::new();
    P.get_or_init(|| Prefilter::new(&cybrid_scan::rules::load_rules(&[]).expect("built-in rules")))
}

fuzz_target!(|data: &[u8]| {
    let p = prefilter();
    let (mut simd, mut regex) = (Vec::new(), Vec::new());
    p.hits(data, &mut simd);
    p.regex_hits(data, &mut regex);
    assert_eq!(simd, regex);
    let (a, b) = match data.first() {
        Some(&x) => ((x as usize).min(data.len()), data.len()),
        None => (0, 0),
    };
    let lines = p.hits_and_newlines(data, a..b, &mut simd);
    assert_eq!(lines, data[a..b].iter().filter(|&&c| c == b'\n').count() as u64);
    assert_eq!(simd, regex);
});
