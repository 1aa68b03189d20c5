"""TUF repositories for npm-attest's TUF client tests, built with python-tuf (the reference
implementation, pinned in requirements.txt), after the recipe of the TUF conformance suite.

    tuf-repo.py build SCENARIO OUT TRUSTED_ROOT_0 [TRUSTED_ROOT_1]
        Writes OUT/root.json (the root a client starts from) and OUT/step0/, OUT/step1/, ...:
        each step a complete static repository (consistent snapshots) as a server would hold it
        after a publish. A test serves step0, lets the client refresh (caching the rollback
        floors), then serves step1 and checks what the client does.
    tuf-repo.py client URL ROOT TARGET OUT
        python-tuf's own client (ngclient) fetches TARGET from URL, bootstrapped with ROOT.
    tuf-repo.py decide URL ROOT WORKDIR TARGET...
        python-tuf's decision on the repository served at URL, its metadata kept in WORKDIR
        between calls: "TARGET sha256" or "TARGET none" per target, or "ERROR Class: message"
        and exit 1 (tests/it/tuf_hard.rs compares it with ours).

Scenarios (step1 unless said): normal_update, root_rotation_1_to_3 (3.root.json also swaps the
timestamp key: fast-forward recovery), root_below_threshold (2.root.json signed by the new key
only), targets_below_threshold, freeze_expired_timestamp, rollback_snapshot_via_timestamp,
rollback_targets_via_snapshot, mix_and_match_snapshot (the timestamp pins a snapshot whose
bytes differ from the one served), target_hash_mismatch and endless_data_target (step0 itself:
the target file at its hashed URL replaced by other bytes of the same length, or by 2 MB).

Multi-step scenarios (OUT/steps.json names each step; see build_more): attacks (one attack per
step, each forked from step0), tolerated, fast_forward, delegated, expired_local_root,
not_consistent.
"""

import copy
import hashlib
import json
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def expires(days):
    return NOW + timedelta(days=days)


def hashed_path(name, data):
    """Where a consistent-snapshot repository serves target NAME: the hash prefixes the file
    name, not the directory (TUF spec 5.7.3)."""
    digest = hashlib.sha256(data).hexdigest()
    head, _, base = name.rpartition("/")
    return f"targets/{head + '/' if head else ''}{digest}.{base}"


class Repo:
    def __init__(self, out, consistent=True, root_expires=365, keys=None):
        self.out = out
        self.consistent = consistent
        # role -> function making a new signer (ECDSA P-256 unless KEYS says otherwise)
        self.keys = {r: CryptoSigner.generate_ecdsa for r in ("root", "targets", "snapshot", "timestamp")}
        self.keys.update(keys or {})
        self.signers = {r: [make()] for r, make in self.keys.items()}
        root = Root(expires=expires(root_expires), consistent_snapshot=consistent)
        for role, signers in self.signers.items():
            for s in signers:
                root.add_key(s.public_key, role)
        self.root = Metadata(root)
        self.roots = []  # bytes of each root version, in order
        self.targets = Metadata(Targets(expires=expires(90)))
        self.snapshot = Metadata(Snapshot(expires=expires(90)))
        self.timestamp = Metadata(Timestamp(expires=expires(1)))
        self.delegated = {}  # role name -> (Metadata[Targets], signers)
        self.files = {}  # path -> bytes, the repository as served
        self.sign_root([s for s in self.signers["root"]])

    def fork(self):
        """An independent copy (same keys) to build one attack step from."""
        other = copy.copy(self)
        other.signers = {r: list(s) for r, s in self.signers.items()}
        other.keys = dict(self.keys)
        for name in ("root", "targets", "snapshot", "timestamp"):
            setattr(other, name, copy.deepcopy(getattr(self, name)))
        other.delegated = {n: (copy.deepcopy(md), list(s)) for n, (md, s) in self.delegated.items()}
        other.files = dict(self.files)
        other.roots = list(self.roots)
        return other

    def sign(self, md, signers):
        md.signatures.clear()
        for s in signers:
            md.sign(s, append=True)
        return md.to_bytes(JSONSerializer(compact=False))

    def sign_root(self, signers):
        data = self.sign(self.root, signers)
        self.files[f"{self.root.signed.version}.root.json"] = data
        self.roots.append(data)

    def meta_name(self, role, version):
        return f"{version}.{role}.json" if self.consistent else f"{role}.json"

    def set_target(self, name, data, role=None):
        md = self.delegated[role][0] if role else self.targets
        md.signed.targets[name] = TargetFile.from_data(name, data, ["sha256"])
        self.files[hashed_path(name, data) if self.consistent else f"targets/{name}"] = data

    def delegate(self, name, paths, terminating):
        """A delegated targets role of the top-level targets, with its own key."""
        signer = CryptoSigner.generate_ecdsa()
        if self.targets.signed.delegations is None:
            self.targets.signed.delegations = Delegations(keys={}, roles={})
        self.targets.signed.delegations.roles[name] = DelegatedRole(name, [], 1, terminating, paths)
        self.targets.signed.add_key(signer.public_key, name)
        self.delegated[name] = (Metadata(Targets(expires=expires(90))), [signer])

    def publish(
        self,
        targets_signers=None,
        ts_expires=None,
        snapshot_version=None,
        targets_version=None,
        snapshot_length=True,
    ):
        """New targets (and delegated roles), snapshot and timestamp (each version + 1)."""
        for name, (md, signers) in self.delegated.items():
            md.signed.version += 1
            self.files[self.meta_name(name, md.signed.version)] = self.sign(md, signers)
            self.snapshot.signed.meta[f"{name}.json"] = MetaFile(version=md.signed.version)
        self.targets.signed.version += 1
        self.targets.signed.expires = expires(90)
        t = self.sign(self.targets, targets_signers or self.signers["targets"])
        self.files[self.meta_name("targets", self.targets.signed.version)] = t
        self.snapshot.signed.version += 1
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version or self.targets.signed.version)
        s = self.sign(self.snapshot, self.signers["snapshot"])
        self.files[self.meta_name("snapshot", self.snapshot.signed.version)] = s
        self.timestamp.signed.version += 1
        self.timestamp.signed.expires = ts_expires or expires(1)
        self.timestamp.signed.snapshot_meta = MetaFile(
            version=snapshot_version or self.snapshot.signed.version,
            length=len(s) if snapshot_length else None,
            hashes={"sha256": hashlib.sha256(s).hexdigest()} if snapshot_length else None,
        )
        self.files["timestamp.json"] = self.sign(self.timestamp, self.signers["timestamp"])

    def rotate_root(self, swap=(), sign_with_old=True, threshold=1, root_expires=365, root_threshold=1):
        """Root N+1: ROOT_THRESHOLD new root keys (as the threshold), and new keys for each role
        in SWAP (THRESHOLD of as many)."""
        old = self.signers["root"]
        for r in ("root",) + tuple(swap):
            for s in self.signers[r]:
                self.root.signed.revoke_key(s.public_key.keyid, r)
            count = threshold if r != "root" else root_threshold
            self.signers[r] = [self.keys[r]() for _ in range(count)]
            for s in self.signers[r]:
                self.root.signed.add_key(s.public_key, r)
            self.root.signed.roles[r].threshold = count
        self.root.signed.version += 1
        self.root.signed.expires = expires(root_expires)
        self.sign_root((old if sign_with_old else []) + self.signers["root"])

    def write(self, step):
        d = os.path.join(self.out, f"step{step}")
        for path, data in self.files.items():
            p = os.path.join(d, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)


def raw_sign(signed, signers, extra_sigs=()):
    """A metadata file python-tuf's API refuses to make (another spec major version, a key ID
    signing twice): SIGNED (a dict) signed over its canonical form, as a client checks it."""
    canonical = encode_canonical(signed).encode()
    sigs = [s.sign(canonical).to_dict() for s in signers] + list(extra_sigs)
    return json.dumps({"signed": signed, "signatures": sigs}, indent=1).encode()


def timestamp_dict(repo):
    return repo.timestamp.to_dict()["signed"]


def resnap(r, change, signers=None):
    """Re-sign the latest snapshot after CHANGE(snapshot.signed), and a timestamp pinning it."""
    change(r.snapshot.signed)
    s = r.sign(r.snapshot, signers or r.signers["snapshot"])
    r.files[r.meta_name("snapshot", r.snapshot.signed.version)] = s
    r.timestamp.signed.snapshot_meta = MetaFile(
        version=r.snapshot.signed.version, length=len(s), hashes={"sha256": hashlib.sha256(s).hexdigest()}
    )
    r.files["timestamp.json"] = r.sign(r.timestamp, r.signers["timestamp"])


def attack_steps(base):
    """One repository state per attack, each a fork of BASE (what the client has cached)."""
    steps = {}

    def step(name):
        r = base.fork()
        steps[name] = r
        return r

    r = step("snapshot_drops_targets_json")
    r.publish()
    resnap(r, lambda s: s.meta.pop("targets.json"))

    r = step("targets_version_below_the_snapshot_pin")
    r.publish()
    # The snapshot pins targets v3; v3's URL serves the (validly signed) v2 file.
    r.files[r.meta_name("targets", 3)] = base.files[base.meta_name("targets", 2)]

    for name, wrong in (("snapshot_meta_wrong_hash", "hash"), ("snapshot_meta_wrong_length", "length")):
        r = step(name)
        r.publish()
        t = r.files[r.meta_name("targets", r.targets.signed.version)]
        good = hashlib.sha256(t).hexdigest()
        meta = MetaFile(
            version=r.targets.signed.version,
            length=len(t) + (1 if wrong == "length" else 0),
            hashes={"sha256": "00" * 32 if wrong == "hash" else good},
        )
        resnap(r, lambda s, meta=meta: s.meta.__setitem__("targets.json", meta))

    r = step("timestamp_meta_wrong_snapshot_length")
    r.publish()
    r.timestamp.signed.snapshot_meta.length += 1
    r.files["timestamp.json"] = r.sign(r.timestamp, r.signers["timestamp"])

    r = step("timestamp_spec_version_2")
    r.publish()
    signed = timestamp_dict(r)
    signed["spec_version"] = "2.0.0"
    r.files["timestamp.json"] = raw_sign(signed, r.signers["timestamp"])

    r = step("timestamp_signed_twice_by_one_key")
    r.publish()
    doc = json.loads(r.files["timestamp.json"])
    doc["signatures"] = doc["signatures"] * 2
    r.files["timestamp.json"] = json.dumps(doc, indent=1).encode()

    r = step("snapshot_version_rollback_via_timestamp")
    r.publish(snapshot_version=1)

    # Endless data: each role one byte-range past its cap (tuf.md 1.5), validly signed, with no
    # length pinned by a parent, so that only the client's own cap stops it.
    r = step("endless_data_timestamp")
    r.timestamp.signed.unrecognized_fields["x-padding"] = "a" * 16_400
    r.publish()
    r = step("endless_data_snapshot")
    r.snapshot.signed.unrecognized_fields["x-padding"] = "a" * 2_000_100
    r.publish(snapshot_length=False)
    r = step("endless_data_targets")
    r.targets.signed.unrecognized_fields["x-padding"] = "a" * 5_000_100
    r.publish()
    r = step("endless_data_root")
    r.root.signed.unrecognized_fields["x-padding"] = "a" * 512_100
    r.rotate_root()

    r = step("freeze_newest_root_expired")
    r.rotate_root(root_expires=-1)
    r.publish()

    r = step("freeze_expired_snapshot")
    r.snapshot.signed.expires = NOW - timedelta(days=1)
    r.publish()
    r = step("freeze_expired_targets")
    r.publish()
    r.targets.signed.expires = NOW - timedelta(days=1)
    r.files[r.meta_name("targets", r.targets.signed.version)] = r.sign(r.targets, r.signers["targets"])

    r = step("root_version_skip")
    r.root.signed.version = 2
    r.rotate_root()
    r.files["2.root.json"] = r.files.pop("3.root.json")

    r = step("timestamp_version_rollback")
    r.timestamp.signed.version = 0
    r.publish()

    r = step("snapshot_signed_by_the_timestamp_key")
    r.publish()
    resnap(r, lambda s: None, signers=r.signers["timestamp"])
    r = step("timestamp_signed_by_the_snapshot_key")
    r.publish()
    r.files["timestamp.json"] = r.sign(r.timestamp, r.signers["snapshot"])
    return steps


def build_more(scenario, out, first, second):
    """The scenarios of tests/it/tuf_hard.rs. Writes OUT/steps.json: step name -> number."""
    if scenario == "expired_local_root":
        repo = Repo(out, root_expires=-1)
    elif scenario == "key_types":
        repo = Repo(out, keys=KEY_TYPES)
    elif scenario == "not_consistent":
        repo = Repo(out, consistent=False)
    else:
        repo = Repo(out)
    repo.set_target("trusted_root.json", first)
    repo.publish()
    with open(os.path.join(out, "root.json"), "wb") as f:
        f.write(repo.roots[0])
    states = []  # (name, repo), written as step1, step2, ...

    if scenario == "expired_local_root":
        # The client starts from an expired root v1: the chain to v2 must still be walked.
        repo.rotate_root()
        repo.publish()
        # An expired intermediate root (v3) on the way to a valid one (v4).
        r = repo.fork()
        r.rotate_root(root_expires=-1)
        r.rotate_root()
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("expired_intermediate_root", r))
    elif scenario == "key_types":
        r = repo.fork()
        r.rotate_root(swap=("timestamp", "snapshot", "targets"))
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("rotation_within_the_key_types", r))
        r = r.fork()
        r.keys["timestamp"] = lambda: CryptoSigner.generate_rsa(scheme="rsa-pkcs1v15-sha256", size=2048)
        r.rotate_root(swap=("timestamp",))
        r.set_target("trusted_root.json", first)
        r.publish()
        states.append(("timestamp_key_rsa_pkcs1v15", r))
    elif scenario == "not_consistent":
        r = repo.fork()
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("normal_update", r))
    elif scenario == "attacks":
        states.extend(attack_steps(repo).items())
    elif scenario == "tolerated":
        # Unknown fields everywhere (the spec lets producers add them; they are signed), and
        # timestamp signatures by keys outside the timestamp role.
        r = repo.fork()
        r.root.signed.unrecognized_fields["x-npm-attest-test"] = {"nested": [1, "two"]}
        for key in r.root.signed.keys.values():
            key.unrecognized_fields["x-tuf-on-ci-keyowner"] = "@someone"
        r.root.signed.roles["timestamp"].unrecognized_fields["x-tuf-on-ci-expiry-period"] = 7
        r.rotate_root()
        r.targets.signed.unrecognized_fields["x-tuf-on-ci-signing-period"] = 31
        r.snapshot.signed.unrecognized_fields["x-extra"] = "snapshot"
        r.timestamp.signed.unrecognized_fields["x-extra"] = "timestamp"
        r.set_target("trusted_root.json", second)
        r.targets.signed.targets["trusted_root.json"].unrecognized_fields["custom"] = {"sigstore": {"usage": "Unknown"}}
        r.publish()
        outsider = CryptoSigner.generate_ecdsa()
        r.files["timestamp.json"] = r.sign(r.timestamp, r.signers["timestamp"] + r.signers["snapshot"] + [outsider])
        states.append(("unknown_fields_and_foreign_signatures", r))
        # A key of a type nobody supports, in the timestamp role, with a "signature": ignored.
        r = r.fork()
        odd = SSlibKey("f" * 64, "x-unknown-type", "x-unknown-scheme", {"public": "not a key"})
        r.root.signed.add_key(odd, "timestamp")
        r.rotate_root()
        r.set_target("trusted_root.json", first)
        r.publish()
        signed = timestamp_dict(r)
        r.files["timestamp.json"] = raw_sign(signed, r.signers["timestamp"], [{"keyid": "f" * 64, "sig": "abcd"}])
        states.append(("unknown_key_type", r))
        # More new roots at once than sigstore-tuf's own walk takes (32).
        r = r.fork()
        for _ in range(40):
            r.rotate_root()
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("forty_new_roots", r))
    elif scenario == "fast_forward":
        # The attacker holds the online (timestamp and snapshot) keys, not the targets key.
        attacked = repo.fork()
        attacked.snapshot.signed.version = 1000
        attacked.timestamp.signed.version = 1000
        resnap(attacked, lambda s: None)
        states.append(("attacker_publishes_v1000", attacked))
        r = repo.fork()
        r.publish()
        states.append(("recovery_without_key_rotation", r))
        r = repo.fork()
        r.rotate_root(swap=("timestamp", "snapshot"), threshold=2, root_threshold=2)
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("recovery_rotating_timestamp_and_snapshot_keys", r))
        r = repo.fork()
        r.rotate_root(swap=("snapshot",))
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("recovery_rotating_the_snapshot_key_only", r))
        # Targets fast-forward: targets v99 (the targets key was stolen), then the snapshot key
        # is rotated and targets go back to v3 (tuf-conformance's targets recovery).
        forwarded = repo.fork()
        forwarded.targets.signed.version = 98
        forwarded.publish()
        states.append(("targets_fast_forwarded", forwarded))
        r = forwarded.fork()
        r.targets.signed.version = 2
        r.rotate_root(swap=("snapshot",))
        r.set_target("trusted_root.json", second)
        r.publish()
        states.append(("targets_recovery_rotating_the_snapshot_key", r))
    elif scenario == "delegated":
        repo.delegate("registry.npmjs.org", ["registry.npmjs.org/*"], True)
        repo.delegate("decoy", ["registry.npmjs.org/*"], False)
        repo.set_target("registry.npmjs.org/keys.json", NPM_KEYS, role="registry.npmjs.org")
        repo.set_target("elsewhere/keys.json", NPM_KEYS, role="registry.npmjs.org")
        repo.set_target("registry.npmjs.org/keys.json", DECOY_KEYS, role="decoy")
        repo.set_target("registry.npmjs.org/extra.json", DECOY_KEYS, role="decoy")
        repo.publish()
        r = repo.fork()
        name = "registry.npmjs.org"
        r.delegated[name] = (r.delegated[name][0], [CryptoSigner.generate_ecdsa()])
        r.publish()
        states.append(("delegated_role_signed_by_another_key", r))
        # For a client with no cache: the snapshot does not list the role delegated first.
        r = repo.fork()
        r.publish()
        resnap(r, lambda s: s.meta.pop("registry.npmjs.org.json"))
        states.append(("delegated_role_missing_from_the_snapshot", r))
    else:
        return False
    repo.write(0)
    for n, (_, r) in enumerate(states, start=1):
        r.write(n)
    with open(os.path.join(out, "steps.json"), "w") as f:
        json.dump({name: n for n, (name, _) in enumerate(states, start=1)}, f)
    return True


KEY_TYPES = {
    "root": CryptoSigner.generate_ed25519,
    "targets": lambda: CryptoSigner.generate_rsa(size=3072),
    "snapshot": lambda: CryptoSigner(ec.generate_private_key(ec.SECP384R1())),
    "timestamp": CryptoSigner.generate_ed25519,
}
NPM_KEYS = b'{"keys":[{"keyId":"SHA256:npm","keyUsage":"npm:signatures"}]}'
DECOY_KEYS = b'{"keys":[{"keyId":"SHA256:decoy","keyUsage":"npm:signatures"}]}'


def build(scenario, out, roots):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    first = roots[0]
    second = roots[1] if len(roots) > 1 else roots[0] + b"\n"
    if build_more(scenario, out, first, second):
        return
    repo = Repo(out)
    repo.set_target("trusted_root.json", first)
    repo.publish()
    with open(os.path.join(out, "root.json"), "wb") as f:
        f.write(repo.roots[0])

    if scenario in ("target_hash_mismatch", "endless_data_target"):
        digest = hashlib.sha256(first).hexdigest()
        path = f"targets/{digest}.trusted_root.json"
        if scenario == "target_hash_mismatch":
            repo.files[path] = first[:-1] + (b" " if first[-1:] != b" " else b"\n")
        else:
            repo.files[path] = first + b" " * 2_000_000
        repo.write(0)
        return
    repo.write(0)

    if scenario == "normal_update":
        repo.set_target("trusted_root.json", second)
        repo.publish()
    elif scenario == "root_rotation_1_to_3":
        repo.rotate_root()
        repo.rotate_root(swap=("timestamp",))
        repo.set_target("trusted_root.json", second)
        repo.publish()
    elif scenario == "root_below_threshold":
        repo.rotate_root(sign_with_old=False)
    elif scenario == "targets_below_threshold":
        extra = CryptoSigner.generate_ecdsa()
        repo.root.signed.add_key(extra.public_key, "targets")
        repo.root.signed.roles["targets"].threshold = 2
        repo.root.signed.version += 1
        repo.sign_root(repo.signers["root"])
        repo.set_target("trusted_root.json", second)
        repo.publish()  # signed by one of the two targets keys
    elif scenario == "freeze_expired_timestamp":
        repo.publish(ts_expires=NOW - timedelta(days=1))
    elif scenario == "rollback_snapshot_via_timestamp":
        repo.publish(snapshot_version=1)
    elif scenario == "rollback_targets_via_snapshot":
        repo.publish(targets_version=1)
    elif scenario == "mix_and_match_snapshot":
        repo.publish()
        # Serve another, validly signed snapshot under the name the timestamp pins.
        other = copy.deepcopy(repo.snapshot)
        other.signed.expires = expires(60)
        repo.files[f"{repo.snapshot.signed.version}.snapshot.json"] = repo.sign(other, repo.signers["snapshot"])
    else:
        sys.exit(f"unknown scenario {scenario}")
    repo.write(1)


def client(url, root, target, out):
    from tuf.ngclient import Updater

    work = out + ".tuf"
    os.makedirs(work, exist_ok=True)
    with open(root, "rb") as f:
        bootstrap = f.read()
    updater = Updater(work, url, work, url + "/targets", bootstrap=bootstrap)
    updater.refresh()
    info = updater.get_targetinfo(target)
    if info is None:
        sys.exit(f"{target} is not listed")
    path = updater.download_target(info, out)
    print(path)


def decide(url, root, work, targets):
    """python-tuf's decision on the repository at URL, its metadata kept in WORK between calls:
    one line per target ("NAME sha256" or "NAME none"), or "ERROR Class: message" and exit 1."""
    from tuf.ngclient import Updater

    os.makedirs(work, exist_ok=True)
    with open(root, "rb") as f:
        bootstrap = f.read()
    try:
        updater = Updater(work, url, os.path.join(work, "t"), url + "/targets", bootstrap=bootstrap)
        updater.refresh()
        os.makedirs(os.path.join(work, "t"), exist_ok=True)
        for target in targets:
            info = updater.get_targetinfo(target)
            if info is None:
                print(f"{target} none")
                continue
            path = updater.download_target(info, os.path.join(work, "t", hashlib.sha256(target.encode()).hexdigest()))
            with open(path, "rb") as f:
                print(f"{target} {hashlib.sha256(f.read()).hexdigest()}")
    except Exception as e:  # noqa: BLE001 - the decision is what is reported
        print(f"ERROR {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], [open(p, "rb").read() for p in sys.argv[4:]])
    elif sys.argv[1] == "client":
        client(*sys.argv[2:6])
    elif sys.argv[1] == "decide":
        decide(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)
