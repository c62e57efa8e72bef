// `npm run bench`: runs every benchmark script in bench/ in turn (each prints its own report).
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
process.exit(failed > 0 ? 1 : 0);
