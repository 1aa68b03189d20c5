//! RFC 3161 timestamp verification (sigstore-protocol.md §5 step 1a).
//!
//! CONTRACT (shared with `core::verify`): the types and the signature of [`verify_timestamp`]
//! are fixed; the tlog engineer fills in the body and may add error variants and helpers.

use crate::core::time::UnixTime;
use crate::core::trust_root::CertificateAuthority;

/// A timestamp whose token, imprint, signer and chain all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`, truncated to seconds.
    pub time: UnixTime,
    /// `uri` of the timestamp authority in the trusted root that vouches for it.
    pub authority_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsaError {
    NotYetImplemented,
}

impl std::fmt::Display for TsaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotYetImplemented => f.write_str("RFC 3161 timestamp verification is not implemented yet"),
        }
    }
}

impl std::error::Error for TsaError {}

/// Verifies one DER `TimeStampResp` (`signed_timestamp`) over `signature` (the bundle's
/// signature bytes: the message signature or the DSSE signature) against the trusted
/// timestamp authorities.
pub fn verify_timestamp(
    signed_timestamp: &[u8],
    signature: &[u8],
    authorities: &[CertificateAuthority],
) -> Result<VerifiedTimestamp, TsaError> {
    let _ = (signed_timestamp, signature, authorities);
    Err(TsaError::NotYetImplemented)
}
