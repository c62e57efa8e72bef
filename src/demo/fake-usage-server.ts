/**
 * DEMO / TEST STAND-IN for Anthropic's OAuth usage endpoint. Not used by the product itself:
 * `make demo` and the e2e tests point `Account.spec.quota.usageEndpoint` at it so that no
 * account, token or network is needed. It speaks the same protocol as the real endpoint:
 *
 *   GET /api/oauth/usage   Authorization: Bearer <token>   anthropic-beta: oauth-2025-04-20
 *     → 200 {"five_hour":{"utilization":…,"resets_at":…},"seven_day":{…},…}  (per-token body)
 *     → 401 for a token it does not know, 400 without the beta header
 *     → a scripted failure (429 + Retry-After, 401, 403, 500, …, or no answer at all) while one is
 *       active; a failure for `*` is a server-wide outage: it also answers requests without a token
 *       (the controller's probes)
 *
 * Control, in-process ({@link FakeUsageServer}) or over HTTP for a standalone process:
 *   PUT    /__fake/usage/<token>     body: raw response JSON for that token
 *   PUT    /__fake/windows/<token>   body: {"fiveHour":92,"sevenDay":40,"fiveHourResetsAt":…}
 *   POST   /__fake/fail/<token>      body: {"status":429,"retryAfter":"120","durationMs":600000,"times":3}
 *                                     ({"status":0,"hang":true}: accept the request, never answer)
 *   DELETE /__fake/fail/<token>
 *   GET    /__fake/requests          → {"<token>":<count>,…} (usage requests per token)
 *   (`*` as <token> in /fail applies to every token)
 *
 * Standalone: `node dist/demo/fake-usage-server.js [--host 127.0.0.1] [--port 0] [--seed file.json]`
 * prints one JSON line `{"url":…,"endpoint":…,"pid":…}` on stdout and runs until SIGINT/SIGTERM.
 * `--seed` is a JSON object mapping token → windows (`{"fiveHour":…}`) or a raw body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { argValue, closeHttp, listenHttp, runIfMain, serveUntilSignal } from './standalone.js';

export const FAKE_USAGE_PATH = '/api/oauth/usage';

export interface FakeWindows {
  /** Percent, or null for a null window; omitted = window missing. */
  fiveHour?: number | null;
  sevenDay?: number | null;
  opus?: number | null;
  sonnet?: number | null;
  /** ISO or epoch seconds; default now + 5 h / now + 7 d (from the server clock). */
  fiveHourResetsAt?: string | number;
  sevenDayResetsAt?: string | number;
  /** Also emit the newer `limits[]` array. */
  withLimits?: boolean;
}

export interface FakeFailure {
  /** The status answered (ignored with `hang`). */
  status: number;
  /** Never answer (the connection stays open until the failure is cleared or the server closes). */
  hang?: boolean;
  /** Sent verbatim as `Retry-After` (seconds or an HTTP date). */
  retryAfter?: string | number;
  /** Fail for this long (server clock); default: until cleared. */
  durationMs?: number;
  /** Fail this many requests, then recover. */
  times?: number;
  body?: unknown;
}

export interface FakeUsageRequest {
  /** undefined for a request without a token (the controller's probe). */
  token: string | undefined;
  at: number;
  /** 0 for a request held by a `hang` failure. */
  status: number;
  beta: string | undefined;
}

export interface FakeUsageServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `url` + `/api/oauth/usage` */
  readonly endpoint: string;
  readonly port: number;
  /** Sets the raw JSON body answered for `token` (which becomes known). */
  setUsage(token: string, body: unknown): void;
  /** Sets the body from percentages (see {@link usageBody}). */
  setWindows(token: string, windows: FakeWindows): void;
  /** Makes `token` (or `*`) fail as described until the duration/count runs out or cleared. */
  failFor(token: string, failure: FakeFailure): void;
  clearFailures(token?: string): void;
  /** Usage requests received for `token` (all tokens, and tokenless probes, when omitted). */
  requestCount(token?: string): number;
  readonly requests: readonly FakeUsageRequest[];
  /** Requests held by a `hang` failure right now (their client has not given up yet). */
  heldCount(): number;
  close(): Promise<void>;
}

export interface FakeUsageServerOptions {
  host?: string;
  port?: number;
  /** Epoch-ms clock (failure durations, default reset times). Default Date.now. */
  clock?: () => number;
  /** Answer 400 when the `anthropic-beta` header is missing or wrong. Default true. */
  requireBeta?: boolean;
}

function iso(v: string | number | undefined, fallbackMs: number): string {
  if (v === undefined) return new Date(fallbackMs).toISOString();
  if (typeof v === 'number') return new Date(v > 1e12 ? v : v * 1000).toISOString();
  return v;
}

/** A response body in the endpoint's shape, from percentages. */
export function usageBody(w: FakeWindows, nowMs: number = Date.now()): Record<string, unknown> {
  const five = iso(w.fiveHourResetsAt, nowMs + 5 * 3600_000);
  const seven = iso(w.sevenDayResetsAt, nowMs + 7 * 86400_000);
  const win = (u: number | null | undefined, resetsAt: string): unknown => (u === null ? null : { utilization: u, resets_at: resetsAt });
  const body: Record<string, unknown> = {};
  if (w.fiveHour !== undefined) body.five_hour = win(w.fiveHour, five);
  if (w.sevenDay !== undefined) body.seven_day = win(w.sevenDay, seven);
  if (w.opus !== undefined) body.seven_day_opus = win(w.opus, seven);
  if (w.sonnet !== undefined) body.seven_day_sonnet = win(w.sonnet, seven);
  body.extra_usage = { is_enabled: false, monthly_limit: null, used_credits: null, utilization: null };
  if (w.withLimits) {
    const limits: unknown[] = [];
    if (typeof w.fiveHour === 'number') limits.push({ kind: 'session', percent: w.fiveHour, resets_at: five, is_active: true });
    if (typeof w.sevenDay === 'number') limits.push({ kind: 'weekly_all', percent: w.sevenDay, resets_at: seven, is_active: true });
    if (typeof w.opus === 'number') limits.push({ kind: 'weekly_scoped', percent: w.opus, resets_at: seven, scope: 'opus', is_active: true });
    body.limits = limits;
  }
  return body;
}

interface ActiveFailure extends FakeFailure {
  until?: number;
  remaining?: number;
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? undefined : JSON.parse(text);
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function isWindows(v: unknown): v is FakeWindows {
  return typeof v === 'object' && v !== null && ['fiveHour', 'sevenDay', 'opus', 'sonnet'].some((k) => k in v);
}

/** The usage endpoint and its control routes, without a server: also mounted by the API stand-in. */
export interface FakeUsageEndpoint extends Omit<FakeUsageServer, 'url' | 'endpoint' | 'port' | 'close'> {
  /** Answers `req` when it is the usage route or a `/__fake/` control route; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The body answered for `token` (undefined for a token it does not know). */
  body(token: string): unknown;
  knows(token: string): boolean;
}

/** The usage endpoint's per-token table and request handling (see the module comment). */
export function createFakeUsageEndpoint(options: Pick<FakeUsageServerOptions, 'clock' | 'requireBeta'> = {}): FakeUsageEndpoint {
  const clock = options.clock ?? Date.now;
  const requireBeta = options.requireBeta ?? true;
  const bodies = new Map<string, unknown>();
  const failures = new Map<string, ActiveFailure>();
  const requests: FakeUsageRequest[] = [];
  /** Requests held by a `hang` failure; answered 503 when their failure is cleared. */
  const hung = new Set<ServerResponse>();
  const releaseHung = (): void => {
    for (const res of hung) send(res, 503, { type: 'error', error: { type: 'api_error', message: 'fake hang released' } });
    hung.clear();
  };

  const setFailure = (token: string, f: FakeFailure): void => {
    const a: ActiveFailure = { ...f };
    if (f.durationMs !== undefined) a.until = clock() + f.durationMs;
    if (f.times !== undefined) a.remaining = f.times;
    failures.set(token, a);
  };
  const activeFailure = (token: string): ActiveFailure | undefined => {
    for (const key of [token, '*']) {
      const f = failures.get(key);
      if (!f) continue;
      if ((f.until !== undefined && clock() >= f.until) || (f.remaining !== undefined && f.remaining <= 0)) {
        failures.delete(key);
        continue;
      }
      return f;
    }
    return undefined;
  };

  const handleUsage = (req: IncomingMessage, res: ServerResponse): void => {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const beta = typeof req.headers['anthropic-beta'] === 'string' ? req.headers['anthropic-beta'] : undefined;
    const record = (status: number): void => {
      requests.push({ token, at: clock(), status, beta });
    };
    if (requireBeta && !(beta ?? '').split(',').map((b) => b.trim()).includes('oauth-2025-04-20')) {
      record(400);
      send(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'missing anthropic-beta: oauth-2025-04-20' } });
      return;
    }
    // A tokenless request (a probe) meets only a server-wide (`*`) failure.
    const failure = activeFailure(token ?? '*');
    if (failure) {
      if (failure.remaining !== undefined) failure.remaining -= 1;
      if (failure.hang) {
        record(0);
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      record(failure.status);
      const headers: Record<string, string> = {};
      if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
      const type = failure.status === 429 ? 'rate_limit_error' : failure.status === 401 ? 'authentication_error' : failure.status === 403 ? 'permission_error' : 'api_error';
      send(res, failure.status, failure.body ?? { type: 'error', error: { type, message: `fake failure ${failure.status}` } }, headers);
      return;
    }
    if (token === undefined || !bodies.has(token)) {
      record(401);
      send(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid bearer token' } });
      return;
    }
    record(200);
    send(res, 200, bodies.get(token));
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const m = /^\/__fake\/(usage|windows|fail|requests)(?:\/(.+))?$/.exec(path);
    const what = m?.[1];
    const token = m?.[2] !== undefined ? decodeURIComponent(m[2]) : undefined;
    if (what === 'requests' && req.method === 'GET') {
      const counts: Record<string, number> = {};
      for (const r of requests) if (r.token !== undefined) counts[r.token] = (counts[r.token] ?? 0) + 1;
      send(res, 200, counts);
      return;
    }
    if (token === undefined) {
      send(res, 404, { error: 'unknown control route' });
      return;
    }
    if (what === 'fail' && req.method === 'DELETE') {
      failures.delete(token);
      releaseHung();
      send(res, 200, { ok: true });
      return;
    }
    const body = await readJson(req);
    if (what === 'usage' && (req.method === 'PUT' || req.method === 'POST')) bodies.set(token, body);
    else if (what === 'windows' && (req.method === 'PUT' || req.method === 'POST') && isWindows(body)) bodies.set(token, usageBody(body, clock()));
    else if (what === 'fail' && req.method === 'POST' && typeof body === 'object' && body !== null && typeof (body as FakeFailure).status === 'number') setFailure(token, body as FakeFailure);
    else {
      send(res, 400, { error: 'bad control request' });
      return;
    }
    send(res, 200, { ok: true });
  };

  return {
    handle: (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path === FAKE_USAGE_PATH && req.method === 'GET') {
        handleUsage(req, res);
        return true;
      }
      if (/^\/__fake\/(usage|windows|fail|requests)(\/|$)/.test(path)) {
        handleControl(req, res, path).catch(() => send(res, 400, { error: 'bad control request' }));
        return true;
      }
      return false;
    },
    body: (token) => bodies.get(token),
    knows: (token) => bodies.has(token),
    setUsage: (token, body) => void bodies.set(token, body),
    setWindows: (token, windows) => void bodies.set(token, usageBody(windows, clock())),
    failFor: setFailure,
    clearFailures: (token) => {
      if (token === undefined) failures.clear();
      else failures.delete(token);
      releaseHung();
    },
    requestCount: (token) => (token === undefined ? requests.length : requests.filter((r) => r.token === token).length),
    requests,
    heldCount: () => hung.size,
  };
}

/** Starts the stand-in on `host:port` (default 127.0.0.1, a free port). */
export async function startFakeUsageServer(options: FakeUsageServerOptions = {}): Promise<FakeUsageServer> {
  const usage = createFakeUsageEndpoint(options);
  const server: Server = createServer((req, res) => {
    if (usage.handle(req, res)) return;
    send(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not found' } });
  });
  server.keepAliveTimeout = 1000;

  const url = await listenHttp(server, options.port, options.host, 'fake usage server');
  return {
    url,
    endpoint: `${url}${FAKE_USAGE_PATH}`,
    port: Number(new URL(url).port),
    setUsage: usage.setUsage,
    setWindows: usage.setWindows,
    failFor: usage.failFor,
    clearFailures: usage.clearFailures,
    requestCount: usage.requestCount,
    requests: usage.requests,
    heldCount: usage.heldCount,
    close: () => closeHttp(server),
  };
}


/** Entry point of the standalone process (see the module comment). Resolves when stopped. */
export async function runFakeUsageServerMain(argv: readonly string[]): Promise<void> {
  const server = await startFakeUsageServer({ host: argValue(argv, '--host') ?? '127.0.0.1', port: Number(argValue(argv, '--port') ?? 0) });
  const seed = argValue(argv, '--seed');
  if (seed) {
    const data = JSON.parse(await readFile(seed, 'utf8')) as Record<string, unknown>;
    for (const [token, v] of Object.entries(data)) {
      if (isWindows(v)) server.setWindows(token, v);
      else server.setUsage(token, v);
    }
  }
  await serveUntilSignal(server, { url: server.url, endpoint: server.endpoint });
}

runIfMain(import.meta.url, 'fake-usage-server', runFakeUsageServerMain);
