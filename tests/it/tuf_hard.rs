//! The TUF client against the cases of the specification's client workflow (1.0.34 §5) that
//! tests/it/tuf.rs does not reach, each on a repository built by python-tuf
//! (tests/interop/tuf-repo.py) and served from 127.0.0.1, and each asserting what python-tuf's
//! own client (ngclient, the reference implementation) decides on the same bytes. One
//! repository serves many cases where the client's cache stays as it was (a refused update
//! commits nothing), to keep the suite short.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::Digest as _;

use crate::interop::{interop_dir, venv_python};
use crate::support::{repo_root, run_in, stderr};
use crate::tuf::{copy_dir, ok, production, staging, Fixture};

fn steps(f: &Fixture) -> BTreeMap<String, u32> {
    serde_json::from_slice(&std::fs::read(f.dir.path().join("repo/steps.json")).unwrap()).unwrap()
}

/// `trust-root` against the repository as served now, with the cache `cache`.
fn trust_root_in(f: &Fixture, cache: &Path, extra: &[&str]) -> Output {
    let out = f.dir.path().join("trusted_root.out.json");
    let mut args = vec!["trust-root", "--out", out.to_str().unwrap()];
    args.extend(extra);
    f.run(&args, cache)
}

fn refused(out: &Output, case: &str, says: &str) {
    assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(out));
    assert!(stderr(out).contains(says), "{case}: expected {says:?} in {}", stderr(out));
}

/// python-tuf's decision on the repository as served now, its metadata carried in `work`:
/// `Ok(["TARGET sha256" | "TARGET none", ...])` or `Err("ERROR Class: message")`.
fn python(f: &Fixture, work: &Path, targets: &[&str]) -> Result<Vec<String>, String> {
    let out = std::process::Command::new(venv_python())
        .arg(repo_root().join("tests/interop/tuf-repo.py"))
        .args(["decide", &f.server.url, f.root().to_str().unwrap(), work.to_str().unwrap()])
        .args(targets)
        .env("NPM_ATTEST_INTEROP", interop_dir())
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    if out.status.success() {
        Ok(lines)
    } else {
        Err(lines.last().cloned().unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

fn python_refuses(f: &Fixture, work: &Path, case: &str, class: &str) {
    match python(f, work, &["trusted_root.json"]) {
        Err(e) => assert!(e.contains(class), "{case}: python-tuf refused with {e}, expected {class}"),
        Ok(lines) => panic!("{case}: python-tuf accepted: {lines:?}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn python_accepts(f: &Fixture, work: &Path, case: &str, expected: &Path) {
    let lines = python(f, work, &["trusted_root.json"]).unwrap_or_else(|e| panic!("{case}: python-tuf: {e}"));
    let want = format!("trusted_root.json {}", sha256_hex(&std::fs::read(expected).unwrap()));
    assert_eq!(lines, vec![want], "{case}");
}

/// The one repository's directory in a TUF cache (`<cache>/tuf/<escaped URL>/`).
fn repo_dir(cache: &Path) -> PathBuf {
    let tuf = cache.join("tuf");
    tuf.join(std::fs::read_dir(&tuf).unwrap().next().unwrap().unwrap().file_name())
}

/// A copy of `from` in a new temporary directory.
fn copied(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    copy_dir(from, to.path());
    to
}

#[test]
fn attacks_on_timestamp_snapshot_targets_and_root_are_refused_by_name_as_python_tuf_refuses_them() {
    let f = Fixture::build("attacks", &[&production(), &staging()]);
    ok(&f.trust_root());
    let work0 = tempfile::tempdir().unwrap();
    python_accepts(&f, work0.path(), "step0", &production());
    let steps = steps(&f);
    // (case, what our error names, the exception python-tuf 7.0.1 raises): spec 1.0.34 section.
    let cases = [
        // §5.5.5: every targets metadata file the trusted snapshot lists must stay listed.
        ("snapshot_drops_targets_json", "rollback attack", "RepositoryError"),
        // §5.6.4: the targets version must equal the snapshot's pin.
        ("targets_version_below_the_snapshot_pin", "does not match snapshot pin", "BadVersionNumberError"),
        // §5.6.2: hashes and length the snapshot lists for targets.json.
        ("snapshot_meta_wrong_hash", "targets.json: sha256 mismatch", "LengthOrHashMismatchError"),
        ("snapshot_meta_wrong_length", "targets.json: length", "LengthOrHashMismatchError"),
        // §5.5.2: the snapshot length the timestamp lists.
        ("timestamp_meta_wrong_snapshot_length", "snapshot.json: length", "LengthOrHashMismatchError"),
        // Metadata of another major spec version is refused (python-tuf: at parsing).
        ("timestamp_spec_version_2", "unsupported TUF spec_version \"2.0.0\"", "DeserializationError"),
        // §5.4.2: one key signing twice counts at most once; both clients refuse the file.
        ("timestamp_signed_twice_by_one_key", "duplicate signature key id", "DeserializationError"),
        // §5.4.3.2: the snapshot version a timestamp names never goes down.
        ("snapshot_version_rollback_via_timestamp", "rollback attack", "BadVersionNumberError"),
        // §5.3.3, §5.4.1, §5.5.1, §5.6.1: every download is capped (docs/operations.md).
        (
            "endless_data_timestamp",
            "endless data: timestamp.json is longer than its limit of 16384 bytes",
            "DownloadLengthMismatchError",
        ),
        (
            "endless_data_snapshot",
            "endless data: 3.snapshot.json is longer than its limit of 2000000 bytes",
            "DownloadLengthMismatchError",
        ),
        (
            "endless_data_targets",
            "endless data: 3.targets.json is longer than its limit of 5000000 bytes",
            "DownloadLengthMismatchError",
        ),
        (
            "endless_data_root",
            "endless data: 2.root.json is longer than its limit of 512000 bytes",
            "DownloadLengthMismatchError",
        ),
        // §5.3.10: the newest root must not have expired.
        (
            "freeze_newest_root_expired",
            "freeze attack: root v2 (the newest the repository publishes) metadata expired",
            "ExpiredMetadataError",
        ),
        // §5.5.6, §5.6.5.
        ("freeze_expired_snapshot", "freeze attack: snapshot metadata expired", "ExpiredMetadataError"),
        ("freeze_expired_targets", "freeze attack: targets metadata expired", "ExpiredMetadataError"),
        // §5.3.5: exactly N+1.
        (
            "root_version_skip",
            "root version mismatch: root version must increment by one: trusted 1, got 3",
            "BadVersionNumberError",
        ),
        // §5.4.3.1.
        (
            "timestamp_version_rollback",
            "rollback attack: rollback detected for timestamp: trusted version 2 > new version 1",
            "BadVersionNumberError",
        ),
        // §5.5.3, §5.4.2: the right threshold of the right role's keys.
        (
            "snapshot_signed_by_the_timestamp_key",
            "signature threshold not met for role snapshot: 0/1",
            "UnsignedMetadataError",
        ),
        (
            "timestamp_signed_by_the_snapshot_key",
            "signature threshold not met for role timestamp: 0/1",
            "UnsignedMetadataError",
        ),
    ];
    assert_eq!(steps.len(), cases.len());
    for (case, says, class) in cases {
        f.step(steps[case]);
        let out = f.trust_root();
        refused(&out, case, says);
        // Nothing of it was used or kept: the output is still the first state's.
        assert_eq!(f.fetched(), std::fs::read(production()).unwrap(), "{case}");
        let work = copied(work0.path());
        python_refuses(&f, work.path(), case, class);
    }
    let out = f.run(&["trust-root", "--offline"], f.cache.path());
    ok(&out);
    assert!(stderr(&out).contains("root v1"), "{}", stderr(&out));
    // The expired newest root says what to do about it.
    f.step(steps["freeze_newest_root_expired"]);
    let out = f.trust_root();
    assert!(stderr(&out).contains("must publish a newer root"), "{}", stderr(&out));
}

#[test]
fn fast_forward_attack_recovery_discards_the_old_timestamp_and_snapshot_after_key_rotation() {
    let f = Fixture::build("fast_forward", &[&production(), &staging()]);
    let steps = steps(&f);
    ok(&f.trust_root());
    let work = tempfile::tempdir().unwrap();
    python_accepts(&f, work.path(), "step0", &production());
    // An attacker holding the online keys publishes timestamp and snapshot v1000: nothing tells
    // a client, which now holds v1000 as its rollback floor.
    f.step(steps["attacker_publishes_v1000"]);
    ok(&f.trust_root());
    python_accepts(&f, work.path(), "attack", &production());
    let attacked = copied(f.cache.path());
    let attacked_python = copied(work.path());

    // The repository goes back to v3 without rotating keys: still a rollback (§5.4.3).
    f.step(steps["recovery_without_key_rotation"]);
    refused(&f.trust_root(), "no rotation", "rollback attack");
    python_refuses(&f, copied(work.path()).path(), "no rotation", "BadVersionNumberError");

    // Root v2 rotates the timestamp and snapshot keys and makes each role 2-of-2 (and the root
    // role 2-of-2, signed by the old key and both new ones): the v1000 files no longer bind
    // (§5.3.11), the new 2-of-2 signed ones are taken.
    f.step(steps["recovery_rotating_timestamp_and_snapshot_keys"]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v2"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, copied(work.path()).path(), "rotation", &staging());

    // Root v2 rotates the snapshot key only. §5.3.11: "if the timestamp and / or snapshot keys
    // have been rotated, then delete the trusted timestamp and snapshot metadata files", so the
    // v1000 timestamp goes too and the recovery is taken. python-tuf 7.0.1 keeps a cached
    // timestamp that still verifies under the new root, and refuses: we follow the spec here.
    f.step(steps["recovery_rotating_the_snapshot_key_only"]);
    let out = trust_root_in(&f, attacked.path(), &[]);
    ok(&out);
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    assert!(!std::fs::read_to_string(repo_dir(attacked.path()).join("timestamp.json"))
        .unwrap()
        .contains("\"version\": 1000"));
    python_refuses(&f, attacked_python.path(), "snapshot key only", "BadVersionNumberError");

    // Targets fast-forward (targets v99), then the snapshot key rotated and targets back to v3:
    // the old snapshot, which held the targets floor, goes (tuf-conformance's targets recovery).
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    for step in [0, steps["targets_fast_forwarded"]] {
        f.step(step);
        ok(&trust_root_in(&f, cache.path(), &[]));
        python_accepts(&f, work.path(), "targets v99", &production());
    }
    f.step(steps["targets_recovery_rotating_the_snapshot_key"]);
    ok(&trust_root_in(&f, cache.path(), &[]));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, work.path(), "targets recovery", &staging());
}

#[test]
fn ed25519_rsa_pss_and_p384_keys_verify_and_unsupported_schemes_fail_closed_by_name() {
    let f = Fixture::build("key_types", &[&production(), &staging()]);
    let steps = steps(&f);
    ok(&f.trust_root());
    let work = tempfile::tempdir().unwrap();
    python_accepts(&f, work.path(), "step0", &production());
    f.step(steps["rotation_within_the_key_types"]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v2"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, work.path(), "rotation", &staging());
    // RSA PKCS#1 v1.5 keys: python-tuf checks them; sigstore-tuf 0.15.1 has no mapping for the
    // scheme, so their signatures count for nothing. Refused, naming the key and the scheme.
    f.step(steps["timestamp_key_rsa_pkcs1v15"]);
    let out = f.trust_root();
    refused(
        &out,
        "pkcs1v15",
        "signature threshold not met for role timestamp: 0/1 valid signatures; npm-attest cannot check signatures by",
    );
    refused(&out, "pkcs1v15", "(rsa/rsa-pkcs1v15-sha256)");
    python_accepts(&f, work.path(), "pkcs1v15", &production());
}

#[test]
fn unknown_fields_foreign_signatures_and_unknown_key_types_are_tolerated() {
    let f = Fixture::build("tolerated", &[&production(), &staging()]);
    let steps = steps(&f);
    ok(&f.trust_root());
    let work = tempfile::tempdir().unwrap();
    python_accepts(&f, work.path(), "step0", &production());
    // Unknown fields in every role, key and role entry (signed over, as §4 allows), and the
    // timestamp also signed by the snapshot key and by a key the root does not list: the extra
    // signatures are ignored, the threshold is met by the timestamp key.
    f.step(steps["unknown_fields_and_foreign_signatures"]);
    let out = f.trust_root();
    ok(&out);
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, work.path(), "unknown fields", &staging());
    // A key of an unknown type and scheme in the timestamp role, with a "signature": it can
    // verify nothing, so it counts for nothing; the threshold is still met by the real key.
    // python-tuf 7.0.1 refuses the whole root (securesystemslib cannot deserialize the key).
    f.step(steps["unknown_key_type"]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v3"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(production()).unwrap());
    python_refuses(&f, work.path(), "unknown key type", "DeserializationError");
    // Forty new roots in one refresh: the walk goes on (§5.3.3 bounds it at 2^10 here).
    f.step(steps["forty_new_roots"]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v43"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
}

#[test]
fn an_expired_trusted_root_is_walked_past_to_the_repositorys_current_one() {
    // §5.2: the expiry of the root we start from does not matter; §5.3.6 nor that of any
    // intermediate root; only the newest (§5.3.10).
    let f = Fixture::build("expired_local_root", &[&production(), &staging()]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v2"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(production()).unwrap());
    let work = tempfile::tempdir().unwrap();
    python_accepts(&f, work.path(), "expired local root", &production());
    // Offline, the cache walks from the expired root to v2 too.
    ok(&f.run(&["trust-root", "--offline"], f.cache.path()));
    // An expired intermediate root (v3) on the way to v4.
    f.step(steps(&f)["expired_intermediate_root"]);
    let out = f.trust_root();
    ok(&out);
    assert!(stderr(&out).contains("root v4"), "{}", stderr(&out));
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, work.path(), "expired intermediate root", &staging());
}

#[test]
fn a_repository_without_consistent_snapshots_updates_and_works_offline() {
    let f = Fixture::build("not_consistent", &[&production(), &staging()]);
    ok(&f.trust_root());
    let work = tempfile::tempdir().unwrap();
    python_accepts(&f, work.path(), "step0", &production());
    f.step(steps(&f)["normal_update"]);
    ok(&f.trust_root());
    assert_eq!(f.fetched(), std::fs::read(staging()).unwrap());
    python_accepts(&f, work.path(), "update", &staging());
    f.server.go_down();
    let out = f.run(&["trust-root", "--offline"], f.cache.path());
    ok(&out);
    assert!(stderr(&out).contains("from the TUF cache"), "{}", stderr(&out));
}

#[test]
fn delegated_targets_are_searched_as_the_spec_says_online_and_offline() {
    let f = Fixture::build("delegated", &[&production()]);
    let keys = f.dir.path().join("keys.json");
    let fetch = |target: &str, cache: &Path, offline: bool| {
        let mut args = vec!["--target", target, "--target-out", keys.to_str().unwrap()];
        if offline {
            args.push("--offline");
        }
        trust_root_in(&f, cache, &args)
    };
    let targets = ["registry.npmjs.org/keys.json", "registry.npmjs.org/extra.json", "elsewhere/keys.json"];
    // §5.6.7: pre-order, depth first; the terminating delegation `registry.npmjs.org` (paths
    // registry.npmjs.org/*) lists keys.json and comes before `decoy`, which lists other bytes
    // under the same name.
    ok(&fetch(targets[0], f.cache.path(), false));
    let ours = std::fs::read(&keys).unwrap();
    assert!(String::from_utf8_lossy(&ours).contains("SHA256:npm"), "{}", String::from_utf8_lossy(&ours));
    // extra.json is listed only by `decoy`, after a terminating delegation that matched: the
    // search stopped there. elsewhere/keys.json is listed by a role whose paths do not cover it.
    for target in &targets[1..] {
        let out = fetch(target, f.cache.path(), false);
        assert_eq!(out.status.code(), Some(4), "{target}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("lists no target {target}")), "{}", stderr(&out));
    }
    let work = tempfile::tempdir().unwrap();
    let decided = python(&f, work.path(), &targets).unwrap();
    assert_eq!(
        decided,
        vec![
            format!("{} {}", targets[0], sha256_hex(&ours)),
            format!("{} none", targets[1]),
            format!("{} none", targets[2]),
        ]
    );
    // Offline, the delegated role comes from the cache, verified again.
    std::fs::remove_file(&keys).unwrap();
    ok(&fetch(targets[0], f.cache.path(), true));
    assert_eq!(std::fs::read(&keys).unwrap(), ours);
    // The delegated role signed by a key its delegation does not name.
    f.step(steps(&f)["delegated_role_signed_by_another_key"]);
    refused(&fetch(targets[0], f.cache.path(), false), "wrong delegated key", "signature threshold not met");
    match python(&f, copied(work.path()).path(), &targets[..1]) {
        Err(e) => assert!(e.contains("UnsignedMetadataError"), "{e}"),
        Ok(lines) => panic!("python-tuf accepted: {lines:?}"),
    }
    // A role delegated for the path that the snapshot does not list ends the search with an
    // error (§5.6.7: metadata that cannot be downloaded nor validated), for a new client.
    f.step(steps(&f)["delegated_role_missing_from_the_snapshot"]);
    let fresh = tempfile::tempdir().unwrap();
    let out = fetch(targets[0], fresh.path(), false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the targets role \"registry.npmjs.org\" is delegated for registry.npmjs.org/keys.json but the snapshot does not list it"),
        "{}",
        stderr(&out)
    );
    match python(&f, tempfile::tempdir().unwrap().path(), &targets[..1]) {
        Err(e) => assert!(e.contains("is not part of snapshot"), "{e}"),
        Ok(lines) => panic!("python-tuf accepted: {lines:?}"),
    }
    // A client that has seen the role listed refuses the new snapshot itself (§5.5.5).
    refused(&fetch(targets[0], f.cache.path(), false), "role dropped", "rollback attack");
}

/// Changes a signed field of a metadata file (the year of `expires`), or a target's bytes.
fn tamper(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let tampered = if text.contains("\"expires\": \"2") {
        text.replacen("\"expires\": \"2", "\"expires\": \"3", 1).into_bytes()
    } else {
        [bytes.as_slice(), b" "].concat()
    };
    std::fs::write(path, tampered).unwrap();
}

#[test]
fn a_tampered_cache_is_never_trusted_online_it_is_repaired_offline_it_fails_closed() {
    let f = Fixture::build("root_rotation_1_to_3", &[&production(), &staging()]);
    ok(&f.trust_root());
    f.step(1);
    ok(&f.trust_root());
    let good = f.cache.path();
    let dir = repo_dir(good).strip_prefix(good).unwrap().to_owned();
    let files =
        ["root_history/3.root.json", "timestamp.json", "snapshot.json", "targets.json", "targets/trusted_root.json"];
    for file in files {
        let cache = copied(good);
        let path: PathBuf = cache.path().join(&dir).join(file);
        assert!(path.is_file(), "the cache holds {file}");
        tamper(&path);
        // The snapshot is also kept under its version-prefixed name (what a consistent-snapshot
        // repository serves it as); an intact copy there would rightly be used instead.
        if file == "snapshot.json" {
            for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".snapshot.json") {
                    tamper(&path.with_file_name(name));
                }
            }
        }
        // Offline: the tampered file does not verify, and a private repository has no embedded
        // snapshot, so there is no trust material at all (exit 3).
        let out = f.run(&["trust-root", "--offline"], cache.path());
        assert_eq!(out.status.code(), Some(3), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains("the TUF cache does not verify"), "{file}: {}", stderr(&out));
        // Online: refreshed from the repository, and the cache repaired.
        let out = trust_root_in(&f, cache.path(), &[]);
        ok(&out);
        assert!(stderr(&out).contains("root v3, refreshed now"), "{file}: {}", stderr(&out));
        assert_eq!(f.fetched(), std::fs::read(staging()).unwrap(), "{file}");
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(good.join(&dir).join(file)).unwrap(), "{file}");
    }
    // A last refresh recorded in the future (a tampered cache, or a clock set back) is no
    // reason to skip the refresh.
    let cache = copied(good);
    std::fs::write(cache.path().join(&dir).join("last-refresh"), "99999999999").unwrap();
    let root = f.root();
    let out = run_in(
        f.dir.path(),
        &["trust-root", "--tuf-url", &f.server.url, "--tuf-root", root.to_str().unwrap()],
        &[("NPM_ATTEST_OFFLINE", "0"), ("NPM_ATTEST_CACHE_DIR", cache.path().to_str().unwrap())],
    );
    ok(&out);
    assert!(stderr(&out).contains("refreshed now"), "{}", stderr(&out));
}
