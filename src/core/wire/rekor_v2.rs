//! Rekor v2 (rekor-tiles) write API bodies (sigstore-protocol.md §4.2): the
//! `CreateEntryRequest` for a `hashedrekord` v0.0.2 entry, and the canonical body the log
//! stores for it. The answer is a `TransparencyLogEntry` in bundle JSON
//! ([`crate::core::wire::bundle::TransparencyLogEntry`]).

use serde_json::{json, Value};

use crate::core::wire::encoding::b64_encode;

/// Who signed, as a Rekor v2 verifier.
#[derive(Debug, Clone, Copy)]
pub enum Verifier<'a> {
    /// A leaf certificate, DER.
    Certificate(&'a [u8]),
    /// A public key, SPKI DER.
    PublicKey(&'a [u8]),
}

impl Verifier<'_> {
    fn to_json(self, key_details: &str) -> Value {
        match self {
            Self::Certificate(der) => {
                json!({"keyDetails": key_details, "x509Certificate": {"rawBytes": b64_encode(der)}})
            }
            Self::PublicKey(der) => json!({"keyDetails": key_details, "publicKey": {"rawBytes": b64_encode(der)}}),
        }
    }
}

/// `POST /api/v2/log/entries` body for a hashedrekord v0.0.2 over `digest` (for DSSE: the hash
/// of the PAE, rekor-v2-spec §6.1.4, as sigstore-python and sigstore-go send it).
pub fn hashedrekord_v002_request(digest: &[u8], signature: &[u8], verifier: Verifier<'_>, key_details: &str) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": b64_encode(digest),
        "signature": {"content": b64_encode(signature), "verifier": verifier.to_json(key_details)},
    }})
}

/// The canonical body of a hashedrekord v0.0.2 entry (serialize with RFC 8785 key order, as
/// rekor-tiles' protojson output is sorted and compact).
pub fn hashedrekord_v002_body(
    algorithm: &str,
    digest: &[u8],
    signature: &[u8],
    verifier: Verifier<'_>,
    key_details: &str,
) -> Value {
    json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": algorithm, "digest": b64_encode(digest)},
            "signature": {"content": b64_encode(signature), "verifier": verifier.to_json(key_details)},
        }},
    })
}

/// The hash algorithm (protobuf `HashAlgorithm` name) that goes with a key's `keyDetails`.
pub fn digest_algorithm(key_details: &str) -> Option<&'static str> {
    match key_details {
        "PKIX_ECDSA_P256_SHA_256" => Some("SHA2_256"),
        "PKIX_ECDSA_P384_SHA_384" => Some("SHA2_384"),
        "PKIX_ECDSA_P521_SHA_512" => Some("SHA2_512"),
        _ => None,
    }
}
