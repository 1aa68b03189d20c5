//! `npm-attest publish` and `npm-attest verify --registry` end to end: against the registry
//! stand-in (`registry.rs`, which behaves like the public registry for provenance, trusted
//! publishing and one-time passwords) with the local Sigstore stand-in, and against a real
//! Verdaccio for the plain publish path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::fake_http::{FakeServer, Request, Response};
use crate::registry::{RegistryConfig, RegistryStandin, TrustedPublisher};
use crate::support::{run_in, stderr, stdout};

const REQUEST_TOKEN: &str = "actions-request-5ecr3t";
const STATIC_TOKEN: &str = "npm_static_t0ken_5ecr3t";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A gzip'd tar with `package/package.json` and `package/index.js`.
pub(crate) fn make_tarball(dir: &Path, file: &str, manifest: &Value) -> PathBuf {
    let path = dir.join(file);
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in [
        ("package/package.json", serde_json::to_vec_pretty(manifest).unwrap()),
        ("package/index.js", b"module.exports = 42\n".to_vec()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(499162500);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

pub(crate) fn manifest(name: &str, version: &str, repository: Option<&str>) -> Value {
    let mut m = json!({"name": name, "version": version, "description": "a test package", "main": "index.js"});
    if let Some(r) = repository {
        m["repository"] = json!({"type": "git", "url": r});
    }
    m
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A JWT whose claims the registry stand-in reads (it checks claims, not the signature).
fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        b64url(br#"{"alg":"ES256","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes()),
        b64url(b"not-checked")
    )
}

/// The GitHub Actions OIDC runtime: mints a token for the requested audience and records it.
pub(crate) struct ActionsRuntime {
    server: FakeServer,
    audiences: Arc<Mutex<Vec<String>>>,
}

impl ActionsRuntime {
    pub(crate) fn start(repository: &str, visibility: &str) -> Self {
        let audiences = Arc::new(Mutex::new(Vec::new()));
        let seen = audiences.clone();
        let repository = repository.to_owned();
        let visibility = visibility.to_owned();
        let server = FakeServer::start(move |req: Request| {
            if req.bearer() != Some(REQUEST_TOKEN) {
                return Response::json(401, &json!({"message": "bad request token"}));
            }
            let aud = req.query("audience").unwrap_or_default();
            seen.lock().unwrap().push(aud.clone());
            let claims = json!({
                "iss": GITHUB_ISSUER, "aud": aud, "exp": now() + 600, "iat": now(),
                "sub": format!("repo:{repository}:ref:refs/heads/main"),
                "repository": repository, "repository_visibility": visibility,
                "workflow_ref": format!("{repository}/.github/workflows/release.yml@refs/heads/main"),
                "job_workflow_ref": format!("{repository}/.github/workflows/release.yml@refs/heads/main"),
                "runner_environment": "github-hosted",
            });
            Response::json(200, &json!({"value": jwt(&claims)}))
        });
        Self { server, audiences }
    }

    fn audiences(&self) -> Vec<String> {
        self.audiences.lock().unwrap().clone()
    }
}

/// A GitHub Actions job in `octo/hello` on a GitHub-hosted runner.
pub(crate) fn actions_env(home: &Path, runtime: Option<&ActionsRuntime>) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_owned(), home.display().to_string()),
        ("GITHUB_ACTIONS".to_owned(), "true".to_owned()),
        ("GITHUB_SERVER_URL".to_owned(), "https://github.com".to_owned()),
        ("GITHUB_REPOSITORY".to_owned(), "octo/hello".to_owned()),
        ("GITHUB_REF".to_owned(), "refs/heads/main".to_owned()),
        ("GITHUB_WORKFLOW_REF".to_owned(), "octo/hello/.github/workflows/release.yml@refs/heads/main".to_owned()),
        ("RUNNER_ENVIRONMENT".to_owned(), "github-hosted".to_owned()),
    ];
    if let Some(rt) = runtime {
        env.push(("ACTIONS_ID_TOKEN_REQUEST_URL".to_owned(), format!("{}/token?api-version=2.0", rt.server.url)));
        env.push(("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), REQUEST_TOKEN.to_owned()));
    }
    env
}

fn with(env: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        env.iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).cloned().collect();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_in(dir, args, &pairs)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `verify --registry` of `spec` as built in `repository` (on GitHub Actions), with `root.json`.
fn verify_from_registry(dir: &Path, url: &str, spec: &str, repository: &str, env: &[(String, String)]) -> Output {
    let args = [
        "verify",
        "--registry",
        url,
        spec,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--repository",
        repository,
        "--trusted-root",
        "root.json",
    ];
    run(dir, &args, env)
}

/// Masked values (`::add-mask::`) are the only place secrets may appear.
pub(crate) fn assert_secret_free(o: &Output, secrets: &[&str]) {
    let (so, se) = (stdout(o), stderr(o));
    for secret in secrets {
        assert!(!se.contains(secret), "secret on stderr: {se}");
        for line in so.lines().filter(|l| !l.starts_with("::add-mask::")) {
            assert!(!line.contains(secret), "secret on stdout: {line}");
        }
    }
}

#[test]
fn trusted_publishing_with_provenance_then_verify_from_the_registry() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        trusted_publishers: vec![TrustedPublisher {
            package: "@octo/hello".into(),
            repository: "octo/hello".into(),
            workflow_file: "release.yml".into(),
        }],
        ..RegistryConfig::default()
    });
    registry.seed_version("@octo/hello", "0.9.0");
    let runtime = ActionsRuntime::start("octo/hello", "public");
    let tgz = make_tarball(
        work.path(),
        "octo-hello-1.0.0.tgz",
        &manifest("@octo/hello", "1.0.0", Some("git+https://github.com/octo/hello.git")),
    );
    let env = actions_env(work.path(), Some(&runtime));
    let url = registry.url();
    let out = run(
        work.path(),
        &[
            "publish",
            "--registry",
            &url,
            "--sigstore",
            "local",
            "--access",
            "public",
            "--trusted-root-out",
            "root.json",
            "--json",
            "octo-hello-1.0.0.tgz",
        ],
        &env,
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("Signed provenance statement"), "{se}");

    // The exchange used an `npm:<registry host>` token; the PUT carried what npm sends.
    // Two tokens, as npm uses them: `npm:<registry host>` for the exchange, `sigstore` for Fulcio.
    assert_eq!(runtime.audiences(), vec!["npm:127.0.0.1".to_owned(), "sigstore".to_owned()]);
    let requests = registry.requests();
    let exchange = requests
        .iter()
        .position(|(m, p)| m == "POST" && p == "/-/npm/v1/oidc/token/exchange/package/@octo%2fhello")
        .unwrap();
    let put = requests.iter().position(|(m, p)| m == "PUT" && p == "/@octo%2fhello").unwrap();
    assert!(exchange < put);
    let puts = registry.put_requests();
    assert_eq!(puts.len(), 1);
    let req = &puts[0];
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("npm-command"), Some("publish"));
    assert_eq!(req.header("npm-auth-type"), Some("web"));
    assert!(req.header("user-agent").unwrap().starts_with("npm-attest/"));
    let exchanged = req.bearer().unwrap().to_owned();
    assert!(exchanged.starts_with("npm_oidc_"), "{exchanged}");
    let body = req.json().unwrap();
    assert_eq!(body["access"], "public");
    assert_eq!(body["dist-tags"], json!({"latest": "1.0.0"}));
    let tarball = std::fs::read(&tgz).unwrap();
    let attachment = &body["_attachments"]["@octo/hello-1.0.0.tgz"];
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(attachment["data"].as_str().unwrap()).unwrap(),
        tarball
    );
    let sigstore = &body["_attachments"]["@octo/hello-1.0.0.sigstore"];
    assert_eq!(sigstore["content_type"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert!(sigstore["data"].as_str().unwrap().starts_with('{'), "the bundle is sent as raw JSON");

    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!(result["published"], true);
    assert_eq!(
        result["integrity"],
        format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball)))
    );
    // Nothing but the tarball and the requested trusted root on disk; no token anywhere.
    assert_eq!(files_in(work.path()), vec!["octo-hello-1.0.0.tgz", "root.json"]);
    assert_secret_free(&out, &[&exchanged, REQUEST_TOKEN]);

    // The bundle the registry received verifies with sigstore-js too (the verifier npm ships),
    // including npm's subject checks against the tarball.
    let received = work.path().join("received.sigstore.json");
    std::fs::write(&received, sigstore["data"].as_str().unwrap()).unwrap();
    let san = "https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main";
    let facts = crate::interop::sigstore_js_verify(&crate::interop::VerifyCase {
        bundle: &received,
        trusted_root: &work.path().join("root.json"),
        tarball: Some((&tgz, "@octo/hello", "1.0.0")),
        artifact: None,
        san,
        issuer: GITHUB_ISSUER,
    });
    assert!(facts.is_ok(), "{:?}", facts.err().map(|r| r.to_string()));
    std::fs::remove_file(&received).unwrap();

    // Consumer side: the packument, the tarball and the attestations endpoint.
    let verify = |repository: &str| verify_from_registry(work.path(), &url, "@octo/hello@1.0.0", repository, &env);
    let ok = verify("octo/hello");
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("verified: pkg:npm/%40octo/hello@1.0.0"), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main"));
    let other = verify("octo/other");
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(stderr(&other).contains("https://github.com/octo/other"), "{}", stderr(&other));

    // A registry that serves other bytes than the packument's integrity is caught.
    let mut tampered = tarball.clone();
    tampered.extend_from_slice(b"\0");
    registry.replace_tarball("@octo/hello@1.0.0", tampered);
    let bad = verify("octo/hello");
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("does not match the packument's integrity"), "{}", stderr(&bad));
}

/// One preflight refusal: what to change from the passing setup, and what the message says.
struct Refusal {
    name: &'static str,
    manifest: Value,
    extra_env: Vec<(&'static str, String)>,
    extra_args: Vec<&'static str>,
    seed: bool,
    /// Use trusted publishing (no static token) with this repository visibility claim.
    trusted_publishing: Option<&'static str>,
    message: &'static str,
    hint: &'static str,
    /// The registry must not even have been asked anything.
    no_requests: bool,
}

#[test]
fn every_preflight_refusal_names_the_fix_and_nothing_is_signed_or_uploaded() {
    let good_repo = Some("git+https://github.com/octo/hello.git");
    let base = |m: Value| Refusal {
        name: "",
        manifest: m,
        extra_env: vec![],
        extra_args: vec![],
        seed: false,
        trusted_publishing: None,
        message: "",
        hint: "",
        no_requests: true,
    };
    let mut private_event = tempfile::NamedTempFile::new().unwrap();
    private_event
        .write_all(br#"{"repository":{"full_name":"octo/hello","private":true,"visibility":"private"}}"#)
        .unwrap();
    let cases = vec![
        Refusal {
            name: "private package",
            message: "\"private\": true",
            hint: "remove \"private\": true",
            ..base({
                let mut m = manifest("@octo/hello", "1.0.0", good_repo);
                m["private"] = json!(true);
                m
            })
        },
        Refusal {
            name: "repository of another project",
            message: "package.json \"repository\" is https://github.com/someone/else, but this build runs in https://github.com/octo/hello",
            hint: "git+https://github.com/octo/hello.git",
            ..base(manifest("@octo/hello", "1.0.0", Some("git@github.com:someone/else.git")))
        },
        Refusal {
            name: "no repository",
            message: "package.json has no \"repository\"",
            hint: "\"url\": \"git+https://github.com/octo/hello.git\"",
            ..base(manifest("@octo/hello", "1.0.0", None))
        },
        Refusal {
            name: "self-hosted runner",
            extra_env: vec![("RUNNER_ENVIRONMENT", "self-hosted".into())],
            message: "the runner is \"self-hosted\"",
            hint: "GitHub-hosted runner",
            ..base(manifest("@octo/hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "private source repository (event payload)",
            extra_env: vec![("GITHUB_EVENT_PATH", private_event.path().display().to_string())],
            message: "the source repository is private",
            hint: "--no-provenance",
            ..base(manifest("@octo/hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "restricted unscoped",
            extra_args: vec!["--access", "restricted"],
            message: "cannot restrict access to the unscoped package hello",
            hint: "--access public",
            ..base(manifest("hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "version already published",
            seed: true,
            message: "@octo/hello@1.0.0 is already on the registry",
            hint: "bump \"version\"",
            no_requests: false,
            ..base(manifest("@octo/hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "new scoped package without --access public",
            extra_args: vec![],
            message: "@octo/hello is new or not public",
            hint: "--access public",
            no_requests: false,
            ..base(manifest("@octo/hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "private source repository (token claim)",
            trusted_publishing: Some("private"),
            message: "the source repository is private",
            hint: "--no-provenance",
            ..base(manifest("@octo/hello", "1.0.0", good_repo))
        },
        Refusal {
            name: "first publish under trusted publishing",
            trusted_publishing: Some("public"),
            message: "@octo/other is not on 127.0.0.1 yet, and a first version cannot be published with trusted publishing",
            hint: "publish the first version of @octo/other with a token",
            no_requests: false,
            ..base(manifest("@octo/other", "1.0.0", good_repo))
        },
        Refusal {
            name: "no trusted publisher configured",
            trusted_publishing: Some("public"),
            message: "the registry refused the token exchange (404): OIDC token exchange error - package not found",
            hint: "@octo/other exists, but no trusted publisher of it matches this run",
            no_requests: false,
            seed: true,
            ..base(manifest("@octo/other", "1.0.0", good_repo))
        },
    ];
    for case in cases {
        let work = tempfile::tempdir().unwrap();
        let registry =
            RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
        let name = case.manifest["name"].as_str().unwrap().to_owned();
        if case.seed {
            registry.seed_version(&name, "1.0.0");
        }
        let tgz = make_tarball(work.path(), "pkg.tgz", &case.manifest);
        let runtime = case.trusted_publishing.map(|visibility| ActionsRuntime::start("octo/hello", visibility));
        let mut env = actions_env(work.path(), runtime.as_ref());
        if runtime.is_none() {
            env.push(("NODE_AUTH_TOKEN".into(), STATIC_TOKEN.into()));
        }
        let extra: Vec<(&str, &str)> = case.extra_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let env = with(&env, &extra);
        let url = registry.url();
        let mut args = vec!["publish", "--registry", url.as_str(), "--sigstore", "local"];
        if !case.extra_args.contains(&"--access") && case.name != "new scoped package without --access public" {
            args.extend(["--access", "public"]);
        }
        args.extend(case.extra_args.iter().copied());
        args.push(tgz.to_str().unwrap());
        let out = run(work.path(), &args, &env);
        let se = stderr(&out);
        assert!(!out.status.success(), "{}: {se}", case.name);
        let line = se.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{}: {se}", case.name));
        assert!(line.contains(case.message), "{}: {line}", case.name);
        assert!(line.contains("(hint: ") && line.contains(case.hint), "{}: {line}", case.name);
        assert_eq!(registry.puts(), 0, "{}", case.name);
        assert!(!se.contains("Signed provenance"), "{}: {se}", case.name);
        assert_eq!(files_in(work.path()), vec!["pkg.tgz"], "{}: a file appeared", case.name);
        if case.no_requests {
            assert!(registry.requests().is_empty(), "{}: {:?}", case.name, registry.requests());
        }
        assert_secret_free(&out, &[STATIC_TOKEN, REQUEST_TOKEN]);
    }
}

#[test]
fn a_missing_token_is_refused_before_anything_is_sent() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig::default());
    let tgz = make_tarball(work.path(), "pkg.tgz", &manifest("hello", "1.0.0", None));
    let env = vec![("HOME".to_owned(), work.path().display().to_string())];
    let url = registry.url();
    let out = run(work.path(), &["publish", "--registry", &url, "--no-provenance", tgz.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("error: no token for {url}")), "{}", stderr(&out));
    assert!(stderr(&out).contains("NODE_AUTH_TOKEN"));
    assert!(registry.requests().is_empty());
}

#[test]
fn otp_refusal_keeps_the_bundle_and_bundle_retry_publishes_without_signing() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        tokens: vec![STATIC_TOKEN.into()],
        otp: Some("123456".into()),
        ..RegistryConfig::default()
    });
    make_tarball(work.path(), "pkg.tgz", &manifest("@octo/hello", "1.0.0", Some("github:octo/hello")));
    let env = with(&actions_env(work.path(), None), &[("NODE_AUTH_TOKEN", STATIC_TOKEN)]);
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--sigstore", "local", "--access", "public", "pkg.tgz"],
        &env,
    );
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{se}");
    assert!(
        se.contains("the registry refused @octo/hello@1.0.0 (401): This operation requires a one-time password."),
        "{se}"
    );
    assert!(se.contains("pass --otp CODE"), "{se}");
    assert_eq!(se.matches("hint:").count(), 1, "one hint per error: {se}");
    assert_eq!(se.matches("pass --otp CODE").count(), 1, "the hint is not repeated: {se}");
    assert!(se.contains("npm-attest publish --bundle ./octo-hello-1.0.0.sigstore.json --trusted-root ./octo-hello-1.0.0.trusted_root.json pkg.tgz"), "{se}");
    assert_eq!(
        files_in(work.path()),
        vec!["octo-hello-1.0.0.sigstore.json", "octo-hello-1.0.0.trusted_root.json", "pkg.tgz"]
    );
    assert_eq!(registry.puts(), 1);

    // A bundle for another tarball is refused before upload.
    make_tarball(work.path(), "other.tgz", &manifest("@octo/hello", "1.0.1", Some("github:octo/hello")));
    let wrong = run(
        work.path(),
        &[
            "publish",
            "--registry",
            &url,
            "--access",
            "public",
            "--otp",
            "123456",
            "--bundle",
            "octo-hello-1.0.0.sigstore.json",
            "--trusted-root",
            "octo-hello-1.0.0.trusted_root.json",
            "other.tgz",
        ],
        &env,
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("does not verify"), "{}", stderr(&wrong));
    assert_eq!(registry.puts(), 1);

    // The retry the message suggests, with the code: no signing, the kept bundle is uploaded.
    let retry = run(
        work.path(),
        &[
            "publish",
            "--registry",
            &url,
            "--access",
            "public",
            "--otp",
            "123456",
            "--bundle",
            "./octo-hello-1.0.0.sigstore.json",
            "--trusted-root",
            "./octo-hello-1.0.0.trusted_root.json",
            "pkg.tgz",
        ],
        &env,
    );
    assert!(retry.status.success(), "{}", stderr(&retry));
    assert!(!stderr(&retry).contains("Signed provenance"));
    let put = registry.put_requests().pop().unwrap();
    assert_eq!(put.header("npm-otp"), Some("123456"));
    let sent: Value = serde_json::from_str(
        put.json().unwrap()["_attachments"]["@octo/hello-1.0.0.sigstore"]["data"].as_str().unwrap(),
    )
    .unwrap();
    let kept: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("octo-hello-1.0.0.sigstore.json")).unwrap()).unwrap();
    assert_eq!(sent, kept);
    assert!(registry.provenance("@octo/hello@1.0.0").is_some());
    assert_secret_free(&retry, &[STATIC_TOKEN, "123456"]);
}

/// Issue 11, finding 5: a bundle made by another CA and log (here the local stand-in, standing
/// for a home-made Sigstore) passed with `--bundle` and no `--trusted-root` used to verify
/// "against the embedded public-good root" with a warning and be uploaded. It must fail closed.
#[test]
fn a_home_made_ca_bundle_without_its_trusted_root_is_refused_not_uploaded() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    make_tarball(work.path(), "pkg.tgz", &manifest("@octo/hello", "1.0.0", Some("github:octo/hello")));
    let env = with(&actions_env(work.path(), None), &[("NODE_AUTH_TOKEN", STATIC_TOKEN)]);
    // A bundle that is about this tarball and names the package's repository: only its
    // trust anchor is foreign.
    let signed = run(work.path(), &["attest", "--dry-run", "pkg.tgz", "-o", "home-made.sigstore.json"], &env);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--access", "public", "--bundle", "home-made.sigstore.json", "pkg.tgz"],
        &env,
    );
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(se.contains("does not verify against the embedded public-good trusted root"), "{se}");
    assert!(se.contains("--trusted-root"), "{se}");
    assert!(!se.contains("warning"), "a trust failure must not be downgraded to a warning: {se}");
    assert_eq!(registry.puts(), 0, "a bundle from an unknown CA was uploaded");
}

#[test]
fn transient_registry_failures_are_retried_and_npmrc_tokens_substitute_variables() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        tokens: vec![STATIC_TOKEN.into()],
        fail_first_puts: 2,
        ..RegistryConfig::default()
    });
    let port = url::Url::parse(&registry.url()).unwrap().port().unwrap();
    std::fs::write(
        work.path().join(".npmrc"),
        format!("registry=http://127.0.0.1:{port}/\n//127.0.0.1:{port}/:_authToken=${{MY_NPM_TOKEN}}\n"),
    )
    .unwrap();
    make_tarball(work.path(), "pkg.tgz", &manifest("hello", "2.0.0", None));
    let env = vec![
        ("HOME".to_owned(), work.path().display().to_string()),
        ("MY_NPM_TOKEN".to_owned(), STATIC_TOKEN.to_owned()),
    ];
    let out = run(work.path(), &["publish", "--no-provenance", "--tag", "next", "pkg.tgz"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(registry.puts(), 3);
    let put = registry.put_requests().pop().unwrap();
    assert_eq!(put.bearer(), Some(STATIC_TOKEN));
    assert_eq!(put.json().unwrap()["dist-tags"], json!({"next": "2.0.0"}));
    assert_eq!(registry.packument("hello").unwrap()["dist-tags"]["next"], "2.0.0");
    assert_secret_free(&out, &[STATIC_TOKEN]);

    // Published without provenance: `verify --registry` says so instead of passing.
    let url = registry.url();
    let verify = run(
        work.path(),
        &[
            "verify",
            "--registry",
            &url,
            "hello@2.0.0",
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            "--repository",
            "o/r",
        ],
        &env,
    );
    assert_eq!(verify.status.code(), Some(1), "{}", stderr(&verify));
    assert!(stderr(&verify).contains("has no provenance (no dist.attestations)"), "{}", stderr(&verify));
}

#[test]
fn a_provenance_refusal_from_the_registry_is_shown_with_its_message_and_the_bundle_kept() {
    // Outside CI nothing is known ahead of time; the stand-in signs for `local/example`, and the
    // registry compares that with package.json.
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    make_tarball(work.path(), "pkg.tgz", &manifest("hello", "1.0.0", Some("github:octo/hello")));
    let env = vec![
        ("HOME".to_owned(), work.path().display().to_string()),
        ("NODE_AUTH_TOKEN".to_owned(), STATIC_TOKEN.to_owned()),
    ];
    let url = registry.url();
    let out = run(work.path(), &["publish", "--registry", &url, "--sigstore", "local", "pkg.tgz"], &env);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{se}");
    assert!(
        se.contains("(422): Error verifying sigstore provenance bundle: Failed to validate repository information"),
        "{se}"
    );
    assert!(se.contains("--no-provenance") && se.contains("--bundle ./hello-1.0.0.sigstore.json"), "{se}");
    assert_eq!(se.matches("--no-provenance").count(), 1, "one hint per error: {se}");
    assert!(work.path().join("hello-1.0.0.sigstore.json").exists());
}

#[test]
fn dry_run_prints_what_would_be_sent_and_sends_nothing() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig::default());
    make_tarball(work.path(), "pkg.tgz", &manifest("@octo/hello", "3.0.0", Some("https://github.com/octo/hello")));
    let env = actions_env(work.path(), None);
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--dry-run", "--access", "public", "--json", "pkg.tgz"],
        &env,
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{se}");
    assert!(se.contains(&format!("Dry run: would PUT {url}@octo%2fhello (tag latest, access public)")), "{se}");
    assert!(se.contains("@octo/hello-3.0.0.tgz (") && se.contains("@octo/hello-3.0.0.sigstore ("), "{se}");
    // It says what it did and did not contact, and claims nothing it did not do.
    assert!(
        se.contains(&format!(
            "Dry run: nothing was uploaded; signed with the local Sigstore stand-in, so nothing went to Sigstore; contacted: {url} (read @octo/hello's versions)"
        )),
        "{se}"
    );
    assert!(!se.contains("published to transparency log") && !se.contains("from GitHub Actions"), "{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!(result["dryRun"], true);
    assert_eq!(result["attachments"].as_array().unwrap().len(), 2);
    assert!(result["transparencyLogUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert_eq!(registry.puts(), 0);
    assert_eq!(files_in(work.path()), vec!["pkg.tgz"]);
}

// --- Verdaccio (a real registry, from tests/setup-interop) ---------------------------------

#[test]
fn verdaccio_accepts_our_publish_and_npm_installs_the_same_bytes() {
    let verdaccio = crate::interop::Verdaccio::start();
    let url = verdaccio.url();
    let work = tempfile::tempdir().unwrap();
    let env = vec![
        ("HOME".to_owned(), work.path().display().to_string()),
        ("NODE_AUTH_TOKEN".to_owned(), "verdaccio-any-token".to_owned()),
    ];
    for (name, file) in [("npm-attest-plain", "plain.tgz"), ("@npm-attest/scoped", "scoped.tgz")] {
        let tgz = make_tarball(work.path(), file, &manifest(name, "1.2.3", Some("github:octo/hello")));
        let out = run(work.path(), &["publish", "--registry", &url, "--no-provenance", "--json", file], &env);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let ours = serde_json::from_str::<Value>(stdout(&out).lines().last().unwrap()).unwrap()["integrity"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            ours,
            format!(
                "sha512-{}",
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(std::fs::read(&tgz).unwrap()))
            )
        );

        // npm installs it from Verdaccio in a fresh project, with our integrity.
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("package.json"), r#"{"name":"consumer","version":"1.0.0"}"#).unwrap();
        let install = crate::interop::run_with_timeout(
            {
                let mut c = verdaccio.npm(project.path());
                c.args(["install", &format!("{name}@1.2.3")]);
                c
            },
            std::time::Duration::from_secs(180),
        );
        assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
        let lock: Value =
            serde_json::from_slice(&std::fs::read(project.path().join("package-lock.json")).unwrap()).unwrap();
        assert_eq!(lock["packages"][format!("node_modules/{name}")]["integrity"], ours.as_str());
        assert!(project.path().join("node_modules").join(name).join("index.js").exists());

        // The same version again is refused with the registry's own message.
        let again = run(work.path(), &["publish", "--registry", &url, "--no-provenance", file], &env);
        let se = stderr(&again);
        assert_eq!(again.status.code(), Some(2), "{se}");
        assert!(
            se.contains(&format!("error: the registry refused {name}@1.2.3 (409): this package is already present")),
            "{se}"
        );
        assert!(se.contains("bump \"version\""), "{se}");
    }
}

#[test]
fn a_bad_tarball_or_a_missing_id_token_permission_stops_before_the_registry_is_asked() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let url = registry.url();
    let env = with(&actions_env(work.path(), None), &[("NODE_AUTH_TOKEN", STATIC_TOKEN)]);

    let bad = crate::support::data("bad-tarballs/truncated-midway.tgz");
    let out = run(work.path(), &["publish", "--registry", &url, "--no-provenance", bad.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid package tarball"), "{}", stderr(&out));

    // Public Sigstore from a job without `id-token: write`: refused before the tarball is read.
    let tgz = make_tarball(work.path(), "pkg.tgz", &manifest("hello", "1.0.0", Some("github:octo/hello")));
    let out = run(work.path(), &["publish", "--registry", &url, tgz.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("id-token: write"), "{}", stderr(&out));

    assert!(registry.requests().is_empty(), "{:?}", registry.requests());
    assert_eq!(files_in(work.path()), vec!["pkg.tgz"]);
}

#[test]
fn an_existing_public_scoped_package_needs_no_access_flag_and_a_lost_answer_is_not_a_failure() {
    let work = tempfile::tempdir().unwrap();
    let registry = RegistryStandin::start(RegistryConfig {
        tokens: vec![STATIC_TOKEN.into()],
        public_packages: vec!["@octo/hello".into()],
        lose_first_answer: true,
        ..RegistryConfig::default()
    });
    registry.seed_version("@octo/hello", "0.9.0");
    make_tarball(work.path(), "pkg.tgz", &manifest("@octo/hello", "1.0.0", Some("github:octo/hello")));
    let env = with(&actions_env(work.path(), None), &[("NODE_AUTH_TOKEN", STATIC_TOKEN)]);
    let url = registry.url();
    let out = run(work.path(), &["publish", "--registry", &url, "--sigstore", "local", "pkg.tgz"], &env);
    let se = stderr(&out);
    assert!(out.status.success(), "{se}");
    assert!(registry.requests().iter().any(|(m, p)| m == "GET" && p == "/-/package/@octo%2fhello/visibility"));
    // The first PUT went through but its answer was lost; the retry is told the version exists,
    // and the packument shows it is our tarball.
    assert_eq!(registry.puts(), 2);
    assert!(se.contains("an earlier attempt went through"), "{se}");
    assert!(registry.provenance("@octo/hello@1.0.0").is_some());
    assert_eq!(files_in(work.path()), vec!["pkg.tgz"]);
}

#[test]
fn a_new_bundle_that_does_not_verify_is_never_uploaded() {
    // Verified against another instance's trusted root, our own bundle does not check out.
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    make_tarball(work.path(), "pkg.tgz", &manifest("hello", "1.0.0", Some("github:octo/hello")));
    let env = with(&actions_env(work.path(), None), &[("NODE_AUTH_TOKEN", STATIC_TOKEN)]);
    let url = registry.url();
    let root = crate::support::repo_root().join("src/sigstore/roots/public-good-production.json");
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--sigstore", "local", "--trusted-root", root.to_str().unwrap(), "pkg.tgz"],
        &env,
    );
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(se.contains("error: refusing to publish: the new bundle does not verify"), "{se}");
    assert_eq!(registry.puts(), 0);
    assert_eq!(files_in(work.path()), vec!["pkg.tgz"]);
}

#[test]
fn another_sigstore_instance_needs_its_trusted_root_before_anything_is_uploaded() {
    let work = tempfile::tempdir().unwrap();
    let server = crate::interop::ServeSigstore::start();
    let sigstore_url = server.base_url().to_owned();
    let root = server.trusted_root().display().to_string();
    let token = server.token();

    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    // The server's token speaks for `local/example` (no CI variables are set).
    make_tarball(work.path(), "pkg.tgz", &manifest("hello", "1.0.0", Some("github:local/example")));
    let env = vec![
        ("HOME".to_owned(), work.path().display().to_string()),
        ("NODE_AUTH_TOKEN".to_owned(), STATIC_TOKEN.to_owned()),
    ];
    let url = registry.url();
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--registry", url.as_str(), "--sigstore", sigstore_url.as_str()];
        args.extend(["--identity-token", token.as_str()]);
        args.extend(extra.iter().copied());
        args.push("pkg.tgz");
        run(work.path(), &args, &env)
    };
    let without_root = publish(&[]);
    assert_eq!(without_root.status.code(), Some(1), "{}", stderr(&without_root));
    assert!(stderr(&without_root).contains("refusing to publish: the new bundle does not verify"));
    assert!(stderr(&without_root).contains("--trusted-root"));
    assert_eq!(registry.puts(), 0);

    let with_root = publish(&["--trusted-root", root.as_str()]);
    assert!(with_root.status.success(), "{}", stderr(&with_root));
    assert_eq!(registry.puts(), 1);
    assert!(registry.provenance("hello@1.0.0").is_some());
    assert_secret_free(&with_root, &[&token, STATIC_TOKEN]);
    assert_eq!(files_in(work.path()), vec!["pkg.tgz"]);
}

#[test]
fn a_package_directory_is_packed_and_its_npmrc_token_used() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let pkg = work.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        serde_json::to_vec_pretty(&json!({"name": "@octo/dir", "version": "0.1.0", "files": ["index.js"]})).unwrap(),
    )
    .unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 1\n").unwrap();
    // The project's .npmrc (in the package directory) names the scope's registry and token.
    let port = url::Url::parse(&registry.url()).unwrap().port().unwrap();
    std::fs::write(
        pkg.join(".npmrc"),
        format!("@octo:registry=http://127.0.0.1:{port}/\n//127.0.0.1:{port}/:_authToken={STATIC_TOKEN}\n"),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let env = vec![("HOME".to_owned(), home.path().display().to_string())];
    let out = run(work.path(), &["publish", "--no-provenance", "--access", "restricted", "pkg"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let put = registry.put_requests().pop().unwrap();
    assert_eq!(put.path, "/@octo%2fdir");
    assert_eq!(put.bearer(), Some(STATIC_TOKEN));
    let body = put.json().unwrap();
    assert_eq!(body["access"], "restricted");
    assert!(body["_attachments"]["@octo/dir-0.1.0.tgz"]["length"].as_u64().unwrap() > 0);
    // The packed tarball lived in a temporary directory only.
    assert_eq!(files_in(work.path()), vec!["pkg"]);
    assert_secret_free(&out, &[STATIC_TOKEN]);
}

/// The leaf certificate (base64 DER) of a Sigstore bundle v0.3 as the registry received it.
fn leaf_certificate(put: &crate::fake_http::Request, attachment: &str) -> String {
    let body = put.json().unwrap();
    let data = body["_attachments"][attachment]["data"].as_str().unwrap_or_else(|| panic!("no {attachment}"));
    let bundle: Value = serde_json::from_str(data).unwrap();
    bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap().to_owned()
}

/// A batch in `octo/hello` with trusted publishing for both packages: a scoped and an unscoped one.
fn batch_setup(work: &Path) -> (RegistryStandin, ActionsRuntime) {
    let publisher = |package: &str| TrustedPublisher {
        package: package.into(),
        repository: "octo/hello".into(),
        workflow_file: "release.yml".into(),
    };
    let registry = RegistryStandin::start(RegistryConfig {
        trusted_publishers: vec![publisher("@octo/hello"), publisher("hello-cli")],
        ..RegistryConfig::default()
    });
    // Trusted publishing needs packages that exist already.
    registry.seed_version("@octo/hello", "0.1.0");
    registry.seed_version("hello-cli", "0.1.0");
    let runtime = ActionsRuntime::start("octo/hello", "public");
    let repo = Some("git+https://github.com/octo/hello.git");
    make_tarball(work, "octo-hello-1.0.0.tgz", &manifest("@octo/hello", "1.0.0", repo));
    make_tarball(work, "hello-cli-2.0.0.tgz", &manifest("hello-cli", "2.0.0", repo));
    (registry, runtime)
}

#[test]
fn a_batch_is_signed_with_one_certificate_and_every_package_verifies_from_the_registry() {
    let work = tempfile::tempdir().unwrap();
    let (registry, runtime) = batch_setup(work.path());
    let env = actions_env(work.path(), Some(&runtime));
    let url = registry.url();
    let out = run(
        work.path(),
        &[
            "publish",
            "--registry",
            &url,
            "--sigstore",
            "local",
            "--access",
            "public",
            "--trusted-root-out",
            "root.json",
            "--concurrency",
            "2",
            "--json",
            "octo-hello-1.0.0.tgz",
            "hello-cli-2.0.0.tgz",
        ],
        &env,
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!(result["succeeded"], 2, "{result}");
    assert_eq!(result["failed"], 0, "{result}");
    let names: Vec<&str> = result["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["@octo/hello", "hello-cli"], "in the order given");
    assert!(result["packages"].as_array().unwrap().iter().all(|p| p["published"] == true), "{result}");

    // Each package exchanged its own npm token in its preflight, both before anything was
    // signed; then one identity token for Sigstore served the batch.
    assert_eq!(runtime.audiences(), vec!["npm:127.0.0.1", "npm:127.0.0.1", "sigstore"]);
    let requests = registry.requests();
    let last_packument = requests.iter().rposition(|(m, _)| m == "GET").unwrap();
    let first_put = requests.iter().position(|(m, _)| m == "PUT").unwrap();
    assert!(last_packument < first_put, "{requests:?}");

    // Both arrived with their provenance, under the same leaf certificate.
    let puts = registry.put_requests();
    assert_eq!(puts.len(), 2);
    let scoped = puts.iter().find(|p| p.path == "/@octo%2fhello").expect("a PUT for @octo/hello");
    let unscoped = puts.iter().find(|p| p.path == "/hello-cli").expect("a PUT for hello-cli");
    let scoped_cert = leaf_certificate(scoped, "@octo/hello-1.0.0.sigstore");
    let unscoped_cert = leaf_certificate(unscoped, "hello-cli-2.0.0.sigstore");
    assert_eq!(scoped_cert, unscoped_cert, "one certificate for the whole batch");
    assert_eq!(scoped.json().unwrap()["access"], "public");

    // The consumer side verifies each from the registry.
    for spec in ["@octo/hello@1.0.0", "hello-cli@2.0.0"] {
        let ok = verify_from_registry(work.path(), &url, spec, "octo/hello", &env);
        assert!(ok.status.success(), "{spec}: {}", stderr(&ok));
        assert!(stdout(&ok).contains("verified: pkg:npm/"), "{spec}: {}", stdout(&ok));
    }
    assert_secret_free(&out, &[REQUEST_TOKEN]);
}

#[test]
fn a_version_already_on_the_registry_is_skipped_and_the_rest_of_the_batch_publishes() {
    let work = tempfile::tempdir().unwrap();
    let (registry, runtime) = batch_setup(work.path());
    // The version exists already: that package is skipped (a line) before anything is signed.
    registry.seed_version("hello-cli", "2.0.0");
    let env = actions_env(work.path(), Some(&runtime));
    let url = registry.url();
    let args = [
        "publish",
        "--registry",
        &url,
        "--sigstore",
        "local",
        "--access",
        "public",
        "octo-hello-1.0.0.tgz",
        "hello-cli-2.0.0.tgz",
    ];
    let out = run(work.path(), &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(so.lines().any(|l| l.starts_with("published") && l.contains("@octo/hello@1.0.0")), "{so}");
    assert!(so.lines().any(|l| l.starts_with("skipped") && l.contains("hello-cli@2.0.0")), "{so}");
    assert!(so.contains("1 published, 1 skipped (already on the registry), 0 failed"), "{so}");
    assert!(se.contains("Skipping hello-cli@2.0.0: already on"), "{se}");

    // Only the other package was uploaded, with its provenance; nothing was left on disk.
    let puts = registry.put_requests();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].path, "/@octo%2fhello");
    assert!(puts[0].json().unwrap()["_attachments"]["@octo/hello-1.0.0.sigstore"].is_object());
    assert_eq!(files_in(work.path()), vec!["hello-cli-2.0.0.tgz", "octo-hello-1.0.0.tgz"]);

    // A second run: nothing is signed or uploaded, and it says so.
    let mut json_args = args.to_vec();
    json_args.insert(1, "--json");
    let again = run(work.path(), &json_args, &env);
    assert!(again.status.success(), "{}", stderr(&again));
    let json_line = stdout(&again).lines().find(|l| l.starts_with('{')).map(str::to_owned).expect("a JSON line");
    let result: Value = serde_json::from_str(&json_line).unwrap();
    assert_eq!(result["failed"].as_u64(), Some(0), "{result}");
    assert!(result["packages"].as_array().unwrap().iter().all(|p| p["skipped"] == true), "{result}");
    assert_eq!(registry.put_requests().len(), 1, "nothing more was uploaded");
    assert!(!stderr(&again).contains("Signed provenance"), "nothing was signed");
    assert!(stderr(&again).contains("Nothing to publish"), "{}", stderr(&again));
}

#[test]
fn bundle_is_refused_with_several_packages() {
    let work = tempfile::tempdir().unwrap();
    let (registry, runtime) = batch_setup(work.path());
    let env = actions_env(work.path(), Some(&runtime));
    let url = registry.url();
    let out = run(
        work.path(),
        &["publish", "--registry", &url, "--bundle", "b.sigstore.json", "octo-hello-1.0.0.tgz", "hello-cli-2.0.0.tgz"],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--bundle is about one package"), "{}", stderr(&out));
    assert!(registry.requests().is_empty());
}

#[test]
fn workspaces_publish_every_public_workspace_with_the_root_npmrc() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let root = work.path().join("mono");
    let write = |dir: &str, manifest: Value| {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        std::fs::write(dir.join("index.js"), "module.exports = 1\n").unwrap();
    };
    write("", json!({"name": "mono", "version": "0.0.0", "private": true, "workspaces": ["packages/*"]}));
    write("packages/alpha", json!({"name": "@octo/alpha", "version": "1.0.0", "files": ["index.js"]}));
    write("packages/beta", json!({"name": "beta-tool", "version": "3.1.0", "files": ["index.js"]}));
    write("packages/internal", json!({"name": "internal", "version": "1.0.0", "private": true}));
    // The token comes from the project root's .npmrc, as npm reads it for workspaces.
    let port = url::Url::parse(&registry.url()).unwrap().port().unwrap();
    std::fs::write(
        root.join(".npmrc"),
        format!("registry=http://127.0.0.1:{port}/\n//127.0.0.1:{port}/:_authToken={STATIC_TOKEN}\n"),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let env = vec![("HOME".to_owned(), home.path().display().to_string())];
    let out = run(
        work.path(),
        &["publish", "--no-provenance", "--access", "public", "--workspaces", "--concurrency", "1", "--json", "mono"],
        &env,
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("Skipping workspace") && se.contains("internal"), "{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!((result["succeeded"].as_u64(), result["failed"].as_u64()), (Some(2), Some(0)), "{result}");
    let mut paths: Vec<String> = registry.put_requests().iter().map(|p| p.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/@octo%2falpha", "/beta-tool"]);
    assert!(registry.put_requests().iter().all(|p| p.bearer() == Some(STATIC_TOKEN)));
    // The packed tarballs lived in temporary directories only.
    assert_eq!(files_in(work.path()), vec!["mono"]);
    assert_secret_free(&out, &[STATIC_TOKEN]);
}

#[test]
fn the_same_version_twice_in_a_batch_is_signed_and_uploaded_once() {
    let work = tempfile::tempdir().unwrap();
    let (registry, runtime) = batch_setup(work.path());
    std::fs::copy(work.path().join("octo-hello-1.0.0.tgz"), work.path().join("copy.tgz")).unwrap();
    let env = actions_env(work.path(), Some(&runtime));
    let url = registry.url();
    let out = run(
        work.path(),
        &[
            "publish",
            "--registry",
            &url,
            "--sigstore",
            "local",
            "--access",
            "public",
            "octo-hello-1.0.0.tgz",
            "copy.tgz",
        ],
        &env,
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(5), "{so}\n{se}");
    assert!(
        so.lines().any(|l| l.starts_with("failed") && l.contains("@octo/hello@1.0.0 is given more than once")),
        "{so}"
    );
    assert_eq!(registry.put_requests().len(), 1);
    assert_eq!(runtime.audiences(), vec!["npm:127.0.0.1", "sigstore"], "one preflight, one signature");
}

#[test]
fn a_signer_that_cannot_start_fails_every_package_with_its_own_reason() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let runtime = ActionsRuntime::start("octo/hello", "public");
    let repo = Some("git+https://github.com/octo/hello.git");
    make_tarball(work.path(), "octo-hello-1.0.0.tgz", &manifest("@octo/hello", "1.0.0", repo));
    make_tarball(work.path(), "hello-cli-2.0.0.tgz", &manifest("hello-cli", "2.0.0", repo));
    // The Actions runtime refuses this request token: no identity token, so no certificate.
    let env = with(
        &actions_env(work.path(), Some(&runtime)),
        &[("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "revoked"), ("NODE_AUTH_TOKEN", STATIC_TOKEN)],
    );
    let url = registry.url();
    let args = ["publish", "--registry", &url, "--sigstore", "local", "--access", "public", "--json"];
    let out = run(work.path(), &[&args[..], &["octo-hello-1.0.0.tgz", "hello-cli-2.0.0.tgz"]].concat(), &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{so}\n{se}");
    assert_ne!(out.status.code(), Some(5), "all failed: {se}");
    let json_line = so.lines().find(|l| l.starts_with('{')).expect(&so);
    let result: Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(result["failed"], 2, "{result}");
    for package in result["packages"].as_array().unwrap() {
        let error = package["error"].as_str().unwrap();
        assert!(!error.contains("no signer was planned"), "{error}");
        assert!(error.contains("401") || error.contains("bad request token"), "{error}");
    }
    assert_eq!(registry.puts(), 0);
    assert!(runtime.audiences().is_empty(), "the refused request asked for no audience");
}

#[test]
fn workspaces_publish_dependencies_first_and_a_second_run_publishes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let root = work.path().join("mono");
    let write = |dir: &str, manifest: Value| {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        std::fs::write(dir.join("index.js"), "module.exports = 1\n").unwrap();
    };
    write("", json!({"name": "mono", "version": "0.0.0", "private": true, "workspaces": ["packages/*"]}));
    // Directory order is a-app, b-util, c-core; the dependencies say core, util, app.
    write(
        "packages/a-app",
        json!({"name": "app", "version": "1.0.0", "dependencies": {"util": "^1.0.0", "core": "1.0.0"}}),
    );
    write("packages/b-util", json!({"name": "util", "version": "1.0.0", "peerDependencies": {"core": "^1.0.0"}}));
    write("packages/c-core", json!({"name": "core", "version": "1.0.0", "devDependencies": {"app": "1.0.0"}}));
    let port = url::Url::parse(&registry.url()).unwrap().port().unwrap();
    std::fs::write(
        root.join(".npmrc"),
        format!("registry=http://127.0.0.1:{port}/\n//127.0.0.1:{port}/:_authToken={STATIC_TOKEN}\n"),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let events = work.path().join("changesets-output.ndjson");
    let env = vec![
        ("HOME".to_owned(), home.path().display().to_string()),
        ("CHANGESETS_OUTPUT".to_owned(), events.display().to_string()),
    ];
    let args = ["publish", "--no-provenance", "--workspaces", "--concurrency", "8", "mono"];
    let out = run(work.path(), &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    let plan = se.find("dependencies first").expect(&se);
    assert!(se[plan..].contains("1. core@1.0.0\n  2. util@1.0.0\n  3. app@1.0.0"), "{se}");
    let order: Vec<String> = registry.put_requests().iter().map(|p| p.path.clone()).collect();
    assert_eq!(order, vec!["/core", "/util", "/app"]);
    assert!(so.contains("3 published, 0 skipped (already on the registry), 0 failed"), "{so}");
    // What changesets/action reads: v1 the `New tag:` lines, v2 the NDJSON git-tag events.
    let mut tags: Vec<&str> = so.lines().filter_map(|l| l.strip_prefix("New tag: ")).collect();
    tags.sort_unstable();
    assert_eq!(tags, vec!["app@1.0.0", "core@1.0.0", "util@1.0.0"], "{so}");
    let written = std::fs::read_to_string(&events).unwrap();
    let events_seen: Vec<Value> = written.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events_seen.len(), 3, "{written}");
    assert!(events_seen.contains(&json!({"type": "git-tag", "tag": "core@1.0.0", "packageName": "core"})), "{written}");

    let again = run(work.path(), &args, &env);
    let (so, se) = (stdout(&again), stderr(&again));
    assert!(again.status.success(), "{so}\n{se}");
    assert_eq!(registry.put_requests().len(), 3, "nothing more was uploaded");
    assert_eq!(so.lines().filter(|l| l.starts_with("skipped")).count(), 3, "{so}");
    assert!(so.contains("nothing to publish: every version is already on the registry"), "{so}");
    assert!(!so.contains("New tag:"), "{so}");
    assert_eq!(std::fs::read_to_string(&events).unwrap(), written, "no new events");
}

#[test]
fn a_changesets_pack_dir_is_published_in_plan_order_and_a_changed_tarball_is_refused() {
    use base64::Engine as _;
    let work = tempfile::tempdir().unwrap();
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![STATIC_TOKEN.into()], ..RegistryConfig::default() });
    let pack = work.path().join("pack");
    std::fs::create_dir_all(pack.join("packages")).unwrap();
    let core = make_tarball(&pack.join("packages"), "core-1.0.0.tgz", &manifest("core", "1.0.0", None));
    let mut app_manifest = manifest("app", "2.0.0", None);
    app_manifest["dependencies"] = json!({"core": "^1.0.0"});
    let app = make_tarball(&pack.join("packages"), "app-2.0.0.tgz", &app_manifest);
    let sri = |p: &Path| {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
        )
    };
    let entry = |name: &str, version: &str, file: &str, integrity: String| {
        json!({"kind": "publish", "name": name, "version": version, "access": "public", "tag": "latest",
               "tarball": {"path": format!("packages/{file}"), "integrity": integrity}})
    };
    let plan = json!({"version": 1, "plan": [
        [entry("core", "1.0.0", "core-1.0.0.tgz", sri(&core))],
        [{"kind": "tag-only", "name": "old", "version": "0.1.0"}, entry("app", "2.0.0", "app-2.0.0.tgz", sri(&app))]
    ]});
    std::fs::write(pack.join("publish-plan.json"), serde_json::to_vec(&plan).unwrap()).unwrap();
    let env = vec![("NODE_AUTH_TOKEN".to_owned(), STATIC_TOKEN.to_owned())];
    let url = registry.url();
    let args = ["publish", "--registry", url.as_str(), "--no-provenance", "--from-pack-dir", "pack"];

    // A tarball changed after `changeset pack`: refused before anything is sent.
    let original = std::fs::read(&app).unwrap();
    make_tarball(&pack.join("packages"), "app-2.0.0.tgz", &manifest("app", "2.0.1", None));
    let out = run(work.path(), &args, &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not match the publish plan"), "{}", stderr(&out));
    assert!(registry.requests().is_empty());

    std::fs::write(&app, original).unwrap();
    let out = run(work.path(), &args, &env);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let order: Vec<String> = registry.put_requests().iter().map(|p| p.path.clone()).collect();
    assert_eq!(order, vec!["/core", "/app"]);
    assert!(stdout(&out).contains("New tag: core@1.0.0"), "{}", stdout(&out));
}
