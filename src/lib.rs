//! npm-attest: signed, verifiable SLSA build provenance for npm packages.
//!
//! See ARCHITECTURE.md for the codemap and its invariants.

pub(crate) mod ci;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod core;
pub mod error;
pub(crate) mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod http;
pub(crate) mod network;
pub mod npm;
pub(crate) mod progress;
pub mod report;
pub mod secret;
pub mod sigstore;
pub mod standin;
