/**
 * DEMO / TEST STAND-IN for the Anthropic API, as the real Claude Code CLI uses it. Not used by the
 * product itself: the conformance tests and `make demo CLAUDE=real` start it on 127.0.0.1 and
 * point the CLI at it with `ANTHROPIC_BASE_URL`, so the real client runs without account, token
 * or network. What it speaks:
 *
 *   HEAD /                                  → 200 (the CLI's connectivity probe)
 *   POST /v1/messages[?beta=true]           → a scripted turn, streamed (SSE: message_start,
 *                                             content_block_start/delta/stop, message_delta,
 *                                             message_stop) or as one JSON message
 *   POST /v1/messages/count_tokens          → {"input_tokens": N}
 *   GET  /api/oauth/usage                   → the usage endpoint (src/demo/fake-usage-server.ts),
 *                                             with its /__fake/ control routes
 *
 * Auth: `Authorization: Bearer <token>` (the OAuth access token of the account's
 * `.credentials.json`) or `x-api-key`. A token without a usage table gets 401.
 *
 * Quota: one usage table per token drives both the usage endpoint's body and the unified
 * rate-limit headers sent on every /v1/messages answer (`anthropic-ratelimit-unified-status`,
 * `-5h-utilization`/`-7d-utilization` as fractions, `-5h-reset`/`-7d-reset`/`-reset` in epoch
 * seconds, `-representative-claim`, `-fallback`, `-overage-status`). A window at or over 100 %
 * answers the quota rejection: 429 `rate_limit_error` with those headers (status `rejected`).
 * {@link FakeAnthropicServer.setApiWindows} overrides what the API sees for one token without
 * changing the usage endpoint, so the two sources can disagree.
 *
 * Turns: the answer to a turn comes from the first rule ({@link FakeAnthropicServer.onPrompt})
 * matching the prompt, else from the prompt's own `#sim` directives (the simulator's language,
 * src/sim/directives.ts: `#sim bash <cmd>`, `#sim write <path> <content>`, `#sim tool <name>
 * <json input>`, `#sim print <text>`, `#sim work <ms>`, `#sim fail <error>`), else
 * `Done: <first line of the prompt>`. A turn with tool calls answers one tool_use per request and
 * continues when the CLI sends its tool_result. Every request is logged ({@link FakeApiRequest}).
 *
 * Standalone: `node dist/demo/fake-anthropic-server.js [--host 127.0.0.1] [--port 0] [--seed f.json]
 * [--turn-ms N]` prints `{"url":…,"usageEndpoint":…,"pid":…}` and runs until SIGINT/SIGTERM.
 * `--seed` maps token → windows (`{"fiveHour":…,"sevenDay":…}`). Extra control routes:
 * `PUT /__fake/api-windows/<token>` (windows the API alone sees; `null` clears) and
 * `GET /__fake/api-requests` (the request log without message bodies).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parsePrompt } from '../sim/directives.js';
import { createFakeUsageEndpoint, FAKE_USAGE_PATH, readJson, send, usageBody, type FakeUsageEndpoint, type FakeWindows } from './fake-usage-server.js';
import { argValue, closeHttp, listenHttp, runIfMain, serveUntilSignal } from './standalone.js';

/** A tool call the API asks the CLI to make (`Bash`, `Write`, `mcp__<server>__<tool>`, …). */
export interface FakeToolCall {
  name: string;
  input: Record<string, unknown>;
}

/** API errors a turn can end on (the kinds of Claude Code's `StopFailure`). */
export type FakeApiErrorKind = 'rate_limit' | 'overloaded' | 'server_error' | 'authentication_failed' | 'billing_error' | 'invalid_request';

export interface FakeTurn {
  /** Tool calls, one per response, each after the previous one's tool_result arrived. */
  tools?: FakeToolCall[];
  /** The final answer; default `Done: <first line of the prompt>`. */
  text?: string;
  /** How long each response of the turn takes before its content (default: the server's turnMs). */
  durationMs?: number;
  /** Answer the turn's first request with this API error instead (`rate_limit`: the quota 429). */
  error?: FakeApiErrorKind;
}

export type FakePromptMatch = string | RegExp | ((prompt: string, request: FakeApiRequest) => boolean);

export interface FakeRuleOptions {
  /** Only for requests with this token. */
  token?: string;
  /** Use the rule for this many turns, then drop it (default: forever). */
  times?: number;
}

/** One request the stand-in received, as tests assert on it. */
export interface FakeApiRequest {
  seq: number;
  at: number;
  method: string;
  path: string;
  /** Bearer token or x-api-key. */
  token?: string;
  /** `x-claude-code-session-id`: the conversation the request belongs to. */
  sessionId?: string;
  userAgent?: string;
  /** `turn`: a main-loop request (it offers tools); `side`: any other /v1/messages request. */
  kind: 'turn' | 'side' | 'count_tokens' | 'probe' | 'usage' | 'other';
  status: number;
  model?: string;
  stream?: boolean;
  messages?: FakeMessage[];
  /** Text of the last user prompt in `messages` (system reminders left out). */
  prompt?: string;
  /** Index of that prompt among the turn's requests: 0 = the prompt itself, 1 = after the first tool result, … */
  step?: number;
  /** The tool results sent since the last answer (what the CLI reports back). */
  toolResults?: FakeToolResult[];
  /** What was answered: the tool call, the text, or the error. */
  answered?: { tool?: FakeToolCall; text?: string; error?: string };
}

export interface FakeMessage {
  role: string;
  content: string | FakeContentBlock[];
}

export interface FakeContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

export interface FakeToolResult {
  toolUseId: string;
  text: string;
  isError: boolean;
}

export interface FakeAnthropicServerOptions {
  host?: string;
  port?: number;
  /** Epoch-ms clock (default reset times). Default Date.now. */
  clock?: () => number;
  /** Default duration of a response (ms). Default 0. */
  turnMs?: number;
  /** Utilization (fraction) from which the status is `allowed_warning`. Default 0.9. */
  warnAt?: number;
}

export interface FakeAnthropicServer {
  /** `http://127.0.0.1:<port>`: the CLI's ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** `url` + `/api/oauth/usage`: the Account's usageEndpoint. */
  readonly usageEndpoint: string;
  readonly port: number;
  /** The usage endpoint (its own request log, failures, raw bodies). */
  readonly usage: Omit<FakeUsageEndpoint, 'handle'>;
  /** Sets a token's usage (percent) for the usage endpoint and the API alike; the token becomes known. */
  setWindows(token: string, windows: FakeWindows): void;
  /** What the API alone sees for `token` (headers, 429), whatever the usage endpoint says; null clears. */
  setApiWindows(token: string, windows: FakeWindows | null): void;
  /** Adds a rule: prompts matching `match` get `turn`. Rules are tried in the order added. */
  onPrompt(match: FakePromptMatch, turn: FakeTurn, options?: FakeRuleOptions): void;
  clearRules(): void;
  readonly requests: readonly FakeApiRequest[];
  /** Resolves with the first logged request (past or future) matching `pred`; rejects after `timeoutMs`. */
  waitForRequest(pred: (r: FakeApiRequest) => boolean, timeoutMs?: number, what?: string): Promise<FakeApiRequest>;
  close(): Promise<void>;
}

interface Rule extends FakeRuleOptions {
  match: FakePromptMatch;
  turn: FakeTurn;
}

const ERRORS: Record<FakeApiErrorKind, { status: number; type: string; message: string }> = {
  rate_limit: { status: 429, type: 'rate_limit_error', message: 'This request would exceed your account\'s rate limit. Please try again later.' },
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded' },
  server_error: { status: 500, type: 'api_error', message: 'Internal server error' },
  authentication_failed: { status: 401, type: 'authentication_error', message: 'OAuth token has expired. Please obtain a new token or refresh your existing token.' },
  billing_error: { status: 400, type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' },
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'invalid request' },
};

/** The text blocks of a message that are not Claude Code's `<system-reminder>` additions. */
export function messageText(m: FakeMessage): string {
  if (typeof m.content === 'string') return m.content;
  return m.content
    .filter((b) => b.type === 'text' && typeof b.text === 'string' && !b.text.trimStart().startsWith('<system-reminder>'))
    .map((b) => b.text as string)
    .join('\n');
}

function isPromptMessage(m: FakeMessage): boolean {
  if (m.role !== 'user') return false;
  if (typeof m.content === 'string') return true;
  return !m.content.some((b) => b.type === 'tool_result') && messageText(m) !== '';
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c === 'object' && typeof (c as FakeContentBlock).text === 'string' ? (c as FakeContentBlock).text : '')).join('');
  return '';
}

/** Where a conversation stands: the last prompt, and how many tool calls were answered since. */
export function turnPosition(messages: readonly FakeMessage[]): { prompt: string; promptIndex: number; step: number; toolResults: FakeToolResult[] } | undefined {
  let i = messages.length - 1;
  while (i >= 0 && !isPromptMessage(messages[i] as FakeMessage)) i--;
  if (i < 0) return undefined;
  let step = 0;
  for (const m of messages.slice(i + 1)) if (m.role === 'assistant' && Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_use')) step++;
  // The results of the last answer's tool calls: every tool_result after the last assistant message.
  let lastAssistant = messages.length - 1;
  while (lastAssistant >= 0 && messages[lastAssistant]?.role !== 'assistant') lastAssistant--;
  const toolResults = messages.slice(lastAssistant + 1).flatMap((m) => (m.role === 'user' && Array.isArray(m.content) ? m.content : []))
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({ toolUseId: b.tool_use_id ?? '', text: resultText(b.content), isError: b.is_error === true }));
  return { prompt: messageText(messages[i] as FakeMessage), promptIndex: i, step, toolResults };
}

/**
 * A prompt without the `<pasted_content id="…">` … `</pasted_content id="…">` wrappers Claude Code
 * puts around a pasted text of more than 800 characters or 3 lines.
 */
export function unwrapPasted(prompt: string): string {
  return prompt.replace(/<pasted_content id="[^"]*">\n?/g, '').replace(/\n?<\/pasted_content id="[^"]*">/g, '').trim();
}

/** The first non-empty line of a prompt's own text (wrappers and directives left out). */
export function firstLine(prompt: string): string {
  return parsePrompt(unwrapPasted(prompt)).taskText.split('\n')[0]?.trim().slice(0, 200) || 'ok';
}

/** The turn a prompt's `#sim` directives describe (undefined when it has none the API can act on). */
export function turnFromDirectives(prompt: string): FakeTurn | undefined {
  const { directives } = parsePrompt(unwrapPasted(prompt));
  const turn: FakeTurn = {};
  const tools: FakeToolCall[] = [];
  const printed: string[] = [];
  let acted = false;
  for (const d of directives) {
    if (d.kind === 'bash') tools.push({ name: 'Bash', input: { command: d.command, description: `Run ${d.command.slice(0, 60)}` } });
    else if (d.kind === 'write') tools.push({ name: 'Write', input: { file_path: d.path, content: d.content } });
    else if (d.kind === 'print') printed.push(d.text);
    else if (d.kind === 'work') turn.durationMs = d.ms;
    else if (d.kind === 'fail') turn.error = d.error;
    else continue;
    acted = true;
  }
  // `#sim tool <name> <json>`: any tool, e.g. an MCP server's (not a simulator directive).
  for (const line of unwrapPasted(prompt).split(/\r\n|\r|\n/)) {
    const m = /^[ \t]*#sim[ \t]+tool[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
    if (!m) continue;
    let input: unknown = {};
    try {
      input = m[2] ? JSON.parse(m[2]) : {};
    } catch {
      input = { raw: m[2] };
    }
    tools.push({ name: m[1] as string, input: input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : { value: input } });
    acted = true;
  }
  if (!acted) return undefined;
  if (tools.length > 0) turn.tools = tools;
  turn.text = printed.length > 0 ? printed.join('\n') : `Done: ${firstLine(prompt)}`;
  return turn;
}

function epochSeconds(iso: unknown, fallbackMs: number): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Math.floor((Number.isFinite(ms) ? ms : fallbackMs) / 1000);
}

/** The unified rate-limit headers for a usage body (the endpoint's shape, percentages). */
export function rateLimitHeaders(body: unknown, nowMs: number, warnAt = 0.9): { headers: Record<string, string>; rejected: boolean } {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, { utilization?: unknown; resets_at?: unknown } | null | undefined>;
  const win = (key: string, fallbackMs: number) => {
    const w = b[key];
    const u = typeof w?.utilization === 'number' ? w.utilization / 100 : 0;
    return { u, reset: epochSeconds(w?.resets_at, fallbackMs) };
  };
  const five = win('five_hour', nowMs + 5 * 3_600_000);
  const seven = win('seven_day', nowMs + 7 * 86_400_000);
  const rejected = five.u >= 1 || seven.u >= 1;
  // The claim that decides: the rejected window (weekly first), else the fuller one.
  const claim = seven.u >= 1 || (five.u < 1 && seven.u > five.u) ? 'seven_day' : 'five_hour';
  const rep = claim === 'seven_day' ? seven : five;
  const status = rejected ? 'rejected' : Math.max(five.u, seven.u) >= warnAt ? 'allowed_warning' : 'allowed';
  const fmt = (u: number) => String(Math.round(u * 10_000) / 10_000);
  return {
    rejected,
    headers: {
      'anthropic-ratelimit-unified-status': status,
      'anthropic-ratelimit-unified-5h-status': five.u >= 1 ? 'rejected' : five.u >= warnAt ? 'allowed_warning' : 'allowed',
      'anthropic-ratelimit-unified-5h-utilization': fmt(five.u),
      'anthropic-ratelimit-unified-5h-reset': String(five.reset),
      'anthropic-ratelimit-unified-7d-status': seven.u >= 1 ? 'rejected' : seven.u >= warnAt ? 'allowed_warning' : 'allowed',
      'anthropic-ratelimit-unified-7d-utilization': fmt(seven.u),
      'anthropic-ratelimit-unified-7d-reset': String(seven.reset),
      'anthropic-ratelimit-unified-reset': String(rep.reset),
      'anthropic-ratelimit-unified-representative-claim': claim,
      'anthropic-ratelimit-unified-fallback': 'unavailable',
      'anthropic-ratelimit-unified-overage-status': 'rejected',
      'anthropic-ratelimit-unified-overage-disabled-reason': 'org_level_disabled',
    },
  };
}

function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function matches(rule: Rule, prompt: string, r: FakeApiRequest): boolean {
  if (rule.token !== undefined && rule.token !== r.token) return false;
  if (typeof rule.match === 'string') return prompt.includes(rule.match);
  if (rule.match instanceof RegExp) return rule.match.test(prompt);
  return rule.match(prompt, r);
}

/** Starts the stand-in on `host:port` (default 127.0.0.1, a free port). */
export async function startFakeAnthropicServer(options: FakeAnthropicServerOptions = {}): Promise<FakeAnthropicServer> {
  const clock = options.clock ?? Date.now;
  const usage = createFakeUsageEndpoint({ clock });
  const apiBodies = new Map<string, unknown>();
  const rules: Rule[] = [];
  // The turn chosen for a prompt, kept for its later steps (a rule with `times` is used up at step 0).
  const chosen = new Map<string, FakeTurn>();
  const requests: FakeApiRequest[] = [];
  const logged = new EventEmitter();
  logged.setMaxListeners(0);
  let seq = 0;
  let ids = 0;
  const nonce = randomBytes(3).toString('hex');

  const apiBody = (token: string): unknown => (apiBodies.has(token) ? apiBodies.get(token) : usage.body(token));
  const knows = (token: string | undefined): token is string => token !== undefined && (usage.knows(token) || apiBodies.has(token));

  const log = (r: FakeApiRequest): void => {
    requests.push(r);
    logged.emit('request', r);
  };

  const turnFor = (r: FakeApiRequest, key: string, prompt: string): FakeTurn => {
    const kept = chosen.get(key);
    if (kept) return kept;
    let turn: FakeTurn | undefined;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as Rule;
      if (!matches(rule, prompt, r)) continue;
      turn = rule.turn;
      if (rule.times !== undefined && --rule.times <= 0) rules.splice(i, 1);
      break;
    }
    turn ??= turnFromDirectives(prompt) ?? { text: `Done: ${firstLine(prompt)}` };
    chosen.set(key, turn);
    return turn;
  };

  const answerMessages = async (req: IncomingMessage, res: ServerResponse, r: FakeApiRequest, body: Record<string, unknown>): Promise<void> => {
    const token = r.token as string;
    const { headers, rejected } = rateLimitHeaders(apiBody(token), clock(), options.warnAt);
    const messages = Array.isArray(body.messages) ? (body.messages as FakeMessage[]) : [];
    r.messages = messages;
    r.model = typeof body.model === 'string' ? body.model : undefined;
    r.stream = body.stream === true;
    const tools = Array.isArray(body.tools) ? body.tools : [];
    r.kind = tools.length > 0 ? 'turn' : 'side';
    const pos = turnPosition(messages);
    if (pos) {
      r.prompt = pos.prompt;
      r.step = pos.step;
      r.toolResults = pos.toolResults;
    }
    const error = (kind: FakeApiErrorKind): void => {
      const e = ERRORS[kind];
      const h = kind === 'rate_limit' ? { ...headers, 'anthropic-ratelimit-unified-status': 'rejected', 'retry-after': String(Math.max(1, Number(headers['anthropic-ratelimit-unified-reset']) - Math.floor(clock() / 1000))) } : headers;
      r.status = e.status;
      r.answered = { error: kind };
      log(r);
      send(res, e.status, { type: 'error', error: { type: e.type, message: e.message }, request_id: `req_fake_${r.seq}` }, { ...h, 'request-id': `req_fake_${r.seq}` });
    };
    if (rejected) return error('rate_limit');

    let turn: FakeTurn;
    if (r.kind === 'side' || !pos) {
      turn = { text: 'ok', durationMs: 0 };
    } else {
      turn = turnFor(r, `${r.sessionId ?? ''}\u0000${pos.promptIndex}\u0000${pos.prompt}`, pos.prompt);
      if (turn.error && pos.step === 0) return error(turn.error);
    }
    const step = pos?.step ?? 0;
    const tool = r.kind === 'turn' ? turn.tools?.[step] : undefined;
    const text = tool ? undefined : turn.text ?? 'ok';
    r.status = 200;
    r.answered = tool ? { tool } : { text: text as string };
    log(r);

    const durationMs = turn.durationMs ?? options.turnMs ?? 0;
    const id = `msg_fake_${nonce}_${r.seq}`;
    const toolId = `toolu_fake_${nonce}_${++ids}`;
    const content: FakeContentBlock[] = tool ? [{ type: 'tool_use', id: toolId, name: tool.name, input: tool.input }] : [{ type: 'text', text }];
    const stopReason = tool ? 'tool_use' : 'end_turn';
    const outputTokens = Math.max(1, Math.ceil(JSON.stringify(content).length / 4));
    const inputTokens = Math.max(1, Math.ceil(JSON.stringify(messages).length / 4));
    const common = { 'request-id': `req_fake_${r.seq}`, ...headers };
    let closed = false;
    res.on('close', () => (closed = true));
    const wait = (ms: number) => new Promise<void>((resolve) => {
      if (ms <= 0) return resolve();
      const t = setTimeout(resolve, ms);
      res.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });

    if (!r.stream) {
      await wait(durationMs);
      if (closed) return;
      send(res, 200, { id, type: 'message', role: 'assistant', model: r.model ?? 'claude-fake', content, stop_reason: stopReason, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: outputTokens } }, common);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...common });
    const event = (type: string, data: Record<string, unknown>): void => {
      if (!closed) res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    };
    event('message_start', { message: { id, type: 'message', role: 'assistant', model: r.model ?? 'claude-fake', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } });
    // A long turn: pings keep the stream alive, as the real API does.
    for (let left = durationMs; left > 0 && !closed; left -= 1000) {
      await wait(Math.min(1000, left));
      event('ping', {});
    }
    if (closed) return;
    if (tool) {
      event('content_block_start', { index: 0, content_block: { type: 'tool_use', id: toolId, name: tool.name, input: {} } });
      event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(tool.input) } });
    } else {
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
    }
    event('content_block_stop', { index: 0 });
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
    event('message_stop', {});
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/__fake/')) {
      if (!usage.handle(req, res)) await handleControl(req, res, path);
      return;
    }
    const token = tokenOf(req);
    const sessionId = header(req, 'x-claude-code-session-id');
    const userAgent = header(req, 'user-agent');
    const r: FakeApiRequest = { seq: ++seq, at: clock(), method: req.method ?? 'GET', path, kind: 'other', status: 0, ...(token !== undefined ? { token } : {}), ...(sessionId !== undefined ? { sessionId } : {}), ...(userAgent !== undefined ? { userAgent } : {}) };
    if (path === FAKE_USAGE_PATH) {
      r.kind = 'usage';
      res.on('finish', () => {
        r.status = res.statusCode;
        log(r);
      });
    }
    if (usage.handle(req, res)) return;
    if (req.method === 'HEAD' || (req.method === 'GET' && path === '/')) {
      r.kind = 'probe';
      r.status = 200;
      log(r);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'ok');
      return;
    }
    const isMessages = req.method === 'POST' && path === '/v1/messages';
    const isCount = req.method === 'POST' && path === '/v1/messages/count_tokens';
    if (!isMessages && !isCount) {
      r.status = 404;
      log(r);
      send(res, 404, { type: 'error', error: { type: 'not_found_error', message: `Not found: ${req.method} ${path}` } });
      return;
    }
    let body: Record<string, unknown>;
    try {
      const v = await readJson(req);
      body = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      r.status = 400;
      log(r);
      send(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } });
      return;
    }
    if (!knows(token)) {
      r.kind = isCount ? 'count_tokens' : 'side';
      r.status = 401;
      log(r);
      send(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'Invalid bearer token' } });
      return;
    }
    if (isCount) {
      r.kind = 'count_tokens';
      r.status = 200;
      log(r);
      send(res, 200, { input_tokens: Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4)) });
      return;
    }
    await answerMessages(req, res, r, body);
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const m = /^\/__fake\/api-windows\/(.+)$/.exec(path);
    if (m && (req.method === 'PUT' || req.method === 'POST')) {
      const body = await readJson(req).catch(() => undefined);
      const token = decodeURIComponent(m[1] as string);
      if (body === null) apiBodies.delete(token);
      else if (body && typeof body === 'object') apiBodies.set(token, usageBody(body as FakeWindows, clock()));
      else return send(res, 400, { error: 'bad control request' });
      return send(res, 200, { ok: true });
    }
    if (path === '/__fake/api-requests' && req.method === 'GET') {
      return send(res, 200, requests.map(({ messages: _m, ...rest }) => rest));
    }
    send(res, 404, { error: 'unknown control route' });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { type: 'error', error: { type: 'api_error', message: (err as Error).message } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const url = await listenHttp(server, options.port, options.host, 'fake Anthropic API');

  return {
    url,
    usageEndpoint: `${url}${FAKE_USAGE_PATH}`,
    port: Number(new URL(url).port),
    usage,
    setWindows: (token, windows) => {
      usage.setWindows(token, windows);
      apiBodies.delete(token);
    },
    setApiWindows: (token, windows) => {
      if (windows === null) apiBodies.delete(token);
      else apiBodies.set(token, usageBody(windows, clock()));
    },
    onPrompt: (match, turn, opts = {}) => void rules.push({ match, turn, ...opts }),
    clearRules: () => void rules.splice(0),
    requests,
    waitForRequest: (pred, timeoutMs = 30_000, what = 'request') =>
      new Promise<FakeApiRequest>((resolve, reject) => {
        const hit = requests.find(pred);
        if (hit) return resolve(hit);
        const timer = setTimeout(() => {
          logged.off('request', on);
          const api = requests.filter((x) => x.kind !== 'usage');
          const seen = api.slice(-12).map((x) => `#${x.seq} ${x.method} ${x.path} ${x.kind} ${x.status}${x.step !== undefined ? ` step ${x.step}` : ''}${x.prompt !== undefined ? ` ${JSON.stringify(x.prompt.slice(0, 60))}` : ''}`);
          reject(new Error(`${what}: no matching API request within ${timeoutMs} ms (${requests.length - api.length} usage polls and ${api.length} other requests: ${seen.join('; ') || 'none'})`));
        }, timeoutMs);
        const on = (x: FakeApiRequest): void => {
          if (!pred(x)) return;
          clearTimeout(timer);
          logged.off('request', on);
          resolve(x);
        };
        logged.on('request', on);
      }),
    close: () => closeHttp(server),
  };
}

/** Entry point of the standalone process (see the module comment). Resolves when stopped. */
export async function runFakeAnthropicServerMain(argv: readonly string[]): Promise<void> {
  const turnMs = argValue(argv, '--turn-ms');
  const server = await startFakeAnthropicServer({ host: argValue(argv, '--host') ?? '127.0.0.1', port: Number(argValue(argv, '--port') ?? 0), ...(turnMs ? { turnMs: Number(turnMs) } : {}) });
  const seed = argValue(argv, '--seed');
  if (seed) {
    const data = JSON.parse(await readFile(seed, 'utf8')) as Record<string, FakeWindows>;
    for (const [token, w] of Object.entries(data)) server.setWindows(token, w);
  }
  await serveUntilSignal(server, { url: server.url, usageEndpoint: server.usageEndpoint });
}

runIfMain(import.meta.url, 'fake-anthropic-server', runFakeAnthropicServerMain);
