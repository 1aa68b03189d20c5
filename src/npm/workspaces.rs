//! npm workspaces: the package directories a root `package.json` names, found as npm finds
//! them (`@npmcli/map-workspaces`): `workspaces` is an array of glob patterns, or an object
//! whose `packages` is that array; a pattern names directories holding a `package.json`;
//! a pattern starting with `!` removes matches. `node_modules` is never searched.
//!
//! The pattern language is the subset npm projects use: `/`-separated segments, each literal
//! or with `*` (any run of characters but `/`) and `?` (one character), and `**` for any
//! number of directories. Braces and character classes are refused with a typed error rather
//! than silently matching nothing.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Directories deeper than this below the root are not searched for `**`.
const MAX_DEPTH: usize = 16;
/// More workspace directories than this is refused (a pattern matching a whole disk).
const MAX_MATCHES: usize = 10_000;
/// Searching more directories than this is refused (a tree of symbolic links multiplies the
/// paths to one directory).
const MAX_SEARCHED: usize = 200_000;

#[derive(Debug)]
#[non_exhaustive]
pub enum WorkspacesError {
    /// The root `package.json` could not be read.
    Read { path: PathBuf, source: std::io::Error },
    /// The root `package.json` is not a JSON object.
    NotJson { path: PathBuf, reason: String },
    /// There is no `workspaces` field, or it has the wrong shape.
    NoWorkspaces { path: PathBuf },
    /// A pattern uses glob syntax this matcher does not implement.
    UnsupportedPattern { pattern: String },
    /// A pattern leaves the root directory.
    EscapesRoot { pattern: String },
    /// The patterns match too many directories.
    TooMany { limit: usize },
    /// The search went through too many directories.
    SearchTooLarge { limit: usize },
}

impl fmt::Display for WorkspacesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::NotJson { path, reason } => write!(f, "{} is not a package.json object: {reason}", path.display()),
            Self::NoWorkspaces { path } => {
                write!(f, "{} has no `workspaces` array (or object with a `packages` array)", path.display())
            }
            Self::UnsupportedPattern { pattern } => {
                write!(f, "workspace pattern {pattern:?} uses braces or character classes, which are not supported")
            }
            Self::EscapesRoot { pattern } => {
                write!(f, "workspace pattern {pattern:?} leaves the root directory")
            }
            Self::TooMany { limit } => write!(f, "the workspace patterns match more than {limit} directories"),
            Self::SearchTooLarge { limit } => write!(
                f,
                "finding the workspaces went through more than {limit} directories (symbolic links that multiply paths?)"
            ),
        }
    }
}

impl std::error::Error for WorkspacesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The `workspaces` patterns of a root `package.json` document.
pub fn patterns(manifest: &Value) -> Option<Vec<String>> {
    let list = match manifest.get("workspaces")? {
        Value::Array(list) => list,
        Value::Object(obj) => obj.get("packages")?.as_array()?,
        _ => return None,
    };
    list.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// One compiled pattern: its segments, and whether it excludes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negated: bool,
    segments: Vec<String>,
}

fn compile(text: &str) -> Result<Pattern, WorkspacesError> {
    let (negated, body) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body.contains(['{', '}', '[', ']']) {
        return Err(WorkspacesError::UnsupportedPattern { pattern: text.to_owned() });
    }
    let mut segments = Vec::new();
    for segment in body.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(WorkspacesError::EscapesRoot { pattern: text.to_owned() }),
            s => segments.push(s.to_owned()),
        }
    }
    if body.starts_with('/') {
        return Err(WorkspacesError::EscapesRoot { pattern: text.to_owned() });
    }
    Ok(Pattern { negated, segments })
}

/// Whether one path segment matches one pattern segment (`*` and `?` wildcards). Like npm's
/// matcher, a wildcard does not match a leading `.` (hidden directories need an explicit dot).
pub fn segment_matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the relative directory `path` (its segments) matches the pattern's segments.
/// Dynamic programming over (pattern position, path position), so patterns with many `**`
/// cost O(pattern × path), never exponential time.
fn path_matches(pattern: &[String], path: &[&str]) -> bool {
    let (p, n) = (pattern.len(), path.len());
    // rest[j]: pattern[i..] matches path[j..], for the current i (filled from the end).
    let mut rest = vec![false; n + 1];
    rest[n] = true; // the empty pattern matches only the empty path
    for i in (0..p).rev() {
        let mut here = vec![false; n + 1];
        if pattern[i] == "**" {
            // `**` takes zero or more whole segments, never hidden ones.
            here[n] = rest[n];
            for j in (0..n).rev() {
                here[j] = rest[j] || (!path[j].starts_with('.') && here[j + 1]);
            }
        } else {
            for j in 0..n {
                here[j] = segment_matches(&pattern[i], path[j]) && rest[j + 1];
            }
        }
        rest = here;
    }
    rest[0]
}

/// The relative directories (as `/`-joined segments) selected by `patterns` among
/// `candidates`: included by a positive pattern and not removed by a later `!` pattern, in
/// the order npm applies them.
pub fn select<'a>(patterns: &[String], candidates: &'a [String]) -> Result<Vec<&'a String>, WorkspacesError> {
    let compiled = patterns.iter().map(|p| compile(p)).collect::<Result<Vec<_>, _>>()?;
    let mut selected = Vec::new();
    for candidate in candidates {
        let segments: Vec<&str> = candidate.split('/').filter(|s| !s.is_empty()).collect();
        let mut included = false;
        for pattern in &compiled {
            if path_matches(&pattern.segments, &segments) {
                included = !pattern.negated;
            }
        }
        if included {
            selected.push(candidate);
        }
    }
    Ok(selected)
}

/// The `packages` patterns of a `pnpm-workspace.yaml` document (`!` entries exclude).
pub fn pnpm_patterns(yaml: &str) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct PnpmWorkspace {
        #[serde(default)]
        packages: Option<Vec<String>>,
    }
    let parsed: PnpmWorkspace = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
    Ok(parsed.packages.unwrap_or_default())
}

/// The workspace package directories of the project at `root`, sorted by path: from
/// `pnpm-workspace.yaml` when the root has one (pnpm ignores the `workspaces` field; its root
/// package is a workspace too), else from the root package.json's `workspaces`.
pub fn find(root: &Path) -> Result<Vec<PathBuf>, WorkspacesError> {
    let pnpm_path = root.join("pnpm-workspace.yaml");
    if pnpm_path.is_file() {
        let text = std::fs::read_to_string(&pnpm_path)
            .map_err(|source| WorkspacesError::Read { path: pnpm_path.clone(), source })?;
        let patterns =
            pnpm_patterns(&text).map_err(|reason| WorkspacesError::NotJson { path: pnpm_path.clone(), reason })?;
        let mut found = find_with(root, &patterns)?;
        if root.join("package.json").is_file() && !found.iter().any(|p| p == root) {
            found.insert(0, root.to_path_buf());
        }
        return Ok(found);
    }
    let manifest_path = root.join("package.json");
    let bytes = std::fs::read(&manifest_path)
        .map_err(|source| WorkspacesError::Read { path: manifest_path.clone(), source })?;
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|e| WorkspacesError::NotJson { path: manifest_path.clone(), reason: e.to_string() })?;
    let patterns = patterns(&manifest).ok_or(WorkspacesError::NoWorkspaces { path: manifest_path })?;
    find_with(root, &patterns)
}

/// The directories below `root` holding a package.json that `patterns` select.
fn find_with(root: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, WorkspacesError> {
    let compiled = patterns.iter().map(|p| compile(p)).collect::<Result<Vec<_>, _>>()?;
    // Only as deep as the deepest pattern needs (unbounded `**` up to MAX_DEPTH).
    let depth = compiled
        .iter()
        .filter(|p| !p.negated)
        .map(|p| if p.segments.iter().any(|s| s == "**") { MAX_DEPTH } else { p.segments.len() })
        .max()
        .unwrap_or(0);
    let mut candidates = BTreeSet::new();
    let mut search = Search { ancestors: Vec::new(), searched: 0 };
    walk(root, String::new(), depth, &mut candidates, &mut search)?;
    let candidates: Vec<String> = candidates.into_iter().collect();
    let selected = select(patterns, &candidates)?;
    Ok(selected.into_iter().map(|rel| root.join(rel)).collect())
}

/// The directories on the way down (canonical paths: a symbolic link back to one of them is
/// a cycle) and how many directories were searched.
struct Search {
    ancestors: Vec<PathBuf>,
    searched: usize,
}

/// Collects every directory below `dir` (to `depth` levels) that holds a `package.json`.
fn walk(
    dir: &Path,
    rel: String,
    depth: usize,
    out: &mut BTreeSet<String>,
    search: &mut Search,
) -> Result<(), WorkspacesError> {
    if depth == 0 {
        return Ok(());
    }
    search.searched += 1;
    if search.searched > MAX_SEARCHED {
        return Err(WorkspacesError::SearchTooLarge { limit: MAX_SEARCHED });
    }
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if search.ancestors.contains(&canonical) {
        return Ok(());
    }
    search.ancestors.push(canonical);
    let result = walk_entries(dir, &rel, depth, out, search);
    search.ancestors.pop();
    result
}

fn walk_entries(
    dir: &Path,
    rel: &str,
    depth: usize,
    out: &mut BTreeSet<String>,
    search: &mut Search,
) -> Result<(), WorkspacesError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "node_modules" || name == ".git" {
            continue;
        }
        // Symbolic links are followed as npm does, but only to directories.
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if path.join("package.json").is_file() {
            if out.len() >= MAX_MATCHES {
                return Err(WorkspacesError::TooMany { limit: MAX_MATCHES });
            }
            out.insert(child.clone());
        }
        walk(&path, child, depth - 1, out, search)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_match_with_wildcards() {
        assert!(segment_matches("*", "a"));
        assert!(segment_matches("pkg-*", "pkg-core"));
        assert!(!segment_matches("pkg-*", "lib-core"));
        assert!(segment_matches("a?c", "abc"));
        assert!(!segment_matches("a?c", "ac"));
        assert!(segment_matches("*-*-x", "a-b-c-x"));
        assert!(!segment_matches("*", ".hidden"));
        assert!(segment_matches(".hidden", ".hidden"));
        assert!(segment_matches("core", "core"));
        assert!(!segment_matches("core", "cores"));
    }

    #[test]
    fn both_workspaces_shapes_are_read() {
        assert_eq!(patterns(&json!({"workspaces": ["a/*"]})), Some(vec!["a/*".to_owned()]));
        assert_eq!(patterns(&json!({"workspaces": {"packages": ["b"]}})), Some(vec!["b".to_owned()]));
        assert_eq!(patterns(&json!({"workspaces": "a/*"})), None);
        assert_eq!(patterns(&json!({"workspaces": [1]})), None);
        assert_eq!(patterns(&json!({})), None);
    }

    #[test]
    fn selection_applies_globs_and_negations_in_order() {
        let candidates: Vec<String> =
            ["apps/web", "packages/a", "packages/b", "packages/b/nested", "packages/private-x", "tools"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        let pick = |patterns: &[&str]| -> Vec<String> {
            let patterns: Vec<String> = patterns.iter().map(|s| (*s).to_owned()).collect();
            select(&patterns, &candidates).unwrap().into_iter().cloned().collect()
        };
        assert_eq!(pick(&["packages/*"]), vec!["packages/a", "packages/b", "packages/private-x"]);
        assert_eq!(pick(&["packages/*", "!packages/private-*"]), vec!["packages/a", "packages/b"]);
        assert_eq!(pick(&["packages/**"]), vec!["packages/a", "packages/b", "packages/b/nested", "packages/private-x"]);
        assert_eq!(pick(&["./tools", "apps/web/"]), vec!["apps/web", "tools"]);
        assert!(pick(&["nothing/*"]).is_empty());
    }

    #[test]
    fn pnpm_workspace_yaml_is_read_with_exclusions() {
        let yaml = "packages:\n  - 'packages/*'\n  - \"!**/test/**\"\ncatalog:\n  react: ^18.2.0\n";
        assert_eq!(pnpm_patterns(yaml).unwrap(), vec!["packages/*", "!**/test/**"]);
        assert_eq!(pnpm_patterns("packages: [a, 'b/*']").unwrap(), vec!["a", "b/*"]);
        assert!(pnpm_patterns("catalog: {}\n").unwrap().is_empty());
        assert!(pnpm_patterns("packages: 3").is_err());
    }

    #[test]
    fn unsupported_or_escaping_patterns_are_refused() {
        let c = vec!["a".to_owned()];
        assert!(matches!(select(&["{a,b}".into()], &c), Err(WorkspacesError::UnsupportedPattern { .. })));
        assert!(matches!(select(&["../x/*".into()], &c), Err(WorkspacesError::EscapesRoot { .. })));
        assert!(matches!(select(&["/abs/*".into()], &c), Err(WorkspacesError::EscapesRoot { .. })));
    }

    #[test]
    fn many_double_star_patterns_take_linear_time_not_exponential() {
        let pattern = vec!["**/a".repeat(40) + "/b"];
        let deep: Vec<String> = (1..=16).map(|n| vec!["a"; n].join("/")).collect();
        let started = std::time::Instant::now();
        assert!(select(&pattern, &deep).unwrap().is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        let ok = vec!["**/b".to_owned()];
        let c = vec!["x/y/b".to_owned(), "x/.hidden/b".to_owned()];
        assert_eq!(select(&ok, &c).unwrap(), vec![&c[0]]);
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_link_cycles_end_the_search() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("package.json"), r#"{"workspaces":["**"]}"#).unwrap();
        std::fs::create_dir_all(root.join("packages/a")).unwrap();
        std::fs::write(root.join("packages/a/package.json"), "{}").unwrap();
        for link in ["l1", "l2", "l3"] {
            std::os::unix::fs::symlink("..", root.join("packages/a").join(link)).unwrap();
        }
        let started = std::time::Instant::now();
        let found = find(root).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(found.contains(&root.join("packages/a")), "{found:?}");
    }
}
