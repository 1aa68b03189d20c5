//! The CI environment at the edge: identity tokens (`oidc`), the GitHub Actions runner's
//! variables and file commands (`runner`), the job summary (`summary`), GitHub's artifact
//! attestations API (`attestations`), and what `attest` reports to the runner (`report`).

pub mod attestations;
pub mod oidc;
pub mod report;
pub mod runner;
pub mod summary;
