//! A bundle's transparency-log entry checked on its own (sigstore-protocol.md §5 steps 5 and 8):
//! body consistency, SET, inclusion proof and checkpoint, against every seed root's logs, with
//! the bundle's own content and signer, whether or not its signature verifies.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::crypto::HashAlgorithm;
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
            // The bundle's own digest, under the algorithm it names (SHA-256 when it names none
            // that is known).
            let (name, artifact_digest) = digest.unwrap_or(("SHA2_256", &[]));
            let hash = HashAlgorithm::from_registry_name(name).unwrap_or(HashAlgorithm::Sha256);
            SignedContent::MessageSignature { hash, artifact_digest, signature }
        }
        BundleContent::Dsse { envelope, .. } => SignedContent::Dsse { envelope },
    };
    let managed = common::managed_key_spki();
    let signer = match &parsed.signer {
        BundleSigner::Certificate(leaf) => SignerKey::Certificate { der: &leaf.der },
        BundleSigner::PublicKey { .. } => SignerKey::PublicKey { spki_der: managed },
    };
    // A timestamp-only bundle has no entry to check.
    let Some(entry) = parsed.tlog_entry else {
        return;
    };
    for root in common::roots() {
        let _ = verify_entry(entry, &root.tlogs, content, signer);
    }
});
