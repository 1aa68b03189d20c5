//! Answers of the services we call, as the client reads them: the GitHub attestations API,
//! the npm registry's refusals, Rekor's 409 (which entry exists), Fulcio's certificate chain,
//! package-lock.json (`verify --lockfile`), the OIDC token an exchange returns. Input: one
//! selector byte, then the answer body.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::jwt::certificate_identity;
use npm_attest::core::npm::publish::{classify_refusal, registry_message};
use npm_attest::core::time::UnixTime;
use npm_attest::fuzzing;
use npm_attest::secret::SecretString;

/// The SPKI of the key Fulcio's seed answer certifies (so the leaf check runs to the end).
fn our_spki() -> &'static [u8] {
    static SPKI: OnceLock<Vec<u8>> = OnceLock::new();
    SPKI.get_or_init(|| {
        let pem = include_str!("../fixtures/fulcio-leaf.pem");
        let der = npm_attest::core::crypto::pem_rfc7468_decode(pem).map(|(_, der)| der).unwrap_or_default();
        npm_attest::core::verify::x509::subject_and_spki(&der).map(|(_, spki)| spki).unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    match which % 6 {
        0 => {
            for status in [201, 401, 403, 404, 422, 500] {
                let _ = fuzzing::github_attestations_answer(status, body);
            }
        }
        1 => {
            let message = registry_message(body).unwrap_or_default();
            for status in [401, 402, 403, 404, 409, 422] {
                let _ = classify_refusal(status, Some("OTP"), &message);
            }
        }
        2 => {
            let location = text.lines().next();
            let _ = fuzzing::rekor_conflict_uuid(location, body);
            let _ = fuzzing::rekor_conflict_uuid(None, body);
        }
        3 => {
            let _ = fuzzing::fulcio_leaf(body, our_spki());
        }
        4 => {
            if let Ok(lock) = serde_json::from_slice(body) {
                let _ = fuzzing::lockfile_entries(&lock);
            }
        }
        _ => {
            // An identity token as a token exchange or the Actions runtime returns it.
            let token = SecretString::new(text.trim().to_owned());
            if let Some(claims) = fuzzing::inspect_token(&token, UnixTime(1_700_000_000)) {
                let _ = certificate_identity(&claims);
            }
        }
    }
});
