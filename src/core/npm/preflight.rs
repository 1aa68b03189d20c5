//! The provenance preflight: the rules the public registry enforces on a publish with
//! provenance (npm-provenance.md §4), checked before anything is signed.

use crate::core::npm::repository::{normalize_repository, same_repository};
use serde_json::{Map, Value};

/// What the CI environment says about the build, for the provenance preflight. `None` means
/// not known (then the check is skipped, not passed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// `https://github.com/<owner>/<repo>` (or the GitLab project URL).
    pub repository: Option<String>,
    /// `RUNNER_ENVIRONMENT`: `github-hosted` or `self-hosted`.
    pub runner_environment: Option<String>,
    /// `public`, `private` or `internal`.
    pub repository_visibility: Option<String>,
}

/// A reason the registry would refuse the publish, found before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreflightError {
    /// `"private": true` in package.json.
    PrivatePackage { name: String },
    /// `access: restricted` on an unscoped name (libnpmpublish `EUNSCOPED`).
    RestrictedUnscoped { name: String },
    /// The version is already on the registry.
    VersionExists { name: String, version: String },
    /// package.json has no usable `repository` (the registry compares it with the certificate).
    MissingRepository { ci_repository: String },
    /// package.json `repository` names another repository than the one building.
    RepositoryMismatch { package_json: String, ci_repository: String },
    /// The runner is not GitHub-hosted.
    UnsupportedRunner { runner_environment: String },
    /// The source repository is not public.
    PrivateSourceRepository { visibility: String },
    /// A new (or not public) scoped package with provenance needs `--access public`.
    AccessNotPublic { name: String },
}

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PrivatePackage { name } => write!(f, "{name} is marked \"private\": true in package.json"),
            Self::RestrictedUnscoped { name } => write!(f, "cannot restrict access to the unscoped package {name}"),
            Self::VersionExists { name, version } => write!(f, "{name}@{version} is already on the registry"),
            Self::MissingRepository { ci_repository } => write!(
                f,
                "package.json has no \"repository\"; the registry refuses provenance unless it names {ci_repository}"
            ),
            Self::RepositoryMismatch { package_json, ci_repository } => write!(
                f,
                "package.json \"repository\" is {package_json}, but this build runs in {ci_repository}; the registry refuses that provenance"
            ),
            Self::UnsupportedRunner { runner_environment } => write!(
                f,
                "the runner is {runner_environment:?}; the registry accepts provenance only from \"github-hosted\" runners"
            ),
            Self::PrivateSourceRepository { visibility } => write!(
                f,
                "the source repository is {visibility}; the registry accepts provenance only from public repositories"
            ),
            Self::AccessNotPublic { name } => {
                write!(f, "{name} is new or not public, and provenance needs a public package")
            }
        }
    }
}

impl std::error::Error for PreflightError {}

impl PreflightError {
    /// The fix, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::PrivatePackage { .. } => "remove \"private\": true from package.json if the package is meant to be published".into(),
            Self::RestrictedUnscoped { .. } => "use --access public, or publish under a scope (@scope/name)".into(),
            Self::VersionExists { .. } => "bump \"version\" in package.json (published versions can never be replaced)".into(),
            Self::MissingRepository { ci_repository } => {
                format!("add \"repository\": {{\"type\": \"git\", \"url\": \"git+{ci_repository}.git\"}} to package.json")
            }
            Self::RepositoryMismatch { ci_repository, .. } => format!(
                "set \"repository.url\" in package.json to \"git+{ci_repository}.git\" (add \"directory\" for a package in a monorepo)"
            ),
            Self::UnsupportedRunner { .. } => {
                "run the publish job on a GitHub-hosted runner (runs-on: ubuntu-latest), or publish with --no-provenance".into()
            }
            // A private repository can keep provenance, just not on npm: `attest
            // --upload-to-github` signs with GitHub's own Sigstore instance (no public log) and
            // stores the bundle in GitHub's attestation store, as actions/attest does.
            Self::PrivateSourceRepository { .. } => {
                "publish with --no-provenance (or make the source repository public); for provenance that stays private, attest with --upload-to-github, which signs with GitHub's Sigstore instance and stores the attestation with GitHub".into()
            }
            Self::AccessNotPublic { .. } => "pass --access public (or publish with --no-provenance)".into(),
        }
    }
}

/// The provenance checks the public registry makes on the bundle (npm-provenance.md §4, the
/// 422 answers), made ahead of time from the manifest and the CI facts.
pub fn check_provenance(manifest: &Map<String, Value>, facts: &BuildFacts) -> Result<(), PreflightError> {
    if let Some(ci_repository) = &facts.repository {
        match manifest.get("repository").and_then(normalize_repository) {
            None => return Err(PreflightError::MissingRepository { ci_repository: ci_repository.clone() }),
            Some(declared) if !same_repository(&declared, ci_repository) => {
                return Err(PreflightError::RepositoryMismatch {
                    package_json: declared,
                    ci_repository: ci_repository.clone(),
                })
            }
            Some(_) => {}
        }
    }
    if let Some(runner) = facts.runner_environment.as_deref().filter(|r| *r != "github-hosted") {
        return Err(PreflightError::UnsupportedRunner { runner_environment: runner.to_owned() });
    }
    if let Some(visibility) = facts.repository_visibility.as_deref().filter(|v| *v != "public") {
        return Err(PreflightError::PrivateSourceRepository { visibility: visibility.to_owned() });
    }
    Ok(())
}

/// The manifest checks every publish makes (libnpmpublish `EPRIVATE`, `EUNSCOPED`).
pub fn check_manifest(name: &str, manifest: &Map<String, Value>, access: Option<&str>) -> Result<(), PreflightError> {
    if manifest.get("private").is_some_and(|p| p == &Value::Bool(true) || p == "true") {
        return Err(PreflightError::PrivatePackage { name: name.to_owned() });
    }
    if access == Some("restricted") && !name.starts_with('@') {
        return Err(PreflightError::RestrictedUnscoped { name: name.to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn provenance_preflight_names_each_registry_refusal() {
        let manifest = |v: Value| v.as_object().cloned().unwrap();
        let facts = BuildFacts {
            repository: Some("https://github.com/o/r".into()),
            runner_environment: Some("github-hosted".into()),
            repository_visibility: Some("public".into()),
        };
        for form in ["git+https://github.com/o/r.git", "github:o/r", "git@github.com:O/R.git", "https://github.com/o/r"]
        {
            assert_eq!(check_provenance(&manifest(json!({"repository": form})), &facts), Ok(()), "{form}");
        }
        assert!(matches!(
            check_provenance(&manifest(json!({})), &facts),
            Err(PreflightError::MissingRepository { .. })
        ));
        let other =
            check_provenance(&manifest(json!({"repository": {"url": "git+https://github.com/o/other.git"}})), &facts)
                .unwrap_err();
        assert_eq!(
            other,
            PreflightError::RepositoryMismatch {
                package_json: "https://github.com/o/other".into(),
                ci_repository: "https://github.com/o/r".into()
            }
        );
        assert!(other.hint().contains("git+https://github.com/o/r.git"));
        let ok = manifest(json!({"repository": "github:o/r"}));
        let self_hosted = BuildFacts { runner_environment: Some("self-hosted".into()), ..facts.clone() };
        assert!(matches!(check_provenance(&ok, &self_hosted), Err(PreflightError::UnsupportedRunner { .. })));
        let private = BuildFacts { repository_visibility: Some("private".into()), ..facts.clone() };
        let refusal = check_provenance(&ok, &private).unwrap_err();
        assert!(matches!(refusal, PreflightError::PrivateSourceRepository { .. }));
        assert!(refusal.hint().contains("--no-provenance") && refusal.hint().contains("--upload-to-github"));
        // Unknown facts are not checked.
        assert_eq!(check_provenance(&manifest(json!({})), &BuildFacts::default()), Ok(()));
    }

    #[test]
    fn manifest_checks_refuse_private_and_restricted_unscoped() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        assert!(matches!(
            check_manifest("x", &m(json!({"private": true})), None),
            Err(PreflightError::PrivatePackage { .. })
        ));
        assert_eq!(check_manifest("x", &m(json!({"private": false})), None), Ok(()));
        assert!(matches!(
            check_manifest("x", &m(json!({})), Some("restricted")),
            Err(PreflightError::RestrictedUnscoped { .. })
        ));
        assert_eq!(check_manifest("@s/x", &m(json!({})), Some("restricted")), Ok(()));
    }
}
