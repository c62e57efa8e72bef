import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, runCli, SIM_BIN } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writePool } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const servers: PrivateTmuxServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.kill();
  for (const d of dirs.splice(0)) await removeAgentTree(d);
});

function setup() {
  const tmux = new PrivateTmuxServer();
  servers.push(tmux);
  const root = tempDir('e2e');
  dirs.push(root);
  return { tmux, root };
}

describe('validate', () => {
  it('accepts the demo manifests', async () => {
    const r = await runCli(['validate', '-f', 'examples/demo']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^valid: 10 objects \(3 Accounts, 2 Projects, 5 Sessions\)/);
    expect(r.code).toBe(0);
  });

  it('rejects a broken set with one file:line:col line per problem', async () => {
    const r = await runCli(['validate', '-f', 'test/fixtures/broken']);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => /^test\/fixtures\/broken\/\S+\.yaml:\d+:\d+: /.test(l));
    expect(lines).toHaveLength(12);
    expect(r.stderr).toMatch(/12 problems found/);
  });

  it('gives diagnostics as data with -o json', async () => {
    const r = await runCli(['validate', '-f', 'test/fixtures/broken', '-o', 'json']);
    expect(r.code).toBe(1);
    const data = JSON.parse(r.stdout) as { valid: boolean; diagnostics: { file: string; line: number; col: number; code: string }[] };
    expect(data.valid).toBe(false);
    expect(data.diagnostics).toHaveLength(12);
    expect(new Set(data.diagnostics.map((d) => d.code))).toEqual(new Set(['CF_MANIFEST_YAML', 'CF_MANIFEST_INVALID', 'CF_MANIFEST_UNKNOWN_FIELD', 'CF_MANIFEST_MISSING_FIELD', 'CF_MANIFEST_DURATION', 'CF_MANIFEST_DUPLICATE', 'CF_MANIFEST_DANGLING_REF', 'CF_MANIFEST_CONFIGDIR_CONFLICT']));
  });

  it('suggests a command for a typo', async () => {
    const r = await runCli(['valdate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown command "valdate" \(did you mean "validate"\?\)/);
  });
});

describe('reconcile --once --dry-run', () => {
  it('prints the plan, exits 2, and creates nothing: no tmux server, no state dir, no file', async () => {
    const { tmux, root } = setup();
    const cwd = join(root, 'cwd');
    const stateDir = join(root, 'state');
    mkdirSync(cwd);
    // A copy of the demo manifests, so a run directory left by `make demo` cannot change the plan.
    const demo = join(root, 'demo');
    mkdirSync(demo);
    for (const f of readdirSync(join(REPO, 'examples/demo')).filter((n) => n.endsWith('.yaml'))) {
      writeFileSync(join(demo, f), readFileSync(join(REPO, 'examples/demo', f), 'utf8').replaceAll('../../src/sim/bin/claude', SIM_BIN));
    }
    const args = ['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-f', demo, '--tmux-socket', tmux.socket, '--state-dir', stateDir];
    const r = await runCli(args, { cwd });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    // No credentials exist: the shared-state links and queues are planned, but no account can take
    // the pool, so no session would be launched (a real run on this machine would not launch them).
    for (const s of ['ccl-0', 'ccl-1', 'ccl-2', 'ccl-3', 'reviewer']) {
      expect(r.stdout).not.toContain(`# Session/${s}:`);
      expect(r.stdout).toContain(`! Session/${s}: tmux session "${s}" is not launched: no account can take the pool (the reasons: Account/*)`);
    }
    for (const a of ['alpha', 'beta', 'gamma']) expect(r.stdout).toContain(`# Account/${a}: shared-state links of account "${a}" will be created`);
    for (const p of ['webapp', 'docs']) expect(r.stdout).toContain(`# Project/${p}: task queue ${join(demo, 'run/projects', p, '.agent-queue')} will be created`);
    expect(r.stdout).toMatch(/! Account\/\*: no account can take the pool, so no session is launched: alpha: credentials invalid \(CredentialsValid=False\): no credentials at \S+\/alpha\/\.credentials\.json/);
    const summary = /\nPlan: (\d+) to add, (\d+) to change, (\d+) to destroy\.\n$/.exec(r.stdout);
    expect(summary).not.toBeNull();
    expect(tmux.serverRunning()).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(demo).sort()).toEqual(['accounts.yaml', 'projects.yaml', 'sessions.yaml']);

    const j = await runCli([...args, '-o', 'json'], { cwd });
    expect(j.code).toBe(2);
    const plan = JSON.parse(j.stdout) as { formatVersion: number; summary: { add: number; change: number; destroy: number }; changes: { key: string; action: string }[]; dryRun: boolean };
    expect(plan.formatVersion).toBe(1);
    expect(plan.dryRun).toBe(true);
    // The JSON is the same Plan the text was rendered from.
    expect(plan.summary).toEqual({ add: Number(summary?.[1]), change: Number(summary?.[2]), destroy: Number(summary?.[3]) });
    expect(plan.changes.filter((c) => c.key.startsWith('Session/'))).toEqual([]);
    expect(tmux.serverRunning()).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('exits 0 with "No changes" when nothing is declared to change, and 1 on invalid manifests', async () => {
    const { tmux, root } = setup();
    const manifests = writePool(root, { sessions: [] });
    // The first real pass creates the project's queue directories; then there is nothing to do.
    expect((await runCli(['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', join(root, 'state')])).code).toBe(0);
    const r = await runCli(['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', join(root, 'state')]);
    expect(r.stdout).toMatch(/^No changes\. Actual state matches the manifests\.\n/);
    expect(r.code).toBe(0);
    const bad = await runCli(['reconcile', '--once', '--dry-run', '-f', 'test/fixtures/broken', '--tmux-socket', tmux.socket, '--state-dir', join(root, 'state')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nothing was planned or applied/);
    expect(tmux.serverRunning()).toBe(false);
  });
});

describe('reconcile --once', () => {
  it('creates the declared sessions, converges to "No changes", heals only what was killed, and never touches a foreign look-alike', async () => {
    const { tmux, root } = setup();
    const manifests = writePool(root, { sessions: [{ name: 'ccl-1' }, { name: 'ccl-2' }] });
    const stateDir = join(root, 'state');
    const args = ['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', stateDir];
    // A foreign session whose name extends a declared one: `has-session -t ccl-1` would match it.
    expect(tmux.run(['new-session', '-d', '-s', 'ccl-10', 'sleep', '3600']).status).toBe(0);
    const foreignPid = tmux.panePids()['ccl-10'];

    const first = await runCli(args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('# Session/ccl-1: tmux session "ccl-1" will be created');
    expect(first.stdout).toContain('# Session/ccl-2: tmux session "ccl-2" will be created');
    expect(first.stdout).not.toContain('ccl-10');
    expect(tmux.sessions()).toEqual(['ccl-1', 'ccl-10', 'ccl-2']);
    const pids = tmux.panePids();

    // Converges: once the agents are up (their first checkpoints written), a run has nothing to do.
    let converged = '';
    for (let i = 0; i < 8 && !converged.startsWith('No changes'); i++) {
      const again = await runCli([...args, '--detailed-exitcode']);
      expect(again.code).toBe(0);
      expect(again.stdout).not.toMatch(/# Session\//); // sessions are never touched again
      converged = again.stdout;
      if (!converged.startsWith('No changes')) await new Promise((r) => setTimeout(r, 500));
    }
    expect(converged).toBe('No changes. Actual state matches the manifests.\n');
    expect(tmux.panePids()).toEqual(pids);

    expect(tmux.run(['kill-session', '-t', '=ccl-1']).status).toBe(0);
    const third = await runCli([...args, '-o', 'json']);
    expect(third.code).toBe(0);
    const plan = JSON.parse(third.stdout) as { changes: { key: string; action: string }[]; drift: { key: string; message: string }[] };
    expect(plan.changes.filter((c) => c.key.startsWith('Session/')).map((c) => `${c.key}:${c.action}`)).toEqual(['Session/ccl-1:create']);
    expect(plan.drift.find((d) => d.key === 'Session/ccl-1')?.message).toMatch(/disappeared outside the controller/);
    const after = tmux.panePids();
    expect(after['ccl-2']).toBe(pids['ccl-2']);
    expect(after['ccl-1']).not.toBe(pids['ccl-1']);
    expect(after['ccl-10']).toBe(foreignPid);
    expect(tmux.run(['show-options', '-v', '-t', '=ccl-10:', '@cf-owner']).stdout.trim()).toBe('');
    expect(tmux.run(['show-options', '-v', '-t', '=ccl-1:', '@cf-owner']).stdout.trim()).toBe('Session/ccl-1');
  });

  it('leaves a foreign session with a declared name alone and says so', async () => {
    const { tmux, root } = setup();
    const manifests = writePool(root, { sessions: [{ name: 'ccl-1' }] });
    expect(tmux.run(['new-session', '-d', '-s', 'ccl-1', 'sleep', '3600']).status).toBe(0);
    const pid = tmux.panePids()['ccl-1'];
    const r = await runCli(['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', join(root, 'state')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/exists but was not created by claude-failover/);
    expect(tmux.panePids()['ccl-1']).toBe(pid);
  });

  it('shows a removed session as orphaned and stops it only with --prune', async () => {
    const { tmux, root } = setup();
    const stateDir = join(root, 'state');
    let manifests = writePool(root, { sessions: [{ name: 'keep' }, { name: 'gone' }] });
    expect((await runCli(['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', stateDir])).code).toBe(0);
    manifests = writePool(root, { sessions: [{ name: 'keep' }] });
    const plain = await runCli(['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', stateDir]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/Session\/gone: tmux session "gone" is orphaned/);
    expect(tmux.sessions()).toEqual(['gone', 'keep']);
    const pruned = await runCli(['reconcile', '--once', '--prune', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', stateDir]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/# Session\/gone: tmux session "gone" will be destroyed/);
    expect(tmux.sessions()).toEqual(['keep']);
  });

  it('resolves a relative --state-dir before planning: the plan and the agent get an absolute --settings', async () => {
    const { tmux, root } = setup();
    const manifests = writePool(root, { sessions: [{ name: 'rel' }] });
    const settings = join(root, 'state', 'sessions', 'rel', 'settings.json');
    const args = ['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', 'state'];
    const dry = await runCli([...args, '--dry-run', '-o', 'json'], { cwd: root });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { changes: { key: string; diff?: { path: string; to?: unknown }[] }[] };
    const command = plan.changes.find((c) => c.key === 'Session/rel')?.diff?.find((d) => d.path === '/command')?.to;
    expect(command).toContain(`--settings ${settings}`);
    const real = await runCli(args, { cwd: root });
    expect(real.code, real.stderr).toBe(0);
    expect(existsSync(settings)).toBe(true);
    const pid = tmux.panePids().rel;
    await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('claude-sim'), 10_000, 'agent started');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(settings);
  });

  it('refuses to run while another controller holds the state dir', async () => {
    const { tmux, root } = setup();
    const stateDir = join(root, 'state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'controller.lock'), `${process.pid}\n`); // this test process is alive
    const manifests = writePool(root, { sessions: [{ name: 's' }] });
    const r = await runCli(['reconcile', '--once', '-f', manifests, '--tmux-socket', tmux.socket, '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`CF_ERR_STATE_LOCKED: another claude-failover (pid ${process.pid}) is running`);
    expect(tmux.serverRunning()).toBe(false);
  });
});
