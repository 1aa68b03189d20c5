#!/usr/bin/env node
// Signs an in-toto statement with sigstore-js's signer (@sigstore/sign), the way npm does:
// Fulcio certificate for an ephemeral key, DSSE envelope, Rekor v1 `dsse` entry, bundle v0.3.
// Pointed at npm-attest's local stand-in this is an independent client of its Fulcio and
// Rekor APIs. One line of JSON out; exit 0 signed, 1 refused, 2 usage (see common.mjs).
//
//   sign-js.mjs --fulcio URL --rekor URL --token-file F --statement S --out B [--entry-type dsse|intoto]
//
// --entry-type intoto logs the older `intoto` 0.0.2 entry that npm 9-10 wrote (default `dsse`).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { interopDir, peer, readArg, requirePeer, run, UsageError } from './common.mjs';

await run(async () => {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        fulcio: { type: 'string' },
        rekor: { type: 'string' },
        'token-file': { type: 'string' },
        statement: { type: 'string' },
        out: { type: 'string' },
        'entry-type': { type: 'string', default: 'dsse' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err.message);
  }
  for (const flag of ['fulcio', 'rekor', 'token-file', 'statement', 'out']) {
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  }
  if (!['dsse', 'intoto'].includes(values['entry-type'])) {
    throw new UsageError(`--entry-type must be dsse or intoto, not ${values['entry-type']}`);
  }
  let sign, bundleLib;
  try {
    sign = requirePeer('@sigstore/sign');
    bundleLib = requirePeer('@sigstore/bundle');
  } catch (err) {
    throw new UsageError(`sigstore-js is not installed in ${interopDir} (run tests/setup-interop): ${err.message}`);
  }
  const token = readArg('--token-file', values['token-file']).toString('utf8').trim();
  const statement = readArg('--statement', values.statement);

  const started = process.hrtime.bigint();
  const bundle = await peer('sign', async () => {
    const signer = new sign.FulcioSigner({
      fulcioBaseURL: values.fulcio,
      identityProvider: { getToken: async () => token },
      retry: 0,
    });
    const witnesses = [new sign.RekorWitness({ rekorBaseURL: values.rekor, entryType: values['entry-type'], retry: 0 })];
    const builder = new sign.DSSEBundleBuilder({ signer, witnesses });
    return builder.create({ data: statement, type: 'application/vnd.in-toto+json' });
  });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;

  const json = bundleLib.bundleToJSON(bundle);
  try {
    writeFileSync(values.out, JSON.stringify(json));
  } catch (err) {
    throw new UsageError(`cannot write --out ${values.out}: ${err.message}`);
  }
  return { signer: 'sigstore-js', mediaType: json.mediaType, out: values.out, elapsedMs };
});
