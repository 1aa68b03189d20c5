//! Secrets never leave the process except to their service: identity tokens and the Actions
//! runtime's request token appear nowhere in stdout, stderr or the files a run writes, except
//! in the one `::add-mask::` line that tells the runner to hide them; the ephemeral signing key
//! is never written. Each flow runs with `--verbose` and `GITHUB_ACTIONS=true`, the settings
//! that print the most.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use npm_attest::secret::SecretString;

use crate::fake_http::{FakeServer, Response};
use crate::support::{bin, data, run_in, stderr, stdout};

/// A `serve-sigstore` child with its trust material and a minted token in its own directory
/// (not the one scanned), killed on drop.
struct Served {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    let mut child = Command::new(bin())
        .args(["serve-sigstore", "--listen", "127.0.0.1:0", "--token-out"])
        .arg(&token_path)
        .args(extra)
        .env_clear()
        .envs(github_env().iter().map(|(k, v)| (*k, *v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let token = std::fs::read_to_string(&token_path).unwrap();
    Served { child, base, token, _dir: dir }
}

/// The variables of a GitHub Actions release job (not the OIDC runtime's).
fn github_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "octo/hello"),
        ("GITHUB_REPOSITORY_ID", "810002373"),
        ("GITHUB_REPOSITORY_OWNER", "octo"),
        ("GITHUB_REPOSITORY_OWNER_ID", "583231"),
        ("GITHUB_EVENT_NAME", "release"),
        ("GITHUB_REF", "refs/tags/v1.0.0"),
        ("GITHUB_SHA", "d1c6d1113932ddcee243e8b111b6d4aea553df20"),
        ("GITHUB_WORKFLOW_REF", "octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0"),
        ("GITHUB_RUN_ID", "9358004112"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
    ]
}

/// A fresh directory holding a real npm tarball: the only place the run may write.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tuf-js-1.0.0.tgz");
    std::fs::copy(data("npm-provenance/tarballs/tuf-js-1.0.0.tgz"), &path).unwrap();
    (dir, path)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The pieces of a secret to look for: the whole value and, for a JWT, its signature part
/// (a token cut or re-encoded elsewhere still carries it).
fn needles(secret: &str) -> Vec<String> {
    let mut found = vec![secret.to_owned()];
    if let Some(signature) = secret.rsplit('.').next().filter(|s| s.len() >= 16 && *s != secret) {
        found.push(signature.to_owned());
    }
    found
}

/// Asserts that no secret appears in the run's output or in any file under `dir`, except in
/// an `::add-mask::<secret>` line; returns how many mask lines there were for each secret.
fn assert_no_leak(out: &Output, dir: &Path, secrets: &[&str]) -> Vec<usize> {
    let (so, se) = (stdout(out), stderr(out));
    let mut masks = Vec::new();
    for secret in secrets {
        let mask_line = format!("::add-mask::{secret}");
        masks.push(so.lines().filter(|l| *l == mask_line).count());
        let rest_of_stdout: String = so.lines().filter(|l| *l != mask_line).collect::<Vec<_>>().join("\n");
        for needle in needles(secret) {
            assert!(!rest_of_stdout.contains(&needle), "secret on stdout:\n{so}");
            assert!(!se.contains(&needle), "secret on stderr:\n{se}");
        }
    }
    let mut files = Vec::new();
    files_under(dir, &mut files);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            for needle in needles(secret) {
                assert!(!text.contains(&needle), "secret in {}", file.display());
            }
        }
        assert!(!text.contains("PRIVATE KEY"), "a private key in {}", file.display());
    }
    assert!(!so.contains("PRIVATE KEY") && !se.contains("PRIVATE KEY"));
    masks
}

fn with_actions(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = github_env().into_iter().map(|(k, v)| (k, v.to_owned())).collect();
    env.push(("GITHUB_ACTIONS", "true".to_owned()));
    env.extend(extra.iter().cloned());
    env
}

fn run(dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_in(dir, args, &env)
}

#[test]
fn a_dry_run_masks_its_minted_token_and_writes_it_nowhere() {
    let (dir, _) = workdir();
    let out = run(dir.path(), &["attest", "tuf-js-1.0.0.tgz", "--dry-run", "--verbose"], &with_actions(&[]));
    assert!(out.status.success(), "{}", stderr(&out));
    // The stand-in's token is known only through its mask line.
    let so = stdout(&out);
    let minted: Vec<&str> = so.lines().filter_map(|l| l.strip_prefix("::add-mask::")).collect();
    assert_eq!(minted.len(), 1, "{so}");
    assert_eq!(minted[0].split('.').count(), 3, "a JWT is masked");
    let token = minted[0].to_owned();
    assert_eq!(assert_no_leak(&out, dir.path(), &[&token]), [1]);
    assert!(dir.path().join("tuf-js-1.0.0.sigstore.json").exists());
}

#[test]
fn a_token_from_the_flag_or_the_environment_is_masked_and_kept_out_of_outputs() {
    // One transient failure per endpoint, so the retry messages are in the debug log too.
    let served = serve(&["--fail-first", "1", "--fail-status", "503"]);
    let (dir, _) = workdir();
    let flag = run(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", &served.base, "--verbose", "--identity-token", &served.token],
        &with_actions(&[]),
    );
    assert!(flag.status.success(), "{}", stderr(&flag));
    assert!(stderr(&flag).contains("503"), "the retries are logged: {}", stderr(&flag));
    assert_eq!(assert_no_leak(&flag, dir.path(), &[&served.token]), [1]);

    let (dir, _) = workdir();
    let env = run(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", &served.base, "--verbose"],
        &with_actions(&[("SIGSTORE_ID_TOKEN", served.token.clone())]),
    );
    assert!(env.status.success(), "{}", stderr(&env));
    assert_eq!(assert_no_leak(&env, dir.path(), &[&served.token]), [1]);
}

#[test]
fn the_actions_runtime_tokens_are_masked_and_kept_out_of_outputs() {
    const REQUEST_TOKEN: &str = "ghs_requesttoken0123456789abcdefABCDEF";
    let served = serve(&[]);
    let token = served.token.clone();
    let runtime = FakeServer::start(move |request| {
        if request.bearer() == Some(REQUEST_TOKEN) && request.query("audience").as_deref() == Some("sigstore") {
            Response::json(200, &serde_json::json!({"count": 1, "value": token}))
        } else {
            Response::json(401, &serde_json::json!({"message": "bad request token"}))
        }
    });
    let (dir, _) = workdir();
    let out = run(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", &served.base, "--verbose"],
        &with_actions(&[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", runtime.url)),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN.to_owned()),
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(assert_no_leak(&out, dir.path(), &[&served.token, REQUEST_TOKEN]), [1, 1]);
}

#[test]
fn refused_tokens_stay_out_of_the_error_messages() {
    let served = serve(&[]);
    // A well-formed token from an issuer the stand-in does not trust, and a malformed one.
    let foreign = {
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let claims = serde_json::json!({"iss": "https://token.actions.githubusercontent.com",
            "aud": "sigstore", "sub": "repo:octo/hello:ref:refs/tags/v1.0.0", "exp": 4_000_000_000u64,
            "iat": 1_700_000_000, "nbf": 1_700_000_000});
        npm_attest::core::jwt::mint_es256(&key, "foreign", claims.as_object().unwrap())
    };
    let malformed = "not-a-jwt-but-still-secret-0123456789abcdef".to_owned();
    for token in [foreign, malformed] {
        let (dir, _) = workdir();
        let out = run(
            dir.path(),
            &["attest", "tuf-js-1.0.0.tgz", "--sigstore", &served.base, "--verbose", "--identity-token", &token],
            &with_actions(&[]),
        );
        assert!(!out.status.success());
        assert_eq!(assert_no_leak(&out, dir.path(), &[&token]), [1]);
        assert!(!dir.path().join("tuf-js-1.0.0.sigstore.json").exists());
    }
}

/// Compiles only if `T` does not implement `Display` (a second candidate impl makes the call
/// ambiguous when it does).
macro_rules! assert_not_display {
    ($t:ty) => {{
        trait AmbiguousIfDisplay<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfDisplay<()> for T {}
        #[allow(dead_code)]
        struct IsDisplay;
        impl<T: ?Sized + std::fmt::Display> AmbiguousIfDisplay<IsDisplay> for T {}
        <$t as AmbiguousIfDisplay<_>>::check();
    }};
}

fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

/// The secret types cannot be printed by accident and wipe their memory when dropped.
#[test]
fn secret_types_redact_debug_have_no_display_and_wipe_on_drop() {
    assert_not_display!(SecretString);
    assert_not_display!(npm_attest::sigstore::key::EphemeralKey);
    wiped_on_drop::<SecretString>();
    wiped_on_drop::<npm_attest::sigstore::key::EphemeralKey>();

    let token = SecretString::new("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".to_owned());
    let key = npm_attest::sigstore::key::EphemeralKey::generate().unwrap();
    let shown = format!("{token:?} {token:#?} {key:?} {key:#?}");
    assert!(!shown.contains("eyJ") && !shown.contains("c2ln"), "{shown}");
    assert_eq!(shown, "SecretString(****) SecretString(****) EphemeralKey(****) EphemeralKey(****)");
}
