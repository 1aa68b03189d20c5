//! The npm registry client: packuments, the visibility endpoint, trusted publishing's OIDC
//! token exchange, the publish `PUT`, the attestations endpoint and tarball downloads
//! (npm-provenance.md §5, §6, §8); and where the registry URL and its token come from.
//!
//! Authentication, in order (the first that applies wins):
//! 1. an explicit token: `NODE_AUTH_TOKEN`, then `NPM_TOKEN`, then the `.npmrc` `_authToken`
//!    for the registry (project `.npmrc`, then `NPM_CONFIG_USERCONFIG` or `~/.npmrc`, with
//!    `${VAR}` substitution). `actions/setup-node`'s placeholder token is not a token;
//! 2. trusted publishing, when `NPM_ID_TOKEN` is set (GitLab's `id_tokens:`, CircleCI's
//!    `circleci run oidc get`) or the GitHub Actions OIDC runtime is available: an identity
//!    token with audience `npm:<registry host>` is exchanged for a short-lived publish token.
//!    A failed exchange is an error with the registry's message and its meaning
//!    (`core::npm::trusted`);
//! 3. none (only a dry run goes ahead).
//!
//! Every token is a `SecretString`, masked in the Actions log and never printed.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::ci::oidc;
use crate::core::npm::npmrc::{Npmrc, SETUP_NODE_PLACEHOLDER_TOKEN};
use crate::core::npm::publish::{registry_message, trusted_publishing_audience};
use crate::core::npm::trusted::{classify_exchange, ExchangeRefusal, Publisher};
use crate::core::npm::PackageName;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, Request, Response, MAX_BODY_BYTES};
use crate::report;
use crate::secret::SecretString;

/// npm's default registry.
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// The largest tarball downloaded.
pub const MAX_TARBALL_BYTES: usize = 256 * 1024 * 1024;
/// The largest packument read: every version's manifest is in it, and packages with thousands
/// of releases (`@types/node`, `typescript`, `aws-sdk`) have packuments of 10 to 40 MiB.
pub const MAX_PACKUMENT_BYTES: usize = 96 * 1024 * 1024;

/// Where the publish token comes from (resolved without network access).
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthPlan {
    /// A token in hand; `source` names where it was found (never the value).
    Token { token: SecretString, source: String },
    /// Trusted publishing with `NPM_ID_TOKEN`.
    TrustedPublishingToken(SecretString),
    /// Trusted publishing with a token from the GitHub Actions OIDC runtime.
    TrustedPublishingActions { request_url: String, request_token: SecretString },
    /// Nothing found.
    None,
}

impl AuthPlan {
    pub fn describe(&self) -> String {
        match self {
            Self::Token { source, .. } => format!("a token from {source}"),
            Self::TrustedPublishingToken(_) => "trusted publishing (NPM_ID_TOKEN)".into(),
            Self::TrustedPublishingActions { .. } => "trusted publishing (GitHub Actions OIDC)".into(),
            Self::None => "no token".into(),
        }
    }
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The `.npmrc` files npm would read (see `crate::network`, which reads them for the network
/// settings too, below this module in the layering).
pub use crate::network::load_npmrc;

/// The registry for `name`: `--registry`, else `.npmrc` (`@scope:registry`, `registry`), else
/// `NPM_CONFIG_REGISTRY`, else npm's default. Always ends with `/`.
pub fn registry_url(
    flag: Option<&str>,
    npmrc: &Npmrc,
    env: &dyn Fn(&str) -> Option<String>,
    name: &PackageName,
) -> anyhow::Result<String> {
    let (raw, from) = match flag {
        Some(url) => (url.to_owned(), "--registry"),
        None => match npmrc.registry_for(name.as_str()) {
            Some(url) => (url.to_owned(), ".npmrc"),
            None => match non_empty(env, "NPM_CONFIG_REGISTRY").or_else(|| non_empty(env, "npm_config_registry")) {
                Some(url) => (url, "NPM_CONFIG_REGISTRY"),
                None => (DEFAULT_REGISTRY.to_owned(), "the default"),
            },
        },
    };
    match url::Url::parse(&raw) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some() => {
            Ok(format!("{}/", raw.trim_end_matches('/')))
        }
        _ => Err(fail_with_hint(
            ExitKind::BadInput,
            format!("the registry {raw:?} (from {from}) is not an http(s) URL"),
            "pass --registry https://registry.npmjs.org/ or fix the registry setting in .npmrc",
        )),
    }
}

/// Picks the authentication (see the module documentation for the order). No network.
pub fn plan_auth(registry: &str, npmrc: &Npmrc, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<AuthPlan> {
    for key in ["NODE_AUTH_TOKEN", "NPM_TOKEN"] {
        if let Some(value) = non_empty(env, key) {
            if value == SETUP_NODE_PLACEHOLDER_TOKEN {
                report::debug(&format!("{key} holds the actions/setup-node placeholder; ignoring it"));
                continue;
            }
            let token = SecretString::new(value);
            report::mask(&token);
            return Ok(AuthPlan::Token { token, source: key.to_owned() });
        }
    }
    if let Some(value) = npmrc.auth_token_for(registry) {
        let value = value.trim();
        if value.is_empty() {
            // `_authToken=${NODE_AUTH_TOKEN}` with the variable unset: npm fails the same way.
            if let Some(var) = npmrc.unset_variables.first() {
                report::debug(&format!(".npmrc refers to ${{{var}}}, which is not set"));
            }
        } else if value != SETUP_NODE_PLACEHOLDER_TOKEN {
            let token = SecretString::new(value.to_owned());
            report::mask(&token);
            return Ok(AuthPlan::Token { token, source: ".npmrc".into() });
        }
    }
    if let Some(value) = non_empty(env, "NPM_ID_TOKEN") {
        let token = SecretString::new(value);
        report::mask(&token);
        return Ok(AuthPlan::TrustedPublishingToken(token));
    }
    if let (Some(request_url), Some(request_token)) =
        (non_empty(env, "ACTIONS_ID_TOKEN_REQUEST_URL"), non_empty(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    {
        let request_token = SecretString::new(request_token);
        report::mask(&request_token);
        return Ok(AuthPlan::TrustedPublishingActions { request_url, request_token });
    }
    Ok(AuthPlan::None)
}

/// The error for "no way to authenticate", naming the fixes.
pub fn missing_auth(registry: &str, npmrc: &Npmrc) -> anyhow::Error {
    let unset = npmrc
        .unset_variables
        .first()
        .map(|v| format!(" (.npmrc refers to ${{{v}}}, which is not set)"))
        .unwrap_or_default();
    fail_with_hint(
        ExitKind::Environment,
        format!("no token for {registry}{unset}"),
        "set NODE_AUTH_TOKEN (or NPM_TOKEN), or use trusted publishing: GitHub Actions with `permissions: id-token: write`, GitLab with `id_tokens: NPM_ID_TOKEN`, CircleCI with NPM_ID_TOKEN from `circleci run oidc get` (README, Trusted publishing)",
    )
}

/// A registry at `base` (ending with `/`).
#[derive(Debug, Clone)]
pub struct Registry {
    http: Http,
    base: String,
}

/// How a publish PUT ended when the registry answered.
#[derive(Debug)]
pub struct PutAnswer {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    /// The registry's message, if any.
    pub message: Option<String>,
}

impl Registry {
    pub fn new(http: Http, base: &str) -> Self {
        Self { http, base: format!("{}/", base.trim_end_matches('/')) }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn host(&self) -> String {
        url::Url::parse(&self.base).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
    }

    /// `<registry>/<path>`; `path` has no leading `/`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The host root (npm drops any path prefix for the exchange endpoint, §6 step 4).
    fn root_url(&self, path: &str) -> anyhow::Result<String> {
        let base = url::Url::parse(&self.base).map_err(|e| fail(ExitKind::BadInput, format!("registry URL: {e}")))?;
        base.join(path).map(String::from).map_err(|e| fail(ExitKind::BadInput, format!("registry URL: {e}")))
    }

    async fn get(&self, url: &str, token: Option<&SecretString>, max_body: usize) -> anyhow::Result<Response> {
        let headers = [("accept", "application/json".to_owned())];
        self.http
            .request(
                "the registry",
                Request { method: Method::GET, url, headers: &headers, bearer: token, body: None },
                max_body,
            )
            .await
    }

    /// The packument of `name`, or `None` when the registry does not know it (404).
    pub async fn packument(&self, name: &PackageName, token: Option<&SecretString>) -> anyhow::Result<Option<Value>> {
        let response = self.get(&self.url(&name.escaped()), token, MAX_PACKUMENT_BYTES).await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(answer_error(&format!("reading the packument of {name}"), &response));
        }
        response.json("the registry").map(Some)
    }

    /// `GET /-/package/<name>/visibility`: `Some(public)`, or `None` on 404.
    pub async fn visibility(&self, name: &PackageName, token: Option<&SecretString>) -> anyhow::Result<Option<bool>> {
        let url = self.url(&format!("-/package/{}/visibility", name.escaped()));
        let response = self.get(&url, token, MAX_BODY_BYTES).await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(answer_error(&format!("reading the visibility of {name}"), &response));
        }
        Ok(response.json("the registry")?.get("public").and_then(Value::as_bool))
    }

    /// Trusted publishing: exchanges an identity token for a publish token for `name`
    /// (`POST /-/npm/v1/oidc/token/exchange/package/<escaped name>`, §6 step 4). A refusal is
    /// explained with `publisher`, what this run's token says (see `core::npm::trusted`);
    /// `package_exists` is what the packument read before the exchange found.
    pub async fn exchange_oidc(
        &self,
        name: &PackageName,
        id_token: &SecretString,
        package_exists: Option<bool>,
        publisher: Option<&Publisher>,
    ) -> anyhow::Result<SecretString> {
        let url = self.root_url(&format!("/-/npm/v1/oidc/token/exchange/package/{}", name.escaped()))?;
        let headers = [("accept", "application/json".to_owned()), ("npm-command", "publish".to_owned())];
        let response = self
            .http
            .request(
                "the registry",
                Request { method: Method::POST, url: &url, headers: &headers, bearer: Some(id_token), body: None },
                MAX_BODY_BYTES,
            )
            .await?;
        if !response.status.is_success() {
            let message = registry_message(&response.body).unwrap_or_else(|| status_text(response.status));
            let status = response.status.as_u16();
            // A 404 means either "no such package" (a first publish, which trusted publishing
            // cannot do) or "no publisher matches": the packument tells them apart.
            let exists = match package_exists {
                Some(known) => Some(known),
                None if status == 404 => self.packument(name, None).await.ok().map(|p| p.is_some()),
                None => None,
            };
            let refusal = classify_exchange(status, &message, exists);
            let kind = match refusal {
                ExchangeRefusal::FirstPublish | ExchangeRefusal::NoTrustedPublisher => ExitKind::Environment,
                _ => ExitKind::Remote,
            };
            let text = match refusal {
                ExchangeRefusal::FirstPublish => format!(
                    "{name} is not on {} yet, and a first version cannot be published with trusted publishing (the registry refused the token exchange ({status}): {message})",
                    self.host()
                ),
                _ => format!("trusted publishing for {name}: the registry refused the token exchange ({status}): {message}"),
            };
            return Err(fail_with_hint(kind, text, refusal.hint(name.as_str(), &self.host(), publisher)));
        }
        let token = response
            .json("the registry")?
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::new(t.to_owned()))
            .ok_or_else(|| fail(ExitKind::Remote, "the registry's token exchange answered without a token"))?;
        report::mask(&token);
        Ok(token)
    }

    /// `PUT <registry>/<escaped name>` with the publish document, as npm sends it (§5.2).
    /// `Ok` carries the answer when the registry answered (successfully or not).
    pub async fn put_package(
        &self,
        name: &PackageName,
        document: Vec<u8>,
        token: Option<&SecretString>,
        otp: Option<&SecretString>,
    ) -> anyhow::Result<PutAnswer> {
        let url = self.url(&name.escaped());
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json".to_owned()),
            ("npm-command", "publish".to_owned()),
            ("npm-auth-type", "web".to_owned()),
        ];
        if let Some(otp) = otp {
            headers.push(("npm-otp", otp.expose().to_owned()));
        }
        let response = self
            .http
            .request(
                "the registry",
                Request { method: Method::PUT, url: &url, headers: &headers, bearer: token, body: Some(document) },
                MAX_BODY_BYTES,
            )
            .await?;
        Ok(PutAnswer {
            status: response.status,
            www_authenticate: response.header("www-authenticate").map(str::to_owned),
            message: registry_message(&response.body),
        })
    }

    /// `GET /-/npm/v1/attestations/<name>@<version>` (§8.1), from `url` when the packument
    /// names one on this registry's host.
    pub async fn attestations(&self, url: &str) -> anyhow::Result<Value> {
        let response = self.get(url, None, MAX_BODY_BYTES).await?;
        if !response.status.is_success() {
            return Err(answer_error("reading the attestations", &response));
        }
        response.json("the registry")
    }

    /// The URL for the attestations of `name@version` on this registry.
    pub fn attestations_url(&self, name: &PackageName, version: &str) -> String {
        self.url(&format!("-/npm/v1/attestations/{}@{version}", name.escaped()))
    }

    /// Downloads a tarball (capped at [`MAX_TARBALL_BYTES`]) and returns its SHA-512, hashed as
    /// it arrives: verifying a lockfile's packages never holds their tarballs in memory.
    pub async fn tarball_sha512(&self, url: &str) -> anyhow::Result<[u8; 64]> {
        let headers = [("accept", "application/octet-stream".to_owned())];
        let response = self
            .http
            .download_sha512(
                "the registry",
                Request { method: Method::GET, url, headers: &headers, bearer: None, body: None },
                MAX_TARBALL_BYTES,
            )
            .await?;
        match response.digest {
            Some((sha512, _)) if response.status.is_success() => Ok(sha512),
            _ => Err(answer_error("downloading the tarball", &response)),
        }
    }
}

fn status_text(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("no message").to_owned()
}

fn answer_error(what: &str, response: &Response) -> anyhow::Error {
    let message = registry_message(&response.body).unwrap_or_else(|| status_text(response.status));
    fail(ExitKind::Remote, format!("{what}: the registry answered {}: {message}", response.status.as_u16()))
}

/// The identity token for trusted publishing, with audience `npm:<registry host>`.
pub async fn trusted_publishing_id_token(
    http: &Http,
    plan: &AuthPlan,
    registry: &str,
) -> anyhow::Result<Option<SecretString>> {
    match plan {
        AuthPlan::TrustedPublishingToken(token) => Ok(Some(token.clone())),
        AuthPlan::TrustedPublishingActions { request_url, request_token } => {
            let audience = trusted_publishing_audience(registry)
                .ok_or_else(|| fail(ExitKind::BadInput, format!("the registry URL {registry} has no host")))?;
            let url = oidc::audience_url(request_url, &audience)?;
            let response = http.get_json("the GitHub Actions OIDC runtime", &url, Some(request_token)).await?;
            let token = response
                .json("the GitHub Actions OIDC runtime")?
                .get("value")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::new(t.to_owned()))
                .ok_or_else(|| {
                    fail(
                        ExitKind::Remote,
                        "the GitHub Actions OIDC runtime answered without a token (no `value` field)",
                    )
                })?;
            report::mask(&token);
            Ok(Some(token))
        }
        AuthPlan::Token { .. } | AuthPlan::None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn explicit_tokens_win_over_trusted_publishing_and_placeholders_are_skipped() {
        let reg = "https://registry.npmjs.org/";
        let rc = Npmrc::parse(
            "//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}\n",
            &env(&[("NODE_AUTH_TOKEN", "from-rc")]),
        );
        let actions =
            [("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:1/t"), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "r")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all: Vec<(&str, &str)> = actions.to_vec();
            all.extend_from_slice(extra);
            env(&all)
        };
        let plan = plan_auth(reg, &Npmrc::default(), &with(&[("NODE_AUTH_TOKEN", "t1"), ("NPM_TOKEN", "t2")])).unwrap();
        assert!(
            matches!(plan, AuthPlan::Token { ref token, ref source } if token.expose() == "t1" && source == "NODE_AUTH_TOKEN")
        );
        let plan = plan_auth(
            reg,
            &Npmrc::default(),
            &with(&[("NODE_AUTH_TOKEN", SETUP_NODE_PLACEHOLDER_TOKEN), ("NPM_TOKEN", "t2")]),
        )
        .unwrap();
        assert!(matches!(plan, AuthPlan::Token { ref source, .. } if source == "NPM_TOKEN"));
        let plan = plan_auth(reg, &rc, &with(&[])).unwrap();
        assert!(matches!(plan, AuthPlan::Token { ref token, .. } if token.expose() == "from-rc"));
        let placeholder_rc = Npmrc::parse("//registry.npmjs.org/:_authToken=XXXXX-XXXXX-XXXXX-XXXXX\n", &env(&[]));
        assert!(matches!(
            plan_auth(reg, &placeholder_rc, &with(&[])).unwrap(),
            AuthPlan::TrustedPublishingActions { .. }
        ));
        assert!(matches!(
            plan_auth(reg, &Npmrc::default(), &with(&[("NPM_ID_TOKEN", "jwt")])).unwrap(),
            AuthPlan::TrustedPublishingToken(_)
        ));
        assert!(matches!(plan_auth(reg, &Npmrc::default(), &env(&[])).unwrap(), AuthPlan::None));
        let unset = Npmrc::parse("//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}\n", &env(&[]));
        assert!(matches!(plan_auth(reg, &unset, &env(&[])).unwrap(), AuthPlan::None));
        assert!(missing_auth(reg, &unset).to_string().contains("${NODE_AUTH_TOKEN}"));
    }

    #[test]
    fn registry_comes_from_the_flag_then_npmrc_then_env() {
        let name = PackageName::parse("@acme/x").unwrap();
        let rc = Npmrc::parse("@acme:registry=http://127.0.0.1:9/acme\n", &env(&[]));
        assert_eq!(registry_url(Some("http://h:1"), &rc, &env(&[]), &name).unwrap(), "http://h:1/");
        assert_eq!(registry_url(None, &rc, &env(&[]), &name).unwrap(), "http://127.0.0.1:9/acme/");
        let plain = PackageName::parse("x").unwrap();
        assert_eq!(
            registry_url(None, &rc, &env(&[("NPM_CONFIG_REGISTRY", "http://e/")]), &plain).unwrap(),
            "http://e/"
        );
        assert_eq!(registry_url(None, &rc, &env(&[]), &plain).unwrap(), DEFAULT_REGISTRY);
        assert!(registry_url(Some("ftp://x"), &rc, &env(&[]), &plain).is_err());
    }
}
