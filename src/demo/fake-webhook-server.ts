/**
 * DEMO / TEST STAND-IN for a webhook receiver. Not used by the product itself: `make demo` and the
 * tests point a Notifier's `webhook.url` at it. It does what a careful receiver does:
 *
 *   POST <any path>   records method, path, headers and the raw body (plus the parsed JSON);
 *     with a `secret`: checks `X-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` in
 *     constant time (its own implementation, independent of the product's signer) and answers
 *     401 when it is missing or wrong (unless `rejectBadSignatures: false`)
 *     → 204 on success
 *     → a scripted failure while one is active: any status, optional `Retry-After`
 *     → no answer at all for scripted "hang" requests (until the server closes)
 *
 * Control, in-process ({@link FakeWebhookServer}) or over HTTP for a standalone process:
 *   GET    /__fake/requests   → recorded requests (JSON array)
 *   DELETE /__fake/requests   clears them
 *   POST   /__fake/fail       body: {"status":503,"retryAfter":"1","times":2}
 *   POST   /__fake/hang       body: {"times":1}
 *
 * Standalone: `node dist/demo/fake-webhook-server.js [--secret-file PATH] [--host 127.0.0.1]
 * [--port 0]` (or the secret in env FAKE_WEBHOOK_SECRET) prints one JSON line `{"url":…,"pid":…}`,
 * then one JSON line per request (`{"request":{"path":…,"signatureValid":…,"body":…}}`), and runs
 * until SIGINT/SIGTERM.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { argValue, listenHttp, runIfMain, serveUntilSignal } from './standalone.js';

export interface FakeWebhookRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received. */
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** Signature check result; undefined when the server has no secret. */
  signatureValid: boolean | undefined;
  status: number | 'hung';
  at: number;
}

export interface FakeWebhookFailure {
  status: number;
  /** Sent verbatim as `Retry-After`. */
  retryAfter?: string | number;
  /** Fail this many requests, then recover. Default 1. */
  times?: number;
}

export interface FakeWebhookServerOptions {
  /** HMAC key shared with the sender. */
  secret?: string;
  /** Answer 401 to a missing or wrong signature (when a secret is set). Default true. */
  rejectBadSignatures?: boolean;
  host?: string;
  port?: number;
  clock?: () => number;
  onRequest?: (r: FakeWebhookRequest) => void;
}

export interface FakeWebhookServer {
  /** `http://127.0.0.1:<port>`; any path is accepted, e.g. `${url}/hooks/cf`. */
  readonly url: string;
  readonly port: number;
  /** Every POST received, failed and hung ones included. */
  readonly requests: readonly FakeWebhookRequest[];
  /** The POSTs answered 2xx. */
  deliveries(): FakeWebhookRequest[];
  failNext(failure: FakeWebhookFailure): void;
  hangNext(times?: number): void;
  clearFailures(): void;
  clearRequests(): void;
  /** Forgets requests, failures and hangs. */
  reset(): void;
  /** Resolves once at least `count` deliveries (2xx) are recorded; rejects after `timeoutMs` (default 5 s). */
  waitForDeliveries(count: number, timeoutMs?: number): Promise<FakeWebhookRequest[]>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** The receiver's own check of `X-Signature-256` (GitHub's scheme). */
export function checkSignature(rawBody: Buffer, secret: string, header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || !value.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(rawBody).digest('hex'), 'utf8');
  const got = Buffer.from(value.slice('sha256='.length), 'utf8');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Starts the stand-in on `host:port` (default 127.0.0.1, a free port). */
export async function startFakeWebhookServer(options: FakeWebhookServerOptions = {}): Promise<FakeWebhookServer> {
  const clock = options.clock ?? Date.now;
  const reject401 = options.rejectBadSignatures ?? true;
  const requests: FakeWebhookRequest[] = [];
  const failures: (FakeWebhookFailure & { remaining: number })[] = [];
  let hangs = 0;
  const waiters: { count: number; resolve: (r: FakeWebhookRequest[]) => void }[] = [];
  const deliveries = (): FakeWebhookRequest[] => requests.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300);

  const record = (r: FakeWebhookRequest): void => {
    requests.push(r);
    options.onRequest?.(r);
    const ok = deliveries();
    for (const w of [...waiters]) {
      if (ok.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(ok);
      }
    }
  };

  const handleHook = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const raw = await readRaw(req);
    const body = raw.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (_err) {
      json = undefined;
    }
    const signatureValid = options.secret !== undefined ? checkSignature(raw, options.secret, req.headers['x-signature-256']) : undefined;
    const base = { method: req.method ?? 'POST', path, headers: req.headers, body, json, signatureValid, at: clock() };
    if (hangs > 0) {
      hangs -= 1;
      record({ ...base, status: 'hung' });
      return;
    }
    const failure = failures[0];
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) failures.shift();
      record({ ...base, status: failure.status });
      send(res, failure.status, { error: `fake failure ${failure.status}` }, failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {});
      return;
    }
    if (signatureValid === false && reject401) {
      record({ ...base, status: 401 });
      send(res, 401, { error: 'bad signature' });
      return;
    }
    record({ ...base, status: 204 });
    send(res, 204);
  };

  const failNext = (f: FakeWebhookFailure): void => {
    failures.push({ ...f, remaining: f.times ?? 1 });
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/__fake/requests' && req.method === 'GET') return send(res, 200, requests);
    if (path === '/__fake/requests' && req.method === 'DELETE') {
      requests.length = 0;
      return send(res, 200, { ok: true });
    }
    const raw = (await readRaw(req)).toString('utf8');
    const body = (raw.trim() === '' ? {} : JSON.parse(raw)) as Record<string, unknown>;
    if (path === '/__fake/fail' && req.method === 'POST' && typeof body.status === 'number') {
      failNext(body as unknown as FakeWebhookFailure);
      return send(res, 200, { ok: true });
    }
    if (path === '/__fake/hang' && req.method === 'POST') {
      hangs += typeof body.times === 'number' ? body.times : 1;
      return send(res, 200, { ok: true });
    }
    send(res, 404, { error: 'unknown control route' });
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/__fake/')) {
      handleControl(req, res, path).catch(() => send(res, 400, { error: 'bad control request' }));
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, { error: 'POST only' }, { allow: 'POST' });
      return;
    }
    handleHook(req, res, path).catch(() => send(res, 400, { error: 'bad request' }));
  });
  server.keepAliveTimeout = 1000;

  const baseUrl = await listenHttp(server, options.port, options.host, 'fake webhook server');

  return {
    url: baseUrl,
    port: Number(new URL(baseUrl).port),
    requests,
    deliveries,
    failNext,
    hangNext: (times = 1) => {
      hangs += times;
    },
    clearFailures: () => {
      failures.length = 0;
      hangs = 0;
    },
    clearRequests: () => {
      requests.length = 0;
    },
    reset: () => {
      requests.length = 0;
      failures.length = 0;
      hangs = 0;
    },
    waitForDeliveries: (count, timeoutMs = 5000) =>
      new Promise<FakeWebhookRequest[]>((resolve, reject) => {
        const now = deliveries();
        if (now.length >= count) return resolve(now);
        const timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`fake webhook server: ${deliveries().length} delivery(ies) after ${timeoutMs} ms, wanted ${count} (${requests.length} request(s) in all)`));
        }, timeoutMs);
        const w = {
          count,
          resolve: (r: FakeWebhookRequest[]) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        waiters.push(w);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}


/** Entry point of the standalone process (see the module comment). Resolves when stopped. */
export async function runFakeWebhookServerMain(argv: readonly string[]): Promise<void> {
  const secretFile = argValue(argv, '--secret-file');
  const secret = secretFile !== undefined ? readFileSync(secretFile, 'utf8').replace(/(?:\r?\n)+$/, '') : process.env.FAKE_WEBHOOK_SECRET;
  const server = await startFakeWebhookServer({
    ...(secret ? { secret } : {}),
    host: argValue(argv, '--host') ?? '127.0.0.1',
    port: Number(argValue(argv, '--port') ?? 0),
    onRequest: (r) => process.stdout.write(`${JSON.stringify({ request: { path: r.path, status: r.status, signatureValid: r.signatureValid, body: r.json ?? r.body } })}\n`),
  });
  await serveUntilSignal(server, { url: server.url });
}

runIfMain(import.meta.url, 'fake-webhook-server', runFakeWebhookServerMain);
