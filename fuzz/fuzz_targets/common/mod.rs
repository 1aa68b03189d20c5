//! Shared by the targets: the trust material, parsed once per process (not per input), and
//! the subject and policy a bundle itself claims, so that verification runs past the subject
//! and identity checks into the timestamp, log, SCT and chain code.
#![allow(dead_code)]

use std::sync::OnceLock;

use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::crypto::pem_rfc7468_decode;
use npm_attest::core::wire::trust_root::TrustedRoot;
use npm_attest::core::verify::{
    verify_bundle, ArtifactDigests, BundleContent, BundleSigner, IdentityPolicy, NpmPackage, ParsedBundle, Policy,
    IdentityMatcher, Subject,
};

/// Every trusted root a seed bundle may chain to: public-good production and staging, GitHub's,
/// and the sigstore-conformance roots (Rekor v2, TSA, managed keys).
const ROOTS: &[&str] = &[
    include_str!("../../../tests/data/trust/public-good-production-trusted_root.json"),
    include_str!("../../../tests/data/trust/public-good-staging-trusted_root.json"),
    include_str!("../../../tests/data/trust/github-trusted_root.json"),
    include_str!("../../../tests/data/sigstore-conformance/bundle-verify/rekor2-checkpoint-cosigned/trusted_root.json"),
    include_str!("../../../tests/data/sigstore-conformance/bundle-verify/rekor2-dsse-happy-path/trusted_root.json"),
    include_str!("../../../tests/data/sigstore-conformance/bundle-verify/intoto-expired-certificate_fail/trusted_root.json"),
    include_str!("../../../tests/data/sigstore-conformance/bundle-verify/managed-key-and-trusted-root/trusted_root.json"),
];

const MANAGED_KEY: &str =
    include_str!("../../../tests/data/sigstore-conformance/bundle-verify/managed-key-happy-path/key.pub");

pub fn roots() -> &'static [TrustedRoot] {
    static ROOTS_PARSED: OnceLock<Vec<TrustedRoot>> = OnceLock::new();
    ROOTS_PARSED.get_or_init(|| ROOTS.iter().filter_map(|text| serde_json::from_str(text).ok()).collect())
}

pub fn production_root() -> &'static TrustedRoot {
    &roots()[0]
}

pub fn managed_key_spki() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| pem_rfc7468_decode(MANAGED_KEY).map(|(_, der)| der).unwrap_or_default())
}

fn hex32<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    if text.len() != 2 * N {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The subjects the bundle claims: each statement subject's digests (and, for a
/// `pkg:npm/...` subject, the npm package), or a message signature's digest.
pub fn claimed_subjects(bundle: &Bundle) -> Vec<Subject> {
    let Ok(parsed) = ParsedBundle::parse(bundle) else {
        return Vec::new();
    };
    let mut subjects = Vec::new();
    match parsed.content {
        BundleContent::MessageSignature { digest, .. } => {
            if let Some((_, d)) = digest {
                // The digest's length says which algorithm it is (SHA-256, SHA-384, SHA-512).
                let sha256 = d.try_into().ok();
                let sha384 = d.try_into().ok();
                let sha512 = d.try_into().ok();
                subjects.push(Subject::Artifact(ArtifactDigests { sha256, sha384, sha512 }));
            }
        }
        BundleContent::Dsse { envelope, .. } => {
            let Ok(statement) = serde_json::from_slice::<serde_json::Value>(&envelope.payload) else {
                return subjects;
            };
            for s in statement.get("subject").and_then(|s| s.as_array()).into_iter().flatten().take(4) {
                let digest = s.get("digest");
                let get = |alg: &str| digest.and_then(|d| d.get(alg)).and_then(|v| v.as_str());
                let sha256 = get("sha256").and_then(hex32::<32>);
                let sha512 = get("sha512").and_then(hex32::<64>);
                if sha256.is_some() || sha512.is_some() {
                    let sha384 = get("sha384").and_then(hex32::<48>);
                    subjects.push(Subject::Artifact(ArtifactDigests { sha256, sha384, sha512 }));
                }
                let purl = s.get("name").and_then(|n| n.as_str()).and_then(|n| n.strip_prefix("pkg:npm/"));
                if let (Some(purl), Some(sha512)) = (purl, sha512) {
                    if let Some((name, version)) = purl.rsplit_once('@') {
                        let name = name.replace("%40", "@");
                        subjects.push(Subject::NpmPackage(NpmPackage { name, version: version.into(), sha512 }));
                    }
                }
            }
        }
    }
    subjects
}

/// The policy the bundle's own signer satisfies: its certificate's SAN and issuer, or the
/// conformance suite's managed key.
pub fn claimed_policy(bundle: &Bundle) -> Option<Policy> {
    let parsed = ParsedBundle::parse(bundle).ok()?;
    match &parsed.signer {
        BundleSigner::Certificate(leaf) => {
            let mut identity = IdentityPolicy::new(leaf.oidc_issuer().unwrap_or("https://issuer.invalid"));
            identity.san = Some(IdentityMatcher::Exact(leaf.san().map(|s| s.value().to_owned()).unwrap_or_default()));
            Some(Policy::Keyless(identity))
        }
        BundleSigner::PublicKey { .. } => Some(Policy::ManagedKey { spki_der: managed_key_spki().to_vec() }),
    }
}

/// Verifies `bundle` for each subject it claims, under the policy it claims, against `roots`.
pub fn verify_as_claimed(bundle: &Bundle, roots: &[TrustedRoot]) {
    let Some(policy) = claimed_policy(bundle) else {
        return;
    };
    for subject in claimed_subjects(bundle) {
        for root in roots {
            let _ = verify_bundle(bundle, root, &subject, &policy);
        }
    }
}

/// libFuzzer prints coverage (`-print_coverage=1`) only when a sanitizer runtime can symbolize
/// program counters, and we build without one. These two stand-ins let it print: each PC is
/// written as a hex address, which `fuzz/coverage-by-module` maps to functions and files with
/// `addr2line`. libFuzzer finds them through its weak declarations; nothing else calls them.
#[no_mangle]
pub extern "C" fn __sanitizer_symbolize_pc(
    pc: *const std::ffi::c_void,
    _fmt: *const std::ffi::c_char,
    out: *mut std::ffi::c_char,
    out_len: usize,
) {
    if out.is_null() || out_len == 0 {
        return;
    }
    let text = format!("{:#x}", pc as usize);
    let n = text.len().min(out_len - 1);
    // SAFETY: libFuzzer passes a buffer of `out_len` bytes; we write at most `out_len` of them.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), n);
        *out.add(n) = 0;
    }
}

#[no_mangle]
pub extern "C" fn __sanitizer_get_module_and_offset_for_pc(
    _pc: *const std::ffi::c_void,
    _module: *mut std::ffi::c_char,
    _module_len: usize,
    _offset: *mut *mut std::ffi::c_void,
) -> std::ffi::c_int {
    0
}
