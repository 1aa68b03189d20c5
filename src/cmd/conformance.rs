//! `npm-attest conformance ...`: the Sigstore conformance client protocol
//! (testdata/sigstore-conformance/README.md, "The conformance client protocol").

#[derive(Debug, clap::Subcommand)]
pub enum ConformanceCommand {
    SignBundle(SignBundleArgs),
    VerifyBundle(VerifyBundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct SignBundleArgs {}

#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {}

pub async fn run(_cmd: ConformanceCommand) -> anyhow::Result<()> {
    Err(crate::error::fail(crate::error::ExitKind::Internal, "not implemented yet"))
}
