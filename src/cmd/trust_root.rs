//! `npm-attest trust-root`: fetch an instance's trust material through TUF and write it (as
//! `gh attestation trusted-root` does): the trusted root, the signing config, or any other
//! target (such as npm's registry keys). `tools/update-trusted-root` refreshes the embedded
//! snapshot with it.

use std::path::PathBuf;

use crate::error::{fail, fail_with_hint, ExitKind};
use crate::fsutil::write_atomic;
use crate::report;
use crate::sigstore::tuf::{self, TufArgs, SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET};

#[derive(Debug, clap::Args)]
pub struct TrustRootArgs {
    #[command(flatten)]
    pub tuf: TufArgs,
    /// Write `trusted_root.json` here [default: print it on stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write `signing_config.v0.2.json` here.
    #[arg(long, value_name = "FILE")]
    pub signing_config_out: Option<PathBuf>,
    /// Also fetch this target (e.g. `registry.npmjs.org/keys.json`), written to --target-out.
    #[arg(long, value_name = "NAME", requires = "target_out")]
    pub target: Option<String>,
    #[arg(long, value_name = "FILE", requires = "target")]
    pub target_out: Option<PathBuf>,
}

pub async fn run(args: TrustRootArgs) -> anyhow::Result<()> {
    let repository = args.tuf.repository()?;
    let mut names = vec![TRUSTED_ROOT_TARGET, SIGNING_CONFIG_TARGET];
    if let Some(target) = &args.target {
        names.push(target);
    }
    let fetched = tuf::fetch(&repository, args.tuf.offline, &names, tuf::now()).await?;
    report::info(&format!("Trust material {}", fetched.describe()));
    // Parsed before anything is written: a target that is not a trusted root is refused.
    fetched.trusted_root()?;
    fetched.signing_config()?;
    let root = fetched.targets.get(TRUSTED_ROOT_TARGET).cloned().unwrap_or_default();
    if let (Some(path), Some(name)) = (&args.target_out, &args.target) {
        let bytes = fetched.targets.get(name.as_str()).ok_or_else(|| {
            fail_with_hint(
                ExitKind::Remote,
                format!("the TUF repository {} lists no target {name}", fetched.repository),
                "check the target name (npm's registry keys: registry.npmjs.org/keys.json)",
            )
        })?;
        write_atomic(path, bytes)?;
    }
    if let Some(path) = &args.signing_config_out {
        let bytes = fetched.targets.get(SIGNING_CONFIG_TARGET).ok_or_else(|| {
            fail(
                ExitKind::Remote,
                format!("the TUF repository {} lists no {SIGNING_CONFIG_TARGET}", fetched.repository),
            )
        })?;
        write_atomic(path, bytes)?;
    }
    match &args.out {
        Some(path) => write_atomic(path, &root)?,
        None => report::data(String::from_utf8_lossy(&root).trim_end()),
    }
    Ok(())
}
