//! After signing under GitHub Actions: the step outputs, the job summary and the optional
//! upload to the attestations API, for a bundle that already passed the self-check.

use std::path::Path;

use crate::ci::attestations::{upload_attestation, UploadTarget};
use crate::ci::runner::{absolute, actions_issuer, append, append_outputs, append_summary, ActionsEnv};
use crate::ci::summary::{escape_md, render_summary, verify_command, AttestSummary, VerificationOutcome};
use crate::core::verify::x509::LeafCertificate;
use crate::core::verify::NpmPackage;
use crate::core::wire::bundle::Bundle;
use crate::error::{fail, ExitKind};
use crate::http::RetryPolicy;
use crate::report;

/// What `attest` produced, as the Actions outputs and summary need it.
#[derive(Debug)]
pub(crate) struct Attested<'a> {
    pub bundle: &'a Bundle,
    pub bundle_path: &'a Path,
    pub tarball_path: &'a Path,
    pub name: &'a str,
    pub version: &'a str,
    pub sha512: [u8; 64],
    /// The entry's log index and where to look it up; `None` for a bundle dated by timestamps
    /// alone (GitHub's instance), which is in no log.
    pub log_index: Option<i64>,
    pub transparency_log_url: Option<&'a str>,
    /// What the post-signing self-check established.
    pub verification: VerificationOutcome,
    /// The signer it verified: `(identity, issuer)`.
    pub verified_signer: Option<(String, String)>,
    /// Where the trusted root was written (local stand-in), for the verification command.
    pub trusted_root_path: Option<&'a Path>,
}

/// Where `attest` reports to: the environment (`GITHUB_*`) and the attestations API target when
/// uploading.
pub(crate) struct ReportTo<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub upload: Option<&'a UploadTarget>,
}

/// Writes the step outputs (under GitHub Actions), stores the bundle (which already passed the
/// self-check) with the attestations API when `upload` is given, and appends the job summary
/// (under GitHub Actions).
pub(crate) async fn report_attestation(
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
            ],
        )?;
        // Like actions/attest, which reports a log entry only when there is one.
        if let (Some(index), Some(url)) = (attested.log_index, attested.transparency_log_url) {
            append_outputs(file, &[("log-index", index.to_string()), ("transparency-log-url", url.to_owned())])?;
        }
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
        log_index: attested.log_index.and_then(|i| u64::try_from(i).ok()),
        transparency_log_url: attested.transparency_log_url.map(str::to_owned),
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
    summary.verification = Some(attested.verification.clone());
    if let Some((identity, issuer)) = &attested.verified_signer {
        summary.signer_identity = Some(identity.clone());
        summary.signer_issuer = Some(issuer.clone());
    }
    if summary.signer_identity.is_none() {
        // Not fully verified: still show who the certificate names, marked as such.
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

/// Under GitHub Actions, the job summary of a package whose signing failed or whose fresh bundle
/// the self-check refused, so the run's page says why (nothing was written or stored).
pub(crate) fn report_refusal(
    env: &dyn Fn(&str) -> Option<String>,
    package: &str,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    let actions = ActionsEnv::from_lookup(env);
    let Some(file) = &actions.summary_file else {
        return Ok(());
    };
    let summary = AttestSummary {
        package: package.to_owned(),
        verification: Some(VerificationOutcome::Failed { reason: crate::error::render(error) }),
        ..AttestSummary::default()
    };
    append_summary(file, &render_summary(&summary))
}
