//! Identity tokens: the unverified decoder the client uses, and the stand-in's ES256 check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::jwt::{decode_unverified, verify_es256};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jwt) = decode_unverified(&text) {
        let _ = (jwt.audiences(), jwt.challenge_subject(), jwt.str_claim("iss"), jwt.int_claim("exp"));
    }
    if let Ok(key) = p256_key() {
        let _ = verify_es256(&key, &text);
    }
});

fn p256_key() -> Result<p256::ecdsa::VerifyingKey, ()> {
    let secret = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).map_err(|_| ())?;
    Ok(*secret.verifying_key())
}
