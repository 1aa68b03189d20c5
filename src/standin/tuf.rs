//! The stand-in's TUF repository: real TUF metadata (TUF specification 1.0.34 §4: root,
//! timestamp, snapshot, targets; signatures over OLPC canonical JSON with Ed25519 keys) whose
//! targets are the stand-in's `trusted_root.json` and `signing_config.v0.2.json`, served under
//! `/tuf/` with consistent snapshots (`N.root.json`, `V.snapshot.json`, `V.targets.json`,
//! `targets/<sha256>.<name>`). A dry run takes its trust material through the same TUF client
//! as production, and tests can publish new targets (a new log shard) or rotate the root.
//!
//! Keys are generated at start and live only in memory.

use std::collections::BTreeMap;

use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::core::time::UnixTime;

const SPEC_VERSION: &str = "1.0.31";
const DAY: i64 = 24 * 60 * 60;
const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

struct Key {
    signing: ed25519_dalek::SigningKey,
    id: String,
    public: Value,
}

impl Key {
    fn generate() -> anyhow::Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut_slice())
            .map_err(|e| anyhow::anyhow!("the system random source failed: {e}"))?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = json!({
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": hex::encode(signing.verifying_key().to_bytes())},
        });
        // §4.2: a KEYID is the SHA-256 of the canonical JSON of the key object.
        let id = hex::encode(Sha256::digest(canonical(&public)?));
        Ok(Self { signing, id, public })
    }
}

fn canonical(value: &Value) -> anyhow::Result<Vec<u8>> {
    sigstore_tuf::canonical_json::to_canonical_bytes(value).map_err(|e| anyhow::anyhow!("canonical JSON: {e}"))
}

/// A TUF repository held in memory, as the files a static server would hold.
pub struct Repository {
    /// The current key of each top-level role.
    keys: BTreeMap<&'static str, Key>,
    root_version: u64,
    targets_version: u64,
    snapshot_version: u64,
    timestamp_version: u64,
    targets: BTreeMap<String, Vec<u8>>,
    first_root: Vec<u8>,
    /// Path under `/tuf/` → bytes.
    files: BTreeMap<String, Vec<u8>>,
    now: UnixTime,
}

impl Repository {
    /// A repository at root v1 listing `targets`, with metadata valid from `now`.
    pub fn new(targets: &[(&str, Vec<u8>)], now: UnixTime) -> anyhow::Result<Self> {
        let mut keys = BTreeMap::new();
        for role in ROLES {
            keys.insert(role, Key::generate()?);
        }
        let mut repo = Self {
            keys,
            root_version: 0,
            targets_version: 0,
            snapshot_version: 0,
            timestamp_version: 0,
            targets: targets.iter().map(|(n, b)| ((*n).to_owned(), b.clone())).collect(),
            first_root: Vec::new(),
            files: BTreeMap::new(),
            now,
        };
        let old: Vec<&Key> = Vec::new();
        let root = repo.write_root(&old)?;
        repo.first_root = root;
        repo.publish()?;
        Ok(repo)
    }

    /// `1.root.json`: the root clients are bootstrapped with.
    pub fn first_root(&self) -> &[u8] {
        &self.first_root
    }

    /// The file served at `/tuf/<path>`.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Adds or replaces a target, then publishes new targets, snapshot and timestamp.
    pub fn set_target(&mut self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.targets.insert(name.to_owned(), bytes);
        self.publish()
    }

    /// Root rotation (§5.3): a new root key and a new timestamp key; `N+1.root.json` is signed
    /// by the old and the new root keys, and everything below is re-signed.
    pub fn rotate_root(&mut self) -> anyhow::Result<()> {
        let old_root = self.keys.insert("root", Key::generate()?);
        self.keys.insert("timestamp", Key::generate()?);
        let old: Vec<&Key> = old_root.iter().collect();
        let bytes = Self::root_bytes(&self.keys, self.root_version + 1, self.now, &old)?;
        self.root_version += 1;
        self.files.insert(format!("{}.root.json", self.root_version), bytes);
        self.publish()
    }

    fn write_root(&mut self, old: &[&Key]) -> anyhow::Result<Vec<u8>> {
        self.root_version += 1;
        let bytes = Self::root_bytes(&self.keys, self.root_version, self.now, old)?;
        self.files.insert(format!("{}.root.json", self.root_version), bytes.clone());
        Ok(bytes)
    }

    fn root_bytes(
        keys: &BTreeMap<&'static str, Key>,
        version: u64,
        now: UnixTime,
        old: &[&Key],
    ) -> anyhow::Result<Vec<u8>> {
        let mut key_map = serde_json::Map::new();
        let mut roles = serde_json::Map::new();
        for (role, key) in keys {
            key_map.insert(key.id.clone(), key.public.clone());
            roles.insert((*role).to_owned(), json!({"keyids": [key.id], "threshold": 1}));
        }
        let signed = json!({
            "_type": "root",
            "spec_version": SPEC_VERSION,
            "version": version,
            "expires": UnixTime(now.seconds() + 365 * DAY).to_rfc3339(),
            "consistent_snapshot": true,
            "keys": key_map,
            "roles": roles,
        });
        let mut signers: Vec<&Key> = old.to_vec();
        if let Some(root) = keys.get("root") {
            signers.push(root);
        }
        envelope(signed, &signers)
    }

    /// New targets, snapshot and timestamp versions over the current targets.
    fn publish(&mut self) -> anyhow::Result<()> {
        self.targets_version += 1;
        self.snapshot_version += 1;
        self.timestamp_version += 1;
        let mut listed = serde_json::Map::new();
        for (name, bytes) in &self.targets {
            let digest = hex::encode(Sha256::digest(bytes));
            listed.insert(name.clone(), json!({"length": bytes.len(), "hashes": {"sha256": digest}}));
            self.files.insert(format!("targets/{digest}.{name}"), bytes.clone());
        }
        let expires = |days: i64| UnixTime(self.now.seconds() + days * DAY).to_rfc3339();
        let targets = json!({
            "_type": "targets", "spec_version": SPEC_VERSION, "version": self.targets_version,
            "expires": expires(90), "targets": listed,
        });
        let targets = envelope(targets, &[self.key("targets")?])?;
        let snapshot = json!({
            "_type": "snapshot", "spec_version": SPEC_VERSION, "version": self.snapshot_version,
            "expires": expires(90),
            "meta": {"targets.json": {"version": self.targets_version}},
        });
        let snapshot = envelope(snapshot, &[self.key("snapshot")?])?;
        // §5.5.2: the timestamp pins the snapshot's hash and length (mix-and-match defence).
        let timestamp = json!({
            "_type": "timestamp", "spec_version": SPEC_VERSION, "version": self.timestamp_version,
            "expires": expires(1),
            "meta": {"snapshot.json": {
                "version": self.snapshot_version,
                "length": snapshot.len(),
                "hashes": {"sha256": hex::encode(Sha256::digest(&snapshot))},
            }},
        });
        let timestamp = envelope(timestamp, &[self.key("timestamp")?])?;
        self.files.insert(format!("{}.targets.json", self.targets_version), targets);
        self.files.insert(format!("{}.snapshot.json", self.snapshot_version), snapshot);
        self.files.insert("timestamp.json".into(), timestamp);
        Ok(())
    }

    fn key(&self, role: &str) -> anyhow::Result<&Key> {
        self.keys.get(role).ok_or_else(|| anyhow::anyhow!("no {role} key"))
    }
}

/// `{"signatures": [...], "signed": ...}`, each signature over the canonical JSON of `signed`.
fn envelope(signed: Value, signers: &[&Key]) -> anyhow::Result<Vec<u8>> {
    let message = canonical(&signed)?;
    let signatures: Vec<Value> = signers
        .iter()
        .map(|k| json!({"keyid": k.id, "sig": hex::encode(k.signing.sign(&message).to_bytes())}))
        .collect();
    serde_json::to_vec_pretty(&json!({"signatures": signatures, "signed": signed}))
        .map_err(|e| anyhow::anyhow!("cannot encode TUF metadata: {e}"))
}
