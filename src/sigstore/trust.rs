//! Trust material at the edge: the embedded public-good trusted roots, and the capped readers
//! for bundles, trusted roots and public keys given on the command line.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;

use crate::core::crypto::{pem_rfc7468_decode, PublicKey};
use crate::core::wire::bundle::Bundle;
use crate::core::wire::trust_root::TrustedRoot;
use crate::error::{fail, fail_with_hint, ExitKind};

/// The Sigstore public-good production trusted root (TUF snapshot), the default trust.
pub const PRODUCTION_TRUSTED_ROOT: &str = include_str!("roots/public-good-production.json");
/// The Sigstore public-good staging trusted root (`conformance verify-bundle --staging`).
pub const STAGING_TRUSTED_ROOT: &str = include_str!("roots/public-good-staging.json");

/// Bundles and trusted roots are small JSON documents; anything larger is refused unread.
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;
/// A PEM public key.
pub const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Reads a file of at most `limit` bytes.
pub fn read_capped(path: &Path, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| {
        fail_with_hint(ExitKind::BadInput, format!("cannot open {what} {}: {e}", path.display()), "check the path")
    })?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(ExitKind::BadInput, format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(fail(ExitKind::BadInput, format!("{what} {} is larger than {limit} bytes", path.display())));
    }
    Ok(bytes)
}

pub fn read_bundle(path: &Path) -> anyhow::Result<Bundle> {
    let bytes = read_capped(path, MAX_JSON_BYTES, "bundle")?;
    serde_json::from_slice(&bytes).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("bundle {} is not a Sigstore bundle: {e}", path.display()),
            "pass the .sigstore.json bundle file",
        )
    })
}

/// The trusted root from `path`, or the embedded public-good root (staging when `staging`).
pub fn read_trusted_root(path: Option<&Path>, staging: bool) -> anyhow::Result<TrustedRoot> {
    let parsed = match path {
        Some(path) => {
            let bytes = read_capped(path, MAX_JSON_BYTES, "trusted root")?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("trusted root {} is not a trusted_root.json", path.display()))
        }
        None if staging => serde_json::from_str(STAGING_TRUSTED_ROOT).context("embedded staging trusted root"),
        None => serde_json::from_str(PRODUCTION_TRUSTED_ROOT).context("embedded production trusted root"),
    };
    parsed.map_err(|e| fail(ExitKind::BadInput, format!("{e:#}")))
}

/// A PEM `PUBLIC KEY` file, as SPKI DER.
pub fn read_public_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read_capped(path, MAX_KEY_BYTES, "public key")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| fail(ExitKind::BadInput, format!("public key {} is not PEM text", path.display())))?;
    let bad = |e: crate::core::crypto::CryptoError| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("public key {} is unusable: {e}", path.display()),
            "pass a PEM file with a -----BEGIN PUBLIC KEY----- block",
        )
    };
    PublicKey::from_pem(&text).map_err(bad)?;
    let (_, der) = pem_rfc7468_decode(&text).map_err(bad)?;
    Ok(der)
}
