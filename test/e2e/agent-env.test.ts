/**
 * Issue 14.1: agents get a clean environment. The controller runs with secrets in its environment
 * (a DelegationPolicy's `apiKey: {env: CF_JOBS_API_KEY}`, a Telegram bot token, a webhook secret,
 * the CLI's token variable, and one variable no manifest mentions); none of them may reach a pane:
 * not `tmux show-environment -g`, not `/proc/<pane pid>/environ`, not the output of `env` run by a
 * task (pane and transcript). The session's declared `env`, CLAUDE_CONFIG_DIR and tmux's own TMUX
 * and TMUX_PANE do reach it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writePool } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The controller's secrets: every value contains "SECRET" so that one search finds any of them. */
const SECRETS = {
  CF_JOBS_API_KEY: 'sk-jobs-SECRET-4711',
  CF_TELEGRAM_TOKEN: '123:tg-SECRET-99',
  CF_WEBHOOK_SECRET: 'wh-SECRET-7',
  CLAUDE_FAILOVER_TOKEN: 'api-SECRET-1',
  CF_CONTROLLER_ONLY: 'ctl-SECRET-0',
};

function setup() {
  const tmux = new PrivateTmuxServer();
  const root = tempDir('agentenv');
  cleanups.push(async () => {
    tmux.kill();
    await removeAgentTree(root);
  });
  const simLog = join(root, 'sim.jsonl');
  const manifests = writePool(root, { sessions: [{ name: 'e1', extra: `  env:\n    CLAUDE_SIM_LOG: "${simLog}"\n    CF_SESSION_VAR: "declared"\n` }] });
  // The secrets the controller reads, by reference (the endpoints are never reached in this test).
  writeFileSync(join(manifests, 'secrets.yaml'), `apiVersion: claudefailover.io/v1alpha1
kind: DelegationPolicy
metadata: {name: jobs}
spec: {endpoint: "http://127.0.0.1:9/", apiKey: {env: CF_JOBS_API_KEY}, providers: [codex]}
---
apiVersion: claudefailover.io/v1alpha1
kind: Notifier
metadata: {name: tg}
spec: {type: telegram, telegram: {botToken: {env: CF_TELEGRAM_TOKEN}, chatId: 1, apiBase: "http://127.0.0.1:9"}, events: [TaskFailed]}
---
apiVersion: claudefailover.io/v1alpha1
kind: Notifier
metadata: {name: wh}
spec: {type: webhook, webhook: {url: "http://127.0.0.1:9/hook", secret: {env: CF_WEBHOOK_SECRET}}, events: [TaskFailed]}
`);
  const stateDir = join(root, 'state');
  const start = () => {
    // As if started from a Claude Code shell too: those variables must not reach agents either.
    const d = new DaemonProcess(['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket, '--resync', '2s'], { ...SECRETS, CLAUDECODE: '1', CLAUDE_CODE_CHILD_SESSION: '1' });
    cleanups.push(() => d.stop('SIGKILL'));
    return d;
  };
  return { tmux, root, stateDir, start, project: join(root, 'projects', 'p') };
}

function status(stateDir: string): Record<string, { activity?: string; conversationId?: string }> {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8')) as Record<string, { activity?: string }>;
  } catch {
    return {};
  }
}

function procEnv(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Every file under `dir` whose text contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesContaining(p, needle));
    else if (e.isFile() && statSync(p).size < 8 << 20 && readFileSync(p, 'utf8').includes(needle)) out.push(p);
  }
  return out;
}

/** What may be in an agent's environment: the allowlisted base, its declared env, CLAUDE_CONFIG_DIR, tmux's own. */
const ALLOWED = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TMUX_TMPDIR|XDG_[A-Z_]+|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|NODE_EXTRA_CA_CERTS|SSL_CERT_(FILE|DIR)|TERM|TERM_PROGRAM|TERM_PROGRAM_VERSION|COLORTERM|PWD|TMUX|TMUX_PANE|CLAUDE_CONFIG_DIR|CLAUDE_SIM_LOG|CF_SESSION_VAR)$/;

describe('agents get a clean environment', () => {
  it('no secret of the controller reaches a pane: not the server\'s environment, not the pane\'s, not `env` run by a task', async () => {
    const { tmux, root, stateDir, start, project } = setup();
    const d = start();
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await until(() => status(stateDir)['Session/e1']?.activity === 'idle', 30_000, 'e1 idle');

    // 1. The tmux server was started by the controller: its global environment is the explicit one.
    const global = tmux.run(['show-environment', '-g']).stdout;
    expect(global).not.toContain('SECRET');
    for (const name of [...Object.keys(SECRETS), 'CLAUDECODE', 'CLAUDE_CODE_CHILD_SESSION']) expect(global).not.toMatch(new RegExp(`^${name}=`, 'm'));
    expect(global).toMatch(/^PATH=/m);

    // 2. The pane's process: exactly the allowed variables, the declared ones, tmux's own.
    const pid = tmux.panePids()['e1'] as number;
    const env = procEnv(pid);
    expect(JSON.stringify(env)).not.toContain('SECRET');
    expect(Object.keys(env).filter((k) => !ALLOWED.test(k))).toEqual([]);
    expect(env).toMatchObject({ CF_SESSION_VAR: 'declared', CLAUDE_CONFIG_DIR: join(root, 'accounts', 'a'), PATH: process.env.PATH });
    expect(env.TMUX).toContain(tmux.socket);
    expect(env.TMUX_PANE).toMatch(/^%\d+$/);

    // 3. A task that runs `env` (delivered through the queue like any task): the pane and the
    //    transcript show the session's own variables and tmux's, and no secret.
    await until(() => existsSync(join(project, '.agent-queue', 'inbox')), 15_000, 'the queue');
    const task = join(project, '.agent-queue', 'inbox', 'print-env.md');
    writeFileSync(join(project, '.agent-queue', 'print-env.md.tmp'), "Print the environment.\n#sim bash env\n#sim bash env | grep -E 'S[E]CRET|TMUX|CF_|CLAUDE' || true\n");
    renameSync(join(project, '.agent-queue', 'print-env.md.tmp'), task);
    await until(() => existsSync(join(project, '.agent-queue', 'done', 'print-env.md')), 60_000, 'the task done');
    const pane = tmux.run(['capture-pane', '-p', '-J', '-t', '=e1:', '-S', '-300']).stdout;
    expect(pane).toContain('CF_SESSION_VAR=declared');
    expect(pane).toMatch(/TMUX_PANE=%\d+/);
    expect(pane).not.toContain('SECRET');
    const transcripts = filesContaining(join(root, 'accounts'), 'CF_SESSION_VAR=declared').filter((f) => f.endsWith('.jsonl'));
    expect(transcripts.length).toBeGreaterThan(0);
    expect(filesContaining(join(root, 'accounts'), 'SECRET')).toEqual([]);
    expect(filesContaining(project, 'SECRET')).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('a tmux server started outside the controller with secrets in its environment: they are removed from it and never reach a pane', async () => {
    const { tmux, stateDir, start } = setup();
    // An operator started the server from a shell holding the secrets.
    const started = spawnSync('tmux', ['-L', tmux.socket, '-f', '/dev/null', 'start-server', ';', 'set-option', '-g', 'exit-empty', 'off'], { env: { ...process.env, TMUX: '', ...SECRETS } });
    expect(started.status).toBe(0);
    expect(tmux.run(['show-environment', '-g']).stdout).toContain(SECRETS.CF_JOBS_API_KEY);
    const d = start();
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    const scrubbed = await d.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('removed secret variables from the tmux server'));
    expect(scrubbed.removed).toEqual(['CF_JOBS_API_KEY', 'CF_TELEGRAM_TOKEN', 'CF_WEBHOOK_SECRET', 'CLAUDE_FAILOVER_TOKEN']);
    // The variables the controller reads secrets from are gone from the server's environment.
    const global = tmux.run(['show-environment', '-g']).stdout;
    for (const name of ['CF_JOBS_API_KEY', 'CF_TELEGRAM_TOKEN', 'CF_WEBHOOK_SECRET', 'CLAUDE_FAILOVER_TOKEN']) expect(global).not.toMatch(new RegExp(`^${name}=`, 'm'));
    // The pane never saw any of the server's environment, the unreferenced variable included.
    await until(() => status(stateDir)['Session/e1']?.activity === 'idle', 30_000, 'e1 idle');
    const env = procEnv(tmux.panePids()['e1'] as number);
    expect(JSON.stringify(env)).not.toContain('SECRET');
    expect(Object.keys(env).filter((k) => !ALLOWED.test(k))).toEqual([]);
    expect(env.TMUX_PANE).toMatch(/^%\d+$/);
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('examples/systemd/start-tmux-server.sh starts the server with the allowlisted environment only', async () => {
    const tmux = new PrivateTmuxServer();
    cleanups.push(() => tmux.kill());
    const child = spawn(join(REPO, 'examples', 'systemd', 'start-tmux-server.sh'), ['--foreground'], { env: { ...process.env, TMUX: '', CF_TMUX_SOCKET: tmux.socket, ...SECRETS }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    cleanups.push(async () => {
      tmux.kill();
      await exited;
    });
    await until(() => tmux.serverRunning(), 10_000, 'the server');
    const global = tmux.run(['show-environment', '-g']).stdout;
    expect(global).not.toContain('SECRET');
    const names = global.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf('=')));
    expect(names).toContain('PATH');
    expect(names.filter((n) => !ALLOWED.test(n))).toEqual([]);
  });
});
