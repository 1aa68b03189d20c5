#!/usr/bin/env node
// Assembles the npm packages of a release from built binaries:
//
//   node dist/npm/assemble.js --version 0.2.0 --out DIR [--require-all] TARGET=BINARY ...
//
// TARGET is a Rust target triple (x86_64-unknown-linux-gnu, ...), BINARY the npm-attest built
// for it. Writes DIR/npm-attest (the launcher package: bin/npm-attest.js, lib/binaries.json with
// each binary's sha512, optionalDependencies on the platform packages) and one directory per
// platform package (@npm-attest/<platform>: the binary, with os/cpu/libc so npm installs only
// the one that fits). Then `npm pack`/`npm publish` each directory, the platform packages first.
// --require-all (the release workflow) refuses to assemble a release missing a platform; without
// it the launcher package lists only the platforms given (a local test build).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const REPOSITORY = 'git+https://github.com/npm-attest/npm-attest.git';

// Rust target -> npm platform package.
const TARGETS = {
  'x86_64-unknown-linux-gnu': { name: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'aarch64-unknown-linux-gnu': { name: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'x86_64-unknown-linux-musl': { name: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  'aarch64-unknown-linux-musl': { name: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  'x86_64-apple-darwin': { name: 'darwin-x64', os: 'darwin', cpu: 'x64' },
  'aarch64-apple-darwin': { name: 'darwin-arm64', os: 'darwin', cpu: 'arm64' },
  'x86_64-pc-windows-msvc': { name: 'win32-x64', os: 'win32', cpu: 'x64', exe: '.exe' },
};

function die(message) {
  process.stderr.write(`assemble: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { binaries: [], requireAll: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version') args.version = argv[++i];
    else if (a === '--out') args.out = argv[++i];
    else if (a === '--require-all') args.requireAll = true;
    else if (a.includes('=')) {
      const [target, binary] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
      if (!TARGETS[target]) die(`unknown target ${target} (known: ${Object.keys(TARGETS).join(', ')})`);
      args.binaries.push({ target, binary });
    } else die(`unexpected argument ${a}`);
  }
  if (!args.version || !args.out) die('usage: assemble.js --version X.Y.Z --out DIR [--require-all] TARGET=BINARY ...');
  args.version = args.version.replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(args.version)) die(`--version ${args.version} is not X.Y.Z`);
  if (args.binaries.length === 0) die('no TARGET=BINARY given');
  if (args.requireAll) {
    const missing = Object.keys(TARGETS).filter((t) => !args.binaries.some((b) => b.target === t));
    if (missing.length) die(`--require-all: no binary for ${missing.join(', ')}`);
  }
  return args;
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const here = __dirname;
  const out = path.resolve(args.out);
  fs.mkdirSync(out, { recursive: true });
  const common = {
    version: args.version,
    license: 'Apache-2.0',
    repository: { type: 'git', url: REPOSITORY },
    homepage: 'https://github.com/npm-attest/npm-attest#readme',
  };

  const binaries = {};
  const optionalDependencies = {};
  for (const { target, binary } of args.binaries) {
    const t = TARGETS[target];
    const name = `@npm-attest/${t.name}`;
    const dir = path.join(out, t.name);
    const file = `bin/npm-attest${t.exe || ''}`;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    const bytes = fs.readFileSync(binary);
    fs.writeFileSync(path.join(dir, file), bytes, { mode: 0o755 });
    fs.chmodSync(path.join(dir, file), 0o755);
    const manifest = {
      name,
      ...common,
      description: `The npm-attest binary for ${t.os} ${t.cpu}${t.libc ? ` (${t.libc})` : ''}; installed by the npm-attest package`,
      os: [t.os],
      cpu: [t.cpu],
      ...(t.libc ? { libc: [t.libc] } : {}),
      files: [file],
      preferUnplugged: true,
    };
    writeJson(path.join(dir, 'package.json'), manifest);
    fs.writeFileSync(
      path.join(dir, 'README.md'),
      `# ${name}\n\nThe \`npm-attest\` binary for ${t.os} ${t.cpu}${t.libc ? ` (${t.libc})` : ''} (Rust target \`${target}\`).\nInstall [\`npm-attest\`](https://www.npmjs.com/package/npm-attest) instead: it picks this package on this platform\nand checks the binary against the sha512 it records before running it.\n`,
    );
    binaries[name] = { file, sha512: `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}` };
    optionalDependencies[name] = args.version;
  }

  const main = path.join(out, 'npm-attest');
  fs.rmSync(main, { recursive: true, force: true });
  fs.mkdirSync(path.join(main, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(main, 'lib'), { recursive: true });
  fs.copyFileSync(path.join(here, 'npm-attest/bin/npm-attest.js'), path.join(main, 'bin/npm-attest.js'));
  fs.chmodSync(path.join(main, 'bin/npm-attest.js'), 0o755);
  writeJson(path.join(main, 'lib/binaries.json'), binaries);
  fs.copyFileSync(path.join(here, 'npm-attest/README.md'), path.join(main, 'README.md'));
  writeJson(path.join(main, 'package.json'), {
    name: 'npm-attest',
    ...common,
    description: 'Signed, verifiable SLSA build provenance for npm packages, and a verifier that checks who built them',
    keywords: ['provenance', 'sigstore', 'slsa', 'attestation', 'supply-chain', 'npm'],
    bin: { 'npm-attest': 'bin/npm-attest.js' },
    files: ['bin/npm-attest.js', 'lib/binaries.json'],
    engines: { node: '>=18' },
    optionalDependencies,
  });
  process.stdout.write(
    `${[...args.binaries.map(({ target }) => path.join(out, TARGETS[target].name)), main].join('\n')}\n`,
  );
}

main();
