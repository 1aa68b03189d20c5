//! Writing output files atomically: a temporary file in the target directory, flushed to
//! disk, then renamed into place. A failure at any point leaves no partial file behind
//! (ARCHITECTURE.md, "Nothing half-written").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{fail, fail_with_hint, ExitKind};

/// Writes `bytes` to `path` atomically, replacing an existing file. The file is readable by
/// everyone (0644 on Unix, as `npm pack` writes tarballs): what is written here (bundles,
/// trusted roots, tarballs' provenance) holds no secret by construction, and later CI steps or
/// other users must be able to read it. Secrets are never written with this function.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let cannot = |what: &str, e: std::io::Error| {
        fail_with_hint(
            ExitKind::Environment,
            format!("cannot write {}: {what}: {e}", path.display()),
            "check that the directory exists and is writable",
        )
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".npm-attest-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| cannot("cannot create a temporary file", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| cannot("cannot make it readable", e))?;
    }
    tmp.write_all(bytes).map_err(|e| cannot("write failed", e))?;
    tmp.as_file().sync_all().map_err(|e| cannot("sync failed", e))?;
    // `persist` renames within the directory; on failure the temporary file is removed
    // when the returned error (which owns it) is dropped.
    tmp.persist(path).map_err(|e| cannot("rename failed", e.error))?;
    Ok(())
}

/// The directory a path lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renames `from` to `to` (same file system), failing with a message naming both.
pub(crate) fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .map_err(|e| fail(ExitKind::Environment, format!("cannot move {} to {}: {e}", from.display(), to.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "bundles are for other steps and users to read");
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing").join("out.json");
        let err = write_atomic(&target, b"x").unwrap_err();
        assert!(err.to_string().contains("out.json"), "{err}");
        assert!(!target.exists());
    }
}
