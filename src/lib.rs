//! npm-attest: signed, verifiable SLSA build provenance for npm packages.
//!
//! See ARCHITECTURE.md for the codemap and its invariants.

pub mod cli;
pub mod cmd;
#[doc(hidden)]
pub mod fuzzing;
pub mod core;
pub mod error;
pub mod fsutil;
pub mod github;
pub mod http;
pub mod oidc;
pub mod provenance;
pub mod registry;
pub mod report;
pub mod secret;
pub mod sigstore;
pub mod standin;
pub mod tarball;
pub mod workspaces;
