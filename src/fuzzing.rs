//! Entry points for the fuzz targets (`fuzz/`) into readers of outside input that are not
//! part of the public API: each is a thin call of the crate-private function the command
//! uses, so the fuzzer exercises exactly that code. Not for other uses.

use serde_json::Value;

/// `verify --lockfile`: the entries a package-lock.json lists (how many).
pub fn lockfile_entries(lock: &Value) -> Result<usize, String> {
    crate::cmd::verify::lockfile::count_entries(lock)
}

/// Rekor's 409 answer: the UUID of the existing entry, from `Location` or the message.
pub fn rekor_conflict_uuid(location: Option<&str>, body: &[u8]) -> Option<String> {
    crate::sigstore::rekor::conflict_uuid(location, body)
}

/// Fulcio's answer: the leaf of the PEM chain, which must certify `our_spki_der`.
pub fn fulcio_leaf(answer: &[u8], our_spki_der: &[u8]) -> anyhow::Result<Vec<u8>> {
    crate::sigstore::fulcio::leaf_from_answer(answer, our_spki_der)
}

/// The stand-in's Fulcio: the signing-certificate request body.
pub fn standin_fulcio_request(body: &[u8], bearer: Option<&str>) -> bool {
    crate::standin::fulcio::parse_request(body, bearer).is_ok()
}

/// The stand-in's Rekor: a proposed entry, checked and canonicalized.
pub fn standin_rekor_request(proposed: &Value) -> Option<Vec<u8>> {
    crate::standin::log::canonical_body(proposed)
}

/// GitHub's attestations API answer, classified as the upload reads it.
pub fn github_attestations_answer(status: u16, body: &[u8]) -> bool {
    crate::ci::attestations::classify_response(status, body).is_ok()
}

/// An identity token as `attest` inspects one it was given or fetched (an OIDC exchange's
/// answer): its claims when usable.
pub fn inspect_token(
    token: &crate::secret::SecretString,
    now: crate::core::time::UnixTime,
) -> Option<serde_json::Map<String, Value>> {
    crate::ci::oidc::inspect(token, "fuzz", now).ok().map(|(jwt, _)| jwt.claims)
}
