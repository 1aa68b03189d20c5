//! The Sigstore client at the edge: which instance to use (`endpoints`), the ephemeral key
//! (`key`), Fulcio and Rekor (`fulcio`, `rekor`), the signing session that turns them into
//! bundles (`session`), the signer that attest and publish share (`signer`), the trust
//! material that verifies what it made (`trust`; kept fresh through TUF by `tuf`), and the one
//! post-signing self-check (`self_check`).

pub mod conformance;
pub mod endpoints;
pub mod fulcio;
pub mod key;
pub mod rekor;
pub mod self_check;
pub mod session;
pub mod signer;
pub mod trust;
pub mod tuf;
