import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, MockAgent } from 'undici';
import { TELEGRAM_MAX_TEXT, describeTelegramEndpoint, sendTelegram, truncateTelegramText } from '../../src/adapters/notify/telegram.js';
import type { SendResult } from '../../src/adapters/notify/send-result.js';
import { startFakeTelegramServer, type FakeTelegramServer } from '../../src/demo/fake-telegram-server.js';

const TOKEN = '123456789:AAH-test-SECRET-token_abc';
const OTHER = '987654321:AAH-other-SECRET-token';
const CHAT = -100123;

let tg: FakeTelegramServer;
let agent: Agent;

beforeAll(async () => {
  tg = await startFakeTelegramServer({ tokens: [TOKEN], chats: [CHAT, 'ops'] });
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await tg.close();
});
afterEach(() => {
  tg.clearFailures();
  tg.clearMessages();
});

const noSecret = (r: SendResult): void => {
  const text = JSON.stringify(r);
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(OTHER);
  expect(text).not.toContain('SECRET');
};

const opts = (extra: Partial<Parameters<typeof sendTelegram>[0]> = {}) => ({ apiBase: tg.url, botToken: TOKEN, dispatcher: agent, ...extra });

describe('sendTelegram against the fake Bot API on loopback', () => {
  it('POSTs sendMessage with chat_id, text and disable_web_page_preview; no parse_mode by default', async () => {
    const r = await sendTelegram(opts(), { chatId: CHAT, text: 'hello' });
    expect(r).toEqual({ ok: true, status: 200 });
    expect(tg.messages).toHaveLength(1);
    expect(tg.messages[0]).toMatchObject({ token: TOKEN, chatId: CHAT, text: 'hello', parseMode: undefined, disableWebPagePreview: true });
  });

  it('passes parse_mode and a string chat id; ignores a trailing / in apiBase', async () => {
    const r = await sendTelegram(opts({ apiBase: `${tg.url}/` }), { chatId: 'ops', text: '<b>x</b>', parseMode: 'HTML', disableWebPagePreview: false });
    expect(r.ok).toBe(true);
    expect(tg.messages[0]).toMatchObject({ chatId: 'ops', parseMode: 'HTML', disableWebPagePreview: false });
  });

  it('truncates a text over 4096 characters so Telegram accepts it', async () => {
    const r = await sendTelegram(opts(), { chatId: CHAT, text: 'y'.repeat(5000) });
    expect(r.ok).toBe(true);
    expect(tg.messages[0]?.text).toHaveLength(TELEGRAM_MAX_TEXT);
    expect(tg.messages[0]?.text.endsWith('…')).toBe(true);
  });

  it('429 with parameters.retry_after → retryable, retryAfterMs from the body', async () => {
    tg.failNext({ status: 429, retryAfter: 7 });
    const r = await sendTelegram(opts(), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 7000 });
    noSecret(r);
    expect(tg.messages).toHaveLength(0);
  });

  it('500 → retryable without a delay hint', async () => {
    tg.failNext({ status: 500 });
    const r = await sendTelegram(opts(), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: true, status: 500 });
    expect(r.ok === false && r.retryAfterMs).toBeUndefined();
  });

  it('unknown token → 401, not retryable, a hint, and the token nowhere', async () => {
    const r = await sendTelegram(opts({ botToken: OTHER }), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: false, status: 401 });
    expect(r.ok === false && r.message).toContain('bot token');
    expect(r.ok === false && r.message).toContain('/bot<redacted>/sendMessage');
    noSecret(r);
  });

  it('chat not found → 400 with the description, not retryable', async () => {
    const r = await sendTelegram(opts(), { chatId: 555, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect(r.ok === false && r.message).toContain('chat not found');
  });

  it('a token that would change the URL is refused before any request', async () => {
    const before = tg.requests.length;
    const r = await sendTelegram(opts({ botToken: '123:abc/../../x?y' }), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: false });
    expect(JSON.stringify(r)).not.toContain('abc/../');
    expect(tg.requests.length).toBe(before);
  });

  it('connection refused → retryable network failure, token scrubbed', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await sendTelegram(opts({ apiBase: `http://127.0.0.1:${port}` }), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.message).toContain('ECONNREFUSED');
    noSecret(r);
  });

  it('a server that never answers → retryable timeout after timeoutMs', async () => {
    tg.hangNext(1);
    const started = Date.now();
    const r = await sendTelegram(opts({ timeoutMs: 200 }), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.message).toContain('timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(5000);
    noSecret(r);
  });

  it('an already aborted signal → not sent', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await sendTelegram(opts({ signal: ac.signal }), { chatId: CHAT, text: 'x' });
    expect(r).toMatchObject({ ok: false, retryable: false });
    expect(tg.messages).toHaveLength(0);
  });
});

describe('sendTelegram with an injected MockAgent', () => {
  let mock: MockAgent;
  beforeAll(() => {
    mock = new MockAgent();
    mock.disableNetConnect();
  });
  afterAll(async () => {
    await mock.close();
  });

  it('uses the injected dispatcher (no network) and the exact path', async () => {
    let seen: { path: string; body: unknown } | undefined;
    mock
      .get('https://api.telegram.org')
      .intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' })
      .reply(200, (opts) => {
        seen = { path: opts.path, body: JSON.parse(String(opts.body)) };
        return { ok: true, result: { message_id: 1 } };
      });
    const r = await sendTelegram({ apiBase: 'https://api.telegram.org', botToken: TOKEN, dispatcher: mock }, { chatId: 42, text: 't' });
    expect(r).toEqual({ ok: true, status: 200 });
    expect(seen?.body).toEqual({ chat_id: 42, text: 't', disable_web_page_preview: true });
  });

  it('429 with only a Retry-After header → retryAfterMs from the header', async () => {
    mock.get('https://api.telegram.org').intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' }).reply(429, 'slow down', { headers: { 'retry-after': '3' } });
    const r = await sendTelegram({ apiBase: 'https://api.telegram.org', botToken: TOKEN, dispatcher: mock }, { chatId: 42, text: 't' });
    expect(r).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 3000 });
  });

  it('an error whose text quotes the URL is scrubbed of the token', async () => {
    mock
      .get('https://api.telegram.org')
      .intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' })
      .replyWithError(new Error(`socket hang up for https://api.telegram.org/bot${TOKEN}/sendMessage`));
    const r = await sendTelegram({ apiBase: 'https://api.telegram.org', botToken: TOKEN, dispatcher: mock }, { chatId: 42, text: 't' });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.message).toContain('[redacted]');
    noSecret(r);
  });

  it('200 with ok=false → failed, not retryable', async () => {
    mock.get('https://api.telegram.org').intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' }).reply(200, { ok: false, description: 'odd' });
    const r = await sendTelegram({ apiBase: 'https://api.telegram.org', botToken: TOKEN, dispatcher: mock }, { chatId: 42, text: 't' });
    expect(r).toMatchObject({ ok: false, retryable: false, status: 200 });
  });

  it('400 with migrate_to_chat_id → a hint naming the new chat id', async () => {
    mock
      .get('https://api.telegram.org')
      .intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' })
      .reply(400, { ok: false, error_code: 400, description: 'Bad Request: group chat was upgraded to a supergroup chat', parameters: { migrate_to_chat_id: -1009876 } });
    const r = await sendTelegram({ apiBase: 'https://api.telegram.org', botToken: TOKEN, dispatcher: mock }, { chatId: 42, text: 't' });
    expect(r).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect(r.ok === false && r.message).toContain('-1009876');
  });
});

describe('pure helpers', () => {
  it.each([
    ['abc', 5, 'abc'],
    ['abcde', 5, 'abcde'],
    ['abcdef', 5, 'abcd…'],
  ])('truncateTelegramText(%j, %d) → %j', (text, max, want) => {
    expect(truncateTelegramText(text, max)).toBe(want);
  });
  it.each([
    ['https://api.telegram.org', 'https://api.telegram.org/bot<redacted>/sendMessage'],
    ['http://127.0.0.1:8081/', 'http://127.0.0.1:8081/bot<redacted>/sendMessage'],
  ])('describeTelegramEndpoint(%s)', (base, want) => {
    expect(describeTelegramEndpoint(base)).toBe(want);
  });
});
