//! The CI environment at the edge: identity tokens (`oidc`), the GitHub Actions runner's
//! variables and file commands (`runner`), the job summary (`summary`), GitHub's artifact
//! attestations API (`attestations`), what `attest` reports to the runner (`report`), and the
//! visibility of the repository being built (`visibility`).

pub(crate) mod attestations;
pub(crate) mod oidc;
pub(crate) mod report;
pub(crate) mod runner;
pub(crate) mod summary;
pub(crate) mod visibility;
