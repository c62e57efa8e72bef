import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_BACKOFF_CAP_INTERVALS,
  initialPollState,
  mayPoll,
  mayProbe,
  nextPollAt,
  nextProbeAt,
  nextRequestAt,
  recordProbe,
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

describe('the default backoff cap is a small multiple of the interval (docs/operations.md, "Usage data unknown")', () => {
  const DEF: PollConfig = { pollIntervalMs: 5 * MIN };
  it.each([
    [1, 5 * MIN],
    [2, 10 * MIN],
    [3, 10 * MIN],
    [20, 10 * MIN],
  ] as const)('failure %d → %d ms (no jitter)', (n, expected) => {
    expect(backoffDelayMs(n, DEF, zero)).toBe(expected);
  });

  it('the worst gap between two polls is the cap plus its jitter: 12 min with the default 5 min, not 72', () => {
    let s = initialPollState<number>();
    const polls: number[] = [];
    for (let t = 0; t < 3 * 60 * MIN; t += 1000) {
      if (mayPoll(s, t)) {
        polls.push(t);
        s = recordPollOutcome(s, { kind: 'unavailable', at: t }, DEF, one);
      }
    }
    const gaps = polls.slice(1).map((p, i) => p - (polls[i] as number));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_BACKOFF_CAP_INTERVALS * 5 * MIN * 1.2 + 1000);
  });
});

describe('probes while backing off (docs/operations.md, "Usage data unknown")', () => {
  const DEF: PollConfig = { pollIntervalMs: 5 * MIN };
  const failing = (kind: 'unavailable' | 'rateLimited', times: number): PollState<number> => {
    let s = recordPollOutcome(initialPollState<number>(), { kind: 'ok', at: 0 }, DEF, zero, 1);
    let t = 5 * MIN;
    for (let i = 0; i < times; i++) {
      s = recordPollOutcome(s, { kind, at: t }, DEF, zero);
      t = s.nextAllowedAt as number;
    }
    return s;
  };

  it('none while polls succeed, after a single failure (the next poll is one interval away anyway), or after a 429', () => {
    expect(nextProbeAt(recordPollOutcome(initialPollState<number>(), { kind: 'ok', at: 0 }, DEF, zero, 1), DEF)).toBeUndefined();
    expect(nextProbeAt(failing('unavailable', 1), DEF)).toBeUndefined();
    expect(nextProbeAt(failing('rateLimited', 3), DEF)).toBeUndefined();
  });

  it('one interval after the last request while the poll is further away; a reachable server makes the poll due at once', () => {
    const s = failing('unavailable', 2); // polls at 5 and 10 min failed; next poll at 20 min
    expect(s.lastAttemptAt).toBe(10 * MIN);
    expect(s.nextAllowedAt).toBe(20 * MIN);
    expect(nextProbeAt(s, DEF)).toBe(15 * MIN);
    expect(mayProbe(s, 15 * MIN - 1, DEF)).toBe(false);
    expect(mayProbe(s, 15 * MIN, DEF)).toBe(true);
    expect(nextRequestAt(s, 11 * MIN, DEF)).toBe(15 * MIN);
    const down = recordProbe(s, { at: 15 * MIN, reachable: false });
    expect(mayPoll(down, 15 * MIN)).toBe(false);
    expect(nextProbeAt(down, DEF)).toBeUndefined(); // the next one would not come before the poll at 20 min
    expect(nextRequestAt(down, 15 * MIN, DEF)).toBe(20 * MIN);
    const up = recordProbe(s, { at: 15 * MIN, reachable: true });
    expect(mayPoll(up, 15 * MIN)).toBe(true);
  });

  it('an outage from 0 to 37 min is noticed within one interval, and the token is used at most once per interval', () => {
    const outageEnds = 37 * MIN;
    let s = recordPollOutcome(initialPollState<number>(), { kind: 'ok', at: -5 * MIN }, DEF, zero, 1);
    const polls: number[] = [];
    const probes: number[] = [];
    let recoveredAt: number | undefined;
    for (let t = 0; t < 90 * MIN && recoveredAt === undefined; t += 1000) {
      const up = t >= outageEnds;
      if (mayProbe(s, t, DEF)) {
        probes.push(t);
        s = recordProbe(s, { at: t, reachable: up });
      }
      if (mayPoll(s, t)) {
        polls.push(t);
        s = recordPollOutcome(s, { kind: up ? 'ok' : 'unavailable', at: t }, DEF, one, up ? 2 : undefined);
        if (up) recoveredAt = t;
      }
    }
    expect(recoveredAt).toBeDefined();
    expect((recoveredAt as number) - outageEnds).toBeLessThanOrEqual(5 * MIN);
    const gaps = polls.slice(1).map((p, i) => p - (polls[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5 * MIN);
    expect(probes.length).toBeGreaterThan(0);
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
