//! `npm-attest verify`: read the bundle, trusted root, key and subject from disk, run the pure
//! verifier (`core::verify`), and print what was proven.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::core::time::UnixTime;
use crate::core::verify::x509::SigstoreExtension;
use crate::core::verify::{
    verify_bundle, ArtifactDigests, Blame, IdentityPolicy, NpmPackage, Policy, SanMatcher, Subject, TimeSource,
    VerifiedBundle, VerifiedSigner, VerifyError,
};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::report;
use crate::sigstore::trust::{read_bundle, read_public_key, read_trusted_root};

pub(crate) mod batch;
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
    /// A trusted_root.json to use instead of the embedded Sigstore public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The exact certificate identity (SAN), e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0.0.
    #[arg(long, value_name = "SAN", conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// A regular expression the whole certificate identity (SAN) must match.
    #[arg(long, value_name = "RE")]
    pub certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer, e.g. https://token.actions.githubusercontent.com [default with
    /// `--repository OWNER/REPO`: https://token.actions.githubusercontent.com].
    #[arg(long, value_name = "ISS")]
    pub certificate_oidc_issuer: Option<String>,
    /// The source repository (OWNER/REPO, or a full URL), checked against the certificate's Source Repository URI.
    #[arg(long, value_name = "OWNER/REPO")]
    pub repository: Option<String>,
    /// The workflow file (e.g. .github/workflows/release.yml), checked against the certificate's Build Signer URI.
    #[arg(long, value_name = "PATH")]
    pub workflow: Option<String>,
    /// The full git ref (e.g. refs/tags/v1.0.0), checked against the certificate's Source Repository Ref.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// A PEM public key, for bundles signed with a managed key instead of a certificate.
    #[arg(long, value_name = "PEM", conflicts_with_all = [
        "certificate_identity", "certificate_identity_regexp", "certificate_oidc_issuer", "repository", "workflow", "git_ref"
    ])]
    pub key: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// An npm tarball, any artifact file, or a digest `sha256:<hex>` / `sha512:<hex>`; one per
    /// `--bundle`. With a bundle directory: the directory holding the tarballs [default: the
    /// bundle directory].
    #[arg(value_name = "SUBJECT")]
    pub subject: Vec<String>,
    /// Bundles verified at the same time with several bundles [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    if let Some(registry) = args.registry.clone() {
        if let Some(lockfile) = args.lockfile.clone() {
            return batch::run_lockfile(&args, &registry, &lockfile).await;
        }
        return registry::run(args, registry).await;
    }
    let pairs = match batch::pairs(&args.bundle, &args.subject)? {
        batch::Pairs::One(bundle, subject) => (bundle, subject),
        batch::Pairs::Many(pairs) => return run_many(&args, pairs),
    };
    let policy = policy_from_args(&args)?;
    let (bundle_path, subject_arg) = pairs;
    let bundle = read_bundle(&bundle_path)?;
    let trust = read_trusted_root(args.trusted_root.as_deref(), false)?;
    let subject = read_subject(&subject_arg, true)?;
    let verified = verify(&bundle, &trust, &subject, &policy, &bundle_path)?;
    if args.json {
        report::data(&facts_json(&verified, &subject).to_string());
    } else {
        for line in facts_text(&verified, &subject) {
            report::data(&line);
        }
    }
    Ok(())
}

/// Several bundles: verified in parallel across cores against one trusted root and policy,
/// reported as a per-package table (or one JSON object) and a summary.
fn run_many(args: &VerifyArgs, pairs: Vec<batch::Pair>) -> anyhow::Result<()> {
    let policy = policy_from_args(args)?;
    let trust = read_trusted_root(args.trusted_root.as_deref(), false)?;
    let jobs = args.jobs.map(|n| n as usize).unwrap_or_else(batch::cores);
    // Verification is CPU-bound: run it on this runtime thread's blocking slot.
    let outcomes = tokio::task::block_in_place(|| batch::verify_all(&pairs, &trust, &policy, jobs));
    batch::report(&outcomes, args.json, batch::Items::Bundles)
}

/// Builds the policy, refusing keyless verification without an issuer and an identity
/// constraint (npm itself accepts any signer; we do not).
pub(crate) fn policy_from_args(args: &VerifyArgs) -> anyhow::Result<Policy> {
    if let Some(path) = &args.key {
        return Ok(Policy::ManagedKey { spki_der: read_public_key(path)? });
    }
    let issuer = match &args.certificate_oidc_issuer {
        Some(issuer) => issuer.clone(),
        // `--repository OWNER/REPO` is GitHub's shorthand (as `gh attestation verify --repo`
        // is), so its issuer is GitHub Actions' unless another one is named.
        None if args.repository.as_deref().is_some_and(|r| !r.contains("://")) => {
            crate::core::well_known::GITHUB_ACTIONS_ISSUER.to_owned()
        }
        None => String::new(),
    };
    let mut identity = IdentityPolicy::new(issuer.clone());
    identity.san = match (&args.certificate_identity, &args.certificate_identity_regexp) {
        (Some(san), _) => Some(SanMatcher::Exact(san.clone())),
        (None, Some(re)) => Some(SanMatcher::regex(re).map_err(|e| {
            fail_with_hint(
                ExitKind::BadInput,
                format!("--certificate-identity-regexp is not a valid regular expression: {e}"),
                "use Rust regex syntax; the pattern must match the whole identity",
            )
        })?),
        (None, None) => None,
    };
    identity.source_repository_uri = args.repository.as_deref().map(repository_uri);
    identity.workflow_path = args.workflow.clone();
    identity.source_ref = args.git_ref.clone();
    let has_identity = identity.san.is_some()
        || identity.source_repository_uri.is_some()
        || identity.workflow_path.is_some()
        || identity.source_ref.is_some();
    if issuer.is_empty() || !has_identity {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "refusing to verify without an identity policy",
            "pass --certificate-oidc-issuer and one of --certificate-identity, --certificate-identity-regexp, --repository, --workflow, --ref (or --key for a managed key)",
        ));
    }
    Ok(Policy::Keyless(identity))
}

/// `OWNER/REPO` becomes `https://github.com/OWNER/REPO`; a full URL is kept.
fn repository_uri(repo: &str) -> String {
    let repo = repo.trim().trim_end_matches('/');
    if repo.contains("://") {
        repo.to_owned()
    } else {
        format!("https://github.com/{repo}")
    }
}

/// Runs the verifier and classifies its error.
pub fn verify(
    bundle: &Bundle,
    trust: &TrustedRoot,
    subject: &Subject,
    policy: &Policy,
    bundle_path: &Path,
) -> anyhow::Result<VerifiedBundle> {
    verify_bundle(bundle, trust, subject, policy).map_err(|e: VerifyError| {
        let kind = match e.blame() {
            Blame::Malformed => ExitKind::BadInput,
            Blame::Failed | Blame::Policy => ExitKind::VerificationFailed,
        };
        fail(kind, format!("{}: {e}", bundle_path.display()))
    })
}

/// Parses `sha256:<64 hex>` / `sha512:<128 hex>`.
fn parse_digest(arg: &str) -> Option<ArtifactDigests> {
    let (alg, hex_text) = arg.split_once(':')?;
    let bytes = hex::decode(hex_text).ok()?;
    match alg {
        "sha256" => Some(ArtifactDigests { sha256: Some(bytes.try_into().ok()?), sha512: None }),
        "sha512" => Some(ArtifactDigests { sha256: None, sha512: Some(bytes.try_into().ok()?) }),
        _ => None,
    }
}

/// The subject argument: a digest (when it has a digest's form and is not an existing path),
/// an npm tarball (when `npm_aware` and the file is a gzip'd tar with `package/package.json`),
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
            "pass an npm tarball, an artifact file, or sha256:<64 hex> / sha512:<128 hex>",
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

/// SHA-256 and SHA-512 of a file, streamed.
fn hash_file(path: &Path) -> anyhow::Result<ArtifactDigests> {
    let cannot = |e: std::io::Error| fail(ExitKind::BadInput, format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut sha256 = sha2::Sha256::new();
    let mut sha512 = sha2::Sha512::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(cannot)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha512.update(&buf[..n]);
    }
    Ok(ArtifactDigests { sha256: Some(sha256.finalize().into()), sha512: Some(sha512.finalize().into()) })
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
    match &v.signer {
        VerifiedSigner::Certificate(id) => {
            lines.push(format!("  identity:          {}", id.san.value()));
            lines.push(format!("  issuer:            {}", id.issuer));
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
    if let Some(st) = &v.statement {
        lines.push(format!("  predicate:         {}", st.predicate_type));
    }
    lines.push(format!("  log index:         {} ({})", v.log_entry.log_index, v.log_entry.log_base_url));
    for t in &v.signed_times {
        lines.push(format!("  signed at:         {} ({})", t.time.to_rfc3339(), time_source(&t.source)));
    }
    lines
}

/// The facts as one JSON object.
pub fn facts_json(v: &VerifiedBundle, subject: &Subject) -> Value {
    let signer = match &v.signer {
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
        .signed_times
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
    let statement = v.statement.as_ref().map(|st| {
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
        "mediaType": v.media_type,
        "signer": signer,
        "logIndex": v.log_entry.log_index,
        "log": v.log_entry.log_base_url,
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

    #[test]
    fn repository_shorthand_is_a_github_url() {
        assert_eq!(repository_uri("o/r"), "https://github.com/o/r");
        assert_eq!(repository_uri("https://gitlab.com/o/r/"), "https://gitlab.com/o/r");
    }
}
