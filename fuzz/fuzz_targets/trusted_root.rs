//! Trusted-root JSON, used to verify a real npm provenance bundle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::wire::trust_root::TrustedRoot;
use npm_attest::core::verify::{verify_bundle, IdentityPolicy, NpmPackage, Policy, SanMatcher, Subject};

const BUNDLE: &str = include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json");

fuzz_target!(|data: &[u8]| {
    let Ok(root) = serde_json::from_slice::<TrustedRoot>(data) else {
        return;
    };
    let Ok(bundle) = serde_json::from_str::<Bundle>(BUNDLE) else {
        return;
    };
    let mut identity = IdentityPolicy::new("https://token.actions.githubusercontent.com");
    identity.san = Some(SanMatcher::Exact("https://github.com/microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1".into()));
    let package = Subject::NpmPackage(NpmPackage {
        name: "@playwright/cli".into(),
        version: "0.1.1".into(),
        sha512: [0u8; 64],
    });
    let _ = verify_bundle(&bundle, &root, &package, &Policy::Keyless(identity));
});
