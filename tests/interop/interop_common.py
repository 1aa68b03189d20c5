"""Shared plumbing of the Python interop scripts (the counterpart of common.mjs).

Every script prints exactly one line of JSON on stdout and exits with
  0  {"ok": true, ...}                       the peer accepted;
  1  {"ok": false, "stage": S, "error": E}   the peer (or the npm subject check) rejected;
  2  {"ok": false, "stage": "usage", ...}    bad arguments or a broken harness, never a verdict.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import traceback
from typing import Any, Callable, NoReturn


class UsageError(Exception):
    pass


class Rejected(Exception):
    """A verdict against the input: `stage` names the step that refused it."""

    def __init__(self, stage: str, err: BaseException | str, code: str | None = None):
        super().__init__(str(err))
        self.stage = stage
        self.code = code or (type(err).__name__ if isinstance(err, BaseException) else "Error")


def peer(stage: str, step: Callable[[], Any]) -> Any:
    """Runs `step()`; whatever the peer raises there is its rejection at `stage`."""
    try:
        return step()
    except Exception as err:  # noqa: BLE001 - any exception from the peer is its verdict
        raise Rejected(stage, err) from err


def answer(code: int, obj: dict[str, Any]) -> NoReturn:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    sys.exit(code)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parser(description: str) -> argparse.ArgumentParser:
    return _Parser(description=description, allow_abbrev=False)


def run(main: Callable[[], dict[str, Any]]) -> NoReturn:
    try:
        facts = main()
    except Rejected as err:
        answer(1, {"ok": False, "stage": err.stage, "code": err.code, "error": f"{err.code}: {err}"})
    except UsageError as err:
        answer(2, {"ok": False, "stage": "usage", "error": str(err)})
    except Exception:  # noqa: BLE001 - a bug in the harness, never a verdict
        answer(2, {"ok": False, "stage": "internal", "error": traceback.format_exc()})
    answer(0, {"ok": True, **facts})


def read_arg(flag: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise UsageError(f"cannot read {flag} {path}: {err}") from err


def npm_purl(name: str, version: str) -> str:
    """`pkg:npm/<name>@<version>`, with a scope's `@` written `%40`, as npm names the subject."""
    if name.startswith("@"):
        name = "%40" + name[1:]
    return f"pkg:npm/{name}@{version}"


def _subject_error(message: str) -> Rejected:
    return Rejected("npm-subject", message, code="NPM_SUBJECT_ERROR")


def npm_subject_check(bundle_json: Any, tarball: bytes, name: str, version: str) -> dict[str, str]:
    """npm's `--provenance-file` subject checks, in npm's order (npm-provenance.md §3 steps 2-6)."""
    envelope = bundle_json.get("dsseEnvelope") if isinstance(bundle_json, dict) else None
    payload = envelope.get("payload") if isinstance(envelope, dict) else None
    if not payload:
        raise _subject_error("No dsseEnvelope with payload found in sigstore bundle")
    try:
        statement = json.loads(base64.b64decode(payload))
    except ValueError as err:
        raise _subject_error(f"Failed to parse payload from dsseEnvelope: {err}") from err
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    if not isinstance(subjects, list) or not subjects:
        raise _subject_error("No subject found in sigstore bundle payload")
    if len(subjects) > 1:
        raise _subject_error("Found more than one subject in the sigstore bundle payload")
    expected = npm_purl(name, version)
    subject = subjects[0] if isinstance(subjects[0], dict) else {}
    if subject.get("name") != expected:
        raise _subject_error(f"Provenance subject {subject.get('name')} does not match the package: {expected}")
    digest = hashlib.sha512(tarball).hexdigest()
    if not isinstance(subject.get("digest"), dict) or subject["digest"].get("sha512") != digest:
        raise _subject_error("Provenance subject digest does not match the package")
    return {"subject": expected, "sha512": digest}
