import { describe, expect, it } from 'vitest';
import { parseManifestText } from '../api/parse.js';
import { desiredFromObjects } from '../api/objects.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import type { TmuxNewSessionEffect } from '../core/effects.js';
import { emptySessionObserved, launchGeneration, launchSpec, SessionController, type SessionObserved } from './session.js';

const text = `apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata: {name: a}
spec: {configDir: /acc/a}
---
apiVersion: claudefailover.io/v1alpha1
kind: Project
metadata: {name: p}
spec: {path: /proj}
---
apiVersion: claudefailover.io/v1alpha1
kind: Session
metadata: {name: s1}
spec: {project: p, command: [/bin/claude]}
`;

describe('SessionController.plan', () => {
  const desired = desiredFromObjects(parseManifestText('/m/pool.yaml', text, { homeDir: '/h' }).objects);
  const deps = { stateDir: '/state', selfCommand: ['/node', '/cli.js'] };
  const session = desired.sessions[0];
  if (!session) throw new Error('no session');
  const l = launchSpec(session, desired, {}, deps, '/bin/claude');
  const tmux: TmuxSessionInfo = { name: 's1', owner: 'Session/s1', created: 1_795_000_000, panePid: 42, paneDead: false, paneDeadStatus: undefined, options: { 'cf-generation': launchGeneration(l), 'cf-account': 'a' } };
  // plan() is pure: the ports are never touched (null makes any use fail loudly).
  const controller = new SessionController({ ...deps, tmux: null as never, fs: null as never, events: null as never, resolveCommand: async () => '/bin/claude', newId: () => 'x' });
  const observed = (events: SessionObserved['events']['x']): SessionObserved => emptySessionObserved({ tmux: new Map([['s1', tmux]]), events: { s1: events }, commands: { '/bin/claude': '/bin/claude' }, freshIds: { s1: '11111111-1111-4111-8111-111111111111' } });
  const prior = { 'Session/s1': { observedGeneration: 'g', conditions: [], activity: 'working', currentTask: 'T-1', launchedAt: '2026-11-22T10:00:00.000Z', lastHeartbeat: '2026-11-22T10:00:01.000Z', turns: 0 } };

  it('clears the current task when the turn ends (it does not come back from the prior status)', () => {
    const part = controller.plan({ desired, observed: observed([{ t: Date.parse('2026-11-22T10:00:05.000Z'), event: 'Stop' }]), prior, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    const st = part.status['Session/s1'] as Record<string, unknown>;
    expect(st.activity).toBe('idle');
    expect(st.currentTask).toBeUndefined();
    expect(st.lastCompletedTask).toBe('T-1');
    expect(part.changes).toEqual([]);
  });

  it('records when the agent process started, and adopts a session without recorded status with the launch time tmux holds', () => {
    const started = controller.plan({ desired, observed: observed([{ t: Date.parse('2026-11-22T10:00:05.000Z'), event: 'SessionStart', source: 'resume' }]), prior, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    expect((started.status['Session/s1'] as Record<string, unknown>).processStartedAt).toBe('2026-11-22T10:00:05.000Z');
    // status.json lost: the launch time comes from the tmux session (the Project compares the two).
    const withOption: SessionObserved = { ...observed([]), tmux: new Map([['s1', { ...tmux, options: { ...tmux.options, 'cf-launched-at': '2026-11-22T09:59:59.123Z' } }]]) };
    const adopted = controller.plan({ desired, observed: withOption, prior: {}, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    expect((adopted.status['Session/s1'] as Record<string, unknown>).launchedAt).toBe('2026-11-22T09:59:59.123Z');
  });

  it('records each exit of the agent as a SessionExited event (not only a crash loop), and relaunches it', () => {
    const dead = { ...tmux, paneDead: true, paneDeadStatus: 3 };
    const part = controller.plan({ desired, observed: { ...observed([]), tmux: new Map([['s1', dead]]) }, prior, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    expect(part.events).toEqual([{ key: 'Session/s1', type: 'Warning', reason: 'SessionExited', message: 'tmux session "s1": the agent exited (status 3) after 6s', data: { exitStatus: 3, uptimeMs: 6000 } }]);
    expect(part.changes.map((c) => c.action)).toEqual(['replace']);
    const gone = controller.plan({ desired, observed: { ...observed([]), tmux: new Map() }, prior, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    expect(gone.events).toEqual([]); // a tmux session removed from outside is drift, not an agent's exit
  });

  it('a pruned session keeps its conversation id, is not counted as a failure, and resumes when declared again', () => {
    const conv = '22222222-2222-4222-8222-222222222222';
    const running = { 'Session/s1': { ...prior['Session/s1'], conversationId: conv, panePid: 42, restarts: 0, failures: [] } };
    const gone = desiredFromObjects(parseManifestText('/m/pool.yaml', text.split('---\n').slice(0, 2).join('---\n'), { homeDir: '/h' }).objects);
    expect(gone.sessions).toEqual([]);
    const pruned = controller.plan({ desired: gone, observed: observed([]), prior: running, inventory: {}, now: new Date('2026-11-22T10:01:00.000Z'), options: { dryRun: false, prune: true } }, ['s1']);
    expect(pruned.changes.map((c) => [c.action, c.effects.map((e) => e.type)])).toEqual([['delete', ['tmux.stopSession']]]);
    const st = pruned.status['Session/s1'] as Record<string, unknown>;
    expect(st).toMatchObject({ conversationId: conv, activity: 'exited', restarts: 0 });
    expect(st.launchedAt).toBeUndefined();
    expect((st.conditions as { type: string; reason: string }[]).find((c) => c.type === 'Ready')?.reason).toBe('Pruned');

    // Declared again, its tmux session gone, the transcript still there: relaunched with --resume.
    const back: SessionObserved = { ...observed([]), tmux: new Map(), transcripts: { s1: true } };
    const again = controller.plan({ desired, observed: back, prior: { 'Session/s1': st as never }, inventory: {}, now: new Date('2026-11-22T10:02:00.000Z'), options: { dryRun: false, prune: true } }, ['s1']);
    const launch = again.changes[0]?.effects.find((e) => e.type === 'tmux.newSession');
    expect(launch?.type === 'tmux.newSession' && launch.argv).toEqual(expect.arrayContaining(['--resume', conv]));
    expect(again.status['Session/s1']).toMatchObject({ restarts: 0, conversationId: conv, launchMode: 'resume' });
  });

  it('keeps the current task while the turn goes on', () => {
    const part = controller.plan({ desired, observed: observed([{ t: Date.parse('2026-11-22T10:00:05.000Z'), event: 'StatusLine' }]), prior, inventory: {}, now: new Date('2026-11-22T10:00:06.000Z'), options: { dryRun: false, prune: false } }, ['s1']);
    expect((part.status['Session/s1'] as Record<string, unknown>).currentTask).toBe('T-1');
  });
});

describe('SessionController.plan: launches', () => {
  const manifests = (command: string, extra = '') => `apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata: {name: a}
spec: {configDir: /acc/a}
---
apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata: {name: b}
spec: {configDir: /acc/b}
---
apiVersion: claudefailover.io/v1alpha1
kind: Project
metadata: {name: p}
spec: {path: /proj}
---
apiVersion: claudefailover.io/v1alpha1
kind: Session
metadata: {name: s1}
spec: {project: p, model: opus, command: ${command}${extra}}
`;
  const deps = { stateDir: '/state', selfCommand: ['/node', '/cli.js'] };
  const controller = new SessionController({ ...deps, tmux: null as never, fs: null as never, events: null as never, resolveCommand: async () => undefined, newId: () => 'x' });
  const id = '11111111-1111-4111-8111-111111111111';
  const now = new Date('2026-11-22T10:00:00.000Z');
  const plan = (command: string, observed: Partial<SessionObserved>, prior: Record<string, unknown> = {}, extra = '') => {
    const desired = desiredFromObjects(parseManifestText('/m/pool.yaml', manifests(command, extra), { homeDir: '/h' }).objects);
    const obs = emptySessionObserved({ events: { s1: [] }, freshIds: { s1: id }, ...observed });
    return controller.plan({ desired, observed: obs, prior: prior as never, inventory: {}, now, options: { dryRun: false, prune: false } }, ['s1']);
  };
  const argvOf = (part: ReturnType<typeof plan>) => (part.changes[0]?.effects.find((e) => e.type === 'tmux.newSession') as TmuxNewSessionEffect | undefined)?.argv;

  // The conversation flags come last, with the other flags: a wrapper passes them on ("$@").
  it.each<[string, string, string[]]>([
    ['claude itself', '[/usr/bin/claude, --dangerously-skip-permissions]', ['/usr/bin/claude', '--dangerously-skip-permissions']],
    ['an interpreter and a script', '[/usr/bin/node, /x/agent.js]', ['/usr/bin/node', '/x/agent.js']],
    ['a bash -lc wrapper', '[/bin/bash, -lc, \'exec claude "$@"\', claude]', ['/bin/bash', '-lc', 'exec claude "$@"', 'claude']],
  ])('%s: the user argv first, then --settings, --model and --session-id', (_n, command, user) => {
    expect(argvOf(plan(command, {}))).toEqual([...user, '--settings', '/state/sessions/s1/settings.json', '--model', 'opus', '--session-id', id]);
  });

  it('resumes with --resume appended as well', () => {
    const prior = { 'Session/s1': { observedGeneration: 'g', conditions: [], conversationId: id, tmuxSession: 's1' } };
    expect(argvOf(plan('[/bin/bash, -lc, \'exec claude "$@"\', claude]', { transcripts: { s1: true } }, prior))?.slice(-2)).toEqual(['--resume', id]);
  });

  it('does not launch while no account can take the pool: NoEligibleAccount with the reasons', () => {
    const message = 'no account can take the pool; sessions are not launched until one can: a: credentials invalid (CredentialsValid=False): no credentials at /acc/a/.credentials.json; b: suspended';
    const part = plan('[/usr/bin/claude]', {}, { 'Account/*': { observedGeneration: 'pool', conditions: [], activeAccount: null, noEligibleAccount: { since: now.toISOString(), message, accounts: [] } } });
    expect(part.changes).toEqual([]);
    const ready = (part.status['Session/s1']?.conditions ?? []).find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'NoEligibleAccount', message });
    expect(part.notes.map((n) => n.message).join('\n')).toMatch(/tmux session "s1" is not launched: no account can take the pool \(the reasons: Account\/\*\)/);
  });

  it('a session pinned to an account does not follow the pool: it is launched', () => {
    const part = plan('[/usr/bin/claude]', {}, { 'Account/*': { observedGeneration: 'pool', conditions: [], activeAccount: null, noEligibleAccount: { since: now.toISOString(), message: 'none', accounts: [] } } }, ', account: b');
    expect(part.changes.map((c) => c.action)).toEqual(['create']);
    expect(part.status['Session/s1']?.account).toBe('b');
  });

  it('a running agent is not relaunched onto an excluded account while no account can take the pool', () => {
    const running = { name: 's1', owner: 'Session/s1', created: 1_795_000_000, panePid: 42, paneDead: false, paneDeadStatus: undefined, options: { 'cf-generation': 'older', 'cf-account': 'b' } };
    const part = plan('[/usr/bin/claude]', { tmux: new Map([['s1', running]]) }, { 'Account/*': { observedGeneration: 'pool', conditions: [], activeAccount: null, noEligibleAccount: { since: now.toISOString(), message: 'no account can take the pool', accounts: [] } } });
    expect(part.changes).toEqual([]);
    expect(part.notes.map((n) => n.message).join('\n')).toMatch(/is not relaunched \(it stays on account b\)/);
  });

  it('keeps the last lines of an exited agent: condition, event, failures, lastExit', () => {
    const launch = plan('[/usr/bin/claude, --dangerously-skip-permissions]', {});
    const gen = (launch.changes[0]?.effects.find((e) => e.type === 'tmux.newSession') as TmuxNewSessionEffect).options['cf-generation'] as string;
    const dead = { name: 's1', owner: 'Session/s1', created: 1_795_000_000, panePid: 42, paneDead: true, paneDeadStatus: 1, options: { 'cf-generation': gen, 'cf-account': 'a' } };
    const pane = 'Welcome\n\n--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n\nPane is dead (status 1, Thu Dec  3 13:19:07 2026)\n\n';
    const prior = { 'Session/s1': { observedGeneration: 'g', conditions: [], launchedAt: '2026-11-22T09:59:58.000Z', tmuxSession: 's1', account: 'a' } };
    const part = plan('[/usr/bin/claude, --dangerously-skip-permissions]', { tmux: new Map([['s1', dead]]), exitPanes: { s1: pane } }, prior);
    const st = part.status['Session/s1'] as unknown as Record<string, unknown> & { failures: { lastOutput?: string[] }[]; lastExit: { output: string[] } };
    const why = '--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons';
    expect(st.lastExit).toMatchObject({ exitStatus: 1, uptimeMs: 2000, output: ['Welcome', why] });
    expect(st.failures.at(-1)?.lastOutput).toEqual(['Welcome', why]);
    expect(part.events.find((e) => e.reason === 'SessionExited')?.message).toBe(`tmux session "s1": the agent exited (status 1) after 2s: Welcome ⏎ ${why}`);
    expect((st.conditions as { type: string; message: string }[]).find((c) => c.type === 'Ready')?.message).toContain(why);
    expect(part.changes[0]?.reason).toContain(why);
  });
});

describe('SessionController.plan with a worktree', () => {
  const wtText = text.replace('spec: {project: p, command: [/bin/claude]}', 'spec: {project: p, command: [/bin/claude], worktree: true}');
  const desired = desiredFromObjects(parseManifestText('/m/pool.yaml', wtText, { homeDir: '/h' }).objects);
  const deps = { stateDir: '/state', selfCommand: ['/node', '/cli.js'] };
  const controller = new SessionController({ ...deps, tmux: null as never, fs: null as never, events: null as never, resolveCommand: async () => '/bin/claude', newId: () => 'x' });
  const repo = { topLevel: '/proj', commonDir: '/proj/.git', prefix: '' };
  const target = { path: '/proj-worktrees/s1', branch: 's1' };
  const there = { state: 'worktree' as const, commonDir: '/proj/.git', topLevel: '/proj-worktrees/s1', branch: 's1' };
  const now = new Date('2026-11-22T10:00:06.000Z');
  const observed = (o: Partial<SessionObserved>): SessionObserved => emptySessionObserved({ events: { s1: [] }, commands: { '/bin/claude': '/bin/claude' }, freshIds: { s1: '11111111-1111-4111-8111-111111111111' }, ...o });
  const plan = (o: Partial<SessionObserved>, prior: Record<string, unknown> = {}, opts = { dryRun: false, prune: false }, inventory = {}) =>
    controller.plan({ desired, observed: observed(o), prior: prior as never, inventory, now, options: opts }, ['s1']);
  const s1 = desired.sessions[0];
  if (!s1) throw new Error('no session');
  const running = (cwd: string): TmuxSessionInfo => ({
    name: 's1', owner: 'Session/s1', created: 1_795_000_000, panePid: 42, paneDead: false, paneDeadStatus: undefined,
    options: { 'cf-generation': launchGeneration(launchSpec(s1, desired, {}, deps, '/bin/claude', { cwd, path: cwd, branch: 's1' })), 'cf-account': 'a' },
  });

  it('creates the worktree first, then launches the agent in it (trust seeded for that path)', () => {
    const part = plan({ worktrees: { s1: { target, repo, at: { state: 'missing' } } } });
    expect(part.changes).toHaveLength(1);
    const c = part.changes[0];
    expect(c?.reason).toBe('declared in the manifests; creating its git worktree /proj-worktrees/s1 (branch s1)');
    expect(c?.effects[0]).toEqual({ type: 'git.addWorktree', repo: '/proj', path: '/proj-worktrees/s1', branch: 's1' });
    expect(c?.effects.at(-1)).toMatchObject({ type: 'tmux.newSession', cwd: '/proj-worktrees/s1' });
    expect(c?.effects).toContainEqual({ type: 'fs.mergeJson', path: '/acc/a/.claude.json', patch: { hasCompletedOnboarding: true, projects: { '/proj-worktrees/s1': { hasTrustDialogAccepted: true } } } });
    expect(c?.diff).toContainEqual({ path: '/worktree', op: 'add', to: '/proj-worktrees/s1 (branch s1)' });
    expect((part.status['Session/s1'] as Record<string, unknown>).worktree).toEqual({ path: '/proj-worktrees/s1', branch: 's1', repo: '/proj' });
  });

  it('leaves a running agent in its worktree alone, whatever branch it switched to', () => {
    const part = plan({ tmux: new Map([['s1', running('/proj-worktrees/s1')]]), worktrees: { s1: { target, repo, at: { ...there, branch: 'fix/login' } } } });
    expect(part.changes).toEqual([]);
    expect((part.status['Session/s1'] as Record<string, unknown>).worktree).toEqual({ path: '/proj-worktrees/s1', branch: 'fix/login', repo: '/proj' });
  });

  it('relaunches a running agent whose worktree was removed by hand, in a new one, resuming', () => {
    const prior = { 'Session/s1': { observedGeneration: 'g', conditions: [], activity: 'idle', conversationId: '22222222-2222-4222-8222-222222222222', launchedAt: '2026-11-22T10:00:00.000Z', turns: 1 } };
    const part = plan({ tmux: new Map([['s1', running('/proj-worktrees/s1')]]), transcripts: { s1: true }, worktrees: { s1: { target, repo, at: { state: 'missing' } } } }, prior);
    expect(part.changes).toHaveLength(1);
    expect(part.changes[0]?.action).toBe('replace');
    expect(part.changes[0]?.effects.map((e) => e.type)).toEqual(['tmux.stopSession', 'git.addWorktree', 'fs.writeJson', 'fs.mergeJson', 'fs.mergeJson', 'tmux.newSession']);
    expect(part.changes[0]?.effects.at(-1)).toMatchObject({ cwd: '/proj-worktrees/s1', argv: expect.arrayContaining(['--resume', '22222222-2222-4222-8222-222222222222']) });
  });

  it('does not launch when the worktree cannot be used, says why once, and leaves a running agent alone', () => {
    const blocked = { worktrees: { s1: { target, repo, at: { state: 'other' as const, what: 'a directory that is not a git checkout' } } } };
    const part = plan(blocked);
    expect(part.changes).toEqual([]);
    const ready = (part.status['Session/s1'] as { conditions: { type: string; status: string; reason: string }[] }).conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'WorktreeConflict' });
    expect(part.events).toEqual([{ key: 'Session/s1', type: 'Warning', reason: 'WorktreeConflict', message: expect.stringContaining('/proj-worktrees/s1 exists and is a directory that is not a git checkout') }]);
    expect(part.notes.some((n) => n.level === 'warning' && n.message.endsWith('the session is not launched'))).toBe(true);
    const again = plan(blocked, { 'Session/s1': part.status['Session/s1'] });
    expect(again.events).toEqual([]);
    const notRepo = plan({ tmux: new Map([['s1', running('/proj')]]), worktrees: { s1: { target } } });
    expect(notRepo.changes).toEqual([]);
    expect(notRepo.notes.some((n) => n.message.includes('is not inside one') && n.message.endsWith('left as it is'))).toBe(true);
  });

  describe('a removed Session that owns a worktree', () => {
    const none = desiredFromObjects(parseManifestText('/m/pool.yaml', text.split('---').slice(0, 2).join('---'), { homeDir: '/h' }).objects);
    const inventory = { 'Session/s1': [{ type: 'git-worktree' as const, name: '/proj-worktrees/s1', repo: '/proj' }, { type: 'tmux-session' as const, name: 's1' }] };
    const orphan = (changes: string[], tmux = true) => observed({ tmux: tmux ? new Map([['s1', running('/proj-worktrees/s1')]]) : new Map(), orphanWorktrees: { s1: [{ path: '/proj-worktrees/s1', repo: '/proj', at: there, changes }] } });
    const planRemoved = (o: SessionObserved, prune: boolean, prior: Record<string, unknown> = {}) =>
      controller.plan({ desired: none, observed: o, prior: prior as never, inventory, now, options: { dryRun: false, prune } }, ['s1']);

    it('keeps it without --prune (drift says so)', () => {
      const part = planRemoved(orphan([]), false);
      expect(part.changes).toEqual([]);
      expect(part.drift.map((d) => d.message)).toEqual([expect.stringContaining('is orphaned'), expect.stringMatching(/^git worktree \/proj-worktrees\/s1 is orphaned: .*it is kept \(use --prune/)]);
    });

    it('with --prune: stops the agent, then removes a clean worktree (branch kept)', () => {
      const part = planRemoved(orphan([]), true);
      expect(part.changes).toHaveLength(1);
      expect(part.changes[0]?.effects).toEqual([
        { type: 'tmux.stopSession', session: 's1', owner: 'Session/s1', graceMs: 10_000 },
        { type: 'git.removeWorktree', repo: '/proj', path: '/proj-worktrees/s1' },
      ]);
      expect(part.changes[0]?.reason).toBe('removed from the manifests (--prune); removing its git worktree /proj-worktrees/s1 (its branch stays)');
      // Like any pruned session: its conversation stays, the stop is not a failure.
      const withConv = planRemoved(orphan([]), true, { 'Session/s1': { observedGeneration: 'g', conditions: [], conversationId: '22222222-2222-4222-8222-222222222222', launchedAt: '2026-11-22T10:00:00.000Z', restarts: 0 } });
      const st = withConv.status['Session/s1'] as { conditions: { type: string; reason: string }[]; launchedAt?: string };
      expect(st).toMatchObject({ conversationId: '22222222-2222-4222-8222-222222222222', activity: 'exited', restarts: 0 });
      expect(st.launchedAt).toBeUndefined();
      expect(st.conditions.find((c) => c.type === 'Ready')?.reason).toBe('Pruned');
    });

    it('with --prune and uncommitted changes: stops the agent, keeps the worktree, condition and one event', () => {
      const part = planRemoved(orphan(['?? notes.md']), true, { 'Session/s1': { observedGeneration: 'g', conditions: [{ type: 'Ready', status: 'True', reason: 'Idle', message: 'x', lastTransitionTime: '2026-11-22T09:00:00.000Z' }] } });
      expect(part.changes.map((c) => c.effects.map((e) => e.type))).toEqual([['tmux.stopSession']]);
      const ready = (part.status['Session/s1'] as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions.find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ status: 'False', reason: 'WorktreeDirty', message: expect.stringContaining('has uncommitted changes (1: ?? notes.md); it is kept') });
      expect(part.events).toEqual([expect.objectContaining({ key: 'Session/s1', type: 'Warning', reason: 'WorktreeKept' })]);
      expect(part.status['Session/s1']).toMatchObject({ activity: 'exited' }); // the agent is stopped all the same
      const later = planRemoved(orphan(['?? notes.md'], false), true, { 'Session/s1': part.status['Session/s1'] });
      expect(later.changes).toEqual([]);
      expect(later.events).toEqual([]);
      expect(later.notes.some((n) => n.message.includes('has uncommitted changes'))).toBe(true);
    });

    it('honours the prune annotation it recorded, once the tmux session is gone', () => {
      const prior = { 'Session/s1': { observedGeneration: 'g', conditions: [], worktree: { path: '/proj-worktrees/s1', branch: 's1', repo: '/proj', prune: true } } };
      const part = planRemoved(orphan([], false), false, prior);
      expect(part.changes).toHaveLength(1);
      expect(part.changes[0]).toMatchObject({ action: 'delete', resource: 'git worktree "/proj-worktrees/s1"', effects: [{ type: 'git.removeWorktree', repo: '/proj', path: '/proj-worktrees/s1' }] });
    });
  });
});
