//! X.509 certificates: the Sigstore leaf profile, SCT pre-certificate rebuilding and path
//! validation against the public-good CAs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::pki::{validate_path, SignatureCache, EKU_CODE_SIGNING};
use npm_attest::core::verify::sct::precert_tbs;
use npm_attest::core::time::UnixTime;
use npm_attest::core::wire::trust_root::TrustedRoot;
use npm_attest::core::verify::x509::{has_precert_signing_eku, subject_and_spki, LeafCertificate};

const ROOT: &str = include_str!("../../tests/data/trust/public-good-production-trusted_root.json");

fuzz_target!(|der: &[u8]| {
    if let Ok(leaf) = LeafCertificate::parse(der) {
        let _ = (leaf.san(), leaf.oidc_issuer(), leaf.extensions().count());
    }
    let _ = has_precert_signing_eku(der);
    let _ = subject_and_spki(der);
    let _ = precert_tbs(der);
    let Ok(root) = serde_json::from_str::<TrustedRoot>(ROOT) else {
        return;
    };
    for ca in &root.certificate_authorities {
        let chain: Vec<Vec<u8>> = ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect();
        let _ = validate_path(der, &chain, UnixTime(1_700_000_000), EKU_CODE_SIGNING, &SignatureCache::new());
    }
});
