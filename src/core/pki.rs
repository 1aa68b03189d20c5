//! X.509 path validation at a given time, for Fulcio leaves (code signing) and TSA leaves
//! (time stamping). Chain building is rustls-webpki's; this module only adapts the trusted
//! root's `certChain` (ordered leaf-side first, trust anchor last) to it.
//!
//! Sigstore's hybrid model (client-spec §4, sigstore-protocol.md §5 step 2): the path is
//! validated with "now" set to each verified signing time, not the wall clock.

use rustls_pki_types::{CertificateDer, UnixTime as PkiTime};

use crate::core::time::UnixTime;

/// `id-kp-codeSigning` 1.3.6.1.5.5.7.3.3 (OID content bytes).
pub const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// `id-kp-timeStamping` 1.3.6.1.5.5.7.3.8 (OID content bytes).
pub const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The authority's chain is empty.
    EmptyChain,
    /// A certificate could not be parsed by the path validator.
    BadCertificate { reason: String },
    /// No path from the leaf to the anchor is valid at the given time for the given usage.
    NoValidPath { reason: String },
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyChain => f.write_str("certificate authority has an empty chain"),
            Self::BadCertificate { reason } => write!(f, "certificate is not usable: {reason}"),
            Self::NoValidPath { reason } => write!(f, "certificate does not chain to the trusted authority: {reason}"),
        }
    }
}

impl std::error::Error for PathError {}

/// Validates `leaf_der` against one authority chain (`authority_chain`: intermediates first,
/// trust anchor last) at time `at`, requiring the extended key usage `eku` (an OID's content
/// bytes, e.g. [`EKU_CODE_SIGNING`]). Intermediates come only from the trusted root, never
/// from the bundle (sigstore-protocol.md §5 step 2).
pub fn validate_path(
    leaf_der: &[u8],
    authority_chain: &[Vec<u8>],
    at: UnixTime,
    eku: &'static [u8],
) -> Result<(), PathError> {
    let (anchor_der, intermediates) = authority_chain.split_last().ok_or(PathError::EmptyChain)?;
    let anchor_cert = CertificateDer::from(anchor_der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&anchor_cert)
        .map_err(|e| PathError::BadCertificate { reason: format!("trust anchor: {e:?}") })?;
    let leaf_cert = CertificateDer::from(leaf_der);
    let leaf = webpki::EndEntityCert::try_from(&leaf_cert)
        .map_err(|e| PathError::BadCertificate { reason: format!("leaf: {e:?}") })?;
    let intermediates: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|d| CertificateDer::from(d.as_slice())).collect();
    let seconds = u64::try_from(at.seconds()).map_err(|_| PathError::NoValidPath { reason: "time before 1970".into() })?;
    let time = PkiTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        time,
        webpki::KeyUsage::required(eku),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| PathError::NoValidPath { reason: format!("{e:?}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::bundle::Bundle;
    use crate::core::trust_root::TrustedRoot;

    fn fixtures() -> (Bundle, TrustedRoot) {
        let bundle: Bundle = serde_json::from_str(include_str!(
            "../../tests/data/sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
        ))
        .unwrap();
        let root: TrustedRoot =
            serde_json::from_str(include_str!("../../tests/data/trust/public-good-production-trusted_root.json")).unwrap();
        (bundle, root)
    }

    #[test]
    fn a_real_fulcio_leaf_validates_at_its_log_time_and_not_a_day_later() {
        let (bundle, root) = fixtures();
        let leaf = bundle.verification_material.certificate.unwrap().raw_bytes;
        let t = UnixTime(bundle.verification_material.tlog_entries[0].integrated_time);
        let chains: Vec<Vec<Vec<u8>>> = root
            .certificate_authorities
            .iter()
            .map(|ca| ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect())
            .collect();
        assert!(chains.iter().any(|c| validate_path(&leaf, c, t, EKU_CODE_SIGNING).is_ok()));
        assert!(chains.iter().all(|c| validate_path(&leaf, c, UnixTime(t.0 + 86_400), EKU_CODE_SIGNING).is_err()));
        assert!(chains.iter().all(|c| validate_path(&leaf, c, t, EKU_TIME_STAMPING).is_err()));
    }
}
