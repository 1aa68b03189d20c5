//! `verify --registry --lockfile` on a lockfile of real shape (304 entries: registry
//! tarballs with and without provenance, a git dependency, a `file:` tarball, a workspace
//! link, a bundled dependency) against the registry stand-in, with one attack per rule:
//! a poisoned `resolved`, a swapped `integrity`, a provenance downgrade (missing, another
//! repository, another workflow), provenance from a repository the package does not declare.

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::policy::{forge, purl, statement, tarball, Identity, SLSA_V1};
use crate::registry::{RegistryConfig, RegistryStandin};
use crate::support::{run_in, stderr, stdout};

fn integrity(bytes: &[u8]) -> String {
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes)))
}

struct Tree {
    registry: RegistryStandin,
    packages: Map<String, Value>,
}

impl Tree {
    fn new() -> Self {
        let mut packages = Map::new();
        packages.insert("".into(), json!({"name": "app", "version": "1.0.0"}));
        Self { registry: RegistryStandin::start(RegistryConfig::default()), packages }
    }

    /// Publishes `name@version` (signed as `signer` when given) declaring `repository`.
    fn publish(&self, name: &str, version: &str, repository: &str, signer: Option<&Identity>) -> Vec<u8> {
        let tgz = tarball("package", name, version);
        let bundle = signer.map(|id| forge().sign(id, &statement(&purl(name, version), &tgz, SLSA_V1)));
        self.registry.seed_with_repository(name, version, tgz.clone(), bundle, Some(repository));
        tgz
    }

    /// A lockfile entry for `name@version` as npm writes it.
    fn lock(&mut self, path: &str, name: &str, version: &str, tgz: &[u8]) {
        let file = name.rsplit('/').next().unwrap();
        self.packages.insert(
            path.into(),
            json!({
                "version": version,
                "resolved": format!("{}/{name}/-/{file}-{version}.tgz", self.registry.server.url),
                "integrity": integrity(tgz),
            }),
        );
    }

    fn write(&self, dir: &Path) {
        let lock = json!({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": self.packages});
        std::fs::write(dir.join("package-lock.json"), serde_json::to_vec_pretty(&lock).unwrap()).unwrap();
    }

    fn verify(&self, dir: &Path, extra: &[&str]) -> Output {
        let root = forge().trusted_root.display().to_string();
        let url = self.registry.url();
        let mut args = vec![
            "verify",
            "--registry",
            url.as_str(),
            "--lockfile",
            "package-lock.json",
            "--trusted-root",
            root.as_str(),
        ];
        args.extend_from_slice(extra);
        run_in(dir, &args, &[])
    }
}

fn verdicts(report: &Value) -> std::collections::BTreeMap<String, (String, String)> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let why = p["error"].as_str().or(p["reason"].as_str()).unwrap_or_default().to_owned();
            (p["package"].as_str().unwrap().to_owned(), (p["verdict"].as_str().unwrap().to_owned(), why))
        })
        .collect()
}

#[test]
fn a_lockfile_of_real_shape_gets_per_package_verdicts_and_every_attack_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    let octo = Identity::own("octo/lib", "refs/tags/v1.0.0");

    // 280 plain dependencies without provenance (most of a real tree), 10 with.
    for i in 0..280 {
        let name = if i % 7 == 0 { format!("@plain/dep-{i}") } else { format!("dep-{i}") };
        let tgz = tree.publish(&name, "1.0.0", &format!("https://github.com/plain/dep-{i}"), None);
        let path = if i % 5 == 0 {
            format!("node_modules/dep-{}/node_modules/{name}", i + 1)
        } else {
            format!("node_modules/{name}")
        };
        tree.lock(&path, &name, "1.0.0", &tgz);
    }
    for i in 0..10 {
        let name = format!("signed-{i}");
        let id = Identity::own(&format!("octo/signed-{i}"), "refs/tags/v1.0.0");
        let tgz = tree.publish(&name, "1.0.0", &format!("git+https://github.com/octo/signed-{i}.git"), Some(&id));
        tree.lock(&format!("node_modules/{name}"), &name, "1.0.0", &tgz);
    }
    // A monorepo package released from a tag with `@`, continuing its earlier provenance.
    let mono_v1 = Identity::own("octo/mono", "refs/tags/@octo/ui@1.0.0");
    let mono_v2 = Identity::own("octo/mono", "refs/tags/@octo/ui@2.0.0");
    tree.publish("@octo/ui", "1.0.0", "https://github.com/octo/mono", Some(&mono_v1));
    let tgz = tree.publish("@octo/ui", "2.0.0", "https://github.com/octo/mono", Some(&mono_v2));
    tree.lock("node_modules/@octo/ui", "@octo/ui", "2.0.0", &tgz);

    // Downgrade: 1.0.0 had provenance, 1.1.0 (the stolen-token release) has none.
    tree.publish("downgraded", "1.0.0", "https://github.com/octo/lib", Some(&octo));
    let tgz = tree.publish("downgraded", "1.1.0", "https://github.com/octo/lib", None);
    tree.lock("node_modules/downgraded", "downgraded", "1.1.0", &tgz);
    // Downgrade of origin: 2.0.0 signed in the attacker's repository (which it now declares).
    tree.publish("moved", "1.0.0", "https://github.com/octo/lib", Some(&octo));
    let tgz =
        tree.publish("moved", "2.0.0", "https://github.com/evil/lib", Some(&Identity::own("evil/lib", "refs/tags/v2")));
    tree.lock("node_modules/moved", "moved", "2.0.0", &tgz);
    // Downgrade of workflow: same repository, another workflow file signed.
    tree.publish("rewired", "1.0.0", "https://github.com/octo/lib", Some(&octo));
    let other_workflow = Identity {
        repository: "octo/lib".into(),
        signer: "octo/lib/.github/workflows/debug.yml".into(),
        git_ref: "refs/heads/main".into(),
    };
    let tgz = tree.publish("rewired", "1.1.0", "https://github.com/octo/lib", Some(&other_workflow));
    tree.lock("node_modules/rewired", "rewired", "1.1.0", &tgz);
    // Provenance from a repository the package does not declare.
    let tgz = tree.publish(
        "claims-react",
        "1.0.0",
        "https://github.com/facebook/react",
        Some(&Identity::own("evil/react", "refs/tags/v1")),
    );
    tree.lock("node_modules/claims-react", "claims-react", "1.0.0", &tgz);
    // A poisoned `resolved`: another host with another integrity (npm ci would install it).
    let tgz = tree.publish("poisoned", "1.0.0", "https://github.com/octo/poisoned", None);
    let evil = tarball("package", "poisoned", "1.0.0-evil");
    tree.lock("node_modules/poisoned", "poisoned", "1.0.0", &tgz);
    tree.packages["node_modules/poisoned"]["resolved"] = json!("https://evil.example/poisoned/-/poisoned-1.0.0.tgz");
    tree.packages["node_modules/poisoned"]["integrity"] = json!(integrity(&evil));
    // A swapped integrity on the registry itself.
    let tgz = tree.publish("swapped", "1.0.0", "https://github.com/octo/swapped", None);
    tree.lock("node_modules/swapped", "swapped", "1.0.0", &tgz);
    tree.packages["node_modules/swapped"]["integrity"] = json!(integrity(&evil));
    // Exempt by the policy file, and one whose expected repository the policy file names.
    let tgz = tree.publish("hand-made", "1.0.0", "https://github.com/octo/hand-made", None);
    tree.lock("node_modules/hand-made", "hand-made", "1.0.0", &tgz);
    let relocated = Identity::own("octo/new-home", "refs/tags/v1");
    let tgz = tree.publish("relocated", "1.0.0", "https://github.com/octo/old-home", Some(&relocated));
    tree.lock("node_modules/relocated", "relocated", "1.0.0", &tgz);
    // Signed by a reusable workflow of another repository, which the policy file names.
    let reusable = Identity {
        repository: "octo/reused".into(),
        signer: "octo/tools/.github/workflows/npm.yml".into(),
        git_ref: "refs/tags/v1.0.0".into(),
    };
    let tgz = tree.publish("reused", "1.0.0", "https://github.com/octo/reused", Some(&reusable));
    tree.lock("node_modules/reused", "reused", "1.0.0", &tgz);

    // Entries that are not registry tarballs.
    tree.packages.insert("node_modules/from-git".into(), json!({"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/r.git#0123456789abcdef0123456789abcdef01234567"}));
    tree.packages.insert(
        "node_modules/local-tgz".into(),
        json!({"version": "1.0.0", "resolved": "file:vendor/local-tgz-1.0.0.tgz", "integrity": integrity(b"x")}),
    );
    tree.packages.insert("node_modules/workspace-a".into(), json!({"resolved": "packages/workspace-a", "link": true}));
    tree.packages.insert("packages/workspace-a".into(), json!({"name": "workspace-a", "version": "0.1.0"}));
    tree.packages
        .insert("node_modules/signed-0/node_modules/bundled-dep".into(), json!({"version": "2.0.0", "inBundle": true}));
    tree.write(dir.path());

    std::fs::write(
        dir.path().join("policy.json"),
        serde_json::to_vec(&json!({"packages": [
            {"name": "hand-made", "exempt": "published by hand before provenance existed; reviewed"},
            {"name": "relocated", "repository": "octo/new-home", "workflow": "release.yml"},
            {"name": "reused", "signerWorkflow": "octo/tools/.github/workflows/npm.yml"}
        ]}))
        .unwrap(),
    )
    .unwrap();

    let out = tree.verify(dir.path(), &["--json", "--policy-file", "policy.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("JSON on stdout");
    let v = verdicts(&report);
    let expect = |pkg: &str, verdict: &str, why: &str| {
        let (got, reason) = v.get(pkg).unwrap_or_else(|| panic!("{pkg} missing from {report}"));
        assert_eq!(got, verdict, "{pkg}: {reason}");
        assert!(reason.contains(why), "{pkg}: expected {why:?} in {reason:?}");
    };
    for i in 0..10 {
        expect(&format!("signed-{i}@1.0.0"), "verified", "");
    }
    expect("@octo/ui@2.0.0", "verified", "");
    expect("dep-1@1.0.0", "no-provenance", "");
    expect("@plain/dep-0@1.0.0", "no-provenance", "");
    expect(
        "downgraded@1.1.0",
        "failed",
        "provenance downgrade: this version has no provenance, but earlier version 1.0.0 had it",
    );
    expect("moved@2.0.0", "failed", "provenance downgrade: signed from repository https://github.com/evil/lib");
    expect(
        "rewired@1.1.0",
        "failed",
        "provenance downgrade: signed from workflow https://github.com/octo/lib/.github/workflows/debug.yml",
    );
    expect("claims-react@1.0.0", "failed", "source repository");
    expect("poisoned@1.0.0", "failed", "resolves to https://evil.example/poisoned/-/poisoned-1.0.0.tgz");
    expect("swapped@1.0.0", "failed", "not the sha512 of the verified tarball");
    expect("hand-made@1.0.0", "exempt", "published by hand");
    expect("relocated@1.0.0", "verified", "");
    expect("reused@1.0.0", "verified", "");
    assert_eq!(report["verified"], 13, "{report}");
    assert_eq!(report["failed"], 6, "{report}");
    assert_eq!(report["exempt"], 1);
    assert_eq!(report["noProvenance"], 280);
    assert_eq!(report["entries"], json!({"registry": 300, "git": 1, "file": 1, "link": 1, "bundled": 1}));
    // Progress as packages complete, on stderr.
    let err = stderr(&out);
    assert!(err.contains("[300/300] "), "{err}");
    assert!(err.contains("6 of 300 packages failed verification"), "{err}");

    // The text form counts every kind of entry; --strict fails the non-registry ones.
    let text = tree.verify(dir.path(), &["--policy-file", "policy.json"]);
    let table = stdout(&text);
    assert!(table.contains("300 packages: 13 verified, 280 without provenance, 1 exempt, 6 failed; 304 lockfile entries: 300 registry, 1 git, 1 file, 1 link, 1 bundled"), "{table}");
    assert!(table.contains("not verified    node_modules/from-git (git)"), "{table}");

    // Without the attacks: passes, unless --strict or --require-provenance.
    for attack in ["downgraded", "moved", "rewired", "claims-react", "poisoned", "swapped"] {
        tree.packages.remove(&format!("node_modules/{attack}"));
    }
    tree.write(dir.path());
    let clean = tree.verify(dir.path(), &["--policy-file", "policy.json"]);
    assert!(clean.status.success(), "{}{}", stdout(&clean), stderr(&clean));
    let strict = tree.verify(dir.path(), &["--policy-file", "policy.json", "--strict", "--json"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        stderr(&strict).contains("--strict: 4 entries are not registry tarballs (1 git, 1 file, 1 link, 1 bundled)"),
        "{}",
        stderr(&strict)
    );
    let strict_report: Value = serde_json::from_str(stdout(&strict).trim()).unwrap();
    assert_eq!(strict_report["notVerified"].as_array().unwrap().len(), 4);
    let required = tree.verify(dir.path(), &["--policy-file", "policy.json", "--require-provenance"]);
    assert_eq!(required.status.code(), Some(1));
    assert!(stderr(&required).contains("280 of 294 packages failed verification"), "{}", stderr(&required));
    // Without the policy file, the relocated package fails against the repository it declares.
    let no_policy = tree.verify(dir.path(), &["--json"]);
    let v = verdicts(&serde_json::from_str(stdout(&no_policy).trim()).unwrap());
    assert_eq!(v["relocated@1.0.0"].0, "failed");
    assert!(v["relocated@1.0.0"].1.contains("source repository"), "{:?}", v["relocated@1.0.0"]);
    assert_eq!(v["reused@1.0.0"].0, "failed");
    assert!(v["reused@1.0.0"].1.contains("build signer workflow"), "{:?}", v["reused@1.0.0"]);
    // One identity for the whole tree is refused.
    let one = tree.verify(dir.path(), &["--repository", "octo/lib", "--json"]);
    assert_eq!(one.status.code(), Some(2));
    assert!(serde_json::from_str::<Value>(stdout(&one).trim()).unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("--policy-file"));
}

// ---- One lockfile per rule, named after the attack. ----

/// `name@1.0.0` (and, when `earlier` is given, an earlier 0.9.0 signed as `earlier`)
/// published declaring `repository`, signed as `signer`, locked as npm would lock it;
/// `edit` then changes the lockfile entry. Returns the `--json` report and the output.
fn one_package(
    repository: &str,
    signer: Option<&Identity>,
    earlier: Option<&Identity>,
    edit: impl FnOnce(&mut Value),
    extra: &[&str],
) -> (Value, Output) {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    if let Some(earlier) = earlier {
        tree.publish("target", "0.9.0", repository, Some(earlier));
    }
    let tgz = tree.publish("target", "1.0.0", repository, signer);
    tree.lock("node_modules/target", "target", "1.0.0", &tgz);
    edit(&mut tree.packages["node_modules/target"]);
    tree.write(dir.path());
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = tree.verify(dir.path(), &args);
    let report = serde_json::from_str(stdout(&out).trim()).expect("JSON on stdout");
    (report, out)
}

fn failure(report: &Value) -> String {
    let p = &report["packages"][0];
    assert_eq!(p["verdict"], "failed", "{report}");
    p["error"].as_str().unwrap().to_owned()
}

const REPO: &str = "https://github.com/octo/target";

fn octo() -> Identity {
    Identity::own("octo/target", "refs/tags/v1.0.0")
}

#[test]
fn a_lockfile_entry_resolved_to_another_host_is_refused() {
    let (report, out) = one_package(
        REPO,
        None,
        None,
        |e| {
            e["resolved"] = json!("https://evil.example/target/-/target-1.0.0.tgz");
        },
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(failure(&report).contains("resolves to https://evil.example/target/-/target-1.0.0.tgz"), "{report}");
    // Listed as a trusted mirror, the same entry passes (its integrity is the verified one).
    let (report, out) = one_package(
        REPO,
        None,
        None,
        |e| {
            e["resolved"] = json!("https://mirror.example/npm/target/-/target-1.0.0.tgz");
        },
        &["--allow-registry", "https://mirror.example/npm/"],
    );
    assert!(out.status.success(), "{report}");
}

#[test]
fn a_lockfile_entry_with_another_integrity_is_refused() {
    let (report, out) =
        one_package(REPO, Some(&octo()), None, |e| e["integrity"] = json!(integrity(b"another tarball")), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(failure(&report).contains("not the sha512 of the verified tarball"), "{report}");
    let (report, _) = one_package(
        REPO,
        None,
        None,
        |e| {
            e.as_object_mut().unwrap().remove("integrity");
        },
        &[],
    );
    assert!(failure(&report).contains("has no integrity"), "{report}");
}

#[test]
fn a_release_without_provenance_after_releases_with_it_is_a_downgrade() {
    let (report, out) = one_package(REPO, None, Some(&octo()), |_| {}, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(failure(&report)
        .contains("provenance downgrade: this version has no provenance, but earlier version 0.9.0 had it"));
}

#[test]
fn a_release_signed_in_another_repository_after_earlier_provenance_is_a_downgrade() {
    let evil = Identity::own("evil/target", "refs/tags/v1.0.0");
    let (report, _) = one_package("https://github.com/evil/target", Some(&evil), Some(&octo()), |_| {}, &[]);
    assert!(failure(&report).contains("signed from repository https://github.com/evil/target, but earlier version 0.9.0 was signed from https://github.com/octo/target"), "{report}");
}

#[test]
fn a_release_signed_by_another_workflow_after_earlier_provenance_is_a_downgrade() {
    let other = Identity {
        repository: "octo/target".into(),
        signer: "octo/target/.github/workflows/pr.yml".into(),
        git_ref: "refs/pull/1/merge".into(),
    };
    let (report, _) = one_package(REPO, Some(&other), Some(&octo()), |_| {}, &[]);
    assert!(
        failure(&report).contains("signed from workflow https://github.com/octo/target/.github/workflows/pr.yml"),
        "{report}"
    );
    // The same workflow at a new tag continues the provenance.
    let next = Identity::own("octo/target", "refs/tags/v1.0.0");
    let (report, out) =
        one_package(REPO, Some(&next), Some(&Identity::own("octo/target", "refs/tags/v0.9.0")), |_| {}, &[]);
    assert!(out.status.success(), "{report}");
}

#[test]
fn provenance_from_a_repository_the_package_does_not_declare_is_refused() {
    let borrowed = Identity::own("someone-else/anything", "refs/tags/v1.0.0");
    let (report, _) = one_package(REPO, Some(&borrowed), None, |_| {}, &[]);
    assert!(failure(&report).contains("source repository"), "{report}");
    // A workflow of another repository signing for this one needs a policy rule.
    let reusable = Identity {
        repository: "octo/target".into(),
        signer: "someone-else/tools/.github/workflows/release.yml".into(),
        git_ref: "refs/tags/v1.0.0".into(),
    };
    let (report, _) = one_package(REPO, Some(&reusable), None, |_| {}, &[]);
    assert!(failure(&report).contains("build signer workflow"), "{report}");
}

#[test]
fn a_package_without_provenance_fails_only_under_require_provenance() {
    let (report, out) = one_package(REPO, None, None, |_| {}, &[]);
    assert!(out.status.success(), "{report}");
    assert_eq!(report["packages"][0]["verdict"], "no-provenance");
    let (report, out) = one_package(REPO, None, None, |_| {}, &["--require-provenance"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(failure(&report).contains("--require-provenance"), "{report}");
}

#[test]
fn a_git_dependency_is_counted_and_fails_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    let tgz = tree.publish("target", "1.0.0", REPO, None);
    tree.lock("node_modules/target", "target", "1.0.0", &tgz);
    tree.packages.insert("node_modules/from-git".into(), json!({"version": "1.0.0", "resolved": "github:o/r#abc"}));
    tree.write(dir.path());
    let lenient = tree.verify(dir.path(), &[]);
    assert!(lenient.status.success(), "{}", stderr(&lenient));
    assert!(stdout(&lenient).contains("2 lockfile entries: 1 registry, 1 git"), "{}", stdout(&lenient));
    let strict = tree.verify(dir.path(), &["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(stderr(&strict).contains("--strict: 1 entries are not registry tarballs (1 git)"), "{}", stderr(&strict));
}

#[test]
fn a_policy_file_with_duplicate_keys_or_an_exemption_without_reason_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    let tgz = tree.publish("target", "1.0.0", REPO, None);
    tree.lock("node_modules/target", "target", "1.0.0", &tgz);
    tree.write(dir.path());
    for (file, text, why) in [
        (
            "dup.json",
            r#"{"packages":[{"name":"target","repository":"octo/target","repository":"evil/target"}]}"#,
            "duplicate key",
        ),
        ("empty-reason.json", r#"{"packages":[{"name":"target","exempt":" "}]}"#, "needs a reason"),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
        let out = tree.verify(dir.path(), &["--policy-file", file]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
}
