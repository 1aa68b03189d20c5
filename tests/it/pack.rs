//! Packing package directories (GitHub issue 12): never into the package, without our secrets,
//! with the manager's real error, and never signing our own outputs.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

use crate::support::{run_in, stderr, stdout};

fn have(tool: &str) -> bool {
    std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A package without a `files` list, so anything left in its directory would be packed.
fn package_without_files_list(root: &Path, scripts: Value) -> std::path::PathBuf {
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let manifest = serde_json::json!({
        "name": "pollution-probe",
        "version": "1.0.0",
        "license": "MIT",
        "scripts": scripts,
        "repository": {"type": "git", "url": "git+https://github.com/npm-attest/npm-attest.git"}
    });
    std::fs::write(pkg.join("package.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 1;\n").unwrap();
    pkg
}

/// Path → contents of every file in a `.tgz`.
fn entries(tarball: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(tarball).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(path, bytes);
    }
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn attesting_twice_in_a_package_directory_packs_the_same_files() {
    if !have("npm") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let pkg = package_without_files_list(work.path(), serde_json::json!({}));
    let mut runs = Vec::new();
    for _ in 0..2 {
        let out = run_in(&pkg, &["attest", "--dry-run", ".", "--json"], &[("GITHUB_ACTIONS", "true")]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        let tarball = pkg.join(".npm-attest/pollution-probe-1.0.0.tgz");
        runs.push(entries(&tarball));
        assert!(pkg.join(".npm-attest/pollution-probe-1.0.0.sigstore.json").is_file());
        assert!(pkg.join(".npm-attest/trusted_root.json").is_file());
    }
    assert_eq!(runs[0], runs[1], "the second tarball differs from the first");
    let files: Vec<&String> = runs[0].keys().collect();
    assert_eq!(files, vec!["package/index.js", "package/package.json"]);
    // Nothing of ours next to the package's own files but the ignored output directory.
    assert_eq!(names_in(&pkg), vec![".npm-attest", "index.js", "package.json"]);
}

#[test]
fn a_previous_bundle_in_the_package_is_refused_with_the_fix() {
    if !have("npm") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let pkg = package_without_files_list(work.path(), serde_json::json!({}));
    std::fs::write(pkg.join("pollution-probe-0.9.0.sigstore.json"), "{}").unwrap();
    std::fs::write(pkg.join("trusted_root.json"), "{}").unwrap();
    let out_dir = work.path().join("out");
    let out = run_in(
        work.path(),
        &["attest", "--dry-run", pkg.to_str().unwrap(), "--output-dir", out_dir.to_str().unwrap()],
        &[("GITHUB_ACTIONS", "true")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("npm-attest's own outputs pollution-probe-0.9.0.sigstore.json, trusted_root.json"), "{err}");
    assert!(err.contains("delete those files"), "{err}");
    assert!(names_in(&out_dir).is_empty(), "{:?}", names_in(&out_dir));
}

#[test]
fn a_prepack_script_sees_none_of_the_secrets() {
    if !have("npm") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("env.json");
    let pkg = package_without_files_list(
        work.path(),
        serde_json::json!({
            "prepack": "node -e \"require('fs').writeFileSync(process.env.DUMP_TO, JSON.stringify(process.env))\""
        }),
    );
    let secrets = [
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "secret-request-token-1"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/secret-request-url-2"),
        ("GITHUB_TOKEN", "secret-github-token-3"),
        ("NODE_AUTH_TOKEN", "secret-node-auth-4"),
        ("NPM_TOKEN", "secret-npm-token-5"),
        ("NPM_ID_TOKEN", "secret-npm-id-6"),
        ("npm_config__authToken", "secret-authtoken-7"),
        ("npm_config_//registry.example.com/:_authToken", "secret-registry-8"),
        ("YARN_NPM_AUTH_TOKEN", "secret-yarn-9"),
    ];
    let mut envs: Vec<(&str, &str)> = secrets.to_vec();
    let dump_text = dump.to_str().unwrap().to_owned();
    envs.extend([("GITHUB_ACTIONS", "true"), ("DUMP_TO", dump_text.as_str()), ("VISIBLE_MARKER", "kept-42")]);
    let out_dir = work.path().join("out");
    // Signing itself may fail here (the request URL goes nowhere): the pack ran first.
    let out = run_in(work.path(), &["attest", pkg.to_str().unwrap(), "--output-dir", out_dir.to_str().unwrap()], &envs);
    let seen = std::fs::read_to_string(&dump).unwrap_or_else(|_| panic!("prepack did not run: {}", stderr(&out)));
    assert!(seen.contains("kept-42"), "ordinary variables are passed on");
    for (name, value) in secrets {
        assert!(!seen.contains(value), "{name} reached the prepack script");
    }
}

#[test]
fn a_failed_pack_shows_the_managers_error_not_its_log_footer() {
    if !have("npm") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("broken");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("package.json"), "{\"name\": \"broken\", \"version\": ").unwrap();
    let out = run_in(work.path(), &["attest", "--dry-run", pkg.to_str().unwrap()], &[("GITHUB_ACTIONS", "true")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`npm pack` failed"), "{err}");
    assert!(err.contains("EJSONPARSE"), "{err}");
    assert!(!err.contains("complete log"), "{err}");
}
