//! GitHub Actions: the runner's file commands (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`), the
//! job summary, permission hints phrased in terms of the workflow file, and the artifact
//! attestations API (`POST /repos/{owner}/{repo}/attestations`).
//!
//! The formatting and the classification of API answers are pure functions, unit-tested
//! below; the few functions that touch files or the network are at the end of the module.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::bundle::Bundle;
use crate::core::trust_root::TrustedRoot;
use crate::core::verify::{verify_bundle, IdentityPolicy, NpmPackage, Policy, Subject, VerifyError};
use crate::core::x509::LeafCertificate;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, RetryPolicy};
use crate::report;
use crate::secret::SecretString;

/// The GitHub API version we speak (the `X-GitHub-Api-Version` header).
pub const API_VERSION: &str = "2022-11-28";

/// A step summary larger than this is refused by the runner (1 MiB per step).
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// The variables of the Actions runner this module reads, looked up once at the edge.
#[derive(Debug, Clone, Default)]
pub struct ActionsEnv {
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
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Self {
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
pub fn workflow_path(workflow_ref: &str, repository: Option<&str>) -> Option<String> {
    let without_ref = workflow_ref.split('@').next().unwrap_or(workflow_ref);
    let rest = match repository {
        Some(repo) => without_ref.strip_prefix(repo)?.strip_prefix('/')?,
        None => without_ref.splitn(3, '/').nth(2)?,
    };
    (!rest.is_empty()).then(|| rest.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Step outputs.

/// Why an output could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputError {
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
pub fn delimiter_from(random: [u8; 16]) -> String {
    format!("ghadelimiter_{}", hex::encode(random))
}

/// One `$GITHUB_OUTPUT` record in the multi-line-safe heredoc form:
/// `name<<DELIM\nvalue\nDELIM\n`. The runner reads everything between the two delimiter lines
/// as the value, so newlines, `=` and shell metacharacters are data.
pub fn output_record(name: &str, value: &str, delimiter: &str) -> Result<String, OutputError> {
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
pub fn output_records(outputs: &[(&str, String)], delimiter: &str) -> Result<String, OutputError> {
    let mut text = String::new();
    for (name, value) in outputs {
        text.push_str(&output_record(name, value, delimiter)?);
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// The job summary.

/// What the verification of the fresh bundle established, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationOutcome {
    /// The bundle verified against `trusted_root` (a name such as "public-good" or a path).
    Verified { trusted_root: String },
    /// Verification ran and failed.
    Failed { reason: String },
    /// Verification did not run.
    NotRun { reason: String },
}

/// The facts of one attestation, as shown in the job summary.
#[derive(Debug, Clone, Default)]
pub struct AttestSummary {
    /// `name@version`.
    pub package: String,
    /// The statement subject, `pkg:npm/...@...`.
    pub subject_name: String,
    /// `sha512:<hex>`.
    pub subject_digest: String,
    /// The signing certificate's SAN.
    pub signer_identity: Option<String>,
    /// The OIDC issuer in the signing certificate.
    pub signer_issuer: Option<String>,
    /// The signer was read from the certificate without verifying it.
    pub signer_unverified: bool,
    pub log_index: Option<u64>,
    pub transparency_log_url: Option<String>,
    pub bundle_path: String,
    /// `None` when verification is not known at all (rendered as "not run").
    pub verification: Option<VerificationOutcome>,
    /// The attestation stored with the GitHub attestations API.
    pub attestation_url: Option<String>,
    /// Where the package was published, if it was.
    pub published_to: Option<String>,
    /// A shell command that verifies the bundle, shown to readers.
    pub verify_command: Option<String>,
}

/// The job summary Markdown for one attestation. Every value from outside is escaped, so a
/// package name cannot inject Markdown or HTML into the summary page.
pub fn render_summary(s: &AttestSummary) -> String {
    let mut md = String::new();
    md.push_str("### npm provenance attested\n\n");
    md.push_str("| | |\n| --- | --- |\n");
    let mut row = |key: &str, value: String| {
        md.push_str(&format!("| {key} | {value} |\n"));
    };
    row("Package", code(&s.package));
    row("Subject", code(&s.subject_name));
    row("Digest", code(&s.subject_digest));
    let unverified = if s.signer_unverified { " (not verified)" } else { "" };
    match (&s.signer_identity, &s.signer_issuer) {
        (Some(id), Some(iss)) => row("Signer", format!("{} (issuer {}){unverified}", code(id), code(iss))),
        (Some(id), None) => row("Signer", format!("{}{unverified}", code(id))),
        _ => row("Signer", "unknown".to_owned()),
    }
    match (&s.transparency_log_url, s.log_index) {
        (Some(url), Some(index)) => row("Transparency log", link(&format!("log index {index}"), url)),
        (Some(url), None) => row("Transparency log", link("entry", url)),
        (None, Some(index)) => row("Transparency log", format!("log index {index}")),
        (None, None) => row("Transparency log", "no entry".to_owned()),
    }
    let verification = match &s.verification {
        Some(VerificationOutcome::Verified { trusted_root }) => {
            format!("✅ verified against the {} trusted root", escape_md(trusted_root))
        }
        Some(VerificationOutcome::Failed { reason }) => format!("❌ failed: {}", escape_md(reason)),
        Some(VerificationOutcome::NotRun { reason }) => format!("not run: {}", escape_md(reason)),
        None => "not run".to_owned(),
    };
    row("Verification", verification);
    row("Bundle", code(&s.bundle_path));
    if let Some(url) = &s.attestation_url {
        row("GitHub attestation", link(url, url));
    }
    if let Some(registry) = &s.published_to {
        row("Published to", code(registry));
    }
    md.push('\n');
    if let Some(command) = &s.verify_command {
        // A fenced block shows its content verbatim; a value cannot contain a fence line since
        // the command is built from shell words on one line.
        md.push_str("Verify it with:\n\n```sh\n");
        md.push_str(&command.replace(['\n', '\r'], " "));
        md.push_str("\n```\n");
    }
    if md.len() > SUMMARY_LIMIT {
        // Only a pathological input gets here; keep the runner from refusing the whole file.
        let mut cut = SUMMARY_LIMIT - 64;
        while !md.is_char_boundary(cut) {
            cut -= 1;
        }
        md.truncate(cut);
        md.push_str("\n\n(summary truncated)\n");
    }
    md
}

/// Markdown/HTML escaping for table cells: backslash-escape Markdown punctuation, write HTML
/// metacharacters as entities, and flatten newlines (a newline would end the table row).
pub fn escape_md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span. HTML `<code>` with entity escaping, so backticks in the value cannot end
/// the span and `|` cannot end the table cell.
fn code(text: &str) -> String {
    let mut out = String::from("<code>");
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

/// A Markdown link, only for `http(s)` URLs made of characters that cannot break out of the
/// link syntax; anything else is shown as code.
fn link(text: &str, url: &str) -> String {
    let safe = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '<' | '>' | '"' | '`' | '|' | '\\'));
    if safe {
        format!("[{}]({url})", escape_md(text))
    } else {
        code(url)
    }
}

/// The `npm-attest verify` command for a bundle: the repository's identity, the issuer, and
/// the trusted root when it is not the embedded public-good one.
pub fn verify_command(
    bundle: &str,
    trusted_root: Option<&str>,
    issuer: &str,
    repository: &str,
    tarball: &str,
) -> String {
    let mut words = vec!["npm-attest".to_owned(), "verify".to_owned(), "--bundle".to_owned(), shell_word(bundle)];
    if let Some(root) = trusted_root {
        words.push("--trusted-root".to_owned());
        words.push(shell_word(root));
    }
    words.extend([
        "--certificate-oidc-issuer".to_owned(),
        shell_word(issuer),
        "--repository".to_owned(),
        shell_word(repository),
    ]);
    words.push(shell_word(tarball));
    words.join(" ")
}

/// A POSIX shell word: as is when it is plainly safe, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '@' | ':' | '%' | '+' | '='));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''").replace(['\n', '\r'], " "))
    }
}

// ---------------------------------------------------------------------------------------------
// Permissions, explained in terms of the workflow file.

/// A `permissions:` entry of the workflow's `GITHUB_TOKEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// `id-token: write`: lets the job request an OIDC identity token (signing).
    IdToken,
    /// `attestations: write`: lets the job store attestations (`upload-to-github`).
    Attestations,
    /// `contents: read`: lets the job read the repository (checkout, repository lookups).
    Contents,
}

impl Permission {
    /// The line as written under `permissions:`.
    pub fn yaml(self) -> &'static str {
        match self {
            Permission::IdToken => "id-token: write",
            Permission::Attestations => "attestations: write",
            Permission::Contents => "contents: read",
        }
    }
}

/// A hint naming the fix in the workflow file: which `permissions:` lines to add, where.
pub fn permission_hint(missing: Permission, workflow_path: Option<&str>) -> String {
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

// ---------------------------------------------------------------------------------------------
// The artifact attestations API.

/// The body of `POST /repos/{owner}/{repo}/attestations`.
#[derive(Debug, Serialize)]
pub struct CreateAttestationRequest<'a> {
    /// The Sigstore bundle, as JSON (not a string).
    pub bundle: &'a Value,
}

/// The 201 answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreateAttestationResponse {
    pub id: u64,
}

/// GitHub's error body (`{"message": ..., "documentation_url": ...}`).
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    message: String,
}

/// A failed attestations API call, classified by what the user should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationsError {
    /// `GITHUB_REPOSITORY` is not `owner/repo`.
    BadRepository { repository: String },
    /// 401: the token is not valid.
    Unauthorized { message: String },
    /// 403 "Resource not accessible by integration": the token lacks `attestations: write`.
    MissingPermission { message: String },
    /// 403/404/422 "Feature not available ...": the plan does not offer attestations for this repository.
    NotAvailable { status: u16, message: String },
    /// 404: no such repository, or the token cannot see it.
    NotFound { message: String },
    /// 408/429/5xx: worth retrying.
    Transient { status: u16, message: String },
    /// 422 and any other status: the API refused the bundle.
    Rejected { status: u16, message: String },
    /// A 2xx answer without a numeric `id`.
    BadResponse { status: u16, detail: String },
}

impl AttestationsError {
    /// Whether the same request may succeed if sent again.
    pub fn is_transient(&self) -> bool {
        matches!(self, AttestationsError::Transient { .. })
    }

    pub fn exit_kind(&self) -> ExitKind {
        match self {
            AttestationsError::BadRepository { .. }
            | AttestationsError::Unauthorized { .. }
            | AttestationsError::MissingPermission { .. }
            | AttestationsError::NotAvailable { .. }
            | AttestationsError::NotFound { .. } => ExitKind::Environment,
            _ => ExitKind::Remote,
        }
    }

    /// The fix, phrased in terms of the workflow file where that applies.
    pub fn hint(&self, workflow_path: Option<&str>) -> Option<String> {
        match self {
            AttestationsError::BadRepository { .. } => {
                Some("set GITHUB_REPOSITORY to owner/repo, as the Actions runner does".to_owned())
            }
            AttestationsError::Unauthorized { .. } => Some(
                "pass a valid token as the action's `github-token` input (the default `${{ github.token }}` works)".to_owned(),
            ),
            AttestationsError::MissingPermission { .. } => Some(permission_hint(Permission::Attestations, workflow_path)),
            AttestationsError::NotAvailable { .. } => Some(
                "artifact attestations need a public repository, or GitHub Enterprise Cloud for private ones; set `upload-to-github: false` and keep the bundle file instead".to_owned(),
            ),
            AttestationsError::NotFound { .. } => Some(format!(
                "check GITHUB_REPOSITORY and that the token can read the repository ({})",
                permission_hint(Permission::Contents, workflow_path)
            )),
            AttestationsError::Transient { .. } => {
                Some("GitHub had a transient failure; re-run the job (see https://www.githubstatus.com)".to_owned())
            }
            AttestationsError::Rejected { .. } | AttestationsError::BadResponse { .. } => None,
        }
    }
}

impl fmt::Display for AttestationsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttestationsError::BadRepository { repository } => {
                write!(f, "repository {repository:?} is not of the form owner/repo")
            }
            AttestationsError::Unauthorized { message } => {
                write!(f, "GitHub answered 401: {message}")
            }
            AttestationsError::MissingPermission { message } => {
                write!(f, "GitHub answered 403: {message}")
            }
            AttestationsError::NotAvailable { status, message } => {
                write!(f, "GitHub answered {status}: {message}")
            }
            AttestationsError::NotFound { message } => write!(f, "GitHub answered 404: {message}"),
            AttestationsError::Transient { status, message } => {
                write!(f, "GitHub answered {status}: {message}")
            }
            AttestationsError::Rejected { status, message } => {
                write!(f, "GitHub answered {status}: {message}")
            }
            AttestationsError::BadResponse { status, detail } => {
                write!(f, "GitHub answered {status} without an attestation id: {detail}")
            }
        }
    }
}

impl std::error::Error for AttestationsError {}

/// `{api_url}/repos/{owner}/{repo}/attestations`, after checking `repository` is `owner/repo`
/// with the characters GitHub allows in owner and repository names.
pub fn attestations_endpoint(api_url: &str, repository: &str) -> Result<String, AttestationsError> {
    let bad = || AttestationsError::BadRepository { repository: repository.to_owned() };
    let (owner, repo) = repository.split_once('/').ok_or_else(bad)?;
    let part_ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !part_ok(owner) || !part_ok(repo) {
        return Err(bad());
    }
    Ok(format!("{}/repos/{owner}/{repo}/attestations", api_url.trim_end_matches('/')))
}

/// The page of an attestation: `{server_url}/{owner}/{repo}/attestations/{id}` (as actions/attest).
pub fn attestation_url(server_url: &str, repository: &str, id: u64) -> String {
    format!("{}/{repository}/attestations/{id}", server_url.trim_end_matches('/'))
}

/// Classifies an answer of the attestations API: 201 (any 2xx) with `{"id": N}` is success;
/// every other status maps to the cause a maintainer can act on.
pub fn classify_response(status: u16, body: &[u8]) -> Result<CreateAttestationResponse, AttestationsError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice::<CreateAttestationResponse>(body)
            .map_err(|e| AttestationsError::BadResponse { status, detail: e.to_string() });
    }
    let message = serde_json::from_slice::<ApiErrorBody>(body)
        .ok()
        .map(|b| b.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| body_excerpt(body));
    let lower = message.to_ascii_lowercase();
    if lower.contains("feature not available") || lower.contains("upgrade the billing plan") {
        return Err(AttestationsError::NotAvailable { status, message });
    }
    Err(match status {
        401 => AttestationsError::Unauthorized { message },
        403 if lower.contains("rate limit") => AttestationsError::Transient { status, message },
        403 => AttestationsError::MissingPermission { message },
        404 => AttestationsError::NotFound { message },
        408 | 429 | 500..=599 => AttestationsError::Transient { status, message },
        _ => AttestationsError::Rejected { status, message },
    })
}

/// The start of a non-JSON error body, on one line.
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "(empty body)".to_owned()
    } else {
        line
    }
}

/// A stored attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedAttestation {
    pub id: u64,
    pub url: String,
}

// ---------------------------------------------------------------------------------------------
// The edge: files.

/// A fresh random heredoc delimiter.
pub fn random_delimiter() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot draw a random output delimiter: {e}")))?;
    Ok(delimiter_from(bytes))
}

/// Appends `outputs` to the `$GITHUB_OUTPUT` file in the heredoc form, with a random delimiter.
pub fn append_outputs(path: &Path, outputs: &[(&str, String)]) -> anyhow::Result<()> {
    let records = output_records(outputs, &random_delimiter()?)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot write step outputs: {e}")))?;
    append(path, records.as_bytes(), "GITHUB_OUTPUT")
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file.
pub fn append_summary(path: &Path, markdown: &str) -> anyhow::Result<()> {
    append(path, markdown.as_bytes(), "GITHUB_STEP_SUMMARY")
}

/// The runner's file commands are append-only files it reads after the step; append in one write.
fn append(path: &Path, bytes: &[u8], variable: &str) -> anyhow::Result<()> {
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

// ---------------------------------------------------------------------------------------------
// The edge: the attestations API.

/// Where and with which token `--upload-to-github` stores the bundle. Resolved before signing, so
/// a missing token or repository fails before anything is signed or logged.
#[derive(Debug)]
pub struct UploadTarget {
    pub endpoint: String,
    pub repository: String,
    pub server_url: String,
    token: SecretString,
}

impl UploadTarget {
    /// From `GITHUB_TOKEN` (masked as soon as it is read), `GITHUB_REPOSITORY`, `GITHUB_API_URL`
    /// and `GITHUB_SERVER_URL`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<UploadTarget> {
        let actions = ActionsEnv::from_lookup(env);
        let token = env("GITHUB_TOKEN").filter(|t| !t.is_empty()).map(SecretString::new).ok_or_else(|| {
            fail_with_hint(
                ExitKind::Environment,
                "--upload-to-github needs a token in GITHUB_TOKEN",
                "the action passes its `github-token` input (default `${{ github.token }}`); elsewhere set GITHUB_TOKEN",
            )
        })?;
        report::mask(&token);
        let repository = actions.repository.clone().ok_or_else(|| {
            fail_with_hint(
                ExitKind::Environment,
                "--upload-to-github needs GITHUB_REPOSITORY (owner/repo)",
                "run it in GitHub Actions, which sets GITHUB_REPOSITORY",
            )
        })?;
        let endpoint = attestations_endpoint(&actions.api_url, &repository).map_err(|e| {
            let hint = e.hint(None).unwrap_or_default();
            fail_with_hint(e.exit_kind(), e.to_string(), hint)
        })?;
        Ok(UploadTarget { endpoint, repository, server_url: actions.server_url, token })
    }
}

/// Stores `bundle` with `POST /repos/{owner}/{repo}/attestations`, retrying transient failures
/// (408, 429, 5xx, connection errors) with exponential backoff.
pub async fn upload_attestation(
    target: &UploadTarget,
    bundle: &Value,
    retry: RetryPolicy,
    workflow_path: Option<&str>,
) -> anyhow::Result<UploadedAttestation> {
    // With RUNNER_DEBUG the request log is folded into one collapsible group.
    let grouped = report::debug_enabled();
    if grouped {
        report::group_start("GitHub attestations API");
    }
    let result = upload_with_retries(target, bundle, retry, workflow_path).await;
    if grouped {
        report::group_end();
    }
    result
}

async fn upload_with_retries(
    target: &UploadTarget,
    bundle: &Value,
    retry: RetryPolicy,
    workflow_path: Option<&str>,
) -> anyhow::Result<UploadedAttestation> {
    // Retries are decided here, from the classified answer; the client sends each request once.
    let http = Http::new(RetryPolicy::NONE)?;
    let body = serde_json::to_value(CreateAttestationRequest { bundle })
        .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the attestations request: {e}")))?;
    let headers = [("accept", "application/vnd.github+json"), ("x-github-api-version", API_VERSION)];
    // The shared policy (`crate::http::RetryPolicy`: backoff with jitter, `Retry-After`, the
    // overall deadline); which answers are transient is GitHub's own (`classify_response`:
    // also its 403 rate limits).
    let started = std::time::Instant::now();
    let mut attempt = 1;
    loop {
        let answer =
            http.post_json_once("the GitHub attestations API", &target.endpoint, &body, &target.token, &headers).await;
        let (error, wait) = match answer {
            Ok(response) => {
                report::debug(&format!("POST {} (attempt {attempt}): {}", target.endpoint, response.status));
                match classify_response(response.status.as_u16(), &response.body) {
                    Ok(created) => {
                        let url = attestation_url(&target.server_url, &target.repository, created.id);
                        return Ok(UploadedAttestation { id: created.id, url });
                    }
                    Err(e) => {
                        let wait = e
                            .is_transient()
                            .then(|| retry.wait_before_retry(attempt, started, Some(&response.headers)))
                            .flatten();
                        match wait {
                            Some(wait) => (e.to_string(), wait),
                            None => {
                                let message = format!("cannot store the attestation with GitHub: {e}");
                                return Err(match e.hint(workflow_path) {
                                    Some(hint) => fail_with_hint(e.exit_kind(), message, hint),
                                    None => fail(e.exit_kind(), message),
                                });
                            }
                        }
                    }
                }
            }
            // Connection failures and the like.
            Err(e) => match retry.wait_before_retry(attempt, started, None) {
                Some(wait) => (format!("{e:#}"), wait),
                None => return Err(e.context("cannot store the attestation with GitHub")),
            },
        };
        report::warn(&format!(
            "the GitHub attestations API failed ({error}); retrying in {} ms (attempt {} of at most {})",
            wait.as_millis(),
            attempt + 1,
            retry.retries + 1
        ));
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// The edge: reporting an attestation to the runner.

/// What `attest` produced, as the Actions outputs and summary need it.
#[derive(Debug)]
pub struct Attested<'a> {
    pub bundle: &'a Bundle,
    pub bundle_path: &'a Path,
    pub tarball_path: &'a Path,
    pub name: &'a str,
    pub version: &'a str,
    pub sha512: [u8; 64],
    pub log_index: i64,
    pub transparency_log_url: &'a str,
    pub trusted_root: TrustedRootChoice<'a>,
    /// Where the trusted root was written (local stand-in), for the verification command.
    pub trusted_root_path: Option<&'a Path>,
}

/// Where `attest` reports to: the environment (`GITHUB_*`), the attestations API target when
/// uploading, and the trusted root that verifies the fresh bundle.
pub struct ReportTo<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub upload: Option<&'a UploadTarget>,
    pub trusted_root: TrustedRootChoice<'a>,
}

/// The trusted root that verifies a fresh bundle.
#[derive(Debug, Clone, Copy)]
pub enum TrustedRootChoice<'a> {
    /// Sigstore public-good (the root embedded in the binary).
    PublicGood,
    /// The in-process stand-in's.
    Local(&'a TrustedRoot),
    /// The instance's, verified through TUF in this run (or from its verified cache).
    Tuf(&'a TrustedRoot),
    /// Another instance, whose root we do not have.
    Unknown,
}

/// Writes the step outputs (under GitHub Actions), verifies the fresh bundle as a consumer would
/// (failing when it does not verify), stores it with the attestations API when `upload` is
/// given, and appends the job summary (under GitHub Actions).
pub async fn report_attestation(
    env: &dyn Fn(&str) -> Option<String>,
    attested: &Attested<'_>,
    upload: Option<&UploadTarget>,
) -> anyhow::Result<()> {
    let actions = ActionsEnv::from_lookup(env);
    let bundle_path = absolute(attested.bundle_path);
    let tarball_path = absolute(attested.tarball_path);
    let purl =
        NpmPackage { name: attested.name.to_owned(), version: attested.version.to_owned(), sha512: attested.sha512 }
            .purl();
    let digest = format!("sha512:{}", hex::encode(attested.sha512));
    if let (Some(_), Some(temp)) = (&actions.output_file, &actions.runner_temp) {
        // Like actions/attest: one bundle path per line, gathered across the job's steps.
        let list = temp.join("created_attestation_paths.txt");
        append(&list, format!("{}\n", bundle_path.display()).as_bytes(), "RUNNER_TEMP")?;
    }
    if let Some(file) = &actions.output_file {
        // Written before the upload, so that a failed upload still reports the bundle.
        append_outputs(
            file,
            &[
                ("bundle-path", bundle_path.display().to_string()),
                ("tarball", tarball_path.display().to_string()),
                ("subject-name", purl.clone()),
                ("subject-digest", digest.clone()),
                ("log-index", attested.log_index.to_string()),
                ("transparency-log-url", attested.transparency_log_url.to_owned()),
            ],
        )?;
        // The local stand-in's trusted root, which verifies the bundle (the action's publish
        // step passes it to `publish --trusted-root`).
        if let Some(root) = attested.trusted_root_path {
            append_outputs(file, &[("trusted-root", absolute(root).display().to_string())])?;
        }
    }
    let mut summary = AttestSummary {
        package: format!("{}@{}", attested.name, attested.version),
        subject_name: purl,
        subject_digest: digest,
        log_index: u64::try_from(attested.log_index).ok(),
        transparency_log_url: Some(attested.transparency_log_url.to_owned()),
        bundle_path: bundle_path.display().to_string(),
        ..AttestSummary::default()
    };
    if let (Some(issuer), Some(repository)) = (actions_issuer(&actions.server_url), &actions.repository) {
        let root = attested.trusted_root_path.map(|p| absolute(p).display().to_string());
        summary.verify_command = Some(verify_command(
            &summary.bundle_path,
            root.as_deref(),
            &issuer,
            repository,
            &tarball_path.display().to_string(),
        ));
    }
    if let Some(error) = verify_for_summary(&actions, attested, &mut summary) {
        // A fresh bundle that does not verify for this repository is neither stored nor
        // published (the publish step does not run after a failed step).
        if let Some(file) = &actions.summary_file {
            append_summary(file, &render_summary(&summary))?;
        }
        return Err(error);
    }
    if let Some(target) = upload {
        let bundle = serde_json::to_value(attested.bundle)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the bundle: {e}")))?;
        match upload_attestation(
            target,
            &bundle,
            RetryPolicy::default().with_env_deadline(),
            actions.workflow_path.as_deref(),
        )
        .await
        {
            Ok(uploaded) => {
                report::info(&format!("Attestation stored with GitHub: {}", uploaded.url));
                if let Some(file) = &actions.output_file {
                    append_outputs(
                        file,
                        &[("attestation-id", uploaded.id.to_string()), ("attestation-url", uploaded.url.clone())],
                    )?;
                }
                summary.attestation_url = Some(uploaded.url);
            }
            Err(e) => {
                if let Some(file) = &actions.summary_file {
                    let mut md = render_summary(&summary);
                    md.push_str(&format!(
                        "\n❌ Storing the attestation with GitHub failed: {}\n",
                        escape_md(&crate::error::render(&e))
                    ));
                    append_summary(file, &md)?;
                }
                return Err(e);
            }
        }
    }
    if let Some(file) = &actions.summary_file {
        append_summary(file, &render_summary(&summary))?;
    }
    Ok(())
}

/// Verifies the fresh bundle as a consumer would: against the instance's trusted root, for this
/// package and tarball, signed for this repository (Source Repository URI) by the Actions issuer
/// of `GITHUB_SERVER_URL`.
///
/// Returns the error that must fail the step: any failure against the stand-in's root (we hold
/// the exact root), and against public-good a failure no stale embedded root can explain (the
/// identity, the signature, the subject). Other public-good failures are warnings: npm verifies
/// the bundle against the live Sigstore root when it is published.
fn verify_for_summary(
    actions: &ActionsEnv,
    attested: &Attested<'_>,
    summary: &mut AttestSummary,
) -> Option<anyhow::Error> {
    let refusal = verify_into_summary(actions, attested, summary);
    if summary.signer_identity.is_none() {
        // Not verified: still show who the certificate names, marked as such.
        let leaf = attested
            .bundle
            .verification_material
            .certificate
            .as_ref()
            .and_then(|c| LeafCertificate::parse(&c.raw_bytes).ok());
        if let Some(leaf) = leaf {
            summary.signer_identity = leaf.san().map(|san| san.value().to_owned());
            summary.signer_issuer = leaf.oidc_issuer().map(str::to_owned);
            summary.signer_unverified = summary.signer_identity.is_some();
        }
    }
    refusal
}

fn verify_into_summary(
    actions: &ActionsEnv,
    attested: &Attested<'_>,
    summary: &mut AttestSummary,
) -> Option<anyhow::Error> {
    let public_good;
    let (trust, root_name) = match attested.trusted_root {
        TrustedRootChoice::Local(root) => (root, "local stand-in"),
        TrustedRootChoice::Tuf(root) => (root, "TUF"),
        TrustedRootChoice::PublicGood => {
            match serde_json::from_str::<TrustedRoot>(crate::cmd::verify::PRODUCTION_TRUSTED_ROOT) {
                Ok(root) => {
                    public_good = root;
                    (&public_good, "public-good")
                }
                Err(e) => {
                    summary.verification =
                        Some(VerificationOutcome::NotRun { reason: format!("embedded trusted root: {e}") });
                    return None;
                }
            }
        }
        TrustedRootChoice::Unknown => {
            summary.verification = Some(VerificationOutcome::NotRun {
                reason: "no trusted root is known for this Sigstore instance".into(),
            });
            return None;
        }
    };
    // Only in an Actions job do GITHUB_REPOSITORY and the identity token describe the same run.
    let (true, Some(issuer), Some(repository)) =
        (actions.in_actions, actions_issuer(&actions.server_url), actions.repository.as_deref())
    else {
        summary.verification =
            Some(VerificationOutcome::NotRun { reason: "not a GitHub Actions run on github.com or GHE.com".into() });
        return None;
    };
    let mut identity = IdentityPolicy::new(issuer);
    identity.source_repository_uri = Some(format!("{}/{repository}", actions.server_url.trim_end_matches('/')));
    let subject = Subject::NpmPackage(NpmPackage {
        name: attested.name.to_owned(),
        version: attested.version.to_owned(),
        sha512: attested.sha512,
    });
    match verify_bundle(attested.bundle, trust, &subject, &Policy::Keyless(identity)) {
        Ok(verified) => {
            if let Some(id) = verified.identity() {
                summary.signer_identity = Some(id.san.value().to_owned());
                summary.signer_issuer = Some(id.issuer.clone());
            }
            summary.verification = Some(VerificationOutcome::Verified { trusted_root: root_name.to_owned() });
        }
        Err(e) => {
            summary.verification = Some(VerificationOutcome::Failed { reason: e.to_string() });
            // With the exact root (the stand-in's, or fresh from TUF) no stale root can explain
            // a failure: every one refuses.
            let refuse = matches!(attested.trusted_root, TrustedRootChoice::Local(_) | TrustedRootChoice::Tuf(_))
                || matches!(
                    e,
                    VerifyError::PolicyMismatch { .. }
                        | VerifyError::Signature { .. }
                        | VerifyError::SubjectMismatch { .. }
                );
            let message = format!("the fresh bundle does not verify: {e}");
            if refuse {
                return Some(fail_with_hint(
                    ExitKind::VerificationFailed,
                    message,
                    "the identity token and GITHUB_REPOSITORY/GITHUB_SERVER_URL must describe the same repository",
                ));
            }
            report::warn(&format!(
                "{message} (the embedded trusted root may be older than the Sigstore keys; npm checks the bundle against the current root when publishing)"
            ));
        }
    }
    None
}

/// The OIDC issuer of Actions tokens for a GitHub server URL, derived as actions/attest does:
/// github.com and GHE.com tenants; `None` for anything else (GHES).
pub fn actions_issuer(server_url: &str) -> Option<String> {
    let host = url::Url::parse(server_url).ok()?.host_str()?.to_owned();
    if host == "github.com" {
        return Some("https://token.actions.githubusercontent.com".to_owned());
    }
    let tenant = host.strip_suffix(".ghe.com")?;
    (!tenant.is_empty() && !tenant.contains('.')).then(|| format!("https://token.actions.{tenant}.ghe.com"))
}

fn absolute(path: &Path) -> PathBuf {
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

    fn summary() -> AttestSummary {
        AttestSummary {
            package: "@scope/pkg@1.2.3".into(),
            subject_name: "pkg:npm/%40scope/pkg@1.2.3".into(),
            subject_digest: "sha512:abcd".into(),
            signer_identity: Some("https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.2.3".into()),
            signer_issuer: Some("https://token.actions.githubusercontent.com".into()),
            signer_unverified: false,
            log_index: Some(42),
            transparency_log_url: Some("https://search.sigstore.dev/?logIndex=42".into()),
            bundle_path: "/tmp/pkg-1.2.3.sigstore.json".into(),
            verification: Some(VerificationOutcome::Verified { trusted_root: "public-good".into() }),
            attestation_url: Some("https://github.com/octo/pkg/attestations/7".into()),
            published_to: None,
            verify_command: Some(verify_command(
                "/tmp/pkg-1.2.3.sigstore.json",
                None,
                "https://token.actions.githubusercontent.com",
                "octo/pkg",
                "/tmp/scope-pkg-1.2.3.tgz",
            )),
        }
    }

    #[test]
    fn summary_shows_the_facts() {
        let md = render_summary(&summary());
        assert!(md.starts_with("### npm provenance attested\n"));
        assert!(md.contains("| Package | <code>@scope/pkg@1.2.3</code> |"), "{md}");
        assert!(md.contains("| Digest | <code>sha512:abcd</code> |"));
        assert!(md.contains("| Transparency log | [log index 42](https://search.sigstore.dev/?logIndex=42) |"), "{md}");
        assert!(md.contains("<code>https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.2.3</code>"));
        assert!(md.contains("| Verification | ✅ verified against the public-good trusted root |"), "{md}");
        assert!(md.contains("[https://github.com/octo/pkg/attestations/7](https://github.com/octo/pkg/attestations/7)"));
        assert!(md.contains(
            "\n```sh\nnpm-attest verify --bundle /tmp/pkg-1.2.3.sigstore.json --certificate-oidc-issuer https://token.actions.githubusercontent.com --repository octo/pkg /tmp/scope-pkg-1.2.3.tgz\n```\n"
        ), "{md}");
    }

    #[test]
    fn summary_marks_an_unverified_signer() {
        let mut s = summary();
        s.signer_unverified = true;
        s.verification = Some(VerificationOutcome::Failed { reason: "inclusion proof does not match".into() });
        let md = render_summary(&s);
        assert!(
            md.contains("(issuer <code>https://token.actions.githubusercontent.com</code>) (not verified) |"),
            "{md}"
        );
        assert!(md.contains("| Verification | ❌ failed: inclusion proof does not match |"), "{md}");
    }

    #[test]
    fn summary_escapes_hostile_values() {
        let mut s = summary();
        s.package = "x</code><script>alert(1)</script>|`\nnext".into();
        s.transparency_log_url = Some("javascript:alert(1)".into());
        s.verification = Some(VerificationOutcome::Failed { reason: "[click](http://evil) <b>".into() });
        s.verify_command = Some(verify_command("/tmp/a b'$(x)", Some("r\nx"), "i", "o/r", "t"));
        let md = render_summary(&s);
        assert!(!md.contains("<script>"), "{md}");
        assert!(!md.contains("](javascript"), "{md}");
        assert!(!md.contains("<b>"));
        assert!(md.contains("\\[click\\]\\(http://evil\\)"), "{md}");
        assert!(md.contains("--bundle '/tmp/a b'\\''$(x)' --trusted-root 'r x' "), "{md}");
        // Every table line still has exactly three cell separators.
        for line in md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---")) {
            assert_eq!(line.matches('|').count(), 3, "{line}");
        }
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
    fn request_body_wraps_the_bundle_as_json() {
        let bundle = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"});
        let body = serde_json::to_string(&CreateAttestationRequest { bundle: &bundle }).unwrap();
        assert_eq!(body, r#"{"bundle":{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}"#);
    }

    #[test]
    fn endpoint_and_url() {
        assert_eq!(
            attestations_endpoint("https://api.github.com/", "octo/pkg").unwrap(),
            "https://api.github.com/repos/octo/pkg/attestations"
        );
        for bad in ["octo", "octo/", "/pkg", "octo/pkg/x", "octo/../x", "o?x/y", "o/.."] {
            assert!(
                matches!(
                    attestations_endpoint("https://api.github.com", bad),
                    Err(AttestationsError::BadRepository { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(attestation_url("https://github.com", "octo/pkg", 7), "https://github.com/octo/pkg/attestations/7");
    }

    #[test]
    fn classify_success_and_failures() {
        assert_eq!(classify_response(201, br#"{"id": 123}"#).unwrap(), CreateAttestationResponse { id: 123 });
        assert!(matches!(classify_response(201, b"{}"), Err(AttestationsError::BadResponse { status: 201, .. })));

        let e =
            classify_response(403, br#"{"message":"Resource not accessible by integration","documentation_url":"x"}"#)
                .unwrap_err();
        assert_eq!(
            e,
            AttestationsError::MissingPermission { message: "Resource not accessible by integration".into() }
        );
        assert!(!e.is_transient());
        assert_eq!(e.exit_kind(), ExitKind::Environment);
        assert!(e.hint(Some(".github/workflows/release.yml")).unwrap().contains("attestations: write"));

        let e = classify_response(404, br#"{"message":"Feature not available for user-owned private repositories."}"#)
            .unwrap_err();
        assert!(matches!(e, AttestationsError::NotAvailable { status: 404, .. }));

        let e = classify_response(502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!(e, AttestationsError::Transient { status: 502, message: "<html>bad gateway</html>".into() });
        assert!(e.is_transient());
        assert!(classify_response(429, b"").unwrap_err().is_transient());
        assert!(classify_response(403, br#"{"message":"API rate limit exceeded"}"#).unwrap_err().is_transient());

        let e = classify_response(422, br#"{"message":"Validation failed"}"#).unwrap_err();
        assert_eq!(e.to_string(), "GitHub answered 422: Validation failed");
        assert_eq!(e.exit_kind(), ExitKind::Remote);
        assert!(matches!(classify_response(401, b"").unwrap_err(), AttestationsError::Unauthorized { .. }));
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

    /// A real npm provenance bundle (v0.3, public-good) and its package.
    fn playwright_cli() -> (Bundle, [u8; 64]) {
        let text = include_str!("../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json");
        let sha512 = hex::decode("f64d7565f0f001f3150c322e1155b55afb3c4a80cd5c863574d43ef42f7f492f199849647317acbb97a82fbbcd6bdea7b626d419aab54ccdaa428aaf765fc8f6").unwrap();
        (serde_json::from_str(text).unwrap(), sha512.try_into().unwrap())
    }

    fn actions_for(repository: &str) -> ActionsEnv {
        let repository = repository.to_owned();
        ActionsEnv::from_lookup(&move |k: &str| match k {
            "GITHUB_REPOSITORY" => Some(repository.clone()),
            "GITHUB_ACTIONS" => Some("true".to_owned()),
            _ => None,
        })
    }

    fn attested<'a>(bundle: &'a Bundle, sha512: [u8; 64]) -> Attested<'a> {
        Attested {
            bundle,
            bundle_path: Path::new("b.sigstore.json"),
            tarball_path: Path::new("t.tgz"),
            name: "@playwright/cli",
            version: "0.1.1",
            sha512,
            log_index: 0,
            transparency_log_url: "https://search.sigstore.dev/?logIndex=0",
            trusted_root: TrustedRootChoice::PublicGood,
            trusted_root_path: None,
        }
    }

    #[test]
    fn a_public_good_bundle_verifies_for_its_repository() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let refusal =
            verify_for_summary(&actions_for("microsoft/playwright-cli"), &attested(&bundle, sha512), &mut summary);
        assert!(refusal.is_none(), "{refusal:?}");
        assert_eq!(summary.verification, Some(VerificationOutcome::Verified { trusted_root: "public-good".into() }));
        assert_eq!(
            summary.signer_identity.as_deref(),
            Some("https://github.com/microsoft/playwright-cli/.github/workflows/publish.yml@refs/tags/v0.1.1")
        );
        assert!(!summary.signer_unverified);
    }

    #[test]
    fn a_bundle_signed_for_another_repository_is_refused() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let refusal = verify_for_summary(&actions_for("octo/impostor"), &attested(&bundle, sha512), &mut summary)
            .expect("a policy mismatch fails the step");
        assert_eq!(crate::error::classify(&refusal).0, ExitKind::VerificationFailed);
        assert!(matches!(summary.verification, Some(VerificationOutcome::Failed { .. })));
        assert!(summary.signer_unverified);
    }

    #[test]
    fn a_bundle_for_another_tarball_is_refused() {
        let (bundle, mut sha512) = playwright_cli();
        sha512[0] ^= 1;
        let mut summary = AttestSummary::default();
        let refusal =
            verify_for_summary(&actions_for("microsoft/playwright-cli"), &attested(&bundle, sha512), &mut summary);
        assert!(refusal.is_some());
    }

    #[test]
    fn verification_needs_a_github_run() {
        let (bundle, sha512) = playwright_cli();
        let mut summary = AttestSummary::default();
        let env = ActionsEnv::from_lookup(&|_| None);
        assert!(verify_for_summary(&env, &attested(&bundle, sha512), &mut summary).is_none());
        assert!(matches!(summary.verification, Some(VerificationOutcome::NotRun { .. })));
        // The signer is still shown, marked as not verified.
        assert!(summary.signer_unverified);
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
