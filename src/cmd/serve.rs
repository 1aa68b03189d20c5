//! `npm-attest serve`.

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub async fn run(_args: ServeArgs) -> anyhow::Result<()> {
    Err(crate::error::fail(crate::error::ExitKind::Internal, "not implemented yet"))
}
