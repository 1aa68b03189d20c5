//! Bundle JSON, verified for the subject and identity the bundle itself claims (each statement
//! subject's digests and npm package, or the message digest; the certificate's SAN and issuer,
//! or the conformance managed key) against every trusted root the seeds chain to. A seed that
//! verifies thus runs every step: signature, identity, RFC 3161 timestamps, the log entry
//! (body, SET, inclusion proof, checkpoint), the chain and the SCTs.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::bundle::Bundle;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<Bundle>(data) else {
        return;
    };
    common::verify_as_claimed(&bundle, common::roots());
});
