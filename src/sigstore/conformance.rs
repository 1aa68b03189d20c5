//! The signing half of the Sigstore conformance client protocol (`conformance sign-bundle`).

use std::path::PathBuf;

use serde_json::Value;

use crate::clock::now;
use crate::core::wire::bundle::IN_TOTO_PAYLOAD_TYPE;
use crate::core::wire::trust_root::{SigningConfig, TrustedRoot};
use crate::error::{fail, ExitKind};
use crate::http::Http;
use crate::secret::SecretString;
use crate::sigstore::endpoints::{select_endpoints, Endpoints};
use crate::sigstore::session::{bundle_json, sign, Content};

/// `conformance sign-bundle`'s inputs (testdata/sigstore-conformance/README.md, "The
/// conformance client protocol").
#[derive(Debug)]
pub struct ConformanceSignOptions {
    pub staging: bool,
    pub in_toto: bool,
    pub identity_token: SecretString,
    pub bundle_out: PathBuf,
    /// When given, the new log entry is verified against its `tlogs` before writing.
    pub trusted_root: Option<PathBuf>,
    pub signing_config: Option<PathBuf>,
    pub file: PathBuf,
}

/// Signs `file` (a message signature, or with `in_toto` a DSSE envelope whose payload is the
/// file's exact bytes) and writes a v0.3 bundle to `bundle_out`.
pub async fn conformance_sign_bundle(opts: ConformanceSignOptions) -> anyhow::Result<()> {
    let now = now()?;
    let endpoints = match &opts.signing_config {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| fail(ExitKind::BadInput, format!("cannot read signing config {}: {e}", path.display())))?;
            let config: SigningConfig = serde_json::from_slice(&text)
                .map_err(|e| fail(ExitKind::BadInput, format!("invalid signing config {}: {e}", path.display())))?;
            select_endpoints(&config, now)?
        }
        None if opts.staging => Endpoints::staging(),
        None => Endpoints::public_good(),
    };
    let file = std::fs::read(&opts.file)
        .map_err(|e| fail(ExitKind::BadInput, format!("cannot read {}: {e}", opts.file.display())))?;
    crate::report::mask(&opts.identity_token);
    let http = Http::new(crate::http::RetryPolicy::default())?;
    let content = if opts.in_toto {
        serde_json::from_slice::<Value>(&file).map_err(|e| {
            fail(ExitKind::BadInput, format!("{} is not an in-toto statement: {e}", opts.file.display()))
        })?;
        Content::Dsse { payload_type: IN_TOTO_PAYLOAD_TYPE, payload: &file }
    } else {
        Content::Message { message: &file }
    };
    let trusted_root = match &opts.trusted_root {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| fail(ExitKind::BadInput, format!("cannot read trusted root {}: {e}", path.display())))?;
            Some(
                serde_json::from_slice::<TrustedRoot>(&text)
                    .map_err(|e| fail(ExitKind::BadInput, format!("invalid trusted root {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let trusted_logs = trusted_root.as_ref().map(|r| r.tlogs.as_slice());
    let bundle = sign(&http, &endpoints, &opts.identity_token, content, trusted_logs).await?;
    crate::fsutil::write_atomic(&opts.bundle_out, &bundle_json(&bundle)?)
}
