//! After signing under GitHub Actions: the step outputs, the job summary and the optional
//! upload to the attestations API, for a bundle that already passed the self-check.

use std::path::Path;

use crate::ci::attestations::{upload_attestation, UploadTarget};
use crate::ci::runner::{absolute, actions_issuer, append, append_outputs, append_summary, ActionsEnv};
use crate::ci::summary::{escape_md, render_summary, verify_command, AttestSummary, VerificationOutcome};
use crate::core::verify::x509::LeafCertificate;
use crate::core::verify::{verify_bundle, IdentityPolicy, NpmPackage, Policy, Subject, VerifyError};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::RetryPolicy;
use crate::report;

/// What `attest` produced, as the Actions outputs and summary need it.
#[derive(Debug)]
pub struct Attested<'a> {
    pub bundle: &'a Bundle,
    pub bundle_path: &'a Path,
    pub tarball_path: &'a Path,
    pub name: &'a str,
    pub version: &'a str,
    pub sha512: [u8; 64],
    pub log_index: i64,
    pub transparency_log_url: &'a str,
    pub trusted_root: TrustedRootChoice<'a>,
    /// Where the trusted root was written (local stand-in), for the verification command.
    pub trusted_root_path: Option<&'a Path>,
}

/// Where `attest` reports to: the environment (`GITHUB_*`), the attestations API target when
/// uploading, and the trusted root that verifies the fresh bundle.
pub struct ReportTo<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub upload: Option<&'a UploadTarget>,
    pub trusted_root: TrustedRootChoice<'a>,
}

/// The trusted root that verifies a fresh bundle.
#[derive(Debug, Clone, Copy)]
pub enum TrustedRootChoice<'a> {
    /// Sigstore public-good (the root embedded in the binary).
    PublicGood,
    /// The in-process stand-in's.
    Local(&'a TrustedRoot),
    /// Another instance, whose root we do not have.
    Unknown,
}

/// Writes the step outputs (under GitHub Actions), verifies the fresh bundle as a consumer would
/// (failing when it does not verify), stores it with the attestations API when `upload` is
/// given, and appends the job summary (under GitHub Actions).
pub async fn report_attestation(
    env: &dyn Fn(&str) -> Option<String>,
    attested: &Attested<'_>,
    upload: Option<&UploadTarget>,
) -> anyhow::Result<()> {
    let actions = ActionsEnv::from_lookup(env);
    let bundle_path = absolute(attested.bundle_path);
    let tarball_path = absolute(attested.tarball_path);
    let purl =
        NpmPackage { name: attested.name.to_owned(), version: attested.version.to_owned(), sha512: attested.sha512 }
            .purl();
    let digest = format!("sha512:{}", hex::encode(attested.sha512));
    if let (Some(_), Some(temp)) = (&actions.output_file, &actions.runner_temp) {
        // Like actions/attest: one bundle path per line, gathered across the job's steps.
        let list = temp.join("created_attestation_paths.txt");
        append(&list, format!("{}\n", bundle_path.display()).as_bytes(), "RUNNER_TEMP")?;
    }
    if let Some(file) = &actions.output_file {
        // Written before the upload, so that a failed upload still reports the bundle.
        append_outputs(
            file,
            &[
                ("bundle-path", bundle_path.display().to_string()),
                ("tarball", tarball_path.display().to_string()),
                ("subject-name", purl.clone()),
                ("subject-digest", digest.clone()),
                ("log-index", attested.log_index.to_string()),
                ("transparency-log-url", attested.transparency_log_url.to_owned()),
            ],
        )?;
        // The local stand-in's trusted root, which verifies the bundle (the action's publish
        // step passes it to `publish --trusted-root`).
        if let Some(root) = attested.trusted_root_path {
            append_outputs(file, &[("trusted-root", absolute(root).display().to_string())])?;
        }
    }
    let mut summary = AttestSummary {
        package: format!("{}@{}", attested.name, attested.version),
        subject_name: purl,
        subject_digest: digest,
        log_index: u64::try_from(attested.log_index).ok(),
        transparency_log_url: Some(attested.transparency_log_url.to_owned()),
        bundle_path: bundle_path.display().to_string(),
        ..AttestSummary::default()
    };
    if let (Some(issuer), Some(repository)) = (actions_issuer(&actions.server_url), &actions.repository) {
        let root = attested.trusted_root_path.map(|p| absolute(p).display().to_string());
        summary.verify_command = Some(verify_command(
            &summary.bundle_path,
            root.as_deref(),
            &issuer,
            repository,
            &tarball_path.display().to_string(),
        ));
    }
    if let Some(error) = verify_for_summary(&actions, attested, &mut summary) {
        // A fresh bundle that does not verify for this repository is neither stored nor
        // published (the publish step does not run after a failed step).
        if let Some(file) = &actions.summary_file {
            append_summary(file, &render_summary(&summary))?;
        }
        return Err(error);
    }
    if let Some(target) = upload {
        let bundle = serde_json::to_value(attested.bundle)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the bundle: {e}")))?;
        match upload_attestation(
            target,
            &bundle,
            RetryPolicy::default().with_env_deadline(),
            actions.workflow_path.as_deref(),
        )
        .await
        {
            Ok(uploaded) => {
                report::info(&format!("Attestation stored with GitHub: {}", uploaded.url));
                if let Some(file) = &actions.output_file {
                    append_outputs(
                        file,
                        &[("attestation-id", uploaded.id.to_string()), ("attestation-url", uploaded.url.clone())],
                    )?;
                }
                summary.attestation_url = Some(uploaded.url);
            }
            Err(e) => {
                if let Some(file) = &actions.summary_file {
                    let mut md = render_summary(&summary);
                    md.push_str(&format!(
                        "\n❌ Storing the attestation with GitHub failed: {}\n",
                        escape_md(&crate::error::render(&e))
                    ));
                    append_summary(file, &md)?;
                }
                return Err(e);
            }
        }
    }
    if let Some(file) = &actions.summary_file {
        append_summary(file, &render_summary(&summary))?;
    }
    Ok(())
}

/// Verifies the fresh bundle as a consumer would: against the instance's trusted root, for this
/// package and tarball, signed for this repository (Source Repository URI) by the Actions issuer
/// of `GITHUB_SERVER_URL`.
///
/// Returns the error that must fail the step: any failure against the stand-in's root (we hold
/// the exact root), and against public-good a failure no stale embedded root can explain (the
/// identity, the signature, the subject). Other public-good failures are warnings: npm verifies
/// the bundle against the live Sigstore root when it is published.
fn verify_for_summary(
    actions: &ActionsEnv,
    attested: &Attested<'_>,
    summary: &mut AttestSummary,
) -> Option<anyhow::Error> {
    let refusal = verify_into_summary(actions, attested, summary);
    if summary.signer_identity.is_none() {
        // Not verified: still show who the certificate names, marked as such.
        let leaf = attested
            .bundle
            .verification_material
            .certificate
            .as_ref()
            .and_then(|c| LeafCertificate::parse(&c.raw_bytes).ok());
        if let Some(leaf) = leaf {
            summary.signer_identity = leaf.san().map(|san| san.value().to_owned());
            summary.signer_issuer = leaf.oidc_issuer().map(str::to_owned);
            summary.signer_unverified = summary.signer_identity.is_some();
        }
    }
    refusal
}

fn verify_into_summary(
    actions: &ActionsEnv,
    attested: &Attested<'_>,
    summary: &mut AttestSummary,
) -> Option<anyhow::Error> {
    let public_good;
    let (trust, root_name) = match attested.trusted_root {
        TrustedRootChoice::Local(root) => (root, "local stand-in"),
        TrustedRootChoice::PublicGood => {
            match serde_json::from_str::<TrustedRoot>(crate::sigstore::trust::PRODUCTION_TRUSTED_ROOT) {
                Ok(root) => {
                    public_good = root;
                    (&public_good, "public-good")
                }
                Err(e) => {
                    summary.verification =
                        Some(VerificationOutcome::NotRun { reason: format!("embedded trusted root: {e}") });
                    return None;
                }
            }
        }
        TrustedRootChoice::Unknown => {
            summary.verification = Some(VerificationOutcome::NotRun {
                reason: "no trusted root is known for this Sigstore instance".into(),
            });
            return None;
        }
    };
    // Only in an Actions job do GITHUB_REPOSITORY and the identity token describe the same run.
    let (true, Some(issuer), Some(repository)) =
        (actions.in_actions, actions_issuer(&actions.server_url), actions.repository.as_deref())
    else {
        summary.verification =
            Some(VerificationOutcome::NotRun { reason: "not a GitHub Actions run on github.com or GHE.com".into() });
        return None;
    };
    let mut identity = IdentityPolicy::new(issuer);
    identity.source_repository_uri = Some(format!("{}/{repository}", actions.server_url.trim_end_matches('/')));
    let subject = Subject::NpmPackage(NpmPackage {
        name: attested.name.to_owned(),
        version: attested.version.to_owned(),
        sha512: attested.sha512,
    });
    match verify_bundle(attested.bundle, trust, &subject, &Policy::Keyless(identity)) {
        Ok(verified) => {
            if let Some(id) = verified.identity() {
                summary.signer_identity = Some(id.san.value().to_owned());
                summary.signer_issuer = Some(id.issuer.clone());
            }
            summary.verification = Some(VerificationOutcome::Verified { trusted_root: root_name.to_owned() });
        }
        Err(e) => {
            summary.verification = Some(VerificationOutcome::Failed { reason: e.to_string() });
            let refuse = matches!(attested.trusted_root, TrustedRootChoice::Local(_))
                || matches!(
                    e,
                    VerifyError::PolicyMismatch { .. }
                        | VerifyError::Signature { .. }
                        | VerifyError::SubjectMismatch { .. }
                );
            let message = format!("the fresh bundle does not verify: {e}");
            if refuse {
                return Some(fail_with_hint(
                    ExitKind::VerificationFailed,
                    message,
                    "the identity token and GITHUB_REPOSITORY/GITHUB_SERVER_URL must describe the same repository",
                ));
            }
            report::warn(&format!(
                "{message} (the embedded trusted root may be older than the Sigstore keys; npm checks the bundle against the current root when publishing)"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real npm provenance bundle (v0.3, public-good) and its package.
    fn playwright_cli() -> (Bundle, [u8; 64]) {
        let text = include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json");
        let sha512 = hex::decode("f64d7565f0f001f3150c322e1155b55afb3c4a80cd5c863574d43ef42f7f492f199849647317acbb97a82fbbcd6bdea7b626d419aab54ccdaa428aaf765fc8f6").unwrap();
        (serde_json::from_str(text).unwrap(), sha512.try_into().unwrap())
    }

    fn actions_for(repository: &str) -> ActionsEnv {
        let repository = repository.to_owned();
        ActionsEnv::from_lookup(&move |k: &str| match k {
            "GITHUB_REPOSITORY" => Some(repository.clone()),
            "GITHUB_ACTIONS" => Some("true".to_owned()),
            _ => None,
        })
    }

    fn attested<'a>(bundle: &'a Bundle, sha512: [u8; 64]) -> Attested<'a> {
        Attested {
            bundle,
            bundle_path: Path::new("b.sigstore.json"),
            tarball_path: Path::new("t.tgz"),
            name: "@playwright/cli",
            version: "0.1.1",
            sha512,
            log_index: 0,
            transparency_log_url: "https://search.sigstore.dev/?logIndex=0",
            trusted_root: TrustedRootChoice::PublicGood,
            trusted_root_path: None,
        }
    }

    #[test]
    fn a_public_good_bundle_verifies_for_its_repository() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let refusal =
            verify_for_summary(&actions_for("microsoft/playwright-cli"), &attested(&bundle, sha512), &mut summary);
        assert!(refusal.is_none(), "{refusal:?}");
        assert_eq!(summary.verification, Some(VerificationOutcome::Verified { trusted_root: "public-good".into() }));
        assert_eq!(
            summary.signer_identity.as_deref(),
            Some("https://github.com/microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1")
        );
        assert!(!summary.signer_unverified);
    }

    #[test]
    fn a_bundle_signed_for_another_repository_is_refused() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let refusal = verify_for_summary(&actions_for("octo/impostor"), &attested(&bundle, sha512), &mut summary)
            .expect("a policy mismatch fails the step");
        assert_eq!(crate::error::classify(&refusal).0, ExitKind::VerificationFailed);
        assert!(matches!(summary.verification, Some(VerificationOutcome::Failed { .. })));
        assert!(summary.signer_unverified);
    }

    #[test]
    fn a_bundle_for_another_tarball_is_refused() {
        let (bundle, mut sha512) = playwright_cli();
        sha512[0] ^= 1;
        let mut summary = AttestSummary::default();
        let refusal =
            verify_for_summary(&actions_for("microsoft/playwright-cli"), &attested(&bundle, sha512), &mut summary);
        assert!(refusal.is_some());
    }

    #[test]
    fn verification_needs_a_github_run() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let env = ActionsEnv::from_lookup(&|_| None);
        assert!(verify_for_summary(&env, &attested(&bundle, sha512), &mut summary).is_none());
        assert!(matches!(summary.verification, Some(VerificationOutcome::NotRun { .. })));
        // The signer is still shown, marked as not verified.
        assert!(summary.signer_unverified);
    }
}
