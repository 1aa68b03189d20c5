//! Rekor v1 create/get-entry responses, mapped into a bundle's log entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::rekor::parse_entry_response;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, entry)) = parse_entry_response(data) {
        let _ = entry.to_bundle_entry();
    }
});
