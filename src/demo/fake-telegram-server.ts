/**
 * DEMO / TEST STAND-IN for the Telegram Bot API. Not used by the product itself: `make demo` and
 * the tests point a Notifier's `telegram.apiBase` at it, so that no bot, token or network is
 * needed. It speaks the part of the protocol the notifier uses:
 *
 *   POST /bot<token>/sendMessage   JSON {"chat_id", "text", "parse_mode"?, "disable_web_page_preview"?}
 *     → 200 {"ok":true,"result":{"message_id":N,"chat":{"id":…},"date":…,"text":…}}
 *     → 401 {"ok":false,"error_code":401,"description":"Unauthorized"} for a token it does not know
 *     → 400 "Bad Request: chat not found" (when `chats` is given and the chat is not in it),
 *           "Bad Request: message text is empty", "Bad Request: message is too long" (> 4096)
 *     → a scripted failure while one is active: 429 with `parameters.retry_after`, 500, …
 *     → no answer at all for scripted "hang" requests (until the server closes)
 *   GET|POST /bot<token>/getMe     → 200 {"ok":true,"result":{"id":…,"is_bot":true,…}}
 *
 * Control, in-process ({@link FakeTelegramServer}) or over HTTP for a standalone process:
 *   GET    /__fake/messages        → recorded messages (JSON array)
 *   DELETE /__fake/messages        clears them
 *   POST   /__fake/fail            body: {"status":429,"retryAfter":2,"times":1}
 *   POST   /__fake/hang            body: {"times":1}
 *
 * Standalone: `node dist/demo/fake-telegram-server.js --token <t> [--token <t2>] [--chat <id>]
 * [--host 127.0.0.1] [--port 0]` prints one JSON line `{"url":…,"pid":…}` on stdout, then one JSON
 * line per message received (`{"message":{"chatId":…,"text":…}}`), and runs until SIGINT/SIGTERM.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { argValues, listenHttp, runIfMain, serveUntilSignal } from './standalone.js';

export interface FakeTelegramMessage {
  messageId: number;
  /** The bot token the message was sent with. */
  token: string;
  chatId: string | number;
  text: string;
  parseMode: string | undefined;
  disableWebPagePreview: boolean | undefined;
  at: number;
}

export interface FakeTelegramRequest {
  method: string;
  /** Path with the token replaced by `<token>`. */
  path: string;
  status: number | 'hung';
  at: number;
}

export interface FakeTelegramFailure {
  status: number;
  /** Seconds, sent as `parameters.retry_after` (Telegram's way) for a 429. */
  retryAfter?: number;
  /** Also send a `Retry-After` header (Telegram itself does not). */
  retryAfterHeader?: boolean;
  /** Fail this many sendMessage requests, then recover. Default 1. */
  times?: number;
  description?: string;
}

export interface FakeTelegramServerOptions {
  /** Bot tokens it accepts. */
  tokens: readonly string[];
  /** When given, only these chats exist. */
  chats?: readonly (string | number)[];
  host?: string;
  port?: number;
  clock?: () => number;
  /** Called for every message recorded (the standalone process prints them). */
  onMessage?: (m: FakeTelegramMessage) => void;
}

export interface FakeTelegramServer {
  /** `http://127.0.0.1:<port>`: the `apiBase` to configure. */
  readonly url: string;
  readonly port: number;
  readonly messages: readonly FakeTelegramMessage[];
  readonly requests: readonly FakeTelegramRequest[];
  addToken(token: string): void;
  /** The next `times` sendMessage requests fail as described. */
  failNext(failure: FakeTelegramFailure): void;
  /** The next `times` sendMessage requests get no answer until the server closes. */
  hangNext(times?: number): void;
  clearFailures(): void;
  clearMessages(): void;
  /** Forgets messages, requests, failures and hangs. */
  reset(): void;
  /** Resolves with the messages once at least `count` are recorded; rejects after `timeoutMs` (default 5 s). */
  waitForMessages(count: number, timeoutMs?: number): Promise<FakeTelegramMessage[]>;
  close(): Promise<void>;
}

export const TELEGRAM_TEXT_LIMIT = 4096;
const MAX_BODY = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function apiError(res: ServerResponse, status: number, description: string, parameters?: Record<string, unknown>, headers: Record<string, string> = {}): void {
  send(res, status, { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) }, headers);
}

/** Starts the stand-in on `host:port` (default 127.0.0.1, a free port). */
export async function startFakeTelegramServer(options: FakeTelegramServerOptions): Promise<FakeTelegramServer> {
  const clock = options.clock ?? Date.now;
  const tokens = new Set(options.tokens);
  const chats = options.chats ? new Set(options.chats.map(String)) : undefined;
  const messages: FakeTelegramMessage[] = [];
  const requests: FakeTelegramRequest[] = [];
  const failures: (FakeTelegramFailure & { remaining: number })[] = [];
  let hangs = 0;
  let nextId = 1;
  const waiters: { count: number; resolve: (m: FakeTelegramMessage[]) => void }[] = [];

  const record = (m: FakeTelegramMessage): void => {
    messages.push(m);
    options.onMessage?.(m);
    for (const w of [...waiters]) {
      if (messages.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve([...messages]);
      }
    }
  };

  const handleSend = async (req: IncomingMessage, res: ServerResponse, token: string, path: string): Promise<void> => {
    const log = (status: number | 'hung'): void => void requests.push({ method: req.method ?? 'GET', path, status, at: clock() });
    const raw = await readBody(req);
    if (!tokens.has(token)) {
      log(401);
      apiError(res, 401, 'Unauthorized');
      return;
    }
    if (hangs > 0) {
      hangs -= 1;
      log('hung');
      return; // never answered; close() destroys the socket
    }
    const failure = failures[0];
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) failures.shift();
      log(failure.status);
      const params = failure.status === 429 && failure.retryAfter !== undefined ? { retry_after: failure.retryAfter } : undefined;
      const headers: Record<string, string> = failure.retryAfterHeader && failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {};
      const description =
        failure.description ?? (failure.status === 429 ? `Too Many Requests: retry after ${failure.retryAfter ?? 1}` : failure.status >= 500 ? 'Internal Server Error' : 'Bad Request');
      apiError(res, failure.status, description, params, headers);
      return;
    }
    let body: Record<string, unknown>;
    try {
      const ct = req.headers['content-type'] ?? '';
      if (!ct.startsWith('application/json')) throw new Error('not json');
      const v: unknown = JSON.parse(raw);
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      body = v as Record<string, unknown>;
    } catch (_err) {
      log(400);
      apiError(res, 400, 'Bad Request: invalid JSON body');
      return;
    }
    const chatId = body.chat_id;
    if (typeof chatId !== 'string' && typeof chatId !== 'number') {
      log(400);
      apiError(res, 400, 'Bad Request: chat_id is empty');
      return;
    }
    if (chats && !chats.has(String(chatId))) {
      log(400);
      apiError(res, 400, 'Bad Request: chat not found');
      return;
    }
    const text = body.text;
    if (typeof text !== 'string' || text.trim() === '') {
      log(400);
      apiError(res, 400, 'Bad Request: message text is empty');
      return;
    }
    if (text.length > TELEGRAM_TEXT_LIMIT) {
      log(400);
      apiError(res, 400, 'Bad Request: message is too long');
      return;
    }
    const parseMode = typeof body.parse_mode === 'string' ? body.parse_mode : undefined;
    if (parseMode !== undefined && !['HTML', 'MarkdownV2', 'Markdown'].includes(parseMode)) {
      log(400);
      apiError(res, 400, `Bad Request: unsupported parse_mode`);
      return;
    }
    const messageId = nextId++;
    const at = clock();
    log(200);
    record({
      messageId,
      token,
      chatId,
      text,
      parseMode,
      disableWebPagePreview: typeof body.disable_web_page_preview === 'boolean' ? body.disable_web_page_preview : undefined,
      at,
    });
    send(res, 200, { ok: true, result: { message_id: messageId, date: Math.floor(at / 1000), chat: { id: chatId, type: 'private' }, text } });
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/__fake/messages' && req.method === 'GET') return send(res, 200, messages);
    if (path === '/__fake/messages' && req.method === 'DELETE') {
      messages.length = 0;
      return send(res, 200, { ok: true });
    }
    const raw = await readBody(req);
    const body = (raw.trim() === '' ? {} : JSON.parse(raw)) as Record<string, unknown>;
    if (path === '/__fake/fail' && req.method === 'POST' && typeof body.status === 'number') {
      failNext(body as unknown as FakeTelegramFailure);
      return send(res, 200, { ok: true });
    }
    if (path === '/__fake/hang' && req.method === 'POST') {
      hangs += typeof body.times === 'number' ? body.times : 1;
      return send(res, 200, { ok: true });
    }
    send(res, 404, { error: 'unknown control route' });
  };

  const failNext = (f: FakeTelegramFailure): void => {
    failures.push({ ...f, remaining: f.times ?? 1 });
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(path);
    if (m) {
      const token = decodeURIComponent(m[1] ?? '');
      const method = m[2] ?? '';
      const safePath = `/bot<token>/${method}`;
      if (method === 'sendMessage' && req.method === 'POST') {
        handleSend(req, res, token, safePath).catch(() => apiError(res, 400, 'Bad Request'));
        return;
      }
      if (method === 'getMe') {
        requests.push({ method: req.method ?? 'GET', path: safePath, status: tokens.has(token) ? 200 : 401, at: clock() });
        if (!tokens.has(token)) return apiError(res, 401, 'Unauthorized');
        send(res, 200, { ok: true, result: { id: Number(token.split(':')[0]) || 1, is_bot: true, first_name: 'claude-failover fake bot', username: 'cf_fake_bot' } });
        return;
      }
      apiError(res, 404, 'Not Found');
      return;
    }
    if (path.startsWith('/__fake/')) {
      handleControl(req, res, path).catch(() => send(res, 400, { error: 'bad control request' }));
      return;
    }
    apiError(res, 404, 'Not Found');
  });
  server.keepAliveTimeout = 1000;

  const baseUrl = await listenHttp(server, options.port, options.host, 'fake telegram server');

  return {
    url: baseUrl,
    port: Number(new URL(baseUrl).port),
    messages,
    requests,
    addToken: (t) => void tokens.add(t),
    failNext,
    hangNext: (times = 1) => {
      hangs += times;
    },
    clearFailures: () => {
      failures.length = 0;
      hangs = 0;
    },
    clearMessages: () => {
      messages.length = 0;
    },
    reset: () => {
      messages.length = 0;
      requests.length = 0;
      failures.length = 0;
      hangs = 0;
    },
    waitForMessages: (count, timeoutMs = 5000) =>
      new Promise<FakeTelegramMessage[]>((resolve, reject) => {
        if (messages.length >= count) return resolve([...messages]);
        const timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`fake telegram server: ${messages.length} message(s) after ${timeoutMs} ms, wanted ${count}: ${JSON.stringify(messages.map((x) => x.text))}`));
        }, timeoutMs);
        const w = {
          count,
          resolve: (m: FakeTelegramMessage[]) => {
            clearTimeout(timer);
            resolve(m);
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
export async function runFakeTelegramServerMain(argv: readonly string[]): Promise<void> {
  const chats = argValues(argv, '--chat');
  const server = await startFakeTelegramServer({
    tokens: argValues(argv, '--token'),
    ...(chats.length > 0 ? { chats } : {}),
    host: argValues(argv, '--host')[0] ?? '127.0.0.1',
    port: Number(argValues(argv, '--port')[0] ?? 0),
    onMessage: (m) => process.stdout.write(`${JSON.stringify({ message: { chatId: m.chatId, text: m.text, at: new Date(m.at).toISOString() } })}\n`),
  });
  await serveUntilSignal(server, { url: server.url });
}

runIfMain(import.meta.url, 'fake-telegram-server', runFakeTelegramServerMain);
