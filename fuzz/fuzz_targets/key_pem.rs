//! `verify --key` PEM files: RFC 7468 decoding, the key types we accept, and a signature check
//! with the parsed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::crypto::{pem_rfc7468_decode, PublicKey};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pem_rfc7468_decode(&text);
    if let Ok(key) = PublicKey::from_pem(&text) {
        let _ = key.verify(b"message", &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]);
        let _ = key.message_digest(b"message");
    }
    let _ = PublicKey::from_spki_der(data);
});
