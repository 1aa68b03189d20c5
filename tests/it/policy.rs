//! The identity policy, predicate type and strict-statement rules of `verify` (issue 11), each
//! attacked with a bundle made for it: really signed and logged by the in-process Sigstore
//! stand-in for whatever GitHub Actions identity the attack needs, so only the policy can
//! refuse it. The legitimate neighbours of each attack (monorepo tags with `@`, reusable
//! workflows named with `--signer-workflow`, the URL forms of `--repository`) verify.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::Digest as _;

use npm_attest::core::time::UnixTime;
use npm_attest::sigstore::conformance::{conformance_sign_bundle, ConformanceSignOptions};
use npm_attest::standin::{Standin, StandinOptions};

use crate::support::{run_in, stderr, stdout};

pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(crate) const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// The in-process stand-in, its runtime, and its trusted root on disk.
pub(crate) struct Forge {
    rt: tokio::runtime::Runtime,
    standin: Standin,
    dir: tempfile::TempDir,
    signing_config: PathBuf,
    signed: std::sync::atomic::AtomicUsize,
    pub(crate) trusted_root: PathBuf,
}

pub(crate) fn forge() -> &'static Forge {
    static FORGE: OnceLock<Forge> = OnceLock::new();
    FORGE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let standin = rt
            .block_on(Standin::start(StandinOptions { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)) }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let trusted_root = dir.path().join("trusted_root.json");
        std::fs::write(&trusted_root, serde_json::to_vec(standin.trusted_root()).unwrap()).unwrap();
        let signing_config = dir.path().join("signing_config.json");
        std::fs::write(&signing_config, serde_json::to_vec(&standin.signing_config()).unwrap()).unwrap();
        Forge { rt, standin, dir, signing_config, signed: std::sync::atomic::AtomicUsize::new(0), trusted_root }
    })
}

/// Who a GitHub Actions run was: the source repository, the workflow that signed
/// (`OWNER/REPO/PATH`, a reusable workflow when not in `repository`), and the ref.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) repository: String,
    pub(crate) signer: String,
    pub(crate) git_ref: String,
}

impl Identity {
    /// The repository's own `release.yml` at `git_ref`.
    pub(crate) fn own(repository: &str, git_ref: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            signer: format!("{repository}/.github/workflows/release.yml"),
            git_ref: git_ref.to_owned(),
        }
    }
}

impl Forge {
    /// Signs `statement` (exact bytes) as `identity`, logged in the stand-in's log: a bundle
    /// every cryptographic check accepts.
    pub(crate) fn sign(&self, identity: &Identity, statement: &[u8]) -> Value {
        let now =
            UnixTime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
        let workflow_ref = format!("{}/.github/workflows/release.yml@{}", identity.repository, identity.git_ref);
        let env = |k: &str| match k {
            "GITHUB_REPOSITORY" => Some(identity.repository.clone()),
            "GITHUB_REF" => Some(identity.git_ref.clone()),
            "GITHUB_WORKFLOW_REF" => Some(workflow_ref.clone()),
            _ => None,
        };
        let mut claims = npm_attest::standin::github_actions_claims(&env, now);
        claims.insert("job_workflow_ref".into(), json!(format!("{}@{}", identity.signer, identity.git_ref)));
        // `conformance sign-bundle --in-toto`, in process: the statement's exact bytes are the
        // DSSE payload, and the new log entry is checked against the trusted root.
        let n = self.signed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = self.dir.path().join(format!("statement-{n}.json"));
        let bundle_out = self.dir.path().join(format!("bundle-{n}.sigstore.json"));
        std::fs::write(&file, statement).unwrap();
        let opts = ConformanceSignOptions {
            staging: false,
            in_toto: true,
            identity_token: self.standin.mint_token(claims),
            bundle_out: bundle_out.clone(),
            trusted_root: Some(self.trusted_root.clone()),
            signing_config: Some(self.signing_config.clone()),
            file,
        };
        self.rt.block_on(conformance_sign_bundle(opts)).unwrap();
        serde_json::from_slice(&std::fs::read(&bundle_out).unwrap()).unwrap()
    }
}

/// A gzip'd tar holding `<top>/package.json` for `name@version`.
pub(crate) fn tarball(top: &str, name: &str, version: &str) -> Vec<u8> {
    let manifest = serde_json::to_vec(&json!({"name": name, "version": version})).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, format!("{top}/package.json"), manifest.as_slice()).unwrap();
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

pub(crate) fn purl(name: &str, version: &str) -> String {
    format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1))
}

/// An npm provenance statement (compact JSON) for `subject_name` with the tarball's sha512.
pub(crate) fn statement(subject_name: &str, tarball: &[u8], predicate_type: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject_name, "digest": {"sha512": hex::encode(sha2::Sha512::digest(tarball))}}],
        "predicateType": predicate_type,
        "predicate": {"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"}},
    }))
    .unwrap()
}

/// A signed bundle and tarball for `name@version` as `identity`, written into `dir`.
struct Case {
    bundle: PathBuf,
    tarball: PathBuf,
}

fn case(dir: &Path, label: &str, identity: &Identity, name: &str, version: &str) -> Case {
    let tgz = tarball("package", name, version);
    let bundle = forge().sign(identity, &statement(&purl(name, version), &tgz, SLSA_V1));
    write_case(dir, label, &bundle, &tgz)
}

fn write_case(dir: &Path, label: &str, bundle: &Value, tgz: &[u8]) -> Case {
    let bundle_path = dir.join(format!("{label}.sigstore.json"));
    let tarball_path = dir.join(format!("{label}.tgz"));
    std::fs::write(&bundle_path, serde_json::to_vec(bundle).unwrap()).unwrap();
    std::fs::write(&tarball_path, tgz).unwrap();
    Case { bundle: bundle_path, tarball: tarball_path }
}

fn verify(case: &Case, policy: &[&str]) -> Output {
    let root = forge().trusted_root.display().to_string();
    let mut args = vec!["verify", "--bundle", case.bundle.to_str().unwrap(), "--trusted-root", &root];
    args.extend_from_slice(policy);
    args.push(case.tarball.to_str().unwrap());
    run_in(case.bundle.parent().unwrap(), &args, &[])
}

fn assert_refused(out: &Output, code: i32, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(err.contains(reason), "expected {reason:?} in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

fn assert_verified(out: &Output) {
    assert!(out.status.success(), "expected success: {}{}", stdout(out), stderr(out));
}

// ---- A policy must pin a repository or an identity (finding 2). ----

#[test]
fn a_ref_or_workflow_alone_with_an_issuer_pins_no_repository_and_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let someone_else =
        case(dir.path(), "someone-else", &Identity::own("someone-else/anything", "refs/tags/v1.0.0"), "pkg", "1.0.0");
    for narrowing in [["--ref", "refs/tags/v1.0.0"], ["--workflow", "release.yml"]] {
        let mut policy = vec!["--certificate-oidc-issuer", GITHUB_ISSUER];
        policy.extend(narrowing);
        assert_refused(
            &verify(&someone_else, &policy),
            2,
            "refusing to verify without an identity policy that pins who signed",
        );
    }
    // Signer flags only narrow too.
    let out = verify(
        &someone_else,
        &["--certificate-oidc-issuer", GITHUB_ISSUER, "--signer-repository", "someone-else/anything"],
    );
    assert_refused(&out, 2, "refusing to verify without an identity policy");
}

// ---- `--repository` binds the signer; `--workflow` is a path of that signer (finding 3). ----

#[test]
fn a_workflow_of_another_repository_is_refused_under_repository_and_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity {
        repository: "octo/pkg".into(),
        signer: "someone-else/tools/.github/workflows/release.yml".into(),
        git_ref: "refs/tags/v1.0.0".into(),
    };
    let borrowed = case(dir.path(), "borrowed-signer", &identity, "pkg", "1.0.0");
    assert_refused(
        &verify(&borrowed, &["--repository", "octo/pkg", "--workflow", "release.yml"]),
        1,
        "build signer workflow",
    );
    assert_refused(&verify(&borrowed, &["--repository", "octo/pkg"]), 1, "build signer workflow");
    // The legitimate reusable workflow, named as gh names it.
    assert_verified(&verify(
        &borrowed,
        &["--repository", "octo/pkg", "--signer-workflow", "someone-else/tools/.github/workflows/release.yml"],
    ));
    assert_verified(&verify(&borrowed, &["--repository", "octo/pkg", "--signer-repository", "someone-else/tools"]));
    // Another workflow of the signer repository is not the one named.
    assert_refused(
        &verify(
            &borrowed,
            &["--repository", "octo/pkg", "--signer-workflow", "someone-else/tools/.github/workflows/other.yml"],
        ),
        1,
        "build signer workflow",
    );
}

#[test]
fn a_fork_with_the_same_workflow_name_is_refused_under_repository() {
    let dir = tempfile::tempdir().unwrap();
    let fork = case(dir.path(), "fork", &Identity::own("evil/pkg", "refs/tags/v1.0.0"), "pkg", "1.0.0");
    assert_refused(&verify(&fork, &["--repository", "octo/pkg", "--workflow", "release.yml"]), 1, "source repository");
}

// ---- Workflow and ref parsing follows the certificate's structure (finding 6). ----

#[test]
fn monorepo_tags_and_branches_with_at_verify_under_workflow_and_ref() {
    let dir = tempfile::tempdir().unwrap();
    for (label, git_ref) in [("monorepo-tag", "refs/tags/pkg@1.0.0"), ("branch-with-at", "refs/heads/rel@2")] {
        let c = case(dir.path(), label, &Identity::own("octo/mono", git_ref), "pkg", "1.0.0");
        assert_verified(&verify(&c, &["--repository", "octo/mono", "--workflow", "release.yml", "--ref", git_ref]));
        assert_verified(&verify(&c, &["--repository", "octo/mono", "--workflow", ".github/workflows/release.yml"]));
    }
}

#[test]
fn a_workflow_whose_name_extends_the_expected_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity {
        repository: "octo/pkg".into(),
        signer: "octo/pkg/.github/workflows/release.yml.evil.yml".into(),
        git_ref: "refs/heads/main".into(),
    };
    let c = case(dir.path(), "longer-workflow-name", &identity, "pkg", "1.0.0");
    assert_refused(&verify(&c, &["--repository", "octo/pkg", "--workflow", "release.yml"]), 1, "build signer workflow");
}

// ---- Repository URL forms (finding 7). ----

#[test]
fn repository_url_forms_verify_and_malformed_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = case(dir.path(), "url-forms", &Identity::own("octo/pkg", "refs/tags/v1.0.0"), "pkg", "1.0.0");
    for form in [
        "octo/pkg",
        "github.com/octo/pkg",
        "https://github.com/octo/pkg",
        "https://github.com/octo/pkg.git",
        "OCTO/Pkg",
    ] {
        assert_verified(&verify(&c, &["--repository", form]));
    }
    for bad in ["octo", "http://github.com/octo/pkg", "https://github.com/octo"] {
        assert_refused(&verify(&c, &["--repository", bad]), 2, "--repository");
    }
    // A mangled prefix is another repository, not a shorthand.
    assert_refused(&verify(&c, &["--repository", "github.com/octo/pkg2"]), 1, "source repository");
}

// ---- The predicate type is part of the policy (finding 4). ----

#[test]
fn a_statement_of_another_predicate_type_is_refused_as_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = tarball("package", "pkg", "1.0.0");
    let identity = Identity::own("octo/pkg", "refs/tags/v1.0.0");
    let bundle = forge().sign(&identity, &statement(&purl("pkg", "1.0.0"), &tgz, "https://example.com/anything/v1"));
    let c = write_case(dir.path(), "other-predicate-type", &bundle, &tgz);
    assert_refused(&verify(&c, &["--repository", "octo/pkg"]), 1, "predicate type");
    assert_verified(&verify(&c, &["--repository", "octo/pkg", "--predicate-type", "https://example.com/anything/v1"]));
    // And provenance is refused where another type is asked for.
    let good = case(dir.path(), "provenance", &identity, "pkg", "1.0.0");
    assert_refused(
        &verify(&good, &["--repository", "octo/pkg", "--predicate-type", "https://spdx.dev/Document/v2.3"]),
        1,
        "predicate type",
    );
}

// ---- Strict statements (finding 7). ----

#[test]
fn a_statement_with_duplicate_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = tarball("package", "pkg", "1.0.0");
    let sha512 = hex::encode(sha2::Sha512::digest(&tgz));
    // serde_json alone keeps the last predicateType; other verifiers reject the document.
    let text = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"pkg:npm/pkg@1.0.0","digest":{{"sha512":"{sha512}"}}}}],"predicateType":"https://example.com/anything/v1","predicateType":"{SLSA_V1}","predicate":{{}}}}"#
    );
    let bundle = forge().sign(&Identity::own("octo/pkg", "refs/tags/v1.0.0"), text.as_bytes());
    let c = write_case(dir.path(), "duplicate-keys", &bundle, &tgz);
    assert_refused(&verify(&c, &["--repository", "octo/pkg"]), 1, "duplicate key \"predicateType\"");
}

#[test]
fn a_tarball_whose_top_directory_is_not_package_is_still_judged_as_an_npm_package() {
    let dir = tempfile::tempdir().unwrap();
    // npm installs this tarball as pkg@1.0.0; the statement names another package with its
    // digest, which artifact mode (any subject with the digest) would have accepted.
    let tgz = tarball("node-pkg", "pkg", "1.0.0");
    let bundle =
        forge().sign(&Identity::own("octo/pkg", "refs/tags/v1.0.0"), &statement("pkg:npm/evil@6.6.6", &tgz, SLSA_V1));
    let c = write_case(dir.path(), "renamed-top-directory", &bundle, &tgz);
    assert_refused(
        &verify(&c, &["--repository", "octo/pkg"]),
        1,
        "statement is about \"pkg:npm/evil@6.6.6\", not \"pkg:npm/pkg@1.0.0\"",
    );
    // The honest statement for it verifies.
    let bundle =
        forge().sign(&Identity::own("octo/pkg", "refs/tags/v1.0.0"), &statement(&purl("pkg", "1.0.0"), &tgz, SLSA_V1));
    let c = write_case(dir.path(), "renamed-top-directory-honest", &bundle, &tgz);
    assert_verified(&verify(&c, &["--repository", "octo/pkg", "--json"]));
}

// ---- `--json` prints JSON in every outcome (finding 7). ----

#[test]
fn verify_json_prints_json_on_stdout_when_verification_fails() {
    let dir = tempfile::tempdir().unwrap();
    let fork = case(dir.path(), "json-failure", &Identity::own("evil/pkg", "refs/tags/v1.0.0"), "pkg", "1.0.0");
    let out = verify(&fork, &["--repository", "octo/pkg", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON document on stdout");
    assert_eq!(doc["verified"], false);
    assert!(doc["error"].as_str().unwrap().contains("source repository"), "{doc}");
    assert_eq!(doc["exitCode"], 1);
    // Bad input too.
    let out = verify(&fork, &["--certificate-oidc-issuer", GITHUB_ISSUER, "--ref", "refs/tags/v1.0.0", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON document on stdout");
    assert_eq!(doc["exitCode"], 2);
}

// ---- Registry mode: the attestation is chosen by what was signed, on the registry's origin. ----

#[test]
fn a_registry_listing_that_lies_about_the_predicate_type_does_not_make_it_provenance() {
    use crate::registry::{RegistryConfig, RegistryStandin};
    let registry = RegistryStandin::start(RegistryConfig::default());
    let tgz = tarball("package", "pkg", "1.0.0");
    let identity = Identity::own("octo/pkg", "refs/tags/v1.0.0");
    let other = forge().sign(&identity, &statement(&purl("pkg", "1.0.0"), &tgz, "https://example.com/anything/v1"));
    registry.seed_with_repository(
        "pkg",
        "1.0.0",
        tgz.clone(),
        Some(other.clone()),
        Some("git+https://github.com/octo/pkg.git"),
    );
    registry.set_attestations("pkg@1.0.0", json!({"attestations": [{"predicateType": SLSA_V1, "bundle": other}]}));
    let root = forge().trusted_root.display().to_string();
    let url = registry.url();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "verify",
        "--registry",
        url.as_str(),
        "--trusted-root",
        root.as_str(),
        "--repository",
        "octo/pkg",
        "pkg@1.0.0",
    ];
    assert_refused(&run_in(dir.path(), &args, &[]), 1, "predicate type");
    // Listed next to real provenance, the other statement is skipped by its signed type.
    let provenance = forge().sign(&identity, &statement(&purl("pkg", "1.0.0"), &tgz, SLSA_V1));
    registry.set_attestations(
        "pkg@1.0.0",
        json!({"attestations": [{"predicateType": SLSA_V1, "bundle": other}, {"predicateType": "x", "bundle": provenance}]}),
    );
    assert_verified(&run_in(dir.path(), &args, &[]));
}

#[test]
fn an_attestations_url_on_another_port_of_the_same_host_is_not_followed() {
    use crate::registry::{RegistryConfig, RegistryStandin};
    let registry = RegistryStandin::start(RegistryConfig::default());
    let decoy = RegistryStandin::start(RegistryConfig::default());
    let tgz = tarball("package", "pkg", "1.0.0");
    let good =
        forge().sign(&Identity::own("octo/pkg", "refs/tags/v1.0.0"), &statement(&purl("pkg", "1.0.0"), &tgz, SLSA_V1));
    registry.seed_with_repository("pkg", "1.0.0", tgz.clone(), Some(good), Some("https://github.com/octo/pkg"));
    let evil =
        forge().sign(&Identity::own("evil/pkg", "refs/tags/v1.0.0"), &statement(&purl("pkg", "1.0.0"), &tgz, SLSA_V1));
    decoy.seed_with_repository("pkg", "1.0.0", tgz, Some(evil), None);
    // Same host (127.0.0.1), another port.
    registry.set_attestations_url("pkg", "1.0.0", &format!("{}/-/npm/v1/attestations/pkg@1.0.0", decoy.server.url));
    let root = forge().trusted_root.display().to_string();
    let url = registry.url();
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "verify",
            "--registry",
            url.as_str(),
            "--trusted-root",
            root.as_str(),
            "--repository",
            "octo/pkg",
            "pkg@1.0.0",
        ],
        &[],
    );
    assert_verified(&out);
    assert!(decoy.requests().is_empty(), "the decoy was asked: {:?}", decoy.requests());
}
