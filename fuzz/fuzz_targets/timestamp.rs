//! RFC 3161 timestamp tokens (DER), verified over a signature against every seed root's
//! timestamp authorities. Input: a 2-byte big-endian length, that many bytes of signature (what
//! the token's message imprint must cover), then the token. Seeds come from real bundles.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::tsa::verify_timestamp;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (signature, token) = rest.split_at(len);
    for root in common::roots() {
        if !root.timestamp_authorities.is_empty() {
            let _ = verify_timestamp(token, signature, &root.timestamp_authorities);
        }
    }
});
