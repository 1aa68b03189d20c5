//! What a new user meets in the first ten minutes (issue 13): help with examples, a dry run that
//! says whom it signs as and where that comes from, a verify that says what is missing, progress
//! during a slow `npm pack`, and output files other steps can read.

use std::path::Path;

use crate::support::{bin, data, run_in, stderr, stdout};

fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(bin()).args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_help_ends_with_two_to_four_examples() {
    for command in [&[][..], &["attest"], &["publish"], &["verify"], &["serve-sigstore"], &["conformance"]] {
        let text = help(command);
        let (_, examples) = text.rsplit_once("\nExamples:\n").unwrap_or_else(|| panic!("{command:?}: {text}"));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!((2..=4).contains(&lines.len()), "{command:?}: {lines:?}");
        assert!(lines.iter().all(|l| l.contains("npm-attest")), "{command:?}: {lines:?}");
    }
    assert!(help(&["verify"]).contains("A policy is required"), "verify --help says a policy is required");
}

#[test]
fn verify_names_the_one_missing_flag() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = data("npm-provenance/sigstore-1.0.0-provenance.sigstore.json");
    let bundle = bundle.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&[], "refusing to verify without an identity policy that pins who signed: missing --repository"),
        (
            &["--certificate-identity", "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"],
            "missing --certificate-oidc-issuer",
        ),
        (
            &["--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"],
            "pins who signed: missing --repository (--certificate-oidc-issuer",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["verify", "--bundle", bundle];
        args.extend_from_slice(flags);
        args.push("sha256:00");
        let out = run_in(dir.path(), &args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
        assert!(!err.contains("--workflow, --ref"), "not every flag there is: {err}");
    }
    let out = run_in(dir.path(), &["verify", "--bundle", "a.json", "--bundle", "b.json", "x"], &[]);
    assert!(stderr(&out).contains("2 bundles but 1 subject "), "{}", stderr(&out));
}

#[test]
fn a_dry_run_says_whom_it_signs_as_and_its_bundle_says_how_to_verify_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), dir.path().join("sigstore-1.0.0.tgz")).unwrap();
    let out = run_in(dir.path(), &["attest", "--dry-run", "sigstore-1.0.0.tgz"], &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(89.1 KiB, sha512 "), "human-readable size: {err}");
    assert!(
        err.contains("Dry run: signing as repository local/example, ref refs/heads/main, workflow .github/workflows/release.yml, issuer https://token.actions.githubusercontent.com (the dry run's defaults; set GITHUB_REPOSITORY, GITHUB_REF, GITHUB_WORKFLOW_REF to sign as another)"),
        "{err}"
    );
    assert!(err.contains("Trusted root: trusted_root.json (the dry run's stand-in"), "{err}");
    assert!(err.contains("Verify it with: npm-attest verify --bundle sigstore-1.0.0.sigstore.json --trusted-root trusted_root.json --repository local/example sigstore-1.0.0.tgz"), "{err}");
    assert!(!err.contains("published to transparency log"), "{err}");
    #[cfg(unix)]
    for file in ["sigstore-1.0.0.sigstore.json", "trusted_root.json"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{file} is readable by other steps and users");
    }

    // The printed command works as printed; without the trusted root the error says why.
    let verify = ["verify", "--bundle", "sigstore-1.0.0.sigstore.json", "--repository", "local/example"];
    let out = run_in(
        dir.path(),
        &[&verify[..], &["--trusted-root", "trusted_root.json", "sigstore-1.0.0.tgz"]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_in(dir.path(), &[&verify[..], &["sigstore-1.0.0.tgz"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(hint: this bundle was made by a dry run; pass --trusted-root PATH"),
        "{}",
        stderr(&out)
    );

    // The variables that are set are named as the source.
    let out = run_in(
        dir.path(),
        &["attest", "--dry-run", "sigstore-1.0.0.tgz"],
        &[("GITHUB_REPOSITORY", "octo/hello"), ("GITHUB_REF", "refs/tags/v1.0.0")],
    );
    assert!(
        stderr(&out).contains("signing as repository octo/hello, ref refs/tags/v1.0.0, workflow .github/workflows/release.yml, issuer https://token.actions.githubusercontent.com (GITHUB_REPOSITORY, GITHUB_REF from the environment, the rest defaults; set GITHUB_WORKFLOW_REF too to change them)"),
        "{}",
        stderr(&out)
    );
}

/// A package whose `prepack` takes `seconds`.
fn slow_package(dir: &Path, seconds: f64) {
    let pkg = dir.join("slow");
    std::fs::create_dir(&pkg).unwrap();
    let manifest = serde_json::json!({
        "name": "slow-pack", "version": "1.0.0", "files": ["index.js"],
        "scripts": {"prepack": format!("node -e \"setTimeout(() => {{}}, {})\"", (seconds * 1000.0) as u64)},
    });
    std::fs::write(pkg.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 1\n").unwrap();
}

#[test]
fn a_slow_npm_pack_shows_progress_in_ci_logs_and_nothing_when_redirected() {
    let dir = tempfile::tempdir().unwrap();
    slow_package(dir.path(), 2.6);
    let home = dir.path().to_str().unwrap();
    let ci = run_in(dir.path(), &["attest", "--dry-run", "slow"], &[("CI", "true"), ("HOME", home)]);
    assert!(ci.status.success(), "{}", stderr(&ci));
    let err = stderr(&ci);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("still packing slow with `npm pack` (")).collect();
    assert_eq!(lines.len(), 1, "one plain line after 2 s: {err}");
    assert!(!err.contains('\r'), "no in-place redraws in a log: {err:?}");

    std::fs::remove_file(dir.path().join("slow-pack-1.0.0.tgz")).unwrap();
    let quiet = run_in(dir.path(), &["attest", "--dry-run", "--quiet", "slow"], &[("CI", "true"), ("HOME", home)]);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(!stderr(&quiet).contains("packing"), "{}", stderr(&quiet));
    assert!(stdout(&quiet).is_empty());
}
