import { describe, expect, it } from 'vitest';
import { parseManifestText } from '../api/parse.js';
import { desiredFromObjects } from '../api/objects.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import { launchGeneration, launchSpec, SessionController, type SessionObserved } from './session.js';

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
  const observed = (events: SessionObserved['events']['x']): SessionObserved => ({ tmux: new Map([['s1', tmux]]), events: { s1: events }, commands: { '/bin/claude': '/bin/claude' }, transcripts: {}, freshIds: { s1: '11111111-1111-4111-8111-111111111111' }, panes: {} });
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
