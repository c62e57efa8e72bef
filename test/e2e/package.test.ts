/**
 * The npm package: `npm pack` ships the built CLI, the JSON Schemas, the manifests, the examples and
 * the docs (no tests, no sources, nothing git ignores), and the tarball installed into an empty
 * prefix gives a working `claude-failover` bin.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const work = mkdtempSync(join(tmpdir(), 'cf-pack-'));
const prefix = join(work, 'prefix');
const home = join(work, 'home');
const installed = join(prefix, 'lib', 'node_modules', pkg.name);
const tmux = new PrivateTmuxServer();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Child env without the npm_* variables of an outer `npm test`, which would redirect npm. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? work, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

let packed: string[] = [];
let tarball = '';

beforeAll(async () => {
  mkdirSync(home);
  const r = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code}): ${r.stderr}`);
  const info = (JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[])[0];
  if (!info) throw new Error(`npm pack printed no package: ${r.stdout}`);
  tarball = join(work, info.filename);
  packed = info.files.map((f) => f.path).sort();
}, 90_000);

afterAll(() => {
  tmux.kill();
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

describe('npm pack', () => {
  it('ships the CLI, the JSON Schemas, manifests/, the examples, the docs and the license', () => {
    expect(existsSync(tarball)).toBe(true);
    for (const bin of Object.values(pkg.bin)) expect(packed).toContain(bin.replace(/^\.\//, ''));
    const schemas = readdirSync(join(REPO, 'schemas')).map((f) => `schemas/${f}`);
    expect(schemas.length).toBe(5);
    for (const f of [...schemas, 'hooks/claude-failover-observe', 'manifests/accounts.yaml', 'manifests/sessions.yaml', 'examples/ci/plan.sh', 'examples/ci/claude-failover-plan.yml', 'examples/gitops/claude-failover-pull.timer', 'examples/gitops/claude-failover-pull.service', 'docs/manifests.md', 'docs/migrating.md', 'LICENSE', 'README.md', 'package.json']) {
      expect(packed, f).toContain(f);
    }
    // The systemd example (control-plane issue), whenever it exists in the repository.
    const systemd = join(REPO, 'examples', 'systemd');
    if (existsSync(systemd)) {
      const files = listFiles(systemd).map((f) => relative(REPO, f));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(packed, f).toContain(f);
    }
  });

  it('ships no tests, no TypeScript sources and nothing git ignores (demo run dirs, credentials)', () => {
    expect(packed.filter((f) => /(^|\/)test\/|\.test\.|\.spec\./.test(f))).toEqual([]);
    // Only the simulator's launcher (a shell script the demo runs) is shipped from src/.
    expect(packed.filter((f) => (f.startsWith('src/') && f !== 'src/sim/bin/claude') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
    expect(packed).toContain('src/sim/bin/claude');
    expect(packed.filter((f) => /(^|\/)\.credentials\.json$/.test(f))).toEqual([]);
    // dist/ is built, hence ignored by git, and shipped on purpose; anything else git ignores is
    // local state (e.g. examples/demo/run/ after `make demo`) and must not ship.
    const candidates = packed.filter((f) => !f.startsWith('dist/'));
    const ignored = spawnSync('git', ['-C', REPO, 'check-ignore', '--stdin'], { input: candidates.join('\n'), encoding: 'utf8' });
    expect(ignored.stdout.split('\n').filter(Boolean)).toEqual([]);
  });
});

describe('the installed package (npm install -g --prefix <tmp> <tarball>)', () => {
  beforeAll(async () => {
    // The registry is used for the dependencies (the local cache first); bounded at 3 minutes.
    const r = await run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], { timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`npm install -g failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  }, 200_000);

  const cf = () => join(prefix, 'bin', 'claude-failover');
  const env = () => cleanEnv({ HOME: home, XDG_STATE_HOME: join(home, 'state') });

  it('puts a working claude-failover bin on the prefix: --version', async () => {
    expect(existsSync(cf())).toBe(true);
    expect(existsSync(join(prefix, 'bin', 'ccl-delegate'))).toBe(true);
    const r = await run(cf(), ['--version'], { env: env(), timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`claude-failover ${pkg.version}`);
  });

  it('ships the shell observer hook executable, and it runs from the install', () => {
    const observe = join(installed, 'hooks', 'claude-failover-observe');
    const dir = join(home, 'observe-session');
    mkdirSync(dir, { recursive: true });
    // Run the way Claude Code runs a hook command: through a shell, the script itself as the command.
    const r = spawnSync('/bin/sh', ['-c', `'${observe}' statusline '${dir}' 's1 · a' a`], { input: '{"hook_event_name":"Status","rate_limits":{"five_hour":{"used_percentage":12}}}', encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('s1 · a · 5h 12% · 7d –\n');
    expect(readFileSync(join(dir, 'events.jsonl'), 'utf8')).toContain('"account":"a"');
  });

  it('validates the bundled manifests/', async () => {
    const r = await run(cf(), ['validate', '-f', join(installed, 'manifests')], { env: env(), timeoutMs: 30_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^valid: 13 objects/);
  });

  it('plans the bundled manifests (dry-run exit 2), and their modelines point at the bundled schemas', async () => {
    const r = await run(cf(), ['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-f', join(installed, 'manifests'), '--tmux-socket', tmux.socket], { env: env(), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\.$/m);
    expect(tmux.serverRunning()).toBe(false);
    for (const f of readdirSync(join(installed, 'manifests')).filter((x) => x.endsWith('.yaml'))) {
      const file = join(installed, 'manifests', f);
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(file, 'utf8'));
      expect(m, f).not.toBeNull();
      expect(existsSync(join(dirname(file), m?.[1] ?? '')), `${f} -> ${m?.[1]}`).toBe(true);
    }
  });

  it('runs the bundled examples/ci/plan.sh with the installed bin', async () => {
    const out = join(work, 'plan-out');
    const r = await run('bash', [join(installed, 'examples', 'ci', 'plan.sh'), '--out', out, join(installed, 'manifests')], {
      env: cleanEnv({ HOME: home, CLAUDE_FAILOVER: cf(), RECONCILE_ARGS: `--tmux-socket ${tmux.socket}` }),
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\*\*Plan: \d+ to add, 0 to change, 0 to destroy\.\*\*/);
  });
});
