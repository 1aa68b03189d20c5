//! `npm-attest attest`.

#[derive(Debug, clap::Args)]
pub struct AttestArgs {}

pub async fn run(_args: AttestArgs) -> anyhow::Result<()> {
    Err(crate::error::fail(crate::error::ExitKind::Internal, "not implemented yet"))
}
