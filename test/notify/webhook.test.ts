import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, MockAgent } from 'undici';
import { describeWebhookUrl, sendWebhook, signBody, verifySignature, webhookBody } from '../../src/adapters/notify/webhook.js';
import type { SendResult } from '../../src/adapters/notify/send-result.js';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { ev } from './helpers.js';

const SECRET = 'whsec-SECRET-0123456789';
const AUTH = 'Bearer hdr-SECRET-value';

let hook: FakeWebhookServer;
let agent: Agent;

beforeAll(async () => {
  hook = await startFakeWebhookServer({ secret: SECRET });
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await hook.close();
});
afterEach(() => {
  hook.clearFailures();
  hook.clearRequests();
});

const noSecret = (r: SendResult): void => {
  const text = JSON.stringify(r);
  expect(text).not.toContain('SECRET');
};

const event = ev('FailoverCompleted', 'Account/*', 'moved pool from alpha to beta (5h 93% >= 90%)', { type: 'Normal', data: { from: 'alpha', to: 'beta' } });

describe('sendWebhook against the fake receiver on loopback', () => {
  it('POSTs the documented body, signed; the receiver verifies it; extra headers pass, reserved ones do not', async () => {
    const body = webhookBody(event, 'the text');
    const r = await sendWebhook(
      { url: `${hook.url}/hooks/cf?x=1`, secret: SECRET, deliveryId: 'd-1', dispatcher: agent, headers: { Authorization: AUTH, 'Content-Type': 'text/plain', 'X-Signature-256': 'sha256=forged' } },
      body,
    );
    expect(r).toEqual({ ok: true, status: 204 });
    const [req] = hook.deliveries();
    expect(req?.path).toBe('/hooks/cf');
    expect(req?.signatureValid).toBe(true);
    expect(req?.json).toEqual({
      event: 'FailoverCompleted',
      key: 'Account/*',
      type: 'Normal',
      reason: 'FailoverCompleted',
      message: 'moved pool from alpha to beta (5h 93% >= 90%)',
      time: '2026-03-10T12:00:00.000Z',
      data: { from: 'alpha', to: 'beta' },
      text: 'the text',
    });
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe(AUTH);
    expect(req?.headers['x-cf-event']).toBe('FailoverCompleted');
    expect(req?.headers['x-cf-delivery']).toBe('d-1');
    // Independent check of the signature: HMAC-SHA256 of the exact bytes received.
    const want = `sha256=${createHmac('sha256', SECRET).update(req?.body ?? '').digest('hex')}`;
    expect(req?.headers['x-signature-256']).toBe(want);
  });

  it('a string body is sent byte for byte (retries carry the same signature)', async () => {
    const raw = '{"event":"TaskFailed","key":"Project/p","b":"ü"}';
    await sendWebhook({ url: hook.url, secret: SECRET, dispatcher: agent }, raw);
    await sendWebhook({ url: hook.url, secret: SECRET, dispatcher: agent }, raw);
    const [a, b] = hook.deliveries();
    expect(a?.body).toBe(raw);
    expect(a?.headers['x-signature-256']).toBe(b?.headers['x-signature-256']);
    expect(a?.headers['x-cf-event']).toBe('TaskFailed');
  });

  it('no secret → no signature header (a receiver with a secret refuses it: 401, not retryable)', async () => {
    const r = await sendWebhook({ url: hook.url, dispatcher: agent }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: false, status: 401 });
    expect(hook.requests[0]?.headers['x-signature-256']).toBeUndefined();
    expect(hook.requests[0]?.signatureValid).toBe(false);
  });

  it('a wrong secret fails verification', async () => {
    const r = await sendWebhook({ url: hook.url, secret: 'another-secret', dispatcher: agent }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, status: 401 });
    expect(hook.requests[0]?.signatureValid).toBe(false);
    noSecret(r);
  });

  it.each([
    [503, '2', true, 2000],
    [429, '1', true, 1000],
    [500, undefined, true, undefined],
    [408, undefined, true, undefined],
    [404, undefined, false, undefined],
    [400, undefined, false, undefined],
  ] as const)('%d (Retry-After %s) → retryable %s, retryAfterMs %s', async (status, retryAfter, retryable, ms) => {
    hook.failNext({ status, ...(retryAfter !== undefined ? { retryAfter } : {}) });
    const r = await sendWebhook({ url: hook.url, secret: SECRET, dispatcher: agent }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable, status });
    expect(r.ok === false ? r.retryAfterMs : 'ok').toBe(ms);
  });

  it('a server that never answers → retryable timeout', async () => {
    hook.hangNext(1);
    const r = await sendWebhook({ url: hook.url, secret: SECRET, dispatcher: agent, timeoutMs: 200 }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.message).toContain('timed out');
  });

  it('connection refused: the message names the origin only (the path may be a secret)', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await sendWebhook({ url: `http://127.0.0.1:${port}/services/T0/B0/SECRETPATH`, secret: SECRET, headers: { authorization: AUTH }, dispatcher: agent }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.message).toContain(`http://127.0.0.1:${port}/…`);
    expect(JSON.stringify(r)).not.toContain('SECRETPATH');
    noSecret(r);
  });

  it('a header value with a line break → not retryable, value not echoed', async () => {
    const r = await sendWebhook({ url: hook.url, dispatcher: agent, headers: { 'x-api-key': 'k-SECRET\r\nX-Evil: 1' } }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: false });
    expect(hook.requests).toHaveLength(0);
    noSecret(r);
  });

  it('an invalid URL → not retryable', async () => {
    const r = await sendWebhook({ url: 'not a url', dispatcher: agent }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: false });
  });
});

describe('sendWebhook with an injected MockAgent', () => {
  it('uses the injected dispatcher; redirects are reported, not followed', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get('https://hooks.example.com').intercept({ path: '/x', method: 'POST' }).reply(301, '', { headers: { location: 'https://elsewhere.example.com/' } });
    const r = await sendWebhook({ url: 'https://hooks.example.com/x', dispatcher: mock }, webhookBody(event, 't'));
    expect(r).toMatchObject({ ok: false, retryable: false, status: 301 });
    expect(r.ok === false && r.message).toContain('redirects are not followed');
    await mock.close();
  });
});

describe('signBody / verifySignature', () => {
  const body = '{"event":"GuardDenied"}';
  const good = `sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`;
  it('signBody is HMAC-SHA256 hex with the sha256= prefix', () => {
    expect(signBody(body, 'k')).toBe(good);
    expect(signBody(Buffer.from(body), 'k')).toBe(good);
  });
  it.each([
    [body, good, true],
    [body, ` ${good} `, true],
    [body, [good], true],
    [`${body} `, good, false],
    [body, good.replace('sha256=', 'sha1='), false],
    [body, good.slice(0, -1), false],
    [body, `sha256=${'0'.repeat(64)}`, false],
    [body, undefined, false],
  ] as const)('verify(%j, %j) → %s', (b, header, want) => {
    expect(verifySignature(b, 'k', header)).toBe(want);
  });
  it('a different key does not verify', () => {
    expect(verifySignature(body, 'other', good)).toBe(false);
  });
});

describe('describeWebhookUrl', () => {
  it.each([
    ['https://hooks.slack.com/services/T/B/XYZ', 'https://hooks.slack.com/…'],
    ['http://127.0.0.1:9000/a?token=abc', 'http://127.0.0.1:9000/…'],
    ['nope', '<invalid webhook url>'],
  ])('%s → %s', (url, want) => {
    expect(describeWebhookUrl(url)).toBe(want);
  });
});
