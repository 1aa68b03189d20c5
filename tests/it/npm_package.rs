//! The npm distribution (dist/npm): the packages `dist/npm/assemble.js` makes from the binary
//! built here, published to Verdaccio and installed with npm as a user without Rust would, then
//! run with `npx npm-attest`. The launcher refuses an unsupported platform and a tampered binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::interop::Verdaccio;
use crate::support::{bin, data, repo_root};

const VERSION: &str = "0.0.1";

/// The binary built here, stripped when `strip` is available (a smaller package, as a release
/// build would be).
fn release_like_binary(dir: &Path) -> PathBuf {
    let copy = dir.join("npm-attest");
    std::fs::copy(bin(), &copy).unwrap();
    let _ = Command::new("strip").arg(&copy).status();
    copy
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `npx ARGS` in `dir` with the same configuration as `verdaccio.npm(dir)`.
fn npx(verdaccio: &Verdaccio, dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let npm = verdaccio.npm(dir);
    let mut cmd = Command::new("npx");
    cmd.current_dir(dir);
    for (key, value) in npm.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    for key in
        ["GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_REF", "GITHUB_WORKFLOW_REF", "ACTIONS_ID_TOKEN_REQUEST_URL"]
    {
        cmd.env_remove(key);
    }
    cmd.args(args).envs(extra_env.iter().copied());
    cmd.output().unwrap()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
#[test]
fn the_npm_packages_install_from_a_registry_and_run_without_rust() {
    let verdaccio = Verdaccio::start();
    let work = tempfile::tempdir().unwrap();
    let binary = release_like_binary(work.path());
    let out_dir = work.path().join("packages");
    let assembled = Command::new("node")
        .arg(repo_root().join("dist/npm/assemble.js"))
        .args(["--version", VERSION, "--out"])
        .arg(&out_dir)
        .arg(format!("x86_64-unknown-linux-gnu={}", binary.display()))
        .output()
        .unwrap();
    ok(&assembled, "assemble.js");
    // The release requires every platform.
    let partial = Command::new("node")
        .arg(repo_root().join("dist/npm/assemble.js"))
        .args(["--version", VERSION, "--require-all", "--out"])
        .arg(work.path().join("partial"))
        .arg(format!("x86_64-unknown-linux-gnu={}", binary.display()))
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("no binary for aarch64-unknown-linux-gnu"));

    // Platform package first, then the launcher package that depends on it.
    for package in ["linux-x64-gnu", "npm-attest"] {
        let published = verdaccio.npm(&out_dir.join(package)).args(["publish", "--access", "public"]).output().unwrap();
        ok(&published, &format!("npm publish {package}"));
    }

    // A project of a user with Node and no Rust.
    let project = work.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("package.json"), r#"{"name":"consumer","version":"1.0.0","private":true}"#).unwrap();
    let installed =
        verdaccio.npm(&project).args(["install", "--save-dev", &format!("npm-attest@{VERSION}")]).output().unwrap();
    ok(&installed, "npm install npm-attest");
    let binary_installed = project.join("node_modules/@npm-attest/linux-x64-gnu/bin/npm-attest");
    assert!(binary_installed.exists(), "npm installed the platform package");

    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), project.join("sigstore-1.0.0.tgz")).unwrap();
    let attested = npx(&verdaccio, &project, &["npm-attest", "attest", "--dry-run", "sigstore-1.0.0.tgz"], &[]);
    ok(&attested, "npx npm-attest attest --dry-run");
    assert!(String::from_utf8_lossy(&attested.stderr).contains("Dry run: signing as repository local/example"));
    let verify_args = [
        "npm-attest",
        "verify",
        "--bundle",
        "sigstore-1.0.0.sigstore.json",
        "--trusted-root",
        "trusted_root.json",
        "--repository",
        "local/example",
        "sigstore-1.0.0.tgz",
    ];
    let verified = npx(&verdaccio, &project, &verify_args, &[]);
    ok(&verified, "npx npm-attest verify");
    assert!(String::from_utf8_lossy(&verified.stdout).contains("verified: pkg:npm/sigstore@1.0.0"));
    // The exit status comes through the launcher.
    let refused = npx(&verdaccio, &project, &verify_args[..verify_args.len() - 3], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));

    // An unsupported platform, and one this (test) release has no binary for.
    let other = npx(&verdaccio, &project, &["npm-attest", "--version"], &[("NPM_ATTEST_PLATFORM", "freebsd-x64")]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("npm-attest {VERSION} has no prebuilt binary for this platform (freebsd-x64)")),
        "{err}"
    );
    assert!(err.contains("cargo install npm-attest"), "{err}");
    let mac = npx(&verdaccio, &project, &["npm-attest", "--version"], &[("NPM_ATTEST_PLATFORM", "darwin-arm64")]);
    assert!(String::from_utf8_lossy(&mac.stderr).contains("was released without a binary for darwin-arm64"));

    // A binary changed after release is refused, not run.
    let mut bytes = std::fs::read(&binary_installed).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(&binary_installed, bytes).unwrap();
    let tampered = npx(&verdaccio, &project, &["npm-attest", "--version"], &[]);
    let err = String::from_utf8_lossy(&tampered.stderr);
    assert_eq!(tampered.status.code(), Some(3), "{err}");
    assert!(err.contains("refusing to run") && err.contains("its sha512 is not the one npm-attest@"), "{err}");
    assert!(tampered.stdout.is_empty(), "the binary did not run");
}
