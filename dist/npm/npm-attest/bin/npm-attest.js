#!/usr/bin/env node
// npm-attest's launcher: runs the native binary for this platform, which npm installed from one
// of the optional dependencies @npm-attest/<platform>, after checking that binary against the
// sha512 recorded in this package (lib/binaries.json, written by dist/npm/assemble.js). The
// package's own integrity (and its provenance) covers that record, so a binary swapped on disk or
// on the registry is refused instead of run.
//
// NPM_ATTEST_PLATFORM=<os>-<cpu>[-<libc>] pretends to be another platform (for tests).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const childProcess = require('node:child_process');

const self = require('../package.json');
const binaries = require('../lib/binaries.json');

// <os>-<cpu>[-<libc>] -> the package carrying that binary.
const PLATFORMS = {
  'linux-x64-glibc': '@npm-attest/linux-x64-gnu',
  'linux-arm64-glibc': '@npm-attest/linux-arm64-gnu',
  'linux-x64-musl': '@npm-attest/linux-x64-musl',
  'linux-arm64-musl': '@npm-attest/linux-arm64-musl',
  'darwin-x64': '@npm-attest/darwin-x64',
  'darwin-arm64': '@npm-attest/darwin-arm64',
  'win32-x64': '@npm-attest/win32-x64',
};

function fail(message, hint) {
  process.stderr.write(`error: ${message}${hint ? ` (hint: ${hint})` : ''}\n`);
  process.exit(3);
}

function libc() {
  // glibc reports its version in the process report; musl does not.
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

function platformKey() {
  const forced = process.env.NPM_ATTEST_PLATFORM;
  if (forced) return forced;
  const base = `${process.platform}-${process.arch}`;
  return process.platform === 'linux' ? `${base}-${libc()}` : base;
}

function main() {
  const key = platformKey();
  const pkg = PLATFORMS[key];
  if (!pkg) {
    fail(
      `npm-attest ${self.version} has no prebuilt binary for this platform (${key})`,
      `supported: ${Object.keys(PLATFORMS).join(', ')}; elsewhere install it with \`cargo install npm-attest\``,
    );
  }
  const record = binaries[pkg];
  if (!record) {
    fail(
      `npm-attest ${self.version} was released without a binary for ${key} (${pkg})`,
      'install it with `cargo install npm-attest`, or use a release that ships one',
    );
  }
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    fail(
      `${pkg}, npm-attest's binary for ${key}, is not installed`,
      'it is an optional dependency: install again without --omit=optional (or --no-optional); a lockfile made on another platform may lack it: remove node_modules and install again',
    );
  }
  const binary = path.join(dir, record.file);
  let bytes;
  try {
    bytes = fs.readFileSync(binary);
  } catch (e) {
    fail(`cannot read ${binary}: ${e.message}`, `reinstall ${pkg}@${self.version}`);
  }
  const actual = `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}`;
  if (actual !== record.sha512) {
    fail(
      `refusing to run ${binary}: its sha512 is not the one npm-attest@${self.version} records for ${pkg}`,
      `the binary was changed after it was released; reinstall ${pkg}@${self.version} from the registry`,
    );
  }
  const result = childProcess.spawnSync(binary, process.argv.slice(2), { stdio: 'inherit', windowsHide: true });
  if (result.error) {
    fail(`cannot run ${binary}: ${result.error.message}`, `reinstall ${pkg}@${self.version}`);
  }
  if (result.signal) {
    process.kill(process.pid, result.signal);
  }
  process.exit(result.status ?? 1);
}

main();
