//! `npm-attest verify --registry URL NAME@VERSION`: verify a published package's provenance
//! with an identity policy. The packument names the tarball and its integrity; the tarball is
//! downloaded and must match that integrity; the provenance bundle from the attestations
//! endpoint (npm-provenance.md §8.1) must verify for that tarball, under the policy.

use serde_json::Value;
use sha2::Digest as _;

use crate::cmd::verify::{facts_json, facts_text, policy_from_args, VerifyArgs};
use crate::core::npm::{PackageName, PackageVersion};
use crate::core::verify::{verify_bundle, Blame, NpmPackage, Policy, Subject, VerifiedBundle};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::encoding::b64_encode;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, RetryPolicy};
use crate::npm::registry::Registry;
use crate::report;
use crate::sigstore::trust::read_trusted_root;

/// The statement types npm provenance uses (SLSA v1 and v0.2).
const PROVENANCE_PREFIX: &str = "https://slsa.dev/provenance/";

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
    let trust = read_trusted_root(args.trusted_root.as_deref(), false)?;
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
    let (verified, subject) = verify_published(&registry, &trust, &policy, &name, version.as_str()).await?;
    if args.json {
        report::data(&facts_json(&verified, &subject).to_string());
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

/// Verifies the provenance of `name@version` as published on `registry` (packument, tarball
/// against its integrity, the attestations endpoint's bundle against the tarball and policy).
pub(crate) async fn verify_published(
    registry: &Registry,
    trust: &TrustedRoot,
    policy: &Policy,
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
    let manifest = packument.get("versions").and_then(|v| v.get(version)).ok_or_else(|| {
        fail_with_hint(ExitKind::BadInput, format!("{spec} is not on {}", registry.base()), "check the version")
    })?;
    let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
    let integrity = dist.get("integrity").and_then(Value::as_str).unwrap_or_default();
    let tarball_url = dist
        .get("tarball")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(ExitKind::Remote, format!("the packument of {spec} names no tarball")))?;

    // The tarball must be the one the packument's integrity names.
    let tarball = registry.tarball(tarball_url).await?;
    let sha512: [u8; 64] = sha2::Sha512::digest(&tarball).into();
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

    // The provenance bundle: the packument must announce it; fetch it on this registry's host.
    let announced = dist.get("attestations").and_then(|a| a.get("url")).and_then(Value::as_str);
    if announced.is_none() {
        return Err(fail_with_hint(
            ExitKind::VerificationFailed,
            format!("{spec} on {} has no provenance (no dist.attestations)", registry.base()),
            "the package was published without provenance",
        ));
    }
    let attestations_url = announced
        .filter(|u| url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_owned)) == Some(registry.host()))
        .map(str::to_owned)
        .unwrap_or_else(|| registry.attestations_url(name, version));
    let answer = registry.attestations(&attestations_url).await?;
    let entry = answer
        .get("attestations")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter().find(|a| {
                a.get("predicateType").and_then(Value::as_str).is_some_and(|t| t.starts_with(PROVENANCE_PREFIX))
            })
        })
        .ok_or_else(|| {
            fail(ExitKind::VerificationFailed, format!("the registry lists no provenance attestation for {spec}"))
        })?;
    let bundle: Bundle = serde_json::from_value(entry.get("bundle").cloned().unwrap_or(Value::Null)).map_err(|e| {
        fail(ExitKind::BadInput, format!("the provenance bundle of {spec} is not a Sigstore bundle: {e}"))
    })?;

    let subject = Subject::NpmPackage(NpmPackage { name: name.to_string(), version: version.to_owned(), sha512 });
    let verified = verify_bundle(&bundle, trust, &subject, policy).map_err(|e| {
        let kind = match e.blame() {
            Blame::Malformed => ExitKind::BadInput,
            _ => ExitKind::VerificationFailed,
        };
        fail(kind, format!("the provenance of {spec} on {}: {e}", registry.base()))
    })?;
    Ok((verified, subject))
}

#[cfg(test)]
mod tests {
    use super::*;

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
