// The npm baseline: signs each package's provenance statement the way `npm publish
// --provenance` does, one package after another, each with a fresh ephemeral key, a fresh
// Fulcio certificate, a DSSE signature and a Rekor `dsse` entry (@sigstore/sign).
//
// usage: node sigstore-js-sign.js BASE_URL TOKEN_FILE MANIFEST_JSON OUT_DIR
// MANIFEST_JSON: [{"tarball": path, "name": npm name, "version": v}, ...]
// Prints one JSON line: {"signed": N, "seconds": S}.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { FulcioSigner, RekorWitness, DSSEBundleBuilder } = require('@sigstore/sign');
const { bundleToJSON } = require('@sigstore/bundle');

const [baseURL, tokenFile, manifestFile, outDir] = process.argv.slice(2);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const packages = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));

function purl(name, version) {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;
}

// npm's statement shape (in-toto Statement v1, SLSA v1 predicate for GitHub Actions).
function statement(name, version, sha512) {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: purl(name, version), digest: { sha512 } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
        externalParameters: {
          workflow: { ref: 'refs/heads/main', repository: 'https://github.com/local/example', path: '.github/workflows/release.yml' },
        },
        internalParameters: {
          github: { event_name: 'push', repository_id: '1', repository_owner_id: '1', runner_environment: 'github-hosted' },
        },
        resolvedDependencies: [{ uri: 'git+https://github.com/local/example@refs/heads/main', digest: { gitCommit: '0'.repeat(40) } }],
      },
      runDetails: {
        builder: { id: 'https://github.com/actions/runner/github-hosted' },
        metadata: { invocationId: 'https://github.com/local/example/actions/runs/1/attempts/1' },
      },
    },
  };
}

async function main() {
  const start = process.hrtime.bigint();
  let signed = 0;
  for (const pkg of packages) {
    const sha512 = crypto.createHash('sha512').update(fs.readFileSync(pkg.tarball)).digest('hex');
    const payload = Buffer.from(JSON.stringify(statement(pkg.name, pkg.version, sha512)));
    // A new signer per package, as npm creates one per publish: new key, new certificate.
    const signer = new FulcioSigner({ fulcioBaseURL: baseURL, identityProvider: { getToken: async () => token } });
    const witness = new RekorWitness({ rekorBaseURL: baseURL, entryType: 'dsse' });
    const builder = new DSSEBundleBuilder({ signer, witnesses: [witness] });
    const bundle = await builder.create({ data: payload, type: 'application/vnd.in-toto+json' });
    const out = path.join(outDir, path.basename(pkg.tarball).replace(/\.tgz$/, '.sigstore.json'));
    fs.writeFileSync(out, JSON.stringify(bundleToJSON(bundle)));
    signed += 1;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ signed, seconds }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
