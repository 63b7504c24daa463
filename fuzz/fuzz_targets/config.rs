//! The `.cybrid-scan.toml` parser on arbitrary text: an error naming the
//! file, never a panic.
#![no_main]

use std::path::Path;

use cybrid_scan::config::file::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse(Path::new("/repo/.cybrid-scan.toml"), text) {
        assert!(e.to_string().contains(".cybrid-scan.toml"), "error does not name the file: {e}");
    }
});
