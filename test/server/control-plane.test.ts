/**
 * The listener side: address parsing, the loopback rule, the token file, unix sockets (0600),
 * the discovery record and the CLI client; the SSE stream over real HTTP on 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBind, CONTROL_PLANE_RECORD, isLoopback, loadOrCreateToken, parseListen, remoteListenWarning, startControlPlane, urlOf, type ControlPlane } from '../../src/runtime/control-plane.js';
import { tokensEqual } from '../../src/server/auth.js';
import { ApiClient, connectController, findController } from '../../src/server/client.js';
import { tempDir } from '../support/manifests.js';
import { AUTH, harness, TOKEN, type Harness } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const silent = pino({ level: 'silent' });

function dir(): string {
  const d = tempDir('cp');
  cleanups.push(() => rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return d;
}

async function withHarness(): Promise<Harness> {
  const h = await harness({ sessions: [] });
  cleanups.push(() => h.cleanup());
  return h;
}

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:7777', { kind: 'tcp', host: '127.0.0.1', port: 7777 }, true],
    [':8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }, true],
    ['localhost:1', { kind: 'tcp', host: 'localhost', port: 1 }, true],
    ['127.4.5.6:0', { kind: 'tcp', host: '127.4.5.6', port: 0 }, true],
    ['[::1]:7777', { kind: 'tcp', host: '::1', port: 7777 }, true],
    ['0.0.0.0:7777', { kind: 'tcp', host: '0.0.0.0', port: 7777 }, false],
    ['[::]:7777', { kind: 'tcp', host: '::', port: 7777 }, false],
    ['10.0.0.5:7777', { kind: 'tcp', host: '10.0.0.5', port: 7777 }, false],
    ['example.org:80', { kind: 'tcp', host: 'example.org', port: 80 }, false],
    ['unix:/run/cf.sock', { kind: 'unix', path: '/run/cf.sock' }, true],
  ] as const)('%s', (spec, parsed, loopback) => {
    const a = parseListen(spec);
    expect(a).toEqual(parsed);
    expect(isLoopback(a)).toBe(loopback);
    if (loopback) {
      expect(() => checkBind(a, null)).not.toThrow();
      expect(() => checkBind(a, 'token')).not.toThrow();
      expect(remoteListenWarning(a)).toBeUndefined();
    } else {
      // Beyond loopback: only with --allow-remote, and then only with a token; always a warning.
      expect(() => checkBind(a, 'token')).toThrow(/refusing to listen .*: it is not a loopback address, and the API is plain HTTP; pass --allow-remote/);
      expect(() => checkBind(a, null)).toThrow(/--allow-remote/);
      expect(() => checkBind(a, null, true)).toThrow(/refusing to listen .* without a token/);
      expect(() => checkBind(a, 'token', true)).not.toThrow();
      expect(remoteListenWarning(a)).toMatch(/plain HTTP: the bearer token and every answer cross the network unencrypted; serve it through a TLS reverse proxy/);
    }
  });

  it.each(['7777', 'host:', 'host:99999', 'unix:relative.sock', '[::1:7777', 'a:b:c'])('rejects %s', (spec) => {
    expect(() => parseListen(spec)).toThrow(/--listen/);
  });

  it('renders URLs', () => {
    expect(urlOf(parseListen('[::1]:80'))).toBe('http://[::1]:80');
    expect(urlOf(parseListen('127.0.0.1:0'), 4321)).toBe('http://127.0.0.1:4321');
    expect(urlOf(parseListen('unix:/x/y.sock'))).toBe('unix:/x/y.sock');
  });
});

describe('token', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', 'abc', false],
    ['ünïcode', 'ünïcode', true],
  ])('tokensEqual(%j, %j) = %s', (a, b, eq) => {
    expect(tokensEqual(a, b)).toBe(eq);
  });

  it('is created 0600 on first run, read back afterwards, and refused when readable by others', async () => {
    const d = dir();
    const path = join(d, 'state', 'api-token');
    const first = await loadOrCreateToken(path);
    expect(first.created).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateToken(path);
    expect(again).toEqual({ token: first.token, created: false });
    chmodSync(path, 0o644);
    await expect(loadOrCreateToken(path)).rejects.toThrow(/readable by group or others .*chmod 600/);
    chmodSync(path, 0o600);
    writeFileSync(path, 'short\n', { mode: 0o600 });
    await expect(loadOrCreateToken(path)).rejects.toThrow(/fewer than 16 characters/);
  });
});

describe('startControlPlane', () => {
  it('listens on a unix socket with mode 0600, records itself for the CLI, and cleans up on stop', async () => {
    const h = await withHarness();
    const sock = join(h.root, 'run', 'cf.sock');
    // A stale socket left by a killed controller (exit without closing) is replaced.
    mkdirSync(dirname(sock), { recursive: true });
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
    expect(r.status).toBe(0);
    expect(lstatSync(sock).isSocket()).toBe(true);
    const cp = await startControlPlane({ app: h.app, listen: parseListen(`unix:${sock}`), token: TOKEN, tokenFile: join(h.stateDir, 'api-token'), stateDir: h.stateDir, log: silent });
    cleanups.push(() => cp.stop());
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(cp.url).toBe(`unix:${sock}`);
    const record = JSON.parse(readFileSync(join(h.stateDir, CONTROL_PLANE_RECORD), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ url: `unix:${sock}`, pid: process.pid, tokenFile: join(h.stateDir, 'api-token') });
    expect(statSync(join(h.stateDir, CONTROL_PLANE_RECORD)).mode & 0o777).toBe(0o600);

    const client = new ApiClient({ url: cp.url, token: TOKEN, source: 'flag' });
    cleanups.push(() => client.close());
    expect(await client.request('GET', '/healthz')).toEqual({ status: 'ok' });
    await expect(new ApiClient({ url: cp.url, token: 'nope', source: 'flag' }).request('GET', '/api/v1/sessions')).rejects.toMatchObject({ code: 'CF_API_UNAUTHORIZED', statusCode: 401 });

    await cp.stop();
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(h.stateDir, CONTROL_PLANE_RECORD))).toBe(false);
  });

  it('refuses a socket path that is a regular file, a non-loopback address without --allow-remote, and one without a token', async () => {
    const h = await withHarness();
    const file = join(h.root, 'not-a-socket');
    writeFileSync(file, 'x');
    await expect(startControlPlane({ app: h.app, listen: parseListen(`unix:${file}`), token: TOKEN, tokenFile: join(h.stateDir, 'api-token'), stateDir: h.stateDir, log: silent })).rejects.toThrow(/is not a socket/);
    await expect(startControlPlane({ app: h.app, listen: parseListen('0.0.0.0:0'), token: TOKEN, tokenFile: join(h.stateDir, 'api-token'), stateDir: h.stateDir, log: silent })).rejects.toThrow(/pass --allow-remote/);
    await expect(startControlPlane({ app: h.app, listen: parseListen('0.0.0.0:0'), token: null, stateDir: h.stateDir, log: silent, allowRemote: true })).rejects.toThrow(/without a token/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('CLI discovery', () => {
  it('finds a running controller through the state dir, env or flags; a dead one is absent', async () => {
    const h = await withHarness();
    const cp: ControlPlane = await startControlPlane({ app: h.app, listen: parseListen('127.0.0.1:0'), token: TOKEN, tokenFile: join(h.root, 'tok'), stateDir: h.stateDir, log: silent });
    cleanups.push(() => cp.stop());
    writeFileSync(join(h.root, 'tok'), `${TOKEN}\n`, { mode: 0o600 });
    expect(cp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const viaState = await findController({ env: {}, stateDir: h.stateDir });
    expect(viaState).toEqual({ url: cp.url, token: TOKEN, source: 'state-dir' });
    const viaEnv = await findController({ env: { CLAUDE_FAILOVER_URL: 'http://127.0.0.1:1', CLAUDE_FAILOVER_TOKEN: 'envtok' }, stateDir: h.stateDir });
    expect(viaEnv).toEqual({ url: 'http://127.0.0.1:1', token: 'envtok', source: 'env' });
    const viaFlag = await findController({ server: cp.url, tokenFile: join(h.root, 'tok'), env: { CLAUDE_FAILOVER_URL: 'http://127.0.0.1:1' }, stateDir: h.stateDir });
    expect(viaFlag).toEqual({ url: cp.url, token: TOKEN, source: 'flag' });

    const client = await connectController({ env: {}, stateDir: h.stateDir });
    expect(client).toBeDefined();
    expect((await client?.request<{ kind: string }>('GET', '/api/v1/sessions'))?.kind).toBe('SessionList');
    await client?.close();

    // Named explicitly but not answering: an error, not a silent fallback.
    await expect(connectController({ server: 'http://127.0.0.1:1', env: {}, stateDir: h.stateDir }).then((c) => c?.request('GET', '/healthz'))).rejects.toMatchObject({ code: 'CF_ERR_API_UNREACHABLE' });

    // A record left by a dead process: no controller.
    const rec = join(h.stateDir, CONTROL_PLANE_RECORD);
    const saved = readFileSync(rec, 'utf8');
    writeFileSync(rec, JSON.stringify({ ...JSON.parse(saved), pid: 2 ** 22 + 12345 }));
    expect(await findController({ env: {}, stateDir: h.stateDir })).toBeUndefined();
    // A record of a live pid whose listener is gone: connectController falls back (undefined).
    writeFileSync(rec, JSON.stringify({ ...JSON.parse(saved), url: 'http://127.0.0.1:1' }));
    expect(await connectController({ env: {}, stateDir: h.stateDir })).toBeUndefined();
  });
});

/** Reads SSE frames from a real HTTP response until `until` says stop. */
async function readStream(url: string, headers: Record<string, string>, until: (frames: { event: string; data: unknown }[]) => boolean, timeoutMs = 10_000): Promise<{ event: string; data: unknown }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const frames: { event: string; data: unknown }[] = [];
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let buf = '';
    while (!until(frames)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) frames.push({ event, data: JSON.parse(data) });
      }
    }
    ac.abort();
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  return frames;
}

describe('GET /api/v1/stream', () => {
  it('sends a snapshot, then status changes by key and new events, over real HTTP', async () => {
    const h = await withHarness();
    const cp = await startControlPlane({ app: h.app, listen: parseListen('127.0.0.1:0'), token: TOKEN, tokenFile: join(h.stateDir, 'api-token'), stateDir: h.stateDir, log: silent });
    cleanups.push(() => cp.stop());
    let connected!: () => void;
    const snapshotSeen = new Promise<void>((r) => (connected = r));
    const reading = readStream(`${cp.url}/api/v1/stream`, AUTH, (f) => {
      if (f.length > 0) connected();
      return f.some((x) => x.event === 'status') && f.some((x) => x.event === 'event');
    });
    await snapshotSeen;
    h.wired.manager.store.update((d) => {
      d.status['Account/*'] = { observedGeneration: 'pool', conditions: [], activeAccount: 'b' };
    });
    await h.wired.manager.event({ key: 'Account/*', type: 'Warning', reason: 'FailoverStarted', message: 'moving the pool from a to b' });
    const frames = await reading;
    expect(frames[0]?.event).toBe('snapshot');
    expect(frames[0]?.data).toMatchObject({ accounts: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }], pool: { activeAccount: 'a', source: 'preferred' } });
    const status = frames.find((f) => f.event === 'status')?.data as { changes: { key: string }[]; pool: { activeAccount: string; source: string } };
    expect(status.changes.map((c) => c.key)).toEqual(['Account/*']);
    expect(status.pool).toMatchObject({ activeAccount: 'b', source: 'decided' });
    expect(frames.find((f) => f.event === 'event')?.data).toMatchObject({ reason: 'FailoverStarted', key: 'Account/*' });
  });

  it('refuses the stream without the token', async () => {
    const h = await withHarness();
    const res = await h.app.inject({ url: '/api/v1/stream' });
    expect(res.statusCode).toBe(401);
  });
});
