/**
 * The control plane of a real controller (`run`) with simulator agents: the CLI talks to it
 * through the API and falls back to the state dir when it is gone; restart of one session
 * through the API; a unix-socket listener; the non-loopback rule (--allow-remote, a token, a
 * warning), a JSON null body, 405/415/414 in the error envelope and a flood of unauthenticated
 * requests that never reaches admission control; and a controller restart while agents work, which every tmux
 * session survives (what the systemd unit relies on).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/server/client.js';
import { runCli } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) {
    await p.daemon?.stop('SIGTERM');
    await p.close();
  }
});

async function pool(sessions: string[], simEnv: Record<string, string> = { CLAUDE_SIM_WORK_MS: '300' }, more: SimPool['spec']['accounts'] = []): Promise<SimPool> {
  const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }, ...more], sessions, simEnv });
  pools.push(p);
  await p.setup({ a: { fiveHour: 20, sevenDay: 10 }, b: { fiveHour: 5, sevenDay: 5 } });
  return p;
}

function requestCount(metrics: string, route: string): number {
  const m = new RegExp(`^claude_failover_http_request_duration_seconds_count\\{method="[A-Z]+",route="${route.replace(/[/*]/g, (c) => `\\${c}`)}",status_code="2\\d\\d"\\} (\\d+)$`, 'gm');
  let n = 0;
  for (const x of metrics.matchAll(m)) n += Number(x[1]);
  return n;
}

describe('control plane of a running controller', () => {
  it('serves the CLI (get, describe, events, reconcile, failover) and the CLI falls back to the state dir when it stops', async () => {
    const p = await pool(['s1', 's2'], undefined, [{ name: 'c', priority: 30, credentials: 'none' }]);
    const d = p.start(['--listen', '127.0.0.1:0']);
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    const url = listening.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await p.waitIdle(['s1', 's2'], 'a');
    const env = { CLAUDE_FAILOVER_STATE_DIR: p.stateDir };
    const token = (await import('node:fs')).readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    const api = new ApiClient({ url, token, source: 'flag' });
    const scrape = async () => (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();

    const before = requestCount(await scrape(), '/api/v1/sessions');
    const get = await runCli(['get', 'sessions', '-o', 'json'], { env });
    expect(get.code, get.stderr).toBe(0);
    const objs = JSON.parse(get.stdout) as { metadata: { name: string }; status: { activity: string } }[];
    expect(objs.map((o) => o.metadata.name)).toEqual(['s1', 's2']);
    expect(requestCount(await scrape(), '/api/v1/sessions')).toBe(before + 1);

    const table = await runCli(['get', 'sessions'], { env });
    expect(table.stdout).toMatch(/^NAME\s+PROJECT\s+ACCOUNT\s+ACTIVITY/);
    expect(table.stdout).toMatch(/\ns1\s+p\s+a\s+idle/);
    const describeOut = await runCli(['describe', 'session', 's1'], { env });
    expect(describeOut.code, describeOut.stderr).toBe(0);
    expect(describeOut.stdout).toMatch(/Events:\n[\s\S]*Created/);
    const events = await runCli(['events', '--for', 'Account/*', '-o', 'json'], { env });
    expect((JSON.parse(events.stdout) as { reason: string }[]).map((e) => e.reason)).toContain('ActiveAccountSelected');
    expect(requestCount(await scrape(), '/api/v1/events')).toBeGreaterThanOrEqual(2);

    const rec = await runCli(['reconcile', '--key', 'Session/s2'], { env });
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.stdout).toBe(`reconcile requested for 1 object(s) on the controller at ${url}\n`);
    const recAll = await runCli(['reconcile', '-o', 'json'], { env });
    expect(JSON.parse(recAll.stdout)).toMatchObject({ enqueued: expect.arrayContaining(['Account/*', 'Project/p', 'Session/s1', 'Session/s2']) });

    // A wrong token named explicitly is an error, not a fallback.
    const wrong = await runCli(['get', 'sessions', '--server', url], { env: { ...env, CLAUDE_FAILOVER_TOKEN: 'not-the-token' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/CF_API_UNAUTHORIZED/);

    const fo = await runCli(['failover', '--to', 'b', '--reason', 'cli test'], { env });
    expect(fo.code, fo.stderr).toBe(0);
    expect(fo.stdout).toMatch(/^failover to b requested and accepted: forced failover from a to b/);
    await until(() => p.active() === 'b', 20_000, 'b active after `failover --to b`');
    expect(p.events().find((e) => e.reason === 'FailoverRequested')?.data).toMatchObject({ to: 'b', reason: 'cli test' });
    const bad = await runCli(['failover', '--to', 'zz'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/CF_API_OBJECT_NOT_FOUND: Account "zz" not found/);
    // The controller refuses c (not logged in): the command says why and exits 1; it is an event.
    const refused = await runCli(['failover', '--to', 'c', '--reason', 'try c'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^claude-failover failover: refused by the controller: forced failover to c rejected: c cannot take the pool: credentials invalid \(CredentialsValid=False\): no credentials at \S+\/accounts\/c\/\.credentials\.json/);
    const rejected = p.events().find((e) => e.reason === 'FailoverRejected');
    expect(rejected).toMatchObject({ key: 'Account/*', type: 'Warning', data: { to: 'c', reason: 'try c' } });
    expect(rejected?.message).toMatch(/the pool stays on b$/);
    expect(p.active()).toBe('b');

    await api.close();
    expect(await d.stop('SIGTERM')).toBe(0);
    // No controller: reading commands use the state dir, acting ones say so.
    const offline = await runCli(['get', 'sessions', '-o', 'json'], { env });
    expect(offline.code, offline.stderr).toBe(0);
    expect((JSON.parse(offline.stdout) as { metadata: { name: string } }[]).map((o) => o.metadata.name)).toEqual(['s1', 's2']);
    const noCtl = await runCli(['reconcile'], { env });
    expect(noCtl.code).toBe(1);
    expect(noCtl.stderr).toMatch(/CF_ERR_NO_CONTROLLER: no running controller found/);
    expect((await runCli(['failover'], { env })).stderr).toMatch(/CF_ERR_NO_CONTROLLER/);
  }, 180_000);

  it('restarts one session through the API: relaunched and resumed, the others untouched', async () => {
    const p = await pool(['s1', 's2']);
    const d = p.start(['--listen', '127.0.0.1:0']);
    const url = (await d.waitForLog((l) => l.msg === 'control plane listening', 30_000)).url as string;
    await p.waitIdle(['s1', 's2']);
    await p.prompt('s1', 'remember this');
    await until(() => p.sim().some((r) => r.type === 'received'), 10_000, 'prompt received');
    const receivedAt = Date.parse(String(p.sim().find((r) => r.type === 'received')?.time));
    // The turn ended (idle since after the prompt): its transcript exists, so a relaunch resumes.
    await until(() => p.session('s1')?.activity === 'idle' && Date.parse(String(p.session('s1')?.since)) >= receivedAt, 15_000, 's1 idle after its turn');
    const conv = p.session('s1')?.conversationId as string;
    const pids = p.tmux.panePids();
    const token = (await import('node:fs')).readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    const api = new ApiClient({ url, token, source: 'flag' });
    const r = await api.request<{ restarted: boolean }>('POST', '/api/v1/sessions/s1/restart');
    expect(r.restarted).toBe(true);
    await until(() => {
      const now = p.tmux.panePids();
      return now.s1 !== undefined && now.s1 !== pids.s1;
    }, 20_000, 's1 relaunched');
    expect(p.tmux.panePids().s2).toBe(pids.s2);
    await until(() => p.invocations().some((i) => i.argv.join(' ').includes(`--resume ${conv}`)), 15_000, `s1 relaunched with --resume ${conv}\n${JSON.stringify(p.invocations().map((i) => i.argv.join(' ')))}`);
    await p.waitIdle(['s1']);
    expect(p.invocations().filter((i) => i.argv.includes(conv))).toHaveLength(2);
    expect(p.session('s1')?.conversationId).toBe(conv);
    await api.close();
  }, 120_000);

  it('listens on a unix socket (0600) that the CLI finds through the state dir', async () => {
    const p = await pool(['s1']);
    const sock = join(p.root, 'cf.sock');
    const d = p.start(['--listen', `unix:${sock}`]);
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    expect(listening.url).toBe(`unix:${sock}`);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const get = await runCli(['get', 'accounts', '-o', 'json'], { env: { CLAUDE_FAILOVER_STATE_DIR: p.stateDir } });
    expect(get.code, get.stderr).toBe(0);
    expect((JSON.parse(get.stdout) as { metadata: { name: string } }[]).map((o) => o.metadata.name)).toEqual(['a', 'b']);
  }, 120_000);

  it('refuses a non-loopback --listen without --allow-remote or without a token; with both it warns; a JSON null body starts no failover; 405/415/414 in the envelope; unauthenticated requests never queue', async () => {
    const p = await pool(['s1']);
    const base = ['run', '-f', p.manifests, '--state-dir', p.stateDir, '--tmux-socket', p.tmux.socket];
    const noFlag = await runCli([...base, '--listen', '0.0.0.0:0']);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toMatch(/--listen 0\.0\.0\.0:0 is not a loopback address: the API is plain HTTP, so serving it beyond this host needs --allow-remote \(and a TLS reverse proxy in front, see docs\/security\.md\)/);
    const noToken = await runCli([...base, '--listen', '0.0.0.0:0', '--allow-remote', '--token-file', 'none']);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/--listen 0\.0\.0\.0:0 is not a loopback address: it needs a token/);
    expect(p.tmux.serverRunning()).toBe(false);

    const d = p.start(['--listen', '0.0.0.0:0', '--allow-remote']);
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    expect(listening).toMatchObject({ remote: true, auth: true });
    const url = String(listening.url);
    const warning = await d.waitForLog((l) => l.level === 40 && String(l.msg).includes('plain HTTP'));
    expect(warning.msg).toBe(`the control plane listens on ${url} beyond this host in plain HTTP: the bearer token and every answer cross the network unencrypted; serve it through a TLS reverse proxy (docs/security.md) or listen on 127.0.0.1`);
    expect(d.stderr).toContain('claude-failover run: warning: the control plane listens on http://0.0.0.0:0 beyond this host in plain HTTP');
    const token = (await import('node:fs')).readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    const local = url.replace('0.0.0.0', '127.0.0.1');
    const res = await fetch(`${local}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: 'null' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'CF_API_BAD_REQUEST', message: 'the body must be a JSON object, not null' } });
    const put = await fetch(`${local}/api/v1/failover`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    expect(await put.json()).toMatchObject({ error: { code: 'CF_API_METHOD_NOT_ALLOWED' } });
    const text = await fetch(`${local}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: '{"to":"b"}' });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: { code: 'CF_API_UNSUPPORTED_MEDIA_TYPE' } });
    const long = await fetch(`${local}/api/v1/sessions?x=${'a'.repeat(9000)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(long.status).toBe(414);
    expect(await long.json()).toMatchObject({ error: { code: 'CF_API_URI_TOO_LONG' } });

    // 300 requests without the token at once (6 seconds' worth of the default --api-rate 50): every
    // one is 401 at once and none takes a place in the admission queue, so an authenticated call
    // after them is neither held nor refused.
    const flood = await Promise.all(Array.from({ length: 300 }, () => fetch(`${local}/api/v1/sessions`).then(async (r) => (await r.arrayBuffer(), r.status))));
    expect(new Set(flood)).toEqual(new Set([401]));
    const authed = await fetch(`${local}/api/v1/sessions`, { headers: { authorization: `Bearer ${token}` } });
    expect(authed.status).toBe(200);
    const metrics = await (await fetch(`${local}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(metrics).not.toContain('claude_failover_http_requests_throttled_total{outcome="rejected"}');
    expect(Number(/claude_failover_http_requests_throttled_total\{outcome="queued"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBe(0);
    // A request is recorded (FailoverRequested) before it is answered: nothing was.
    expect(p.events().filter((e) => e.reason === 'FailoverRequested' || e.reason === 'FailoverStarted')).toEqual([]);
    expect(p.active()).toBe('a');
  }, 90_000);
});

describe('controller restart', () => {
  it('keeps every agent running across a graceful restart while they work, and adopts them', async () => {
    const names = ['w1', 'w2', 'w3', 'w4'];
    const p = await pool(names, { CLAUDE_SIM_WORK_MS: '4000' });
    const first = p.start(['--listen', '127.0.0.1:0']);
    await first.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    await p.waitIdle(names);
    for (const n of names) await p.prompt(n, `long job for ${n}`);
    await until(() => names.every((n) => p.session(n)?.activity === 'working'), 15_000, 'all working');
    const pids = p.tmux.panePids();
    expect(Object.keys(pids).sort()).toEqual(names);

    // `systemctl restart claude-failover`: SIGTERM, then a new process on the same state dir.
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(p.tmux.panePids()).toEqual(pids);
    const second = p.start(['--listen', '127.0.0.1:0']);
    await second.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    expect(p.tmux.panePids()).toEqual(pids);
    expect(second.lines.filter((l) => l.reason === 'Created' && String(l.key).startsWith('Session/'))).toEqual([]);
    expect(second.lines.filter((l) => l.reason === 'Replaced')).toEqual([]);
    // The turns that were running finish on the same processes.
    await p.waitIdle(names, undefined, 30_000);
    expect(p.tmux.panePids()).toEqual(pids);
    // No agent process exited at any point, and each received its prompt exactly once.
    expect(p.sim().filter((r) => r.type === 'exit')).toEqual([]);
    expect(p.sim().filter((r) => r.type === 'received')).toHaveLength(names.length);
  }, 180_000);
});
