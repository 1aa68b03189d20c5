//! A bundle's transparency-log entry checked on its own (sigstore-protocol.md §5 steps 5 and 8):
//! body consistency, SET, inclusion proof and checkpoint, against every seed root's logs, with
//! the bundle's own content and signer, whether or not its signature verifies.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::verify::tlog::{verify_entry, SignedContent, SignerKey};
use npm_attest::core::verify::{BundleContent, BundleSigner, ParsedBundle};

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<Bundle>(data) else {
        return;
    };
    let Ok(parsed) = ParsedBundle::parse(&bundle) else {
        return;
    };
    let content = match parsed.content {
        BundleContent::MessageSignature { digest, signature } => {
            SignedContent::MessageSignature { artifact_sha256: digest.map(|(_, d)| d).unwrap_or(&[]), signature }
        }
        BundleContent::Dsse { envelope, .. } => SignedContent::Dsse { envelope },
    };
    let managed = common::managed_key_spki();
    let signer = match &parsed.signer {
        BundleSigner::Certificate(leaf) => SignerKey::Certificate { der: &leaf.der },
        BundleSigner::PublicKey { .. } => SignerKey::PublicKey { spki_der: managed },
    };
    for root in common::roots() {
        let _ = verify_entry(parsed.tlog_entry, &root.tlogs, content, signer);
    }
});
