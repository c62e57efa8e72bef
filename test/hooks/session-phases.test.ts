/**
 * The phases of the Session controller's plan (src/controllers/session.ts), each called directly:
 * a removed session, the observed status, left alone or stopped, the launch plan, the exit record,
 * a blocked worktree, launch, relaunch and running.
 */
import { describe, expect, it } from 'vitest';
import { desiredFromObjects, type DesiredState } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import type { HookEventRecord } from '../../src/core/activity.js';
import { emptyPlanPart, type PlanPart, type StatusMap } from '../../src/core/controller.js';
import type { TmuxSessionInfo } from '../../src/core/ports.js';
import type { SessionStatus } from '../../src/core/status.js';
import {
  emptySessionObserved, launchGeneration, launchPlan, observedStatus, planLaunch, planLeftOrStopped, planRelaunch, planRemoved, planRunning, planWorktreeBlocked, recordExit,
  type SessionControllerDeps, type SessionObserved, type SessionPass,
} from '../../src/controllers/session.js';
import type { OrphanWorktreeObserved } from '../../src/controllers/session-worktree.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const NOW = new Date(T0);
const iso = (ms: number) => new Date(ms).toISOString();
const CONV = '22222222-2222-4222-8222-222222222222';

const manifests = (sessionSpec: string, accounts = true) => `${accounts ? `apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata: {name: a}
spec: {configDir: /acc/a}
---
apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata: {name: b}
spec: {configDir: /acc/b, priority: 200}
---
` : ''}apiVersion: claudefailover.io/v1alpha1
kind: Project
metadata: {name: p}
spec: {path: /proj}
---
apiVersion: claudefailover.io/v1alpha1
kind: Session
metadata: {name: s1}
spec: {project: p, command: [/bin/claude]${sessionSpec}}
`;
const desiredOf = (sessionSpec = '', accounts = true) => desiredFromObjects(parseManifestText('/m/pool.yaml', manifests(sessionSpec, accounts), { homeDir: '/h' }).objects);
const deps: SessionControllerDeps = { stateDir: '/state', selfCommand: ['/node', '/cli.js'], tmux: null as never, fs: null as never, events: null as never, resolveCommand: async () => '/bin/claude', newId: () => 'x' };

function observedOf(over: Partial<SessionObserved> = {}): SessionObserved {
  return emptySessionObserved({ commands: { '/bin/claude': '/bin/claude' }, freshIds: { s1: '11111111-1111-4111-8111-111111111111' }, ...over });
}
const prior = (over: Partial<SessionStatus> = {}): SessionStatus => ({ observedGeneration: 'g', conditions: [], activity: 'idle', turns: 1, launchedAt: iso(T0 - 60_000), conversationId: CONV, tmuxSession: 's1', ...over });

function passOf(o: { desired?: DesiredState; tmux?: TmuxSessionInfo; prior?: SessionStatus; status?: StatusMap; observed?: Partial<SessionObserved>; failoverGraceMs?: number } = {}): SessionPass {
  const desired = o.desired ?? desiredOf();
  const session = desired.sessions[0];
  if (!session) throw new Error('no session');
  const status: StatusMap = { ...(o.status ?? {}), ...(o.prior ? { 'Session/s1': o.prior } : {}) };
  const observed = observedOf({ ...(o.tmux ? { tmux: new Map([['s1', o.tmux]]) } : {}), ...o.observed });
  return {
    name: 's1', key: 'Session/s1', resource: 'tmux session "s1"', session, tmux: o.tmux, prior: o.prior,
    input: { desired, observed, prior: status, inventory: {}, now: NOW, options: { dryRun: false, prune: false } },
    deps: o.failoverGraceMs !== undefined ? { ...deps, failoverGraceMs: o.failoverGraceMs } : deps,
  };
}
/** The generation a launch of the session would carry now (as its tmux option). */
const generationOf = (pass: SessionPass) => launchGeneration(launchPlan(pass, prior(), emptyPlanPart()).spec);
const tmuxOf = (over: Partial<TmuxSessionInfo> = {}, options: Record<string, string> = {}): TmuxSessionInfo => ({ name: 's1', owner: 'Session/s1', created: T0 / 1000 - 60, panePid: 42, paneDead: false, paneDeadStatus: undefined, options: { 'cf-account': 'a', ...options }, ...over });
const ready = (part: PlanPart) => part.status['Session/s1']?.conditions.find((c) => c.type === 'Ready');

describe('planRemoved: a session no longer declared', () => {
  const gone = desiredFromObjects(parseManifestText('/m/pool.yaml', manifests('').split('---\n').slice(0, 3).join('---\n'), { homeDir: '/h' }).objects);
  const dirty: OrphanWorktreeObserved = { path: '/w1', repo: '/proj', at: { state: 'worktree', commonDir: '/proj/.git', topLevel: '/w1' }, changes: [' M a.ts'] };
  const clean: OrphanWorktreeObserved = { ...dirty, changes: [] };
  it.each<[string, TmuxSessionInfo | undefined, OrphanWorktreeObserved[], boolean, string[], string[], string | undefined, string[]]>([
    ['not ours: nothing', tmuxOf({ owner: 'someone' }), [], true, [], [], undefined, []],
    ['ours, no --prune: drift', tmuxOf(), [], false, [], ['orphaned'], undefined, []],
    ['ours, --prune: stopped, Pruned', tmuxOf(), [], true, ['delete'], [], 'Pruned', []],
    ['ours, annotated: stopped without --prune', tmuxOf({}, { 'cf-prune': 'true' }), [], false, ['delete'], [], 'Pruned', []],
    ['only a clean worktree, --prune: removed', undefined, [clean], true, ['delete'], [], undefined, []],
    ['ours with a dirty worktree, --prune: stopped, worktree kept', tmuxOf(), [dirty], true, ['delete'], [], 'WorktreeDirty', ['WorktreeKept']],
    ['a worktree without --prune: drift', undefined, [clean], false, [], ['orphaned'], undefined, []],
  ])('%s', (_name, tmux, worktrees, prune, changes, drift, readyReason, events) => {
    const out = emptyPlanPart();
    const input = { desired: gone, observed: observedOf({ ...(tmux ? { tmux: new Map([['s1', tmux]]) } : {}), orphanWorktrees: { s1: worktrees } }), prior: { 'Session/s1': prior() }, inventory: {}, now: NOW, options: { dryRun: false, prune } };
    planRemoved('s1', tmux, prior(), input, out);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(out.drift.map((d) => (d.message.includes('orphaned') ? 'orphaned' : d.message))).toEqual(drift.flatMap((d) => (worktrees.length > 0 && tmux ? [d, d] : [d])));
    expect(ready(out)?.reason).toBe(readyReason);
    expect(out.events.map((e) => e.reason)).toEqual(events);
    if (readyReason === 'Pruned') expect(out.status['Session/s1']).toMatchObject({ activity: 'exited', conversationId: CONV });
  });
});

describe('observedStatus: the prior status with the hook events folded in', () => {
  const ev = (event: string, extra: Partial<HookEventRecord> = {}): HookEventRecord => ({ t: T0 - 1000, event, ...extra }) as HookEventRecord;
  it.each<[string, SessionStatus | undefined, HookEventRecord[], string | undefined, { activity: string; source?: string; task?: string; conversationId?: string }]>([
    ['no status yet, no events: starting', undefined, [], undefined, { activity: 'starting' }],
    ['a prompt: working, from the hooks', prior(), [ev('UserPromptSubmit', { promptBytes: 2 })], undefined, { activity: 'working', source: 'hooks' }],
    ['the turn ends: the task is cleared', prior({ activity: 'working', currentTask: 'T-1' }), [ev('Stop')], undefined, { activity: 'idle', source: 'hooks' }],
    ['SessionStart names the conversation', prior({ conversationId: undefined }), [ev('SessionStart', { source: 'startup', sessionId: CONV })], undefined, { activity: 'idle', source: 'hooks', conversationId: CONV }],
    ['no hooks: read from the pane', prior({ activity: 'starting' }), [], 'esc to interrupt', { activity: 'working', source: 'pane' }],
  ])('%s', (_name, st, events, pane, want) => {
    const out = emptyPlanPart();
    const got = observedStatus(passOf({ ...(st ? { prior: st } : {}), observed: { events: { s1: events }, ...(pane !== undefined ? { panes: { s1: pane } } : {}) } }), out);
    expect(got.status.activity).toBe(want.activity);
    expect(got.status.activitySource).toBe(want.source);
    expect(got.status.currentTask).toBe(want.task);
    if (want.conversationId) expect(got.status.conversationId).toBe(want.conversationId);
    expect(got.status).toMatchObject({ tmuxSession: 's1', project: 'p', mode: 'pool' });
    // The decisions read the hooks' activity, not the pane's.
    expect(got.activity).toBe(pane !== undefined ? 'starting' : want.activity);
  });
});

describe('planLeftOrStopped', () => {
  it.each<[string, string, TmuxSessionInfo | undefined, boolean, string[], string | undefined]>([
    ['a foreign tmux session: left alone', '', tmuxOf({ owner: 'someone' }), true, [], 'NameConflict'],
    ['suspended and running: stopped', ', suspended: true', tmuxOf(), true, ['delete'], 'Suspended'],
    ['suspended and gone: kept stopped', ', suspended: true', undefined, true, [], 'Suspended'],
    ['ours and declared: not this phase', '', tmuxOf(), false, [], undefined],
  ])('%s', (_name, spec, tmux, ends, changes, readyReason) => {
    const out = emptyPlanPart();
    expect(planLeftOrStopped(passOf({ desired: desiredOf(spec), ...(tmux ? { tmux } : {}) }), prior(), out)).toBe(ends);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(ready(out)?.reason).toBe(readyReason);
  });
});

describe('launchPlan', () => {
  it.each<[string, DesiredState, Partial<SessionObserved>, string | undefined, string[]]>([
    ['the active account', desiredOf(), {}, 'a', []],
    ['a pinned account', desiredOf(', account: b'), {}, 'b', []],
    ['no account at all: a warning', desiredOf('', false), {}, undefined, ['no usable Account']],
    ['a command not in PATH: a warning', desiredOf().sessions[0] ? desiredFromObjects(parseManifestText('/m/p.yaml', manifests('').replace('[/bin/claude]', '[claude]'), { homeDir: '/h' }).objects) : desiredOf(), { commands: { claude: undefined } }, 'a', ['not found in PATH']],
  ])('%s', (_name, desired, observed, account, notes) => {
    const out = emptyPlanPart();
    const got = launchPlan(passOf({ desired, observed }), prior(), out);
    expect(got.spec.account).toBe(account);
    expect(out.notes.map((n) => notes.find((x) => n.message.includes(x)) ?? n.message)).toEqual(notes);
    expect(got.createWorktree).toEqual([]);
  });

  it('a worktree to create: its effect and the reason', () => {
    const pass = passOf({ desired: desiredOf(', worktree: true'), observed: { worktrees: { s1: { target: { path: '/proj-worktrees/s1', branch: 's1' }, repo: { topLevel: '/proj', commonDir: '/proj/.git', prefix: '' }, at: { state: 'missing' } } } } });
    const base = prior();
    const got = launchPlan(pass, base, emptyPlanPart());
    expect(got.createWorktree.map((e) => e.type)).toEqual(['git.addWorktree']);
    expect(got.inWorktree).toMatch(/creating its git worktree \/proj-worktrees\/s1/);
    expect(base.worktree?.path).toBe('/proj-worktrees/s1');
  });
});

describe('recordExit: the process is gone', () => {
  it.each<[string, TmuxSessionInfo | undefined, string | undefined, string[], boolean]>([
    ['exited with output: an event and the last lines', tmuxOf({ paneDead: true, paneDeadStatus: 3 }), 'Error: boom\n', ['SessionExited'], true],
    ['exited, pane empty', tmuxOf({ paneDead: true, paneDeadStatus: 1 }), '', ['SessionExited'], true],
    ['vanished: drift only', undefined, undefined, [], false],
  ])('%s', (_name, tmux, pane, events, lastExit) => {
    const out = emptyPlanPart();
    const base = prior({ restarts: 2, failures: [] });
    recordExit(passOf({ ...(tmux ? { tmux } : {}), prior: base, observed: pane !== undefined ? { exitPanes: { s1: pane } } : {} }), iso(T0 - 6000), base, out);
    expect(out.events.map((e) => e.reason)).toEqual(events);
    expect(out.drift).toHaveLength(1);
    expect(base.restarts).toBe(3);
    expect(base.failures?.map((f) => [f.reason, f.uptimeMs])).toEqual([[tmux ? 'Exited' : 'Vanished', 6000]]);
    expect(base.launchedAt).toBeUndefined();
    expect(base.lastExit !== undefined).toBe(lastExit);
  });
});

describe('recordExit: a launch that never ran', () => {
  const failedLaunch = { type: 'Ready', status: 'False' as const, reason: 'ApplyFailed', message: 'tmux new-session s1: server exited unexpectedly', lastTransitionTime: iso(T0 - 6000), observedGeneration: 'g' };
  it.each<[string, TmuxSessionInfo | undefined, Partial<SessionStatus>, string, number]>([
    ['its change failed, no tmux session, no pane pid: a LaunchFailed failure, not a restart, no drift', undefined, { panePid: null, conditions: [failedLaunch] }, 'LaunchFailed', 2],
    ['the tmux session is there (dead pane): it ran and exited', tmuxOf({ paneDead: true, paneDeadStatus: 1 }), { panePid: null, conditions: [failedLaunch] }, 'Exited', 3],
    ['a pane pid was seen: it ran, then vanished', undefined, { panePid: 4242, conditions: [failedLaunch] }, 'Vanished', 3],
    ['launched (Launching), never seen, then gone: vanished', undefined, { panePid: null, conditions: [{ ...failedLaunch, reason: 'Launching' }] }, 'Vanished', 3],
  ])('%s', (_name, tmux, over, reason, restarts) => {
    const out = emptyPlanPart();
    const base = prior({ restarts: 2, failures: [], ...over });
    recordExit(passOf({ ...(tmux ? { tmux } : {}), prior: base }), iso(T0 - 6000), base, out);
    expect(base.failures?.map((f) => f.reason)).toEqual([reason]);
    if (reason === 'LaunchFailed') expect(base.failures?.[0]?.error).toBe('tmux new-session s1: server exited unexpectedly');
    expect(base.restarts).toBe(restarts);
    expect(out.drift).toHaveLength(reason === 'LaunchFailed' ? 0 : 1);
    expect(base.launchedAt).toBeUndefined();
  });
});

describe('planWorktreeBlocked', () => {
  const blocked = { kind: 'blocked' as const, reason: 'WorktreeConflict' as const, message: '/w is a file' };
  it.each<[string, SessionStatus, boolean, string[], string | undefined]>([
    ['first time: an event; not launched', prior(), true, ['WorktreeConflict'], 'exited'],
    ['the same reason again: no event; a running agent is left', prior({ conditions: [{ type: 'Ready', status: 'False', reason: 'WorktreeConflict', message: '/w is a file', lastTransitionTime: iso(T0), observedGeneration: 'g' }] }), false, [], 'idle'],
  ])('%s', (_name, st, gone, events, activity) => {
    const out = emptyPlanPart();
    planWorktreeBlocked(passOf({ prior: st }), st, blocked, gone, out);
    expect(out.events.map((e) => e.reason)).toEqual(events);
    expect(ready(out)?.reason).toBe('WorktreeConflict');
    expect(out.status['Session/s1']?.activity).toBe(activity);
  });
});

describe('planLaunch: the process is gone', () => {
  const looping = Array.from({ length: 5 }, (_, i) => ({ at: iso(T0 - (i + 1) * 5_000), reason: 'Exited' as const, exitStatus: 1, uptimeMs: 1000 }));
  it.each<[string, { tmux?: TmuxSessionInfo; prior?: SessionStatus; status?: StatusMap; desired?: DesiredState; transcript?: boolean }, string[], string | undefined, string | undefined, string[]]>([
    ['first launch: created', {}, ['create'], 'Launching', 'new', []],
    ['exited: replaced, resuming its conversation', { tmux: tmuxOf({ paneDead: true }), prior: prior(), transcript: true }, ['replace'], 'Launching', 'resume', []],
    ['the transcript is gone: a new conversation', { tmux: tmuxOf({ paneDead: true }), prior: prior(), transcript: false }, ['replace'], 'Launching', 'new', []],
    ['crash loop: backs off', { prior: prior({ failures: looping }) }, [], 'CrashLoopBackOff', undefined, ['SessionCrashLoop']],
    ['no account can take the pool: not launched', { status: { 'Account/*': { observedGeneration: 'pool', conditions: [], noEligibleAccount: { since: iso(T0), message: 'every account is excluded', accounts: [] } } } }, [], 'NoEligibleAccount', undefined, []],
    ['pinned, no eligible pool account: launched', { desired: desiredOf(', account: b'), status: { 'Account/*': { observedGeneration: 'pool', conditions: [], noEligibleAccount: { since: iso(T0), message: 'm', accounts: [] } } } }, ['create'], 'Launching', 'new', []],
  ])('%s', (_name, o, changes, readyReason, mode, events) => {
    const out = emptyPlanPart();
    const pass = passOf({ ...o, observed: { transcripts: { s1: o.transcript === true } } });
    const base = o.prior ?? { observedGeneration: 'g', conditions: [] };
    planLaunch(pass, base, launchPlan(pass, base, emptyPlanPart()), out);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(ready(out)?.reason).toBe(readyReason);
    expect(out.status['Session/s1']?.launchMode).toBe(mode);
    expect(out.events.map((e) => e.reason)).toEqual(events);
    if (readyReason === 'CrashLoopBackOff') expect(out.requeueAfterMs['Session/s1']).toBeGreaterThan(0);
  });
});

describe('planRelaunch: alive and ours', () => {
  const pool = (over: Record<string, unknown> = {}): StatusMap => ({ 'Account/*': { observedGeneration: 'pool', conditions: [], activeAccount: 'b', activeSince: iso(T0 - 10_000), ...over } });
  it.each<[string, { generation: 'same' | 'other'; activity?: 'working' | 'idle'; status?: StatusMap; grace?: number }, boolean, string[], string | undefined]>([
    ['the same launch: not this phase', { generation: 'same' }, false, [], undefined],
    ['settings changed: relaunched', { generation: 'other' }, true, ['replace'], 'Relaunching'],
    ['another account, idle: moved now', { generation: 'other', activity: 'idle', status: pool() }, true, ['replace'], 'Relaunching'],
    ['another account, working: waits for the turn end', { generation: 'other', activity: 'working', status: pool() }, true, [], 'WaitingForTurnEnd'],
    ['... not past the grace', { generation: 'other', activity: 'working', status: pool(), grace: 5_000 }, true, ['replace'], 'Relaunching'],
    ['... nor when its account hit its limit', { generation: 'other', activity: 'working', status: { ...pool(), 'Account/a': { observedGeneration: 'g', conditions: [], usage: { exhausted: true } } } }, true, ['replace'], 'Relaunching'],
    ['no account can take the pool: left as it is', { generation: 'other', status: pool({ noEligibleAccount: { since: iso(T0), message: 'm', accounts: [] } }) }, false, [], undefined],
  ])('%s', (_name, o, ends, changes, readyReason) => {
    const out = emptyPlanPart();
    const probe = passOf({ ...(o.status ? { status: o.status } : {}) });
    const tmux = tmuxOf({}, { 'cf-generation': o.generation === 'same' ? generationOf(probe) : 'other', 'cf-account': 'a' });
    const pass = passOf({ tmux, prior: prior(), ...(o.status ? { status: o.status } : {}), ...(o.grace !== undefined ? { failoverGraceMs: o.grace } : {}) });
    expect(planRelaunch(pass, tmux, prior(), o.activity ?? 'idle', launchPlan(pass, prior(), emptyPlanPart()), out)).toBe(ends);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(ready(out)?.reason).toBe(readyReason);
    if (changes.length > 0) expect(out.changes[0]?.reason).toMatch(o.status && !_name.startsWith('no account') ? /moving from account a to b/ : /launch settings changed/);
    if (_name.startsWith('no account')) expect(out.notes.map((n) => n.level)).toEqual(['warning']);
  });
});

describe('planRunning', () => {
  it.each<[string, { desired?: DesiredState; status?: StatusMap; base?: SessionStatus; options?: Record<string, string> }, string, string, string | undefined]>([
    ['running: Ready, with its activity', {}, 'True', 'Working', iso(T0 - 60_000)],
    ['pinned to an exhausted account: waits', { desired: desiredOf(', account: b'), status: { 'Account/b': { observedGeneration: 'g', conditions: [], usage: { exhausted: true } } } }, 'False', 'QuotaExhausted', iso(T0 - 60_000)],
    ['no recorded launch: adopted from tmux', { base: { observedGeneration: 'g', conditions: [] }, options: { 'cf-launched-at': iso(T0 - 5_000), 'cf-conversation': CONV } }, 'True', 'Working', iso(T0 - 5_000)],
  ])('%s', (_name, o, status, reason, launchedAt) => {
    const out = emptyPlanPart();
    const tmux = tmuxOf({}, o.options ?? {});
    const pass = passOf({ tmux, ...(o.desired ? { desired: o.desired } : {}), ...(o.status ? { status: o.status } : {}) });
    const base = o.base ?? prior();
    planRunning(pass, tmux, base, 'working', launchPlan(pass, base, emptyPlanPart()).spec, out);
    expect([ready(out)?.status, ready(out)?.reason]).toEqual([status, reason]);
    expect(out.status['Session/s1']?.launchedAt).toBe(launchedAt);
    expect(out.status['Session/s1']?.panePid).toBe(42);
    if (o.options?.['cf-conversation']) expect(out.status['Session/s1']?.conversationId).toBe(CONV);
  });
});
