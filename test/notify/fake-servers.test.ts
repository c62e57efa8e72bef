/** The demo/test stand-ins themselves: they must speak the protocols and refuse what the real services refuse. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { startFakeTelegramServer, type FakeTelegramServer } from '../../src/demo/fake-telegram-server.js';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';

const TOKEN = '777:fake-token';
const REPO = resolve(import.meta.dirname, '..', '..');
let agent: Agent;

beforeAll(() => {
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
});

async function call(url: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  const res = await request(url, {
    method,
    dispatcher: agent,
    headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

describe('fake Telegram Bot API', () => {
  let tg: FakeTelegramServer;
  beforeAll(async () => {
    tg = await startFakeTelegramServer({ tokens: [TOKEN], chats: [1] });
  });
  afterAll(async () => {
    await tg.close();
  });

  it('getMe and sendMessage with the right token; 401 with another', async () => {
    expect((await call(`${tg.url}/bot${TOKEN}/getMe`, 'GET')).json).toMatchObject({ ok: true, result: { is_bot: true, id: 777 } });
    expect(await call(`${tg.url}/botnope:x/getMe`, 'GET')).toMatchObject({ status: 401, json: { ok: false, error_code: 401, description: 'Unauthorized' } });
    const ok = await call(`${tg.url}/bot${TOKEN}/sendMessage`, 'POST', { chat_id: 1, text: 'hi' });
    expect(ok).toMatchObject({ status: 200, json: { ok: true, result: { message_id: 1, chat: { id: 1 }, text: 'hi' } } });
    expect(await call(`${tg.url}/botnope:x/sendMessage`, 'POST', { chat_id: 1, text: 'hi' })).toMatchObject({ status: 401 });
    expect(tg.messages.map((m) => m.text)).toEqual(['hi']);
    expect(tg.requests.every((r) => !r.path.includes(TOKEN))).toBe(true);
  });

  it.each([
    [{ chat_id: 2, text: 'x' }, 'Bad Request: chat not found'],
    [{ chat_id: 1, text: ' ' }, 'Bad Request: message text is empty'],
    [{ chat_id: 1, text: 'x'.repeat(4097) }, 'Bad Request: message is too long'],
    [{ text: 'x' }, 'Bad Request: chat_id is empty'],
    [{ chat_id: 1, text: 'x', parse_mode: 'RTF' }, 'Bad Request: unsupported parse_mode'],
    ['{not json', 'Bad Request: invalid JSON body'],
  ])('%j → 400 %s', async (body, description) => {
    expect(await call(`${tg.url}/bot${TOKEN}/sendMessage`, 'POST', body)).toMatchObject({ status: 400, json: { ok: false, error_code: 400, description } });
  });

  it('scripted 429 (retry_after in the body, optionally the header), then recovers; control over HTTP', async () => {
    expect((await call(`${tg.url}/__fake/fail`, 'POST', { status: 429, retryAfter: 5, times: 2, retryAfterHeader: true })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const r = await call(`${tg.url}/bot${TOKEN}/sendMessage`, 'POST', { chat_id: 1, text: 'x' });
      expect(r).toMatchObject({ status: 429, json: { ok: false, error_code: 429, parameters: { retry_after: 5 } }, headers: { 'retry-after': '5' } });
    }
    expect((await call(`${tg.url}/bot${TOKEN}/sendMessage`, 'POST', { chat_id: 1, text: 'after' })).status).toBe(200);
    const listed = await call(`${tg.url}/__fake/messages`, 'GET');
    expect((listed.json as { text: string }[]).map((m) => m.text)).toContain('after');
    expect((await call(`${tg.url}/__fake/messages`, 'DELETE')).status).toBe(200);
    expect(tg.messages).toHaveLength(0);
  });

  it('waitForMessages rejects with what it got when too few arrive', async () => {
    tg.reset();
    await expect(tg.waitForMessages(1, 50)).rejects.toThrow(/0 message\(s\) after 50 ms/);
  });
});

describe('fake webhook receiver', () => {
  let hook: FakeWebhookServer;
  let lax: FakeWebhookServer;
  const secret = 'k3y';
  beforeAll(async () => {
    hook = await startFakeWebhookServer({ secret });
    lax = await startFakeWebhookServer({ secret, rejectBadSignatures: false });
  });
  afterAll(async () => {
    await hook.close();
    await lax.close();
  });

  const sig = (body: string, key = secret) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;

  it.each([
    ['right signature', (b: string) => sig(b), 204, true],
    ['wrong key', (b: string) => sig(b, 'other'), 401, false],
    ['sha1-style prefix', (b: string) => sig(b).replace('sha256=', 'sha1='), 401, false],
    ['missing', () => undefined, 401, false],
  ] as const)('%s → %d', async (_name, header, status, valid) => {
    hook.reset();
    const body = '{"event":"TaskFailed"}';
    const h = header(body);
    const r = await call(`${hook.url}/in`, 'POST', body, h ? { 'x-signature-256': h } : {});
    expect(r.status).toBe(status);
    expect(hook.requests[0]).toMatchObject({ path: '/in', body, json: { event: 'TaskFailed' }, signatureValid: valid, status });
    expect(hook.deliveries()).toHaveLength(status === 204 ? 1 : 0);
  });

  it('rejectBadSignatures: false records the bad signature but accepts', async () => {
    const r = await call(`${lax.url}/in`, 'POST', '{}', { 'x-signature-256': 'sha256=00' });
    expect(r.status).toBe(204);
    expect(lax.requests[0]?.signatureValid).toBe(false);
  });

  it('scripted failures with Retry-After; GET is 405; control over HTTP', async () => {
    hook.reset();
    await call(`${hook.url}/__fake/fail`, 'POST', { status: 503, retryAfter: '9', times: 1 });
    const r = await call(`${hook.url}/in`, 'POST', '{}', { 'x-signature-256': sig('{}') });
    expect(r).toMatchObject({ status: 503, headers: { 'retry-after': '9' } });
    expect((await call(`${hook.url}/in`, 'POST', '{}', { 'x-signature-256': sig('{}') })).status).toBe(204);
    expect((await call(`${hook.url}/in`, 'GET')).status).toBe(405);
    const listed = await call(`${hook.url}/__fake/requests`, 'GET');
    expect((listed.json as { status: number }[]).map((x) => x.status)).toEqual([503, 204]);
  });
});

describe('standalone processes (the demo runs them like this)', () => {
  const dist = join(REPO, 'dist/demo/fake-telegram-server.js');
  it.skipIf(!existsSync(dist))('fake-telegram-server prints its URL, then each message as a JSON line; stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [dist, '--token', TOKEN, '--chat', '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const first = JSON.parse(((await lines.next()).value as string) ?? '{}') as { url: string; pid: number };
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.pid).toBe(child.pid);
      expect((await call(`${first.url}/bot${TOKEN}/sendMessage`, 'POST', { chat_id: 5, text: 'from the test' })).status).toBe(200);
      const second = JSON.parse((await lines.next()).value as string) as { message: { chatId: number; text: string } };
      expect(second.message).toMatchObject({ chatId: 5, text: 'from the test' });
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
