//! Third-party peers that judge what npm-attest writes: sigstore-js (the verifier and signer npm
//! ships), sigstore-python, in-toto-attestation and a real npm registry (Verdaccio), all pinned
//! in `tests/interop/` and installed into `.interop/` by `tests/setup-interop`.
//!
//! The helpers here are for every test module. Each drives one script of `tests/interop/`,
//! which answers with one line of JSON and an exit code: 0 accepted, 1 rejected (a verdict,
//! returned as `Err(Rejection)`), 2 a usage error or broken harness (the test panics, since
//! a harness fault must never pass for a rejection). When `.interop/` is missing the helpers
//! fail the test and say to run `tests/setup-interop`; they never skip.

#![allow(dead_code)]
// Test harness: a failed expectation here fails the test, which is what a panic is for.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fmt;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha512};

use crate::support::{data, repo_root};

mod npm_attest_output;
mod peer_bundles;

/// How long one peer invocation may take before the test fails.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Locating the peers.

/// Where `tests/setup-interop` installed the peers (`NPM_ATTEST_INTEROP` or `.interop/`).
pub(crate) fn interop_dir() -> PathBuf {
    match std::env::var_os("NPM_ATTEST_INTEROP") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".interop"),
    }
}

/// `tests/interop/<name>`.
fn script(name: &str) -> PathBuf {
    repo_root().join("tests").join("interop").join(name)
}

/// Fails the test unless `path` (inside the interop directory) exists.
fn require_installed(path: &Path, what: &str) {
    assert!(path.exists(), "{what} is not installed ({} is missing): run tests/setup-interop", path.display());
}

fn node_modules() -> PathBuf {
    let dir = interop_dir().join("node_modules");
    require_installed(&dir.join("@sigstore").join("verify"), "sigstore-js");
    dir
}

/// The interop venv's Python.
pub(crate) fn venv_python() -> PathBuf {
    let python = interop_dir().join("venv").join("bin").join("python");
    require_installed(&python, "the Python peers (sigstore-python, in-toto-attestation)");
    python
}

/// A console script of the interop venv (`sigstore`, `zizmor`).
pub(crate) fn venv_bin(name: &str) -> PathBuf {
    let bin = interop_dir().join("venv").join("bin").join(name);
    require_installed(&bin, name);
    bin
}

fn node_command(script_name: &str) -> Command {
    node_modules();
    let mut cmd = Command::new("node");
    cmd.arg(script(script_name)).env("NPM_ATTEST_INTEROP", interop_dir());
    cmd
}

fn python_command(script_name: &str) -> Command {
    let mut cmd = Command::new(venv_python());
    cmd.arg(script(script_name));
    cmd
}

// ---------------------------------------------------------------------------------------------
// Running them.

/// Runs `cmd` with no stdin, capturing its output, and fails the test after `timeout`.
pub(crate) fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let dir = tempfile::tempdir().expect("temp dir for peer output");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("create stdout file"))
        .stderr(fs::File::create(&err_path).expect("create stderr file"));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for peer") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {timeout:?}; stderr:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: fs::read(&out_path).expect("read stdout"),
        stderr: fs::read(&err_path).expect("read stderr"),
    }
}

/// What a peer said when it accepted: its one line of JSON.
pub(crate) type Facts = Map<String, Value>;

/// A peer's verdict against its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The step that refused: `bundle`, `trusted-root`, `sigstore` (signature, log, certificate
    /// or identity), `npm-subject`, `statement`, `predicate`, `sign`, ...
    pub stage: String,
    /// The peer's error code or class, e.g. `TLOG_BODY_ERROR`, `VerificationError`.
    pub code: String,
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rejected it: {}", self.stage, self.message)
    }
}

/// Runs one of the `tests/interop/` scripts and reads its answer (see the module doc).
fn answer(cmd: Command) -> Result<Facts, Rejection> {
    let what = format!("{cmd:?}");
    let out = run_with_timeout(cmd, PEER_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or("");
    let parsed: Option<Map<String, Value>> = serde_json::from_str(line).ok();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    match (out.status.code(), parsed) {
        (Some(0), Some(obj)) if obj.get("ok") == Some(&Value::Bool(true)) => Ok(obj),
        (Some(1), Some(obj)) if obj.get("ok") == Some(&Value::Bool(false)) => Err(Rejection {
            stage: text(obj.get("stage")),
            code: text(obj.get("code")),
            message: text(obj.get("error")),
        }),
        (code, _) => panic!("interop harness failure (exit {code:?}) from {what}\nstdout: {stdout}\nstderr: {stderr}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Verifiers.

/// One verification: a bundle, the root to trust, the identity to require, and optionally
/// npm's subject checks against a tarball or a message-signature artifact.
#[derive(Debug, Clone)]
pub(crate) struct VerifyCase<'a> {
    pub bundle: &'a Path,
    pub trusted_root: &'a Path,
    /// `(tarball, package name, version)`: apply npm's `--provenance-file` subject checks.
    pub tarball: Option<(&'a Path, &'a str, &'a str)>,
    /// The signed file, for message-signature bundles.
    pub artifact: Option<&'a Path>,
    /// The exact SAN, or `/regex/`.
    pub san: &'a str,
    pub issuer: &'a str,
}

fn verify_args(cmd: &mut Command, case: &VerifyCase<'_>) {
    cmd.arg("--bundle").arg(case.bundle);
    cmd.arg("--trusted-root").arg(case.trusted_root);
    if let Some((tarball, name, version)) = case.tarball {
        cmd.arg("--tarball").arg(tarball).args(["--name", name, "--version", version]);
    }
    if let Some(artifact) = case.artifact {
        cmd.arg("--artifact").arg(artifact);
    }
    cmd.args(["--san", case.san, "--issuer", case.issuer]);
}

/// sigstore-js (`@sigstore/verify` 4.1.3): `Verifier` with tlog, CT log and timestamp
/// thresholds of 1 and the identity policy, then npm's subject checks when a tarball is given.
pub(crate) fn sigstore_js_verify(case: &VerifyCase<'_>) -> Result<Facts, Rejection> {
    let mut cmd = node_command("verify-js.mjs");
    verify_args(&mut cmd, case);
    answer(cmd)
}

/// [`sigstore_js_verify`] as a verifier of GitHub's own instance does: no transparency log
/// entry and no SCT required (thresholds 0), one RFC 3161 timestamp.
pub(crate) fn sigstore_js_verify_timestamps_only(case: &VerifyCase<'_>) -> Result<Facts, Rejection> {
    let mut cmd = node_command("verify-js.mjs");
    verify_args(&mut cmd, case);
    cmd.args(["--tlog-threshold", "0", "--ctlog-threshold", "0"]);
    answer(cmd)
}

/// The same checks with the sigstore-js copy bundled inside the machine's npm CLI
/// (`$(npm root -g)/npm/node_modules`): what `npm publish --provenance-file` and
/// `npm audit signatures` run, at whatever version that npm ships.
pub(crate) fn npm_cli_sigstore_verify(case: &VerifyCase<'_>) -> Result<Facts, Rejection> {
    let out = run_with_timeout(
        {
            let mut c = Command::new("npm");
            c.args(["root", "-g"]);
            c
        },
        PEER_TIMEOUT,
    );
    assert!(out.status.success(), "npm root -g failed: {}", String::from_utf8_lossy(&out.stderr));
    let modules = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("npm").join("node_modules");
    require_installed(&modules.join("@sigstore").join("verify"), "npm's bundled sigstore-js");
    let mut cmd = node_command("verify-js.mjs");
    cmd.env("NPM_ATTEST_SIGSTORE_JS", &modules);
    verify_args(&mut cmd, case);
    answer(cmd)
}

/// sigstore-python 4.5.1: `Verifier.verify_dsse` (or `verify_artifact` with an artifact) with
/// an identity policy, then npm's subject checks when a tarball is given.
pub(crate) fn sigstore_python_verify(case: &VerifyCase<'_>) -> Result<Facts, Rejection> {
    let mut cmd = python_command("verify-py.py");
    verify_args(&mut cmd, case);
    answer(cmd)
}

/// in-toto-attestation 0.9.3: the bundle's DSSE payload parsed strictly as a Statement v1 and,
/// for SLSA v1, as a provenance predicate.
pub(crate) fn intoto_check(bundle: &Path) -> Result<Facts, Rejection> {
    let mut cmd = python_command("intoto-check.py");
    cmd.arg("--bundle").arg(bundle);
    answer(cmd)
}

// ---------------------------------------------------------------------------------------------
// Signers.

/// sigstore-js's signer (`@sigstore/sign` 5.1.0: `FulcioSigner`, `RekorWitness` with `dsse`
/// entries, `DSSEBundleBuilder`) signs `statement` against `fulcio` and `rekor` (base URLs)
/// with `token`, writing the bundle to `out`. The facts include `elapsedMs`.
pub(crate) fn sign_with_js(
    fulcio: &str,
    rekor: &str,
    token: &str,
    statement: &Path,
    out: &Path,
) -> Result<Facts, Rejection> {
    sign_with_js_entry(fulcio, rekor, token, statement, out, "dsse")
}

/// [`sign_with_js`] with the Rekor entry type sigstore-js's `RekorWitness` writes: `dsse` (npm
/// 11) or `intoto` (npm 9-10).
pub(crate) fn sign_with_js_entry(
    fulcio: &str,
    rekor: &str,
    token: &str,
    statement: &Path,
    out: &Path,
    entry_type: &str,
) -> Result<Facts, Rejection> {
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    fs::write(&token_file, token).expect("write token file");
    let mut cmd = node_command("sign-js.mjs");
    cmd.args(["--fulcio", fulcio, "--rekor", rekor]);
    cmd.arg("--token-file").arg(&token_file);
    cmd.arg("--statement").arg(statement);
    cmd.arg("--out").arg(out);
    cmd.args(["--entry-type", entry_type]);
    answer(cmd)
}

/// What sigstore-python's CLI should do.
#[derive(Debug, Clone)]
pub(crate) enum PythonSign<'a> {
    /// `sigstore sign`: a message signature over the file.
    Sign,
    /// `sigstore attest --predicate-type T --predicate P`: a DSSE in-toto statement with the
    /// file as its subject.
    Attest { predicate_type: &'a str, predicate: &'a Path },
}

/// sigstore-python's CLI signs `file` with `token` against the instance that the client trust
/// config `trust_config` names (see [`client_trust_config`]), writing the bundle to `out`.
/// `Err` carries the CLI's stderr.
pub(crate) fn sign_with_python(
    trust_config: &Path,
    token: &str,
    mode: PythonSign<'_>,
    file: &Path,
    out: &Path,
) -> Result<(), String> {
    let mut cmd = Command::new(venv_bin("sigstore"));
    cmd.arg("--trust-config").arg(trust_config);
    match mode {
        PythonSign::Sign => {
            cmd.arg("sign");
        }
        PythonSign::Attest { predicate_type, predicate } => {
            cmd.args(["attest", "--predicate-type", predicate_type, "--predicate"]).arg(predicate);
        }
    }
    // The token travels in the environment, not in argv.
    cmd.env("SIGSTORE_IDENTITY_TOKEN", token)
        .arg("--oidc-disable-ambient-providers")
        .arg("--overwrite")
        .arg("--bundle")
        .arg(out)
        .arg(file);
    let out_put = run_with_timeout(cmd, PEER_TIMEOUT);
    if out_put.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sigstore-python exited with {}: {}{}",
            out_put.status,
            String::from_utf8_lossy(&out_put.stderr),
            String::from_utf8_lossy(&out_put.stdout)
        ))
    }
}

/// A ClientTrustConfig for sigstore-python's `--trust-config`: `trusted_root` plus a signing
/// config v0.2 naming `base_url` as both the CA and the Rekor v1 log.
pub(crate) fn client_trust_config(trusted_root: &Value, base_url: &str) -> Value {
    let service = json!([{
        "url": base_url,
        "majorApiVersion": 1,
        "validFor": {"start": "2000-01-01T00:00:00Z"},
        "operator": "local",
    }]);
    json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": service,
            "oidcUrls": [],
            "rekorTlogUrls": service,
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    })
}

/// zizmor (the GitHub Actions linter) with `args`, offline.
pub(crate) fn zizmor(args: &[&str]) -> Output {
    let mut cmd = Command::new(venv_bin("zizmor"));
    cmd.arg("--offline").args(args);
    run_with_timeout(cmd, PEER_TIMEOUT)
}

// ---------------------------------------------------------------------------------------------
// A real npm registry.

/// Verdaccio 6.8.0 on 127.0.0.1, open to everyone, with no uplinks and its storage in a
/// temporary directory. Stopped (and its storage removed) on drop.
pub(crate) struct Verdaccio {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Verdaccio {
    pub(crate) fn start() -> Verdaccio {
        let main = interop_dir().join("verdaccio/node_modules/verdaccio/bin/verdaccio");
        require_installed(&main, "Verdaccio");
        let dir = tempfile::tempdir().expect("temp dir for Verdaccio");
        let port = free_port();
        let storage = dir.path().join("storage");
        let config = format!(
            "storage: {storage}\n\
             auth:\n  htpasswd:\n    file: {htpasswd}\n\
             uplinks: {{}}\n\
             packages:\n\
             \x20 '@*/*':\n    access: $all\n    publish: $all\n    unpublish: $all\n\
             \x20 '**':\n    access: $all\n    publish: $all\n    unpublish: $all\n\
             web:\n  enable: false\n\
             max_body_size: 300mb\n\
             listen: 127.0.0.1:{port}\n\
             log: {{type: stdout, format: pretty, level: warn}}\n",
            storage = yaml_str(&storage),
            htpasswd = yaml_str(&dir.path().join("htpasswd")),
        );
        let config_path = dir.path().join("config.yaml");
        fs::write(&config_path, config).expect("write Verdaccio config");
        let log = fs::File::create(dir.path().join("verdaccio.log")).expect("Verdaccio log");
        let child = Command::new("node")
            .arg(&main)
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start Verdaccio");
        let verdaccio = Verdaccio { child, port, dir };
        verdaccio.wait_ready(Duration::from_secs(60));
        verdaccio
    }

    /// `http://127.0.0.1:PORT/`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// What Verdaccio logged so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("verdaccio.log")).unwrap_or_default()
    }

    /// An `npm` command in `dir` that talks only to this registry: its own user config (with a
    /// dummy `_authToken`, which an open Verdaccio accepts) and cache, no audit, no fund.
    pub(crate) fn npm(&self, dir: &Path) -> Command {
        let npmrc = self.dir.path().join("npmrc");
        if !npmrc.exists() {
            fs::write(
                &npmrc,
                format!(
                    "registry={url}\n//127.0.0.1:{port}/:_authToken=dummy-token-for-local-verdaccio\n\
                     audit=false\nfund=false\nupdate-notifier=false\n",
                    url = self.url(),
                    port = self.port
                ),
            )
            .expect("write npmrc");
        }
        let mut cmd = Command::new("npm");
        cmd.current_dir(dir)
            .env("npm_config_userconfig", &npmrc)
            .env("npm_config_globalconfig", self.dir.path().join("npmrc-global"))
            .env("npm_config_cache", self.dir.path().join("npm-cache"))
            .env("npm_config_registry", self.url())
            .env_remove("NODE_AUTH_TOKEN");
        cmd
    }

    /// `GET path` on the registry: (status, body).
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path).unwrap_or_else(|e| panic!("GET {path} from Verdaccio: {e}"))
    }

    fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok((200, _)) = http_get(self.port, "/-/ping") {
                return;
            }
            assert!(Instant::now() < deadline, "Verdaccio did not answer within {timeout:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Verdaccio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn yaml_str(path: &Path) -> String {
    serde_json::to_string(&path.to_string_lossy()).expect("JSON string is YAML")
}

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A minimal HTTP/1.1 GET on 127.0.0.1 (loopback only): (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:.80}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

// ---------------------------------------------------------------------------------------------
// npm-attest's own local Sigstore, for independent clients.

/// `npm-attest serve-sigstore` on 127.0.0.1, with its trusted root, client trust config (for
/// sigstore-python) and a minted GitHub Actions-like token written to a temporary directory.
/// Stopped on drop.
pub(crate) struct ServeSigstore {
    child: Child,
    base_url: String,
    dir: tempfile::TempDir,
}

impl ServeSigstore {
    pub(crate) fn start() -> ServeSigstore {
        Self::start_with(&[])
    }

    /// [`ServeSigstore::start`] with `extra` flags (e.g. `--expired-certificates`).
    pub(crate) fn start_with(extra: &[&str]) -> ServeSigstore {
        let dir = tempfile::tempdir().expect("temp dir for serve-sigstore");
        let mut child = Command::new(crate::support::bin())
            .args(["serve-sigstore", "--listen", "127.0.0.1:0"])
            .args(extra)
            .arg("--trusted-root-out")
            .arg(dir.path().join("trusted_root.json"))
            .arg("--signing-config-out")
            .arg(dir.path().join("signing_config.json"))
            .arg("--trust-config-out")
            .arg(dir.path().join("trust_config.json"))
            .arg("--token-out")
            .arg(dir.path().join("token"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(dir.path().join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start npm-attest serve-sigstore");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let mut server = ServeSigstore { child, base_url: String::new(), dir };
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            panic!("serve-sigstore did not say `listening on URL` (said {line:?}); stderr:\n{}", server.stderr());
        };
        server.base_url = url.trim_end_matches('/').to_owned();
        for file in ["trusted_root.json", "trust_config.json", "token"] {
            assert!(server.dir.path().join(file).exists(), "serve-sigstore did not write {file}");
        }
        server
    }

    /// `http://127.0.0.1:PORT`: Fulcio and Rekor both.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    /// The signing config v0.2 naming its CA and log.
    pub(crate) fn signing_config(&self) -> PathBuf {
        self.dir.path().join("signing_config.json")
    }

    /// The ClientTrustConfig for sigstore-python's `--trust-config`.
    pub(crate) fn trust_config(&self) -> PathBuf {
        self.dir.path().join("trust_config.json")
    }

    /// The token it minted (GitHub Actions-like claims, audience `sigstore`).
    pub(crate) fn token(&self) -> String {
        fs::read_to_string(self.dir.path().join("token")).expect("token").trim().to_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for ServeSigstore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The claims of a JWT (no signature check: a test reads its own stand-in's token).
pub(crate) fn jwt_claims(token: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).expect("base64url"))
        .expect("JWT claims JSON")
}

/// The certificate identity Fulcio derives from a GitHub Actions token:
/// `https://github.com/<job_workflow_ref>`, and the issuer.
pub(crate) fn github_identity(claims: &Value) -> (String, String) {
    let workflow = claims["job_workflow_ref"].as_str().expect("job_workflow_ref claim");
    let issuer = claims["iss"].as_str().expect("iss claim");
    (format!("https://github.com/{workflow}"), issuer.to_owned())
}

/// `npm pack` of a tiny package named `name`@`version` into `dir`: the tarball's path.
pub(crate) fn npm_pack(dir: &Path, name: &str, version: &str) -> PathBuf {
    let pkg = dir.join(format!("src-{}", name.replace(['@', '/'], "_")));
    fs::create_dir_all(&pkg).expect("package dir");
    let manifest = json!({"name": name, "version": version, "main": "index.js", "license": "MIT"});
    write_json(&pkg.join("package.json"), &manifest);
    fs::write(pkg.join("index.js"), format!("module.exports = {name:?};\n")).expect("index.js");
    let mut cmd = Command::new("npm");
    cmd.current_dir(&pkg).args(["pack", "--json", "--pack-destination"]).arg(dir);
    let out = run_with_timeout(cmd, PEER_TIMEOUT);
    assert!(out.status.success(), "npm pack: {}", String::from_utf8_lossy(&out.stderr));
    let packed: Value = serde_json::from_slice(&out.stdout).expect("npm pack --json");
    dir.join(packed[0]["filename"].as_str().expect("filename"))
}

// ---------------------------------------------------------------------------------------------
// Bundle surgery for negative cases.

/// The bundle with one byte of its DSSE payload changed: the first hex digit of the subject's
/// `sha512` is replaced, so the payload is still a well-formed statement and only the
/// signature (and log entry) can tell.
pub(crate) fn with_one_payload_byte_changed(bundle: &Value) -> Value {
    let mut bundle = bundle.clone();
    let payload = bundle["dsseEnvelope"]["payload"].as_str().expect("DSSE payload");
    let mut bytes = B64.decode(payload).expect("payload base64");
    let marker = b"\"sha512\":\"";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .map(|i| i + marker.len())
        .or_else(|| bytes.iter().position(|b| b.is_ascii_hexdigit()))
        .expect("a byte to change");
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    bundle["dsseEnvelope"]["payload"] = Value::String(B64.encode(&bytes));
    bundle
}

/// The bundle with its DSSE payload (a JSON statement) replaced by `edit(statement)`,
/// re-encoded. The signature no longer matches; only for checks that do not verify it.
pub(crate) fn with_statement(bundle: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut bundle = bundle.clone();
    let payload = bundle["dsseEnvelope"]["payload"].as_str().expect("DSSE payload");
    let mut statement: Value =
        serde_json::from_slice(&B64.decode(payload).expect("payload base64")).expect("statement");
    edit(&mut statement);
    bundle["dsseEnvelope"]["payload"] = Value::String(B64.encode(serde_json::to_vec(&statement).expect("JSON")));
    bundle
}

pub(crate) fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

pub(crate) fn write_json(path: &Path, value: &Value) {
    fs::write(path, serde_json::to_vec_pretty(value).expect("JSON")).expect("write JSON");
}

/// `pkg:npm/%40scope/name@1.2.3` → (`@scope/name`, `1.2.3`).
pub(crate) fn name_version_of_purl(purl: &str) -> (String, String) {
    let rest = purl.strip_prefix("pkg:npm/").expect("an npm purl");
    let (name, version) = rest.rsplit_once('@').expect("purl with a version");
    (name.replace("%40", "@"), version.to_owned())
}

pub(crate) fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(Sha512::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// Tests that need nothing but the peers and the stored real bundles.

/// One real bundle of `tests/data/npm-provenance/index.json`.
struct RealBundle {
    path: PathBuf,
    tarball: Option<PathBuf>,
    name: String,
    version: String,
    san: String,
    issuer: String,
    tlog_kind: String,
}

/// The Fulcio-signed bundles (registry-key bundles have no identity to check).
fn real_fulcio_bundles() -> Vec<RealBundle> {
    let index = read_json(&data("npm-provenance/index.json"));
    let entries = index.as_array().expect("index.json is an array");
    let bundles: Vec<RealBundle> = entries
        .iter()
        .filter(|e| e["signer"] == "fulcio-certificate")
        .map(|e| {
            let (name, version) = name_version_of_purl(e["purl"].as_str().expect("purl"));
            RealBundle {
                path: data(&format!("npm-provenance/{}", e["file"].as_str().expect("file"))),
                tarball: e["tarball"].as_str().map(|t| data(&format!("npm-provenance/{t}"))),
                name,
                version,
                san: e["san"].as_str().expect("san").to_owned(),
                issuer: e["issuer"].as_str().expect("issuer").to_owned(),
                tlog_kind: e["tlogKind"].as_str().expect("tlogKind").to_owned(),
            }
        })
        .collect();
    assert_eq!(bundles.len(), 12, "index.json lists 12 Fulcio-signed bundles");
    bundles
}

fn production_root() -> PathBuf {
    data("trust/public-good-production-trusted_root.json")
}

impl RealBundle {
    fn case<'a>(&'a self, root: &'a Path) -> VerifyCase<'a> {
        VerifyCase {
            bundle: &self.path,
            trusted_root: root,
            tarball: self.tarball.as_deref().map(|t| (t, self.name.as_str(), self.version.as_str())),
            artifact: None,
            san: &self.san,
            issuer: &self.issuer,
        }
    }
}

fn playwright() -> RealBundle {
    real_fulcio_bundles()
        .into_iter()
        .find(|b| b.path.ends_with("playwright-cli-0.1.1-provenance.sigstore.json"))
        .expect("the playwright-cli provenance bundle")
}

#[test]
fn sigstore_js_accepts_every_real_npm_bundle_with_its_identity_and_tarball() {
    let root = production_root();
    let mut with_tarball = 0;
    for b in real_fulcio_bundles() {
        let facts = sigstore_js_verify(&b.case(&root)).unwrap_or_else(|r| panic!("{}: {r}", b.path.display()));
        assert_eq!(facts["san"], b.san.as_str(), "{}", b.path.display());
        assert_eq!(facts["issuer"], b.issuer.as_str(), "{}", b.path.display());
        if let Some(tarball) = &b.tarball {
            with_tarball += 1;
            let digest = sha512_hex(&fs::read(tarball).expect("tarball"));
            assert_eq!(facts["sha512"], digest.as_str());
        }
    }
    assert!(with_tarball >= 8, "the npm subject checks ran on {with_tarball} bundles");
}

/// sigstore-python 4.5.1 verifies DSSE bundles only when their log entry is `dsse` (or
/// `hashedrekord`); npm's older `intoto` entries are checked in the next test.
#[test]
fn sigstore_python_accepts_the_real_npm_bundles_with_dsse_entries() {
    let root = production_root();
    let dsse: Vec<RealBundle> = real_fulcio_bundles().into_iter().filter(|b| b.tlog_kind == "dsse/0.0.1").collect();
    assert_eq!(dsse.len(), 3);
    for b in &dsse {
        let facts = sigstore_python_verify(&b.case(&root)).unwrap_or_else(|r| panic!("{}: {r}", b.path.display()));
        assert_eq!(facts["payloadType"], "application/vnd.in-toto+json");
        assert!(facts.contains_key("sha512"), "npm subject checks ran for {}", b.path.display());
    }
}

/// A known limit of the peer (interop-tools.md): it refuses `intoto` log entries for
/// integrated time, which is why npm-attest writes `dsse` entries as npm 11 does.
#[test]
fn sigstore_python_refuses_intoto_log_entries() {
    let root = production_root();
    let b = real_fulcio_bundles()
        .into_iter()
        .find(|b| b.path.ends_with("sigstore-2.1.0-provenance-v0.3.sigstore.json"))
        .expect("bundle");
    assert_eq!(b.tlog_kind, "intoto/0.0.2");
    let rejection = sigstore_python_verify(&b.case(&root)).expect_err("intoto entry");
    assert_eq!(rejection.stage, "sigstore", "{rejection}");
    assert!(rejection.message.contains("dsse/hashedrekord"), "{rejection}");
}

#[test]
fn both_verifiers_reject_a_bundle_with_one_payload_byte_changed() {
    let root = production_root();
    let b = playwright();
    let dir = tempfile::tempdir().unwrap();
    let tampered = dir.path().join("payload-byte-changed.sigstore.json");
    let original = read_json(&b.path);
    let changed = with_one_payload_byte_changed(&original);
    assert_ne!(changed, original);
    write_json(&tampered, &changed);
    let case = VerifyCase { bundle: &tampered, ..b.case(&root) };

    let js = sigstore_js_verify(&case).expect_err("sigstore-js must reject a changed payload");
    assert_eq!(js.stage, "sigstore", "{js}");
    let py = sigstore_python_verify(&case).expect_err("sigstore-python must reject a changed payload");
    assert_eq!(py.stage, "sigstore", "{py}");
}

#[test]
fn npm_clis_own_sigstore_js_accepts_a_real_bundle_and_rejects_a_changed_payload() {
    let root = production_root();
    let b = playwright();
    let facts = npm_cli_sigstore_verify(&b.case(&root)).expect("npm's verifier accepts the real bundle");
    let modules = facts["modules"].as_str().unwrap_or("");
    assert!(modules.ends_with("npm/node_modules"), "expected npm's own copy, got {modules}");
    let dir = tempfile::tempdir().unwrap();
    let tampered = dir.path().join("payload-byte-changed.sigstore.json");
    write_json(&tampered, &with_one_payload_byte_changed(&read_json(&b.path)));
    let r = npm_cli_sigstore_verify(&VerifyCase { bundle: &tampered, ..b.case(&root) }).expect_err("changed payload");
    assert_eq!(r.stage, "sigstore", "{r}");
}

#[test]
fn both_verifiers_reject_a_wrong_san_and_a_wrong_issuer() {
    let root = production_root();
    let b = playwright();
    let wrong_san = "https://github.com/attacker/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1";
    for case in [
        VerifyCase { san: wrong_san, ..b.case(&root) },
        VerifyCase { san: "/^https://github.com/attacker//", ..b.case(&root) },
        VerifyCase { issuer: "https://gitlab.com", ..b.case(&root) },
    ] {
        let js = sigstore_js_verify(&case).expect_err("sigstore-js must reject the identity");
        assert_eq!((js.stage.as_str(), js.code.as_str()), ("sigstore", "UNTRUSTED_SIGNER_ERROR"), "{js}");
        let py = sigstore_python_verify(&case).expect_err("sigstore-python must reject the identity");
        assert_eq!(py.stage, "sigstore", "{py}");
    }
    // The regex form matches, so the rejections above are about the identity, not the syntax.
    let prefix = "/^https:\\/\\/github\\.com\\/microsoft\\/playwright-cli\\//";
    let ok = VerifyCase { san: prefix, ..b.case(&root) };
    sigstore_js_verify(&ok).expect("sigstore-js accepts a matching SAN regex");
    sigstore_python_verify(&ok).expect("sigstore-python accepts a matching SAN regex");
}

#[test]
fn both_verifiers_reject_another_packages_tarball_or_name() {
    let root = production_root();
    let b = playwright();
    let other = data("npm-provenance/tarballs/sigstore-1.0.0.tgz");
    let cases = [
        VerifyCase { tarball: Some((&other, "@playwright/cli", "0.1.1")), ..b.case(&root) },
        VerifyCase { tarball: Some((b.tarball.as_deref().unwrap(), "playwright-cli", "0.1.1")), ..b.case(&root) },
        VerifyCase { tarball: Some((b.tarball.as_deref().unwrap(), "@playwright/cli", "0.1.2")), ..b.case(&root) },
    ];
    for case in cases {
        for (peer, verdict) in [("js", sigstore_js_verify(&case)), ("python", sigstore_python_verify(&case))] {
            let r = verdict.expect_err("the subject does not match the package");
            assert_eq!((r.stage.as_str(), r.code.as_str()), ("npm-subject", "NPM_SUBJECT_ERROR"), "{peer}: {r}");
        }
    }
}

#[test]
fn both_verifiers_reject_a_root_that_does_not_hold_the_signers() {
    let staging = data("trust/public-good-staging-trusted_root.json");
    let b = playwright();
    let case = b.case(&staging);
    assert_eq!(sigstore_js_verify(&case).expect_err("untrusted CA and log").stage, "sigstore");
    assert_eq!(sigstore_python_verify(&case).expect_err("untrusted CA and log").stage, "sigstore");
}

#[test]
fn both_verifiers_check_a_message_signature_against_its_artifact() {
    let root = production_root();
    let bundle = data("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    let signed = data("sigstore-conformance/bundle-verify/a.txt");
    let other = data("sigstore-conformance/statement.json");
    let case = VerifyCase {
        bundle: &bundle,
        trusted_root: &root,
        tarball: None,
        artifact: Some(&signed),
        san: "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
        issuer: "https://token.actions.githubusercontent.com",
    };
    sigstore_js_verify(&case).expect("sigstore-js accepts the signed artifact");
    sigstore_python_verify(&case).expect("sigstore-python accepts the signed artifact");
    let wrong = VerifyCase { artifact: Some(&other), ..case };
    assert_eq!(sigstore_js_verify(&wrong).expect_err("another artifact").stage, "sigstore");
    assert_eq!(sigstore_python_verify(&wrong).expect_err("another artifact").stage, "sigstore");
}

#[test]
fn intoto_attestation_accepts_a_real_slsa_v1_provenance_statement() {
    let facts = intoto_check(&playwright().path).expect("a real npm SLSA v1 statement");
    assert_eq!(facts["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(facts["subjects"], json!(["pkg:npm/%40playwright/cli@0.1.1"]));
    assert_eq!(facts["buildType"], "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1");
    assert_eq!(facts["builderId"], "https://github.com/actions/runner/github-hosted");
}

#[test]
fn intoto_attestation_rejects_unknown_fields_and_missing_required_ones() {
    let original = read_json(&playwright().path);
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(&mut Value);
    let cases: [(&str, &str, Edit); 5] = [
        ("statement-unknown-field", "statement", |s| {
            s["subjects"] = json!([]);
        }),
        ("predicate-unknown-field", "predicate", |s| {
            s["predicate"]["runDetails"]["builder"]["name"] = json!("x");
        }),
        ("predicate-no-build-type", "predicate", |s| {
            s["predicate"]["buildDefinition"].as_object_mut().unwrap().remove("buildType");
        }),
        ("predicate-no-builder-id", "predicate", |s| {
            s["predicate"]["runDetails"]["builder"].as_object_mut().unwrap().remove("id");
        }),
        ("statement-v0.1-type", "statement", |s| {
            s["_type"] = json!("https://in-toto.io/Statement/v0.1");
        }),
    ];
    for (name, stage, edit) in cases {
        let path = dir.path().join(format!("{name}.sigstore.json"));
        write_json(&path, &with_statement(&original, edit));
        let r = intoto_check(&path).expect_err(name);
        assert_eq!(r.stage, stage, "{name}: {r}");
    }
    // The same re-encoding with no edit is accepted, so the rejections come from the edits.
    let path = dir.path().join("re-encoded.sigstore.json");
    write_json(&path, &with_statement(&original, |_| {}));
    intoto_check(&path).expect("re-encoded statement");
}

#[test]
fn verdaccio_takes_a_plain_npm_publish_and_serves_the_install() {
    let registry = Verdaccio::start();
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pkg");
    fs::create_dir(&pkg).unwrap();
    let name = "@npm-attest-test/tiny";
    fs::write(
        pkg.join("package.json"),
        serde_json::to_vec_pretty(&json!({"name": name, "version": "1.0.0", "main": "index.js", "license": "MIT"}))
            .unwrap(),
    )
    .unwrap();
    fs::write(pkg.join("index.js"), "module.exports = 42;\n").unwrap();

    let publish = run_with_timeout(
        {
            let mut c = registry.npm(&pkg);
            c.args(["publish", "--access", "public"]);
            c
        },
        PEER_TIMEOUT,
    );
    assert!(publish.status.success(), "npm publish: {}\n{}", String::from_utf8_lossy(&publish.stderr), registry.log());

    let (status, body) = registry.get("/@npm-attest-test%2ftiny");
    assert_eq!(status, 200, "{body}");
    let packument: Value = serde_json::from_str(&body).expect("packument JSON");
    assert_eq!(packument["dist-tags"]["latest"], "1.0.0");
    assert!(packument["versions"]["1.0.0"]["dist"]["integrity"].as_str().unwrap_or("").starts_with("sha512-"));

    let app = work.path().join("app");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("package.json"), r#"{"name":"app","version":"0.0.0","private":true}"#).unwrap();
    let install = run_with_timeout(
        {
            let mut c = registry.npm(&app);
            c.args(["install", &format!("{name}@1.0.0")]);
            c
        },
        PEER_TIMEOUT,
    );
    assert!(install.status.success(), "npm install: {}", String::from_utf8_lossy(&install.stderr));
    let installed = read_json(&app.join("node_modules/@npm-attest-test/tiny/package.json"));
    assert_eq!(installed["version"], "1.0.0");
    assert_eq!(
        fs::read_to_string(app.join("node_modules/@npm-attest-test/tiny/index.js")).unwrap(),
        "module.exports = 42;\n"
    );

    let port = registry.port();
    drop(registry);
    assert!(http_get(port, "/-/ping").is_err(), "Verdaccio still answers after drop");
}

#[test]
fn missing_peers_fail_with_the_setup_hint() {
    let result = std::panic::catch_unwind(|| require_installed(Path::new("/nonexistent/.interop/venv"), "x"));
    let message = *result.expect_err("must fail").downcast::<String>().expect("message");
    assert!(message.contains("run tests/setup-interop"), "{message}");
}

#[test]
fn zizmor_runs_offline() {
    let out = zizmor(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("zizmor 1.32.0"));
}
