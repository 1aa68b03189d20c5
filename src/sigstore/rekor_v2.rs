//! The Rekor v2 client (rekor-tiles, sigstore-protocol.md §4.2): `POST {base}/api/v2/log/entries`
//! with a `hashedrekord` v0.0.2 request; the answer is the `TransparencyLogEntry` that goes
//! into the bundle as it is (no integrated time, no SET). Before that, the entry must record
//! exactly what we sent and its inclusion proof must lead to the proof's root (RFC 6962
//! §2.1.1); the signed checkpoint is checked against the trusted root by the caller.

use reqwest::StatusCode;
use serde_json::Value;

use crate::core::verify::merkle;
use crate::core::wire::bundle::TransparencyLogEntry;
use crate::error::{fail, Classify as _, ExitKind};
use crate::http::{join, Http};

/// What a write came to.
#[derive(Debug)]
pub enum Written {
    Entry(Box<TransparencyLogEntry>),
    /// 409: the log already holds this exact entry (e.g. a retried request whose answer was
    /// lost). Rekor v2 has no API to fetch it, so the caller signs again (a new entry).
    AlreadyExists,
}

/// Writes `request` and checks the answer against `expected_body`, the canonical body the log
/// must have stored (compared as JSON).
pub async fn create_entry(http: &Http, base: &str, request: &Value, expected_body: &Value) -> anyhow::Result<Written> {
    let url = join(base, "/api/v2/log/entries");
    let response = http.post_json("Rekor v2", &url, request, &[StatusCode::CONFLICT]).await?;
    if response.status == StatusCode::CONFLICT {
        return Ok(Written::AlreadyExists);
    }
    let entry: TransparencyLogEntry = serde_json::from_slice(&response.body)
        .classify(ExitKind::Remote, "Rekor v2's answer is not a TransparencyLogEntry")?;
    check_entry(&entry, expected_body)?;
    Ok(Written::Entry(Box::new(entry)))
}

fn check_entry(entry: &TransparencyLogEntry, expected_body: &Value) -> anyhow::Result<()> {
    let unusable = |what: &str| fail(ExitKind::Remote, format!("Rekor v2's entry is unusable: {what}"));
    if entry.kind_version.kind != "hashedrekord" || entry.kind_version.version != "0.0.2" {
        return Err(unusable(&format!(
            "kind {}/{} is not hashedrekord/0.0.2",
            entry.kind_version.kind, entry.kind_version.version
        )));
    }
    if entry.integrated_time != 0 || entry.inclusion_promise.is_some() {
        return Err(unusable("it carries an integrated time or SET, which Rekor v2 never issues"));
    }
    let body: Value =
        serde_json::from_slice(&entry.canonicalized_body).map_err(|_| unusable("its body is not JSON"))?;
    if &body != expected_body {
        return Err(unusable("its body does not record our digest, signature and certificate"));
    }
    let proof = entry.inclusion_proof.as_ref().ok_or_else(|| unusable("it has no inclusion proof"))?;
    if proof.checkpoint.envelope.is_empty() {
        return Err(unusable("its inclusion proof has no checkpoint"));
    }
    let (Ok(index), Ok(size)) = (u64::try_from(entry.log_index), u64::try_from(proof.tree_size)) else {
        return Err(unusable("negative log index or tree size"));
    };
    merkle::verify_inclusion(
        index,
        size,
        &merkle::leaf_hash(&entry.canonicalized_body),
        &proof.hashes,
        &proof.root_hash,
    )
    .classify(ExitKind::Remote, "Rekor v2's inclusion proof is inconsistent")?;
    Ok(())
}
