//! `npm-attest verify --registry URL NAME@VERSION`: verify a published package's provenance
//! with an identity policy. The packument names the tarball and its integrity; the tarball is
//! downloaded and must match that integrity; the provenance bundle from the attestations
//! endpoint (npm-provenance.md §8.1) must verify for that tarball, under the policy.

use serde_json::Value;

use crate::cmd::verify::{facts_json, facts_text, policy_from_args, print_json, VerifyArgs};
use crate::core::npm::{PackageName, PackageVersion};
use crate::core::verify::{
    verify_attestation, Blame, NpmPackage, Policy, PredicateRule, Subject, VerifiedBundle, VerifyError,
};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::encoding::b64_encode;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, RetryPolicy};
use crate::npm::registry::Registry;
use crate::report;

/// At most this many attestations of one version are tried.
const MAX_ATTESTATIONS: usize = 16;

/// `name@version` (`@scope/name@version` keeps its leading `@`).
pub(crate) fn parse_spec(spec: &str) -> anyhow::Result<(PackageName, PackageVersion)> {
    let bad = || {
        fail_with_hint(
            ExitKind::BadInput,
            format!("{spec:?} is not NAME@VERSION"),
            "with --registry, pass the package as NAME@VERSION, e.g. left-pad@1.3.0 or @scope/pkg@2.0.0",
        )
    };
    let at = spec.rfind('@').filter(|i| *i > 0).ok_or_else(bad)?;
    let name = PackageName::parse(&spec[..at]).map_err(|e| fail(ExitKind::BadInput, format!("{spec}: {e}")))?;
    let version =
        PackageVersion::clean(&spec[at + 1..]).map_err(|e| fail(ExitKind::BadInput, format!("{spec}: {e}")))?;
    Ok((name, version))
}

pub async fn run(args: VerifyArgs, registry_url: String) -> anyhow::Result<()> {
    let policy = policy_from_args(&args)?;
    let trust = crate::cmd::verify::trusted_root(&args).await?;
    let spec = match args.subject.as_slice() {
        [one] => one.as_str(),
        _ => {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "--registry takes one NAME@VERSION",
                "pass one package, or --lockfile package-lock.json for all of a project's packages",
            ))
        }
    };
    let (name, version) = parse_spec(spec)?;
    let registry = registry_client(&registry_url)?;
    let predicate = match (&args.predicate_type, args.key.is_some()) {
        (Some(t), _) => PredicateRule::exactly(t.clone()),
        (None, true) => PredicateRule::npm_publish(),
        (None, false) => PredicateRule::slsa_provenance(),
    };
    let (verified, subject) = verify_published(&registry, &trust, &policy, &predicate, &name, version.as_str()).await?;
    if args.json {
        print_json(&facts_json(&verified, &subject));
    } else {
        for line in facts_text(&verified, &subject) {
            report::data(&line);
        }
    }
    Ok(())
}

/// A registry client for `--registry URL`.
pub(crate) fn registry_client(registry_url: &str) -> anyhow::Result<Registry> {
    match url::Url::parse(registry_url) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
        _ => return Err(fail(ExitKind::BadInput, format!("--registry {registry_url:?} is not an http(s) URL"))),
    }
    Ok(Registry::new(Http::new(RetryPolicy::default())?, registry_url))
}

/// Whether `url` has the scheme, host and port of `base` (the attestations of a package are
/// read from the registry that was asked, never from a host the packument names).
pub(crate) fn same_origin(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// The packument version of `name@version` and the sha512 of its tarball (fetched and
/// checked against the packument's integrity, or for an earlier version, the integrity alone).
pub(crate) struct PublishedVersion {
    pub manifest: Value,
    pub tarball_sha512: [u8; 64],
}

pub(crate) async fn fetch_version(
    registry: &Registry,
    packument: &Value,
    name: &PackageName,
    version: &str,
) -> anyhow::Result<PublishedVersion> {
    let spec = format!("{name}@{version}");
    let manifest = packument.get("versions").and_then(|v| v.get(version)).cloned().ok_or_else(|| {
        fail_with_hint(ExitKind::BadInput, format!("{spec} is not on {}", registry.base()), "check the version")
    })?;
    let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
    let integrity = dist.get("integrity").and_then(Value::as_str).unwrap_or_default();
    let tarball_url = dist
        .get("tarball")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(ExitKind::Remote, format!("the packument of {spec} names no tarball")))?;

    // The tarball must be the one the packument's integrity names.
    let sha512 = registry.tarball_sha512(tarball_url).await?;
    let ours = format!("sha512-{}", b64_encode(sha512));
    if !integrity.starts_with("sha512-") {
        return Err(fail(
            ExitKind::VerificationFailed,
            format!("the packument of {spec} has no sha512 integrity ({integrity:?})"),
        ));
    }
    if integrity != ours {
        return Err(fail(
            ExitKind::VerificationFailed,
            format!("the tarball of {spec} does not match the packument's integrity: {integrity} was promised, {ours} was downloaded"),
        ));
    }
    Ok(PublishedVersion { manifest, tarball_sha512: sha512 })
}

/// Whether the packument version announces attestations (`dist.attestations`).
pub(crate) fn announces_attestations(manifest: &Value) -> bool {
    manifest.get("dist").and_then(|d| d.get("attestations")).is_some_and(|a| !a.is_null())
}

/// The attestations of `name@version` on `registry`, each verified for `sha512` under `policy`
/// and `predicate`; the first that verifies is returned. The registry's listing (and its
/// unsigned `predicateType`) only says where to look: the attestation is chosen by what was
/// signed.
pub(crate) async fn verify_attestations(
    registry: &Registry,
    trust: &TrustedRoot,
    policy: &Policy,
    predicate: &PredicateRule,
    name: &PackageName,
    version: &str,
    published: &PublishedVersion,
) -> anyhow::Result<(VerifiedBundle, Subject)> {
    let (manifest, sha512) = (&published.manifest, published.tarball_sha512);
    let spec = format!("{name}@{version}");
    // Fetched on the registry's own origin (scheme, host and port): a packument cannot send
    // the verifier to another server for the attestations.
    let announced = manifest.get("dist").and_then(|d| d.get("attestations")).and_then(|a| a.get("url"));
    let attestations_url = announced
        .and_then(Value::as_str)
        .filter(|u| same_origin(u, registry.base()))
        .map(str::to_owned)
        .unwrap_or_else(|| registry.attestations_url(name, version));
    let answer = registry.attestations(&attestations_url).await?;
    let list = answer.get("attestations").and_then(Value::as_array).cloned().unwrap_or_default();
    let subject = Subject::NpmPackage(NpmPackage { name: name.to_string(), version: version.to_owned(), sha512 });
    let mut best: Option<VerifyError> = None;
    for entry in list.iter().take(MAX_ATTESTATIONS) {
        let Ok(bundle) = serde_json::from_value::<Bundle>(entry.get("bundle").cloned().unwrap_or(Value::Null)) else {
            continue;
        };
        match verify_attestation(&bundle, trust, &subject, policy, predicate) {
            // npm provenance on a registry is always logged publicly: a bundle dated by RFC 3161
            // timestamps alone (the form GitHub's instance gives private repositories) is not
            // accepted here, whatever else verified.
            Ok(verified) if verified.log_entry().is_none() => {
                best = Some(VerifyError::PolicyMismatch {
                    field: "transparency log entry",
                    expected: "an entry in a transparency log (registry provenance is always logged)".into(),
                    found: "none (RFC 3161 timestamps only)".into(),
                });
            }
            Ok(verified) => return Ok((verified, subject)),
            // A bundle of another kind (the publish attestation under a keyless policy, or
            // another predicate) says least; keep the most specific failure.
            Err(e) => {
                let uninformative = |e: &VerifyError| {
                    matches!(e, VerifyError::PolicyMismatch { field: "signer" | "predicate type", .. })
                };
                if best.as_ref().is_none_or(|b| uninformative(b) && !uninformative(&e)) {
                    best = Some(e);
                }
            }
        }
    }
    Err(match best {
        Some(e) => {
            let kind = match e.blame() {
                Blame::Malformed => ExitKind::BadInput,
                _ => ExitKind::VerificationFailed,
            };
            fail(kind, format!("the provenance of {spec} on {}: {e}", registry.base()))
        }
        None => fail(
            ExitKind::VerificationFailed,
            format!("the registry lists no Sigstore bundle for {spec} ({})", predicate.describe()),
        ),
    })
}

/// Verifies the provenance of `name@version` as published on `registry` (packument, tarball
/// against its integrity, the attestations endpoint's bundles against the tarball, policy and
/// predicate type).
pub(crate) async fn verify_published(
    registry: &Registry,
    trust: &TrustedRoot,
    policy: &Policy,
    predicate: &PredicateRule,
    name: &PackageName,
    version: &str,
) -> anyhow::Result<(VerifiedBundle, Subject)> {
    let spec = format!("{name}@{version}");
    let packument = registry.packument(name, None).await?.ok_or_else(|| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("{name} is not on {}", registry.base()),
            "check the package name and --registry",
        )
    })?;
    let published = fetch_version(registry, &packument, name, version).await?;
    if !announces_attestations(&published.manifest) {
        return Err(fail_with_hint(
            ExitKind::VerificationFailed,
            format!("{spec} on {} has no provenance (no dist.attestations)", registry.base()),
            "the package was published without provenance",
        ));
    }
    verify_attestations(registry, trust, policy, predicate, name, version, &published).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_urls_must_share_the_registrys_origin() {
        let base = "http://127.0.0.1:4873/";
        assert!(same_origin("http://127.0.0.1:4873/-/npm/v1/attestations/x@1.0.0", base));
        assert!(!same_origin("http://127.0.0.1:4874/-/npm/v1/attestations/x@1.0.0", base));
        assert!(!same_origin("https://127.0.0.1:4873/-/npm/v1/attestations/x@1.0.0", base));
        assert!(!same_origin("http://evil.example:4873/x", base));
        assert!(same_origin("https://registry.npmjs.org/-/npm/v1/attestations/x@1", "https://registry.npmjs.org:443/"));
    }

    #[test]
    fn specs_split_at_the_last_at() {
        let (n, v) = parse_spec("@scope/pkg@2.0.0").unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("@scope/pkg", "2.0.0"));
        let (n, v) = parse_spec("left-pad@1.3.0").unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("left-pad", "1.3.0"));
        assert!(parse_spec("@scope/pkg").is_err());
        assert!(parse_spec("left-pad").is_err());
        assert!(parse_spec("left-pad@not-a-version").is_err());
    }
}
