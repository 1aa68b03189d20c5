//! The visibility of the repository a GitHub Actions run builds (`public`, `private` or
//! `internal`), which decides the Sigstore instance `attest --upload-to-github` signs with
//! and whether npm will take the provenance at all.
//!
//! Two sources, read at two times: before anything touches the network, the event payload
//! the runner writes (`GITHUB_EVENT_PATH`, `repository.visibility`, as `@actions/attest`
//! reads it through `github.context.payload`); once the identity token is in hand, its
//! `repository_visibility` claim, which GitHub signs and Fulcio copies into the certificate
//! (OID 1.3.6.1.4.1.57264.1.22).

use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

/// Event payloads are small; a larger file is not read.
const MAX_EVENT_BYTES: u64 = 16 * 1024 * 1024;

/// `repository.visibility` (or, in older payloads, `repository.private`) from the Actions event
/// payload at `path`; `None` when the file or the field is missing.
pub(crate) fn event_visibility(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = Vec::new();
    file.take(MAX_EVENT_BYTES).read_to_end(&mut text).ok()?;
    let event: Value = serde_json::from_slice(&text).ok()?;
    let repository = event.get("repository")?;
    if let Some(v) = repository.get("visibility").and_then(Value::as_str) {
        return Some(v.to_owned());
    }
    repository.get("private").and_then(Value::as_bool).map(|p| if p { "private" } else { "public" }.to_owned())
}

/// The visibility the event payload of this GitHub Actions run states; `None` outside Actions
/// or when the payload does not say.
pub(crate) fn actions_visibility(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return None;
    }
    let path = env("GITHUB_EVENT_PATH").filter(|p| !p.trim().is_empty())?;
    event_visibility(Path::new(&path))
}

/// Whether `visibility` is known and not public (`private`, `internal`, or anything GitHub
/// adds later: failing closed towards not publishing the repository).
pub(crate) fn is_not_public(visibility: Option<&str>) -> bool {
    visibility.is_some_and(|v| v != "public")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_payload_is_read_only_under_actions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, r#"{"repository":{"private":true,"visibility":"internal"}}"#).unwrap();
        let p = path.display().to_string();
        let actions = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".to_owned()),
            "GITHUB_EVENT_PATH" => Some(p.clone()),
            _ => None,
        };
        assert_eq!(actions_visibility(&actions).as_deref(), Some("internal"));
        let local = |k: &str| if k == "GITHUB_EVENT_PATH" { Some(p.clone()) } else { None };
        assert_eq!(actions_visibility(&local), None);
        assert!(is_not_public(Some("internal")) && is_not_public(Some("private")));
        assert!(!is_not_public(Some("public")) && !is_not_public(None));
    }
}
