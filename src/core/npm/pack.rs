//! Packing, the pure parts (GitHub issue 12): which package manager packs a directory (decided
//! from facts the edge collected, as package-manager-detector and corepack decide it), which
//! environment variables a packing child must not see, which lines of a failed pack are the
//! manager's real error, and which files of a tarball are npm-attest's own outputs.
//!
//! Facts: `package-managers.md` §1–§3 and §8.

use std::fmt;

/// A package manager that can pack a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Manager {
    Npm,
    Pnpm,
    Yarn,
    Bun,
}

impl Manager {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pnpm => "pnpm",
            Self::Yarn => "yarn",
            Self::Bun => "bun",
        }
    }

    /// The manager named by a `packageManager` value (`name@version[+sha512.…]`) or a
    /// `devEngines.packageManager.name`.
    pub fn from_field(value: &str) -> Option<Self> {
        let name = value.split('@').next().unwrap_or(value).trim();
        match name {
            "npm" => Some(Self::Npm),
            "pnpm" => Some(Self::Pnpm),
            "yarn" => Some(Self::Yarn),
            "bun" => Some(Self::Bun),
            _ => None,
        }
    }

    /// The pack command, run in the package directory, that writes one tarball into `dest`
    /// (package-managers.md §1 "Choose output dir"). Yarn takes a file path, the others a
    /// directory.
    pub fn pack_args(self, dest: &str) -> Vec<String> {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            Self::Npm => v(&["pack", "--json", "--pack-destination", dest]),
            Self::Pnpm => v(&["pack", "--pack-destination", dest]),
            Self::Yarn => v(&["pack", "--out", &format!("{dest}/package.tgz")]),
            Self::Bun => v(&["pm", "pack", "--destination", dest, "--quiet"]),
        }
    }
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one directory level tells about the package manager.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LevelFacts {
    /// `packageManager` of the level's package.json.
    pub package_manager_field: Option<String>,
    /// `devEngines.packageManager.name` of the level's package.json.
    pub dev_engines_name: Option<String>,
    /// The file names present at that level (only the lockfile names matter).
    pub files: Vec<String>,
}

/// Lockfiles in package-manager-detector's order (package-managers.md §3), with the manager
/// each one means. `yarn.lock` is Yarn whether Berry or Classic; `pnpm-workspace.yaml` counts
/// as a pnpm marker as the detector counts it.
const LOCKFILES: [(&str, Manager); 8] = [
    ("bun.lock", Manager::Bun),
    ("bun.lockb", Manager::Bun),
    ("pnpm-lock.yaml", Manager::Pnpm),
    ("pnpm-workspace.yaml", Manager::Pnpm),
    ("yarn.lock", Manager::Yarn),
    (".yarnrc.yml", Manager::Yarn),
    ("package-lock.json", Manager::Npm),
    ("npm-shrinkwrap.json", Manager::Npm),
];

/// How the manager was chosen, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `--package-manager`.
    Flag,
    /// `packageManager` (or `devEngines.packageManager`) at this level (0 = the package).
    Field { level: usize, value: String },
    /// A lockfile at this level.
    Lockfile { level: usize, file: &'static str },
    /// Nothing found: npm, as `npm publish` would pack.
    Default,
}

/// Picks the manager from the levels, the package directory first and then each parent: at
/// each level the `packageManager` field (then `devEngines.packageManager`) decides, then a
/// lockfile; the first level with either wins. A field naming an unknown manager is skipped.
pub fn detect(levels: &[LevelFacts]) -> (Manager, Reason) {
    for (level, facts) in levels.iter().enumerate() {
        for value in [&facts.package_manager_field, &facts.dev_engines_name].into_iter().flatten() {
            if let Some(m) = Manager::from_field(value) {
                return (m, Reason::Field { level, value: value.clone() });
            }
        }
        for (file, manager) in LOCKFILES {
            if facts.files.iter().any(|f| f == file) {
                return (manager, Reason::Lockfile { level, file });
            }
        }
    }
    (Manager::Npm, Reason::Default)
}

/// Whether an environment variable may carry a credential, so that a packing child (and the
/// lifecycle scripts it runs: prepack, prepare, postpack) must not inherit it. Names are
/// compared case-insensitively; npm reads `npm_config_*` in any case.
pub fn is_credential_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const EXACT: [&str; 8] = [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "NODE_AUTH_TOKEN",
        "NPM_TOKEN",
        "SIGSTORE_ID_TOKEN",
        "NPM_ID_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_TOKEN",
    ];
    const PREFIXES: [&str; 5] =
        ["ACTIONS_ID_TOKEN_REQUEST_", "ACTIONS_RUNTIME_", "CI_JOB_JWT", "CIRCLE_OIDC_TOKEN", "INPUT_"];
    const CONTAINS: [&str; 9] =
        ["_TOKEN", "TOKEN_", "_AUTH", "AUTHTOKEN", "PASSWORD", "SECRET", "_ID_TOKEN", "CREDENTIAL", "PRIVATE_KEY"];
    EXACT.contains(&upper.as_str())
        || PREFIXES.iter().any(|p| upper.starts_with(p))
        || CONTAINS.iter().any(|c| upper.contains(c))
        || upper.ends_with("TOKEN")
        || upper.ends_with("_JWT")
        || upper.ends_with("_API_KEY")
        // `npm_config_//registry.example/:_authToken` and similar per-registry settings.
        || upper.contains("//")
}

/// The lines of a failed pack worth showing: the manager's own error lines, without npm's
/// log-file footer ("A complete log of this run can be found in …") and verbose noise; the
/// last `max` of them, from stderr, else from stdout (Yarn prints its errors there).
pub fn error_lines(stderr: &str, stdout: &str, max: usize) -> Vec<String> {
    let keep = |text: &str| -> Vec<String> {
        let text = strip_ansi(text);
        text.lines()
            .map(str::trim_end)
            .filter(|l| {
                let t = l.trim();
                let body =
                    t.strip_prefix("npm error").or_else(|| t.strip_prefix("npm ERR!")).map(str::trim).unwrap_or(t);
                !(body.is_empty()
                    || body.starts_with("A complete log of this run can be found in")
                    || body.starts_with("Log files were not written")
                    || body.starts_with("You can rerun the command with `--loglevel=verbose`")
                    || t.starts_with("npm verbose")
                    || t.starts_with("npm timing")
                    || t.starts_with("npm notice")
                    || t.starts_with("npm warn"))
            })
            .map(|l| l.trim().to_owned())
            .collect()
    };
    let mut lines = keep(stderr);
    if lines.is_empty() {
        lines = keep(stdout);
    }
    let skip = lines.len().saturating_sub(max);
    lines.split_off(skip)
}

/// `text` without ANSI escape sequences (Yarn colours its errors even into a pipe).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI: ESC [ parameters, then one final byte in @..~; other escapes: ESC and one char.
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Our own output files among a tarball's entries (paths relative to the package root, the
/// `package/` prefix removed): bundles (`*.sigstore.json`) and trust roots
/// (`trusted_root.json`, `*.trusted_root.json`) at the package root, anything under our
/// `.npm-attest/` output directory, and our temporary pack directories.
pub fn own_outputs(files: &[String]) -> Vec<&str> {
    files
        .iter()
        .map(String::as_str)
        .filter(|path| {
            let at_root = !path.contains('/');
            let base = path.rsplit('/').next().unwrap_or(path);
            (at_root
                && (base.ends_with(".sigstore.json")
                    || base == "trusted_root.json"
                    || base.ends_with(".trusted_root.json")))
                || path.starts_with(".npm-attest/")
                || path.split('/').any(|seg| seg.starts_with(".npm-attest-"))
        })
        .collect()
}

/// Dependencies of a packed manifest that still use a workspace-only protocol (`workspace:`,
/// `catalog:`): the failure mode of packing a pnpm, Yarn or Bun workspace with npm
/// (package-managers.md §8 rule 3). Returns `(field, dependency, spec)`.
pub fn leaked_protocols(manifest: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for field in ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] {
        let Some(deps) = manifest.get(field).and_then(|v| v.as_object()) else { continue };
        for (name, spec) in deps {
            if let Some(spec) = spec.as_str().filter(|s| s.starts_with("workspace:") || s.starts_with("catalog:")) {
                out.push((field.to_owned(), name.clone(), spec.to_owned()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(field: Option<&str>, files: &[&str]) -> LevelFacts {
        LevelFacts {
            package_manager_field: field.map(str::to_owned),
            dev_engines_name: None,
            files: files.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_field_wins_at_its_level_then_lockfiles_then_parents() {
        assert_eq!(detect(&[]).0, Manager::Npm);
        assert_eq!(detect(&[level(None, &[]), level(None, &["pnpm-lock.yaml"])]).0, Manager::Pnpm);
        assert_eq!(detect(&[level(Some("yarn@4.9.2"), &["package-lock.json"])]).0, Manager::Yarn);
        assert_eq!(detect(&[level(None, &["yarn.lock", ".yarnrc.yml"])]).0, Manager::Yarn);
        assert_eq!(detect(&[level(None, &["bun.lockb"])]).0, Manager::Bun);
        assert_eq!(detect(&[level(None, &["npm-shrinkwrap.json"])]).0, Manager::Npm);
        // The package's own level decides before the root's.
        assert_eq!(detect(&[level(None, &["package-lock.json"]), level(Some("pnpm@10.0.0"), &[])]).0, Manager::Npm);
        assert_eq!(
            detect(&[level(None, &[]), level(Some("pnpm@10.14.0+sha512.abc"), &["yarn.lock"])]),
            (Manager::Pnpm, Reason::Field { level: 1, value: "pnpm@10.14.0+sha512.abc".into() })
        );
        // An unknown manager in the field falls through to the lockfile.
        assert_eq!(detect(&[level(Some("deno@2"), &["bun.lock"])]).0, Manager::Bun);
        let dev = LevelFacts { dev_engines_name: Some("bun".into()), ..LevelFacts::default() };
        assert_eq!(detect(&[dev]).0, Manager::Bun);
    }

    #[test]
    fn credential_carriers_are_recognised_and_ordinary_variables_kept() {
        for name in [
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_RUNTIME_TOKEN",
            "GITHUB_TOKEN",
            "NODE_AUTH_TOKEN",
            "NPM_TOKEN",
            "SIGSTORE_ID_TOKEN",
            "NPM_ID_TOKEN",
            "npm_config__authToken",
            "npm_config__auth",
            "NPM_CONFIG_TOKEN",
            "npm_config_//registry.npmjs.org/:_authToken",
            "YARN_NPM_AUTH_TOKEN",
            "YARN_NPM_AUTH_IDENT",
            "CI_JOB_JWT_V2",
            "CI_JOB_TOKEN",
            "CIRCLE_OIDC_TOKEN_V2",
            "AWS_SECRET_ACCESS_KEY",
            "DOCKER_PASSWORD",
            "OPENAI_API_KEY",
            "INPUT_TOKEN",
            "BUILDKITE_AGENT_ACCESS_TOKEN",
        ] {
            assert!(is_credential_var(name), "{name} must be withheld");
        }
        for name in [
            "PATH",
            "HOME",
            "CI",
            "GITHUB_ACTIONS",
            "GITHUB_REPOSITORY",
            "NODE_ENV",
            "npm_config_registry",
            "LANG",
            "TMPDIR",
        ] {
            assert!(!is_credential_var(name), "{name} must be kept");
        }
    }

    #[test]
    fn the_log_footer_is_not_the_error() {
        let stderr = "npm warn config something\nnpm error code ENOENT\nnpm error syscall open\nnpm error path /x/package.json\nnpm error errno -2\nnpm error enoent Could not read package.json\nnpm error A complete log of this run can be found in: /root/.npm/_logs/x.log\n";
        let lines = error_lines(stderr, "", 8);
        assert_eq!(lines.first().map(String::as_str), Some("npm error code ENOENT"));
        assert!(lines.iter().any(|l| l.contains("Could not read package.json")));
        assert!(!lines.iter().any(|l| l.contains("complete log")), "{lines:?}");
        assert_eq!(error_lines(stderr, "", 2).len(), 2);
        // Yarn prints its errors on stdout.
        assert_eq!(error_lines("", "➤ YN0000: oops\n", 8), vec!["➤ YN0000: oops"]);
        // Without its colours.
        assert_eq!(
            error_lines("\u{1b}[31m\u{1b}[1mUsage Error\u{1b}[22m\u{1b}[39m: The nearest package directory\n", "", 8),
            vec!["Usage Error: The nearest package directory"]
        );
        assert!(error_lines("", "", 8).is_empty());
    }

    #[test]
    fn workspace_and_catalog_specs_are_leaks() {
        let m = serde_json::json!({
            "dependencies": {"a": "workspace:*", "b": "^1.0.0", "c": "catalog:"},
            "devDependencies": {"d": "workspace:^"},
            "peerDependencies": {"e": "catalog:react18"},
            "optionalDependencies": {"f": "1.2.3"}
        });
        let leaks = leaked_protocols(m.as_object().unwrap());
        let names: Vec<&str> = leaks.iter().map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["a", "c", "d", "e"]);
    }

    #[test]
    fn our_outputs_are_found_at_the_root_and_in_our_directories() {
        let files: Vec<String> = [
            "package.json",
            "index.js",
            "hello-1.0.0.sigstore.json",
            "trusted_root.json",
            "a-1.0.0.trusted_root.json",
            ".npm-attest/x.tgz",
            "lib/.npm-attest-pack-abc/y.tgz",
            "test/fixtures/bundle.sigstore.json",
            "lib/trusted_root.json",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            own_outputs(&files),
            vec![
                "hello-1.0.0.sigstore.json",
                "trusted_root.json",
                "a-1.0.0.trusted_root.json",
                ".npm-attest/x.tgz",
                "lib/.npm-attest-pack-abc/y.tgz"
            ]
        );
    }
}
