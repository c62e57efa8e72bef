import { describe, expect, it } from 'vitest';
import { desiredFromObjects } from '../api/objects.js';
import { parseManifestText } from '../api/parse.js';
import type { StatusMap } from '../core/controller.js';
import { emptyCounts, type Lease, type LeaseRecord } from '../core/task.js';
import { dur, stuckTasks, type StuckTasksInput } from './project-alerts.js';
import type { DispatchView } from './project-decide.js';
import { ProjectController, type ProjectStatus } from './project.js';

const NOW = Date.parse('2026-05-01T12:00:00.000Z');
const MIN = 60_000;

function lease(id: string, over: Partial<Lease> = {}): LeaseRecord {
  const l: Lease = { version: 1, taskId: id, claimId: `c-${id}`, session: 's1', account: 'a', attempt: 1, claimedAt: new Date(NOW - 40 * MIN).toISOString(), deliveredAt: new Date(NOW - 40 * MIN).toISOString(), ...over };
  return { taskId: id, lease: l, mtimeMs: NOW - 40 * MIN };
}

const view = (over: Partial<DispatchView> = {}): DispatchView => ({ name: 's1', project: 'p', mode: 'pool', declared: true, suspended: false, alive: true, ready: true, activity: 'working', sinceMs: NOW - 39 * MIN, lastHeartbeatMs: NOW - 25 * MIN, currentTask: 't1', ...over });

function run(over: Partial<StuckTasksInput> & { views?: Record<string, DispatchView | undefined> } = {}) {
  const views = over.views ?? { s1: view() };
  return stuckTasks({ key: 'Project/p', nowMs: NOW, afterMs: 20 * MIN, staleMs: 120 * MIN, leases: [lease('t1')], dispatched: new Set(['t1']), touched: new Set(), view: (s) => views[s], reported: undefined, ...over });
}

describe('stuckTasks', () => {
  it('reports a task whose session has been silent longer than stuckTaskAfter, once per spell', () => {
    const r = run();
    expect(r.events).toEqual([{
      key: 'Project/p', type: 'Warning', reason: 'TaskStuck',
      message: 'task t1 on session s1: no activity for 25m (dispatched 40m ago, attempt 1; the session is working); it is requeued after 2h without activity (staleDispatchAfter)',
      data: { taskId: 't1', session: 's1', attempt: 1, idleMs: 25 * MIN, lastActivity: new Date(NOW - 25 * MIN).toISOString(), activity: 'working' },
    }]);
    expect(r.stuck).toEqual({ t1: new Date(NOW - 25 * MIN).toISOString() });
    // The same spell later: not again.
    expect(run({ nowMs: NOW + 5 * MIN, reported: r.stuck }).events).toEqual([]);
    // Activity came back, then stopped again: a new spell, a new event.
    const again = run({ nowMs: NOW + 30 * MIN, reported: r.stuck, views: { s1: view({ lastHeartbeatMs: NOW + 5 * MIN }) } });
    expect(again.events.map((e) => e.message)).toEqual([expect.stringContaining('no activity for 25m (dispatched 70m ago')]);
  });

  it.each<[string, Partial<StuckTasksInput> & { views?: Record<string, DispatchView | undefined> }, number | undefined]>([
    ['still active: checks back when it would become stuck', { views: { s1: view({ lastHeartbeatMs: NOW - 5 * MIN }) } }, 15 * MIN],
    ['claimed moments ago: not stuck whatever the session says', { leases: [lease('t1', { claimedAt: new Date(NOW - MIN).toISOString(), deliveredAt: new Date(NOW - MIN).toISOString() })], views: { s1: view({ lastHeartbeatMs: NOW - 60 * MIN, sinceMs: NOW - 60 * MIN }) } }, 19 * MIN],
    ['rate-limited: waiting on quota, not stuck', { views: { s1: view({ activity: 'rateLimited' }) } }, undefined],
    ['already completed or requeued in this pass', { touched: new Set(['t1']) }, undefined],
    ['not in dispatched/', { dispatched: new Set() }, undefined],
  ])('%s', (_name, over, recheck) => {
    const r = run(over);
    expect(r.events).toEqual([]);
    expect(r.stuck).toEqual({});
    expect(r.recheckInMs).toBe(recheck);
  });

  it('says what the session is doing: waiting for input, not running, gone', () => {
    expect(run({ views: { s1: view({ activity: 'waitingInput' }) } }).events[0]?.message).toContain('the session is waitingInput');
    expect(run({ views: { s1: view({ alive: false }) } }).events[0]?.message).toContain('the session is not running');
    expect(run({ views: {} }).events[0]?.message).toContain('the session is not a declared session');
  });

  it.each([[90_000, '90s'], [25 * MIN, '25m'], [120 * MIN, '2h'], [150 * MIN, '2h30m']])('dur(%i) = %s', (ms, text) => expect(dur(ms)).toBe(text));
});

describe('Project plan: stuck tasks', () => {
  const text = ['Account', 'Project', 'Session'].map((k) => ({
    Account: 'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: /acc/a}\n',
    Project: 'apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: /srv/p, alerts: {stuckTaskAfter: 10m}}\n',
    Session: 'apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s1}\nspec: {project: p}\n',
  })[k]).join('---\n');
  const desired = desiredFromObjects(parseManifestText('/m/p.yaml', text, { homeDir: '/h' }).objects);
  const controller = new ProjectController({
    queueFor: () => { throw new Error('no I/O in plan'); },
    tmux: { listSessions: () => Promise.resolve([]) },
    fs: { inspect: () => Promise.resolve({ kind: 'missing' }), readText: () => Promise.resolve(undefined), listDir: () => Promise.resolve(undefined) },
    stateDir: '/state',
    checkpoints: () => Promise.resolve([]),
  });
  const session: StatusMap[string] = {
    observedGeneration: 'g', activity: 'working', currentTask: 't1', since: new Date(NOW - 39 * MIN).toISOString(), lastHeartbeat: new Date(NOW - 12 * MIN).toISOString(),
    conditions: [{ type: 'Ready', status: 'True', reason: 'Working', message: '', lastTransitionTime: new Date(NOW).toISOString(), observedGeneration: 'g' }],
  };
  const plan = (prior: StatusMap, first = false) => controller.plan({
    desired,
    observed: {
      projects: { p: { root: '/srv/p/.agent-queue', exists: true, first, scan: { ready: [], settling: [], malformed: [], conflicts: [] }, counts: { ...emptyCounts(), dispatched: 1 }, leases: [lease('t1')], dispatched: [{ id: 't1', state: 'dispatched', fileName: 't1.md', path: '/srv/p/.agent-queue/dispatched/t1.md', mtimeMs: NOW, size: 1, settling: false }], dispatchedTasks: {} } },
      tmux: new Map([['s1', { name: 's1', owner: 'Session/s1', created: 0, panePid: 1, paneDead: false, paneDeadStatus: undefined, options: { 'cf-account': 'a' } }]]),
      checkpoints: [], toolCalls: {},
    },
    prior, inventory: {}, now: new Date(NOW), options: { dryRun: false, prune: false },
  }, ['p']);

  it('uses the project\'s stuckTaskAfter, keeps the task dispatched, records the spell, and reports it once', () => {
    const first = plan({ 'Session/s1': session });
    expect(first.events.filter((e) => e.reason === 'TaskStuck').map((e) => e.message)).toEqual([expect.stringMatching(/^task t1 on session s1: no activity for 12m /)]);
    expect(first.changes.flatMap((c) => c.effects).some((e) => e.type === 'queue.requeue')).toBe(false);
    const st = first.status['Project/p'] as ProjectStatus;
    expect(st.stuck).toEqual({ t1: new Date(NOW - 12 * MIN).toISOString() });
    const second = plan({ 'Session/s1': session, 'Project/p': st });
    expect(second.events.filter((e) => e.reason === 'TaskStuck')).toEqual([]);
    expect((second.status['Project/p'] as ProjectStatus).stuck).toEqual(st.stuck);
  });

  it('reports nothing on the first pass after a start (session status may be stale), and keeps what was reported', () => {
    const prior = { 'Session/s1': session, 'Project/p': { observedGeneration: 'g', conditions: [], stuck: { t1: 'earlier' } } as unknown as StatusMap[string] };
    const part = plan(prior, true);
    expect(part.events.filter((e) => e.reason === 'TaskStuck')).toEqual([]);
    expect((part.status['Project/p'] as ProjectStatus).stuck).toEqual({ t1: 'earlier' });
  });
});
