import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startFakeUsageServer, usageBody, type FakeUsageServer } from '../support/fake-usage-server.js';

const BETA = { 'anthropic-beta': 'oauth-2025-04-20' };

describe('fake usage server (in-process control)', () => {
  let server: FakeUsageServer;
  beforeAll(async () => {
    server = await startFakeUsageServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on loopback and answers 400 without the beta header', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    server.setWindows('t1', { fiveHour: 1 });
    const res = await request(server.endpoint, { headers: { authorization: 'Bearer t1' } });
    expect(res.statusCode).toBe(400);
    await res.body.dump();
    expect(server.requests.at(-1)).toMatchObject({ token: 't1', status: 400, beta: undefined });
  });

  it('HTTP control routes set usage, failures and report counts', async () => {
    const ctl = async (method: 'PUT' | 'POST' | 'DELETE' | 'GET', path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const init: Parameters<typeof request>[1] = { method };
      if (body !== undefined) init.body = JSON.stringify(body);
      const res = await request(`${server.url}${path}`, init);
      return { status: res.statusCode, json: await res.body.json() };
    };
    const usage = async (token: string): Promise<{ status: number; json: unknown; retryAfter: unknown }> => {
      const res = await request(server.endpoint, { headers: { authorization: `Bearer ${token}`, ...BETA } });
      return { status: res.statusCode, json: await res.body.json(), retryAfter: res.headers['retry-after'] };
    };
    expect((await ctl('PUT', '/__fake/windows/tok-a', { fiveHour: 91, sevenDay: 12 })).status).toBe(200);
    const ok = await usage('tok-a');
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ five_hour: { utilization: 91 }, seven_day: { utilization: 12 } });
    expect((await ctl('PUT', '/__fake/usage/tok-b', { five_hour: null })).status).toBe(200);
    expect((await usage('tok-b')).json).toEqual({ five_hour: null });
    expect((await ctl('POST', '/__fake/fail/tok-a', { status: 429, retryAfter: 30 })).status).toBe(200);
    const limited = await usage('tok-a');
    expect([limited.status, limited.retryAfter]).toEqual([429, '30']);
    expect((await ctl('DELETE', '/__fake/fail/tok-a')).status).toBe(200);
    expect((await usage('tok-a')).status).toBe(200);
    expect((await ctl('GET', '/__fake/requests')).json).toMatchObject({ 'tok-a': 3, 'tok-b': 1 });
    expect((await ctl('POST', '/__fake/fail/tok-a', { nope: 1 })).status).toBe(400);
  });

  it('usageBody can add the limits[] array', () => {
    const b = usageBody({ fiveHour: 50, sevenDay: 60, opus: 70, withLimits: true }, Date.parse('2026-03-10T12:00:00Z'));
    expect(b.limits).toEqual([
      { kind: 'session', percent: 50, resets_at: '2026-03-10T17:00:00.000Z', is_active: true },
      { kind: 'weekly_all', percent: 60, resets_at: '2026-03-17T12:00:00.000Z', is_active: true },
      { kind: 'weekly_scoped', percent: 70, resets_at: '2026-03-17T12:00:00.000Z', scope: 'opus', is_active: true },
    ]);
  });
});

describe('fake usage server as a standalone process', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-fake-usage-'));
    await writeFile(join(dir, 'seed.json'), JSON.stringify({ 'tok-seed': { fiveHour: 33, sevenDay: 44 }, 'tok-raw': { five_hour: { utilization: 5 } } }));
  });
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its endpoint, serves seeded usage, stops cleanly on SIGTERM', async () => {
    const proc = spawn(process.execPath, [fileURLToPath(new URL('../../dist/demo/fake-usage-server.js', import.meta.url)), '--port', '0', '--seed', join(dir, 'seed.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    const [line] = (await once(rl, 'line')) as [string];
    const info = JSON.parse(line) as { url: string; endpoint: string; pid: number };
    expect(info.pid).toBe(proc.pid);
    const res = await request(info.endpoint, { headers: { authorization: 'Bearer tok-seed', ...BETA } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ five_hour: { utilization: 33 }, seven_day: { utilization: 44 } });
    const raw = await request(info.endpoint, { headers: { authorization: 'Bearer tok-raw', ...BETA } });
    expect(await raw.body.json()).toEqual({ five_hour: { utilization: 5 } });
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    await expect(request(info.endpoint, { headers: { authorization: 'Bearer tok-seed', ...BETA } })).rejects.toThrow();
  });
});
