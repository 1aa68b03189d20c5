//! Bundles that sigstore-js and sigstore-python sign against `serve-sigstore`, judged by OUR
//! verifier: `npm-attest verify` and `conformance verify-bundle` (path and digest modes) accept
//! them with the exact SAN and issuer, and reject them for another identity (issue 3).

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha512};

use super::*;
use crate::support::{run_in, stderr, stdout};

/// `npm-attest <args>` in `dir`; panics with stderr unless it succeeds.
fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = run_in(dir, args, &[]);
    assert!(out.status.success(), "npm-attest {}: {}", args.join(" "), stderr(&out));
    out
}

/// Exit code 1 with a one-line reason naming `reason`.
fn assert_rejected(out: &Output, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(err.contains(reason), "expected {reason:?} in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

/// The identity a peer's bundle must be checked against, and where it runs.
struct Check<'a> {
    dir: &'a Path,
    trusted_root: &'a Path,
    san: &'a str,
    issuer: &'a str,
}

impl Check<'_> {
    /// `npm-attest verify` with the exact identity: the facts it printed.
    fn verify(&self, bundle: &Path, subject: &str) -> Value {
        let out = ok(
            self.dir,
            &[
                "verify",
                "--bundle",
                bundle.to_str().unwrap(),
                "--trusted-root",
                self.trusted_root.to_str().unwrap(),
                "--certificate-identity",
                self.san,
                "--certificate-oidc-issuer",
                self.issuer,
                "--json",
                subject,
            ],
        );
        let facts: Value = serde_json::from_str(stdout(&out).trim()).expect("--json facts");
        assert_eq!(facts["signer"]["san"], self.san);
        assert_eq!(facts["signer"]["issuer"], self.issuer);
        facts
    }

    /// `conformance verify-bundle` with `san`/`issuer` for `file_or_digest`.
    fn conformance(&self, bundle: &Path, san: &str, issuer: &str, file_or_digest: &str) -> Output {
        run_in(
            self.dir,
            &[
                "conformance",
                "verify-bundle",
                "--bundle",
                bundle.to_str().unwrap(),
                "--certificate-identity",
                san,
                "--certificate-oidc-issuer",
                issuer,
                "--trusted-root",
                self.trusted_root.to_str().unwrap(),
                file_or_digest,
            ],
            &[],
        )
    }

    /// Accepted by `conformance verify-bundle` for the file and for its SHA-256 digest, and
    /// by `verify` for the file; rejected for another SAN and another issuer.
    fn accepts_only_its_identity(&self, bundle: &Path, file: &Path) {
        let path = file.to_str().unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(fs::read(file).unwrap())));
        for input in [path, digest.as_str()] {
            let out = self.conformance(bundle, self.san, self.issuer, input);
            assert!(out.status.success(), "conformance verify-bundle {input}: {}", stderr(&out));
        }
        let other_san = format!("{}-fork", self.san);
        assert_rejected(&self.conformance(bundle, &other_san, self.issuer, &digest), "identity (SAN)");
        assert_rejected(&self.conformance(bundle, self.san, "https://gitlab.com", path), "OIDC issuer");
        let out = run_in(
            self.dir,
            &[
                "verify",
                "--bundle",
                bundle.to_str().unwrap(),
                "--trusted-root",
                self.trusted_root.to_str().unwrap(),
                "--certificate-identity",
                &other_san,
                "--certificate-oidc-issuer",
                self.issuer,
                path,
            ],
            &[],
        );
        assert_rejected(&out, "identity (SAN)");
    }
}

fn tlog_kind(bundle: &Path) -> String {
    read_json(bundle)["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"]
        .as_str()
        .expect("kind")
        .to_owned()
}

/// The SLSA v1 predicate of a real npm provenance bundle.
fn real_predicate() -> Value {
    let real = read_json(&data("npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"));
    let mut predicate = Value::Null;
    with_statement(&real, |s| predicate = s["predicate"].clone());
    predicate
}

#[test]
fn sigstore_js_dsse_and_intoto_bundles_from_serve_sigstore_pass_npm_attest_verify() {
    let server = ServeSigstore::start();
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let root = server.trusted_root();
    let dir = tempfile::tempdir().unwrap();
    let name = "@npm-attest-test/peer-signed";
    let tarball = npm_pack(dir.path(), name, "4.5.6");
    let bytes = fs::read(&tarball).unwrap();
    let purl = "pkg:npm/%40npm-attest-test/peer-signed@4.5.6";
    // npm's subject (the purl and sha512), plus the sha256 that conformance digest mode uses.
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": purl, "digest": {
            "sha512": hex::encode(Sha512::digest(&bytes)),
            "sha256": hex::encode(Sha256::digest(&bytes)),
        }}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": real_predicate(),
    });
    let statement_path = dir.path().join("statement.json");
    write_json(&statement_path, &statement);
    let check = Check { dir: dir.path(), trusted_root: &root, san: &san, issuer: &issuer };
    for entry_type in ["dsse", "intoto"] {
        let bundle = dir.path().join(format!("sigstore-js-{entry_type}.sigstore.json"));
        sign_with_js_entry(server.base_url(), server.base_url(), &token, &statement_path, &bundle, entry_type)
            .unwrap_or_else(|r| panic!("sigstore-js ({entry_type}): {r}\n{}", server.stderr()));
        assert_eq!(tlog_kind(&bundle), entry_type);

        let facts = check.verify(&bundle, tarball.to_str().unwrap());
        assert_eq!(facts["subject"], purl, "{entry_type}");
        assert_eq!(facts["statement"]["predicateType"], "https://slsa.dev/provenance/v1");
        check.accepts_only_its_identity(&bundle, &tarball);
    }
}

#[test]
fn sigstore_python_sign_and_attest_bundles_from_serve_sigstore_pass_npm_attest_verify() {
    let server = ServeSigstore::start();
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let root = server.trusted_root();
    let dir = tempfile::tempdir().unwrap();
    let artifact = data("sigstore-conformance/a.txt");
    let sha256 = format!("sha256:{}", hex::encode(Sha256::digest(fs::read(&artifact).unwrap())));
    let check = Check { dir: dir.path(), trusted_root: &root, san: &san, issuer: &issuer };

    // `sigstore sign`: a message signature, logged as `hashedrekord`.
    let signed = dir.path().join("sigstore-python-sign.sigstore.json");
    sign_with_python(&server.trust_config(), &token, PythonSign::Sign, &artifact, &signed)
        .unwrap_or_else(|e| panic!("sigstore sign: {e}\n{}", server.stderr()));
    assert_eq!(tlog_kind(&signed), "hashedrekord");
    assert!(read_json(&signed)["messageSignature"].is_object());
    let facts = check.verify(&signed, artifact.to_str().unwrap());
    assert_eq!(facts["subject"], sha256.as_str());
    check.accepts_only_its_identity(&signed, &artifact);
    // Another file is not what was signed.
    let other = data("sigstore-conformance/statement.json");
    let out = check.conformance(&signed, &san, &issuer, other.to_str().unwrap());
    assert_rejected(&out, "message digest differs from the artifact's SHA-256");

    // `sigstore attest`: a DSSE statement about the file, logged as `dsse`.
    let predicate = dir.path().join("predicate.json");
    write_json(&predicate, &real_predicate());
    let attested = dir.path().join("sigstore-python-attest.sigstore.json");
    let mode = PythonSign::Attest { predicate_type: "https://slsa.dev/provenance/v1", predicate: &predicate };
    sign_with_python(&server.trust_config(), &token, mode, &artifact, &attested)
        .unwrap_or_else(|e| panic!("sigstore attest: {e}\n{}", server.stderr()));
    assert_eq!(tlog_kind(&attested), "dsse");
    let facts = check.verify(&attested, artifact.to_str().unwrap());
    assert_eq!(facts["statement"]["subjects"][0]["name"], "a.txt");
    check.accepts_only_its_identity(&attested, &artifact);
    let out = check.conformance(&attested, &san, &issuer, other.to_str().unwrap());
    assert_rejected(&out, "no statement subject has the artifact's digest");
}
