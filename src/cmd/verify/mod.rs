//! `npm-attest verify`: read the bundle, trusted root, key and subject from disk, run the pure
//! verifier (`core::verify`), and print what was proven.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::core::time::UnixTime;
use crate::core::verify::pki::SignatureCache;
use crate::core::verify::policy::{repository_url, signer_workflow, workflow_path};
use crate::core::verify::x509::SigstoreExtension;
use crate::core::verify::{
    verify_attestation_with, ArtifactDigests, Blame, IdentityMatcher, IdentityPolicy, NpmPackage, Policy,
    PredicateRule, SignerRule, Subject, TimeSource, VerifiedBundle, VerifiedSigner, VerifyError,
};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::report;
use crate::sigstore::trust::{read_bundle, read_public_key, read_trusted_root};

mod batch;
pub(crate) mod lockfile;
pub mod registry;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The Sigstore bundle (`.sigstore.json`). Repeat it, with one SUBJECT per bundle in the
    /// same order, to verify several; or pass one directory of `*.sigstore.json` bundles, each
    /// checked against the tarball of the same stem (`X.sigstore.json` and `X.tgz`).
    #[arg(long, value_name = "BUNDLE", required_unless_present = "registry")]
    pub bundle: Vec<PathBuf>,
    /// Verify NAME@VERSION as published on this npm registry (packument, tarball and the
    /// attestations endpoint) instead of local files.
    #[arg(long, value_name = "URL", conflicts_with = "bundle")]
    pub registry: Option<String>,
    /// With --registry: verify every package a package-lock.json (lockfileVersion 2 or 3)
    /// installs, instead of one NAME@VERSION.
    #[arg(long, value_name = "FILE", requires = "registry")]
    pub lockfile: Option<PathBuf>,
    /// A trusted_root.json to use as it is, instead of the one TUF serves (public-good, or
    /// --tuf-url).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tuf_url", "tuf_staging", "tuf_github"])]
    pub trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub tuf: crate::sigstore::tuf::TufArgs,
    /// The exact certificate identity (SAN), e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0.0.
    #[arg(long, value_name = "SAN", conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// A regular expression the whole certificate identity (SAN) must match.
    #[arg(long, value_name = "RE")]
    pub certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer, e.g. https://token.actions.githubusercontent.com [default with
    /// `--repository OWNER/REPO`: https://token.actions.githubusercontent.com].
    #[arg(long, value_name = "ISS", conflicts_with = "certificate_oidc_issuer_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole OIDC issuer must match. A certificate without an issuer
    /// extension (GitHub's own release attestations, signer https://dotcom.releases.github.com)
    /// has the issuer "", which only a pattern such as '.*' matches (as `gh release verify`).
    #[arg(long, value_name = "RE")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// The source repository: OWNER/REPO (GitHub), HOST/OWNER/REPO or https://HOST/OWNER/REPO.
    /// Binds the certificate's Source Repository URI, and the signer: a workflow of this same
    /// repository (as `gh attestation verify --repo`), unless --signer-repository,
    /// --signer-workflow or an identity flag says otherwise.
    #[arg(long, value_name = "OWNER/REPO")]
    pub repository: Option<String>,
    /// The repository whose (reusable) workflow signed, when it is not --repository itself.
    #[arg(long, value_name = "OWNER/REPO", conflicts_with_all = ["signer_workflow", "certificate_identity", "certificate_identity_regexp"])]
    pub signer_repository: Option<String>,
    /// The (reusable) workflow that signed, [HOST/]OWNER/REPO/PATH (any ref), when it is not a
    /// workflow of --repository.
    #[arg(long, value_name = "[HOST/]OWNER/REPO/PATH", conflicts_with_all = ["workflow", "certificate_identity", "certificate_identity_regexp"])]
    pub signer_workflow: Option<String>,
    /// Narrows the policy to this workflow file (release.yml, or .github/workflows/release.yml),
    /// compared with the path of the certificate's Build Signer URI. Never pins alone.
    #[arg(long, value_name = "PATH")]
    pub workflow: Option<String>,
    /// Narrows the policy to this full git ref (e.g. refs/tags/v1.0.0), compared with the
    /// certificate's Source Repository Ref. Never pins alone.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// The predicate type the signed statement must carry [default: SLSA provenance
    /// (https://slsa.dev/provenance/v1 or v0.2); with --key: npm's publish attestation type].
    #[arg(long, value_name = "URI")]
    pub predicate_type: Option<String>,
    /// A PEM public key, for bundles signed with a managed key instead of a certificate.
    #[arg(long, value_name = "PEM", conflicts_with_all = [
        "certificate_identity", "certificate_identity_regexp", "certificate_oidc_issuer",
        "certificate_oidc_issuer_regexp", "repository", "workflow", "git_ref",
        "signer_repository", "signer_workflow"
    ])]
    pub key: Option<PathBuf>,
    /// Refuse bundles without a transparency-log entry (those dated by RFC 3161 timestamps
    /// alone, as GitHub's Sigstore instance signs for private repositories). The bundle
    /// specification allows them and they verify by default; npm provenance from the public
    /// registry is always logged, so require this when a log entry is part of your policy.
    #[arg(long)]
    pub require_tlog: bool,
    /// Print one JSON object on stdout instead of text, whatever the outcome.
    #[arg(long)]
    pub json: bool,
    /// With --lockfile: another registry the lockfile's `resolved` URLs may point at (repeat it).
    #[arg(long, value_name = "URL", requires = "lockfile")]
    pub allow_registry: Vec<String>,
    /// With --lockfile: entries that are not registry tarballs (git, file:, link, bundled, no
    /// version) fail instead of being listed.
    #[arg(long, requires = "lockfile")]
    pub strict: bool,
    /// With --lockfile: packages without provenance fail instead of being listed.
    #[arg(long, requires = "lockfile")]
    pub require_provenance: bool,
    /// With --lockfile: a JSON policy file mapping package-name patterns to expected
    /// repositories and workflows, and exemptions with a reason.
    #[arg(long, value_name = "FILE", requires = "lockfile")]
    pub policy_file: Option<PathBuf>,
    /// An npm tarball, any artifact file, or a digest `sha256:<hex>` / `sha512:<hex>`; one per
    /// `--bundle`. With a bundle directory: the directory holding the tarballs [default: the
    /// bundle directory].
    #[arg(value_name = "SUBJECT")]
    pub subject: Vec<String>,
    /// Bundles verified at the same time with several bundles [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
}

/// Set once a JSON document is on stdout, so that a failure does not print a second one.
static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints the one JSON document of `--json`.
pub(crate) fn print_json(value: &Value) {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    report::data(&value.to_string());
}

/// The error's one line, without `error: `.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let line = crate::error::render(error);
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let json_output = args.json;
    let result = run_any(args).await;
    // `--json` prints JSON on stdout in every outcome, a failure included.
    if let Err(e) = &result {
        if json_output && !JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed) {
            let (kind, _) = crate::error::classify(e);
            print_json(&json!({"verified": false, "error": error_text(e), "exitCode": kind.code()}));
        }
    }
    result
}

async fn run_any(args: VerifyArgs) -> anyhow::Result<()> {
    if let Some(registry) = args.registry.clone() {
        if let Some(lockfile) = args.lockfile.clone() {
            return lockfile::run_lockfile(&args, &registry, &lockfile).await;
        }
        return registry::run(args, registry).await;
    }
    let pairs = match batch::pairs(&args.bundle, &args.subject)? {
        batch::Pairs::One(bundle, subject) => (bundle, subject),
        batch::Pairs::Many(pairs) => return run_many(&args, pairs).await,
    };
    let policy = policy_from_args(&args)?;
    let (bundle_path, subject_arg) = pairs;
    let bundle = read_bundle(&bundle_path)?;
    let trust = trusted_root(&args).await?;
    let subject = read_subject(&subject_arg, true)?;
    let predicate = predicate_rule(&args, &bundle);
    let verified = verify(&bundle, &trust, &subject, &policy, &predicate, &bundle_path, &SignatureCache::new())?;
    require_tlog(args.require_tlog, verified.log_index(), &bundle_path.display().to_string())?;
    if args.json {
        print_json(&facts_json(&verified, &subject));
    } else {
        for line in facts_text(&verified, &subject) {
            report::data(&line);
        }
    }
    Ok(())
}

/// Several bundles: verified in parallel across cores against one trusted root and policy,
/// reported as a per-package table (or one JSON object) and a summary.
async fn run_many(args: &VerifyArgs, pairs: Vec<batch::Pair>) -> anyhow::Result<()> {
    let policy = policy_from_args(args)?;
    let trust = trusted_root(args).await?;
    let jobs = args.jobs.map(|n| n as usize).unwrap_or_else(batch::cores);
    // Verification is CPU-bound, on scoped threads of its own: on a multi-thread runtime, this
    // worker hands its other tasks away first; a current-thread runtime has nothing else to run.
    let predicate = args.predicate_type.clone();
    let key = args.key.is_some();
    let verify_all = || {
        batch::verify_all(&pairs, &trust, &policy, &|bundle| default_predicate(predicate.as_deref(), key, bundle), jobs)
    };
    let mut outcomes = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => verify_all(),
        _ => tokio::task::block_in_place(verify_all),
    };
    for outcome in &mut outcomes {
        if let Ok(verified) = &outcome.result {
            if let Err(e) = require_tlog(args.require_tlog, verified.log_index, &outcome.label) {
                outcome.result = Err(e);
            }
        }
    }
    batch::report(&outcomes, args.json, batch::Items::Bundles)
}

/// `--require-tlog`: a verified bundle without a log entry is refused.
pub(crate) fn require_tlog(required: bool, log_index: Option<u64>, what: &str) -> anyhow::Result<()> {
    if required && log_index.is_none() {
        return Err(fail_with_hint(
            ExitKind::VerificationFailed,
            format!("{what}: bundle has no transparency log entry (it is dated by RFC 3161 timestamps only), and --require-tlog requires one"),
            "bundles from GitHub's Sigstore instance (private repositories) are never logged publicly; drop --require-tlog to accept them",
        ));
    }
    Ok(())
}

/// The predicate type rule: `--predicate-type`, else npm's publish type with `--key`, else
/// SLSA provenance; a message signature (no statement) is judged by `--predicate-type` only.
pub(crate) fn predicate_rule(args: &VerifyArgs, bundle: &Bundle) -> PredicateRule {
    default_predicate(args.predicate_type.as_deref(), args.key.is_some(), bundle)
}

pub(crate) fn default_predicate(explicit: Option<&str>, key: bool, bundle: &Bundle) -> PredicateRule {
    match explicit {
        Some(t) => PredicateRule::exactly(t),
        None if bundle.dsse_envelope.is_none() => PredicateRule::Any,
        None if key => PredicateRule::npm_publish(),
        None => PredicateRule::slsa_provenance(),
    }
}

/// The issuer a repository's host implies: GitHub Actions for github.com, GitLab CI for
/// gitlab.com (both as `gh`/npm know them); `None` for other hosts.
pub(crate) fn issuer_for_repository(repository_url: &str) -> Option<&'static str> {
    if repository_url.starts_with("https://github.com/") {
        Some(crate::core::well_known::GITHUB_ACTIONS_ISSUER)
    } else if repository_url.starts_with("https://gitlab.com/") {
        Some(crate::core::well_known::GITLAB_ISSUER)
    } else {
        None
    }
}

/// Builds the policy. A keyless policy needs an issuer and must pin who signed: an exact or
/// regexp identity (SAN), or a repository; `--workflow`, `--ref` and the signer flags only
/// narrow it (npm itself accepts any signer; we do not).
pub(crate) fn policy_from_args(args: &VerifyArgs) -> anyhow::Result<Policy> {
    if let Some(path) = &args.key {
        return Ok(Policy::ManagedKey { spki_der: read_public_key(path)? });
    }
    let bad_flag = |flag: &str, value: &str, hint: &str| {
        fail_with_hint(ExitKind::BadInput, format!("{flag} {value:?} is not usable"), hint.to_owned())
    };
    let repository = match &args.repository {
        Some(arg) => Some(repository_url(arg).ok_or_else(|| {
            bad_flag("--repository", arg, "pass OWNER/REPO, HOST/OWNER/REPO or https://HOST/OWNER/REPO")
        })?),
        None => None,
    };
    let issuer = match (&args.certificate_oidc_issuer, &args.certificate_oidc_issuer_regexp) {
        (Some(issuer), _) => IdentityMatcher::Exact(issuer.clone()),
        (None, Some(re)) => IdentityMatcher::regex(re).map_err(|e| {
            fail_with_hint(
                ExitKind::BadInput,
                format!("--certificate-oidc-issuer-regexp is not a valid regular expression: {e}"),
                "use Rust regex syntax; the pattern must match the whole issuer",
            )
        })?,
        // A repository on github.com or gitlab.com names its CI's issuer (as `gh attestation
        // verify --repo` assumes GitHub Actions') unless another one is named.
        (None, None) => {
            IdentityMatcher::Exact(repository.as_deref().and_then(issuer_for_repository).unwrap_or_default().to_owned())
        }
    };
    let issuer_missing = matches!(&issuer, IdentityMatcher::Exact(iss) if iss.is_empty());
    let issuer_shown = match (&args.certificate_oidc_issuer, &args.certificate_oidc_issuer_regexp) {
        (None, Some(re)) => format!("--certificate-oidc-issuer-regexp {re}"),
        _ => format!(
            "--certificate-oidc-issuer {}",
            match &issuer {
                IdentityMatcher::Exact(iss) => iss.as_str(),
                IdentityMatcher::Regex(re) => re.as_str(),
            }
        ),
    };
    let mut identity = IdentityPolicy::with_issuer(issuer);
    identity.san = match (&args.certificate_identity, &args.certificate_identity_regexp) {
        (Some(san), _) => Some(IdentityMatcher::Exact(san.clone())),
        (None, Some(re)) => Some(IdentityMatcher::regex(re).map_err(|e| {
            fail_with_hint(
                ExitKind::BadInput,
                format!("--certificate-identity-regexp is not a valid regular expression: {e}"),
                "use Rust regex syntax; the pattern must match the whole identity",
            )
        })?),
        (None, None) => None,
    };
    identity.signer = match (&args.signer_repository, &args.signer_workflow) {
        (Some(arg), _) => SignerRule::Repository(repository_url(arg).ok_or_else(|| {
            bad_flag("--signer-repository", arg, "pass OWNER/REPO, HOST/OWNER/REPO or https://HOST/OWNER/REPO")
        })?),
        (None, Some(arg)) => {
            let (repository, path) = signer_workflow(arg).ok_or_else(|| {
                bad_flag(
                    "--signer-workflow",
                    arg,
                    "pass [HOST/]OWNER/REPO/PATH, e.g. octo/tools/.github/workflows/release.yml",
                )
            })?;
            SignerRule::Workflow { repository, path }
        }
        // An identity flag pins the signer itself; otherwise the repository's own workflow.
        (None, None) if identity.san.is_none() && repository.is_some() => SignerRule::SameRepository,
        (None, None) => SignerRule::Unconstrained,
    };
    identity.source_repository_uri = repository;
    identity.workflow_path = match &args.workflow {
        Some(arg) => Some(workflow_path(arg).ok_or_else(|| {
            bad_flag("--workflow", arg, "pass the workflow file, e.g. release.yml or .github/workflows/release.yml")
        })?),
        None => None,
    };
    identity.source_ref = args.git_ref.clone();
    // A policy pins who signed: an exact identity or a repository (`--workflow` and `--ref`
    // only narrow those). Name the one flag that is missing rather than every flag there is.
    const UNPINNED: &str = "refusing to verify without an identity policy that pins who signed";
    let pins_signer = identity.san.is_some() || identity.source_repository_uri.is_some();
    match (issuer_missing, pins_signer) {
        (false, true) => {}
        (true, true) => {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "missing --certificate-oidc-issuer: an identity means nothing without the issuer that vouched for it",
                "pass --certificate-oidc-issuer URL (https://token.actions.githubusercontent.com for GitHub Actions), or --certificate-oidc-issuer-regexp RE",
            ))
        }
        (false, false) => {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                format!("{UNPINNED}: missing --repository ({issuer_shown} alone, or with --workflow or --ref, accepts anyone that issuer knows)"),
                "add --repository OWNER/REPO (or --certificate-identity URI) naming who must have built the package; --key for a managed key",
            ))
        }
        (true, false) => {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                format!("{UNPINNED}: missing --repository"),
                "pass --repository OWNER/REPO, the GitHub repository whose workflow built the package (see `npm-attest verify --help`)",
            ))
        }
    }
    Ok(Policy::Keyless(identity))
}

/// Runs the verifier and classifies its error; `cache` is the batch's (see
/// [`crate::core::verify::pki::SignatureCache`]).
pub fn verify(
    bundle: &Bundle,
    trust: &TrustedRoot,
    subject: &Subject,
    policy: &Policy,
    predicate: &PredicateRule,
    bundle_path: &Path,
    cache: &SignatureCache,
) -> anyhow::Result<VerifiedBundle> {
    verify_attestation_with(bundle, trust, subject, policy, predicate, cache).map_err(|e: VerifyError| {
        let kind = match e.blame() {
            Blame::Malformed => ExitKind::BadInput,
            Blame::Failed | Blame::Policy => ExitKind::VerificationFailed,
        };
        let message = format!("{}: {e}", bundle_path.display());
        if e.blame() == Blame::Failed && made_by_a_dry_run(bundle) {
            return fail_with_hint(
                kind,
                message,
                "this bundle was made by a dry run; pass --trusted-root PATH with the trusted_root.json written beside it",
            );
        }
        let trusts_github = trust.certificate_authorities.iter().any(|ca| ca.uri.contains(GITHUB_FULCIO_HOST));
        if e.blame() == Blame::Failed && made_by_githubs_instance(bundle) && !trusts_github {
            return fail_with_hint(
                kind,
                message,
                "this bundle comes from GitHub's own Sigstore instance (private repositories, release attestations), which this trusted root does not cover: pass --tuf-github (as gh attestation verify picks it), or --trusted-root with GitHub's trusted_root.json",
            );
        }
        fail(kind, message)
    })
}

/// GitHub's Fulcio, as GitHub's trusted root names its certificate authorities.
const GITHUB_FULCIO_HOST: &str = "fulcio.githubapp.com";

/// Whether the bundle's leaf was issued by GitHub's Fulcio (`O=GitHub, Inc., CN=Fulcio
/// Intermediate ...`), for the hint only: the verifier decides trust.
fn made_by_githubs_instance(bundle: &Bundle) -> bool {
    leaf_der(bundle)
        .and_then(crate::core::verify::x509::issuer_text)
        .is_some_and(|issuer| issuer.contains("O=GitHub") && issuer.contains("CN=Fulcio Intermediate"))
}

/// The trusted root `verify` checks against: `--trusted-root FILE` as it is, else
/// `trusted_root.json` through TUF (`--tuf-url`, `--tuf-staging`, `--offline`; public-good
/// production by default).
pub async fn trusted_root(args: &VerifyArgs) -> anyhow::Result<TrustedRoot> {
    if let Some(path) = &args.trusted_root {
        return read_trusted_root(Some(path), false);
    }
    // `trust_material` says where it came from when that is not a fresh refresh.
    let fetched = crate::sigstore::tuf::trust_material(&args.tuf.repository()?, args.tuf.offline).await?;
    fetched.trusted_root()
}

/// Whether the bundle's certificate was issued by the local stand-in's CA (`O=npm-attest.local`),
/// as `attest --dry-run` bundles are: only the trusted root that run wrote verifies them.
fn made_by_a_dry_run(bundle: &Bundle) -> bool {
    const STANDIN_ORGANIZATION: &[u8] = b"npm-attest.local";
    leaf_der(bundle).is_some_and(|der| der.windows(STANDIN_ORGANIZATION.len()).any(|w| w == STANDIN_ORGANIZATION))
}

/// The bundle's leaf certificate (DER), unparsed: v0.3's `certificate`, or the first of a
/// v0.1/v0.2 chain.
fn leaf_der(bundle: &Bundle) -> Option<&[u8]> {
    let material = &bundle.verification_material;
    material
        .certificate
        .as_ref()
        .or_else(|| material.x509_certificate_chain.as_ref().and_then(|c| c.certificates.first()))
        .map(|cert| cert.raw_bytes.as_slice())
}

/// Parses `sha256:<64 hex>` / `sha384:<96 hex>` / `sha512:<128 hex>`.
fn parse_digest(arg: &str) -> Option<ArtifactDigests> {
    let (alg, hex_text) = arg.split_once(':')?;
    let bytes = hex::decode(hex_text).ok()?;
    match alg {
        "sha256" => Some(ArtifactDigests { sha256: Some(bytes.try_into().ok()?), sha384: None, sha512: None }),
        "sha384" => Some(ArtifactDigests { sha256: None, sha384: Some(bytes.try_into().ok()?), sha512: None }),
        "sha512" => Some(ArtifactDigests { sha256: None, sha384: None, sha512: Some(bytes.try_into().ok()?) }),
        _ => None,
    }
}

/// The subject argument: a digest (when it has a digest's form and is not an existing path),
/// an npm tarball (when `npm_aware` and the file is a gzip'd tar with `<top-level dir>/package.json`),
/// or any artifact file.
pub fn read_subject(arg: &str, npm_aware: bool) -> anyhow::Result<Subject> {
    let path = Path::new(arg);
    if !path.exists() {
        if let Some(digests) = parse_digest(arg) {
            return Ok(Subject::Artifact(digests));
        }
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("subject {arg} is neither a file nor a digest"),
            "pass an npm tarball, an artifact file, or sha256:<64 hex> / sha384:<96 hex> / sha512:<128 hex>",
        ));
    }
    let digests = hash_file(path)?;
    if npm_aware {
        if let Some((name, version)) = npm_manifest(path)? {
            let sha512 = digests.sha512.ok_or_else(|| fail(ExitKind::Internal, "tarball digest missing"))?;
            return Ok(Subject::NpmPackage(NpmPackage { name, version, sha512 }));
        }
    }
    Ok(Subject::Artifact(digests))
}

/// SHA-256, SHA-384 and SHA-512 of a file, streamed (one read; SHA-384 for message signatures
/// by P-384 signers).
fn hash_file(path: &Path) -> anyhow::Result<ArtifactDigests> {
    let cannot = |e: std::io::Error| fail(ExitKind::BadInput, format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut sha256 = sha2::Sha256::new();
    let mut sha384 = sha2::Sha384::new();
    let mut sha512 = sha2::Sha512::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(cannot)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha384.update(&buf[..n]);
        sha512.update(&buf[..n]);
    }
    Ok(ArtifactDigests {
        sha256: Some(sha256.finalize().into()),
        sha384: Some(sha384.finalize().into()),
        sha512: Some(sha512.finalize().into()),
    })
}

/// `name` and `version` from `package/package.json` when `path` is an npm tarball, read by the
/// same reader `attest` and `publish` use (so the purl is built from the same cleaned version);
/// `None` when the file is not a gzip'd tar holding a `package/package.json` (then it is a plain
/// artifact).
fn npm_manifest(path: &Path) -> anyhow::Result<Option<(String, String)>> {
    use crate::npm::tarball::{read_package, TarballError};
    match read_package(path) {
        Ok(package) => Ok(Some((package.name.as_str().to_owned(), package.version.as_str().to_owned()))),
        Err(
            TarballError::NotGzip
            | TarballError::CorruptGzip { .. }
            | TarballError::Truncated
            | TarballError::NotTar { .. }
            | TarballError::NoPackageJson
            // Larger than any npm tarball: a gzip'd artifact of another kind, hashed as a file.
            | TarballError::TooLarge { .. }
            | TarballError::UnpackedTooLarge { .. },
        ) => Ok(None),
        Err(e) => Err(fail_with_hint(
            ExitKind::BadInput,
            format!("npm tarball {}: {e}", path.display()),
            "pass the .tgz that `npm pack` produced, or a sha512:<hex> digest",
        )),
    }
}

pub(crate) fn subject_label(subject: &Subject) -> String {
    match subject {
        Subject::NpmPackage(p) => p.purl(),
        Subject::Artifact(d) => match (d.sha256, d.sha512) {
            (Some(h), _) => format!("sha256:{}", hex::encode(h)),
            (None, Some(h)) => format!("sha512:{}", hex::encode(h)),
            (None, None) => "artifact".into(),
        },
    }
}

fn time_source(source: &TimeSource) -> String {
    match source {
        TimeSource::TransparencyLog { log_index } => format!("transparency log, index {log_index}"),
        TimeSource::Timestamp { authority_uri } => format!("RFC 3161 timestamp, {authority_uri}"),
    }
}

/// The human-readable facts.
pub fn facts_text(v: &VerifiedBundle, subject: &Subject) -> Vec<String> {
    let mut lines = vec![format!("verified: {}", subject_label(subject))];
    match &v.signer() {
        VerifiedSigner::Certificate(id) => {
            lines.push(format!("  identity:          {}", id.san.value()));
            let issuer = if id.issuer.is_empty() { "none (the certificate names no OIDC issuer)" } else { &id.issuer };
            lines.push(format!("  issuer:            {issuer}"));
            let ext = |e| id.extension(e).unwrap_or("-");
            lines.push(format!(
                "  source repository: {} @ {}",
                ext(SigstoreExtension::SourceRepositoryUri),
                ext(SigstoreExtension::SourceRepositoryDigest)
            ));
            lines.push(format!("  ref:               {}", ext(SigstoreExtension::SourceRepositoryRef)));
            lines.push(format!("  workflow:          {}", ext(SigstoreExtension::BuildSignerUri)));
            lines.push(format!("  runner:            {}", ext(SigstoreExtension::RunnerEnvironment)));
            lines.push(format!("  run:               {}", ext(SigstoreExtension::RunInvocationUri)));
        }
        VerifiedSigner::ManagedKey { hint } => {
            lines
                .push(format!("  signer:            managed key {}", if hint.is_empty() { "(no hint)" } else { hint }));
        }
    }
    if let Some(st) = v.statement() {
        lines.push(format!("  predicate:         {}", st.predicate_type));
    }
    match v.log_entry() {
        Some(entry) => lines.push(format!("  log index:         {} ({})", entry.log_index, entry.log_base_url)),
        None => lines.push("  log index:         none (RFC 3161 timestamps only)".to_owned()),
    }
    for t in v.signed_times() {
        lines.push(format!("  signed at:         {} ({})", t.time.to_rfc3339(), time_source(&t.source)));
    }
    if v.signed_times().is_empty() {
        // Only a managed key verifies without one: it has no validity window to check.
        lines.push(
            "  signed at:         not dated (a managed key; the log's signed checkpoint includes the entry)".to_owned(),
        );
    }
    lines
}

/// The facts as one JSON object.
pub fn facts_json(v: &VerifiedBundle, subject: &Subject) -> Value {
    let signer = match &v.signer() {
        VerifiedSigner::Certificate(id) => {
            let mut extensions = Map::new();
            for (k, value) in &id.extensions {
                extensions.insert(k.name().to_owned(), Value::String(value.clone()));
            }
            json!({
                "kind": "certificate",
                "san": id.san.value(),
                "issuer": id.issuer,
                "notBefore": id.not_before.to_rfc3339(),
                "notAfter": id.not_after.to_rfc3339(),
                "certificateAuthority": id.authority_uri,
                "ctLog": id.ct_log,
                "extensions": extensions,
            })
        }
        VerifiedSigner::ManagedKey { hint } => json!({ "kind": "key", "hint": hint }),
    };
    let times: Vec<Value> = v
        .signed_times()
        .iter()
        .map(|t| match &t.source {
            TimeSource::TransparencyLog { log_index } => {
                json!({ "time": t.time.to_rfc3339(), "source": "tlog", "logIndex": log_index })
            }
            TimeSource::Timestamp { authority_uri } => {
                json!({ "time": t.time.to_rfc3339(), "source": "rfc3161", "authority": authority_uri })
            }
        })
        .collect();
    let statement = v.statement().map(|st| {
        json!({
            "type": st.statement_type,
            "predicateType": st.predicate_type,
            "subjects": st.subjects.iter().map(|s| {
                let digests: Map<String, Value> = s.digests.iter().map(|(a, h)| (a.clone(), Value::String(h.clone()))).collect();
                json!({ "name": s.name, "digest": digests })
            }).collect::<Vec<_>>(),
        })
    });
    json!({
        "verified": true,
        "subject": subject_label(subject),
        "mediaType": v.media_type(),
        "signer": signer,
        "logIndex": v.log_entry().map(|e| e.log_index),
        "log": v.log_entry().map(|e| e.log_base_url.clone()),
        "signingTime": v.signing_time().map(UnixTime::to_rfc3339),
        "signedTimes": times,
        "statement": statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_only_in_their_exact_form() {
        let d = parse_digest(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        assert_eq!(d.sha256, Some([0xab; 32]));
        assert!(parse_digest(&format!("sha512:{}", "cd".repeat(64))).unwrap().sha512.is_some());
        assert!(parse_digest(&format!("sha256:{}", "ab".repeat(31))).is_none());
        assert!(parse_digest(&format!("sha1:{}", "ab".repeat(20))).is_none());
        assert!(parse_digest("sha256:zz").is_none());
    }

    #[test]
    fn embedded_roots_parse() {
        assert!(read_trusted_root(None, false).unwrap().certificate_authorities.len() >= 2);
        assert!(!read_trusted_root(None, true).unwrap().tlogs.is_empty());
    }
}
