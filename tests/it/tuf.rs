//! The TUF client against repositories built by python-tuf (tests/interop/tuf-repo.py, the
//! recipe of the TUF conformance suite), served from 127.0.0.1: a normal update, root rotation
//! 1→2→3, a new log shard, and attacks each refused with its name; `--offline`, the fallback to
//! the cache, and the dry run through the stand-in's own TUF repository (which python-tuf's
//! client accepts too).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::interop::{interop_dir, venv_python};
use crate::support::{data, repo_root, run_in, stderr, stdout};

/// A static file server on 127.0.0.1 whose directory the test switches between steps.
pub(crate) struct Static {
    pub(crate) url: String,
    dir: Arc<Mutex<Option<PathBuf>>>,
}

impl Static {
    fn start(dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let current = Arc::new(Mutex::new(Some(dir.to_owned())));
        let shared = current.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
                let dir = shared.lock().unwrap().clone();
                let Some(dir) = dir else {
                    // "Down": close without an answer, as a dead network would.
                    continue;
                };
                let file = if path.contains("..") { None } else { std::fs::read(dir.join(&path)).ok() };
                let (status, body) = match file {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self { url, dir: current }
    }

    pub(crate) fn serve(&self, dir: &Path) {
        *self.dir.lock().unwrap() = Some(dir.to_owned());
    }

    pub(crate) fn go_down(&self) {
        *self.dir.lock().unwrap() = None;
    }
}

/// A repository built by python-tuf for `scenario`, its trusted_root.json targets `roots`.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: Static,
    pub(crate) cache: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn build(scenario: &str, roots: &[&Path]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("repo");
        let status = std::process::Command::new(venv_python())
            .arg(repo_root().join("tests/interop/tuf-repo.py"))
            .args(["build", scenario, out.to_str().unwrap()])
            .args(roots)
            .env("NPM_ATTEST_INTEROP", interop_dir())
            .status()
            .unwrap();
        assert!(status.success(), "tuf-repo.py build {scenario} failed");
        let server = Static::start(&out.join("step0"));
        Self { dir, server, cache: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn step(&self, n: u32) {
        self.server.serve(&self.dir.path().join("repo").join(format!("step{n}")));
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("repo/root.json")
    }

    /// `npm-attest ARGS --tuf-url URL --tuf-root root.json`, online, always refreshing.
    pub(crate) fn run(&self, args: &[&str], cache: &Path) -> Output {
        let root = self.root();
        let mut argv: Vec<&str> = args.to_vec();
        argv.extend(["--tuf-url", &self.server.url, "--tuf-root", root.to_str().unwrap()]);
        run_in(
            self.dir.path(),
            &argv,
            &[
                ("NPM_ATTEST_OFFLINE", "0"),
                ("NPM_ATTEST_CACHE_DIR", cache.to_str().unwrap()),
                ("NPM_ATTEST_TUF_CACHE_MAX_AGE", "0"),
                ("NPM_ATTEST_RETRY_DEADLINE_SECS", "2"),
            ],
        )
    }

    pub(crate) fn trust_root(&self) -> Output {
        let out = self.dir.path().join("trusted_root.out.json");
        self.run(&["trust-root", "--out", out.to_str().unwrap()], self.cache.path())
    }

    pub(crate) fn fetched(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("trusted_root.out.json")).unwrap()
    }
}

pub(crate) fn production() -> PathBuf {
    repo_root().join("src/sigstore/roots/public-good-production.json")
}

pub(crate) fn staging() -> PathBuf {
    repo_root().join("src/sigstore/roots/public-good-staging.json")
}

pub(crate) fn ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}\n{}", out.status.code(), stderr(out));
}

/// The second refresh is refused, naming `attack`, and the first state is kept.
fn refused(scenario: &str, attack: &str) {
    let f = Fixture::build(scenario, &[&production(), &staging()]);
    ok(&f.trust_root());
    f.step(1);
    let out = f.trust_root();
    assert_eq!(out.status.code(), Some(1), "{scenario}: {}", stderr(&out));
    assert!(stderr(&out).contains(attack), "{scenario}: expected {attack:?} in {}", stderr(&out));
    // Nothing of the refused update was used: what was written is what the first refresh got.
    assert_eq!(f.fetched(), std::fs::read(production()).unwrap());
    // Nor is it ever taken later: the cache kept its rollback floors, and the next online run
    // is refused the same way.
    let out = f.trust_root();
    assert_eq!(out.status.code(), Some(1), "{scenario}: {}", stderr(&out));
    assert!(stderr(&out).contains(attack), "{scenario}: expected {attack:?} in {}", stderr(&out));
    // The state verified before is still there, offline.
    let out = f.run(&["trust-root", "--offline"], f.cache.path());
    ok(&out);
    assert_eq!(stdout(&out).trim_end().as_bytes(), std::fs::read(production()).unwrap().trim_ascii_end());
}

#[test]
fn normal_update_takes_the_new_trusted_root() {
    let f = Fixture::build("normal_update", &[&production(), &staging()]);
    ok(&f.trust_root());
    assert_eq!(f.fetched(), std::fs::read(production()).unwrap());
    f.step(1);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("refreshed now"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
}

#[test]
fn root_rotation_1_to_3_with_fast_forward_recovery() {
    let f = Fixture::build("root_rotation_1_to_3", &[&production(), &staging()]);
    ok(&f.trust_root());
    f.step(1);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v3"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
}

#[test]
fn attack_root_signed_below_threshold_is_refused() {
    refused("root_below_threshold", "signature threshold not met");
}

#[test]
fn attack_targets_signed_below_threshold_is_refused() {
    refused("targets_below_threshold", "signature threshold not met");
}

#[test]
fn attack_freeze_expired_timestamp_is_refused() {
    refused("freeze_expired_timestamp", "freeze attack");
}

#[test]
fn attack_rollback_of_the_snapshot_is_refused() {
    refused("rollback_snapshot_via_timestamp", "rollback attack");
}

#[test]
fn attack_rollback_of_the_targets_is_refused() {
    refused("rollback_targets_via_snapshot", "rollback attack");
}

#[test]
fn attack_mix_and_match_snapshot_is_refused() {
    refused("mix_and_match_snapshot", "mix-and-match attack");
}

#[test]
fn attack_target_hash_mismatch_is_refused() {
    let f = Fixture::build("target_hash_mismatch", &[&production()]);
    let out = f.trust_root();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("hash or length mismatch"), "{}", stderr(&out));
    assert!(!f.dir.path().join("trusted_root.out.json").exists());
}

#[test]
fn attack_endless_data_target_is_refused() {
    let f = Fixture::build("endless_data_target", &[&production()]);
    let out = f.trust_root();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("endless data"), "{}", stderr(&out));
}

#[test]
fn network_failure_falls_back_to_a_valid_cache_and_fails_closed_without_one() {
    let f = Fixture::build("normal_update", &[&production()]);
    ok(&f.trust_root());
    f.server.go_down();
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("using the verified cache"), "{}", stderr(&out));
    // A fresh cache: nothing valid to fall back to, so no trust material at all.
    let empty = tempfile::tempdir().unwrap();
    let out = f.run(&["trust-root"], empty.path());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("--offline"), "{}", stderr(&out));
}

#[test]
fn offline_uses_the_cache_or_the_embedded_snapshot_and_says_which() {
    let f = Fixture::build("normal_update", &[&production()]);
    ok(&f.trust_root());
    f.server.go_down();
    let out = f.run(&["trust-root", "--offline"], f.cache.path());
    ok(&out);
    assert!(stderr(&out).contains("from the TUF cache"), "{}", stderr(&out));
    // A private repository has no embedded snapshot: offline without a cache is an error.
    let empty = tempfile::tempdir().unwrap();
    let out = f.run(&["trust-root", "--offline"], empty.path());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Public-good with no cache: the embedded trusted root, with its date.
    let out = run_in(Path::new("."), &["trust-root", "--offline"], &[]);
    ok(&out);
    assert!(stderr(&out).contains("embedded in npm-attest"), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end().as_bytes(), std::fs::read(production()).unwrap().trim_ascii_end());
}

/// A dry-run bundle and the stand-in's trusted root, and that root without its log (the shard
/// the bundle is logged in is "added later").
fn dry_run_bundle(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::copy(data("npm-provenance/tarballs/tuf-js-1.0.0.tgz"), dir.join("tuf-js-1.0.0.tgz")).unwrap();
    let env = [("GITHUB_REPOSITORY", "octo/hello"), ("GITHUB_REF", "refs/tags/v1.0.0")];
    let out = run_in(dir, &["attest", "--dry-run", "--verbose", "tuf-js-1.0.0.tgz"], &env);
    ok(&out);
    // The dry run took its trust material from the stand-in's TUF repository.
    assert!(stderr(&out).contains("stand-in trust material from TUF http://127.0.0.1:"), "{}", stderr(&out));
    let full = dir.join("trusted_root.json");
    let mut without: Value = serde_json::from_slice(&std::fs::read(&full).unwrap()).unwrap();
    without["tlogs"] = Value::Array(Vec::new());
    let before = dir.join("before-shard.json");
    std::fs::write(&before, serde_json::to_vec_pretty(&without).unwrap()).unwrap();
    (before, full)
}

#[test]
fn a_new_log_shard_published_through_tuf_makes_its_bundles_verify() {
    let work = tempfile::tempdir().unwrap();
    let (before, after) = dry_run_bundle(work.path());
    let f = Fixture::build("normal_update", &[&before, &after]);
    let bundle = work.path().join("tuf-js-1.0.0.sigstore.json");
    let tarball = work.path().join("tuf-js-1.0.0.tgz");
    let verify = |f: &Fixture, cache: &Path| {
        f.run(
            &[
                "verify",
                "--bundle",
                bundle.to_str().unwrap(),
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
                "--repository",
                "octo/hello",
                tarball.to_str().unwrap(),
            ],
            cache,
        )
    };
    let out = verify(&f, f.cache.path());
    assert_eq!(out.status.code(), Some(1), "the shard is not trusted yet: {}", stderr(&out));
    let old_cache = tempfile::tempdir().unwrap();
    copy_dir(f.cache.path(), old_cache.path());
    f.step(1);
    ok(&verify(&f, f.cache.path()));
    // Offline, the old cache still does not know the shard.
    let root = f.root();
    let out = run_in(
        work.path(),
        &[
            "verify",
            "--offline",
            "--tuf-url",
            &f.server.url,
            "--tuf-root",
            root.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--repository",
            "octo/hello",
            tarball.to_str().unwrap(),
        ],
        &[("NPM_ATTEST_CACHE_DIR", old_cache.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn python_tuf_accepts_the_stand_ins_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tuf-root.json");
    let mut child = std::process::Command::new(crate::support::bin())
        .args(["serve-sigstore", "--tuf-root-out", root.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().trim_start_matches("listening on ").to_owned();
    let out_file = dir.path().join("trusted_root.json");
    let out = std::process::Command::new(venv_python())
        .arg(repo_root().join("tests/interop/tuf-repo.py"))
        .args(["client", &format!("{base}/tuf"), root.to_str().unwrap(), "trusted_root.json"])
        .arg(&out_file)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let served: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert!(served["mediaType"].as_str().unwrap().starts_with("application/vnd.dev.sigstore.trustedroot"));
}

/// `attest` in an Actions-like job signing with serve-sigstore A, its trust material through
/// the TUF repository of `tuf_from` (`<URL>/tuf` and the `1.root.json` it wrote).
fn attest_with_tuf_from(
    signer: &crate::interop::ServeSigstore,
    tuf_from: &crate::interop::ServeSigstore,
    root: &Path,
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("npm-provenance/tarballs/tuf-js-1.0.0.tgz"), dir.path().join("tuf-js-1.0.0.tgz")).unwrap();
    let token = signer.token();
    let claims = crate::interop::jwt_claims(&token);
    let repository = claims["repository"].as_str().unwrap().to_owned();
    let summary = dir.path().join("summary");
    let tuf_url = format!("{}/tuf", tuf_from.base_url());
    run_in(
        dir.path(),
        &[
            "attest",
            "tuf-js-1.0.0.tgz",
            "--sigstore",
            signer.base_url(),
            "--identity-token",
            &token,
            "--tuf-url",
            &tuf_url,
            "--tuf-root",
            root.to_str().unwrap(),
        ],
        &[
            ("NPM_ATTEST_OFFLINE", "0"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", &repository),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    )
}

#[test]
fn the_post_signing_check_refuses_every_failure_with_trust_fresh_from_tuf() {
    let roots = tempfile::tempdir().unwrap();
    let root_a = roots.path().join("a-root.json");
    let root_b = roots.path().join("b-root.json");
    let a = crate::interop::ServeSigstore::start_with(&["--tuf-root-out", root_a.to_str().unwrap()]);
    let b = crate::interop::ServeSigstore::start_with(&["--tuf-root-out", root_b.to_str().unwrap()]);
    // A's own trust material, through A's TUF repository: the fresh bundle verifies.
    let out = attest_with_tuf_from(&a, &a, &root_a);
    ok(&out);
    // B's: the certificate chains to no CA it trusts. Against the embedded public-good snapshot
    // only an unknown log key is tolerated; with trust fresh from TUF nothing is.
    let out = attest_with_tuf_from(&a, &b, &root_b);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("does not verify against the TUF-fresh"), "{all}");
    // Refused before anything was written.
    assert!(!all.contains("tuf-js-1.0.0.sigstore.json"), "{all}");
}
