//! Entry points for the fuzz targets (`fuzz/`) into readers of outside input that are not
//! part of the public API: each is a thin call of the crate-private function the command
//! uses, so the fuzzer exercises exactly that code. Not for other uses.

use serde_json::Value;

/// `verify --lockfile`: the packages a package-lock.json lists.
pub fn lockfile_packages(lock: &Value) -> Result<Vec<(String, String)>, String> {
    crate::cmd::verify::batch::lockfile_packages(lock)
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
    crate::standin::log::canonicalize(proposed).ok()
}
