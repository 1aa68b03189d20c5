//! Transparency-log entry verification (sigstore-protocol.md §5 steps 5 and 8): find the log
//! in the trusted root, check the entry body against the bundle's content, verify the Merkle
//! inclusion proof against a verified checkpoint, and verify the SET.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::core::crypto::{pem_rfc7468_decode, HashAlgorithm, PublicKey};
use crate::core::time::{UnixTime, Validity};
use crate::core::verify::checkpoint::{self, CheckpointError, NoteVerifier, OriginRule};
use crate::core::verify::merkle::{self, InclusionError};
use crate::core::wire::bundle::{Envelope, InclusionProof, KindVersion, TransparencyLogEntry};
use crate::core::wire::encoding::{b64_decode, b64_encode};
use crate::core::wire::rekor::set_payload;
use crate::core::wire::trust_root::TransparencyLogInstance;

/// What the bundle claims was logged.
#[derive(Debug, Clone, Copy)]
pub enum SignedContent<'a> {
    /// A message-signature bundle: the artifact's digest under `hash` (the algorithm the
    /// signature was made with) and the signature bytes.
    MessageSignature { hash: HashAlgorithm, artifact_digest: &'a [u8], signature: &'a [u8] },
    /// A DSSE bundle: the envelope (payload, payload type, exactly one signature).
    Dsse { envelope: &'a Envelope },
}

/// Who signed, as the bundle presents it.
#[derive(Debug, Clone, Copy)]
pub enum SignerKey<'a> {
    /// The leaf certificate, DER.
    Certificate { der: &'a [u8] },
    /// A managed key, SPKI DER.
    PublicKey { spki_der: &'a [u8] },
}

/// Facts established about one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogEntry {
    /// The global log index (`tlogEntries[].logIndex`).
    pub log_index: u64,
    /// `baseUrl` of the trusted log that holds it.
    pub log_base_url: String,
    pub kind_version: KindVersion,
    /// The Rekor v1 integrated time, present only when the SET (inclusion promise) verified:
    /// only then may it serve as a signed time (sigstore-protocol.md §5 step 1b).
    pub integrated_time: Option<UnixTime>,
    /// Tree size of the verified checkpoint the inclusion proof leads to. Zero when the entry
    /// carries no inclusion proof (a v0.1 bundle with only an inclusion promise): a checkpoint
    /// that holds an entry has at least one leaf, so zero never names a real checkpoint. The
    /// caller must reject that for v0.2+ bundles (sigstore-protocol.md §5 step 0).
    pub checkpoint_tree_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogError {
    /// `logIndex` is negative (conformance `bundle-negative-log-index_fail`).
    NegativeLogIndex { log_index: i64 },
    /// No trusted log has the entry's log ID (or, for Rekor v2, checkpoint key ID).
    UnknownLog { log_id_hex: String },
    /// The trusted log's key cannot be used.
    UnusableLogKey { base_url: String, reason: String },
    /// The trusted log's `publicKey.validFor` is missing or malformed (a missing start is an
    /// error, conformance `trust-root-tlog-missing-validity-start_fail`).
    BadLogValidity { base_url: String, reason: String },
    /// The integrated time lies outside the log key's `validFor`.
    OutsideLogValidity { log_index: u64, base_url: String, integrated_time: i64 },
    /// The entry has no `canonicalizedBody`.
    MissingBody { log_index: u64 },
    /// The body is not the JSON of a known entry, or lacks a field.
    MalformedBody { log_index: u64, reason: String },
    /// The body's `kind`/`apiVersion` differ from the entry's `kindVersion`.
    KindVersionMismatch { log_index: u64, declared: KindVersion, body: KindVersion },
    /// An entry kind this verifier does not support, or one that cannot log this content
    /// (e.g. a `dsse` entry for a message signature).
    UnsupportedKind { log_index: u64, kind_version: KindVersion, content: &'static str },
    /// The body records something other than the bundle's content (CVE-2022-36056 class).
    BodyMismatch { log_index: u64, field: &'static str },
    /// A DSSE envelope must carry exactly one signature.
    EnvelopeSignatureCount { count: usize },
    /// Rekor v2 entries must carry an inclusion proof; Rekor v1 entries one of proof or promise.
    MissingInclusionProof { log_index: u64 },
    /// The inclusion proof has no checkpoint.
    MissingCheckpoint { log_index: u64 },
    /// The inclusion proof's fields are out of range.
    MalformedInclusionProof { log_index: u64, reason: String },
    /// The checkpoint did not verify.
    Checkpoint { log_index: u64, source: CheckpointError },
    /// The inclusion proof's root hash differs from the verified checkpoint's.
    ProofRootMismatch { log_index: u64 },
    /// The inclusion proof's tree size differs from the verified checkpoint's.
    ProofTreeSizeMismatch { log_index: u64, proof: u64, checkpoint: u64 },
    /// The Merkle path is malformed for the tree.
    InclusionProof { log_index: u64, source: InclusionError },
    /// The Merkle path does not lead from the entry to the checkpoint's root.
    InclusionProofMismatch { log_index: u64 },
    /// The signed entry timestamp (inclusion promise) does not verify.
    BadSignedEntryTimestamp { log_index: u64 },
    /// Rekor v2 issues no inclusion promises; one on a v2 entry is forged or misplaced.
    PromiseOnRekorV2 { log_index: u64 },
}

impl std::fmt::Display for TlogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NegativeLogIndex { log_index } => write!(f, "log entry has a negative log index ({log_index})"),
            Self::UnknownLog { log_id_hex } => {
                write!(f, "log entry comes from a transparency log that is not in the trusted root (log id {log_id_hex})")
            }
            Self::UnusableLogKey { base_url, reason } => {
                write!(f, "trusted root key of transparency log {base_url} is unusable: {reason}")
            }
            Self::BadLogValidity { base_url, reason } => {
                write!(f, "trusted root validity of transparency log {base_url} is invalid: {reason}")
            }
            Self::OutsideLogValidity { log_index, base_url, integrated_time } => write!(
                f,
                "integrated time {} is outside the validity of the key of transparency log {base_url} (log index {log_index})",
                UnixTime(*integrated_time).to_rfc3339()
            ),
            Self::MissingBody { log_index } => write!(f, "log entry has no canonicalized body (log index {log_index})"),
            Self::MalformedBody { log_index, reason } => {
                write!(f, "log entry body is malformed: {reason} (log index {log_index})")
            }
            Self::KindVersionMismatch { log_index, declared, body } => write!(
                f,
                "log entry declares {}/{} but its body is {}/{} (log index {log_index})",
                declared.kind, declared.version, body.kind, body.version
            ),
            Self::UnsupportedKind { log_index, kind_version, content } => write!(
                f,
                "log entry kind {}/{} cannot record a {content} (log index {log_index})",
                kind_version.kind, kind_version.version
            ),
            Self::BodyMismatch { log_index, field } => {
                write!(f, "log entry does not match the bundle: {field} differs (log index {log_index})")
            }
            Self::EnvelopeSignatureCount { count } => {
                write!(f, "DSSE envelope has {count} signatures, expected exactly one")
            }
            Self::MissingInclusionProof { log_index } => {
                write!(f, "log entry has no inclusion proof (log index {log_index})")
            }
            Self::MissingCheckpoint { log_index } => {
                write!(f, "inclusion proof has no checkpoint (log index {log_index})")
            }
            Self::MalformedInclusionProof { log_index, reason } => {
                write!(f, "inclusion proof is malformed: {reason} (log index {log_index})")
            }
            Self::Checkpoint { log_index, source } => write!(f, "{source} (log index {log_index})"),
            Self::ProofRootMismatch { log_index } => {
                write!(f, "inclusion proof root hash differs from the checkpoint root (log index {log_index})")
            }
            Self::ProofTreeSizeMismatch { log_index, proof, checkpoint } => write!(
                f,
                "inclusion proof tree size {proof} differs from the checkpoint tree size {checkpoint} (log index {log_index})"
            ),
            Self::InclusionProof { log_index, source } => write!(f, "{source} (log index {log_index})"),
            Self::InclusionProofMismatch { log_index } => {
                write!(f, "inclusion proof does not match the checkpoint root (log index {log_index})")
            }
            Self::BadSignedEntryTimestamp { log_index } => {
                write!(f, "signed entry timestamp does not verify with the log key (log index {log_index})")
            }
            Self::PromiseOnRekorV2 { log_index } => {
                write!(f, "Rekor v2 entry carries an inclusion promise, which Rekor v2 never issues (log index {log_index})")
            }
        }
    }
}

impl std::error::Error for TlogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Checkpoint { source, .. } => Some(source),
            Self::InclusionProof { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A trusted log, resolved for this entry.
struct TrustedLog<'a> {
    instance: &'a TransparencyLogInstance,
    key: PublicKey,
    /// Names the log signs its checkpoints with (its scheme-less URL, with and without port).
    names: Vec<String>,
    /// The key hint on the log's checkpoint signature lines.
    note_key_hint: [u8; 4],
}

/// Verifies `entry` against the trusted logs and the bundle's content and signer. Never
/// contacts the log.
///
/// Steps (sigstore-protocol.md §5 steps 5 and 8, §4.1, §4.2):
/// 1. the global log index is non-negative;
/// 2. the log is found in `tlogs` by log ID (Rekor v1) or C2SP checkpoint key ID (Rekor v2),
///    and its `validFor` has a start;
/// 3. the body's kind/version equal `kindVersion` and the body records exactly the bundle's
///    digest, signature and signer;
/// 4. the SET, if present, verifies with the log key over the canonical payload, and the
///    integrated time lies inside the key's `validFor`: only then is the time returned;
/// 5. the inclusion proof leads from `SHA-256(0x00 ‖ body)` to the root of a checkpoint whose
///    signature by the log verified.
///
/// Rekor v2 has no integrated time, so the log key's validity window is not checked against a
/// time here (as in sigstore-go and sigstore-python); the caller holds the TSA times.
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    tlogs: &[TransparencyLogInstance],
    content: SignedContent<'_>,
    signer: SignerKey<'_>,
) -> Result<VerifiedLogEntry, TlogError> {
    // Step 0 of §5: a negative index is malformed.
    let log_index =
        u64::try_from(entry.log_index).map_err(|_| TlogError::NegativeLogIndex { log_index: entry.log_index })?;
    let rekor_v2 = is_rekor_v2(&entry.kind_version);
    let log = find_log(entry, tlogs, rekor_v2)?;
    let base_url = &log.instance.base_url;
    let validity = log
        .instance
        .public_key
        .valid_for
        .as_ref()
        .ok_or_else(|| TlogError::BadLogValidity { base_url: base_url.clone(), reason: "no validFor".into() })
        .and_then(|range| {
            Validity::from_range(range)
                .map_err(|e| TlogError::BadLogValidity { base_url: base_url.clone(), reason: e.to_string() })
        })?;

    // Step 8: the logged body is exactly what the bundle carries.
    check_body(entry, log_index, content, signer)?;

    // Step 5: the SET (Rekor v1 only) signs the body, integrated time, log ID and global index.
    let integrated_time = match &entry.inclusion_promise {
        Some(_) if rekor_v2 => return Err(TlogError::PromiseOnRekorV2 { log_index }),
        Some(promise) => {
            let payload = set_payload(
                &b64_encode(&entry.canonicalized_body),
                entry.integrated_time,
                &hex::encode(&entry.log_id.key_id),
                entry.log_index,
            );
            log.key
                .verify(payload.as_bytes(), &promise.signed_entry_timestamp)
                .map_err(|_| TlogError::BadSignedEntryTimestamp { log_index })?;
            let time = UnixTime(entry.integrated_time);
            // The log key must have been valid when it signed (inclusive ends).
            if !validity.contains(time) {
                return Err(TlogError::OutsideLogValidity {
                    log_index,
                    base_url: base_url.clone(),
                    integrated_time: entry.integrated_time,
                });
            }
            Some(time)
        }
        None => None,
    };

    // Step 5: inclusion in a tree whose checkpoint the log signed.
    let checkpoint_tree_size = match &entry.inclusion_proof {
        Some(proof) => verify_inclusion(entry, log_index, proof, &log, rekor_v2)?,
        // A v0.1 bundle may carry only the promise; with neither, nothing shows the entry was logged.
        None if rekor_v2 || integrated_time.is_none() => return Err(TlogError::MissingInclusionProof { log_index }),
        None => 0,
    };

    Ok(VerifiedLogEntry {
        log_index,
        log_base_url: base_url.clone(),
        kind_version: entry.kind_version.clone(),
        integrated_time,
        checkpoint_tree_size,
    })
}

/// Rekor v2 (rekor-tiles) writes `hashedrekord` 0.0.2, and wrote `dsse` 0.0.2 until that type
/// was deprecated (rekor-v2-spec §6.1.4); bundles made then still verify.
fn is_rekor_v2(kind_version: &KindVersion) -> bool {
    kind_version.version == "0.0.2" && matches!(kind_version.kind.as_str(), "hashedrekord" | "dsse")
}

/// The names a log signs checkpoints with: its base URL without scheme or trailing slash
/// (`rekor.sigstore.dev`, `localhost:8000`), and, when that has a port, the bare host.
fn log_names(base_url: &str) -> Vec<String> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .unwrap_or(base_url)
        .trim_end_matches('/');
    let mut names = vec![rest.to_owned()];
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some((host, port)) = authority.rsplit_once(':') {
        if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']') {
            names.push(host.to_owned());
        }
    }
    names
}

/// Finds the log that holds `entry`: by `logId.keyId` for Rekor v1, by the C2SP checkpoint
/// key ID (computed from the trusted key and the log's name) for Rekor v2.
fn find_log<'a>(
    entry: &TransparencyLogEntry,
    tlogs: &'a [TransparencyLogInstance],
    rekor_v2: bool,
) -> Result<TrustedLog<'a>, TlogError> {
    let wanted = entry.log_id.key_id.as_slice();
    for instance in tlogs {
        let spki = &instance.public_key.raw_bytes;
        let unusable = |reason: String| TlogError::UnusableLogKey { base_url: instance.base_url.clone(), reason };
        if rekor_v2 {
            let Ok(key) = PublicKey::from_spki_der(spki) else { continue };
            let names = log_names(&instance.base_url);
            let Some(name) = names.iter().find(|n| checkpoint::c2sp_key_id(n, &key, spki).as_slice() == wanted) else {
                continue;
            };
            if instance.hash_algorithm != "SHA2_256" {
                return Err(unusable(format!("tree hash {}", instance.hash_algorithm)));
            }
            let id = checkpoint::c2sp_key_id(name, &key, spki);
            let name = name.clone();
            return Ok(TrustedLog { instance, key, names: vec![name], note_key_hint: hint(&id) });
        }
        if instance.log_id.key_id.as_slice() != wanted {
            continue;
        }
        if instance.hash_algorithm != "SHA2_256" {
            return Err(unusable(format!("tree hash {}", instance.hash_algorithm)));
        }
        let key = PublicKey::from_spki_der(spki).map_err(|e| unusable(e.to_string()))?;
        // Rekor v1 checkpoint key hints are the first bytes of SHA-256(SPKI DER), whatever the key type.
        let id: [u8; 32] = Sha256::digest(spki).into();
        return Ok(TrustedLog { instance, key, names: log_names(&instance.base_url), note_key_hint: hint(&id) });
    }
    Err(TlogError::UnknownLog { log_id_hex: hex::encode(wanted) })
}

fn hint(id: &[u8; 32]) -> [u8; 4] {
    [id[0], id[1], id[2], id[3]]
}

/// Verifies the checkpoint and the Merkle path; returns the checkpoint's tree size.
fn verify_inclusion(
    entry: &TransparencyLogEntry,
    log_index: u64,
    proof: &InclusionProof,
    log: &TrustedLog<'_>,
    rekor_v2: bool,
) -> Result<u64, TlogError> {
    if proof.checkpoint.envelope.is_empty() {
        return Err(TlogError::MissingCheckpoint { log_index });
    }
    let verifier = NoteVerifier {
        names: log.names.clone(),
        key_hint: log.note_key_hint,
        key: &log.key,
        origin: if rekor_v2 { OriginRule::Exact } else { OriginRule::NameWithTreeId },
    };
    let checkpoint = checkpoint::verify_checkpoint(&proof.checkpoint.envelope, &verifier)
        .map_err(|source| TlogError::Checkpoint { log_index, source })?;
    let (index, tree_size) = if rekor_v2 {
        // Rekor v2: the root and size come from the verified checkpoint, the index is the
        // top-level one (the proof's copies are redundant).
        (log_index, checkpoint.tree_size)
    } else {
        let malformed = |reason: &str| TlogError::MalformedInclusionProof { log_index, reason: reason.to_owned() };
        let index = u64::try_from(proof.log_index).map_err(|_| malformed("negative index"))?;
        let size = u64::try_from(proof.tree_size).map_err(|_| malformed("negative tree size"))?;
        // Rekor v1: the proof names its root and size; both must be the checkpoint's.
        if proof.root_hash.as_slice() != checkpoint.root_hash.as_slice() {
            return Err(TlogError::ProofRootMismatch { log_index });
        }
        if size != checkpoint.tree_size {
            return Err(TlogError::ProofTreeSizeMismatch { log_index, proof: size, checkpoint: checkpoint.tree_size });
        }
        (index, size)
    };
    // RFC 6962 leaf hash over the body bytes exactly as logged.
    let leaf = merkle::leaf_hash(&entry.canonicalized_body);
    let root = merkle::root_from_inclusion_proof(index, tree_size, &leaf, &proof.hashes)
        .map_err(|source| TlogError::InclusionProof { log_index, source })?;
    if root != checkpoint.root_hash {
        return Err(TlogError::InclusionProofMismatch { log_index });
    }
    Ok(checkpoint.tree_size)
}

/// Reads a string at a JSON pointer of the body.
fn text<'v>(body: &'v Value, pointer: &str, log_index: u64) -> Result<&'v str, TlogError> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| TlogError::MalformedBody { log_index, reason: format!("no string at {pointer}") })
}

/// Reads base64 bytes at a JSON pointer of the body.
fn bytes(body: &Value, pointer: &str, log_index: u64) -> Result<Vec<u8>, TlogError> {
    b64_decode(text(body, pointer, log_index)?)
        .map_err(|_| TlogError::MalformedBody { log_index, reason: format!("{pointer} is not base64") })
}

fn ensure(ok: bool, log_index: u64, field: &'static str) -> Result<(), TlogError> {
    if ok {
        Ok(())
    } else {
        Err(TlogError::BodyMismatch { log_index, field })
    }
}

/// Whether a logged verifier (base64 of a PEM certificate or public key) is the bundle's
/// signer. Compared as DER, not as text, so that PEM line wrapping cannot matter.
fn pem_is_signer(pem_b64: &[u8], signer: SignerKey<'_>) -> bool {
    let Ok(pem) = std::str::from_utf8(pem_b64) else { return false };
    let Ok((label, der)) = pem_rfc7468_decode(pem) else { return false };
    match signer {
        SignerKey::Certificate { der: cert } => label == "CERTIFICATE" && der == cert,
        SignerKey::PublicKey { spki_der } => label == "PUBLIC KEY" && der == spki_der,
    }
}

/// The one DSSE signature of the envelope.
fn single_signature(envelope: &Envelope) -> Result<&[u8], TlogError> {
    match envelope.signatures.as_slice() {
        [only] => Ok(&only.sig),
        all => Err(TlogError::EnvelopeSignatureCount { count: all.len() }),
    }
}

/// §5 step 8: the body records exactly the bundle's content and signer.
fn check_body(
    entry: &TransparencyLogEntry,
    log_index: u64,
    content: SignedContent<'_>,
    signer: SignerKey<'_>,
) -> Result<(), TlogError> {
    if entry.canonicalized_body.is_empty() {
        return Err(TlogError::MissingBody { log_index });
    }
    let body: Value = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|e| TlogError::MalformedBody { log_index, reason: e.to_string() })?;
    let logged = KindVersion {
        kind: text(&body, "/kind", log_index)?.to_owned(),
        version: text(&body, "/apiVersion", log_index)?.to_owned(),
    };
    if logged != entry.kind_version {
        return Err(TlogError::KindVersionMismatch { log_index, declared: entry.kind_version.clone(), body: logged });
    }
    let content_name = match content {
        SignedContent::MessageSignature { .. } => "message signature",
        SignedContent::Dsse { .. } => "DSSE envelope",
    };
    match (logged.kind.as_str(), logged.version.as_str(), content) {
        ("hashedrekord", "0.0.1", SignedContent::MessageSignature { hash, artifact_digest, signature }) => {
            hashedrekord_v001(&body, log_index, hash, artifact_digest, signature, signer)
        }
        ("hashedrekord", "0.0.2", SignedContent::MessageSignature { hash, artifact_digest, signature }) => {
            // The entry's digest is the artifact's under the algorithm the signature used.
            ensure(
                text(&body, "/spec/hashedRekordV002/data/algorithm", log_index)? == hash.registry_name(),
                log_index,
                "spec.hashedRekordV002.data.algorithm",
            )?;
            hashedrekord_v002(&body, log_index, artifact_digest, signature, signer)
        }
        ("hashedrekord", "0.0.2", SignedContent::Dsse { envelope }) => {
            // Rekor v2 logs DSSE as a hashedrekord over the hash of the PAE (rekor-v2-spec
            // §6.1.4), by the algorithm the entry names (SHA-256 for P-256, SHA-384 for P-384).
            let pae = crate::core::dsse::pae(&envelope.payload_type, &envelope.payload);
            let digest =
                HashAlgorithm::from_registry_name(text(&body, "/spec/hashedRekordV002/data/algorithm", log_index)?)
                    .ok_or(TlogError::BodyMismatch { log_index, field: "spec.hashedRekordV002.data.algorithm" })?
                    .digest(&pae);
            hashedrekord_v002(&body, log_index, &digest, single_signature(envelope)?, signer)
        }
        ("dsse", "0.0.1", SignedContent::Dsse { envelope }) => dsse_v001(&body, log_index, envelope, signer),
        ("dsse", "0.0.2", SignedContent::Dsse { envelope }) => dsse_v002(&body, log_index, envelope, signer),
        ("intoto", "0.0.2", SignedContent::Dsse { envelope }) => intoto_v002(&body, log_index, envelope, signer),
        _ => Err(TlogError::UnsupportedKind { log_index, kind_version: logged, content: content_name }),
    }
}

/// `hashedrekord` 0.0.1: `spec.data.hash` (sha256, sha384 or sha512, hex),
/// `spec.signature.content` (base64), `spec.signature.publicKey.content` (base64 of the PEM
/// certificate or key).
fn hashedrekord_v001(
    body: &Value,
    log_index: u64,
    hash: HashAlgorithm,
    artifact_digest: &[u8],
    signature: &[u8],
    signer: SignerKey<'_>,
) -> Result<(), TlogError> {
    ensure(
        text(body, "/spec/data/hash/algorithm", log_index)? == hash.rekor_name(),
        log_index,
        "spec.data.hash.algorithm",
    )?;
    let digest = hex::decode(text(body, "/spec/data/hash/value", log_index)?)
        .map_err(|_| TlogError::MalformedBody { log_index, reason: "spec.data.hash.value is not hex".into() })?;
    ensure(digest == artifact_digest, log_index, "spec.data.hash.value")?;
    ensure(bytes(body, "/spec/signature/content", log_index)? == signature, log_index, "spec.signature.content")?;
    let verifier = bytes(body, "/spec/signature/publicKey/content", log_index)?;
    ensure(pem_is_signer(&verifier, signer), log_index, "spec.signature.publicKey.content")
}

/// `hashedrekord` 0.0.2: `spec.hashedRekordV002.data.digest` (base64; its algorithm is checked
/// by the caller) and `.signature` (content, verifier: DER certificate or SPKI, key details).
fn hashedrekord_v002(
    body: &Value,
    log_index: u64,
    digest: &[u8],
    signature: &[u8],
    signer: SignerKey<'_>,
) -> Result<(), TlogError> {
    const SPEC: &str = "/spec/hashedRekordV002";
    ensure(
        bytes(body, &format!("{SPEC}/data/digest"), log_index)? == digest,
        log_index,
        "spec.hashedRekordV002.data.digest",
    )?;
    ensure(
        bytes(body, &format!("{SPEC}/signature/content"), log_index)? == signature,
        log_index,
        "spec.hashedRekordV002.signature.content",
    )?;
    logged_verifier_is_signer(body, &format!("{SPEC}/signature/verifier"), log_index, signer, VERIFIER_FIELDS)
}

/// Field names for [`logged_verifier_is_signer`]'s errors: the verifier, its certificate, its
/// public key, its key details.
type VerifierFields = [&'static str; 4];

const VERIFIER_FIELDS: VerifierFields = [
    "spec.hashedRekordV002.signature.verifier",
    "spec.hashedRekordV002.signature.verifier.x509Certificate",
    "spec.hashedRekordV002.signature.verifier.publicKey",
    "spec.hashedRekordV002.signature.verifier.keyDetails",
];

/// A Rekor v2 `Verifier` (at `pointer`) names the signer: its certificate (DER) or public key
/// (SPKI DER) is the bundle's, and its key details describe that key.
fn logged_verifier_is_signer(
    body: &Value,
    pointer: &str,
    log_index: u64,
    signer: SignerKey<'_>,
    fields: VerifierFields,
) -> Result<(), TlogError> {
    let [verifier, certificate, public_key, key_details] = fields;
    let spki = match signer {
        SignerKey::Certificate { der } => {
            let logged = bytes(body, &format!("{pointer}/x509Certificate/rawBytes"), log_index)
                .map_err(|_| TlogError::BodyMismatch { log_index, field: verifier })?;
            ensure(logged == der, log_index, certificate)?;
            certificate_spki(der)
        }
        SignerKey::PublicKey { spki_der } => {
            let logged = bytes(body, &format!("{pointer}/publicKey/rawBytes"), log_index)
                .map_err(|_| TlogError::BodyMismatch { log_index, field: verifier })?;
            ensure(logged == spki_der, log_index, public_key)?;
            Some(spki_der.to_vec())
        }
    };
    // The key details must describe the signer's key (checked where the name is unambiguous).
    let details = text(body, &format!("{pointer}/keyDetails"), log_index)?;
    let expected = spki.and_then(|s| PublicKey::from_spki_der(&s).ok()).and_then(|k| k.registry_details());
    ensure(expected.is_none_or(|e| e == details), log_index, key_details)
}

/// `dsse` 0.0.2 (Rekor v2 before the type was deprecated): `spec.dsseV002.payloadHash` is the
/// payload's digest under the algorithm it names, and `spec.dsseV002.signatures` is the
/// envelope's one signature with a verifier naming the signer (rekor-tiles `dsse/v0.0.2`).
fn dsse_v002(body: &Value, log_index: u64, envelope: &Envelope, signer: SignerKey<'_>) -> Result<(), TlogError> {
    const SPEC: &str = "/spec/dsseV002";
    let signature = single_signature(envelope)?;
    let payload_hash =
        HashAlgorithm::from_registry_name(text(body, &format!("{SPEC}/payloadHash/algorithm"), log_index)?)
            .ok_or(TlogError::BodyMismatch { log_index, field: "spec.dsseV002.payloadHash.algorithm" })?
            .digest(&envelope.payload);
    ensure(
        bytes(body, &format!("{SPEC}/payloadHash/digest"), log_index)? == payload_hash,
        log_index,
        "spec.dsseV002.payloadHash.digest",
    )?;
    let signatures = body.pointer(&format!("{SPEC}/signatures")).and_then(Value::as_array).ok_or_else(|| {
        TlogError::MalformedBody { log_index, reason: "no array at /spec/dsseV002/signatures".into() }
    })?;
    ensure(signatures.len() == 1, log_index, "spec.dsseV002.signatures")?;
    ensure(
        bytes(&signatures[0], "/content", log_index)? == signature,
        log_index,
        "spec.dsseV002.signatures[0].content",
    )?;
    logged_verifier_is_signer(
        &signatures[0],
        "/verifier",
        log_index,
        signer,
        [
            "spec.dsseV002.signatures[0].verifier",
            "spec.dsseV002.signatures[0].verifier.x509Certificate",
            "spec.dsseV002.signatures[0].verifier.publicKey",
            "spec.dsseV002.signatures[0].verifier.keyDetails",
        ],
    )
}

fn certificate_spki(der: &[u8]) -> Option<Vec<u8>> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    cert.tbs_certificate.subject_public_key_info.to_der().ok()
}

/// `dsse` 0.0.1: `spec.payloadHash` = sha256(payload) and `spec.signatures` = the envelope's
/// one signature with the signer. `envelopeHash` cannot be recomputed (the submitted envelope
/// serialization is not canonical) and is not checked.
fn dsse_v001(body: &Value, log_index: u64, envelope: &Envelope, signer: SignerKey<'_>) -> Result<(), TlogError> {
    let signature = single_signature(envelope)?;
    ensure(text(body, "/spec/payloadHash/algorithm", log_index)? == "sha256", log_index, "spec.payloadHash.algorithm")?;
    let payload_hash = hex::encode(Sha256::digest(&envelope.payload));
    ensure(text(body, "/spec/payloadHash/value", log_index)? == payload_hash, log_index, "spec.payloadHash.value")?;
    let signatures = body
        .pointer("/spec/signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| TlogError::MalformedBody { log_index, reason: "no array at /spec/signatures".into() })?;
    ensure(signatures.len() == 1, log_index, "spec.signatures")?;
    ensure(bytes(&signatures[0], "/signature", log_index)? == signature, log_index, "spec.signatures[0].signature")?;
    let verifier = bytes(&signatures[0], "/verifier", log_index)?;
    ensure(pem_is_signer(&verifier, signer), log_index, "spec.signatures[0].verifier")
}

/// `intoto` 0.0.2: `spec.content.payloadHash` = sha256(payload), the envelope's payload type,
/// and its one signature, which Rekor stores base64-encoded twice, with the signer as base64
/// of its PEM.
fn intoto_v002(body: &Value, log_index: u64, envelope: &Envelope, signer: SignerKey<'_>) -> Result<(), TlogError> {
    let signature = single_signature(envelope)?;
    ensure(
        text(body, "/spec/content/payloadHash/algorithm", log_index)? == "sha256",
        log_index,
        "spec.content.payloadHash.algorithm",
    )?;
    let payload_hash = hex::encode(Sha256::digest(&envelope.payload));
    ensure(
        text(body, "/spec/content/payloadHash/value", log_index)? == payload_hash,
        log_index,
        "spec.content.payloadHash.value",
    )?;
    ensure(
        text(body, "/spec/content/envelope/payloadType", log_index)? == envelope.payload_type,
        log_index,
        "spec.content.envelope.payloadType",
    )?;
    let signatures = body.pointer("/spec/content/envelope/signatures").and_then(Value::as_array).ok_or_else(|| {
        TlogError::MalformedBody { log_index, reason: "no array at /spec/content/envelope/signatures".into() }
    })?;
    ensure(signatures.len() == 1, log_index, "spec.content.envelope.signatures")?;
    let once = bytes(&signatures[0], "/sig", log_index)?;
    let twice = std::str::from_utf8(&once).ok().and_then(|t| b64_decode(t).ok());
    ensure(twice.as_deref() == Some(signature), log_index, "spec.content.envelope.signatures[0].sig")?;
    let verifier = bytes(&signatures[0], "/publicKey", log_index)?;
    ensure(pem_is_signer(&verifier, signer), log_index, "spec.content.envelope.signatures[0].publicKey")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::bundle::Bundle;
    use crate::core::wire::trust_root::TrustedRoot;

    const PROD_ROOT: &str = include_str!("../../../tests/data/trust/public-good-production-trusted_root.json");
    /// `sha256(a.txt)`, the default conformance artifact.
    const A_TXT_SHA256: &str = "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";

    macro_rules! case_file {
        ($case:literal, $file:literal) => {
            include_str!(concat!("../../../tests/data/sigstore-conformance/bundle-verify/", $case, "/", $file))
        };
    }

    /// A conformance case: its bundle, trusted root (its own or production) and artifact digest.
    struct Case {
        bundle: Bundle,
        root: TrustedRoot,
        artifact_sha256: Vec<u8>,
        key_spki: Option<Vec<u8>>,
    }

    impl Case {
        fn new(bundle: &str, root: &str) -> Self {
            Self {
                bundle: serde_json::from_str(bundle).unwrap(),
                root: serde_json::from_str(root).unwrap(),
                artifact_sha256: hex::decode(A_TXT_SHA256).unwrap(),
                key_spki: None,
            }
        }

        fn artifact(mut self, bytes: &[u8]) -> Self {
            self.artifact_sha256 = Sha256::digest(bytes).to_vec();
            self
        }

        fn key(mut self, pem: &str) -> Self {
            self.key_spki = Some(pem_rfc7468_decode(pem).unwrap().1);
            self
        }

        fn entry(&self) -> &TransparencyLogEntry {
            &self.bundle.verification_material.tlog_entries[0]
        }

        fn run(&self) -> Result<VerifiedLogEntry, TlogError> {
            self.run_entry(self.entry())
        }

        fn run_entry(&self, entry: &TransparencyLogEntry) -> Result<VerifiedLogEntry, TlogError> {
            let vm = &self.bundle.verification_material;
            let registry_key = match (&self.key_spki, &vm.public_key) {
                (None, Some(hint)) => Some(npm_registry_key(&hint.hint, entry)),
                _ => None,
            };
            let signer =
                match (self.key_spki.as_ref().or(registry_key.as_ref()), &vm.certificate, &vm.x509_certificate_chain) {
                    (Some(spki), _, _) => SignerKey::PublicKey { spki_der: spki },
                    (None, Some(cert), _) => SignerKey::Certificate { der: &cert.raw_bytes },
                    (None, None, Some(chain)) => SignerKey::Certificate { der: &chain.certificates[0].raw_bytes },
                    (None, None, None) => panic!("case has no signer"),
                };
            let content = match (&self.bundle.message_signature, &self.bundle.dsse_envelope) {
                (Some(sig), _) => SignedContent::MessageSignature {
                    hash: HashAlgorithm::Sha256,
                    artifact_digest: &self.artifact_sha256,
                    signature: &sig.signature,
                },
                (None, Some(envelope)) => SignedContent::Dsse { envelope },
                (None, None) => panic!("case has no content"),
            };
            verify_entry(entry, &self.root.tlogs, content, signer)
        }
    }

    macro_rules! prod_case {
        ($case:literal) => {
            Case::new(case_file!($case, "bundle.sigstore.json"), PROD_ROOT)
        };
    }

    macro_rules! custom_case {
        ($case:literal) => {
            Case::new(case_file!($case, "bundle.sigstore.json"), case_file!($case, "trusted_root.json"))
        };
    }

    /// The npm registry's attestation key for a publish bundle: the 2023-2024 key as the
    /// registry's key list published it; for the newer key (whose SPKI the test data does not
    /// carry) the key logged in the entry, so only the payload and signature checks bite.
    fn npm_registry_key(hint: &str, entry: &TransparencyLogEntry) -> Vec<u8> {
        if hint == "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA" {
            return b64_decode("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==").unwrap();
        }
        let body: Value = serde_json::from_slice(&entry.canonicalized_body).unwrap();
        let logged = body
            .pointer("/spec/signatures/0/verifier")
            .or_else(|| body.pointer("/spec/content/envelope/signatures/0/publicKey"))
            .and_then(Value::as_str)
            .unwrap();
        let pem = String::from_utf8(b64_decode(logged).unwrap()).unwrap();
        pem_rfc7468_decode(&pem).unwrap().1
    }

    fn npm_case(bundle: &str) -> Case {
        Case::new(bundle, PROD_ROOT)
    }

    #[test]
    fn every_happy_path_entry_verifies() {
        let cases = [
            ("happy-path-v0.1", prod_case!("happy-path-v0.1")),
            ("happy-path-v0.2", prod_case!("happy-path-v0.2")),
            ("happy-path-v0.3", prod_case!("happy-path-v0.3")),
            ("happy-path-v0.3-new-mediaType", prod_case!("happy-path-v0.3-new-mediaType")),
            ("happy-path-intoto-in-dsse-v3", prod_case!("happy-path-intoto-in-dsse-v3")),
            (
                "intoto-with-custom-trust-root",
                custom_case!("intoto-with-custom-trust-root")
                    .artifact(case_file!("intoto-with-custom-trust-root", "artifact").as_bytes()),
            ),
            (
                "managed-key-happy-path",
                prod_case!("managed-key-happy-path").key(case_file!("managed-key-happy-path", "key.pub")),
            ),
            (
                "managed-key-and-trusted-root",
                custom_case!("managed-key-and-trusted-root").key(case_file!("managed-key-and-trusted-root", "key.pub")),
            ),
            ("trust-root-tlog-validity-end-inclusive", custom_case!("trust-root-tlog-validity-end-inclusive")),
            ("rekor2-happy-path", custom_case!("rekor2-happy-path")),
            ("rekor2-dsse-happy-path", custom_case!("rekor2-dsse-happy-path")),
            ("rekor2-checkpoint-cosigned", custom_case!("rekor2-checkpoint-cosigned")),
            ("rekor2-checkpoint-multiple-cosigs", custom_case!("rekor2-checkpoint-multiple-cosigs")),
            ("rekor2-checkpoint-origin-not-first", custom_case!("rekor2-checkpoint-origin-not-first")),
            ("rekor2-checkpoint-two-sigs-cosigned", custom_case!("rekor2-checkpoint-two-sigs-cosigned")),
            ("rekor2-timestamp-with-embedded-cert", custom_case!("rekor2-timestamp-with-embedded-cert")),
            ("rekor2-timestamp-without-embedded-cert", custom_case!("rekor2-timestamp-without-embedded-cert")),
        ];
        for (name, case) in cases {
            let verified = case.run().unwrap_or_else(|e| panic!("{name}: {e}"));
            let entry = case.entry();
            assert_eq!(verified.log_index, entry.log_index as u64, "{name}");
            assert_eq!(verified.kind_version, entry.kind_version, "{name}");
            assert!(
                verified.checkpoint_tree_size
                    > verified.log_index.min(entry.inclusion_proof.as_ref().unwrap().log_index as u64),
                "{name}"
            );
            if case.root.tlogs.iter().any(|t| t.base_url.contains("log2025")) && entry.kind_version.version == "0.0.2" {
                assert_eq!(verified.integrated_time, None, "{name}: Rekor v2 has no integrated time");
            } else {
                assert_eq!(verified.integrated_time, Some(UnixTime(entry.integrated_time)), "{name}");
            }
        }
    }

    fn artifact_case(case: Case, artifact: &str) -> Case {
        case.artifact(artifact.as_bytes())
    }

    #[test]
    fn conformance_failures_owned_by_the_log_step_are_rejected_with_the_right_error() {
        use CheckpointError as C;
        let check = |name: &str, case: Case, expected: &dyn Fn(&TlogError) -> bool| {
            let err = case.run().expect_err(name);
            assert!(expected(&err), "{name}: unexpected error {err:?}");
        };
        check("invalid-checkpoint-signature_fail", prod_case!("invalid-checkpoint-signature_fail"), &|e| {
            matches!(e, TlogError::Checkpoint { source: C::BadSignature, .. })
        });
        check("checkpoint-bad-keyhint_fail", prod_case!("checkpoint-bad-keyhint_fail"), &|e| {
            matches!(e, TlogError::Checkpoint { source: C::NoLogSignature { .. }, .. })
        });
        check(
            "rekor2-checkpoint-missing-log-signature_fail",
            custom_case!("rekor2-checkpoint-missing-log-signature_fail"),
            &|e| matches!(e, TlogError::Checkpoint { source: C::NoSignatures, .. }),
        );
        check("rekor2-checkpoint-missing-origin_fail", custom_case!("rekor2-checkpoint-missing-origin_fail"), &|e| {
            matches!(e, TlogError::Checkpoint { source: C::MalformedBody { .. }, .. })
        });
        check(
            "rekor2-checkpoint-missing-root-hash_fail",
            custom_case!("rekor2-checkpoint-missing-root-hash_fail"),
            &|e| matches!(e, TlogError::Checkpoint { source: C::MalformedBody { .. }, .. }),
        );
        check(
            "rekor2-checkpoint-no-matching-signature_fail",
            custom_case!("rekor2-checkpoint-no-matching-signature_fail"),
            &|e| matches!(e, TlogError::Checkpoint { source: C::NoLogSignature { .. }, .. }),
        );
        check("rekor2-no-inclusion-proof_fail", custom_case!("rekor2-no-inclusion-proof_fail"), &|e| {
            *e == TlogError::MissingInclusionProof { log_index: 735 }
        });
        // The envelope signature differs from the one logged (hashedrekord over the PAE).
        check("rekor2-dsse-invalid-sig_fail", custom_case!("rekor2-dsse-invalid-sig_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.hashedRekordV002.signature.content", .. })
        });
        check("rekor2-dsse-mismatch-sig_fail", custom_case!("rekor2-dsse-mismatch-sig_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.hashedRekordV002.signature.content", .. })
        });
        check(
            "intoto-log-entry-mismatch_fail",
            artifact_case(
                custom_case!("intoto-log-entry-mismatch_fail"),
                case_file!("intoto-log-entry-mismatch_fail", "artifact"),
            ),
            &|e| matches!(e, TlogError::BodyMismatch { field: "spec.content.envelope.signatures[0].sig", .. }),
        );
        check("wrong-hashedrekord-entry_fail", prod_case!("wrong-hashedrekord-entry_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.data.hash.value", .. })
        });
        check("wrong-hashedrekord-artifact_fail", prod_case!("wrong-hashedrekord-artifact_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.data.hash.value", .. })
        });
        check(
            "wrong-material_fail",
            artifact_case(prod_case!("wrong-material_fail"), case_file!("wrong-material_fail", "artifact")),
            &|e| matches!(e, TlogError::BodyMismatch { field: "spec.data.hash.value", .. }),
        );
        check("dsse-mismatch-envelope_fail", prod_case!("dsse-mismatch-envelope_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.payloadHash.value", .. })
        });
        check("dsse-invalid-sig_fail", prod_case!("dsse-invalid-sig_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.signatures[0].signature", .. })
        });
        check("incorrect-public-key_fail", prod_case!("incorrect-public-key_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.signature.publicKey.content", .. })
        });
        check("signature-mismatch_fail", prod_case!("signature-mismatch_fail"), &|e| {
            matches!(e, TlogError::BodyMismatch { field: "spec.signature.content", .. })
        });
        check("bundle-negative-log-index_fail", prod_case!("bundle-negative-log-index_fail"), &|e| {
            *e == TlogError::NegativeLogIndex { log_index: -1 }
        });
        check(
            "trust-root-tlog-missing-validity-start_fail",
            custom_case!("trust-root-tlog-missing-validity-start_fail"),
            &|e| matches!(e, TlogError::BadLogValidity { .. }),
        );
        check("bundle-from-wrong-instance_fail", prod_case!("bundle-from-wrong-instance_fail"), &|e| {
            matches!(e, TlogError::UnknownLog { .. })
        });
    }

    /// Cases that fail in a later step: the log entry itself is sound, and the facts returned
    /// are what the caller needs to reject them.
    #[test]
    fn conformance_failures_owned_by_other_steps_pass_the_log_step() {
        // The SET-backed integrated time is returned; the verifier rejects it because it lies
        // outside the certificate's validity (§5 step 6), not here.
        let future = prod_case!("integrated-time-in-future_fail").run().unwrap();
        assert_eq!(future.integrated_time, Some(UnixTime(1778168051)));
        // A v0.2 bundle without an inclusion proof: the promise verifies, and a tree size of
        // zero tells the caller no checkpoint was seen (§5 step 0 rejects it for v0.2+).
        let no_proof = artifact_case(
            custom_case!("intoto-missing-inclusion-proof_fail"),
            case_file!("intoto-missing-inclusion-proof_fail", "artifact"),
        )
        .run()
        .unwrap();
        assert_eq!(no_proof.checkpoint_tree_size, 0);
        // Rekor v2 entries never carry a time: these fail on their (missing or bad) TSA tokens.
        for case in [
            custom_case!("rekor2-no-timestamp_fail"),
            custom_case!("rekor2-timestamp-outside-trust-root-tsa-validity_fail"),
            custom_case!("rekor2-timestamp-outside-tsa-cert-validity_fail"),
            custom_case!("rekor2-timestamp-payload-mismatch_fail"),
            custom_case!("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail"),
        ] {
            assert_eq!(case.run().unwrap().integrated_time, None);
        }
        // The messageDigest hint is the verifier's to compare; the log records the real digest.
        assert!(prod_case!("message-digest-mismatch_fail").run().is_ok());
    }

    #[test]
    fn a_bundle_with_a_proof_but_no_checkpoint_is_rejected() {
        // `invalid-inclusion-proof_fail` carries an old proof without a checkpoint: the bundle
        // wire type already refuses it, and an empty checkpoint is refused here.
        let text = case_file!("invalid-inclusion-proof_fail", "bundle.sigstore.json");
        assert!(serde_json::from_str::<Bundle>(text).is_err());
        let mut value: Value = serde_json::from_str(text).unwrap();
        value["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"] =
            serde_json::json!({"envelope": ""});
        let case = Case { bundle: serde_json::from_value(value).unwrap(), ..prod_case!("happy-path-v0.2") };
        assert_eq!(case.run().unwrap_err(), TlogError::MissingCheckpoint { log_index: 27246492 });
    }

    #[test]
    fn mutated_real_entries_are_rejected() {
        let case = prod_case!("happy-path-v0.3");
        let good = case.entry().clone();
        let log_index = good.log_index as u64;
        case.run_entry(&good).unwrap();

        let mut flipped_proof_hash = good.clone();
        flipped_proof_hash.inclusion_proof.as_mut().unwrap().hashes[3][7] ^= 1;
        assert_eq!(case.run_entry(&flipped_proof_hash).unwrap_err(), TlogError::InclusionProofMismatch { log_index });
        assert_eq!(
            case.run_entry(&flipped_proof_hash).unwrap_err().to_string(),
            format!("inclusion proof does not match the checkpoint root (log index {log_index})")
        );

        let mut swapped_proof_hashes = good.clone();
        swapped_proof_hashes.inclusion_proof.as_mut().unwrap().hashes.swap(0, 1);
        assert_eq!(case.run_entry(&swapped_proof_hashes).unwrap_err(), TlogError::InclusionProofMismatch { log_index });

        let mut truncated_proof = good.clone();
        truncated_proof.inclusion_proof.as_mut().unwrap().hashes.pop();
        assert!(matches!(case.run_entry(&truncated_proof), Err(TlogError::InclusionProof { .. })));

        let mut other_root = good.clone();
        other_root.inclusion_proof.as_mut().unwrap().root_hash[0] ^= 1;
        assert_eq!(case.run_entry(&other_root).unwrap_err(), TlogError::ProofRootMismatch { log_index });

        let mut other_size = good.clone();
        other_size.inclusion_proof.as_mut().unwrap().tree_size += 1;
        assert!(matches!(case.run_entry(&other_size), Err(TlogError::ProofTreeSizeMismatch { .. })));

        let mut changed_set = good.clone();
        let set = &mut changed_set.inclusion_promise.as_mut().unwrap().signed_entry_timestamp;
        let last = set.len() - 3;
        set[last] ^= 1;
        assert_eq!(case.run_entry(&changed_set).unwrap_err(), TlogError::BadSignedEntryTimestamp { log_index });

        let mut earlier_time = good.clone();
        earlier_time.integrated_time -= 1;
        assert_eq!(case.run_entry(&earlier_time).unwrap_err(), TlogError::BadSignedEntryTimestamp { log_index });

        let mut other_index = good.clone();
        other_index.log_index += 1;
        assert!(matches!(case.run_entry(&other_index), Err(TlogError::BadSignedEntryTimestamp { .. })));

        let mut log_line_dropped = good.clone();
        let envelope = &mut log_line_dropped.inclusion_proof.as_mut().unwrap().checkpoint.envelope;
        *envelope = envelope.split('\u{2014}').next().unwrap().to_owned();
        assert_eq!(
            case.run_entry(&log_line_dropped).unwrap_err(),
            TlogError::Checkpoint { log_index, source: CheckpointError::NoSignatures }
        );

        let mut witness_only = good.clone();
        let envelope = &mut witness_only.inclusion_proof.as_mut().unwrap().checkpoint.envelope;
        *envelope = envelope.replace("\u{2014} rekor.sigstore.dev", "\u{2014} witness.example");
        assert!(matches!(
            case.run_entry(&witness_only),
            Err(TlogError::Checkpoint { source: CheckpointError::NoLogSignature { .. }, .. })
        ));

        let mut relabelled = good.clone();
        relabelled.kind_version.kind = "dsse".into();
        assert!(matches!(case.run_entry(&relabelled), Err(TlogError::KindVersionMismatch { .. })));

        let mut no_body = good.clone();
        no_body.canonicalized_body.clear();
        assert_eq!(case.run_entry(&no_body).unwrap_err(), TlogError::MissingBody { log_index });

        let mut unlogged = good.clone();
        unlogged.inclusion_proof = None;
        unlogged.inclusion_promise = None;
        assert_eq!(case.run_entry(&unlogged).unwrap_err(), TlogError::MissingInclusionProof { log_index });

        // Without the promise the proof still verifies, but no time is vouched for.
        let mut no_promise = good.clone();
        no_promise.inclusion_promise = None;
        assert_eq!(case.run_entry(&no_promise).unwrap().integrated_time, None);
    }

    #[test]
    fn the_log_key_validity_bounds_the_integrated_time_inclusively() {
        let mut case = prod_case!("happy-path-v0.3");
        let time = case.entry().integrated_time;
        let range = case.root.tlogs[0].public_key.valid_for.as_mut().unwrap();
        range.end = Some(UnixTime(time).to_rfc3339());
        case.run().unwrap();
        let range = case.root.tlogs[0].public_key.valid_for.as_mut().unwrap();
        range.end = Some(UnixTime(time - 1).to_rfc3339());
        assert!(
            matches!(case.run(), Err(TlogError::OutsideLogValidity { integrated_time, .. }) if integrated_time == time)
        );
        case.root.tlogs[0].public_key.valid_for = None;
        assert!(matches!(case.run(), Err(TlogError::BadLogValidity { .. })));
    }

    #[test]
    fn rekor_v2_entries_are_found_by_checkpoint_key_id_and_never_carry_a_promise() {
        let case = custom_case!("rekor2-happy-path");
        let mut promised = case.entry().clone();
        promised.inclusion_promise =
            Some(crate::core::wire::bundle::InclusionPromise { signed_entry_timestamp: vec![0x30, 0] });
        assert_eq!(case.run_entry(&promised).unwrap_err(), TlogError::PromiseOnRekorV2 { log_index: 735 });
        // The checkpoint key ID is derived from the log's name: a log at another URL with the
        // same key is a different log.
        let mut moved = custom_case!("rekor2-happy-path");
        for t in &mut moved.root.tlogs {
            t.base_url = t.base_url.replace("sigstage.dev", "example.org");
        }
        assert!(matches!(moved.run(), Err(TlogError::UnknownLog { .. })));
        // A body naming another digest algorithm no longer records this content.
        let relabel = |case: &Case, to: &str| {
            let mut entry = case.entry().clone();
            let text = String::from_utf8(entry.canonicalized_body).unwrap().replace("SHA2_256", to);
            entry.canonicalized_body = text.into_bytes();
            case.run_entry(&entry).unwrap_err()
        };
        let dsse = custom_case!("rekor2-dsse-happy-path");
        assert!(matches!(
            relabel(&dsse, "SHA2_384"),
            TlogError::BodyMismatch { field: "spec.hashedRekordV002.data.digest", .. }
        ));
        assert!(matches!(
            relabel(&dsse, "MD5"),
            TlogError::BodyMismatch { field: "spec.hashedRekordV002.data.algorithm", .. }
        ));
        assert!(matches!(
            relabel(&case, "SHA2_512"),
            TlogError::BodyMismatch { field: "spec.hashedRekordV002.data.algorithm", .. }
        ));
        // Rekor v2 reads root and size from the checkpoint; a flipped hash still fails.
        let mut flipped = case.entry().clone();
        flipped.inclusion_proof.as_mut().unwrap().hashes[0][0] ^= 1;
        assert_eq!(case.run_entry(&flipped).unwrap_err(), TlogError::InclusionProofMismatch { log_index: 735 });
        // Dropping the log's line leaves only the witness cosignature, which is not enough.
        let cosigned = custom_case!("rekor2-checkpoint-cosigned");
        let mut witness_only = cosigned.entry().clone();
        let envelope = &mut witness_only.inclusion_proof.as_mut().unwrap().checkpoint.envelope;
        let kept: Vec<&str> = envelope.split_inclusive('\n').filter(|l| !l.contains("\u{2014} log2025")).collect();
        *envelope = kept.concat();
        assert!(matches!(
            cosigned.run_entry(&witness_only),
            Err(TlogError::Checkpoint { source: CheckpointError::NoLogSignature { .. }, .. })
        ));
    }

    #[test]
    fn content_of_another_kind_is_refused() {
        // A DSSE bundle cannot be backed by a hashedrekord 0.0.1 entry.
        let case = prod_case!("happy-path-v0.3");
        let dsse = prod_case!("happy-path-intoto-in-dsse-v3");
        let envelope = dsse.bundle.dsse_envelope.as_ref().unwrap();
        let cert = &case.bundle.verification_material.certificate.as_ref().unwrap().raw_bytes;
        let err = verify_entry(
            case.entry(),
            &case.root.tlogs,
            SignedContent::Dsse { envelope },
            SignerKey::Certificate { der: cert },
        )
        .unwrap_err();
        assert!(matches!(err, TlogError::UnsupportedKind { .. }));
        // The right entry with another signer's certificate is refused.
        let other_cert = &dsse.bundle.verification_material.certificate.as_ref().unwrap().raw_bytes;
        let sig = &case.bundle.message_signature.as_ref().unwrap().signature;
        let err = verify_entry(
            case.entry(),
            &case.root.tlogs,
            SignedContent::MessageSignature {
                hash: HashAlgorithm::Sha256,
                artifact_digest: &case.artifact_sha256,
                signature: sig,
            },
            SignerKey::Certificate { der: other_cert },
        )
        .unwrap_err();
        assert!(matches!(err, TlogError::BodyMismatch { field: "spec.signature.publicKey.content", .. }));
    }

    #[test]
    fn every_real_npm_provenance_entry_verifies() {
        let bundles = [
            include_str!("../../../tests/data/npm-provenance/gundam-visor-1.0.1-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/gundam-visor-1.0.1-publish.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/playwright-cli-0.1.1-publish.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-0.4.0-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-0.4.0-publish.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.0.0-email-dsse-v0.2.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.0.0-email-dsse-v0.3.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.0.0-email-intoto-v0.3.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.0.0-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.0.0-publish.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.3.0-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-1.3.0-publish.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-2.0.0-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-2.1.0-provenance-v0.1.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/sigstore-2.1.0-provenance-v0.3.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/tuf-js-1.0.0-provenance.sigstore.json"),
            include_str!("../../../tests/data/npm-provenance/tuf-js-1.0.0-publish.sigstore.json"),
        ];
        for (i, text) in bundles.into_iter().enumerate() {
            let case = npm_case(text);
            let verified = case.run().unwrap_or_else(|e| panic!("npm bundle {i}: {e}"));
            assert_eq!(verified.log_base_url, "https://rekor.sigstore.dev");
            assert_eq!(verified.integrated_time, Some(UnixTime(case.entry().integrated_time)));
            assert_eq!(verified.checkpoint_tree_size == 0, case.entry().inclusion_proof.is_none());
            // The intoto/dsse body is bound to the payload: another payload is refused.
            let mut tampered = case.bundle.dsse_envelope.clone().unwrap();
            tampered.payload.push(b' ');
            let tampered_case = Case {
                bundle: Bundle { dsse_envelope: Some(tampered), ..case.bundle.clone() },
                root: case.root.clone(),
                artifact_sha256: Vec::new(),
                key_spki: None,
            };
            let err = tampered_case.run().unwrap_err();
            assert!(matches!(err, TlogError::BodyMismatch { .. }), "npm bundle {i}: {err:?}");
        }
    }
}
