//! `npm-attest conformance ...`: the Sigstore conformance client protocol
//! (testdata/sigstore-conformance/README.md, "The conformance client protocol").

use std::convert::Infallible;
use std::path::PathBuf;

use crate::cmd::verify::{read_subject, verify};
use crate::core::verify::{IdentityMatcher, IdentityPolicy, Policy, PredicateRule};
use crate::error::{fail, ExitKind};
use crate::secret::SecretString;
use crate::sigstore::trust::{read_bundle, read_public_key, read_trusted_root};

#[derive(Debug, clap::Subcommand)]
pub enum ConformanceCommand {
    SignBundle(SignBundleArgs),
    VerifyBundle(VerifyBundleArgs),
}

/// `sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle OUT [--trusted-root FILE]
/// [--signing-config FILE] FILE`.
#[derive(Debug, clap::Args)]
pub struct SignBundleArgs {
    /// Use the public-good staging instance.
    #[arg(long)]
    pub staging: bool,
    /// FILE is an in-toto statement: produce a DSSE bundle over it.
    #[arg(long)]
    pub in_toto: bool,
    /// The OIDC identity token.
    #[arg(long, value_name = "TOKEN", value_parser = secret)]
    pub identity_token: SecretString,
    /// Where to write the bundle.
    #[arg(long, value_name = "OUT")]
    pub bundle: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// A signing_config v0.2 naming the services to use.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
    /// The artifact (or statement) to sign.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

fn secret(s: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::new(s.to_owned()))
}

/// `verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL
/// | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST`.
#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {
    /// Use the public-good staging trusted root.
    #[arg(long)]
    pub staging: bool,
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    #[arg(long, value_name = "IDENTITY", requires = "certificate_oidc_issuer", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    #[arg(long, value_name = "URL", requires = "certificate_identity", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    #[arg(long, value_name = "PEM", required_unless_present = "certificate_identity")]
    pub key: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The artifact path, or `sha256:<64 hex>`.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub file_or_digest: String,
}

pub async fn run(cmd: ConformanceCommand) -> anyhow::Result<()> {
    match cmd {
        ConformanceCommand::SignBundle(a) => {
            crate::sigstore::conformance::conformance_sign_bundle(
                crate::sigstore::conformance::ConformanceSignOptions {
                    staging: a.staging,
                    in_toto: a.in_toto,
                    identity_token: a.identity_token,
                    bundle_out: a.bundle,
                    trusted_root: a.trusted_root,
                    signing_config: a.signing_config,
                    file: a.file,
                },
            )
            .await
        }
        ConformanceCommand::VerifyBundle(args) => verify_bundle(args),
    }
}

fn verify_bundle(args: VerifyBundleArgs) -> anyhow::Result<()> {
    let policy = match (&args.key, &args.certificate_identity, &args.certificate_oidc_issuer) {
        (Some(key), _, _) => Policy::ManagedKey { spki_der: read_public_key(key)? },
        (None, Some(identity), Some(issuer)) => {
            let mut p = IdentityPolicy::new(issuer.clone());
            p.san = Some(IdentityMatcher::Exact(identity.clone()));
            Policy::Keyless(p)
        }
        _ => {
            return Err(fail(
                ExitKind::BadInput,
                "pass --certificate-identity with --certificate-oidc-issuer, or --key",
            ))
        }
    };
    let bundle = read_bundle(&args.bundle)?;
    let trust = read_trusted_root(args.trusted_root.as_deref(), args.staging)?;
    // Conformance artifacts are plain files, never npm packages.
    let subject = read_subject(&args.file_or_digest, false)?;
    verify(
        &bundle,
        &trust,
        &subject,
        &policy,
        &PredicateRule::Any,
        &args.bundle,
        &crate::core::verify::pki::SignatureCache::new(),
    )?;
    Ok(())
}
