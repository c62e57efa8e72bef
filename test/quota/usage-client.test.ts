import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, MockAgent } from 'undici';
import { pollOutcomeOf } from '../../src/core/poll-schedule.js';
import { fetchUsage, describeEndpoint, probeUsageEndpoint, type UsageFetchResult } from '../../src/adapters/quota/usage-client.js';
import { startFakeUsageServer, type FakeUsageServer } from '../support/fake-usage-server.js';

const TOKEN = 'sk-ant-oat01-test-SECRET-aaaa';
const OTHER = 'sk-ant-oat01-test-SECRET-bbbb';
const NOW = Date.parse('2026-03-10T12:00:00Z');

let clockMs = NOW;
let server: FakeUsageServer;
let agent: Agent;

beforeAll(async () => {
  server = await startFakeUsageServer({ clock: () => clockMs });
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await server.close();
});
afterEach(() => {
  server.clearFailures();
  clockMs = NOW;
});

const noToken = (r: UsageFetchResult): void => {
  const text = JSON.stringify(r);
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain('SECRET');
};

describe('fetchUsage against the fake usage server on loopback', () => {
  it('200 → snapshot with provenance; headers as the real endpoint wants', async () => {
    server.setWindows(TOKEN, { fiveHour: 42.5, sevenDay: 17, opus: 3, fiveHourResetsAt: '2026-03-10T15:00:00Z' });
    const before = server.requestCount(TOKEN);
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent, now: () => NOW });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.snapshot.fiveHour).toEqual({ utilization: 42.5, resetsAt: '2026-03-10T15:00:00.000Z', source: 'usage-api', observedAt: new Date(NOW).toISOString() });
    expect(r.snapshot.sevenDay?.utilization).toBe(17);
    expect(r.snapshot.scoped.map((s) => s.scope)).toEqual(['opus']);
    expect(server.requestCount(TOKEN)).toBe(before + 1);
    const last = server.requests[server.requests.length - 1];
    expect(last).toMatchObject({ token: TOKEN, beta: 'oauth-2025-04-20', status: 200 });
  });

  it('counts requests per token', async () => {
    server.setWindows(OTHER, { fiveHour: 1, sevenDay: 1 });
    const a = server.requestCount(TOKEN);
    const b = server.requestCount(OTHER);
    await fetchUsage({ endpoint: server.endpoint, accessToken: OTHER, dispatcher: agent });
    await fetchUsage({ endpoint: server.endpoint, accessToken: OTHER, dispatcher: agent });
    expect(server.requestCount(OTHER)).toBe(b + 2);
    expect(server.requestCount(TOKEN)).toBe(a);
  });

  it('tolerates utilization over 100, null windows and limits[]', async () => {
    server.setUsage(TOKEN, { five_hour: { utilization: 131, resets_at: null }, seven_day: null, limits: [{ kind: 'weekly_all', percent: 77, resets_at: 1773489600 }] });
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent });
    expect(r.ok && r.snapshot.fiveHour?.utilization).toBe(131);
    expect(r.ok && r.snapshot.sevenDay?.utilization).toBe(77);
  });

  it('unknown token → 401 → CredentialsExpired', async () => {
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: 'sk-ant-oat01-SECRET-unknown', dispatcher: agent });
    expect(r).toMatchObject({ ok: false, kind: 'CredentialsExpired', status: 401 });
    noToken(r);
  });

  it.each([
    [{ status: 403 }, { kind: 'Forbidden', status: 403 }],
    [{ status: 401 }, { kind: 'CredentialsExpired', status: 401 }],
    [{ status: 429, retryAfter: '120' }, { kind: 'RateLimited', status: 429, retryAfterMs: 120_000 }],
    [{ status: 429, retryAfter: 'Tue, 10 Mar 2026 12:30:00 GMT' }, { kind: 'RateLimited', status: 429, retryAfterMs: 30 * 60_000 }],
    [{ status: 429 }, { kind: 'RateLimited', status: 429 }],
    [{ status: 500 }, { kind: 'Unavailable', cause: 'ServerError', status: 500 }],
    [{ status: 503, retryAfter: '5' }, { kind: 'Unavailable', cause: 'ServerError', status: 503 }],
    [{ status: 418 }, { kind: 'Unavailable', cause: 'UnexpectedStatus', status: 418 }],
  ])('scripted failure %j → %j', async (failure, expected) => {
    server.setWindows(TOKEN, { fiveHour: 1, sevenDay: 1 });
    server.failFor(TOKEN, failure);
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent, now: () => NOW });
    expect(r).toMatchObject({ ok: false, ...expected });
    if (!('retryAfterMs' in expected)) expect(r).not.toHaveProperty('retryAfterMs');
    noToken(r);
  });

  it('a failure for a period ends with the server clock', async () => {
    server.setWindows(TOKEN, { fiveHour: 5, sevenDay: 5 });
    server.failFor(TOKEN, { status: 429, retryAfter: 60, durationMs: 10 * 60_000 });
    expect((await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent })).ok).toBe(false);
    clockMs = NOW + 9 * 60_000;
    expect((await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent })).ok).toBe(false);
    clockMs = NOW + 10 * 60_000;
    expect((await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent })).ok).toBe(true);
  });

  it('a failure for N requests, and `*` for every token', async () => {
    server.setWindows(TOKEN, { fiveHour: 5, sevenDay: 5 });
    server.failFor(TOKEN, { status: 500, times: 2 });
    const kinds: boolean[] = [];
    for (let i = 0; i < 3; i += 1) kinds.push((await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent })).ok);
    expect(kinds).toEqual([false, false, true]);
    server.failFor('*', { status: 503 });
    expect(await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent })).toMatchObject({ kind: 'Unavailable', status: 503 });
  });

  it('a 200 of the wrong shape is a failed poll (BadResponse) naming each field, never a figure', async () => {
    const cases: [unknown, RegExp][] = [
      [{ five_hour: 'lots', seven_day: { utilization: 20 } }, /answered 200 with a body that is not a usage response \(five_hour: expected object, received string\)$/],
      [{ five_hour: { utilization: 'NaN' }, seven_day: { utilization: 20 } }, /\(five_hour\.utilization: expected number, received string\)$/],
      [{ five_hour: { utilization: -5 }, seven_day: { utilization: -5 } }, /\(five_hour\.utilization: must be a percentage ≥ 0 \(it may exceed 100\); seven_day\.utilization: must be a percentage ≥ 0 \(it may exceed 100\)\)$/],
      [{ status: 'ok' }, /\(no five_hour, seven_day or limits field: not a usage response\)$/],
    ];
    for (const [body, message] of cases) {
      server.setUsage(TOKEN, body);
      const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent });
      expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'BadResponse', status: 200 });
      expect(!r.ok && r.message, JSON.stringify(body)).toMatch(message);
      expect(pollOutcomeOf(r, 1)).toEqual({ kind: 'unavailable', at: 1 });
      noToken(r);
    }
  });

  it('a probe sends no token; a server that answers (401) is up, an outage (`*`: 5xx, hang) is not', async () => {
    server.setWindows(TOKEN, { fiveHour: 5, sevenDay: 5 });
    const before = server.requests.length;
    expect(await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent })).toMatchObject({ reachable: true, status: 401 });
    expect(server.requests.slice(before)).toEqual([expect.objectContaining({ token: undefined, status: 401, beta: 'oauth-2025-04-20' })]);
    // A failure for one token is not an outage of the server.
    server.failFor(TOKEN, { status: 500 });
    expect((await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent })).reachable).toBe(true);
    server.clearFailures(TOKEN);
    server.failFor('*', { status: 503 });
    expect(await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent })).toMatchObject({ reachable: false, status: 503 });
    server.failFor('*', { status: 429 });
    expect((await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent })).reachable).toBe(false);
    server.failFor('*', { status: 0, hang: true });
    const hung = await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent, timeoutMs: 300 });
    expect(hung.reachable).toBe(false);
    expect(hung.message).toMatch(/^probe of http:\/\/127\.0\.0\.1:\d+\/api\/oauth\/usage failed: /);
    // A hung token poll times out the same way, and clearing the failure answers the held request.
    const poll = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent, timeoutMs: 300 });
    expect(poll).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Timeout' });
    server.clearFailures();
    expect((await probeUsageEndpoint({ endpoint: server.endpoint, dispatcher: agent })).reachable).toBe(true);
  });

  it('wrong path → UnexpectedStatus 404', async () => {
    const r = await fetchUsage({ endpoint: `${server.url}/api/oauth/nope`, accessToken: TOKEN, dispatcher: agent });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'UnexpectedStatus', status: 404 });
  });

  it('works without an explicit dispatcher (private agent, not the global one)', async () => {
    server.setWindows(TOKEN, { fiveHour: 9, sevenDay: 9 });
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN });
    expect(r.ok && r.snapshot.fiveHour?.utilization).toBe(9);
  });
});

describe('fetchUsage: network problems never throw', () => {
  let hanging: Server;
  let hangingPort: number;
  const held: Array<{ destroy(): void }> = [];

  beforeAll(async () => {
    hanging = createServer((req) => {
      held.push(req.socket);
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    hangingPort = (hanging.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    hanging.closeAllConnections();
    await new Promise<void>((r) => hanging.close(() => r()));
  });

  it('connection refused → Unavailable/Network', async () => {
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', () => r()));
    const port = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const r = await fetchUsage({ endpoint: `http://127.0.0.1:${port}/api/oauth/usage`, accessToken: TOKEN, dispatcher: agent });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Network' });
    expect(!r.ok && r.message).toContain('ECONNREFUSED');
    noToken(r);
  });

  it('no answer → Unavailable/Timeout within the timeout', async () => {
    const started = Date.now();
    const r = await fetchUsage({ endpoint: `http://127.0.0.1:${hangingPort}/api/oauth/usage`, accessToken: TOKEN, dispatcher: agent, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Timeout' });
    expect(Date.now() - started).toBeLessThan(5000);
    noToken(r);
  });

  it('caller abort → Unavailable/Aborted', async () => {
    const ac = new AbortController();
    const p = fetchUsage({ endpoint: `http://127.0.0.1:${hangingPort}/api/oauth/usage`, accessToken: TOKEN, dispatcher: agent, signal: ac.signal, timeoutMs: 10_000 });
    setTimeout(() => ac.abort(), 50);
    expect(await p).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Aborted' });
  });

  it('already aborted → no request at all', async () => {
    const r = await fetchUsage({ endpoint: server.endpoint, accessToken: TOKEN, dispatcher: agent, signal: AbortSignal.abort() });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Aborted' });
  });

  it('invalid endpoint URL → Unavailable/Network, not a throw', async () => {
    const r = await fetchUsage({ endpoint: 'not a url', accessToken: TOKEN, dispatcher: agent });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable' });
  });
});

describe('fetchUsage with an undici MockAgent as dispatcher', () => {
  let mock: MockAgent;
  beforeAll(() => {
    mock = new MockAgent();
    mock.disableNetConnect();
  });
  afterAll(async () => {
    await mock.close();
  });
  const origin = 'https://usage.example.test';

  it('sends the bearer token and beta header (the mock matches on them)', async () => {
    mock
      .get(origin)
      .intercept({ path: '/api/oauth/usage', method: 'GET', headers: { authorization: `Bearer ${TOKEN}`, 'anthropic-beta': 'oauth-2025-04-20' } })
      .reply(200, { five_hour: { utilization: 12, resets_at: '2026-03-10T14:00:00Z' }, seven_day: { utilization: 34, resets_at: null } });
    const r = await fetchUsage({ endpoint: `${origin}/api/oauth/usage`, accessToken: TOKEN, dispatcher: mock });
    expect(r.ok && [r.snapshot.fiveHour?.utilization, r.snapshot.sevenDay?.utilization]).toEqual([12, 34]);
  });

  it.each([
    ['not JSON', 'BadResponse', 'oops<html>'],
    ['a JSON array', 'BadResponse', '[1,2]'],
  ])('200 with %s → Unavailable/%s', async (_n, cause, body) => {
    mock.get(origin).intercept({ path: '/api/oauth/usage', method: 'GET' }).reply(200, body);
    const r = await fetchUsage({ endpoint: `${origin}/api/oauth/usage`, accessToken: TOKEN, dispatcher: mock });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause, status: 200 });
  });

  it('a network error from the dispatcher → Unavailable/Network', async () => {
    mock.get(origin).intercept({ path: '/api/oauth/usage', method: 'GET' }).replyWithError(new Error('socket hang up'));
    const r = await fetchUsage({ endpoint: `${origin}/api/oauth/usage`, accessToken: TOKEN, dispatcher: mock });
    expect(r).toMatchObject({ ok: false, kind: 'Unavailable', cause: 'Network' });
  });

  it('scrubs the token even if an error echoes it', async () => {
    mock.get(origin).intercept({ path: '/api/oauth/usage', method: 'GET' }).replyWithError(new Error(`bad header Bearer ${TOKEN}`));
    const r = await fetchUsage({ endpoint: `${origin}/api/oauth/usage`, accessToken: TOKEN, dispatcher: mock });
    expect(!r.ok && r.message).toContain('[redacted]');
    noToken(r);
  });
});

describe('helpers', () => {
  it.each([
    [{ ok: true, status: 200, snapshot: { scoped: [] }, observedAt: '' }, { kind: 'ok', at: 7 }],
    [{ ok: false, kind: 'CredentialsExpired', status: 401, message: '' }, { kind: 'rejected', at: 7 }],
    [{ ok: false, kind: 'Forbidden', status: 403, message: '' }, { kind: 'rejected', at: 7 }],
    [{ ok: false, kind: 'RateLimited', status: 429, retryAfterMs: 5, message: '' }, { kind: 'rateLimited', at: 7, retryAfterMs: 5 }],
    [{ ok: false, kind: 'RateLimited', status: 429, message: '' }, { kind: 'rateLimited', at: 7 }],
    [{ ok: false, kind: 'Unavailable', cause: 'Timeout', message: '' }, { kind: 'unavailable', at: 7 }],
    [{ ok: false, kind: 'NoCredentials', message: '' }, { kind: 'unavailable', at: 7 }],
  ] as const)('pollOutcomeOf(%j)', (result, expected) => {
    expect(pollOutcomeOf(result as UsageFetchResult, 7)).toEqual(expected);
  });

  it('describeEndpoint drops credentials and query', () => {
    expect(describeEndpoint('https://user:pw@proxy.example:8443/api/oauth/usage?key=abc')).toBe('https://proxy.example:8443/api/oauth/usage');
    expect(describeEndpoint('nope')).toBe('<invalid endpoint>');
  });
});
