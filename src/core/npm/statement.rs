//! The in-toto statement npm signs for `npm publish --provenance`, built exactly as
//! libnpmpublish `provenance.js` builds it (npm-provenance.md §2).
//!
//! The environment is passed in as a lookup function, so this stays pure. Byte parity with
//! npm needs three JavaScript behaviours (§2.5): keys in insertion order (`serde_json` with
//! `preserve_order`), a plain `env.X` that is unset is omitted, and an unset variable inside
//! a template string becomes the text `undefined`.

use serde_json::{Map, Value};

use crate::core::well_known::{SLSA_PROVENANCE_V0_2, SLSA_PROVENANCE_V1};

pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const IN_TOTO_STATEMENT_V0_1: &str = "https://in-toto.io/Statement/v0.1";
pub const GITHUB_BUILDER_ID_PREFIX: &str = "https://github.com/actions/runner";
pub const GITHUB_BUILD_TYPE: &str = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";
pub const GITLAB_BUILD_TYPE: &str = "https://github.com/npm/cli/gitlab/v0alpha1";

/// The GitLab `invocation.parameters` keys, in npm's order; each is copied from the variable
/// of the same name (§2.4).
pub const GITLAB_PARAMETERS: [&str; 76] = [
    "CI",
    "CI_API_GRAPHQL_URL",
    "CI_API_V4_URL",
    "CI_BUILD_BEFORE_SHA",
    "CI_BUILD_ID",
    "CI_BUILD_NAME",
    "CI_BUILD_REF",
    "CI_BUILD_REF_NAME",
    "CI_BUILD_REF_SLUG",
    "CI_BUILD_STAGE",
    "CI_COMMIT_BEFORE_SHA",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_REF_PROTECTED",
    "CI_COMMIT_REF_SLUG",
    "CI_COMMIT_SHA",
    "CI_COMMIT_SHORT_SHA",
    "CI_COMMIT_TIMESTAMP",
    "CI_COMMIT_TITLE",
    "CI_CONFIG_PATH",
    "CI_DEFAULT_BRANCH",
    "CI_DEPENDENCY_PROXY_DIRECT_GROUP_IMAGE_PREFIX",
    "CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX",
    "CI_DEPENDENCY_PROXY_SERVER",
    "CI_DEPENDENCY_PROXY_USER",
    "CI_JOB_ID",
    "CI_JOB_NAME",
    "CI_JOB_NAME_SLUG",
    "CI_JOB_STAGE",
    "CI_JOB_STARTED_AT",
    "CI_JOB_URL",
    "CI_NODE_TOTAL",
    "CI_PAGES_DOMAIN",
    "CI_PAGES_URL",
    "CI_PIPELINE_CREATED_AT",
    "CI_PIPELINE_ID",
    "CI_PIPELINE_IID",
    "CI_PIPELINE_SOURCE",
    "CI_PIPELINE_URL",
    "CI_PROJECT_CLASSIFICATION_LABEL",
    "CI_PROJECT_DESCRIPTION",
    "CI_PROJECT_ID",
    "CI_PROJECT_NAME",
    "CI_PROJECT_NAMESPACE",
    "CI_PROJECT_NAMESPACE_ID",
    "CI_PROJECT_PATH",
    "CI_PROJECT_PATH_SLUG",
    "CI_PROJECT_REPOSITORY_LANGUAGES",
    "CI_PROJECT_ROOT_NAMESPACE",
    "CI_PROJECT_TITLE",
    "CI_PROJECT_URL",
    "CI_PROJECT_VISIBILITY",
    "CI_REGISTRY",
    "CI_REGISTRY_IMAGE",
    "CI_REGISTRY_USER",
    "CI_RUNNER_DESCRIPTION",
    "CI_RUNNER_ID",
    "CI_RUNNER_TAGS",
    "CI_SERVER_HOST",
    "CI_SERVER_NAME",
    "CI_SERVER_PORT",
    "CI_SERVER_PROTOCOL",
    "CI_SERVER_REVISION",
    "CI_SERVER_SHELL_SSH_HOST",
    "CI_SERVER_SHELL_SSH_PORT",
    "CI_SERVER_URL",
    "CI_SERVER_VERSION",
    "CI_SERVER_VERSION_MAJOR",
    "CI_SERVER_VERSION_MINOR",
    "CI_SERVER_VERSION_PATCH",
    "CI_TEMPLATE_REGISTRY_HOST",
    "GITLAB_CI",
    "GITLAB_FEATURES",
    "GITLAB_USER_ID",
    "GITLAB_USER_LOGIN",
    "RUNNER_GENERATE_ARTIFACTS_METADATA",
];

/// An environment lookup: `Some(value)` when the variable is set (possibly to `""`).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The one subject npm signs: the package purl and the tarball's SHA-512.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `pkg:npm/<name>@<version>` (see [`crate::core::npm::purl`]).
    pub name: String,
    /// Lowercase hex SHA-512 of the exact tarball bytes.
    pub sha512_hex: String,
}

/// Which of npm's two statement forms applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `GITHUB_ACTIONS` set, or no CI at all (a local run builds the GitHub form).
    GithubActions,
    /// `GITLAB_CI` set.
    GitlabCi,
}

impl Provider {
    /// ci-info's detection: a variable counts when it is set and non-empty. GitLab is checked
    /// last in npm, so it wins when both are set (§2.1).
    pub fn detect(env: EnvLookup<'_>) -> Self {
        if env("GITLAB_CI").is_some_and(|v| !v.is_empty()) {
            Self::GitlabCi
        } else {
            Self::GithubActions
        }
    }

    /// ci-info's display name, as npm prints it.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::GithubActions => "GitHub Actions",
            Self::GitlabCi => "GitLab CI",
        }
    }
}

/// The statement for `provider`, as the exact payload bytes npm would sign
/// (`JSON.stringify`: compact, insertion order).
pub fn statement_bytes(provider: Provider, subject: &Subject, env: EnvLookup<'_>) -> Vec<u8> {
    let value = match provider {
        Provider::GithubActions => github_statement(subject, env),
        Provider::GitlabCi => gitlab_statement(subject, env),
    };
    // A tree of strings, booleans, arrays and objects always serializes.
    serde_json::to_vec(&value).unwrap_or_default()
}

/// `${env.X}` in a JavaScript template string.
fn interp(env: EnvLookup<'_>, key: &str) -> String {
    env(key).unwrap_or_else(|| "undefined".to_owned())
}

/// `key: env.X` in a JavaScript object literal: omitted by `JSON.stringify` when unset.
fn put_env(map: &mut Map<String, Value>, key: &str, env: EnvLookup<'_>, var: &str) {
    if let Some(value) = env(var) {
        map.insert(key.to_owned(), Value::String(value));
    }
}

fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn subject_value(subject: &Subject) -> Value {
    object(vec![
        ("name", Value::String(subject.name.clone())),
        ("digest", object(vec![("sha512", Value::String(subject.sha512_hex.clone()))])),
    ])
}

/// Splits `GITHUB_WORKFLOW_REF` into (path, ref) as npm does: remove the first
/// `"$GITHUB_REPOSITORY/"` (`"undefined/"` when unset), then split at the first `@`. Without
/// an `@`, JavaScript's `slice(0, -1)` drops the last character for the path and the ref is
/// the whole text.
pub fn workflow_path_and_ref(env: EnvLookup<'_>) -> (String, String) {
    let workflow_ref = env("GITHUB_WORKFLOW_REF").unwrap_or_default();
    let prefix = format!("{}/", interp(env, "GITHUB_REPOSITORY"));
    let relative = workflow_ref.replacen(&prefix, "", 1);
    match relative.find('@') {
        Some(at) => (relative[..at].to_owned(), relative[at + 1..].to_owned()),
        None => {
            let mut path = relative.clone();
            path.pop();
            (path, relative)
        }
    }
}

/// In-toto Statement v1 with the SLSA v1 predicate npm emits on GitHub Actions (§2.3).
pub fn github_statement(subject: &Subject, env: EnvLookup<'_>) -> Value {
    let (workflow_path, workflow_ref) = workflow_path_and_ref(env);
    let server = interp(env, "GITHUB_SERVER_URL");
    let repository = interp(env, "GITHUB_REPOSITORY");

    let mut github = Map::new();
    put_env(&mut github, "event_name", env, "GITHUB_EVENT_NAME");
    put_env(&mut github, "repository_id", env, "GITHUB_REPOSITORY_ID");
    put_env(&mut github, "repository_owner_id", env, "GITHUB_REPOSITORY_OWNER_ID");

    let mut commit = Map::new();
    put_env(&mut commit, "gitCommit", env, "GITHUB_SHA");

    object(vec![
        ("_type", IN_TOTO_STATEMENT_V1.into()),
        ("subject", Value::Array(vec![subject_value(subject)])),
        ("predicateType", SLSA_PROVENANCE_V1.into()),
        (
            "predicate",
            object(vec![
                (
                    "buildDefinition",
                    object(vec![
                        ("buildType", GITHUB_BUILD_TYPE.into()),
                        (
                            "externalParameters",
                            object(vec![(
                                "workflow",
                                object(vec![
                                    ("ref", workflow_ref.into()),
                                    ("repository", format!("{server}/{repository}").into()),
                                    ("path", workflow_path.into()),
                                ]),
                            )]),
                        ),
                        ("internalParameters", object(vec![("github", Value::Object(github))])),
                        (
                            "resolvedDependencies",
                            Value::Array(vec![object(vec![
                                ("uri", format!("git+{server}/{repository}@{}", interp(env, "GITHUB_REF")).into()),
                                ("digest", Value::Object(commit)),
                            ])]),
                        ),
                    ]),
                ),
                (
                    "runDetails",
                    object(vec![
                        (
                            "builder",
                            object(vec![(
                                "id",
                                format!("{GITHUB_BUILDER_ID_PREFIX}/{}", interp(env, "RUNNER_ENVIRONMENT")).into(),
                            )]),
                        ),
                        (
                            "metadata",
                            object(vec![(
                                "invocationId",
                                format!(
                                    "{server}/{repository}/actions/runs/{}/attempts/{}",
                                    interp(env, "GITHUB_RUN_ID"),
                                    interp(env, "GITHUB_RUN_ATTEMPT")
                                )
                                .into(),
                            )]),
                        ),
                    ]),
                ),
            ]),
        ),
    ])
}

/// In-toto Statement v0.1 with the SLSA v0.2 predicate npm emits on GitLab CI (§2.4).
pub fn gitlab_statement(subject: &Subject, env: EnvLookup<'_>) -> Value {
    let project_url = interp(env, "CI_PROJECT_URL");

    let mut sha1 = Map::new();
    put_env(&mut sha1, "sha1", env, "CI_COMMIT_SHA");

    let mut config_source = Map::new();
    config_source.insert("uri".into(), format!("git+{project_url}").into());
    config_source.insert("digest".into(), Value::Object(sha1.clone()));
    put_env(&mut config_source, "entryPoint", env, "CI_JOB_NAME");

    let mut parameters = Map::new();
    for key in GITLAB_PARAMETERS {
        put_env(&mut parameters, key, env, key);
    }

    let mut job = Map::new();
    put_env(&mut job, "id", env, "CI_JOB_ID");
    let mut pipeline = Map::new();
    put_env(&mut pipeline, "id", env, "CI_PIPELINE_ID");
    put_env(&mut pipeline, "ref", env, "CI_CONFIG_PATH");

    let mut environment = Map::new();
    put_env(&mut environment, "name", env, "CI_RUNNER_DESCRIPTION");
    put_env(&mut environment, "architecture", env, "CI_RUNNER_EXECUTABLE_ARCH");
    put_env(&mut environment, "server", env, "CI_SERVER_URL");
    put_env(&mut environment, "project", env, "CI_PROJECT_PATH");
    environment.insert("job".into(), Value::Object(job));
    environment.insert("pipeline".into(), Value::Object(pipeline));

    object(vec![
        ("_type", IN_TOTO_STATEMENT_V0_1.into()),
        ("subject", Value::Array(vec![subject_value(subject)])),
        ("predicateType", SLSA_PROVENANCE_V0_2.into()),
        (
            "predicate",
            object(vec![
                ("buildType", GITLAB_BUILD_TYPE.into()),
                (
                    "builder",
                    object(vec![("id", format!("{project_url}/-/runners/{}", interp(env, "CI_RUNNER_ID")).into())]),
                ),
                (
                    "invocation",
                    object(vec![
                        ("configSource", Value::Object(config_source)),
                        ("parameters", Value::Object(parameters)),
                        ("environment", Value::Object(environment)),
                    ]),
                ),
                (
                    "metadata",
                    object(vec![
                        ("buildInvocationId", interp(env, "CI_JOB_URL").into()),
                        (
                            "completeness",
                            object(vec![
                                ("parameters", true.into()),
                                ("environment", true.into()),
                                ("materials", false.into()),
                            ]),
                        ),
                        ("reproducible", false.into()),
                    ]),
                ),
                (
                    "materials",
                    Value::Array(vec![object(vec![
                        ("uri", format!("git+{project_url}").into()),
                        ("digest", Value::Object(sha1)),
                    ])]),
                ),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    fn subject() -> Subject {
        Subject { name: "pkg:npm/%40octo/hello@1.0.0".into(), sha512_hex: "ab".repeat(64) }
    }

    const GITHUB_ENV: [(&str, &str); 14] = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "octo/hello"),
        ("GITHUB_REPOSITORY_ID", "810002373"),
        ("GITHUB_REPOSITORY_OWNER_ID", "583231"),
        ("GITHUB_EVENT_NAME", "release"),
        ("GITHUB_REF", "refs/tags/v1.0.0"),
        ("GITHUB_SHA", "d1c6d1113932ddcee243e8b111b6d4aea553df20"),
        ("GITHUB_WORKFLOW_REF", "octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0"),
        ("GITHUB_RUN_ID", "9358004112"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
        ("RUNNER_OS", "Linux"),
        ("GITHUB_ACTOR", "octocat"),
    ];

    #[test]
    fn github_statement_matches_npm_byte_for_byte() {
        let env = lookup(&GITHUB_ENV);
        assert_eq!(Provider::detect(&env), Provider::GithubActions);
        let bytes = statement_bytes(Provider::GithubActions, &subject(), &env);
        let expected = concat!(
            r#"{"_type":"https://in-toto.io/Statement/v1","#,
            r#""subject":[{"name":"pkg:npm/%40octo/hello@1.0.0","digest":{"sha512":""#,
            "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab",
            r#""}}],"predicateType":"https://slsa.dev/provenance/v1","#,
            r#""predicate":{"buildDefinition":{"buildType":"https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1","#,
            r#""externalParameters":{"workflow":{"ref":"refs/tags/v1.0.0","repository":"https://github.com/octo/hello","path":".github/workflows/publish.yml"}},"#,
            r#""internalParameters":{"github":{"event_name":"release","repository_id":"810002373","repository_owner_id":"583231"}},"#,
            r#""resolvedDependencies":[{"uri":"git+https://github.com/octo/hello@refs/tags/v1.0.0","digest":{"gitCommit":"d1c6d1113932ddcee243e8b111b6d4aea553df20"}}]},"#,
            r#""runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"},"#,
            r#""metadata":{"invocationId":"https://github.com/octo/hello/actions/runs/9358004112/attempts/1"}}}}"#,
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn real_npm_payload_is_reproduced() {
        // The statement of playwright-cli 0.1.1 (tests/data/npm-provenance), rebuilt from the
        // environment its workflow run had.
        let env = lookup(&[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "microsoft/playwright-cli"),
            ("GITHUB_REPOSITORY_ID", "273562379"),
            ("GITHUB_REPOSITORY_OWNER_ID", "6154722"),
            ("GITHUB_EVENT_NAME", "release"),
            ("GITHUB_REF", "refs/tags/v0.1.1"),
            ("GITHUB_SHA", "d1c6d1113932ddcee243e8b111b6d4aea553df20"),
            ("GITHUB_WORKFLOW_REF", "microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1"),
            ("GITHUB_RUN_ID", "22026075834"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
        ]);
        let subject = Subject {
            name: "pkg:npm/%40playwright/cli@0.1.1".into(),
            sha512_hex: "f64d7565f0f001f3150c322e1155b55afb3c4a80cd5c863574d43ef42f7f492f199849647317acbb97a82fbbcd6bdea7b626d419aab54ccdaa428aaf765fc8f6".into(),
        };
        let ours = statement_bytes(Provider::GithubActions, &subject, &env);
        let bundle: Value = serde_json::from_str(include_str!(
            "../../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"
        ))
        .unwrap();
        let payload =
            crate::core::wire::encoding::b64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(payload).unwrap());
    }

    #[test]
    fn unset_variables_are_omitted_or_undefined_like_javascript() {
        let env = lookup(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_EVENT_NAME", "")]);
        let text = String::from_utf8(statement_bytes(Provider::GithubActions, &subject(), &env)).unwrap();
        assert!(text.contains(r#""github":{"event_name":""}"#), "{text}");
        assert!(text.contains(r#""digest":{}"#), "{text}");
        assert!(text.contains(r#""repository":"undefined/o/r""#), "{text}");
        assert!(text.contains(r#""id":"https://github.com/actions/runner/undefined""#), "{text}");
        assert!(text.contains(r#""invocationId":"undefined/o/r/actions/runs/undefined/attempts/undefined""#), "{text}");
        assert!(text.contains(r#""workflow":{"ref":"","repository""#), "{text}");
    }

    #[test]
    fn workflow_ref_splits_at_the_first_at_sign() {
        let env = lookup(&[
            ("GITHUB_REPOSITORY", "octo/repo"),
            ("GITHUB_WORKFLOW_REF", "octo/repo/.github/workflows/publish.yml@refs/tags/pkg@1.0.0"),
        ]);
        assert_eq!(
            workflow_path_and_ref(&env),
            (".github/workflows/publish.yml".to_owned(), "refs/tags/pkg@1.0.0".to_owned())
        );
        let no_at = lookup(&[("GITHUB_REPOSITORY", "octo/repo"), ("GITHUB_WORKFLOW_REF", "octo/repo/x.yml")]);
        assert_eq!(workflow_path_and_ref(&no_at), ("x.ym".to_owned(), "x.yml".to_owned()));
        let unset_repo = lookup(&[("GITHUB_WORKFLOW_REF", "undefined/w.yml@main")]);
        assert_eq!(workflow_path_and_ref(&unset_repo), ("w.yml".to_owned(), "main".to_owned()));
    }

    #[test]
    fn gitlab_statement_has_npm_shape_and_order() {
        let env = lookup(&[
            ("GITLAB_CI", "true"),
            ("CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.com/g/p"),
            ("CI_RUNNER_ID", "12270837"),
            ("CI_COMMIT_SHA", "aaaa"),
            ("CI_JOB_NAME", "publish"),
            ("CI_JOB_ID", "42"),
            ("CI_JOB_URL", "https://gitlab.com/g/p/-/jobs/42"),
            ("CI_PIPELINE_ID", "7"),
            ("CI_CONFIG_PATH", ".gitlab-ci.yml"),
            ("CI_RUNNER_DESCRIPTION", "shared"),
            ("CI_RUNNER_EXECUTABLE_ARCH", "linux/amd64"),
            ("CI_SERVER_URL", "https://gitlab.com"),
            ("CI_PROJECT_PATH", "g/p"),
            ("GITHUB_ACTIONS", "true"),
        ]);
        assert_eq!(Provider::detect(&env), Provider::GitlabCi);
        let text = String::from_utf8(statement_bytes(Provider::GitlabCi, &subject(), &env)).unwrap();
        let expected = concat!(
            r#"{"_type":"https://in-toto.io/Statement/v0.1","#,
            r#""subject":[{"name":"pkg:npm/%40octo/hello@1.0.0","digest":{"sha512":""#,
            "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab",
            r#""}}],"predicateType":"https://slsa.dev/provenance/v0.2","#,
            r#""predicate":{"buildType":"https://github.com/npm/cli/gitlab/v0alpha1","#,
            r#""builder":{"id":"https://gitlab.com/g/p/-/runners/12270837"},"#,
            r#""invocation":{"configSource":{"uri":"git+https://gitlab.com/g/p","digest":{"sha1":"aaaa"},"entryPoint":"publish"},"#,
            r#""parameters":{"CI":"true","CI_COMMIT_SHA":"aaaa","CI_CONFIG_PATH":".gitlab-ci.yml","CI_JOB_ID":"42","CI_JOB_NAME":"publish","#,
            r#""CI_JOB_URL":"https://gitlab.com/g/p/-/jobs/42","CI_PIPELINE_ID":"7","CI_PROJECT_PATH":"g/p","CI_PROJECT_URL":"https://gitlab.com/g/p","#,
            r#""CI_RUNNER_DESCRIPTION":"shared","CI_RUNNER_ID":"12270837","CI_SERVER_URL":"https://gitlab.com","GITLAB_CI":"true"},"#,
            r#""environment":{"name":"shared","architecture":"linux/amd64","server":"https://gitlab.com","project":"g/p","job":{"id":"42"},"pipeline":{"id":"7","ref":".gitlab-ci.yml"}}},"#,
            r#""metadata":{"buildInvocationId":"https://gitlab.com/g/p/-/jobs/42","completeness":{"parameters":true,"environment":true,"materials":false},"reproducible":false},"#,
            r#""materials":[{"uri":"git+https://gitlab.com/g/p","digest":{"sha1":"aaaa"}}]}}"#,
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn gitlab_parameters_are_the_76_distinct_keys() {
        let mut keys = GITLAB_PARAMETERS.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 76);
        let all: Vec<(String, String)> = GITLAB_PARAMETERS.iter().map(|k| (k.to_string(), format!("v-{k}"))).collect();
        let env = move |k: &str| all.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let v = gitlab_statement(&subject(), &env);
        let params = v["predicate"]["invocation"]["parameters"].as_object().unwrap();
        assert_eq!(params.keys().map(String::as_str).collect::<Vec<_>>(), GITLAB_PARAMETERS.to_vec());
    }
}
