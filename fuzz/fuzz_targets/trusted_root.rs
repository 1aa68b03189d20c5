//! Trusted-root JSON, used to verify real bundles (npm provenance and a TSA-timestamped GitHub
//! one) for what they claim. The bundles are parsed once per process.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::wire::trust_root::TrustedRoot;

const BUNDLES: &[&str] = &[
    include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"),
    include_str!("../../tests/data/trust/github-instance-release-attestation.sigstore.json"),
    include_str!("../../tests/data/sigstore-conformance/bundle-verify/rekor2-happy-path/bundle.sigstore.json"),
];

fn bundles() -> &'static [Bundle] {
    static PARSED: OnceLock<Vec<Bundle>> = OnceLock::new();
    PARSED.get_or_init(|| BUNDLES.iter().filter_map(|b| serde_json::from_str(b).ok()).collect())
}

fuzz_target!(|data: &[u8]| {
    let Ok(root) = serde_json::from_slice::<TrustedRoot>(data) else {
        return;
    };
    for bundle in bundles() {
        common::verify_as_claimed(bundle, std::slice::from_ref(&root));
    }
});
