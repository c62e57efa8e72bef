/**
 * NotificationDispatcher: delivers controller events to the Notifier channels (Telegram, webhook).
 *
 * Wiring is one call per event: `dispatcher.notify(event)` (and `update(notifiers)` on a manifest
 * reload, `drain()` + `close()` on shutdown). `notify()` only filters and enqueues: it returns
 * synchronously, never throws and never waits for the network, so it cannot slow reconciliation.
 *
 * Per event and notifier, in this order:
 * 1. Routing: the event's reason must be one of the notifier's `events` (default: every
 *    NOTIFIER_EVENTS entry; events with any other reason are never sent), and when `for` is set
 *    the event's key must be listed — a pool-wide key `Kind/*` matches when `for` lists any object
 *    of that kind.
 * 2. Dedup: an event identical to one accepted in the last `dedupWindowMs` (default 10 min) —
 *    same notifier, reason, key and message — is counted as `deduplicated` and not sent. A delivery
 *    that finally fails (or is dropped) releases its dedup entry, so the next identical event tries again.
 * 3. Rate limit of the alerts that come in bursts (RATE_LIMITS: GuardDenied, SessionWaitingForInput,
 *    TaskStuck one per minute, SessionExited one per 10 minutes): at most one event of such a reason
 *    per key per interval per notifier; the others are counted as `rateLimited`, and the next one sent
 *    says how many were suppressed (`data.suppressed`, and a note at the end of the message).
 * 4. Queue: each notifier has its own FIFO queue (bounded by `maxQueue`, default 100: when full the
 *    oldest waiting delivery is dropped and counted as `dropped`) and delivers one message at a time,
 *    so a slow or hung endpoint holds up only its own channel.
 *
 * Delivery: each attempt reads the secrets afresh (rotation needs no restart) and has a timeout
 * (default 10 s). Network errors, timeouts, 408/425/429 and 5xx are retried with exponential backoff
 * and jitter (base 1 s, doubling, cap 60 s, each delay drawn from [d/2, d]); a `Retry-After` header or
 * Telegram's `parameters.retry_after` replaces the backoff for that attempt (a wait longer than
 * `maxRetryAfterMs`, default 10 min, gives up instead). After `maxAttempts` (default 5) attempts, or at
 * once for an error retrying cannot fix (4xx, a missing secret), the delivery counts as `failed`.
 *
 * Secrets: token, webhook secret and header values are never logged; every logged message is
 * scrubbed of them. Webhook URLs are logged by origin only.
 */
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { NOTIFIER_EVENTS, type NotifierSpec } from '../../api/schemas.js';
import { errorMessage } from '../../core/errors.js';
import { systemTimers, type Timers } from '../../core/ports.js';
import { resolveSecret, type SecretEnv } from '../secrets.js';
import { scrub, type SendResult } from './send-result.js';
import { sendTelegram } from './telegram.js';
import { sendWebhook, webhookBody } from './webhook.js';

/** An event as the controller records it (structurally the runtime's `CfEvent`). */
export interface NotifyEvent {
  time: string;
  /** `Kind/name`, or `Kind/*` for the whole pool. */
  key: string;
  type: 'Normal' | 'Warning';
  /** CamelCase; only NOTIFIER_EVENTS reasons are ever sent. */
  reason: string;
  message: string;
  data?: Record<string, unknown>;
}

/** What the dispatcher needs of a Notifier object (a `ManifestObject<'Notifier'>` fits). */
export interface NotifierObjectLike {
  metadata: { name: string };
  spec: NotifierSpec;
}

export type NotifyLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface NotificationDispatcherOptions {
  notifiers: readonly NotifierObjectLike[];
  /** Where `{env: NAME}` secrets are read. Default `process.env`. */
  env?: SecretEnv;
  /** undici dispatcher for every request (MockAgent in tests). Default: the senders' private Agent. */
  dispatcher?: Dispatcher;
  /** Clock and timers (dedup windows, backoff waits). Default: the system's. */
  timers?: Timers;
  log?: NotifyLogger;
  /** Identical events within this window are sent once. Default 10 min. */
  dedupWindowMs?: number;
  /** At most one GuardDenied per key per notifier in this interval. Default 60 s (RATE_LIMITS). */
  guardDeniedIntervalMs?: number;
  /** Per event reason: at most one such event per key per notifier in this interval. Default RATE_LIMITS. */
  rateLimits?: Readonly<Record<string, number>>;
  /** Waiting deliveries per notifier; beyond it the oldest is dropped. Default 100. */
  maxQueue?: number;
  /** Attempts per delivery (the first included). Default 5. */
  maxAttempts?: number;
  /** Backoff base and cap. Default 1 s and 60 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A longer `Retry-After` gives up rather than wait. Default 10 min. */
  maxRetryAfterMs?: number;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /** [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
  /** First word of every text. Default `claude-failover`. */
  source?: string;
}

/** Counters per notifier, monotonic for the dispatcher's life (Prometheus counters), plus gauges. */
export interface NotifierStats {
  sent: number;
  failed: number;
  dropped: number;
  deduplicated: number;
  rateLimited: number;
  /** Attempts after the first. */
  retries: number;
  /** Deliveries waiting (gauge). */
  queued: number;
  /** A delivery is being sent or waiting for its retry (gauge). */
  inFlight: boolean;
  /** Scrubbed message of the last failed attempt. */
  lastError?: string;
  lastSentAt?: string;
}

export const DEFAULT_DEDUP_WINDOW_MS = 10 * 60_000;
export const DEFAULT_GUARD_DENIED_INTERVAL_MS = 60_000;

/**
 * Alerts that come in bursts, and the shortest time between two of one reason about one key (per
 * notifier): a guard refusing an agent's commands in a loop, an agent asking again and again, tasks
 * of a project stuck together, a session crashing repeatedly (its crash loop has its own event,
 * SessionCrashLoop, which is not limited).
 */
export const RATE_LIMITS: Readonly<Record<string, number>> = {
  GuardDenied: DEFAULT_GUARD_DENIED_INTERVAL_MS,
  SessionWaitingForInput: 60_000,
  TaskStuck: 60_000,
  SessionExited: 10 * 60_000,
};
export const DEFAULT_MAX_QUEUE = 100;
export const DEFAULT_MAX_ATTEMPTS = 5;

const NOTIFIABLE: ReadonlySet<string> = new Set(NOTIFIER_EVENTS);

/**
 * The human one-liner for an event, plain text:
 * `[claude-failover] FailoverCompleted Account/*: moved pool from alpha to beta (5h 93% >= 90%)`.
 * Control characters (line breaks included) become spaces.
 */
export function formatEvent(event: Pick<NotifyEvent, 'reason' | 'key' | 'message'>, source = 'claude-failover'): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  const clean = (s: string): string => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const message = clean(event.message);
  return `[${source}] ${clean(event.reason)} ${clean(event.key)}${message ? `: ${message}` : ''}`;
}

/** Whether `spec` wants `event` (routing rule 1 above). Pure. */
export function matchesNotifier(spec: Pick<NotifierSpec, 'events' | 'for'>, event: Pick<NotifyEvent, 'reason' | 'key'>): boolean {
  if (!NOTIFIABLE.has(event.reason)) return false;
  if (spec.events && !(spec.events as readonly string[]).includes(event.reason)) return false;
  if (spec.for) {
    if (spec.for.includes(event.key)) return true;
    if (event.key.endsWith('/*')) {
      const kind = event.key.slice(0, -1);
      return spec.for.some((ref) => ref.startsWith(kind));
    }
    return false;
  }
  return true;
}

/** Backoff before attempt `attempt + 1` (attempt ≥ 1): min(cap, base·2^(attempt−1)), jittered into [d/2, d]. Pure. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + (random * d) / 2);
}

/**
 * Whether a notifier's secrets can be read (no network request): for the Notifier controller's
 * Ready condition. The message names the variable or file, never a value.
 */
export async function checkNotifierSecrets(
  spec: NotifierSpec,
  env: SecretEnv = process.env,
): Promise<{ ok: true } | { ok: false; reason: 'SecretUnavailable' | 'InvalidSpec'; message: string }> {
  const refs = spec.type === 'telegram' ? [spec.telegram?.botToken] : [spec.webhook?.secret];
  if (spec.type === 'telegram' && !spec.telegram) return { ok: false, reason: 'InvalidSpec', message: 'type telegram without a telegram block' };
  if (spec.type === 'webhook' && !spec.webhook) return { ok: false, reason: 'InvalidSpec', message: 'type webhook without a webhook block' };
  for (const ref of refs) {
    if (!ref) continue;
    try {
      await resolveSecret(ref, env);
    } catch (err) {
      return { ok: false, reason: 'SecretUnavailable', message: errorMessage(err) };
    }
  }
  return { ok: true };
}

interface Delivery {
  id: string;
  event: NotifyEvent;
  dedupKey: string;
  attempts: number;
}

interface Channel {
  name: string;
  spec: NotifierSpec;
  queue: Delivery[];
  current: Delivery | undefined;
  /** Timer of the pending retry, or of the deferred start. */
  timer: unknown;
  abort: AbortController | undefined;
  dedup: Map<string, number>;
  /** Rate-limited alerts, by reason and key: when one was last let through, how many were held back since. */
  limited: Map<string, { at: number; suppressed: number; interval: number }>;
  closed: boolean;
}

function emptyStats(): NotifierStats {
  return { sent: 0, failed: 0, dropped: 0, deduplicated: 0, rateLimited: 0, retries: 0, queued: 0, inFlight: false };
}

export class NotificationDispatcher {
  readonly #env: SecretEnv;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #timers: Timers;
  readonly #log: NotifyLogger | undefined;
  readonly #dedupWindowMs: number;
  readonly #rateLimits: Readonly<Record<string, number>>;
  readonly #maxQueue: number;
  readonly #maxAttempts: number;
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #timeoutMs: number | undefined;
  readonly #random: () => number;
  readonly #source: string;
  readonly #channels = new Map<string, Channel>();
  /** Stats outlive a removed notifier (counters stay monotonic). */
  readonly #stats = new Map<string, NotifierStats>();
  #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: NotificationDispatcherOptions) {
    this.#env = options.env ?? process.env;
    this.#dispatcher = options.dispatcher;
    this.#timers = options.timers ?? systemTimers;
    this.#log = options.log;
    this.#dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.#rateLimits = {
      ...RATE_LIMITS,
      ...(options.guardDeniedIntervalMs !== undefined ? { GuardDenied: options.guardDeniedIntervalMs } : {}),
      ...options.rateLimits,
    };
    this.#maxQueue = Math.max(1, options.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.#baseMs = options.backoffBaseMs ?? 1000;
    this.#capMs = options.backoffMaxMs ?? 60_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10 * 60_000;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#random = options.random ?? Math.random;
    this.#source = options.source ?? 'claude-failover';
    this.update(options.notifiers);
  }

  /** Replaces the notifier set (manifest reload). Kept names keep their queue, dedup and rate-limit state. */
  update(notifiers: readonly NotifierObjectLike[]): void {
    const next = new Map<string, NotifierSpec>();
    for (const n of notifiers) next.set(n.metadata.name, n.spec);
    for (const [name, ch] of this.#channels) {
      if (!next.has(name)) {
        this.#closeChannel(ch, 'notifier removed');
        this.#channels.delete(name);
      }
    }
    for (const [name, spec] of next) {
      const ch = this.#channels.get(name);
      if (ch) ch.spec = spec;
      else {
        this.#channels.set(name, { name, spec, queue: [], current: undefined, timer: undefined, abort: undefined, dedup: new Map(), limited: new Map(), closed: false });
        if (!this.#stats.has(name)) this.#stats.set(name, emptyStats());
      }
    }
    this.#checkIdle();
  }

  /** Routes and enqueues `event`. Returns at once; never throws. */
  notify(event: NotifyEvent): void {
    try {
      if (this.#closed || !NOTIFIABLE.has(event.reason)) return;
      const now = this.#timers.now();
      for (const ch of this.#channels.values()) {
        if (matchesNotifier(ch.spec, event)) this.#offer(ch, event, now);
      }
    } catch (err) {
      this.#say('error', { err: errorMessage(err), reason: event?.reason, key: event?.key }, 'notification dispatch failed');
    }
  }

  /** Counters per notifier name (copies). */
  stats(): Record<string, NotifierStats> {
    const out: Record<string, NotifierStats> = {};
    for (const [name, s] of this.#stats) {
      const ch = this.#channels.get(name);
      out[name] = { ...s, queued: ch ? ch.queue.length : 0, inFlight: ch?.current !== undefined };
    }
    return out;
  }

  /** Resolves true once every queue is empty and nothing is in flight, false after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#idle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let done = false;
      const timer = this.#timers.setTimeout(() => {
        if (done) return;
        done = true;
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (): void => {
        if (done) return;
        done = true;
        this.#timers.clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(waiter);
    });
  }

  /** Stops: aborts requests in flight, cancels retries, drops what waits (counted). Later `notify()` calls are ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of this.#channels.values()) this.#closeChannel(ch, 'dispatcher closed');
    this.#checkIdle();
  }

  #offer(ch: Channel, original: NotifyEvent, now: number): void {
    const stats = this.#statsOf(ch.name);
    const dedupKey = `${original.reason}\u0000${original.key}\u0000${original.message}`;
    for (const [k, at] of ch.dedup) {
      if (now - at < this.#dedupWindowMs) break;
      ch.dedup.delete(k);
    }
    const seen = ch.dedup.get(dedupKey);
    if (seen !== undefined && now - seen < this.#dedupWindowMs) {
      stats.deduplicated += 1;
      this.#say('debug', { notifier: ch.name, reason: original.reason, key: original.key }, 'notification deduplicated');
      return;
    }
    let event = original;
    const interval = this.#rateLimits[original.reason];
    if (interval !== undefined && interval > 0) {
      const limitKey = `${original.reason}\u0000${original.key}`;
      const g = ch.limited.get(limitKey);
      if (g && now - g.at < interval) {
        g.suppressed += 1;
        stats.rateLimited += 1;
        this.#say('debug', { notifier: ch.name, reason: original.reason, key: original.key }, 'notification rate-limited');
        return;
      }
      if (g && g.suppressed > 0) {
        event = {
          ...original,
          message: `${original.message} (${g.suppressed} more ${original.reason} for ${original.key} suppressed before this one)`,
          data: { ...(original.data ?? {}), suppressed: g.suppressed },
        };
      }
      ch.limited.set(limitKey, { at: now, suppressed: 0, interval });
      for (const [k, v] of ch.limited) {
        if (v.suppressed === 0 && now - v.at >= v.interval) ch.limited.delete(k);
      }
    }
    ch.dedup.delete(dedupKey);
    ch.dedup.set(dedupKey, now);
    ch.queue.push({ id: randomUUID(), event, dedupKey, attempts: 0 });
    while (ch.queue.length > this.#maxQueue) {
      const old = ch.queue.shift();
      if (!old) break;
      stats.dropped += 1;
      ch.dedup.delete(old.dedupKey);
      this.#say('warn', { notifier: ch.name, reason: old.event.reason, key: old.event.key }, 'notification queue full: dropped the oldest');
    }
    this.#schedule(ch);
  }

  /** Starts the channel's next delivery on a later turn of the event loop (never inside notify()). */
  #schedule(ch: Channel): void {
    if (ch.closed || ch.current !== undefined || ch.queue.length === 0) return;
    const next = ch.queue.shift();
    if (!next) return;
    ch.current = next;
    setImmediate(() => void this.#attempt(ch, next));
  }

  async #attempt(ch: Channel, d: Delivery): Promise<void> {
    if (ch.closed || ch.current !== d) return;
    const stats = this.#statsOf(ch.name);
    d.attempts += 1;
    if (d.attempts > 1) stats.retries += 1;
    const abort = new AbortController();
    ch.abort = abort;
    const secrets: string[] = [];
    let result: SendResult;
    try {
      result = await this.#send(ch.spec, d, abort.signal, secrets);
    } catch (err) {
      // Secret errors (CF_ERR_SECRET) name the variable or file, never the value; nothing else throws.
      result = { ok: false, retryable: false, message: errorMessage(err) };
    } finally {
      if (ch.abort === abort) ch.abort = undefined;
    }
    if (ch.closed || ch.current !== d) return;
    const base = { notifier: ch.name, type: ch.spec.type, reason: d.event.reason, key: d.event.key, attempt: d.attempts };
    if (result.ok) {
      stats.sent += 1;
      stats.lastSentAt = new Date(this.#timers.now()).toISOString();
      this.#say('debug', { ...base, status: result.status }, 'notification sent');
      this.#finish(ch);
      return;
    }
    const message = scrub(result.message, secrets);
    stats.lastError = message;
    const status = result.status !== undefined ? { status: result.status } : {};
    let delay: number | undefined;
    let why = result.retryable ? 'attempts exhausted' : 'not retryable';
    if (result.retryable && d.attempts < this.#maxAttempts) {
      delay = result.retryAfterMs ?? backoffDelay(d.attempts, this.#baseMs, this.#capMs, this.#random());
      if (delay > this.#maxRetryAfterMs) {
        why = `asked to wait ${Math.ceil(delay / 1000)} s, more than ${Math.ceil(this.#maxRetryAfterMs / 1000)} s`;
        delay = undefined;
      }
    }
    if (delay === undefined) {
      stats.failed += 1;
      ch.dedup.delete(d.dedupKey);
      this.#say('warn', { ...base, ...status, err: message, why }, 'notification failed: giving up');
      this.#finish(ch);
      return;
    }
    this.#say('info', { ...base, ...status, err: message, retryInMs: delay }, 'notification attempt failed: will retry');
    ch.timer = this.#timers.setTimeout(() => {
      ch.timer = undefined;
      void this.#attempt(ch, d);
    }, delay);
  }

  async #send(spec: NotifierSpec, d: Delivery, signal: AbortSignal, secrets: string[]): Promise<SendResult> {
    const common = { signal, now: () => this.#timers.now(), ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}), ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}) };
    const text = formatEvent(d.event, this.#source);
    if (spec.type === 'telegram') {
      const tg = spec.telegram;
      if (!tg) return { ok: false, retryable: false, message: 'type telegram without a telegram block' };
      const token = await resolveSecret(tg.botToken, this.#env);
      secrets.push(token);
      return sendTelegram({ ...common, apiBase: tg.apiBase, botToken: token }, { chatId: tg.chatId, text, disableWebPagePreview: true });
    }
    const wh = spec.webhook;
    if (!wh) return { ok: false, retryable: false, message: 'type webhook without a webhook block' };
    secrets.push(...Object.values(wh.headers ?? {}));
    let secret: string | undefined;
    if (wh.secret) {
      secret = await resolveSecret(wh.secret, this.#env);
      secrets.push(secret);
    }
    const body = JSON.stringify(webhookBody(d.event, text));
    return sendWebhook({ ...common, url: wh.url, headers: wh.headers ?? {}, deliveryId: d.id, ...(secret !== undefined ? { secret } : {}) }, body);
  }

  #finish(ch: Channel): void {
    ch.current = undefined;
    this.#schedule(ch);
    this.#checkIdle();
  }

  #closeChannel(ch: Channel, why: string): void {
    ch.closed = true;
    if (ch.timer !== undefined) this.#timers.clearTimeout(ch.timer);
    ch.timer = undefined;
    ch.abort?.abort();
    ch.abort = undefined;
    const stats = this.#statsOf(ch.name);
    const lost = ch.queue.length + (ch.current ? 1 : 0);
    if (lost > 0) {
      stats.dropped += lost;
      this.#say('warn', { notifier: ch.name, dropped: lost }, `notifications dropped: ${why}`);
    }
    ch.queue = [];
    ch.current = undefined;
  }

  /** Logs, never throws (a broken logger must not break delivery or the caller). */
  #say(level: 'debug' | 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
    try {
      this.#log?.[level](obj, msg);
    } catch (_err) {
      // Nothing sensible to do: the log itself is what failed.
    }
  }

  #statsOf(name: string): NotifierStats {
    let s = this.#stats.get(name);
    if (!s) {
      s = emptyStats();
      this.#stats.set(name, s);
    }
    return s;
  }

  #idle(): boolean {
    for (const ch of this.#channels.values()) {
      if (ch.current !== undefined || ch.queue.length > 0) return false;
    }
    return true;
  }

  #checkIdle(): void {
    if (!this.#idle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

