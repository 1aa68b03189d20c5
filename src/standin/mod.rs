//! The local Sigstore stand-in: a Fulcio-like CA (with a CT log key for embedded SCTs), a
//! Rekor-like transparency log (RFC 6962 tree, signed checkpoints, SETs) and a mock OIDC
//! issuer, served over HTTP on loopback. `attest --sigstore local` / `--dry-run` run it
//! in-process; `serve-sigstore` runs it until stopped.
//!
//! Keys (CA root and intermediate P-384; CT, log and token issuer P-256) are generated fresh at
//! start and never leave the process; the trusted root carries only their public halves.

mod ca;
mod ct;
pub mod faults;
pub(crate) mod fulcio;
mod issuer;
pub(crate) mod log;
mod rekor_v2;
pub mod server;
pub(crate) mod tsa;
pub mod tuf;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use p256::pkcs8::EncodePublicKey as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use crate::core::time::UnixTime;
use crate::core::wire::bundle::{LogId, X509Certificate};
use crate::core::wire::trust_root::{
    CertChain, CertificateAuthority as CaEntry, ClientTrustConfig, DistinguishedName, PublicKey, Service,
    ServiceConfig, SigningConfig, TimeRange, TransparencyLogInstance, TrustedRoot, CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    SIGNING_CONFIG_MEDIA_TYPE_V0_2, TRUSTED_ROOT_MEDIA_TYPE_V0_1,
};
use crate::secret::SecretString;

pub use faults::{FaultMode, Faults};
pub use server::{ApiRequest, BoxFuture, Middleware, Next, Reply, MAX_BODY_BYTES};

/// How far before start-up the CA and keys are valid, so that clocks a little behind still
/// accept what the stand-in issues.
const VALID_FROM_SKEW_SECONDS: i64 = 300;

#[derive(Debug, Clone)]
pub struct StandinOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
}

/// A running stand-in.
pub struct Standin {
    base_url: String,
    trusted_root: TrustedRoot,
    signing_config: SigningConfig,
    signing_config_v2: SigningConfig,
    tuf_root: Vec<u8>,
    app: Arc<server::App>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Standin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standin").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

fn clock() -> (UnixTime, u128) {
    let since = crate::clock::since_epoch();
    (UnixTime(i64::try_from(since.as_secs()).unwrap_or(i64::MAX)), since.as_nanos())
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| anyhow::anyhow!("the system random source failed: {e}"))?;
    Ok(buf)
}

fn random_serial() -> Option<[u8; 20]> {
    random_bytes::<20>().ok()
}

fn p256_key() -> anyhow::Result<p256::ecdsa::SigningKey> {
    // Rejection sampling: a random 32-byte string is a valid scalar with overwhelming probability.
    for _ in 0..16 {
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random_bytes::<32>()?) {
            return Ok(key);
        }
    }
    anyhow::bail!("could not generate a P-256 key")
}

fn p384_key() -> anyhow::Result<p384::ecdsa::SigningKey> {
    for _ in 0..16 {
        if let Ok(key) = p384::ecdsa::SigningKey::from_slice(&random_bytes::<48>()?) {
            return Ok(key);
        }
    }
    anyhow::bail!("could not generate a P-384 key")
}

fn p256_spki(key: &p256::ecdsa::SigningKey) -> anyhow::Result<Vec<u8>> {
    Ok(key
        .verifying_key()
        .to_public_key_der()
        .map_err(|e| anyhow::anyhow!("cannot encode a P-256 key: {e}"))?
        .into_vec())
}

impl Standin {
    /// Binds, generates fresh keys (CA, CT log, Rekor log, OIDC issuer) and starts serving.
    pub async fn start(options: StandinOptions) -> anyhow::Result<Standin> {
        Self::start_with_middleware(options, Vec::new()).await
    }

    /// Like [`Standin::start`], with `layers` run in order before the routes (the seam for fault
    /// injection; see [`server`]).
    pub async fn start_with_middleware(
        options: StandinOptions,
        layers: Vec<Arc<dyn Middleware>>,
    ) -> anyhow::Result<Standin> {
        Self::start_inner(options, layers, false).await
    }

    /// Starts the stand-in in the form of GitHub's own Sigstore instance (the one actions/attest
    /// signs with for private repositories): a CA whose leaves carry no SCT and a TSA; no
    /// transparency log (its routes answer 404) and no CT log. The trusted root lists only the
    /// CA and the TSA, with scheme-less URIs as GitHub's does, and the signing config only
    /// their URLs.
    pub async fn start_github_instance(options: StandinOptions) -> anyhow::Result<Standin> {
        Self::start_inner(options, Vec::new(), true).await
    }

    /// [`Standin::start_github_instance`] with middleware layers (see
    /// [`Standin::start_with_middleware`]).
    pub async fn start_github_instance_with_middleware(
        options: StandinOptions,
        layers: Vec<Arc<dyn Middleware>>,
    ) -> anyhow::Result<Standin> {
        Self::start_inner(options, layers, true).await
    }

    async fn start_inner(
        options: StandinOptions,
        layers: Vec<Arc<dyn Middleware>>,
        github_instance: bool,
    ) -> anyhow::Result<Standin> {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.listen))?;
        let local = listener.local_addr()?;
        let base_url = format!("http://{local}");
        let (now, _) = clock();
        let valid_from = UnixTime(now.seconds() - VALID_FROM_SKEW_SECONDS);

        let root_key = p384_key()?;
        let ca = ca::CertificateAuthority::new(
            &root_key,
            p384_key()?,
            valid_from,
            (random_bytes::<20>()?, random_bytes::<20>()?),
        )
        .map_err(|e| anyhow::anyhow!("cannot create the stand-in CA: {e}"))?;
        drop(root_key);
        let ct_key = p256_key()?;
        let ct = ct::CtLog::new(ct_key.clone(), p256_spki(&ct_key)?);
        let log_key = p256_key()?;
        let log_spki = p256_spki(&log_key)?;
        // Rekor tree IDs are positive int64s.
        let tree_id = u64::from_be_bytes(random_bytes::<8>()?) >> 1;
        // The checkpoint origin and signer name are the scheme-less base URL (`127.0.0.1:PORT`):
        // sigstore-js accepts a checkpoint signature only if the trusted log's `baseUrl`
        // contains the signer name (checked by running it with another name).
        let mut log = log::Log::new(log_key, log_spki, tree_id, local.to_string());
        log.append(genesis_entry(tree_id)?, now.seconds());
        let issuer_key = p256_key()?;
        let kid = hex::encode(&Sha256::digest(p256_spki(&issuer_key)?)[..8]);
        let issuer = issuer::Issuer::new(issuer_key, kid);

        let tsa_root = p384_key()?;
        let tsa = tsa::TimestampAuthority::new(
            &tsa_root,
            p256_key()?,
            valid_from,
            (random_bytes::<20>()?, random_bytes::<20>()?),
        )
        .map_err(|e| anyhow::anyhow!("cannot create the stand-in TSA: {e}"))?;
        drop(tsa_root);
        let rekor_v2_url = format!("{base_url}{}", rekor_v2::PATH_PREFIX);
        let mut log_v2 = rekor_v2::LogV2::new(random_bytes::<32>()?, format!("{local}{}", rekor_v2::PATH_PREFIX))?;
        // Like the v1 log, never empty: a client's entry at index 0 of a one-leaf tree has a zero
        // logIndex and no hashes, which protobuf JSON omits and sigstore-python refuses.
        log_v2
            .create(&genesis_v2_request(&base_url)?)
            .map_err(|e| anyhow::anyhow!("cannot log the Rekor v2 genesis entry: {e}"))?;

        let (trusted_root, signing_config, signing_config_v2) = if github_instance {
            let root = build_github_trusted_root(&local.to_string(), &ca, &tsa, valid_from);
            let config = build_github_signing_config(&base_url, valid_from);
            (root, config.clone(), config)
        } else {
            let mut root = build_trusted_root(&base_url, &ca, &ct, &log, valid_from);
            add_rekor_v2_and_tsa(&mut root, &rekor_v2_url, &log_v2, &tsa, &base_url, valid_from);
            (
                root,
                build_signing_config(&base_url, valid_from),
                build_signing_config_v2(&base_url, &rekor_v2_url, valid_from),
            )
        };
        let tuf = tuf::Repository::new(
            &[
                (crate::core::well_known::TUF_TRUSTED_ROOT_TARGET, serde_json::to_vec_pretty(&trusted_root)?),
                (crate::core::well_known::TUF_SIGNING_CONFIG_TARGET, serde_json::to_vec_pretty(&signing_config)?),
            ],
            valid_from,
        )?;
        let tuf_root = tuf.first_root().to_vec();
        let app = Arc::new(server::App {
            base_url: base_url.clone(),
            ca,
            ct,
            issuer,
            log: Mutex::new(log),
            log_v2: Mutex::new(log_v2),
            tsa,
            clock,
            random: random_serial,
            expired_certificates: std::sync::atomic::AtomicBool::new(false),
            tuf: Mutex::new(tuf),
            github_instance,
        });
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, app.clone(), layers, rx));
        Ok(Standin {
            base_url,
            trusted_root,
            signing_config,
            signing_config_v2,
            tuf_root,
            app,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: the base URL of both the Fulcio API (`/api/v2/signingCert`)
    /// and the Rekor API (`/api/v1/log/entries`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The trusted root that verifies what this stand-in issues and logs.
    pub fn trusted_root(&self) -> &TrustedRoot {
        &self.trusted_root
    }

    /// A signing config v0.2 naming this stand-in's CA and log.
    pub fn signing_config(&self) -> SigningConfig {
        self.signing_config.clone()
    }

    /// A signing config v0.2 naming this stand-in's CA, its Rekor v2 log and its TSA: the next
    /// Sigstore (Rekor v2 entries, time from RFC 3161 timestamps).
    pub fn signing_config_rekor_v2(&self) -> SigningConfig {
        self.signing_config_v2.clone()
    }

    /// The Rekor v2 log's base URL (`{base_url}/rekor-v2`).
    pub fn rekor_v2_url(&self) -> String {
        format!("{}{}", self.base_url, rekor_v2::PATH_PREFIX)
    }

    /// The TSA's full URL (`{base_url}/api/v1/timestamp`).
    pub fn tsa_url(&self) -> String {
        format!("{}/api/v1/timestamp", self.base_url)
    }

    /// The ClientTrustConfig (trusted root + signing config) sigstore-python's `--trust-config`
    /// takes.
    pub fn client_trust_config(&self) -> ClientTrustConfig {
        ClientTrustConfig {
            media_type: CLIENT_TRUST_CONFIG_MEDIA_TYPE.to_owned(),
            trusted_root: self.trusted_root.clone(),
            signing_config: self.signing_config(),
        }
    }

    /// [`Standin::client_trust_config`] with the Rekor v2 + TSA signing config.
    pub fn client_trust_config_rekor_v2(&self) -> ClientTrustConfig {
        ClientTrustConfig { signing_config: self.signing_config_rekor_v2(), ..self.client_trust_config() }
    }

    /// The metadata base URL of the stand-in's TUF repository (`<base>/tuf`).
    pub fn tuf_url(&self) -> String {
        format!("{}/tuf", self.base_url)
    }

    /// `1.root.json` of the stand-in's TUF repository, the root clients start from.
    pub fn tuf_root(&self) -> &[u8] {
        &self.tuf_root
    }

    /// Publishes `bytes` as TUF target `name` (new targets, snapshot and timestamp).
    pub fn tuf_set_target(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let mut repo = self.app.tuf.lock().map_err(|_| anyhow::anyhow!("TUF repository state is unavailable"))?;
        repo.set_target(name, bytes)
    }

    /// Rotates the TUF root and timestamp keys (publishes `N+1.root.json`).
    pub fn tuf_rotate_root(&self) -> anyhow::Result<()> {
        let mut repo = self.app.tuf.lock().map_err(|_| anyhow::anyhow!("TUF repository state is unavailable"))?;
        repo.rotate_root()
    }

    /// Mints an identity token signed by the stand-in's issuer key. `iss`, `aud` (`sigstore`),
    /// `iat`, `nbf` and `exp` are filled in when absent.
    pub fn mint_token(&self, claims: Map<String, Value>) -> SecretString {
        let (now, _) = clock();
        SecretString::new(self.app.issuer.mint(claims, now))
    }

    /// From now on, the CA issues leaves whose validity ended before they are issued (notBefore
    /// twenty minutes ago, notAfter ten minutes ago), while the CT log and the transparency
    /// log keep the real time. For tests and demos of clients and verifiers facing an expired
    /// certificate at signing time; never what a real Fulcio does.
    pub fn issue_expired_certificates(&self) {
        self.app.expired_certificates.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Standin {
    /// A stand-in dropped without [`Standin::shutdown`] still stops serving (without waiting).
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The log's first entry: a `hashedrekord` over a statement naming the tree, signed by a
/// throwaway key. Real Rekor logs are never empty, and clients' entries must not sit at index
/// 0 of a one-leaf tree: protobuf JSON omits a zero `logIndex` and an empty `hashes`, and
/// sigstore-python then refuses the bundle sigstore-js wrote.
fn genesis_entry(tree_id: u64) -> anyhow::Result<Vec<u8>> {
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    let key = p256_key()?;
    let digest = Sha256::digest(format!("npm-attest local Sigstore stand-in, tree {tree_id}"));
    let signature: p256::ecdsa::Signature =
        key.sign_prehash(&digest).map_err(|e| anyhow::anyhow!("cannot sign the genesis entry: {e}"))?;
    let pem = crate::core::crypto::pem_encode("PUBLIC KEY", &p256_spki(&key)?);
    let proposed = crate::core::wire::rekor::hashedrekord_v001_request(&digest, signature.to_der().as_bytes(), &pem);
    log::canonicalize(&proposed).map_err(|e| anyhow::anyhow!("cannot log the genesis entry: {e}"))
}

/// The Rekor v2 log's first entry: a hashedrekord v0.0.2 by a throwaway key.
fn genesis_v2_request(base_url: &str) -> anyhow::Result<Value> {
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    let key = p256_key()?;
    let digest = Sha256::digest(format!("npm-attest local Sigstore stand-in, Rekor v2 log at {base_url}"));
    let signature: p256::ecdsa::Signature =
        key.sign_prehash(&digest).map_err(|e| anyhow::anyhow!("cannot sign the genesis entry: {e}"))?;
    Ok(crate::core::wire::rekor_v2::hashedrekord_v002_request(
        &digest,
        signature.to_der().as_bytes(),
        crate::core::wire::rekor_v2::Verifier::PublicKey(&p256_spki(&key)?),
        "PKIX_ECDSA_P256_SHA_256",
    ))
}

fn build_trusted_root(
    base_url: &str,
    ca: &ca::CertificateAuthority,
    ct: &ct::CtLog,
    log: &log::Log,
    valid_from: UnixTime,
) -> TrustedRoot {
    let valid_for = TimeRange { start: Some(valid_from.to_rfc3339()), end: None };
    let instance = |spki: &[u8], log_id: [u8; 32]| TransparencyLogInstance {
        base_url: base_url.to_owned(),
        hash_algorithm: "SHA2_256".to_owned(),
        public_key: PublicKey {
            raw_bytes: spki.to_vec(),
            key_details: "PKIX_ECDSA_P256_SHA_256".to_owned(),
            valid_for: Some(valid_for.clone()),
        },
        log_id: LogId { key_id: log_id.to_vec() },
        checkpoint_key_id: None,
        operator: None,
    };
    TrustedRoot {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.to_owned(),
        tlogs: vec![instance(log.spki_der(), log.log_id())],
        certificate_authorities: vec![CaEntry {
            subject: DistinguishedName {
                organization: "npm-attest.local".to_owned(),
                common_name: "npm-attest-local".to_owned(),
            },
            uri: base_url.to_owned(),
            cert_chain: CertChain {
                certificates: vec![
                    X509Certificate { raw_bytes: ca.intermediate_der().to_vec() },
                    X509Certificate { raw_bytes: ca.root_der().to_vec() },
                ],
            },
            valid_for: Some(valid_for.clone()),
            operator: None,
        }],
        ctlogs: vec![instance(ct.spki_der(), ct.log_id())],
        timestamp_authorities: Vec::new(),
    }
}

fn build_signing_config(base_url: &str, valid_from: UnixTime) -> SigningConfig {
    let service = Service {
        url: base_url.to_owned(),
        major_api_version: 1,
        valid_for: TimeRange { start: Some(valid_from.to_rfc3339()), end: None },
        operator: "local".to_owned(),
    };
    SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.to_owned(),
        ca_urls: vec![service.clone()],
        oidc_urls: Vec::new(),
        rekor_tlog_urls: vec![service],
        tsa_urls: Vec::new(),
        rekor_tlog_config: Some(ServiceConfig { selector: "ANY".to_owned(), count: None }),
        tsa_config: Some(ServiceConfig { selector: "ANY".to_owned(), count: None }),
    }
}

/// Lists the Rekor v2 log (Ed25519, log ID = C2SP key ID) and the TSA in the trusted root.
fn add_rekor_v2_and_tsa(
    root: &mut TrustedRoot,
    rekor_v2_url: &str,
    log_v2: &rekor_v2::LogV2,
    tsa: &tsa::TimestampAuthority,
    base_url: &str,
    valid_from: UnixTime,
) {
    let valid_for = TimeRange { start: Some(valid_from.to_rfc3339()), end: None };
    root.tlogs.push(TransparencyLogInstance {
        base_url: rekor_v2_url.to_owned(),
        hash_algorithm: "SHA2_256".to_owned(),
        public_key: PublicKey {
            raw_bytes: log_v2.spki_der().to_vec(),
            key_details: "PKIX_ED25519".to_owned(),
            valid_for: Some(valid_for.clone()),
        },
        log_id: LogId { key_id: log_v2.log_id().to_vec() },
        checkpoint_key_id: None,
        operator: None,
    });
    root.timestamp_authorities
        .push(tsa.trusted_entry(format!("{base_url}/api/v1/timestamp"), &valid_from.to_rfc3339()));
}

/// GitHub's instance in miniature: the CA (leaves without SCTs) and the TSA, no transparency or
/// CT log. The URIs have no scheme, as in GitHub's own `trusted_root.json` (`host:port` here).
fn build_github_trusted_root(
    authority: &str,
    ca: &ca::CertificateAuthority,
    tsa: &tsa::TimestampAuthority,
    valid_from: UnixTime,
) -> TrustedRoot {
    let valid_for = TimeRange { start: Some(valid_from.to_rfc3339()), end: None };
    TrustedRoot {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.to_owned(),
        tlogs: Vec::new(),
        certificate_authorities: vec![CaEntry {
            subject: DistinguishedName {
                organization: "npm-attest.local".to_owned(),
                common_name: "npm-attest-local GitHub-instance".to_owned(),
            },
            uri: authority.to_owned(),
            cert_chain: CertChain {
                certificates: vec![
                    X509Certificate { raw_bytes: ca.intermediate_der().to_vec() },
                    X509Certificate { raw_bytes: ca.root_der().to_vec() },
                ],
            },
            valid_for: Some(valid_for),
            operator: None,
        }],
        ctlogs: Vec::new(),
        timestamp_authorities: vec![tsa.trusted_entry(authority.to_owned(), &valid_from.to_rfc3339())],
    }
}

/// The CA and the TSA only: a signer following it writes no log entry.
fn build_github_signing_config(base_url: &str, valid_from: UnixTime) -> SigningConfig {
    let service = |url: String| Service {
        url,
        major_api_version: 1,
        valid_for: TimeRange { start: Some(valid_from.to_rfc3339()), end: None },
        operator: "local".to_owned(),
    };
    SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.to_owned(),
        ca_urls: vec![service(base_url.to_owned())],
        oidc_urls: Vec::new(),
        rekor_tlog_urls: Vec::new(),
        tsa_urls: vec![service(format!("{base_url}/api/v1/timestamp"))],
        rekor_tlog_config: None,
        tsa_config: Some(ServiceConfig { selector: "ANY".to_owned(), count: None }),
    }
}

/// Fulcio v1, Rekor v2 and the TSA (v1 API), selectors ANY.
fn build_signing_config_v2(base_url: &str, rekor_v2_url: &str, valid_from: UnixTime) -> SigningConfig {
    let service = |url: String, version: u32| Service {
        url,
        major_api_version: version,
        valid_for: TimeRange { start: Some(valid_from.to_rfc3339()), end: None },
        operator: "local".to_owned(),
    };
    SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.to_owned(),
        ca_urls: vec![service(base_url.to_owned(), 1)],
        oidc_urls: Vec::new(),
        rekor_tlog_urls: vec![service(rekor_v2_url.to_owned(), 2)],
        tsa_urls: vec![service(format!("{base_url}/api/v1/timestamp"), 1)],
        rekor_tlog_config: Some(ServiceConfig { selector: "ANY".to_owned(), count: None }),
        tsa_config: Some(ServiceConfig { selector: "ANY".to_owned(), count: None }),
    }
}

/// The claims a GitHub Actions OIDC token would carry for this run: taken from the `GITHUB_*`
/// and `RUNNER_*` variables (looked up through `env`) when set, plausible local values otherwise.
pub fn github_actions_claims(env: &dyn Fn(&str) -> Option<String>, now: UnixTime) -> Map<String, Value> {
    issuer::github_actions_claims(env, now)
}
