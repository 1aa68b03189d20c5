//! X.509 path validation at a given time, for Fulcio leaves (code signing) and TSA leaves
//! (time stamping). Chain building is rustls-webpki's; this module only adapts the trusted
//! root's `certChain` (ordered leaf-side first, trust anchor last) to it.
//!
//! Sigstore's hybrid model (client-spec §4, sigstore-protocol.md §5 step 2): the path is
//! validated with "now" set to each verified signing time, not the wall clock.

use std::collections::HashSet;
use std::sync::Mutex;

use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, UnixTime as PkiTime,
};
use sha2::{Digest as _, Sha256};

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
/// from the bundle (sigstore-protocol.md §5 step 2). Signature checks that already succeeded
/// in `cache` are not repeated.
pub fn validate_path<C: AsRef<[u8]>>(
    leaf_der: &[u8],
    authority_chain: &[C],
    at: UnixTime,
    eku: &'static [u8],
    cache: &SignatureCache,
) -> Result<(), PathError> {
    let (anchor_der, intermediates) = authority_chain.split_last().ok_or(PathError::EmptyChain)?;
    let anchor_cert = CertificateDer::from(anchor_der.as_ref());
    let anchor = webpki::anchor_from_trusted_cert(&anchor_cert)
        .map_err(|e| PathError::BadCertificate { reason: format!("trust anchor: {e:?}") })?;
    let leaf_cert = CertificateDer::from(leaf_der);
    let leaf = webpki::EndEntityCert::try_from(&leaf_cert)
        .map_err(|e| PathError::BadCertificate { reason: format!("leaf: {e:?}") })?;
    let intermediates: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|d| CertificateDer::from(d.as_ref())).collect();
    let seconds =
        u64::try_from(at.seconds()).map_err(|_| PathError::NoValidPath { reason: "time before 1970".into() })?;
    let time = PkiTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    let wrapped: Vec<Memoized<'_>> =
        webpki::ALL_VERIFICATION_ALGS.iter().map(|alg| Memoized { alg: *alg, cache }).collect();
    let algorithms: Vec<&dyn SignatureVerificationAlgorithm> =
        wrapped.iter().map(|m| m as &dyn SignatureVerificationAlgorithm).collect();
    // The leaf itself must name the usage (client spec: a Fulcio leaf is for code signing;
    // RFC 3161 §2.3: a TSA's certificate is for time stamping).
    if !names_extended_key_usage(leaf_der, eku)? {
        return Err(PathError::NoValidPath { reason: "the leaf's extended key usage does not allow this use".into() });
    }
    // Above the leaf, a CA certificate that states an extended key usage must allow this one;
    // one that states none is unrestricted (RFC 5280 §4.2.1.12 binds only the certificate that
    // carries the extension). GitHub's `Fulcio Intermediate l1` states none, and Go's x509
    // (so sigstore-go and gh) and sigstore-js accept it.
    leaf.verify_for_usage(
        &algorithms,
        &[anchor],
        &intermediates,
        time,
        webpki::KeyUsage::required_if_present(eku),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| PathError::NoValidPath { reason: format!("{e:?}") })
}

/// Whether the certificate's extended key usage extension is present and names `eku` (an OID's
/// content bytes).
fn names_extended_key_usage(cert_der: &[u8], eku: &[u8]) -> Result<bool, PathError> {
    use der::Decode as _;
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| PathError::BadCertificate { reason: format!("leaf: {e}") })?;
    let Some(extension) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|ext| ext.extn_id == const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE)
    else {
        return Ok(false);
    };
    let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(extension.extn_value.as_bytes())
        .map_err(|e| PathError::BadCertificate { reason: format!("leaf extended key usage: {e}") })?;
    Ok(usages.0.iter().any(|oid| oid.as_bytes() == eku))
}

/// Signature checks that already succeeded, by the SHA-256 of everything they depend on.
/// Verifying many bundles repeats the same checks: every leaf from one Fulcio CA is checked
/// against the same intermediate, itself signed by the same root (and a batch of bundles
/// shares one leaf). Only successes are remembered; the time-dependent parts of path
/// validation (validity periods) are re-checked by webpki on every call. A value owned by
/// whoever verifies a batch (one per batch, shared by its threads), never process-wide.
#[derive(Debug, Default)]
pub struct SignatureCache {
    seen: Mutex<HashSet<[u8; 32]>>,
}

/// Bounds the memory of a [`SignatureCache`]; when full it starts over.
const MAX_REMEMBERED_SIGNATURES: usize = 65_536;

impl SignatureCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn contains(&self, key: &[u8; 32]) -> bool {
        self.seen.lock().is_ok_and(|set| set.contains(key))
    }

    fn insert(&self, key: [u8; 32]) {
        if let Ok(mut set) = self.seen.lock() {
            if set.len() >= MAX_REMEMBERED_SIGNATURES {
                set.clear();
            }
            set.insert(key);
        }
    }

    /// How many successful checks are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |set| set.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One of webpki's algorithms, remembering its successful checks in a [`SignatureCache`].
#[derive(Debug)]
struct Memoized<'c> {
    alg: &'static dyn SignatureVerificationAlgorithm,
    cache: &'c SignatureCache,
}

impl Memoized<'_> {
    fn key(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        // Every part length-prefixed, so no two inputs share an encoding.
        for part in [
            self.alg.public_key_alg_id().as_ref(),
            self.alg.signature_alg_id().as_ref(),
            public_key,
            message,
            signature,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

impl SignatureVerificationAlgorithm for Memoized<'_> {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let key = self.key(public_key, message, signature);
        if self.cache.contains(&key) {
            return Ok(());
        }
        self.alg.verify_signature(public_key, message, signature)?;
        self.cache.insert(key);
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.alg.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.alg.signature_alg_id()
    }

    fn fips(&self) -> bool {
        self.alg.fips()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::bundle::Bundle;
    use crate::core::wire::trust_root::TrustedRoot;

    fn fixtures() -> (Bundle, TrustedRoot) {
        let bundle: Bundle = serde_json::from_str(include_str!(
            "../../../tests/data/sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
        ))
        .unwrap();
        let root: TrustedRoot =
            serde_json::from_str(include_str!("../../../tests/data/trust/public-good-production-trusted_root.json"))
                .unwrap();
        (bundle, root)
    }

    #[test]
    fn a_real_fulcio_leaf_validates_at_its_log_time_and_not_a_day_later() {
        let (bundle, root) = fixtures();
        let cache = SignatureCache::new();
        let leaf = bundle.verification_material.certificate.unwrap().raw_bytes;
        let t = UnixTime(bundle.verification_material.tlog_entries[0].integrated_time);
        let chains: Vec<Vec<Vec<u8>>> = root
            .certificate_authorities
            .iter()
            .map(|ca| ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect())
            .collect();
        assert!(chains.iter().any(|c| validate_path(&leaf, c, t, EKU_CODE_SIGNING, &cache).is_ok()));
        assert!(chains
            .iter()
            .all(|c| validate_path(&leaf, c, UnixTime(t.0 + 86_400), EKU_CODE_SIGNING, &cache).is_err()));
        assert!(chains.iter().all(|c| validate_path(&leaf, c, t, EKU_TIME_STAMPING, &cache).is_err()));
    }

    #[test]
    fn a_remembered_success_does_not_pass_a_forged_leaf() {
        let (bundle, root) = fixtures();
        let cache = SignatureCache::new();
        let leaf = bundle.verification_material.certificate.unwrap().raw_bytes;
        let t = UnixTime(bundle.verification_material.tlog_entries[0].integrated_time);
        let chains: Vec<Vec<Vec<u8>>> = root
            .certificate_authorities
            .iter()
            .map(|ca| ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect())
            .collect();
        // Twice: the second run is answered from the remembered signature checks.
        for _ in 0..2 {
            assert!(chains.iter().any(|c| validate_path(&leaf, c, t, EKU_CODE_SIGNING, &cache).is_ok()));
        }
        // The leaf by the intermediate and the intermediate by the root.
        assert_eq!(cache.len(), 2);
        // The same leaf with one byte of its signature changed (the last byte of the DER).
        let mut forged = leaf.clone();
        if let Some(last) = forged.last_mut() {
            *last ^= 0x01;
        }
        assert!(chains.iter().all(|c| validate_path(&forged, c, t, EKU_CODE_SIGNING, &cache).is_err()));
    }
}
