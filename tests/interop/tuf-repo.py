"""TUF repositories for npm-attest's TUF client tests, built with python-tuf (the reference
implementation, pinned in requirements.txt), after the recipe of the TUF conformance suite.

    tuf-repo.py build SCENARIO OUT TRUSTED_ROOT_0 [TRUSTED_ROOT_1]
        Writes OUT/root.json (the root a client starts from) and OUT/step0/, OUT/step1/, ...:
        each step a complete static repository (consistent snapshots) as a server would hold it
        after a publish. A test serves step0, lets the client refresh (caching the rollback
        floors), then serves step1 and checks what the client does.
    tuf-repo.py client URL ROOT TARGET OUT
        python-tuf's own client (ngclient) fetches TARGET from URL, bootstrapped with ROOT.

Scenarios (step1 unless said): normal_update, root_rotation_1_to_3 (3.root.json also swaps the
timestamp key: fast-forward recovery), root_below_threshold (2.root.json signed by the new key
only), targets_below_threshold, freeze_expired_timestamp, rollback_snapshot_via_timestamp,
rollback_targets_via_snapshot, mix_and_match_snapshot (the timestamp pins a snapshot whose
bytes differ from the one served), target_hash_mismatch and endless_data_target (step0 itself:
the target file at its hashed URL replaced by other bytes of the same length, or by 2 MB).
"""

import copy
import hashlib
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
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


class Repo:
    def __init__(self, out):
        self.out = out
        self.signers = {r: [CryptoSigner.generate_ecdsa()] for r in ("root", "targets", "snapshot", "timestamp")}
        root = Root(expires=expires(365), consistent_snapshot=True)
        for role, signers in self.signers.items():
            for s in signers:
                root.add_key(s.public_key, role)
        self.root = Metadata(root)
        self.roots = []  # bytes of each root version, in order
        self.targets = Metadata(Targets(expires=expires(90)))
        self.snapshot = Metadata(Snapshot(expires=expires(90)))
        self.timestamp = Metadata(Timestamp(expires=expires(1)))
        self.files = {}  # path -> bytes, the repository as served
        self.sign_root([s for s in self.signers["root"]])

    def sign(self, md, signers):
        md.signatures.clear()
        for s in signers:
            md.sign(s, append=True)
        return md.to_bytes(JSONSerializer(compact=False))

    def sign_root(self, signers):
        data = self.sign(self.root, signers)
        self.files[f"{self.root.signed.version}.root.json"] = data
        self.roots.append(data)

    def set_target(self, name, data):
        self.targets.signed.targets[name] = TargetFile.from_data(name, data, ["sha256"])
        digest = hashlib.sha256(data).hexdigest()
        self.files[f"targets/{digest}.{name}"] = data

    def publish(self, targets_signers=None, ts_expires=None, snapshot_version=None, targets_version=None):
        """New targets, snapshot and timestamp (each version + 1)."""
        self.targets.signed.version += 1
        self.targets.signed.expires = expires(90)
        t = self.sign(self.targets, targets_signers or self.signers["targets"])
        self.files[f"{self.targets.signed.version}.targets.json"] = t
        self.snapshot.signed.version += 1
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version or self.targets.signed.version)
        s = self.sign(self.snapshot, self.signers["snapshot"])
        self.files[f"{self.snapshot.signed.version}.snapshot.json"] = s
        self.timestamp.signed.version += 1
        self.timestamp.signed.expires = ts_expires or expires(1)
        self.timestamp.signed.snapshot_meta = MetaFile(
            version=snapshot_version or self.snapshot.signed.version,
            length=len(s),
            hashes={"sha256": hashlib.sha256(s).hexdigest()},
        )
        self.files["timestamp.json"] = self.sign(self.timestamp, self.signers["timestamp"])

    def rotate_root(self, role="root", swap=(), sign_with_old=True):
        old = self.signers["root"]
        for r in ("root",) + tuple(swap):
            for s in self.signers[r]:
                self.root.signed.revoke_key(s.public_key.keyid, r)
            self.signers[r] = [CryptoSigner.generate_ecdsa()]
            self.root.signed.add_key(self.signers[r][0].public_key, r)
        self.root.signed.version += 1
        self.root.signed.expires = expires(365)
        self.sign_root((old if sign_with_old else []) + self.signers["root"])

    def write(self, step):
        d = os.path.join(self.out, f"step{step}")
        for path, data in self.files.items():
            p = os.path.join(d, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)


def build(scenario, out, roots):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    repo = Repo(out)
    first = roots[0]
    second = roots[1] if len(roots) > 1 else roots[0] + b"\n"
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


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], [open(p, "rb").read() for p in sys.argv[4:]])
    elif sys.argv[1] == "client":
        client(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
