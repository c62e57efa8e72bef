/**
 * Every route of the control plane through inject(), on a real controller (wiring, Manager, Store,
 * a private tmux server with simulator sessions, a temp state dir): auth, validation, 404s, and
 * what each route returns.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CfEvent } from '../../src/runtime/events.js';
import { until } from '../support/daemon.js';
import { addTask, AUTH, events, TOKEN, useHarnesses } from './helpers.js';

const setup = useHarnesses();

type Route = { method: 'GET' | 'POST'; url: string; payload?: unknown };

/** Every protected route (with a valid name where it takes one). */
const PROTECTED: Route[] = [
  { method: 'GET', url: '/readyz' },
  ...['accounts', 'sessions', 'projects', 'tasks', 'delegation', 'notifiers', 'events'].map((r) => ({ method: 'GET' as const, url: `/api/v1/${r}` })),
  { method: 'GET', url: '/api/v1/accounts/a' },
  { method: 'GET', url: '/api/v1/sessions/s1' },
  { method: 'GET', url: '/api/v1/projects/p' },
  { method: 'GET', url: '/api/v1/tasks/t-1' },
  { method: 'GET', url: '/api/v1/delegation/x' },
  { method: 'GET', url: '/api/v1/events/Session/s1' },
  { method: 'GET', url: '/api/v1/plan' },
  { method: 'POST', url: '/api/v1/reconcile' },
  { method: 'POST', url: '/api/v1/failover', payload: {} },
  { method: 'POST', url: '/api/v1/sessions/s1/restart' },
  { method: 'GET', url: '/api/v1/manifests' },
  { method: 'POST', url: '/api/v1/manifests/confirm', payload: {} },
  { method: 'POST', url: '/api/v1/sessions/s1/send', payload: { text: 'x' } },
  { method: 'POST', url: '/api/v1/tasks', payload: { project: 'p', text: 'x' } },
  { method: 'GET', url: '/api/v1/stream' },
  { method: 'GET', url: '/metrics' },
  { method: 'GET', url: '/watchdog/status' },
  { method: 'GET', url: '/api/delegated/status' },
  { method: 'GET', url: '/no/such/route' },
];

describe('auth', () => {
  it('answers 401 CF_API_UNAUTHORIZED on every route but /healthz and the static page, without or with a wrong token', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    for (const r of PROTECTED) {
      for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
        const res = await h.app.inject({ method: r.method, url: r.url, headers, ...(r.payload !== undefined ? { payload: r.payload as object } : {}) });
        expect(res.statusCode, `${r.method} ${r.url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json()).toMatchObject({ error: { code: 'CF_API_UNAUTHORIZED' } });
      }
    }
    for (const url of ['/healthz', '/', '/dashboard.js', '/dashboard.css']) {
      expect((await h.app.inject({ url })).statusCode, url).toBe(200);
    }
    // Nothing happened on the rejected POSTs.
    expect(events(h).filter((e) => ['FailoverRequested', 'RestartRequested', 'TextSent', 'TaskAdded'].includes(e.reason))).toEqual([]);
  });

  it('with anonymous-compat-read, only the two compat routes answer loopback clients without a token', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] }, { anonymousCompatRead: true });
    for (const url of ['/watchdog/status', '/api/delegated/status']) {
      const res = await h.app.inject({ url, remoteAddress: '127.0.0.1' });
      expect(res.statusCode, url).toBe(200);
      expect((await h.app.inject({ url, remoteAddress: '::1' })).statusCode, `${url} ::1`).toBe(200);
      expect((await h.app.inject({ url, remoteAddress: '::ffff:127.0.0.1' })).statusCode, `${url} mapped`).toBe(200);
      // Not from another host; not with a wrong token either.
      expect((await h.app.inject({ url, remoteAddress: '10.1.2.3' })).statusCode, `${url} remote`).toBe(401);
      expect((await h.app.inject({ url, remoteAddress: '127.0.0.1', headers: { authorization: 'Bearer wrong' } })).statusCode, `${url} wrong token`).toBe(401);
    }
    expect((await h.app.inject({ url: '/watchdog/status', remoteAddress: '127.0.0.1' })).json()).toMatchObject({ sessions: { s1: { project: 'p' } } });
    // Every other protected route still needs the token, from loopback too.
    for (const r of PROTECTED.filter((x) => x.url !== '/watchdog/status' && x.url !== '/api/delegated/status')) {
      const res = await h.app.inject({ method: r.method, url: r.url, remoteAddress: '127.0.0.1', ...(r.payload !== undefined ? { payload: r.payload as object } : {}) });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
    }
  });

  it('accepts the right token on every route', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const res = await h.app.inject({ url: '/api/v1/accounts', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('validation and errors', () => {
  it('rejects unknown query fields with 400 on every GET route', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    for (const r of PROTECTED.filter((x) => x.method === 'GET' && !x.url.startsWith('/no/') && x.url !== '/api/v1/stream')) {
      const res = await h.app.inject({ url: `${r.url}?bogus=1`, headers: AUTH });
      expect(res.statusCode, r.url).toBe(400);
      expect(res.json(), r.url).toEqual({ error: { code: 'CF_API_BAD_REQUEST', message: 'unknown field in query: "bogus"' } });
    }
    const stream = await h.app.inject({ url: '/api/v1/stream?bogus=1', headers: AUTH });
    expect(stream.statusCode).toBe(400);
  });

  it('rejects unknown and invalid body fields, bad JSON, other media types and oversized bodies', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const cases: { url: string; payload: string; type?: string; status: number; code: string; message?: RegExp }[] = [
      { url: '/api/v1/failover', payload: '{"to":"b","force":true}', status: 400, code: 'CF_API_BAD_REQUEST', message: /unknown field in body: "force"/ },
      { url: '/api/v1/failover', payload: '{"to":"B A"}', status: 400, code: 'CF_API_BAD_REQUEST', message: /^to: must be an Account name/ },
      { url: '/api/v1/failover', payload: '{"reason":42}', status: 400, code: 'CF_API_BAD_REQUEST', message: /^reason: / },
      { url: '/api/v1/failover', payload: '[1,2]', status: 400, code: 'CF_API_BAD_REQUEST' },
      { url: '/api/v1/failover', payload: '{"to":', status: 400, code: 'CF_API_BAD_REQUEST' },
      { url: '/api/v1/reconcile', payload: '{"all":true}', status: 400, code: 'CF_API_BAD_REQUEST', message: /unknown field in body: "all"/ },
      { url: '/api/v1/sessions/s1/restart', payload: '{"now":true}', status: 400, code: 'CF_API_BAD_REQUEST', message: /unknown field in body: "now"/ },
      { url: '/api/v1/failover', payload: 'to=b', type: 'application/x-www-form-urlencoded', status: 415, code: 'CF_API_UNSUPPORTED_MEDIA_TYPE' },
      { url: '/api/v1/failover', payload: JSON.stringify({ reason: 'x'.repeat(70 * 1024) }), status: 413, code: 'CF_API_BODY_TOO_LARGE' },
    ];
    for (const c of cases) {
      const res = await h.app.inject({ method: 'POST', url: c.url, payload: c.payload, headers: { ...AUTH, 'content-type': c.type ?? 'application/json' } });
      expect(res.statusCode, `${c.url} ${c.payload.slice(0, 40)}`).toBe(c.status);
      const body = res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe(c.code);
      if (c.message) expect(body.error.message).toMatch(c.message);
    }
    expect(events(h).filter((e) => e.reason === 'FailoverRequested')).toEqual([]);
  });

  it('answers 404 for unknown routes and objects, with the error shape', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const cases: [string, 'GET' | 'POST', string][] = [
      ['/api/v1/nothing', 'GET', 'CF_API_NOT_FOUND'],
      ['/api/v1/sessions/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/accounts/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/projects/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/delegation/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/notifiers/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/tasks/ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/tasks?project=ghost', 'GET', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/events/Widget/x', 'GET', 'CF_API_NOT_FOUND'],
      ['/api/v1/sessions/ghost/restart', 'POST', 'CF_API_OBJECT_NOT_FOUND'],
      ['/api/v1/reconcile?key=Session/ghost', 'POST', 'CF_API_OBJECT_NOT_FOUND'],
    ];
    for (const [url, method, code] of cases) {
      const res = await h.app.inject({ method, url, headers: AUTH });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: { code } });
    }
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/failover', headers: AUTH, payload: { to: 'ghost' } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'CF_API_OBJECT_NOT_FOUND', message: 'Account "ghost" not found' } });
  });
});

describe('health', () => {
  it('/healthz answers at once; /readyz is 503 until the first full reconcile, then 200', async () => {
    const h = await setup({ sessions: [] });
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const before = await h.app.inject({ url: '/readyz', headers: AUTH });
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({ error: { code: 'CF_API_NOT_READY' } });
    await h.wired.manager.start({ resyncMs: 60_000, prune: false });
    const deadline = Date.now() + 10_000;
    while (!h.wired.manager.ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const after = await h.app.inject({ url: '/readyz', headers: AUTH });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ status: 'ready' });
  });
});

describe('objects', () => {
  it('serves Kubernetes-shaped objects with spec from the manifests and status from the controllers', async () => {
    const h = await setup({ sessions: [{ name: 's1' }, { name: 's2' }] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });

    const sessions = (await h.app.inject({ url: '/api/v1/sessions', headers: AUTH })).json<{ apiVersion: string; kind: string; items: { kind: string; metadata: { name: string; generation: string }; spec: { project: string }; status: { conditions: { type: string }[] } }[] }>();
    expect(sessions.apiVersion).toBe('claudefailover.io/v1alpha1');
    expect(sessions.kind).toBe('SessionList');
    expect(sessions.items.map((s) => s.metadata.name)).toEqual(['s1', 's2']);
    for (const s of sessions.items) {
      expect(s.kind).toBe('Session');
      expect(s.spec.project).toBe('p');
      expect(s.metadata.generation).toMatch(/^[0-9a-f]+$/);
      expect(s.status.conditions.map((c) => c.type)).toContain('Ready');
    }
    const one = (await h.app.inject({ url: '/api/v1/sessions/s2', headers: AUTH })).json<{ metadata: { name: string }; status: unknown }>();
    expect(one.metadata.name).toBe('s2');
    expect(one.status).toEqual(h.wired.manager.store.state.status['Session/s2']);

    const accounts = (await h.app.inject({ url: '/api/v1/accounts', headers: AUTH })).json<{ items: { metadata: { name: string }; spec: { priority: number } }[]; pool: { activeAccount: string | null; source: string } }>();
    expect(accounts.items.map((a) => [a.metadata.name, a.spec.priority])).toEqual([['a', 10], ['b', 20]]);
    expect(accounts.pool.source).toMatch(/^(decided|preferred)$/);
    expect(accounts.pool.activeAccount).toBe(h.wired.manager.store.state.status['Account/*']?.activeAccount ?? 'a');

    const projects = (await h.app.inject({ url: '/api/v1/projects/p', headers: AUTH })).json<{ spec: { path: string } }>();
    expect(projects.spec.path).toBe(join(h.root, 'projects', 'p'));
    // Nothing declared, nothing reported: empty lists, not invented objects.
    expect((await h.app.inject({ url: '/api/v1/delegation', headers: AUTH })).json()).toEqual({ apiVersion: 'claudefailover.io/v1alpha1', kind: 'DelegationPolicyList', items: [] });
  });

  it('lists task files of the declared queues and serves one task with its body', async () => {
    const h = await setup({ sessions: [] });
    addTask(h.root, 'p', 't-1', '---\npriority: high\n---\n# Fix the build\nrun make\n');
    addTask(h.root, 'p', 't-2', 'plain task\n');
    const list = (await h.app.inject({ url: '/api/v1/tasks', headers: AUTH })).json<{ kind: string; items: { metadata: { name: string; project: string }; status: { state: string } }[] }>();
    expect(list.kind).toBe('TaskList');
    expect(list.items.map((t) => [t.metadata.name, t.metadata.project, t.status.state]).sort()).toEqual([['t-1', 'p', 'inbox'], ['t-2', 'p', 'inbox']]);
    expect((await h.app.inject({ url: '/api/v1/tasks?state=done', headers: AUTH })).json<{ items: unknown[] }>().items).toEqual([]);
    expect((await h.app.inject({ url: '/api/v1/tasks?limit=1', headers: AUTH })).json<{ items: unknown[] }>().items).toHaveLength(1);
    const t = (await h.app.inject({ url: '/api/v1/tasks/t-1', headers: AUTH })).json<{ spec: { title: string; priority: string; body: string } }>();
    expect(t.spec).toMatchObject({ title: 'Fix the build', priority: 'high', body: '# Fix the build\nrun make\n' });
    expect((await h.app.inject({ url: '/api/v1/tasks?state=sideways', headers: AUTH })).statusCode).toBe(400);
    expect((await h.app.inject({ url: '/api/v1/tasks?limit=0', headers: AUTH })).statusCode).toBe(400);
  });

  it('redacts webhook header values of Notifiers', async () => {
    const notifier = `apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: hook\nspec:\n  type: webhook\n  webhook:\n    url: http://127.0.0.1:9/x\n    headers:\n      Authorization: Bearer sekrit\n`;
    const h = await setup({ sessions: [] });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(h.manifests, 'notifier.yaml'), notifier);
    const { loadManifests, toDesired } = await import('../../src/adapters/manifest-files.js');
    h.wired.manager.setDesired(toDesired(await loadManifests([h.manifests], { gitRevision: false })));
    const res = await h.app.inject({ url: '/api/v1/notifiers/hook', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('sekrit');
    expect(res.json()).toMatchObject({ spec: { webhook: { headers: { Authorization: '<redacted>' } } } });
  });
});

describe('events', () => {
  it('serves the event log, filtered by object', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    await h.wired.manager.event({ key: 'Session/s1', type: 'Normal', reason: 'Probe', message: 'one' });
    await h.wired.manager.event({ key: 'Account/a', type: 'Warning', reason: 'Probe', message: 'two' });
    const all = (await h.app.inject({ url: '/api/v1/events', headers: AUTH })).json<{ kind: string; items: CfEvent[] }>();
    expect(all.kind).toBe('EventList');
    expect(all.items.filter((e) => e.reason === 'Probe').map((e) => e.message)).toEqual(['one', 'two']);
    const s1 = (await h.app.inject({ url: '/api/v1/events/Session/s1', headers: AUTH })).json<{ items: CfEvent[] }>();
    expect(s1.items.map((e) => e.message)).toEqual(['one']);
    const byQuery = (await h.app.inject({ url: '/api/v1/events?for=Account/a&limit=5', headers: AUTH })).json<{ items: CfEvent[] }>();
    expect(byQuery.items.map((e) => e.message)).toEqual(['two']);
    expect((await h.app.inject({ url: '/api/v1/events?for=nonsense', headers: AUTH })).statusCode).toBe(400);
  });
});

describe('plan', () => {
  it('is a dry run that leaves the controller state untouched', async () => {
    const h = await setup({ sessions: [{ name: 's1' }, { name: 's2' }] });
    const before = h.wired.manager.store.state;
    const res = await h.app.inject({ url: '/api/v1/plan', headers: AUTH });
    expect(res.statusCode).toBe(200);
    const plan = res.json<{ formatVersion: number; dryRun: boolean; changes: { key: string; action: string }[]; summary: { add: number } }>();
    expect(plan.formatVersion).toBe(1);
    expect(plan.dryRun).toBe(true);
    expect(plan.changes.filter((c) => c.key.startsWith('Session/')).map((c) => [c.key, c.action])).toEqual([['Session/s1', 'create'], ['Session/s2', 'create']]);
    expect(h.wired.manager.store.state).toBe(before);
    expect(h.tmux.sessions()).toEqual([]);
    const text = await h.app.inject({ url: '/api/v1/plan?format=text', headers: AUTH });
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toMatch(/# Session\/s1: .* will be created/);
    expect(text.body).toMatch(/Plan: \d+ to add/);
  });
});

describe('actions', () => {
  it('POST /api/v1/reconcile enqueues every key, or one', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const all = await h.app.inject({ method: 'POST', url: '/api/v1/reconcile', headers: AUTH });
    expect(all.statusCode).toBe(202);
    expect(all.json<{ enqueued: string[] }>().enqueued).toEqual(h.wired.manager.allKeys());
    expect(all.json<{ enqueued: string[] }>().enqueued).toContain('Session/s1');
    const one = await h.app.inject({ method: 'POST', url: '/api/v1/reconcile?key=Session/s1', headers: AUTH, payload: {} });
    expect(one.statusCode).toBe(202);
    expect(one.json()).toEqual({ enqueued: ['Session/s1'] });
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/reconcile?key=session-s1', headers: AUTH })).statusCode).toBe(400);
  });

  it('POST /api/v1/failover hands the request to the Account controller, records it and answers with its decision', async () => {
    const h = await setup({ sessions: [] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    // The answer waits for the Account controller's decision on this request (a reconcile runs it).
    const answer = h.app.inject({ method: 'POST', url: '/api/v1/failover', headers: AUTH, payload: { to: 'b', reason: 'maintenance' } });
    await until(() => events(h).some((e) => e.reason === 'FailoverRequested'), 10_000, 'request recorded');
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    const res = await answer;
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: true, to: 'b', active: 'b' });
    expect(res.json<{ message: string }>().message).toMatch(/^failover to b requested and accepted: forced failover from a to b/);
    expect(events(h).find((e) => e.reason === 'FailoverRequested')).toMatchObject({ key: 'Account/*', data: { to: 'b', reason: 'maintenance', requestedVia: 'api' } });
    expect((h.wired.manager.store.state.status['Account/*']?.lastDecision as { reason: string } | undefined)?.reason).toBe('Forced');
  });

  it('POST /api/v1/failover to an account the controller refuses: 409 with its reason, and a FailoverRejected event', async () => {
    const h = await setup({ sessions: [], loggedIn: ['a'] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    const answer = h.app.inject({ method: 'POST', url: '/api/v1/failover', headers: AUTH, payload: { to: 'b' } });
    await until(() => events(h).some((e) => e.reason === 'FailoverRequested'), 10_000, 'request recorded');
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    const res = await answer;
    expect(res.statusCode).toBe(409);
    expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'CF_API_CONFLICT' });
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/^forced failover to b rejected: b cannot take the pool: credentials invalid \(CredentialsValid=False\): no credentials at /);
    expect(events(h).find((e) => e.reason === 'FailoverRejected')).toMatchObject({ key: 'Account/*', type: 'Warning', data: { to: 'b' } });
    expect(h.wired.manager.store.state.status['Account/*']?.activeAccount).toBe('a');
  });

  it('POST /api/v1/sessions/:name/restart kills our tmux session; a foreign one with the same name is refused', async () => {
    const h = await setup({ sessions: [{ name: 's1' }, { name: 's2' }] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    expect(h.tmux.sessions()).toContain('s1');
    // The request is recorded in the state dir; the Session controller serves it on its next reconcile
    // (this harness runs no work queue: the test reconciles by hand).
    const answer = h.app.inject({ method: 'POST', url: '/api/v1/sessions/s1/restart', headers: { ...AUTH, 'user-agent': 'api-test/1' } });
    await until(() => events(h).some((e) => e.reason === 'RestartRequested'), 10_000, 'request recorded');
    expect(h.tmux.sessions()).toContain('s1'); // nothing happens before a reconcile serves it
    await h.wired.manager.reconcileKey('Session/s1', { dryRun: false, prune: false });
    const res = await answer;
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ restarted: true, message: 'tmux session "s1" stopped; the Session controller relaunches it and resumes its conversation' });
    expect(h.tmux.sessions()).not.toContain('s1');
    const requestId = res.json<{ request: string }>().request;
    expect(events(h).find((e) => e.reason === 'RestartRequested')).toMatchObject({ key: 'Session/s1', data: { request: requestId } });
    const record = await h.app.inject({ method: 'GET', url: `/api/v1/requests/${requestId}`, headers: AUTH });
    expect(record.json()).toMatchObject({ kind: 'restart', target: 's1', requestedBy: expect.stringMatching(/^api-test\/1 from /), result: { accepted: true } });
    // The Session controller relaunches it on its next reconcile.
    await h.wired.manager.reconcileKey('Session/s1', { dryRun: false, prune: false });
    expect(h.tmux.sessions()).toContain('s1');

    // s2 replaced by a foreign session with the same name: never touched.
    h.tmux.run(['kill-session', '-t', '=s2']);
    expect(h.tmux.run(['new-session', '-d', '-s', 's2', 'sleep 600']).status).toBe(0);
    const refusedAnswer = h.app.inject({ method: 'POST', url: '/api/v1/sessions/s2/restart', headers: AUTH });
    await until(async () => (await h.wired.requests.pending('restart')).length > 0, 10_000, 'second request recorded');
    await h.wired.manager.reconcileKey('Session/s2', { dryRun: false, prune: false });
    const refused = await refusedAnswer;
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: { code: 'CF_API_CONFLICT' } });
    expect(h.tmux.sessions()).toContain('s2');
  });
});

describe('manifests', () => {
  it('GET /api/v1/manifests shows the set in force and a held set', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const held = { id: '0123456789ab', fingerprint: 'f', reason: 'EmptySet', message: 'the manifest set is empty', removed: ['s1'], total: 1, since: '2026-11-22T10:00:00.000Z', applyAt: '2026-11-22T10:02:00.000Z' };
    h.wired.manager.store.update((d) => {
      d.status['Manifests/*'] = { observedGeneration: 'g', conditions: [{ type: 'DeletionHeld', status: 'True', reason: 'EmptySet', message: 'm', lastTransitionTime: '2026-11-22T10:00:00.000Z', observedGeneration: 'g' }], objects: 4, held };
    });
    const res = await h.app.inject({ url: '/api/v1/manifests', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ kind: 'ManifestSet', status: { objects: 4, held: { id: '0123456789ab', removed: ['s1'] }, conditions: [{ type: 'DeletionHeld', status: 'True' }] } });
  });

  it('POST /api/v1/manifests/confirm: 200 when applied, 409 when refused or not supported, 400 for a malformed id', async () => {
    const calls: (string | undefined)[] = [];
    let applied = true;
    const h = await setup({ sessions: [{ name: 's1' }] }, { confirmManifests: async (id) => { calls.push(id); return applied ? { applied: true, message: `applied the held set ${id ?? '?'}` } : { applied: false, message: 'no manifest set is held' }; } });
    const ok = await h.app.inject({ method: 'POST', url: '/api/v1/manifests/confirm', headers: AUTH, payload: { id: '0123456789ab' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ applied: true, message: 'applied the held set 0123456789ab' });
    applied = false;
    const refused = await h.app.inject({ method: 'POST', url: '/api/v1/manifests/confirm', headers: AUTH, payload: {} });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({ error: { code: 'CF_API_CONFLICT', message: 'no manifest set is held' } });
    const bad = await h.app.inject({ method: 'POST', url: '/api/v1/manifests/confirm', headers: AUTH, payload: { id: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(calls).toEqual(['0123456789ab', undefined]);
    const plain = await setup({ sessions: [{ name: 's1' }] });
    expect((await plain.app.inject({ method: 'POST', url: '/api/v1/manifests/confirm', headers: AUTH, payload: {} })).statusCode).toBe(409);
  });
});

describe('compatibility routes', () => {
  it('/watchdog/status reports sessions, queues and delegation counters; /api/delegated/status the delegation view', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    addTask(h.root, 'p', 't-9', 'hello\n');
    const w = (await h.app.inject({ url: '/watchdog/status', headers: AUTH })).json<Record<string, unknown>>();
    expect(w).toMatchObject({
      ready: false,
      sessions: { s1: { project: 'p', restarts: 0 } },
      queues: { p: { inbox: 1, dispatched: 0, delegated: 0, done: 0, failed: 0, archive: 0 } },
      delegation: { activeJobs: 0, submitted: 0, succeeded: 0, failed: 0, costToday: 0 },
    });
    expect(['starting', 'idle', 'unknown']).toContain((w.sessions as Record<string, { state: string }>).s1?.state);
    const d = (await h.app.inject({ url: '/api/delegated/status', headers: AUTH })).json<Record<string, unknown>>();
    expect(d).toMatchObject({ activeJobs: 0, submitted: 0, policies: {}, jobs: [], delegatedTasks: { p: 0 } });
  });
});

describe('dashboard assets', () => {
  it('serves the page with a strict CSP and no data', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] });
    const page = await h.app.inject({ url: '/' });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.body).toContain('data-testid="failover-button"');
    expect(page.body).not.toContain('s1');
    const js = await h.app.inject({ url: '/dashboard.js' });
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain("'/api/v1/stream'");
  });
});

describe('admission control (--api-rate)', () => {
  it('holds requests over the rate, refuses with 429 when the queue is full, and never holds /healthz', async () => {
    const h = await setup({ sessions: [{ name: 's1' }] }, { apiRate: { ratePerSecond: 5, burst: 2, maxQueue: 3 } });
    const t0 = Date.now();
    const replies = await Promise.all(Array.from({ length: 6 }, () => h.app.inject({ url: '/api/v1/accounts', headers: AUTH })));
    const health = await h.app.inject({ url: '/healthz' });
    expect(health.statusCode).toBe(200);
    const codes = replies.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = replies.find((r) => r.statusCode === 429);
    expect(refused?.json()).toMatchObject({ error: { code: 'CF_API_RATE_LIMITED' } });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Two at once (the burst), three held: the last one at 5 req/s is admitted about 600 ms later.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    const metrics = (await h.app.inject({ url: '/metrics', headers: AUTH })).body;
    expect(metrics).toMatch(/claude_failover_http_requests_throttled_total\{outcome="queued"\} [34]/);
    expect(metrics).toContain('claude_failover_http_requests_throttled_total{outcome="rejected"} 1');
  });
});
