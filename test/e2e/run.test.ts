import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writePool } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const tmux = new PrivateTmuxServer();
  const root = tempDir('run');
  cleanups.push(async () => {
    tmux.kill();
    await removeAgentTree(root);
  });
  return { tmux, root, stateDir: join(root, 'state') };
}

function start(args: string[]): DaemonProcess {
  const d = new DaemonProcess(args);
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

describe('claude-failover run', () => {
  it('runs one instance per state dir, reloads manifests without restart, rejects an invalid set, and drains on SIGTERM', async () => {
    const { tmux, root, stateDir } = setup();
    const manifests = writePool(root, { sessions: [{ name: 'a1' }, { name: 'a2' }] });
    const args = ['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket, '--resync', '2s'];
    const d = start(args);
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running');
    expect(tmux.sessions()).toEqual(['a1', 'a2']);

    const second = await runCli(['run', ...args], { timeoutMs: 10_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another claude-failover (pid ${d.child.pid}) is running on state dir ${stateDir}`);

    // GitOps: a new Session appears without a restart.
    writePool(root, { sessions: [{ name: 'a1' }, { name: 'a2' }, { name: 'a3' }] });
    await until(() => tmux.sessions().includes('a3'), 15_000, 'a3 created after manifest change');
    await d.waitForLog((l) => l.reason === 'ManifestsApplied');

    // An invalid set is rejected; the last good one stays in force (a3 is not removed, nothing new applied).
    writeFileSync(join(manifests, 'sessions.yaml'), 'apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: a4\nspec:\n  projekt: p\n');
    const rejected = await d.waitForLog((l) => l.msg === 'manifests rejected: the last good set stays in force');
    expect(JSON.stringify(rejected.diagnostics)).toMatch(/sessions\.yaml:6:3: unknown field `projekt` in `spec` \(did you mean `project`\?\)/);
    await new Promise((r) => setTimeout(r, 2500)); // one resync
    expect(tmux.sessions()).toEqual(['a1', 'a2', 'a3']);
    const events = readFileSync(join(stateDir, 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"reason":"ManifestsRejected"/);

    const pids = tmux.panePids();
    expect(await d.stop('SIGTERM')).toBe(0);
    await d.waitForLog((l) => l.msg === 'stopped cleanly');
    // The agents outlive the controller.
    expect(tmux.panePids()).toEqual(pids);
  });

  it('after kill -9, a new controller takes the stale lock and adopts the sessions without restarting them', async () => {
    const { tmux, root, stateDir } = setup();
    const manifests = writePool(root, { sessions: [{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }] });
    const args = ['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket];
    const first = start(args);
    await first.waitForLog((l) => l.msg === 'first reconcile done; controller running');
    const pids = tmux.panePids();
    expect(Object.keys(pids).sort()).toEqual(['b1', 'b2', 'b3']);
    await first.stop('SIGKILL');
    expect(readFileSync(join(stateDir, 'controller.lock'), 'utf8').trim()).toBe(String(first.child.pid));

    const again = start(args);
    await again.waitForLog((l) => l.msg === 'first reconcile done; controller running');
    expect(tmux.panePids()).toEqual(pids);
    expect(again.lines.filter((l) => String(l.key).startsWith('Session/') && (l.reason === 'Created' || l.reason === 'Replaced'))).toEqual([]);
    const code = await again.stop();
    expect(code, `signal ${again.child.signalCode} stderr ${again.stderr} log ${JSON.stringify(again.lines.slice(-3))}`).toBe(0);
  });

  it('refuses to start on invalid manifests', async () => {
    const { tmux, stateDir } = setup();
    const r = await runCli(['run', '-f', 'test/fixtures/broken', '--state-dir', stateDir, '--tmux-socket', tmux.socket]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/problem\(s\) in the manifests; the controller did not start/);
    expect(tmux.serverRunning()).toBe(false);
  });
});
