//! Packing with the project's own package manager (GitHub issue 12): real pnpm, Yarn 4 and Bun
//! (installed by tests/setup-interop) pack a fixture monorepo using `workspace:*`,
//! `workspace:^`, `catalog:` and `publishConfig`; the tarball npm-attest signs must be
//! byte-identical to the manager's own `pack` output, and the statement's sha512 its hash.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha512};

use crate::monorepo_e2e::{pm_path, write, write_json};
use crate::support::{run_in, stderr, stdout};

/// A monorepo for `manager`: `@mono/app` depends on `@mono/core` (`workspace:*`) and
/// `@mono/util` (`workspace:^`) and has a `catalog:` peer; `@mono/core` has a
/// `publishConfig.main`; `packages/ignored` is excluded with a `!` pattern.
fn monorepo(root: &Path, manager: &str) {
    let mut manifest = json!({"name": "mono", "version": "0.0.0", "private": true});
    match manager {
        "pnpm" => {
            manifest["packageManager"] = json!("pnpm@10.34.9");
            write(
                &root.join("pnpm-workspace.yaml"),
                "packages:\n  - 'packages/*'\n  - '!packages/ignored'\ncatalog:\n  react: ^18.2.0\nautoInstallPeers: false\n",
            );
        }
        "yarn" => {
            manifest["packageManager"] = json!("yarn@4.18.1");
            manifest["workspaces"] = json!(["packages/*", "!packages/ignored"]);
            write(
                &root.join(".yarnrc.yml"),
                "nodeLinker: node-modules\nenableTelemetry: false\ncatalog:\n  react: ^18.2.0\n",
            );
            write(&root.join("yarn.lock"), "");
        }
        _ => {
            manifest["workspaces"] =
                json!({"packages": ["packages/*", "!packages/ignored"], "catalog": {"react": "^18.2.0"}});
            write(&root.join("bunfig.toml"), "[install]\npeer = false\n");
        }
    }
    write_json(&root.join("package.json"), &manifest);
    let repo = json!({"type": "git", "url": "git+https://github.com/npm-attest/npm-attest.git"});
    write_json(
        &root.join("packages/core/package.json"),
        &json!({"name": "@mono/core", "version": "1.2.3", "license": "MIT", "main": "index.js",
                "repository": repo, "publishConfig": {"main": "dist/index.js"}}),
    );
    write(&root.join("packages/core/index.js"), "module.exports = 'src';\n");
    write(&root.join("packages/core/dist/index.js"), "module.exports = 'dist';\n");
    write_json(
        &root.join("packages/util/package.json"),
        &json!({"name": "@mono/util", "version": "0.3.0", "license": "MIT", "repository": repo}),
    );
    write(&root.join("packages/util/index.js"), "module.exports = 'util';\n");
    write_json(
        &root.join("packages/app/package.json"),
        &json!({"name": "@mono/app", "version": "2.0.0", "license": "MIT", "repository": repo,
                "dependencies": {"@mono/core": "workspace:*", "@mono/util": "workspace:^"},
                "peerDependencies": {"react": "catalog:"}}),
    );
    write(&root.join("packages/app/index.js"), "module.exports = 'app';\n");
    write_json(&root.join("packages/ignored/package.json"), &json!({"name": "@mono/ignored", "version": "9.9.9"}));
}

fn run_tool(dir: &Path, path: &str, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("YARN_ENABLE_TELEMETRY", "0")
        // The fixture has no lockfile yet: under CI=true Yarn and pnpm would refuse to write one.
        .env("YARN_ENABLE_IMMUTABLE_INSTALLS", "false")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The manager's own pack of `pkg`, as bytes.
fn own_pack(manager: &str, pkg: &Path, path: &str, dest: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dest).unwrap();
    let d = dest.to_str().unwrap();
    match manager {
        "pnpm" => run_tool(pkg, path, "pnpm", &["pack", "--pack-destination", d]),
        "yarn" => run_tool(pkg, path, "yarn", &["pack", "--out", &format!("{d}/package.tgz")]),
        _ => run_tool(pkg, path, "bun", &["pm", "pack", "--destination", d, "--quiet"]),
    }
    let tarball =
        std::fs::read_dir(dest).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "tgz"));
    std::fs::read(tarball.expect("the manager wrote a tarball")).unwrap()
}

fn packed_manifest(tarball: &[u8]) -> Value {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == "package/package.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return serde_json::from_str(&text).unwrap();
        }
    }
    panic!("no package.json")
}

fn signs_what_the_manager_packs(manager: &str) {
    let path = pm_path();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mono");
    monorepo(&root, manager);
    match manager {
        "pnpm" => run_tool(&root, &path, "pnpm", &["install", "--offline", "--no-frozen-lockfile"]),
        "yarn" => run_tool(&root, &path, "yarn", &["install"]),
        _ => run_tool(&root, &path, "bun", &["install"]),
    }
    for (pkg, name, version) in [("app", "@mono/app", "2.0.0"), ("core", "@mono/core", "1.2.3")] {
        let dir = root.join("packages").join(pkg);
        let theirs = own_pack(manager, &dir, &path, &work.path().join(format!("theirs-{pkg}")));
        let ours_dir = work.path().join(format!("ours-{pkg}"));
        // Run from the monorepo root, detection only (packageManager field or bun.lock).
        let out = run_in(
            &root,
            &["attest", "--dry-run", dir.to_str().unwrap(), "--output-dir", ours_dir.to_str().unwrap(), "--json"],
            &[("GITHUB_ACTIONS", "true"), ("PATH", path.as_str())],
        );
        assert!(out.status.success(), "{manager} {pkg}: {}\n{}", stdout(&out), stderr(&out));
        assert!(stderr(&out).contains(&format!("with `{manager} pack`")), "{}", stderr(&out));
        let result: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
        let stem = format!("{}-{version}", name.trim_start_matches('@').replace('/', "-"));
        let ours = std::fs::read(ours_dir.join(format!("{stem}.tgz"))).unwrap();
        // Byte for byte (pnpm 10's order of rewritten workspace dependencies varies between
        // runs, pnpm/pnpm#10167: that alone is tolerated, see `assert_same_tarball`).
        crate::monorepo_e2e::assert_same_tarball(
            manager,
            &theirs,
            &ours,
            &format!("{manager} {pkg}: the signed tarball is not the one `{manager} pack` writes"),
        );
        assert_eq!(result["subject"]["sha512"], hex::encode(Sha512::digest(&ours)).as_str());
        assert_eq!(result["subject"]["name"], format!("pkg:npm/{}@{version}", name.replace('@', "%40")).as_str());

        let manifest = packed_manifest(&ours);
        if pkg == "app" {
            assert_eq!(manifest["dependencies"], json!({"@mono/core": "1.2.3", "@mono/util": "^0.3.0"}), "{manager}");
            assert!(!manifest["peerDependencies"]["react"].as_str().unwrap().starts_with("catalog:"), "{manager}");
        } else if manager != "bun" {
            // Bun applies no publishConfig field overrides (package-managers.md §2.4).
            assert_eq!(manifest["main"], "dist/index.js", "{manager}: publishConfig.main applied");
        }
    }
}

#[test]
fn pnpm_workspace_packages_are_signed_as_pnpm_packs_them() {
    signs_what_the_manager_packs("pnpm");
}

#[test]
fn yarn_workspace_packages_are_signed_as_yarn_packs_them() {
    signs_what_the_manager_packs("yarn");
}

#[test]
fn bun_workspace_packages_are_signed_as_bun_packs_them() {
    signs_what_the_manager_packs("bun");
}

#[test]
fn pnpm_workspace_yaml_lists_the_workspaces_with_exclusions() {
    let path = pm_path();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mono");
    monorepo(&root, "pnpm");
    run_tool(&root, &path, "pnpm", &["install", "--offline", "--no-frozen-lockfile"]);
    let out_dir = work.path().join("out");
    let out = run_in(
        &root,
        &["attest", "--dry-run", "--workspaces", ".", "--output-dir", out_dir.to_str().unwrap()],
        &[("GITHUB_ACTIONS", "true"), ("PATH", path.as_str())],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let so = stdout(&out);
    for label in ["@mono/app@2.0.0", "@mono/core@1.2.3", "@mono/util@0.3.0"] {
        assert!(so.contains(&format!("attested  {label}")), "{so}");
    }
    assert!(!so.contains("ignored"), "{so}");
    assert!(so.contains("3 attested, 0 failed"), "{so}");
}

#[test]
fn npm_packing_a_pnpm_workspace_package_is_refused_before_signing() {
    let path = pm_path();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mono");
    monorepo(&root, "pnpm");
    let app = root.join("packages/app");
    let out = run_in(
        work.path(),
        &["attest", "--dry-run", "--package-manager", "npm", app.to_str().unwrap(), "--output-dir", "out"],
        &[("GITHUB_ACTIONS", "true"), ("PATH", path.as_str())],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("dependencies.@mono/core = \"workspace:*\""), "{err}");
    assert!(err.contains("--package-manager pnpm"), "{err}");
}
