import { describe, expect, it } from 'vitest';
import type { StatusMap } from './controller.js';
import {
  accountStatus, activityOf, asStatusOf, poolStatus, projectStatus, sessionStatus, sessionView, sessionViews, statusesOf, statusOf,
} from './status.js';

const ready = (status: 'True' | 'False') => [{ type: 'Ready', status, reason: status === 'True' ? 'Idle' : 'Launching', message: '', lastTransitionTime: '2026-11-22T10:00:00.000Z', observedGeneration: 'g' }];
const status: StatusMap = {
  'Account/*': { observedGeneration: 'pool', conditions: [], activeAccount: 'a', allExhausted: false, exhausted: [] },
  'Account/a': { observedGeneration: 'g', conditions: [], tier: 'good', usage: { scoped: [], exhausted: false, evidence: [] } },
  'Session/s1': { observedGeneration: 'g', conditions: ready('True'), account: 'a', activity: 'working', currentTask: 'T-1', turns: 2, launchedAt: '2026-11-22T09:00:00.000Z' },
  'Session/s2': { observedGeneration: 'g', conditions: ready('False'), account: null },
  'Project/p': { observedGeneration: 'g', conditions: [], sessions: { s1: { state: 'working', task: 'T-1' } } },
};

describe('status accessors: one narrowing per kind', () => {
  it.each<[string, () => unknown, unknown]>([
    ['the pool', () => poolStatus(status)?.activeAccount, 'a'],
    ['no pool yet', () => poolStatus({}), undefined],
    ['an account', () => accountStatus(status, 'a')?.tier, 'good'],
    ['the pool is not an account named *', () => statusesOf(status, 'Account').map(([name]) => name), ['a']],
    ['a session', () => sessionStatus(status, 's1')?.currentTask, 'T-1'],
    ['a project', () => projectStatus(status, 'p')?.sessions.s1?.state, 'working'],
    ['by kind', () => statusOf(status, 'Session', 's2')?.account, null],
    ['every session, in order', () => statusesOf(status, 'Session').map(([name]) => name), ['s1', 's2']],
    ['one status of a known kind', () => asStatusOf('Session', status['Session/s1'])?.activity, 'working'],
    ['unknown name', () => sessionStatus(status, 'nope'), undefined],
  ])('%s', (_name, read, want) => {
    expect(read()).toEqual(want);
  });
});

describe('sessionView: a session as other controllers see it', () => {
  it.each<[string, string, unknown]>([
    ['working on its account, Ready', 's1', { name: 's1', account: 'a', launchedAt: '2026-11-22T09:00:00.000Z', activity: 'working', currentTask: 'T-1', ready: true, readyReason: 'Idle' }],
    ['no account, not Ready', 's2', { name: 's2', account: null, ready: false, readyReason: 'Launching' }],
    ['no status', 'nope', undefined],
  ])('%s', (_name, name, want) => {
    expect(sessionView(status, name)).toEqual(want);
  });

  it('every session with a status', () => {
    expect(sessionViews(status).map((v) => [v.name, v.ready])).toEqual([['s1', true], ['s2', false]]);
  });
});

describe('activityOf', () => {
  it.each<[string, Parameters<typeof activityOf>[0], unknown]>([
    ['none before the first observation', undefined, undefined],
    ['no activity recorded', { observedGeneration: 'g', conditions: [] }, undefined],
    ['the recorded state', { observedGeneration: 'g', conditions: [], activity: 'idle', turns: 3 }, { activity: 'idle', turns: 3 }],
    ['turns missing (an older status): 0', { observedGeneration: 'g', conditions: [], activity: 'idle' }, { activity: 'idle', turns: 0 }],
  ])('%s', (_name, st, want) => {
    const got = activityOf(st);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject(want as object);
  });
});
