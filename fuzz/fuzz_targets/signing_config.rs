//! Signing config JSON (sigstore-protocol.md §2.3) and the Fulcio/Rekor selection from it, at
//! several times around the seeds' validity windows and for each Rekor version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::time::UnixTime;
use npm_attest::core::wire::trust_root::SigningConfig;
use npm_attest::sigstore::endpoints::select_endpoints;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<SigningConfig>(data) else {
        return;
    };
    for now in [0, 1_700_000_000, 1_800_000_000, i64::MAX / 2] {
        // No Rekor version asked (the config decides), and each version asked explicitly.
        for rekor_version in [None, Some(1), Some(2), Some(u32::MAX)] {
            let _ = select_endpoints(&config, UnixTime(now), rekor_version);
        }
    }
});
