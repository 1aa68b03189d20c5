//! Batches: `attest` over several packages (tarballs, directories, `--workspaces`) with one
//! certificate, partial failures, and `verify` over many bundles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use npm_attest::core::wire::encoding::{b64_decode, b64_encode};
use serde_json::Value;

use crate::support::{data, run_in, stderr, stdout};

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The statement facts the stand-in's token carries for these tests.
const ENV: &[(&str, &str)] = &[
    ("GITHUB_REPOSITORY", "octo/mono"),
    ("GITHUB_WORKFLOW_REF", "octo/mono/.github/workflows/release.yml@refs/tags/v1.0.0"),
    ("GITHUB_REF", "refs/tags/v1.0.0"),
];

fn npm_available() -> bool {
    std::process::Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn copy_tarball(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(data(&format!("npm-provenance/tarballs/{name}")), &path).unwrap();
    path
}

fn package_dir(parent: &Path, rel: &str, manifest: &str) -> PathBuf {
    let dir = parent.join(rel);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), manifest).unwrap();
    std::fs::write(dir.join("index.js"), "module.exports = 1\n").unwrap();
    dir
}

/// The one JSON line on stdout.
fn json_result(out: &Output) -> Value {
    let text = stdout(out);
    let line = text.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON: {text}{}", stderr(out)));
    serde_json::from_str(line).unwrap()
}

fn leaf_of(bundle_path: &Path) -> String {
    let bundle: Value = serde_json::from_slice(&std::fs::read(bundle_path).unwrap()).unwrap();
    bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap().to_owned()
}

fn verify_args(root: &str) -> Vec<&str> {
    vec![
        "verify",
        "--trusted-root",
        root,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        "octo/mono",
        "--workflow",
        ".github/workflows/release.yml",
    ]
}

#[test]
fn a_batch_of_tarballs_and_directories_signs_with_one_certificate_and_every_bundle_verifies() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    copy_tarball(dir, "sigstore-1.0.0.tgz");
    copy_tarball(dir, "playwright-cli-0.1.1.tgz");
    let mut args = vec!["attest", "--dry-run", "--json", "--output-dir", "out", "--concurrency", "2"];
    args.extend(["sigstore-1.0.0.tgz", "playwright-cli-0.1.1.tgz"]);
    let with_dirs = npm_available();
    if with_dirs {
        package_dir(dir, "src/plain", r#"{"name":"plain-pkg","version":"1.2.3"}"#);
        package_dir(dir, "src/scoped", r#"{"name":"@octo/scoped","version":"0.1.0"}"#);
        args.extend(["src/plain", "src/scoped"]);
    }
    let out = run_in(dir, &args, ENV);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let result = json_result(&out);
    let expected = if with_dirs { 4 } else { 2 };
    assert_eq!(result["succeeded"], expected);
    assert_eq!(result["failed"], 0);
    let packages = result["packages"].as_array().unwrap();
    // Results come back in the order the packages were given.
    let names: Vec<&str> = packages.iter().map(|p| p["package"]["name"].as_str().unwrap()).collect();
    let mut want = vec!["sigstore", "@playwright/cli"];
    if with_dirs {
        want.extend(["plain-pkg", "@octo/scoped"]);
    }
    assert_eq!(names, want);

    // One certificate (one key, one Fulcio round trip) for the whole batch; distinct log entries.
    let leaves: BTreeSet<String> = packages.iter().map(|p| leaf_of(&dir.join(p["bundle"].as_str().unwrap()))).collect();
    assert_eq!(leaves.len(), 1, "the batch used several certificates");
    let indexes: BTreeSet<i64> = packages.iter().map(|p| p["logIndex"].as_i64().unwrap()).collect();
    assert_eq!(indexes.len(), packages.len());
    assert_eq!(packages[0]["trustedRoot"], "out/trusted_root.json");
    if with_dirs {
        assert_eq!(packages[3]["tarball"], "out/octo-scoped-0.1.0.tgz");
        assert_eq!(packages[3]["subject"]["name"], "pkg:npm/%40octo/scoped@0.1.0");
    }

    // Every bundle verifies for its own tarball, all in one multi-bundle verify run.
    let mut args = verify_args("out/trusted_root.json");
    args.push("--json");
    let pairs: Vec<(String, String)> = packages
        .iter()
        .map(|p| (p["bundle"].as_str().unwrap().to_owned(), p["tarball"].as_str().unwrap().to_owned()))
        .collect();
    for (bundle, _) in &pairs {
        args.extend(["--bundle", bundle.as_str()]);
    }
    for (_, tarball) in &pairs {
        args.push(tarball.as_str());
    }
    let verified = run_in(dir, &args, &[]);
    assert!(verified.status.success(), "{}{}", stdout(&verified), stderr(&verified));
    let report = json_result(&verified);
    assert_eq!(report["verified"], expected);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["bundles"][1]["subject"], "pkg:npm/%40playwright/cli@0.1.1");

    // Swapping two subjects is caught: each bundle is bound to its own tarball.
    let mut swapped = verify_args("out/trusted_root.json");
    swapped.extend(["--bundle", pairs[0].0.as_str(), "--bundle", pairs[1].0.as_str()]);
    swapped.extend([pairs[1].1.as_str(), pairs[0].1.as_str()]);
    let refused = run_in(dir, &swapped, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}{}", stdout(&refused), stderr(&refused));
    assert!(stdout(&refused).contains("0 verified, 2 failed"), "{}", stdout(&refused));
}

#[test]
fn one_bad_package_fails_alone_and_the_batch_exits_5_naming_it() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    copy_tarball(dir, "sigstore-1.0.0.tgz");
    copy_tarball(dir, "tuf-js-1.0.0.tgz");
    // A truncated upload: the gzip stream ends early.
    let bytes = std::fs::read(data("npm-provenance/tarballs/sigstore-2.0.0.tgz")).unwrap();
    std::fs::write(dir.join("truncated-upload.tgz"), &bytes[..bytes.len() / 2]).unwrap();
    let out = run_in(
        dir,
        &["attest", "--dry-run", "sigstore-1.0.0.tgz", "truncated-upload.tgz", "tuf-js-1.0.0.tgz", "--json"],
        ENV,
    );
    assert_eq!(out.status.code(), Some(5), "{}{}", stdout(&out), stderr(&out));
    let result = json_result(&out);
    assert_eq!(result["succeeded"], 2);
    assert_eq!(result["failed"], 1);
    let bad = &result["packages"][1];
    assert_eq!(bad["package"], "truncated-upload.tgz");
    assert!(bad["error"].as_str().unwrap().contains("truncated"), "{bad}");
    assert!(stderr(&out).contains("1 of 3 packages failed: truncated-upload.tgz"), "{}", stderr(&out));
    assert!(dir.join("sigstore-1.0.0.sigstore.json").is_file());
    assert!(dir.join("tuf-js-1.0.0.sigstore.json").is_file());
    assert!(!dir.join("truncated-upload.sigstore.json").exists());

    // Without --json: a line per package and a summary.
    let text = run_in(dir, &["attest", "--dry-run", "truncated-upload.tgz", "tuf-js-1.0.0.tgz"], ENV);
    assert_eq!(text.status.code(), Some(5));
    let lines = stdout(&text);
    assert!(lines.contains("failed    truncated-upload.tgz: "), "{lines}");
    assert!(lines.contains("attested  tuf-js@1.0.0  tuf-js-1.0.0.sigstore.json"), "{lines}");
    assert!(lines.contains("1 attested, 1 failed"), "{lines}");

    // Every package bad: the common exit code of the failures (bad input, 2).
    let all_bad = run_in(dir, &["attest", "--dry-run", "truncated-upload.tgz", "truncated-upload.tgz"], ENV);
    assert_eq!(all_bad.status.code(), Some(2), "{}", stderr(&all_bad));
}

#[test]
fn output_names_one_bundle_and_is_refused_for_several_packages() {
    let work = tempfile::tempdir().unwrap();
    copy_tarball(work.path(), "sigstore-1.0.0.tgz");
    copy_tarball(work.path(), "tuf-js-1.0.0.tgz");
    let out =
        run_in(work.path(), &["attest", "--dry-run", "-o", "x.json", "sigstore-1.0.0.tgz", "tuf-js-1.0.0.tgz"], ENV);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--output-dir"), "{}", stderr(&out));
    assert!(!work.path().join("x.json").exists());
}

#[test]
fn workspaces_pick_the_listed_public_packages() {
    if !npm_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mono");
    package_dir(
        &root,
        "",
        r#"{"name":"mono","version":"0.0.0","private":true,"workspaces":{"packages":["packages/*","libs/**","!packages/skipped"]}}"#,
    );
    package_dir(&root, "packages/alpha", r#"{"name":"alpha","version":"1.0.0"}"#);
    package_dir(&root, "packages/beta", r#"{"name":"@mono/beta","version":"2.0.0"}"#);
    package_dir(&root, "packages/internal", r#"{"name":"internal","version":"1.0.0","private":true}"#);
    package_dir(&root, "packages/skipped", r#"{"name":"skipped","version":"1.0.0"}"#);
    package_dir(&root, "libs/deep/gamma", r#"{"name":"gamma","version":"3.0.0"}"#);
    package_dir(&root, "tools/unlisted", r#"{"name":"unlisted","version":"1.0.0"}"#);
    package_dir(&root, "packages/alpha/node_modules/dep", r#"{"name":"dep","version":"1.0.0"}"#);
    std::fs::create_dir_all(root.join("packages/not-a-package")).unwrap();

    let out =
        run_in(work.path(), &["attest", "--dry-run", "--workspaces", "mono", "--output-dir", "out", "--json"], ENV);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let result = json_result(&out);
    let names: BTreeSet<&str> =
        result["packages"].as_array().unwrap().iter().map(|p| p["package"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["alpha", "@mono/beta", "gamma"]));
    assert!(stderr(&out).contains("Skipping workspace"), "{}", stderr(&out));
    assert!(work.path().join("out/mono-beta-2.0.0.sigstore.json").is_file());

    // A root without workspaces is a bad input naming the fix.
    let none = run_in(work.path(), &["attest", "--dry-run", "--workspaces", "mono/packages/alpha"], ENV);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("workspaces"), "{}", stderr(&none));
}

#[test]
fn a_bundle_directory_verifies_per_package_and_one_tampered_bundle_fails_the_run() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    for name in ["sigstore-1.0.0.tgz", "sigstore-2.0.0.tgz", "tuf-js-1.0.0.tgz", "sigstore-2.1.0.tgz"] {
        copy_tarball(dir, name);
    }
    let attest = run_in(
        dir,
        &[
            "attest",
            "--dry-run",
            "--output-dir",
            "out",
            "sigstore-1.0.0.tgz",
            "sigstore-2.0.0.tgz",
            "tuf-js-1.0.0.tgz",
            "sigstore-2.1.0.tgz",
        ],
        ENV,
    );
    assert!(attest.status.success(), "{}", stderr(&attest));
    for name in ["sigstore-1.0.0", "sigstore-2.0.0", "tuf-js-1.0.0"] {
        std::fs::rename(dir.join(format!("{name}.tgz")), dir.join(format!("out/{name}.tgz"))).unwrap();
    }
    // sigstore-2.1.0.tgz stays outside: its bundle has no tarball in the directory.
    let mut args = verify_args("out/trusted_root.json");
    args.extend(["--bundle", "out", "--json"]);
    let partial = run_in(dir, &args, &[]);
    assert_eq!(partial.status.code(), Some(2), "{}{}", stdout(&partial), stderr(&partial));
    let report = json_result(&partial);
    assert_eq!(report["verified"], 3);
    assert!(report["bundles"][2]["error"].as_str().unwrap().contains("no tarball"), "{report}");
    std::fs::rename(dir.join("sigstore-2.1.0.tgz"), dir.join("out/sigstore-2.1.0.tgz")).unwrap();

    let mut text_args = verify_args("out/trusted_root.json");
    text_args.extend(["--bundle", "out"]);
    let ok = run_in(dir, &text_args, &[]);
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    let table = stdout(&ok);
    assert_eq!(table.lines().filter(|l| l.starts_with("verified  pkg:npm/")).count(), 4, "{table}");
    assert!(table.contains("4 verified, 0 failed"), "{table}");

    // The attack: the statement inside one bundle is rewritten to name another git ref.
    let target = dir.join("out/sigstore-2.0.0.sigstore.json");
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    let payload = b64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let mut statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"] = "refs/heads/evil".into();
    bundle["dsseEnvelope"]["payload"] = b64_encode(serde_json::to_vec(&statement).unwrap()).into();
    std::fs::write(&target, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();

    let bad = run_in(dir, &text_args, &[]);
    assert_eq!(bad.status.code(), Some(1), "{}{}", stdout(&bad), stderr(&bad));
    let table = stdout(&bad);
    assert!(table.contains("3 verified, 1 failed"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("FAILED") && l.contains("sigstore-2.0.0.sigstore.json")), "{table}");
    assert!(stderr(&bad).contains("sigstore-2.0.0.sigstore.json"), "{}", stderr(&bad));
}

#[test]
fn every_bundle_of_a_batch_passes_sigstore_js_and_sigstore_python() {
    use crate::interop::{sigstore_js_verify, sigstore_python_verify, VerifyCase};

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    copy_tarball(dir, "sigstore-2.1.0.tgz");
    copy_tarball(dir, "playwright-cli-0.1.1.tgz");
    let out = run_in(
        dir,
        &["attest", "--dry-run", "--json", "--output-dir", "out", "sigstore-2.1.0.tgz", "playwright-cli-0.1.1.tgz"],
        ENV,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let result = json_result(&out);
    let root = dir.join("out/trusted_root.json");
    for package in result["packages"].as_array().unwrap() {
        let bundle = dir.join(package["bundle"].as_str().unwrap());
        let tarball = dir.join(package["tarball"].as_str().unwrap());
        let case = VerifyCase {
            bundle: &bundle,
            trusted_root: &root,
            tarball: Some((
                &tarball,
                package["package"]["name"].as_str().unwrap(),
                package["package"]["version"].as_str().unwrap(),
            )),
            artifact: None,
            san: "https://github.com/octo/mono/.github/workflows/release.yml@refs/tags/v1.0.0",
            issuer: GITHUB_ISSUER,
        };
        sigstore_js_verify(&case).unwrap_or_else(|e| panic!("sigstore-js: {}: {e}", bundle.display()));
        sigstore_python_verify(&case).unwrap_or_else(|e| panic!("sigstore-python: {}: {e}", bundle.display()));
    }
}
