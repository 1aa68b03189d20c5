//! The command line: global flags and the subcommand enum. Each subcommand's arguments
//! and its `run` live in `src/cmd/<name>.rs`.

use clap::{Parser, Subcommand};

use crate::cmd;

#[derive(Debug, Parser)]
#[command(name = "npm-attest", version, about = "Signed, verifiable SLSA build provenance for npm packages")]
pub struct Cli {
    /// More output (debug logs). Also enabled by RUNNER_DEBUG=1.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign SLSA provenance for an npm package and write a Sigstore bundle.
    Attest(cmd::attest::AttestArgs),
    /// Publish an npm package with signed provenance (or without, with --no-provenance).
    Publish(cmd::publish::PublishArgs),
    /// Verify a Sigstore bundle offline and check who signed it.
    Verify(cmd::verify::VerifyArgs),
    /// Fetch a Sigstore instance's trusted root (and signing config) through TUF.
    TrustRoot(cmd::trust_root::TrustRootArgs),
    /// Run the local Sigstore stand-in (Fulcio-like CA, Rekor-like log) until stopped.
    ServeSigstore(cmd::serve::ServeArgs),
    /// The Sigstore conformance client protocol.
    #[command(subcommand)]
    Conformance(cmd::conformance::ConformanceCommand),
}
