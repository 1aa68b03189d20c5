//! Sigstore trust material through TUF, as every Sigstore client gets it: an embedded
//! `root.json` is the first link of the chain; the client walks the root chain online, then
//! timestamp → snapshot → targets, and takes `trusted_root.json`, `signing_config.v0.2.json`
//! and npm's registry keys as verified targets (TUF specification 1.0.34 §5, "Detailed client
//! workflow"; tuf.md in the project's reference notes).
//!
//! The workflow itself (thresholds, rollback floors, freeze checks, fast-forward recovery,
//! hash and length pinning, delegations) is `sigstore-tuf`, sigstore-rust's conformance-tested
//! client: it loads both public-good's and GitHub's roots (tough recomputes key IDs and rejects
//! GitHub's). What lives here is the edge around it: the transport over `crate::http`, the
//! cache directory, when to refresh, and what `--offline` and a network failure do; and the
//! steps where sigstore-tuf 0.15.1 departs from the spec, done here instead: the root walk with
//! its freeze check and fast-forward recovery (`walk.rs`, §5.3.3/§5.3.10/§5.3.11) and a
//! delegated role the snapshot does not list (`search.rs`, §5.6.7).
//!
//! - Online: the cache is used without network while its last refresh is younger than
//!   [`CACHE_MAX_AGE`] and it still verifies (timestamp unexpired); otherwise a full refresh.
//!   A *network* failure then falls back to a cache that still verifies, with a warning; a
//!   verification failure (rollback, freeze, threshold, hash, endless data) never falls back.
//! - `--offline`: the cache, re-verified from the embedded root at the current time; else the
//!   embedded snapshot of the trusted root and signing config (public-good instances only),
//!   saying how old it is.
//! - Cache: `<cache dir>/npm-attest/tuf/<escaped URL>/`, written by atomic renames only
//!   (`sigstore_tuf::FileStore`), so concurrent processes never see a half-written file, and
//!   only after a whole refresh succeeded ([`StagedStore`]); every file read back is
//!   re-verified, so a racing or tampered cache can at worst cost a refetch.

mod crypto;
mod search;
mod transport;
mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sigstore_tuf::{FileStore, StoreRepository, Updater};

use crate::core::wire::trust_root::{SigningConfig, TrustedRoot};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{Http, RetryPolicy};
use crate::report;

pub use crate::core::well_known::{
    PUBLIC_GOOD_TUF as PRODUCTION_URL, STAGING_TUF as STAGING_URL, TUF_SIGNING_CONFIG_TARGET as SIGNING_CONFIG_TARGET,
    TUF_TRUSTED_ROOT_TARGET as TRUSTED_ROOT_TARGET,
};
/// Moves the cache (default: the platform cache directory, or `RUNNER_TEMP` under Actions).
pub const CACHE_DIR_VARIABLE: &str = "NPM_ATTEST_CACHE_DIR";
/// A cache refreshed longer ago than this is refreshed again even if its timestamp is still
/// valid (Sigstore re-signs its timestamp daily; gh uses the same one-day validity).
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Overrides [`CACHE_MAX_AGE`] in whole seconds (0: refresh on every run).
pub const CACHE_MAX_AGE_VARIABLE: &str = "NPM_ATTEST_TUF_CACHE_MAX_AGE";

const PRODUCTION_ROOT: &[u8] = include_bytes!("../roots/public-good-production.root.json");
const STAGING_ROOT: &[u8] = include_bytes!("../roots/public-good-staging.root.json");
/// GitHub's TUF root (version 9), the first link of tuf-repo.github.com's root chain.
const GITHUB_ROOT: &[u8] = include_bytes!("../roots/github.root.json");
const PRODUCTION_TRUSTED_ROOT: &[u8] = include_bytes!("../roots/public-good-production.json");
const STAGING_TRUSTED_ROOT: &[u8] = include_bytes!("../roots/public-good-staging.json");
const PRODUCTION_SIGNING_CONFIG: &[u8] = include_bytes!("../roots/public-good-production.signing_config.json");
const STAGING_SIGNING_CONFIG: &[u8] = include_bytes!("../roots/public-good-staging.signing_config.json");
/// GitHub's trusted root (its TUF target `trusted_root.json`). GitHub's repository serves no
/// signing config: the signer names GitHub's services itself.
const GITHUB_TRUSTED_ROOT: &[u8] = include_bytes!("../roots/github.json");
const SNAPSHOT_DATES: &str = include_str!("../roots/snapshot.json");
const MAX_ROOT_FILE: u64 = 512_000;
/// The file in a cache directory recording the last successful online refresh (Unix seconds).
const LAST_REFRESH: &str = "last-refresh";

/// Where the trust material comes from: `--tuf-url URL --tuf-root root.json`, staging, or the
/// public-good production repository (the default), and whether the network may be used.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TufArgs {
    /// The TUF repository of a private Sigstore deployment (metadata base URL; targets under
    /// `URL/targets`) [default: Sigstore public-good, https://tuf-repo-cdn.sigstore.dev].
    #[arg(long, value_name = "URL", requires = "tuf_root", conflicts_with = "tuf_staging")]
    pub tuf_url: Option<String>,
    /// The initial `root.json` of `--tuf-url` (the first link of its root chain).
    #[arg(long, value_name = "FILE", requires = "tuf_url")]
    pub tuf_root: Option<PathBuf>,
    /// Use Sigstore's staging TUF repository (https://tuf-repo-cdn.sigstage.dev).
    #[arg(long, conflicts_with = "tuf_github")]
    pub tuf_staging: bool,
    /// Use GitHub's own Sigstore instance's TUF repository (https://tuf-repo.github.com), whose
    /// trusted root verifies attestations from private repositories and GitHub's release
    /// attestations (as `gh attestation verify` picks it).
    #[arg(long, conflicts_with = "tuf_url")]
    pub tuf_github: bool,
    /// Make no network request for trust material: use the TUF cache (re-verified), or else the
    /// trusted root embedded in this binary, and say which and how old.
    #[arg(long, env = "NPM_ATTEST_OFFLINE", value_parser = clap::builder::FalseyValueParser::new())]
    pub offline: bool,
}

impl TufArgs {
    pub fn repository(&self) -> anyhow::Result<TufRepository> {
        match (&self.tuf_url, &self.tuf_root) {
            (Some(url), Some(root)) => TufRepository::custom(url, root),
            _ if self.tuf_staging => Ok(TufRepository::staging()),
            _ if self.tuf_github => Ok(TufRepository::github()),
            _ => Ok(TufRepository::production()),
        }
    }
}

/// One TUF repository and the root it is trusted from.
#[derive(Debug, Clone)]
pub struct TufRepository {
    pub url: String,
    root: Vec<u8>,
    embedded: Option<Embedded>,
    /// False for a repository that lives as long as this process (the in-process stand-in):
    /// nothing of it is cached.
    cache: bool,
}

#[derive(Debug, Clone, Copy)]
struct Embedded {
    name: &'static str,
    trusted_root: &'static [u8],
    signing_config: Option<&'static [u8]>,
}

impl TufRepository {
    pub fn production() -> Self {
        Self {
            url: PRODUCTION_URL.into(),
            root: PRODUCTION_ROOT.to_vec(),
            embedded: Some(Embedded {
                name: "production",
                trusted_root: PRODUCTION_TRUSTED_ROOT,
                signing_config: Some(PRODUCTION_SIGNING_CONFIG),
            }),
            cache: true,
        }
    }

    pub fn staging() -> Self {
        Self {
            url: STAGING_URL.into(),
            root: STAGING_ROOT.to_vec(),
            embedded: Some(Embedded {
                name: "staging",
                trusted_root: STAGING_TRUSTED_ROOT,
                signing_config: Some(STAGING_SIGNING_CONFIG),
            }),
            cache: true,
        }
    }

    /// GitHub's Sigstore instance (tuf-repo.github.com), trusted from its embedded root; offline
    /// with no cache, the embedded snapshot of its trusted root (it has no signing config).
    pub fn github() -> Self {
        Self {
            url: crate::core::well_known::GITHUB_TUF.into(),
            root: GITHUB_ROOT.to_vec(),
            embedded: Some(Embedded { name: "github", trusted_root: GITHUB_TRUSTED_ROOT, signing_config: None }),
            cache: true,
        }
    }

    /// A private deployment: its metadata URL and the initial root, read from `root_path`.
    pub fn custom(url: &str, root_path: &Path) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| {
            fail_with_hint(
                ExitKind::BadInput,
                format!("--tuf-url {url} is not a URL: {e}"),
                "pass the TUF repository's metadata base URL, such as https://tuf-repo.example.com",
            )
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(fail(ExitKind::BadInput, format!("--tuf-url {url} must be an http(s) URL")));
        }
        let root = crate::sigstore::trust::read_capped(root_path, MAX_ROOT_FILE, "TUF root")?;
        Self::from_root_bytes(url, root)
    }

    /// A repository trusted from `root` (bytes of a `root.json`), checked to be one now.
    pub fn from_root_bytes(url: &str, root: Vec<u8>) -> anyhow::Result<Self> {
        crypto::install();
        sigstore_tuf::TrustedMetadataSet::from_root(&root).map_err(|e| {
            fail_with_hint(
                ExitKind::BadInput,
                format!("the TUF root for {url} does not load: {}", chain(&e)),
                "pass the repository's root.json (signed by its own root keys), e.g. its 1.root.json or a later N.root.json",
            )
        })?;
        Ok(Self { url: url.trim_end_matches('/').to_owned(), root, embedded: None, cache: true })
    }

    /// A repository of this process's lifetime (the in-process stand-in's): never cached.
    pub fn ephemeral(url: &str, root: Vec<u8>) -> anyhow::Result<Self> {
        Ok(Self { cache: false, ..Self::from_root_bytes(url, root)? })
    }

    /// The version of the root this repository is trusted from (before any update).
    pub fn initial_root_version(&self) -> Option<u64> {
        crypto::install();
        sigstore_tuf::TrustedMetadataSet::from_root(&self.root).ok().map(|t| t.root().version)
    }
}

/// How fresh the trust material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Refreshed from the repository in this run.
    Refreshed,
    /// The verified cache, last refreshed `age` ago (`None`: unknown).
    Cache { age: Option<Duration> },
    /// The snapshot embedded in this binary, taken on `date` (YYYY-MM-DD); not TUF-verified.
    Embedded { date: String },
}

impl Origin {
    /// True when the material went through TUF (this run or a cache it re-verified), so a
    /// bundle that does not verify against it cannot be blamed on a stale root.
    pub fn is_tuf_verified(&self) -> bool {
        !matches!(self, Self::Embedded { .. })
    }
}

/// Targets fetched from one repository, verified against its metadata.
#[derive(Debug)]
pub struct Fetched {
    pub repository: String,
    pub origin: Origin,
    /// Each target asked for that the repository lists, by name.
    pub targets: BTreeMap<String, Vec<u8>>,
    /// The version of the newest trusted root.
    pub root_version: u64,
}

impl Fetched {
    /// "from the TUF repository https://… (root v16, refreshed now)" and the like.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Refreshed => format!("from TUF {} (root v{}, refreshed now)", self.repository, self.root_version),
            Origin::Cache { age } => format!(
                "from the TUF cache of {} (root v{}, last refreshed {})",
                self.repository,
                self.root_version,
                age.map(|a| format!("{} ago", human(a))).unwrap_or_else(|| "at an unknown time".into())
            ),
            Origin::Embedded { date } => format!("embedded in npm-attest ({date}), not checked against TUF"),
        }
    }

    pub fn trusted_root(&self) -> anyhow::Result<TrustedRoot> {
        let bytes = self.targets.get(TRUSTED_ROOT_TARGET).ok_or_else(|| {
            fail(
                ExitKind::Remote,
                format!("the TUF repository {} has no {TRUSTED_ROOT_TARGET} target", self.repository),
            )
        })?;
        serde_json::from_slice(bytes).map_err(|e| {
            fail(ExitKind::Remote, format!("{TRUSTED_ROOT_TARGET} from {} is not a trusted root: {e}", self.repository))
        })
    }

    pub fn signing_config(&self) -> anyhow::Result<Option<SigningConfig>> {
        let Some(bytes) = self.targets.get(SIGNING_CONFIG_TARGET) else { return Ok(None) };
        serde_json::from_slice(bytes).map(Some).map_err(|e| {
            fail(
                ExitKind::Remote,
                format!("{SIGNING_CONFIG_TARGET} from {} is not a signing config: {e}", self.repository),
            )
        })
    }
}

/// The TUF target npm publishes its registry keys under: `<host><path>/keys.json`
/// (`registry.npmjs.org/keys.json` for the public registry), as npm derives it.
pub fn registry_keys_target(registry: &str) -> Option<String> {
    let url = url::Url::parse(registry).ok()?;
    let host = url.host_str()?;
    let path = url.path().trim_end_matches('/');
    Some(format!("{host}{path}/keys.json"))
}

/// The trusted root and signing config of `repository`.
pub async fn trust_material(repository: &TufRepository, offline: bool) -> anyhow::Result<Fetched> {
    let fetched = fetch(repository, offline, &[TRUSTED_ROOT_TARGET, SIGNING_CONFIG_TARGET], now()).await?;
    fetched.trusted_root()?;
    report::debug(&format!("trust material {}", fetched.describe()));
    Ok(fetched)
}

/// Fetches `names` (those the repository lists; the rest are left out) under the rules in the
/// module documentation, at time `now`.
pub async fn fetch(
    repository: &TufRepository,
    offline: bool,
    names: &[&str],
    now: SystemTime,
) -> anyhow::Result<Fetched> {
    crypto::install();
    let t = jiff_time(now);
    let dir = if repository.cache { cache_dir(&repository.url).map(Some) } else { Ok(None) };
    let dir = match dir {
        Ok(dir) => dir,
        Err(e) => {
            report::warn(&format!("no TUF cache: {e:#}"));
            None
        }
    };
    let age = dir.as_deref().and_then(|d| last_refresh_age(d, now));

    if offline {
        let cached = match dir.as_deref() {
            Some(dir) => from_cache(repository, dir, names, t).await,
            None => Err(sigstore_tuf::Error::NotRefreshed),
        };
        return match cached {
            Ok(mut fetched) => {
                fetched.origin = Origin::Cache { age };
                report::info(&format!("--offline: Sigstore trust material {}", fetched.describe()));
                Ok(fetched)
            }
            Err(e) => embedded(repository, names, &e),
        };
    }

    if let (Some(dir), Some(age)) = (dir.as_deref(), age) {
        if age < cache_max_age() {
            if let Ok(mut fetched) = from_cache(repository, dir, names, t).await {
                fetched.origin = Origin::Cache { age: Some(age) };
                return Ok(fetched);
            }
        }
    }

    let http = Http::new(RetryPolicy {
        retries: 2,
        first_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(2),
        deadline: Duration::from_secs(20),
    })?;
    let online = transport::HttpRepository::new(http, &repository.url);
    let staged = dir.as_deref().map(|d| std::sync::Arc::new(StagedStore::new(d)));
    let result = async {
        // §5.3 first, by us (walk.rs says why); the `Updater` then walks the same chain.
        let store = staged.as_deref().map(|s| s as &dyn sigstore_tuf::MetadataStore);
        let chain = walk::root_chain(&online, &repository.root, store, t).await?;
        if let (Some(store), true) = (&staged, chain.online_keys_rotated) {
            // §5.3.11: a fast-forwarded timestamp or snapshot is no floor for the new keys.
            store.forget(&["timestamp.json", "snapshot.json"])?;
        }
        // The walk above bounds the chain; the `Updater` only follows it (its own bound, 32
        // steps, would fail a longer chain with a transport error).
        let mut config = sigstore_tuf::UpdaterConfig::default();
        config.max_root_rotations = u32::try_from(walk::MAX_ROOT_STEPS + 1).unwrap_or(u32::MAX);
        let mut updater = Updater::new(walk::Walked { inner: online, chain }, &repository.root)?.with_config(config);
        if let Some(store) = &staged {
            updater = updater.with_store(store.clone());
        }
        if let Err(e) = updater.refresh(t).await {
            return Err(walk::explain_threshold(e, &[Some(updater.trusted().root())]));
        }
        collect(&mut updater, names, t).await
    }
    .await;
    match result {
        Ok((targets, root_version)) => {
            if let (Some(dir), Some(store)) = (dir.as_deref(), &staged) {
                if let Err(e) = store.commit() {
                    report::warn(&format!("cannot update the TUF cache {}: {}", dir.display(), chain(&e)));
                }
                record_refresh(dir, now);
            }
            Ok(Fetched { repository: repository.url.clone(), origin: Origin::Refreshed, targets, root_version })
        }
        Err(e) if is_network(&e) => {
            let cached = match dir.as_deref() {
                Some(dir) => from_cache(repository, dir, names, t).await.ok(),
                None => None,
            };
            if let Some(mut fetched) = cached {
                fetched.origin = Origin::Cache { age };
                report::warn(&format!(
                    "cannot refresh Sigstore trust material from {}: {}; using the verified cache, last refreshed {}",
                    repository.url,
                    chain(&e),
                    age.map(|a| format!("{} ago", human(a))).unwrap_or_else(|| "at an unknown time".into())
                ));
                return Ok(fetched);
            }
            let held = match (age, repository.embedded) {
                (Some(a), _) => format!("the cache was last refreshed {} ago and no longer verifies", human(a)),
                (None, Some(e)) => format!("no cache; the embedded snapshot is from {}", snapshot_date(e.name)),
                (None, None) => "no cache".to_owned(),
            };
            Err(fail_with_hint(
                ExitKind::Remote,
                format!(
                    "cannot refresh Sigstore trust material from the TUF repository {}: {}",
                    repository.url,
                    chain(&e)
                ),
                format!("{held}; check the network, or pass --offline to use what this machine has"),
            ))
        }
        Err(e) => Err(fail_with_hint(
            ExitKind::VerificationFailed,
            format!("the TUF repository {} failed verification: {}", repository.url, attack(&e)),
            match &e {
                // §5.3.10: nothing verifies until the repository publishes a newer root.
                sigstore_tuf::Error::Expired { role, .. } if role.starts_with("root") => {
                    "nothing from it was used; its operators must publish a newer root (N+1.root.json), or the clock here is wrong"
                }
                _ => "nothing from it was used; if the repository is being repaired, retry later (the cache was left as it was)",
            },
        )),
    }
}

/// The cache as one transaction: what a refresh verifies is held in memory and written (each
/// file by an atomic rename) only once the whole refresh has succeeded. A refused update thus
/// leaves the cache exactly as it was, so its rollback floors survive: were the new timestamp
/// kept after its snapshot was refused, the cached snapshot (pinned by the old timestamp) would
/// no longer load, and the next run would have no snapshot to compare targets versions with
/// (TUF spec §5.5.5). python-tuf keeps that floor by loading the local snapshot unpinned.
struct StagedStore {
    disk: FileStore,
    dir: PathBuf,
    /// What the commit writes; `None` deletes the file (§5.3.11's "delete").
    pending: std::sync::Mutex<BTreeMap<String, Option<Vec<u8>>>>,
}

impl StagedStore {
    fn new(dir: &Path) -> Self {
        Self { disk: FileStore::new(dir), dir: dir.to_owned(), pending: std::sync::Mutex::new(BTreeMap::new()) }
    }

    /// Forgets cached files for this run and, once committed, on disk.
    fn forget(&self, names: &[&str]) -> sigstore_tuf::Result<()> {
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        for name in names {
            pending.insert((*name).to_owned(), None);
        }
        Ok(())
    }

    fn commit(&self) -> sigstore_tuf::Result<()> {
        use sigstore_tuf::MetadataStore as _;
        let pending = std::mem::take(&mut *self.pending.lock().map_err(|_| poisoned())?);
        // Targets first, timestamp last: a reader racing this commit sees the old timestamp
        // with files it may not pin yet, which costs it a refetch, never a wrong answer.
        let (last, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(name, _)| name == "timestamp.json");
        for (name, bytes) in rest.into_iter().chain(last) {
            match bytes {
                Some(bytes) => self.disk.store(&name, &bytes)?,
                None => match std::fs::remove_file(self.dir.join(&name)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(sigstore_tuf::Error::io(format!("removing {name} from the TUF cache"), e))
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

fn poisoned() -> sigstore_tuf::Error {
    sigstore_tuf::Error::transport("the TUF cache state is unavailable")
}

impl sigstore_tuf::MetadataStore for StagedStore {
    fn load(&self, name: &str) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.pending.lock().map_err(|_| poisoned())?.get(name) {
            return Ok(bytes.clone());
        }
        self.disk.load(name)
    }

    fn store(&self, name: &str, bytes: &[u8]) -> sigstore_tuf::Result<()> {
        self.pending.lock().map_err(|_| poisoned())?.insert(name.to_owned(), Some(bytes.to_vec()));
        Ok(())
    }
}

/// A run entirely from the cache: the cached root chain walked from the embedded root, the
/// cached timestamp, snapshot and targets re-verified at `t` (expiry included), and each
/// cached target checked against the length and hashes the verified targets metadata pins.
async fn from_cache(
    repository: &TufRepository,
    dir: &Path,
    names: &[&str],
    t: jiff::Timestamp,
) -> sigstore_tuf::Result<Fetched> {
    if !dir.join("timestamp.json").is_file() {
        return Err(sigstore_tuf::Error::NotRefreshed);
    }
    let cached = walk::Cached { inner: StoreRepository::new(FileStore::new(dir)) };
    let mut updater = Updater::new(cached, &repository.root)?.with_store(FileStore::new(dir));
    updater.refresh(t).await?;
    let (targets, root_version) = collect(&mut updater, names, t).await?;
    Ok(Fetched { repository: repository.url.clone(), origin: Origin::Cache { age: None }, targets, root_version })
}

async fn collect(
    updater: &mut Updater,
    names: &[&str],
    t: jiff::Timestamp,
) -> sigstore_tuf::Result<(BTreeMap<String, Vec<u8>>, u64)> {
    let mut targets = BTreeMap::new();
    for name in names {
        let found = match updater.get_target(name, t).await {
            Ok(bytes) => Some(bytes),
            Err(sigstore_tuf::Error::TargetNotFound(_)) => None,
            Err(e) => return Err(e),
        };
        search::no_unlisted_delegation(updater.trusted(), name)?;
        if let Some(bytes) = found {
            targets.insert((*name).to_owned(), bytes);
        }
    }
    Ok((targets, updater.trusted().root().version))
}

fn embedded(repository: &TufRepository, names: &[&str], cache_error: &sigstore_tuf::Error) -> anyhow::Result<Fetched> {
    let why = match cache_error {
        sigstore_tuf::Error::NotRefreshed => "there is no TUF cache".to_owned(),
        e => format!("the TUF cache does not verify ({})", attack(e)),
    };
    let Some(embedded) = repository.embedded else {
        return Err(fail_with_hint(
            ExitKind::Environment,
            format!("--offline: no trust material for {}: {why}", repository.url),
            "run once without --offline to fill the cache, or pass the trusted root itself with --trusted-root",
        ));
    };
    let date = snapshot_date(embedded.name);
    let mut targets = BTreeMap::new();
    for name in names {
        if *name == TRUSTED_ROOT_TARGET {
            targets.insert((*name).to_owned(), embedded.trusted_root.to_vec());
        } else if let (true, Some(config)) = (*name == SIGNING_CONFIG_TARGET, embedded.signing_config) {
            targets.insert((*name).to_owned(), config.to_vec());
        }
    }
    let fetched = Fetched {
        repository: repository.url.clone(),
        origin: Origin::Embedded { date: date.clone() },
        targets,
        root_version: repository.initial_root_version().unwrap_or_default(),
    };
    // Said, not warned: --offline asked for exactly this (the command's own output says when a
    // bundle does not verify against it).
    report::info(&format!(
        "--offline: {why}; using the {} trusted root embedded in npm-attest, taken from TUF on {date}{}",
        match embedded.name {
            "github" => "GitHub Sigstore instance's".to_owned(),
            name => format!("Sigstore {name}"),
        },
        days_since(&date).map(|d| format!(" ({d} days ago)")).unwrap_or_default()
    ));
    Ok(fetched)
}

/// A failure to reach the repository, as opposed to one of its answers failing verification.
fn is_network(e: &sigstore_tuf::Error) -> bool {
    matches!(e, sigstore_tuf::Error::Transport { .. })
}

/// The error with the attack it stopped named first (TUF spec §1.5.2's names).
fn attack(e: &sigstore_tuf::Error) -> String {
    use sigstore_tuf::Error as E;
    let name = match e {
        E::Rollback { .. } => "rollback attack",
        // §5.5.5: a targets metadata file the trusted snapshot lists must stay listed.
        E::IntegrityMismatch(m) if m.starts_with("snapshot removes") => "rollback attack",
        E::Expired { .. } => "freeze attack",
        E::ThresholdNotMet { .. } | E::DuplicateSignature { .. } => "signature threshold not met",
        E::Malformed(m) if m.starts_with("signature threshold not met") => return m.clone(),
        E::BadRootVersion { .. } => "root version mismatch",
        E::IntegrityMismatch(m) if m.starts_with("endless data") => return m.clone(),
        // A metadata file that is not the one its parent pins: versions of different
        // publishes combined (the timestamp's snapshot hash, the snapshot's targets version).
        E::IntegrityMismatch(m)
            if m.contains("pin") || m.starts_with("snapshot.json:") || m.starts_with("targets.json:") =>
        {
            "mix-and-match attack"
        }
        E::IntegrityMismatch(_) => "hash or length mismatch",
        _ => return chain(e),
    };
    format!("{name}: {}", chain(e))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The update start time (§5.1) in whole seconds, plus one nanosecond: the spec wants every
/// `expires` "higher than the fixed update start time", and sigstore-tuf counts a file as
/// expired only when `expires < now`, so a file expiring at exactly that second would pass.
/// (`expires` is in whole seconds, so `expires < t + 1ns` is `expires <= t`.)
fn jiff_time(now: SystemTime) -> jiff::Timestamp {
    let seconds = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let start =
        jiff::Timestamp::from_second(i64::try_from(seconds).unwrap_or(i64::MAX)).unwrap_or(jiff::Timestamp::MAX);
    start.checked_add(jiff::SignedDuration::from_nanos(1)).unwrap_or(start)
}

fn cache_max_age() -> Duration {
    std::env::var(CACHE_MAX_AGE_VARIABLE)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(CACHE_MAX_AGE)
}

/// `<base>/npm-attest/tuf/<URL with every byte outside [A-Za-z0-9._-] %-escaped>`, where base
/// is `NPM_ATTEST_CACHE_DIR`, else `RUNNER_TEMP` in a GitHub Actions job, else the platform's
/// cache directory (`XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows).
pub fn cache_dir(url: &str) -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = if let Some(dir) = var(CACHE_DIR_VARIABLE) {
        dir
    } else if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") && var("RUNNER_TEMP").is_some() {
        var("RUNNER_TEMP").unwrap_or_default().join("npm-attest")
    } else if cfg!(windows) {
        var("LOCALAPPDATA").ok_or_else(|| no_cache_dir("LOCALAPPDATA"))?.join("npm-attest")
    } else if cfg!(target_os = "macos") {
        var("HOME").ok_or_else(|| no_cache_dir("HOME"))?.join("Library/Caches/npm-attest")
    } else if let Some(xdg) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        xdg.join("npm-attest")
    } else {
        var("HOME").ok_or_else(|| no_cache_dir("HOME"))?.join(".cache/npm-attest")
    };
    let mut escaped = String::new();
    for b in url.trim_end_matches('/').bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => escaped.push(char::from(b)),
            _ => escaped.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(base.join("tuf").join(escaped))
}

fn no_cache_dir(variable: &str) -> anyhow::Error {
    fail_with_hint(
        ExitKind::Environment,
        format!("cannot place the TUF cache: {variable} is not set"),
        format!("set {CACHE_DIR_VARIABLE} to a writable directory"),
    )
}

fn last_refresh_age(dir: &Path, now: SystemTime) -> Option<Duration> {
    let text = std::fs::read_to_string(dir.join(LAST_REFRESH)).ok()?;
    let then = UNIX_EPOCH + Duration::from_secs(text.trim().parse().ok()?);
    // A refresh "in the future" (a clock set back, or a tampered cache) is no reason to skip one.
    now.duration_since(then).ok()
}

fn record_refresh(dir: &Path, now: SystemTime) {
    let seconds = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    if let Err(e) = crate::fsutil::write_atomic(&dir.join(LAST_REFRESH), seconds.to_string().as_bytes()) {
        report::debug(&format!("cannot record the TUF refresh time: {e:#}"));
    }
}

fn snapshot_date(name: &str) -> String {
    serde_json::from_str::<serde_json::Value>(SNAPSHOT_DATES)
        .ok()
        .and_then(|v| v.get(name)?.get("date")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "an unknown date".into())
}

fn days_since(date: &str) -> Option<i64> {
    let then = crate::core::time::parse_rfc3339(&format!("{date}T00:00:00Z")).ok()?;
    let now = crate::clock::since_epoch().as_secs();
    Some((i64::try_from(now).ok()? - then.seconds()) / 86_400)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// The wall clock (`crate::clock`) as the time type the TUF workflow takes.
pub fn now() -> SystemTime {
    UNIX_EPOCH + crate::clock::since_epoch()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_load_including_githubs() {
        // tough cannot load GitHub's root (it recomputes key IDs over tuf-on-ci's extra
        // fields); sigstore-tuf treats declared key IDs as authoritative.
        assert_eq!(TufRepository::production().initial_root_version(), Some(16));
        assert_eq!(TufRepository::staging().initial_root_version(), Some(15));
        let github = include_bytes!("../../../tests/data/tuf/github-root.json").to_vec();
        let repo = TufRepository::from_root_bytes("https://tuf-repo.github.com", github).unwrap();
        assert_eq!(repo.initial_root_version(), Some(9));
        assert_eq!(TufRepository::github().initial_root_version(), Some(9));
        assert_eq!(TufRepository::github().url, "https://tuf-repo.github.com");
    }

    #[test]
    fn a_root_with_a_forged_signature_does_not_load() {
        let mut root: serde_json::Value = serde_json::from_slice(PRODUCTION_ROOT).unwrap();
        root["signed"]["expires"] = "2099-01-01T00:00:00Z".into();
        let bytes = serde_json::to_vec(&root).unwrap();
        let err = TufRepository::from_root_bytes("https://example.test", bytes).unwrap_err();
        assert!(format!("{err:#}").contains("threshold"), "{err:#}");
    }

    #[test]
    fn npm_keys_target_is_named_as_npm_names_it() {
        assert_eq!(
            registry_keys_target("https://registry.npmjs.org/").as_deref(),
            Some("registry.npmjs.org/keys.json")
        );
        assert_eq!(
            registry_keys_target("https://npm.example.com/registry/").as_deref(),
            Some("npm.example.com/registry/keys.json")
        );
    }

    #[test]
    fn metadata_expiring_at_the_start_second_counts_as_expired() {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let t = jiff_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        assert!(at < t, "§5.4.4: expires must be higher than the start time");
        assert!(jiff::Timestamp::from_second(1_800_000_001).unwrap() >= t);
    }

    #[test]
    fn cache_dirs_escape_the_url() {
        let dir = cache_dir("https://tuf-repo-cdn.sigstore.dev/").unwrap_or_default();
        assert!(dir.ends_with("tuf/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"), "{}", dir.display());
    }

    // The stand-in's TUF repository (src/standin/tuf.rs), checked by this client.
    fn times() -> (crate::core::time::UnixTime, jiff::Timestamp) {
        let secs = crate::clock::since_epoch().as_secs() as i64;
        (crate::core::time::UnixTime(secs), jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn the_tuf_client_accepts_the_repository_and_its_root_rotation() {
        // Loading the root installs the crypto provider the metadata set checks signatures with.
        TufRepository::from_root_bytes("http://127.0.0.1:1/tuf", Vec::new()).unwrap_err();
        let (t, jt) = times();
        let mut repo = crate::standin::tuf::Repository::new(&[("trusted_root.json", b"{}".to_vec())], t).unwrap();
        TufRepository::from_root_bytes("http://127.0.0.1:1/tuf", repo.first_root().to_vec()).unwrap();
        repo.set_target("trusted_root.json", b"{\"shard\":2}".to_vec()).unwrap();
        repo.rotate_root().unwrap();
        let mut set = sigstore_tuf::TrustedMetadataSet::from_root(repo.first_root()).unwrap();
        set.update_root(repo.file("2.root.json").unwrap()).unwrap();
        set.update_timestamp(repo.file("timestamp.json").unwrap(), jt).unwrap();
        set.update_snapshot(repo.file("3.snapshot.json").unwrap(), jt).unwrap();
        let targets = set.update_targets(repo.file("3.targets.json").unwrap(), jt).unwrap();
        let target = targets.target("trusted_root.json").unwrap();
        let digest = &target.hashes["sha256"];
        assert_eq!(repo.file(&format!("targets/{digest}.trusted_root.json")).unwrap(), b"{\"shard\":2}");
        // The old timestamp key no longer counts after the rotation.
        let mut stale = sigstore_tuf::TrustedMetadataSet::from_root(repo.first_root()).unwrap();
        assert!(stale.update_timestamp(repo.file("timestamp.json").unwrap(), jt).is_err());
    }
}
