//! The stand-in's certificate transparency log key: it signs SCTs over precertificates
//! (RFC 6962 §3.2) that the CA embeds in every leaf. No CT log is served: Sigstore verifiers
//! only check the SCT signature against the trusted root's `ctlogs`.

use p256::ecdsa::signature::Signer as _;
use sha2::{Digest as _, Sha256};

/// RFC 6962 §3.2 `SignatureType.certificate_timestamp`.
const SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP: u8 = 0;
/// RFC 6962 §3.1 `LogEntryType.precert_entry`.
const ENTRY_TYPE_PRECERT: u16 = 1;
/// RFC 5246 §7.4.1.4.1: `HashAlgorithm.sha256` and `SignatureAlgorithm.ecdsa`.
const HASH_SHA256: u8 = 4;
const SIGNATURE_ECDSA: u8 = 3;

/// A CT log signing key (ECDSA P-256).
pub(crate) struct CtLog {
    key: p256::ecdsa::SigningKey,
    spki_der: Vec<u8>,
    log_id: [u8; 32],
}

impl std::fmt::Debug for CtLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtLog").field("log_id", &hex::encode(self.log_id)).finish_non_exhaustive()
    }
}

impl CtLog {
    pub(crate) fn new(key: p256::ecdsa::SigningKey, spki_der: Vec<u8>) -> Self {
        // RFC 6962 §3.2: the log ID is the SHA-256 of the log's public key (SPKI DER).
        let log_id = Sha256::digest(&spki_der).into();
        Self { key, spki_der, log_id }
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub(crate) fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// Signs an SCT for a precertificate and returns the TLS-encoded `SignedCertificateTimestamp`.
    pub(crate) fn sign_precert(&self, timestamp_ms: u64, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Vec<u8> {
        let input = precert_signing_input(timestamp_ms, issuer_key_hash, tbs);
        let signature: p256::ecdsa::Signature = self.key.sign(&input);
        encode_sct(&self.log_id, timestamp_ms, signature.to_der().as_bytes())
    }
}

/// `issuer_key_hash` of RFC 6962 §3.2: SHA-256 of the issuing CA's SubjectPublicKeyInfo DER.
pub(crate) fn issuer_key_hash(issuer_spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(issuer_spki_der).into()
}

/// The `digitally-signed` struct of RFC 6962 §3.2 for a `precert_entry` with no extensions:
/// `sct_version(0) ‖ signature_type(0) ‖ timestamp(u64) ‖ entry_type(1, u16) ‖
/// issuer_key_hash[32] ‖ tbs_certificate<1..2^24-1> ‖ extensions<0..2^16-1>`.
pub(crate) fn precert_signing_input(timestamp_ms: u64, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tbs.len() + 52);
    out.push(0); // v1
    out.push(SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&ENTRY_TYPE_PRECERT.to_be_bytes());
    out.extend_from_slice(issuer_key_hash);
    // Callers keep the TBS under 2^24 bytes (`CertificateAuthority::issue` checks).
    let len = u32::try_from(tbs.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&0u16.to_be_bytes());
    out
}

/// The TLS encoding of a v1 `SignedCertificateTimestamp` (RFC 6962 §3.2) with no extensions.
pub(crate) fn encode_sct(log_id: &[u8; 32], timestamp_ms: u64, signature_der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(signature_der.len() + 47);
    out.push(0); // v1
    out.extend_from_slice(log_id);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // extensions
    out.push(HASH_SHA256);
    out.push(SIGNATURE_ECDSA);
    out.extend_from_slice(&(signature_der.len() as u16).to_be_bytes());
    out.extend_from_slice(signature_der);
    out
}

/// `SignedCertificateTimestampList` (RFC 6962 §3.3): a u16-length list of u16-length SCTs.
pub(crate) fn encode_sct_list(scts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for sct in scts {
        body.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        body.extend_from_slice(sct);
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sct_encoding_has_the_rfc6962_layout() {
        let sct = encode_sct(&[7u8; 32], 0x0102030405060708, &[0xAA; 3]);
        assert_eq!(sct.len(), 1 + 32 + 8 + 2 + 2 + 2 + 3);
        assert_eq!(&sct[33..41], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&sct[41..47], &[0, 0, 4, 3, 0, 3]);
        let list = encode_sct_list(std::slice::from_ref(&sct));
        assert_eq!(&list[..4], &[0, (sct.len() + 2) as u8, 0, sct.len() as u8]);
        let input = precert_signing_input(1, &[9u8; 32], b"tbs");
        assert_eq!(&input[..12], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        assert_eq!(&input[44..47], &[0, 0, 3]);
        assert_eq!(&input[47..], b"tbs\0\0");
    }
}
