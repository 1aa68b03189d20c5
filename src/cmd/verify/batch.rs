//! `verify` over many bundles: pairing bundles with subjects, verifying them in parallel on
//! scoped threads (the trusted root and the policy are parsed once and shared), and the
//! per-package table.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::{error_text, facts_json, read_subject, subject_label, verify};
use crate::core::verify::{Policy, PredicateRule, Subject, VerifiedBundle, VerifiedSigner};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{classify, fail, fail_with_hint, ExitKind};
use crate::report;
use crate::sigstore::trust::read_bundle;

/// The file name ending of a bundle in a bundle directory.
const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// One bundle and the subject it must be for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pair {
    pub bundle: PathBuf,
    /// The subject argument (a path or a digest); `None` when a bundle directory has no
    /// tarball for this bundle.
    pub subject: Option<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pairs {
    /// One bundle file and one subject: the single-bundle command, unchanged.
    One(PathBuf, String),
    Many(Vec<Pair>),
}

pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}

/// `1 bundle`, `0 subjects`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Pairs `--bundle` arguments with subjects: one directory (with an optional tarball
/// directory), or as many subjects as bundle files, in order.
pub(super) fn pairs(bundles: &[PathBuf], subjects: &[String]) -> anyhow::Result<Pairs> {
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
            format!("{} but {}", count(bundles.len(), "bundle"), count(subjects.len(), "subject")),
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
pub(super) struct Outcome {
    /// The bundle path, or `name@version` for a lockfile's package.
    pub label: String,
    pub result: Result<Verified, anyhow::Error>,
}

#[derive(Debug)]
pub(super) struct Verified {
    pub subject: String,
    pub signer: String,
    pub log_index: u64,
    pub json: Value,
}

/// Verifies one pair: bundle, subject, then the verification algorithm.
/// The predicate-type rule for a bundle (it depends on the bundle's content kind).
pub(super) type PredicateFor<'a> = dyn Fn(&Bundle) -> PredicateRule + Sync + 'a;

fn verify_pair(
    pair: &Pair,
    trust: &TrustedRoot,
    policy: &Policy,
    predicate: &PredicateFor<'_>,
) -> anyhow::Result<Verified> {
    let subject_arg = pair.subject.as_deref().ok_or_else(|| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("no tarball for bundle {}", pair.bundle.display()),
            "put `<name>.tgz` next to `<name>.sigstore.json`, or pass the tarball directory",
        )
    })?;
    let bundle = read_bundle(&pair.bundle)?;
    let subject = read_subject(subject_arg, true)?;
    let verified = verify(&bundle, trust, &subject, policy, &predicate(&bundle), &pair.bundle)?;
    Ok(facts(&verified, &subject, "bundle", &pair.bundle.display().to_string()))
}

/// The facts of one verified bundle, with `key: label` added to its JSON.
fn facts(verified: &VerifiedBundle, subject: &Subject, key: &str, label: &str) -> Verified {
    let signer = match &verified.signer() {
        VerifiedSigner::Certificate(id) => id.san.value().to_owned(),
        VerifiedSigner::ManagedKey { hint } => format!("managed key {hint}"),
    };
    let mut json = facts_json(verified, subject);
    if let Some(obj) = json.as_object_mut() {
        obj.insert(key.into(), Value::String(label.to_owned()));
    }
    Verified { subject: subject_label(subject), signer, log_index: verified.log_entry().log_index, json }
}

/// Verifies every pair on up to `jobs` threads; outcomes keep the input order.
pub(super) fn verify_all(
    pairs: &[Pair],
    trust: &TrustedRoot,
    policy: &Policy,
    predicate: &PredicateFor<'_>,
    jobs: usize,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Outcome>>> = pairs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, pairs.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(pair) = pairs.get(index) else { break };
                let outcome = Outcome {
                    label: pair.bundle.display().to_string(),
                    result: verify_pair(pair, trust, policy, predicate),
                };
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

/// What the outcomes are of (bundle files; `--lockfile` has its own report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Items {
    Bundles,
}

impl Items {
    /// The JSON key of one item's label, and the key of the list.
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            Self::Bundles => ("bundle", "bundles"),
        }
    }
}

/// Prints the table (or JSON) and the summary; fails when any item failed (exit 1, or 2
/// when every failure is malformed input).
pub(super) fn report(outcomes: &[Outcome], json_output: bool, items: Items) -> anyhow::Result<()> {
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
        super::print_json(&json!({list: entries, "verified": verified, "failed": failed}));
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
