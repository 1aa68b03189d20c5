//! What a refused trusted-publishing token exchange means, and its fix (GitHub issue 12;
//! package-managers.md §6). The registry's answers are terse (`404 package not found`, `401
//! unauthorized`); npm itself hides them and fails later with ENEEDAUTH or a 404 on the PUT.

/// Why the registry refused to exchange an identity token for a publish token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeRefusal {
    /// The package is not on the registry: a first version cannot use trusted publishing.
    FirstPublish,
    /// The package exists but has no trusted publisher (or is not linked to one).
    NoTrustedPublisher,
    /// A trusted publisher exists but does not match this run (repository, workflow file name,
    /// environment), or the identity token is not for this registry.
    Mismatch,
    /// The identity token was malformed.
    BadToken,
    /// Anything else (server errors are retried before this).
    Other,
}

/// Classifies an exchange refusal. `package_exists` is whether the package's packument could
/// be read (`None` when unknown).
pub fn classify_exchange(status: u16, message: &str, package_exists: Option<bool>) -> ExchangeRefusal {
    let lower = message.to_ascii_lowercase();
    match status {
        404 if package_exists == Some(false) => ExchangeRefusal::FirstPublish,
        404 if lower.contains("not found") => ExchangeRefusal::NoTrustedPublisher,
        401 | 403 => ExchangeRefusal::Mismatch,
        400 => ExchangeRefusal::BadToken,
        _ => ExchangeRefusal::Other,
    }
}

impl ExchangeRefusal {
    /// The fix, naming the package and the registry host.
    pub fn hint(self, name: &str, host: &str) -> String {
        match self {
            Self::FirstPublish => format!(
                "{name} is not on {host} yet and a first version cannot be published with trusted publishing: publish it once with a token (NODE_AUTH_TOKEN with a granular access token, or `npm publish` by hand), then configure a trusted publisher for {name} in its package settings and drop the token"
            ),
            Self::NoTrustedPublisher => format!(
                "configure a trusted publisher for {name} on {host} (package settings, Trusted publishing) naming this repository and the workflow file, or set NODE_AUTH_TOKEN"
            ),
            Self::Mismatch => format!(
                "the trusted publisher of {name} does not match this run: check the repository owner and name, the workflow file name (exact and case-sensitive; under workflow_call the calling workflow's file), and the environment name if one is set; the identity token's audience must be npm:{host}"
            ),
            Self::BadToken => {
                "the identity token was not accepted as a token: request it with the audience npm:<registry host> (GitHub `id-token: write`, GitLab `id_tokens: NPM_ID_TOKEN`, CircleCI `circleci run oidc get`)".to_owned()
            }
            Self::Other => format!(
                "check the registry's message; configure a trusted publisher for {name} naming this repository and the calling workflow's file name, or set NODE_AUTH_TOKEN"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart() {
        let msg = "OIDC token exchange error - package not found";
        assert_eq!(classify_exchange(404, msg, Some(false)), ExchangeRefusal::FirstPublish);
        assert_eq!(classify_exchange(404, msg, Some(true)), ExchangeRefusal::NoTrustedPublisher);
        assert_eq!(classify_exchange(404, msg, None), ExchangeRefusal::NoTrustedPublisher);
        assert_eq!(classify_exchange(401, "unauthorized", Some(true)), ExchangeRefusal::Mismatch);
        assert_eq!(classify_exchange(403, "forbidden", Some(true)), ExchangeRefusal::Mismatch);
        assert_eq!(classify_exchange(400, "bad request", None), ExchangeRefusal::BadToken);
        assert_eq!(classify_exchange(500, "boom", None), ExchangeRefusal::Other);
        let hint = ExchangeRefusal::FirstPublish.hint("@o/p", "registry.npmjs.org");
        assert!(hint.contains("publish it once with a token") && hint.contains("configure a trusted publisher"));
        assert!(ExchangeRefusal::Mismatch.hint("p", "h").contains("case-sensitive"));
    }
}
