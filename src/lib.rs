//! npm-attest: signed, verifiable SLSA build provenance for npm packages.
//!
//! See ARCHITECTURE.md for the codemap and its invariants.

pub mod ci;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod core;
pub mod error;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod npm;
pub mod report;
pub mod secret;
pub mod sigstore;
pub mod standin;
