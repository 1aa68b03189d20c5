//! The mock OIDC issuer and Fulcio's token authentication.
//!
//! Tokens the stand-in minted are checked like Fulcio checks a real issuer's: ES256 signature
//! under the issuer key, `exp`, `aud` contains `sigstore`. A token it did not mint cannot be
//! checked against its real issuer from here (no network), so it is accepted on its claims
//! alone: shape, `exp` in the future, `aud` contains `sigstore`, an `iss` and a subject. A token
//! that names the stand-in's key id but does not verify under it is refused.
//!
//! The principal a token maps to follows Fulcio's issuer types: GitHub Actions (URI SAN
//! `https://github.com/` + `job_workflow_ref` and the `1.3.6.1.4.1.57264.1.*` claims),
//! GitLab (`https://` + `ci_config_ref_uri`), a verified `email`, else the subject.

use serde_json::{Map, Value};

use crate::core::jwt::{decode_unverified, verify_es256, JwtError, UnverifiedJwt};
use crate::core::time::UnixTime;
use crate::core::well_known::{GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER};

/// The audience Fulcio's public-good instance requires.
pub(crate) const AUDIENCE: &str = "sigstore";
/// Real identity tokens are a few KiB; anything far larger is refused before decoding.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Clock skew tolerated on `iat`/`nbf`, as go-oidc allows.
const SKEW_SECONDS: i64 = 60;

/// The subject alternative name a leaf carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum San {
    Uri(String),
    Email(String),
    /// Fulcio's OtherName username form (`1.3.6.1.4.1.57264.1.7`).
    Username(String),
}

/// One `1.3.6.1.4.1.57264.1.<arc>` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomExtension {
    pub arc: u32,
    pub value: String,
}

/// Who a verified token speaks for, and what goes into the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// The name the proof of possession is made over (`email` or `sub`).
    pub challenge: String,
    pub san: San,
    pub extensions: Vec<CustomExtension>,
}

/// Why a token was refused (Fulcio answers all of these with 400 "There was an error
/// processing the identity token").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum TokenError {
    Missing,
    TooLarge {
        bytes: usize,
    },
    Malformed(JwtError),
    /// It names the stand-in's key but the signature does not verify.
    BadSignature,
    Expired {
        exp: i64,
        now: i64,
    },
    NotYetValid {
        claim: &'static str,
        value: i64,
        now: i64,
    },
    MissingClaim {
        claim: &'static str,
    },
    WrongAudience {
        audiences: Vec<String>,
    },
    EmailNotVerified,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("no identity token in the request"),
            Self::TooLarge { bytes } => {
                write!(f, "identity token is {bytes} bytes, over the 64 KiB limit")
            }
            Self::Malformed(e) => write!(f, "{e}"),
            Self::BadSignature => {
                f.write_str("identity token names the stand-in's key but its signature does not verify")
            }
            Self::Expired { exp, now } => write!(f, "identity token expired at {exp} (now {now})"),
            Self::NotYetValid { claim, value, now } => {
                write!(f, "identity token `{claim}` {value} is in the future (now {now})")
            }
            Self::MissingClaim { claim } => write!(f, "identity token has no `{claim}` claim"),
            Self::WrongAudience { audiences } => {
                write!(f, "identity token audience {audiences:?} does not contain `sigstore`")
            }
            Self::EmailNotVerified => f.write_str("identity token `email` is not verified"),
        }
    }
}

impl std::error::Error for TokenError {}

/// The stand-in's token issuer key.
pub(crate) struct Issuer {
    key: p256::ecdsa::SigningKey,
    kid: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Issuer {
    pub(crate) fn new(key: p256::ecdsa::SigningKey, kid: String) -> Self {
        Self { key, kid }
    }

    /// Mints an ES256 token, filling in `iss`, `aud`, `iat`, `nbf` and `exp` when absent.
    pub(crate) fn mint(&self, mut claims: Map<String, Value>, now: UnixTime) -> String {
        claims.entry("iss").or_insert_with(|| GITHUB_ACTIONS_ISSUER.into());
        claims.entry("aud").or_insert_with(|| AUDIENCE.into());
        claims.entry("iat").or_insert_with(|| now.seconds().into());
        claims.entry("nbf").or_insert_with(|| now.seconds().into());
        claims.entry("exp").or_insert_with(|| (now.seconds() + 600).into());
        crate::core::jwt::mint_es256(&self.key, &self.kid, &claims)
    }

    /// Authenticates `token` at `now` and maps it to a principal.
    pub(crate) fn authenticate(&self, token: &str, now: UnixTime) -> Result<Principal, TokenError> {
        if token.trim().is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge { bytes: token.len() });
        }
        let decoded = decode_unverified(token).map_err(TokenError::Malformed)?;
        let names_our_key = decoded.header.get("kid").and_then(Value::as_str) == Some(self.kid.as_str());
        let jwt = if names_our_key {
            verify_es256(self.key.verifying_key(), token).map_err(|_| TokenError::BadSignature)?
        } else {
            decoded
        };
        check_claims(&jwt, now)?;
        principal(&jwt)
    }
}

/// OIDC ID token validation (OpenID Connect Core §3.1.3.7 steps 3, 9, 10) minus the signature.
fn check_claims(jwt: &UnverifiedJwt, now: UnixTime) -> Result<(), TokenError> {
    jwt.str_claim("iss").filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim { claim: "iss" })?;
    let audiences = jwt.audiences();
    if !audiences.contains(&AUDIENCE) {
        return Err(TokenError::WrongAudience { audiences: audiences.iter().map(|s| (*s).to_owned()).collect() });
    }
    let exp = jwt.int_claim("exp").ok_or(TokenError::MissingClaim { claim: "exp" })?;
    if exp <= now.seconds() {
        return Err(TokenError::Expired { exp, now: now.seconds() });
    }
    for claim in ["iat", "nbf"] {
        if let Some(value) = jwt.int_claim(claim) {
            if value > now.seconds() + SKEW_SECONDS {
                return Err(TokenError::NotYetValid { claim, value, now: now.seconds() });
            }
        }
    }
    jwt.str_claim("sub").filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim { claim: "sub" })?;
    Ok(())
}

fn principal(jwt: &UnverifiedJwt) -> Result<Principal, TokenError> {
    let issuer = jwt.str_claim("iss").unwrap_or_default().to_owned();
    let sub = jwt.str_claim("sub").unwrap_or_default().to_owned();
    if issuer == GITHUB_ACTIONS_ISSUER {
        return github_principal(jwt, issuer, sub);
    }
    if issuer == GITLAB_ISSUER {
        return gitlab_principal(jwt, issuer, sub);
    }
    if let Some(email) = jwt.str_claim("email") {
        // Fulcio's email issuers require `email_verified`.
        if jwt.claims.get("email_verified").and_then(Value::as_bool) != Some(true) {
            return Err(TokenError::EmailNotVerified);
        }
        return Ok(Principal {
            challenge: email.to_owned(),
            san: San::Email(email.to_owned()),
            extensions: issuer_extensions(&issuer),
        });
    }
    let san = if url::Url::parse(&sub).is_ok_and(|u| u.has_host()) {
        San::Uri(sub.clone())
    } else {
        San::Username(sub.clone())
    };
    Ok(Principal { challenge: sub, san, extensions: issuer_extensions(&issuer) })
}

/// `.1` (raw) and `.8` (UTF8String) carry the issuer for every identity.
fn issuer_extensions(issuer: &str) -> Vec<CustomExtension> {
    vec![CustomExtension { arc: 1, value: issuer.to_owned() }, CustomExtension { arc: 8, value: issuer.to_owned() }]
}

fn claim(jwt: &UnverifiedJwt, name: &'static str) -> Result<String, TokenError> {
    jwt.str_claim(name).map(str::to_owned).ok_or(TokenError::MissingClaim { claim: name })
}

/// Fulcio's `github-workflow` issuer type (sigstore-protocol.md §3.3 table).
fn github_principal(jwt: &UnverifiedJwt, issuer: String, sub: String) -> Result<Principal, TokenError> {
    let opt = |name: &str| jwt.str_claim(name).unwrap_or_default().to_owned();
    let job_workflow_ref = claim(jwt, "job_workflow_ref")?;
    let repository = claim(jwt, "repository")?;
    let signer_uri = format!("https://github.com/{job_workflow_ref}");
    let mut values: Vec<(u32, String)> = vec![
        (1, issuer.clone()),
        (2, opt("event_name")),
        (3, opt("sha")),
        (4, opt("workflow")),
        (5, repository.clone()),
        (6, opt("ref")),
        (8, issuer),
        (9, signer_uri.clone()),
        (10, opt("job_workflow_sha")),
        (11, opt("runner_environment")),
        (12, format!("https://github.com/{repository}")),
        (13, opt("sha")),
        (14, opt("ref")),
        (15, opt("repository_id")),
        (16, jwt.str_claim("repository_owner").map(|o| format!("https://github.com/{o}")).unwrap_or_default()),
        (17, opt("repository_owner_id")),
        (18, jwt.str_claim("workflow_ref").map(|w| format!("https://github.com/{w}")).unwrap_or_default()),
        (19, opt("workflow_sha")),
        (20, opt("event_name")),
    ];
    if let (Some(run_id), Some(attempt)) = (jwt.str_claim("run_id"), jwt.str_claim("run_attempt")) {
        values.push((21, format!("https://github.com/{repository}/actions/runs/{run_id}/attempts/{attempt}")));
    }
    values.push((22, opt("repository_visibility")));
    values.push((23, opt("environment")));
    values.push((24, sub.clone()));
    // Fulcio renders only the extensions whose value is known.
    let extensions =
        values.into_iter().filter(|(_, v)| !v.is_empty()).map(|(arc, value)| CustomExtension { arc, value }).collect();
    Ok(Principal { challenge: sub, san: San::Uri(signer_uri), extensions })
}

/// Fulcio's `gitlab-pipeline` issuer type (its CI issuer metadata templates for gitlab.com).
fn gitlab_principal(jwt: &UnverifiedJwt, issuer: String, sub: String) -> Result<Principal, TokenError> {
    let opt = |name: &str| jwt.str_claim(name).unwrap_or_default().to_owned();
    let config_ref = claim(jwt, "ci_config_ref_uri")?;
    let project_path = claim(jwt, "project_path")?;
    let signer_uri = format!("https://{config_ref}");
    let values: Vec<(u32, String)> = vec![
        (1, issuer.clone()),
        (8, issuer),
        (9, signer_uri.clone()),
        (10, opt("ci_config_sha")),
        (11, opt("runner_environment")),
        (12, format!("{GITLAB_ISSUER}/{project_path}")),
        (13, opt("sha")),
        (14, jwt.str_claim("ref_path").map(str::to_owned).unwrap_or_else(|| opt("ref"))),
        (15, opt("project_id")),
        (16, jwt.str_claim("namespace_path").map(|n| format!("{GITLAB_ISSUER}/{n}")).unwrap_or_default()),
        (17, opt("namespace_id")),
        (18, signer_uri.clone()),
        (19, opt("ci_config_sha")),
        (20, opt("pipeline_source")),
        (21, jwt.str_claim("job_id").map(|j| format!("{GITLAB_ISSUER}/{project_path}/-/jobs/{j}")).unwrap_or_default()),
        (22, opt("project_visibility")),
        (24, sub.clone()),
    ];
    let extensions =
        values.into_iter().filter(|(_, v)| !v.is_empty()).map(|(arc, value)| CustomExtension { arc, value }).collect();
    Ok(Principal { challenge: sub, san: San::Uri(signer_uri), extensions })
}

/// The claims a GitHub Actions token carries for this run (see [`crate::standin::github_actions_claims`]).
pub(crate) fn github_actions_claims(env: &dyn Fn(&str) -> Option<String>, now: UnixTime) -> Map<String, Value> {
    let var = |name: &str, default: &str| env(name).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned());
    let repository = var("GITHUB_REPOSITORY", "local/example");
    let owner_default = repository.split('/').next().unwrap_or("local").to_owned();
    let owner = var("GITHUB_REPOSITORY_OWNER", &owner_default);
    let git_ref = var("GITHUB_REF", "refs/heads/main");
    let ref_type_default = if git_ref.starts_with("refs/tags/") { "tag" } else { "branch" };
    let sha = var("GITHUB_SHA", "0000000000000000000000000000000000000000");
    let workflow_ref = var("GITHUB_WORKFLOW_REF", &format!("{repository}/.github/workflows/release.yml@{git_ref}"));
    let workflow_sha = var("GITHUB_WORKFLOW_SHA", &sha);
    let actor = var("GITHUB_ACTOR", &owner);
    let run_id = var("GITHUB_RUN_ID", "1");
    let run_attempt = var("GITHUB_RUN_ATTEMPT", "1");
    let mut claims = Map::new();
    let mut put = |k: &str, v: String| {
        claims.insert(k.to_owned(), Value::String(v));
    };
    put("jti", format!("npm-attest-standin-{run_id}-{run_attempt}-{}", now.seconds()));
    put("sub", format!("repo:{repository}:ref:{git_ref}"));
    put("ref", git_ref.clone());
    put("sha", sha);
    put("repository", repository.clone());
    put("repository_owner", owner);
    put("repository_owner_id", var("GITHUB_REPOSITORY_OWNER_ID", "1"));
    // GitHub exposes no variable for the visibility; npm provenance requires a public repo.
    put("repository_visibility", "public".to_owned());
    put("repository_id", var("GITHUB_REPOSITORY_ID", "1"));
    put("run_id", run_id);
    put("run_number", var("GITHUB_RUN_NUMBER", "1"));
    put("run_attempt", run_attempt);
    put("runner_environment", var("RUNNER_ENVIRONMENT", "github-hosted"));
    put("actor_id", var("GITHUB_ACTOR_ID", "1"));
    put("actor", actor.clone());
    put("triggering_actor", var("GITHUB_TRIGGERING_ACTOR", &actor));
    put("workflow", var("GITHUB_WORKFLOW", "release"));
    put("head_ref", var("GITHUB_HEAD_REF", ""));
    put("base_ref", var("GITHUB_BASE_REF", ""));
    put("event_name", var("GITHUB_EVENT_NAME", "push"));
    put("ref_protected", "false".to_owned());
    put("ref_type", var("GITHUB_REF_TYPE", ref_type_default));
    // The variables name only the top-level workflow; the job's workflow is that one unless a
    // reusable workflow runs, which no variable reveals.
    put("workflow_ref", workflow_ref.clone());
    put("workflow_sha", workflow_sha.clone());
    put("job_workflow_ref", workflow_ref);
    put("job_workflow_sha", workflow_sha);
    claims.insert("iss".into(), GITHUB_ACTIONS_ISSUER.into());
    claims.insert("aud".into(), AUDIENCE.into());
    claims.insert("iat".into(), now.seconds().into());
    claims.insert("nbf".into(), now.seconds().into());
    claims.insert("exp".into(), (now.seconds() + 600).into());
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer::new(p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap(), "standin-test".into())
    }

    fn env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_minted_github_token_maps_to_the_workflow_identity() {
        let now = UnixTime(1_700_000_000);
        let iss = issuer();
        let token = iss.mint(github_actions_claims(&env, now), now);
        let p = iss.authenticate(&token, now).unwrap();
        assert_eq!(p.challenge, "repo:local/example:ref:refs/heads/main");
        assert_eq!(
            p.san,
            San::Uri("https://github.com/local/example/.github/workflows/release.yml@refs/heads/main".into())
        );
        let ext = |arc| p.extensions.iter().find(|e| e.arc == arc).map(|e| e.value.as_str());
        assert_eq!(ext(8), Some(GITHUB_ACTIONS_ISSUER));
        assert_eq!(ext(12), Some("https://github.com/local/example"));
        assert_eq!(ext(21), Some("https://github.com/local/example/actions/runs/1/attempts/1"));
        assert_eq!(ext(23), None, "an empty environment is left out");
    }

    #[test]
    fn expired_wrong_audience_and_forged_tokens_are_refused() {
        let now = UnixTime(1_700_000_000);
        let iss = issuer();
        let mut claims = github_actions_claims(&env, now);
        claims.insert("exp".into(), (now.seconds() - 1).into());
        assert!(matches!(iss.authenticate(&iss.mint(claims, now), now), Err(TokenError::Expired { .. })));

        let mut claims = github_actions_claims(&env, now);
        claims.insert("aud".into(), "npm:registry.npmjs.org".into());
        assert!(matches!(iss.authenticate(&iss.mint(claims, now), now), Err(TokenError::WrongAudience { .. })));

        // Same kid, another key: a forgery of the stand-in's own tokens.
        let other = Issuer::new(p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap(), "standin-test".into());
        let forged = other.mint(github_actions_claims(&env, now), now);
        assert_eq!(iss.authenticate(&forged, now), Err(TokenError::BadSignature));

        // A foreign key id: accepted on its claims.
        let foreign = Issuer::new(p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap(), "elsewhere".into());
        assert!(iss.authenticate(&foreign.mint(github_actions_claims(&env, now), now), now).is_ok());

        assert!(matches!(iss.authenticate("not-a-jwt", now), Err(TokenError::Malformed(_))));
        assert_eq!(iss.authenticate("", now), Err(TokenError::Missing));
        let mut huge = github_actions_claims(&env, now);
        huge.insert("job_workflow_ref".into(), "a".repeat(70_000).into());
        assert!(matches!(iss.authenticate(&iss.mint(huge, now), now), Err(TokenError::TooLarge { .. })));
    }

    #[test]
    fn gitlab_tokens_map_to_the_pipeline_config() {
        let now = UnixTime(1_700_000_000);
        let iss = issuer();
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "iss": GITLAB_ISSUER,
            "sub": "project_path:group/proj:ref_type:branch:ref:main",
            "project_path": "group/proj",
            "ci_config_ref_uri": "gitlab.com/group/proj//.gitlab-ci.yml@refs/heads/main",
            "ci_config_sha": "b".repeat(40),
            "job_id": "7",
        }))
        .unwrap();
        let p = iss.authenticate(&iss.mint(claims.clone(), now), now).unwrap();
        assert_eq!(p.san, San::Uri("https://gitlab.com/group/proj//.gitlab-ci.yml@refs/heads/main".into()));
        assert_eq!(p.challenge, "project_path:group/proj:ref_type:branch:ref:main");
        let ext = |arc| p.extensions.iter().find(|e| e.arc == arc).map(|e| e.value.clone());
        assert_eq!(ext(12), Some("https://gitlab.com/group/proj".to_owned()));
        assert_eq!(ext(21), Some("https://gitlab.com/group/proj/-/jobs/7".to_owned()));
        let mut missing = claims;
        missing.remove("ci_config_ref_uri");
        assert_eq!(
            iss.authenticate(&iss.mint(missing, now), now),
            Err(TokenError::MissingClaim { claim: "ci_config_ref_uri" })
        );
    }

    #[test]
    fn email_tokens_need_a_verified_email() {
        let now = UnixTime(1_700_000_000);
        let iss = issuer();
        let mut claims = Map::new();
        claims.insert("iss".into(), "https://accounts.example.com".into());
        claims.insert("sub".into(), "1234".into());
        claims.insert("email".into(), "dev@example.com".into());
        claims.insert("email_verified".into(), true.into());
        let p = iss.authenticate(&iss.mint(claims.clone(), now), now).unwrap();
        assert_eq!(p.san, San::Email("dev@example.com".into()));
        assert_eq!(p.challenge, "dev@example.com");
        claims.insert("email_verified".into(), false.into());
        assert_eq!(iss.authenticate(&iss.mint(claims, now), now), Err(TokenError::EmailNotVerified));
    }

    #[test]
    fn github_claims_come_from_the_environment_when_set() {
        let env = |name: &str| match name {
            "GITHUB_REPOSITORY" => Some("octo/pkg".to_owned()),
            "GITHUB_REF" => Some("refs/tags/v1.0.0".to_owned()),
            "GITHUB_SHA" => Some("a".repeat(40)),
            "GITHUB_WORKFLOW_REF" => Some("octo/pkg/.github/workflows/publish.yml@refs/tags/v1.0.0".to_owned()),
            "RUNNER_ENVIRONMENT" => Some("self-hosted".to_owned()),
            _ => None,
        };
        let c = github_actions_claims(&env, UnixTime(10));
        assert_eq!(c["sub"], "repo:octo/pkg:ref:refs/tags/v1.0.0");
        assert_eq!(c["ref_type"], "tag");
        assert_eq!(c["repository_owner"], "octo");
        assert_eq!(c["job_workflow_ref"], "octo/pkg/.github/workflows/publish.yml@refs/tags/v1.0.0");
        assert_eq!(c["workflow_sha"], "a".repeat(40));
        assert_eq!(c["runner_environment"], "self-hosted");
        assert_eq!(c["exp"], 610);
    }
}
