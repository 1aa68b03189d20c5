//! npm-attest's own output judged by the peers: dry-run bundles checked by sigstore-js,
//! sigstore-python and in-toto-attestation, and `serve-sigstore` used by sigstore-js's and
//! sigstore-python's signers.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;
use crate::support::{run_in, stderr, stdout};

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The GitHub Actions context the dry run's mocked token is built from.
const REPOSITORY: &str = "acme/widgets";
const WORKFLOW_REF: &str = "acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.3";

fn github_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GITHUB_REPOSITORY", REPOSITORY),
        ("GITHUB_REPOSITORY_OWNER", "acme"),
        ("GITHUB_WORKFLOW_REF", WORKFLOW_REF),
        ("GITHUB_REF", "refs/tags/v1.2.3"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
    ]
}

/// What `attest --dry-run --json` reported, and where it wrote.
struct DryRun {
    report: Value,
    bundle: PathBuf,
    trusted_root: PathBuf,
    tarball: PathBuf,
}

fn dry_run(dir: &Path, name: &str, version: &str) -> DryRun {
    let tarball = npm_pack(dir, name, version);
    let stem = name.replace(['@', '/'], "_");
    let bundle = dir.join(format!("{stem}.sigstore.json"));
    let trusted_root = dir.join(format!("{stem}.trusted_root.json"));
    let args = [
        "attest",
        "--dry-run",
        "--json",
        "--output",
        bundle.to_str().unwrap(),
        "--trusted-root-out",
        trusted_root.to_str().unwrap(),
        tarball.to_str().unwrap(),
    ];
    let out = run_in(dir, &args, &github_env());
    assert!(out.status.success(), "attest --dry-run {name}: {}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON object on stdout");
    DryRun { report, bundle, trusted_root, tarball }
}

#[test]
fn dry_run_bundles_pass_sigstore_js_sigstore_python_npm_and_in_toto() {
    let dir = tempfile::tempdir().unwrap();
    let san = format!("https://github.com/{WORKFLOW_REF}");
    let mut runs = Vec::new();
    for (name, version) in [("hello-npm-attest", "1.2.3"), ("@npm-attest-test/scoped-pkg", "0.1.0-beta.1")] {
        let run = dry_run(dir.path(), name, version);
        let purl = format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1));
        let digest = sha512_hex(&fs::read(&run.tarball).unwrap());
        assert_eq!(run.report["subject"]["name"], purl.as_str());
        assert_eq!(run.report["subject"]["sha512"], digest.as_str());

        let case = VerifyCase {
            bundle: &run.bundle,
            trusted_root: &run.trusted_root,
            tarball: Some((&run.tarball, name, version)),
            artifact: None,
            san: &san,
            issuer: GITHUB_ISSUER,
        };
        let js = sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js, {name}: {r}"));
        assert_eq!((&js["subject"], &js["sha512"]), (&json!(purl), &json!(digest)));
        let py = sigstore_python_verify(&case).unwrap_or_else(|r| panic!("sigstore-python, {name}: {r}"));
        assert_eq!(py["subject"], purl.as_str());
        let npm = npm_cli_sigstore_verify(&case).unwrap_or_else(|r| panic!("npm's sigstore-js, {name}: {r}"));
        assert_eq!(npm["subject"], purl.as_str());

        let statement = intoto_check(&run.bundle).unwrap_or_else(|r| panic!("in-toto-attestation, {name}: {r}"));
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(statement["subjects"], json!([purl]));
        runs.push((name, version, run));
    }

    // Each bundle names its own package only: the other package's tarball, under either name,
    // fails npm's subject checks in both verifiers.
    let (a, b) = (&runs[0], &runs[1]);
    for (name, version, run, other) in [(a.0, a.1, &a.2, &b.2), (b.0, b.1, &b.2, &a.2)] {
        let case = VerifyCase {
            bundle: &run.bundle,
            trusted_root: &run.trusted_root,
            tarball: Some((&other.tarball, name, version)),
            artifact: None,
            san: &san,
            issuer: GITHUB_ISSUER,
        };
        for r in [sigstore_js_verify(&case), sigstore_python_verify(&case)] {
            let r = r.expect_err("another package's tarball");
            assert_eq!(r.stage, "npm-subject", "{name}: {r}");
        }
    }
}

#[test]
fn dry_run_bundles_with_a_changed_payload_byte_or_the_wrong_root_or_identity_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let name = "@npm-attest-test/tampered";
    let run = dry_run(dir.path(), name, "2.0.0");
    let san = format!("https://github.com/{WORKFLOW_REF}");
    let changed = dir.path().join("payload-byte-changed.sigstore.json");
    write_json(&changed, &with_one_payload_byte_changed(&read_json(&run.bundle)));
    let production = data("trust/public-good-production-trusted_root.json");
    let good = VerifyCase {
        bundle: &run.bundle,
        trusted_root: &run.trusted_root,
        tarball: Some((&run.tarball, name, "2.0.0")),
        artifact: None,
        san: &san,
        issuer: GITHUB_ISSUER,
    };
    sigstore_js_verify(&good).expect("the untouched bundle verifies");
    let cases = [
        ("payload byte changed", VerifyCase { bundle: &changed, ..good.clone() }),
        ("public-good root", VerifyCase { trusted_root: &production, ..good.clone() }),
        (
            "other workflow",
            VerifyCase {
                san: "https://github.com/acme/widgets/.github/workflows/evil.yml@refs/tags/v1.2.3",
                ..good.clone()
            },
        ),
        ("other issuer", VerifyCase { issuer: "https://gitlab.com", ..good.clone() }),
    ];
    for (what, case) in cases {
        let js = sigstore_js_verify(&case).expect_err(what);
        assert_eq!(js.stage, "sigstore", "sigstore-js, {what}: {js}");
        let py = sigstore_python_verify(&case).expect_err(what);
        assert_eq!(py.stage, "sigstore", "sigstore-python, {what}: {py}");
    }
}

#[test]
fn sigstore_js_and_sigstore_python_sign_against_serve_sigstore_and_sigstore_js_verifies() {
    let server = ServeSigstore::start();
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let root = server.trusted_root();
    let dir = tempfile::tempdir().unwrap();
    let statement = data("sigstore-conformance/statement.json");
    let artifact = data("sigstore-conformance/a.txt");

    // sigstore-js's signer: Fulcio, DSSE, a Rekor dsse entry.
    let js_bundle = dir.path().join("signed-by-sigstore-js.sigstore.json");
    let facts = sign_with_js(server.base_url(), server.base_url(), &token, &statement, &js_bundle)
        .unwrap_or_else(|r| panic!("sigstore-js signing: {r}\n{}", server.stderr()));
    eprintln!("sigstore-js signed against serve-sigstore in {} ms", facts["elapsedMs"]);
    let case = VerifyCase {
        bundle: &js_bundle,
        trusted_root: &root,
        tarball: None,
        artifact: None,
        san: &san,
        issuer: &issuer,
    };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js verifying its own bundle: {r}"));
    sigstore_python_verify(&case).unwrap_or_else(|r| panic!("sigstore-python verifying sigstore-js's bundle: {r}"));

    // sigstore-python's CLI: a message signature (hashedrekord) ...
    let py_sign = dir.path().join("signed-by-sigstore-python.sigstore.json");
    sign_with_python(&server.trust_config(), &token, PythonSign::Sign, &artifact, &py_sign)
        .unwrap_or_else(|e| panic!("sigstore sign: {e}\n{}", server.stderr()));
    let case = VerifyCase { bundle: &py_sign, artifact: Some(&artifact), ..case.clone() };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js verifying `sigstore sign`: {r}"));
    let other = VerifyCase { artifact: Some(&statement), ..case.clone() };
    assert_eq!(sigstore_js_verify(&other).expect_err("another artifact").stage, "sigstore");

    // ... and a DSSE attestation with an SLSA v1 predicate.
    let predicate = dir.path().join("predicate.json");
    let real = read_json(&data("npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"));
    let mut real_statement = Value::Null;
    with_statement(&real, |s| real_statement = s.clone());
    write_json(&predicate, &real_statement["predicate"]);
    let py_attest = dir.path().join("attested-by-sigstore-python.sigstore.json");
    let mode = PythonSign::Attest { predicate_type: "https://slsa.dev/provenance/v1", predicate: &predicate };
    sign_with_python(&server.trust_config(), &token, mode, &artifact, &py_attest)
        .unwrap_or_else(|e| panic!("sigstore attest: {e}\n{}", server.stderr()));
    let case = VerifyCase { bundle: &py_attest, artifact: None, ..case.clone() };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js verifying `sigstore attest`: {r}"));
    let checked = intoto_check(&py_attest).unwrap_or_else(|r| panic!("in-toto-attestation: {r}"));
    assert_eq!(checked["predicateType"], "https://slsa.dev/provenance/v1");
}

#[test]
fn attest_against_serve_sigstore_passes_both_verifiers_and_in_toto() {
    let server = ServeSigstore::start();
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let root = server.trusted_root();
    let dir = tempfile::tempdir().unwrap();
    let name = "@npm-attest-test/remote";
    let tarball = npm_pack(dir.path(), name, "3.1.4");
    let bundle = dir.path().join("remote.sigstore.json");

    let started = std::time::Instant::now();
    let args = [
        "attest",
        "--sigstore",
        server.base_url(),
        "--identity-token",
        &token,
        "--json",
        "--output",
        bundle.to_str().unwrap(),
        tarball.to_str().unwrap(),
    ];
    let out = run_in(dir.path(), &args, &[]);
    let ours = started.elapsed();
    assert!(out.status.success(), "attest --sigstore URL: {}\n{}", stderr(&out), server.stderr());
    assert!(!stdout(&out).contains(&token) && !stderr(&out).contains(&token), "the token leaked");

    let case = VerifyCase {
        bundle: &bundle,
        trusted_root: &root,
        tarball: Some((&tarball, name, "3.1.4")),
        artifact: None,
        san: &san,
        issuer: &issuer,
    };
    sigstore_js_verify(&case).unwrap_or_else(|r| panic!("sigstore-js: {r}"));
    sigstore_python_verify(&case).unwrap_or_else(|r| panic!("sigstore-python: {r}"));
    intoto_check(&bundle).unwrap_or_else(|r| panic!("in-toto-attestation: {r}"));

    // The same statement signed by sigstore-js against the same server, for a speed baseline.
    let statement = dir.path().join("statement.json");
    let mut ours_statement = Value::Null;
    with_statement(&read_json(&bundle), |s| ours_statement = s.clone());
    write_json(&statement, &ours_statement);
    let js_bundle = dir.path().join("sigstore-js.sigstore.json");
    let facts = sign_with_js(server.base_url(), server.base_url(), &token, &statement, &js_bundle)
        .unwrap_or_else(|r| panic!("sigstore-js signing: {r}"));
    eprintln!(
        "against serve-sigstore: npm-attest attest (whole process, incl. tarball read) {} ms; \
         sigstore-js DSSEBundleBuilder.create {} ms",
        ours.as_millis(),
        facts["elapsedMs"]
    );
}
