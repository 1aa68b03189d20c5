//! Request bodies the local stand-in parses: Fulcio signing-certificate requests (public key
//! with proof of possession, or a CSR) and proposed Rekor entries (dsse, intoto,
//! hashedrekord), checked and canonicalized. Input: one selector byte, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::fuzzing;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let _ = fuzzing::standin_fulcio_request(body, None);
        let _ = fuzzing::standin_fulcio_request(body, Some("bearer"));
    } else if let Ok(proposed) = serde_json::from_slice(body) {
        let _ = fuzzing::standin_rekor_request(&proposed);
    }
});
