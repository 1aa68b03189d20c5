//! Embedded Signed Certificate Timestamps (RFC 6962 §3.2-3.3): parse the SCT list of a Fulcio
//! leaf, rebuild the precertificate entry the CT log signed, and verify it against the trusted
//! root's `ctlogs` (sigstore-protocol.md §5 step 3).

use der::{Decode as _, Encode as _};
use x509_cert::Certificate;

use crate::core::crypto::PublicKey;
use crate::core::time::{UnixTime, Validity};
use crate::core::verify::x509::{LeafCertificate, OID_SCT_LIST};
use crate::core::wire::trust_root::TransparencyLogInstance;

/// At most this many SCTs are looked at; Fulcio embeds one.
const MAX_SCTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SctError {
    /// The certificate has no embedded SCT list extension.
    Missing,
    /// The SCT list or an SCT in it is not well-formed TLS encoding.
    Malformed { reason: String },
    /// No SCT in the list comes from a CT log of the trusted root.
    UnknownLog { log_id_hex: String },
    /// The log is trusted, but not at the SCT's time.
    LogNotValidAt { log_base_url: String, at: UnixTime },
    /// The log's key in the trusted root is unusable.
    BadLogKey { log_base_url: String, reason: String },
    /// The signature over the rebuilt precertificate entry does not verify.
    BadSignature { log_base_url: String },
}

impl std::fmt::Display for SctError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("certificate has no embedded signed certificate timestamp"),
            Self::Malformed { reason } => write!(f, "embedded SCT list is malformed: {reason}"),
            Self::UnknownLog { log_id_hex } => {
                write!(f, "SCT is from CT log {log_id_hex}, which the trusted root does not list")
            }
            Self::LogNotValidAt { log_base_url, at } => {
                write!(f, "CT log {log_base_url} is not trusted at the SCT time {}", at.to_rfc3339())
            }
            Self::BadLogKey { log_base_url, reason } => {
                write!(f, "CT log {log_base_url} has an unusable key: {reason}")
            }
            Self::BadSignature { log_base_url } => {
                write!(f, "SCT signature from CT log {log_base_url} does not match the certificate")
            }
        }
    }
}

impl std::error::Error for SctError {}

/// One SCT as it appears in the list (RFC 6962 §3.2, `SignedCertificateTimestamp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub version: u8,
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    pub hash_algorithm: u8,
    pub signature_algorithm: u8,
    pub signature: Vec<u8>,
}

/// An SCT that verified against a trusted CT log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSct {
    pub log_base_url: String,
    pub timestamp_ms: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.bytes.len() < n {
            return Err(SctError::Malformed { reason: "truncated".into() });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, SctError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u64(&mut self) -> Result<u64, SctError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn vec16(&mut self) -> Result<&'a [u8], SctError> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// Parses a TLS-encoded `SignedCertificateTimestampList` (RFC 6962 §3.3).
pub fn parse_sct_list(list: &[u8]) -> Result<Vec<Sct>, SctError> {
    let mut outer = Reader { bytes: list };
    let body = outer.vec16()?;
    if !outer.bytes.is_empty() {
        return Err(SctError::Malformed { reason: "trailing bytes after the list".into() });
    }
    let mut items = Reader { bytes: body };
    let mut scts = Vec::new();
    while !items.bytes.is_empty() {
        if scts.len() == MAX_SCTS {
            return Err(SctError::Malformed { reason: format!("more than {MAX_SCTS} SCTs") });
        }
        let mut r = Reader { bytes: items.vec16()? };
        let version = r.u8()?;
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(r.take(32)?);
        let timestamp_ms = r.u64()?;
        let extensions = r.vec16()?.to_vec();
        let hash_algorithm = r.u8()?;
        let signature_algorithm = r.u8()?;
        let signature = r.vec16()?.to_vec();
        if !r.bytes.is_empty() {
            return Err(SctError::Malformed { reason: "trailing bytes after an SCT".into() });
        }
        scts.push(Sct { version, log_id, timestamp_ms, extensions, hash_algorithm, signature_algorithm, signature });
    }
    if scts.is_empty() {
        return Err(SctError::Malformed { reason: "empty list".into() });
    }
    Ok(scts)
}

/// The leaf's TBSCertificate with the SCT list extension removed, re-encoded as DER: the
/// precertificate's TBS as the log saw it (RFC 6962 §3.2).
pub fn precert_tbs(leaf_der: &[u8]) -> Result<Vec<u8>, SctError> {
    let cert = Certificate::from_der(leaf_der).map_err(|e| SctError::Malformed { reason: e.to_string() })?;
    let mut tbs = cert.tbs_certificate;
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != OID_SCT_LIST);
    }
    tbs.to_der().map_err(|e| SctError::Malformed { reason: e.to_string() })
}

/// The bytes a CT log signs for a precertificate entry (RFC 6962 §3.2, `digitally-signed struct`).
pub fn precert_signed_data(sct: &Sct, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Result<Vec<u8>, SctError> {
    let tbs_len = u32::try_from(tbs.len())
        .ok()
        .filter(|n| *n < (1 << 24))
        .ok_or_else(|| SctError::Malformed { reason: "TBSCertificate too long".into() })?;
    let ext_len = u16::try_from(sct.extensions.len())
        .map_err(|_| SctError::Malformed { reason: "extensions too long".into() })?;
    let mut out = Vec::with_capacity(tbs.len() + 64);
    out.push(sct.version); // sct_version v1 = 0
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&ext_len.to_be_bytes());
    out.extend_from_slice(&sct.extensions);
    Ok(out)
}

/// Verifies the leaf's embedded SCTs; at least one must come from a trusted CT log, valid at
/// the SCT's time, and sign the rebuilt precertificate entry (sigstore-protocol.md §5 step 3).
/// `issuer_spki_der` is the SubjectPublicKeyInfo of the certificate that issued the leaf.
pub fn verify_embedded_scts(
    leaf: &LeafCertificate,
    issuer_spki_der: &[u8],
    ctlogs: &[TransparencyLogInstance],
) -> Result<VerifiedSct, SctError> {
    use sha2::Digest as _;

    let list = leaf.sct_list.as_deref().ok_or(SctError::Missing)?;
    let scts = parse_sct_list(list)?;
    let tbs = precert_tbs(&leaf.der)?;
    let issuer_key_hash: [u8; 32] = sha2::Sha256::digest(issuer_spki_der).into();
    let mut first_error = None;
    for sct in &scts {
        match verify_one(sct, &issuer_key_hash, &tbs, ctlogs) {
            Ok(verified) => return Ok(verified),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SctError::Missing))
}

fn verify_one(
    sct: &Sct,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
    ctlogs: &[TransparencyLogInstance],
) -> Result<VerifiedSct, SctError> {
    if sct.version != 0 {
        return Err(SctError::Malformed { reason: format!("SCT version {}", sct.version) });
    }
    // Logs are matched by log ID (SHA-256 of the log key); several entries may share a key
    // with different validity windows.
    let candidates: Vec<&TransparencyLogInstance> =
        ctlogs.iter().filter(|log| log.log_id.key_id.as_slice() == sct.log_id.as_slice()).collect();
    if candidates.is_empty() {
        return Err(SctError::UnknownLog { log_id_hex: hex::encode(sct.log_id) });
    }
    let at = UnixTime(i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX));
    let signed = precert_signed_data(sct, issuer_key_hash, tbs)?;
    let mut first_error = None;
    for log in candidates {
        let result = (|| {
            // A trusted-root key is used only inside its validFor, inclusive at both ends; an
            // absent validFor places no bound (sigstore-protocol.md §2.2).
            if let Some(range) = &log.public_key.valid_for {
                let validity = Validity::from_range(range)
                    .map_err(|e| SctError::BadLogKey { log_base_url: log.base_url.clone(), reason: e.to_string() })?;
                if !validity.contains(at) {
                    return Err(SctError::LogNotValidAt { log_base_url: log.base_url.clone(), at });
                }
            }
            let key = PublicKey::from_spki_der(&log.public_key.raw_bytes)
                .map_err(|e| SctError::BadLogKey { log_base_url: log.base_url.clone(), reason: e.to_string() })?;
            key.verify(&signed, &sct.signature)
                .map_err(|_| SctError::BadSignature { log_base_url: log.base_url.clone() })?;
            Ok(VerifiedSct { log_base_url: log.base_url.clone(), timestamp_ms: sct.timestamp_ms })
        })();
        match result {
            Ok(v) => return Ok(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SctError::UnknownLog { log_id_hex: hex::encode(sct.log_id) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verify::x509::subject_and_spki;
    use crate::core::wire::bundle::Bundle;
    use crate::core::wire::trust_root::TrustedRoot;

    fn fixtures() -> (LeafCertificate, TrustedRoot) {
        let bundle: Bundle = serde_json::from_str(include_str!(
            "../../../tests/data/sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
        ))
        .unwrap();
        let root: TrustedRoot =
            serde_json::from_str(include_str!("../../../tests/data/trust/public-good-production-trusted_root.json"))
                .unwrap();
        let leaf = LeafCertificate::parse(&bundle.verification_material.certificate.unwrap().raw_bytes).unwrap();
        (leaf, root)
    }

    fn intermediate_spki(root: &TrustedRoot) -> Vec<u8> {
        // The 2022 chain: sigstore-intermediate, then the sigstore root.
        let ca = root.certificate_authorities.last().unwrap();
        subject_and_spki(&ca.cert_chain.certificates[0].raw_bytes).unwrap().1
    }

    #[test]
    fn a_real_fulcio_sct_verifies_against_the_production_ct_log() {
        let (leaf, root) = fixtures();
        let v = verify_embedded_scts(&leaf, &intermediate_spki(&root), &root.ctlogs).unwrap();
        assert_eq!(v.log_base_url, "https://ctfe.sigstore.dev/2022");
    }

    #[test]
    fn sct_from_the_wrong_issuer_key_is_rejected() {
        let (leaf, root) = fixtures();
        let root_spki =
            subject_and_spki(&root.certificate_authorities.last().unwrap().cert_chain.certificates[1].raw_bytes)
                .unwrap()
                .1;
        assert!(matches!(verify_embedded_scts(&leaf, &root_spki, &root.ctlogs), Err(SctError::BadSignature { .. })));
    }

    #[test]
    fn sct_from_an_untrusted_log_is_rejected() {
        let (leaf, mut root) = fixtures();
        root.ctlogs.retain(|l| l.base_url != "https://ctfe.sigstore.dev/2022");
        assert!(matches!(
            verify_embedded_scts(&leaf, &intermediate_spki(&root), &root.ctlogs),
            Err(SctError::UnknownLog { .. })
        ));
    }

    #[test]
    fn sct_outside_the_log_key_validity_is_rejected() {
        let (leaf, mut root) = fixtures();
        for log in &mut root.ctlogs {
            if let Some(range) = log.public_key.valid_for.as_mut() {
                range.end = Some("2022-10-21T00:00:00Z".into());
            }
        }
        assert!(matches!(
            verify_embedded_scts(&leaf, &intermediate_spki(&root), &root.ctlogs),
            Err(SctError::LogNotValidAt { .. })
        ));
    }

    #[test]
    fn truncated_sct_lists_are_malformed_not_panics() {
        let (leaf, _) = fixtures();
        let list = leaf.sct_list.unwrap();
        for cut in [0, 1, 2, 5, 40, list.len() - 1] {
            assert!(matches!(parse_sct_list(&list[..cut]), Err(SctError::Malformed { .. })), "cut {cut}");
        }
        assert_eq!(parse_sct_list(&list).unwrap().len(), 1);
    }
}
