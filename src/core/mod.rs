//! The pure core: wire formats, statement building, DSSE, Merkle trees, checkpoints,
//! certificates and verification.
//!
//! Architecture invariant: nothing under `core` performs I/O. No files, no network, no
//! environment variables, no clock: time and randomness are arguments. The test
//! `core_does_no_io` in `tests/it/architecture.rs` enforces this by scanning the sources.

pub mod bundle;
pub mod canonical_json;
pub mod checkpoint;
pub mod crypto;
pub mod dsse;
pub mod encoding;
pub mod jwt;
pub mod merkle;
pub mod npm;
pub mod pki;
pub mod publish;
pub mod rekor;
pub mod sct;
pub mod statement;
pub mod time;
pub mod tlog;
pub mod trust_root;
pub mod tsa;
pub mod verify;
pub mod x509;
