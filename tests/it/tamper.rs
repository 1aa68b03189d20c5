//! Bundles made by `attest --dry-run` verify against the trusted root written beside them, and
//! each attack on them (named after the attack) is rejected by `npm-attest verify` with exit
//! code 1 and a one-line reason naming the check that failed (issue 3).
//!
//! The dry runs are made once per test binary (an unscoped package, a scoped package, and a
//! second run of the unscoped package against a fresh stand-in with keys of its own); every
//! test mutates copies in its own directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha512};

use crate::interop::{
    github_identity, jwt_claims, npm_pack, read_json, sign_with_js, sigstore_js_verify, sigstore_python_verify,
    write_json, ServeSigstore, VerifyCase,
};
use crate::support::{run_in, stderr, stdout};

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const REPOSITORY: &str = "acme/widgets";
const WORKFLOW_REF: &str = "acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.3";
const SAN: &str = "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.2.3";

/// The GitHub Actions context the dry run's mocked token and statement are built from.
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

/// One `attest --dry-run`: its bundle, the trusted root written beside it, and the tarball.
#[derive(Debug)]
struct DryRun {
    name: &'static str,
    version: &'static str,
    bundle: PathBuf,
    trusted_root: PathBuf,
    tarball: PathBuf,
}

impl DryRun {
    fn make(dir: &Path, name: &'static str, version: &'static str, label: &str) -> DryRun {
        let pack_dir = dir.join(label);
        fs::create_dir_all(&pack_dir).unwrap();
        let tarball = npm_pack(&pack_dir, name, version);
        let bundle = pack_dir.join("provenance.sigstore.json");
        let trusted_root = pack_dir.join("trusted_root.json");
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
        let out = run_in(&pack_dir, &args, &github_env());
        assert!(out.status.success(), "attest --dry-run {name}: {}", stderr(&out));
        DryRun { name, version, bundle, trusted_root, tarball }
    }

    fn purl(&self) -> String {
        format!("pkg:npm/{}@{}", self.name.replacen('@', "%40", 1), self.version)
    }

    fn json(&self) -> Value {
        read_json(&self.bundle)
    }
}

struct Runs {
    unscoped: DryRun,
    scoped: DryRun,
    /// The unscoped package again, signed by another stand-in (another CA, CT and log key).
    other: DryRun,
}

/// The dry runs, made once. They live under cargo's per-target temporary directory.
fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("tamper-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap().keep();
        Runs {
            unscoped: DryRun::make(&dir, "hello-tamper", "1.2.3", "unscoped"),
            scoped: DryRun::make(&dir, "@npm-attest-test/tamper", "0.1.0-beta.1", "scoped"),
            other: DryRun::make(&dir, "hello-tamper", "1.2.3", "other"),
        }
    })
}

/// `npm-attest verify` of `bundle` against `trusted_root` for `subject`, with `policy` flags.
fn verify(bundle: &Path, trusted_root: &Path, policy: &[&str], subject: &Path) -> Output {
    let mut args =
        vec!["verify", "--bundle", bundle.to_str().unwrap(), "--trusted-root", trusted_root.to_str().unwrap()];
    args.extend_from_slice(policy);
    args.push(subject.to_str().unwrap());
    run_in(bundle.parent().unwrap(), &args, &[])
}

const EXACT_IDENTITY: [&str; 4] = ["--certificate-identity", SAN, "--certificate-oidc-issuer", GITHUB_ISSUER];

/// Verifies `bundle` as if it were `run`'s, with the exact identity and `run`'s tarball.
fn verify_as(run: &DryRun, bundle: &Path) -> Output {
    verify(bundle, &run.trusted_root, &EXACT_IDENTITY, &run.tarball)
}

/// Exit code 1, one line on stderr, naming `reason`.
fn assert_rejected(out: &Output, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(err.contains(reason), "expected {reason:?} in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(stdout(out).is_empty(), "nothing on stdout: {}", stdout(out));
}

/// Writes the mutated bundle as `<attack>.sigstore.json` in a fresh directory.
fn write_attack(dir: &Path, attack: &str, bundle: &Value) -> PathBuf {
    let path = dir.join(format!("{attack}.sigstore.json"));
    write_json(&path, bundle);
    path
}

fn entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

fn b64(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().expect("a base64 string")).expect("base64")
}

/// A protobuf-JSON int64 (a decimal string) plus `delta`.
fn int64_plus(value: &Value, delta: i64) -> Value {
    let n: i64 = value.as_str().expect("an int64 string").parse().unwrap();
    Value::String((n + delta).to_string())
}

// ---- The untouched bundles. ----

#[test]
fn dry_run_bundles_verify_against_the_trusted_root_written_beside_them() {
    let r = runs();
    for run in [&r.unscoped, &r.scoped, &r.other] {
        let mut policy = EXACT_IDENTITY.to_vec();
        policy.extend(["--repository", REPOSITORY, "--workflow", "release.yml"]);
        policy.extend(["--ref", "refs/tags/v1.2.3", "--json"]);
        let out = verify(&run.bundle, &run.trusted_root, &policy, &run.tarball);
        assert!(out.status.success(), "{}: {}", run.name, stderr(&out));
        let facts: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(facts["signer"]["san"], SAN);
        assert_eq!(facts["signer"]["issuer"], GITHUB_ISSUER);
        assert_eq!(facts["subject"], run.purl().as_str());
        let logged = &run.json()["verificationMaterial"]["tlogEntries"][0]["logIndex"];
        assert_eq!(facts["logIndex"].to_string(), logged.as_str().unwrap());
    }
    // Two dry runs sign with different stand-ins: different certificates and logs.
    let (a, b) = (r.unscoped.json(), r.other.json());
    assert_ne!(a["verificationMaterial"]["certificate"], b["verificationMaterial"]["certificate"]);
    assert_ne!(
        a["verificationMaterial"]["tlogEntries"][0]["logId"],
        b["verificationMaterial"]["tlogEntries"][0]["logId"]
    );
}

// ---- Attacks on the signed content. ----

#[test]
fn a_changed_payload_is_rejected_as_a_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    for run in [&runs().unscoped, &runs().scoped] {
        // The statement now names a tarball with another sha512 (one hex digit changed).
        let changed = crate::interop::with_one_payload_byte_changed(&run.json());
        let path = write_attack(dir.path(), "changed-payload", &changed);
        assert_rejected(&verify_as(run, &path), "DSSE signature over PAE");
    }
}

#[test]
fn a_second_subject_smuggled_into_the_statement_is_rejected_as_a_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().scoped;
    let evil_tarball = dir.path().join("evil-1.0.0.tgz");
    fs::write(&evil_tarball, b"not the package that was built").unwrap();
    let evil_sha512 = hex::encode(Sha512::digest(fs::read(&evil_tarball).unwrap()));
    let bundle = crate::interop::with_statement(&run.json(), |s| {
        let evil = json!({"name": "pkg:npm/evil@1.0.0", "digest": {"sha512": evil_sha512}});
        s["subject"].as_array_mut().unwrap().push(evil);
    });
    let path = write_attack(dir.path(), "second-subject", &bundle);
    let out = verify(&path, &run.trusted_root, &EXACT_IDENTITY, Path::new(&format!("sha512:{evil_sha512}")));
    assert_rejected(&out, "DSSE signature over PAE");
}

/// A statement with two subjects that WAS signed and logged (by `conformance sign-bundle`
/// against `serve-sigstore`): the signature is good, but npm provenance names one package.
#[test]
fn a_second_subject_in_a_really_signed_statement_is_rejected_for_an_npm_package() {
    let server = ServeSigstore::start();
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().unscoped;
    let sha512 = hex::encode(Sha512::digest(fs::read(&run.tarball).unwrap()));
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": run.purl(), "digest": {"sha512": sha512}},
            {"name": "pkg:npm/evil@1.0.0", "digest": {"sha512": "ab".repeat(64)}},
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": run.json()["dsseEnvelope"]["payload"]
            .as_str()
            .map(|p| serde_json::from_slice::<Value>(&B64.decode(p).unwrap()).unwrap()["predicate"].clone())
            .unwrap(),
    });
    let statement_path = dir.path().join("two-subjects.json");
    write_json(&statement_path, &statement);
    let bundle = dir.path().join("second-subject-signed.sigstore.json");
    let out = run_in(
        dir.path(),
        &[
            "conformance",
            "sign-bundle",
            "--in-toto",
            "--identity-token",
            &token,
            "--bundle",
            bundle.to_str().unwrap(),
            "--trusted-root",
            server.trusted_root().to_str().unwrap(),
            "--signing-config",
            server.signing_config().to_str().unwrap(),
            statement_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "sign-bundle: {}", stderr(&out));
    let policy = ["--certificate-identity", &san, "--certificate-oidc-issuer", &issuer];
    assert_rejected(
        &verify(&bundle, &server.trusted_root(), &policy, &run.tarball),
        "statement has 2 subjects; npm provenance names exactly one package",
    );
}

#[test]
fn a_swapped_certificate_from_another_dry_run_is_rejected_as_a_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let r = runs();
    let mut bundle = r.unscoped.json();
    // A real certificate for the same identity, from another stand-in's CA.
    bundle["verificationMaterial"]["certificate"] = r.other.json()["verificationMaterial"]["certificate"].clone();
    let path = write_attack(dir.path(), "swapped-certificate", &bundle);
    // Against either run's trusted root, the envelope's signature is not the certificate key's.
    assert_rejected(&verify_as(&r.unscoped, &path), "DSSE signature over PAE");
    assert_rejected(&verify_as(&r.other, &path), "DSSE signature over PAE");
}

#[test]
fn a_bundle_checked_against_another_dry_runs_trusted_root_is_rejected_as_an_unknown_log() {
    let r = runs();
    let out = verify(&r.unscoped.bundle, &r.other.trusted_root, &EXACT_IDENTITY, &r.unscoped.tarball);
    assert_rejected(&out, "log entry comes from a transparency log that is not in the trusted root");
}

/// With the other run's log trusted as well, the certificate's CA is still not trusted.
#[test]
fn a_bundle_whose_ca_is_not_in_the_trusted_root_is_rejected_at_the_certificate_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = runs();
    let mut root = read_json(&r.other.trusted_root);
    root["tlogs"] = read_json(&r.unscoped.trusted_root)["tlogs"].clone();
    let root_path = dir.path().join("foreign-ca-trusted_root.json");
    write_json(&root_path, &root);
    let out = verify(&r.unscoped.bundle, &root_path, &EXACT_IDENTITY, &r.unscoped.tarball);
    assert_rejected(&out, "certificate does not chain to a trusted Fulcio CA");
}

#[test]
fn a_tarball_with_one_byte_changed_is_rejected_as_another_artifact() {
    let dir = tempfile::tempdir().unwrap();
    for run in [&runs().unscoped, &runs().scoped] {
        // Byte 9 of a gzip member is the OS field (RFC 1952 §2.3): the archive stays valid and
        // unpacks to the same package.json, but it is not the file that was signed.
        let mut bytes = fs::read(&run.tarball).unwrap();
        bytes[9] ^= 0x01;
        let changed = dir.path().join("one-byte-changed.tgz");
        fs::write(&changed, &bytes).unwrap();
        let out = verify(&run.bundle, &run.trusted_root, &EXACT_IDENTITY, &changed);
        assert_rejected(&out, &format!("the tarball's sha512 differs from the one signed for {}", run.purl()));
    }
}

// ---- Attacks on the transparency log entry. ----

#[test]
fn a_wrong_log_index_is_rejected_by_the_signed_entry_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().unscoped;
    let mut bundle = run.json();
    let e = entry(&mut bundle);
    e["logIndex"] = int64_plus(&e["logIndex"], 1);
    let path = write_attack(dir.path(), "wrong-log-index", &bundle);
    assert_rejected(&verify_as(run, &path), "signed entry timestamp does not verify with the log key");
}

#[test]
fn a_wrong_index_in_the_inclusion_proof_is_rejected_by_the_inclusion_proof() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().unscoped;
    let mut bundle = run.json();
    let proof = &mut entry(&mut bundle)["inclusionProof"];
    // The sibling leaf: same tree, same path length, another root.
    proof["logIndex"] = int64_plus(&proof["logIndex"], -1);
    let path = write_attack(dir.path(), "wrong-proof-index", &bundle);
    assert_rejected(&verify_as(run, &path), "inclusion proof does not match the checkpoint root");
}

#[test]
fn a_changed_integrated_time_is_rejected_by_the_signed_entry_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().scoped;
    let mut bundle = run.json();
    let e = entry(&mut bundle);
    // A minute later: still inside the ten-minute certificate, so only the SET can tell.
    e["integratedTime"] = int64_plus(&e["integratedTime"], 60);
    let path = write_attack(dir.path(), "changed-integrated-time", &bundle);
    assert_rejected(&verify_as(run, &path), "signed entry timestamp does not verify with the log key");
}

#[test]
fn a_truncated_inclusion_proof_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().scoped;
    let mut bundle = run.json();
    let hashes = entry(&mut bundle)["inclusionProof"]["hashes"].as_array_mut().unwrap();
    let needed = hashes.len();
    assert!(needed >= 1, "the entry is not alone in the tree");
    hashes.pop();
    let path = write_attack(dir.path(), "truncated-proof", &bundle);
    assert_rejected(
        &verify_as(run, &path),
        &format!("inclusion proof has {} hashes where the tree needs {needed}", needed - 1),
    );
}

/// A signed note split into its body (with the final newline) and signature lines.
fn split_note(note: &str) -> (String, Vec<String>) {
    let (body, sigs) = note.split_once("\n\n").expect("a signed note");
    (format!("{body}\n"), sigs.lines().map(str::to_owned).collect())
}

/// `— <name> base64(hint ‖ DER ECDSA signature over body)`, signed by `key`.
fn note_line(name: &str, hint: &[u8], key: &p256::ecdsa::SigningKey, body: &str) -> String {
    use p256::ecdsa::signature::Signer as _;
    let signature: p256::ecdsa::Signature = key.sign(body.as_bytes());
    let mut raw = hint.to_vec();
    raw.extend_from_slice(signature.to_der().as_bytes());
    format!("\u{2014} {name} {}", B64.encode(raw))
}

/// A key that is not the log's (fixed, so failures reproduce).
fn attacker_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&Sha256::digest(b"attacker")).unwrap()
}

/// The checkpoint with its root replaced by the root of a forged tree, and the proof made to
/// agree with it (the attacker controls the whole bundle).
fn with_forged_root(bundle: &mut Value) -> (String, String) {
    let proof = &mut entry(bundle)["inclusionProof"];
    let note = proof["checkpoint"]["envelope"].as_str().unwrap().to_owned();
    let (body, sigs) = split_note(&note);
    let forged_root = Sha256::digest(b"a tree holding the attacker's entry");
    let mut lines: Vec<&str> = body.lines().collect();
    let forged_root_b64 = B64.encode(forged_root);
    let old_root = b64(&proof["rootHash"]);
    assert_eq!(B64.decode(lines[2]).unwrap(), old_root, "line 3 is the root");
    lines[2] = &forged_root_b64;
    let forged_body = format!("{}\n", lines.join("\n"));
    proof["rootHash"] = Value::String(forged_root_b64.clone());
    let log_line = sigs.into_iter().find(|l| l.starts_with('\u{2014}')).expect("the log's signature line");
    (forged_body, log_line)
}

#[test]
fn a_forged_checkpoint_signed_by_a_key_that_is_not_the_logs_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().unscoped;
    let mut bundle = run.json();
    let (forged_body, log_line) = with_forged_root(&mut bundle);
    // The attacker claims the log's name and key hint, but signs with its own key.
    let mut parts = log_line.split(' ');
    let (_, name, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let hint = &B64.decode(sig).unwrap()[..4];
    let forged = format!("{forged_body}\n{}\n", note_line(name, hint, &attacker_key(), &forged_body));
    entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(forged);
    let path = write_attack(dir.path(), "forged-checkpoint-wrong-key", &bundle);
    assert_rejected(&verify_as(run, &path), "checkpoint signature from the log does not verify");
}

#[test]
fn a_forged_checkpoint_with_the_logs_signature_removed_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().scoped;
    let mut bundle = run.json();
    let (forged_body, _) = with_forged_root(&mut bundle);
    // Only a "witness" line of the attacker's own name and key remains.
    let attacker = attacker_key();
    let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(attacker.verifying_key()).unwrap();
    let hint = &Sha256::digest(spki.as_bytes())[..4];
    let forged = format!("{forged_body}\n{}\n", note_line("witness.example", hint, &attacker, &forged_body));
    entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(forged);
    let path = write_attack(dir.path(), "forged-checkpoint-log-line-removed", &bundle);
    assert_rejected(&verify_as(run, &path), "checkpoint has no signature from the log");

    // The untouched checkpoint with its log line dropped and nothing else: no signatures at all.
    let mut bundle = run.json();
    let note = entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"].as_str().unwrap().to_owned();
    let (body, _) = split_note(&note);
    entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(format!("{body}\n"));
    let path = write_attack(dir.path(), "checkpoint-log-line-removed", &bundle);
    assert_rejected(&verify_as(run, &path), "checkpoint carries no signatures");
}

// ---- Attacks on the identity policy. ----

#[test]
fn a_wrong_identity_is_rejected() {
    let run = &runs().unscoped;
    let fork = "https://github.com/evil/widgets/.github/workflows/release.yml@refs/tags/v1.2.3";
    let policy = ["--certificate-identity", fork, "--certificate-oidc-issuer", GITHUB_ISSUER];
    let out = verify(&run.bundle, &run.trusted_root, &policy, &run.tarball);
    assert_rejected(&out, "identity (SAN)");
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let run = &runs().scoped;
    let policy = ["--certificate-identity", SAN, "--certificate-oidc-issuer", "https://gitlab.com"];
    let out = verify(&run.bundle, &run.trusted_root, &policy, &run.tarball);
    assert_rejected(&out, "OIDC issuer");
}

#[test]
fn a_wrong_repository_workflow_or_ref_is_rejected() {
    let run = &runs().unscoped;
    for (flag, value, reason) in [
        ("--repository", "evil/widgets", "source repository"),
        ("--repository", "acme/widgets-fork", "source repository"),
        ("--workflow", "publish.yml", "build signer workflow"),
        ("--workflow", ".github/workflows/evil.yml", "build signer workflow"),
        ("--ref", "refs/heads/main", "source ref"),
        ("--ref", "refs/tags/v1.2.4", "source ref"),
    ] {
        // --workflow and --ref narrow a repository; they never stand alone.
        let policy: Vec<&str> = if flag == "--repository" {
            vec!["--certificate-oidc-issuer", GITHUB_ISSUER, flag, value]
        } else {
            vec!["--certificate-oidc-issuer", GITHUB_ISSUER, "--repository", REPOSITORY, flag, value]
        };
        let out = verify(&run.bundle, &run.trusted_root, &policy, &run.tarball);
        assert_rejected(&out, reason);
    }
}

// ---- A certificate that had expired when the signature was made and logged. ----

/// The leaf's notAfter as Unix seconds.
fn not_after(bundle: &Value) -> i64 {
    use der::Decode as _;
    let der = b64(&bundle["verificationMaterial"]["certificate"]["rawBytes"]);
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    i64::try_from(cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs()).unwrap()
}

/// `serve-sigstore --expired-certificates` issues leaves that expired before they are issued.
/// npm-attest's signer refuses to sign with one; sigstore-js's signer signs and logs anyway,
/// and that REAL bundle (good signature, good SET, good inclusion proof) is rejected by our
/// verifier, and by sigstore-js's, because the log's time is after the certificate's notAfter.
#[test]
fn a_certificate_expired_at_signing_time_is_rejected() {
    let server = ServeSigstore::start_with(&["--expired-certificates"]);
    let token = server.token();
    let (san, issuer) = github_identity(&jwt_claims(&token));
    let dir = tempfile::tempdir().unwrap();
    let run = &runs().unscoped;

    // Our client: refuses, and writes nothing.
    let ours = dir.path().join("ours.sigstore.json");
    let out = run_in(
        dir.path(),
        &[
            "attest",
            "--sigstore",
            server.base_url(),
            "--identity-token",
            &token,
            "--output",
            ours.to_str().unwrap(),
            run.tarball.to_str().unwrap(),
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("Fulcio issued a certificate that expired at"), "{err}");
    assert!(!err.contains(&token), "the token leaked");
    assert!(!ours.exists(), "a bundle was written");

    // sigstore-js: signs the same statement with the expired certificate, and logs it.
    let statement = dir.path().join("statement.json");
    let payload = b64(&run.json()["dsseEnvelope"]["payload"]);
    fs::write(&statement, payload).unwrap();
    let bundle = dir.path().join("expired-certificate.sigstore.json");
    sign_with_js(server.base_url(), server.base_url(), &token, &statement, &bundle)
        .unwrap_or_else(|r| panic!("sigstore-js signing: {r}\n{}", server.stderr()));
    let signed = read_json(&bundle);
    let integrated: i64 =
        signed["verificationMaterial"]["tlogEntries"][0]["integratedTime"].as_str().unwrap().parse().unwrap();
    assert!(integrated > not_after(&signed) + 500, "logged {integrated}, certificate expired {}", not_after(&signed));

    let policy = ["--certificate-identity", &san, "--certificate-oidc-issuer", &issuer];
    let out = verify(&bundle, &server.trusted_root(), &policy, &run.tarball);
    assert_rejected(&out, "is outside the certificate's validity");
    assert_rejected(&out, "(log integrated time, log index");

    let root = server.trusted_root();
    let case = VerifyCase {
        bundle: &bundle,
        trusted_root: &root,
        tarball: Some((&run.tarball, run.name, run.version)),
        artifact: None,
        san: &san,
        issuer: &issuer,
    };
    let js = sigstore_js_verify(&case).expect_err("sigstore-js rejects an expired certificate");
    assert_eq!(js.stage, "sigstore", "{js}");
    let py = sigstore_python_verify(&case).expect_err("sigstore-python rejects an expired certificate");
    assert_eq!(py.stage, "sigstore", "{py}");
}
