//! `verify` over many bundles: pairing bundles with subjects, verifying them in parallel on
//! scoped threads (the trusted root and the policy are parsed once and shared), and the
//! per-package table.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{facts_json, policy_from_args, read_subject, subject_label, verify, VerifyArgs};
use crate::cmd::verify::registry::{registry_client, verify_published};
use crate::core::npm::PackageName;
use crate::core::verify::{Policy, Subject, VerifiedBundle, VerifiedSigner};
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{classify, fail, fail_with_hint, render, ExitKind};
use crate::report;
use crate::sigstore::trust::{read_bundle, read_capped, read_trusted_root};

/// The file name ending of a bundle in a bundle directory.
const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// One bundle and the subject it must be for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub bundle: PathBuf,
    /// The subject argument (a path or a digest); `None` when a bundle directory has no
    /// tarball for this bundle.
    pub subject: Option<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Pairs {
    /// One bundle file and one subject: the single-bundle command, unchanged.
    One(PathBuf, String),
    Many(Vec<Pair>),
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}

/// Pairs `--bundle` arguments with subjects: one directory (with an optional tarball
/// directory), or as many subjects as bundle files, in order.
pub fn pairs(bundles: &[PathBuf], subjects: &[String]) -> anyhow::Result<Pairs> {
    if let [dir] = bundles {
        if dir.is_dir() {
            let tarballs = match subjects {
                [] => dir.clone(),
                [one] => PathBuf::from(one),
                _ => {
                    return Err(fail_with_hint(
                        ExitKind::BadInput,
                        format!("bundle directory {} takes at most one tarball directory", dir.display()),
                        "pass the directory holding the tarballs, or nothing to look next to the bundles",
                    ))
                }
            };
            return directory_pairs(dir, &tarballs).map(Pairs::Many);
        }
    }
    if bundles.len() != subjects.len() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("{} bundles but {} subjects", bundles.len(), subjects.len()),
            "give one SUBJECT (tarball, file or digest) per --bundle, in the same order",
        ));
    }
    if let ([bundle], [subject]) = (bundles, subjects) {
        return Ok(Pairs::One(bundle.clone(), subject.clone()));
    }
    Ok(Pairs::Many(
        bundles
            .iter()
            .zip(subjects)
            .map(|(bundle, subject)| Pair { bundle: bundle.clone(), subject: Some(subject.clone()) })
            .collect(),
    ))
}

/// Every `X.sigstore.json` in `dir`, sorted, paired with `tarballs/X.tgz`.
fn directory_pairs(dir: &Path, tarballs: &Path) -> anyhow::Result<Vec<Pair>> {
    let cannot = |e: std::io::Error| {
        fail_with_hint(ExitKind::BadInput, format!("cannot list {}: {e}", dir.display()), "check the path")
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let name = entry.map_err(cannot)?.file_name().to_string_lossy().into_owned();
        if name.ends_with(BUNDLE_SUFFIX) && name.len() > BUNDLE_SUFFIX.len() {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("{} holds no *{BUNDLE_SUFFIX} bundles", dir.display()),
            "pass the directory `attest --output-dir` wrote",
        ));
    }
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| {
            let stem = &name[..name.len() - BUNDLE_SUFFIX.len()];
            let tarball = tarballs.join(format!("{stem}.tgz"));
            Pair { bundle: dir.join(&name), subject: tarball.is_file().then(|| tarball.display().to_string()) }
        })
        .collect())
}

/// The result for one bundle, already rendered for both output forms.
#[derive(Debug)]
pub struct Outcome {
    /// The bundle path, or `name@version` for a lockfile's package.
    pub label: String,
    pub result: Result<Verified, anyhow::Error>,
}

#[derive(Debug)]
pub struct Verified {
    pub subject: String,
    pub signer: String,
    pub log_index: u64,
    pub json: Value,
}

/// Verifies one pair: bundle, subject, then the verification algorithm.
fn verify_pair(pair: &Pair, trust: &TrustedRoot, policy: &Policy) -> anyhow::Result<Verified> {
    let subject_arg = pair.subject.as_deref().ok_or_else(|| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("no tarball for bundle {}", pair.bundle.display()),
            "put `<name>.tgz` next to `<name>.sigstore.json`, or pass the tarball directory",
        )
    })?;
    let bundle = read_bundle(&pair.bundle)?;
    let subject = read_subject(subject_arg, true)?;
    let verified = verify(&bundle, trust, &subject, policy, &pair.bundle)?;
    Ok(facts(&verified, &subject, "bundle", &pair.bundle.display().to_string()))
}

/// The facts of one verified bundle, with `key: label` added to its JSON.
fn facts(verified: &VerifiedBundle, subject: &Subject, key: &str, label: &str) -> Verified {
    let signer = match &verified.signer {
        VerifiedSigner::Certificate(id) => id.san.value().to_owned(),
        VerifiedSigner::ManagedKey { hint } => format!("managed key {hint}"),
    };
    let mut json = facts_json(verified, subject);
    if let Some(obj) = json.as_object_mut() {
        obj.insert(key.into(), Value::String(label.to_owned()));
    }
    Verified { subject: subject_label(subject), signer, log_index: verified.log_entry.log_index, json }
}

/// Verifies every pair on up to `jobs` threads; outcomes keep the input order.
pub fn verify_all(pairs: &[Pair], trust: &TrustedRoot, policy: &Policy, jobs: usize) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Outcome>>> = pairs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, pairs.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(pair) = pairs.get(index) else { break };
                let outcome =
                    Outcome { label: pair.bundle.display().to_string(), result: verify_pair(pair, trust, policy) };
                if let Some(slot) = slots.get(index) {
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(pairs)
        .map(|(slot, pair)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| Outcome {
                label: pair.bundle.display().to_string(),
                result: Err(fail(ExitKind::Internal, "a verification thread stopped")),
            })
        })
        .collect()
}

fn error_text(error: &anyhow::Error) -> String {
    let line = render(error);
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// What the outcomes are of: bundle files, or a lockfile's packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items {
    Bundles,
    Packages,
}

impl Items {
    /// The JSON key of one item's label, and the key of the list.
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            Self::Bundles => ("bundle", "bundles"),
            Self::Packages => ("package", "packages"),
        }
    }
}

/// Prints the table (or JSON) and the summary; fails when any item failed (exit 1, or 2
/// when every failure is malformed input).
pub fn report(outcomes: &[Outcome], json_output: bool, items: Items) -> anyhow::Result<()> {
    let (key, list) = items.keys();
    let verified = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let failed = outcomes.len() - verified;
    if json_output {
        let entries: Vec<Value> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(v) => v.json.clone(),
                Err(e) => json!({"verified": false, key: o.label, "error": error_text(e)}),
            })
            .collect();
        report::data(&json!({list: entries, "verified": verified, "failed": failed}).to_string());
    } else {
        for o in outcomes {
            match &o.result {
                Ok(v) => report::data(&format!(
                    "verified  {}  {}  log index {}  ({})",
                    v.subject, v.signer, v.log_index, o.label
                )),
                Err(e) => report::data(&format!("FAILED    {}", error_text(e))),
            }
        }
        report::data(&format!("{verified} verified, {failed} failed"));
    }
    if failed == 0 {
        return Ok(());
    }
    let all_malformed =
        outcomes.iter().filter_map(|o| o.result.as_ref().err()).all(|e| classify(e).0 == ExitKind::BadInput);
    let kind = if all_malformed { ExitKind::BadInput } else { ExitKind::VerificationFailed };
    let names: Vec<&str> = outcomes.iter().filter(|o| o.result.is_err()).map(|o| o.label.as_str()).collect();
    Err(fail(kind, format!("{failed} of {} {list} failed verification: {}", outcomes.len(), names.join(", "))))
}

/// The largest package-lock.json read.
const MAX_LOCKFILE_BYTES: u64 = 256 * 1024 * 1024;

/// The registry packages a package-lock.json installs, as `(name, version)`, deduplicated and
/// sorted. Only lockfileVersion 2 and 3 carry the flat `packages` map this reads (npm 7 and
/// later write it); links, bundled dependencies and packages not from a registry (git, file)
/// have no registry provenance and are left out.
pub fn lockfile_packages(lock: &Value) -> Result<Vec<(String, String)>, String> {
    let version = lock.get("lockfileVersion").and_then(Value::as_u64).unwrap_or(0);
    let Some(packages) = lock.get("packages").and_then(Value::as_object).filter(|_| version >= 2) else {
        return Err(format!(
            "lockfileVersion {version} has no `packages` map (npm 7 or later writes lockfileVersion 2 or 3)"
        ));
    };
    let mut out = std::collections::BTreeSet::new();
    for (path, entry) in packages {
        // "" is the project itself; only paths inside node_modules are installed packages.
        let Some(at) = path.rfind("node_modules/") else { continue };
        let flag = |k: &str| entry.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("link") || flag("inBundle") {
            continue;
        }
        if let Some(resolved) = entry.get("resolved").and_then(Value::as_str) {
            if !(resolved.starts_with("https://") || resolved.starts_with("http://")) {
                continue;
            }
        }
        let name = entry.get("name").and_then(Value::as_str).unwrap_or(&path[at + "node_modules/".len()..]);
        let Some(version) = entry.get("version").and_then(Value::as_str) else { continue };
        out.insert((name.to_owned(), version.to_owned()));
    }
    Ok(out.into_iter().collect())
}

/// `verify --registry URL --lockfile package-lock.json`: every registry package the lockfile
/// installs, each verified as `verify --registry URL NAME@VERSION` would, `--jobs` at a time.
pub async fn run_lockfile(args: &VerifyArgs, registry_url: &str, lockfile: &Path) -> anyhow::Result<()> {
    if !args.subject.is_empty() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "--lockfile names the packages; no NAME@VERSION is taken with it",
            "drop the package argument, or drop --lockfile to verify one package",
        ));
    }
    let policy = Arc::new(policy_from_args(args)?);
    let trust = Arc::new(read_trusted_root(args.trusted_root.as_deref(), false)?);
    let bad = |reason: String| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("lockfile {}: {reason}", lockfile.display()),
            "pass the project's package-lock.json (npm 7 or later)",
        )
    };
    let bytes = read_capped(lockfile, MAX_LOCKFILE_BYTES, "lockfile")?;
    let lock: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let packages = lockfile_packages(&lock).map_err(bad)?;
    if packages.is_empty() {
        return Err(bad("it installs no registry packages".into()));
    }
    let registry = Arc::new(registry_client(registry_url)?);
    // Mostly network-bound (packument, tarball, attestations per package).
    let permits = Arc::new(Semaphore::new(args.jobs.map(|n| n as usize).unwrap_or(8)));
    let mut tasks = JoinSet::new();
    for (index, (name, version)) in packages.iter().cloned().enumerate() {
        let (registry, trust, policy, permits) =
            (Arc::clone(&registry), Arc::clone(&trust), Arc::clone(&policy), Arc::clone(&permits));
        tasks.spawn(async move {
            let label = format!("{name}@{version}");
            let result = match (permits.acquire_owned().await, PackageName::parse(&name)) {
                (Ok(_permit), Ok(parsed)) => verify_published(&registry, &trust, &policy, &parsed, &version)
                    .await
                    .map(|(verified, subject)| facts(&verified, &subject, "package", &label)),
                (Err(e), _) => Err(fail(ExitKind::Internal, format!("the verification queue closed: {e}"))),
                (_, Err(e)) => Err(fail(ExitKind::BadInput, format!("{label}: {e}"))),
            };
            (index, Outcome { label, result })
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = packages.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) =
            joined.map_err(|e| fail(ExitKind::Internal, format!("a verification task stopped: {e}")))?;
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(outcome);
        }
    }
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    report(&outcomes, args.json, Items::Packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_pair_with_subjects_in_order() {
        let b = |s: &str| PathBuf::from(s);
        assert_eq!(pairs(&[b("a.json")], &["a.tgz".into()]).unwrap(), Pairs::One(b("a.json"), "a.tgz".into()));
        let Pairs::Many(many) = pairs(&[b("a.json"), b("b.json")], &["a.tgz".into(), "b.tgz".into()]).unwrap() else {
            panic!("expected several pairs")
        };
        assert_eq!(many[1], Pair { bundle: b("b.json"), subject: Some("b.tgz".into()) });
        assert!(pairs(&[b("a.json"), b("b.json")], &["a.tgz".into()]).is_err());
        assert!(pairs(&[b("a.json")], &[]).is_err());
    }

    #[test]
    fn a_lockfile_lists_its_registry_packages_once() {
        let lock = json!({
            "lockfileVersion": 3,
            "packages": {
                "": {"name": "app", "version": "1.0.0"},
                "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"},
                "node_modules/@scope/pkg": {"version": "2.0.0", "resolved": "https://registry.npmjs.org/@scope/pkg/-/pkg-2.0.0.tgz"},
                "node_modules/a/node_modules/left-pad": {"version": "1.3.0"},
                "node_modules/alias": {"name": "real-name", "version": "3.0.0"},
                "node_modules/linked": {"resolved": "packages/linked", "link": true},
                "packages/linked": {"version": "0.1.0"},
                "node_modules/from-git": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/r.git#abc"},
                "node_modules/bundled": {"version": "1.0.0", "inBundle": true}
            }
        });
        let got = lockfile_packages(&lock).unwrap();
        let want: Vec<(String, String)> = [("@scope/pkg", "2.0.0"), ("left-pad", "1.3.0"), ("real-name", "3.0.0")]
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert!(lockfile_packages(&json!({"lockfileVersion": 1, "dependencies": {}})).is_err());
    }

    #[test]
    fn a_bundle_directory_pairs_by_stem() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["x-1.0.0.sigstore.json", "x-1.0.0.tgz", "y-2.0.0.sigstore.json", "notes.txt", ".sigstore.json"] {
            std::fs::write(dir.path().join(name), b"{}").unwrap();
        }
        let Pairs::Many(many) = pairs(&[dir.path().to_path_buf()], &[]).unwrap() else {
            panic!("expected several pairs")
        };
        assert_eq!(many.len(), 2);
        assert_eq!(many[0].subject, Some(dir.path().join("x-1.0.0.tgz").display().to_string()));
        assert_eq!(many[1].bundle, dir.path().join("y-2.0.0.sigstore.json"));
        assert_eq!(many[1].subject, None);
        let empty = tempfile::tempdir().unwrap();
        assert!(pairs(&[empty.path().to_path_buf()], &[]).is_err());
    }
}
