//! What release tools read after a publish (GitHub issue 12; package-managers.md §5):
//! changesets/action v1 scans stdout for `New tag: <name>@<version>` lines, v2 reads git-tag
//! events from the NDJSON file named by `CHANGESETS_OUTPUT`. Git tags themselves are made only
//! when asked (`--git-tag`), with changesets' tag name `<name>@<version>`.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;

use crate::error::{fail, ExitKind};
use crate::report;

/// One published version.
pub(crate) struct Released<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
}

/// The `New tag:` lines (text output only: `--json` keeps stdout one object), the
/// `CHANGESETS_OUTPUT` events and, with `git_tag`, the git tags, for the versions published.
pub(crate) fn announce(
    released: &[Released<'_>],
    env: &dyn Fn(&str) -> Option<String>,
    text_output: bool,
    git_tag: bool,
) -> anyhow::Result<()> {
    if released.is_empty() {
        return Ok(());
    }
    if text_output {
        for r in released {
            report::data(&format!("New tag: {}@{}", r.name, r.version));
        }
    }
    if git_tag {
        for r in released {
            let tag = format!("{}@{}", r.name, r.version);
            // Like every child we start, git gets none of our credentials (its config may run
            // commands of the repository's choosing).
            let out = std::process::Command::new("git")
                .args(["tag", &tag])
                .env_clear()
                .envs(crate::npm::pack::child_env())
                .stdin(std::process::Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => report::info(&format!("Created git tag {tag}")),
                Ok(o) => report::warn(&format!(
                    "could not create git tag {tag}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => report::warn(&format!("could not run git to create tag {tag}: {e}")),
            }
        }
    }
    if let Some(path) = env("CHANGESETS_OUTPUT").filter(|p| !p.trim().is_empty()) {
        let mut lines = String::new();
        for r in released {
            let event = json!({"type": "git-tag", "tag": format!("{}@{}", r.name, r.version), "packageName": r.name});
            lines.push_str(&event.to_string());
            lines.push('\n');
        }
        append(Path::new(&path), lines.as_bytes())?;
    }
    Ok(())
}

fn append(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let cannot = |e: std::io::Error| {
        fail(ExitKind::Environment, format!("cannot append to CHANGESETS_OUTPUT file {}: {e}", path.display()))
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(cannot)?;
    file.write_all(bytes).map_err(cannot)
}
