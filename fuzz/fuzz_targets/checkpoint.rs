//! Signed notes and checkpoint bodies, verified with the seed roots' log keys (parsed once).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::checkpoint::{parse_checkpoint_body, parse_signed_note, verify_checkpoint, NoteVerifier, OriginRule};
use npm_attest::core::crypto::PublicKey;

fn keys() -> &'static [(PublicKey, [u8; 4], String)] {
    static KEYS: OnceLock<Vec<(PublicKey, [u8; 4], String)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Vec::new();
        for tlog in common::roots().iter().flat_map(|r| r.tlogs.iter()) {
            let Ok(key) = PublicKey::from_spki_der(&tlog.public_key.raw_bytes) else {
                continue;
            };
            let mut hint = [0u8; 4];
            if tlog.log_id.key_id.len() >= 4 {
                hint.copy_from_slice(&tlog.log_id.key_id[..4]);
            }
            let name = tlog.base_url.trim_start_matches("https://").trim_start_matches("http://").to_owned();
            keys.push((key, hint, name));
        }
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(note) = parse_signed_note(&text) {
        let _ = parse_checkpoint_body(note.body);
    }
    for (key, key_hint, name) in keys() {
        for origin in [OriginRule::NameWithTreeId, OriginRule::Exact] {
            let verifier = NoteVerifier { names: vec![name.clone(), "rekor.sigstore.dev".into()], key_hint: *key_hint, key, origin };
            let _ = verify_checkpoint(&text, &verifier);
        }
    }
});
