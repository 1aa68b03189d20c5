//! The GitHub Actions runner: its environment (`GITHUB_*`, `RUNNER_*`), the file commands
//! (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`), the Actions OIDC issuer of a server, and
//! permission hints phrased in terms of the workflow file.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{fail, fail_with_hint, ExitKind};

/// The variables of the Actions runner this module reads, looked up once at the edge.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActionsEnv {
    /// `GITHUB_OUTPUT`: the file step outputs are appended to.
    pub output_file: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the file the job summary Markdown is appended to.
    pub summary_file: Option<PathBuf>,
    /// `GITHUB_API_URL`, `https://api.github.com` when unset.
    pub api_url: String,
    /// `GITHUB_SERVER_URL`, `https://github.com` when unset.
    pub server_url: String,
    /// `GITHUB_REPOSITORY` (`owner/repo`).
    pub repository: Option<String>,
    /// `GITHUB_ACTIONS=true`: running in a GitHub Actions job.
    pub in_actions: bool,
    /// `RUNNER_TEMP`: the job's temporary directory.
    pub runner_temp: Option<PathBuf>,
    /// The workflow file that runs this job, from `GITHUB_WORKFLOW_REF`
    /// (`owner/repo/.github/workflows/release.yml@refs/tags/v1` → `.github/workflows/release.yml`).
    pub workflow_path: Option<String>,
}

impl ActionsEnv {
    /// Reads the runner's variables through `env` (so tests can pass a map).
    pub(crate) fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        let repository = non_empty("GITHUB_REPOSITORY");
        let workflow_path = non_empty("GITHUB_WORKFLOW_REF").and_then(|r| workflow_path(&r, repository.as_deref()));
        ActionsEnv {
            output_file: non_empty("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: non_empty("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            api_url: non_empty("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned()),
            server_url: non_empty("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned()),
            repository,
            in_actions: env("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
            runner_temp: non_empty("RUNNER_TEMP").map(PathBuf::from),
            workflow_path,
        }
    }
}

/// The workflow path from a `workflow_ref` (`owner/repo/PATH@REF`). The prefix is the repository
/// when known, else the first two path segments.
pub(crate) fn workflow_path(workflow_ref: &str, repository: Option<&str>) -> Option<String> {
    let without_ref = workflow_ref.split('@').next().unwrap_or(workflow_ref);
    let rest = match repository {
        Some(repo) => without_ref.strip_prefix(repo)?.strip_prefix('/')?,
        None => without_ref.splitn(3, '/').nth(2)?,
    };
    (!rest.is_empty()).then(|| rest.to_owned())
}

/// Why an output could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum OutputError {
    /// Output names are letters, digits, `-` and `_`, starting with a letter or `_`.
    InvalidName { name: String },
    /// The value contains the heredoc delimiter, which would end it early.
    DelimiterInValue { name: String },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::InvalidName { name } => write!(f, "invalid step output name {name:?}"),
            OutputError::DelimiterInValue { name } => {
                write!(f, "the value of step output {name:?} contains the heredoc delimiter")
            }
        }
    }
}

impl std::error::Error for OutputError {}

/// The heredoc delimiter for 16 random bytes, `ghadelimiter_<32 hex digits>` (the Actions
/// toolkit uses a random UUID the same way). The caller draws the bytes; see
/// [`random_delimiter`].
pub(crate) fn delimiter_from(random: [u8; 16]) -> String {
    format!("ghadelimiter_{}", hex::encode(random))
}

/// One `$GITHUB_OUTPUT` record in the multi-line-safe heredoc form:
/// `name<<DELIM\nvalue\nDELIM\n`. The runner reads everything between the two delimiter lines
/// as the value, so newlines, `=` and shell metacharacters are data.
pub(crate) fn output_record(name: &str, value: &str, delimiter: &str) -> Result<String, OutputError> {
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(OutputError::InvalidName { name: name.to_owned() });
    }
    if value.contains(delimiter) {
        return Err(OutputError::DelimiterInValue { name: name.to_owned() });
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// All records for `outputs`, in order, with one delimiter.
pub(crate) fn output_records(outputs: &[(&str, String)], delimiter: &str) -> Result<String, OutputError> {
    let mut text = String::new();
    for (name, value) in outputs {
        text.push_str(&output_record(name, value, delimiter)?);
    }
    Ok(text)
}

/// A `permissions:` entry of the workflow's `GITHUB_TOKEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Permission {
    /// `id-token: write`: lets the job request an OIDC identity token (signing).
    IdToken,
    /// `attestations: write`: lets the job store attestations (`upload-to-github`).
    Attestations,
    /// `contents: read`: lets the job read the repository (checkout, repository lookups).
    Contents,
}

impl Permission {
    /// The line as written under `permissions:`.
    pub(crate) fn yaml(self) -> &'static str {
        match self {
            Permission::IdToken => "id-token: write",
            Permission::Attestations => "attestations: write",
            Permission::Contents => "contents: read",
        }
    }
}

/// A hint naming the fix in the workflow file: which `permissions:` lines to add, where.
pub(crate) fn permission_hint(missing: Permission, workflow_path: Option<&str>) -> String {
    let file = workflow_path.unwrap_or("the workflow file");
    let mut lines = vec![missing.yaml()];
    for p in [Permission::IdToken, Permission::Attestations, Permission::Contents] {
        if p != missing && (missing != Permission::IdToken || p == Permission::Contents) {
            lines.push(p.yaml());
        }
    }
    let why = match missing {
        Permission::IdToken => "the job needs an OIDC identity token to sign; fork pull requests never get one",
        Permission::Attestations => "the GITHUB_TOKEN may not store attestations",
        Permission::Contents => "the GITHUB_TOKEN may not read the repository",
    };
    format!(
        "{why}: in {file}, give the job `permissions: {{ {} }}` (a reusable workflow needs them granted by its caller too)",
        lines.join(", ")
    )
}

/// A fresh random heredoc delimiter.
pub(crate) fn random_delimiter() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot draw a random output delimiter: {e}")))?;
    Ok(delimiter_from(bytes))
}

/// Appends `outputs` to the `$GITHUB_OUTPUT` file in the heredoc form, with a random delimiter.
pub(crate) fn append_outputs(path: &Path, outputs: &[(&str, String)]) -> anyhow::Result<()> {
    let records = output_records(outputs, &random_delimiter()?)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot write step outputs: {e}")))?;
    append(path, records.as_bytes(), "GITHUB_OUTPUT")
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file.
pub(crate) fn append_summary(path: &Path, markdown: &str) -> anyhow::Result<()> {
    append(path, markdown.as_bytes(), "GITHUB_STEP_SUMMARY")
}

/// The runner's file commands are append-only files it reads after the step; append in one write.
pub(crate) fn append(path: &Path, bytes: &[u8], variable: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| {
        fail_with_hint(
            ExitKind::Environment,
            format!("cannot open {} ({variable}): {e}", path.display()),
            format!("{variable} must name a writable file, as the Actions runner sets it"),
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| fail(ExitKind::Environment, format!("cannot write {} ({variable}): {e}", path.display())))
}

/// The OIDC issuer of Actions tokens for a GitHub server URL, derived as actions/attest does:
/// github.com and GHE.com tenants; `None` for anything else (GHES).
pub(crate) fn actions_issuer(server_url: &str) -> Option<String> {
    let host = url::Url::parse(server_url).ok()?.host_str()?.to_owned();
    if host == "github.com" {
        return Some("https://token.actions.githubusercontent.com".to_owned());
    }
    let tenant = host.strip_suffix(".ghe.com")?;
    (!tenant.is_empty() && !tenant.contains('.')).then(|| format!("https://token.actions.{tenant}.ghe.com"))
}

pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_record_uses_the_heredoc_form() {
        let rec = output_record("bundle-path", "a=b\n$(touch /tmp/pwned)\n'\"", "ghadelimiter_X").unwrap();
        assert_eq!(rec, "bundle-path<<ghadelimiter_X\na=b\n$(touch /tmp/pwned)\n'\"\nghadelimiter_X\n");
    }

    #[test]
    fn output_record_refuses_a_value_containing_the_delimiter() {
        let err = output_record("x", "evil\nghadelimiter_X\ninjected=1", "ghadelimiter_X").unwrap_err();
        assert_eq!(err, OutputError::DelimiterInValue { name: "x".into() });
    }

    #[test]
    fn output_record_refuses_bad_names() {
        for name in ["", "a b", "a<<b", "a\nb", "1abc", "a=b"] {
            assert!(output_record(name, "v", "D").is_err(), "{name:?}");
        }
        assert!(output_record("attestation-id", "1", "D").is_ok());
    }

    #[test]
    fn delimiters_are_distinct_per_draw() {
        assert_eq!(delimiter_from([0xab; 16]), format!("ghadelimiter_{}", "ab".repeat(16)));
        assert_ne!(random_delimiter().unwrap(), random_delimiter().unwrap());
    }

    #[test]
    fn env_lookup_reads_runner_variables() {
        let env = |k: &str| match k {
            "GITHUB_OUTPUT" => Some("/tmp/out".to_owned()),
            "GITHUB_REPOSITORY" => Some("octo/pkg".to_owned()),
            "GITHUB_WORKFLOW_REF" => Some("octo/pkg/.github/workflows/release.yml@refs/tags/v1.0.0".to_owned()),
            "GITHUB_API_URL" => Some(String::new()),
            _ => None,
        };
        let a = ActionsEnv::from_lookup(&env);
        assert_eq!(a.output_file.as_deref(), Some(Path::new("/tmp/out")));
        assert_eq!(a.summary_file, None);
        assert_eq!(a.api_url, "https://api.github.com");
        assert_eq!(a.workflow_path.as_deref(), Some(".github/workflows/release.yml"));
    }

    #[test]
    fn workflow_path_without_repository_drops_two_segments() {
        assert_eq!(
            workflow_path("o/r/.github/workflows/a.yml@refs/heads/main", None).as_deref(),
            Some(".github/workflows/a.yml")
        );
        assert_eq!(workflow_path("other/r/.github/workflows/a.yml@x", Some("o/r")), None);
    }

    #[test]
    fn permission_hints_name_the_workflow_lines() {
        let h = permission_hint(Permission::Attestations, Some(".github/workflows/release.yml"));
        assert!(h.contains("in .github/workflows/release.yml"), "{h}");
        assert!(h.contains("attestations: write, id-token: write, contents: read"), "{h}");
        let h = permission_hint(Permission::IdToken, None);
        assert!(h.contains("permissions: { id-token: write, contents: read }"), "{h}");
        assert!(h.contains("fork pull requests"));
    }

    #[test]
    fn actions_issuer_follows_the_server() {
        assert_eq!(
            actions_issuer("https://github.com").as_deref(),
            Some("https://token.actions.githubusercontent.com")
        );
        assert_eq!(actions_issuer("https://acme.ghe.com/").as_deref(), Some("https://token.actions.acme.ghe.com"));
        assert_eq!(actions_issuer("https://github.example.com"), None);
        assert_eq!(actions_issuer("not a url"), None);
    }

    #[test]
    fn outputs_and_summary_append() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        std::fs::write(&out, "earlier=1\n").unwrap();
        append_outputs(&out, &[("a", "1".into()), ("b", "two\nlines".into())]).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "earlier=1");
        let delim = lines[1].strip_prefix("a<<").unwrap();
        assert!(delim.starts_with("ghadelimiter_") && delim.len() == 13 + 32);
        assert_eq!(&lines[2..], ["1", delim, &format!("b<<{delim}"), "two", "lines", delim]);
        let sum = dir.path().join("summary");
        append_summary(&sum, "# one\n").unwrap();
        append_summary(&sum, "# two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&sum).unwrap(), "# one\n# two\n");
    }
}
