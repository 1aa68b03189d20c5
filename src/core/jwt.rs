//! JSON Web Tokens as npm-attest meets them: OIDC identity tokens.
//!
//! The client never verifies a token's signature (Fulcio and the registry do); it reads the
//! claims to pick the proof-of-possession subject and to explain failures. The local stand-in
//! mints ES256 tokens with [`mint_es256`] and checks their signature with [`verify_es256`].

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde_json::{Map, Value};

use crate::core::well_known::GITHUB_ACTIONS_ISSUER;
use crate::core::wire::encoding::b64_encode;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    NotThreeParts,
    BadBase64 { part: &'static str },
    BadJson { part: &'static str },
    BadSignature,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotThreeParts => f.write_str("identity token is not a JWT (expected three dot-separated parts)"),
            Self::BadBase64 { part } => write!(f, "identity token {part} is not base64url"),
            Self::BadJson { part } => write!(f, "identity token {part} is not a JSON object"),
            Self::BadSignature => f.write_str("identity token signature does not verify"),
        }
    }
}

impl std::error::Error for JwtError {}

/// The decoded, unverified parts of a JWT. Holds no secret: the signature is not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn b64url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn json_object(bytes: &[u8], part: &'static str) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::BadJson { part }),
    }
}

/// Splits and decodes a compact JWS without checking its signature.
pub fn decode_unverified(token: &str) -> Result<UnverifiedJwt, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(c), Some(_sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::NotThreeParts);
    };
    let header = json_object(&b64url_decode(h).ok_or(JwtError::BadBase64 { part: "header" })?, "header")?;
    let claims = json_object(&b64url_decode(c).ok_or(JwtError::BadBase64 { part: "claims" })?, "claims")?;
    Ok(UnverifiedJwt { header, claims })
}

impl UnverifiedJwt {
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn int_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// `aud` may be a string or an array of strings.
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The principal Fulcio's proof of possession is made over: the verified `email` when the
    /// token carries one, else `sub` (npm-provenance.md §7.3 step 2).
    pub fn challenge_subject(&self) -> Option<&str> {
        if let Some(email) = self.str_claim("email") {
            if self.claims.get("email_verified").and_then(Value::as_bool) == Some(true) {
                return Some(email);
            }
            return None;
        }
        self.str_claim("sub")
    }
}

/// Mints a compact ES256 JWS over `claims` (header `{"alg":"ES256","typ":"JWT","kid":kid}`).
pub fn mint_es256(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Map<String, Value>) -> String {
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let sig: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url_encode(&sig.to_bytes()))
}

/// Checks an ES256 JWS signature (raw r||s, as JWS uses) and returns the decoded token.
pub fn verify_es256(key: &p256::ecdsa::VerifyingKey, token: &str) -> Result<UnverifiedJwt, JwtError> {
    let decoded = decode_unverified(token)?;
    let token = token.trim();
    let (signing_input, sig_b64) = token.rsplit_once('.').ok_or(JwtError::NotThreeParts)?;
    let sig_bytes = b64url_decode(sig_b64).ok_or(JwtError::BadBase64 { part: "signature" })?;
    let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).map_err(|_| JwtError::BadSignature)?;
    key.verify(signing_input.as_bytes(), &sig).map_err(|_| JwtError::BadSignature)?;
    Ok(decoded)
}

/// Standard base64 of a JSON value, used where tokens embed JSON in other formats.
pub fn b64_json(value: &Value) -> String {
    b64_encode(value.to_string())
}

/// The certificate identity Fulcio issues for a token's claims: `(issuer, SAN)`.
/// GitHub Actions: `https://github.com/<job_workflow_ref>`; GitLab:
/// `https://<ci_config_ref_uri>`; otherwise a verified email, else `sub`
/// (sigstore-protocol.md, Fulcio principals).
pub fn certificate_identity(claims: &Map<String, Value>) -> Option<(String, String)> {
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let issuer = claim("iss")?.to_owned();
    if issuer == GITHUB_ACTIONS_ISSUER {
        return Some((issuer, format!("https://github.com/{}", claim("job_workflow_ref")?)));
    }
    if let Some(config) = claim("ci_config_ref_uri") {
        return Some((issuer, format!("https://{config}")));
    }
    if let Some(email) = claim("email") {
        if claims.get("email_verified").and_then(Value::as_bool) == Some(true) {
            return Some((issuer, email.to_owned()));
        }
    }
    Some((issuer, claim("sub")?.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::core::well_known::GITLAB_ISSUER;

    use super::*;

    #[test]
    fn minted_tokens_round_trip_and_a_changed_claim_fails() {
        let key = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), "repo:o/r:ref:refs/heads/main".into());
        claims.insert("aud".into(), "sigstore".into());
        let token = mint_es256(&key, "k1", &claims);
        let decoded = verify_es256(key.verifying_key(), &token).unwrap();
        assert_eq!(decoded.challenge_subject(), Some("repo:o/r:ref:refs/heads/main"));
        assert_eq!(decoded.audiences(), vec!["sigstore"]);

        let parts: Vec<&str> = token.split('.').collect();
        claims.insert("sub".into(), "repo:evil/r:ref:refs/heads/main".into());
        let forged =
            format!("{}.{}.{}", parts[0], b64url_encode(Value::Object(claims).to_string().as_bytes()), parts[2]);
        assert_eq!(verify_es256(key.verifying_key(), &forged), Err(JwtError::BadSignature));
    }

    #[test]
    fn unverified_email_is_not_a_challenge_subject() {
        let jwt = UnverifiedJwt {
            header: Map::new(),
            claims: serde_json::from_str(r#"{"sub":"x","email":"a@b.c","email_verified":false}"#).unwrap(),
        };
        assert_eq!(jwt.challenge_subject(), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for t in ["", "a.b", "a.b.c.d", "!!!.###.$$$", "e30.e30", "W10.W10.x"] {
            assert!(decode_unverified(t).is_err(), "{t}");
        }
    }

    #[test]
    fn fulcio_identity_follows_the_token() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        let gh = claims(
            json!({"iss": GITHUB_ACTIONS_ISSUER, "sub": "repo:o/r:ref:refs/heads/main", "job_workflow_ref": "o/r/.github/workflows/r.yml@refs/heads/main"}),
        );
        assert_eq!(
            certificate_identity(&gh),
            Some((
                GITHUB_ACTIONS_ISSUER.into(),
                "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main".into()
            ))
        );
        let gl = claims(
            json!({"iss": GITLAB_ISSUER, "sub": "project_path:g/p", "ci_config_ref_uri": "gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main"}),
        );
        assert_eq!(certificate_identity(&gl).unwrap().1, "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main");
        let email =
            claims(json!({"iss": "https://accounts.example", "sub": "123", "email": "a@b.c", "email_verified": true}));
        assert_eq!(certificate_identity(&email).unwrap().1, "a@b.c");
        let unverified = claims(json!({"iss": "https://accounts.example", "sub": "123", "email": "a@b.c"}));
        assert_eq!(certificate_identity(&unverified).unwrap().1, "123");
        assert_eq!(certificate_identity(&claims(json!({"iss": GITHUB_ACTIONS_ISSUER, "sub": "x"}))), None);
        assert_eq!(certificate_identity(&Map::new()), None);
    }
}
