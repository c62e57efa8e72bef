/**
 * The npm package, as an operator gets it: `npm pack` ships the built CLI, the JSON Schemas, the
 * manifests, the examples and the docs (no tests, no sources, no source maps, nothing git ignores),
 * and the tarball installed globally into an empty prefix BY A NON-ROOT USER (created here with
 * useradd when the suite runs as root, as CI does) installs without a single npm warning (no
 * EBADENGINE on Node >= 20.19, no install scripts to approve) and works: --help, validate,
 * account add --dry-run, the guard's native parser, and the demo with a live failover, which
 * writes only into the user's own state dir, never into the install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string>; engines: { node: string } };
const work = mkdtempSync(join(tmpdir(), 'cf-pack-'));
const prefix = join(work, 'prefix');
const home = join(work, 'home');
const installed = join(prefix, 'lib', 'node_modules', pkg.name);

/** The user the install runs as: a throwaway system user when we are root, else ourselves. */
interface Installer {
  name: string;
  uid: number;
  gid: number;
  created: boolean;
}

function installerUser(): Installer {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return { name: process.env.USER ?? 'me', uid, gid: process.getgid?.() ?? uid, created: false };
  const name = `cfpkg${randomBytes(3).toString('hex')}`;
  const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd ${name} failed (${r.status}): ${r.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g'), created: true };
}

let user: Installer | undefined;

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

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; asUser?: boolean }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const as = opts.asUser && user ? { uid: user.uid, gid: user.gid } : {};
    const child = spawn(cmd, args, { cwd: opts.cwd ?? work, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...as });
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
  if (user) spawnSync('tmux', ['-S', join(work, 'tmux.sock'), 'kill-server'], { stdio: 'ignore', uid: user.uid, gid: user.gid });
  // The user's npm cache and the installed tree: thousands of files (slow on a loaded machine).
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  if (user?.created) spawnSync('userdel', [user.name], { stdio: 'ignore' });
}, 180_000);

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
    // No source maps: they would point at src/, which is not shipped.
    expect(packed.filter((f) => f.endsWith('.map'))).toEqual([]);
    // The parser's native binaries ship under dist/ (so no dependency needs an install script).
    expect(packed).toContain('dist/node_modules/tree-sitter/index.js');
    expect(packed).toContain('dist/node_modules/tree-sitter-bash/tree-sitter-bash.wasm');
    // dist/ is built, hence ignored by git, and shipped on purpose; anything else git ignores is
    // local state (e.g. examples/demo/run/ after `make demo`) and must not ship.
    const candidates = packed.filter((f) => !f.startsWith('dist/'));
    const ignored = spawnSync('git', ['-C', REPO, 'check-ignore', '--stdin'], { input: candidates.join('\n'), encoding: 'utf8' });
    expect(ignored.stdout.split('\n').filter(Boolean)).toEqual([]);
  });
});

describe('the installed package (npm install -g --prefix <tmp> <tarball>, as a non-root user)', () => {
  let install: Result;
  const cf = () => join(prefix, 'bin', 'claude-failover');
  const sock = () => join(work, 'tmux.sock');
  /** The user's environment: its own HOME (XDG_STATE_HOME unset: the default applies), npm cache and PATH. */
  const env = (extra: NodeJS.ProcessEnv = {}) => {
    const e = cleanEnv({ HOME: home, USER: user?.name ?? '', LOGNAME: user?.name ?? '', PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false', TMUX: '', ...extra });
    delete e.XDG_STATE_HOME;
    delete e.XDG_RUNTIME_DIR;
    delete e.CLAUDE_FAILOVER_MANIFESTS;
    delete e.CLAUDE_FAILOVER_STATE_DIR;
    return e;
  };

  beforeAll(async () => {
    user = installerUser();
    // The user owns its home, the prefix and the cache; the tarball is world-readable.
    chmodSync(work, 0o755);
    for (const d of [home, prefix, join(work, 'npm-cache')]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, user.uid, user.gid);
    }
    chmodSync(tarball, 0o644);
    // The registry is used for the dependencies (an empty cache: the user has none); default log
    // level, so that every warning npm has shows on stderr. Bounded at 4 minutes.
    install = await run('npm', ['install', '-g', '--prefix', prefix, tarball, '--no-audit', '--no-fund'], { env: env(), timeoutMs: 240_000, asUser: true, cwd: home });
  }, 260_000);

  it('installs as a non-root user with no warning from npm (no EBADENGINE, no install scripts)', () => {
    expect(user?.uid).not.toBe(0);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr.trim(), install.stderr).toBe('');
    expect(install.stdout).toMatch(/added \d+ packages?/);
    // No package of the installed tree has an install script to run or to approve.
    const scripted = spawnSync('grep', ['-rlE', '"(preinstall|install|postinstall)":', '--include=package.json', join(installed, 'node_modules')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const withScripts = scripted.filter((f) => {
      const p = JSON.parse(readFileSync(f, 'utf8')) as { scripts?: Record<string, string>; gypfile?: boolean };
      return !!(p.scripts?.preinstall || p.scripts?.install || p.scripts?.postinstall);
    });
    expect(withScripts).toEqual([]);
    // A binding.gyp without an install script gets an implicit `node-gyp rebuild`: none either.
    const gyp = spawnSync('find', [join(installed, 'node_modules'), '-name', 'binding.gyp'], { encoding: 'utf8' }).stdout.trim();
    expect(gyp).toBe('');
  });

  it('puts working bins on the prefix: --version, --help', async () => {
    expect(existsSync(cf())).toBe(true);
    expect(existsSync(join(prefix, 'bin', 'ccl-delegate'))).toBe(true);
    const v = await run(cf(), ['--version'], { env: env(), timeoutMs: 30_000, asUser: true });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(`claude-failover ${pkg.version}`);
    const h = await run(cf(), ['--help'], { env: env(), timeoutMs: 30_000, asUser: true });
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('Usage: claude-failover <command> [options]');
    expect(h.stdout).toMatch(/^ {2}account +Accounts: account add\|login\|check\|link /m);
    expect(h.stderr).toBe('');
  });

  it('ships the shell observer hook executable, and it runs from the install', async () => {
    const observe = join(installed, 'hooks', 'claude-failover-observe');
    const dir = join(home, 'observe-session');
    // Run the way Claude Code runs a hook command: through a shell, the script itself as the command.
    const r = spawnSync('/bin/sh', ['-c', `mkdir -p '${dir}' && printf '%s' '{"hook_event_name":"Status","rate_limits":{"five_hour":{"used_percentage":12}}}' | '${observe}' statusline '${dir}' 's1 · a' a`], { encoding: 'utf8', env: env(), uid: user?.uid, gid: user?.gid });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('s1 · a · 5h 12% · 7d –\n');
    expect(readFileSync(join(dir, 'events.jsonl'), 'utf8')).toContain('"account":"a"');
  });

  it('validates the bundled manifests/', async () => {
    const r = await run(cf(), ['validate', '-f', join(installed, 'manifests')], { env: env(), timeoutMs: 30_000, asUser: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^valid: 13 objects/);
  });

  it('account add --dry-run prints the plan and the manifest and writes nothing', async () => {
    const before = readFileSync(join(installed, 'manifests', 'accounts.yaml'), 'utf8');
    const r = await run(cf(), ['account', 'add', 'backup2', '--dry-run', '-f', join(installed, 'manifests')], { env: env(), timeoutMs: 30_000, asUser: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('account add backup2 (dry-run: nothing is written)');
    expect(r.stdout).toContain(`+ directory ${join(home, '.claude-accounts', 'backup2')} (mode 0700)`);
    expect(r.stdout).toMatch(/name: backup2\nspec:\n {2}configDir: ~\/\.claude-accounts\/backup2\n {2}priority: 40\n/);
    expect(existsSync(join(home, '.claude-accounts'))).toBe(false);
    expect(readFileSync(join(installed, 'manifests', 'accounts.yaml'), 'utf8')).toBe(before);
  });

  it('plans the bundled manifests (dry-run exit 2), and their modelines point at the bundled schemas', async () => {
    const r = await run(cf(), ['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-f', join(installed, 'manifests'), '--tmux-socket', sock()], { env: env(), timeoutMs: 60_000, asUser: true });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\.$/m);
    expect(existsSync(sock())).toBe(false);
    for (const f of readdirSync(join(installed, 'manifests')).filter((x) => x.endsWith('.yaml'))) {
      const file = join(installed, 'manifests', f);
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(file, 'utf8'));
      expect(m, f).not.toBeNull();
      expect(existsSync(join(dirname(file), m?.[1] ?? '')), `${f} -> ${m?.[1]}`).toBe(true);
    }
  });

  it('runs the bundled examples/ci/plan.sh with the installed bin', async () => {
    const out = join(home, 'plan-out');
    const r = await run('bash', [join(installed, 'examples', 'ci', 'plan.sh'), '--out', out, join(installed, 'manifests')], {
      env: env({ CLAUDE_FAILOVER: cf(), RECONCILE_ARGS: `--tmux-socket ${sock()}` }),
      timeoutMs: 60_000,
      asUser: true,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\*\*Plan: \d+ to add, 0 to change, 0 to destroy\.\*\*/);
  });

  it('the installed guard uses its native shell parser (no install script built it)', async () => {
    const r = await run(cf(), ['guard', 'test', 'rm -rf ~', '-o', 'json'], { env: env(), timeoutMs: 30_000, asUser: true });
    expect(r.code, r.stderr).toBe(2);
    const v = JSON.parse(r.stdout) as { decision: string; parser: string };
    expect(v.decision).toBe('deny');
    expect(v.parser).toBe('native');
  });

  it('runs the demo with a live failover in the user\'s state dir, writing nothing into the install', async () => {
    const listing = () => spawnSync('find', [installed, '-newer', tarball, '-print'], { encoding: 'utf8' }).stdout;
    const before = listing();
    const r = await run(cf(), ['demo', '--exit-after-failover', '--failover-after', '5s'], { env: env(), timeoutMs: 170_000, asUser: true, cwd: home });
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    const demoDir = join(home, '.local', 'state', 'claude-failover-demo');
    expect(out).toContain(`demo: in ${demoDir} (manifests/, run/)`);
    expect(out).toMatch(/FAILOVER COMPLETE: the pool moved from alpha to beta/);
    expect(out).toMatch(/sessions: +claude-failover get sessions --state-dir /);
    expect(out).toMatch(/demo: stopped; nothing left running\./);
    expect(existsSync(join(demoDir, 'run', 'state', 'events.jsonl'))).toBe(true);
    expect(existsSync(join(installed, 'examples', 'demo', 'run'))).toBe(false);
    expect(listing()).toBe(before);
  }, 180_000);
});
