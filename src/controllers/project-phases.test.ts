/** Each phase of the Project plan (src/controllers/project-phases/), called directly on constructed inputs. */
import { describe, expect, it } from 'vitest';
import { desiredFromObjects, type DesiredState } from '../api/objects.js';
import { parseManifestText } from '../api/parse.js';
import type { StatusMap } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import { emptyCounts, parseTask, type Lease, type LeaseRecord, type Task, type TaskEntry } from '../core/task.js';
import type { PhaseOutput } from './plan-phase.js';
import { DEFAULT_PROJECT_TUNING, type CheckpointRecord, type ProjectObserved, type ProjectQueueObserved, type ProjectStatus } from './project.js';
import { planCheckpoints } from './project-phases/checkpoints.js';
import { applyMoves, projectPlanContext, type BusySession, type ProjectPlanContext } from './project-phases/context.js';
import { accountSlots, dispatchPause, planDispatch } from './project-phases/dispatch.js';
import { planJanitor } from './project-phases/janitor.js';
import { planQueueLayout } from './project-phases/layout.js';
import { planLeases, planStuckAlerts } from './project-phases/leases.js';
import { planInboxTriage, planQueueRecovery } from './project-phases/recovery.js';
import { planProjectStatus, type ProjectStatusFacts } from './project-phases/status.js';
import { taskMarkerId } from '../core/task-marker.js';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const T = NOW.getTime();
const ROOT = '/srv/p/.agent-queue';
const iso = (ms: number) => new Date(ms).toISOString();

function desired(projectExtra = '', sessions: { name: string; mode?: string; account?: string }[] = [{ name: 's1' }, { name: 's2' }]): DesiredState {
  const docs = [
    'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: /acc/a, maxSessions: 1}\n',
    `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  path: /srv/p\n${projectExtra}`,
    'apiVersion: claudefailover.io/v1alpha1\nkind: DelegationPolicy\nmetadata: {name: ext}\nspec: {endpoint: "http://127.0.0.1:1", apiKey: {env: K}, providers: [gemini]}\n',
    ...sessions.map((s) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: ${s.name}}\nspec: {project: p, mode: ${s.mode ?? 'pool'}${s.account ? `, account: ${s.account}` : ''}}\n`),
  ];
  const parsed = parseManifestText('/m/pool.yaml', docs.join('---\n'), { homeDir: '/home/x' });
  expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return desiredFromObjects(parsed.objects);
}

function task(id: string, text = `Do ${id}.\n`, mtimeMs = T - 60_000): Task {
  return parseTask(text, { id, state: 'inbox', fileName: `${id}.md`, path: `${ROOT}/inbox/${id}.md`, mtimeMs, size: text.length });
}

const entry = (id: string, state: TaskEntry['state'], mtimeMs = T - 60_000): TaskEntry => ({ id, state, fileName: `${id}.md`, path: `${ROOT}/${state}/${id}.md`, mtimeMs, size: 10, settling: false });

function lease(id: string, over: Partial<Lease> = {}): LeaseRecord {
  const value: Lease = { version: 1, taskId: id, claimId: `c-${id}`, session: 's1', account: 'a', attempt: 1, claimedAt: iso(T - 30_000), deliveredAt: iso(T - 29_000), ...over };
  return { taskId: id, lease: value, mtimeMs: T - 30_000 };
}

function queue(over: Partial<ProjectQueueObserved> = {}): ProjectQueueObserved {
  return {
    root: ROOT, exists: true, first: false,
    scan: { ready: [], settling: [], malformed: [], conflicts: [] },
    counts: emptyCounts(), leases: [], dispatched: [], dispatchedTasks: {},
    ...over,
  };
}

const tmuxOf = (names: string[]): Map<string, TmuxSessionInfo> =>
  new Map(names.map((n) => [n, { name: n, owner: `Session/${n}`, created: 0, panePid: 1, paneDead: false, paneDeadStatus: undefined, options: { 'cf-account': 'a' } }]));

function sessionStatus(activity: string, over: Record<string, unknown> = {}): StatusMap[string] {
  return {
    observedGeneration: 'g', activity, since: iso(T - 120_000), lastHeartbeat: iso(T - 120_000), account: 'a',
    conditions: [{ type: 'Ready', status: 'True', reason: activity === 'idle' ? 'Idle' : 'Working', message: '', lastTransitionTime: NOW.toISOString(), observedGeneration: 'g' }],
    ...over,
  };
}

interface CtxSetup {
  desired?: DesiredState;
  queue?: Partial<ProjectQueueObserved>;
  prior?: StatusMap;
  observed?: Partial<ProjectObserved>;
}

function ctxOf(setup: CtxSetup = {}): ProjectPlanContext {
  const d = setup.desired ?? desired();
  const q = queue(setup.queue);
  const observed: ProjectObserved = { projects: { p: q }, tmux: tmuxOf(['s1', 's2']), checkpoints: [], toolCalls: {}, ...setup.observed };
  const project = d.projects[0];
  if (!project) throw new Error('no project');
  return projectPlanContext(project, q, { desired: d, observed, prior: setup.prior ?? {}, inventory: {}, now: NOW, options: { dryRun: true, prune: false } }, '/state', DEFAULT_PROJECT_TUNING);
}

const effectTypes = (phase: PhaseOutput): Effect['type'][] => phase.changes.flatMap((c) => c.effects.map((e) => e.type));
const idle: StatusMap = { 'Session/s1': sessionStatus('idle'), 'Session/s2': sessionStatus('idle') };

describe('phase queue layout', () => {
  it.each([
    { name: 'read error', queue: { error: 'EACCES' }, effects: [], reason: 'QueueError', requeue: 5_000, final: true },
    { name: 'directories missing', queue: { missingDirs: ['leases/'] }, effects: ['queue.ensureDirs'], reason: 'QueueIncomplete', requeue: 0, final: true },
    { name: 'no queue yet', queue: { exists: false }, effects: ['queue.ensureDirs', 'queue.writeStatus'], reason: 'QueueMissing', requeue: 0, final: true },
    { name: 'usable', queue: {}, effects: [], reason: 'QueueAvailable', requeue: undefined, final: false },
  ])('$name', ({ queue: q, effects, reason, requeue, final }) => {
    const ctx = ctxOf({ queue: q });
    const result = planQueueLayout(ctx, []);
    expect(effectTypes(result)).toEqual(effects);
    expect(result.conditions.find((c) => c.type === 'QueueReady')?.reason).toBe(reason);
    expect(result.requeueAfterMs).toBe(requeue);
    expect(result.finalStatus !== undefined).toBe(final);
    if (final) expect(result.finalStatus?.conditions.find((c) => c.type === 'Ready')?.status).toBe('False');
  });
});

describe('phase recovery', () => {
  const intent = { version: 1 as const, taskId: 'f', from: 'dispatched' as const, to: 'done' as const, text: 'x', at: iso(T - 60_000) };
  it.each([
    {
      name: 'nothing to recover', snapshot: { locations: new Map([['a', ['dispatched' as const]]]), leases: [lease('a')], intents: [] },
      changes: [], moves: [], recovering: false,
    },
    {
      name: 'dispatched without lease → back to inbox', snapshot: { locations: new Map([['u', ['dispatched' as const]]]), leases: [], intents: [] },
      changes: ['task "u" (recovery)'], moves: [{ from: 'dispatched', to: 'inbox', count: 1 }], recovering: true,
    },
    {
      name: 'interrupted finish rolls forward', snapshot: { locations: new Map([['f', ['dispatched' as const]]]), leases: [lease('f')], intents: [{ taskId: 'f', intent, mtimeMs: T - 60_000 }] },
      changes: ['task "f" (recovery)'], moves: [{ from: 'dispatched', to: 'done', count: 1 }], recovering: true,
    },
  ])('$name', ({ snapshot, changes, moves, recovering }) => {
    const result = planQueueRecovery(ctxOf({ queue: { recovery: { snapshot, graceMs: 0 } } }));
    expect(result.changes.map((c) => c.resource)).toEqual(changes);
    expect(result.moves).toEqual(moves);
    expect(result.recovering).toBe(recovering);
    expect(result.touched).toEqual(changes.length > 0 ? [...snapshot.locations.keys()] : []);
  });

  it('reports a task id in two directories as an anomaly and leaves it', () => {
    const result = planQueueRecovery(ctxOf({ queue: { recovery: { snapshot: { locations: new Map([['x', ['inbox', 'done']]]), leases: [], intents: [] }, graceMs: 0 } } }));
    expect(result.changes).toEqual([]);
    expect(result.notes.map((n) => n.message)).toEqual([expect.stringContaining('task x: task id is in 2 state directories')]);
  });
});

describe('phase inbox triage', () => {
  const malformed = { entry: entry('bad', 'inbox'), error: { reason: 'frontmatter is not YAML' } } as ProjectQueueObserved['scan']['malformed'][number];
  const conflict = { entry: entry('dup', 'inbox'), existingIn: ['done'] } as ProjectQueueObserved['scan']['conflicts'][number];
  it.each([
    { name: 'malformed → failed/, conflict → renamed', touched: [], effects: ['queue.fail', 'queue.resolveConflict'], events: ['TaskFailed'], moves: 1 },
    { name: 'ids already touched are left alone', touched: ['bad', 'dup'], effects: [], events: [], moves: 0 },
  ])('$name', ({ touched, effects, events, moves }) => {
    const result = planInboxTriage(ctxOf({ queue: { scan: { ready: [], settling: [], malformed: [malformed], conflicts: [conflict] } } }), new Set(touched));
    expect(effectTypes(result)).toEqual(effects);
    expect(result.events.map((e) => e.reason)).toEqual(events);
    expect(result.moves).toHaveLength(moves);
  });
});

describe('phase leases', () => {
  const marker = taskMarkerId('t1');
  it.each([
    { name: 'finished turn → complete', status: sessionStatus('idle', { lastCompletedTask: marker, lastCompletedAt: iso(T - 1_000) }), lease: {}, action: 'queue.complete', move: 'done', busy: false, event: 'TaskCompleted' },
    { name: 'working on it → keep', status: sessionStatus('working', { currentTask: marker, lastHeartbeat: iso(T - 1_000) }), lease: {}, action: undefined, move: undefined, busy: true, event: undefined },
    { name: 'never delivered, idle → re-deliver', status: sessionStatus('idle'), lease: { deliveredAt: undefined }, action: 'tmux.deliver', move: undefined, busy: true, event: undefined },
    { name: 'idle without finishing → requeue', status: sessionStatus('idle', { since: iso(T - 10_000) }), lease: {}, action: 'queue.requeue', move: 'inbox', busy: false, event: 'TaskRequeued' },
    { name: 'last attempt ended → dead letter', status: sessionStatus('idle', { since: iso(T - 10_000) }), lease: { attempt: 3 }, action: 'queue.requeue', move: 'failed', busy: false, event: 'TaskFailed' },
    { name: 'resumed after a relaunch → replay', status: sessionStatus('idle', { launchedAt: iso(T - 5_000), launchMode: 'resume', since: iso(T - 4_000) }), lease: {}, action: 'tmux.deliver', move: undefined, busy: true, event: 'TaskReplayed' },
    { name: 'rate-limited → hold', status: sessionStatus('rateLimited'), lease: {}, action: undefined, move: undefined, busy: true, event: undefined },
  ])('$name', ({ status, lease: over, action, move, busy, event }) => {
    const ctx = ctxOf({ queue: { leases: [lease('t1', over)], dispatched: [entry('t1', 'dispatched')], dispatchedTasks: { t1: task('t1') } }, prior: { 'Session/s1': status } });
    const result = planLeases(ctx, new Set());
    expect(effectTypes(result)[0]).toBe(action);
    expect(result.moves[0]?.to).toBe(move);
    expect(result.busy.has('s1')).toBe(busy);
    expect(result.events[0]?.reason).toBe(event);
    expect(result.touched).toEqual(action ? ['t1'] : []);
  });

  it('a held task keeps the time it was first held', () => {
    const ctx = ctxOf({ queue: { leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] }, prior: { 'Session/s1': sessionStatus('rateLimited'), 'Project/p': { observedGeneration: 'g', conditions: [], holds: { t1: iso(T - 5_000) } } } });
    const result = planLeases(ctx, new Set());
    expect(result.holds).toEqual({ t1: iso(T - 5_000) });
    expect(result.notes[0]?.message).toContain('task t1:');
    expect(result.requeueAfterMs).toBeGreaterThan(0);
  });

  it.each([
    { name: 'touched by recovery', touched: ['t1'], tmux: true },
    { name: 'tmux unknown (kept, not judged)', touched: [], tmux: false },
  ])('leaves a lease alone: $name', ({ touched, tmux }) => {
    const ctx = ctxOf({
      queue: { leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] }, prior: { 'Session/s1': sessionStatus('idle', { since: iso(T - 10_000) }) },
      ...(tmux ? {} : { observed: { tmuxProblem: 'tmux is not installed' } }),
    });
    const result = planLeases(ctx, new Set(touched));
    expect(result.changes).toEqual([]);
    expect(result.busy.has('s1')).toBe(!tmux);
  });
});

describe('phase stuck alerts', () => {
  const quiet = sessionStatus('working', { currentTask: 't1', lastHeartbeat: iso(T - 30 * 60_000), since: iso(T - 30 * 60_000) });
  it.each([
    { name: 'fresh: a quiet task is reported', first: false, reported: undefined, events: ['TaskStuck'] },
    { name: 'first pass: nothing is judged, the prior spells stay', first: true, reported: { t1: 'x' }, events: [] },
  ])('$name', ({ first, reported, events }) => {
    const ctx = ctxOf({
      queue: { first, leases: [lease('t1', { claimedAt: iso(T - 40 * 60_000), deliveredAt: iso(T - 40 * 60_000) })], dispatched: [entry('t1', 'dispatched')] },
      prior: { 'Session/s1': quiet, ...(reported ? { 'Project/p': { observedGeneration: 'g', conditions: [], stuck: reported } } : {}) },
    });
    const result = planStuckAlerts(ctx, new Set());
    expect(result.events.map((e) => e.reason)).toEqual(events);
    if (first) expect(result.stuck).toEqual(reported);
    else expect(Object.keys(result.stuck ?? {})).toEqual(['t1']);
  });
});

describe('phase dispatch', () => {
  const none = { touched: new Set<string>(), busy: new Map<string, BusySession>(), recovering: false };

  it.each([
    { name: 'recovering', setup: {}, recovering: true, pause: 'the queue is being recovered; dispatch resumes on the next pass' },
    { name: 'tmux unknown', setup: { observed: { tmuxProblem: 'no tmux' } }, recovering: false, pause: 'tmux cannot be observed' },
    { name: 'first pass', setup: { queue: { first: true } }, recovering: false, pause: 'waiting for fresh session status after start' },
    { name: 'all accounts exhausted', setup: { prior: { 'Account/*': { observedGeneration: 'g', conditions: [], allExhausted: true } } }, recovering: false, pause: 'every account is out of quota' },
    { name: 'nothing in the way', setup: {}, recovering: false, pause: undefined },
  ])('dispatchPause: $name', ({ setup, recovering, pause }) => {
    const ctx = ctxOf(setup as CtxSetup);
    expect(dispatchPause(ctx, recovering, (ctx.input.prior['Account/*'] as { allExhausted?: boolean } | undefined)?.allExhausted === true)).toBe(pause);
  });

  it('assigns the oldest task to the longest-idle session, one per account slot (maxSessions 1)', () => {
    const ctx = ctxOf({ queue: { scan: { ready: [task('old', undefined, T - 90_000), task('new')], settling: [], malformed: [], conflicts: [] } }, prior: { ...idle, 'Session/s2': sessionStatus('idle', { since: iso(T - 500_000) }) } });
    const result = planDispatch(ctx, none);
    expect(result.changes.map((c) => c.reason.split(' (')[0])).toEqual(['dispatch to session s2']);
    expect(result.changes[0]?.resource).toBe('task "old"');
    expect(effectTypes(result)).toEqual(['queue.claim', 'tmux.deliver']);
    expect(result.moves).toEqual([{ from: 'inbox', to: 'dispatched', count: 1 }]);
    expect([...result.busy.keys()]).toEqual(['s2']);
    expect(result.waiting).toEqual([{ taskId: 'new', reason: 'every free session\'s account is at its maxSessions' }]);
    expect(result.notes.map((n) => n.message)).toEqual(['1 task(s) wait: every free session\'s account is at its maxSessions']);
  });

  it.each([
    { name: 'a paused dispatch notes it and plans nothing', setup: { queue: { first: true } }, changes: 0, paused: true, requeue: 0 },
    { name: 'a lease holder is not free', setup: { queue: { leases: [lease('x', { session: 's1' }), lease('y', { session: 's2' })] } }, changes: 0, paused: false, requeue: undefined },
  ])('$name', ({ setup, changes, paused, requeue }) => {
    const ctx = ctxOf({ prior: idle, ...setup, queue: { scan: { ready: [task('t1')], settling: [], malformed: [], conflicts: [] }, ...setup.queue } } as CtxSetup);
    const busy = new Map(ctx.queue.leases.map((l) => [l.lease?.session ?? '', { task: l.taskId, since: iso(T) }]));
    const result = planDispatch(ctx, { ...none, busy });
    expect(result.changes).toHaveLength(changes);
    expect(result.paused !== undefined).toBe(paused);
    expect(result.requeueAfterMs).toBe(requeue);
  });

  it('tasks routed to delegation stay in inbox/ and are listed', () => {
    const ctx = ctxOf({ desired: desired('  delegationPolicy: ext\n'), prior: idle, queue: { scan: { ready: [task('d', '---\npreferred_ai: gemini\n---\nDo d.\n')], settling: [], malformed: [], conflicts: [] } } });
    const result = planDispatch(ctx, none);
    expect(result.changes).toEqual([]);
    expect(result.awaitingDelegation).toEqual([expect.objectContaining({ taskId: 'd', provider: 'gemini' })]);
    expect(result.notes[0]?.message).toContain('routed to delegation stay in inbox/');
  });

  it('a session idle for less than idleSettleMs is asked back for later', () => {
    const ctx = ctxOf({ desired: desired('', [{ name: 's1' }]), prior: { 'Session/s1': sessionStatus('idle', { since: iso(T - 100) }) }, queue: { scan: { ready: [task('t1')], settling: [], malformed: [], conflicts: [] } } });
    const result = planDispatch(ctx, none);
    expect(result.changes).toEqual([]);
    expect(result.requeueAfterMs).toBe(DEFAULT_PROJECT_TUNING.idleSettleMs - 100 + 10);
  });

  it('accountSlots counts working sessions and lease holders against maxSessions', () => {
    expect(accountSlots(ctxOf({ prior: idle }), new Map())).toEqual(new Map([['a', 1]]));
    expect(accountSlots(ctxOf({ prior: { ...idle, 'Session/s1': sessionStatus('working') } }), new Map())).toEqual(new Map([['a', 0]]));
    expect(accountSlots(ctxOf({ prior: idle }), new Map([['s2', { task: 'x', since: iso(T) }]]))).toEqual(new Map([['a', 0]]));
  });
});

describe('phase janitor', () => {
  const checkpoint = (session: string, project: string | undefined, ageMs: number): CheckpointRecord => ({
    session, path: `/state/checkpoints/${session}.json`, mtimeMs: T - ageMs,
    ...(project ? { checkpoint: { version: 1, session, project, cwd: '/', updatedAt: iso(T - ageMs) } } : {}),
  });
  it.each([
    { name: 'not due: the prior janitorAt stays', janitor: undefined, effects: [], janitorAt: iso(T - 1_000), moves: [] },
    {
      name: 'due: old done tasks archived, temp files and gone sessions\' checkpoints removed',
      janitor: { done: [entry('old', 'done', T - 30 * 86_400_000), entry('recent', 'done', T - 1_000)], temp: [{ path: `${ROOT}/inbox/.tmp-1`, mtimeMs: T - 3_600_000 }, { path: `${ROOT}/inbox/.tmp-2`, mtimeMs: T }] },
      effects: ['queue.archive', 'queue.cleanupTemp', 'checkpoint.remove'], janitorAt: NOW.toISOString(), moves: [{ from: 'done', to: 'archive', count: 1 }],
    },
  ])('$name', ({ janitor, effects, janitorAt, moves }) => {
    const ctx = ctxOf({
      queue: janitor ? { janitor } : {},
      prior: { 'Project/p': { observedGeneration: 'g', conditions: [], janitorAt: iso(T - 1_000) } },
      observed: { checkpoints: [checkpoint('gone', 'p', 30 * 86_400_000), checkpoint('s1', 'p', 30 * 86_400_000), checkpoint('other', 'undeclared', 1_000)] },
    });
    const result = planJanitor(ctx, new Set());
    expect(effectTypes(result)).toEqual(effects);
    expect(result.janitorAt).toBe(janitorAt);
    expect(result.moves).toEqual(moves);
    if (janitor) {
      expect(result.changes[0]?.effects[0]).toMatchObject({ tasks: [{ id: 'old', month: iso(T - 30 * 86_400_000).slice(0, 7) }] });
      expect(result.changes.at(-1)?.resource).toBe('checkpoint of session gone');
    }
  });
});

describe('phase checkpoints', () => {
  it.each([
    { name: 'no checkpoint yet → created, with the held task', checkpoints: [], action: 'create', held: 't1' },
    { name: 'a task touched this pass is not held', checkpoints: [], action: 'create', held: undefined, touched: ['t1'] },
  ])('$name', ({ checkpoints, action, held, touched }) => {
    const ctx = ctxOf({ desired: desired('', [{ name: 's1' }]), queue: { leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] }, prior: idle, observed: { checkpoints } });
    const result = planCheckpoints(ctx, new Set(touched ?? []));
    expect(result.changes.map((c) => c.action)).toEqual([action]);
    const written = result.changes[0]?.effects[0] as Extract<Effect, { type: 'fs.writeJson' }>;
    expect(written.path).toBe('/state/checkpoints/s1.json');
    expect((written.value as { lastTask?: { id: string } }).lastTask?.id).toBe(held);
  });

  it('an unchanged checkpoint is not written again', () => {
    const first = planCheckpoints(ctxOf({ desired: desired('', [{ name: 's1' }]), prior: idle }), new Set());
    const value = (first.changes[0]?.effects[0] as Extract<Effect, { type: 'fs.writeJson' }>).value as CheckpointRecord['checkpoint'];
    const again = planCheckpoints(ctxOf({ desired: desired('', [{ name: 's1' }]), prior: idle, observed: { checkpoints: [{ session: 's1', path: '/state/checkpoints/s1.json', mtimeMs: T, ...(value ? { checkpoint: value } : {}) }] } }), new Set());
    expect(again.changes).toEqual([]);
  });
});

describe('phase status', () => {
  const facts = (over: Partial<ProjectStatusFacts> = {}): ProjectStatusFacts => ({
    conditions: [], counts: emptyCounts(), busy: new Map(), recovering: false, allExhausted: false, awaitingDelegation: [], waiting: [], holds: {}, stuck: undefined, ...over,
  });
  it.each([
    { name: 'idle', facts: {}, ready: ['True', 'Idle'] },
    { name: 'work queued', facts: { counts: { ...emptyCounts(), inbox: 2 } }, ready: ['True', 'Dispatching'] },
    { name: 'recovering', facts: { recovering: true }, ready: ['False', 'Recovering'] },
    { name: 'paused, every account exhausted', facts: { paused: 'every account is out of quota', allExhausted: true }, ready: ['False', 'AllAccountsExhausted'] },
  ])('Ready condition: $name', ({ facts: over, ready }) => {
    const result = planProjectStatus(ctxOf(), facts(over));
    const condition = result.status.conditions.find((c) => c.type === 'Ready');
    expect([condition?.status, condition?.reason]).toEqual(ready);
  });

  it('no sessions and tasks waiting → NoSessions', () => {
    const result = planProjectStatus(ctxOf({ desired: desired('', []) }), facts({ counts: { ...emptyCounts(), inbox: 1 } }));
    expect(result.status.conditions.find((c) => c.type === 'Ready')?.reason).toBe('NoSessions');
  });

  it('writes status.json only when what it says changed, and reports busy sessions', () => {
    const busy = new Map([['s1', { task: 't1', since: iso(T - 5_000) }]]);
    const first = planProjectStatus(ctxOf(), facts({ busy, counts: { ...emptyCounts(), dispatched: 1 }, holds: { t1: iso(T) } }));
    expect(effectTypes(first)).toEqual(['queue.writeStatus']);
    expect(first.status).toMatchObject({ busy: 1, idle: 1, sessions: { s1: { state: 'working', task: 't1' }, s2: { state: 'idle' } }, holds: { t1: iso(T) } });
    expect(first.requeueAfterMs).toBe(30_000);
    const again = planProjectStatus(ctxOf({ prior: { 'Project/p': first.status as ProjectStatus } }), facts({ busy, counts: { ...emptyCounts(), dispatched: 1 } }));
    expect(again.changes).toEqual([]);
    expect(again.status.holds).toBeUndefined();
  });

  it('applyMoves applies the phases\' moves in order and never goes below zero', () => {
    expect(applyMoves({ ...emptyCounts(), inbox: 1 }, [{ from: 'inbox', to: 'dispatched', count: 1 }, { from: 'inbox', to: 'failed', count: 1 }, { from: 'dispatched', to: 'done', count: 1 }]))
      .toEqual({ ...emptyCounts(), inbox: 0, dispatched: 0, done: 1, failed: 1 });
  });
});
