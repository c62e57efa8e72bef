/**
 * NotificationDispatcher end to end over real HTTP on loopback: the fake Telegram Bot API and the
 * fake webhook receiver (src/demo/) stand in for the real services.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, MockAgent } from 'undici';
import { NotificationDispatcher, checkNotifierSecrets, formatEvent, type NotificationDispatcherOptions, type NotifyEvent } from '../../src/adapters/notify/dispatcher.js';
import { NOTIFIER_EVENTS } from '../../src/api/schemas.js';
import { startFakeTelegramServer, type FakeTelegramServer } from '../../src/demo/fake-telegram-server.js';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { captureLog, ev, notifier, settle, testTimers, until } from './helpers.js';

const TOKEN = '5550001:AAF-tg-SECRET-token-xyz';
const TOKEN2 = '5550002:AAF-tg-SECRET-rotated';
const WH_SECRET = 'wh-SECRET-key-9f8e7d';
const HDR = 'Bearer hdr-SECRET-1234';
const CHAT = 4242;
const ENV = { CF_TG_TOKEN: TOKEN, CF_WH_SECRET: WH_SECRET };

let tg: FakeTelegramServer;
let hook: FakeWebhookServer;
let agent: Agent;
const open: NotificationDispatcher[] = [];

beforeAll(async () => {
  tg = await startFakeTelegramServer({ tokens: [TOKEN, TOKEN2], chats: [CHAT] });
  hook = await startFakeWebhookServer({ secret: WH_SECRET });
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await tg.close();
  await hook.close();
});
beforeEach(() => {
  tg.reset();
  hook.reset();
});
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

const telegram = (name = 'tg', extra: Record<string, unknown> = {}) =>
  notifier(name, { type: 'telegram', telegram: { botToken: { env: 'CF_TG_TOKEN' }, chatId: CHAT, apiBase: tg.url }, ...extra });
const webhook = (name = 'wh', extra: Record<string, unknown> = {}) =>
  notifier(name, { type: 'webhook', webhook: { url: `${hook.url}/hooks/cf`, secret: { env: 'CF_WH_SECRET' }, headers: { Authorization: HDR } }, ...extra });

function make(opts: Partial<NotificationDispatcherOptions> & Pick<NotificationDispatcherOptions, 'notifiers'>): NotificationDispatcher {
  const d = new NotificationDispatcher({ env: ENV, dispatcher: agent, backoffBaseMs: 10, backoffMaxMs: 40, requestTimeoutMs: 2000, ...opts });
  open.push(d);
  return d;
}

/** One event of every kind, plus events that must never be sent. */
const everyEvent: NotifyEvent[] = [
  ev('FailoverStarted', 'Account/*', 'moving pool from alpha to beta (5h 93% >= 90%)'),
  ev('FailoverCompleted', 'Account/*', 'moved pool from alpha to beta (5h 93% >= 90%)', { type: 'Normal', data: { from: 'alpha', to: 'beta', sessions: 3 } }),
  ev('AllAccountsExhausted', 'Account/*', 'every account is above its threshold; next reset 14:00'),
  ev('CredentialsExpired', 'Account/beta', 'usage API rejected the token (401)'),
  ev('SessionCrashLoop', 'Session/ccl-2', 'restarted 5 times in 10m'),
  ev('TaskFailed', 'Project/web', 'task fix-login failed after 3 attempts'),
  ev('DelegationBudgetReached', 'DelegationPolicy/default', 'monthly budget of 50 USD reached'),
  ev('GuardDenied', 'Session/ccl-3', 'blocked `rm -rf /` (rule rm-root)'),
  ev('ManifestsInvalid', 'Manifests/*', '2 problem(s) in the manifests at start-up; running on the last applied set'),
  ev('ManifestsRejected', 'Manifests/*', '1 problem(s); keeping revision abc123'),
  ev('DeletionHeld', 'Manifests/*', 'not applied: the manifest set is empty (it had 5 objects)'),
  ev('SessionExited', 'Session/ccl-4', 'the agent exited (status 1) after 42s'),
  ev('SessionWaitingForInput', 'Session/ccl-5', 'waiting for a person: permission_prompt: Claude needs your permission to use Bash'),
  ev('TaskStuck', 'Project/web', 'task fix-login on ccl-2: no activity for 20m'),
  ev('QuotaUnknown', 'Account/beta', 'the usage endpoint failed 3 times in a row (last: 500) and no session reported usage since'),
  ev('QuotaRecovered', 'Account/beta', 'usage figures again: 5h 40% (usage-api, 0s ago), 7d 20% (usage-api, 0s ago)', { type: 'Normal' }),
  ev('NoEligibleAccount', 'Account/*', 'no account can take the pool; sessions are not launched until one can: alpha: suspended'),
  ev('SharedStateDiverged', 'Account/gamma', 'Account/gamma is not a failover target: /acc/gamma/todos is a real directory'),
  ev('UsageDataStale', 'Account/gamma', 'backup Account/gamma: no fresh usage data for 1h'),
];
const neverSent: NotifyEvent[] = [ev('SessionStarted', 'Session/ccl-1', 'started'), ev('ApplyFailed', 'Session/ccl-1', 'boom')];

describe('delivery of the right events, once each', () => {
  it('every notifier event reaches Telegram and the webhook exactly once, signed; others never', async () => {
    const d = make({ notifiers: [telegram(), webhook()] });
    for (const e of [...neverSent.slice(0, 1), ...everyEvent, ...neverSent.slice(1)]) d.notify(e);
    const msgs = await tg.waitForMessages(everyEvent.length);
    const hooks = await hook.waitForDeliveries(everyEvent.length);
    await expect(d.drain(5000)).resolves.toBe(true);

    expect(msgs.map((m) => m.text)).toEqual(everyEvent.map((e) => formatEvent(e)));
    expect(msgs.every((m) => m.chatId === CHAT && m.token === TOKEN && m.disableWebPagePreview === true && m.parseMode === undefined)).toBe(true);
    expect(tg.requests).toHaveLength(everyEvent.length);

    expect(hooks.map((h) => (h.json as { event: string }).event)).toEqual([...NOTIFIER_EVENTS]);
    expect(hook.requests).toHaveLength(everyEvent.length);
    for (const [i, h] of hooks.entries()) {
      const e = everyEvent[i] as NotifyEvent;
      expect(h.signatureValid).toBe(true);
      expect(h.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', WH_SECRET).update(h.body).digest('hex')}`);
      expect(h.headers.authorization).toBe(HDR);
      expect(h.headers['x-cf-event']).toBe(e.reason);
      expect(h.headers['x-cf-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(h.json).toEqual({ event: e.reason, key: e.key, type: e.type, reason: e.reason, message: e.message, time: e.time, data: e.data ?? {}, text: formatEvent(e) });
    }
    expect(new Set(hooks.map((h) => h.headers['x-cf-delivery'])).size).toBe(everyEvent.length);

    const s = d.stats();
    expect(s.tg).toMatchObject({ sent: everyEvent.length, failed: 0, dropped: 0, deduplicated: 0, retries: 0, queued: 0, inFlight: false });
    expect(s.wh).toMatchObject({ sent: everyEvent.length, failed: 0, dropped: 0, deduplicated: 0, retries: 0 });
  });

  it('notify() only enqueues: nothing is on the wire when it returns', async () => {
    const d = make({ notifiers: [telegram()] });
    const r: unknown = d.notify(everyEvent[0] as NotifyEvent);
    expect(r).toBeUndefined();
    expect(tg.requests).toHaveLength(0);
    expect(d.stats().tg?.inFlight).toBe(true);
    await tg.waitForMessages(1);
  });
});

describe('routing', () => {
  it('events: only the listed reasons', async () => {
    const d = make({ notifiers: [telegram('tg', { events: ['FailoverCompleted', 'TaskFailed'] })] });
    for (const e of everyEvent) d.notify(e);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(tg.messages.map((m) => m.text)).toEqual([formatEvent(everyEvent[1] as NotifyEvent), formatEvent(everyEvent[5] as NotifyEvent)]);
  });

  it('for: only the listed objects (a pool-wide Kind/* key matches a listed object of that kind)', async () => {
    const d = make({ notifiers: [webhook('wh', { for: ['Session/ccl-3', 'Account/beta'] })] });
    for (const e of everyEvent) d.notify(e);
    d.notify(ev('GuardDenied', 'Session/ccl-4', 'blocked something'));
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(hook.deliveries().map((h) => `${(h.json as NotifyEvent).reason} ${(h.json as NotifyEvent).key}`)).toEqual([
      'FailoverStarted Account/*',
      'FailoverCompleted Account/*',
      'AllAccountsExhausted Account/*',
      'CredentialsExpired Account/beta',
      'GuardDenied Session/ccl-3',
      'QuotaUnknown Account/beta',
      'QuotaRecovered Account/beta',
      'NoEligibleAccount Account/*',
    ]);
  });

  it('each notifier gets its own copy; one failing notifier does not affect another', async () => {
    const d = make({ notifiers: [telegram('tg', { events: ['TaskFailed'] }), webhook('wh', { events: ['TaskFailed'] }), telegram('broken', { telegram: { botToken: { env: 'NOPE' }, chatId: CHAT, apiBase: tg.url } })] });
    d.notify(everyEvent[5] as NotifyEvent);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(tg.messages).toHaveLength(1);
    expect(hook.deliveries()).toHaveLength(1);
    expect(d.stats().broken).toMatchObject({ sent: 0, failed: 1 });
    expect(d.stats().broken?.lastError).toContain('NOPE');
  });
});

describe('dedup and rate limits', () => {
  it('identical events within the window are sent once; a different message or the end of the window sends again', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [telegram()], timers, dedupWindowMs: 10 * 60_000 });
    const e = ev('SessionCrashLoop', 'Session/a', 'restarted 5 times in 10m');
    d.notify(e);
    d.notify({ ...e, time: new Date().toISOString() });
    timers.advance(9 * 60_000);
    d.notify(e);
    d.notify({ ...e, message: 'restarted 6 times in 10m' });
    d.notify({ ...e, key: 'Session/b' });
    await tg.waitForMessages(3);
    timers.advance(60_000);
    d.notify(e);
    await tg.waitForMessages(4);
    await settle(d);
    expect(tg.messages.map((m) => m.text)).toEqual([
      '[claude-failover] SessionCrashLoop Session/a: restarted 5 times in 10m',
      '[claude-failover] SessionCrashLoop Session/a: restarted 6 times in 10m',
      '[claude-failover] SessionCrashLoop Session/b: restarted 5 times in 10m',
      '[claude-failover] SessionCrashLoop Session/a: restarted 5 times in 10m',
    ]);
    expect(d.stats().tg).toMatchObject({ sent: 4, deduplicated: 2 });
  });

  it('dedup is per notifier: a second notifier gets its own copy', async () => {
    const d = make({ notifiers: [telegram(), webhook()] });
    const e = everyEvent[3] as NotifyEvent;
    d.notify(e);
    d.notify(e);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(tg.messages).toHaveLength(1);
    expect(hook.deliveries()).toHaveLength(1);
    expect(d.stats().tg?.deduplicated).toBe(1);
    expect(d.stats().wh?.deduplicated).toBe(1);
  });

  it('GuardDenied: at most one per key per interval; the next one says how many were suppressed', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [webhook()], timers, guardDeniedIntervalMs: 60_000 });
    d.notify(ev('GuardDenied', 'Session/a', 'blocked cmd 1'));
    timers.advance(10_000);
    d.notify(ev('GuardDenied', 'Session/a', 'blocked cmd 2'));
    d.notify(ev('GuardDenied', 'Session/a', 'blocked cmd 3'));
    d.notify(ev('GuardDenied', 'Session/b', 'blocked cmd 4'));
    d.notify(ev('TaskFailed', 'Session/a', 'not limited'));
    await hook.waitForDeliveries(3);
    timers.advance(50_000);
    d.notify(ev('GuardDenied', 'Session/a', 'blocked cmd 5'));
    const got = await hook.waitForDeliveries(4);
    await settle(d);
    const bodies = got.map((h) => h.json as NotifyEvent);
    expect(bodies.map((b) => b.message)).toEqual([
      'blocked cmd 1',
      'blocked cmd 4',
      'not limited',
      'blocked cmd 5 (2 more GuardDenied for Session/a suppressed before this one)',
    ]);
    expect(bodies[3]?.data).toEqual({ suppressed: 2 });
    expect(d.stats().wh).toMatchObject({ sent: 4, rateLimited: 2, deduplicated: 0 });
  });
});

describe('rate limits of alerts', () => {
  it('a burst of crashes of one session: one message, the next one after 10 minutes says how many were held back; other keys and reasons are not held', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [webhook()], timers });
    for (let i = 1; i <= 5; i++) {
      d.notify(ev('SessionExited', 'Session/a', `the agent exited (status 1) after ${i}s`));
      timers.advance(5_000);
    }
    d.notify(ev('SessionExited', 'Session/b', 'the agent exited (status 1) after 3s'));
    d.notify(ev('SessionCrashLoop', 'Session/a', '4 quick failures in 10m'));
    d.notify(ev('SessionWaitingForInput', 'Session/a', 'waiting for a person: permission_prompt'));
    await hook.waitForDeliveries(4);
    timers.advance(9 * 60_000);
    d.notify(ev('SessionExited', 'Session/a', 'the agent exited (status 1) after 60s'));
    timers.advance(60_000);
    d.notify(ev('SessionExited', 'Session/a', 'the agent exited (status 1) after 61s'));
    const got = await hook.waitForDeliveries(5);
    await settle(d);
    expect(got.map((h) => (h.json as NotifyEvent).message)).toEqual([
      'the agent exited (status 1) after 1s',
      'the agent exited (status 1) after 3s',
      '4 quick failures in 10m',
      'waiting for a person: permission_prompt',
      'the agent exited (status 1) after 61s (5 more SessionExited for Session/a suppressed before this one)',
    ]);
    expect((got[4]?.json as NotifyEvent).data).toEqual({ suppressed: 5 });
    expect(d.stats().wh).toMatchObject({ sent: 5, rateLimited: 5 });
  });

  it('waiting-for-input and stuck tasks: one per key per minute; the interval of each reason can be set', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [webhook()], timers, rateLimits: { TaskStuck: 5_000 } });
    d.notify(ev('SessionWaitingForInput', 'Session/a', 'asks 1'));
    d.notify(ev('SessionWaitingForInput', 'Session/a', 'asks 2'));
    d.notify(ev('TaskStuck', 'Project/p', 'task t1 stuck'));
    d.notify(ev('TaskStuck', 'Project/p', 'task t2 stuck'));
    await hook.waitForDeliveries(2);
    timers.advance(6_000);
    d.notify(ev('TaskStuck', 'Project/p', 'task t3 stuck'));
    d.notify(ev('SessionWaitingForInput', 'Session/a', 'asks 3'));
    await hook.waitForDeliveries(3);
    timers.advance(60_000);
    d.notify(ev('SessionWaitingForInput', 'Session/a', 'asks 4'));
    const got = await hook.waitForDeliveries(4);
    await settle(d);
    expect(got.map((h) => (h.json as NotifyEvent).message)).toEqual([
      'asks 1',
      'task t1 stuck',
      'task t3 stuck (1 more TaskStuck for Project/p suppressed before this one)',
      'asks 4 (2 more SessionWaitingForInput for Session/a suppressed before this one)',
    ]);
  });
});

describe('retries', () => {
  it('Telegram 429 with retry_after: waits exactly that long, then delivers once', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [telegram()], timers });
    tg.failNext({ status: 429, retryAfter: 7, times: 2 });
    d.notify(everyEvent[0] as NotifyEvent);
    await tg.waitForMessages(1);
    await settle(d);
    expect(tg.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(timers.delays.slice(0, 2)).toEqual([7000, 7000]);
    expect(tg.messages).toHaveLength(1);
    expect(d.stats().tg).toMatchObject({ sent: 1, failed: 0, retries: 2 });
  });

  it('webhook 500 twice: exponential backoff with jitter, then success', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [webhook()], timers, backoffBaseMs: 1000, backoffMaxMs: 60_000, random: () => 0.5 });
    hook.failNext({ status: 500, times: 2 });
    d.notify(everyEvent[1] as NotifyEvent);
    await hook.waitForDeliveries(1);
    await settle(d);
    expect(hook.requests.map((r) => r.status)).toEqual([500, 500, 204]);
    // attempt 1 → d = 1000, 2 → 2000; each drawn from [d/2, d] (random 0.5 → 3/4 d).
    expect(timers.delays.slice(0, 2)).toEqual([750, 1500]);
    // Every attempt carries the same body, signature and delivery id.
    const [a, b, c] = hook.requests;
    expect(new Set([a?.body, b?.body, c?.body]).size).toBe(1);
    expect(new Set([a, b, c].map((r) => r?.headers['x-cf-delivery'])).size).toBe(1);
    expect(c?.signatureValid).toBe(true);
    expect(d.stats().wh).toMatchObject({ sent: 1, retries: 2, failed: 0 });
  });

  it('webhook 503 with Retry-After is honoured', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [webhook()], timers });
    hook.failNext({ status: 503, retryAfter: '3' });
    d.notify(everyEvent[2] as NotifyEvent);
    await hook.waitForDeliveries(1);
    expect(timers.delays[0]).toBe(3000);
  });

  it('gives up after maxAttempts (counted as failed), then an identical event may try again', async () => {
    const { log, lines } = captureLog();
    const d = make({ notifiers: [webhook()], maxAttempts: 3, log });
    hook.failNext({ status: 502, times: 3 });
    const e = everyEvent[4] as NotifyEvent;
    d.notify(e);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(hook.requests.map((r) => r.status)).toEqual([502, 502, 502]);
    expect(d.stats().wh).toMatchObject({ sent: 0, failed: 1, retries: 2 });
    expect(d.stats().wh?.lastError).toContain('answered 502');
    const giveUp = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'notification failed: giving up');
    expect(giveUp).toHaveLength(1);
    expect(giveUp[0]).toMatchObject({ notifier: 'wh', reason: e.reason, key: e.key, attempt: 3, status: 502, level: 40 });

    d.notify(e);
    await hook.waitForDeliveries(1);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(d.stats().wh).toMatchObject({ sent: 1, failed: 1, deduplicated: 0 });
  });

  it('a 4xx is not retried', async () => {
    const d = make({ notifiers: [telegram('tg', { telegram: { botToken: { env: 'CF_TG_TOKEN' }, chatId: 999, apiBase: tg.url } })] });
    d.notify(everyEvent[0] as NotifyEvent);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(tg.requests.map((r) => r.status)).toEqual([400]);
    expect(d.stats().tg).toMatchObject({ failed: 1, retries: 0 });
  });

  it('a Retry-After beyond maxRetryAfterMs gives up instead of waiting', async () => {
    const timers = testTimers();
    const d = make({ notifiers: [telegram()], timers, maxRetryAfterMs: 60_000 });
    tg.failNext({ status: 429, retryAfter: 3600 });
    d.notify(everyEvent[0] as NotifyEvent);
    await settle(d);
    expect(d.stats().tg).toMatchObject({ failed: 1, sent: 0 });
    expect(timers.delays.filter((ms) => ms >= 60_000 && ms !== 5000)).toEqual([]);
  });
});

describe('never blocks', () => {
  it('a hung Telegram holds up only its own channel; notify() stays synchronous; the delivery times out and is retried', async () => {
    const d = make({ notifiers: [telegram(), webhook()], requestTimeoutMs: 2000 });
    tg.hangNext(1);
    d.notify(everyEvent[0] as NotifyEvent);
    await until(() => tg.requests.some((r) => r.status === 'hung'), 5000, 'the hung request');
    // While Telegram hangs, a burst of notify() calls returns at once and the webhook keeps delivering.
    const started = performance.now();
    for (let i = 0; i < 500; i++) d.notify(ev('TaskFailed', 'Project/web', `task ${i} failed`));
    const elapsed = performance.now() - started;
    expect(d.stats().tg?.inFlight).toBe(true);
    expect(d.stats().tg?.queued).toBe(100);
    expect(d.stats().tg?.dropped).toBe(400);
    await hook.waitForDeliveries(100, 15_000);
    expect(tg.messages).toHaveLength(0);
    // The hung request times out (2 s) and is retried: Telegram then gets the first event and the 100 kept.
    const msgs = await tg.waitForMessages(101, 15_000);
    expect(msgs[0]?.text).toBe(formatEvent(everyEvent[0] as NotifyEvent));
    expect(msgs[1]?.text).toContain('task 400 failed');
    expect(msgs[100]?.text).toContain('task 499 failed');
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(d.stats().tg).toMatchObject({ sent: 101, dropped: 400, retries: 1 });
    // Generous bound: 500 enqueues are a few ms; the point is they never wait for the network.
    expect(elapsed).toBeLessThan(1000);
  });

  it('drain() reports false while a channel is stuck, close() drops what waits and later notify() is ignored', async () => {
    const d = make({ notifiers: [telegram()], requestTimeoutMs: 30_000 });
    tg.hangNext(1);
    d.notify(everyEvent[0] as NotifyEvent);
    d.notify(everyEvent[1] as NotifyEvent);
    await expect(d.drain(100)).resolves.toBe(false);
    d.close();
    expect(d.stats().tg).toMatchObject({ dropped: 2, queued: 0, inFlight: false });
    d.notify(everyEvent[2] as NotifyEvent);
    await expect(d.drain(100)).resolves.toBe(true);
    expect(tg.messages).toHaveLength(0);
  });

  it('a logger that throws never reaches the caller', () => {
    const bad = { debug: () => { throw new Error('log down'); }, info: () => { throw new Error('log down'); }, warn: () => { throw new Error('log down'); }, error: () => { throw new Error('log down'); } };
    const d = make({ notifiers: [telegram()], log: bad as unknown as NotificationDispatcherOptions['log'] });
    const e = everyEvent[0] as NotifyEvent;
    expect(() => {
      d.notify(e);
      d.notify(e);
    }).not.toThrow();
  });

  it('a malformed event is ignored without throwing', () => {
    const d = make({ notifiers: [telegram()] });
    expect(() => d.notify(null as unknown as NotifyEvent)).not.toThrow();
    expect(() => d.notify({} as NotifyEvent)).not.toThrow();
    expect(d.stats().tg).toMatchObject({ sent: 0, queued: 0 });
  });
});

describe('manifest reload: update()', () => {
  it('adds, changes and removes notifiers; removal drops its waiting deliveries; counters survive', async () => {
    const d = make({ notifiers: [telegram()] });
    d.notify(everyEvent[0] as NotifyEvent);
    await tg.waitForMessages(1);
    await expect(d.drain(5000)).resolves.toBe(true);

    d.update([telegram('tg', { events: ['TaskFailed'] }), webhook()]);
    d.notify(everyEvent[1] as NotifyEvent);
    d.notify(everyEvent[5] as NotifyEvent);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(tg.messages.map((m) => m.text)).toEqual([formatEvent(everyEvent[0] as NotifyEvent), formatEvent(everyEvent[5] as NotifyEvent)]);
    expect(hook.deliveries()).toHaveLength(2);

    tg.hangNext(1);
    d.notify(ev('TaskFailed', 'Project/x', 'one'));
    d.notify(ev('TaskFailed', 'Project/x', 'two'));
    await until(() => tg.requests.some((r) => r.status === 'hung'), 5000, 'the hung request');
    d.update([webhook()]);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(d.stats().tg).toMatchObject({ sent: 2, dropped: 2 });
    expect(d.stats().wh?.sent).toBe(4);
  });
});

describe('secrets', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-notify-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checkNotifierSecrets: ok when the secrets resolve, else the reason naming the variable or file', async () => {
    await expect(checkNotifierSecrets(telegram().spec, ENV)).resolves.toEqual({ ok: true });
    await expect(checkNotifierSecrets(webhook().spec, ENV)).resolves.toEqual({ ok: true });
    await expect(checkNotifierSecrets(notifier('n', { type: 'webhook', webhook: { url: 'https://x.example/' } }).spec, {})).resolves.toEqual({ ok: true });
    const missingEnv = await checkNotifierSecrets(webhook().spec, { CF_TG_TOKEN: TOKEN });
    expect(missingEnv).toMatchObject({ ok: false, reason: 'SecretUnavailable' });
    expect(missingEnv.ok === false && missingEnv.message).toContain('CF_WH_SECRET');
    const file = join(dir, 'absent-token');
    const missingFile = await checkNotifierSecrets(notifier('n', { type: 'telegram', telegram: { botToken: { file }, chatId: 1 } }).spec, ENV);
    expect(missingFile.ok === false && missingFile.message).toContain(file);
    for (const v of [TOKEN, WH_SECRET]) expect(JSON.stringify([missingEnv, missingFile])).not.toContain(v);
  });

  it('a file secret is read per delivery: rotation needs no restart', async () => {
    const file = join(dir, 'tg-token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const d = make({ notifiers: [notifier('tg', { type: 'telegram', telegram: { botToken: { file }, chatId: CHAT, apiBase: tg.url } })], env: {} });
    d.notify(everyEvent[0] as NotifyEvent);
    await tg.waitForMessages(1);
    await writeFile(file, `${TOKEN2}\n`);
    d.notify(everyEvent[1] as NotifyEvent);
    const msgs = await tg.waitForMessages(2);
    expect(msgs.map((m) => m.token)).toEqual([TOKEN, TOKEN2]);
  });

  it('no token, secret or header value in any log line, stat or error — across successes, 429s, 401s, timeouts and refused connections', async () => {
    const { log, lines } = captureLog();
    const d = make({
      notifiers: [
        telegram(),
        webhook(),
        notifier('tg-wrong', { type: 'telegram', telegram: { botToken: { env: 'CF_TG_WRONG' }, chatId: CHAT, apiBase: tg.url } }),
        notifier('tg-down', { type: 'telegram', telegram: { botToken: { env: 'CF_TG_TOKEN' }, chatId: CHAT, apiBase: 'http://127.0.0.1:1' } }),
        notifier('wh-down', { type: 'webhook', webhook: { url: 'http://127.0.0.1:1/services/SECRETPATH', secret: { env: 'CF_WH_SECRET' }, headers: { 'X-Api-Key': HDR } } }),
        notifier('wh-nosecret', { type: 'webhook', webhook: { url: `${hook.url}/x`, secret: { env: 'CF_MISSING' } } }),
      ],
      env: { ...ENV, CF_TG_WRONG: '5550009:AAF-tg-SECRET-wrong' },
      log,
      maxAttempts: 2,
      requestTimeoutMs: 300,
    });
    tg.failNext({ status: 429, retryAfter: 0, times: 1 });
    hook.hangNext(1);
    for (const e of everyEvent) d.notify(e);
    await expect(d.drain(15_000)).resolves.toBe(true);
    const s = d.stats();
    expect(s.tg?.sent).toBe(everyEvent.length);
    expect(s.wh?.sent).toBe(everyEvent.length);
    expect(s['tg-wrong']?.failed).toBe(everyEvent.length);
    expect(s['tg-down']?.failed).toBe(everyEvent.length);
    expect(s['wh-down']?.failed).toBe(everyEvent.length);
    expect(s['wh-nosecret']?.failed).toBe(everyEvent.length);
    expect(s['wh-nosecret']?.lastError).toContain('CF_MISSING');

    const everything = [...lines, JSON.stringify(s)].join('\n');
    expect(lines.length).toBeGreaterThan(30);
    expect(everything).toContain('answered 401');
    expect(everything).toContain('ECONNREFUSED');
    expect(everything).toContain('timed out');
    for (const secret of [TOKEN, TOKEN2, WH_SECRET, HDR, '5550009:AAF-tg-SECRET-wrong', 'SECRETPATH', 'SECRET']) {
      expect(everything).not.toContain(secret);
    }
  });
});

describe('the injected dispatcher is the only one used', () => {
  it('MockAgent with net connect disabled receives the request', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    let body: unknown;
    mock
      .get('https://api.telegram.example')
      .intercept({ path: `/bot${TOKEN}/sendMessage`, method: 'POST' })
      .reply(200, (o) => {
        body = JSON.parse(String(o.body));
        return { ok: true, result: {} };
      });
    const d = make({ notifiers: [notifier('tg', { type: 'telegram', telegram: { botToken: { env: 'CF_TG_TOKEN' }, chatId: 'ops', apiBase: 'https://api.telegram.example' } })], dispatcher: mock });
    d.notify(everyEvent[6] as NotifyEvent);
    await expect(d.drain(5000)).resolves.toBe(true);
    expect(d.stats().tg?.sent).toBe(1);
    expect(body).toEqual({ chat_id: 'ops', text: formatEvent(everyEvent[6] as NotifyEvent), disable_web_page_preview: true });
    mock.assertNoPendingInterceptors();
    await mock.close();
  });
});
