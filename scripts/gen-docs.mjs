#!/usr/bin/env node
// Writes docs/manifests.md from the built schemas (dist/api/docs-gen.js). Run `npm run docs`
// (it builds first). `--check` compares instead of writing and exits 1 when the file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(repo, 'docs', 'manifests.md');
const { renderManifestsDoc } = await import(join(repo, 'dist', 'api', 'docs-gen.js'));
const text = renderManifestsDoc();

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run \`npm run docs\`\n`);
    process.exit(1);
  }
  process.stdout.write(`${target} is up to date\n`);
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
