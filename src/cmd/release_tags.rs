//! What release tools read after a publish (GitHub issue 12; package-managers.md §5):
//! changesets/action v1 scans stdout for `New tag: <name>@<version>` lines, v2 reads git-tag
//! events from the NDJSON file named by `CHANGESETS_OUTPUT`. Git tags themselves are made only
//! when asked (`--git-tag`), as changesets makes them: annotated (`git push --follow-tags`
//! pushes only those), named `<name>@<version>`, in the current directory's repository, and a
//! tag that exists already is left as it is.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;

use crate::error::{fail, fail_with_hint, ExitKind};
use crate::report;

/// One published version.
pub(crate) struct Released<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
}

/// The `New tag:` lines (text output only: `--json` keeps stdout one object), the
/// `CHANGESETS_OUTPUT` events and, with `git_tag`, the git tags, for the versions published.
/// A tag that cannot be made fails the command after everything else was written (the
/// versions stay published), naming the tags to make by hand.
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
    let mut untagged: Vec<(String, String)> = Vec::new();
    if git_tag {
        for r in released {
            let tag = format!("{}@{}", r.name, r.version);
            match git(&["tag", "--list", &tag]) {
                Ok(listed) if listed.trim() == tag => {
                    report::info(&format!("Git tag {tag} exists already: left as it is"));
                    continue;
                }
                Ok(_) => {}
                Err(why) => {
                    report::warn(&format!("could not create git tag {tag}: {why}"));
                    untagged.push((tag, why));
                    continue;
                }
            }
            match git(&["tag", &tag, "-m", &tag]) {
                Ok(_) => report::info(&format!("Created git tag {tag}")),
                Err(why) => {
                    report::warn(&format!("could not create git tag {tag}: {why}"));
                    untagged.push((tag, why));
                }
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
    if let Some((_, why)) = untagged.first() {
        let names: Vec<&str> = untagged.iter().map(|(t, _)| t.as_str()).collect();
        let commands: Vec<String> = names.iter().map(|t| format!("git tag {t} -m {t}")).collect();
        return Err(fail_with_hint(
            ExitKind::Environment,
            format!(
                "published, but could not create git tag{} {}: {why}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            format!(
                "the versions are on the registry and stay there (a new run will not tag them, it skips them); create the tags in the repository: {}",
                commands.join(" && ")
            ),
        ));
    }
    Ok(())
}

/// Runs git in the current directory and returns its stdout, or its error in one line. Like
/// every child we start, git gets none of our credentials (its config and hooks may run
/// commands of the repository's choosing).
fn git(args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .args(args)
        .env_clear()
        .envs(crate::npm::pack::child_env())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ");
    Err(if line.is_empty() { format!("git {} failed ({})", args.join(" "), out.status) } else { line })
}

fn append(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let cannot = |e: std::io::Error| {
        fail(ExitKind::Environment, format!("cannot append to CHANGESETS_OUTPUT file {}: {e}", path.display()))
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(cannot)?;
    file.write_all(bytes).map_err(cannot)
}
