/**
 * examples/gitops: the controller runs on a git checkout of manifests; a pull (what the timer's
 * service runs: `git -C DIR pull --ff-only`) is picked up without a restart, the applied commit is
 * recorded, and an invalid commit is rejected while the last good set stays in force.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO, runCli } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { tempDir, writePool } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const GITOPS = join(REPO, 'examples', 'gitops');

const cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'ops',
  GIT_AUTHOR_EMAIL: 'ops@example.com',
  GIT_COMMITTER_NAME: 'ops',
  GIT_COMMITTER_EMAIL: 'ops@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { env: GIT_ENV, encoding: 'utf8' }).trim();
}

interface CfEventLine {
  time: string;
  key: string;
  type: string;
  reason: string;
  message: string;
  data?: { revision?: string; diagnostics?: string[] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function events(stateDir: string): CfEventLine[] {
  let text = '';
  try {
    text = readFileSync(join(stateDir, 'events.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CfEventLine);
}

describe('GitOps: the controller on a git checkout of manifests', () => {
  it('picks up a pulled commit without restart, records its revision, and rejects an invalid commit keeping the last good set', async () => {
    const root = tempDir('gitops');
    const tmux = new PrivateTmuxServer();
    // The agents' hooks write into the state dir until the agents are gone: stop them first.
    cleanups.push(async () => {
      const pids = Object.values(tmux.panePids());
      tmux.kill();
      await until(() => pids.every((p) => !alive(p)), 10_000, 'agents gone').catch(() => undefined);
      rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    // "origin": where operators commit (in real life a remote; here a local repo).
    const origin = join(root, 'origin');
    mkdirSync(origin);
    git(origin, 'init', '-q', '-b', 'main');
    writePool(origin, { sessions: [{ name: 'g1' }] });
    git(origin, 'add', 'manifests');
    git(origin, 'commit', '-q', '-m', 'pool with g1');

    // The controller's checkout, updated only by `git pull --ff-only` (the pull service's ExecStart).
    const checkout = join(root, 'checkout');
    execFileSync('git', ['clone', '-q', origin, checkout], { env: GIT_ENV });
    const pull = () => git(checkout, 'pull', '--ff-only', '--quiet');
    const stateDir = join(root, 'state');
    const d = new DaemonProcess(['-f', join(checkout, 'manifests'), '--state-dir', stateDir, '--tmux-socket', tmux.socket, '--resync', '2s', '--listen', 'none']);
    cleanups.push(() => d.stop('SIGKILL'));
    const loaded = await d.waitForLog((l) => l.msg === 'manifests loaded', 30_000);
    expect(loaded.revision).toBe(git(checkout, 'rev-parse', 'HEAD'));
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    expect(tmux.sessions()).toEqual(['g1']);
    const pid = d.child.pid;

    // 1. A commit adding a Session appears after the pull, without a restart.
    writePool(origin, { sessions: [{ name: 'g1' }, { name: 'g2' }] });
    git(origin, 'commit', '-q', '-am', 'add g2');
    pull();
    const good = git(checkout, 'rev-parse', 'HEAD');
    expect(good).toBe(git(origin, 'rev-parse', 'HEAD'));
    await until(() => tmux.sessions().includes('g2'), 20_000, 'g2 created after the pull');
    await until(() => events(stateDir).some((e) => e.reason === 'ManifestsApplied' && e.data?.revision === good), 20_000, `ManifestsApplied at ${good}`);
    const applied = events(stateDir).filter((e) => e.reason === 'ManifestsApplied');
    // The last applied revision is exactly the pulled commit (not "-dirty", not the old HEAD).
    expect(applied.at(-1)?.data?.revision).toBe(good);
    expect(applied.at(-1)?.message).toContain(`at revision ${good}`);
    expect(d.child.pid).toBe(pid);
    expect(d.child.exitCode).toBeNull();

    // 2. An invalid commit (a typo in a field, and a new Session g3) is rejected after the pull.
    const sessions = join(origin, 'manifests', 'sessions.yaml');
    writeFileSync(sessions, `${readFileSync(sessions, 'utf8')}---\napiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: g3\nspec:\n  projekt: p\n`);
    git(origin, 'commit', '-q', '-am', 'add g3 (typo)');
    pull();
    const bad = git(checkout, 'rev-parse', 'HEAD');
    expect(bad).not.toBe(good);
    await until(() => events(stateDir).some((e) => e.reason === 'ManifestsRejected'), 20_000, 'ManifestsRejected event');
    const rejected = events(stateDir).find((e) => e.reason === 'ManifestsRejected');
    expect(rejected?.type).toBe('Warning');
    expect(rejected?.message).toContain(`keeping revision ${good}`);
    expect(rejected?.data?.diagnostics?.join('\n')).toMatch(/sessions\.yaml:\d+:3: unknown field `projekt` in `spec` \(did you mean `project`\?\)/);
    const logged = await d.waitForLog((l) => l.msg === 'manifests rejected: the last good set stays in force');
    expect(logged.revision).toBe(bad);

    // The last good set stays in force across resyncs: g1 and g2 run, g3 never appears,
    // and nothing was applied after the rejection.
    // Wait for a reconcile (status.json is rewritten by each) a full resync period after the rejection.
    const rejectedAt = Date.parse(rejected?.time ?? '');
    const statusFile = join(stateDir, 'status.json');
    await until(() => statSync(statusFile).mtimeMs > rejectedAt + 2_000, 15_000, 'a resync after the rejection');
    expect(tmux.sessions()).toEqual(['g1', 'g2']);
    expect(events(stateDir).filter((e) => e.reason === 'ManifestsApplied').at(-1)?.data?.revision).toBe(good);

    // The event log is what an operator reads (README): `claude-failover events --for 'Manifests/*'`.
    const cli = await runCli(['events', '--for', 'Manifests/*', '-o', 'json', '--state-dir', stateDir]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('ManifestsRejected');
    expect(cli.stdout).toContain(good);

    // 3. Fixing it in a new commit applies the set: g3 appears, the revision moves on.
    writeFileSync(sessions, readFileSync(sessions, 'utf8').replace('projekt: p', 'project: p'));
    git(origin, 'commit', '-q', '-am', 'fix g3');
    pull();
    const fixed = git(checkout, 'rev-parse', 'HEAD');
    await until(() => tmux.sessions().includes('g3'), 20_000, 'g3 created after the fix');
    await until(() => events(stateDir).some((e) => e.reason === 'ManifestsApplied' && e.data?.revision === fixed), 20_000, `ManifestsApplied at ${fixed}`);
    expect(d.child.pid).toBe(pid);
    expect(await d.stop('SIGTERM')).toBe(0);
  });

  it('ships a pull timer and service that run `git -C DIR pull --ff-only`', () => {
    const service = readFileSync(join(GITOPS, 'claude-failover-pull.service'), 'utf8');
    const timer = readFileSync(join(GITOPS, 'claude-failover-pull.timer'), 'utf8');
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/bin\/git -C \$\{MANIFESTS_REPO\} pull --ff-only/m);
    expect(timer).toMatch(/^Unit=claude-failover-pull\.service$/m);
    expect(timer).toMatch(/^OnUnitActiveSec=/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
    const verify = spawnSync('systemd-analyze', ['verify', join(GITOPS, 'claude-failover-pull.timer'), join(GITOPS, 'claude-failover-pull.service')], { encoding: 'utf8' });
    if (verify.error) return; // systemd-analyze is not installed here: the text checks above stand
    expect(verify.stderr.split('\n').filter((l) => /claude-failover-pull/.test(l))).toEqual([]);
  });

  it('the README walks through the same steps the test runs', () => {
    const readme = readFileSync(join(GITOPS, 'README.md'), 'utf8');
    for (const s of ['git -C', 'pull --ff-only', 'ManifestsApplied', 'ManifestsRejected', 'events --for', 'systemctl enable --now claude-failover-pull.timer']) expect(readme).toContain(s);
    const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    for (const y of yamlBlocks) expect(() => parse(y)).not.toThrow();
  });
});
