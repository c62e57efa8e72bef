import { describe, expect, it } from 'vitest';
import { emptyPlanPart, type PlanInput } from '../core/controller.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import type { OperatorRequest } from '../core/requests.js';
import { emptySessionObserved, planRestart, restartResult, type SessionObserved } from './session.js';

const request = (id: string, extra: Partial<OperatorRequest> = {}): OperatorRequest => ({ version: 1, id, kind: 'restart', target: 's1', requestedBy: 'alice', requestedAt: '2026-12-03T12:00:00.000Z', ...extra });
const live: TmuxSessionInfo = { name: 's1', owner: 'Session/s1', created: 1, panePid: 42, paneDead: false, paneDeadStatus: undefined, options: {} };
const observed = (o: Partial<SessionObserved>): SessionObserved => emptySessionObserved(o);
const input = (o: Partial<SessionObserved>): PlanInput<SessionObserved> => ({
  desired: { accounts: [], sessions: [], projects: [], delegationPolicies: [], notifiers: [] } as unknown as PlanInput<SessionObserved>['desired'],
  observed: observed(o),
  prior: { 'Session/s1': { observedGeneration: 'g', conditions: [], activity: 'working' } },
  inventory: {},
  now: new Date('2026-12-03T12:00:01.000Z'),
  options: { dryRun: false, prune: false },
});

describe('planRestart: an operator restart request', () => {
  it.each<[string, Partial<SessionObserved>, boolean]>([
    ['a running session of ours is stopped', { tmux: new Map([['s1', live]]), restarts: { s1: [request('a-1')] } }, true],
    ['no request: nothing', { tmux: new Map([['s1', live]]) }, false],
    ['no tmux session: nothing to stop', { restarts: { s1: [request('a-1')] } }, false],
    ['a foreign session with the name: never touched', { tmux: new Map([['s1', { ...live, owner: undefined }]]), restarts: { s1: [request('a-1')] } }, false],
    ['a dead pane: the normal relaunch handles it', { tmux: new Map([['s1', { ...live, paneDead: true }]]), restarts: { s1: [request('a-1')] } }, false],
  ])('%s', (_name, o, planned) => {
    const out = emptyPlanPart();
    expect(planRestart('s1', input(o), out)).toBe(planned);
    expect(out.changes.length).toBe(planned ? 1 : 0);
    if (planned) {
      expect(out.changes[0]).toMatchObject({ key: 'Session/s1', action: 'delete', effects: [{ type: 'tmux.killSession', session: 's1', owner: 'Session/s1' }] });
      expect(out.status['Session/s1']).toMatchObject({ activity: 'working' }); // kept as it was
      expect(out.requeueAfterMs['Session/s1']).toBe(0);
    }
  });

  it('says who asked and why, from the newest request', () => {
    const out = emptyPlanPart();
    planRestart('s1', input({ tmux: new Map([['s1', live]]), restarts: { s1: [request('a-1'), request('a-2', { requestedBy: 'bob', reason: 'stuck' })] } }), out);
    expect(out.changes[0]?.reason).toBe('restart requested by bob: stuck (request a-2)');
  });
});

describe('restartResult', () => {
  const stop = (): ReturnType<typeof emptyPlanPart> => {
    const out = emptyPlanPart();
    planRestart('s1', input({ tmux: new Map([['s1', live]]), restarts: { s1: [request('a-1')] } }), out);
    return out;
  };
  it.each([
    ['stopped', { part: stop(), failures: [] }, { accepted: true, message: 'tmux session "s1" stopped; the Session controller relaunches it and resumes its conversation' }],
    ['the stop failed', { part: stop(), failures: [{ key: 'Session/s1', error: 'not owned', class: 'unexpected' as const }] }, { accepted: false, message: 'tmux session "s1" could not be stopped: not owned' }],
    ['nothing to stop', { part: emptyPlanPart(), failures: [] }, { accepted: false, message: 'Session/s1 has no running tmux session of this controller to restart' }],
  ])('%s', (_name, applied, want) => {
    expect(restartResult('Session/s1', applied)).toEqual(want);
  });
});
