/**
 * The controller contract (docs/architecture.md): observe changes nothing a later observe relies
 * on (a plan preview never consumes hook events), controllers declare what they watch (the manager
 * builds the triggers), and operator requests live in the state dir (they survive a restart).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileRequestStore } from '../../src/adapters/requests.js';
import type { SessionStatus } from '../../src/controllers/session.js';
import { wire } from '../../src/runtime/wiring.js';
import { until } from '../support/daemon.js';
import { AUTH, events, type Harness, useHarnesses } from './helpers.js';

const setup = useHarnesses();

function sessionStatus(h: Harness, name: string): SessionStatus | undefined {
  return h.wired.manager.store.state.status[`Session/${name}`] as SessionStatus | undefined;
}

function hookEvent(h: Harness, session: string, record: Record<string, unknown>): void {
  const dir = join(h.stateDir, 'sessions', session);
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, 'events.jsonl'), `${JSON.stringify({ t: Date.now() + 1000, ...record })}\n`);
}

describe('observe is free of side effects; what it consumed is committed after the apply', () => {
  it('a dry-run (GET /api/v1/plan, a preview) and then a real pass both see a hook event', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    // The agent's own SessionStart first (under load it could land after the event written below).
    await until(async () => {
      await h.wired.manager.runOnce({ dryRun: false, prune: false });
      return sessionStatus(h, 's1')?.activity === 'idle';
    }, 20_000, 'the agent reported its start');
    hookEvent(h, 's1', { event: 'UserPromptSubmit', taskId: 't-1' });

    const preview = await h.wired.manager.previewKind('Session');
    expect(preview?.status['Session/s1']).toMatchObject({ activity: 'working', currentTask: 't-1' });
    const plan = await h.app.inject({ method: 'GET', url: '/api/v1/plan', headers: AUTH });
    expect(plan.statusCode).toBe(200);
    // Neither preview changed the controller's status.
    expect(sessionStatus(h, 's1')?.activity).not.toBe('working');

    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    expect(sessionStatus(h, 's1')).toMatchObject({ activity: 'working', currentTask: 't-1' });
    // Committed: a later pass does not read the event again (a Stop after it is what counts now).
    hookEvent(h, 's1', { event: 'Stop' });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    expect(sessionStatus(h, 's1')).toMatchObject({ activity: 'idle', turns: 1 });
  });
});

describe('controllers declare what they watch; the manager builds the triggers', () => {
  it('maps a changed object to the keys that read it', async () => {
    const h = await setup({ sessions: [{ name: 's1' }, { name: 's2' }] });
    const m = h.wired.manager;
    expect(m.dependents('Session/s1', 'status').sort()).toEqual(['Account/*', 'Project/p']);
    expect(m.dependents('Account/*', 'status').sort()).toEqual(['Session/s1', 'Session/s2']);
    expect(m.dependents('Project/p', 'status')).toEqual([]);
    // No DelegationPolicy on p: its inbox events wake nobody else.
    expect(m.dependents('Project/p', 'trigger')).toEqual([]);
  });

  it('a Session status change that the Project reads reconciles the Project; one it does not read does not', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const m = h.wired.manager;
    await m.start({ resyncMs: 3_600_000, prune: false });
    await until(() => m.ready, 15_000, 'first pass');
    const projectStatus = () => m.store.state.status['Project/p'];
    // Settle: the start-up pass and the triggers it caused.
    await m.whenIdle();
    const before = projectStatus();
    // A field no watcher reads: nothing is enqueued for it (a trigger enqueues at once, inside the store update).
    m.store.update((d) => {
      d.status['Session/s1'] = { ...(d.status['Session/s1'] as SessionStatus), restarts: 7 } as SessionStatus;
    });
    await m.whenIdle();
    expect(projectStatus()).toBe(before);
    // A field the Project reads (the session's current task): the Project is reconciled again.
    m.store.update((d) => {
      d.status['Session/s1'] = { ...(d.status['Session/s1'] as SessionStatus), currentTask: 't-9' } as SessionStatus;
    });
    await until(() => projectStatus() !== before, 10_000, 'Project/p reconciled');
  });
});

describe('operator requests are data in the state dir', () => {
  it('a failover request written while no controller runs is served by the next one, with its result recorded', async () => {
    const h = await setup({ sessions: [] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    expect(h.wired.manager.store.state.status['Account/*']?.activeAccount).toBe('a');
    // As if the controller stopped right after the request was accepted.
    const request = await new FileRequestStore(h.stateDir).create({ kind: 'failover', target: 'b', reason: 'maintenance window', requestedBy: 'alice (test)' });
    await h.wired.manager.stop(1000);

    // A new controller on the same state dir (a restart).
    const again = wire({ stateDir: h.stateDir, dryRun: false, tmuxSocket: h.tmux.socket, pool: { pollUsage: false } });
    again.manager.setDesired(h.wired.manager.store.state.desired);
    await again.manager.loadState();
    // A preview shows the request pending and leaves it so.
    await again.manager.planOnly({ prune: false });
    expect((await again.requests.get(request.id))?.result).toBeUndefined();

    await again.manager.runOnce({ dryRun: false, prune: false });
    expect(again.manager.store.state.status['Account/*']?.activeAccount).toBe('b');
    const served = await again.requests.get(request.id);
    expect(served).toMatchObject({ kind: 'failover', target: 'b', reason: 'maintenance window', requestedBy: 'alice (test)', result: { accepted: true } });
    expect(served?.result?.message).toMatch(/^forced failover from a to b/);
    expect(await again.requests.pending('failover')).toEqual([]);
    await again.manager.stop(1000);
  });

  it('POST /api/v1/failover records who asked; GET /api/v1/requests lists it with its result; an older pending request is superseded', async () => {
    const h = await setup({ sessions: [] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    const older = await h.wired.requests.create({ kind: 'failover', target: 'a', requestedBy: 'bob (test)' });
    const answer = h.app.inject({ method: 'POST', url: '/api/v1/failover', headers: { ...AUTH, 'user-agent': 'claude-failover-cli/test' }, payload: { to: 'b', reason: 'drill' } });
    await until(() => events(h).some((e) => e.reason === 'FailoverRequested'), 10_000, 'request recorded');
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    const res = await answer;
    expect(res.statusCode).toBe(202);
    const id = res.json<{ request: string }>().request;
    const list = await h.app.inject({ method: 'GET', url: '/api/v1/requests', headers: AUTH });
    const items = list.json<{ kind: string; items: { id: string; requestedBy: string; result?: { accepted: boolean; message: string } }[] }>();
    expect(items.kind).toBe('RequestList');
    expect(items.items.map((r) => r.id)).toEqual([id, older.id]);
    expect(items.items[0]).toMatchObject({ requestedBy: expect.stringMatching(/^claude-failover-cli\/test from .* \(token sha256:[0-9a-f]{12}\)$/), result: { accepted: true } });
    expect(items.items[1]?.result).toMatchObject({ accepted: false, message: `superseded by the newer request ${id}` });
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/requests/0-0', headers: AUTH })).statusCode).toBe(404);
  });
});
