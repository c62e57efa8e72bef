import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  initialPollState,
  mayPoll,
  nextPollAt,
  parseRetryAfter,
  pollFreshness,
  recordPollOutcome,
  type PollConfig,
  type PollOutcome,
  type PollState,
} from '../../src/core/poll-schedule.js';

const MIN = 60_000;
const CFG: PollConfig = { pollIntervalMs: 5 * MIN, maxBackoffMs: 60 * MIN, jitterRatio: 0.2 };
const zero = (): number => 0;
const one = (): number => 0.999999;

describe('backoffDelayMs', () => {
  it.each([
    [1, zero, 5 * MIN],
    [2, zero, 10 * MIN],
    [3, zero, 20 * MIN],
    [4, zero, 40 * MIN],
    [5, zero, 60 * MIN], // capped
    [9, zero, 60 * MIN],
    [1, one, 6 * MIN], // +20 % jitter at most
    [5, one, 72 * MIN],
  ] as const)('failure %d (random %s) → %d ms', (n, rnd, expected) => {
    expect(backoffDelayMs(n, CFG, rnd)).toBeCloseTo(expected, -1);
  });

  it('jitter is upward only and bounded', () => {
    for (let i = 0; i < 200; i += 1) {
      const r = i / 200;
      const d = backoffDelayMs(3, CFG, () => r);
      expect(d).toBeGreaterThanOrEqual(20 * MIN);
      expect(d).toBeLessThanOrEqual(24 * MIN);
    }
  });
});

interface Step {
  outcome: PollOutcome;
  random?: () => number;
  expectNext: number;
  expectFailures: number;
}

const seq = (steps: Step[]): void => {
  let s: PollState<number> = initialPollState<number>();
  for (const step of steps) {
    s = recordPollOutcome(s, step.outcome, CFG, step.random ?? zero, step.outcome.kind === 'ok' ? step.outcome.at : undefined);
    expect(s.nextAllowedAt).toBe(step.expectNext);
    expect(s.consecutiveFailures).toBe(step.expectFailures);
  }
};

describe('recordPollOutcome sequences', () => {
  it.each<[string, Step[]]>([
    ['success → one interval', [{ outcome: { kind: 'ok', at: 0 }, expectNext: 5 * MIN, expectFailures: 0 }]],
    [
      '429 without Retry-After backs off exponentially, success resets',
      [
        { outcome: { kind: 'rateLimited', at: 0 }, expectNext: 5 * MIN, expectFailures: 1 },
        { outcome: { kind: 'rateLimited', at: 5 * MIN }, expectNext: 15 * MIN, expectFailures: 2 },
        { outcome: { kind: 'unavailable', at: 15 * MIN }, expectNext: 35 * MIN, expectFailures: 3 },
        { outcome: { kind: 'ok', at: 35 * MIN }, expectNext: 40 * MIN, expectFailures: 0 },
      ],
    ],
    [
      'Retry-After longer than the backoff wins',
      [{ outcome: { kind: 'rateLimited', at: 0, retryAfterMs: 60 * MIN }, expectNext: 60 * MIN, expectFailures: 1 }],
    ],
    [
      'Retry-After shorter than the poll interval does not shorten it',
      [{ outcome: { kind: 'rateLimited', at: 0, retryAfterMs: 10_000 }, expectNext: 5 * MIN, expectFailures: 1 }],
    ],
    [
      'Retry-After above the cap is still honoured',
      [{ outcome: { kind: 'rateLimited', at: 0, retryAfterMs: 3 * 60 * MIN }, expectNext: 3 * 60 * MIN, expectFailures: 1 }],
    ],
    [
      '401/403 → one interval, no backoff growth',
      [
        { outcome: { kind: 'rejected', at: 0 }, expectNext: 5 * MIN, expectFailures: 0 },
        { outcome: { kind: 'rejected', at: 5 * MIN }, expectNext: 10 * MIN, expectFailures: 0 },
      ],
    ],
    [
      'jitter stretches the backoff',
      [
        { outcome: { kind: 'unavailable', at: 0 }, expectNext: 5 * MIN, expectFailures: 1 },
        { outcome: { kind: 'unavailable', at: 5 * MIN }, random: () => 0.5, expectNext: 5 * MIN + 11 * MIN, expectFailures: 2 },
      ],
    ],
  ])('%s', (_n, steps) => seq(steps));
});

describe('mayPoll / nextPollAt', () => {
  it('a fresh state may poll at once', () => {
    const s = initialPollState();
    expect(mayPoll(s, 123)).toBe(true);
    expect(nextPollAt(s, 123)).toBe(123);
  });

  it('never more than one request per interval, even when asked every second', () => {
    let s = initialPollState<number>();
    let requests = 0;
    for (let t = 0; t < 60 * MIN; t += 1000) {
      if (mayPoll(s, t)) {
        requests += 1;
        s = recordPollOutcome(s, { kind: 'ok', at: t }, CFG, zero, 1);
      }
    }
    expect(requests).toBe(12);
  });

  it('a 429 storm for 10 minutes → only a handful of requests', () => {
    let s = initialPollState<number>();
    const sent: number[] = [];
    for (let t = 0; t < 10 * MIN; t += 1000) {
      if (mayPoll(s, t)) {
        sent.push(t);
        s = recordPollOutcome(s, { kind: 'rateLimited', at: t, retryAfterMs: 30_000 }, CFG, () => 0.7);
      }
    }
    expect(sent.length).toBeLessThanOrEqual(2);
    expect(nextPollAt(s, 10 * MIN)).toBeGreaterThan(10 * MIN);
  });
});

describe('pollFreshness keeps the last good value', () => {
  it('Unknown before any success; Fresh, then Stale with age; failures keep the value', () => {
    let s = initialPollState<string>();
    expect(pollFreshness(s, 0, CFG)).toEqual({ state: 'Unknown' });
    s = recordPollOutcome(s, { kind: 'ok', at: 0 }, CFG, zero, 'v1');
    expect(pollFreshness(s, 4 * MIN, CFG)).toEqual({ state: 'Fresh', value: 'v1', ageMs: 4 * MIN });
    s = recordPollOutcome(s, { kind: 'rateLimited', at: 5 * MIN }, CFG, zero);
    s = recordPollOutcome(s, { kind: 'unavailable', at: 15 * MIN }, CFG, zero);
    expect(pollFreshness(s, 16 * MIN, CFG)).toEqual({ state: 'Stale', value: 'v1', ageMs: 16 * MIN });
    expect(s.lastOutcome).toBe('unavailable');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['1.5', 1500],
    ['Tue, 10 Mar 2026 12:05:00 GMT', 5 * MIN],
    ['Tue, 10 Mar 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ] as const)('%j → %s', (v, expected) => {
    expect(parseRetryAfter(v, now)).toBe(expected);
  });
  it('takes the first value of a repeated header', () => {
    expect(parseRetryAfter(['30', '60'], now)).toBe(30_000);
  });
});
