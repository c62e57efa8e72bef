import { describe, expect, it } from 'vitest';
import { RetryableError } from '../core/errors.js';
import { FakeTimers, flush } from '../../test/support/fake-timers.js';
import { WorkQueue } from './work-queue.js';

/** A handler whose calls stay pending until the test resolves or rejects them. */
function controlledHandler() {
  const calls: { key: string; reason: string; resolve: (v?: { requeueAfterMs?: number }) => void; reject: (e: unknown) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const perKeyRunning = new Map<string, number>();
  let overlap = false;
  const handler = (key: string, reason: string) =>
    new Promise<{ requeueAfterMs?: number } | void>((resolve, reject) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      const n = (perKeyRunning.get(key) ?? 0) + 1;
      perKeyRunning.set(key, n);
      if (n > 1) overlap = true;
      const done = () => {
        running -= 1;
        perKeyRunning.set(key, (perKeyRunning.get(key) ?? 1) - 1);
      };
      calls.push({ key, reason, resolve: (v) => { done(); resolve(v); }, reject: (e) => { done(); reject(e); } });
    });
  return { calls, handler, get maxRunning() { return maxRunning; }, get overlap() { return overlap; } };
}

function setup(opts: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}) {
  const timers = new FakeTimers();
  const h = controlledHandler();
  const q = new WorkQueue({ handler: h.handler, timers, jitter: 0, resyncMs: 0, ...opts });
  q.start();
  return { timers, h, q };
}

describe('WorkQueue', () => {
  it('dedups a burst of adds for one key into one run', async () => {
    const { h, q } = setup();
    // Before start picks it up, several adds collapse: use a busy queue of concurrency 1.
    q.add('a');
    q.add('b');
    q.add('b');
    q.add('b');
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a', 'b']);
  });

  it('never runs a key concurrently with itself, and re-runs it once after when dirtied', async () => {
    const { h, q } = setup({ concurrency: 4 });
    q.add('a');
    await flush();
    expect(h.calls).toHaveLength(1);
    q.add('a', 'second');
    q.add('a', 'third');
    await flush();
    expect(h.calls).toHaveLength(1); // still processing: not started again
    h.calls[0]!.resolve();
    await flush();
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.reason).toBe('second');
    h.calls[1]!.resolve();
    await flush();
    expect(h.calls).toHaveLength(2);
    expect(h.overlap).toBe(false);
  });

  it('bounds concurrency', async () => {
    const { h, q } = setup({ concurrency: 2 });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await flush();
    expect(h.calls).toHaveLength(2);
    h.calls[0]!.resolve();
    await flush();
    expect(h.calls).toHaveLength(3);
    expect(h.maxRunning).toBe(2);
  });

  it('addAfter keeps the earliest due time', async () => {
    const { h, q, timers } = setup();
    q.addAfter('a', 10_000);
    q.addAfter('a', 3_000);
    q.addAfter('a', 8_000);
    await timers.advance(2_999);
    expect(h.calls).toHaveLength(0);
    await timers.advance(1);
    expect(h.calls).toHaveLength(1);
    h.calls[0]!.resolve();
    await timers.advance(20_000);
    expect(h.calls).toHaveLength(1); // the later due times were dropped, not run again
  });

  it.each([
    { failures: 1, expected: 1_000 },
    { failures: 2, expected: 2_000 },
    { failures: 3, expected: 4_000 },
    { failures: 9, expected: 256_000 },
    { failures: 10, expected: 300_000 },
    { failures: 30, expected: 300_000 },
  ])('backoff after $failures failures is $expected ms', ({ failures, expected }) => {
    const { q } = setup();
    expect(q.backoffFor(failures)).toBe(expected);
  });

  it('requeues failures with exponential backoff and resets on success', async () => {
    const { h, q, timers } = setup();
    q.add('a');
    await flush();
    h.calls[0]!.reject(new Error('boom'));
    await flush();
    expect(q.failures('a')).toBe(1);
    await timers.advance(999);
    expect(h.calls).toHaveLength(1);
    await timers.advance(1);
    expect(h.calls).toHaveLength(2);
    h.calls[1]!.reject(new Error('boom'));
    await flush();
    await timers.advance(1_999);
    expect(h.calls).toHaveLength(2);
    await timers.advance(1);
    expect(h.calls).toHaveLength(3);
    h.calls[2]!.resolve();
    await flush();
    expect(q.failures('a')).toBe(0);
  });

  it('honours retryAfterMs of a RetryableError', async () => {
    const { h, q, timers } = setup();
    q.add('a');
    await flush();
    h.calls[0]!.reject(new RetryableError('CF_ERR_TMUX', 'NotReady', 'later', { retryAfterMs: 42_000 }));
    await flush();
    await timers.advance(41_999);
    expect(h.calls).toHaveLength(1);
    await timers.advance(1);
    expect(h.calls).toHaveLength(2);
  });

  it('applies jitter within bounds', () => {
    const timers = new FakeTimers();
    const q = new WorkQueue({ handler: async () => {}, timers, jitter: 0.5, random: () => 0.999, resyncMs: 0 });
    const d = q.backoffFor(3);
    expect(d).toBeGreaterThan(4_000);
    expect(d).toBeLessThanOrEqual(6_000);
  });

  it('requeueAfterMs from the handler schedules the key again', async () => {
    const { h, q, timers } = setup();
    q.add('a');
    await flush();
    h.calls[0]!.resolve({ requeueAfterMs: 5_000 });
    await flush();
    await timers.advance(4_999);
    expect(h.calls).toHaveLength(1);
    await timers.advance(1);
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.reason).toBe('requeue');
  });

  it('resync enqueues every key periodically', async () => {
    const { h, timers } = setup({ resyncMs: 15_000, keys: () => ['a', 'b'] });
    await timers.advance(15_000);
    expect(h.calls.map((c) => `${c.key}:${c.reason}`)).toEqual(['a:resync', 'b:resync']);
    h.calls.forEach((c) => c.resolve());
    await timers.advance(15_000);
    expect(h.calls).toHaveLength(4);
  });

  it('shutdown stops intake and drains in-flight work', async () => {
    const { h, q } = setup();
    q.add('a');
    await flush();
    const drained = q.shutdown(10_000);
    q.add('b');
    h.calls[0]!.resolve();
    expect(await drained).toBe(true);
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a']);
  });

  it('shutdown gives up after the timeout', async () => {
    const { q, timers } = setup();
    q.add('a');
    await flush();
    const drained = q.shutdown(1_000);
    await timers.advance(1_000);
    expect(await drained).toBe(false);
  });
});
