//! Sigstore bundle wire types (`dev.sigstore.bundle.v1.Bundle`, protobuf-specs, JSON form).
//!
//! These are the serde shapes only; `core::verify` parses them into checked domain
//! values. Field order follows protobuf-specs so that our output reads like
//! sigstore-js's.

use serde::{Deserialize, Serialize};

use crate::core::wire::encoding::{b64, b64_vec, int64, is_zero};

pub const MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
pub const MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
pub const MEDIA_TYPE_V0_3_LEGACY: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// What npm-attest writes.
pub const MEDIA_TYPE_V0_3: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<X509CertificateChain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<X509Certificate>,
    /// Empty for a bundle dated by timestamps alone, and then left out as protobuf JSON leaves
    /// out empty repeated fields (GitHub's instance writes no `tlogEntries`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct X509CertificateChain {
    #[serde(default)]
    pub certificates: Vec<X509Certificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Certificate {
    /// DER.
    #[serde(with = "b64")]
    pub raw_bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    /// The global log index (the one the SET covers and search.sigstore.dev links to).
    #[serde(with = "int64")]
    pub log_index: i64,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    /// Absent (0) for Rekor v2.
    #[serde(default, with = "int64", skip_serializing_if = "is_zero")]
    pub integrated_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    #[serde(default, with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub canonicalized_body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    #[serde(with = "b64")]
    pub key_id: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    #[serde(with = "b64")]
    pub signed_entry_timestamp: Vec<u8>,
}

/// Written with `logIndex` and `hashes` always present (sigstore-python requires both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Index within the tree (shard), not the global index.
    #[serde(default, with = "int64")]
    pub log_index: i64,
    #[serde(with = "b64")]
    pub root_hash: Vec<u8>,
    #[serde(with = "int64")]
    pub tree_size: i64,
    #[serde(default, with = "b64_vec")]
    pub hashes: Vec<Vec<u8>>,
    pub checkpoint: Checkpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The signed-note text.
    pub envelope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rfc3161_timestamps: Vec<Rfc3161SignedTimestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161SignedTimestamp {
    /// DER `TimeStampResp` (RFC 3161 §2.4.2).
    #[serde(with = "b64")]
    pub signed_timestamp: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashOutput {
    /// `SHA2_256`, `SHA2_384`, `SHA2_512`.
    pub algorithm: String,
    #[serde(with = "b64")]
    pub digest: Vec<u8>,
}

/// A DSSE envelope. Serialized field order (`payload`, `payloadType`, `signatures`) is the
/// compact form npm and sigstore-js submit to Rekor; see [`crate::core::dsse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    pub payload_type: String,
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
    /// Omitted when empty, as protobuf-specs >= 0.4 does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}
