//! Rekor v1 API wire types (rekor `openapi.yaml`): the proposed entries a client submits,
//! the `LogEntry` response, and its conversion into a bundle `TransparencyLogEntry`
//! (sigstore-protocol.md §4.1; sigstore-python `_from_v1_response`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::core::canonical_json::to_canonical_string;
use crate::core::wire::bundle::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, TransparencyLogEntry,
};
use crate::core::wire::encoding::{b64_decode, b64_encode};

/// A `dsse` 0.0.1 proposed entry. `envelope_json` is the envelope exactly as the compact
/// string in [`crate::core::dsse::compact_json`]; `verifier_pem` is the leaf certificate PEM text.
pub fn dsse_v001_request(envelope_json: &str, verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [b64_encode(verifier_pem)]}}
    })
}

/// A `hashedrekord` 0.0.1 proposed entry (also its canonical body shape).
pub fn hashedrekord_v001_request(sha256: &[u8], signature: &[u8], verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256)}},
            "signature": {"content": b64_encode(signature), "publicKey": {"content": b64_encode(verifier_pem)}}
        }
    })
}

/// One entry of a Rekor v1 response, `{"<uuid>": LogEntry}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// base64 of the canonical entry body.
    pub body: String,
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Lowercase hex SHA-256 of the log's SPKI DER.
    #[serde(rename = "logID")]
    pub log_id: String,
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    #[serde(rename = "inclusionProof", default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<ApiInclusionProof>,
    /// base64 ECDSA signature over [`set_payload`].
    #[serde(rename = "signedEntryTimestamp", default, skip_serializing_if = "Option::is_none")]
    pub signed_entry_timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiInclusionProof {
    pub checkpoint: String,
    /// Hex, leaf to root.
    pub hashes: Vec<String>,
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex.
    #[serde(rename = "rootHash")]
    pub root_hash: String,
    #[serde(rename = "treeSize")]
    pub tree_size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    NotJson(String),
    EntryCount(usize),
    BadField { field: &'static str, reason: String },
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "Rekor response is not a log entry: {e}"),
            Self::EntryCount(n) => write!(f, "Rekor response holds {n} entries, expected exactly one"),
            Self::BadField { field, reason } => write!(f, "Rekor response field `{field}` is invalid: {reason}"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// Parses `{"<uuid>": LogEntry}` (the create-entry and get-entry responses), which must hold
/// exactly one entry.
pub fn parse_entry_response(bytes: &[u8]) -> Result<(String, LogEntry), ResponseError> {
    let map: serde_json::Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    if map.len() != 1 {
        return Err(ResponseError::EntryCount(map.len()));
    }
    let (uuid, value) = map.into_iter().next().ok_or(ResponseError::EntryCount(0))?;
    let entry: LogEntry = serde_json::from_value(value).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    Ok((uuid, entry))
}

/// The canonical JSON the SET signs: `{"body","integratedTime","logID","logIndex"}` (RFC 8785).
pub fn set_payload(body_b64: &str, integrated_time: i64, log_id_hex: &str, log_index: i64) -> String {
    // Base64 and hex need no JSON escaping, and these keys are already in canonical (sorted)
    // order: written directly, the same bytes as the canonical serializer's without its
    // per-character escaping scan over the whole body.
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if plain(body_b64) && plain(log_id_hex) {
        return format!(
            r#"{{"body":"{body_b64}","integratedTime":{integrated_time},"logID":"{log_id_hex}","logIndex":{log_index}}}"#
        );
    }
    let v = json!({"body": body_b64, "integratedTime": integrated_time, "logID": log_id_hex, "logIndex": log_index});
    // Only strings and integers: canonicalization cannot fail.
    to_canonical_string(&v).unwrap_or_default()
}

/// Reads `kind` and `apiVersion` from a canonical entry body.
pub fn body_kind_version(body: &[u8]) -> Result<KindVersion, ResponseError> {
    #[derive(Deserialize)]
    struct Head {
        kind: String,
        #[serde(rename = "apiVersion")]
        api_version: String,
    }
    let head: Head =
        serde_json::from_slice(body).map_err(|e| ResponseError::BadField { field: "body", reason: e.to_string() })?;
    Ok(KindVersion { kind: head.kind, version: head.api_version })
}

fn hex_field(field: &'static str, text: &str) -> Result<Vec<u8>, ResponseError> {
    hex::decode(text).map_err(|e| ResponseError::BadField { field, reason: e.to_string() })
}

impl LogEntry {
    /// Maps the API response into the bundle's `TransparencyLogEntry` (npm-provenance.md §7.5).
    pub fn to_bundle_entry(&self) -> Result<TransparencyLogEntry, ResponseError> {
        let body =
            b64_decode(&self.body).map_err(|e| ResponseError::BadField { field: "body", reason: e.to_string() })?;
        let kind_version = body_kind_version(&body)?;
        let verification = self.verification.as_ref();
        let inclusion_promise = match verification.and_then(|v| v.signed_entry_timestamp.as_deref()) {
            Some(set) => Some(InclusionPromise {
                signed_entry_timestamp: b64_decode(set)
                    .map_err(|e| ResponseError::BadField { field: "signedEntryTimestamp", reason: e.to_string() })?,
            }),
            None => None,
        };
        let inclusion_proof = match verification.and_then(|v| v.inclusion_proof.as_ref()) {
            Some(p) => Some(InclusionProof {
                log_index: p.log_index,
                root_hash: hex_field("rootHash", &p.root_hash)?,
                tree_size: p.tree_size,
                hashes: p.hashes.iter().map(|h| hex_field("hashes", h)).collect::<Result<_, _>>()?,
                checkpoint: Checkpoint { envelope: p.checkpoint.clone() },
            }),
            None => None,
        };
        Ok(TransparencyLogEntry {
            log_index: self.log_index,
            log_id: LogId { key_id: hex_field("logID", &self.log_id)? },
            kind_version,
            integrated_time: self.integrated_time,
            inclusion_promise,
            inclusion_proof,
            canonicalized_body: body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_payload_is_canonical() {
        assert_eq!(
            set_payload("Ym9keQ==", 1710869186, "c0d23d", 79571823),
            r#"{"body":"Ym9keQ==","integratedTime":1710869186,"logID":"c0d23d","logIndex":79571823}"#
        );
        // The direct form is byte for byte the canonical serializer's, negative numbers too;
        // anything needing escapes takes the serializer.
        for (body, time, id, index) in [("Ym9keQ==", -5, "00ff", 0), ("a/b+c=", 0, "", -1), ("q\"uote", 1, "x\\y", 2)] {
            let canonical =
                to_canonical_string(&json!({"body": body, "integratedTime": time, "logID": id, "logIndex": index}))
                    .unwrap();
            assert_eq!(set_payload(body, time, id, index), canonical);
        }
    }

    #[test]
    fn a_response_with_two_entries_is_refused() {
        let two = br#"{"a":{"body":"","integratedTime":1,"logID":"","logIndex":1},"b":{"body":"","integratedTime":1,"logID":"","logIndex":1}}"#;
        assert_eq!(parse_entry_response(two).unwrap_err(), ResponseError::EntryCount(2));
    }
}
