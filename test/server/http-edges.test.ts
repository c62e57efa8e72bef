/**
 * The control plane's HTTP edges (docs/api.md, "Errors" and "Admission control") on a real controller: bodies that are not objects,
 * media types, methods, over-long and malformed URLs — every answer in the error envelope — and
 * authentication before admission control. inject() for the routes, real loopback for what Node's
 * HTTP parser rejects before fastify sees a request.
 */
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MAX_URL_LENGTH } from '../../src/server/errors.js';
import { AUTH, events, useHarnesses } from './helpers.js';

const setup = useHarnesses();

const POSTS = ['/api/v1/failover', '/api/v1/reconcile', '/api/v1/sessions/s1/restart', '/api/v1/sessions/s1/send', '/api/v1/tasks', '/api/v1/manifests/confirm'];

describe('bodies', () => {
  it('answers 400 for a JSON body that is not an object on every POST route, and acts on none', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const bodies: [string, RegExp][] = [
      ['null', /not null$/],
      ['[]', /not an array$/],
      ['[{"to":"b"}]', /not an array$/],
      ['"b"', /not a string$/],
      ['42', /not a number$/],
      ['true', /not a boolean$/],
    ];
    for (const url of POSTS) {
      for (const [payload, message] of bodies) {
        const res = await h.app.inject({ method: 'POST', url, payload, headers: { ...AUTH, 'content-type': 'application/json' } });
        expect(res.statusCode, `${url} ${payload}`).toBe(400);
        const body = res.json<{ error: { code: string; message: string } }>();
        expect(body.error.code).toBe('CF_API_BAD_REQUEST');
        expect(body.error.message, `${url} ${payload}`).toMatch(message);
      }
    }
    expect(events(h).filter((e) => ['FailoverRequested', 'RestartRequested', 'TaskAdded', 'TextSent'].includes(e.reason))).toEqual([]);
    // An object still works, and no body at all counts as {}.
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/failover', payload: {}, headers: AUTH })).statusCode).toBe(202);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/reconcile', headers: AUTH })).statusCode).toBe(202);
    expect(events(h).filter((e) => e.reason === 'FailoverRequested')).toHaveLength(1);
  });

  it('answers 415 in the envelope for every body that is not application/json', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
      for (const url of POSTS) {
        const res = await h.app.inject({ method: 'POST', url, payload: '{"to":"b"}', headers: { ...AUTH, 'content-type': type } });
        expect(res.statusCode, `${url} ${type}`).toBe(415);
        expect(res.json()).toEqual({ error: { code: 'CF_API_UNSUPPORTED_MEDIA_TYPE', message: 'unsupported Content-Type: send the body as application/json' } });
      }
    }
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/reconcile', payload: '{}', headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8' } })).statusCode).toBe(202);
    expect(events(h).filter((e) => e.reason === 'FailoverRequested')).toEqual([]);
  });
});

describe('methods and URLs', () => {
  it('answers 405 with Allow for an unknown method on a known path (after auth), 404 for an unknown path', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const cases: [string, string, string][] = [
      ['DELETE', '/api/v1/failover', 'POST'],
      ['GET', '/api/v1/failover', 'POST'],
      ['PUT', '/api/v1/sessions', 'GET, HEAD'],
      ['POST', '/api/v1/sessions', 'GET, HEAD'],
      ['DELETE', '/api/v1/sessions/s1', 'GET, HEAD'],
      ['GET', '/api/v1/sessions/s1/restart', 'POST'],
      ['PATCH', '/api/v1/events/Session/s1', 'GET, HEAD'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['OPTIONS', '/metrics', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await h.app.inject({ method: method as 'GET', url, headers: AUTH });
      expect(res.statusCode, `${method} ${url}`).toBe(405);
      expect(res.headers.allow, `${method} ${url}`).toBe(allow);
      expect(res.json()).toEqual({ error: { code: 'CF_API_METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${url}; allowed: ${allow}` } });
    }
    // Nothing is revealed without a token.
    const anon = await h.app.inject({ method: 'DELETE', url: '/api/v1/failover' });
    expect(anon.statusCode).toBe(401);
    const none = await h.app.inject({ method: 'DELETE', url: '/api/v1/nothing/here', headers: AUTH });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ error: { code: 'CF_API_NOT_FOUND' } });
  });

  it('answers 414 for an over-long URL or path segment and 400 for a malformed one, in the envelope', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const long = await h.app.inject({ url: `/api/v1/tasks?project=${'a'.repeat(MAX_URL_LENGTH)}`, headers: AUTH });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toEqual({ error: { code: 'CF_API_URI_TOO_LONG', message: `the URL is longer than ${MAX_URL_LENGTH} characters` } });
    const segment = await h.app.inject({ url: `/api/v1/sessions/${'a'.repeat(300)}`, headers: AUTH });
    expect(segment.statusCode).toBe(414);
    expect(segment.json()).toMatchObject({ error: { code: 'CF_API_URI_TOO_LONG' } });
    // A 200-character task id (the longest the API accepts) is routed, not refused as too long.
    const task = await h.app.inject({ url: `/api/v1/tasks/${'t'.repeat(200)}`, headers: AUTH });
    expect(task.json()).toMatchObject({ error: { code: 'CF_API_OBJECT_NOT_FOUND' } });
    for (const url of ['/api/v1/sessions/%E0%A4%A', '/api/v1/sessions/%zz', '/api/v1/events/Session/%']) {
      const bad = await h.app.inject({ url, headers: AUTH });
      expect(bad.statusCode, url).toBe(400);
      expect(bad.json(), url).toEqual({ error: { code: 'CF_API_BAD_REQUEST', message: 'malformed URL: a path segment is not valid percent-encoding' } });
    }
  });

  it('over real loopback: a request line beyond the header limit is 414, oversized headers 431, both in the envelope', async () => {
    const h = await setup();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (h.app.server.address() as { port: number }).port;
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, headers: { ...AUTH, ...headers }, agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const url = await get(`/api/v1/tasks?project=${'a'.repeat(20_000)}`);
    expect(url.status).toBe(414);
    expect(JSON.parse(url.body)).toEqual({ error: { code: 'CF_API_URI_TOO_LONG', message: `the URL is longer than ${MAX_URL_LENGTH} characters` } });
    const headers = await get('/api/v1/accounts', { 'x-padding': 'p'.repeat(20_000) });
    expect(headers.status).toBe(431);
    expect(JSON.parse(headers.body)).toEqual({ error: { code: 'CF_API_HEADERS_TOO_LARGE', message: 'the request headers are too large' } });
    const ok = await get('/api/v1/accounts');
    expect(ok.status).toBe(200);
  });
});

describe('authentication before admission control', () => {
  it('answers unauthenticated requests 401 without queueing them, so an authenticated one is admitted at once', async () => {
    // One request per second, a queue of one: before the fix, the flood took the slot and the queue.
    const h = await setup({}, { apiRate: { ratePerSecond: 1, burst: 1, maxQueue: 1 } });
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => h.app.inject({ url: '/api/v1/accounts', headers: i % 2 ? { authorization: 'Bearer wrong-token' } : {} })));
    expect(new Set(flood.map((r) => r.statusCode))).toEqual(new Set([401]));
    // The public page and probes are not queued either.
    for (const url of ['/', '/dashboard.js', '/healthz']) expect((await h.app.inject({ url })).statusCode, url).toBe(200);
    const authed = await h.app.inject({ url: '/api/v1/accounts', headers: AUTH });
    expect(authed.statusCode).toBe(200);
    const metrics = (await h.app.inject({ url: '/metrics', headers: AUTH })).body;
    // Nothing was refused; at most /metrics itself was held (the authenticated call took the token).
    expect(metrics).not.toContain('outcome="rejected"');
    expect(Number(/claude_failover_http_requests_throttled_total\{outcome="queued"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeLessThanOrEqual(1);
  });
});
