import { describe, expect, it } from 'vitest';
import { backoffDelay, formatEvent, matchesNotifier, type NotifyEvent } from '../../src/adapters/notify/dispatcher.js';
import type { CfEvent } from '../../src/runtime/events.js';
import { NOTIFIER_EVENTS } from '../../src/api/schemas.js';

describe('formatEvent', () => {
  it.each([
    [
      { reason: 'FailoverCompleted', key: 'Account/*', message: 'moved pool from alpha to beta (5h 93% >= 90%)' },
      '[claude-failover] FailoverCompleted Account/*: moved pool from alpha to beta (5h 93% >= 90%)',
    ],
    [{ reason: 'TaskFailed', key: 'Project/web', message: 'task fix-login failed after 3 attempts' }, '[claude-failover] TaskFailed Project/web: task fix-login failed after 3 attempts'],
    [{ reason: 'AllAccountsExhausted', key: 'Account/*', message: '' }, '[claude-failover] AllAccountsExhausted Account/*'],
    [{ reason: 'GuardDenied', key: 'Session/ccl-3', message: 'rm -rf /\nblocked\r\tby rule' }, '[claude-failover] GuardDenied Session/ccl-3: rm -rf / blocked by rule'],
    [{ reason: 'SessionCrashLoop', key: 'Session/a', message: '  spaced  ' }, '[claude-failover] SessionCrashLoop Session/a: spaced'],
  ])('%j', (event, want) => {
    expect(formatEvent(event)).toBe(want);
  });
  it('takes another source word', () => {
    expect(formatEvent({ reason: 'TaskFailed', key: 'Project/p', message: 'm' }, 'cf@host1')).toBe('[cf@host1] TaskFailed Project/p: m');
  });
});

describe('the runtime event type', () => {
  it('a CfEvent is accepted as a NotifyEvent as is (type-checked: wiring is one call)', () => {
    const e: CfEvent = { time: '2026-03-10T12:00:00.000Z', key: 'Project/web', type: 'Warning', reason: 'TaskFailed', message: 'm', data: { task: 't1' } };
    const n: NotifyEvent = e;
    expect(formatEvent(n)).toBe('[claude-failover] TaskFailed Project/web: m');
  });
});

describe('matchesNotifier', () => {
  const all = {};
  const failoverOnly = { events: ['FailoverStarted', 'FailoverCompleted'] as const };
  const forA = { for: ['Session/a', 'Project/web'] };
  const forAccount = { for: ['Account/alpha'] };
  it.each([
    // [spec, reason, key, want]
    [all, 'FailoverCompleted', 'Account/*', true],
    [all, 'GuardDenied', 'Session/a', true],
    [all, 'SessionStarted', 'Session/a', false],
    [all, 'ApplyFailed', 'Session/a', false],
    [failoverOnly, 'FailoverStarted', 'Account/*', true],
    [failoverOnly, 'TaskFailed', 'Project/web', false],
    [forA, 'TaskFailed', 'Project/web', true],
    [forA, 'SessionCrashLoop', 'Session/a', true],
    [forA, 'SessionCrashLoop', 'Session/b', false],
    [forA, 'SessionCrashLoop', 'Session/ab', false],
    [forA, 'FailoverCompleted', 'Account/*', false],
    [forAccount, 'FailoverCompleted', 'Account/*', true],
    [forAccount, 'CredentialsExpired', 'Account/alpha', true],
    [forAccount, 'CredentialsExpired', 'Account/beta', false],
    [{ ...failoverOnly, ...forAccount }, 'CredentialsExpired', 'Account/alpha', false],
    [{ ...failoverOnly, ...forAccount }, 'FailoverStarted', 'Account/*', true],
  ] as const)('%j %s %s → %s', (spec, reason, key, want) => {
    expect(matchesNotifier(spec as Parameters<typeof matchesNotifier>[0], { reason, key })).toBe(want);
  });
  it('the default set is exactly NOTIFIER_EVENTS', () => {
    for (const r of NOTIFIER_EVENTS) expect(matchesNotifier({}, { reason: r, key: 'Session/a' })).toBe(true);
  });
});

describe('backoffDelay', () => {
  it.each([
    // attempt, base, cap, random, want
    [1, 1000, 60_000, 0, 500],
    [1, 1000, 60_000, 0.999999, 1000],
    [2, 1000, 60_000, 0.5, 1500],
    [3, 1000, 60_000, 0, 2000],
    [7, 1000, 60_000, 1, 60_000],
    [20, 1000, 60_000, 0, 30_000],
    [1, 10, 1000, 0.5, 8],
  ])('attempt %d base %d cap %d r %d → %d', (attempt, base, cap, r, want) => {
    expect(backoffDelay(attempt, base, cap, r)).toBe(want);
  });
});
