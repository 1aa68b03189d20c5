#!/usr/bin/env python3
"""Decodes the DSSE payload of a Sigstore bundle and parses it strictly with in-toto-attestation:
the in-toto Statement v1 (unknown fields rejected, then `Statement.validate`) and, for
`https://slsa.dev/provenance/v1`, the SLSA provenance predicate (unknown fields rejected,
`buildDefinition.buildType` and `runDetails.builder.id` required, resource descriptors
validated). One line of JSON out; exit 0 accepted, 1 rejected, 2 usage (see interop_common.py).

  intoto-check.py --bundle B
"""

from __future__ import annotations

import base64
import json
from typing import Any

from interop_common import Rejected, UsageError, parser, peer, read_arg, run

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"


def check_provenance_v1(predicate: Any) -> dict[str, Any]:
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor

    pb = peer("predicate", lambda: json_format.ParseDict(predicate, provenance_pb2.Provenance()))
    # SLSA v1 provenance: buildDefinition.buildType and runDetails.builder.id are REQUIRED.
    if not pb.build_definition.build_type:
        raise Rejected("predicate", "buildDefinition.buildType is required", code="ValueError")
    if not pb.run_details.builder.id:
        raise Rejected("predicate", "runDetails.builder.id is required", code="ValueError")
    descriptors = list(pb.build_definition.resolved_dependencies) + list(pb.run_details.byproducts)
    descriptors += list(pb.run_details.builder.builder_dependencies)
    for rd in descriptors:
        peer("predicate", lambda rd=rd: ResourceDescriptor.copy_from_pb(rd).validate())
    return {"buildType": pb.build_definition.build_type, "builderId": pb.run_details.builder.id}


def main() -> dict[str, Any]:
    p = parser("parse a bundle's in-toto statement strictly with in-toto-attestation")
    p.add_argument("--bundle", required=True)
    args = p.parse_args()
    try:
        from google.protobuf import json_format
        from in_toto_attestation.v1 import statement_pb2
        from in_toto_attestation.v1.statement import Statement
    except ImportError as err:
        raise UsageError(f"in-toto-attestation is not installed (run tests/setup-interop): {err}") from err

    raw = read_arg("--bundle", args.bundle)
    envelope = peer("bundle", lambda: json.loads(raw)["dsseEnvelope"])
    payload_type = envelope.get("payloadType")
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise Rejected("bundle", f"payloadType is {payload_type!r}, not {IN_TOTO_PAYLOAD_TYPE}")
    payload = peer("bundle", lambda: base64.b64decode(envelope["payload"], validate=True))
    text = peer("statement", lambda: payload.decode("utf-8"))

    # json_format.Parse rejects unknown fields unless told otherwise.
    pb = peer("statement", lambda: json_format.Parse(text, statement_pb2.Statement()))
    statement = Statement.copy_from_pb(pb)
    peer("statement", statement.validate)
    facts: dict[str, Any] = {
        "checker": "in-toto-attestation",
        "predicateType": pb.predicate_type,
        "subjects": [s.name for s in pb.subject],
    }
    if pb.predicate_type == SLSA_PROVENANCE_V1:
        facts.update(check_provenance_v1(json.loads(text)["predicate"]))
    return facts


if __name__ == "__main__":
    run(main)
