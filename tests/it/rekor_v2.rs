//! Signing for the next Sigstore (issue 15): Rekor v2 entries with RFC 3161 timestamps, against
//! the stand-in's Rekor v2 log and TSA, judged by sigstore-python 4.5.1 and sigstore-js; and
//! sigstore-python's own signer pointed at the stand-in's Rekor v2 signing config.

use std::path::Path;

use serde_json::Value;

use crate::interop::{
    github_identity, jwt_claims, npm_pack, read_json, sign_with_python, sigstore_js_verify, sigstore_python_verify,
    PythonSign, ServeSigstore, VerifyCase,
};
use crate::support::{run_in, stderr};

const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The shape every Rekor v2 bundle has: one hashedrekord 0.0.2 entry with an inclusion proof
/// and checkpoint, no integrated time, no SET, and at least one RFC 3161 timestamp.
fn assert_rekor_v2_shape(bundle: &Value) {
    assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    let entries = bundle["verificationMaterial"]["tlogEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert_eq!(entry["kindVersion"]["version"], "0.0.2");
    assert!(entry.get("integratedTime").is_none(), "Rekor v2 entries have no integrated time: {entry}");
    assert!(entry.get("inclusionPromise").is_none(), "Rekor v2 issues no SET: {entry}");
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].as_str().unwrap().contains("/rekor-v2\n"));
    let timestamps = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].as_array();
    assert_eq!(timestamps.map(Vec::len), Some(1), "one RFC 3161 timestamp");
}

fn verify_with_npm_attest(dir: &Path, bundle: &Path, root: &Path, subject: &Path, san: &str) -> std::process::Output {
    run_in(
        dir,
        &[
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--certificate-identity",
            san,
            "--certificate-oidc-issuer",
            ISSUER,
            subject.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn dry_run_rekor_v2_bundles_verify_with_sigstore_python_and_sigstore_js() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "rekor-two-demo", "1.0.0");
    let out = run_in(dir.path(), &["attest", "--dry-run", "--rekor-version", "2", tarball.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle_path = dir.path().join("rekor-two-demo-1.0.0.sigstore.json");
    let root = dir.path().join("trusted_root.json");
    let bundle = read_json(&bundle_path);
    assert_rekor_v2_shape(&bundle);

    let san = "https://github.com/local/example/.github/workflows/release.yml@refs/heads/main";
    let out = verify_with_npm_attest(dir.path(), &bundle_path, &root, &tarball, san);
    assert!(out.status.success(), "{}", stderr(&out));
    let case = VerifyCase {
        bundle: &bundle_path,
        trusted_root: &root,
        tarball: Some((&tarball, "rekor-two-demo", "1.0.0")),
        artifact: None,
        san,
        issuer: ISSUER,
    };
    sigstore_python_verify(&case).unwrap();
    sigstore_js_verify(&case).unwrap();

    // The timestamp is what dates the signature: without it the bundle proves no time.
    let mut stripped = bundle.clone();
    stripped["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    let stripped_path = dir.path().join("no-timestamp.sigstore.json");
    crate::interop::write_json(&stripped_path, &stripped);
    let out = verify_with_npm_attest(dir.path(), &stripped_path, &root, &tarball, san);
    assert!(!out.status.success(), "a Rekor v2 bundle without a timestamp verified");
    assert!(sigstore_python_verify(&VerifyCase { bundle: &stripped_path, ..case.clone() }).is_err());
}

#[test]
fn sigstore_python_signs_rekor_v2_with_timestamps_against_the_standin_and_npm_attest_verifies() {
    let server = ServeSigstore::start_with(&["--rekor-version", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed by sigstore-python through Rekor v2\n").unwrap();
    let (san, _) = github_identity(&jwt_claims(&server.token()));

    let signed = dir.path().join("artifact.sigstore.json");
    sign_with_python(&server.trust_config(), &server.token(), PythonSign::Sign, &artifact, &signed).unwrap();
    assert_rekor_v2_shape(&read_json(&signed));
    let out = verify_with_npm_attest(dir.path(), &signed, &server.trusted_root(), &artifact, &san);
    assert!(out.status.success(), "{}", stderr(&out));

    let predicate = dir.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"buildDefinition":{"buildType":"https://example.com/b","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#).unwrap();
    let attested = dir.path().join("attested.sigstore.json");
    let mode = PythonSign::Attest { predicate_type: "https://slsa.dev/provenance/v1", predicate: &predicate };
    sign_with_python(&server.trust_config(), &server.token(), mode, &artifact, &attested).unwrap();
    assert_rekor_v2_shape(&read_json(&attested));
    let out = verify_with_npm_attest(dir.path(), &attested, &server.trusted_root(), &artifact, &san);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_tsa_and_fulcio_answering_503_first_are_retried_and_the_rekor_v2_bundle_verifies() {
    let server = ServeSigstore::start_with(&["--rekor-version", "2", "--fail-first", "1", "--fail-status", "503"]);
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "rekor-two-retry", "1.0.0");
    let token = server.token();
    let root = server.trusted_root();
    let out = run_in(
        dir.path(),
        &[
            "attest",
            "--sigstore",
            server.base_url(),
            "--rekor-version",
            "2",
            "--trusted-root",
            root.to_str().unwrap(),
            tarball.to_str().unwrap(),
        ],
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    assert!(out.status.success(), "{}\nserver: {}", stderr(&out), server.stderr());
    let bundle = read_json(&dir.path().join("rekor-two-retry-1.0.0.sigstore.json"));
    assert_rekor_v2_shape(&bundle);
}

#[test]
fn rekor_v2_without_a_tsa_is_refused_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &["attest", "--rekor-url", "http://127.0.0.1:9", "--rekor-version", "2", "x.tgz"],
        &[("SIGSTORE_ID_TOKEN", "a.b.c")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("timestamp authority"), "{}", stderr(&out));
}

#[test]
fn timestamp_only_bundles_verify_unless_a_transparency_log_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "tsa-only-demo", "1.0.0");
    let out = run_in(dir.path(), &["attest", "--dry-run", "--rekor-version", "2", tarball.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = dir.path().join("trusted_root.json");
    // GitHub's instance form: the same signature, dated by the TSA, with no log entry.
    let mut bundle = read_json(&dir.path().join("tsa-only-demo-1.0.0.sigstore.json"));
    bundle["verificationMaterial"]["tlogEntries"] = Value::Array(Vec::new());
    let tsa_only = dir.path().join("tsa-only.sigstore.json");
    crate::interop::write_json(&tsa_only, &bundle);
    let san = "https://github.com/local/example/.github/workflows/release.yml@refs/heads/main";
    let out = verify_with_npm_attest(dir.path(), &tsa_only, &root, &tarball, san);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(crate::support::stdout(&out).contains("log index:         none"), "{}", crate::support::stdout(&out));

    let mut args = vec!["verify", "--require-tlog", "--bundle", tsa_only.to_str().unwrap()];
    args.extend(["--trusted-root", root.to_str().unwrap(), "--certificate-identity", san]);
    args.extend(["--certificate-oidc-issuer", ISSUER, tarball.to_str().unwrap()]);
    let out = run_in(dir.path(), &args, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--require-tlog"), "{}", stderr(&out));

    // Without the timestamp as well, nothing dates the signature: malformed.
    bundle["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    crate::interop::write_json(&tsa_only, &bundle);
    let out = verify_with_npm_attest(dir.path(), &tsa_only, &root, &tarball, san);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("neither a transparency log entry nor an RFC 3161 timestamp"), "{}", stderr(&out));
}

#[test]
fn conformance_sign_bundle_signs_rekor_v2_with_timestamps_when_the_signing_config_asks() {
    let server = ServeSigstore::start_with(&["--rekor-version", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let token = server.token();
    let (san, _) = github_identity(&jwt_claims(&token));
    let artifact = crate::support::data("sigstore-conformance/a.txt");
    for in_toto in [false, true] {
        let out_path = dir.path().join(format!("conformance-{in_toto}.sigstore.json"));
        let (root, config) = (server.trusted_root(), server.signing_config());
        let mut args = vec!["conformance", "sign-bundle"];
        if in_toto {
            args.push("--in-toto");
        }
        let statement = crate::support::data("sigstore-conformance/statement.json");
        let file = if in_toto { statement } else { artifact.clone() };
        args.extend(["--identity-token", &token, "--bundle", out_path.to_str().unwrap()]);
        args.extend(["--trusted-root", root.to_str().unwrap(), "--signing-config", config.to_str().unwrap()]);
        args.push(file.to_str().unwrap());
        let out = run_in(dir.path(), &args, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_rekor_v2_shape(&read_json(&out_path));
        let out = verify_with_npm_attest(dir.path(), &out_path, &root, &artifact, &san);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}
