/**
 * What the notification senders (telegram.ts, webhook.ts) share: the result type, HTTP status
 * classification, the private undici Agent, and scrubbing of secrets from text.
 *
 * Senders never throw for HTTP or network problems: they return a {@link SendResult}, which the
 * dispatcher turns into "sent", "retry later" or "failed".
 */
import { Agent, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../../core/poll-schedule.js';

export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
export const NOTIFIER_USER_AGENT = 'claude-failover-notifier';

export type SendResult =
  | { ok: true; status: number }
  | {
      ok: false;
      /** Worth another attempt: network error, timeout, 408, 425, 429, 5xx. */
      retryable: boolean;
      status?: number;
      /** From `Retry-After` or Telegram's `parameters.retry_after`. */
      retryAfterMs?: number;
      /** Safe for logs: scrubbed of every secret the sender knew. */
      message: string;
    };

/** Options every sender takes. */
export interface SendOptions {
  /** undici dispatcher (Agent, MockAgent, ProxyAgent…). Default: a private Agent, never the global one. */
  dispatcher?: Dispatcher;
  /** Whole-request timeout. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Epoch ms, for HTTP-date `Retry-After`. Default Date.now. */
  now?: () => number;
}

let privateAgent: Agent | undefined;
/** The senders' own connection pool (used when no dispatcher is injected). */
export function notifyAgent(): Agent {
  privateAgent ??= new Agent({ connections: 4, keepAliveTimeout: 10_000 });
  return privateAgent;
}

/** Replaces every occurrence of every secret (4+ characters) with `[redacted]`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

/** HTTP statuses worth retrying. Other 4xx mean the request itself is wrong. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export function retryAfterFromHeaders(headers: Dispatcher.ResponseData['headers'], nowMs: number): number | undefined {
  return parseRetryAfter(headers['retry-after'], nowMs);
}

/** A failed `request()` (thrown before a response) as a result. */
export function failureFromError(err: unknown, where: string, ctx: { timeoutMs: number; timedOut: boolean; aborted: boolean; secrets: readonly (string | undefined)[] }): SendResult {
  const code = (err as { code?: string }).code;
  if (ctx.aborted) return { ok: false, retryable: false, message: `request to ${where} aborted` };
  if (ctx.timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { ok: false, retryable: true, message: `request to ${where} timed out after ${ctx.timeoutMs} ms` };
  }
  const detail = err instanceof Error ? err.message : String(err);
  const causeCode = (err as { cause?: { code?: string } }).cause?.code;
  // Bad arguments (e.g. a header value with a line break) will not get better on retry.
  const retryable = code !== 'UND_ERR_INVALID_ARG';
  return { ok: false, retryable, message: scrub(`request to ${where} failed: ${causeCode ?? code ?? 'error'}: ${detail}`, ctx.secrets) };
}

/** Combines the caller's signal with a timeout. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): { signal: AbortSignal; timeout: AbortSignal } {
  const timeout = AbortSignal.timeout(timeoutMs);
  return { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, timeout };
}
