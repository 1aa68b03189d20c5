#!/usr/bin/env python3
"""Regenerates the malformed npm tarballs in this directory, one per fault.

Each file is named after what is wrong with it; `npm-attest attest` must refuse every one
with a one-line error naming the file, exit code 2, and write nothing.
Deterministic: fixed mtimes and a seeded generator, so reruns give identical bytes.
"""

import gzip
import io
import json
import random
import tarfile

MTIME = 499162500  # npm pack's fixed mtime (1985-10-26T08:15:00Z)


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tgz(files):
    return gzip.compress(tar_bytes(files), mtime=0)


def manifest(**fields):
    return json.dumps(fields).encode()


GOOD = manifest(name="bad-tarball-fixture", version="1.0.0")
NOISE = random.Random(7).randbytes(16 * 1024)  # incompressible, so a cut lands mid-stream

cases = {
    "not-gzip.tgz": b"this is a README, not a tarball\n",
    "empty-file.tgz": b"",
    "tar-not-gzipped.tgz": tar_bytes([("package/package.json", GOOD)]),
    "gzip-not-tar.tgz": gzip.compress(b"hello, I am gzip but not tar\n" * 40, mtime=0),
    "no-package-json.tgz": tgz([("package/index.js", b"module.exports = 1\n")]),
    "package-json-outside-package-dir.tgz": tgz([("package.json", GOOD)]),
    "package-json-invalid-json.tgz": tgz([("package/package.json", b'{"name": "x", "version": ')]),
    "package-json-not-an-object.tgz": tgz([("package/package.json", b'["name", "version"]')]),
    "package-json-missing-name.tgz": tgz([("package/package.json", manifest(version="1.0.0"))]),
    "package-json-missing-version.tgz": tgz([("package/package.json", manifest(name="no-version"))]),
    "package-json-name-uppercase.tgz": tgz([("package/package.json", manifest(name="Bad-Name", version="1.0.0"))]),
    "package-json-name-not-url-safe.tgz": tgz(
        [("package/package.json", manifest(name="bad name/../x", version="1.0.0"))]
    ),
    "package-json-name-too-long.tgz": tgz([("package/package.json", manifest(name="a" * 215, version="1.0.0"))]),
    "package-json-version-not-semver.tgz": tgz(
        [("package/package.json", manifest(name="bad-version", version="latest"))]
    ),
    "package-json-too-large.tgz": tgz(
        [("package/package.json", GOOD[:-1] + b"," + b'"pad":"' + b" " * (5 * 1024 * 1024) + b'"}')]
    ),
    "duplicate-package-json.tgz": tgz(
        [
            ("package/package.json", GOOD),
            ("package/package.json", manifest(name="other-package", version="6.6.6")),
        ]
    ),
}

# A complete tarball cut in the middle of the compressed stream, after package.json.
whole = tgz([("package/package.json", GOOD), ("package/blob.bin", NOISE)])
cases["truncated-midway.tgz"] = whole[: len(whole) // 2]
# Only the gzip trailer (CRC-32 and length) is missing.
cases["truncated-gzip-trailer.tgz"] = whole[:-8]
# Cut before package.json, which comes last.
late = tgz([("package/blob.bin", NOISE), ("package/package.json", GOOD)])
cases["truncated-before-package-json.tgz"] = late[: len(late) // 3]
# One flipped byte in the deflate data.
flipped = bytearray(whole)
flipped[len(flipped) // 2] ^= 0xFF
cases["corrupt-deflate-data.tgz"] = bytes(flipped)

for name, data in cases.items():
    with open(name, "wb") as f:
        f.write(data)
