/**
 * Issue 14.2 and 14.3, with the real binary (`run`) and real tmux:
 * - deletions need evidence: the 2-second manifest removal with `--prune` (`mv m/*.yaml away/;
 *   sleep 2; mv back`) deletes nothing; a set dropping every Session is held until confirmed
 *   (`claude-failover manifests confirm`) or, with `--deletion-grace`, until it stays unchanged
 *   that long; pruned sessions declared again resume their conversations;
 * - start on the last good set: an invalid set on disk at start-up starts the controller on the
 *   recorded set (ManifestsInvalid condition, event, notification); `--strict` refuses.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { runCli } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writePool } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let hook: FakeWebhookServer;
beforeAll(async () => {
  hook = await startFakeWebhookServer();
});
afterAll(async () => {
  await hook.close();
});

interface EventLine {
  time: string;
  key: string;
  type: string;
  reason: string;
  message: string;
  data?: Record<string, unknown>;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function setup(sessions: string[]) {
  const tmux = new PrivateTmuxServer();
  const root = tempDir('mset');
  cleanups.push(async () => {
    tmux.kill();
    await removeAgentTree(root);
  });
  const simLog = join(root, 'sim.jsonl');
  const extra = `  env:\n    CLAUDE_SIM_LOG: "${simLog}"\n    CLAUDE_SIM_WORK_MS: "200"\n`;
  const manifests = writePool(root, { sessions: sessions.map((name) => ({ name, extra })) });
  // A notifier (all events) on a local webhook: the held deletion and the invalid set must notify.
  const path = `/hooks/${root.split('/').pop() ?? 'x'}`;
  writeFileSync(join(manifests, 'notify.yaml'), `apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata: {name: ops}\nspec: {type: webhook, webhook: {url: "${hook.url}${path}"}}\n`);
  const stateDir = join(root, 'state');
  const start = (...extraArgs: string[]) => {
    const d = new DaemonProcess(['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket, '--resync', '2s', ...extraArgs]);
    cleanups.push(() => d.stop('SIGKILL'));
    return d;
  };
  const notified = (reason: string) => hook.deliveries().filter((r) => r.path === path && (r.json as { event?: string }).event === reason);
  return { tmux, root, manifests, stateDir, simLog, start, notified };
}

function readJson<T>(path: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

function events(stateDir: string): EventLine[] {
  try {
    return readFileSync(join(stateDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventLine);
  } catch {
    return [];
  }
}

function status(stateDir: string): Record<string, { activity?: string; conversationId?: string; restarts?: number; conditions?: Condition[]; held?: { id: string; reason: string; removed: string[] } }> {
  return readJson(join(stateDir, 'status.json'), {});
}

function condition(stateDir: string, type: string): Condition | undefined {
  return status(stateDir)['Manifests/*']?.conditions?.find((c) => c.type === type);
}

async function allIdle(stateDir: string, names: string[]): Promise<void> {
  await until(() => names.every((n) => status(stateDir)[`Session/${n}`]?.activity === 'idle'), 40_000, `${names.join(',')} idle`);
}

/** Delivers a prompt the way the controller does: paste, then a separate Enter. */
async function prompt(tmux: PrivateTmuxServer, session: string, text: string): Promise<void> {
  expect(tmux.run(['load-buffer', '-b', 't', '-'], text).status).toBe(0);
  expect(tmux.run(['paste-buffer', '-p', '-r', '-d', '-b', 't', '-t', `=${session}:`]).status).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  expect(tmux.run(['send-keys', '-t', `=${session}:`, 'Enter']).status).toBe(0);
}

/** Waits for a reconcile (status.json is rewritten by each) a full resync period (2 s) after `since`. */
async function resyncAfter(stateDir: string, since: number): Promise<void> {
  await until(() => statSync(join(stateDir, 'status.json')).mtimeMs > since + 2_000, 15_000, 'a resync');
}

/** Moves every manifest file of `from` into `to` (one rename each, like `mv from/*.yaml to/`). */
function moveYaml(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from).filter((n) => n.endsWith('.yaml'))) renameSync(join(from, f), join(to, f));
}

describe('deletions need evidence', () => {
  it('mv m/*.yaml away; sleep 2; mv back with --prune: the empty set is held (warning, condition, notification), nothing is deleted', async () => {
    const { tmux, root, manifests, stateDir, start, notified } = setup(['s1', 's2', 's3']);
    const d = start('--prune');
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await allIdle(stateDir, ['s1', 's2', 's3']);
    const pids = tmux.panePids();
    const away = join(root, 'away');

    const movedAt = Date.now();
    moveYaml(manifests, away);
    await until(() => events(stateDir).some((e) => e.reason === 'DeletionHeld'), 10_000, 'DeletionHeld');
    const held = events(stateDir).find((e) => e.reason === 'DeletionHeld') as EventLine;
    expect(held.type).toBe('Warning');
    expect(held.message).toMatch(/^not applied: the manifest set is empty \(it had 6 objects\); all 3 Sessions would be stopped \(--prune\)\. It is applied at \S+ if the manifests stay as they are, or now with `claude-failover manifests confirm --id [0-9a-f]{12}`$/);
    expect(held.data).toMatchObject({ reason: 'EmptySet', removed: ['s1', 's2', 's3'], total: 3 });
    // The condition, and what an operator sees with the CLI (through the running controller's API).
    await until(() => condition(stateDir, 'DeletionHeld')?.status === 'True', 10_000, 'DeletionHeld=True');
    expect(condition(stateDir, 'DeletionHeld')).toMatchObject({ status: 'True', reason: 'EmptySet' });
    const shown = await runCli(['manifests', '--state-dir', stateDir]);
    expect(shown.code, shown.stderr).toBe(2);
    expect(shown.stdout).toMatch(/On disk: {4}HELD \(EmptySet\)/);
    expect(shown.stdout).toContain('sessions it drops (3 of 3): s1, s2, s3');
    // The held deletion is notified.
    await until(() => notified('DeletionHeld').length === 1, 10_000, 'DeletionHeld notification');

    await new Promise((r) => setTimeout(r, Math.max(0, 2_000 - (Date.now() - movedAt)))); // the deploy's `sleep 2`
    moveYaml(away, manifests);
    await until(() => events(stateDir).some((e) => e.reason === 'DeletionHoldCleared'), 10_000, 'DeletionHoldCleared');
    await until(() => condition(stateDir, 'DeletionHeld')?.status === 'False', 10_000, 'DeletionHeld=False');
    // A resync later: the same agents (same processes), nothing deleted, the empty set never applied.
    const cleared = Date.parse(events(stateDir).find((e) => e.reason === 'DeletionHoldCleared')?.time ?? '');
    await resyncAfter(stateDir, cleared);
    expect(tmux.panePids()).toEqual(pids);
    const all = events(stateDir);
    expect(all.filter((e) => e.key.startsWith('Session/') && e.reason === 'Deleted')).toEqual([]);
    expect(all.filter((e) => e.reason === 'ManifestsApplied')).toEqual([]);
    expect(d.lines.filter((l) => l.level === 30 && /\b0 objects\b/.test(String(l.msg)))).toEqual([]);
    expect((await runCli(['manifests', '--state-dir', stateDir])).code).toBe(0);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('a set dropping every Session waits for `manifests confirm`; the pruned sessions, declared again, resume their conversations', async () => {
    const { tmux, root, manifests, stateDir, simLog, start } = setup(['c1', 'c2']);
    const d = start('--prune');
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await allIdle(stateDir, ['c1', 'c2']);
    // A turn each, so that each conversation has a transcript.
    for (const s of ['c1', 'c2']) await prompt(tmux, s, `note the release for ${s}`);
    await until(() => ['c1', 'c2'].every((s) => (status(stateDir)[`Session/${s}`] as { turns?: number } | undefined)?.turns === 1 && status(stateDir)[`Session/${s}`]?.activity === 'idle'), 30_000, 'a turn each');
    const conv = { c1: status(stateDir)['Session/c1']?.conversationId, c2: status(stateDir)['Session/c2']?.conversationId };
    expect(conv.c1).toMatch(/^[0-9a-f-]{36}$/);

    // The Sessions' file is removed: every Session would go. Held.
    const sessionsFile = join(manifests, 'sessions.yaml');
    const text = readFileSync(sessionsFile, 'utf8');
    renameSync(sessionsFile, join(root, 'sessions.yaml.removed'));
    await until(() => status(stateDir)['Manifests/*']?.held !== undefined, 10_000, 'held');
    const id = status(stateDir)['Manifests/*']?.held?.id as string;
    expect(status(stateDir)['Manifests/*']?.held).toMatchObject({ reason: 'AllSessionsRemoved', removed: ['c1', 'c2'] });
    expect(tmux.sessions()).toEqual(['c1', 'c2']);

    // A wrong id is refused; the right one applies the set: the sessions are stopped.
    const wrong = await runCli(['manifests', 'confirm', '--id', '000000000000', '--state-dir', stateDir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`the held set is ${id}, not 000000000000`);
    const ok = await runCli(['manifests', 'confirm', '--id', id, '--state-dir', stateDir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`applied the held set ${id}`);
    await until(() => tmux.sessions().length === 0, 20_000, 'sessions pruned');
    const applied = events(stateDir).filter((e) => e.reason === 'ManifestsApplied').at(-1);
    expect(applied?.type).toBe('Warning');
    expect(applied?.message).toContain('after a hold (confirmed by an operator)');
    await until(() => events(stateDir).filter((e) => e.reason === 'Deleted' && e.key.startsWith('Session/')).length === 2, 10_000, 'two Deleted events');
    expect(events(stateDir).filter((e) => e.reason === 'Deleted' && e.key.startsWith('Session/')).map((e) => e.key).sort()).toEqual(['Session/c1', 'Session/c2']);

    // Declared again: relaunched with --resume of the same conversations, not counted as restarts.
    writeFileSync(sessionsFile, text);
    await until(() => tmux.sessions().length === 2, 20_000, 'sessions back');
    await allIdle(stateDir, ['c1', 'c2']);
    const invocations = readFileSync(simLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; argv?: string[] }).filter((r) => r.type === 'invocation');
    for (const s of ['c1', 'c2'] as const) {
      expect(invocations.some((r) => (r.argv ?? []).join(' ').includes(`--resume ${conv[s]}`)), `${s} resumed ${conv[s]}`).toBe(true);
      expect(status(stateDir)[`Session/${s}`]).toMatchObject({ conversationId: conv[s], restarts: 0 });
    }
    expect(await d.stop()).toBe(0);
  }, 150_000);

  it('--deletion-grace: a held set that stays unchanged that long is applied', async () => {
    const { tmux, manifests, stateDir, start } = setup(['g1', 'g2', 'g3']);
    const d = start('--prune', '--deletion-grace', '3s');
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await until(() => tmux.sessions().length === 3, 20_000, 'three sessions');
    // Two of three Sessions removed (more than the default 50 %): held, then applied 3 s later.
    const sessionsFile = join(manifests, 'sessions.yaml');
    writeFileSync(sessionsFile, readFileSync(sessionsFile, 'utf8').split('---\n').filter((doc) => doc.includes('name: g1')).join('---\n'));
    await until(() => events(stateDir).some((e) => e.reason === 'DeletionHeld'), 10_000, 'DeletionHeld');
    const held = events(stateDir).find((e) => e.reason === 'DeletionHeld') as EventLine;
    expect(held.data).toMatchObject({ reason: 'TooManySessionsRemoved', removed: ['g2', 'g3'], total: 3 });
    expect(tmux.sessions()).toEqual(['g1', 'g2', 'g3']);
    await until(() => tmux.sessions().join() === 'g1', 20_000, 'g2 and g3 pruned after the grace period');
    const applied = events(stateDir).filter((e) => e.reason === 'ManifestsApplied').at(-1);
    expect(applied?.message).toMatch(/after a hold \(unchanged since \S+\): the manifest set drops 2 of 3 Sessions \(g2, g3\)/);
    expect(Date.parse(applied?.time ?? '') - Date.parse(held.time)).toBeGreaterThanOrEqual(3_000);
    await until(() => condition(stateDir, 'DeletionHeld')?.status === 'False', 10_000, 'DeletionHeld=False');
    expect(await d.stop()).toBe(0);
  }, 120_000);
});

describe('start on the last good set', () => {
  it('an invalid set at start-up: the controller starts on the recorded set (condition, event, notification), adopts the agents; --strict refuses', async () => {
    const { tmux, manifests, stateDir, start, notified } = setup(['v1', 'v2']);
    const first = start();
    await first.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await until(() => tmux.sessions().length === 2, 20_000, 'two sessions');
    expect(await first.stop()).toBe(0);
    const pids = tmux.panePids();
    expect(readJson<{ objects?: number }>(join(stateDir, 'applied-manifests.json'), {}).objects).toBe(5);

    // A typo lands while the controller is down.
    const sessionsFile = join(manifests, 'sessions.yaml');
    const good = readFileSync(sessionsFile, 'utf8');
    writeFileSync(sessionsFile, good.replace('project: p', 'projekt: p'));
    const d = start();
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    const invalid = events(stateDir).find((e) => e.reason === 'ManifestsInvalid') as EventLine;
    expect(invalid.type).toBe('Warning');
    expect(invalid.message).toMatch(/^2 problem\(s\) in the manifests at start-up; running on the last applied set from \S+: .*sessions\.yaml:\d+:\d+: missing required field `spec\.project`/);
    expect(condition(stateDir, 'ManifestsInvalid')).toMatchObject({ status: 'True', reason: 'ManifestsInvalid' });
    expect(condition(stateDir, 'Ready')).toMatchObject({ status: 'False' });
    await until(() => notified('ManifestsInvalid').length === 1, 10_000, 'ManifestsInvalid notification');
    const shown = await runCli(['manifests', '--state-dir', stateDir]);
    expect(shown.code).toBe(2);
    expect(shown.stdout).toMatch(/On disk: {4}INVALID since \S+; the set in force stays\n {2}.*sessions\.yaml:\d+:\d+: missing required field `spec\.project`/);
    // The agents are managed, not relaunched: same processes after a resync.
    await resyncAfter(stateDir, Date.now());
    expect(tmux.panePids()).toEqual(pids);
    expect(d.lines.filter((l) => String(l.key).startsWith('Session/') && (l.reason === 'Created' || l.reason === 'Replaced'))).toEqual([]);

    // Fixed on disk: applied, the condition clears.
    writeFileSync(sessionsFile, good);
    await until(() => condition(stateDir, 'ManifestsInvalid')?.status === 'False', 15_000, 'ManifestsInvalid False');
    expect(events(stateDir).filter((e) => e.reason === 'ManifestsApplied').at(-1)?.type).toBe('Normal');
    expect(await d.stop()).toBe(0);

    // --strict keeps the refusal, for CI.
    writeFileSync(sessionsFile, good.replace('project: p', 'projekt: p'));
    const strict = start('--strict');
    expect(await strict.exited).toBe(1);
    expect(strict.stderr).toMatch(/sessions\.yaml:\d+:\d+: missing required field `spec\.project`/);
    expect(strict.stderr).toContain('2 problem(s) in the manifests; the controller did not start (--strict).');
    expect(tmux.panePids()).toEqual(pids);
  }, 150_000);

  it('a restart in the middle of a deploy that dropped every Session: started on the recorded set, the drop held, nothing deleted', async () => {
    const { tmux, root, manifests, stateDir, start } = setup(['r1', 'r2']);
    const first = start('--prune');
    await first.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    await until(() => tmux.sessions().length === 2, 20_000, 'two sessions');
    expect(await first.stop()).toBe(0);
    const pids = tmux.panePids();
    renameSync(join(manifests, 'sessions.yaml'), join(root, 'sessions.yaml'));
    const d = start('--prune');
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    expect(events(stateDir).find((e) => e.reason === 'DeletionHeld')?.data).toMatchObject({ reason: 'AllSessionsRemoved', removed: ['r1', 'r2'] });
    await resyncAfter(stateDir, Date.now());
    expect(tmux.panePids()).toEqual(pids);
    renameSync(join(root, 'sessions.yaml'), join(manifests, 'sessions.yaml'));
    await until(() => events(stateDir).some((e) => e.reason === 'DeletionHoldCleared'), 10_000, 'DeletionHoldCleared');
    expect(tmux.panePids()).toEqual(pids);
    expect(await d.stop()).toBe(0);
  }, 120_000);
});
