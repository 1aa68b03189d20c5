//! The pure core: wire formats, statement building, DSSE, Merkle trees, checkpoints,
//! certificates and verification.
//!
//! Architecture invariant: nothing under `core` performs I/O. No files, no network, no
//! environment variables, no clock: time and randomness are arguments. The test
//! `core_does_no_io` in `tests/it/architecture.rs` enforces this by scanning the sources.

pub mod canonical_json;
pub mod crypto;
pub mod dsse;
pub mod jwt;
pub mod npm;
pub mod time;
pub mod verify;
pub mod well_known;
pub mod wire;
