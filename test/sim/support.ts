/** Helpers for the simulator's tests: build once (locked), a private tmux server, temp dirs, polling, JSONL. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SIM_JS = join(REPO, 'dist/sim/claude-sim.js');
export const SIM_BIN = join(REPO, 'src/sim/bin/claude');

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (name.endsWith(ext)) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/**
 * Compiles src/sim (only) into dist/sim when the sources are newer than the output. A lock
 * directory keeps two vitest workers from writing dist/sim at the same time.
 */
export async function buildSim(): Promise<void> {
  const lock = join(REPO, 'dist', '.sim-build.lock');
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 90_000) rmdirSync(lock);
      } catch {
        // raced with the owner: retry
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the sim build lock');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    const fresh = existsSync(SIM_JS) && newestMtime(join(REPO, 'dist/sim'), '.js') >= newestMtime(join(REPO, 'src/sim'), '.ts');
    if (!fresh) {
      const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'src/sim/tsconfig.json')], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`sim build failed:\n${r.stdout}${r.stderr}`);
    }
  } finally {
    rmdirSync(lock);
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cf-sim-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}

/** The environment a launched agent gets: ours minus the variables that change Claude Code's behaviour. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('CLAUDE') || k.startsWith('TMUX') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export async function pollUntil<T>(fn: () => T | undefined | false, what: string, timeoutMs = 10_000, intervalMs = 40): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function readJsonl(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A private tmux server (`-L cf-sim-<rand> -f /dev/null`); always `kill()` it in teardown. */
export class PrivateTmux {
  readonly socket = `cf-sim-${randomBytes(5).toString('hex')}`;

  tmux(args: string[], input?: string): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Starts `argv` in a new detached session (200x50) with exactly `env`, in `cwd`; the pane stays after exit. */
  start(name: string, argv: string[], env: Record<string, string>, cwd: string): void {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // remain-on-exit is set globally in the same command, before the pane can exit; exit-empty off
    // keeps the server up between sessions (kill() ends it).
    execFileSync('tmux', [
      '-L', this.socket, '-f', '/dev/null', 'start-server', ';', 'set-option', '-s', 'exit-empty', 'off', ';', 'set-option', '-g', 'remain-on-exit', 'on', ';',
      'new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', cwd, ...envArgs, '--', ...argv,
    ], { env: cleanEnv({}), stdio: 'ignore' });
  }

  capture(name: string): string {
    return this.tmux(['capture-pane', '-p', '-J', '-t', `=${name}:`]);
  }

  /** Text delivery the way the controller does it: load-buffer from stdin, then a bracketed paste. */
  paste(name: string, text: string | Buffer, opts: { raw?: boolean; enterInSameCommand?: boolean } = {}): void {
    const buf = `b${randomBytes(4).toString('hex')}`;
    execFileSync('tmux', ['-L', this.socket, 'load-buffer', '-b', buf, '-'], { input: text, stdio: ['pipe', 'ignore', 'pipe'] });
    const paste = ['paste-buffer', '-p', ...(opts.raw === false ? [] : ['-r']), '-d', '-b', buf, '-t', `=${name}:`];
    this.tmux(opts.enterInSameCommand === true ? [...paste, ';', 'send-keys', '-t', `=${name}:`, 'Enter'] : paste);
  }

  keys(name: string, ...keys: string[]): void {
    this.tmux(['send-keys', '-t', `=${name}:`, ...keys]);
  }

  paneDead(name: string): { dead: boolean; status: number | undefined } {
    const out = this.tmux(['display-message', '-p', '-t', `=${name}:`, '#{pane_dead} #{pane_dead_status}']).trim();
    const [dead, status] = out.split(' ');
    // tmux 3.3a sometimes never records the exit status (the process stays a zombie until the
    // server's next SIGCHLD): `dead` is reliable, `status` may stay undefined.
    const code = status === undefined || status === '' ? undefined : Number(status);
    return { dead: dead === '1', status: code };
  }

  kill(): void {
    try {
      execFileSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // no server left
    }
  }
}
