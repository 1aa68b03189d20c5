#!/usr/bin/env python3
"""Verifies a Sigstore bundle with sigstore-python against a given trusted root and identity,
then applies npm's provenance subject checks when a tarball is given. One line of JSON out;
exit 0 accepted, 1 rejected, 2 usage (see interop_common.py).

  verify-py.py --bundle B --trusted-root R [--tarball T --name N --version V]
               [--artifact F] --san SAN_or_/regex/ --issuer ISS

DSSE bundles go through `Verifier.verify_dsse`, message-signature bundles (with --artifact)
through `Verifier.verify_artifact`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from interop_common import Rejected, UsageError, npm_subject_check, parser, peer, read_arg, run


def identity_policy(san: str, issuer: str) -> Any:
    from sigstore.verify import policy

    if len(san) >= 2 and san.startswith("/") and san.endswith("/"):
        return RegexIdentity(re.compile(san[1:-1]), policy.OIDCIssuer(issuer))
    return policy.Identity(identity=san, issuer=issuer)


class RegexIdentity:
    """A sigstore-python `VerificationPolicy`: the issuer extension matches exactly and some
    SAN (email, URI or Sigstore other name) matches the regular expression, as a `/regex/`
    SAN does in sigstore-js."""

    def __init__(self, pattern: re.Pattern[str], issuer: Any):
        self._pattern = pattern
        self._issuer = issuer

    def verify(self, cert: Any) -> None:
        from cryptography.x509 import OtherName, RFC822Name, SubjectAlternativeName, UniformResourceIdentifier
        from sigstore.errors import VerificationError

        self._issuer.verify(cert)
        sans = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
        values = list(sans.get_values_for_type(RFC822Name))
        values += sans.get_values_for_type(UniformResourceIdentifier)
        values += [on.value.decode(errors="replace") for on in sans.get_values_for_type(OtherName)]
        if not any(self._pattern.search(v) for v in values):
            raise VerificationError(f"no SAN matches /{self._pattern.pattern}/; actual SANs: {values}")


def main() -> dict[str, Any]:
    p = parser("verify a Sigstore bundle with sigstore-python")
    p.add_argument("--bundle", required=True)
    p.add_argument("--trusted-root", required=True)
    p.add_argument("--tarball")
    p.add_argument("--name")
    p.add_argument("--version")
    p.add_argument("--artifact")
    p.add_argument("--san", required=True)
    p.add_argument("--issuer", required=True)
    args = p.parse_args()
    npm = [args.tarball, args.name, args.version]
    if any(npm) and not all(npm):
        raise UsageError("--tarball, --name and --version go together")

    try:
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier
    except ImportError as err:
        raise UsageError(f"sigstore-python is not installed (run tests/setup-interop): {err}") from err

    bundle_bytes = read_arg("--bundle", args.bundle)
    read_arg("--trusted-root", args.trusted_root)
    artifact = read_arg("--artifact", args.artifact) if args.artifact else None
    tarball = read_arg("--tarball", args.tarball) if args.tarball else None

    bundle = peer("bundle", lambda: Bundle.from_json(bundle_bytes))
    root = peer("trusted-root", lambda: TrustedRoot.from_file(args.trusted_root))
    verifier = Verifier(trusted_root=root)
    policy = identity_policy(args.san, args.issuer)

    facts: dict[str, Any] = {"verifier": "sigstore-python"}
    if artifact is not None:
        peer("sigstore", lambda: verifier.verify_artifact(artifact, bundle, policy))
    else:
        payload_type, _payload = peer("sigstore", lambda: verifier.verify_dsse(bundle, policy))
        facts["payloadType"] = payload_type
    if tarball is not None:
        try:
            bundle_json = json.loads(bundle_bytes)
        except ValueError as err:
            raise Rejected("npm-subject", err) from err
        facts.update(npm_subject_check(bundle_json, tarball, args.name, args.version))
    return facts


if __name__ == "__main__":
    run(main)
