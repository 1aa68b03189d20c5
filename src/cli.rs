//! The command line: global flags and the subcommand enum. Each subcommand's arguments
//! and its `run` live in `src/cmd/<name>.rs`.

use clap::{Parser, Subcommand};

use crate::cmd;

#[derive(Debug, Parser)]
#[command(
    name = "npm-attest",
    version,
    about = "Signed, verifiable SLSA build provenance for npm packages",
    after_help = TOP_EXAMPLES
)]
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
    #[command(after_help = ATTEST_EXAMPLES)]
    Attest(cmd::attest::AttestArgs),
    /// Publish an npm package with signed provenance (or without, with --no-provenance).
    #[command(after_help = PUBLISH_EXAMPLES)]
    Publish(cmd::publish::PublishArgs),
    /// Verify a Sigstore bundle offline and check who signed it.
    ///
    /// A policy is required: say who must have built the package with --repository OWNER/REPO
    /// (GitHub Actions), or --certificate-oidc-issuer with --certificate-identity (or
    /// --certificate-identity-regexp); --workflow and --ref narrow it further.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(cmd::verify::VerifyArgs),
    /// Fetch a Sigstore instance's trusted root (and signing config) through TUF.
    TrustRoot(cmd::trust_root::TrustRootArgs),
    /// Run the local Sigstore stand-in (Fulcio-like CA, Rekor-like log) until stopped.
    #[command(after_help = SERVE_EXAMPLES)]
    ServeSigstore(cmd::serve::ServeArgs),
    /// The Sigstore conformance client protocol.
    #[command(subcommand, after_help = CONFORMANCE_EXAMPLES)]
    Conformance(cmd::conformance::ConformanceCommand),
}

const TOP_EXAMPLES: &str = "\
Examples:
  npx npm-attest attest --dry-run                      try it: sign the package here, publish nothing
  npm-attest publish                                   in GitHub Actions: publish with provenance
  npm-attest verify --registry https://registry.npmjs.org/ --lockfile package-lock.json --repository OWNER/REPO
  npm-attest <COMMAND> --help                          each command's options and examples";

const ATTEST_EXAMPLES: &str = "\
Examples:
  npm-attest attest --dry-run                          sign ./ with a local stand-in, publish nothing
  npm-attest attest my-pkg-1.0.0.tgz                   in GitHub Actions (id-token: write): public Sigstore
  npm-attest attest --workspaces --output-dir attestations
  GITHUB_REPOSITORY=octo/hello npm-attest attest --dry-run   sign as another repository";

const PUBLISH_EXAMPLES: &str = "\
Examples:
  npm-attest publish                                   in GitHub Actions: trusted publishing + provenance
  npm-attest publish --dry-run                         check and sign locally; read the registry, upload nothing
  npm-attest publish --access public --tag next my-pkg-1.0.0.tgz
  npm-attest publish --bundle my-pkg-1.0.0.sigstore.json my-pkg-1.0.0.tgz   publish a kept bundle";

const VERIFY_EXAMPLES: &str = "\
Examples:
  npm-attest verify --bundle my-pkg-1.0.0.sigstore.json --repository octo/hello my-pkg-1.0.0.tgz
  npm-attest verify --registry https://registry.npmjs.org/ --repository sigstore/sigstore-js sigstore@3.0.0
  npm-attest verify --registry https://registry.npmjs.org/ --lockfile package-lock.json --repository octo/hello
  npm-attest verify --bundle b.sigstore.json --trusted-root trusted_root.json --repository local/example pkg.tgz   a dry run's bundle";

const SERVE_EXAMPLES: &str = "\
Examples:
  npm-attest serve-sigstore --listen 127.0.0.1:8080 --trusted-root-out root.json --token-out token
  npm-attest attest --sigstore http://127.0.0.1:8080 --identity-token \"$(cat token)\" pkg.tgz
  npm-attest serve-sigstore --fail-first 2 --fail-status 503   inject faults to test retries";

const CONFORMANCE_EXAMPLES: &str = "\
Examples:
  npm-attest conformance sign-bundle --identity-token TOKEN --bundle out.json FILE
  npm-attest conformance verify-bundle --bundle b.json --certificate-identity ID --certificate-oidc-issuer URL FILE";
