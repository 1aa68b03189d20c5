//! Packing a package directory into the tarball that is signed and published, with the
//! project's own package manager (GitHub issue 12; package-managers.md §8 rule 1).
//!
//! - The manager is the one the project uses (`packageManager`, then lockfiles, walking up from
//!   the package; `--package-manager` overrides), and its own pack step writes the tarball: no
//!   two managers write the same bytes, so none is imitated.
//! - It packs into a private temporary directory outside the package; nothing is written into
//!   the package directory by us.
//! - The child (and the lifecycle scripts it runs) gets our environment without credentials
//!   (`core::npm::pack::is_credential_var`).
//! - A failure shows the manager's own error lines, not its log-file footer.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::core::npm::pack::{detect, error_lines, is_credential_var, own_outputs, LevelFacts, Manager, Reason};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::report;

/// How many parent directories are searched for a `packageManager` field or a lockfile.
const MAX_LEVELS: usize = 32;
/// How many error lines of a failed pack are shown.
const MAX_ERROR_LINES: usize = 8;
/// The output directory used when the current directory is inside a package being packed.
pub const OUTPUT_DIR: &str = ".npm-attest";

/// A tarball packed into a private temporary directory (removed when this is dropped).
#[derive(Debug)]
pub struct Packed {
    pub tarball: PathBuf,
    pub manager: Manager,
    pub dir: tempfile::TempDir,
}

/// The manager that packs `dir`: `flag` if given, else detected.
pub fn manager_for(dir: &Path, flag: Option<Manager>) -> (Manager, String) {
    if let Some(m) = flag {
        return (m, "--package-manager".to_owned());
    }
    let mut levels = Vec::new();
    let start = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for level in start.ancestors().take(MAX_LEVELS) {
        let manifest: Option<Value> =
            std::fs::read(level.join("package.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let field = |v: &Option<Value>, path: &[&str]| {
            let mut cur = v.as_ref()?;
            for key in path {
                cur = cur.get(key)?;
            }
            cur.as_str().map(str::to_owned)
        };
        let files = [
            "bun.lock",
            "bun.lockb",
            "pnpm-lock.yaml",
            "pnpm-workspace.yaml",
            "yarn.lock",
            ".yarnrc.yml",
            "package-lock.json",
            "npm-shrinkwrap.json",
        ]
        .iter()
        .filter(|f| level.join(f).is_file())
        .map(|f| (*f).to_owned())
        .collect();
        levels.push(LevelFacts {
            package_manager_field: field(&manifest, &["packageManager"]),
            dev_engines_name: field(&manifest, &["devEngines", "packageManager", "name"]),
            files,
        });
    }
    let (manager, reason) = detect(&levels);
    let at = |level: usize| start.ancestors().nth(level).map(|p| p.display().to_string()).unwrap_or_default();
    let why = match reason {
        Reason::Flag => "--package-manager".to_owned(),
        Reason::Field { level, value } => format!("packageManager \"{value}\" in {}", at(level)),
        Reason::Lockfile { level, file } => format!("{file} in {}", at(level)),
        Reason::Default => "no packageManager field or lockfile found".to_owned(),
    };
    (manager, why)
}

/// Packs `dir` with its package manager into a fresh private temporary directory.
pub async fn pack(dir: &Path, flag: Option<Manager>) -> anyhow::Result<Packed> {
    let (manager, why) = manager_for(dir, flag);
    report::info(&format!("Packing {} with `{manager} pack` ({why})", dir.display()));
    warn_ignored_publish_directory(dir, manager);
    let dest = tempfile::Builder::new()
        .prefix("npm-attest-pack-")
        .tempdir()
        .map_err(|e| fail(ExitKind::Environment, format!("cannot create a temporary directory: {e}")))?;
    let tarball = run_pack(manager, dir, dest.path()).await?;
    Ok(Packed { tarball, manager, dir: dest })
}

/// `publishConfig.directory` (publish a subdirectory, usually a build output with its own
/// package.json) is pnpm's: `pnpm pack` packs that directory, which is what we sign. npm, Yarn
/// and Bun ignore the field and pack the package directory itself, and so do we, since the
/// tarball signed is the one the project's manager makes; say so, with the way to publish the
/// subdirectory.
fn warn_ignored_publish_directory(dir: &Path, manager: Manager) {
    if manager == Manager::Pnpm {
        return;
    }
    let manifest: Option<Value> =
        std::fs::read(dir.join("package.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let Some(sub) = manifest.as_ref().and_then(|m| m.get("publishConfig")?.get("directory")?.as_str()) else {
        return;
    };
    let how = if manager == Manager::Yarn {
        "Yarn packs workspaces only, so the subdirectory cannot be published with it (changesets refuses publishConfig.directory with Yarn too)".to_owned()
    } else {
        format!("to publish the subdirectory, pass it as the package ({})", dir.join(sub).display())
    };
    report::warn(&format!(
        "{}: publishConfig.directory \"{sub}\" is ignored, as `{manager} pack` ignores it (only pnpm packs it): the package directory itself is packed; {how}",
        dir.display(),
    ));
}

/// The environment of a packing child: ours, without anything that may carry a credential.
pub fn child_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os().filter(|(k, _)| !is_credential_var(&k.to_string_lossy())).collect()
}

/// Runs the manager's pack step in `dir`, writing into `dest`, and returns the one tarball.
async fn run_pack(manager: Manager, dir: &Path, dest: &Path) -> anyhow::Result<PathBuf> {
    let dest_text = dest.to_string_lossy().into_owned();
    let _progress = crate::progress::Ticker::start(format!("packing {} with `{manager} pack`", dir.display()));
    let output = tokio::process::Command::new(manager.as_str())
        .args(manager.pack_args(&dest_text))
        .current_dir(dir)
        .env_clear()
        .envs(child_env())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                fail_with_hint(
                    ExitKind::Environment,
                    format!("cannot pack {}: {manager} is not installed", dir.display()),
                    format!("install {manager} (the project's package manager), pass --package-manager, or pass a tarball made by `{manager} pack`"),
                )
            } else {
                fail(ExitKind::Environment, format!("cannot run `{manager} pack` in {}: {e}", dir.display()))
            }
        })?;
    if !output.status.success() {
        let lines = error_lines(
            &String::from_utf8_lossy(&output.stderr),
            &String::from_utf8_lossy(&output.stdout),
            MAX_ERROR_LINES,
        );
        let text = if lines.is_empty() { "no output".to_owned() } else { lines.join(" | ") };
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("`{manager} pack` failed in {} ({}): {text}", dir.display(), output.status),
            format!("run `{manager} pack` there to see the full output"),
        ));
    }
    // Lifecycle scripts may print to stdout too: trust the one tarball that appeared in the
    // (fresh, empty) destination instead of the manager's machine output.
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
        [] => Err(fail(ExitKind::Environment, format!("`{manager} pack` in {} wrote no tarball", dir.display()))),
        _ => Err(fail(
            ExitKind::BadInput,
            format!(
                "`{manager} pack` in {} wrote {} tarballs (workspaces?), expected one",
                dir.display(),
                tarballs.len()
            ),
        )),
    }
}

/// The tarball file name npm, pnpm and Bun give a package (`@scope/name` → `scope-name`).
pub fn tarball_name(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", name.trim_start_matches('@').replace('/', "-"))
}

/// What must hold before a tarball is signed: none of our own outputs inside, and no
/// workspace-only dependency specs left in its package.json.
pub fn check_signable(tarball: &crate::npm::tarball::PackageTarball) -> anyhow::Result<()> {
    let label = format!("{}@{}", tarball.name, tarball.version.as_str());
    refuse_own_outputs(&label, &tarball.files)?;
    refuse_leaked_protocols(&label, &tarball.manifest)
}

/// Refuses a tarball that holds npm-attest's own outputs (a previous run's bundle or trusted
/// root written into the package directory), with the fix.
pub fn refuse_own_outputs(label: &str, files: &[String]) -> anyhow::Result<()> {
    let found = own_outputs(files);
    if found.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = found.iter().take(3).copied().collect();
    Err(fail_with_hint(
        ExitKind::BadInput,
        format!(
            "refusing to sign {label}: the tarball contains npm-attest's own output{} {}",
            if found.len() == 1 { "" } else { "s" },
            shown.join(", ")
        ),
        "delete those files from the package directory (or add them to .npmignore / leave them out of \"files\"), then pack again; pass --output-dir outside the package to keep future outputs out",
    ))
}

/// Refuses a package whose packed package.json still holds `workspace:` or `catalog:`
/// dependencies: every consumer's install would fail (`EUNSUPPORTEDPROTOCOL`).
pub fn refuse_leaked_protocols(label: &str, manifest: &serde_json::Map<String, Value>) -> anyhow::Result<()> {
    let leaks = crate::core::npm::pack::leaked_protocols(manifest);
    let Some((field, name, spec)) = leaks.first() else {
        return Ok(());
    };
    Err(fail_with_hint(
        ExitKind::BadInput,
        format!(
            "refusing to sign {label}: its package.json still has {field}.{name} = \"{spec}\"{}, which no installer outside the workspace can resolve",
            if leaks.len() > 1 { format!(" and {} more", leaks.len() - 1) } else { String::new() }
        ),
        "pack with the workspace's own package manager (its `packageManager` field, lockfile, or --package-manager pnpm|yarn|bun), which replaces workspace: and catalog: with versions",
    ))
}

/// Where outputs go when no `--output`/`--output-dir` is given: the current directory, or, when
/// it is inside one of the package directories being packed, `.npm-attest/` in it (created
/// with ignore files so that no package manager packs it).
pub fn default_output_dir(package_dirs: &[&Path]) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| fail(ExitKind::Environment, format!("cannot read the current directory: {e}")))?;
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    let inside = package_dirs.iter().any(|dir| std::fs::canonicalize(dir).is_ok_and(|dir| cwd.starts_with(dir)));
    if !inside {
        return Ok(PathBuf::from("."));
    }
    let out = PathBuf::from(OUTPUT_DIR);
    let cannot = |e: io::Error| {
        fail_with_hint(
            ExitKind::Environment,
            format!("cannot create the output directory {OUTPUT_DIR}: {e}"),
            "pass --output-dir DIR outside the package",
        )
    };
    std::fs::create_dir_all(&out).map_err(cannot)?;
    // `*` in both ignore files: npm-packlist, pnpm, Yarn and Bun read nested ignore files, so
    // the directory stays out of the next tarball (and out of git).
    for ignore in [".gitignore", ".npmignore"] {
        let path = out.join(ignore);
        if !path.exists() {
            std::fs::write(&path, "# npm-attest outputs: never packed, never committed\n*\n").map_err(cannot)?;
        }
    }
    report::info(&format!(
        "The current directory is inside the package being packed: outputs go to {OUTPUT_DIR}/ (or pass --output-dir)"
    ));
    Ok(out)
}

/// Moves a file, copying when the two paths are on different file systems (the private pack
/// directory is in the system's temporary directory).
pub fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if crate::fsutil::rename(from, to).is_ok() {
        return Ok(());
    }
    let bytes =
        std::fs::read(from).map_err(|e| fail(ExitKind::Environment, format!("cannot read {}: {e}", from.display())))?;
    crate::fsutil::write_atomic(to, &bytes)?;
    let _ = std::fs::remove_file(from);
    Ok(())
}
