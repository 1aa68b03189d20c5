//! GitHub's artifact attestations API (`POST /repos/{owner}/{repo}/attestations`,
//! github-actions.md): the request, the classification of its answers, and the upload through
//! the one retry loop of `crate::http`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ci::runner::{permission_hint, ActionsEnv, Permission};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, Request, Response, RetryPolicy, MAX_BODY_BYTES};
use crate::report;
use crate::secret::SecretString;

/// The GitHub API version we speak (the `X-GitHub-Api-Version` header).
pub(crate) const API_VERSION: &str = "2022-11-28";

/// The body of `POST /repos/{owner}/{repo}/attestations`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateAttestationRequest<'a> {
    /// The Sigstore bundle, as JSON (not a string).
    pub bundle: &'a Value,
}

/// The 201 answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct CreateAttestationResponse {
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
pub(crate) enum AttestationsError {
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
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, AttestationsError::Transient { .. })
    }

    pub(crate) fn exit_kind(&self) -> ExitKind {
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
    pub(crate) fn hint(&self, workflow_path: Option<&str>) -> Option<String> {
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
pub(crate) fn attestations_endpoint(api_url: &str, repository: &str) -> Result<String, AttestationsError> {
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
pub(crate) fn attestation_url(server_url: &str, repository: &str, id: u64) -> String {
    format!("{}/{repository}/attestations/{id}", server_url.trim_end_matches('/'))
}

/// Classifies an answer of the attestations API: 201 (any 2xx) with `{"id": N}` is success;
/// every other status maps to the cause a maintainer can act on.
pub(crate) fn classify_response(status: u16, body: &[u8]) -> Result<CreateAttestationResponse, AttestationsError> {
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
pub(crate) struct UploadedAttestation {
    pub id: u64,
    pub url: String,
}

/// Where and with which token `--upload-to-github` stores the bundle. Resolved before signing, so
/// a missing token or repository fails before anything is signed or logged.
#[derive(Debug)]
pub(crate) struct UploadTarget {
    pub endpoint: String,
    pub repository: String,
    pub server_url: String,
    token: SecretString,
}

impl UploadTarget {
    /// From `GITHUB_TOKEN` (masked as soon as it is read), `GITHUB_REPOSITORY`, `GITHUB_API_URL`
    /// and `GITHUB_SERVER_URL`.
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<UploadTarget> {
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
pub(crate) async fn upload_attestation(
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
    let http = Http::new(retry)?;
    let body = serde_json::to_vec(&CreateAttestationRequest { bundle })
        .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the attestations request: {e}")))?;
    let headers = [
        ("accept", "application/vnd.github+json".to_owned()),
        ("content-type", "application/json".to_owned()),
        ("x-github-api-version", API_VERSION.to_owned()),
    ];
    let request = Request {
        method: reqwest::Method::POST,
        url: &target.endpoint,
        headers: &headers,
        bearer: Some(&target.token),
        body: Some(body),
    };
    // The one retry loop of `crate::http` (backoff with jitter, `Retry-After`, the overall
    // deadline); which answers are transient is GitHub's own (`classify_response`: also its
    // 403 rate limits).
    let transient = |response: &Response| match classify_response(response.status.as_u16(), &response.body) {
        Err(e) if e.is_transient() => Some(e.to_string()),
        _ => None,
    };
    let response = http
        .request_classified("the GitHub attestations API", request, MAX_BODY_BYTES, &transient)
        .await
        .map_err(|e| e.context("cannot store the attestation with GitHub"))?;
    report::debug(&format!("POST {}: {}", target.endpoint, response.status));
    match classify_response(response.status.as_u16(), &response.body) {
        Ok(created) => {
            let url = attestation_url(&target.server_url, &target.repository, created.id);
            Ok(UploadedAttestation { id: created.id, url })
        }
        Err(e) => {
            let message = format!("cannot store the attestation with GitHub: {e}");
            Err(match e.hint(workflow_path) {
                Some(hint) => fail_with_hint(e.exit_kind(), message, hint),
                None => fail(e.exit_kind(), message),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
