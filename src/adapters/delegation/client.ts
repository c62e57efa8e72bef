/**
 * Client of the AI job API (docs/delegation-api.md) on undici, with an injectable `dispatcher`
 * (tests pass a MockAgent or point at the fake server; the global dispatcher is never touched).
 *
 * - `submitJob(task)` → job id. Every submit carries `Idempotency-Key` derived from the task id and
 *   the delegation attempt (`idempotencyKeyFor`), so a retried or re-sent submit never creates a
 *   second job.
 * - `getJob(id)` → `{status: queued|running|succeeded|failed, result, provider, cost, error, …}`.
 * - `waitForResult(id, {timeoutMs, pollMs})` polls until the job is terminal.
 * - `cancelJob(id)` asks the API to stop a job (best effort; used on jobTimeout).
 *
 * Retries: ONLY network errors, timeouts, 408, 429 and 5xx; exponential backoff with FULL jitter
 * (`random() · min(maxDelay, base · 2^(n-1))`), never earlier than a `Retry-After`, within an overall
 * deadline; at most `maxAttempts` attempts. Other 4xx are never retried.
 *
 * The API key is read from its secret reference (`apiKey.env`/`apiKey.file`) at each call
 * (`resolveSecret`): a rotated key is picked up. It is sent only in the `Authorization` header; it
 * is never logged, never part of an error message (server messages are scrubbed of it).
 */
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { SecretRef } from '../../api/schemas.js';
import { CfError, errorMessage, type CfErrorCode } from '../../core/errors.js';
import { resolveSecret, type SecretEnv } from '../secrets.js';
import type { CircuitOutcome } from './circuit-breaker.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function isTerminalStatus(s: string): s is 'succeeded' | 'failed' {
  return s === 'succeeded' || s === 'failed';
}

/** A job as the API reports it (normalized). */
export interface JobView {
  id: string;
  status: JobStatus;
  provider?: string;
  taskId?: string;
  /** The job's output (succeeded). */
  result?: string;
  /** What the job cost, in `currency` (default USD). */
  cost?: number;
  currency?: string;
  /** Why it failed (failed). */
  error?: string;
  /** ISO times, as reported. */
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** What is submitted for one task. */
export interface JobSubmission {
  taskId: string;
  /** 1-based delegation attempt: part of the idempotency key. */
  attempt: number;
  provider: string;
  /** The task body: the prompt. */
  prompt: string;
  title?: string;
  project?: string;
  /** Free-form, e.g. priority and complexity_hint. */
  metadata?: Record<string, unknown>;
  /** Overrides the derived key (a job record's stored key). */
  idempotencyKey?: string;
}

export interface RetryPolicy {
  /** Attempts per call, including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Overall deadline of one call (all attempts and waits). */
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, deadlineMs: 120_000 };
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const USER_AGENT = 'claude-failover-delegation';
/** Result, error and message texts are cut at this many characters. */
export const MAX_RESULT_CHARS = 1_000_000;

/** `Idempotency-Key` of a task's n-th delegation: stable, ASCII, whatever the task id's bytes. */
export function idempotencyKeyFor(taskId: string, attempt: number): string {
  const h = createHash('sha256').update(taskId, 'utf8').digest('hex').slice(0, 32);
  return `cf-${h}-${attempt}`;
}

/** Full-jitter backoff before retry `n` (1-based): uniform in [0, min(maxDelay, base · 2^(n-1))). */
export function backoffDelay(n: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(0, n - 1), 30));
  return Math.floor(Math.min(0.999999, Math.max(0, random())) * cap);
}

/** `Retry-After` (seconds or an HTTP date) in ms from `now`; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v.trim()) * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export type DelegationErrorKind =
  /** A non-retryable answer (400, 401, 403, 404, 409, 422, …): the request itself is wrong. */
  | 'rejected'
  /** Retries exhausted or deadline reached on retryable failures: the API is unavailable. */
  | 'unavailable'
  /** The API answered 2xx with a body we cannot use. */
  | 'protocol'
  /** The circuit breaker refused the call (the API has been failing). */
  | 'circuitOpen'
  /** waitForResult: the job did not finish in time. */
  | 'waitTimeout'
  /** The API key could not be read. */
  | 'secret';

const CODES: Record<DelegationErrorKind, CfErrorCode> = {
  rejected: 'CF_ERR_DELEGATION_REJECTED',
  unavailable: 'CF_ERR_DELEGATION_UNAVAILABLE',
  protocol: 'CF_ERR_DELEGATION_PROTOCOL',
  circuitOpen: 'CF_ERR_DELEGATION_CIRCUIT_OPEN',
  waitTimeout: 'CF_ERR_DELEGATION_WAIT_TIMEOUT',
  secret: 'CF_ERR_DELEGATION_SECRET',
};

export class DelegationApiError extends CfError {
  readonly kind: DelegationErrorKind;
  /** HTTP status of the last answer, when there was one. */
  readonly status: number | undefined;
  /** The API's error code (`error.code` in the body), when given. */
  readonly apiCode: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** Attempts made. */
  readonly attempts: number;
  constructor(kind: DelegationErrorKind, message: string, opts: { status?: number; apiCode?: string; retryAfterMs?: number; attempts?: number; cause?: unknown } = {}) {
    super(CODES[kind], message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.kind = kind;
    this.status = opts.status;
    this.apiCode = opts.apiCode;
    this.retryAfterMs = opts.retryAfterMs;
    this.attempts = opts.attempts ?? 0;
  }

  /** Worth trying again later (the API was unavailable), as opposed to a refused request. */
  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'circuitOpen';
  }
}

/** One attempt, reported to `onAttempt` (logs, metrics, tests). Never carries the key. */
export interface AttemptInfo {
  op: 'submit' | 'get' | 'cancel';
  attempt: number;
  /** Epoch ms the attempt started. */
  at: number;
  status?: number;
  error?: string;
  /** Delay before the next attempt, when one follows. */
  nextDelayMs?: number;
}

/** The breaker hook a client reports whole calls to (see circuit-breaker.ts). */
export interface CallGuard {
  tryAcquire(now: number): { allowed: boolean; retryAt?: number };
  record(outcome: CircuitOutcome, now: number): void;
}

export interface DelegationClientOptions {
  /** Base URL of the job API (`DelegationPolicy.spec.endpoint`). */
  endpoint: string;
  /** Secret reference of the API key (or, for tests and the CLI, a resolver). */
  apiKey: SecretRef | { resolve: () => Promise<string> };
  /** Environment for `{env: NAME}` references (default process.env). */
  env?: SecretEnv;
  dispatcher?: Dispatcher;
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout (headers and body). */
  requestTimeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onAttempt?: (a: AttemptInfo) => void;
  /** Circuit breaker the client reports calls to; a refused call fails fast with `circuitOpen`. */
  guard?: CallGuard;
}

export interface CallOptions {
  /** Overrides the client's retry policy for this call. */
  retry?: Partial<RetryPolicy>;
  /** Skip the circuit breaker (the CLI's one-off calls have none anyway). */
  unguarded?: boolean;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class DelegationClient {
  readonly endpoint: string;
  readonly #opts: DelegationClientOptions;
  readonly #retry: RetryPolicy;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  #ownAgent: Agent | undefined;

  constructor(opts: DelegationClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.endpoint);
    } catch (_err) {
      throw new DelegationApiError('rejected', `the job API endpoint is not a valid URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DelegationApiError('rejected', `the job API endpoint must be http(s), got ${u.protocol}`);
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.#opts = opts;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? realSleep;
    this.#random = opts.random ?? Math.random;
  }

  get retryPolicy(): RetryPolicy {
    return { ...this.#retry };
  }

  /** Releases the client's own connection pool (not an injected dispatcher). */
  async close(): Promise<void> {
    const a = this.#ownAgent;
    this.#ownAgent = undefined;
    if (a) await a.close();
  }

  /** Submits a job and returns its id (the same id for a re-sent submit with the same key). */
  async submitJob(task: JobSubmission, opts: CallOptions = {}): Promise<string> {
    return (await this.submitJobDetailed(task, opts)).id;
  }

  /** Like `submitJob`, returning the whole job (and whether the API replayed an earlier submit). */
  async submitJobDetailed(task: JobSubmission, opts: CallOptions = {}): Promise<JobView & { replayed: boolean; idempotencyKey: string }> {
    if (!task.prompt) throw new DelegationApiError('rejected', 'nothing to submit: the task has no body');
    const key = task.idempotencyKey ?? idempotencyKeyFor(task.taskId, task.attempt);
    const payload = JSON.stringify({
      task_id: task.taskId,
      provider: task.provider,
      prompt: task.prompt,
      ...(task.title !== undefined ? { title: task.title } : {}),
      metadata: { ...(task.project !== undefined ? { project: task.project } : {}), attempt: task.attempt, ...task.metadata },
    });
    const a = await this.#call('submit', 'POST', '/v1/jobs', { body: payload, headers: { 'idempotency-key': key, 'content-type': 'application/json' } }, opts);
    const job = this.#job(a.body, 'submit');
    const replayed = a.status === 200 || String(a.headers['idempotent-replayed'] ?? '') === 'true';
    return { ...job, replayed, idempotencyKey: key };
  }

  async getJob(id: string, opts: CallOptions = {}): Promise<JobView> {
    const a = await this.#call('get', 'GET', `/v1/jobs/${encodeURIComponent(id)}`, {}, opts);
    return this.#job(a.body, 'get');
  }

  /**
   * The jobs the API knows for a task id: `GET /v1/jobs?task_id=<id>` answering `{"jobs": [...]}` (or
   * a bare list). Optional in the API (docs/delegation-api.md): used by `migrate --from-go` to find
   * the job of a Go-era delegation whose marker did not record it. An API without it answers 404/405.
   */
  async findJobsByTask(taskId: string, opts: CallOptions = {}): Promise<JobView[]> {
    const a = await this.#call('get', 'GET', `/v1/jobs?task_id=${encodeURIComponent(taskId)}`, {}, opts);
    const body = a.body as { jobs?: unknown } | unknown[] | undefined;
    const list = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray((body as { jobs?: unknown }).jobs) ? ((body as { jobs: unknown[] }).jobs) : undefined;
    if (!list) throw new DelegationApiError('protocol', 'the job API answered the job lookup without a list of jobs');
    return list.map((j) => this.#job(j, 'lookup')).filter((j) => j.taskId === undefined || j.taskId === taskId);
  }

  /** Asks the API to cancel a job; returns the job as the API reports it afterwards. */
  async cancelJob(id: string, opts: CallOptions = {}): Promise<JobView> {
    const a = await this.#call('cancel', 'POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`, { body: '{}', headers: { 'content-type': 'application/json' } }, opts);
    return this.#job(a.body, 'cancel');
  }

  /** Polls until the job is terminal; `waitTimeout` error after `timeoutMs`. */
  async waitForResult(id: string, o: { timeoutMs: number; pollMs?: number } & CallOptions): Promise<JobView> {
    const pollMs = Math.max(10, o.pollMs ?? 2_000);
    const deadline = this.#now() + o.timeoutMs;
    let lastStatus: string | undefined;
    for (;;) {
      const remaining = deadline - this.#now();
      let job: JobView;
      try {
        job = await this.getJob(id, { ...o, retry: { ...o.retry, deadlineMs: Math.max(1, Math.min(o.retry?.deadlineMs ?? this.#retry.deadlineMs, remaining)) } });
      } catch (err) {
        // The wait's own deadline ran out while a request was in flight: that is a wait timeout,
        // whatever the last request was doing (a slow answer under load is not an outage).
        if (this.#now() >= deadline && err instanceof DelegationApiError && err.kind !== 'secret') {
          throw new DelegationApiError('waitTimeout', `job ${id} is still ${lastStatus ?? 'running'} after ${Math.round(o.timeoutMs / 1000)}s (no answer within the wait)`, { cause: err });
        }
        throw err;
      }
      lastStatus = job.status;
      if (isTerminalStatus(job.status)) return job;
      if (this.#now() + pollMs > deadline) {
        throw new DelegationApiError('waitTimeout', `job ${id} is still ${job.status} after ${Math.round(o.timeoutMs / 1000)}s`);
      }
      await this.#sleep(pollMs);
    }
  }

  async #key(): Promise<string> {
    const k = this.#opts.apiKey;
    try {
      return 'resolve' in k ? await k.resolve() : await resolveSecret(k, this.#opts.env);
    } catch (err) {
      throw new DelegationApiError('secret', `the job API key cannot be read: ${errorMessage(err)}`, { cause: err });
    }
  }

  #dispatcher(): Dispatcher {
    if (this.#opts.dispatcher) return this.#opts.dispatcher;
    this.#ownAgent ??= new Agent({ keepAliveTimeout: 4_000, connections: 16 });
    return this.#ownAgent;
  }

  /** One API call: breaker, attempts with backoff, deadline. */
  async #call(op: AttemptInfo['op'], method: 'GET' | 'POST', path: string, req: { body?: string; headers?: Record<string, string> }, opts: CallOptions): Promise<Answer> {
    const policy: RetryPolicy = { ...this.#retry, ...opts.retry };
    const guard = opts.unguarded ? undefined : this.#opts.guard;
    // The key first: an unreadable key is not the API's fault and must not touch the breaker.
    const key = await this.#key();
    if (guard) {
      const g = guard.tryAcquire(this.#now());
      if (!g.allowed) {
        const wait = g.retryAt !== undefined ? Math.max(0, g.retryAt - this.#now()) : undefined;
        throw new DelegationApiError('circuitOpen', `the job API circuit is open (it has been failing)${wait !== undefined ? `; next try in ${Math.ceil(wait / 1000)}s` : ''}`, wait !== undefined ? { retryAfterMs: wait } : {});
      }
    }
    const started = this.#now();
    const deadline = started + policy.deadlineMs;
    let last: DelegationApiError | undefined;
    let attempt = 0;
    while (attempt < Math.max(1, policy.maxAttempts)) {
      attempt += 1;
      const at = this.#now();
      const timeout = Math.max(1, Math.min(this.#opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, deadline - at));
      let answer: Answer | undefined;
      try {
        answer = await this.#send(method, path, req, key, timeout);
      } catch (err) {
        answer = undefined;
        last = new DelegationApiError('unavailable', scrub(`${describeOrigin(this.endpoint)} unreachable: ${networkMessage(err)}`, key), { attempts: attempt, cause: err });
      }
      if (answer) {
        if (answer.status >= 200 && answer.status < 300) {
          this.#report({ op, attempt, at, status: answer.status });
          guard?.record({ ok: true }, this.#now());
          return answer;
        }
        const { message, code } = errorOf(answer.body);
        const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], this.#now());
        const text = scrub(`${describeOrigin(this.endpoint)} answered ${answer.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`, key);
        if (!isRetryableStatus(answer.status)) {
          this.#report({ op, attempt, at, status: answer.status, error: text });
          guard?.record({ ok: true }, this.#now());
          throw new DelegationApiError('rejected', text, { status: answer.status, attempts: attempt, ...(code ? { apiCode: code } : {}) });
        }
        last = new DelegationApiError('unavailable', text, { status: answer.status, attempts: attempt, ...(code ? { apiCode: code } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      }
      const failure: DelegationApiError = last ?? new DelegationApiError('unavailable', 'no answer');
      if (attempt >= policy.maxAttempts) {
        this.#report({ op, attempt, at, ...(failure.status !== undefined ? { status: failure.status } : {}), error: failure.message });
        break;
      }
      const delay = Math.max(backoffDelay(attempt, policy, this.#random), failure.retryAfterMs ?? 0);
      if (this.#now() + delay >= deadline) {
        this.#report({ op, attempt, at, ...(failure.status !== undefined ? { status: failure.status } : {}), error: failure.message });
        last = new DelegationApiError('unavailable', `${failure.message} (gave up: the next try would pass the ${Math.round(policy.deadlineMs / 1000)}s deadline)`, {
          attempts: attempt,
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          ...(failure.apiCode !== undefined ? { apiCode: failure.apiCode } : {}),
          ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
        });
        break;
      }
      this.#report({ op, attempt, at, ...(failure.status !== undefined ? { status: failure.status } : {}), error: failure.message, nextDelayMs: delay });
      await this.#sleep(delay);
    }
    const err = last ?? new DelegationApiError('unavailable', 'no attempt was made');
    guard?.record({ ok: false, error: err.message, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) }, this.#now());
    throw err;
  }

  #report(a: AttemptInfo): void {
    try {
      this.#opts.onAttempt?.(a);
    } catch (_err) {
      // an observer never breaks a call
    }
  }

  async #send(method: string, path: string, req: { body?: string; headers?: Record<string, string> }, key: string, timeoutMs: number): Promise<Answer> {
    const res = await request(`${this.endpoint}${path}`, {
      method: method as Dispatcher.HttpMethod,
      dispatcher: this.#dispatcher(),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json', 'user-agent': USER_AGENT, ...req.headers, authorization: `Bearer ${key}` },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    const text = await res.body.text();
    let body: unknown = undefined;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch (_err) {
        body = { error: { message: text.slice(0, 300) } };
      }
    }
    return { status: res.statusCode, body, headers: res.headers };
  }

  #job(body: unknown, op: string): JobView {
    const j = (body && typeof body === 'object' && 'job' in body ? (body as { job: unknown }).job : body) as Record<string, unknown> | undefined;
    if (!j || typeof j !== 'object') throw new DelegationApiError('protocol', `the job API answered ${op} without a job object`);
    const id = j.id;
    const status = j.status;
    if (typeof id !== 'string' || id === '') throw new DelegationApiError('protocol', `the job API answered ${op} with a job without an id`);
    if (typeof status !== 'string' || !(JOB_STATUSES as readonly string[]).includes(status)) {
      throw new DelegationApiError('protocol', `the job API answered ${op} with job ${id} in an unknown status ${JSON.stringify(status)}`);
    }
    const v: JobView = { id, status: status as JobStatus };
    const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
    const provider = str(j.provider);
    if (provider) v.provider = provider;
    const taskId = str(j.task_id);
    if (taskId) v.taskId = taskId;
    const result = j.result;
    if (typeof result === 'string') v.result = result.slice(0, MAX_RESULT_CHARS);
    else if (result !== undefined && result !== null) v.result = JSON.stringify(result, null, 2).slice(0, MAX_RESULT_CHARS);
    const cost = j.cost;
    if (typeof cost === 'number' && Number.isFinite(cost)) v.cost = cost;
    else if (cost && typeof cost === 'object' && typeof (cost as { amount?: unknown }).amount === 'number') {
      v.cost = (cost as { amount: number }).amount;
      const cur = str((cost as { currency?: unknown }).currency);
      if (cur) v.currency = cur;
    }
    const currency = str(j.currency);
    if (currency) v.currency = currency;
    const err = j.error;
    if (typeof err === 'string' && err !== '') v.error = err.slice(0, 4000);
    else if (err && typeof err === 'object') {
      const e = errorOf({ error: err });
      const text = [e.code, e.message].filter(Boolean).join(': ');
      if (text) v.error = text.slice(0, 4000);
    }
    for (const [from, to] of [['created_at', 'createdAt'], ['started_at', 'startedAt'], ['finished_at', 'finishedAt']] as const) {
      const t = str(j[from]);
      if (t) v[to] = t;
    }
    return v;
  }
}

function errorOf(body: unknown): { message?: string; code?: string } {
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, unknown>;
  const e = b.error;
  const clip = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 500);
  if (typeof e === 'string') return { message: clip(e) };
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const r: { message?: string; code?: string } = {};
    if (typeof o.message === 'string') r.message = clip(o.message);
    if (typeof o.code === 'string') r.code = clip(o.code).slice(0, 80);
    return r;
  }
  if (typeof b.message === 'string') return { message: clip(b.message) };
  return {};
}

function networkMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const name = (err as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timed out';
  const cause = (err as { cause?: { code?: unknown } }).cause;
  const c = typeof code === 'string' ? code : typeof cause?.code === 'string' ? cause.code : undefined;
  return c ?? errorMessage(err);
}

/** The endpoint's origin (a path may carry a tenant token). */
export function describeOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch (_err) {
    return 'the job API';
  }
}

/** Removes every occurrence of the secret from a text. */
export function scrub(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}
