/**
 * Client for the OAuth usage endpoint (`GET /api/oauth/usage`), via undici.
 *
 * - The dispatcher is injectable (an undici `Agent`, `MockAgent`, `ProxyAgent`, …); when absent,
 *   a private module-level Agent is used, never the process-global dispatcher.
 * - Never throws for HTTP or network problems: the result is a discriminated union.
 * - The token is sent only in the `Authorization` header; it never appears in a result message
 *   (messages are scrubbed of it in case a lower layer echoes it).
 */
import { Agent, request, type Dispatcher } from 'undici';
import { parseUsageResponse, type UsageSnapshot } from '../../core/quota.js';
import { parseRetryAfter } from '../../core/poll-schedule.js';

export const DEFAULT_USAGE_ENDPOINT = 'https://api.anthropic.com/api/oauth/usage';
export const USAGE_BETA_HEADER = 'oauth-2025-04-20';
export const DEFAULT_USAGE_TIMEOUT_MS = 10_000;

export interface FetchUsageOptions {
  endpoint: string;
  accessToken: string;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
  /** Whole-request timeout (headers and body). Default 10 s. */
  timeoutMs?: number;
  /** Epoch-ms clock for `observedAt` and HTTP-date `Retry-After`. Default Date.now. */
  now?: () => number;
  userAgent?: string;
}

export type UnavailableCause = 'ServerError' | 'UnexpectedStatus' | 'BadResponse' | 'Network' | 'Timeout' | 'Aborted';

export type UsageFetchResult =
  | { ok: true; status: number; snapshot: UsageSnapshot; observedAt: string }
  /** 401: the token was rejected (expired or revoked). */
  | { ok: false; kind: 'CredentialsExpired'; status: 401; message: string }
  /** 403: the token lacks access (scope, org policy). */
  | { ok: false; kind: 'Forbidden'; status: 403; message: string }
  /** 429: throttled; `retryAfterMs` from `Retry-After` (seconds or HTTP date) when present. */
  | { ok: false; kind: 'RateLimited'; status: 429; retryAfterMs?: number; message: string }
  /** 5xx, other statuses, unparsable body, network error, timeout, abort: usage is Unknown. */
  | { ok: false; kind: 'Unavailable'; cause: UnavailableCause; status?: number; message: string };

let defaultAgent: Agent | undefined;
/**
 * Connections per origin: accounts are polled at once (one origin for all of them), so a usage
 * endpoint that hangs must hold every account's request together, not queue the fifth one behind
 * the first four's timeouts.
 */
const USAGE_CONNECTIONS = 32;
function privateAgent(): Agent {
  defaultAgent ??= new Agent({ connections: USAGE_CONNECTIONS, keepAliveTimeout: 10_000 });
  return defaultAgent;
}

/** The endpoint without credentials or query, safe for messages. */
export function describeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch (_err) {
    return '<invalid endpoint>';
  }
}

function scrub(text: string, token: string): string {
  return token ? text.split(token).join('[redacted]') : text;
}

/** GET the usage endpoint once. Never throws for HTTP/network problems. */
export async function fetchUsage(options: FetchUsageOptions): Promise<UsageFetchResult> {
  const now = options.now ?? Date.now;
  const where = describeEndpoint(options.endpoint);
  const timeoutMs = options.timeoutMs ?? DEFAULT_USAGE_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const fail = (cause: UnavailableCause, message: string, status?: number): UsageFetchResult => {
    const r: UsageFetchResult = { ok: false, kind: 'Unavailable', cause, message: scrub(message, options.accessToken) };
    if (status !== undefined) r.status = status;
    return r;
  };

  if (options.signal?.aborted) return fail('Aborted', `usage request to ${where} aborted before it started`);

  let res: Dispatcher.ResponseData;
  try {
    res = await request(options.endpoint, {
      method: 'GET',
      dispatcher: options.dispatcher ?? privateAgent(),
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: {
        authorization: `Bearer ${options.accessToken}`,
        'anthropic-beta': USAGE_BETA_HEADER,
        accept: 'application/json',
        'user-agent': options.userAgent ?? 'claude-failover',
      },
    });
  } catch (err) {
    if (options.signal?.aborted) return fail('Aborted', `usage request to ${where} aborted`);
    const code = (err as { code?: string }).code;
    if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return fail('Timeout', `usage request to ${where} timed out after ${timeoutMs} ms`);
    }
    const detail = err instanceof Error ? err.message : String(err);
    const causeCode = (err as { cause?: { code?: string } }).cause?.code;
    return fail('Network', `usage request to ${where} failed: ${code ?? causeCode ?? 'error'}: ${detail}`);
  }

  const status = res.statusCode;
  if (status < 200 || status >= 300) {
    await res.body.dump().catch(() => undefined);
    if (status === 401) return { ok: false, kind: 'CredentialsExpired', status, message: `${where} rejected the access token (401): expired or revoked` };
    if (status === 403) return { ok: false, kind: 'Forbidden', status, message: `${where} refused access (403)` };
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], now());
      const r: UsageFetchResult = {
        ok: false,
        kind: 'RateLimited',
        status,
        message: `${where} throttled the account (429)${retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}`,
      };
      if (retryAfterMs !== undefined) r.retryAfterMs = retryAfterMs;
      return r;
    }
    if (status >= 500) return fail('ServerError', `${where} answered ${status}`, status);
    return fail('UnexpectedStatus', `${where} answered ${status}`, status);
  }

  let body: unknown;
  try {
    body = JSON.parse(await res.body.text());
  } catch (err) {
    if (options.signal?.aborted) return fail('Aborted', `usage request to ${where} aborted`);
    if (timeout.aborted) return fail('Timeout', `usage response from ${where} timed out after ${timeoutMs} ms`, status);
    const isSyntax = err instanceof SyntaxError;
    return fail(isSyntax ? 'BadResponse' : 'Network', isSyntax ? `${where} answered ${status} with a body that is not JSON` : `reading the response of ${where} failed`, status);
  }
  const observedAt = new Date(now()).toISOString();
  const parsed = parseUsageResponse(body, observedAt);
  if (!parsed.ok) {
    const shown = parsed.problems.slice(0, 3).join('; ');
    return fail('BadResponse', `${where} answered ${status} with a body that is not a usage response (${shown}${parsed.problems.length > 3 ? `; and ${parsed.problems.length - 3} more` : ''})`, status);
  }
  return { ok: true, status, snapshot: parsed.snapshot, observedAt };
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

export interface ProbeUsageOptions {
  endpoint: string;
  dispatcher?: Dispatcher;
  /** Default 5 s. */
  timeoutMs?: number;
  userAgent?: string;
}

/** Whether the endpoint's server answers at all, and what it said (for the log). */
export interface ProbeResult {
  reachable: boolean;
  status?: number;
  message: string;
}

/**
 * A cheap probe of the usage endpoint while polls back off after server errors: the same GET
 * WITHOUT a token, so it costs nothing against the per-token throttle. Any answer below 500 other
 * than 429 (typically 401) means the server is up again; 5xx, 429, a timeout or a network error
 * mean it is not. Never throws.
 */
export async function probeUsageEndpoint(options: ProbeUsageOptions): Promise<ProbeResult> {
  const where = describeEndpoint(options.endpoint);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  try {
    const res = await request(options.endpoint, {
      method: 'GET',
      dispatcher: options.dispatcher ?? privateAgent(),
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { 'anthropic-beta': USAGE_BETA_HEADER, accept: 'application/json', 'user-agent': options.userAgent ?? 'claude-failover' },
    });
    await res.body.dump().catch(() => undefined);
    const status = res.statusCode;
    const reachable = status < 500 && status !== 429;
    return { reachable, status, message: `${where} answered ${status} to a probe without a token${reachable ? ': the server is up' : ''}` };
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.name : 'error');
    return { reachable: false, message: `probe of ${where} failed: ${code}` };
  }
}
