//! Unit tests for the parts of the algorithm that do not depend on the log verifier.

use super::*;
use crate::core::wire::bundle::Bundle;

const DEFAULT_SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A conformance bundle, embedded at compile time (the core reads no files, not even in tests).
macro_rules! conformance {
    ($case:literal) => {
        serde_json::from_str::<Bundle>(include_str!(concat!(
            "../../../tests/data/sigstore-conformance/bundle-verify/",
            $case,
            "/bundle.sigstore.json"
        )))
        .unwrap()
    };
}

/// A real npm provenance bundle, embedded at compile time.
macro_rules! npm {
    ($file:literal) => {
        serde_json::from_str::<Bundle>(include_str!(concat!("../../../tests/data/npm-provenance/", $file))).unwrap()
    };
}

fn production() -> TrustedRoot {
    serde_json::from_str(include_str!("../../../tests/data/trust/public-good-production-trusted_root.json")).unwrap()
}

fn a_txt() -> Subject {
    let bytes = include_bytes!("../../../tests/data/sigstore-conformance/a.txt");
    Subject::Artifact(ArtifactDigests::of_bytes(bytes))
}

fn default_policy() -> IdentityPolicy {
    let mut p = IdentityPolicy::new(GITHUB_ISSUER);
    p.san = Some(IdentityMatcher::Exact(DEFAULT_SAN.into()));
    p
}

fn leaf_of(parsed: &ParsedBundle<'_>) -> LeafCertificate {
    match &parsed.signer {
        BundleSigner::Certificate(leaf) => (**leaf).clone(),
        BundleSigner::PublicKey { .. } => panic!("expected a certificate"),
    }
}

fn key_of(leaf: &LeafCertificate) -> PublicKey {
    PublicKey::from_spki_der(&leaf.spki_der).unwrap()
}

fn sha512_hex(hex_text: &str) -> [u8; 64] {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

#[test]
fn shape_rules_reject_the_conformance_shape_attacks() {
    for (case, bundle) in [
        ("bundle-negative-log-index_fail", conformance!("bundle-negative-log-index_fail")),
        ("bundle-unknown-version_fail", conformance!("bundle-unknown-version_fail")),
    ] {
        assert!(ParsedBundle::parse(&bundle).is_err(), "{case} passed the shape rules");
    }
    // bundle-empty-certificate-chain_fail itself already fails to deserialize (its inclusion
    // proof has no checkpoint); the same attack on a well-formed bundle:
    let mut empty_chain = conformance!("happy-path-v0.1");
    empty_chain.verification_material.x509_certificate_chain.as_mut().unwrap().certificates.clear();
    assert!(matches!(ParsedBundle::parse(&empty_chain), Err(VerifyError::Shape { .. })));
    for (case, bundle) in [
        ("happy-path-v0.1", conformance!("happy-path-v0.1")),
        ("happy-path-v0.2", conformance!("happy-path-v0.2")),
        ("happy-path-v0.3", conformance!("happy-path-v0.3")),
        ("happy-path-v0.3-new-mediaType", conformance!("happy-path-v0.3-new-mediaType")),
        ("happy-path-intoto-in-dsse-v3", conformance!("happy-path-intoto-in-dsse-v3")),
    ] {
        ParsedBundle::parse(&bundle).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}

#[test]
fn a_v0_2_bundle_without_a_checkpoint_or_time_source_is_rejected() {
    let mut bundle = conformance!("happy-path-v0.2");
    let mut no_promise = bundle.clone();
    no_promise.verification_material.tlog_entries[0].inclusion_promise = None;
    assert!(matches!(ParsedBundle::parse(&no_promise), Err(VerifyError::Shape { .. })));
    bundle.verification_material.tlog_entries[0].inclusion_proof.as_mut().unwrap().checkpoint.envelope.clear();
    assert!(matches!(ParsedBundle::parse(&bundle), Err(VerifyError::Shape { .. })));
}

#[test]
fn a_ca_certificate_as_leaf_is_rejected() {
    let mut bundle = conformance!("happy-path-v0.1");
    let root = production();
    let ca = root.certificate_authorities.last().unwrap().cert_chain.certificates[0].clone();
    bundle.verification_material.x509_certificate_chain.as_mut().unwrap().certificates = vec![ca];
    assert!(matches!(ParsedBundle::parse(&bundle), Err(VerifyError::Shape { .. })));
}

#[test]
fn dsse_with_two_signatures_is_rejected() {
    let mut bundle = npm!("playwright-cli-0.1.1-provenance.sigstore.json");
    let env = bundle.dsse_envelope.as_mut().unwrap();
    env.signatures.push(env.signatures[0].clone());
    assert!(matches!(ParsedBundle::parse(&bundle), Err(VerifyError::Shape { .. })));
}

#[test]
fn message_signature_verifies_over_the_artifact_and_not_another() {
    let bundle = conformance!("happy-path-v0.3");
    let parsed = ParsedBundle::parse(&bundle).unwrap();
    let key = key_of(&leaf_of(&parsed));
    assert_eq!(verify_signature(&parsed, &key, &a_txt()).unwrap(), None);
    let other = Subject::Artifact(ArtifactDigests::of_bytes(b"another artifact"));
    assert!(matches!(verify_signature(&parsed, &key, &other), Err(VerifyError::SubjectMismatch { .. })));
    // Without the message digest hint the signature itself must fail.
    let mut no_hint = bundle.clone();
    no_hint.message_signature.as_mut().unwrap().message_digest = None;
    let parsed = ParsedBundle::parse(&no_hint).unwrap();
    assert!(matches!(verify_signature(&parsed, &key, &other), Err(VerifyError::Signature { .. })));
}

#[test]
fn dsse_signature_and_subject_match_for_the_conformance_statement() {
    let bundle = conformance!("happy-path-intoto-in-dsse-v3");
    let parsed = ParsedBundle::parse(&bundle).unwrap();
    let key = key_of(&leaf_of(&parsed));
    let statement = verify_signature(&parsed, &key, &a_txt()).unwrap().unwrap();
    assert!(!statement.subjects.is_empty());
    let other = Subject::Artifact(ArtifactDigests::of_bytes(b"x"));
    assert!(matches!(verify_signature(&parsed, &key, &other), Err(VerifyError::SubjectMismatch { .. })));
}

fn playwright() -> Bundle {
    npm!("playwright-cli-0.1.1-provenance.sigstore.json")
}

fn statement_sha512(bundle: &Bundle) -> [u8; 64] {
    let v: Value = serde_json::from_slice(&bundle.dsse_envelope.as_ref().unwrap().payload).unwrap();
    sha512_hex(v["subject"][0]["digest"]["sha512"].as_str().unwrap())
}

#[test]
fn npm_subject_must_be_exactly_the_package_and_tarball() {
    let bundle = playwright();
    let package =
        NpmPackage { name: "@playwright/cli".into(), version: "0.1.1".into(), sha512: statement_sha512(&bundle) };
    let parsed = ParsedBundle::parse(&bundle).unwrap();
    let key = key_of(&leaf_of(&parsed));
    assert_eq!(package.purl(), "pkg:npm/%40playwright/cli@0.1.1");
    verify_signature(&parsed, &key, &Subject::NpmPackage(package.clone())).unwrap();

    let mut other_version = package.clone();
    other_version.version = "0.1.2".into();
    let mut other_tarball = package.clone();
    other_tarball.sha512[0] ^= 1;
    for wrong in [other_version, other_tarball] {
        assert!(matches!(
            verify_signature(&parsed, &key, &Subject::NpmPackage(wrong)),
            Err(VerifyError::SubjectMismatch { .. })
        ));
    }
}

#[test]
fn a_second_subject_is_rejected_for_npm_packages() {
    let bundle = playwright();
    let mut statement = parse_statement(&bundle.dsse_envelope.as_ref().unwrap().payload).unwrap();
    let package =
        NpmPackage { name: "@playwright/cli".into(), version: "0.1.1".into(), sha512: statement_sha512(&bundle) };
    check_npm_subject(&statement, &package).unwrap();
    statement.subjects.push(StatementSubject { name: "pkg:npm/evil@1.0.0".into(), digests: vec![] });
    assert!(matches!(check_npm_subject(&statement, &package), Err(VerifyError::SubjectMismatch { .. })));
}

#[test]
fn changed_payload_breaks_the_dsse_signature() {
    let mut bundle = playwright();
    let sha512 = statement_sha512(&bundle);
    let env = bundle.dsse_envelope.as_mut().unwrap();
    let text = String::from_utf8(env.payload.clone()).unwrap().replace("refs/tags", "refs/heads");
    env.payload = text.into_bytes();
    let parsed = ParsedBundle::parse(&bundle).unwrap();
    let key = key_of(&leaf_of(&parsed));
    let subject = Subject::NpmPackage(NpmPackage { name: "@playwright/cli".into(), version: "0.1.1".into(), sha512 });
    assert!(matches!(verify_signature(&parsed, &key, &subject), Err(VerifyError::Signature { .. })));
}

#[test]
fn identity_policy_checks_san_issuer_and_extensions() {
    let bundle = conformance!("happy-path-v0.3");
    let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
    check_profile_and_identity(&leaf, &default_policy()).unwrap();

    let mut wrong_san = default_policy();
    wrong_san.san =
        Some(IdentityMatcher::Exact("https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main".into()));
    let mut wrong_issuer = default_policy();
    wrong_issuer.issuer = IdentityMatcher::Exact("https://accounts.google.com".into());
    let mut wrong_repo = default_policy();
    wrong_repo.source_repository_uri = Some("https://github.com/sigstore-conformance/other".into());
    let mut wrong_ref = default_policy();
    wrong_ref.source_ref = Some("refs/tags/v1".into());
    let mut wrong_workflow = default_policy();
    wrong_workflow.workflow_path = Some(".github/workflows/release.yml".into());
    let mut partial_regex = default_policy();
    partial_regex.san = Some(IdentityMatcher::regex("https://github.com/sigstore-conformance/").unwrap());
    for (name, policy) in [
        ("san", wrong_san),
        ("issuer", wrong_issuer),
        ("repo", wrong_repo),
        ("ref", wrong_ref),
        ("workflow", wrong_workflow),
        ("unanchored regex", partial_regex),
    ] {
        assert!(
            matches!(check_profile_and_identity(&leaf, &policy), Err(VerifyError::PolicyMismatch { .. })),
            "{name} mismatch accepted"
        );
    }

    let mut by_extensions = IdentityPolicy::new(GITHUB_ISSUER);
    by_extensions.source_repository_uri =
        Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon".into());
    by_extensions.workflow_path = Some(".github/workflows/extremely-dangerous-oidc-beacon.yml".into());
    by_extensions.signer = SignerRule::SameRepository;
    by_extensions.source_ref = Some("refs/heads/main".into());
    by_extensions.san = Some(IdentityMatcher::regex("https://github\\.com/sigstore-conformance/.*").unwrap());
    check_profile_and_identity(&leaf, &by_extensions).unwrap();
}

#[test]
fn keyless_policy_without_identity_is_refused() {
    let policy = Policy::Keyless(IdentityPolicy::new(GITHUB_ISSUER));
    let err = verify_bundle(&conformance!("happy-path-v0.3"), &production(), &a_txt(), &policy).unwrap_err();
    assert!(matches!(err, VerifyError::PolicyInvalid { .. }), "{err}");
    let mut no_issuer = default_policy();
    no_issuer.issuer = IdentityMatcher::Exact(String::new());
    let err = verify_bundle(&conformance!("happy-path-v0.3"), &production(), &a_txt(), &Policy::Keyless(no_issuer))
        .unwrap_err();
    assert!(matches!(err, VerifyError::PolicyInvalid { .. }), "{err}");
}

#[test]
fn a_key_signed_bundle_is_refused_under_a_keyless_policy() {
    let err = verify_bundle(
        &conformance!("managed-key-no-key_fail"),
        &production(),
        &a_txt(),
        &Policy::Keyless(default_policy()),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::PolicyMismatch { field: "signer", .. }), "{err}");
}

#[test]
fn a_workflow_or_ref_alone_pins_no_one() {
    for narrow in [
        |p: &mut IdentityPolicy| p.workflow_path = Some(".github/workflows/release.yml".into()),
        |p: &mut IdentityPolicy| p.source_ref = Some("refs/tags/v1.0.0".into()),
        |p: &mut IdentityPolicy| p.signer = SignerRule::Repository("https://github.com/o/r".into()),
    ] {
        let mut identity = IdentityPolicy::new(GITHUB_ISSUER);
        narrow(&mut identity);
        let err = verify_bundle(&conformance!("happy-path-v0.3"), &production(), &a_txt(), &Policy::Keyless(identity))
            .unwrap_err();
        assert!(matches!(err, VerifyError::PolicyInvalid { .. }), "{err}");
    }
}

fn log_time(bundle: &Bundle) -> Vec<SignedTime> {
    let entry = &bundle.verification_material.tlog_entries[0];
    vec![SignedTime {
        time: UnixTime(entry.integrated_time),
        source: TimeSource::TransparencyLog { log_index: entry.log_index as u64 },
    }]
}

#[test]
fn the_certificate_chains_and_its_sct_verifies_at_the_log_time() {
    let root = production();
    for (case, bundle) in
        [("happy-path-v0.1", conformance!("happy-path-v0.1")), ("happy-path-v0.3", conformance!("happy-path-v0.3"))]
    {
        let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
        let (ca, sct) = verify_certificate(&leaf, &root, &log_time(&bundle), &SignatureCache::new())
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(ca.uri, "https://fulcio.sigstore.dev");
        assert_eq!(sct.expect("public-good lists CT logs").log_base_url, "https://ctfe.sigstore.dev/2022");
        // An instance whose root lists no CT log (GitHub's) cannot require an SCT; the chain is
        // still checked in full.
        let mut no_ct = root.clone();
        no_ct.ctlogs.clear();
        let (_, sct) = verify_certificate(&leaf, &no_ct, &log_time(&bundle), &SignatureCache::new()).unwrap();
        assert!(sct.is_none(), "{case}");
        let mut no_ca = no_ct.clone();
        no_ca.certificate_authorities.clear();
        assert!(verify_certificate(&leaf, &no_ca, &log_time(&bundle), &SignatureCache::new()).is_err(), "{case}");
    }
    // A real npm provenance bundle from 2023 (v0.1, 3-certificate chain whose extras are ignored).
    let bundle = npm!("sigstore-1.0.0-provenance.sigstore.json");
    let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
    verify_certificate(&leaf, &root, &log_time(&bundle), &SignatureCache::new()).unwrap();
}

#[test]
fn a_signed_time_outside_the_certificate_is_rejected() {
    let root = production();
    let bundle = conformance!("happy-path-v0.3");
    let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
    let mut times = log_time(&bundle);
    times[0].time = UnixTime(leaf.not_after.0 + 1);
    assert!(matches!(
        verify_certificate(&leaf, &root, &times, &SignatureCache::new()),
        Err(VerifyError::TimeOutsideCertificate { .. })
    ));
    // The boundary itself is inside (inclusive).
    times[0].time = leaf.not_after;
    verify_certificate(&leaf, &root, &times, &SignatureCache::new()).unwrap();
}

#[test]
fn a_certificate_from_another_ca_does_not_chain() {
    let mut root = production();
    let bundle = conformance!("happy-path-v0.3");
    let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
    // Keep only the 2021 CA, which never issued this leaf.
    root.certificate_authorities.truncate(1);
    assert!(matches!(
        verify_certificate(&leaf, &root, &log_time(&bundle), &SignatureCache::new()),
        Err(VerifyError::CertificatePath { .. })
    ));
}

#[test]
fn a_ca_outside_its_valid_for_is_not_used() {
    let mut root = production();
    let bundle = conformance!("happy-path-v0.3");
    let leaf = leaf_of(&ParsedBundle::parse(&bundle).unwrap());
    let t = log_time(&bundle);
    for ca in &mut root.certificate_authorities {
        ca.valid_for.as_mut().unwrap().end = Some(UnixTime(t[0].time.0 - 1).to_rfc3339());
    }
    assert!(matches!(
        verify_certificate(&leaf, &root, &t, &SignatureCache::new()),
        Err(VerifyError::CertificatePath { .. })
    ));
    // End equal to the signing time is still valid (inclusive).
    for ca in &mut root.certificate_authorities {
        ca.valid_for.as_mut().unwrap().end = Some(t[0].time.to_rfc3339());
    }
    verify_certificate(&leaf, &root, &t, &SignatureCache::new()).unwrap();
}

#[test]
fn a_keyless_npm_signature_with_a_key_id_is_rejected() {
    // npm's rule (pacote `sigstore-0.4.0-mismatched-keyid`): keyless provenance has an empty key id.
    let mut bundle = playwright();
    let sha512 = statement_sha512(&bundle);
    bundle.dsse_envelope.as_mut().unwrap().signatures[0].keyid = "SHA256:not-a-registry-key".into();
    let parsed = ParsedBundle::parse(&bundle).unwrap();
    let key = key_of(&leaf_of(&parsed));
    let package = NpmPackage { name: "@playwright/cli".into(), version: "0.1.1".into(), sha512 };
    assert!(matches!(
        verify_signature(&parsed, &key, &Subject::NpmPackage(package)),
        Err(VerifyError::PolicyMismatch { field: "DSSE signature key id", .. })
    ));
}

#[test]
fn a_trusted_root_with_a_validity_window_missing_its_start_is_refused() {
    let mut root = production();
    root.ctlogs[0].public_key.valid_for.as_mut().unwrap().start = None;
    let err = verify_bundle(&conformance!("happy-path-v0.3"), &root, &a_txt(), &Policy::Keyless(default_policy()))
        .unwrap_err();
    assert!(matches!(err, VerifyError::TrustedRoot { .. }), "{err}");
    let mut root = production();
    root.media_type = "application/vnd.dev.sigstore.trustedroot+json;version=9".into();
    let err = verify_bundle(&conformance!("happy-path-v0.3"), &root, &a_txt(), &Policy::Keyless(default_policy()))
        .unwrap_err();
    assert!(matches!(err, VerifyError::TrustedRoot { .. }), "{err}");
}
