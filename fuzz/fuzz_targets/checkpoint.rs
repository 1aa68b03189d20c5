//! Signed notes and checkpoint bodies, verified with the public-good Rekor key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::checkpoint::{parse_checkpoint_body, parse_signed_note, verify_checkpoint, NoteVerifier, OriginRule};
use npm_attest::core::crypto::PublicKey;
use npm_attest::core::wire::trust_root::TrustedRoot;

const ROOT: &str = include_str!("../../tests/data/trust/public-good-production-trusted_root.json");

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(note) = parse_signed_note(&text) {
        let _ = parse_checkpoint_body(note.body);
    }
    let Ok(root) = serde_json::from_str::<TrustedRoot>(ROOT) else {
        return;
    };
    for tlog in &root.tlogs {
        let Ok(key) = PublicKey::from_spki_der(&tlog.public_key.raw_bytes) else {
            continue;
        };
        let mut key_hint = [0u8; 4];
        if tlog.log_id.key_id.len() >= 4 {
            key_hint.copy_from_slice(&tlog.log_id.key_id[..4]);
        }
        for origin in [OriginRule::NameWithTreeId, OriginRule::Exact] {
            let verifier = NoteVerifier { names: vec!["rekor.sigstore.dev".into()], key_hint, key: &key, origin };
            let _ = verify_checkpoint(&text, &verifier);
        }
    }
});
