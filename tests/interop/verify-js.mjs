#!/usr/bin/env node
// Verifies a Sigstore bundle with sigstore-js (the verifier npm ships) against a given
// trusted root and identity, then applies npm's provenance subject checks when a tarball is
// given. One line of JSON out; exit 0 accepted, 1 rejected, 2 usage (see common.mjs).
//
//   verify-js.mjs --bundle B --trusted-root R [--tarball T --name N --version V]
//                 [--artifact F] --san SAN_or_/regex/ --issuer ISS
//                 [--tlog-threshold N] [--ctlog-threshold N]
//
// The thresholds default to 1 (npm's policy); 0 and 0 verify a bundle of GitHub's own
// instance (no transparency log, no CT log: the RFC 3161 timestamp dates the signature).

import { parseArgs } from 'node:util';

import { npmSubjectCheck, parseJsonArg, peer, peerModules, readArg, requirePeer, run, sanPolicy, UsageError } from './common.mjs';

await run(async () => {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        bundle: { type: 'string' },
        'trusted-root': { type: 'string' },
        tarball: { type: 'string' },
        name: { type: 'string' },
        version: { type: 'string' },
        artifact: { type: 'string' },
        san: { type: 'string' },
        issuer: { type: 'string' },
        'tlog-threshold': { type: 'string' },
        'ctlog-threshold': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err.message);
  }
  for (const flag of ['bundle', 'trusted-root', 'san', 'issuer']) {
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  }
  const threshold = (flag) => {
    if (values[flag] === undefined) return 1;
    if (!/^[0-9]+$/.test(values[flag])) throw new UsageError(`--${flag} must be a whole number`);
    return Number(values[flag]);
  };
  const npm = [values.tarball, values.name, values.version];
  if (npm.some(Boolean) && !npm.every(Boolean)) {
    throw new UsageError('--tarball, --name and --version go together');
  }

  let sigstore;
  try {
    sigstore = {
      bundle: requirePeer('@sigstore/bundle'),
      specs: requirePeer('@sigstore/protobuf-specs'),
      verify: requirePeer('@sigstore/verify'),
      version: requirePeer('@sigstore/verify/package.json').version,
    };
  } catch (err) {
    throw new UsageError(`sigstore-js is not installed in ${peerModules} (run tests/setup-interop): ${err.message}`);
  }

  const bundleJson = parseJsonArg('--bundle', values.bundle);
  const rootJson = parseJsonArg('--trusted-root', values['trusted-root']);
  const artifact = values.artifact ? readArg('--artifact', values.artifact) : undefined;
  const tarball = values.tarball ? readArg('--tarball', values.tarball) : undefined;

  const bundle = await peer('bundle', () => sigstore.bundle.bundleFromJSON(bundleJson));
  const trustMaterial = await peer('trusted-root', () =>
    sigstore.verify.toTrustMaterial(sigstore.specs.TrustedRoot.fromJSON(rootJson)),
  );
  const signer = await peer('sigstore', () => {
    const entity = sigstore.verify.toSignedEntity(bundle, artifact);
    const verifier = new sigstore.verify.Verifier(trustMaterial, {
      tlogThreshold: threshold('tlog-threshold'),
      ctlogThreshold: threshold('ctlog-threshold'),
      timestampThreshold: 1,
    });
    return verifier.verify(entity, {
      subjectAlternativeName: sanPolicy(values.san),
      extensions: { issuer: values.issuer },
    });
  });

  const facts = {
    verifier: 'sigstore-js',
    verifyVersion: sigstore.version,
    modules: peerModules,
    san: signer.identity ? signer.identity.subjectAlternativeName : null,
    issuer: signer.identity && signer.identity.extensions ? signer.identity.extensions.issuer : null,
  };
  if (tarball) {
    Object.assign(facts, npmSubjectCheck(bundleJson, tarball, values.name, values.version));
  }
  return facts;
});
