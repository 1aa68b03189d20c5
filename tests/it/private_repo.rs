//! Signing for private repositories (issue 15): under GitHub Actions in a private or internal
//! repository, `attest --upload-to-github` signs with GitHub's own Sigstore instance (a CA and
//! a TSA, no transparency log, no CT log) and stores the bundle with the attestations API, as
//! actions/attest does; a bundle only npm could use is refused before anything is signed.
//! Judged by our `verify`, sigstore-js (with the thresholds of a GitHub-instance verifier) and
//! sigstore-python 4.5.1 (which cannot verify such bundles at all, see below).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::fake_http::{FakeServer, Request, Response};
use crate::interop::{
    npm_pack, read_json, sigstore_js_verify, sigstore_js_verify_timestamps_only, sigstore_python_verify, VerifyCase,
};
use crate::support::{run_in, stderr};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const REPOSITORY: &str = "octo-org/hello";
const GITHUB_TOKEN: &str = "ghs_private_repo_token_3f9c";
/// The SAN the stand-in certifies for a dry run with only GITHUB_REPOSITORY set.
const SAN: &str = "https://github.com/octo-org/hello/.github/workflows/release.yml@refs/heads/main";
/// RFC 6962 §3.3: the embedded SCT list extension.
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
/// Fulcio's Source Repository Visibility At Signing extension.
const OID_SOURCE_REPOSITORY_VISIBILITY: &str = "1.3.6.1.4.1.57264.1.22";

/// The event payload the runner writes for a repository of `visibility`.
fn event_payload(dir: &Path, visibility: &str) -> PathBuf {
    let path = dir.join(format!("event-{visibility}.json"));
    let event =
        json!({"repository": {"full_name": REPOSITORY, "private": visibility != "public", "visibility": visibility}});
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// The attestations API: 201 with an id to every POST; records the requests.
fn attestations_api() -> (FakeServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = FakeServer::start(move |req: Request| {
        log.lock().unwrap().push(req);
        Response::json(201, &json!({"id": 4711}))
    });
    (server, seen)
}

/// A GitHub Actions job of `REPOSITORY` whose event payload says `visibility`, wired to the
/// attestations API at `api`. Any proxied request fails on a dead loopback port, so nothing
/// can reach a public service even by mistake.
fn actions_env(dir: &Path, visibility: &str, api: &str) -> Vec<(String, String)> {
    let event = event_payload(dir, visibility);
    let outputs = dir.join("github_output");
    std::fs::write(&outputs, "").unwrap();
    [
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_REPOSITORY", REPOSITORY.to_owned()),
        ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
        ("GITHUB_API_URL", api.to_owned()),
        ("GITHUB_TOKEN", GITHUB_TOKEN.to_owned()),
        ("GITHUB_OUTPUT", outputs.display().to_string()),
        ("RUNNER_TEMP", dir.display().to_string()),
        ("HTTPS_PROXY", "http://127.0.0.1:9".to_owned()),
        ("HTTP_PROXY", "http://127.0.0.1:9".to_owned()),
        ("NO_PROXY", "127.0.0.1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_in(dir, args, &env)
}

/// The OIDs of the leaf certificate's extensions, and the Source Repository Visibility value.
fn leaf_extensions(bundle: &Value) -> (Vec<String>, Option<String>) {
    use base64::Engine as _;
    use der::Decode as _;
    let raw = bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().expect("a leaf certificate");
    let der = base64::engine::general_purpose::STANDARD.decode(raw).unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
    let oids = extensions.iter().map(|e| e.extn_id.to_string()).collect();
    let visibility = extensions.iter().find(|e| e.extn_id.to_string() == OID_SOURCE_REPOSITORY_VISIBILITY).map(|e| {
        let inner = der::asn1::Utf8StringRef::from_der(e.extn_value.as_bytes()).unwrap();
        inner.as_str().to_owned()
    });
    (oids, visibility)
}

/// The GitHub-instance form: v0.3, a single leaf, a DSSE envelope, one RFC 3161 timestamp,
/// no `tlogEntries` at all (as GitHub's own bundles), and a leaf without an SCT.
fn assert_github_instance_shape(bundle: &Value) {
    assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    let material = bundle["verificationMaterial"].as_object().unwrap();
    assert!(!material.contains_key("tlogEntries"), "no log entry, not even an empty list: {material:?}");
    assert!(material.contains_key("certificate"), "{material:?}");
    let timestamps = material["timestampVerificationData"]["rfc3161Timestamps"].as_array().unwrap();
    assert_eq!(timestamps.len(), 1);
    assert_eq!(bundle["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
    let (oids, _) = leaf_extensions(bundle);
    assert!(!oids.iter().any(|o| o == OID_SCT_LIST), "the leaf carries an SCT: {oids:?}");
}

fn verify(dir: &Path, bundle: &Path, root: &Path, tarball: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", "--bundle", bundle.to_str().unwrap(), "--trusted-root", root.to_str().unwrap()];
    args.extend(["--repository", REPOSITORY]);
    args.extend(extra);
    args.push(tarball.to_str().unwrap());
    run_in(dir, &args, &[])
}

#[test]
fn a_private_repository_attests_through_the_github_instance_and_stores_the_bundle_with_github() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "@octo-org/hello", "1.0.0");
    let (api, requests) = attestations_api();
    let env = actions_env(dir.path(), "private", &api.url);
    let out = run(dir.path(), &["attest", "--dry-run", "--upload-to-github", tarball.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Not logged"), "{err}");
    assert!(!err.contains("transparency log:"), "{err}");

    let bundle_path = dir.path().join("octo-org-hello-1.0.0.sigstore.json");
    let root_path = dir.path().join("trusted_root.json");
    let bundle = read_json(&bundle_path);
    assert_github_instance_shape(&bundle);
    // The certificate says what the event payload said (GitHub's Fulcio certifies the token's
    // claim).
    assert_eq!(leaf_extensions(&bundle).1.as_deref(), Some("private"));
    // The stand-in's root in GitHub's form: a CA and a TSA, no log, no CT log.
    let root = read_json(&root_path);
    assert_eq!(root["tlogs"].as_array().map(Vec::len).unwrap_or(0), 0, "{root}");
    assert_eq!(root["ctlogs"].as_array().map(Vec::len).unwrap_or(0), 0, "{root}");
    assert_eq!(root["certificateAuthorities"].as_array().unwrap().len(), 1);
    assert_eq!(root["timestampAuthorities"].as_array().unwrap().len(), 1);

    // Stored with the attestations API exactly as written, with the job's token.
    let posts = requests.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path_only(), format!("/repos/{REPOSITORY}/attestations"));
    assert_eq!(posts[0].bearer(), Some(GITHUB_TOKEN));
    assert_eq!(posts[0].json().unwrap(), json!({"bundle": bundle}));
    // No log entry, so no log outputs (as actions/attest reports a log entry only when there is one).
    let outputs = std::fs::read_to_string(dir.path().join("github_output")).unwrap();
    assert!(outputs.contains("attestation-id") && outputs.contains("4711"), "{outputs}");
    assert!(!outputs.contains("log-index") && !outputs.contains("transparency-log-url"), "{outputs}");

    // Our verifier accepts it against the stand-in's root, and refuses it when a transparency
    // log is required.
    let ok = verify(dir.path(), &bundle_path, &root_path, &tarball, &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let refused = verify(dir.path(), &bundle_path, &root_path, &tarball, &["--require-tlog"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--require-tlog requires one"), "{}", stderr(&refused));

    let case = VerifyCase {
        bundle: &bundle_path,
        trusted_root: &root_path,
        tarball: Some((&tarball, "@octo-org/hello", "1.0.0")),
        artifact: None,
        san: SAN,
        issuer: ISSUER,
    };
    // sigstore-js as a GitHub-instance verifier (gh's policy for this instance: a timestamp, no
    // log, no SCT) verifies it, with npm's subject checks.
    sigstore_js_verify_timestamps_only(&case).unwrap();
    // Under npm's own policy (one log entry, one SCT) it is refused: this is not npm provenance.
    let npm_policy = sigstore_js_verify(&case).unwrap_err();
    assert!(npm_policy.message.contains("expected 1"), "{npm_policy:?}");
    // sigstore-python 4.5.1 cannot verify any bundle of GitHub's instance (nor GitHub's own,
    // which omit `tlogEntries` as these do): its bundle model requires `tlogEntries` and exactly
    // one entry (sigstore `models.py`), and its Verifier refuses a trusted root without
    // transparency logs (`verify/verifier.py`, `Verifier.__init__`). If a later version accepts
    // them, this assertion fails and the README's note must change.
    let python = sigstore_python_verify(&case).unwrap_err();
    assert!(python.message.contains("tlogEntries"), "{python:?}");
}

#[test]
fn a_private_repository_without_upload_to_github_is_refused_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "@octo-org/hello", "1.0.0");
    let (api, requests) = attestations_api();
    for visibility in ["private", "internal"] {
        let env = actions_env(dir.path(), visibility, &api.url);
        let out = run(dir.path(), &["attest", "--dry-run", tarball.to_str().unwrap()], &env);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("refusing to sign npm provenance: the source repository is {visibility}")),
            "{err}"
        );
        assert!(err.contains("--upload-to-github") && err.contains("--no-provenance"), "{err}");
        // Refused before the stand-in was started or anything signed.
        assert!(!err.contains("Attesting"), "{err}");
    }
    assert!(!dir.path().join("octo-org-hello-1.0.0.sigstore.json").exists());
    assert!(requests.lock().unwrap().is_empty());

    // A public repository keeps public-good's form (a log entry), upload or not.
    let env = actions_env(dir.path(), "public", &api.url);
    let out = run(dir.path(), &["attest", "--dry-run", "--upload-to-github", tarball.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle = read_json(&dir.path().join("octo-org-hello-1.0.0.sigstore.json"));
    assert_eq!(bundle["verificationMaterial"]["tlogEntries"].as_array().map(Vec::len), Some(1));
    assert_eq!(leaf_extensions(&bundle).1.as_deref(), Some("public"));
}

#[test]
fn publish_with_provenance_from_a_private_repository_says_so_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let manifest = json!({"name": "@octo-org/hello", "version": "1.0.0",
        "repository": {"type": "git", "url": format!("git+https://github.com/{REPOSITORY}.git")}});
    std::fs::write(pkg.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 1;\n").unwrap();
    let tarball = npm_pack_dir(&pkg, dir.path());
    let (api, requests) = attestations_api();
    let mut env = actions_env(dir.path(), "private", &api.url);
    env.push(("NODE_AUTH_TOKEN".into(), "npm_token_never_used".into()));
    let registry = FakeServer::start(|_| Response::json(404, &json!({"error": "must not be asked"})));
    let out = run(dir.path(), &["publish", "--dry-run", "--registry", &registry.url, tarball.to_str().unwrap()], &env);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the source repository is private"), "{err}");
    assert!(err.contains("--no-provenance") && err.contains("--upload-to-github"), "{err}");
    assert!(!err.contains("Signed provenance"), "{err}");
    assert!(requests.lock().unwrap().is_empty());

    // And npm provenance is never signed by GitHub's instance, whatever the repository.
    let env = actions_env(dir.path(), "public", &api.url);
    let out = run(
        dir.path(),
        &["publish", "--dry-run", "--sigstore", "github", "--registry", &registry.url, tarball.to_str().unwrap()],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("public-good only"), "{}", stderr(&out));
}

/// `npm pack` of an existing package directory into `into`.
fn npm_pack_dir(pkg: &Path, into: &Path) -> PathBuf {
    let out = std::process::Command::new("npm")
        .current_dir(pkg)
        .args(["pack", "--json", "--pack-destination"])
        .arg(into)
        .output()
        .unwrap();
    assert!(out.status.success(), "npm pack: {}", String::from_utf8_lossy(&out.stderr));
    let packed: Value = serde_json::from_slice(&out.stdout).unwrap();
    into.join(packed[0]["filename"].as_str().unwrap())
}

#[test]
fn a_token_that_says_private_stops_an_automatic_public_good_choice_before_fulcio() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "@octo-org/hello", "1.0.0");
    let (api, requests) = attestations_api();
    // The event payload says nothing about visibility; the token (what Fulcio would certify)
    // says private.
    let mut env: Vec<(String, String)> =
        actions_env(dir.path(), "public", &api.url).into_iter().filter(|(k, _)| k != "GITHUB_EVENT_PATH").collect();
    env.push(("SIGSTORE_ID_TOKEN".into(), token_with_visibility("private")));
    let out = run(dir.path(), &["attest", "--upload-to-github", tarball.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the identity token says the repository is private"), "{err}");
    assert!(err.contains("--sigstore github"), "{err}");
    assert!(requests.lock().unwrap().is_empty());
    assert!(!dir.path().join("octo-org-hello-1.0.0.sigstore.json").exists());
}

/// A GitHub Actions-like identity token (unsigned: it is never sent anywhere here).
fn token_with_visibility(visibility: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let workflow = format!("{REPOSITORY}/.github/workflows/release.yml@refs/heads/main");
    let claims = json!({
        "iss": ISSUER, "aud": "sigstore", "sub": format!("repo:{REPOSITORY}:ref:refs/heads/main"),
        "iat": now, "nbf": now, "exp": now + 600, "repository": REPOSITORY,
        "repository_visibility": visibility, "ref": "refs/heads/main", "sha": "0123456789abcdef0123456789abcdef01234567",
        "workflow_ref": workflow, "job_workflow_ref": workflow, "run_id": "1", "run_attempt": "1",
        "runner_environment": "github-hosted", "event_name": "push"
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "test"});
    format!("{}.{}.{}", b64(&header), b64(&claims), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 256]))
}

/// Records every request path the stand-in is asked, then passes the request on.
struct Recorder {
    paths: Arc<Mutex<Vec<String>>>,
}

impl npm_attest::standin::Middleware for Recorder {
    fn call<'a>(
        &'a self,
        request: npm_attest::standin::ApiRequest,
        next: npm_attest::standin::Next<'a>,
    ) -> npm_attest::standin::BoxFuture<'a, npm_attest::standin::Reply> {
        self.paths.lock().unwrap().push(request.path.clone());
        Box::pin(next.run(request))
    }
}

/// The real (not dry-run) path: `--sigstore github` with the service URLs of a stand-in in
/// GitHub's form and its trusted root. Every request the instance receives is recorded: a CA
/// and a TSA request, never a log, and the self-check verifies against the root exactly (a
/// root trusting another instance's CA refuses the bundle, and nothing is stored); the trust
/// can also come from the instance's TUF repository, as GitHub's comes from
/// tuf-repo.github.com.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_with_githubs_instance_reaches_its_ca_and_tsa_and_no_log() {
    use npm_attest::standin::{Standin, StandinOptions};
    let paths = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::new(Recorder { paths: paths.clone() });
    let standin = Standin::start_github_instance_with_middleware(
        StandinOptions { listen: "127.0.0.1:0".parse().unwrap() },
        vec![recorder],
    )
    .await
    .unwrap();
    let base = standin.base_url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("github-standin-root.json");
    std::fs::write(&root_path, serde_json::to_vec(standin.trusted_root()).unwrap()).unwrap();
    let claims: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "sub": format!("repo:{REPOSITORY}:ref:refs/heads/main"), "repository": REPOSITORY,
        "repository_visibility": "private", "ref": "refs/heads/main",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "workflow_ref": format!("{REPOSITORY}/.github/workflows/release.yml@refs/heads/main"),
        "job_workflow_ref": format!("{REPOSITORY}/.github/workflows/release.yml@refs/heads/main"),
        "run_id": "1", "run_attempt": "1", "runner_environment": "github-hosted", "event_name": "push"
    }))
    .unwrap();
    let token = standin.mint_token(claims).expose().to_owned();
    let (tuf_url, tuf_first_root) = (standin.tuf_url(), standin.tuf_root().to_vec());
    let outcome = tokio::task::spawn_blocking(move || {
        let tarball = npm_pack(dir.path(), "@octo-org/hello", "1.0.0");
        let (api, requests) = attestations_api();
        let mut env = actions_env(dir.path(), "private", &api.url);
        env.push(("SIGSTORE_ID_TOKEN".into(), token));
        let fulcio = base.clone();
        let tsa = format!("{base}/api/v1/timestamp");
        let sign = |root: &Path| {
            run(
                dir.path(),
                &[
                    "attest",
                    "--upload-to-github",
                    "--sigstore",
                    "github",
                    "--fulcio-url",
                    &fulcio,
                    "--tsa-url",
                    &tsa,
                    "--trusted-root",
                    root.to_str().unwrap(),
                    tarball.to_str().unwrap(),
                ],
                &env,
            )
        };
        let signed = sign(&root_path);
        let bundle_path = dir.path().join("octo-org-hello-1.0.0.sigstore.json");
        let bundle = bundle_path.exists().then(|| read_json(&bundle_path));
        let stored = requests.lock().unwrap().len();
        // The same signing checked against a root that trusts the stand-in's TSA but another
        // instance's CA (public-good's): the self-check refuses the bundle.
        std::fs::remove_file(&bundle_path).ok();
        let mut other_ca = read_json(&root_path);
        let public_good = read_json(&crate::support::data("trust/public-good-production-trusted_root.json"));
        other_ca["certificateAuthorities"] = public_good["certificateAuthorities"].clone();
        let wrong_root = dir.path().join("root-trusting-another-ca.json");
        crate::interop::write_json(&wrong_root, &other_ca);
        let refused = sign(&wrong_root);
        let stored_after = requests.lock().unwrap().len();
        let written_after_refusal = bundle_path.exists();
        // Trust from the instance's TUF repository instead of a root file (as GitHub's comes
        // from tuf-repo.github.com): the stand-in's, with its first root.
        let tuf_root = dir.path().join("tuf-root.json");
        std::fs::write(&tuf_root, &tuf_first_root).unwrap();
        let mut online = env.clone();
        online.push(("NPM_ATTEST_OFFLINE".into(), "0".into()));
        let via_tuf = run(
            dir.path(),
            &[
                "attest",
                "--sigstore",
                "github",
                "--fulcio-url",
                &fulcio,
                "--tsa-url",
                &tsa,
                "--tuf-url",
                &tuf_url,
                "--tuf-root",
                tuf_root.to_str().unwrap(),
                "--upload-to-github",
                tarball.to_str().unwrap(),
            ],
            &online,
        );
        (signed, bundle, stored, refused, written_after_refusal, stored_after, via_tuf)
    })
    .await
    .unwrap();
    standin.shutdown().await;
    let (signed, bundle, stored, refused, written_after_refusal, stored_after, via_tuf) = outcome;
    assert!(via_tuf.status.success(), "{}", stderr(&via_tuf));
    assert!(stderr(&via_tuf).contains("Attestation stored with GitHub"), "{}", stderr(&via_tuf));
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert_github_instance_shape(&bundle.unwrap());
    assert_eq!(stored, 1, "stored with the attestations API");
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("does not verify against the"), "{}", stderr(&refused));
    assert!(!written_after_refusal, "a bundle that failed the self-check was written");
    assert_eq!(stored_after, 1, "a bundle that failed the self-check was stored");
    let paths = paths.lock().unwrap().clone();
    let first_run: Vec<&String> = paths.iter().take(2).collect();
    assert_eq!(first_run, ["/api/v2/signingCert", "/api/v1/timestamp"], "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("/tuf/")), "{paths:?}");
    assert!(
        paths.iter().all(|p| p == "/api/v2/signingCert" || p == "/api/v1/timestamp" || p.starts_with("/tuf/")),
        "only the CA, the TSA and the TUF repository were asked, never a log: {paths:?}"
    );
}

/// `serve-sigstore --github-instance`: its written trusted root lists no log and no CT log, its
/// signing config names only the CA and the TSA, and `attest --signing-config` following that
/// config signs timestamp-only bundles that verify against the root (and not under a policy
/// requiring a log).
#[test]
fn serve_sigstore_in_githubs_form_drives_a_signing_config_without_logs() {
    let server = crate::interop::ServeSigstore::start_with(&["--github-instance"]);
    let root = read_json(&server.trusted_root());
    assert_eq!(root["tlogs"].as_array().map(Vec::len).unwrap_or(0), 0, "{root}");
    assert_eq!(root["ctlogs"].as_array().map(Vec::len).unwrap_or(0), 0, "{root}");
    // GitHub's root names its services without a scheme; so does the stand-in's in this form.
    let ca_uri = root["certificateAuthorities"][0]["uri"].as_str().unwrap();
    assert!(!ca_uri.contains("://"), "{ca_uri}");
    let config = read_json(&server.signing_config());
    assert_eq!(config["rekorTlogUrls"].as_array().map(Vec::len).unwrap_or(0), 0, "{config}");
    assert_eq!(config["caUrls"].as_array().unwrap().len(), 1);
    assert_eq!(config["tsaUrls"].as_array().unwrap().len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let tarball = npm_pack(dir.path(), "@octo-org/hello", "1.0.0");
    let token = server.token();
    let out = run_in(
        dir.path(),
        &[
            "attest",
            "--sigstore",
            "github",
            "--signing-config",
            server.signing_config().to_str().unwrap(),
            "--trusted-root",
            server.trusted_root().to_str().unwrap(),
            "--identity-token",
            &token,
            tarball.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle_path = dir.path().join("octo-org-hello-1.0.0.sigstore.json");
    assert_github_instance_shape(&read_json(&bundle_path));
    let (san, issuer) = crate::interop::github_identity(&crate::interop::jwt_claims(&token));
    let root_path = server.trusted_root();
    let check = |extra: &[&str]| {
        let mut args = vec!["verify", "--bundle", bundle_path.to_str().unwrap()];
        args.extend(["--trusted-root", root_path.to_str().unwrap()]);
        args.extend(["--certificate-identity", &san, "--certificate-oidc-issuer", &issuer]);
        args.extend(extra);
        args.push(tarball.to_str().unwrap());
        run_in(dir.path(), &args, &[])
    };
    let ok = check(&[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(crate::support::stdout(&ok).contains("log index:         none"), "{}", crate::support::stdout(&ok));
    assert!(!check(&["--require-tlog"]).status.success());
}
