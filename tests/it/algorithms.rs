//! Bundles from real signers with every key type public-good Fulcio certifies (sigstore-java's
//! samples: P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, RSA 2048/3072/4096 PKCS#1 v1.5, each a
//! hashedrekord message signature over the conformance `a.txt`, logged in public-good Rekor):
//! npm-attest accepts each with the exact identity, as sigstore-js does, and both refuse each
//! for another artifact.

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::interop::{sigstore_js_verify, VerifyCase};
use crate::support::{data, repo_root, run_in, stderr, stdout};

const SAN: &str = "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com";
const ISSUER: &str = "https://accounts.google.com";
const BUNDLES: [&str; 6] = [
    "PKIX_ECDSA_P256_SHA_256",
    "PKIX_ECDSA_P384_SHA_384",
    "PKIX_ECDSA_P521_SHA_512",
    "PKIX_RSA_PKCS1V15_2048_SHA256",
    "PKIX_RSA_PKCS1V15_3072_SHA256",
    "PKIX_RSA_PKCS1V15_4096_SHA256",
];

fn bundle(name: &str) -> PathBuf {
    data(&format!("algorithms/{name}.sigstore.json"))
}

fn artifact() -> PathBuf {
    data("sigstore-conformance/bundle-verify/a.txt")
}

fn root() -> PathBuf {
    data("trust/public-good-production-trusted_root.json")
}

fn verify(bundle: &std::path::Path, subject: &str) -> std::process::Output {
    run_in(
        &repo_root(),
        &[
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--trusted-root",
            root().to_str().unwrap(),
            "--certificate-identity",
            SAN,
            "--certificate-oidc-issuer",
            ISSUER,
            "--json",
            subject,
        ],
        &[],
    )
}

#[test]
fn every_registry_key_type_verifies_and_agrees_with_sigstore_js() {
    let dir = tempfile::tempdir().unwrap();
    let altered = dir.path().join("a.txt");
    let mut bytes = std::fs::read(artifact()).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&altered, &bytes).unwrap();
    for name in BUNDLES {
        let out = verify(&bundle(name), artifact().to_str().unwrap());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let facts: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(facts["signer"]["san"], SAN, "{name}");
        assert_eq!(facts["signer"]["issuer"], ISSUER, "{name}");

        let bundle_path = bundle(name);
        let artifact_path = artifact();
        let case = VerifyCase {
            bundle: &bundle_path,
            trusted_root: &root(),
            tarball: None,
            artifact: Some(&artifact_path),
            san: SAN,
            issuer: ISSUER,
        };
        let js = sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js refused {name}: {r:?}"));
        assert_eq!(js["san"], facts["signer"]["san"], "{name}");
        assert_eq!(js["issuer"], facts["signer"]["issuer"], "{name}");

        // Another artifact (one letter's case flipped): both refuse.
        let out = verify(&bundle(name), altered.to_str().unwrap());
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(sigstore_js_verify(&VerifyCase { artifact: Some(&altered), ..case }).is_err(), "{name}");
    }
}

#[test]
fn a_message_signature_is_checked_against_the_digest_its_signer_used() {
    let a_txt = std::fs::read(artifact()).unwrap();
    // Digest mode: the P-384 and P-521 bundles verify against their own digest algorithm alone.
    for (name, subject) in [
        ("PKIX_ECDSA_P384_SHA_384", format!("sha384:{}", hex::encode(Sha384::digest(&a_txt)))),
        ("PKIX_ECDSA_P521_SHA_512", format!("sha512:{}", hex::encode(Sha512::digest(&a_txt)))),
        ("PKIX_RSA_PKCS1V15_4096_SHA256", format!("sha256:{}", hex::encode(Sha256::digest(&a_txt)))),
    ] {
        let out = verify(&bundle(name), &subject);
        assert!(out.status.success(), "{name} {subject}: {}", stderr(&out));
    }
    // The SHA-256 digest alone cannot vouch for a SHA-384 signature: refused, naming the digest.
    let out = verify(&bundle("PKIX_ECDSA_P384_SHA_384"), &format!("sha256:{}", hex::encode(Sha256::digest(&a_txt))));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("SHA2_384"), "{}", stderr(&out));
}

#[test]
fn a_p384_bundle_relabelled_as_sha256_is_refused() {
    // The attacker rewrites the bundle's messageDigest to claim SHA2_256 with the artifact's
    // SHA-256: the signature (made over SHA-384) must not verify over it.
    let a_txt = std::fs::read(artifact()).unwrap();
    let mut doc: Value = serde_json::from_slice(&std::fs::read(bundle("PKIX_ECDSA_P384_SHA_384")).unwrap()).unwrap();
    doc["messageSignature"]["messageDigest"]["algorithm"] = "SHA2_256".into();
    doc["messageSignature"]["messageDigest"]["digest"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, Sha256::digest(&a_txt)).into();
    let dir = tempfile::tempdir().unwrap();
    let relabelled = dir.path().join("relabelled-digest.sigstore.json");
    std::fs::write(&relabelled, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = verify(&relabelled, artifact().to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
