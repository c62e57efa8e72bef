import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../../test/support/fake-timers.js';
import { Admission } from './admission.js';

function setup(opts: { rate: number; burst?: number; maxQueue?: number }) {
  const clock = new FakeTimers();
  const a = new Admission({ ratePerSecond: opts.rate, ...(opts.burst !== undefined ? { burst: opts.burst } : {}), ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}), now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms) });
  const admitted: number[] = [];
  let asked = 0;
  /** Asks n times; records the fake time at which each request was admitted. */
  const ask = (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = asked++;
      const wait = a.acquire();
      if (wait === undefined) admitted[id] = clock.now();
      else void wait.then(() => (admitted[id] = clock.now()));
    }
  };
  return { a, clock, admitted, ask };
}

describe('Admission', () => {
  it('admits a burst at once, then holds the rest and releases them at the rate, in order', async () => {
    const { a, clock, admitted, ask } = setup({ rate: 10, burst: 3 });
    const t0 = clock.now();
    ask(6);
    expect(admitted.filter((t) => t !== undefined)).toHaveLength(3);
    await clock.advance(1000);
    expect(admitted.map((t) => t - t0)).toEqual([0, 0, 0, 100, 200, 300]);
    expect(a.stats).toEqual({ admitted: 6, queued: 3, rejected: 0, waiting: 0 });
  });

  it('refills while idle, up to the burst', async () => {
    const { clock, admitted, ask } = setup({ rate: 2, burst: 2 });
    ask(2);
    await clock.advance(10_000); // 20 tokens' worth of time, capped at the burst of 2
    const t1 = clock.now();
    ask(3);
    await clock.advance(1000);
    expect(admitted.slice(2).map((t) => t - t1)).toEqual([0, 0, 500]);
  });

  it('refuses with CF_API_RATE_LIMITED (429) when the queue is full, and says when to retry', () => {
    const { a, ask } = setup({ rate: 1, burst: 1, maxQueue: 2 });
    ask(3); // one admitted, two waiting
    expect(() => a.acquire()).toThrow(expect.objectContaining({ code: 'CF_API_RATE_LIMITED', statusCode: 429 }));
    expect(a.retryAfterSeconds()).toBe(3);
    expect(a.stats.rejected).toBe(1);
  });

  it('defaults the burst to one second of requests', () => {
    const { a } = setup({ rate: 5 });
    for (let i = 0; i < 5; i++) expect(a.acquire()).toBeUndefined();
    expect(a.acquire()).toBeInstanceOf(Promise);
  });

  it.each([0, -1, Number.NaN])('rejects a rate of %s', (rate) => {
    expect(() => new Admission({ ratePerSecond: rate })).toThrow(RangeError);
  });
});
