//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `npm-attest` binary cargo built for this test run.
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_npm-attest"))
}

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/data/<rel>`.
pub(crate) fn data(rel: &str) -> PathBuf {
    repo_root().join("tests").join("data").join(rel)
}

/// Runs `npm-attest` with `args` in `dir`, with a clean environment (no GitHub/GitLab variables
/// leaking in from the machine running the tests) plus `envs`.
pub(crate) fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args(args).env_clear();
    for key in ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    // Never the public TUF repository nor the machine's own TUF cache: trust material comes from
    // the embedded snapshot unless a test names a repository (tests/it/tuf.rs) or a root file.
    cmd.env("NPM_ATTEST_OFFLINE", "1").env("NPM_ATTEST_CACHE_DIR", empty_cache_dir());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run npm-attest")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A TUF cache directory that stays empty (no test refreshes into it).
pub(crate) fn empty_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tuf-cache-never-filled")
}
