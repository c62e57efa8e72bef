/** The Project controller's pure plan() on constructed observations: every decision shows as changes. */
import { describe, expect, it } from 'vitest';
import { desiredFromObjects, type DesiredState } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import type { StatusMap } from '../../src/core/controller.js';
import type { Effect } from '../../src/core/effects.js';
import type { TmuxSessionInfo } from '../../src/core/ports.js';
import { emptyCounts, parseTask, TaskParseError, type Lease, type LeaseRecord, type Task, type TaskEntry } from '../../src/core/task.js';
import { checkpointPath, nextCheckpoint } from '../../src/controllers/project-checkpoint.js';
import { DEFAULT_PROJECT_TUNING, ProjectController, publishedFingerprint, type ProjectObserved, type ProjectQueueObserved, type ProjectStatus } from '../../src/controllers/project.js';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const T = NOW.getTime();
const ROOT = '/srv/p/.agent-queue';

// s2 is pinned to account b (tmuxOf runs it there); unpinned sessions run under the active account, a.
function desired(extra = '', sessions: { name: string; mode?: string; account?: string; project?: string }[] = [{ name: 's1' }, { name: 's2', account: 'b' }]): DesiredState {
  const docs = [
    'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: /acc/a}\n',
    'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: b}\nspec: {configDir: /acc/b, maxSessions: 1}\n',
    `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  path: /srv/p\n${extra}`,
    'apiVersion: claudefailover.io/v1alpha1\nkind: DelegationPolicy\nmetadata: {name: ext}\nspec: {endpoint: "http://127.0.0.1:1", apiKey: {env: K}, providers: [gemini]}\n',
    ...sessions.map((s) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: ${s.name}}\nspec: {project: ${s.project ?? 'p'}, mode: ${s.mode ?? 'pool'}${s.account ? `, account: ${s.account}` : ''}}\n`),
  ];
  const r = parseManifestText('/m/pool.yaml', docs.join('---\n'), { homeDir: '/home/x' });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return desiredFromObjects(r.objects);
}

function task(id: string, text: string, mtimeMs = T - 60_000, state: 'inbox' | 'dispatched' = 'inbox'): Task {
  return parseTask(text, { id, state, fileName: `${id}.md`, path: `${ROOT}/${state}/${id}.md`, mtimeMs, size: text.length });
}

const entry = (id: string, state: TaskEntry['state'], mtimeMs = T - 60_000): TaskEntry => ({ id, state, fileName: `${id}.md`, path: `${ROOT}/${state}/${id}.md`, mtimeMs, size: 10, settling: false });

function lease(id: string, over: Partial<Lease> = {}): LeaseRecord {
  const l: Lease = { version: 1, taskId: id, claimId: `c-${id}`, session: 's1', account: 'a', attempt: 1, claimedAt: new Date(T - 30_000).toISOString(), deliveredAt: new Date(T - 29_000).toISOString(), ...over };
  return { taskId: id, lease: l, mtimeMs: T - 30_000 };
}

function queue(over: Partial<ProjectQueueObserved> = {}): ProjectQueueObserved {
  const ready = over.scan?.ready ?? [];
  return {
    root: ROOT, exists: true, first: false,
    scan: { ready: [], settling: [], malformed: [], conflicts: [] },
    counts: { ...emptyCounts(), inbox: ready.length, dispatched: over.dispatched?.length ?? 0 },
    leases: [], dispatched: [], dispatchedTasks: {},
    ...over,
  };
}

const tmuxOf = (names: string[], dead: string[] = []): Map<string, TmuxSessionInfo> =>
  new Map([...names, ...dead].map((n) => [n, { name: n, owner: `Session/${n}`, created: 0, panePid: 1, paneDead: dead.includes(n), paneDeadStatus: undefined, options: { 'cf-account': n === 's2' ? 'b' : 'a' } }]));

function sessionStatus(activity: string, over: Record<string, unknown> = {}): StatusMap[string] {
  return {
    observedGeneration: 'g', activity, since: new Date(T - 120_000).toISOString(), lastHeartbeat: new Date(T - 120_000).toISOString(),
    conditions: [{ type: 'Ready', status: 'True', reason: activity === 'idle' ? 'Idle' : 'Working', message: '', lastTransitionTime: NOW.toISOString(), observedGeneration: 'g' }],
    ...over,
  };
}

function plan(d: DesiredState, q: ProjectQueueObserved, prior: StatusMap = {}, obs: Partial<ProjectObserved> = {}) {
  const c = new ProjectController({
    queueFor: () => { throw new Error('no I/O in plan'); },
    tmux: { listSessions: () => Promise.resolve([]) },
    fs: { inspect: () => Promise.resolve({ kind: 'missing' }), readText: () => Promise.resolve(undefined), listDir: () => Promise.resolve(undefined) },
    stateDir: '/state',
    checkpoints: () => Promise.resolve([]),
  });
  const observed: ProjectObserved = { projects: { p: q }, tmux: tmuxOf(['s1', 's2']), checkpoints: [], toolCalls: {}, ...obs };
  const part = c.plan({ desired: d, observed, prior, inventory: {}, now: NOW, options: { dryRun: true, prune: false } }, ['p']);
  const effects = part.changes.flatMap((ch) => ch.effects);
  const ofType = <K extends Effect['type']>(type: K) => effects.filter((e): e is Extract<Effect, { type: K }> => e.type === type);
  return { part, status: part.status['Project/p'] as ProjectStatus, ofType, notes: part.notes.map((n) => n.message).join('\n') };
}

const idleBoth: StatusMap = { 'Session/s1': sessionStatus('idle'), 'Session/s2': sessionStatus('idle') };

describe('Project plan', () => {
  it('creates a missing queue (and its status.json) and dispatches nothing yet', () => {
    const r = plan(desired(), queue({ exists: false }), idleBoth);
    expect(r.part.changes).toHaveLength(1);
    expect(r.part.changes[0]).toMatchObject({ action: 'create', resource: `task queue ${ROOT}` });
    expect(r.part.changes[0]?.effects.map((e) => e.type)).toEqual(['queue.ensureDirs', 'queue.writeStatus']);
    expect(r.status.conditions.find((c) => c.type === 'QueueReady')).toMatchObject({ status: 'False', reason: 'QueueMissing' });
  });

  it('dispatches by priority then age to idle sessions: claim before deliver, prompt with marker, path and body', () => {
    const ready = [
      task('t-high', '---\npriority: high\n---\nurgent fix\n', T - 1000),
      task('t-old', 'old normal task\n', T - 50_000),
      task('t-new', 'new normal task\n', T - 2000),
    ];
    const r = plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), idleBoth);
    const claims = r.ofType('queue.claim');
    expect(claims.map((c) => [c.taskId, c.session, c.account])).toEqual([['t-high', 's1', 'a'], ['t-old', 's2', 'b']]);
    const dispatch = r.part.changes.filter((c) => c.effects[0]?.type === 'queue.claim');
    for (const ch of dispatch) expect(ch.effects.map((e) => e.type)).toEqual(['queue.claim', 'tmux.deliver']);
    const deliver = r.ofType('tmux.deliver')[0];
    expect(deliver?.session).toBe('s1');
    expect(deliver?.task).toEqual({ root: ROOT, taskId: 't-high' });
    expect(deliver?.text).toMatch(/^\[cf-task:t-high\] /);
    expect(deliver?.text).toContain(`Task file: ${ROOT}/dispatched/t-high.md`);
    expect(deliver?.text).toContain('\nurgent fix\n');
    expect(r.notes).toMatch(/1 task\(s\) wait: no idle session/);
    // status.json carries the counts after the plan
    const st = r.ofType('queue.writeStatus')[0]?.status;
    expect(st?.counts).toMatchObject({ inbox: 1, dispatched: 2 });
    expect(st?.sessions).toEqual({ s1: { state: 'working', task: 't-high', since: NOW.toISOString() }, s2: { state: 'working', task: 't-old', since: NOW.toISOString() } });
    expect(r.status.busy).toBe(2);
  });

  it('does not dispatch on the first pass after a start (session status may be stale) and plans recovery', () => {
    const ready = [task('t1', 'x\n')];
    const snapshot = {
      locations: new Map<string, ('inbox' | 'dispatched')[]>([['t1', ['inbox']], ['t2', ['dispatched']], ['t3', ['inbox']]]),
      leases: [lease('t3')],
      intents: [],
    };
    const r = plan(desired(), queue({ first: true, scan: { ready, settling: [], malformed: [], conflicts: [] }, recovery: { snapshot, graceMs: 0 } }), idleBoth);
    expect(r.ofType('queue.claim')).toEqual([]);
    const rec = r.ofType('queue.recover').flatMap((e) => e.actions.map((a) => `${a.type}:${a.taskId}`)).sort();
    expect(rec).toEqual(['dropLease:t3', 'requeueUnleased:t2']);
    expect(r.notes).toMatch(/dispatch paused: the queue is being recovered/);
    expect(r.part.requeueAfterMs['Project/p']).toBe(0);
  });

  it('pauses dispatch while every account is exhausted, and skips sessions on an exhausted account', () => {
    const ready = [task('t1', 'x\n'), task('t2', 'y\n')];
    const q = queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } });
    const all = plan(desired(), q, { ...idleBoth, 'Account/*': { observedGeneration: 'x', conditions: [], allExhausted: true, exhausted: ['a', 'b'] } });
    expect(all.ofType('queue.claim')).toEqual([]);
    expect(all.notes).toMatch(/dispatch paused: every account is out of quota/);
    expect(all.status.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'AllAccountsExhausted' });
    const one = plan(desired(), q, { ...idleBoth, 'Account/*': { observedGeneration: 'x', conditions: [], allExhausted: false, exhausted: ['a'] } });
    expect(one.ofType('queue.claim').map((c) => c.session)).toEqual(['s2']);
  });

  it('respects Account.maxSessions across busy sessions', () => {
    // s2 and s3 run under b (maxSessions 1); s3 is working elsewhere → s2 may not start.
    const d = desired('', [{ name: 's1' }, { name: 's2', account: 'b' }, { name: 's3', project: 'p' }]);
    const ready = [task('t1', 'x\n'), task('t2', 'y\n')];
    const tmux = tmuxOf(['s1', 's2', 's3']);
    tmux.set('s3', { ...(tmux.get('s3') as TmuxSessionInfo), options: { 'cf-account': 'b' } });
    const r = plan(d, queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), { ...idleBoth, 'Session/s3': sessionStatus('working') }, { tmux });
    expect(r.ofType('queue.claim').map((c) => c.session)).toEqual(['s1']);
    expect(r.notes).toMatch(/maxSessions/);
  });

  it('completes a task whose turn ended, with the footer, and gives the session its next task in the same pass', () => {
    const ready = [task('t2', 'next\n')];
    const prior: StatusMap = {
      'Session/s1': sessionStatus('idle', { lastCompletedTask: 't1', lastCompletedAt: new Date(T - 1000).toISOString(), conversationId: 'conv-1', since: new Date(T - 1000).toISOString() }),
      'Session/s2': sessionStatus('working', { currentTask: 'other' }),
    };
    const r = plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] }, leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] }), prior);
    const done = r.ofType('queue.complete')[0];
    expect(done).toMatchObject({ taskId: 't1', expectClaimId: 'c-t1' });
    expect(done?.footer).toMatch(/- task: t1\n- session: s1\n- account: a\n- conversation: conv-1\n- started: 2026-05-01T11:59:31.000Z\n- finished: 2026-05-01T11:59:59.000Z\n- duration: 28s\n- attempts: 1\n/);
    expect(r.part.events.map((e) => e.reason)).toContain('TaskCompleted');
    expect(r.ofType('queue.claim').map((c) => `${c.taskId}->${c.session}`)).toEqual(['t2->s1']);
  });

  it('requeues the task of a dead session, dead-letters at max attempts', () => {
    // Delivered 89 s ago and the sessions are gone: past the wait for a relaunch (RELAUNCH_WAIT_MS).
    const old = { claimedAt: new Date(T - 90_000).toISOString(), deliveredAt: new Date(T - 89_000).toISOString() };
    const q = queue({ leases: [lease('t1', old), lease('t2', { ...old, session: 's2', attempt: 3 })], dispatched: [entry('t1', 'dispatched'), entry('t2', 'dispatched')] });
    const r = plan(desired(), q, idleBoth, { tmux: tmuxOf([], ['s1', 's2']) });
    const rq = r.ofType('queue.requeue');
    expect(rq.map((e) => [e.taskId, e.maxAttempts, e.expectClaimId])).toEqual([['t1', 3, 'c-t1'], ['t2', 3, 'c-t2']]);
    expect(rq[0]?.reason).toMatch(/session s1 died/);
    const reasons = r.part.changes.filter((c) => c.effects[0]?.type === 'queue.requeue').map((c) => c.reason);
    expect(reasons[0]).toMatch(/^requeue \(attempt 1 of 3 ended\)/);
    expect(reasons[1]).toMatch(/^dead letter after 3 attempt/);
    expect(r.part.events.map((e) => e.reason).sort()).toEqual(['TaskFailed', 'TaskRequeued']);
  });

  it('re-delivers a claimed task that was never delivered (same claim, no new lease)', () => {
    const t1 = task('t1', 'body one\n', T - 60_000, 'dispatched');
    const q = queue({ leases: [lease('t1', { deliveredAt: undefined, attempt: 2 })], dispatched: [entry('t1', 'dispatched')], dispatchedTasks: { t1 } });
    const r = plan(desired(), q, idleBoth);
    expect(r.ofType('queue.claim')).toEqual([]);
    const d = r.ofType('tmux.deliver');
    expect(d).toHaveLength(1);
    expect(d[0]?.session).toBe('s1');
    expect(d[0]?.text).toMatch(/delivery attempt 2/);
  });

  it('continues a task on its session after a relaunch with --resume: one continuation, the session stays busy', () => {
    const ready = [task('t2', 'next\n')];
    const relaunched = new Date(T - 5_000).toISOString();
    const prior: StatusMap = { ...idleBoth, 'Session/s1': sessionStatus('idle', { currentTask: 't1', since: new Date(T - 4_000).toISOString(), launchedAt: relaunched, launchMode: 'resume', conversationId: 'conv-1' }) };
    const q = queue({ scan: { ready, settling: [], malformed: [], conflicts: [] }, leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] });
    const r = plan(desired(), q, prior);
    const d = r.ofType('tmux.deliver').filter((e) => e.session === 's1');
    expect(d).toHaveLength(1);
    expect(d[0]?.text).toMatch(/^\[cf-task:t1\] Continue task t1 /);
    expect(d[0]?.task).toEqual({ root: ROOT, taskId: 't1', continuation: { claimId: 'c-t1' } });
    expect(r.part.events.find((e) => e.reason === 'TaskReplayed')?.data).toMatchObject({ taskId: 't1', session: 's1', attempt: 1, continuation: 1 });
    expect(r.ofType('queue.claim').map((c) => c.session)).toEqual(['s2']); // s1 is busy with its continuation

    // The next pass: the continuation is recorded, the session still reads idle since its relaunch.
    const after = queue({ leases: [lease('t1', { continuedAt: new Date(T - 100).toISOString(), continuations: 1 })], dispatched: [entry('t1', 'dispatched')] });
    const r2 = plan(desired(), after, prior);
    expect(r2.ofType('tmux.deliver')).toEqual([]);
    expect(r2.ofType('queue.requeue')).toEqual([]);
    expect(r2.status.sessions.s1).toMatchObject({ state: 'working', task: 't1' });
    // A second relaunch later (another failover) gets its own continuation, naming the first.
    const again = plan(desired(), queue({ leases: [lease('t1', { continuedAt: new Date(T - 20_000).toISOString(), continuations: 1 })], dispatched: [entry('t1', 'dispatched')] }), prior);
    expect(again.ofType('tmux.deliver')[0]?.task?.continuation).toEqual({ claimId: 'c-t1', previous: new Date(T - 20_000).toISOString() });
    // A failover relaunch that could not resume (no transcript yet): the task goes on from its file.
    const fresh = plan(desired(), q, { ...prior, 'Session/s1': sessionStatus('idle', { since: new Date(T - 4_000).toISOString(), launchedAt: relaunched, launchMode: 'new' }) });
    expect(fresh.ofType('tmux.deliver').find((e) => e.session === 's1')?.text).toMatch(/^\[cf-task:t1\] Continue task t1 [\s\S]*new conversation/);
    // After a crash it is a new attempt.
    const crashed = plan(desired(), q, { ...prior, 'Session/s1': sessionStatus('idle', { since: new Date(T - 4_000).toISOString(), launchedAt: relaunched, launchMode: 'new', failures: [{ at: new Date(T - 6_000).toISOString(), reason: 'Exited', exitStatus: 1, uptimeMs: 30_000 }] }) });
    expect(crashed.ofType('queue.requeue').map((e) => e.taskId)).toEqual(['t1']);
  });

  it('gives no task to an idle session that is about to move to another account (failover in progress)', () => {
    const ready = [task('t1', 'x\n'), task('t2', 'y\n')];
    const pool = { observedGeneration: 'x', conditions: [], activeAccount: 'b', exhausted: [] };
    // s1 is not pinned and still runs under a; the pool's active account is b now. s2 is pinned to b.
    const r = plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), { ...idleBoth, 'Account/*': pool });
    expect(r.ofType('queue.claim').map((c) => `${c.taskId}->${c.session}`)).toEqual(['t1->s2']);
    expect(r.notes).toMatch(/1 idle session\(s\) get no task while they are relaunched/);
    // Once relaunched under b, it takes work again.
    const moved = tmuxOf(['s1', 's2']);
    moved.set('s1', { ...(moved.get('s1') as TmuxSessionInfo), options: { 'cf-account': 'b' } });
    const r2 = plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), { ...idleBoth, 'Account/*': pool }, { tmux: moved });
    expect(r2.ofType('queue.claim').map((c) => c.session)).toContain('s1'); // (b's maxSessions 1 leaves s2 without)
  });

  it('gives no task to a session whose tmux launch is newer than its status (a relaunch not yet recorded)', () => {
    const ready = [task('t1', 'x\n')];
    const launched = new Date(T - 60_000).toISOString();
    const prior: StatusMap = { ...idleBoth, 'Session/s1': sessionStatus('idle', { launchedAt: launched }), 'Session/s2': sessionStatus('working', { launchedAt: launched }) };
    const tmux = tmuxOf(['s1', 's2']);
    tmux.set('s1', { ...(tmux.get('s1') as TmuxSessionInfo), options: { 'cf-account': 'a', 'cf-launched-at': new Date(T - 1_000).toISOString() } });
    expect(plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), prior, { tmux }).ofType('queue.claim')).toEqual([]);
    tmux.set('s1', { ...(tmux.get('s1') as TmuxSessionInfo), options: { 'cf-account': 'a', 'cf-launched-at': launched } });
    expect(plan(desired(), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), prior, { tmux }).ofType('queue.claim').map((c) => c.session)).toEqual(['s1']);
  });

  it('holds a rate-limited task (stays dispatched) and records the hold', () => {
    const q = queue({ leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] });
    const r = plan(desired(), q, { ...idleBoth, 'Session/s1': sessionStatus('rateLimited', { currentTask: 't1' }) });
    expect(r.part.changes.filter((c) => c.effects.some((e) => e.type.startsWith('queue.') && e.type !== 'queue.writeStatus'))).toEqual([]);
    expect(r.status.holds).toEqual({ t1: NOW.toISOString() });
    expect(r.notes).toMatch(/usage limit/);
  });

  it('fails malformed tasks with the reason (a change and a TaskFailed event)', () => {
    const err = new TaskParseError('frontmatter: priority must be high, normal or low');
    const r = plan(desired(), queue({ scan: { ready: [], settling: [], malformed: [{ entry: entry('bad', 'inbox'), error: err }], conflicts: [] } }), idleBoth);
    expect(r.ofType('queue.fail')).toEqual([{ type: 'queue.fail', root: ROOT, taskId: 'bad', from: 'inbox', reason: err.reason }]);
    expect(r.part.events.find((e) => e.reason === 'TaskFailed')?.message).toMatch(/priority must be/);
  });

  it('leaves tasks routed to delegation in inbox with a note', () => {
    const ready = [task('t1', '---\npreferred_ai: gemini\n---\nsummarize\n')];
    const r = plan(desired('  delegationPolicy: ext\n'), queue({ scan: { ready, settling: [], malformed: [], conflicts: [] } }), idleBoth);
    expect(r.ofType('queue.claim')).toEqual([]);
    expect(r.status.awaitingDelegation).toEqual([{ taskId: 't1', provider: 'gemini', rule: 'preferred-provider' }]);
    expect(r.notes).toMatch(/routed to delegation stay in inbox/);
  });

  it('janitor: archives old done tasks, removes old temp files and checkpoints of gone sessions', () => {
    const old = T - 8 * 86_400_000;
    const q = queue({ janitor: { done: [entry('d-old', 'done', old), entry('d-new', 'done', T - 1000)], temp: [{ path: `${ROOT}/.tmp/x`, mtimeMs: T - 3_600_000 }, { path: `${ROOT}/.tmp/y`, mtimeMs: T - 1000 }] } });
    const checkpoints = [
      { session: 'gone', path: '/state/checkpoints/gone.json', mtimeMs: old, checkpoint: { version: 1 as const, session: 'gone', project: 'p', cwd: '/', updatedAt: '' } },
      { session: 's1', path: '/state/checkpoints/s1.json', mtimeMs: old },
    ];
    const r = plan(desired(), q, idleBoth, { checkpoints });
    expect(r.ofType('queue.archive')).toEqual([{ type: 'queue.archive', root: ROOT, tasks: [{ id: 'd-old', month: '2026-04' }] }]);
    expect(r.ofType('queue.cleanupTemp')).toEqual([{ type: 'queue.cleanupTemp', root: ROOT, paths: [`${ROOT}/.tmp/x`] }]);
    expect(r.ofType('checkpoint.remove')).toEqual([{ type: 'checkpoint.remove', path: '/state/checkpoints/gone.json' }]);
    expect(r.status.janitorAt).toBe(NOW.toISOString());
  });

  it('writes checkpoints on change only, and status.json only when counts or sessions changed', () => {
    const q = queue({ leases: [lease('t1')], dispatched: [entry('t1', 'dispatched')] });
    const prior: StatusMap = { ...idleBoth, 'Session/s1': sessionStatus('working', { currentTask: 't1', conversationId: 'c1' }) };
    const first = plan(desired(), q, prior);
    const cp = first.ofType('fs.writeJson').find((e) => e.path === checkpointPath('/state', 's1'));
    expect(cp?.value).toMatchObject({ session: 's1', project: 'p', conversationId: 'c1', cwd: '/srv/p', lastTask: { id: 't1', state: 'dispatched', path: `${ROOT}/dispatched/t1.md` } });
    expect(first.ofType('queue.writeStatus')).toHaveLength(1);
    // Same world again, with what was written: no checkpoint or status.json change.
    const cps = first.ofType('fs.writeJson').map((e) => ({ session: (e.value as { session: string }).session, path: e.path, mtimeMs: T, checkpoint: e.value as never }));
    const again = plan(desired(), q, { ...prior, 'Project/p': first.status }, { checkpoints: cps });
    expect(again.part.changes).toEqual([]);
    expect(first.status.published).toBe(publishedFingerprint(first.ofType('queue.writeStatus')[0]!.status));
  });

  it('requeues a settling inbox for when its files settle', () => {
    const s = { ...entry('s1', 'inbox', T - 500), settling: true };
    const r = plan(desired(), queue({ scan: { ready: [], settling: [s], malformed: [], conflicts: [] } }), idleBoth);
    expect(r.part.requeueAfterMs['Project/p']).toBe(DEFAULT_PROJECT_TUNING.settleMs - 500 + 10);
    expect(r.status.counts.settling).toBe(1);
  });
});

describe('nextCheckpoint', () => {
  it('keeps the previous object when only the time would change; marks a released task finished', () => {
    const a = nextCheckpoint(undefined, { session: 's', project: 'p', cwd: '/w', held: { id: 't', queueRoot: ROOT, path: `${ROOT}/dispatched/t.md` } }, NOW);
    expect(a.lastTask?.state).toBe('dispatched');
    const same = nextCheckpoint(a, { session: 's', project: 'p', cwd: '/w', held: { id: 't', queueRoot: ROOT, path: `${ROOT}/dispatched/t.md` } }, new Date(T + 5000));
    expect(same).toBe(a);
    const released = nextCheckpoint(a, { session: 's', project: 'p', cwd: '/w', conversationId: 'c' }, new Date(T + 5000));
    expect(released.lastTask).toMatchObject({ id: 't', state: 'finished' });
    expect(released.conversationId).toBe('c');
  });
});
