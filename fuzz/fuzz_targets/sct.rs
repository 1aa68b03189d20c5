//! Signed certificate timestamps: a leaf certificate (DER) whose embedded SCT list is parsed and
//! verified against every seed root's CT logs, with each root's Fulcio intermediates as the
//! issuer; and the input as a bare SCT list.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::sct::{parse_sct_list, precert_tbs, verify_embedded_scts};
use npm_attest::core::verify::x509::{subject_and_spki, LeafCertificate};

/// The SPKI of every certificate in every seed root's CA chains (the possible issuers).
fn issuer_spkis() -> &'static [Vec<u8>] {
    static SPKIS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SPKIS.get_or_init(|| {
        common::roots()
            .iter()
            .flat_map(|r| r.certificate_authorities.iter())
            .flat_map(|ca| ca.cert_chain.certificates.iter())
            .filter_map(|c| subject_and_spki(&c.raw_bytes).ok().map(|(_, spki)| spki))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_sct_list(data);
    let _ = precert_tbs(data);
    let Ok(leaf) = LeafCertificate::parse(data) else {
        return;
    };
    for root in common::roots() {
        for spki in issuer_spkis() {
            let _ = verify_embedded_scts(&leaf, spki, &root.ctlogs);
        }
    }
});
