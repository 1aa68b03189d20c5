//! `npm-attest verify` on real npm provenance bundles (tests/data/npm-provenance), and on
//! mutations of them named after the attack they model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{data, run_in, stderr, stdout};

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The npm registry's 2023-2024 attestation key (npm-provenance README).
const NPM_REGISTRY_KEY_SPKI: &str =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==";
const NPM_REGISTRY_KEY_HINT: &str = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA";

fn index() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(data("npm-provenance/index.json")).unwrap()).unwrap()
}

fn npm(rel: &str) -> PathBuf {
    data(&format!("npm-provenance/{rel}"))
}

fn verify(args: &[&str]) -> Output {
    // Quiet: the offline run says which trusted root it took (tests/it/tuf.rs checks that); these
    // tests want the error line alone.
    let mut argv = vec!["--quiet", "verify"];
    argv.extend_from_slice(args);
    run_in(&data("npm-provenance"), &argv, &[])
}

fn registry_key_pem(dir: &Path) -> PathBuf {
    let mut body = String::new();
    for chunk in NPM_REGISTRY_KEY_SPKI.as_bytes().chunks(64) {
        body.push_str(std::str::from_utf8(chunk).unwrap());
        body.push('\n');
    }
    let path = dir.join("npm-registry.pem");
    std::fs::write(&path, format!("-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")).unwrap();
    path
}

/// The subject argument for an index entry: its stored tarball, or its sha512.
fn subject_arg(entry: &Value) -> String {
    match entry["tarball"].as_str() {
        Some(t) => npm(t).display().to_string(),
        None => format!("sha512:{}", entry["sha512"].as_str().unwrap()),
    }
}

fn assert_rejected(out: &Output, code: i32, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(err.contains(reason), "expected {reason:?} in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    path
}

fn bundle_json(file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(npm(file)).unwrap()).unwrap()
}

const PLAYWRIGHT: &str = "playwright-cli-0.1.1-provenance.sigstore.json";
const PLAYWRIGHT_SAN: &str =
    "https://github.com/microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1";

fn playwright_tarball() -> String {
    npm("tarballs/playwright-cli-0.1.1.tgz").display().to_string()
}

/// Every real provenance bundle verifies against the embedded production root with its
/// identity, and proves the facts the index lists.
#[test]
fn real_npm_provenance_bundles_verify_with_their_identities() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in index() {
        if entry["signer"] != "fulcio-certificate" {
            continue;
        }
        let file = entry["file"].as_str().unwrap();
        let san = entry["san"].as_str().unwrap();
        let issuer = entry["issuer"].as_str().unwrap();
        let bundle = npm(file).display().to_string();
        let subject = subject_arg(&entry);
        let predicate_type = entry["predicateType"].as_str().unwrap();
        let out = verify(&[
            "--bundle",
            &bundle,
            "--certificate-identity",
            san,
            "--certificate-oidc-issuer",
            issuer,
            "--predicate-type",
            predicate_type,
            "--json",
            &subject,
        ]);
        checked += 1;
        if !out.status.success() {
            failures.push(format!("{file}: {}", stderr(&out).trim()));
            continue;
        }
        let facts: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(facts["signer"]["san"], san, "{file}");
        assert_eq!(facts["signer"]["issuer"], issuer, "{file}");
        assert_eq!(facts["logIndex"], entry["rekorLogIndex"], "{file}");
        if entry["tarball"].is_string() {
            assert_eq!(facts["subject"], entry["purl"], "{file}");
        }
    }
    assert_eq!(checked, 12);
    assert!(failures.is_empty(), "{} of {checked} real bundles failed:\n{}", failures.len(), failures.join("\n"));
}

/// npm's registry publish attestations verify with the registry's key.
#[test]
fn registry_publish_attestations_verify_with_the_npm_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = registry_key_pem(dir.path());
    let key = key.display().to_string();
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in index() {
        if entry["keyHint"] != NPM_REGISTRY_KEY_HINT {
            continue;
        }
        checked += 1;
        let file = entry["file"].as_str().unwrap();
        let out =
            verify(&["--bundle", &npm(file).display().to_string(), "--key", &key, "--json", &subject_arg(&entry)]);
        if !out.status.success() {
            failures.push(format!("{file}: {}", stderr(&out).trim()));
        }
    }
    assert_eq!(checked, 5);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn playwright_provenance_proves_repository_workflow_and_ref() {
    let bundle = npm(PLAYWRIGHT).display().to_string();
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        "microsoft/playwright-cli",
        "--workflow",
        ".github/workflows/publish.yml",
        "--ref",
        "refs/tags/v0.1.1",
        &playwright_tarball(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for fact in [
        PLAYWRIGHT_SAN,
        "https://github.com/microsoft/playwright-cli @ ",
        "refs/tags/v0.1.1",
        "github-hosted",
        "/actions/runs/",
        "log index:",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in:\n{text}");
    }
}

/// `--repository OWNER/REPO` alone is GitHub's shorthand, as in `gh attestation verify --repo`:
/// the issuer defaults to GitHub Actions', and another named issuer still has to match.
#[test]
fn repository_shorthand_alone_implies_the_github_actions_issuer() {
    let bundle = npm(PLAYWRIGHT).display().to_string();
    let out = verify(&["--bundle", &bundle, "--repository", "microsoft/playwright-cli", &playwright_tarball()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(GITHUB_ISSUER));
    let out = verify(&[
        "--bundle",
        &bundle,
        "--repository",
        "microsoft/playwright-cli",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "OIDC issuer");
    // The URL forms name the same repository on github.com, so the same issuer.
    for form in ["https://github.com/microsoft/playwright-cli", "github.com/microsoft/playwright-cli"] {
        let out = verify(&["--bundle", &bundle, "--repository", form, &playwright_tarball()]);
        assert!(out.status.success(), "{form}: {}", stderr(&out));
    }
}

// ---- Attacks on the policy and the subject (rejected before any log check). ----

#[test]
fn wrong_identity_is_rejected() {
    let bundle = npm(PLAYWRIGHT).display().to_string();
    let fork = "https://github.com/evil/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1";
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        fork,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "identity (SAN)");
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "OIDC issuer");
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        "evil/playwright-cli",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "source repository");
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        "microsoft/playwright-cli",
        "--ref",
        "refs/heads/main",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "source ref");
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        "microsoft/playwright-cli",
        "--workflow",
        "ci.yml",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "build signer workflow");
}

#[test]
fn keyless_verification_without_identity_policy_is_refused() {
    let bundle = npm(PLAYWRIGHT).display().to_string();
    // Each error names the one flag that is missing.
    let out = verify(&["--bundle", &bundle, &playwright_tarball()]);
    assert_rejected(&out, 2, "pins who signed: missing --repository");
    let out = verify(&["--bundle", &bundle, "--certificate-oidc-issuer", GITHUB_ISSUER, &playwright_tarball()]);
    assert_rejected(&out, 2, "pins who signed: missing --repository (--certificate-oidc-issuer");
    assert_rejected(&out, 2, "--certificate-identity URI");
    let out = verify(&["--bundle", &bundle, "--certificate-identity", PLAYWRIGHT_SAN, &playwright_tarball()]);
    assert_rejected(&out, 2, "missing --certificate-oidc-issuer");
}

#[test]
fn other_tarball_is_rejected() {
    let bundle = npm(PLAYWRIGHT).display().to_string();
    let other = npm("tarballs/tuf-js-1.0.0.tgz").display().to_string();
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &other,
    ]);
    assert_rejected(&out, 1, "not \"pkg:npm/tuf-js@1.0.0\"");
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &format!("sha512:{}", "00".repeat(64)),
    ]);
    assert_rejected(&out, 1, "no statement subject has the artifact's digest");
}

/// A tarball with the right name and version but different bytes (a re-packed package).
#[test]
fn repacked_tarball_with_same_name_is_rejected() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let manifest = br#"{"name":"@playwright/cli","version":"0.1.1"}"#;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    builder.append_data(&mut header, "package/package.json", &manifest[..]).unwrap();
    let gz = builder.into_inner().unwrap().finish().unwrap();
    let path = dir.path().join("cli-0.1.1.tgz");
    std::fs::File::create(&path).unwrap().write_all(&gz).unwrap();
    let bundle = npm(PLAYWRIGHT).display().to_string();
    let out = verify(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &path.display().to_string(),
    ]);
    assert_rejected(&out, 1, "tarball's sha512 differs");
}

// ---- Attacks on the bundle's signed content. ----

#[test]
fn changed_payload_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = bundle_json(PLAYWRIGHT);
    let payload = b["dsseEnvelope"]["payload"].as_str().unwrap();
    let decoded = String::from_utf8(base64_decode(payload)).unwrap().replace("refs/tags/v0.1.1", "refs/tags/v6.6.6");
    b["dsseEnvelope"]["payload"] = Value::String(base64_encode(decoded.as_bytes()));
    let path = write_json(dir.path(), "changed-payload.sigstore.json", &b);
    let out = verify(&[
        "--bundle",
        &path.display().to_string(),
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "DSSE signature over PAE");
}

#[test]
fn second_subject_smuggled_into_the_statement_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = bundle_json(PLAYWRIGHT);
    let payload = base64_decode(b["dsseEnvelope"]["payload"].as_str().unwrap());
    let mut statement: Value = serde_json::from_slice(&payload).unwrap();
    let evil = serde_json::json!({"name": "pkg:npm/evil@1.0.0", "digest": {"sha512": "00".repeat(64)}});
    statement["subject"].as_array_mut().unwrap().push(evil);
    b["dsseEnvelope"]["payload"] = Value::String(base64_encode(&serde_json::to_vec(&statement).unwrap()));
    let path = write_json(dir.path(), "second-subject.sigstore.json", &b);
    let out = verify(&[
        "--bundle",
        &path.display().to_string(),
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        &format!("sha512:{}", "00".repeat(64)),
    ]);
    assert_rejected(&out, 1, "signature does not verify");
}

#[test]
fn swapped_certificate_is_rejected() {
    // The playwright envelope presented with another workflow's (real, trusted) certificate.
    let dir = tempfile::tempdir().unwrap();
    let other = bundle_json("sigstore-1.0.0-email-dsse-v0.3.sigstore.json");
    let mut b = bundle_json(PLAYWRIGHT);
    b["verificationMaterial"]["certificate"] = other["verificationMaterial"]["certificate"].clone();
    let path = write_json(dir.path(), "swapped-certificate.sigstore.json", &b);
    let out = verify(&[
        "--bundle",
        &path.display().to_string(),
        "--certificate-identity",
        "brian@dehamer.com",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "signature does not verify");
}

#[test]
fn tampered_pacote_attestations_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let key = registry_key_pem(dir.path()).display().to_string();
    let sha512 = "sha512:282c0c5fa936d264321643581b65d3de5c0af6ed4fdfac12f5851115df39cc25cfaf0ad22d908487bfef30114d61c25746206d1834be4f8fd1659178f77cc004";
    let san = "https://github.com/sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v0.4.0";
    // (file, index of the tampered bundle in the response)
    for (file, which) in [
        ("sigstore-0.4.0-invalid.json", 1),
        ("sigstore-0.4.0-malformed-subject.json", 1),
        ("sigstore-0.4.0-mismatched-subject-digest.json", 1),
        ("sigstore-0.4.0-mismatched-subject-name.json", 1),
        ("sigstore-0.4.0-unsupported.json", 1),
        ("sigstore-0.4.0-no-keyid.json", 0),
    ] {
        let response: Value =
            serde_json::from_slice(&std::fs::read(npm(&format!("attestations/tampered/{file}"))).unwrap()).unwrap();
        let attestation = &response["attestations"][which];
        let path = write_json(dir.path(), file, &attestation["bundle"]);
        let bundle = path.display().to_string();
        let out = if attestation["predicateType"].as_str().unwrap().contains("npm/attestation") {
            verify(&["--bundle", &bundle, "--key", &key, sha512])
        } else {
            verify(&[
                "--bundle",
                &bundle,
                "--certificate-identity",
                san,
                "--certificate-oidc-issuer",
                GITHUB_ISSUER,
                sha512,
            ])
        };
        assert!(!out.status.success(), "{file} verified");
        let err = stderr(&out);
        assert!(!err.contains("panicked") && err.trim().lines().count() == 1, "{file}: {err}");
    }
}

#[test]
fn wrong_managed_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // A P-256 key that is not npm's.
    let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExRRST79+PsrRBnGAI4cMu6Omz2Jh\nfwlMW+gIutNKVRaMyS4rQKvgngc5p8UbLj55pVHhIoAxi/SRgURZI0J3Xw==\n-----END PUBLIC KEY-----\n";
    let key = dir.path().join("wrong.pem");
    std::fs::write(&key, pem).unwrap();
    let out = verify(&[
        "--bundle",
        &npm("sigstore-1.0.0-publish.sigstore.json").display().to_string(),
        "--key",
        &key.display().to_string(),
        &npm("tarballs/sigstore-1.0.0.tgz").display().to_string(),
    ]);
    assert_rejected(&out, 1, "signature does not verify");
    // A keyless bundle is not accepted under a key policy.
    let out = verify(&[
        "--bundle",
        &npm(PLAYWRIGHT).display().to_string(),
        "--key",
        &key.display().to_string(),
        &playwright_tarball(),
    ]);
    assert_rejected(&out, 1, "signer");
}

// ---- Malformed input: typed errors, exit 2, never a panic. ----

#[test]
fn malformed_bundles_are_bad_input_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = bundle_json(PLAYWRIGHT);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated-json", serde_json::to_vec(&good).unwrap()[..200].to_vec()),
        ("not-json", b"\x00\x01 definitely not json".to_vec()),
        ("empty-file", Vec::new()),
    ];
    let mut wrong_type = good.clone();
    wrong_type["verificationMaterial"]["tlogEntries"] = Value::String("nope".into());
    cases.push(("wrong-type-tlog-entries", serde_json::to_vec(&wrong_type).unwrap()));
    let mut bad_b64 = good.clone();
    bad_b64["dsseEnvelope"]["signatures"][0]["sig"] = Value::String("!!!not base64!!!".into());
    cases.push(("invalid-base64-signature", serde_json::to_vec(&bad_b64).unwrap()));
    let mut non_der = good.clone();
    non_der["verificationMaterial"]["certificate"]["rawBytes"] = Value::String(base64_encode(b"not a certificate"));
    cases.push(("non-der-certificate", serde_json::to_vec(&non_der).unwrap()));
    let mut huge = good.clone();
    let entry = huge["verificationMaterial"]["tlogEntries"][0].clone();
    huge["verificationMaterial"]["tlogEntries"] = Value::Array(vec![entry; 5000]);
    cases.push(("huge-tlog-entry-array", serde_json::to_vec(&huge).unwrap()));
    let mut unknown_media = good.clone();
    unknown_media["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle+json;version=9.9".into());
    cases.push(("unknown-media-type", serde_json::to_vec(&unknown_media).unwrap()));
    let mut negative = good.clone();
    negative["verificationMaterial"]["tlogEntries"][0]["logIndex"] = Value::String("-5".into());
    cases.push(("negative-log-index", serde_json::to_vec(&negative).unwrap()));

    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.sigstore.json"));
        std::fs::write(&path, bytes).unwrap();
        let out = verify(&[
            "--bundle",
            &path.display().to_string(),
            "--certificate-identity",
            PLAYWRIGHT_SAN,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &playwright_tarball(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked") && err.trim().lines().count() == 1, "{name}: {err}");
    }
}

#[test]
fn a_missing_subject_file_is_bad_input() {
    let out = verify(&[
        "--bundle",
        &npm(PLAYWRIGHT).display().to_string(),
        "--certificate-identity",
        PLAYWRIGHT_SAN,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "no-such-file.tgz",
    ]);
    assert_rejected(&out, 2, "neither a file nor a digest");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A package.json version written with a leading `v` is cleaned (`semver.clean`) into the purl
/// that `attest` signs; `verify` must build the purl the same way, or it rejects our own bundle.
#[test]
fn a_v_prefixed_version_verifies_against_the_purl_attest_signed() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"vee-version","version":"v2.0.0-rc.1","files":["index.js"],"repository":"github:local/example"}"#,
    )
    .unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 1;\n").unwrap();
    let out = crate::support::run_in(dir.path(), &["attest", "--dry-run", "--json", "pkg"], &[]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let result: Value = serde_json::from_str(crate::support::stdout(&out).trim()).unwrap();
    assert_eq!(result["subject"]["name"], "pkg:npm/vee-version@2.0.0-rc.1");
    let tarball = result["tarball"].as_str().unwrap();
    let bundle = result["bundle"].as_str().unwrap();
    let out = crate::support::run_in(
        dir.path(),
        &[
            "verify",
            "--bundle",
            bundle,
            "--trusted-root",
            "trusted_root.json",
            "--repository",
            "local/example",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            tarball,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert!(crate::support::stdout(&out).contains("pkg:npm/vee-version@2.0.0-rc.1"));
}
