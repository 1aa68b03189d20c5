//! Trusted publishing on every CI npm offers it (GitHub Actions, GitLab CI/CD, CircleCI cloud),
//! end to end against the registry stand-in (`registry.rs`): a simulated job environment with
//! the CI's real variable names, identity tokens with its real claims (the stand-in's
//! exchange matches them against the package's trusted publisher, as the registry does), the
//! exchange, signing with the local Sigstore stand-in where npm makes provenance, the upload,
//! and `verify --registry` with the consumer's policy. Refusals are made before anything is
//! exchanged or signed when they can be, and explained with what this run's token says when
//! the registry refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::fake_http::{FakeServer, Request, Response};
use crate::publish::assert_secret_free;
use crate::registry::{RegistryConfig, RegistryStandin, Trust};
use crate::support::{run_in, stderr, stdout};

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const GITLAB_ISSUER: &str = "https://gitlab.com";
const REQUEST_TOKEN: &str = "actions-request-tp-5ecr3t";
const CIRCLE_ORG: &str = "0b7d1ea0-5d2c-4c8b-9a3e-1f2a3b4c5d6e";
const CIRCLE_PROJECT: &str = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const CIRCLE_DEFINITION: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The CI's token signing key (its JWKS, for the registry stand-in).
fn ci_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap()
}

/// An identity token with these claims, signed by the CI (the registry stand-in checks the
/// signature; the Sigstore stand-in accepts a key id it does not know on the claims).
fn jwt(claims: &Value) -> String {
    npm_attest::core::jwt::mint_es256(&ci_key(), "ci-issuer", claims.as_object().unwrap())
}

/// The same claims signed by someone else's key.
fn forged_jwt(claims: &Value) -> String {
    let other = p256::ecdsa::SigningKey::from_slice(&[0x66; 32]).unwrap();
    npm_attest::core::jwt::mint_es256(&other, "ci-issuer", claims.as_object().unwrap())
}

/// A gzip'd tar with `package/package.json` and `package/index.js`, as `pkg.tgz`.
fn make_tarball(dir: &Path, manifest: &Value) -> PathBuf {
    crate::publish::make_tarball(dir, "pkg.tgz", manifest)
}

fn manifest(name: &str, repository: &str) -> Value {
    json!({"name": name, "version": "1.0.0", "main": "index.js", "repository": {"type": "git", "url": repository}})
}

fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_in(dir, args, &pairs)
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The one `error:` line, which must carry a hint.
fn error_line(o: &Output) -> String {
    let se = stderr(o);
    let line = se.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {se}"));
    assert!(line.contains("(hint: "), "{line}");
    line.to_owned()
}

/// Nothing was exchanged, signed or uploaded.
fn assert_nothing_published(o: &Output, registry: &RegistryStandin) {
    assert!(!o.status.success(), "{}", stderr(o));
    assert_eq!(registry.puts(), 0);
    assert_eq!(registry.exchanges(), 0);
    assert!(!stderr(o).contains("Signed provenance"), "{}", stderr(o));
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

/// The GitHub Actions OIDC runtime of a job in `octo/hello` running `workflow_file`, in
/// `environment` if given.
struct ActionsRuntime {
    server: FakeServer,
    audiences: Arc<Mutex<Vec<String>>>,
}

impl ActionsRuntime {
    fn start(workflow_file: &str, environment: Option<&str>) -> Self {
        let audiences = Arc::new(Mutex::new(Vec::new()));
        let seen = audiences.clone();
        let workflow_ref = format!("octo/hello/.github/workflows/{workflow_file}@refs/heads/main");
        let environment = environment.map(str::to_owned);
        let server = FakeServer::start(move |req: Request| {
            if req.bearer() != Some(REQUEST_TOKEN) {
                return Response::json(401, &json!({"message": "bad request token"}));
            }
            let aud = req.query("audience").unwrap_or_default();
            seen.lock().unwrap().push(aud.clone());
            let mut claims = json!({
                "iss": GITHUB_ISSUER, "aud": aud, "exp": now() + 600, "iat": now(),
                "sub": "repo:octo/hello:ref:refs/heads/main", "repository": "octo/hello",
                "repository_owner": "octo", "repository_visibility": "public", "ref": "refs/heads/main",
                "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref,
                "runner_environment": "github-hosted",
            });
            if let Some(env) = &environment {
                claims["environment"] = json!(env);
            }
            Response::json(200, &json!({"value": jwt(&claims)}))
        });
        Self { server, audiences }
    }

    fn env(&self, home: &Path) -> Vec<(String, String)> {
        let mut env = owned(&[
            ("GITHUB_ACTIONS", "true"),
            ("CI", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "octo/hello"),
            ("GITHUB_REF", "refs/heads/main"),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
        ]);
        env.push(("HOME".into(), home.display().to_string()));
        env.push(("ACTIONS_ID_TOKEN_REQUEST_URL".into(), format!("{}/token?api-version=2.0", self.server.url)));
        env
    }

    fn audiences(&self) -> Vec<String> {
        self.audiences.lock().unwrap().clone()
    }
}

fn github_publisher(package: &str, workflow_file: &str, environment: Option<&str>) -> Trust {
    Trust::GitHub {
        package: package.into(),
        repository: "octo/hello".into(),
        workflow_file: workflow_file.into(),
        environment: environment.map(str::to_owned),
    }
}

#[test]
fn a_first_publish_is_refused_before_signing_and_names_the_fix() {
    let work = tempfile::tempdir().unwrap();
    // The publisher is even configured: a package that does not exist still cannot use it.
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![github_publisher("@octo/new", "release.yml", None)],
        ..RegistryConfig::default()
    });
    let runtime = ActionsRuntime::start("release.yml", None);
    let tgz = make_tarball(work.path(), &manifest("@octo/new", "git+https://github.com/octo/hello.git"));
    let url = registry.url();
    let args = ["publish", "--registry", &url, "--sigstore", "local", "--access", "public", tgz.to_str().unwrap()];
    let out = run(work.path(), &args, &runtime.env(work.path()));
    assert_nothing_published(&out, &registry);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(
        line.contains(
            "@octo/new is not on 127.0.0.1 yet, and a first version cannot be published with trusted publishing"
        ),
        "{line}"
    );
    assert!(line.contains("publish the first version of @octo/new with a token"), "{line}");
    assert!(line.contains("then configure its trusted publisher on 127.0.0.1"), "{line}");
    // The packument was read without a token, then the exchange was refused (the packument
    // alone cannot decide: a private package is hidden from it); no token for Sigstore.
    let exchange = ("POST".to_owned(), "/-/npm/v1/oidc/token/exchange/package/@octo%2fnew".to_owned());
    assert_eq!(registry.requests(), vec![("GET".to_owned(), "/@octo%2fnew".to_owned()), exchange]);
    assert_eq!(runtime.audiences(), vec!["npm:127.0.0.1".to_owned()]);
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1, "only the tarball");

    // The same on GitLab with the job's NPM_ID_TOKEN.
    let gitlab = GitLabJob::new("group/project");
    let registry = RegistryStandin::start(RegistryConfig::default());
    let tgz = make_tarball(work.path(), &manifest("gl-new", "git+https://gitlab.com/group/project.git"));
    let url = registry.url();
    let out = run(work.path(), &["publish", "--registry", &url, tgz.to_str().unwrap()], &gitlab.env(work.path()));
    assert_nothing_published(&out, &registry);
    assert!(error_line(&out).contains("gl-new is not on 127.0.0.1 yet"), "{}", stderr(&out));
    let exchange = ("POST".to_owned(), "/-/npm/v1/oidc/token/exchange/package/gl-new".to_owned());
    assert_eq!(registry.requests(), vec![("GET".to_owned(), "/gl-new".to_owned()), exchange]);
    assert_secret_free(&out, &[&gitlab.npm_token, &gitlab.sigstore_token]);
}

#[test]
fn a_private_package_hidden_from_anonymous_reads_still_publishes_with_trusted_publishing() {
    // npm's docs: trusted publishing works for private packages too (without provenance). The
    // anonymous packument read finds nothing; the exchange, not that read, decides.
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![github_publisher("@octo/secret", "release.yml", None)],
        private_packages: vec!["@octo/secret".to_owned()],
        ..RegistryConfig::default()
    });
    registry.seed_version("@octo/secret", "0.9.0");
    let runtime = ActionsRuntime::start("release.yml", None);
    let tgz = make_tarball(work.path(), &manifest("@octo/secret", "git+https://github.com/octo/hello.git"));
    let url = registry.url();
    let args = ["publish", "--registry", &url, "--no-provenance", tgz.to_str().unwrap()];
    let out = run(work.path(), &args, &runtime.env(work.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(registry.exchanges(), 1);
    assert_eq!(registry.puts(), 1);

    // The same private package with a publisher that does not match: refused before signing,
    // and the hint covers both readings of the 404.
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![github_publisher("@octo/secret", "other.yml", None)],
        private_packages: vec!["@octo/secret".to_owned()],
        ..RegistryConfig::default()
    });
    registry.seed_version("@octo/secret", "0.9.0");
    let url = registry.url();
    let args = ["publish", "--registry", &url, "--no-provenance", tgz.to_str().unwrap()];
    let out = run(work.path(), &args, &runtime.env(work.path()));
    assert_nothing_published(&out, &registry);
    let line = error_line(&out);
    assert!(line.contains("if @octo/secret exists but is private, its trusted publisher does not match"), "{line}");
}

/// One refusal of the exchange for a package that exists: the registry answers 404 "package
/// not found" for each; the hint names what this run's token says.
struct ExchangeCase {
    name: &'static str,
    publisher: Option<Trust>,
    workflow_file: &'static str,
    environment: Option<&'static str>,
    hint: &'static [&'static str],
}

#[test]
fn exchange_refusals_for_an_existing_package_name_what_the_publisher_must_match() {
    let cases = [
        ExchangeCase {
            name: "wrong workflow file name",
            publisher: Some(github_publisher("@octo/hello", "release.yml", None)),
            workflow_file: "Release.yaml",
            environment: None,
            hint: &["workflow file Release.yaml", "exact and case-sensitive"],
        },
        ExchangeCase {
            name: "wrong environment",
            publisher: Some(github_publisher("@octo/hello", "release.yml", Some("npm"))),
            workflow_file: "release.yml",
            environment: Some("staging"),
            hint: &["environment \"staging\"", "the environment name"],
        },
        ExchangeCase {
            name: "environment required but the job sets none",
            publisher: Some(github_publisher("@octo/hello", "release.yml", Some("npm"))),
            workflow_file: "release.yml",
            environment: None,
            hint: &["no environment"],
        },
        ExchangeCase {
            name: "package not linked to a trusted publisher",
            publisher: None,
            workflow_file: "release.yml",
            environment: None,
            hint: &["repository octo/hello, workflow file release.yml, no environment"],
        },
    ];
    for case in cases {
        let work = tempfile::tempdir().unwrap();
        let registry = RegistryStandin::start(RegistryConfig {
            ci_issuer_key: Some(*ci_key().verifying_key()),
            trust: case.publisher.into_iter().collect(),
            public_packages: vec!["@octo/hello".into()],
            ..RegistryConfig::default()
        });
        registry.seed_version("@octo/hello", "0.9.0");
        let runtime = ActionsRuntime::start(case.workflow_file, case.environment);
        let tgz = make_tarball(work.path(), &manifest("@octo/hello", "git+https://github.com/octo/hello.git"));
        let url = registry.url();
        let out = run(
            work.path(),
            &["publish", "--registry", &url, "--sigstore", "local", tgz.to_str().unwrap()],
            &runtime.env(work.path()),
        );
        assert_nothing_published(&out, &registry);
        assert_eq!(out.status.code(), Some(3), "{}: {}", case.name, stderr(&out));
        let line = error_line(&out);
        assert!(
            line.contains(
                "the registry refused the token exchange (404): OIDC token exchange error - package not found"
            ),
            "{}: {line}",
            case.name
        );
        assert!(
            line.contains("@octo/hello exists, but no trusted publisher of it matches this run"),
            "{}: {line}",
            case.name
        );
        for part in case.hint {
            assert!(line.contains(part), "{}: {part:?} not in {line}", case.name);
        }
        // The exchange was asked (and refused) after the packument; nothing else was.
        let posts: Vec<_> = registry.requests().into_iter().filter(|(m, _)| m == "POST").collect();
        assert_eq!(posts.len(), 1, "{}", case.name);
        assert_eq!(runtime.audiences(), vec!["npm:127.0.0.1".to_owned()], "{}", case.name);
        assert_secret_free(&out, &[REQUEST_TOKEN]);
    }
}

// ---------------------------------------------------------------------------------------------
// GitLab CI/CD

/// A GitLab.com job in `project` on a GitLab-hosted runner, running `.gitlab-ci.yml` on main,
/// with the job's `id_tokens:` `NPM_ID_TOKEN` (aud `npm:127.0.0.1`) and `SIGSTORE_ID_TOKEN`
/// (aud `sigstore`), as GitLab sets them.
struct GitLabJob {
    project: String,
    npm_claims: Value,
    npm_token: String,
    sigstore_token: String,
}

impl GitLabJob {
    fn new(project: &str) -> Self {
        Self::with(project, |_| {})
    }

    /// `change` edits the NPM_ID_TOKEN's claims.
    fn with(project: &str, change: impl Fn(&mut Value)) -> Self {
        let config_ref = format!("gitlab.com/{project}//.gitlab-ci.yml@refs/heads/main");
        let namespace = project.rsplit_once('/').map_or(project, |(n, _)| n);
        let claims = |aud: &str| {
            json!({
                "iss": GITLAB_ISSUER, "aud": aud, "iat": now(), "nbf": now(), "exp": now() + 600,
                "sub": format!("project_path:{project}:ref_type:branch:ref:main"),
                "namespace_id": "4242", "namespace_path": namespace,
                "project_id": "777", "project_path": project, "project_visibility": "public",
                "user_login": "maintainer", "pipeline_id": "1200", "pipeline_source": "push",
                "job_id": "9001", "ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main",
                "ref_protected": "true", "runner_id": 12270837, "runner_environment": "gitlab-hosted",
                "sha": "a".repeat(40), "ci_config_ref_uri": config_ref, "ci_config_sha": "a".repeat(40),
            })
        };
        let mut npm = claims("npm:127.0.0.1");
        change(&mut npm);
        Self {
            project: project.to_owned(),
            npm_claims: npm.clone(),
            npm_token: jwt(&npm),
            sigstore_token: jwt(&claims("sigstore")),
        }
    }

    /// The job with an NPM_ID_TOKEN of the same claims signed by another key.
    fn forged(mut self) -> Self {
        self.npm_token = forged_jwt(&self.npm_claims);
        self
    }

    fn env(&self, home: &Path) -> Vec<(String, String)> {
        let url = format!("https://gitlab.com/{}", self.project);
        let mut env = owned(&[
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.com"),
            ("CI_SERVER_HOST", "gitlab.com"),
            ("CI_PROJECT_VISIBILITY", "public"),
            ("CI_COMMIT_SHA", &"a".repeat(40)),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_JOB_NAME", "publish"),
            ("CI_JOB_ID", "9001"),
            ("CI_PIPELINE_ID", "1200"),
            ("CI_RUNNER_ID", "12270837"),
            ("CI_RUNNER_DESCRIPTION", "3-blue.saas-linux-small-amd64.runners-manager.gitlab.com/default"),
            ("CI_RUNNER_EXECUTABLE_ARCH", "linux/amd64"),
            ("CI_CONFIG_PATH", ".gitlab-ci.yml"),
        ]);
        env.extend([
            ("HOME".to_owned(), home.display().to_string()),
            ("CI_PROJECT_PATH".to_owned(), self.project.clone()),
            ("CI_PROJECT_URL".to_owned(), url.clone()),
            ("CI_JOB_URL".to_owned(), format!("{url}/-/jobs/9001")),
            ("NPM_ID_TOKEN".to_owned(), self.npm_token.clone()),
            ("SIGSTORE_ID_TOKEN".to_owned(), self.sigstore_token.clone()),
        ]);
        env
    }
}

fn gitlab_publisher(package: &str, project: &str) -> Trust {
    Trust::GitLab {
        package: package.into(),
        project_path: project.into(),
        config_file: ".gitlab-ci.yml".into(),
        environment: None,
    }
}

fn verify_gitlab(dir: &Path, url: &str, repository: &str, env: &[(String, String)]) -> Output {
    let args =
        ["verify", "--registry", url, "@group/hello@1.0.0", "--repository", repository, "--trusted-root", "root.json"];
    run(dir, &args, env)
}

#[test]
fn gitlab_trusted_publishing_with_provenance_then_verify_from_the_registry() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![gitlab_publisher("@group/hello", "group/project")],
        public_packages: vec!["@group/hello".into()],
        ..RegistryConfig::default()
    });
    registry.seed_version("@group/hello", "0.9.0");
    let job = GitLabJob::new("group/project");
    let env = job.env(work.path());
    let tgz = make_tarball(work.path(), &manifest("@group/hello", "git+https://gitlab.com/group/project.git"));
    let url = registry.url();
    let args = [
        "publish",
        "--verbose",
        "--registry",
        &url,
        "--sigstore",
        "local",
        "--trusted-root-out",
        "root.json",
        "--json",
        tgz.to_str().unwrap(),
    ];
    let out = run(work.path(), &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("Signed provenance statement (GitLab"), "{se}");

    // Packument, then the exchange with NPM_ID_TOKEN, then the PUT with the exchanged token.
    let requests = registry.requests();
    let position = |method: &str, path: &str| requests.iter().position(|(m, p)| m == method && p == path);
    let exchange = position("POST", "/-/npm/v1/oidc/token/exchange/package/@group%2fhello").unwrap();
    assert!(position("GET", "/@group%2fhello").unwrap() < exchange);
    assert!(exchange < position("PUT", "/@group%2fhello").unwrap());
    assert_eq!(registry.exchanges(), 1);
    let put = &registry.put_requests()[0];
    let exchanged = put.bearer().unwrap().to_owned();
    assert!(exchanged.starts_with("npm_oidc_"), "{exchanged}");

    // npm's GitLab statement form (SLSA v0.2), signed as the GitLab pipeline.
    let body = put.json().unwrap();
    let bundle: Value =
        serde_json::from_str(body["_attachments"]["@group/hello-1.0.0.sigstore"]["data"].as_str().unwrap()).unwrap();
    let payload =
        base64::engine::general_purpose::STANDARD.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(statement["predicate"]["buildType"], "https://github.com/npm/cli/gitlab/v0alpha1");
    assert_eq!(statement["predicate"]["builder"]["id"], "https://gitlab.com/group/project/-/runners/12270837");
    assert_eq!(statement["predicate"]["invocation"]["configSource"]["uri"], "git+https://gitlab.com/group/project");
    assert_eq!(statement["subject"][0]["name"], "pkg:npm/%40group/hello@1.0.0");
    assert_eq!(serde_json::from_str::<Value>(so.lines().last().unwrap()).unwrap()["published"], true);
    assert_secret_free(&out, &[&job.npm_token, &job.sigstore_token, &exchanged]);

    // The bundle the registry received verifies with sigstore-js (the verifier npm ships) as
    // the GitLab pipeline's identity, with npm's subject checks against the tarball.
    let received = work.path().join("received.sigstore.json");
    std::fs::write(&received, bundle.to_string()).unwrap();
    let facts = crate::interop::sigstore_js_verify(&crate::interop::VerifyCase {
        bundle: &received,
        trusted_root: &work.path().join("root.json"),
        tarball: Some((&tgz, "@group/hello", "1.0.0")),
        artifact: None,
        san: "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main",
        issuer: GITLAB_ISSUER,
    });
    assert!(facts.is_ok(), "{:?}", facts.err().map(|r| r.to_string()));

    // The consumer's policy: the GitLab project (its issuer follows from gitlab.com).
    let ok = verify_gitlab(work.path(), &url, "gitlab.com/group/project", &env);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("verified: pkg:npm/%40group/hello@1.0.0"), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main"),
        "{}",
        stdout(&ok)
    );
    let wrong = verify_gitlab(work.path(), &url, "gitlab.com/group/other", &env);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("https://gitlab.com/group/other"), "{}", stderr(&wrong));
    let github = verify_gitlab(work.path(), &url, "group/project", &env);
    assert_eq!(github.status.code(), Some(1), "a GitHub repository of the same name: {}", stderr(&github));
}

#[test]
fn gitlab_tokens_the_registry_would_refuse_are_refused_before_the_exchange() {
    let cases: [(&str, GitLabJob, &[&str]); 4] = [
        (
            "wrong audience",
            GitLabJob::with("group/project", |c| c["aud"] = json!("npm:registry.npmjs.org")),
            &[
                "identity token for trusted publishing (NPM_ID_TOKEN) has audience [\"npm:registry.npmjs.org\"], the registry accepts only \"npm:127.0.0.1\"",
                "id_tokens: NPM_ID_TOKEN: aud: \"npm:127.0.0.1\"",
            ],
        ),
        (
            "expired",
            GitLabJob::with("group/project", |c| c["exp"] = json!(now() - 60)),
            &["(NPM_ID_TOKEN) expired at ", "request a fresh token right before publishing"],
        ),
        (
            "a token for another project",
            GitLabJob::with("group/project", |c| c["project_path"] = json!("someone/else")),
            &["(NPM_ID_TOKEN) is for someone/else, but this job runs in group/project", "this project's own identity token"],
        ),
        (
            "a self-managed GitLab's token",
            GitLabJob::with("group/project", |c| c["iss"] = json!("https://gitlab.example.com")),
            &["was issued by \"https://gitlab.example.com\"", "GitLab.com"],
        ),
    ];
    for (name, job, parts) in cases {
        let work = tempfile::tempdir().unwrap();
        let registry = RegistryStandin::start(RegistryConfig {
            ci_issuer_key: Some(*ci_key().verifying_key()),
            trust: vec![gitlab_publisher("@group/hello", "group/project")],
            public_packages: vec!["@group/hello".into()],
            ..RegistryConfig::default()
        });
        registry.seed_version("@group/hello", "0.9.0");
        let tgz = make_tarball(work.path(), &manifest("@group/hello", "git+https://gitlab.com/group/project.git"));
        let url = registry.url();
        let out = run(
            work.path(),
            &["publish", "--registry", &url, "--sigstore", "local", tgz.to_str().unwrap()],
            &job.env(work.path()),
        );
        assert_nothing_published(&out, &registry);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        let line = error_line(&out);
        for part in parts {
            assert!(line.contains(part), "{name}: {part:?} not in {line}");
        }
        assert!(!registry.requests().iter().any(|(m, _)| m == "POST"), "{name}: the token was sent");
        assert_secret_free(&out, &[&job.npm_token, &job.sigstore_token]);
    }

    // A token the registry refuses for a mismatch it alone knows (another CI file): its 404
    // is explained with the token's CI file.
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![Trust::GitLab {
            package: "@group/hello".into(),
            project_path: "group/project".into(),
            config_file: "ci/release.yml".into(),
            environment: None,
        }],
        ..RegistryConfig::default()
    });
    registry.seed_version("@group/hello", "0.9.0");
    let job = GitLabJob::new("group/project");
    let tgz = make_tarball(work.path(), &manifest("@group/hello", "git+https://gitlab.com/group/project.git"));
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--sigstore", "local", "--access", "public", tgz.to_str().unwrap()],
        &job.env(work.path()),
    );
    assert_nothing_published(&out, &registry);
    let line = error_line(&out);
    assert!(line.contains("(404): OIDC token exchange error - package not found"), "{line}");
    assert!(line.contains("project group/project, top-level CI file .gitlab-ci.yml, no environment"), "{line}");

    // A token the CI did not sign: the registry's 401, explained.
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![gitlab_publisher("@group/hello", "group/project")],
        ..RegistryConfig::default()
    });
    registry.seed_version("@group/hello", "0.9.0");
    let job = GitLabJob::new("group/project").forged();
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--sigstore", "local", "--access", "public", tgz.to_str().unwrap()],
        &job.env(work.path()),
    );
    assert_nothing_published(&out, &registry);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(line.contains("(401): OIDC token exchange error - unauthorized"), "{line}");
    assert!(
        line.contains("the registry did not accept the identity token (GitLab CI/CD, project group/project")
            && line.contains("signed by the CI and have the audience npm:127.0.0.1"),
        "{line}"
    );
    assert_secret_free(&out, &[&job.npm_token, &job.sigstore_token]);
}

// ---------------------------------------------------------------------------------------------
// CircleCI cloud

/// A CircleCI cloud job building `github.com/octo/hello` on main, with the `NPM_ID_TOKEN` the
/// job exported from `circleci run oidc get --claims '{"aud": "npm:127.0.0.1"}'`.
fn circleci_env(home: &Path, change: impl Fn(&mut Value)) -> (Vec<(String, String)>, String) {
    let mut claims = json!({
        "iss": format!("https://oidc.circleci.com/org/{CIRCLE_ORG}"),
        "aud": "npm:127.0.0.1", "iat": now(), "exp": now() + 3600,
        "sub": format!("org/{CIRCLE_ORG}/project/{CIRCLE_PROJECT}/user/2c8e0f4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"),
        "oidc.circleci.com/org-id": CIRCLE_ORG,
        "oidc.circleci.com/project-id": CIRCLE_PROJECT,
        "oidc.circleci.com/pipeline-definition-id": CIRCLE_DEFINITION,
        "oidc.circleci.com/pipeline-id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716",
        "oidc.circleci.com/workflow-id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
        "oidc.circleci.com/job-id": "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
        "oidc.circleci.com/vcs-origin": "github.com/octo/hello",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [],
        "oidc.circleci.com/ssh-rerun": false,
    });
    change(&mut claims);
    let token = jwt(&claims);
    let mut env = owned(&[
        ("CI", "true"),
        ("CIRCLECI", "true"),
        ("CIRCLE_BRANCH", "main"),
        ("CIRCLE_BUILD_NUM", "57"),
        ("CIRCLE_BUILD_URL", "https://circleci.com/gh/octo/hello/57"),
        ("CIRCLE_JOB", "publish"),
        ("CIRCLE_PROJECT_USERNAME", "octo"),
        ("CIRCLE_PROJECT_REPONAME", "hello"),
        ("CIRCLE_REPOSITORY_URL", "git@github.com:octo/hello.git"),
        ("CIRCLE_SHA1", &"b".repeat(40)),
        ("CIRCLE_WORKFLOW_ID", "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"),
    ]);
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("NPM_ID_TOKEN".into(), token.clone()));
    (env, token)
}

fn circleci_publisher(package: &str) -> Trust {
    Trust::CircleCi {
        package: package.into(),
        org_id: CIRCLE_ORG.into(),
        project_id: CIRCLE_PROJECT.into(),
        pipeline_definition_id: CIRCLE_DEFINITION.into(),
        vcs_origin: "github.com/octo/hello".into(),
        context_ids: vec![],
    }
}

#[test]
fn circleci_trusted_publishing_publishes_without_provenance_as_npm_does() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![circleci_publisher("hello-circle")],
        ..RegistryConfig::default()
    });
    registry.seed_version("hello-circle", "0.9.0");
    let (env, token) = circleci_env(work.path(), |_| {});
    let tgz = make_tarball(work.path(), &manifest("hello-circle", "git+https://github.com/octo/hello.git"));
    let url = registry.url();
    let out = run(work.path(), &["publish", "--verbose", "--registry", &url, "--json", tgz.to_str().unwrap()], &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("CircleCI: publishing without provenance, as npm does there"), "{se}");
    assert!(!se.contains("Signed provenance"), "{se}");
    assert_eq!(registry.exchanges(), 1);
    let put = &registry.put_requests()[0];
    let exchanged = put.bearer().unwrap().to_owned();
    assert!(exchanged.starts_with("npm_oidc_"), "{exchanged}");
    let attachments: Vec<String> = put.json().unwrap()["_attachments"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(attachments, vec!["hello-circle-1.0.0.tgz".to_owned()]);
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!(result["published"], true);
    assert_eq!(result["transparencyLogUrl"], Value::Null);
    assert_secret_free(&out, &[&token, &exchanged]);

    // A consumer asking for provenance is told there is none.
    let verify =
        run(work.path(), &["verify", "--registry", &url, "hello-circle@1.0.0", "--repository", "octo/hello"], &env);
    assert!(!verify.status.success(), "{}", stdout(&verify));
    assert!(
        stderr(&verify).contains("hello-circle@1.0.0 on ") && stderr(&verify).contains("has no provenance"),
        "{}",
        stderr(&verify)
    );
}

#[test]
fn circleci_tokens_for_another_project_or_an_ssh_rerun_publish_nothing() {
    let org_other = "ffffffff-5d2c-4c8b-9a3e-1f2a3b4c5d6e";
    // Another project's token: only the registry knows the publisher; its 404 is explained
    // with the token's IDs.
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        ci_issuer_key: Some(*ci_key().verifying_key()),
        trust: vec![circleci_publisher("hello-circle")],
        ..RegistryConfig::default()
    });
    registry.seed_version("hello-circle", "0.9.0");
    let (env, token) = circleci_env(work.path(), |c| {
        c["iss"] = json!(format!("https://oidc.circleci.com/org/{org_other}"));
        c["oidc.circleci.com/org-id"] = json!(org_other);
    });
    let tgz = make_tarball(work.path(), &manifest("hello-circle", "git+https://github.com/octo/hello.git"));
    let url = registry.url();
    let out = run(work.path(), &["publish", "--registry", &url, tgz.to_str().unwrap()], &env);
    assert_nothing_published(&out, &registry);
    let line = error_line(&out);
    assert!(line.contains("(404): OIDC token exchange error - package not found"), "{line}");
    assert!(line.contains(&format!("CircleCI, organization ID {org_other}, project ID {CIRCLE_PROJECT}")), "{line}");
    assert!(line.contains("pipeline definition ID"), "{line}");
    assert_secret_free(&out, &[&token]);

    // Wrong audience (the default CircleCI token's audience is the organization ID) and an
    // SSH rerun: refused before the token is sent.
    for (name, change, part) in [
        (
            "default audience",
            json!({"aud": CIRCLE_ORG}),
            "circleci run oidc get --claims '{\"aud\": \"npm:127.0.0.1\"}'",
        ),
        ("ssh rerun", json!({"oidc.circleci.com/ssh-rerun": true}), "rerun the job without SSH"),
    ] {
        let registry = RegistryStandin::start(RegistryConfig {
            ci_issuer_key: Some(*ci_key().verifying_key()),
            trust: vec![circleci_publisher("hello-circle")],
            ..RegistryConfig::default()
        });
        registry.seed_version("hello-circle", "0.9.0");
        let (env, token) = circleci_env(work.path(), |c| {
            for (k, v) in change.as_object().unwrap() {
                c[k] = v.clone();
            }
        });
        let url = registry.url();
        let out = run(work.path(), &["publish", "--registry", &url, tgz.to_str().unwrap()], &env);
        assert_nothing_published(&out, &registry);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(error_line(&out).contains(part), "{name}: {}", stderr(&out));
        assert!(!registry.requests().iter().any(|(m, _)| m == "POST"), "{name}: the token was sent");
        assert_secret_free(&out, &[&token]);
    }
}
