/**
 * Webhook sender: one JSON POST per event, via undici.
 *
 * Body (UTF-8 JSON, {@link WebhookBody}):
 *
 *   {"event":"FailoverCompleted","key":"Account/*","type":"Normal","reason":"FailoverCompleted",
 *    "message":"moved pool from alpha to beta (5h 93% >= 90%)","time":"2026-03-10T12:00:00.000Z",
 *    "data":{…},"text":"[claude-failover] FailoverCompleted Account/*: moved pool from alpha to beta (5h 93% >= 90%)"}
 *
 * Headers: `content-type: application/json`, `user-agent: claude-failover-notifier`,
 * `x-cf-event: <event>`, `x-cf-delivery: <id>` (the same on every retry of one delivery: receivers
 * can deduplicate on it), the spec's `headers`, and — when a secret is set —
 * `x-signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the secret>`
 * (GitHub's scheme). Redirects are not followed.
 *
 * 2xx → sent; 408/425/429/5xx, network errors, timeouts → retryable (`Retry-After` honoured);
 * other statuses → not retryable. The URL's path and query may themselves be secret (Slack-style
 * URLs), so messages name only the origin; messages are scrubbed of the secret and header values.
 * Never throws for HTTP or network problems.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import {
  DEFAULT_SEND_TIMEOUT_MS,
  NOTIFIER_USER_AGENT,
  failureFromError,
  isRetryableStatus,
  notifyAgent,
  retryAfterFromHeaders,
  scrub,
  withTimeout,
  type SendOptions,
  type SendResult,
} from './send-result.js';

export const SIGNATURE_HEADER = 'x-signature-256';
export const EVENT_HEADER = 'x-cf-event';
export const DELIVERY_HEADER = 'x-cf-delivery';

/** The JSON document POSTed for one event. */
export interface WebhookBody {
  /** The event name (one of NOTIFIER_EVENTS); equals `reason`, kept as the stable discriminator. */
  event: string;
  /** The object the event is about, `Kind/name` (`Kind/*` for the whole pool). */
  key: string;
  type: 'Normal' | 'Warning';
  reason: string;
  /** The event's own message. */
  message: string;
  /** ISO-8601 time the event happened. */
  time: string;
  /** Structured details (figures, sources); `{}` when none. */
  data: Record<string, unknown>;
  /** The human one-liner (`formatEvent`), e.g. for chat webhooks that display `text`. */
  text: string;
}

export interface WebhookEventLike {
  time: string;
  key: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  data?: Record<string, unknown>;
}

export function webhookBody(event: WebhookEventLike, text: string): WebhookBody {
  return { event: event.reason, key: event.key, type: event.type, reason: event.reason, message: event.message, time: event.time, data: event.data ?? {}, text };
}

/** `sha256=<hex HMAC-SHA256(secret, body)>`, the `X-Signature-256` value. */
export function signBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of an `X-Signature-256` value against the body (what a receiver does). */
export function verifySignature(body: string | Uint8Array, secret: string, header: string | readonly string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return false;
  const expected = Buffer.from(signBody(body, secret));
  const got = Buffer.from(value.trim());
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** The URL's origin only: the path or query of a webhook URL may be a secret. */
export function describeWebhookUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch (_err) {
    return '<invalid webhook url>';
  }
}

export interface WebhookSendOptions extends SendOptions {
  url: string;
  /** Extra headers from the spec. They cannot replace content-type, content-length, host or the signature. */
  headers?: Readonly<Record<string, string>>;
  /** HMAC key; when set the request carries `X-Signature-256`. */
  secret?: string;
  /** Stable id of this delivery (same on retries); sent as `X-CF-Delivery`. */
  deliveryId?: string;
}

const RESERVED = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection', SIGNATURE_HEADER, EVENT_HEADER, DELIVERY_HEADER]);

/** POSTs `body` (a string is sent byte for byte, so a retry carries the same signature). Never throws for HTTP or network problems. */
export async function sendWebhook(options: WebhookSendOptions, body: string | WebhookBody): Promise<SendResult> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const where = describeWebhookUrl(options.url);
  const extra = options.headers ?? {};
  let pathAndQuery = '';
  try {
    const u = new URL(options.url);
    pathAndQuery = `${u.pathname}${u.search}`;
  } catch (_err) {
    return { ok: false, retryable: false, message: 'the webhook url is not a valid URL' };
  }
  const secrets = [options.secret, ...Object.values(extra), pathAndQuery.length > 1 ? pathAndQuery : undefined];
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const now = options.now ?? Date.now;

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra)) {
    if (!RESERVED.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  headers['content-type'] = 'application/json';
  headers['user-agent'] ??= NOTIFIER_USER_AGENT;
  let eventName: string | undefined;
  if (typeof body !== 'string') eventName = body.event;
  else {
    try {
      const parsed = JSON.parse(payload) as { event?: unknown };
      if (typeof parsed.event === 'string') eventName = parsed.event;
    } catch (_err) {
      // Not our body shape: no event header.
    }
  }
  if (eventName) headers[EVENT_HEADER] = eventName;
  if (options.deliveryId) headers[DELIVERY_HEADER] = options.deliveryId;
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(payload, options.secret);

  if (options.signal?.aborted) return { ok: false, retryable: false, message: `request to ${where} aborted` };
  const { signal, timeout } = withTimeout(options.signal, timeoutMs);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(options.url, {
      method: 'POST',
      dispatcher: options.dispatcher ?? notifyAgent(),
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers,
      body: payload,
    });
  } catch (err) {
    return failureFromError(err, where, { timeoutMs, timedOut: timeout.aborted, aborted: options.signal?.aborted === true, secrets });
  }
  const status = res.statusCode;
  await res.body.dump().catch(() => undefined);
  if (status >= 200 && status < 300) return { ok: true, status };
  const retryAfterMs = retryAfterFromHeaders(res.headers, now());
  const redirect = status >= 300 && status < 400 ? ' (redirects are not followed: use the final URL)' : '';
  const result: SendResult = {
    ok: false,
    retryable: isRetryableStatus(status),
    status,
    message: scrub(`${where} answered ${status}${redirect}${retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}`, secrets),
  };
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  return result;
}
