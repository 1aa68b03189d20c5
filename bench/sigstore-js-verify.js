// sigstore-js (the verifier npm ships) over a directory of npm provenance bundles, warm in one
// process: each bundle is parsed, verified against the trusted root with an identity policy,
// and its statement checked against the tarball as npm does (one subject, the purl, sha512).
//
// usage: node sigstore-js-verify.js TRUSTED_ROOT MANIFEST_JSON ISSUER SAN_REGEXP
// MANIFEST_JSON: [{"bundle": path, "tarball": path, "purl": purl}, ...]
// Prints one JSON line: {"verified": N, "failed": M, "seconds": S} (S excludes a warm-up pass).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { toTrustMaterial, toSignedEntity, Verifier } = require('@sigstore/verify');

const [rootFile, manifestFile, issuer, sanRegexp] = process.argv.slice(2);
const items = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootFile, 'utf8')));
const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
const policy = { subjectAlternativeName: new RegExp(sanRegexp), extensions: { issuer } };

function check(item) {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(item.bundle, 'utf8')));
  verifier.verify(toSignedEntity(bundle), policy);
  const statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8'));
  const sha512 = crypto.createHash('sha512').update(fs.readFileSync(item.tarball)).digest('hex');
  if (statement.subject.length !== 1 || statement.subject[0].name !== item.purl || statement.subject[0].digest.sha512 !== sha512) {
    throw new Error(`subject mismatch for ${item.bundle}`);
  }
}

// Warm-up: the first bundles compile the code paths (JIT), as in a long-running auditor.
for (const item of items.slice(0, 20)) {
  check(item);
}
let verified = 0;
let failed = 0;
const start = process.hrtime.bigint();
for (const item of items) {
  try {
    check(item);
    verified += 1;
  } catch (e) {
    failed += 1;
    if (failed === 1) console.error(String(e));
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ verified, failed, seconds }));
