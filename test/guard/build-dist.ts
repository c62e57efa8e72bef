/**
 * Builds dist/ (tsc, then the bundled hook, as `npm run build` does) once for the guard's end-to-end
 * tests (several test files may ask at the same time: a lock directory serialises the build, and a
 * fresh dist is reused).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const HOOK_ENTRY = join(ROOT, 'dist', 'cli', 'guard-hook.js');
/** The bundled entry (scripts/bundle-guard.mjs): what deployGuard deploys by default. */
export const BUNDLED_HOOK_ENTRY = join(ROOT, 'dist', 'guard', 'guard-hook.cjs');
export const BUNDLE = join(ROOT, 'dist', 'guard', 'guard-hook.bundle.cjs');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function newestGuardSource(): number {
  return Math.max(newestSource(join(ROOT, 'src', 'guard')), statSync(join(ROOT, 'src', 'cli', 'guard-hook.ts')).mtimeMs);
}

function modulesFresh(): boolean {
  try {
    const built = Math.min(statSync(HOOK_ENTRY).mtimeMs, statSync(join(ROOT, 'dist', 'guard', 'policy', 'analyzer.js')).mtimeMs);
    return built >= newestGuardSource();
  } catch {
    return false;
  }
}

/** The bundle is current: newer than the sources and not older than the module entry (see defaultHookEntry). */
function bundleFresh(): boolean {
  try {
    const b = statSync(BUNDLE).mtimeMs;
    return statSync(BUNDLED_HOOK_ENTRY).isFile() && b >= newestGuardSource() && b >= statSync(HOOK_ENTRY).mtimeMs && statSync(join(ROOT, 'scripts', 'bundle-guard.mjs')).mtimeMs <= b;
  } catch {
    return false;
  }
}

function fresh(): boolean {
  return modulesFresh() && bundleFresh();
}

export async function buildDist(): Promise<void> {
  if (fresh()) return;
  const lock = join(tmpdir(), `cf-guard-build-${Buffer.from(ROOT).toString('hex').slice(-24)}.lock`);
  const deadline = Date.now() + 170_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (fresh()) return;
      if (Date.now() > deadline) throw new Error('timed out waiting for another test to build dist/');
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (fresh()) return;
    if (!modulesFresh()) {
      try {
        execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
      } catch (err) {
        // Type errors in files other engineers are editing still emit; what matters is that the guard was built.
        if (!modulesFresh()) throw err;
      }
    }
    // As `npm run build` does: the single-file hook with its code cache, after the modules.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-guard.mjs')], { cwd: ROOT, stdio: 'pipe' });
  } finally {
    rmdirSync(lock);
  }
}
