/**
 * The phases of decideActive (src/controllers/account-decision.ts), each called directly on a
 * decision context: the forced target, leaving the current account at once, failback or stay,
 * and nothing to switch to.
 */
import { describe, expect, it } from 'vitest';
import type { UsageSnapshot } from '../../src/core/quota.js';
import {
  decideForced, decideUnforced, decisionContext, failbackOrStay, mustLeave, nothingToSwitchTo,
  type AccountDecisionInput, type DecideActiveInput,
} from '../../src/controllers/account-decision.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const NOW = new Date(T0);
const usage = (u5: number, u7 = 10): UsageSnapshot => ({
  scoped: [],
  fiveHour: { utilization: u5, source: 'usage-api', observedAt: NOW.toISOString(), resetsAt: new Date(T0 + 3_600_000).toISOString() },
  sevenDay: { utilization: u7, source: 'usage-api', observedAt: NOW.toISOString(), resetsAt: new Date(T0 + 86_400_000).toISOString() },
});
const account = (name: string, priority: number, over: Partial<AccountDecisionInput> = {}): AccountDecisionInput => ({
  name, priority, suspended: false, credentialsValid: true, sharedStateLinked: true,
  thresholds: { fiveHourThreshold: 90, weeklyThreshold: 95, failbackBelow: 50 }, usage: usage(20), ...over,
});
const ctxOf = (accounts: AccountDecisionInput[], over: Partial<DecideActiveInput> = {}) => decisionContext({ accounts, current: 'a', minDwellMs: 600_000, now: NOW, ...over });

describe('decisionContext', () => {
  it('classifies every account and finds the current one', () => {
    const ctx = ctxOf([account('a', 10), account('b', 20, { suspended: true })]);
    expect(ctx.all.map((c) => [c.name, c.tier])).toEqual([['a', 'good'], ['b', 'excluded']]);
    expect(ctx.current?.name).toBe('a');
    expect(ctxOf([account('b', 20)]).current).toBeUndefined();
  });
});

describe('decideForced', () => {
  it.each<[string, AccountDecisionInput[], string, string | undefined, RegExp | undefined]>([
    ['a valid target: taken', [account('a', 10), account('b', 20)], 'b', 'b', undefined],
    ['the active account: already active', [account('a', 10), account('b', 20)], 'a', 'a', undefined],
    ['over its threshold: taken, with a note', [account('a', 10), account('b', 20, { usage: usage(95) })], 'b', 'b', undefined],
    ['unknown name: rejected', [account('a', 10)], 'z', undefined, /no account named z/],
    ['excluded: rejected', [account('a', 10), account('b', 20, { suspended: true })], 'b', undefined, /cannot take the pool/],
    ['exhausted: rejected', [account('a', 10), account('b', 20, { usage: usage(100) })], 'b', undefined, /cannot take the pool/],
  ])('%s', (_name, accounts, to, active, rejected) => {
    const got = decideForced(ctxOf(accounts, { forced: { to } }));
    expect(got.decision?.active).toBe(active);
    if (active) expect(got.decision?.reason).toBe('Forced');
    if (rejected) expect(got.rejected).toMatch(rejected);
    else expect(got.rejected).toBeUndefined();
  });

  it('no request: nothing', () => {
    expect(decideForced(ctxOf([account('a', 10)]))).toEqual({});
  });
});

describe('mustLeave: the current account is left at once', () => {
  it.each<[string, AccountDecisionInput[], string | null, string | null | undefined, string | undefined]>([
    ['removed', [account('b', 20)], 'x', 'b', 'CurrentRemoved'],
    ['suspended', [account('a', 10, { suspended: true }), account('b', 20)], 'a', 'b', 'Suspended'],
    ['credentials invalid', [account('a', 10, { credentialsValid: false }), account('b', 20)], 'a', 'b', 'CredentialsInvalid'],
    ['shared state diverged', [account('a', 10, { sharedStateLinked: false }), account('b', 20)], 'a', 'b', 'SharedStateDiverged'],
    ['exhausted', [account('a', 10, { usage: usage(100) }), account('b', 20)], 'a', 'b', 'Exhausted'],
    ['over a threshold', [account('a', 10, { usage: usage(95) }), account('b', 20)], 'a', 'b', 'ThresholdCrossed'],
    ['over, only an unknown one left: moves to it', [account('a', 10, { usage: usage(95) }), account('b', 20, { usage: 'unknown' })], 'a', 'b', 'ThresholdCrossed'],
    ['over, nothing else: stays', [account('a', 10, { usage: usage(95) }), account('b', 20, { usage: usage(96) })], 'a', 'a', 'AllExhausted'],
    ['good: not this phase', [account('a', 10), account('b', 20)], 'a', undefined, undefined],
  ])('%s', (_name, accounts, current, active, reason) => {
    const got = mustLeave(ctxOf(accounts, { current }));
    expect(got?.active).toBe(active);
    expect(got?.reason).toBe(reason);
  });
});

describe('failbackOrStay', () => {
  const since = (ms: number) => new Date(T0 - ms).toISOString();
  it.each<[string, AccountDecisionInput[], string | undefined, string | null, string, boolean]>([
    ['a preferred account below failbackBelow, dwell over: failback', [account('a', 10, { usage: usage(20) }), account('b', 20)], since(3_600_000), 'a', 'Failback', false],
    ['within the dwell: held until it ends', [account('a', 10, { usage: usage(20) }), account('b', 20)], since(60_000), 'b', 'DwellHold', true],
    ['the preferred account is not below failbackBelow: stay', [account('a', 10, { usage: usage(60) }), account('b', 20)], since(3_600_000), 'b', 'StaySticky', false],
    ['its figures are not current: stay', [account('a', 10, { usage: usage(20), usageUnknown: '3 failed polls' }), account('b', 20)], since(3_600_000), 'b', 'StaySticky', false],
    ['no failbackBelow: stay', [account('a', 10, { thresholds: { fiveHourThreshold: 90, weeklyThreshold: 95 } }), account('b', 20)], since(3_600_000), 'b', 'StaySticky', false],
  ])('%s', (_name, accounts, currentSince, active, reason, requeue) => {
    const ctx = ctxOf(accounts, { current: 'b', ...(currentSince ? { currentSince } : {}) });
    if (!ctx.current) throw new Error('no current');
    const got = failbackOrStay(ctx, ctx.current);
    expect([got.active, got.reason]).toEqual([active, reason]);
    expect(got.requeueAt !== undefined).toBe(requeue);
  });
});

describe('nothingToSwitchTo', () => {
  it.each<[string, AccountDecisionInput[], string | null, string, boolean]>([
    ['others over with a known reset: waits for the earliest', [account('a', 10, { usage: usage(95) }), account('b', 20, { usage: usage(96) })], 'a', 'AllExhausted', true],
    ['others excluded: no eligible account', [account('a', 10, { suspended: true }), account('b', 20, { credentialsValid: false })], 'a', 'NoEligibleAccount', false],
    ['nobody at all', [], null, 'NoEligibleAccount', false],
  ])('%s', (_name, accounts, stayOn, reason, requeue) => {
    const got = nothingToSwitchTo(ctxOf(accounts), stayOn, '');
    expect([got.active, got.reason]).toEqual([stayOn, reason]);
    expect(got.requeueAt !== undefined).toBe(requeue);
    expect(got.perAccount.map((v) => v.name)).toEqual(accounts.map((a) => a.name));
  });
});

describe('decideUnforced: the phases in order', () => {
  it.each<[string, AccountDecisionInput[], string | null, string | null, string]>([
    ['first start: best good', [account('a', 10, { usage: 'unknown' }), account('b', 20)], null, 'b', 'Initial'],
    ['first start: best unknown when none is good', [account('a', 10, { usage: 'unknown' }), account('b', 20, { usage: usage(95) })], null, 'a', 'Initial'],
    ['first start: nothing', [account('a', 10, { suspended: true })], null, null, 'NoEligibleAccount'],
    ['leave at once', [account('a', 10, { usage: usage(95) }), account('b', 20)], 'a', 'b', 'ThresholdCrossed'],
    ['otherwise sticky', [account('a', 10), account('b', 20)], 'a', 'a', 'StaySticky'],
  ])('%s', (_name, accounts, current, active, reason) => {
    const got = decideUnforced(ctxOf(accounts, { current }));
    expect([got.active, got.reason]).toEqual([active, reason]);
    expect(got.switched).toBe(active !== current);
  });
});
