//! Well-known names and addresses: OIDC issuers, public-good Sigstore services, media types
//! that several modules compare against. One place, so a rename cannot drift.

/// The OIDC issuer of GitHub Actions tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The OIDC issuer of GitLab.com CI tokens.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// Sigstore public-good production: Fulcio and Rekor v1.
pub const PUBLIC_GOOD_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const PUBLIC_GOOD_REKOR: &str = "https://rekor.sigstore.dev";
/// Sigstore public-good staging: Fulcio and Rekor v1.
pub const STAGING_FULCIO: &str = "https://fulcio.sigstage.dev";
pub const STAGING_REKOR: &str = "https://rekor.sigstage.dev";
/// GitHub's own Sigstore instance, which actions/attest signs with for private and internal
/// repositories: a Fulcio and an RFC 3161 TSA, no transparency log (`@actions/attest`
/// `endpoints.ts`; the TSA path is the timestamp-authority API's, which sigstore-js appends to
/// the base URL). Its trust material comes from its own TUF repository.
pub const GITHUB_FULCIO: &str = "https://fulcio.githubapp.com";
pub const GITHUB_TSA: &str = "https://timestamp.githubapp.com/api/v1/timestamp";
pub const GITHUB_TUF: &str = "https://tuf-repo.github.com";

/// Sigstore's TUF repositories and the targets npm-attest takes from them (tuf.md §2).
pub const PUBLIC_GOOD_TUF: &str = "https://tuf-repo-cdn.sigstore.dev";
pub const STAGING_TUF: &str = "https://tuf-repo-cdn.sigstage.dev";
pub const TUF_TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
pub const TUF_SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

/// github.com's web and REST API addresses (the defaults of `GITHUB_SERVER_URL` and
/// `GITHUB_API_URL`).
pub const GITHUB_SERVER_URL: &str = "https://github.com";
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// SLSA provenance predicate types (npm-provenance.md §2): v1 for GitHub Actions, v0.2 for
/// GitLab, and the prefix every version shares.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const SLSA_PROVENANCE_V0_2: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_PROVENANCE_PREFIX: &str = "https://slsa.dev/provenance/";
