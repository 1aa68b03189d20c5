// Shared plumbing of the Node interop scripts: loading the pinned peers from .interop/,
// the one-line answer protocol, and npm's own provenance subject checks.
//
// Protocol (the Rust helpers in tests/it/interop.rs rely on it): every script prints exactly
// one line of JSON on stdout and exits with
//   0  {"ok":true,...}                        the peer accepted;
//   1  {"ok":false,"stage":S,"error":E}       the peer (or the npm subject check) rejected;
//   2  {"ok":false,"stage":"usage",...}       bad arguments or a broken harness, never a verdict.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where tests/setup-interop installed the peers. */
export const interopDir = process.env.NPM_ATTEST_INTEROP || path.resolve(here, '..', '..', '.interop');

/**
 * The `node_modules` directory the @sigstore packages are loaded from: `.interop/node_modules`,
 * or `NPM_ATTEST_SIGSTORE_JS` (e.g. the copy bundled inside the npm CLI, to ask npm's own
 * verifier).
 */
export const peerModules = process.env.NPM_ATTEST_SIGSTORE_JS || path.join(interopDir, 'node_modules');

/** `require` resolving from `peerModules` (the @sigstore packages are CommonJS). */
export const requirePeer = createRequire(path.join(peerModules, 'noop.js'));

export class UsageError extends Error {}

/** A verdict against the input: `stage` names the step that refused it. */
export class Rejected extends Error {
  constructor(stage, err) {
    super(err && err.message ? err.message : String(err));
    this.stage = stage;
    this.code = (err && (err.code || err.name)) || 'Error';
  }
}

/** Runs `step()`; whatever the peer throws there is its rejection at `stage`. */
export async function peer(stage, step) {
  try {
    return await step();
  } catch (err) {
    throw new Rejected(stage, err);
  }
}

export function answer(code, obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
  process.exit(code);
}

/** Runs `main`, mapping its outcome to the protocol above. */
export async function run(main) {
  try {
    answer(0, { ok: true, ...(await main()) });
  } catch (err) {
    if (err instanceof Rejected) {
      answer(1, { ok: false, stage: err.stage, code: err.code, error: `${err.code}: ${err.message}` });
    } else if (err instanceof UsageError) {
      answer(2, { ok: false, stage: 'usage', error: err.message });
    } else {
      answer(2, { ok: false, stage: 'internal', error: String(err && err.stack ? err.stack : err) });
    }
  }
}

/** Reads a file named by a flag, as a usage error when it cannot be read. */
export function readArg(flag, file) {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${file}: ${err.message}`);
  }
}

export function parseJsonArg(flag, file) {
  try {
    return JSON.parse(readArg(flag, file).toString('utf8'));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag} ${file} is not JSON: ${err.message}`);
  }
}

/** `SAN` or `/regex/`, as sigstore-js takes a subjectAlternativeName policy. */
export function sanPolicy(san) {
  const m = /^\/(.*)\/$/s.exec(san);
  return m ? new RegExp(m[1]) : san;
}

/** The purl npm expects as the subject name: `pkg:npm/<name>@<version>`, `@` of a scope as `%40`. */
export function npmPurl(name, version) {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;
}

/**
 * npm's `--provenance-file` subject checks, in npm's order (npm-provenance.md §3 steps 2-6):
 * a DSSE payload, JSON, exactly one subject, its name equal to the purl, and its
 * `digest.sha512` equal to the tarball's sha512 in hex.
 */
function subjectError(message) {
  return new Rejected('npm-subject', { code: 'NPM_SUBJECT_ERROR', message });
}

export function npmSubjectCheck(bundleJson, tarball, name, version) {
  const payload = bundleJson && bundleJson.dsseEnvelope && bundleJson.dsseEnvelope.payload;
  if (!payload) throw subjectError('No dsseEnvelope with payload found in sigstore bundle');
  let statement;
  try {
    statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
  } catch (err) {
    throw subjectError(`Failed to parse payload from dsseEnvelope: ${err.message}`);
  }
  const subjects = statement.subject;
  if (!Array.isArray(subjects) || subjects.length === 0) {
    throw subjectError('No subject found in sigstore bundle payload');
  }
  if (subjects.length > 1) {
    throw subjectError('Found more than one subject in the sigstore bundle payload');
  }
  const expected = npmPurl(name, version);
  if (subjects[0].name !== expected) {
    throw subjectError(`Provenance subject ${subjects[0].name} does not match the package: ${expected}`);
  }
  const digest = createHash('sha512').update(tarball).digest('hex');
  if (!subjects[0].digest || subjects[0].digest.sha512 !== digest) {
    throw subjectError('Provenance subject digest does not match the package');
  }
  return { subject: expected, sha512: digest };
}
