//! The JWT decoder on arbitrary text: never panics; whatever it accepts has
//! a Cybrid issuer, and an environment exactly when that issuer is a public
//! identity host.
#![no_main]

use cybrid_scan::detect::jwt::{
    cybrid_environment, decode_cybrid_token, is_cybrid_issuer, payload_json,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payload_json(text);
    for now in [0, 1_700_000_000, i64::MIN, i64::MAX] {
        if let Some(info) = decode_cybrid_token(text, now) {
            assert!(
                is_cybrid_issuer(&info.issuer),
                "accepted a token from a non-Cybrid issuer"
            );
            assert_eq!(
                info.environment.as_deref(),
                cybrid_environment(&info.issuer)
            );
        }
    }
    let _ = cybrid_environment(text);
});
