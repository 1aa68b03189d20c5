//! Trusted publishing (GitHub issue 12; package-managers.md §6, npm-provenance.md §6): which
//! CI an identity token comes from, what a trusted publisher on the registry is matched
//! against (the token's claims), what the registry will refuse about a token before it is
//! sent, and what a refused token exchange means, with its fix.
//!
//! The registry's answers are terse: `404 {"message":"OIDC token exchange error - package not
//! found"}` both for a package that does not exist and for one whose trusted publisher does
//! not match the token (another workflow file, environment or project; a CircleCI SSH rerun:
//! npm/cli#9923, #9969), `401 ... - unauthorized` for a token it does not accept (audience,
//! expiry, signature), `400 ... - bad request`. npm itself hides them and fails later with
//! ENEEDAUTH or a 404 on the PUT. So the package's existence is decided before the exchange
//! (an unauthenticated packument read), and a 404 for an existing package is explained with
//! the claims this run's token carries, which are exactly what the publisher must name.

use serde_json::{Map, Value};

use crate::core::time::UnixTime;
use crate::core::well_known::{GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER};

/// The issuer prefix of CircleCI cloud's identity tokens: `https://oidc.circleci.com/org/<org id>`.
pub const CIRCLECI_ISSUER_PREFIX: &str = "https://oidc.circleci.com/org/";

/// The CIs npm's registry accepts trusted-publishing tokens from (npm docs, "Supported CI/CD
/// providers"): GitHub Actions, GitLab.com and CircleCI cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platform {
    GitHubActions,
    GitLab,
    CircleCi,
}

impl Platform {
    /// The CI this process runs in, by the variables each sets (`GITHUB_ACTIONS=true`,
    /// `GITLAB_CI`, `CIRCLECI`), as ci-info (which npm uses) detects them.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |k: &str| env(k).is_some_and(|v| !v.trim().is_empty());
        if env("GITHUB_ACTIONS").as_deref() == Some("true") {
            Some(Self::GitHubActions)
        } else if set("GITLAB_CI") {
            Some(Self::GitLab)
        } else if set("CIRCLECI") {
            Some(Self::CircleCi)
        } else {
            None
        }
    }

    /// The platform whose issuer signed a token.
    pub fn of_issuer(issuer: &str) -> Option<Self> {
        if issuer == GITHUB_ACTIONS_ISSUER {
            Some(Self::GitHubActions)
        } else if issuer == GITLAB_ISSUER {
            Some(Self::GitLab)
        } else if issuer.strip_prefix(CIRCLECI_ISSUER_PREFIX).is_some_and(|org| !org.is_empty() && !org.contains('/')) {
            Some(Self::CircleCi)
        } else {
            None
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::GitHubActions => "GitHub Actions",
            Self::GitLab => "GitLab CI/CD",
            Self::CircleCi => "CircleCI",
        }
    }

    /// Whether npm makes provenance there. npm's auto-provenance and its statement forms cover
    /// GitHub Actions and GitLab only (`lib/utils/oidc.js`, `libnpmpublish/lib/provenance.js`);
    /// the npm docs: "Provenance generation is not currently supported for CircleCI".
    pub fn has_provenance(self) -> bool {
        !matches!(self, Self::CircleCi)
    }

    /// How a job gets an identity token for the registry at `host`, as npm's docs show it.
    pub fn token_setup(self, host: &str) -> String {
        match self {
            Self::GitHubActions => "give the job `permissions: id-token: write` (npm-attest requests the token itself)".to_owned(),
            Self::GitLab => format!("declare `id_tokens: NPM_ID_TOKEN: aud: \"npm:{host}\"` in the GitLab job"),
            Self::CircleCi => format!(
                "run `export NPM_ID_TOKEN=$(circleci run oidc get --claims '{{\"aud\": \"npm:{host}\"}}')` in the same step, right before npm-attest publish"
            ),
        }
    }
}

/// What a trusted publisher on the registry is matched against: the token's claims, as the
/// publisher forms (and `npm trust`) name them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Publisher {
    /// `repository`, the file name of `workflow_ref` (the calling workflow under
    /// `workflow_call`), and `environment` if any.
    GitHub { repository: String, workflow_file: String, environment: Option<String> },
    /// `project_path`, the top-level CI file of `ci_config_ref_uri`, and `environment` if any.
    GitLab { project_path: String, config_file: String, environment: Option<String> },
    /// `oidc.circleci.com/{org-id,project-id,pipeline-definition-id,vcs-origin,context-ids}`.
    CircleCi {
        org_id: String,
        project_id: String,
        pipeline_definition_id: String,
        vcs_origin: Option<String>,
        context_ids: Vec<String>,
    },
}

impl Publisher {
    pub fn platform(&self) -> Platform {
        match self {
            Self::GitHub { .. } => Platform::GitHubActions,
            Self::GitLab { .. } => Platform::GitLab,
            Self::CircleCi { .. } => Platform::CircleCi,
        }
    }

    /// The fields of the registry's trusted-publisher form, filled in from this token.
    pub fn describe(&self) -> String {
        let env = |e: &Option<String>| match e {
            Some(e) => format!("environment {e:?}"),
            None => "no environment".to_owned(),
        };
        match self {
            Self::GitHub { repository, workflow_file, environment } => {
                format!("GitHub Actions, repository {repository}, workflow file {workflow_file}, {}", env(environment))
            }
            Self::GitLab { project_path, config_file, environment } => {
                format!("GitLab CI/CD, project {project_path}, top-level CI file {config_file}, {}", env(environment))
            }
            Self::CircleCi { org_id, project_id, pipeline_definition_id, vcs_origin, context_ids } => {
                let mut text = format!(
                    "CircleCI, organization ID {org_id}, project ID {project_id}, pipeline definition ID {pipeline_definition_id}, VCS origin {}",
                    vcs_origin.as_deref().unwrap_or("(none)")
                );
                if !context_ids.is_empty() {
                    text.push_str(&format!(", context IDs {}", context_ids.join(" ")));
                }
                text
            }
        }
    }
}

/// Why an identity token would be refused by the registry, found before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenProblem {
    /// Not a token of GitHub Actions, GitLab.com or CircleCI cloud.
    UnsupportedIssuer { issuer: String },
    /// `aud` is not `npm:<registry host>`.
    WrongAudience { audiences: Vec<String>, expected: String },
    /// `exp` is past.
    Expired { exp: i64 },
    /// A claim the registry matches the publisher against is missing.
    MissingClaim { claim: &'static str },
    /// The token names another project than the job runs in.
    OtherProject { token: String, job: String },
    /// A CircleCI job restarted with SSH (a human in the build environment).
    SshRerun,
}

impl std::fmt::Display for IdTokenProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsupportedIssuer { issuer } => write!(
                f,
                "was issued by {issuer:?}; npm trusted publishing accepts tokens from GitHub Actions, GitLab.com and CircleCI cloud only"
            ),
            Self::WrongAudience { audiences, expected } => {
                write!(f, "has audience {audiences:?}, the registry accepts only {expected:?}")
            }
            Self::Expired { exp } => write!(f, "expired at {}", UnixTime(*exp).to_rfc3339()),
            Self::MissingClaim { claim } => {
                write!(f, "has no `{claim}` claim, which the registry matches the trusted publisher against")
            }
            Self::OtherProject { token, job } => write!(f, "is for {token}, but this job runs in {job}"),
            Self::SshRerun => f.write_str(
                "comes from a CircleCI job rerun with SSH (`oidc.circleci.com/ssh-rerun` is true), which the registry refuses",
            ),
        }
    }
}

impl std::error::Error for IdTokenProblem {}

impl IdTokenProblem {
    /// The fix, for a token from `platform` (when known) and the registry at `host`.
    pub fn hint(&self, platform: Option<Platform>, host: &str) -> String {
        let setup = platform.map(|p| p.token_setup(host)).unwrap_or_else(|| {
            format!("request the token with the audience npm:{host} (GitHub `id-token: write`, GitLab `id_tokens: NPM_ID_TOKEN`, CircleCI `circleci run oidc get`)")
        });
        match self {
            Self::UnsupportedIssuer { .. } => {
                "publish from GitHub Actions, GitLab.com or CircleCI cloud, or set NODE_AUTH_TOKEN".to_owned()
            }
            Self::WrongAudience { .. } | Self::MissingClaim { .. } => setup,
            Self::Expired { .. } => format!("request a fresh token right before publishing: {setup}"),
            Self::OtherProject { .. } => {
                format!("use this project's own identity token, not one copied from another project: {setup}")
            }
            Self::SshRerun => "rerun the job without SSH".to_owned(),
        }
    }
}

/// Reads a trusted-publishing identity token's claims the way the registry matches them, and
/// refuses what the registry would refuse (audience `npm:<host>`, npm-provenance.md §6 step 2;
/// expiry; the publisher claims of its issuer). `job_project` is the project the job runs in
/// when the CI says (GitHub `GITHUB_REPOSITORY`, GitLab `CI_PROJECT_PATH`).
pub fn read_id_token(
    claims: &Map<String, Value>,
    host: &str,
    now: UnixTime,
    job_project: Option<&str>,
) -> Result<Publisher, IdTokenProblem> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let required =
        |name: &'static str| text(name).map(str::to_owned).ok_or(IdTokenProblem::MissingClaim { claim: name });
    let issuer = text("iss").unwrap_or_default();
    let platform =
        Platform::of_issuer(issuer).ok_or_else(|| IdTokenProblem::UnsupportedIssuer { issuer: issuer.to_owned() })?;
    let expected = format!("npm:{host}");
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected) {
        return Err(IdTokenProblem::WrongAudience { audiences, expected });
    }
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(IdTokenProblem::MissingClaim { claim: "exp" })?;
    if exp <= now.seconds() {
        return Err(IdTokenProblem::Expired { exp });
    }
    let environment = text("environment").map(str::to_owned);
    let publisher = match platform {
        Platform::GitHubActions => {
            let repository = required("repository")?;
            // `owner/repo/.github/workflows/<file>@<ref>`: the publisher names the file only.
            let workflow_ref = required("workflow_ref")?;
            let workflow_file = workflow_ref
                .split('@')
                .next()
                .and_then(|path| path.rsplit('/').next())
                .filter(|f| !f.is_empty())
                .ok_or(IdTokenProblem::MissingClaim { claim: "workflow_ref" })?
                .to_owned();
            Publisher::GitHub { repository, workflow_file, environment }
        }
        Platform::GitLab => {
            let project_path = required("project_path")?;
            // `gitlab.com/<project>//<path of the CI file>@<ref>`.
            let config_ref = required("ci_config_ref_uri")?;
            let config_file = config_ref
                .rsplit_once('@')
                .map_or(config_ref.as_str(), |(path, _)| path)
                .split_once("//")
                .map(|(_, file)| file.to_owned())
                .filter(|f| !f.is_empty())
                .ok_or(IdTokenProblem::MissingClaim { claim: "ci_config_ref_uri" })?;
            Publisher::GitLab { project_path, config_file, environment }
        }
        Platform::CircleCi => {
            if claims.get("oidc.circleci.com/ssh-rerun").and_then(Value::as_bool) == Some(true) {
                return Err(IdTokenProblem::SshRerun);
            }
            let org_id = match text("oidc.circleci.com/org-id") {
                Some(org) => org.to_owned(),
                None => issuer.trim_start_matches(CIRCLECI_ISSUER_PREFIX).to_owned(),
            };
            Publisher::CircleCi {
                org_id,
                project_id: required("oidc.circleci.com/project-id")?,
                pipeline_definition_id: required("oidc.circleci.com/pipeline-definition-id")?,
                vcs_origin: text("oidc.circleci.com/vcs-origin").map(str::to_owned),
                context_ids: claims
                    .get("oidc.circleci.com/context-ids")
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
            }
        }
    };
    let token_project = match &publisher {
        Publisher::GitHub { repository, .. } => Some(repository.as_str()),
        Publisher::GitLab { project_path, .. } => Some(project_path.as_str()),
        Publisher::CircleCi { .. } => None,
    };
    if let (Some(token), Some(job)) = (token_project, job_project.filter(|j| !j.is_empty())) {
        // GitHub and GitLab compare owner and project names case-insensitively.
        if !token.eq_ignore_ascii_case(job) {
            return Err(IdTokenProblem::OtherProject { token: token.to_owned(), job: job.to_owned() });
        }
    }
    Ok(publisher)
}

/// Why the registry refused to exchange an identity token for a publish token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeRefusal {
    /// The package is not on the registry: a first version cannot use trusted publishing.
    FirstPublish,
    /// The package exists but no trusted publisher of it matches the token (none configured,
    /// or another workflow file, environment or project): the registry says "package not
    /// found" for all of these.
    NoTrustedPublisher,
    /// The registry did not accept the token itself (audience, expiry, signature).
    Unauthorized,
    /// The identity token was malformed.
    BadToken,
    /// Anything else (server errors are retried before this).
    Other,
}

/// Classifies an exchange refusal. `package_exists` is whether the package's packument could
/// be read (`None` when unknown).
pub fn classify_exchange(status: u16, message: &str, package_exists: Option<bool>) -> ExchangeRefusal {
    let lower = message.to_ascii_lowercase();
    match status {
        404 if package_exists == Some(false) => ExchangeRefusal::FirstPublish,
        404 if lower.contains("not found") => ExchangeRefusal::NoTrustedPublisher,
        403 => ExchangeRefusal::NoTrustedPublisher,
        401 => ExchangeRefusal::Unauthorized,
        400 => ExchangeRefusal::BadToken,
        _ => ExchangeRefusal::Other,
    }
}

/// The fix for a package that is not on the registry yet.
pub fn first_publish_hint(name: &str, host: &str) -> String {
    format!(
        "publish the first version of {name} with a token (NODE_AUTH_TOKEN set to a granular access token, or `npm publish` by hand), then configure its trusted publisher on {host} (package settings, Trusted Publisher) and drop the token"
    )
}

impl ExchangeRefusal {
    /// The fix, naming the package, the registry host and, when known, what this run's token
    /// says (exactly what the trusted publisher must name).
    pub fn hint(self, name: &str, host: &str, publisher: Option<&Publisher>) -> String {
        let this_run = publisher.map(|p| format!(" ({})", p.describe())).unwrap_or_default();
        let fields = match publisher.map(Publisher::platform) {
            Some(Platform::GitHubActions) => "the repository owner and name, the workflow file name (exact and case-sensitive, with .yml; under workflow_call the calling workflow's file) and the environment name (only if the job sets one)",
            Some(Platform::GitLab) => "the namespace and project name, the top-level CI file path (.gitlab-ci.yml) and the environment name (only if the job sets one)",
            Some(Platform::CircleCi) => "the organization ID, project ID, pipeline definition ID, VCS origin and context IDs",
            None => "the repository, the workflow file name (exact and case-sensitive) and the environment name",
        };
        match self {
            // A private package is hidden from the anonymous read that found nothing.
            Self::FirstPublish => format!(
                "{}; if {name} exists but is private, its trusted publisher does not match this run{this_run}: check {fields}",
                first_publish_hint(name, host)
            ),
            Self::NoTrustedPublisher => format!(
                "{name} exists, but no trusted publisher of it matches this run{this_run}: in its settings on {host} (Trusted Publisher) link it to this run, checking {fields}"
            ),
            Self::Unauthorized => format!(
                "the registry did not accept the identity token{this_run}: it must be fresh, signed by the CI and have the audience npm:{host}"
            ),
            Self::BadToken => format!(
                "the identity token was not accepted as a token: request it with the audience npm:{host} (GitHub `id-token: write`, GitLab `id_tokens: NPM_ID_TOKEN`, CircleCI `circleci run oidc get`)"
            ),
            Self::Other => format!(
                "check the registry's message; configure a trusted publisher for {name}{this_run}, or set NODE_AUTH_TOKEN"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn refusals_are_told_apart() {
        let msg = "OIDC token exchange error - package not found";
        assert_eq!(classify_exchange(404, msg, Some(false)), ExchangeRefusal::FirstPublish);
        assert_eq!(classify_exchange(404, msg, Some(true)), ExchangeRefusal::NoTrustedPublisher);
        assert_eq!(classify_exchange(404, msg, None), ExchangeRefusal::NoTrustedPublisher);
        assert_eq!(classify_exchange(401, "unauthorized", Some(true)), ExchangeRefusal::Unauthorized);
        assert_eq!(classify_exchange(403, "forbidden", Some(true)), ExchangeRefusal::NoTrustedPublisher);
        assert_eq!(classify_exchange(400, "bad request", None), ExchangeRefusal::BadToken);
        assert_eq!(classify_exchange(500, "boom", None), ExchangeRefusal::Other);
        let hint = ExchangeRefusal::FirstPublish.hint("@o/p", "registry.npmjs.org", None);
        assert!(hint.contains("publish the first version of @o/p with a token") && hint.contains("trusted publisher"));
        let gh = Publisher::GitHub { repository: "o/r".into(), workflow_file: "release.yml".into(), environment: None };
        let hint = ExchangeRefusal::NoTrustedPublisher.hint("p", "h", Some(&gh));
        assert!(
            hint.contains("workflow file release.yml, no environment") && hint.contains("case-sensitive"),
            "{hint}"
        );
    }

    #[test]
    fn tokens_are_read_per_platform() {
        let now = UnixTime(1000);
        let gh = claims(json!({
            "iss": GITHUB_ACTIONS_ISSUER, "aud": "npm:registry.npmjs.org", "exp": 2000,
            "repository": "Octo/Hello", "workflow_ref": "Octo/Hello/.github/workflows/Release.yml@refs/tags/v1",
            "environment": "npm",
        }));
        assert_eq!(
            read_id_token(&gh, "registry.npmjs.org", now, Some("octo/hello")),
            Ok(Publisher::GitHub {
                repository: "Octo/Hello".into(),
                workflow_file: "Release.yml".into(),
                environment: Some("npm".into())
            })
        );
        let gl = claims(json!({
            "iss": GITLAB_ISSUER, "aud": ["npm:registry.npmjs.org"], "exp": 2000, "project_path": "group/sub/proj",
            "ci_config_ref_uri": "gitlab.com/group/sub/proj//ci/release.gitlab-ci.yml@refs/heads/main",
        }));
        let read = read_id_token(&gl, "registry.npmjs.org", now, Some("group/sub/proj")).unwrap();
        assert_eq!(
            read,
            Publisher::GitLab {
                project_path: "group/sub/proj".into(),
                config_file: "ci/release.gitlab-ci.yml".into(),
                environment: None
            }
        );
        assert!(read.describe().contains("top-level CI file ci/release.gitlab-ci.yml"));
        let org = "11111111-1111-4111-8111-111111111111";
        let cc = claims(json!({
            "iss": format!("{CIRCLECI_ISSUER_PREFIX}{org}"), "aud": "npm:registry.npmjs.org", "exp": 2000,
            "oidc.circleci.com/org-id": org,
            "oidc.circleci.com/project-id": "p", "oidc.circleci.com/pipeline-definition-id": "d",
            "oidc.circleci.com/vcs-origin": "github.com/o/r", "oidc.circleci.com/context-ids": ["c"],
            "oidc.circleci.com/ssh-rerun": false,
        }));
        let read = read_id_token(&cc, "registry.npmjs.org", now, None).unwrap();
        assert_eq!(read.platform(), Platform::CircleCi);
        assert!(read.describe().contains("pipeline definition ID d, VCS origin github.com/o/r, context IDs c"));
    }

    #[test]
    fn what_the_registry_refuses_is_refused_first() {
        let now = UnixTime(1000);
        let base = json!({
            "iss": GITLAB_ISSUER, "aud": "npm:registry.npmjs.org", "exp": 2000, "project_path": "g/p",
            "ci_config_ref_uri": "gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main",
        });
        let with = |k: &str, v: Value| {
            let mut c = claims(base.clone());
            c.insert(k.into(), v);
            c
        };
        let host = "registry.npmjs.org";
        assert!(matches!(
            read_id_token(&with("aud", json!("sigstore")), host, now, None),
            Err(IdTokenProblem::WrongAudience { .. })
        ));
        assert_eq!(
            read_id_token(&with("exp", json!(1000)), host, now, None),
            Err(IdTokenProblem::Expired { exp: 1000 })
        );
        assert_eq!(
            read_id_token(&claims(base.clone()), host, now, Some("other/project")),
            Err(IdTokenProblem::OtherProject { token: "g/p".into(), job: "other/project".into() })
        );
        assert!(matches!(
            read_id_token(&with("iss", json!("https://gitlab.example.com")), host, now, None),
            Err(IdTokenProblem::UnsupportedIssuer { .. })
        ));
        let mut missing = claims(base.clone());
        missing.remove("project_path");
        assert_eq!(
            read_id_token(&missing, host, now, None),
            Err(IdTokenProblem::MissingClaim { claim: "project_path" })
        );
        let ssh = claims(json!({
            "iss": format!("{CIRCLECI_ISSUER_PREFIX}org"), "aud": "npm:registry.npmjs.org", "exp": 2000,
            "oidc.circleci.com/ssh-rerun": true,
        }));
        assert_eq!(read_id_token(&ssh, host, now, None), Err(IdTokenProblem::SshRerun));
        let fix = IdTokenProblem::WrongAudience { audiences: vec![], expected: String::new() }
            .hint(Some(Platform::CircleCi), host);
        assert!(fix.contains("circleci run oidc get --claims '{\"aud\": \"npm:registry.npmjs.org\"}'"), "{fix}");
    }

    #[test]
    fn platforms_are_detected_like_ci_info() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(Platform::detect(&env(&[("GITHUB_ACTIONS", "true")])), Some(Platform::GitHubActions));
        assert_eq!(Platform::detect(&env(&[("GITLAB_CI", "true")])), Some(Platform::GitLab));
        assert_eq!(Platform::detect(&env(&[("CIRCLECI", "true"), ("CI", "true")])), Some(Platform::CircleCi));
        assert_eq!(Platform::detect(&env(&[("CI", "true")])), None);
        assert!(!Platform::CircleCi.has_provenance() && Platform::GitLab.has_provenance());
    }
}
