//! The local Sigstore stand-in: a Fulcio-like CA (with a CT log key for embedded SCTs), a
//! Rekor-like transparency log (RFC 6962 tree, signed checkpoints, SETs) and a mock OIDC
//! issuer, served over HTTP on loopback. `attest --sigstore local` / `--dry-run` run it
//! in-process; `serve-sigstore` runs it until stopped.
//!
//! CONTRACT (shared with the signing client): the public items below are fixed; the stand-in
//! engineer fills in the bodies and adds private modules.

use std::net::SocketAddr;

use serde_json::{Map, Value};

use crate::core::time::UnixTime;
use crate::core::trust_root::{SigningConfig, TrustedRoot};
use crate::secret::SecretString;

/// The issuer the mocked GitHub Actions tokens carry.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Debug, Clone)]
pub struct StandinOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
}

/// A running stand-in.
pub struct Standin {
    _private: (),
}

impl Standin {
    /// Binds, generates fresh keys (CA, CT log, Rekor log, OIDC issuer) and starts serving.
    pub async fn start(options: StandinOptions) -> anyhow::Result<Standin> {
        let _ = options;
        anyhow::bail!("the local Sigstore stand-in is not implemented yet")
    }

    /// `http://127.0.0.1:PORT`: the base URL of both the Fulcio API (`/api/v2/signingCert`)
    /// and the Rekor API (`/api/v1/log/entries`).
    pub fn base_url(&self) -> &str {
        ""
    }

    /// The trusted root that verifies what this stand-in issues and logs.
    pub fn trusted_root(&self) -> &TrustedRoot {
        unreachable_standin()
    }

    /// A signing config v0.2 naming this stand-in's CA and log.
    pub fn signing_config(&self) -> SigningConfig {
        unreachable_standin()
    }

    /// Mints an identity token signed by the stand-in's issuer key. `iss`, `aud` (`sigstore`),
    /// `iat`, `nbf` and `exp` are filled in when absent.
    pub fn mint_token(&self, claims: Map<String, Value>) -> SecretString {
        let _ = claims;
        SecretString::new(String::new())
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(self) {}
}

/// The claims a GitHub Actions OIDC token would carry for this run: taken from the `GITHUB_*`
/// and `RUNNER_*` variables (looked up through `env`) when set, plausible local values otherwise.
pub fn github_actions_claims(env: &dyn Fn(&str) -> Option<String>, now: UnixTime) -> Map<String, Value> {
    let _ = (env, now);
    Map::new()
}

fn unreachable_standin() -> ! {
    // Placeholder until the stand-in lands: `start` never returns a `Standin`.
    std::process::abort()
}
