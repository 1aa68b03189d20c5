//! Bundle JSON, parsed and run through the whole verification algorithm against the
//! public-good trusted root, as an artifact and as an npm package.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::wire::trust_root::TrustedRoot;
use npm_attest::core::verify::{
    verify_bundle, ArtifactDigests, IdentityPolicy, NpmPackage, Policy, SanMatcher, Subject,
};

const ROOT: &str = include_str!("../../tests/data/trust/public-good-production-trusted_root.json");

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<Bundle>(data) else {
        return;
    };
    let Ok(root) = serde_json::from_str::<TrustedRoot>(ROOT) else {
        return;
    };
    let mut identity = IdentityPolicy::new("https://token.actions.githubusercontent.com");
    identity.san = Some(SanMatcher::Exact("https://github.com/octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0".into()));
    let policy = Policy::Keyless(identity);
    let artifact = Subject::Artifact(ArtifactDigests::of_bytes(b"a"));
    let _ = verify_bundle(&bundle, &root, &artifact, &policy);
    let package = Subject::NpmPackage(NpmPackage {
        name: "@octo/hello".into(),
        version: "1.0.0".into(),
        sha512: [0u8; 64],
    });
    let _ = verify_bundle(&bundle, &root, &package, &policy);
});
