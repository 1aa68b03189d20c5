//! Wire formats: the serde types of what Sigstore services and files carry (bundles, trusted
//! roots and signing configs, Rekor v1 API bodies) and the protobuf-JSON encoding helpers
//! they share. Parsing only; the checks are in `core::verify`.

pub mod bundle;
pub mod encoding;
pub mod rekor;
pub mod trust_root;
