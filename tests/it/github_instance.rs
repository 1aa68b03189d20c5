//! Real bundles from GitHub's own Sigstore instance (`fulcio.githubapp.com`,
//! `timestamp.githubapp.com`): no transparency log, no CT log, an RFC 3161 timestamp only.
//! They verify against GitHub's trusted root as `gh release verify` verifies them, and every
//! way of making such a bundle say yes where it must say no is refused.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::interop::write_json;
use crate::support::{data, run_in, stderr, stdout};

/// GitHub's release attestation for `jdx/communique` v0.1.9 (signed by GitHub itself).
const RELEASE_BUNDLE: &str = "trust/github-instance-release-attestation.sigstore.json";
const GITHUB_ROOT: &str = "trust/github-trusted_root.json";
const RELEASE_ATTESTER: &str = "https://dotcom.releases.github.com";
const RELEASE_PREDICATE: &str = "https://in-toto.io/attestation/release/v0.2";
/// `communique-aarch64-apple-darwin.tar.gz`, one of the statement's subjects.
const ASSET: &str = "sha256:76f1fe8593bf227cca2c089e3c16dc95014a8d3e89c5dd220530469ca043c428";

fn verify(bundle: &Path, root: &Path, subject: &str, policy: &[&str]) -> Output {
    let mut args = vec!["verify", "--bundle", bundle.to_str().unwrap(), "--trusted-root", root.to_str().unwrap()];
    args.extend(policy);
    args.push(subject);
    run_in(bundle.parent().unwrap(), &args, &[])
}

/// gh's policy for release attestations: GitHub's release attester, any (absent) issuer.
const GH_RELEASE_POLICY: &[&str] = &[
    "--certificate-identity",
    RELEASE_ATTESTER,
    "--certificate-oidc-issuer-regexp",
    ".*",
    "--predicate-type",
    RELEASE_PREDICATE,
];

fn copy_of(dir: &Path, rel: &str) -> (PathBuf, Value) {
    let value: Value = serde_json::from_slice(&std::fs::read(data(rel)).unwrap()).unwrap();
    let path = dir.join(Path::new(rel).file_name().unwrap());
    write_json(&path, &value);
    (path, value)
}

#[test]
fn a_real_github_release_attestation_verifies_against_githubs_root() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let out = verify(&bundle, &data(GITHUB_ROOT), ASSET, GH_RELEASE_POLICY);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains(RELEASE_ATTESTER), "{shown}");
    assert!(shown.contains("timestamp.githubapp.com"), "{shown}");
    assert!(shown.contains("log index:         none"), "{shown}");
    assert!(shown.contains("issuer:            none"), "{shown}");
}

#[test]
fn a_github_instance_bundle_is_refused_against_the_public_good_root() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let out = verify(&bundle, &data("trust/public-good-production-trusted_root.json"), ASSET, GH_RELEASE_POLICY);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // With the embedded public-good snapshot (no --trusted-root) too.
    let mut args = vec!["verify", "--bundle", bundle.to_str().unwrap()];
    args.extend(GH_RELEASE_POLICY);
    args.push(ASSET);
    let out = run_in(dir.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The refusal says where such bundles are trusted.
    assert!(stderr(&out).contains("pass --tuf-github"), "{}", stderr(&out));
}

#[test]
fn tuf_github_takes_githubs_trusted_root_and_offline_its_embedded_snapshot() {
    // run_in sets --offline (NPM_ATTEST_OFFLINE) with an empty cache: the embedded snapshot of
    // GitHub's trusted root is used, and says so.
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let mut args = vec!["verify", "--tuf-github", "--bundle", bundle.to_str().unwrap()];
    args.extend(GH_RELEASE_POLICY);
    args.push(ASSET);
    let out = run_in(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("GitHub Sigstore instance's trusted root embedded"), "{}", stderr(&out));
    // GitHub's trust does not verify public-good bundles.
    let public = data("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    let out = run_in(
        dir.path(),
        &[
            "verify",
            "--tuf-github",
            "--bundle",
            public.to_str().unwrap(),
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer-regexp",
            ".*",
            data("sigstore-conformance/bundle-verify/a.txt").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // It names a repository: it cannot be combined with a root file or another repository.
    let out = run_in(dir.path(), &["verify", "--tuf-github", "--tuf-staging", "--bundle", "x", "y"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_release_attestation_cannot_pass_for_a_github_actions_signer() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let root = data(GITHUB_ROOT);
    // The leaf names no issuer: an exact issuer never matches it.
    let out = verify(
        &bundle,
        &root,
        ASSET,
        &[
            "--certificate-identity",
            RELEASE_ATTESTER,
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--predicate-type",
            RELEASE_PREDICATE,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("OIDC issuer"), "{}", stderr(&out));
    // A repository policy needs the Source Repository URI extension, which GitHub's release
    // attester does not carry: the statement's own `repository` field is not an identity.
    let out = verify(&bundle, &root, ASSET, &["--repository", "jdx/communique", "--predicate-type", RELEASE_PREDICATE]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Nor does it pass for SLSA provenance, the default predicate.
    let out = verify(
        &bundle,
        &root,
        ASSET,
        &["--certificate-identity", RELEASE_ATTESTER, "--certificate-oidc-issuer-regexp", ".*"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("predicate"), "{}", stderr(&out));
    // Another identity pattern does not match the attester.
    let out = verify(
        &bundle,
        &root,
        ASSET,
        &[
            "--certificate-identity-regexp",
            "https://github\\.com/.*",
            "--certificate-oidc-issuer-regexp",
            ".*",
            "--predicate-type",
            RELEASE_PREDICATE,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn an_asset_the_release_does_not_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let out = verify(&bundle, &data(GITHUB_ROOT), other, GH_RELEASE_POLICY);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_timestamp_only_bundle_is_refused_where_a_log_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let mut policy = vec!["--require-tlog"];
    policy.extend(GH_RELEASE_POLICY);
    let out = verify(&bundle, &data(GITHUB_ROOT), ASSET, &policy);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("--require-tlog"), "{}", stderr(&out));
}

#[test]
fn a_root_that_lists_ct_logs_still_requires_the_sct_githubs_leaves_lack() {
    // The SCT is waived only because GitHub's root lists no CT log. Graft public-good's CT
    // logs onto it, and the same leaf (which has no SCT) is refused.
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let (root_path, mut root) = copy_of(dir.path(), GITHUB_ROOT);
    let public_good: Value =
        serde_json::from_slice(&std::fs::read(data("trust/public-good-production-trusted_root.json")).unwrap())
            .unwrap();
    root["ctlogs"] = public_good["ctlogs"].clone();
    write_json(&root_path, &root);
    let out = verify(&bundle, &root_path, ASSET, GH_RELEASE_POLICY);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate transparency"), "{}", stderr(&out));
}

#[test]
fn a_release_attestation_without_its_timestamp_has_no_signing_time() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, mut value) = copy_of(dir.path(), RELEASE_BUNDLE);
    value["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    write_json(&bundle, &value);
    let out = verify(&bundle, &data(GITHUB_ROOT), ASSET, GH_RELEASE_POLICY);
    assert!(!out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_invalid_issuer_pattern_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = copy_of(dir.path(), RELEASE_BUNDLE);
    let out = verify(
        &bundle,
        &data(GITHUB_ROOT),
        ASSET,
        &[
            "--certificate-identity",
            RELEASE_ATTESTER,
            "--certificate-oidc-issuer-regexp",
            "(",
            "--predicate-type",
            RELEASE_PREDICATE,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--certificate-oidc-issuer-regexp"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}
