//! Identity tokens: the unverified decoder the client uses, and the stand-in's ES256 check.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::jwt::{decode_unverified, verify_es256};
use npm_attest::core::time::UnixTime;
use npm_attest::fuzzing::inspect_token;
use npm_attest::secret::SecretString;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jwt) = decode_unverified(&text) {
        let _ = (jwt.audiences(), jwt.challenge_subject(), jwt.str_claim("iss"), jwt.int_claim("exp"));
    }
    if let Some(key) = p256_key() {
        let _ = verify_es256(key, &text);
    }
    // As `attest` inspects a token it was given or fetched.
    let token = SecretString::new(text.trim().to_owned());
    let _ = inspect_token(&token, UnixTime(1_700_000_000));
});

/// Made once per process, not per input.
fn p256_key() -> Option<&'static p256::ecdsa::VerifyingKey> {
    static KEY: OnceLock<Option<p256::ecdsa::VerifyingKey>> = OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).ok().map(|k| *k.verifying_key())).as_ref()
}
