"""sigstore-python over a directory of npm provenance bundles, warm in one process: each
bundle is parsed, verified against the trusted root with an identity policy (verify_dsse),
and its statement checked against the tarball as npm does (one subject, the purl, sha512).

usage: python sigstore-python-verify.py TRUSTED_ROOT MANIFEST_JSON ISSUER SAN
MANIFEST_JSON: [{"bundle": path, "tarball": path, "purl": purl}, ...]
Prints one JSON line: {"verified": N, "failed": M, "seconds": S} (S excludes a warm-up pass).
"""

import hashlib
import json
import sys
import time

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy

root_file, manifest_file, issuer, san = sys.argv[1:5]
with open(manifest_file) as f:
    items = json.load(f)
verifier = Verifier(trusted_root=TrustedRoot.from_file(root_file))
identity = policy.Identity(identity=san, issuer=issuer)


def check(item):
    with open(item["bundle"], "rb") as f:
        bundle = Bundle.from_json(f.read())
    _, payload = verifier.verify_dsse(bundle, identity)
    statement = json.loads(payload)
    with open(item["tarball"], "rb") as f:
        sha512 = hashlib.sha512(f.read()).hexdigest()
    subjects = statement["subject"]
    if len(subjects) != 1 or subjects[0]["name"] != item["purl"] or subjects[0]["digest"]["sha512"] != sha512:
        raise ValueError(f"subject mismatch for {item['bundle']}")


for item in items[:20]:
    check(item)
verified = failed = 0
start = time.perf_counter()
for item in items:
    try:
        check(item)
        verified += 1
    except Exception as e:  # noqa: BLE001 - counted and the first one shown
        failed += 1
        if failed == 1:
            print(repr(e), file=sys.stderr)
seconds = time.perf_counter() - start
print(json.dumps({"verified": verified, "failed": failed, "seconds": seconds}))
