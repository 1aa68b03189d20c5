//! The root-chain part of the TUF client workflow (spec 1.0.34 §5.3), run by us before
//! `sigstore-tuf`'s own refresh, for the three steps its `Updater` does not do as the spec says:
//!
//! - §5.3.3: after Y roots the walk goes on to §5.3.10 with what it has (sigstore-tuf 0.15.1
//!   instead fails after 32 steps, with a *transport* error, so a repository more than 32 roots
//!   ahead could never be caught up with). Y is [`MAX_ROOT_STEPS`], the spec's example 2^10.
//! - §5.3.10: an expired newest root is refused here, naming the root and its version.
//! - §5.3.11: when the timestamp or snapshot role's keys (or threshold) differ between the root
//!   the run started from and the newest one, the cached timestamp and snapshot are forgotten
//!   (fast-forward attack recovery). sigstore-tuf only re-verifies them against the new root,
//!   which keeps a fast-forwarded timestamp when only the snapshot keys were rotated.
//!
//! And one check of §5.3.4's threshold rule that sigstore-tuf counts by key ID: a root whose
//! role lists the same key under two key IDs would let one key count twice, so it is refused.
//!
//! The roots fetched here are then served to the `Updater` from memory ([`Walked`]), so the
//! chain is fetched once and the `Updater` walks exactly as far as we did.

use std::collections::{BTreeMap, BTreeSet};

use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::{Error, MetadataStore, Repository, Root, TrustedMetadataSet};

/// §5.3.3's Y: the most roots one refresh walks (the spec's example, 2^10).
pub(super) const MAX_ROOT_STEPS: u64 = 1024;
/// §5.3.3's W, as python-tuf, go-tuf and sigstore-tuf.
pub(super) const MAX_ROOT_BYTES: u64 = 512_000;

/// The outcome of the walk.
pub(super) struct Chain {
    /// The roots fetched, by version, in order.
    pub roots: BTreeMap<u64, Vec<u8>>,
    /// The version of the newest trusted root.
    pub version: u64,
    /// §5.3.11: the timestamp or snapshot keys changed since the run's first root.
    pub online_keys_rotated: bool,
}

/// Walks the root chain from `bootstrap` (and the roots `store` holds, as the `Updater` does),
/// fetching `N+1.root.json` until the repository has none, and checks the newest at `now`.
pub(super) async fn root_chain(
    repo: &dyn Repository,
    bootstrap: &[u8],
    store: Option<&dyn MetadataStore>,
    now: jiff::Timestamp,
) -> sigstore_tuf::Result<Chain> {
    let mut trusted = TrustedMetadataSet::from_root(bootstrap)?;
    // §5.2: the newest root verified before (the cache's chain from the bootstrap root).
    if let Some(store) = store {
        loop {
            let next = trusted.root().version + 1;
            // A cached root that does not verify is skipped, as the `Updater` skips it; a failed
            // `update_root` leaves the trusted root as it was.
            match store.load(&format!("root_history/{next}.root.json")) {
                Ok(Some(bytes)) if trusted.update_root(&bytes).is_ok() => {}
                _ => break,
            }
        }
    }
    one_key_one_vote(trusted.root())?;
    let first = trusted.root().clone();
    let mut roots = BTreeMap::new();
    for _ in 0..MAX_ROOT_STEPS {
        let next = trusted.root().version + 1;
        // §5.3.3: "not found" ends the walk.
        let Some(bytes) = repo.fetch_metadata(&format!("{next}.root.json"), MAX_ROOT_BYTES).await? else { break };
        // §5.3.4 (old and new thresholds), §5.3.5 (exactly N+1).
        if let Err(e) = trusted.update_root(&bytes) {
            let new = sigstore_tuf::Metadata::<Root>::from_slice(&bytes).ok().map(|m| m.into_signed());
            return Err(explain_threshold(e, &[Some(trusted.root()), new.as_ref()]));
        }
        one_key_one_vote(trusted.root())?;
        roots.insert(next, bytes);
    }
    let root = trusted.root();
    // §5.3.10: the newest root must not have expired.
    if root.expires < now {
        return Err(Error::Expired {
            role: format!("root v{} (the newest the repository publishes)", root.version),
            expires: root.expires,
        });
    }
    Ok(Chain {
        version: root.version,
        online_keys_rotated: role_keys(&first, "timestamp") != role_keys(root, "timestamp")
            || role_keys(&first, "snapshot") != role_keys(root, "snapshot"),
        roots,
    })
}

/// A threshold that was not met because the role's keys use a scheme npm-attest cannot check
/// (sigstore-tuf 0.15.1 maps no `rsa-pkcs1v15-*` nor `ecdsa-sha2-nistp521` scheme, which
/// python-tuf signs with; their signatures count for nothing) says so; any other error is
/// returned as it is.
pub(super) fn explain_threshold(e: Error, roots: &[Option<&Root>]) -> Error {
    let Error::ThresholdNotMet { role, found, threshold } = &e else { return e };
    let mut unusable = BTreeSet::new();
    for root in roots.iter().flatten() {
        let Some(keys) = root.role(role) else { continue };
        for id in &keys.keyids {
            let Some(key) = root.keys.get(id) else { continue };
            if !key.signing_scheme().is_ok_and(super::crypto::supports) {
                unusable.insert(format!(
                    "{}… ({}/{})",
                    id.chars().take(12).collect::<String>(),
                    key.keytype,
                    key.scheme
                ));
            }
        }
    }
    if unusable.is_empty() {
        return e;
    }
    Error::Malformed(format!(
        "signature threshold not met for role {role}: {found}/{threshold} valid signatures; npm-attest cannot check \
         signatures by {} (it checks ed25519, ecdsa-sha2-nistp256/384 and rsassa-pss-sha256/384/512 keys)",
        unusable.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// A role's keys (key ID and key) and threshold, for §5.3.11's "have been rotated".
fn role_keys<'a>(root: &'a Root, role: &str) -> Option<(usize, BTreeMap<&'a str, &'a sigstore_tuf::Key>)> {
    let keys = root.role(role)?;
    Some((
        keys.threshold,
        keys.keyids.iter().map(|id| (id.as_str(), root.keys.get(id))).filter_map(|(id, k)| Some((id, k?))).collect(),
    ))
}

/// §5.3.4: "each KEY MUST only contribute one SIGNATURE". sigstore-tuf counts distinct key IDs,
/// so a role listing one key under two IDs is refused rather than let it count twice.
fn one_key_one_vote(root: &Root) -> sigstore_tuf::Result<()> {
    for (name, role) in &root.roles {
        let mut seen = BTreeSet::new();
        for id in role.keyids.iter().collect::<BTreeSet<_>>() {
            let Some(key) = root.keys.get(id) else { continue };
            if !seen.insert((key.keytype.as_str(), key.scheme.as_str(), key.keyval.public.trim())) {
                return Err(Error::Malformed(format!(
                    "root v{} lists one {name} key under two key IDs (one key would count twice toward the threshold)",
                    root.version
                )));
            }
        }
    }
    Ok(())
}

/// The repository as the `Updater` sees it after [`root_chain`]: the roots walked are served
/// from memory, and there is no root past the newest one.
pub(super) struct Walked<R> {
    pub inner: R,
    pub chain: Chain,
}

impl<R: Repository> Repository for Walked<R> {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        if let Some(version) = name.strip_suffix(".root.json").and_then(|v| v.parse::<u64>().ok()) {
            let known = self.chain.roots.get(&version).cloned();
            let past = version > self.chain.version;
            if known.is_some() || past {
                return Box::pin(async move { Ok(known) });
            }
        }
        self.inner.fetch_metadata(name, max_length)
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        self.inner.fetch_target(path, max_length)
    }
}

/// The cache as a repository, for runs without network: what the `Updater` wrote under a plain
/// name (`targets.json`, `registry.npmjs.org.json`) is also what it asks for under the
/// version-prefixed name a consistent-snapshot repository uses (`7.targets.json`). Safe because
/// each file is verified again against the version and hashes its parent pins (§5.6.2-4).
pub(super) struct Cached<R> {
    pub inner: R,
}

impl<R: Repository> Repository for Cached<R> {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(async move {
            if let Some(found) = self.inner.fetch_metadata(name, max_length).await? {
                return Ok(Some(found));
            }
            match name.split_once('.') {
                Some((version, plain))
                    if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) && plain != "root.json" =>
                {
                    self.inner.fetch_metadata(plain, max_length).await
                }
                _ => Ok(None),
            }
        })
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        self.inner.fetch_target(path, max_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_root(bytes: &[u8]) -> Root {
        sigstore_tuf::Metadata::<Root>::from_slice(bytes).unwrap().into_signed()
    }

    #[test]
    fn the_embedded_roots_give_each_key_one_vote() {
        for bytes in [
            &include_bytes!("../roots/public-good-production.root.json")[..],
            &include_bytes!("../roots/public-good-staging.root.json")[..],
            &include_bytes!("../../../tests/data/tuf/github-root.json")[..],
        ] {
            one_key_one_vote(&signed_root(bytes)).unwrap();
        }
    }

    #[test]
    fn a_root_listing_one_key_under_two_key_ids_is_refused() {
        let key = serde_json::json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "ab".repeat(32)}});
        let root: Root = serde_json::from_value(serde_json::json!({
            "_type": "root", "spec_version": "1.0.31", "version": 4, "expires": "2030-01-01T00:00:00Z",
            "consistent_snapshot": true,
            "keys": {"a": key, "b": key},
            "roles": {
                "root": {"keyids": ["a"], "threshold": 1},
                "targets": {"keyids": ["a", "b"], "threshold": 2},
            },
        }))
        .unwrap();
        let err = one_key_one_vote(&root).unwrap_err().to_string();
        assert!(err.contains("root v4 lists one targets key under two key IDs"), "{err}");
        // The same key in two roles is normal (Sigstore's online key signs timestamp and snapshot).
        let root: Root = serde_json::from_value(serde_json::json!({
            "_type": "root", "spec_version": "1.0", "version": 1, "expires": "2030-01-01T00:00:00Z",
            "keys": {"a": key},
            "roles": {"timestamp": {"keyids": ["a"], "threshold": 1}, "snapshot": {"keyids": ["a"], "threshold": 1}},
        }))
        .unwrap();
        one_key_one_vote(&root).unwrap();
    }
}
