// `npm run bench`: runs every benchmark script in bench/ in turn (each prints its own report), then
// the vitest benchmarks (bench/*.bench.test.ts). `npm run bench -- failover api-load` runs a subset.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const skip = new Set(['run-all.mjs', 'fleet.mjs', 'report-rss.mjs']);
const scripts = readdirSync(dir).filter((f) => f.endsWith('.mjs') && !skip.has(f) && (only.length === 0 || only.some((o) => f.includes(o)))).sort();
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== bench/${s}`);
  const r = spawnSync(process.execPath, [join(dir, s)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed += 1;
    console.log(`bench/${s} exited ${r.status}`);
  }
}
// The benchmarks that drive the real controller through the test helpers are vitest files.
const vitestFiles = readdirSync(dir).filter((f) => f.endsWith('.bench.test.ts') && (only.length === 0 || only.some((o) => f.includes(o)))).sort();
if (vitestFiles.length > 0) {
  console.log(`\n=== bench/${vitestFiles.length === 1 ? vitestFiles[0] : '*.bench.test.ts'} (vitest)`);
  const r = spawnSync(process.execPath, [join(dir, '..', 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(dir, 'vitest.config.ts'), ...vitestFiles.map((f) => join('bench', f))], { stdio: 'inherit', cwd: join(dir, '..') });
  if (r.status !== 0) {
    failed += 1;
    console.log(`bench/*.bench.test.ts exited ${r.status}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
