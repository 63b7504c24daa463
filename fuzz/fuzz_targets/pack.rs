//! The pack reader and delta-tree walk on an arbitrary pack file: truncated
//! or corrupted entries, headers claiming terabytes, OFS deltas pointing
//! anywhere, REF deltas on a base from outside. Never panics, never
//! allocates without bound, always ends; every wanted blob is accounted for
//! exactly once (decoded, too large, or left for libgit2).
//!
//! Input: `[knobs][n][n × u16 offset][body]`. Knobs: bit 0 answers REF-delta
//! bases from outside the pack (the body's first 256 bytes, as a blob);
//! bit 1 holds no shared base (each child re-decodes its chain); bit 7 takes
//! the body as the whole file, else it gets a pack header and trailer.
#![no_main]

use cybrid_scan::source::git::fuzzing::walk_pack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [knobs, n, rest @ ..] = data else {
        return;
    };
    let n = usize::from(n % 17);
    let Some((table, body)) = rest.split_at_checked(2 * n) else {
        return;
    };
    let mut offsets: Vec<u64> = table
        .chunks_exact(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
        .collect();
    offsets.push(12);
    let file = if knobs & 0x80 != 0 {
        body.to_vec()
    } else {
        let mut f = b"PACK\0\0\0\x02\0\0\0\x01".to_vec();
        f.extend_from_slice(body);
        f.extend_from_slice(&[0u8; 20]);
        f
    };
    let dir = tempfile::Builder::new()
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temp dir");
    let path = dir.path().join("fuzz.pack");
    std::fs::write(&path, &file).expect("write input");
    let external = if knobs & 1 != 0 {
        &body[..body.len().min(256)]
    } else {
        &[][..]
    };
    let held_cap = if knobs & 2 != 0 { 0 } else { 1 << 20 };
    let walked = walk_pack(&path, &offsets, external, 1 << 20, held_cap);
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        walked.blobs + walked.too_large + walked.left,
        offsets.len(),
        "a wanted blob went unaccounted for: {walked:?}"
    );
});
