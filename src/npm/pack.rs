//! Packing a package directory into the tarball that is signed and published, as `npm publish`
//! packs it.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{fail, fail_with_hint, ExitKind};

/// Runs `npm pack --json --pack-destination <dest>` in `dir`, as `npm publish` packs a
/// directory, and returns the tarball it wrote.
pub async fn npm_pack(dir: &Path, dest: &Path) -> anyhow::Result<PathBuf> {
    let _progress = crate::progress::Ticker::start(format!("packing {} with `npm pack`", dir.display()));
    let output = tokio::process::Command::new("npm")
        .arg("pack")
        .arg("--json")
        .arg("--pack-destination")
        .arg(dest)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                fail_with_hint(
                    ExitKind::Environment,
                    format!("cannot pack {}: npm is not installed", dir.display()),
                    "install Node.js and npm, or pass a tarball made by `npm pack`",
                )
            } else {
                fail(ExitKind::Environment, format!("cannot run `npm pack` in {}: {e}", dir.display()))
            }
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("`npm pack` failed in {} ({}): {}", dir.display(), output.status, last.trim()),
            "run `npm pack` there to see the full error",
        ));
    }
    // `--json` prints `[{"filename": ...}]`, but lifecycle scripts may print to stdout too:
    // trust the one tarball that appeared in the (fresh, empty) destination instead.
    let mut tarballs = Vec::new();
    let listing = std::fs::read_dir(dest)
        .map_err(|e| fail(ExitKind::Environment, format!("cannot list {}: {e}", dest.display())))?;
    for entry in listing {
        let entry = entry.map_err(|e| fail(ExitKind::Environment, format!("cannot list {}: {e}", dest.display())))?;
        if entry.path().extension().is_some_and(|x| x == "tgz") {
            tarballs.push(entry.path());
        }
    }
    match tarballs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(fail(ExitKind::Environment, format!("`npm pack` in {} wrote no tarball", dir.display()))),
        _ => Err(fail(
            ExitKind::BadInput,
            format!("`npm pack` in {} wrote {} tarballs (workspaces?), expected one", dir.display(), tarballs.len()),
        )),
    }
}
