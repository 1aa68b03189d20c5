//! `verify --registry URL --lockfile package-lock.json`: every entry of the lockfile judged as
//! `npm ci` would install it. Registry entries are bound to what they install (the entry's
//! `integrity` must be the sha512 of the tarball that was verified, its `resolved` URL must be
//! on the registry given or one listed with `--allow-registry`); other entries (git, `file:`,
//! links, bundled, no version) are counted by kind and fail under `--strict`. Each registry
//! package gets the per-package model of `core::verify::policy`: provenance verified against
//! the repository the package declares (or a policy-file rule), continuity with the previous
//! version's provenance (a downgrade fails), and no provenance reported (failed with
//! `--require-provenance`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::{error_text, issuer_for_repository, print_json, VerifyArgs};
use crate::cmd::batch::bounded;
use crate::cmd::verify::registry::{
    announces_attestations, fetch_version, registry_client, verify_attestations, PublishedVersion,
};
use crate::core::npm::repository::normalize_repository;
use crate::core::npm::PackageName;
use crate::core::verify::policy::{
    expectation, judge, previous_with_provenance, Expectation, History, ProvenanceOrigin, TreePolicy, TreeVerdict,
};
use crate::core::verify::x509::SigstoreExtension;
use crate::core::verify::{
    IdentityMatcher, IdentityPolicy, Policy, PredicateRule, SignerRule, VerifiedBundle, VerifiedSigner,
};
use crate::core::wire::encoding::{b64_decode, b64_encode};
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::npm::registry::Registry;
use crate::report;
use crate::sigstore::trust::read_capped;

/// The largest package-lock.json read.
const MAX_LOCKFILE_BYTES: u64 = 256 * 1024 * 1024;
/// The largest policy file read.
const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// What a lockfile entry installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum EntryKind {
    /// A tarball from a registry: verified.
    Registry,
    Git,
    /// A `file:` tarball or directory.
    File,
    /// A symlink to a directory of the project (`link: true`, workspaces, `file:` folders).
    Link,
    /// Shipped inside its parent's tarball (`inBundle: true`).
    Bundled,
    /// No version: nothing to verify it against.
    NoVersion,
}

impl EntryKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Git => "git",
            Self::File => "file",
            Self::Link => "link",
            Self::Bundled => "bundled",
            Self::NoVersion => "no-version",
        }
    }
}

/// One installed entry of the lockfile's `packages` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The key, e.g. `node_modules/a/node_modules/b`.
    pub path: String,
    pub kind: EntryKind,
    pub name: String,
    pub version: Option<String>,
    pub resolved: Option<String>,
    pub integrity: Option<String>,
}

/// The installed entries of a package-lock.json (lockfileVersion 2 or 3: the flat `packages`
/// How many entries [`lockfile_entries`] finds (for the fuzz target, `crate::fuzzing`).
pub(crate) fn count_entries(lock: &Value) -> Result<usize, String> {
    lockfile_entries(lock).map(|entries| entries.len())
}

/// map npm 7 and later write), each with its kind.
pub(super) fn lockfile_entries(lock: &Value) -> Result<Vec<Entry>, String> {
    let version = lock.get("lockfileVersion").and_then(Value::as_u64).unwrap_or(0);
    let Some(packages) = lock.get("packages").and_then(Value::as_object).filter(|_| version >= 2) else {
        return Err(format!(
            "lockfileVersion {version} has no `packages` map (npm 7 or later writes lockfileVersion 2 or 3)"
        ));
    };
    let mut out = Vec::new();
    for (path, entry) in packages {
        // "" is the project itself; workspace folders are link targets. Only paths inside
        // node_modules are installed.
        let Some(at) = path.rfind("node_modules/") else { continue };
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
        let flag = |k: &str| entry.get(k).and_then(Value::as_bool).unwrap_or(false);
        let resolved = text("resolved");
        let version = text("version");
        let kind = if flag("link") {
            EntryKind::Link
        } else if flag("inBundle") {
            EntryKind::Bundled
        } else {
            match resolved.as_deref() {
                Some(r) if is_git(r) => EntryKind::Git,
                Some(r) if r.starts_with("file:") => EntryKind::File,
                Some(r) if !(r.starts_with("https://") || r.starts_with("http://")) => EntryKind::File,
                _ if version.is_none() => EntryKind::NoVersion,
                _ if version.as_deref().is_some_and(|v| is_git(v) || v.starts_with("file:")) => EntryKind::Git,
                _ => EntryKind::Registry,
            }
        };
        let name = text("name").unwrap_or_else(|| path[at + "node_modules/".len()..].to_owned());
        out.push(Entry { path: path.clone(), kind, name, version, resolved, integrity: text("integrity") });
    }
    Ok(out)
}

fn is_git(spec: &str) -> bool {
    ["git+", "git:", "git@", "github:", "gitlab:", "bitbucket:", "gist:"].iter().any(|p| spec.starts_with(p))
}

/// Whether `resolved` is under one of the registries (same scheme, host, port, and path prefix).
fn on_registry(resolved: &str, registries: &[url::Url]) -> bool {
    let Ok(url) = url::Url::parse(resolved) else { return false };
    registries.iter().any(|r| {
        let base = r.path().trim_end_matches('/');
        url.origin() == r.origin() && (url.path().starts_with(&format!("{base}/")))
    })
}

/// The verdict on one package (name@version), with what was verified.
#[derive(Debug)]
struct PackageResult {
    label: String,
    verdict: Result<TreeVerdict, anyhow::Error>,
    origin: Option<ProvenanceOrigin>,
    signer: Option<String>,
    log_index: Option<u64>,
    tarball_integrity: Option<String>,
}

struct Shared {
    registry: Registry,
    trust: TrustedRoot,
    policy: TreePolicy,
    require_provenance: bool,
}

pub(super) async fn run_lockfile(args: &VerifyArgs, registry_url: &str, lockfile: &Path) -> anyhow::Result<()> {
    if !args.subject.is_empty() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "--lockfile names the packages; no NAME@VERSION is taken with it",
            "drop the package argument, or drop --lockfile to verify one package",
        ));
    }
    let identity_flags = [
        args.certificate_identity.is_some(),
        args.certificate_identity_regexp.is_some(),
        args.certificate_oidc_issuer.is_some(),
        args.repository.is_some(),
        args.signer_repository.is_some(),
        args.signer_workflow.is_some(),
        args.workflow.is_some(),
        args.git_ref.is_some(),
        args.key.is_some(),
    ];
    if identity_flags.iter().any(|f| *f) {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "--lockfile judges each package against the repository it declares; one identity for every dependency cannot be right",
            "drop the identity flags, and name expected repositories or exemptions in a --policy-file",
        ));
    }
    let tree_policy = match &args.policy_file {
        Some(path) => {
            let bytes = read_capped(path, MAX_POLICY_BYTES, "policy file")?;
            TreePolicy::parse(&bytes).map_err(|e| {
                fail_with_hint(
                    ExitKind::BadInput,
                    format!("policy file {}: {e}", path.display()),
                    "write {\"packages\": [{\"name\": \"PATTERN\", \"repository\": \"OWNER/REPO\", \"workflow\": \"release.yml\"}, {\"name\": \"PATTERN\", \"exempt\": \"REASON\"}]}",
                )
            })?
        }
        None => TreePolicy::default(),
    };
    let bad = |reason: String| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("lockfile {}: {reason}", lockfile.display()),
            "pass the project's package-lock.json (npm 7 or later)",
        )
    };
    let bytes = read_capped(lockfile, MAX_LOCKFILE_BYTES, "lockfile")?;
    let lock: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let entries = lockfile_entries(&lock).map_err(bad)?;
    let mut registries = Vec::new();
    for r in std::iter::once(registry_url).chain(args.allow_registry.iter().map(String::as_str)) {
        let parsed = url::Url::parse(r)
            .ok()
            .filter(|u| u.scheme() == "https" || u.scheme() == "http")
            .ok_or_else(|| fail(ExitKind::BadInput, format!("registry {r:?} is not an http(s) URL")))?;
        registries.push(parsed);
    }

    let packages: BTreeSet<(String, String)> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Registry)
        .filter_map(|e| e.version.clone().map(|v| (e.name.clone(), v)))
        .collect();
    let shared = Arc::new(Shared {
        registry: registry_client(registry_url)?,
        trust: crate::cmd::verify::trusted_root(args).await?,
        policy: tree_policy,
        require_provenance: args.require_provenance,
    });
    let total = packages.len();
    let done = Arc::new(AtomicUsize::new(0));
    // Mostly network-bound (packument, tarball, attestations per package).
    let items: Vec<Result<(String, String), std::convert::Infallible>> = packages.into_iter().map(Ok).collect();
    let judged = bounded(args.jobs.map(|n| n as usize).unwrap_or(8), items, |(name, version): (String, String)| {
        let (shared, done) = (Arc::clone(&shared), Arc::clone(&done));
        async move {
            let result = judge_package(&shared, &name, &version).await;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            report::info(&format!("[{n}/{total}] {}: {}", result.label, short_verdict(&result.verdict)));
            result
        }
    })
    .await?;
    let mut results: BTreeMap<String, PackageResult> = BTreeMap::new();
    for result in judged.into_iter().map(|r| r.unwrap_or_else(|never| match never {})) {
        results.insert(result.label.clone(), result);
    }

    // Every registry entry is bound to the tarball that was verified.
    for entry in entries.iter().filter(|e| e.kind == EntryKind::Registry) {
        let Some(version) = &entry.version else { continue };
        let label = format!("{}@{version}", entry.name);
        let Some(result) = results.get_mut(&label) else { continue };
        if let Some(problem) = entry_problem(entry, result.tarball_integrity.as_deref(), &registries) {
            if !matches!(result.verdict, Err(_) | Ok(TreeVerdict::Failed(_))) {
                result.verdict = Err(fail(ExitKind::VerificationFailed, format!("{label}: {problem}")));
            }
        }
    }
    summarize(args, &entries, results.into_values().collect())
}

impl PackageResult {
    fn failed(label: &str, error: anyhow::Error) -> Self {
        Self {
            label: label.to_owned(),
            verdict: Err(error),
            origin: None,
            signer: None,
            log_index: None,
            tarball_integrity: None,
        }
    }
}

fn short_verdict(verdict: &Result<TreeVerdict, anyhow::Error>) -> &'static str {
    match verdict {
        Ok(TreeVerdict::Verified) => "verified",
        Ok(TreeVerdict::NoProvenance) => "no provenance",
        Ok(TreeVerdict::Exempt { .. }) => "exempt",
        Ok(TreeVerdict::Failed(_)) | Err(_) => "FAILED",
    }
}

/// Why a registry entry does not install the verified tarball, if it does not.
fn entry_problem(entry: &Entry, verified_integrity: Option<&str>, registries: &[url::Url]) -> Option<String> {
    if let Some(resolved) = &entry.resolved {
        if !on_registry(resolved, registries) {
            let listed: Vec<&str> = registries.iter().map(url::Url::as_str).collect();
            return Some(format!(
                "lockfile entry {} resolves to {resolved}, which is not on {} (npm ci would download it from there; list a trusted mirror with --allow-registry)",
                entry.path,
                listed.join(" or ")
            ));
        }
    }
    let verified = verified_integrity?;
    match entry.integrity.as_deref() {
        None => {
            Some(format!("lockfile entry {} has no integrity, so npm ci would install whatever is served", entry.path))
        }
        Some(i) if !i.split_whitespace().any(|one| one == verified) => Some(format!(
            "lockfile entry {} has integrity {i}, not the sha512 of the verified tarball ({verified})",
            entry.path
        )),
        Some(_) => None,
    }
}

/// The expected origin's keyless policy: the repository's CI issuer, the Source Repository
/// URI, and a signer workflow of that repository (optionally this workflow file).
fn origin_policy(repository: &str, signer: SignerRule, workflow: Option<&str>) -> Option<Policy> {
    let issuer = issuer_for_repository(repository)?;
    let mut identity = IdentityPolicy::repository(issuer, repository);
    identity.signer = signer;
    identity.workflow_path = workflow.map(str::to_owned);
    Some(Policy::Keyless(identity))
}

fn origin_of(verified: &VerifiedBundle) -> Option<ProvenanceOrigin> {
    let VerifiedSigner::Certificate(id) = verified.signer() else { return None };
    let repository = id.extension(SigstoreExtension::SourceRepositoryUri)?;
    let signer = id.extension(SigstoreExtension::BuildSignerUri).unwrap_or(id.san.value());
    Some(ProvenanceOrigin::new(repository, signer))
}

async fn judge_package(shared: &Shared, name: &str, version: &str) -> PackageResult {
    let label = format!("{name}@{version}");
    let parsed = match PackageName::parse(name) {
        Ok(n) => n,
        Err(e) => return PackageResult::failed(&label, fail(ExitKind::BadInput, format!("{label}: {e}"))),
    };
    match judge_inner(shared, &parsed, version).await {
        Ok(result) => result,
        Err(e) => PackageResult::failed(&label, e),
    }
}

async fn judge_inner(shared: &Shared, name: &PackageName, version: &str) -> anyhow::Result<PackageResult> {
    let label = format!("{name}@{version}");
    let registry = &shared.registry;
    let packument = registry.packument(name, None).await?.ok_or_else(|| {
        fail_with_hint(
            ExitKind::VerificationFailed,
            format!("{name} is not on {}", registry.base()),
            "check --registry",
        )
    })?;
    let published = fetch_version(registry, &packument, name, version).await?;
    let mut result = PackageResult {
        label: label.clone(),
        verdict: Ok(TreeVerdict::NoProvenance),
        origin: None,
        signer: None,
        log_index: None,
        tarball_integrity: Some(format!("sha512-{}", b64_encode(published.tarball_sha512))),
    };
    let declared = published.manifest.get("repository").and_then(normalize_repository);
    let (repository, signer, workflow) = match expectation(&shared.policy, name.as_str(), declared.as_deref()) {
        Expectation::Exempt { reason } => {
            result.verdict = Ok(TreeVerdict::Exempt { reason });
            return Ok(result);
        }
        Expectation::Origin { repository, signer, workflow, .. } => (repository, signer, workflow),
    };

    // This version's own provenance, against the expected origin.
    let current = if announces_attestations(&published.manifest) {
        let repository = repository.ok_or_else(|| {
            fail_with_hint(
                ExitKind::VerificationFailed,
                format!("{label} has provenance but declares no repository to check it against"),
                "name the expected repository for it in a --policy-file rule",
            )
        })?;
        let policy = origin_policy(&repository, signer, workflow.as_deref()).ok_or_else(|| {
            fail_with_hint(
                ExitKind::VerificationFailed,
                format!("{label}: its repository {repository} is on neither github.com nor gitlab.com, so no CI issuer is known"),
                "exempt it with a reason in a --policy-file rule",
            )
        })?;
        let (verified, _) = verify_attestations(
            registry,
            &shared.trust,
            &policy,
            &PredicateRule::slsa_provenance(),
            name,
            version,
            &published,
        )
        .await?;
        result.log_index = verified.log_index();
        result.signer = verified.identity().map(|id| id.san.value().to_owned());
        Some(origin_of(&verified).ok_or_else(|| {
            fail(ExitKind::VerificationFailed, format!("{label}: the signing certificate names no source repository"))
        })?)
    } else {
        None
    };

    // The history: the highest earlier version that announced provenance, verified offline
    // (its bundle against its packument integrity; no tarball needed) to learn its origin.
    let versions: BTreeMap<String, bool> = packument
        .get("versions")
        .and_then(Value::as_object)
        .map(|all| all.iter().map(|(v, m)| (v.clone(), announces_attestations(m))).collect())
        .unwrap_or_default();
    let history = match previous_with_provenance(version, &versions) {
        None => History::None,
        Some(previous) => match previous_origin(shared, &packument, name, previous).await {
            Ok(origin) => History::Verified { version: previous.to_owned(), origin },
            Err(e) => History::Unverifiable { version: previous.to_owned(), reason: super::error_text(&e) },
        },
    };
    result.verdict = Ok(judge(current.as_ref(), &history, shared.require_provenance));
    result.origin = current;
    Ok(result)
}

/// The verified origin of an earlier version's provenance: its bundle verified against the
/// trusted root for the sha512 its packument entry promises, with any identity of the issuer
/// its repository implies (continuity, not the policy, judges who that was).
async fn previous_origin(
    shared: &Shared,
    packument: &Value,
    name: &PackageName,
    version: &str,
) -> anyhow::Result<ProvenanceOrigin> {
    let manifest = packument.get("versions").and_then(|v| v.get(version)).cloned().unwrap_or(Value::Null);
    let integrity =
        manifest.get("dist").and_then(|d| d.get("integrity")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let sha512: [u8; 64] = integrity
        .strip_prefix("sha512-")
        .and_then(|b| b64_decode(b).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail(ExitKind::VerificationFailed, format!("{name}@{version} has no sha512 integrity")))?;
    let issuer = manifest
        .get("repository")
        .and_then(normalize_repository)
        .as_deref()
        .and_then(issuer_for_repository)
        .unwrap_or(crate::core::well_known::GITHUB_ACTIONS_ISSUER);
    let mut identity = IdentityPolicy::new(issuer);
    identity.san = Some(
        IdentityMatcher::regex(".*").map_err(|e| fail(ExitKind::Internal, format!("the any-identity pattern: {e}")))?,
    );
    let (verified, _) = verify_attestations(
        &shared.registry,
        &shared.trust,
        &Policy::Keyless(identity),
        &PredicateRule::slsa_provenance(),
        name,
        version,
        &PublishedVersion { manifest, tarball_sha512: sha512 },
    )
    .await?;
    origin_of(&verified).ok_or_else(|| {
        fail(ExitKind::VerificationFailed, format!("{name}@{version}: the certificate names no repository"))
    })
}

fn verdict_text(verdict: &Result<TreeVerdict, anyhow::Error>) -> (&'static str, Option<String>) {
    match verdict {
        Ok(TreeVerdict::Verified) => ("verified", None),
        Ok(TreeVerdict::NoProvenance) => ("no-provenance", None),
        Ok(TreeVerdict::Exempt { reason }) => ("exempt", Some(reason.clone())),
        Ok(TreeVerdict::Failed(f)) => ("failed", Some(f.to_string())),
        Err(e) => ("failed", Some(error_text(e))),
    }
}

/// Prints the table (or JSON) and the summary, and fails when any package failed or, with
/// `--strict`, when any entry is not a registry tarball.
fn summarize(args: &VerifyArgs, entries: &[Entry], results: Vec<PackageResult>) -> anyhow::Result<()> {
    let mut kinds: BTreeMap<EntryKind, usize> = BTreeMap::new();
    for e in entries {
        *kinds.entry(e.kind).or_default() += 1;
    }
    let count = |v: &str| results.iter().filter(|r| verdict_text(&r.verdict).0 == v).count();
    let (verified, no_provenance, exempt, failed) =
        (count("verified"), count("no-provenance"), count("exempt"), count("failed"));
    let others: Vec<&Entry> = entries.iter().filter(|e| e.kind != EntryKind::Registry).collect();
    let strict_failure = args.strict && !others.is_empty();
    let kind_counts = |sep: &str| kinds.iter().map(|(k, n)| format!("{n} {}", k.name())).collect::<Vec<_>>().join(sep);
    if args.json {
        let packages: Vec<Value> = results
            .iter()
            .map(|r| {
                let (verdict, reason) = verdict_text(&r.verdict);
                let mut p = json!({"package": r.label, "verdict": verdict, "verified": verdict == "verified"});
                if let Some(reason) = reason {
                    p[if verdict == "exempt" { "reason" } else { "error" }] = json!(reason);
                }
                if let Some(o) = &r.origin {
                    p["sourceRepository"] = json!(o.repository);
                    p["signerWorkflow"] = json!(o.workflow);
                }
                if let Some(s) = &r.signer {
                    p["signer"] = json!(s);
                }
                if let Some(i) = r.log_index {
                    p["logIndex"] = json!(i);
                }
                p
            })
            .collect();
        let not_verified: Vec<Value> = others
            .iter()
            .map(|e| json!({"path": e.path, "kind": e.kind.name(), "name": e.name, "version": e.version, "resolved": e.resolved}))
            .collect();
        let counts: serde_json::Map<String, Value> =
            kinds.iter().map(|(k, n)| (k.name().to_owned(), json!(n))).collect();
        print_json(&json!({
            "packages": packages,
            "verified": verified,
            "noProvenance": no_provenance,
            "exempt": exempt,
            "failed": failed,
            "entries": counts,
            "notVerified": not_verified,
            "strict": args.strict,
        }));
    } else {
        for r in &results {
            let (verdict, reason) = verdict_text(&r.verdict);
            let line = match (verdict, &r.origin, reason) {
                ("verified", Some(o), _) => format!("verified       {}  {}  ({})", r.label, o.repository, o.workflow),
                ("failed", _, Some(reason)) => format!("FAILED         {}: {reason}", r.label),
                ("exempt", _, Some(reason)) => format!("exempt         {}  ({reason})", r.label),
                _ => format!("no provenance  {}", r.label),
            };
            report::data(&line);
        }
        for e in &others {
            let what = e.resolved.as_deref().or(e.version.as_deref()).unwrap_or("-");
            report::data(&format!(
                "{}  {} ({})  {what}",
                if args.strict { "FAILED        " } else { "not verified  " },
                e.path,
                e.kind.name()
            ));
        }
        report::data(&format!(
            "{} packages: {verified} verified, {no_provenance} without provenance, {exempt} exempt, {failed} failed; {} lockfile entries: {}",
            results.len(),
            entries.len(),
            kind_counts(", ")
        ));
    }
    if failed == 0 && !strict_failure {
        return Ok(());
    }
    let mut reasons = Vec::new();
    if failed > 0 {
        let names: Vec<&str> =
            results.iter().filter(|r| verdict_text(&r.verdict).0 == "failed").map(|r| r.label.as_str()).collect();
        reasons.push(format!("{failed} of {} packages failed verification: {}", results.len(), names.join(", ")));
    }
    if strict_failure {
        let mut by_kind: BTreeMap<EntryKind, usize> = BTreeMap::new();
        for e in &others {
            *by_kind.entry(e.kind).or_default() += 1;
        }
        let list: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {}", k.name())).collect();
        reasons.push(format!("--strict: {} entries are not registry tarballs ({})", others.len(), list.join(", ")));
    }
    Err(fail(ExitKind::VerificationFailed, reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lockfile_entry_gets_its_kind() {
        let lock = json!({
            "lockfileVersion": 3,
            "packages": {
                "": {"name": "app", "version": "1.0.0"},
                "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": "sha512-x"},
                "node_modules/alias": {"name": "real-name", "version": "3.0.0"},
                "node_modules/linked": {"resolved": "packages/linked", "link": true},
                "packages/linked": {"version": "0.1.0"},
                "node_modules/from-git": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/r.git#abc"},
                "node_modules/local-tgz": {"version": "1.0.0", "resolved": "file:../x.tgz"},
                "node_modules/bundled": {"version": "1.0.0", "inBundle": true},
                "node_modules/odd": {}
            }
        });
        let kinds: Vec<(String, EntryKind)> =
            lockfile_entries(&lock).unwrap().into_iter().map(|e| (e.name, e.kind)).collect();
        let want = [
            ("left-pad", EntryKind::Registry),
            ("real-name", EntryKind::Registry),
            ("linked", EntryKind::Link),
            ("from-git", EntryKind::Git),
            ("local-tgz", EntryKind::File),
            ("bundled", EntryKind::Bundled),
            ("odd", EntryKind::NoVersion),
        ];
        assert_eq!(kinds, want.iter().map(|(n, k)| ((*n).to_owned(), *k)).collect::<Vec<_>>());
        assert!(lockfile_entries(&json!({"lockfileVersion": 1, "dependencies": {}})).is_err());
    }

    #[test]
    fn resolved_urls_must_be_under_a_listed_registry() {
        let regs = [url::Url::parse("http://127.0.0.1:4873/npm/").unwrap()];
        assert!(on_registry("http://127.0.0.1:4873/npm/a/-/a-1.0.0.tgz", &regs));
        assert!(!on_registry("http://127.0.0.1:4874/npm/a/-/a-1.0.0.tgz", &regs));
        assert!(!on_registry("https://127.0.0.1:4873/npm/a/-/a-1.0.0.tgz", &regs));
        assert!(!on_registry("http://127.0.0.1:4873/other/a-1.0.0.tgz", &regs));
        assert!(!on_registry("http://127.0.0.1:4873/npmevil/a-1.0.0.tgz", &regs));
    }
}
