#!/usr/bin/env node
// Writes the generated docs from the build (run `npm run docs`, which builds first):
//   docs/manifests.md  from the schemas (dist/api/docs-gen.js)
//   docs/errors.md     from the CF_ERR_* catalogue (dist/core/error-codes.js)
// `--check` compares instead of writing and exits 1 when a file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderManifestsDoc } = await import(join(repo, 'dist', 'api', 'docs-gen.js'));
const { renderErrorsDoc } = await import(join(repo, 'dist', 'core', 'error-codes.js'));
const docs = [
  [join(repo, 'docs', 'manifests.md'), renderManifestsDoc()],
  [join(repo, 'docs', 'errors.md'), renderErrorsDoc()],
];

let stale = false;
for (const [target, text] of docs) {
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== text) {
      process.stderr.write(`${target} is out of date: run \`npm run docs\`\n`);
      stale = true;
    } else {
      process.stdout.write(`${target} is up to date\n`);
    }
  } else {
    await writeFile(target, text);
    process.stdout.write(`wrote ${target}\n`);
  }
}
if (stale) process.exit(1);
