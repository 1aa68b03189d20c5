//! Identity tokens for Fulcio (npm-provenance.md §7.2; sigstore-js `identity/ci.ts`).
//!
//! Sources, in order: the GitHub Actions runtime (`ACTIONS_ID_TOKEN_REQUEST_URL` with
//! `audience=sigstore`), the `SIGSTORE_ID_TOKEN` variable (GitLab's `id_tokens`), then the
//! `--identity-token` flag. [`discover`] only looks at the environment, so a missing token
//! is reported before any work is done; [`fetch`] does the network part.
//!
//! Every token is a `SecretString` and is masked in the Actions log as soon as it is known.

use serde_json::Value;

use crate::core::jwt::{decode_unverified, UnverifiedJwt};
use crate::core::time::UnixTime;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::Http;
use crate::report;
use crate::secret::SecretString;

/// The audience Fulcio accepts for CI identity tokens.
pub(crate) const SIGSTORE_AUDIENCE: &str = "sigstore";

/// Where the identity token comes from.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum TokenSource {
    /// The GitHub Actions OIDC runtime; the token still has to be requested.
    ActionsRuntime { request_url: String, request_token: SecretString },
    /// `SIGSTORE_ID_TOKEN`.
    Environment(SecretString),
    /// `--identity-token`.
    Flag(SecretString),
}

impl TokenSource {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::ActionsRuntime { .. } => "the GitHub Actions OIDC runtime",
            Self::Environment(_) => "SIGSTORE_ID_TOKEN",
            Self::Flag(_) => "--identity-token",
        }
    }
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.trim().is_empty())
}

/// Finds the identity token source without any network access, masking what it finds.
/// With none, fails with `ExitKind::Environment` and a hint naming the fix for the CI at hand.
pub(crate) fn discover(
    env: &dyn Fn(&str) -> Option<String>,
    flag: Option<SecretString>,
) -> anyhow::Result<TokenSource> {
    if let Some(request_url) = non_empty(env, "ACTIONS_ID_TOKEN_REQUEST_URL") {
        let Some(request_token) = non_empty(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(SecretString::new) else {
            return Err(fail_with_hint(
                ExitKind::Environment,
                "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not",
                "run inside a GitHub Actions job with `permissions: id-token: write`",
            ));
        };
        report::mask(&request_token);
        return Ok(TokenSource::ActionsRuntime { request_url, request_token });
    }
    if let Some(token) = non_empty(env, "SIGSTORE_ID_TOKEN").map(|t| SecretString::new(t.trim().to_owned())) {
        report::mask(&token);
        return Ok(TokenSource::Environment(token));
    }
    if let Some(token) = flag.filter(|t| !t.expose().trim().is_empty()) {
        report::mask(&token);
        return Ok(TokenSource::Flag(token));
    }
    Err(missing_token(env))
}

/// The error for "no identity token anywhere", with the fix for the CI we run in.
pub(crate) fn missing_token(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Error {
    let is = |key: &str| non_empty(env, key).is_some();
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        fail_with_hint(
            ExitKind::Environment,
            "no identity token: the GitHub Actions OIDC runtime is not available to this job",
            "add `permissions: id-token: write` to the workflow job (fork pull requests never get it)",
        )
    } else if is("GITLAB_CI") {
        fail_with_hint(
            ExitKind::Environment,
            "no identity token: SIGSTORE_ID_TOKEN is not set",
            "declare `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` in the GitLab CI job",
        )
    } else {
        fail_with_hint(
            ExitKind::Environment,
            "no identity token: not in GitHub Actions or GitLab CI, and no token was given",
            "pass --identity-token or set SIGSTORE_ID_TOKEN, or use --dry-run to sign with a local stand-in",
        )
    }
}

/// The identity token for `source`: requested from the Actions runtime, or taken as given.
pub(crate) async fn fetch(http: &Http, source: TokenSource) -> anyhow::Result<SecretString> {
    let token = match source {
        TokenSource::ActionsRuntime { request_url, request_token } => {
            let url = audience_url(&request_url, SIGSTORE_AUDIENCE)?;
            let response = http.get_json("the GitHub Actions OIDC runtime", &url, Some(&request_token)).await?;
            let value = response.json("the GitHub Actions OIDC runtime")?;
            let token = value.get("value").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
                fail(ExitKind::Remote, "the GitHub Actions OIDC runtime answered without a token (no `value` field)")
            })?;
            let token = SecretString::new(token.to_owned());
            report::mask(&token);
            token
        }
        TokenSource::Environment(token) | TokenSource::Flag(token) => token,
    };
    Ok(token)
}

/// `<request url>&audience=<aud>` (`?` when the URL has no query yet).
pub(crate) fn audience_url(request_url: &str, audience: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(request_url).map_err(|e| {
        fail_with_hint(
            ExitKind::Environment,
            format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"),
            "run inside a GitHub Actions job with `permissions: id-token: write`",
        )
    })?;
    url.query_pairs_mut().append_pair("audience", audience);
    Ok(url.into())
}

/// Decodes the token's claims (no signature check: Fulcio does that) and explains problems
/// Fulcio would otherwise report less clearly. Returns warnings for what may still work.
pub(crate) fn inspect(
    token: &SecretString,
    source: &str,
    now: UnixTime,
) -> anyhow::Result<(UnverifiedJwt, Vec<String>)> {
    let jwt = decode_unverified(token.expose())
        .map_err(|e| fail(ExitKind::BadInput, format!("identity token from {source} is unusable: {e}")))?;
    let mut warnings = Vec::new();
    let audiences = jwt.audiences();
    if !audiences.contains(&SIGSTORE_AUDIENCE) {
        warnings.push(format!(
            "identity token from {source} has audience {audiences:?}, Sigstore's Fulcio expects \"{SIGSTORE_AUDIENCE}\""
        ));
    }
    if let Some(exp) = jwt.int_claim("exp") {
        if exp < now.seconds() {
            return Err(fail_with_hint(
                ExitKind::Environment,
                format!("identity token from {source} expired at {}", UnixTime(exp).to_rfc3339()),
                "request a fresh token (GitHub and GitLab tokens live for minutes)",
            ));
        }
    }
    if jwt.challenge_subject().is_none() {
        return Err(fail(
            ExitKind::BadInput,
            format!("identity token from {source} has no `sub` claim (or an unverified `email`) to prove key possession over"),
        ));
    }
    Ok((jwt, warnings))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::error::classify;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn sources_are_tried_in_order() {
        let flag = || Some(SecretString::new("flag.token.x".into()));
        let all = env(&[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:1/token?api-version=2.0"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req"),
            ("SIGSTORE_ID_TOKEN", "env.token.x"),
        ]);
        assert!(matches!(discover(&all, flag()).unwrap(), TokenSource::ActionsRuntime { .. }));
        let gitlab = env(&[("SIGSTORE_ID_TOKEN", "env.token.x")]);
        assert!(
            matches!(discover(&gitlab, flag()).unwrap(), TokenSource::Environment(t) if t.expose() == "env.token.x")
        );
        assert!(matches!(discover(&env(&[]), flag()).unwrap(), TokenSource::Flag(_)));
    }

    #[test]
    fn no_token_is_an_environment_error_with_the_ci_specific_fix() {
        let gh = discover(&env(&[("GITHUB_ACTIONS", "true")]), None).unwrap_err();
        assert_eq!(classify(&gh).0, ExitKind::Environment);
        assert!(classify(&gh).1.unwrap().contains("id-token: write"));
        let gl = discover(&env(&[("GITLAB_CI", "true")]), None).unwrap_err();
        assert!(classify(&gl).1.unwrap().contains("aud: sigstore"));
        let local = discover(&env(&[]), Some(SecretString::new("  ".into()))).unwrap_err();
        assert!(classify(&local).1.unwrap().contains("--dry-run"));
    }

    #[test]
    fn audience_is_appended_to_the_runtime_url() {
        assert_eq!(
            audience_url("https://pipelines.example/idtoken?api-version=2.0", "sigstore").unwrap(),
            "https://pipelines.example/idtoken?api-version=2.0&audience=sigstore"
        );
        assert_eq!(audience_url("http://127.0.0.1:5/t", "sigstore").unwrap(), "http://127.0.0.1:5/t?audience=sigstore");
    }

    #[test]
    fn inspect_refuses_expired_and_subjectless_tokens() {
        let key = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let mint =
            |claims: Value| SecretString::new(crate::core::jwt::mint_es256(&key, "k", claims.as_object().unwrap()));
        let good = mint(serde_json::json!({"sub": "repo:o/r:ref:refs/heads/main", "aud": "sigstore", "exp": 2000}));
        let (jwt, warnings) = inspect(&good, "test", UnixTime(1000)).unwrap();
        assert_eq!(jwt.challenge_subject(), Some("repo:o/r:ref:refs/heads/main"));
        assert!(warnings.is_empty());
        let expired = inspect(&good, "test", UnixTime(3000)).unwrap_err();
        assert_eq!(classify(&expired).0, ExitKind::Environment);
        let wrong_aud = mint(serde_json::json!({"sub": "x", "aud": "npm:registry.npmjs.org"}));
        assert_eq!(inspect(&wrong_aud, "test", UnixTime(0)).unwrap().1.len(), 1);
        let no_sub = mint(serde_json::json!({"aud": "sigstore"}));
        assert!(inspect(&no_sub, "test", UnixTime(0)).is_err());
        assert!(inspect(&SecretString::new("not-a-jwt".into()), "test", UnixTime(0)).is_err());
    }
}
