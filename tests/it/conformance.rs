//! The Sigstore conformance bundle-verification vectors, driven through the built binary's
//! `conformance verify-bundle` exactly as the upstream harness does
//! (tests/data/sigstore-conformance/README.md, "Rules a test driver must apply").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use sha2::Digest as _;

use crate::support::{data, run_in};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Path,
    Digest,
}

/// The argument list for one case in one mode (README rule 1 and 3).
fn args_for(case_dir: &Path, mode: Mode) -> Vec<String> {
    let file = |name: &str| case_dir.join(name);
    let trimmed = |name: &str, default: &str| {
        std::fs::read_to_string(file(name)).map(|s| s.trim().to_owned()).unwrap_or_else(|_| default.to_owned())
    };
    let artifact = if file("artifact").exists() { file("artifact") } else { case_dir.parent().unwrap().join("a.txt") };
    let mut args = vec![
        "conformance".to_owned(),
        "verify-bundle".to_owned(),
        "--bundle".to_owned(),
        file("bundle.sigstore.json").display().to_string(),
    ];
    if file("key.pub").exists() {
        args.extend(["--key".to_owned(), file("key.pub").display().to_string()]);
    } else {
        args.extend([
            "--certificate-identity".to_owned(),
            trimmed("identity", DEFAULT_IDENTITY),
            "--certificate-oidc-issuer".to_owned(),
            trimmed("issuer", DEFAULT_ISSUER),
        ]);
    }
    if file("trusted_root.json").exists() {
        args.extend(["--trusted-root".to_owned(), file("trusted_root.json").display().to_string()]);
    } else {
        // Rule 1: the production root. It is also the binary's default; pass it explicitly so
        // the test pins the copy in tests/data.
        args.extend([
            "--trusted-root".to_owned(),
            data("trust/public-good-production-trusted_root.json").display().to_string(),
        ]);
    }
    args.push(match mode {
        Mode::Path => artifact.display().to_string(),
        Mode::Digest => format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(&artifact).unwrap()))),
    });
    args
}

#[test]
fn all_conformance_cases_pass_in_both_input_modes() {
    run_cases("sigstore-conformance/bundle-verify", 70);
}

/// Vectors upstream retired because clients stop *writing* their form, kept because bundles in
/// that form exist: Rekor v2 `dsse` 0.0.2 entries, written until rekor-tiles deprecated the
/// type (sigstore-conformance 1a8529b, removed in e2cc8e5).
#[test]
fn retired_rekor_v2_dsse_vectors_still_pass() {
    run_cases("sigstore-conformance-retired/bundle-verify", 4);
}

/// Vectors proposed upstream after `a73de49` and not merged there yet (sigstore-conformance
/// commits 3ad39e6, a210733, e492bd9, 8524c2b, ce9801f, ed93fd3, 1bce3f9): statement `_type`
/// checks, a managed-key entry with no signed time, two TSA validity cases, duplicate
/// intermediate names, CVE-2022-36056.
#[test]
fn proposed_upstream_vectors_pass() {
    run_cases("sigstore-conformance-pending/bundle-verify", 7);
}

#[allow(clippy::print_stderr)] // the per-case report, as in a test body
fn run_cases(dir: &str, expected: usize) {
    let root = data(dir);
    let mut cases: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert_eq!(cases.len(), expected, "expected the {expected} vectors of tests/data/README.md in {dir}");

    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expect_ok = !name.ends_with("_fail");
        for mode in [Mode::Path, Mode::Digest] {
            let args = args_for(case, mode);
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run_in(&root, &argv, &[]);
            let ok = out.status.success();
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            // A crash is never an acceptable rejection.
            let crashed = out.status.code().is_none() || out.status.code() == Some(101) || stderr.contains("panicked");
            let pass = ok == expect_ok && !crashed;
            report.push(format!(
                "{} {name} [{mode:?}] {}",
                if pass { "PASS" } else { "FAIL" },
                if ok { "" } else { &stderr }
            ));
            if !pass {
                failures.push(format!(
                    "{name} [{mode:?}]: expected {}, got {stderr}",
                    if expect_ok { "success" } else { "failure" }
                ));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    eprintln!("conformance: {}/{} passed", report.len() - failures.len(), report.len());
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failures.len(),
        report.len(),
        failures.join("\n")
    );
}

/// The embedded default root is the production root: a case without its own root verifies
/// (or is rejected) identically with no `--trusted-root`.
#[test]
fn the_embedded_production_root_is_the_default() {
    let root = data("sigstore-conformance/bundle-verify");
    let case = root.join("happy-path-v0.3");
    let mut args = args_for(&case, Mode::Path);
    let at = args.iter().position(|a| a == "--trusted-root").unwrap();
    let explicit = run_in(&root, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    args.drain(at..at + 2);
    let embedded = run_in(&root, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(explicit.status.code(), embedded.status.code());
    assert_eq!(String::from_utf8_lossy(&explicit.stderr), String::from_utf8_lossy(&embedded.stderr));
    // The staging root does not trust a production bundle.
    let mut staging = args.clone();
    staging.insert(2, "--staging".to_owned());
    let out = run_in(&root, &staging.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(!out.status.success());
}
