/**
 * Builds dist/ once before the e2e tests when the sources are newer than the build
 * (`make test` builds first, so this is a no-op there; it keeps `npx vitest` honest).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');

function newest(dir: string, ext: string): number {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n = Math.max(n, newest(p, ext));
    else if (e.name.endsWith(ext) && !e.name.endsWith('.test.ts')) n = Math.max(n, statSync(p).mtimeMs);
  }
  return n;
}

export function setup(): void {
  const src = newest(join(REPO, 'src'), '.ts');
  const dist = newest(join(REPO, 'dist'), '.js');
  if (existsSync(join(REPO, 'dist/cli/main.js')) && dist >= src) return;
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json')], { encoding: 'utf8', cwd: REPO });
  if (r.status !== 0) throw new Error(`build failed before tests:\n${r.stdout}${r.stderr}`);
  // The same second step as `npm run build`: the guard hook's bundle and code cache.
  const b = spawnSync(process.execPath, [join(REPO, 'scripts/bundle-guard.mjs')], { encoding: 'utf8', cwd: REPO });
  if (b.status !== 0) throw new Error(`guard bundle failed before tests:\n${b.stdout}${b.stderr}`);
}
