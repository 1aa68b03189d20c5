//! The Rekor-like transparency log (Rekor v1 API, sigstore-protocol.md §4.1): proposed entries
//! are checked and canonicalized exactly as Rekor stores them, appended to one RFC 6962 tree
//! kept across entries, and answered with a SET over the canonical entry and an inclusion proof
//! against a freshly signed checkpoint.

use std::collections::HashMap;

use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use crate::core::canonical_json::to_canonical_string;
use crate::core::crypto::{pem_encode, pem_rfc7468_decode, PublicKey};
use crate::core::verify::merkle::{leaf_hash, Hash, Tree};
use crate::core::wire::encoding::{b64_decode, b64_encode};
use crate::core::wire::rekor::set_payload;

/// Why a proposed entry was refused (Rekor answers 400 with `{"code":400,"message":...}`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(super) enum EntryError {
    UnsupportedType {
        kind: String,
        api_version: String,
    },
    MissingField {
        field: &'static str,
    },
    BadEncoding {
        field: &'static str,
        reason: String,
    },
    BadVerifier {
        reason: String,
    },
    /// A signature does not verify under any of the entry's keys.
    SignatureMismatch {
        kind: &'static str,
    },
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsupportedType { kind, api_version } => {
                write!(f, "entry type {kind:?} version {api_version:?} is not supported (dsse 0.0.1, intoto 0.0.2, hashedrekord 0.0.1)")
            }
            Self::MissingField { field } => write!(f, "proposed entry has no `{field}`"),
            Self::BadEncoding { field, reason } => {
                write!(f, "proposed entry `{field}` is malformed: {reason}")
            }
            Self::BadVerifier { reason } => {
                write!(f, "proposed entry's public key or certificate is unusable: {reason}")
            }
            Self::SignatureMismatch { kind } => {
                write!(f, "{kind} signature does not verify with the supplied key")
            }
        }
    }
}

impl std::error::Error for EntryError {}

fn field<'a>(v: &'a Value, path: &[&'static str]) -> Result<&'a Value, EntryError> {
    let mut cur = v;
    for name in path {
        cur = cur.get(name).ok_or(EntryError::MissingField { field: name })?;
    }
    Ok(cur)
}

fn str_field<'a>(v: &'a Value, path: &[&'static str]) -> Result<&'a str, EntryError> {
    let last = path.last().copied().unwrap_or("entry");
    field(v, path)?.as_str().ok_or(EntryError::BadEncoding { field: last, reason: "not a string".into() })
}

fn b64(field: &'static str, text: &str) -> Result<Vec<u8>, EntryError> {
    b64_decode(text).map_err(|e| EntryError::BadEncoding { field, reason: e.to_string() })
}

/// Parses a verifier given as base64 of a PEM certificate or public key, and returns the key and
/// the canonical PEM Rekor stores (re-encoded from the DER, 64-column lines).
fn verifier(field: &'static str, b64_pem: &str) -> Result<(PublicKey, String), EntryError> {
    let pem = String::from_utf8(b64(field, b64_pem)?)
        .map_err(|_| EntryError::BadVerifier { reason: "not PEM text".into() })?;
    let (label, der) = pem_rfc7468_decode(&pem).map_err(|e| EntryError::BadVerifier { reason: e.to_string() })?;
    let key = match label.as_str() {
        "CERTIFICATE" => {
            use der::{Decode as _, Encode as _};
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|e| EntryError::BadVerifier { reason: format!("certificate: {e}") })?;
            let spki = cert
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| EntryError::BadVerifier { reason: e.to_string() })?;
            PublicKey::from_spki_der(&spki).map_err(|e| EntryError::BadVerifier { reason: e.to_string() })?
        }
        "PUBLIC KEY" => {
            PublicKey::from_spki_der(&der).map_err(|e| EntryError::BadVerifier { reason: e.to_string() })?
        }
        other => return Err(EntryError::BadVerifier { reason: format!("PEM block {other:?}") }),
    };
    Ok((key, pem_encode(&label, &der)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a proposed entry and returns its canonical body (sorted-key compact JSON, as Rekor's
/// [`canonicalize`], without its error type (for the fuzz target, `crate::fuzzing`).
pub(crate) fn canonical_body(proposed: &Value) -> Option<Vec<u8>> {
    canonicalize(proposed).ok()
}

/// Go models marshal).
pub(super) fn canonicalize(proposed: &Value) -> Result<Vec<u8>, EntryError> {
    let kind = str_field(proposed, &["kind"])?;
    let api_version = str_field(proposed, &["apiVersion"])?;
    let spec = field(proposed, &["spec"])?;
    let body = match (kind, api_version) {
        ("dsse", "0.0.1") => dsse_v001(spec)?,
        ("intoto", "0.0.2") => intoto_v002(spec)?,
        ("hashedrekord", "0.0.1") => hashedrekord_v001(spec)?,
        _ => return Err(EntryError::UnsupportedType { kind: kind.to_owned(), api_version: api_version.to_owned() }),
    };
    // Only strings: canonicalization cannot fail.
    Ok(to_canonical_string(&body).unwrap_or_default().into_bytes())
}

/// Rekor `dsse` 0.0.1: every envelope signature must verify over PAE with one of the verifiers;
/// the body keeps `envelopeHash` (SHA-256 of the envelope string exactly as sent),
/// `payloadHash` and the signatures sorted by signature.
fn dsse_v001(spec: &Value) -> Result<Value, EntryError> {
    let envelope_text = str_field(spec, &["proposedContent", "envelope"])?;
    let envelope: Value = serde_json::from_str(envelope_text)
        .map_err(|e| EntryError::BadEncoding { field: "envelope", reason: e.to_string() })?;
    let payload = b64("payload", str_field(&envelope, &["payload"])?)?;
    let payload_type = str_field(&envelope, &["payloadType"])?;
    let verifiers = field(spec, &["proposedContent", "verifiers"])?
        .as_array()
        .ok_or(EntryError::BadEncoding { field: "verifiers", reason: "not an array".into() })?
        .iter()
        .map(|v| verifier("verifiers", v.as_str().unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()?;
    if verifiers.is_empty() {
        return Err(EntryError::MissingField { field: "verifiers" });
    }
    let pae = crate::core::dsse::pae(payload_type, &payload);
    let signatures = envelope
        .get("signatures")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or(EntryError::MissingField { field: "signatures" })?;
    let mut out = Vec::new();
    for sig in signatures {
        let sig_b64 = str_field(sig, &["sig"])?;
        let sig_bytes = b64("sig", sig_b64)?;
        let (_, pem) = verifiers
            .iter()
            .find(|(key, _)| key.verify(&pae, &sig_bytes).is_ok())
            .ok_or(EntryError::SignatureMismatch { kind: "dsse" })?;
        out.push((sig_b64.to_owned(), b64_encode(pem)));
    }
    out.sort();
    Ok(json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(envelope_text.as_bytes())},
            "payloadHash": {"algorithm": "sha256", "value": sha256_hex(&payload)},
            "signatures": out.into_iter().map(|(s, v)| json!({"signature": s, "verifier": v})).collect::<Vec<_>>(),
        }
    }))
}

/// Rekor `intoto` 0.0.2: `payload` and each `sig` arrive base64 of the base64 text; the
/// signature is checked over PAE of the decoded payload; the body drops `payload` and keeps
/// the signatures, `hash` (not checked, as Rekor) and the recomputed `payloadHash`.
fn intoto_v002(spec: &Value) -> Result<Value, EntryError> {
    let envelope = field(spec, &["content", "envelope"])?;
    let payload_b64 = String::from_utf8(b64("payload", str_field(envelope, &["payload"])?)?)
        .map_err(|_| EntryError::BadEncoding { field: "payload", reason: "not base64 text".into() })?;
    let payload = b64("payload", &payload_b64)?;
    let payload_type = str_field(envelope, &["payloadType"])?;
    let pae = crate::core::dsse::pae(payload_type, &payload);
    let signatures = envelope
        .get("signatures")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or(EntryError::MissingField { field: "signatures" })?;
    let mut kept = Vec::new();
    for sig in signatures {
        let sig_field = str_field(sig, &["sig"])?;
        let sig_text = String::from_utf8(b64("sig", sig_field)?)
            .map_err(|_| EntryError::BadEncoding { field: "sig", reason: "not base64 text".into() })?;
        let sig_bytes = b64("sig", &sig_text)?;
        let public_key = str_field(sig, &["publicKey"])?;
        let (key, _) = verifier("publicKey", public_key)?;
        key.verify(&pae, &sig_bytes).map_err(|_| EntryError::SignatureMismatch { kind: "intoto" })?;
        let mut item = Map::new();
        if let Some(keyid) = sig.get("keyid").and_then(Value::as_str).filter(|k| !k.is_empty()) {
            item.insert("keyid".into(), keyid.into());
        }
        item.insert("publicKey".into(), public_key.into());
        item.insert("sig".into(), sig_field.into());
        kept.push(Value::Object(item));
    }
    let hash = field(spec, &["content", "hash"])?;
    let hash_value = str_field(hash, &["value"])?;
    if hash_value.len() != 64 || hex::decode(hash_value).is_err() {
        return Err(EntryError::BadEncoding { field: "hash", reason: "not 64 hex characters".into() });
    }
    Ok(json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {"payloadType": payload_type, "signatures": kept},
            "hash": {"algorithm": str_field(hash, &["algorithm"])?, "value": hash_value},
            "payloadHash": {"algorithm": "sha256", "value": sha256_hex(&payload)},
        }}
    }))
}

/// Rekor `hashedrekord` 0.0.1: the signature must verify over the digest (SHA-256, SHA-384 or
/// SHA-512, as Rekor accepts); the body is the request with the key re-encoded canonically.
fn hashedrekord_v001(spec: &Value) -> Result<Value, EntryError> {
    use crate::core::crypto::HashAlgorithm;
    let algorithm = str_field(spec, &["data", "hash", "algorithm"])?;
    let hash = match algorithm {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        _ => {
            return Err(EntryError::BadEncoding {
                field: "algorithm",
                reason: format!("{algorithm:?} is not sha256, sha384 or sha512"),
            })
        }
    };
    let digest_hex = str_field(spec, &["data", "hash", "value"])?;
    let digest = hex::decode(digest_hex)
        .ok()
        .filter(|d| d.len() == hash.output_len())
        .ok_or(EntryError::BadEncoding { field: "value", reason: format!("not a hex {algorithm} digest") })?;
    let sig_b64 = str_field(spec, &["signature", "content"])?;
    let sig = b64("content", sig_b64)?;
    let (key, pem) = verifier("publicKey", str_field(spec, &["signature", "publicKey", "content"])?)?;
    key.verify_prehashed(hash, &digest, &sig).map_err(|_| EntryError::SignatureMismatch { kind: "hashedrekord" })?;
    Ok(json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": digest_hex.to_ascii_lowercase()}},
            "signature": {"content": sig_b64, "publicKey": {"content": b64_encode(pem)}},
        }
    }))
}

/// The text of a Rekor v1 checkpoint before its signature lines: origin, size, root, timestamp.
pub(crate) fn checkpoint_body(origin_host: &str, tree_id: u64, size: u64, root: &Hash, timestamp_ns: u128) -> String {
    format!("{origin_host} - {tree_id}\n{size}\n{}\nTimestamp: {timestamp_ns}\n", b64_encode(root))
}

/// A signed note (C2SP signed-note, as Rekor v1 writes it): body, blank line, then
/// `— <name> base64(key hint ‖ signature)`.
pub(crate) fn signed_note(body: &str, name: &str, key_hint: &[u8; 4], signature: &[u8]) -> String {
    let mut sig = key_hint.to_vec();
    sig.extend_from_slice(signature);
    format!("{body}\n\u{2014} {name} {}\n", b64_encode(sig))
}

struct StoredEntry {
    body: Vec<u8>,
    integrated_time: i64,
}

/// The log: one tree, the entries, and the key that signs SETs and checkpoints.
pub(crate) struct Log {
    key: p256::ecdsa::SigningKey,
    spki_der: Vec<u8>,
    log_id: [u8; 32],
    tree_id: u64,
    origin_host: String,
    tree: Tree,
    entries: Vec<StoredEntry>,
    by_leaf: HashMap<Hash, u64>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("tree_id", &self.tree_id).field("size", &self.tree.len()).finish_non_exhaustive()
    }
}

/// The outcome of an append.
pub(crate) enum Appended {
    New(u64),
    Duplicate(u64),
}

impl Log {
    pub(crate) fn new(key: p256::ecdsa::SigningKey, spki_der: Vec<u8>, tree_id: u64, origin_host: String) -> Self {
        let log_id = Sha256::digest(&spki_der).into();
        Self {
            key,
            spki_der,
            log_id,
            tree_id,
            origin_host,
            tree: Tree::new(),
            entries: Vec::new(),
            by_leaf: HashMap::new(),
        }
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub(crate) fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// `<16 hex tree id><64 hex leaf hash>`.
    pub(crate) fn uuid(&self, leaf: &Hash) -> String {
        format!("{:016x}{}", self.tree_id, hex::encode(leaf))
    }

    /// Appends a canonical body unless an identical leaf is already logged.
    pub(crate) fn append(&mut self, body: Vec<u8>, integrated_time: i64) -> Appended {
        let leaf = leaf_hash(&body);
        if let Some(index) = self.by_leaf.get(&leaf) {
            return Appended::Duplicate(*index);
        }
        let index = self.tree.push(leaf);
        self.by_leaf.insert(leaf, index);
        self.entries.push(StoredEntry { body, integrated_time });
        Appended::New(index)
    }

    /// Finds an entry by its UUID (80 hex) or leaf hash (64 hex).
    pub(crate) fn find(&self, id: &str) -> Option<u64> {
        let id = id.to_ascii_lowercase();
        let leaf_hex = match id.len() {
            80 if id[..16] == format!("{:016x}", self.tree_id) => &id[16..],
            64 => id.as_str(),
            _ => return None,
        };
        let leaf: Hash = hex::decode(leaf_hex).ok()?.try_into().ok()?;
        self.by_leaf.get(&leaf).copied()
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// The signed checkpoint for the current tree.
    pub(crate) fn checkpoint(&self, timestamp_ns: u128) -> String {
        let size = self.tree.len();
        let body = checkpoint_body(&self.origin_host, self.tree_id, size, &self.tree.root(size), timestamp_ns);
        let mut hint = [0u8; 4];
        hint.copy_from_slice(&self.log_id[..4]);
        signed_note(&body, &self.origin_host, &hint, &self.sign(body.as_bytes()))
    }

    /// `GET /api/v1/log`: the current tree head.
    pub(crate) fn log_info(&self, timestamp_ns: u128) -> Value {
        let size = self.tree.len();
        json!({
            "rootHash": hex::encode(self.tree.root(size)),
            "signedTreeHead": self.checkpoint(timestamp_ns),
            "treeID": self.tree_id.to_string(),
            "treeSize": size,
            "inactiveShards": [],
        })
    }

    /// `(uuid, LogEntry)` for entry `index`, with a SET and an inclusion proof against the
    /// current tree and a checkpoint signed now.
    pub(crate) fn entry(&self, index: u64, timestamp_ns: u128) -> Option<(String, Value)> {
        let stored = self.entries.get(usize::try_from(index).ok()?)?;
        let leaf = *self.tree.leaf(index)?;
        let size = self.tree.len();
        let proof = self.tree.inclusion_proof(index, size)?;
        let body_b64 = b64_encode(&stored.body);
        let log_id_hex = hex::encode(self.log_id);
        let log_index = i64::try_from(index).ok()?;
        let set = self.sign(set_payload(&body_b64, stored.integrated_time, &log_id_hex, log_index).as_bytes());
        let value = json!({
            "body": body_b64,
            "integratedTime": stored.integrated_time,
            "logID": log_id_hex,
            "logIndex": log_index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.checkpoint(timestamp_ns),
                    "hashes": proof.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": log_index,
                    "rootHash": hex::encode(self.tree.root(size)),
                    "treeSize": size,
                },
                "signedEntryTimestamp": b64_encode(set),
            }
        });
        Some((self.uuid(&leaf), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::bundle::Bundle;

    fn bundle(text: &str) -> Bundle {
        serde_json::from_str(text).unwrap()
    }

    fn leaf_pem(b: &Bundle) -> String {
        let vm = &b.verification_material;
        let der = match (&vm.certificate, &vm.x509_certificate_chain) {
            (Some(c), _) => c.raw_bytes.clone(),
            (None, Some(chain)) => chain.certificates[0].raw_bytes.clone(),
            _ => panic!("bundle has no certificate"),
        };
        pem_encode("CERTIFICATE", &der)
    }

    /// A real npm 11 provenance entry (public-good Rekor, `dsse` 0.0.1): resubmitting the
    /// envelope as npm sent it yields the logged body byte for byte.
    #[test]
    fn dsse_body_matches_real_rekor() {
        let b = bundle(include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"));
        let envelope = b.dsse_envelope.as_ref().unwrap();
        let request =
            crate::core::wire::rekor::dsse_v001_request(&crate::core::dsse::compact_json(envelope), &leaf_pem(&b));
        let body = canonicalize(&request).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8_lossy(&b.verification_material.tlog_entries[0].canonicalized_body)
        );
    }

    /// A real `intoto` 0.0.2 entry (sigstore-js 2.x, legacy form): payload and signature
    /// double-base64, and the logged body drops the payload.
    #[test]
    fn intoto_body_matches_real_rekor() {
        let b = bundle(include_str!("../../tests/data/npm-provenance/sigstore-2.1.0-provenance-v0.3.sigstore.json"));
        let expected = &b.verification_material.tlog_entries[0].canonicalized_body;
        let logged: Value = serde_json::from_slice(expected).unwrap();
        let envelope = b.dsse_envelope.as_ref().unwrap();
        let request = json!({
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {"content": {
                "envelope": {
                    "payloadType": envelope.payload_type,
                    "payload": b64_encode(b64_encode(&envelope.payload)),
                    "signatures": [{
                        "sig": b64_encode(b64_encode(&envelope.signatures[0].sig)),
                        // sigstore-js 2.x sent the PEM without its final newline; Rekor
                        // keeps `intoto` keys exactly as sent.
                        "publicKey": b64_encode(leaf_pem(&b).trim_end()),
                    }],
                },
                "hash": logged["spec"]["content"]["hash"],
                "payloadHash": {"algorithm": "sha256", "value": "ignored: the server recomputes it"},
            }}
        });
        assert_eq!(String::from_utf8(canonicalize(&request).unwrap()).unwrap(), String::from_utf8_lossy(expected));
    }

    /// A real `hashedrekord` 0.0.1 entry (conformance `happy-path-v0.2`).
    #[test]
    fn hashedrekord_body_matches_real_rekor() {
        let b = bundle(include_str!(
            "../../tests/data/sigstore-conformance/bundle-verify/happy-path-v0.2/bundle.sigstore.json"
        ));
        let ms = b.message_signature.as_ref().unwrap();
        let request = crate::core::wire::rekor::hashedrekord_v001_request(
            &ms.message_digest.as_ref().unwrap().digest,
            &ms.signature,
            &leaf_pem(&b),
        );
        assert_eq!(
            String::from_utf8(canonicalize(&request).unwrap()).unwrap(),
            String::from_utf8_lossy(&b.verification_material.tlog_entries[0].canonicalized_body)
        );
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let b = bundle(include_str!("../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"));
        let mut envelope = b.dsse_envelope.clone().unwrap();
        envelope.payload.push(b' ');
        let request =
            crate::core::wire::rekor::dsse_v001_request(&crate::core::dsse::compact_json(&envelope), &leaf_pem(&b));
        assert_eq!(canonicalize(&request).unwrap_err(), EntryError::SignatureMismatch { kind: "dsse" });
    }

    #[test]
    fn unknown_kinds_are_refused_by_name() {
        let err = canonicalize(&json!({"kind": "rekord", "apiVersion": "0.0.1", "spec": {}})).unwrap_err();
        assert_eq!(err, EntryError::UnsupportedType { kind: "rekord".into(), api_version: "0.0.1".into() });
    }

    #[test]
    fn a_note_has_the_rekor_v1_shape() {
        let body = checkpoint_body("127.0.0.1:1", 42, 3, &[0u8; 32], 5);
        assert_eq!(body, "127.0.0.1:1 - 42\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nTimestamp: 5\n");
        let note = signed_note(&body, "127.0.0.1:1", &[1, 2, 3, 4], &[5]);
        assert!(note.ends_with("\n\n\u{2014} 127.0.0.1:1 AQIDBAU=\n"));
    }
}
