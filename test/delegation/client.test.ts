import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { backoffDelay, DelegationApiError, DelegationClient, idempotencyKeyFor, parseRetryAfter, type AttemptInfo } from '../../src/adapters/delegation/client.js';
import { CircuitBreaker } from '../../src/adapters/delegation/circuit-breaker.js';
import { startFakeJobServer, type FakeJobServer } from '../../src/demo/fake-job-server.js';

const KEY = 'sk-test-0123456789abcdef';
const servers: FakeJobServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(opts: Parameters<typeof startFakeJobServer>[0] = {}) {
  const s = await startFakeJobServer({ apiKey: KEY, ...opts });
  servers.push(s);
  return s;
}

/** A fake clock: sleeping advances it; every delay is recorded. */
function fakeTime(start = 1_000_000) {
  let now = start;
  const delays: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      delays.push(ms);
      now += ms;
    },
    delays,
  };
}

/** Deterministic pseudo-random numbers (mulberry32). */
function seeded(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const task = { taskId: 't-1', attempt: 1, provider: 'gemini', prompt: 'Summarise the changelog.' };

describe('idempotency keys and backoff', () => {
  it('derives a stable ASCII key per task id and attempt', () => {
    expect(idempotencyKeyFor('t-1', 1)).toBe(idempotencyKeyFor('t-1', 1));
    expect(idempotencyKeyFor('t-1', 1)).not.toBe(idempotencyKeyFor('t-1', 2));
    expect(idempotencyKeyFor('t-1', 1)).not.toBe(idempotencyKeyFor('t-2', 1));
    expect(idempotencyKeyFor('задача 🚀', 3)).toMatch(/^cf-[0-9a-f]{32}-3$/);
  });

  it.each([
    [1, 0, 0], [1, 0.5, 50], [2, 0.5, 100], [3, 0.999, 399], [10, 0.5, 500], [10, 0.9999999, 999],
  ])('full jitter: retry %i with random %f waits %i ms (base 100, cap 1000)', (n, r, want) => {
    expect(backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 1_000 }, () => r)).toBe(want);
  });

  it.each([
    ['120', 120_000], ['0', 0], ['1.5', 1_500], ['', undefined], ['soon', undefined], [new Date(1_000_000 + 5_000).toUTCString(), 4_000],
  ])('Retry-After %j → %j ms', (v, want) => {
    const got = parseRetryAfter(v, 1_000_500);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(1_000);
  });
});

describe('DelegationClient against the fake job server', () => {
  it('submits with an Idempotency-Key: a re-sent submit returns the same job, and polls it to the result', async () => {
    const s = await server({ providers: { gemini: { durationMs: 30, cost: 0.25 } } });
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY } });
    const a = await c.submitJobDetailed(task);
    const b = await c.submitJobDetailed(task);
    expect(b.id).toBe(a.id);
    expect([a.replayed, b.replayed]).toEqual([false, true]);
    expect(s.jobsForTask('t-1')).toHaveLength(1);
    expect(s.submitsFor(idempotencyKeyFor('t-1', 1))).toBe(2);
    const second = await c.submitJob({ ...task, attempt: 2 });
    expect(second).not.toBe(a.id);
    const done = await c.waitForResult(a.id, { timeoutMs: 5_000, pollMs: 10 });
    expect(done).toMatchObject({ id: a.id, status: 'succeeded', provider: 'gemini', cost: 0.25, currency: 'USD' });
    expect(done.result).toContain('Summarise the changelog.');
    await c.close();
  });

  it('retries 503 with full-jitter backoff within bounds, then gives up (attempt count and spacing, fake clock)', async () => {
    const s = await server();
    s.failFor({ status: 503, on: 'submit' });
    const t = fakeTime();
    const attempts: AttemptInfo[] = [];
    const c = new DelegationClient({
      endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, random: seeded(7),
      retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1_000, deadlineMs: 60_000 }, onAttempt: (a) => attempts.push(a),
    });
    const err = await c.submitJob(task).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DelegationApiError);
    expect((err as DelegationApiError).kind).toBe('unavailable');
    expect((err as DelegationApiError).status).toBe(503);
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 503, 503, 503]);
    expect(s.submitsFor(idempotencyKeyFor('t-1', 1))).toBe(6);
    // Five waits; wait n is in [0, min(1000, 100·2^(n-1))).
    expect(t.delays).toHaveLength(5);
    t.delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(1_000, 100 * 2 ** i));
    });
    // Jitter: not the deterministic exponential sequence, and not all equal.
    expect(t.delays).not.toEqual([100, 200, 400, 800, 1_000]);
    expect(new Set(t.delays).size).toBeGreaterThan(1);
    // The spacing reported to observers is the spacing slept.
    expect(attempts.slice(0, 5).map((a) => a.nextDelayMs)).toEqual(t.delays);
    expect(attempts.map((a, i) => a.at - (attempts[0]?.at ?? 0) - t.delays.slice(0, i).reduce((x, y) => x + y, 0))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('recovers when the 503s stop: the job is created exactly once', async () => {
    const s = await server();
    s.failFor({ status: 503, on: 'submit', times: 2 });
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, retry: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 50 } });
    const id = await c.submitJob(task);
    expect(s.jobs.map((j) => j.id)).toEqual([id]);
    expect(s.submitsFor(idempotencyKeyFor('t-1', 1))).toBe(3);
    expect(t.delays).toHaveLength(2);
  });

  it('never retries a 400: one request, the API message in the error', async () => {
    const s = await server();
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep });
    const err = (await c.submitJob({ ...task, provider: 'nope' }).catch((e: unknown) => e)) as DelegationApiError;
    expect(err.kind).toBe('rejected');
    expect(err.status).toBe(400);
    expect(err.message).toContain('provider "nope" is not available');
    expect(s.submitsFor(idempotencyKeyFor('t-1', 1))).toBe(1);
    expect(t.delays).toEqual([]);
  });

  it.each([401, 403, 404, 409, 422])('never retries %i', async (status) => {
    const s = await server();
    s.failFor({ status, on: 'get' });
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep });
    const err = (await c.getJob('job-1').catch((e: unknown) => e)) as DelegationApiError;
    expect([err.kind, err.status, s.requests.length, t.delays.length]).toEqual(['rejected', status, 1, 0]);
  });

  it.each([408, 429, 500, 502, 504])('retries %i', async (status) => {
    const s = await server();
    s.failFor({ status, on: 'get', times: 1 });
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, retry: { baseDelayMs: 10 } });
    const err = (await c.getJob('job-1').catch((e: unknown) => e)) as DelegationApiError;
    // The retry reached the server and got the real answer (no such job).
    expect([err.status, s.requests.map((r) => r.status)]).toEqual([404, [status, 404]]);
  });

  it('honours Retry-After: never earlier than the server asked', async () => {
    const s = await server();
    s.failFor({ status: 429, retryAfter: 3, on: 'submit', times: 2 });
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, random: () => 0.5, retry: { baseDelayMs: 100, maxDelayMs: 1_000, deadlineMs: 60_000 } });
    await c.submitJob(task);
    expect(t.delays).toEqual([3_000, 3_000]);
  });

  it('stops at the overall deadline instead of sleeping past it', async () => {
    const s = await server();
    s.failFor({ status: 429, retryAfter: 30, on: 'submit' });
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, retry: { maxAttempts: 10, deadlineMs: 10_000 } });
    const err = (await c.submitJob(task).catch((e: unknown) => e)) as DelegationApiError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/deadline/);
    expect(err.retryAfterMs).toBe(30_000);
    expect(t.delays).toEqual([]);
    expect(s.requests).toHaveLength(1);
  });

  it('retries network errors (connection refused) and reports them without the key', async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    servers.length = 0;
    const t = fakeTime();
    const c = new DelegationClient({ endpoint: url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, retry: { maxAttempts: 3, baseDelayMs: 10 } });
    const err = (await c.getJob('job-1').catch((e: unknown) => e)) as DelegationApiError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/unreachable: ECONNREFUSED/);
    expect(t.delays).toHaveLength(2);
  });

  it('reads the key from its secret reference and never shows it, even when the server echoes it', async () => {
    const s = await server();
    s.failFor({ status: 400, message: `bad key ${KEY} for you`, on: 'submit' });
    const c = new DelegationClient({ endpoint: s.url, apiKey: { env: 'CF_TEST_KEY' }, env: { CF_TEST_KEY: KEY } });
    const err = (await c.submitJob(task).catch((e: unknown) => e)) as DelegationApiError;
    expect(err.message).toContain('bad key [redacted] for you');
    expect(JSON.stringify({ m: err.message, s: err.stack })).not.toContain(KEY);
    const wrong = new DelegationClient({ endpoint: s.url, apiKey: { env: 'CF_TEST_KEY' }, env: { CF_TEST_KEY: 'wrong-key-value' } });
    const e401 = (await wrong.getJob('job-1').catch((e: unknown) => e)) as DelegationApiError;
    expect([e401.kind, e401.status]).toEqual(['rejected', 401]);
    const missing = new DelegationClient({ endpoint: s.url, apiKey: { env: 'CF_UNSET_KEY' }, env: {} });
    const e = (await missing.getJob('job-1').catch((x: unknown) => x)) as DelegationApiError;
    expect([e.kind, e.message]).toEqual(['secret', 'the job API key cannot be read: secret environment variable CF_UNSET_KEY is not set']);
  });

  it('fails fast while its circuit breaker is open, and probes after the open period', async () => {
    const s = await server();
    s.failFor({ status: 503, on: 'get', times: 2 });
    const t = fakeTime();
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 5_000, maxOpenMs: 5_000 });
    const c = new DelegationClient({ endpoint: s.url, apiKey: { resolve: async () => KEY }, now: t.now, sleep: t.sleep, guard: breaker, retry: { maxAttempts: 1 } });
    await expect(c.getJob('job-1')).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(c.getJob('job-1')).rejects.toMatchObject({ kind: 'circuitOpen' });
    expect(s.requests).toHaveLength(1);
    await t.sleep(5_000);
    await expect(c.getJob('job-1')).rejects.toMatchObject({ kind: 'unavailable' }); // the probe hit the second 503
    expect(breaker.state.state).toBe('open');
    await t.sleep(10_000);
    await expect(c.getJob('job-1')).rejects.toMatchObject({ kind: 'rejected', status: 404 }); // a definitive answer
    expect(breaker.state.state).toBe('closed');
  });

  it('works with an injected MockAgent dispatcher (no global dispatcher)', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('http://jobs.test');
    pool.intercept({ path: '/v1/jobs/job-9', method: 'GET', headers: { authorization: `Bearer ${KEY}` } }).reply(200, { id: 'job-9', status: 'failed', provider: 'gpu', error: { code: 'oom', message: 'out of memory' }, cost: 0.5 });
    const c = new DelegationClient({ endpoint: 'http://jobs.test/', apiKey: { resolve: async () => KEY }, dispatcher: agent });
    expect(await c.getJob('job-9')).toEqual({ id: 'job-9', status: 'failed', provider: 'gpu', error: 'oom: out of memory', cost: 0.5 });
    pool.intercept({ path: '/v1/jobs/job-10', method: 'GET' }).reply(200, { id: 'job-10', status: 'exploded' });
    await expect(c.getJob('job-10')).rejects.toMatchObject({ kind: 'protocol' });
    await agent.close();
  });
});
