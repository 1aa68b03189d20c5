//! `npm-attest verify`.

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub async fn run(_args: VerifyArgs) -> anyhow::Result<()> {
    Err(crate::error::fail(crate::error::ExitKind::Internal, "not implemented yet"))
}
