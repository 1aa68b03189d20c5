//! Signing npm provenance, shared by `attest` and `publish`: which Sigstore instance, which
//! identity, and a signer that turns package tarballs into bundles.
//!
//! Two steps, so commands can fail fast: [`SignerPlan::new`] resolves the instance and finds
//! the identity-token source without touching the network (a missing `id-token: write` is
//! reported before anything is packed, hashed or uploaded); [`SignerPlan::start`] fetches the
//! token, starts the local stand-in when asked, and gets one Fulcio certificate for an
//! ephemeral key. The resulting [`Signer`] signs any number of packages with it, concurrently.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::ci::oidc::{self, TokenSource};
use crate::ci::runner::{actions_issuer, ActionsEnv};
use crate::ci::visibility::{actions_visibility, is_not_public};
use crate::clock;
use crate::core::jwt::certificate_identity;
use crate::core::jwt::decode_unverified;
use crate::core::npm::preflight::PreflightError;
use crate::core::npm::statement::{statement_bytes, Provider};
use crate::core::verify::{IdentityMatcher, IdentityPolicy, NpmPackage, Policy};
use crate::core::wire::bundle::{Bundle, IN_TOTO_PAYLOAD_TYPE};
use crate::core::wire::trust_root::{SigningConfig, TrustedRoot, SIGNING_CONFIG_MEDIA_TYPE_V0_2};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, RetryPolicy};
use crate::npm::tarball::PackageTarball;
use crate::report;
use crate::secret::SecretString;
use crate::sigstore::endpoints::{select_endpoints, Endpoints};
use crate::sigstore::self_check::{check_bundle, SelfCheck, SelfCheckTrust};
use crate::sigstore::session::{Content, SigningSession};
use crate::sigstore::trust::read_trusted_root;
use crate::standin::{self, Standin, StandinOptions};

/// The Sigstore instance and identity flags, shared by `attest` and `publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct SigstoreArgs {
    /// The Sigstore instance: `public-good` (Fulcio and Rekor of sigstore.dev, the only one npm
    /// accepts), `github` (GitHub's own: its Fulcio and timestamp authority, no public log),
    /// `local` (an in-process stand-in), or one base URL serving both the Fulcio and Rekor APIs
    /// (e.g. a running `serve-sigstore`) [default: public-good; `github` for `attest
    /// --upload-to-github` under GitHub Actions in a private or internal repository, as
    /// actions/attest chooses].
    #[arg(long, value_name = "INSTANCE")]
    pub sigstore: Option<String>,

    /// Override the Fulcio base URL.
    #[arg(long, value_name = "URL")]
    pub fulcio_url: Option<String>,

    /// Override the Rekor base URL.
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,

    /// The transparency log API to write to: 1 (Rekor v1; the default for npm provenance, the
    /// form the npm registry is known to accept) or 2 (Rekor v2, with RFC 3161 timestamps from
    /// a TSA as the signed time).
    #[arg(long, value_name = "1|2", value_parser = clap::value_parser!(u32).range(1..=2))]
    pub rekor_version: Option<u32>,

    /// A timestamp authority (full URL, e.g. https://timestamp.sigstore.dev/api/v1/timestamp)
    /// whose RFC 3161 timestamp goes into each bundle; repeat for several. Replaces the signing
    /// config's TSAs.
    #[arg(long, value_name = "URL")]
    pub tsa_url: Vec<String>,

    /// A signing config v0.2 (the `signing_config.v0.2.json` of a Sigstore instance) to choose
    /// Fulcio, the log and the TSAs from, by validity window, API version and selector; the URL
    /// flags and --rekor-version override it.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,

    /// Sign with a local Sigstore stand-in instead of public Sigstore (same as `--sigstore
    /// local`): nothing is sent to Sigstore and nothing is published. `publish --dry-run`
    /// still reads the registry (is the version new?) and says what it contacted.
    #[arg(long)]
    pub dry_run: bool,

    /// An OIDC identity token for Fulcio (used when neither the GitHub Actions runtime nor
    /// SIGSTORE_ID_TOKEN provides one).
    #[arg(long, value_name = "TOKEN", value_parser = parse_secret)]
    pub identity_token: Option<SecretString>,

    /// With a local stand-in: where to write the trusted root that verifies the bundle
    /// [default: `trusted_root.json` next to the bundle].
    #[arg(long, value_name = "PATH")]
    pub trusted_root_out: Option<PathBuf>,

    /// The trusted root of the Sigstore instance, for the check every bundle passes before it
    /// is written or uploaded (and for `publish --bundle`) [default: the local stand-in's, or
    /// the instance's through TUF (public-good, or --tuf-url)].
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// Where the trust material of a public-good (or `--tuf-url`) instance comes from; the
    /// signer follows its signing config unless --fulcio-url/--rekor-url are given.
    #[command(flatten)]
    pub tuf: crate::sigstore::tuf::TufArgs,
}

pub fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::new(text.to_owned()))
}

/// The process environment, captured once and shared.
pub type Env = Arc<HashMap<String, String>>;

pub fn capture_env() -> Env {
    Arc::new(std::env::vars().collect())
}

/// Which Sigstore to talk to.
#[derive(Debug, Clone)]
pub enum Instance {
    Remote(Endpoints),
    /// The in-process stand-in; `github`: in the form of GitHub's instance (a CA and a TSA, no
    /// log, no CT log).
    Local {
        github: bool,
    },
}

/// What the bundle is for, which decides the instance and what npm will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `publish`: npm provenance, which the registry verifies against public-good.
    NpmPublish,
    /// `attest`: a bundle file (for npm) and, with `upload_to_github`, an attestation stored
    /// with GitHub's attestations API.
    Attest { upload_to_github: bool },
}

impl SigstoreArgs {
    /// Whether the stand-in or the instance named is a local one.
    fn is_local(&self) -> bool {
        self.dry_run || self.sigstore.as_deref() == Some("local")
    }

    /// The instance to sign with; `github` is the resolved choice of GitHub's instance (see
    /// [`choose_github`]) when `--sigstore` names none explicitly.
    pub fn instance(&self, github: bool) -> anyhow::Result<Instance> {
        if self.is_local() {
            if self.fulcio_url.is_some()
                || self.rekor_url.is_some()
                || !self.tsa_url.is_empty()
                || self.signing_config.is_some()
            {
                return Err(fail(
                    ExitKind::BadInput,
                    "--fulcio-url, --rekor-url, --tsa-url and --signing-config cannot be used with --dry-run or --sigstore local",
                ));
            }
            if github && self.rekor_version.is_some() {
                return Err(no_log_for_github());
            }
            return Ok(Instance::Local { github });
        }
        if self.trusted_root_out.is_some() {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "--trusted-root-out only applies to the local stand-in",
                "use --dry-run, or take the trusted root from the Sigstore instance you sign with",
            ));
        }
        let name = self.sigstore.as_deref().unwrap_or(if github { "github" } else { "public-good" });
        if name == "github" && self.rekor_version.is_some() && self.rekor_url.is_none() {
            return Err(no_log_for_github());
        }
        let mut endpoints = match (&self.signing_config, name) {
            (Some(path), _) => {
                let bytes = crate::sigstore::trust::read_capped(
                    path,
                    crate::sigstore::trust::MAX_JSON_BYTES,
                    "signing config",
                )?;
                let config: SigningConfig = serde_json::from_slice(&bytes).map_err(|e| {
                    fail_with_hint(
                        ExitKind::BadInput,
                        format!("signing config {} is not a signing config v0.2: {e}", path.display()),
                        "pass the instance's signing_config.v0.2.json",
                    )
                })?;
                if config.media_type != SIGNING_CONFIG_MEDIA_TYPE_V0_2 {
                    return Err(fail(
                        ExitKind::BadInput,
                        format!("signing config {} has media type {:?}, not v0.2", path.display(), config.media_type),
                    ));
                }
                select_endpoints(&config, clock::now()?, self.rekor_version)?
            }
            (None, "public-good") if self.rekor_version == Some(2) && self.rekor_url.is_none() => {
                return Err(fail_with_hint(
                    ExitKind::BadInput,
                    "public-good's signing config lists no Rekor v2 log yet",
                    "pass --signing-config FILE, or --rekor-url and --tsa-url",
                ))
            }
            (None, "public-good") => Endpoints::public_good(),
            (None, "github") => Endpoints::github(),
            // A base URL serving all services: a `serve-sigstore` (its Rekor v2 log under /rekor-v2).
            (None, url) => Endpoints::standin(&check_url("--sigstore", url)?, self.rekor_version.unwrap_or(1)),
        };
        if let Some(url) = &self.fulcio_url {
            endpoints.fulcio = check_url("--fulcio-url", url)?;
        }
        if let Some(url) = &self.rekor_url {
            endpoints.rekor = Some(check_url("--rekor-url", url)?);
            endpoints.rekor_version = self.rekor_version.unwrap_or(1);
        }
        if !self.tsa_url.is_empty() {
            endpoints.tsa =
                self.tsa_url.iter().map(|url| check_url("--tsa-url", url)).collect::<anyhow::Result<_>>()?;
        }
        if endpoints.rekor_version == 2 && endpoints.tsa.is_empty() {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "Rekor v2 needs a timestamp authority: it issues no signed time of its own",
                "pass --tsa-url URL",
            ));
        }
        Ok(Instance::Remote(endpoints))
    }
}

fn no_log_for_github() -> anyhow::Error {
    fail_with_hint(
        ExitKind::BadInput,
        "GitHub's Sigstore instance keeps no transparency log: --rekor-version does not apply",
        "drop --rekor-version, or pass --sigstore public-good",
    )
}

fn check_url(flag: &str, text: &str) -> anyhow::Result<String> {
    match url::Url::parse(text) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(text.trim_end_matches('/').to_owned()),
        _ => Err(fail_with_hint(
            ExitKind::BadInput,
            format!("{flag} {text:?} is not an http(s) URL"),
            "use `public-good`, `github`, `local`, or a base URL such as http://127.0.0.1:8080",
        )),
    }
}

/// Whether GitHub's own Sigstore instance signs, decided before anything is signed, from the
/// explicit `--sigstore` (`explicit`), what the bundle is for, and the repository's visibility
/// (`crate::ci::visibility`).
///
/// As actions/attest chooses (`@actions/attest` `endpoints.ts`): an attestation stored with
/// GitHub from a repository that is not public is signed by GitHub's instance, which publishes
/// nothing, while public repositories keep public-good. npm itself takes provenance only from
/// public repositories signed by public-good, so a bundle meant for npm from a private
/// repository is refused here, before Fulcio (whose CT log is public) hears of it.
pub fn choose_github(explicit: Option<&str>, purpose: Purpose, visibility: Option<&str>) -> anyhow::Result<bool> {
    let private = is_not_public(visibility);
    match (explicit, purpose) {
        (Some("github"), Purpose::NpmPublish) => Err(fail_with_hint(
            ExitKind::BadInput,
            "the npm registry accepts provenance signed by Sigstore public-good only, not by GitHub's instance",
            "drop --sigstore github (publish signs with public-good), or attest --sigstore github --upload-to-github to store the attestation with GitHub",
        )),
        (Some("github"), _) => Ok(true),
        (_, Purpose::Attest { upload_to_github: false }) if private => Err(private_npm_provenance(visibility)),
        (None | Some("local"), Purpose::Attest { upload_to_github: true }) => Ok(private),
        _ => Ok(false),
    }
}

/// `attest` without `--upload-to-github` in a repository that is not public: the bundle could
/// only be npm provenance, which the registry refuses (and public-good would publish the
/// repository in its logs).
fn private_npm_provenance(visibility: Option<&str>) -> anyhow::Error {
    let refusal = PreflightError::PrivateSourceRepository { visibility: visibility.unwrap_or("private").to_owned() };
    fail_with_hint(
        ExitKind::Environment,
        format!("refusing to sign npm provenance: {refusal}"),
        "pass --upload-to-github to sign with GitHub's Sigstore instance and store the attestation with GitHub (nothing is published), or --sigstore github to only write the bundle; publish to npm with --no-provenance",
    )
}

/// Where and as whom to sign, resolved without network access.
#[derive(Debug)]
pub struct SignerPlan {
    instance: Instance,
    /// `--rekor-version`, for the local stand-in.
    rekor_version: u32,
    /// `--trusted-root`, for the self-check.
    trusted_root: Option<PathBuf>,
    /// Remote instances: where the token comes from.
    token_source: Option<TokenSource>,
    /// Local instance: a token given with `--identity-token` (else one is minted).
    local_token: Option<SecretString>,
    env: Env,
    /// Remote instances: the TUF repository of their trust material (public-good, or
    /// `--tuf-url`), whether to stay offline, and whether to take the endpoints from its
    /// signing config (public-good without explicit URLs).
    tuf: Option<(crate::sigstore::tuf::TufRepository, bool, bool)>,
    choice: Choice,
}

/// How the instance was chosen.
#[derive(Debug)]
struct Choice {
    /// What the bundle is for.
    purpose: Purpose,
    /// `--sigstore` left the instance to us: then the identity token's `repository_visibility`
    /// claim is checked against the choice.
    automatic: bool,
    /// GitHub's instance (or the stand-in in its form) signs.
    github: bool,
    /// The repository's visibility as the Actions event payload states it.
    visibility: Option<String>,
}

impl SignerPlan {
    /// Resolves the instance and checks that an identity token is available (a token already
    /// in hand is checked for shape and expiry too), for npm provenance (`publish`). No network.
    pub fn new(args: &SigstoreArgs, env: Env) -> anyhow::Result<Self> {
        Self::for_purpose(args, env, Purpose::NpmPublish)
    }

    /// [`SignerPlan::new`] for a bundle made for `purpose`: under GitHub Actions the
    /// repository's visibility chooses the instance ([`choose_github`]).
    pub fn for_purpose(args: &SigstoreArgs, env: Env, purpose: Purpose) -> anyhow::Result<Self> {
        let visibility = actions_visibility(&|key: &str| env.get(key).cloned());
        // `--dry-run` signs with the stand-in in the form of the instance chosen here.
        let explicit = args.sigstore.as_deref();
        let github = choose_github(explicit, purpose, visibility.as_deref())?;
        if github {
            report::debug(&format!(
                "signing with GitHub's Sigstore instance{}",
                if explicit.is_some() { "" } else { " (the repository is not public)" }
            ));
        }
        let instance = args.instance(github)?;
        let lookup = |key: &str| env.get(key).cloned();
        let (token_source, local_token) = match &instance {
            Instance::Remote(_) => {
                let source = oidc::discover(&lookup, args.identity_token.clone())?;
                if let TokenSource::Environment(token) | TokenSource::Flag(token) = &source {
                    oidc::inspect(token, source.describe(), clock::now()?)?;
                }
                (Some(source), None)
            }
            Instance::Local { .. } => {
                if let Some(token) = &args.identity_token {
                    report::mask(token);
                }
                (None, args.identity_token.clone())
            }
        };
        // Public-good's trust (and signing config) comes from its TUF repository; with
        // --fulcio-url/--rekor-url the services are someone else's, whose trust only
        // --tuf-url (or --trusted-root) names.
        // GitHub's instance: its own TUF repository (tuf-repo.github.com, from the root embedded
        // in npm-attest), or --tuf-url.
        let name = args.sigstore.as_deref().unwrap_or(if github { "github" } else { "public-good" });
        let own_services = args.fulcio_url.is_none() && args.rekor_url.is_none();
        let public_good = name == "public-good" && own_services;
        let tuf = match &instance {
            Instance::Remote(_) if public_good || args.tuf.tuf_url.is_some() => {
                Some((args.tuf.repository()?, args.tuf.offline, public_good))
            }
            Instance::Remote(_) if name == "github" && own_services => {
                Some((crate::sigstore::tuf::TufRepository::github(), args.tuf.offline, false))
            }
            _ => None,
        };
        Ok(Self {
            instance,
            rekor_version: args.rekor_version.unwrap_or(1),
            trusted_root: args.trusted_root.clone(),
            token_source,
            local_token,
            env,
            tuf,
            choice: Choice {
                purpose,
                automatic: matches!(args.sigstore.as_deref(), None | Some("local")),
                github,
                visibility,
            },
        })
    }

    pub fn is_local(&self) -> bool {
        matches!(self.instance, Instance::Local { .. })
    }

    /// With the identity token in hand: its `repository_visibility` claim (signed by GitHub,
    /// and what Fulcio certifies) must not contradict an automatic choice of public-good made
    /// from the event payload. Nothing has reached Sigstore yet.
    fn check_token_visibility(choice: &Choice, claims: &Map<String, Value>) -> anyhow::Result<()> {
        let claimed = claims.get("repository_visibility").and_then(Value::as_str);
        if choice.github || !choice.automatic || !is_not_public(claimed) {
            return Ok(());
        }
        match choice.purpose {
            Purpose::Attest { upload_to_github: true } => Err(fail_with_hint(
                ExitKind::Environment,
                format!(
                    "the identity token says the repository is {}, but the event payload said {}: not signing with public-good, which would publish it",
                    claimed.unwrap_or_default(),
                    choice.visibility.as_deref().unwrap_or("nothing")
                ),
                "pass --sigstore github to sign with GitHub's instance",
            )),
            Purpose::Attest { upload_to_github: false } => Err(private_npm_provenance(claimed)),
            Purpose::NpmPublish => {
                let refusal =
                    PreflightError::PrivateSourceRepository { visibility: claimed.unwrap_or_default().to_owned() };
                Err(fail_with_hint(ExitKind::Environment, format!("refusing to publish: {refusal}"), refusal.hint()))
            }
        }
    }

    /// Fetches the token (or mints one on the local stand-in) and gets the first certificate.
    pub async fn start(self) -> anyhow::Result<Signer> {
        match self.instance {
            Instance::Remote(endpoints) => {
                let lookup = |key: &str| self.env.get(key).cloned();
                let source = self.token_source.ok_or_else(|| oidc::missing_token(&lookup))?;
                let http = Http::new(RetryPolicy::default())?;
                let described = source.describe();
                let token = oidc::fetch(&http, source).await?;
                inspect_token(&token, described)?;
                let identity = decode_unverified(token.expose()).map(|jwt| jwt.claims).unwrap_or_default();
                Self::check_token_visibility(&self.choice, &identity)?;
                let mut endpoints = endpoints;
                let trust = match (&self.trusted_root, &self.tuf) {
                    (Some(path), _) => exact_trust(path)?,
                    (None, Some((repository, offline, follow_config))) => {
                        let fetched = crate::sigstore::tuf::trust_material(repository, *offline).await?;
                        report::debug(&format!("Sigstore trust material {}", fetched.describe()));
                        if *follow_config {
                            // npm provenance stays on Rekor v1 unless --rekor-version 2 asks (README).
                            if let Some(config) = fetched.signing_config()? {
                                endpoints = select_endpoints(&config, clock::now()?, Some(self.rekor_version))?;
                                // On Rekor v1 the SET dates the signature; no TSA is asked, as
                                // npm's own provenance does not.
                                if endpoints.rekor_version == 1 {
                                    endpoints.tsa.clear();
                                }
                            }
                        }
                        let root = fetched.trusted_root()?;
                        // Fresh from TUF (this run, or its verified cache) the root is the
                        // instance's own: every self-check failure refuses. Only the embedded
                        // snapshot (--offline without a cache) may predate the live keys.
                        if fetched.origin.is_tuf_verified() {
                            SelfCheckTrust::Exact { root, name: format!("TUF-fresh ({})", repository.url) }
                        } else {
                            SelfCheckTrust::PublicGoodSnapshot(root)
                        }
                    }
                    (None, None) if endpoints == Endpoints::public_good() => {
                        SelfCheckTrust::PublicGoodSnapshot(read_trusted_root(None, false)?)
                    }
                    (None, None) => SelfCheckTrust::Unknown,
                };
                let expected = expected_signer(&identity, &lookup);
                let authorities = trust.root().map(|root| root.timestamp_authorities.clone());
                let session = SigningSession::open(http, endpoints, token, None).await?;
                let session = match authorities {
                    Some(authorities) if !authorities.is_empty() => session.with_timestamp_authorities(authorities),
                    _ => session,
                };
                Ok(Signer { session, standin: None, local_trust: None, statement_env: self.env, trust, expected })
            }
            Instance::Local { github } => {
                let options = StandinOptions { listen: SocketAddr::from(([127, 0, 0, 1], 0)) };
                let started =
                    if github { Standin::start_github_instance(options).await } else { Standin::start(options).await };
                let standin = started.map_err(|e| {
                    fail(ExitKind::Internal, format!("cannot start the local Sigstore stand-in: {e:#}"))
                })?;
                let base = standin.base_url().to_owned();
                let endpoints = if github {
                    Endpoints::github_standin(&base)
                } else {
                    Endpoints::standin(&base, self.rekor_version)
                };
                let (token, described, claims) = match self.local_token {
                    // A token made elsewhere (e.g. `serve-sigstore --token-out`): its claims fill
                    // in for unset variables just like minted ones.
                    Some(token) => {
                        let claims = decode_unverified(token.expose()).map(|jwt| jwt.claims).unwrap_or_default();
                        (token, "--identity-token", claims)
                    }
                    // In GitHub Actions with `id-token: write`: the runner's own token; in
                    // GitLab CI, the job's `SIGSTORE_ID_TOKEN` (the stand-in accepts tokens it
                    // did not mint on their claims), so a dry run exercises the real token flow.
                    None if ["ACTIONS_ID_TOKEN_REQUEST_URL", "SIGSTORE_ID_TOKEN"]
                        .iter()
                        .any(|k| self.env.get(*k).is_some_and(|v| !v.trim().is_empty())) =>
                    {
                        let lookup = |key: &str| self.env.get(key).cloned();
                        let source = oidc::discover(&lookup, None)?;
                        let described = source.describe();
                        let token = oidc::fetch(&Http::new(RetryPolicy::default())?, source).await?;
                        let claims = decode_unverified(token.expose()).map(|jwt| jwt.claims).unwrap_or_default();
                        (token, described, claims)
                    }
                    None => {
                        let lookup = |key: &str| self.env.get(key).cloned();
                        let mut claims = standin::github_actions_claims(&lookup, clock::now()?);
                        // The visibility GitHub would certify: the event payload's, when it says.
                        if let Some(visibility) = &self.choice.visibility {
                            claims.insert("repository_visibility".into(), Value::String(visibility.clone()));
                        }
                        report::info(&dry_run_identity(&claims, &lookup));
                        let token = standin.mint_token(claims.clone());
                        report::mask(&token);
                        (token, "the local stand-in", claims)
                    }
                };
                inspect_token(&token, described)?;
                // The statement reads the same facts the token carries: the real variable when
                // set, else the claim standing for it.
                let mut statement_env: HashMap<String, String> = (*self.env).clone();
                for variable in CLAIM_VARIABLES {
                    if !statement_env.contains_key(*variable) {
                        if let Some(value) = claim_for_variable(&claims, variable) {
                            statement_env.insert((*variable).to_owned(), value);
                        }
                    }
                }
                let identity = decode_unverified(token.expose()).map(|jwt| jwt.claims).unwrap_or_default();
                let lookup = |key: &str| self.env.get(key).cloned();
                let expected = expected_signer(&identity, &lookup);
                // The stand-in's trust material through its TUF repository, the same client and
                // checks as production (never cached: the repository dies with the process).
                let local_trust = match local_trust_via_tuf(&standin).await {
                    Ok(root) => root,
                    Err(e) => {
                        standin.shutdown().await;
                        return Err(e);
                    }
                };
                let trust = match &self.trusted_root {
                    Some(path) => match exact_trust(path) {
                        Ok(trust) => trust,
                        Err(e) => {
                            standin.shutdown().await;
                            return Err(e);
                        }
                    },
                    None => SelfCheckTrust::Exact { root: local_trust.clone(), name: "local stand-in".into() },
                };
                let trusted_logs = Some(local_trust.tlogs.clone());
                let http = Http::new(RetryPolicy::NONE)?;
                let session = match SigningSession::open(http, endpoints, token, trusted_logs).await {
                    Ok(session) => {
                        session.with_timestamp_authorities(standin.trusted_root().timestamp_authorities.clone())
                    }
                    Err(e) => {
                        standin.shutdown().await;
                        return Err(e);
                    }
                };
                Ok(Signer {
                    session,
                    standin: Some(standin),
                    local_trust: Some(local_trust),
                    statement_env: Arc::new(statement_env),
                    trust,
                    expected,
                })
            }
        }
    }
}

async fn local_trust_via_tuf(standin: &Standin) -> anyhow::Result<TrustedRoot> {
    let repository = crate::sigstore::tuf::TufRepository::ephemeral(&standin.tuf_url(), standin.tuf_root().to_vec())?;
    let fetched = crate::sigstore::tuf::trust_material(&repository, false).await?;
    report::debug(&format!("stand-in trust material {}", fetched.describe()));
    fetched.trusted_root()
}

/// The identity a dry run signs as and where each part of it comes from: the GitHub variables
/// when they are set, else the stand-in's defaults (`local/example`).
fn dry_run_identity(claims: &Map<String, Value>, env: &dyn Fn(&str) -> Option<String>) -> String {
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("-").to_owned();
    let workflow_ref = claim("workflow_ref");
    let workflow = workflow_ref
        .split_once("/.github/")
        .map_or(workflow_ref.clone(), |(_, rest)| format!(".github/{}", rest.split('@').next().unwrap_or(rest)));
    let variables = ["GITHUB_REPOSITORY", "GITHUB_REF", "GITHUB_WORKFLOW_REF"];
    let (set, unset): (Vec<&str>, Vec<&str>) =
        variables.iter().partition(|v| env(v).is_some_and(|value| !value.is_empty()));
    let origin = match (set.is_empty(), unset.is_empty()) {
        (true, _) => format!("the dry run's defaults; set {} to sign as another", unset.join(", ")),
        (false, true) => format!("from {}", set.join(", ")),
        (false, false) => format!(
            "{} from the environment, the rest defaults; set {} too to change them",
            set.join(", "),
            unset.join(", ")
        ),
    };
    format!(
        "Dry run: signing as repository {}, ref {}, workflow {workflow}, issuer {} ({origin})",
        claim("repository"),
        claim("ref"),
        claims.get("iss").and_then(Value::as_str).unwrap_or("-"),
    )
}

fn inspect_token(token: &SecretString, described: &str) -> anyhow::Result<()> {
    let (jwt, warnings) = oidc::inspect(token, described, clock::now()?)?;
    for w in warnings {
        report::warn(&w);
    }
    report::debug(&format!(
        "identity: iss {:?}, sub {:?}",
        jwt.str_claim("iss").unwrap_or("-"),
        jwt.str_claim("sub").unwrap_or("-")
    ));
    Ok(())
}

/// Signs provenance for packages with one key and certificate. Share it by reference across
/// concurrent tasks.
pub struct Signer {
    session: SigningSession,
    standin: Option<Standin>,
    /// The stand-in's trusted root, as its TUF repository served it.
    local_trust: Option<TrustedRoot>,
    statement_env: Env,
    /// What every fresh bundle is checked against before it is returned.
    trust: SelfCheckTrust,
    /// Who every fresh bundle must name: the identity our token names (`None`: the token's
    /// claims do not say).
    expected: Option<Policy>,
}

/// A bundle that passed the self-check, and what the check established.
#[derive(Debug)]
pub struct SignedBundle {
    pub bundle: Bundle,
    pub self_check: SelfCheck,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("session", &self.session).field("local", &self.standin.is_some()).finish()
    }
}

impl Signer {
    pub fn endpoints(&self) -> &Endpoints {
        self.session.endpoints()
    }

    /// The stand-in's trusted root, for a local instance.
    pub fn trusted_root(&self) -> Option<&TrustedRoot> {
        self.local_trust.as_ref()
    }

    /// The trust material fresh bundles are checked against.
    pub fn self_check_trust(&self) -> &SelfCheckTrust {
        &self.trust
    }

    /// The repository the statement names (`GITHUB_REPOSITORY`, or the token's claim for it).
    pub fn repository(&self) -> Option<&str> {
        self.statement_env.get("GITHUB_REPOSITORY").map(String::as_str)
    }

    /// The CI whose form the statement takes.
    pub fn provider(&self) -> Provider {
        let lookup = |key: &str| self.statement_env.get(key).cloned();
        Provider::detect(&lookup)
    }

    /// Builds npm's provenance statement for `package`, signs it, logs it, and verifies the
    /// result (`self_check`): a bundle that does not verify is an error, never returned.
    pub async fn attest(&self, package: &PackageTarball) -> anyhow::Result<SignedBundle> {
        let lookup = |key: &str| self.statement_env.get(key).cloned();
        let statement = statement_bytes(Provider::detect(&lookup), &package.subject(), &lookup);
        let bundle =
            self.session.sign(Content::Dsse { payload_type: IN_TOTO_PAYLOAD_TYPE, payload: &statement }).await?;
        let npm = NpmPackage {
            name: package.name.as_str().to_owned(),
            version: package.version.as_str().to_owned(),
            sha512: package.sha512,
        };
        let self_check = match (&self.expected, &self.trust) {
            (Some(policy), trust) => check_bundle(&bundle, &npm, policy, trust, "the new bundle")?,
            (None, SelfCheckTrust::Unknown) => SelfCheck::NotRun {
                reason: "no trusted root is known for this Sigstore instance (pass --trusted-root FILE)".into(),
            },
            (None, _) => return Err(fail(
                ExitKind::BadInput,
                "cannot check the new bundle: the identity token has no claims to derive the certificate identity from",
            )),
        };
        Ok(SignedBundle { bundle, self_check })
    }

    /// Stops the local stand-in, if any.
    pub async fn shutdown(self) {
        if let Some(standin) = self.standin {
            standin.shutdown().await;
        }
    }
}

/// A trusted root given with `--trusted-root`.
fn exact_trust(path: &std::path::Path) -> anyhow::Result<SelfCheckTrust> {
    Ok(SelfCheckTrust::Exact { root: read_trusted_root(Some(path), false)?, name: path.display().to_string() })
}

/// The identity a fresh bundle must name: exactly the issuer and SAN Fulcio derives from our
/// token's claims and, in a GitHub Actions run on github.com or GHE.com, the repository the
/// runner builds (so a token and a `GITHUB_REPOSITORY` that disagree refuse).
fn expected_signer(claims: &Map<String, Value>, env: &dyn Fn(&str) -> Option<String>) -> Option<Policy> {
    let (issuer, san) = certificate_identity(claims)?;
    let actions = ActionsEnv::from_lookup(env);
    let mut identity = IdentityPolicy::new(issuer.clone());
    identity.san = Some(IdentityMatcher::Exact(san));
    if let (true, Some(repository)) = (actions.in_actions, actions.repository.as_deref()) {
        if actions_issuer(&actions.server_url).as_deref() == Some(issuer.as_str()) {
            identity.source_repository_uri = Some(format!("{}/{repository}", actions.server_url.trim_end_matches('/')));
        }
    }
    Some(Policy::Keyless(identity))
}

/// The variables the statement reads that a GitHub Actions token's claims stand for.
const CLAIM_VARIABLES: &[&str] = &[
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_REPOSITORY_OWNER_ID",
    "GITHUB_EVENT_NAME",
    "GITHUB_REF",
    "GITHUB_SHA",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "RUNNER_ENVIRONMENT",
];

/// The GitHub variable a GitHub Actions token claim stands for (github-actions.md, Appendix A).
fn claim_for_variable(claims: &Map<String, Value>, variable: &str) -> Option<String> {
    let claim = match variable {
        "GITHUB_SERVER_URL" => return (!claims.is_empty()).then(|| "https://github.com".to_owned()),
        "GITHUB_REPOSITORY" => "repository",
        "GITHUB_REPOSITORY_ID" => "repository_id",
        "GITHUB_REPOSITORY_OWNER_ID" => "repository_owner_id",
        "GITHUB_EVENT_NAME" => "event_name",
        "GITHUB_REF" => "ref",
        "GITHUB_SHA" => "sha",
        "GITHUB_WORKFLOW_REF" => "workflow_ref",
        "GITHUB_RUN_ID" => "run_id",
        "GITHUB_RUN_ATTEMPT" => "run_attempt",
        "RUNNER_ENVIRONMENT" => "runner_environment",
        _ => return None,
    };
    match claims.get(claim)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_stand_in_for_unset_variables() {
        let claims: Map<String, Value> = serde_json::from_value(json!({
            "repository": "o/r", "run_id": "12", "run_attempt": 1, "workflow_ref": "o/r/.github/workflows/w.yml@refs/heads/main"
        }))
        .unwrap();
        assert_eq!(claim_for_variable(&claims, "GITHUB_REPOSITORY").as_deref(), Some("o/r"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_RUN_ATTEMPT").as_deref(), Some("1"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_SERVER_URL").as_deref(), Some("https://github.com"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_SHA"), None);
        assert_eq!(claim_for_variable(&Map::new(), "GITHUB_SERVER_URL"), None);
        for variable in CLAIM_VARIABLES {
            assert!(claim_for_variable(&claims, variable).is_some() || *variable != "GITHUB_REPOSITORY");
        }
    }

    #[test]
    fn the_instance_follows_visibility_only_for_attestations_stored_with_github() {
        let upload = Purpose::Attest { upload_to_github: true };
        let file_only = Purpose::Attest { upload_to_github: false };
        // Like actions/attest: private and internal repositories sign with GitHub's instance.
        assert!(choose_github(None, upload, Some("private")).unwrap());
        assert!(choose_github(None, upload, Some("internal")).unwrap());
        assert!(!choose_github(None, upload, Some("public")).unwrap());
        // Unknown visibility (outside Actions): public-good, as before.
        assert!(!choose_github(None, upload, None).unwrap());
        // An explicit choice wins.
        assert!(!choose_github(Some("public-good"), upload, Some("private")).unwrap());
        assert!(choose_github(Some("github"), upload, Some("public")).unwrap());
        assert!(choose_github(Some("github"), file_only, Some("private")).unwrap());
        // A bundle only npm could use, from a private repository: refused before signing.
        let refusal = crate::error::render(&choose_github(None, file_only, Some("private")).unwrap_err());
        assert!(
            refusal.contains("the source repository is private") && refusal.contains("--upload-to-github"),
            "{refusal}"
        );
        assert!(choose_github(Some("public-good"), file_only, Some("internal")).is_err());
        assert!(!choose_github(None, file_only, Some("public")).unwrap());
        // npm takes public-good provenance only.
        assert!(choose_github(Some("github"), Purpose::NpmPublish, Some("public")).is_err());
        assert!(!choose_github(None, Purpose::NpmPublish, Some("private")).unwrap(), "publish's preflight refuses it");
    }

    #[test]
    fn local_and_remote_flags_do_not_mix() {
        let args = SigstoreArgs {
            sigstore: Some("local".into()),
            fulcio_url: Some("http://127.0.0.1:1".into()),
            rekor_url: None,
            rekor_version: None,
            tsa_url: Vec::new(),
            signing_config: None,
            dry_run: false,
            identity_token: None,
            trusted_root_out: None,
            trusted_root: None,
            tuf: Default::default(),
        };
        assert!(args.instance(false).is_err());
        let remote = SigstoreArgs { sigstore: Some("ftp://x".into()), fulcio_url: None, ..args.clone() };
        assert!(remote.instance(false).is_err());
        let root_out = SigstoreArgs {
            sigstore: Some("public-good".into()),
            fulcio_url: None,
            trusted_root_out: Some("r.json".into()),
            ..args.clone()
        };
        assert!(root_out.instance(false).is_err());
        // GitHub's instance: its Fulcio and TSA, no log; a Rekor version makes no sense there.
        let github = SigstoreArgs { sigstore: Some("github".into()), fulcio_url: None, ..args.clone() };
        match github.instance(false).unwrap() {
            Instance::Remote(endpoints) => assert_eq!(endpoints, Endpoints::github()),
            other => panic!("{other:?}"),
        }
        let with_version = SigstoreArgs { rekor_version: Some(2), ..github };
        assert!(with_version.instance(false).is_err());
        // The automatic choice: no --sigstore, chosen GitHub.
        let automatic = SigstoreArgs { sigstore: None, fulcio_url: None, ..args };
        assert!(matches!(automatic.instance(true).unwrap(), Instance::Remote(e) if e == Endpoints::github()));
        assert!(matches!(automatic.instance(false).unwrap(), Instance::Remote(e) if e == Endpoints::public_good()));
    }
}
