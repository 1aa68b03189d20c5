//! Transparency-log entry verification (sigstore-protocol.md §5 steps 5 and 8): find the log
//! in the trusted root, check the entry body against the bundle's content, verify the Merkle
//! inclusion proof against a verified checkpoint, and verify the SET.
//!
//! CONTRACT (shared with `core::verify`): the types and the signature of [`verify_entry`] are
//! fixed; the tlog engineer fills in the body and may add error variants and private helpers.

use crate::core::bundle::{Envelope, KindVersion, TransparencyLogEntry};
use crate::core::time::UnixTime;
use crate::core::trust_root::TransparencyLogInstance;

/// What the bundle claims was logged.
#[derive(Debug, Clone, Copy)]
pub enum SignedContent<'a> {
    /// A message-signature bundle: the artifact's SHA-256 digest and the signature bytes.
    MessageSignature { artifact_sha256: &'a [u8], signature: &'a [u8] },
    /// A DSSE bundle: the envelope (payload, payload type, exactly one signature).
    Dsse { envelope: &'a Envelope },
}

/// Who signed, as the bundle presents it.
#[derive(Debug, Clone, Copy)]
pub enum SignerKey<'a> {
    /// The leaf certificate, DER.
    Certificate { der: &'a [u8] },
    /// A managed key, SPKI DER.
    PublicKey { spki_der: &'a [u8] },
}

/// Facts established about one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogEntry {
    /// The global log index (`tlogEntries[].logIndex`).
    pub log_index: u64,
    /// `baseUrl` of the trusted log that holds it.
    pub log_base_url: String,
    pub kind_version: KindVersion,
    /// The Rekor v1 integrated time, present only when the SET (inclusion promise) verified:
    /// only then may it serve as a signed time (sigstore-protocol.md §5 step 1b).
    pub integrated_time: Option<UnixTime>,
    /// Tree size of the verified checkpoint the inclusion proof leads to.
    pub checkpoint_tree_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogError {
    NotYetImplemented,
}

impl std::fmt::Display for TlogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotYetImplemented => f.write_str("transparency log verification is not implemented yet"),
        }
    }
}

impl std::error::Error for TlogError {}

/// Verifies `entry` against the trusted logs and the bundle's content and signer. Never
/// contacts the log.
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    tlogs: &[TransparencyLogInstance],
    content: SignedContent<'_>,
    signer: SignerKey<'_>,
) -> Result<VerifiedLogEntry, TlogError> {
    let _ = (entry, tlogs, content, signer);
    Err(TlogError::NotYetImplemented)
}
