//! `conformance sign-bundle` end to end against `serve-sigstore` (its `--trusted-root-out`,
//! `--signing-config-out` and `--token-out`): a message signature over the conformance `a.txt`
//! and an in-toto statement about it, each checked by `conformance verify-bundle` in path and
//! digest mode and by sigstore-js and sigstore-python (issue 3).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::interop::{
    github_identity, jwt_claims, read_json, sigstore_js_verify, sigstore_python_verify, ServeSigstore, VerifyCase,
};
use crate::support::{data, run_in, stderr};

/// A running `serve-sigstore` and the identity its token carries.
struct Instance {
    server: ServeSigstore,
    token: String,
    san: String,
    issuer: String,
}

impl Instance {
    fn start() -> Instance {
        let server = ServeSigstore::start();
        let token = server.token();
        let (san, issuer) = github_identity(&jwt_claims(&token));
        Instance { server, token, san, issuer }
    }

    /// `conformance sign-bundle [--in-toto] ... FILE` writing `out`.
    fn sign(&self, dir: &Path, in_toto: bool, file: &Path, out: &Path) -> Output {
        let root = self.server.trusted_root();
        let config = self.server.signing_config();
        let mut args = vec!["conformance", "sign-bundle"];
        if in_toto {
            args.push("--in-toto");
        }
        args.extend([
            "--identity-token",
            &self.token,
            "--bundle",
            out.to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--signing-config",
            config.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        run_in(dir, &args, &[])
    }

    /// `conformance verify-bundle` with the instance's root and `san`.
    fn verify(&self, dir: &Path, bundle: &Path, san: &str, file_or_digest: &str) -> Output {
        let root = self.server.trusted_root();
        run_in(
            dir,
            &[
                "conformance",
                "verify-bundle",
                "--bundle",
                bundle.to_str().unwrap(),
                "--certificate-identity",
                san,
                "--certificate-oidc-issuer",
                &self.issuer,
                "--trusted-root",
                root.to_str().unwrap(),
                file_or_digest,
            ],
            &[],
        )
    }
}

fn a_txt() -> PathBuf {
    data("sigstore-conformance/a.txt")
}

fn sha256_arg(path: &Path) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(fs::read(path).unwrap())))
}

/// Accepted in path and digest mode with the token's identity; refused (exit 1, one line)
/// for another SAN and for another artifact.
fn verifies_in_both_modes(
    instance: &Instance,
    dir: &Path,
    bundle: &Path,
    artifact: &Path,
    wrong_artifact_reason: &str,
) {
    let digest = sha256_arg(artifact);
    for input in [artifact.to_str().unwrap(), digest.as_str()] {
        let out = instance.verify(dir, bundle, &instance.san, input);
        assert!(out.status.success(), "verify-bundle {input}: {}", stderr(&out));
        assert!(stderr(&out).is_empty() || !stderr(&out).contains("error"));
    }
    let other = format!("{}-other", instance.san);
    let out = instance.verify(dir, bundle, &other, &digest);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("identity (SAN)"), "{}", stderr(&out));
    let wrong = data("sigstore-conformance/statement.json");
    for input in [wrong.to_str().unwrap().to_owned(), sha256_arg(&wrong)] {
        let out = instance.verify(dir, bundle, &instance.san, &input);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(wrong_artifact_reason), "{input}: {}", stderr(&out));
    }
}

#[test]
fn sign_bundle_message_signature_against_serve_sigstore_verifies_with_us_and_both_peers() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("a.txt.sigstore.json");
    let out = instance.sign(dir.path(), false, &a_txt(), &bundle);
    assert!(out.status.success(), "sign-bundle: {}\n{}", stderr(&out), instance.server.stderr());
    assert!(!stderr(&out).contains(&instance.token), "the token leaked");

    let written = read_json(&bundle);
    assert_eq!(written["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(written["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"], "hashedrekord");
    let signed_digest = B64.decode(written["messageSignature"]["messageDigest"]["digest"].as_str().unwrap()).unwrap();
    assert_eq!(signed_digest, Sha256::digest(fs::read(a_txt()).unwrap()).to_vec());

    verifies_in_both_modes(
        &instance,
        dir.path(),
        &bundle,
        &a_txt(),
        "message digest differs from the artifact's SHA-256",
    );

    let root = instance.server.trusted_root();
    let case = VerifyCase {
        bundle: &bundle,
        trusted_root: &root,
        tarball: None,
        artifact: Some(&a_txt()),
        san: &instance.san,
        issuer: &instance.issuer,
    };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js: {r}"));
    sigstore_python_verify(&case).unwrap_or_else(|r| panic!("sigstore-python: {r}"));
    let other = data("sigstore-conformance/statement.json");
    let wrong = VerifyCase { artifact: Some(&other), ..case.clone() };
    assert_eq!(sigstore_js_verify(&wrong).expect_err("another file").stage, "sigstore");
    assert_eq!(sigstore_python_verify(&wrong).expect_err("another file").stage, "sigstore");
}

#[test]
fn sign_bundle_in_toto_statement_against_serve_sigstore_verifies_with_us_and_both_peers() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().unwrap();
    // The conformance statement: one subject, `a.txt` with its SHA-256.
    let statement = data("sigstore-conformance/statement.json");
    let subject = &read_json(&statement)["subject"][0];
    assert_eq!(subject["name"], "a.txt");
    assert_eq!(format!("sha256:{}", subject["digest"]["sha256"].as_str().unwrap()), sha256_arg(&a_txt()));
    let bundle = dir.path().join("statement.sigstore.json");
    let out = instance.sign(dir.path(), true, &statement, &bundle);
    assert!(out.status.success(), "sign-bundle --in-toto: {}\n{}", stderr(&out), instance.server.stderr());

    let written = read_json(&bundle);
    assert_eq!(written["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"], "dsse");
    assert_eq!(written["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
    // The payload is the statement file's exact bytes.
    let payload = B64.decode(written["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, fs::read(&statement).unwrap());

    verifies_in_both_modes(&instance, dir.path(), &bundle, &a_txt(), "no statement subject has the artifact's digest");

    let root = instance.server.trusted_root();
    let case = VerifyCase {
        bundle: &bundle,
        trusted_root: &root,
        tarball: None,
        artifact: None,
        san: &instance.san,
        issuer: &instance.issuer,
    };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js: {r}"));
    sigstore_python_verify(&case).unwrap_or_else(|r| panic!("sigstore-python: {r}"));
    let wrong = VerifyCase { issuer: "https://gitlab.com", ..case.clone() };
    assert_eq!(sigstore_js_verify(&wrong).expect_err("another issuer").stage, "sigstore");
    assert_eq!(sigstore_python_verify(&wrong).expect_err("another issuer").stage, "sigstore");
}

/// Against a stand-in that issues expired certificates, `sign-bundle` refuses before logging.
#[test]
fn sign_bundle_refuses_a_certificate_that_expired_before_use() {
    let server = ServeSigstore::start_with(&["--expired-certificates"]);
    let token = server.token();
    let instance = Instance { san: String::new(), issuer: String::new(), token, server };
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("a.txt.sigstore.json");
    let out = instance.sign(dir.path(), false, &a_txt(), &bundle);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("Fulcio issued a certificate that expired at"), "{}", stderr(&out));
    assert!(!bundle.exists());
}
