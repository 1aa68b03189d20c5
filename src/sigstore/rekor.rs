//! The Rekor v1 client: `POST /api/v1/log/entries`, 409 resolved by fetching the existing
//! entry, and the check that the returned entry is ours (sigstore-protocol.md §4.1).

use reqwest::StatusCode;
use serde_json::Value;

use crate::core::verify::merkle;
use crate::core::wire::bundle::TransparencyLogEntry;
use crate::core::wire::encoding::b64_encode;
use crate::core::wire::rekor::parse_entry_response;
use crate::error::{fail, Classify as _, ExitKind};
use crate::http::{join, Http};

/// `POST {rekor}/api/v1/log/entries`; on 409 (the entry exists, e.g. after a retried request
/// whose answer was lost) fetches the existing entry. Either way the entry must carry our
/// signature and a consistent inclusion proof before it goes into a bundle.
pub async fn create_log_entry(
    http: &Http,
    rekor: &str,
    proposed: &Value,
    our_signature: &[u8],
) -> anyhow::Result<TransparencyLogEntry> {
    let url = join(rekor, "/api/v1/log/entries");
    let response = http.post_json("Rekor", &url, proposed, &[StatusCode::CONFLICT]).await?;
    let body = if response.status == StatusCode::CONFLICT {
        let uuid = conflict_uuid(response.header("location"), &response.body)
            .ok_or_else(|| fail(ExitKind::Remote, "Rekor answered 409 (entry exists) without saying which entry"))?;
        crate::report::debug(&format!("Rekor already holds entry {uuid}, fetching it"));
        http.get_json("Rekor", &join(rekor, &format!("/api/v1/log/entries/{uuid}")), None).await?.body
    } else {
        response.body
    };
    let (_uuid, entry) = parse_entry_response(&body).classify(ExitKind::Remote, "Rekor's answer is unusable")?;
    let tle = entry.to_bundle_entry().classify(ExitKind::Remote, "Rekor's answer is unusable")?;
    check_entry_is_ours(&tle, our_signature)?;
    Ok(tle)
}

/// The entry UUID from a 409: the last segment of `Location`, else the last word of the
/// error message (`... already exists in the transparency log with UUID <uuid>`). Only hex is
/// accepted, so the follow-up request cannot be steered elsewhere.
pub(crate) fn conflict_uuid(location: Option<&str>, body: &[u8]) -> Option<String> {
    let is_uuid = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(last) = location.and_then(|l| l.trim_end_matches('/').rsplit('/').next()) {
        if is_uuid(last) {
            return Some(last.to_owned());
        }
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let last = value.get("message")?.as_str()?.split_whitespace().last()?.trim_end_matches('.');
    is_uuid(last).then(|| last.to_owned())
}

/// The entry's canonical body must list our signature, and its inclusion proof must lead
/// from the body's leaf hash to the proof's root (RFC 6962 §2.1.1). This catches a log (or a
/// 409 lookup) answering with someone else's entry; the signed checkpoint and SET are left to
/// the verifier, which holds the log's key.
fn check_entry_is_ours(entry: &TransparencyLogEntry, our_signature: &[u8]) -> anyhow::Result<()> {
    let body: Value = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|e| fail(ExitKind::Remote, format!("Rekor's entry body is not JSON: {e}")))?;
    let ours = b64_encode(our_signature);
    let listed: Vec<&str> = match body.get("kind").and_then(Value::as_str) {
        Some("dsse") => body
            .pointer("/spec/signatures")
            .and_then(Value::as_array)
            .map(|sigs| sigs.iter().filter_map(|s| s.get("signature").and_then(Value::as_str)).collect())
            .unwrap_or_default(),
        Some("hashedrekord") => body.pointer("/spec/signature/content").and_then(Value::as_str).into_iter().collect(),
        other => {
            return Err(fail(
                ExitKind::Remote,
                format!("Rekor logged an entry of kind {other:?}, not the one we sent"),
            ));
        }
    };
    if !listed.contains(&ours.as_str()) {
        return Err(fail(ExitKind::Remote, "Rekor's entry does not carry our signature"));
    }
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| fail(ExitKind::Remote, "Rekor answered without an inclusion proof"))?;
    if entry.inclusion_promise.is_none() {
        return Err(fail(ExitKind::Remote, "Rekor answered without a signed entry timestamp"));
    }
    let (Ok(index), Ok(size)) = (u64::try_from(proof.log_index), u64::try_from(proof.tree_size)) else {
        return Err(fail(ExitKind::Remote, "Rekor's inclusion proof has a negative index or size"));
    };
    merkle::verify_inclusion(
        index,
        size,
        &merkle::leaf_hash(&entry.canonicalized_body),
        &proof.hashes,
        &proof.root_hash,
    )
    .classify(ExitKind::Remote, "Rekor's inclusion proof is inconsistent")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_uuid_comes_from_location_or_message_and_must_be_hex() {
        let uuid = "24296fb24b8ad77a".to_owned() + &"ab".repeat(32);
        assert_eq!(conflict_uuid(Some(&format!("/api/v1/log/entries/{uuid}")), b""), Some(uuid.clone()));
        let body = format!(
            r#"{{"code":409,"message":"an equivalent entry already exists in the transparency log with UUID {uuid}"}}"#
        );
        assert_eq!(conflict_uuid(None, body.as_bytes()), Some(uuid));
        assert_eq!(conflict_uuid(Some("https://evil.example/../x?y"), b"{}"), None);
    }
}
