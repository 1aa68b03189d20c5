//! The one post-signing self-check: a bundle is verified as a consumer would verify it before
//! anything writes it (`attest`) or uploads it (`publish`, also for `--bundle`).
//!
//! The policy, decided once here (ARCHITECTURE.md, "Self-check"):
//! - **Who**: a bundle we signed must name exactly the identity our own token names (issuer and
//!   SAN, as Fulcio derives them: `core::jwt::certificate_identity`), and, under GitHub Actions,
//!   the repository the runner says it builds. A given bundle (`publish --bundle`) must name the
//!   repository of the package it is published for.
//! - **What**: an SLSA provenance statement about this exact tarball (name, version, sha512).
//! - **Trusted by what**: the trusted root of the instance that signed. The local stand-in's (as
//!   its TUF repository serves it), a root given with `--trusted-root`, and public-good's (or a
//!   `--tuf-url` instance's, or GitHub's) fresh from TUF are exact: every failure refuses. A
//!   bundle of GitHub's instance (private repositories) carries no log entry and no SCT: its
//!   root lists neither a transparency nor a CT log, so the RFC 3161 timestamp dates it. Only when TUF
//!   could not be used (`--offline` without a cache) is the root the snapshot embedded in the
//!   binary, which may predate a new log shard: then only a transparency or CT log key it does
//!   not list yet is tolerated (with a warning), after the signature, subject and identity
//!   verified and the leaf chains to public-good Fulcio.
//!   Another instance without `--trusted-root` cannot be checked: `attest` warns, `publish`
//!   refuses (nothing unverified is uploaded).

use crate::core::verify::policy::PredicateRule;
use crate::core::verify::{
    leaf_chains_at_issuance, verify_attestation, Blame, NpmPackage, Policy, Subject, VerifyError,
};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail_with_hint, ExitKind};
use crate::report;

/// The trust material the self-check verifies against.
#[derive(Debug, Clone)]
pub enum SelfCheckTrust {
    /// The instance's own trusted root: the stand-in's, one given with `--trusted-root`, or one
    /// fresh from TUF; `name` completes "the … trusted root" ("local stand-in", the file's
    /// path, "TUF-fresh (URL)").
    Exact { root: TrustedRoot, name: String },
    /// Sigstore public-good's root as embedded in this binary (possibly older than the live one):
    /// only with `--offline` and no TUF cache.
    PublicGoodSnapshot(TrustedRoot),
    /// No trusted root is known for this instance.
    Unknown,
}

impl SelfCheckTrust {
    /// The root to write or show, when there is one.
    pub fn root(&self) -> Option<&TrustedRoot> {
        match self {
            Self::Exact { root, .. } | Self::PublicGoodSnapshot(root) => Some(root),
            Self::Unknown => None,
        }
    }
}

/// What the self-check established about a bundle it did not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfCheck {
    /// Every check of the verification algorithm passed against `trusted_root`.
    Verified { trusted_root: String, identity: String, issuer: String },
    /// Against the embedded public-good snapshot: signature, subject, identity and the Fulcio
    /// chain verified; the log key named in `reason` is newer than the snapshot.
    LogKeyUnknown { reason: String },
    /// No trusted root is known for the instance that signed.
    NotRun { reason: String },
}

/// Verifies `bundle` for `package` under `policy` against `trust` (sigstore-protocol.md §5 via
/// `core::verify`), applying the tolerance described in the module header. `what` names the
/// bundle in messages ("the new bundle", a path).
pub fn check_bundle(
    bundle: &Bundle,
    package: &NpmPackage,
    policy: &Policy,
    trust: &SelfCheckTrust,
    what: &str,
) -> anyhow::Result<SelfCheck> {
    let (root, name) = match trust {
        SelfCheckTrust::Exact { root, name } => (root, name.as_str()),
        SelfCheckTrust::PublicGoodSnapshot(root) => (root, "embedded public-good"),
        SelfCheckTrust::Unknown => {
            return Ok(SelfCheck::NotRun {
                reason: "no trusted root is known for this Sigstore instance (pass --trusted-root FILE)".into(),
            })
        }
    };
    let subject = Subject::NpmPackage(package.clone());
    // npm provenance is SLSA provenance: a bundle signing any other predicate is refused like
    // any other failure (never tolerated as a stale-root effect).
    let error = match verify_attestation(bundle, root, &subject, policy, &PredicateRule::slsa_provenance()) {
        Ok(verified) => {
            let (identity, issuer) =
                verified.identity().map(|id| (id.san.value().to_owned(), id.issuer.clone())).unwrap_or_default();
            return Ok(SelfCheck::Verified { trusted_root: name.to_owned(), identity, issuer });
        }
        Err(e) => e,
    };
    if matches!(trust, SelfCheckTrust::PublicGoodSnapshot(_)) && error.is_unknown_log_key() {
        // Signature, subject and identity passed before the log step; the leaf must still be
        // public-good Fulcio's, or the bundle comes from another instance altogether.
        match leaf_chains_at_issuance(bundle, root) {
            Ok(()) => {
                report::warn(&format!(
                    "{what}: {error}; the embedded public-good trusted root may be older than this log \
                     (the signature, subject, identity and Fulcio chain verified)"
                ));
                return Ok(SelfCheck::LogKeyUnknown { reason: error.to_string() });
            }
            Err(chain) => return Err(refusal(what, &chain, name)),
        }
    }
    Err(refusal(what, &error, name))
}

fn refusal(what: &str, error: &VerifyError, root_name: &str) -> anyhow::Error {
    let kind = match error.blame() {
        Blame::Malformed => ExitKind::BadInput,
        _ => ExitKind::VerificationFailed,
    };
    let hint = match error {
        VerifyError::PolicyMismatch { .. } => {
            "the identity token, the repository the runner builds and the package's `repository` must all name the same repository"
        }
        VerifyError::SubjectMismatch { .. } => "sign this exact tarball again",
        _ => "pass the trusted root of the Sigstore instance that signed it with --trusted-root",
    };
    fail_with_hint(kind, format!("{what} does not verify against the {root_name} trusted root: {error}"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verify::IdentityPolicy;
    use crate::core::well_known::GITHUB_ACTIONS_ISSUER;
    use crate::error::classify;

    /// A real npm provenance bundle (v0.3, public-good) and its package.
    fn playwright_cli() -> (Bundle, NpmPackage) {
        let text = include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json");
        let sha512 = hex::decode("f64d7565f0f001f3150c322e1155b55afb3c4a80cd5c863574d43ef42f7f492f199849647317acbb97a82fbbcd6bdea7b626d419aab54ccdaa428aaf765fc8f6").unwrap();
        let package =
            NpmPackage { name: "@playwright/cli".into(), version: "0.1.1".into(), sha512: sha512.try_into().unwrap() };
        (serde_json::from_str(text).unwrap(), package)
    }

    fn repository(repo: &str) -> Policy {
        let mut identity = IdentityPolicy::new(GITHUB_ACTIONS_ISSUER);
        identity.source_repository_uri = Some(format!("https://github.com/{repo}"));
        Policy::Keyless(identity)
    }

    fn public_good() -> SelfCheckTrust {
        SelfCheckTrust::PublicGoodSnapshot(
            serde_json::from_str(crate::sigstore::trust::PRODUCTION_TRUSTED_ROOT).unwrap(),
        )
    }

    #[test]
    fn a_public_good_bundle_verifies_for_its_repository() {
        let (bundle, package) = playwright_cli();
        let check =
            check_bundle(&bundle, &package, &repository("microsoft/playwright-cli"), &public_good(), "b").unwrap();
        assert_eq!(
            check,
            SelfCheck::Verified {
                trusted_root: "embedded public-good".into(),
                identity: "https://github.com/microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1"
                    .into(),
                issuer: GITHUB_ACTIONS_ISSUER.into(),
            }
        );
    }

    #[test]
    fn a_bundle_signed_for_another_repository_is_refused() {
        let (bundle, package) = playwright_cli();
        let refusal = check_bundle(&bundle, &package, &repository("octo/impostor"), &public_good(), "b").unwrap_err();
        assert_eq!(classify(&refusal).0, ExitKind::VerificationFailed);
    }

    #[test]
    fn a_bundle_for_another_tarball_is_refused() {
        let (bundle, mut package) = playwright_cli();
        package.sha512[0] ^= 1;
        assert!(check_bundle(&bundle, &package, &repository("microsoft/playwright-cli"), &public_good(), "b").is_err());
    }

    #[test]
    fn a_log_missing_from_the_snapshot_is_tolerated_only_for_public_good_fulcio_leaves() {
        let (bundle, package) = playwright_cli();
        let mut stale = match public_good() {
            SelfCheckTrust::PublicGoodSnapshot(root) => root,
            _ => unreachable!(),
        };
        // A snapshot that predates the log the bundle was written to.
        stale.tlogs.clear();
        let policy = repository("microsoft/playwright-cli");
        let check =
            check_bundle(&bundle, &package, &policy, &SelfCheckTrust::PublicGoodSnapshot(stale.clone()), "b").unwrap();
        assert!(matches!(check, SelfCheck::LogKeyUnknown { .. }), "{check:?}");
        // The same missing log against an exact root refuses.
        let exact = SelfCheckTrust::Exact { root: stale.clone(), name: "given".into() };
        assert!(check_bundle(&bundle, &package, &policy, &exact, "b").is_err());
        // And a leaf that does not chain to the snapshot's Fulcio is never tolerated: a bundle from
        // a home-made CA and log (issue 11, finding 5).
        stale.certificate_authorities.clear();
        let refusal =
            check_bundle(&bundle, &package, &policy, &SelfCheckTrust::PublicGoodSnapshot(stale), "b").unwrap_err();
        assert!(crate::error::render(&refusal).contains("--trusted-root"), "{}", crate::error::render(&refusal));
    }

    #[test]
    fn an_unknown_instance_is_not_run() {
        let (bundle, package) = playwright_cli();
        let check = check_bundle(&bundle, &package, &repository("o/r"), &SelfCheckTrust::Unknown, "b").unwrap();
        assert!(matches!(check, SelfCheck::NotRun { .. }));
    }
}
