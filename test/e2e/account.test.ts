/**
 * Account onboarding with the built CLI: `account add` (dirs, modes, links, trust, manifest; and its
 * dry-run), `account check` (credentials, last usage, links, eligibility), and `account login`
 * against a stand-in `claude` that speaks the real CLI's login, on a real private tmux server.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../support/cli.js';
import { FAKE_LOGIN_CODE, writeFakeClaudeLogin } from '../support/fake-claude-login.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const SHARED = ['projects', 'file-history', 'session-env', 'todos', 'shell-snapshots', 'plans', 'tasks'];

let work: string;
let home: string;
let manifests: string;
let tmux: PrivateTmuxServer;

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: home, XDG_STATE_HOME: join(home, 'state'), CLAUDE_FAILOVER_MANIFESTS: '', TMUX: '', ...extra };
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'cf-account-'));
  home = join(work, 'home');
  manifests = join(work, 'manifests');
  mkdirSync(home);
  mkdirSync(manifests);
  mkdirSync(join(home, 'src', 'web'), { recursive: true });
  writeFileSync(join(manifests, 'accounts.yaml'), [
    'apiVersion: claudefailover.io/v1alpha1', 'kind: Account', 'metadata:', '  name: main', 'spec:', '  configDir: ~/.claude-accounts/main', '  priority: 10', '  sharedStateDir: ~/.claude-accounts/shared',
    '---', 'apiVersion: claudefailover.io/v1alpha1', 'kind: Account', 'metadata:', '  name: backup', 'spec:', '  configDir: ~/.claude-accounts/backup', '  priority: 20', '  sharedStateDir: ~/.claude-accounts/shared', '',
  ].join('\n'));
  writeFileSync(join(manifests, 'projects.yaml'), ['apiVersion: claudefailover.io/v1alpha1', 'kind: Project', 'metadata:', '  name: web', 'spec:', '  path: ~/src/web', ''].join('\n'));
  tmux = new PrivateTmuxServer();
});

afterEach(() => {
  tmux.kill();
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${e.name}/`, ...listTree(join(dir, e.name)).map((x) => `${e.name}/${x}`)] : [e.name]));
}

describe('account add', () => {
  it('--dry-run prints the plan and the manifest, and writes nothing', async () => {
    const before = readFileSync(join(manifests, 'accounts.yaml'), 'utf8');
    const r = await runCli(['account', 'add', 'spare', '-f', manifests, '--dry-run'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('account add spare (dry-run: nothing is written)');
    expect(r.stdout).toContain(`+ directory ${join(home, '.claude-accounts', 'spare')} (mode 0700)`);
    expect(r.stdout).toContain(`+ link ${join(home, '.claude-accounts', 'spare', 'todos')} -> ${join(home, '.claude-accounts', 'shared', 'todos')}`);
    expect(r.stdout).toContain(`trust 1 project folder(s): ${join(home, 'src', 'web')}`);
    expect(r.stdout).toContain(`+ Account/spare in ${join(manifests, 'accounts.yaml')}`);
    // The manifest: beside the others, priority after the last, the same shared store.
    expect(r.stdout).toMatch(/kind: Account\nmetadata:\n {2}name: spare\nspec:\n {2}configDir: ~\/\.claude-accounts\/spare\n {2}priority: 30\n {2}sharedStateDir: ~\/\.claude-accounts\/shared\n/);
    expect(r.stdout).toContain(`claude-failover account login spare -f ${manifests}`);
    expect(listTree(home)).toEqual(['src/', 'src/web/']);
    expect(readFileSync(join(manifests, 'accounts.yaml'), 'utf8')).toBe(before);
  }, 90_000);

  it('creates the config dir (0700), the shared links, trust (0600) and the manifest; the set stays valid', async () => {
    const r = await runCli(['account', 'add', 'spare', '--priority', '5', '-f', manifests], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const dir = join(home, '.claude-accounts', 'spare');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const d of SHARED) {
      expect(lstatSync(join(dir, d)).isSymbolicLink(), d).toBe(true);
      expect(readlinkSync(join(dir, d))).toBe(join(home, '.claude-accounts', 'shared', d));
      expect(statSync(join(home, '.claude-accounts', 'shared', d)).isDirectory()).toBe(true);
    }
    const claudeJson = JSON.parse(readFileSync(join(dir, '.claude.json'), 'utf8')) as Record<string, unknown>;
    expect(claudeJson).toEqual({ hasCompletedOnboarding: true, projects: { [join(home, 'src', 'web')]: { hasTrustDialogAccepted: true } } });
    expect(statSync(join(dir, '.claude.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))).toEqual({ skipDangerousModePermissionPrompt: true });
    expect(statSync(join(dir, 'settings.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, '.credentials.json'))).toBe(false);
    const yaml = readFileSync(join(manifests, 'accounts.yaml'), 'utf8');
    expect(yaml).toMatch(/---\n# Added by `claude-failover account add` on \d{4}-\d\d-\d\d; log it in with `claude-failover account login spare`\.\napiVersion: claudefailover\.io\/v1alpha1\nkind: Account\nmetadata:\n {2}name: spare\nspec:\n {2}configDir: ~\/\.claude-accounts\/spare\n {2}priority: 5\n/);
    const v = await runCli(['validate', '-f', manifests], { env: env() });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^valid: 4 objects \(3 Accounts, 1 Project\)/);
    // Idempotent where it must be: the same name again is refused, nothing changes.
    const again = await runCli(['account', 'add', 'spare', '-f', manifests], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('an Account "spare" is already declared');
    expect(readFileSync(join(manifests, 'accounts.yaml'), 'utf8')).toBe(yaml);
  }, 90_000);

  it('keeps an existing config dir (mode tightened) and leaves a real shared dir alone, saying what to do', async () => {
    const dir = join(home, 'old-acct');
    mkdirSync(join(dir, 'todos'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, 'todos', 'a.json'), '[]');
    mkdirSync(join(dir, 'projects'), { recursive: true, mode: 0o755 });
    const r = await runCli(['account', 'add', 'old', '--config-dir', dir, '-f', manifests], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`~ mode of ${dir}: 0755 -> 0700`);
    // todos/ holds uniquely named files: adoptable. projects/ is never merged automatically.
    expect(r.stdout).toContain(`! ${join(dir, 'todos')} is a real directory: left alone; adopt it (moves its files into ${join(home, '.claude-accounts', 'shared', 'todos')}, never overwriting, then links): claude-failover account link old --adopt`);
    expect(r.stdout).toContain(`! ${join(dir, 'projects')} is a real directory: left alone; move its contents into ${join(home, '.claude-accounts', 'shared', 'projects')} by hand and remove it (docs/migrating.md): it is never merged automatically`);
    expect(r.stdout).not.toMatch(/projects is a real directory.*--adopt/);
    expect(r.stdout).toContain('2 item(s) marked "!" need you');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'todos', 'a.json'), 'utf8')).toBe('[]');
    expect(lstatSync(join(dir, 'projects')).isDirectory()).toBe(true);
    expect(lstatSync(join(dir, 'file-history')).isSymbolicLink()).toBe(true);
  }, 90_000);

  it('refuses a bad name and a config dir another account has, writing nothing', async () => {
    const bad = await runCli(['account', 'add', 'Bad_Name', '-f', manifests], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must be a DNS-1123 label');
    const taken = await runCli(['account', 'add', 'other', '--config-dir', '~/.claude-accounts/main', '-f', manifests], { env: env() });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('is already the config dir of Account "main"');
    expect(listTree(home)).toEqual(['src/', 'src/web/']);
  }, 90_000);
});

describe('account check', () => {
  function credentials(dir: string, expiresAt: number, mode = 0o600, refresh = true): string {
    mkdirSync(dir, { recursive: true });
    const token = `sk-ant-oat01-check-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: token, ...(refresh ? { refreshToken: 'r' } : {}), expiresAt, subscriptionType: 'max' } }), { mode });
    return token;
  }

  it('reports credentials, last usage, links and who can take the pool; never a token', async () => {
    const state = join(work, 'state');
    mkdirSync(state);
    const now = Date.now();
    writeFileSync(join(state, 'status.json'), JSON.stringify({
      'Account/main': { usage: { fiveHour: { utilization: 95, resetsAt: new Date(now + 3_600_000).toISOString(), observedAt: new Date(now - 600_000).toISOString() }, sevenDay: { utilization: 30, observedAt: new Date(now - 600_000).toISOString() } } },
    }));
    const t1 = credentials(join(home, '.claude-accounts', 'main'), now + 5 * 3_600_000);
    const t2 = credentials(join(home, '.claude-accounts', 'backup'), now + 5 * 3_600_000, 0o644);
    const r = await runCli(['account', 'check', '-f', manifests, '--state-dir', state], { env: env() });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^NAME +PRIORITY +CREDENTIALS +EXPIRES +5H% +7D% +USAGE AGE +LINKS +CAN TAKE POOL$/m);
    expect(r.stdout).toMatch(/^main +10 +ok \(max\) +in [45]h +95 +30 +10m +unlinked +no$/m);
    expect(r.stdout).toMatch(/^backup +20 +ok \(max\) +in [45]h +\? +\? +<none> +unlinked +yes$/m);
    expect(r.stdout).toContain('main: 5-hour usage 95% >= its threshold 90%');
    expect(r.stdout).toContain('backup: warning: .credentials.json has mode 0644; it should be 0600 (chmod 600)');
    const json = await runCli(['account', 'check', '-f', manifests, '--state-dir', state, '-o', 'json'], { env: env() });
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout) as { accounts: { name: string; canTakePool: boolean; credentials: { state: string; refreshToken: boolean } }[] };
    expect(parsed.accounts.map((a) => [a.name, a.canTakePool, a.credentials.state, a.credentials.refreshToken])).toEqual([['main', false, 'ok', true], ['backup', true, 'ok', true]]);
    for (const out of [r.stdout, r.stderr, json.stdout]) {
      expect(out).not.toContain(t1);
      expect(out).not.toContain(t2);
    }
  }, 90_000);

  it('exits 0 when every account can take the pool; says why one cannot (missing, expired)', async () => {
    const now = Date.now();
    credentials(join(home, '.claude-accounts', 'main'), now + 3_600_000);
    credentials(join(home, '.claude-accounts', 'backup'), now + 3_600_000);
    const ok = await runCli(['account', 'check', '-f', manifests, '--state-dir', join(work, 'none')], { env: env() });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('(no usage recorded in');
    // Expired, and no refresh token: nothing can renew it.
    credentials(join(home, '.claude-accounts', 'backup'), now - 60_000, 0o600, false);
    rmSync(join(home, '.claude-accounts', 'main', '.credentials.json'));
    const bad = await runCli(['account', 'check', '-f', manifests, '--state-dir', join(work, 'none')], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain('main: not logged in: claude-failover account login main');
    expect(bad.stdout).toMatch(/^backup +20 +expired \(max\) +passed /m);
    expect(bad.stdout).toContain('backup: access token expired; log in again: claude-failover account login backup');
  }, 90_000);
  it('resolves a relative --state-dir against the working directory (as every command does)', async () => {
    credentials(join(home, '.claude-accounts', 'main'), Date.now() + 3_600_000);
    mkdirSync(join(work, 'rel-state'));
    const r = await runCli(['account', 'check', '-f', manifests, '--state-dir', 'rel-state', '-o', 'json'], { env: env(), cwd: work });
    expect((JSON.parse(r.stdout) as { stateDir: string }).stateDir).toBe(join(work, 'rel-state'));
  }, 90_000);
});

describe('account login (real tmux, a stand-in claude)', () => {
  function startLogin(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [CLI, 'account', 'login', ...args, '--tmux-socket', tmux.socket, '--timeout', '60s'], { env: { ...process.env, NO_COLOR: '1', ...env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, exited, output: () => out };
  }

  async function paneShows(session: string, text: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pane = tmux.run(['capture-pane', '-p', '-t', `=${session}:`]).stdout;
      if (pane.includes(text)) return pane;
      if (Date.now() > deadline) throw new Error(`pane of ${session} never showed ${JSON.stringify(text)}; it shows:\n${pane}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function type(session: string, text: string): void {
    expect(tmux.run(['send-keys', '-t', `=${session}:`, '-l', text]).status).toBe(0);
    expect(tmux.run(['send-keys', '-t', `=${session}:`, 'Enter']).status).toBe(0);
  }

  it('runs `claude auth login --claudeai` under the account\'s CLAUDE_CONFIG_DIR and waits for the credentials', async () => {
    const fake = writeFakeClaudeLogin(work);
    const l = startLogin(['main', '-f', manifests, '--command', fake.command]);
    const pane = await paneShows('login-main', 'Paste code here if prompted >');
    expect(pane).toContain('https://claude.example.invalid/oauth/authorize');
    expect(l.output()).toContain(`attach:  tmux -L ${tmux.socket} attach -t =login-main`);
    type('login-main', FAKE_LOGIN_CODE);
    expect(await l.exited, l.output()).toBe(0);
    const dir = join(home, '.claude-accounts', 'main');
    expect(statSync(join(dir, '.credentials.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(l.output()).toMatch(/logged in: main \(max subscription\); credentials in .*\.credentials\.json, access token expires \d{4}-/);
    expect(l.output()).not.toContain(fake.token);
    const calls = readFileSync(fake.invocations, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { args: string[]; configDir: string });
    expect(calls.map((c) => c.args.join(' '))).toEqual(['auth --help', 'auth login --help', 'auth login --claudeai']);
    expect(new Set(calls.map((c) => c.configDir))).toEqual(new Set([dir]));
    expect(tmux.sessions()).toEqual([]);
    // Logged in: a second run says so and starts nothing.
    const again = await runCli(['account', 'login', 'main', '-f', manifests, '--command', fake.command, '--tmux-socket', tmux.socket], { env: env() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('account main is logged in already');
    expect(readFileSync(fake.invocations, 'utf8').trim().split('\n')).toHaveLength(3);
  }, 90_000);

  it('a login that fails (wrong code) exits 1 with the CLI\'s last lines; no credentials', async () => {
    const fake = writeFakeClaudeLogin(work);
    const l = startLogin(['backup', '-f', manifests, '--command', fake.command]);
    await paneShows('login-backup', 'Paste code here if prompted >');
    type('login-backup', 'not-the-code');
    expect(await l.exited).toBe(1);
    expect(l.output()).toContain('account login backup: the login ended without credentials (exit 1); its last lines:');
    expect(l.output()).toContain('OAuth error: Invalid code');
    expect(existsSync(join(home, '.claude-accounts', 'backup', '.credentials.json'))).toBe(false);
    expect(tmux.sessions()).toEqual([]);
  }, 90_000);

  it('with a CLI without `auth login`, types /login into the TUI and /exit once logged in', async () => {
    const fake = writeFakeClaudeLogin(work, { slashOnly: true });
    const l = startLogin(['main', '-f', manifests, '--command', fake.command]);
    await paneShows('login-main', 'Paste code here if prompted >');
    type('login-main', FAKE_LOGIN_CODE);
    expect(await l.exited, l.output()).toBe(0);
    expect(existsSync(join(home, '.claude-accounts', 'main', '.credentials.json'))).toBe(true);
    const calls = readFileSync(fake.invocations, 'utf8').trim().split('\n').map((x) => (JSON.parse(x) as { args: string[] }).args.join(' '));
    expect(calls).toEqual(['auth --help', 'auth login --help', '']);
    expect(tmux.sessions()).toEqual([]);
  }, 90_000);

  it('names the accounts there are when the name is unknown', async () => {
    const r = await runCli(['account', 'login', 'mian', '-f', manifests, '--tmux-socket', tmux.socket], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no Account "mian" in the manifests (did you mean "main"?); accounts: main, backup');
  }, 90_000);
});
