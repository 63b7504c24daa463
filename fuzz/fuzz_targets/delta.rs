//! Git's delta format on an arbitrary base and delta: never panics, never
//! reads past the base or the delta, never allocates past what the delta's
//! instructions can produce; a result that is accepted has exactly the size
//! the header declares, and is made only of the base's and the delta's bytes.
//!
//! Input: `[u16 base length][base][delta]`.
#![no_main]

use cybrid_scan::source::git::fuzzing::apply_delta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let len = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    let (base, delta) = rest.split_at(len);
    let Ok(out) = apply_delta(base, delta) else {
        return;
    };
    // The header's result size, read as git does (little-endian base 128).
    let mut at = 0;
    let mut sizes = [0u64; 2];
    for size in &mut sizes {
        let mut shift = 0;
        loop {
            let byte = delta[at];
            at += 1;
            *size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    assert_eq!(sizes[0], base.len() as u64);
    assert_eq!(out.len() as u64, sizes[1]);
    // Every output byte is a copy (at most 64 KiB per 1-byte instruction)
    // or a literal: the output is bounded by the delta's length.
    assert!(out.len() <= delta.len().saturating_mul(0x10000));
});
