//! The stand-in's Rekor v2 log, shaped like rekor-tiles (sigstore-protocol.md §4.2):
//! `POST /api/v2/log/entries` takes a `CreateEntryRequest` with a `hashedRekordRequestV002`,
//! checks the signature over the digest with the verifier's key, appends the canonical body to
//! its own RFC 6962 tree and answers the `TransparencyLogEntry` (no integrated time, no SET)
//! with an inclusion proof against a C2SP signed-note checkpoint signed with an Ed25519 key.
//! `GET /api/v2/checkpoint` serves the latest checkpoint. Tiles are not served.
//!
//! The log's origin is its scheme-less base URL (`127.0.0.1:PORT/rekor-v2`), and its log ID is
//! the C2SP key ID of (origin, key), which is what the trusted root lists.

use std::collections::HashMap;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::Value;

use crate::core::canonical_json::to_canonical_string;
use crate::core::crypto::{HashAlgorithm, PublicKey};
use crate::core::verify::checkpoint::c2sp_key_id;
use crate::core::verify::merkle::{leaf_hash, Hash, Tree};
use crate::core::wire::bundle::{Checkpoint, InclusionProof, KindVersion, LogId, TransparencyLogEntry};
use crate::core::wire::encoding::{b64_decode, b64_encode};
use crate::core::wire::rekor_v2::{digest_algorithm, hashedrekord_v002_body, Verifier};
use crate::standin::log::signed_note;

/// The path under the stand-in's base URL where the Rekor v2 log lives.
pub(crate) const PATH_PREFIX: &str = "/rekor-v2";

/// Why a request was refused (rekor-tiles answers 400 `InvalidArgument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryError(pub String);

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(message: impl Into<String>) -> EntryError {
    EntryError(message.into())
}

/// The outcome of a write.
pub(crate) enum Created {
    New(Box<TransparencyLogEntry>),
    /// An identical entry is already logged at this index (answered 409 `AlreadyExists`).
    Duplicate(u64),
}

pub(crate) struct LogV2 {
    key: Ed25519KeyPair,
    spki_der: Vec<u8>,
    origin: String,
    key_id: [u8; 32],
    tree: Tree,
    bodies: Vec<Vec<u8>>,
    by_leaf: HashMap<Hash, u64>,
}

impl std::fmt::Debug for LogV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogV2").field("origin", &self.origin).field("size", &self.tree.len()).finish_non_exhaustive()
    }
}

impl LogV2 {
    pub(crate) fn new(seed: [u8; 32], origin: String) -> anyhow::Result<Self> {
        let key = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| anyhow::anyhow!("cannot make the Ed25519 log key: {e}"))?;
        // SubjectPublicKeyInfo for Ed25519 (RFC 8410 §4): the fixed algorithm header, then the
        // 32-byte key.
        let mut spki_der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        spki_der.extend_from_slice(key.public_key().as_ref());
        let public = PublicKey::from_spki_der(&spki_der).map_err(|e| anyhow::anyhow!("Ed25519 log key: {e}"))?;
        let key_id = c2sp_key_id(&origin, &public, &spki_der);
        Ok(Self { key, spki_der, origin, key_id, tree: Tree::new(), bodies: Vec::new(), by_leaf: HashMap::new() })
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The C2SP key ID, which is the log ID (sigstore-protocol.md §4.2).
    pub(crate) fn log_id(&self) -> [u8; 32] {
        self.key_id
    }

    /// A C2SP checkpoint of the current tree: origin, size, root, no extension lines, signed
    /// by the log's Ed25519 key (plain Ed25519 over the note body).
    pub(crate) fn checkpoint(&self) -> String {
        let size = self.tree.len();
        let body = format!("{}\n{size}\n{}\n", self.origin, b64_encode(self.tree.root(size)));
        let signature = self.key.sign(body.as_bytes());
        let signature = signature.as_ref();
        let hint = [self.key_id[0], self.key_id[1], self.key_id[2], self.key_id[3]];
        signed_note(&body, &self.origin, &hint, signature)
    }

    /// Appends the entry a `CreateEntryRequest` describes, once its signature verified.
    pub(crate) fn create(&mut self, request: &Value) -> Result<Created, EntryError> {
        let body = if let Some(hashed) =
            request.get("hashedRekordRequestV002").or_else(|| request.get("hashedRekordRequestV0_0_2"))
        {
            hashedrekord(hashed)?
        } else if request.get("dsseRequestV002").or_else(|| request.get("dsseRequestV0_0_2")).is_some() {
            return Err(bad(
                "dsse entries are not accepted: log a DSSE envelope as a hashedrekord over the hash of its PAE (rekor-v2-spec §6.1.4)",
            ));
        } else {
            return Err(bad("the request has no hashedRekordRequestV002"));
        };
        let leaf = leaf_hash(&body);
        if let Some(index) = self.by_leaf.get(&leaf) {
            return Ok(Created::Duplicate(*index));
        }
        let index = self.tree.push(leaf);
        self.by_leaf.insert(leaf, index);
        self.bodies.push(body);
        self.entry(index).map(|e| Created::New(Box::new(e))).ok_or_else(|| bad("the entry vanished from the log"))
    }

    /// Entry `index` with an inclusion proof against the current checkpoint.
    fn entry(&self, index: u64) -> Option<TransparencyLogEntry> {
        let body = self.bodies.get(usize::try_from(index).ok()?)?.clone();
        let size = self.tree.len();
        let hashes = self.tree.inclusion_proof(index, size)?;
        let log_index = i64::try_from(index).ok()?;
        Some(TransparencyLogEntry {
            log_index,
            log_id: LogId { key_id: self.key_id.to_vec() },
            kind_version: KindVersion { kind: "hashedrekord".into(), version: "0.0.2".into() },
            integrated_time: 0,
            inclusion_promise: None,
            inclusion_proof: Some(InclusionProof {
                log_index,
                root_hash: self.tree.root(size).to_vec(),
                tree_size: i64::try_from(size).ok()?,
                hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                checkpoint: Checkpoint { envelope: self.checkpoint() },
            }),
            canonicalized_body: body,
        })
    }
}

/// Checks a `HashedRekordRequestV002` and returns the canonical body.
fn hashedrekord(request: &Value) -> Result<Vec<u8>, EntryError> {
    let text = |pointer: &str| {
        request.pointer(pointer).and_then(Value::as_str).ok_or_else(|| bad(format!("the request has no {pointer}")))
    };
    let decode = |pointer: &str| b64_decode(text(pointer)?).map_err(|_| bad(format!("{pointer} is not base64")));
    let digest = decode("/digest")?;
    let signature = decode("/signature/content")?;
    let key_details = text("/signature/verifier/keyDetails")?;
    let algorithm = digest_algorithm(key_details)
        .ok_or_else(|| bad(format!("keyDetails {key_details:?} is not supported (ECDSA P-256, P-384, P-521)")))?;
    let (verifier, spki) = if let Ok(cert) = decode("/signature/verifier/x509Certificate/rawBytes") {
        let spki = crate::core::verify::x509::subject_and_spki(&cert)
            .map_err(|e| bad(format!("the verifier certificate is unusable: {e}")))?
            .1;
        (cert, spki)
    } else if let Ok(key) = decode("/signature/verifier/publicKey/rawBytes") {
        (key.clone(), key)
    } else {
        return Err(bad("the verifier has neither x509Certificate nor publicKey"));
    };
    let key = PublicKey::from_spki_der(&spki).map_err(|e| bad(format!("the verifier key is unusable: {e}")))?;
    let matches = matches!(
        (&key, key_details),
        (PublicKey::P256(_), "PKIX_ECDSA_P256_SHA_256") | (PublicKey::P384(_), "PKIX_ECDSA_P384_SHA_384")
    );
    if !matches {
        return Err(bad(format!("keyDetails {key_details:?} does not describe the verifier's key")));
    }
    let expected_len = if algorithm == "SHA2_384" { 48 } else { 32 };
    if digest.len() != expected_len {
        return Err(bad(format!("the digest is {} bytes; {algorithm} digests are {expected_len}", digest.len())));
    }
    let hash = HashAlgorithm::from_registry_name(algorithm)
        .ok_or_else(|| bad(format!("digest algorithm {algorithm} is not supported")))?;
    key.verify_prehashed(hash, &digest, &signature)
        .map_err(|_| bad("the signature does not verify with the verifier's key"))?;
    let logged = if request.pointer("/signature/verifier/x509Certificate").is_some() {
        Verifier::Certificate(&verifier)
    } else {
        Verifier::PublicKey(&verifier)
    };
    let body = hashedrekord_v002_body(algorithm, &digest, &signature, logged, key_details);
    // Only strings: canonicalization cannot fail.
    Ok(to_canonical_string(&body).unwrap_or_default().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verify::tlog::{verify_entry, SignedContent, SignerKey};
    use crate::core::wire::rekor_v2::hashedrekord_v002_request;
    use crate::core::wire::trust_root::{PublicKey as TrustedKey, TimeRange, TransparencyLogInstance};
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    use p256::pkcs8::EncodePublicKey as _;
    use sha2::Digest as _;

    #[test]
    fn entries_verify_as_rekor_v2_and_a_second_identical_write_is_a_conflict() {
        let mut log = LogV2::new([5; 32], "127.0.0.1:1/rekor-v2".into()).unwrap();
        let key = p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap();
        let spki = key.verifying_key().to_public_key_der().unwrap().into_vec();
        let mut entries = Vec::new();
        for artifact in [&b"first"[..], b"second"] {
            let digest = sha2::Sha256::digest(artifact);
            let signature: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
            let signature = signature.to_der().as_bytes().to_vec();
            let request =
                hashedrekord_v002_request(&digest, &signature, Verifier::PublicKey(&spki), "PKIX_ECDSA_P256_SHA_256");
            let Created::New(entry) = log.create(&request).unwrap() else { panic!("first write is new") };
            assert!(matches!(log.create(&request), Ok(Created::Duplicate(_))));
            entries.push((entry, digest, signature));
        }
        let trusted = vec![TransparencyLogInstance {
            base_url: "http://127.0.0.1:1/rekor-v2".into(),
            hash_algorithm: "SHA2_256".into(),
            public_key: TrustedKey {
                raw_bytes: log.spki_der().to_vec(),
                key_details: "PKIX_ED25519".into(),
                valid_for: Some(TimeRange { start: Some("2020-01-01T00:00:00Z".into()), end: None }),
            },
            log_id: LogId { key_id: log.log_id().to_vec() },
            checkpoint_key_id: None,
            operator: None,
        }];
        for (entry, digest, signature) in &entries {
            let content =
                SignedContent::MessageSignature { hash: HashAlgorithm::Sha256, artifact_digest: digest, signature };
            let verified = verify_entry(entry, &trusted, content, SignerKey::PublicKey { spki_der: &spki }).unwrap();
            assert_eq!(verified.integrated_time, None);
        }
        // A signature that does not verify is refused, not logged.
        let digest = sha2::Sha256::digest(b"third");
        let request =
            hashedrekord_v002_request(&digest, &entries[0].2, Verifier::PublicKey(&spki), "PKIX_ECDSA_P256_SHA_256");
        assert!(log.create(&request).is_err());
    }
}
