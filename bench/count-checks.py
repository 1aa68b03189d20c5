"""The signature checks npm-attest's verifier makes for each bundle, by kind of key: the leaf
by its Fulcio intermediate, one SCT, the SET and the checkpoint of the log entry, the DSSE or
message signature, and each RFC 3161 timestamp (the intermediate by the root is remembered
across bundles and not counted). Run with the peers' Python (it has `cryptography`).

usage: count-checks.py TRUSTED_ROOT BUNDLE...
Prints one JSON line: {"bundles": N, "checks": {"p384": leaf checks..., "p256": ...}} (totals).
"""

import base64
import json
import sys
from collections import Counter

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key


def kind(key):
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}[key.curve.name]
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa2048"  # the floor prices every RSA check at 2048 bits
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    raise SystemExit(f"count-checks: unknown key type {type(key)}")


def b64(text):
    return base64.b64decode(text)


def main():
    root = json.load(open(sys.argv[1]))
    intermediates = {}
    for ca in root.get("certificateAuthorities", []):
        first = x509.load_der_x509_certificate(b64(ca["certChain"]["certificates"][0]["rawBytes"]))
        intermediates[first.subject.rfc4514_string()] = kind(first.public_key())
    ct_kind = kind(load_der_public_key(b64(root["ctlogs"][0]["publicKey"]["rawBytes"])))
    log_kind = kind(load_der_public_key(b64(root["tlogs"][0]["publicKey"]["rawBytes"])))
    tsa_kind = None
    if root.get("timestampAuthorities"):
        leaf = root["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
        tsa_kind = kind(x509.load_der_x509_certificate(b64(leaf)).public_key())
    checks = Counter()
    for path in sys.argv[2:]:
        bundle = json.load(open(path))
        material = bundle["verificationMaterial"]
        cert = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
        leaf = x509.load_der_x509_certificate(b64(cert["rawBytes"]))
        checks[intermediates[leaf.issuer.rfc4514_string()]] += 1  # leaf by intermediate
        checks[ct_kind] += 1  # one SCT (threshold 1)
        for entry in material.get("tlogEntries", []):
            if entry.get("inclusionPromise"):
                checks[log_kind] += 1  # SET
            if entry.get("inclusionProof", {}).get("checkpoint"):
                checks[log_kind] += 1  # checkpoint
        checks[kind(leaf.public_key())] += 1  # DSSE or message signature
        for _ in material.get("timestampVerificationData", {}).get("rfc3161Timestamps", []):
            checks[tsa_kind] += 1
    print(json.dumps({"bundles": len(sys.argv) - 2, "checks": dict(checks)}))


if __name__ == "__main__":
    main()
