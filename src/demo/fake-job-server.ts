/**
 * DEMO / TEST REFERENCE SERVER of the AI job API (docs/delegation-api.md). Not used by the product:
 * the demo and the e2e tests point `DelegationPolicy.spec.endpoint` at it. A small fastify app on
 * 127.0.0.1 (port 0 = a free port) that speaks the documented protocol:
 *
 *   POST /v1/jobs              Authorization: Bearer <key>, Idempotency-Key: <key>
 *        body {"task_id","provider","prompt","title"?,"metadata"?}
 *        → 201 {job} (new) | 200 {job} + Idempotent-Replayed: true (same key: the SAME job)
 *        → 400 invalid_request (missing fields, unknown provider, missing Idempotency-Key)
 *   GET  /v1/jobs/:id          → 200 {job} | 404 not_found
 *   POST /v1/jobs/:id/cancel   → 200 {job} (a queued/running job ends failed "cancelled")
 *   401 unauthorized for a missing or wrong key, on every /v1 route.
 *
 * A job is `queued` for `queueMs`, `running` for `durationMs`, then `succeeded` (result, cost) or
 * `failed` (error), per provider (`providers`), computed from the server clock.
 *
 * Scripted failures (in-process `failFor`, or `POST /__fake/fail`): status 503/500/429/400/…,
 * optional `Retry-After`, for `times` requests or `durationMs`, on `submit`, `get` or `all` routes.
 * Per-key counts: every submit is counted under its Idempotency-Key (`submitsFor(key)`), jobs are
 * created once per key (`jobsForTask(taskId)`).
 *
 * Control over HTTP (standalone use): GET /__fake/state → {jobs, submits, requests}; POST /__fake/fail;
 * DELETE /__fake/fail; PUT /__fake/providers/:name body {durationMs, queueMs, outcome, cost, error, result}.
 *
 * Standalone: `node dist/demo/fake-job-server.js [--host 127.0.0.1] [--port 0] [--api-key K]`
 * prints one JSON line `{"url":…,"pid":…}` and runs until SIGINT/SIGTERM. The key defaults to
 * `$CF_DELEGATION_API_KEY`, else `demo-key`.
 */
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { argValue, runIfMain, serveUntilSignal } from './standalone.js';

export interface FakeProvider {
  /** Time a job spends queued. Default 0. */
  queueMs?: number;
  /** Time a job runs. Default 50 ms. */
  durationMs?: number;
  outcome?: 'succeeded' | 'failed';
  /** Cost of a finished job. Default 0.01. */
  cost?: number;
  currency?: string;
  /** Error message of a failed job. */
  error?: string;
  /** Result text; default: an echo naming the provider and the prompt's length and first line. */
  result?: string | ((prompt: string) => string);
}

export interface FakeJobFailure {
  status: number;
  /** `Retry-After` value, verbatim. */
  retryAfter?: string | number;
  /** Fail this many matching requests, then recover. */
  times?: number;
  /** Fail for this long (server clock). Default: until cleared (or `times` used up). */
  durationMs?: number;
  /** Which requests: submits, job reads, or all /v1 requests. Default all. */
  on?: 'submit' | 'get' | 'all';
  /** Error body `{"error":{"code","message"}}`. */
  code?: string;
  message?: string;
}

export interface FakeJob {
  id: string;
  taskId: string;
  provider: string;
  prompt: string;
  title?: string;
  metadata?: unknown;
  idempotencyKey: string;
  createdAt: number;
  cancelledAt?: number;
}

export interface FakeJobRequest {
  method: string;
  path: string;
  at: number;
  status: number;
  idempotencyKey?: string;
}

export interface FakeJobServer {
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  readonly jobs: readonly FakeJob[];
  readonly requests: readonly FakeJobRequest[];
  /** Submits received with this Idempotency-Key (including replays and refused ones). */
  submitsFor(key: string): number;
  /** Jobs created for a task id (one per distinct Idempotency-Key). */
  jobsForTask(taskId: string): FakeJob[];
  setProvider(name: string, p: FakeProvider): void;
  failFor(f: FakeJobFailure): void;
  clearFailures(): void;
  /** The job as the API reports it now. */
  view(id: string): Record<string, unknown> | undefined;
  close(): Promise<void>;
}

export interface FakeJobServerOptions {
  host?: string;
  port?: number;
  apiKey?: string;
  /** Providers the server accepts (others → 400). Default gemini, gpu, claude-api. */
  providers?: Record<string, FakeProvider>;
  clock?: () => number;
  /** Serve the optional `GET /v1/jobs?task_id=` lookup (default true). */
  lookup?: boolean;
}

interface ActiveFailure extends FakeJobFailure {
  until?: number;
  remaining?: number;
}

const DEFAULT_PROVIDERS: Record<string, FakeProvider> = { gemini: {}, gpu: {}, 'claude-api': {} };

export async function startFakeJobServer(options: FakeJobServerOptions = {}): Promise<FakeJobServer> {
  const clock = options.clock ?? Date.now;
  const apiKey = options.apiKey ?? 'demo-key';
  const providers = new Map<string, FakeProvider>(Object.entries(options.providers ?? DEFAULT_PROVIDERS));
  const jobs: FakeJob[] = [];
  const byId = new Map<string, FakeJob>();
  const byKey = new Map<string, FakeJob>();
  const submits = new Map<string, number>();
  const requests: FakeJobRequest[] = [];
  const failures: ActiveFailure[] = [];
  let seq = 0;

  const setFailure = (f: FakeJobFailure) => {
    const a: ActiveFailure = { ...f };
    if (f.durationMs !== undefined) a.until = clock() + f.durationMs;
    if (f.times !== undefined) a.remaining = f.times;
    failures.push(a);
  };

  const view = (job: FakeJob): Record<string, unknown> => {
    const p = providers.get(job.provider) ?? {};
    const queueMs = p.queueMs ?? 0;
    const durationMs = p.durationMs ?? 50;
    const now = clock();
    const startedAt = job.createdAt + queueMs;
    const finishedAt = startedAt + durationMs;
    const iso = (ms: number) => new Date(ms).toISOString();
    const base = { id: job.id, task_id: job.taskId, provider: job.provider, created_at: iso(job.createdAt) };
    if (job.cancelledAt !== undefined && job.cancelledAt < finishedAt) {
      return { ...base, status: 'failed', finished_at: iso(job.cancelledAt), result: null, cost: null, error: { code: 'cancelled', message: 'the job was cancelled' } };
    }
    if (now < startedAt) return { ...base, status: 'queued', result: null, cost: null, error: null };
    if (now < finishedAt) return { ...base, status: 'running', started_at: iso(startedAt), result: null, cost: null, error: null };
    const cost = { amount: p.cost ?? 0.01, currency: p.currency ?? 'USD' };
    if ((p.outcome ?? 'succeeded') === 'failed') {
      return { ...base, status: 'failed', started_at: iso(startedAt), finished_at: iso(finishedAt), result: null, cost, error: { code: 'provider_error', message: p.error ?? `${job.provider} could not complete the job` } };
    }
    const firstLine = job.prompt.split('\n').find((l) => l.trim() !== '') ?? '';
    const result = typeof p.result === 'function' ? p.result(job.prompt) : (p.result ?? `${job.provider} finished task ${job.taskId}: ${Buffer.byteLength(job.prompt)} bytes of prompt, starting "${firstLine.slice(0, 60)}"`);
    return { ...base, status: 'succeeded', started_at: iso(startedAt), finished_at: iso(finishedAt), result, cost, error: null };
  };

  const app: FastifyInstance = fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  const err = (reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}) => reply.code(status).headers(headers).send({ error: { code, message } });

  const scripted = (kind: 'submit' | 'get'): ActiveFailure | undefined => {
    const now = clock();
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i] as ActiveFailure;
      if ((f.until !== undefined && now >= f.until) || (f.remaining !== undefined && f.remaining <= 0)) {
        failures.splice(i, 1);
        i -= 1;
        continue;
      }
      if ((f.on ?? 'all') !== 'all' && f.on !== kind) continue;
      if (f.remaining !== undefined) f.remaining -= 1;
      return f;
    }
    return undefined;
  };

  app.addHook('onResponse', async (req, reply) => {
    if (!req.url.startsWith('/v1/')) return;
    const key = req.headers['idempotency-key'];
    requests.push({ method: req.method, path: req.url, at: clock(), status: reply.statusCode, ...(typeof key === 'string' ? { idempotencyKey: key } : {}) });
  });

  const guard = (req: FastifyRequest, reply: FastifyReply, kind: 'submit' | 'get'): boolean => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      void err(reply, 401, 'unauthorized', 'missing or invalid API key');
      return false;
    }
    const f = scripted(kind);
    if (f) {
      void err(reply, f.status, f.code ?? (f.status === 429 ? 'rate_limited' : f.status >= 500 ? 'unavailable' : 'invalid_request'), f.message ?? `scripted failure ${f.status}`, f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {});
      return false;
    }
    return true;
  };

  app.post('/v1/jobs', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string') submits.set(key, (submits.get(key) ?? 0) + 1);
    if (!guard(req, reply, 'submit')) return reply;
    if (typeof key !== 'string' || key.trim() === '') return err(reply, 400, 'invalid_request', 'the Idempotency-Key header is required');
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return err(reply, 400, 'invalid_request', 'a JSON body is required');
    const { task_id: taskId, provider, prompt, title, metadata } = body;
    if (typeof taskId !== 'string' || taskId === '') return err(reply, 400, 'invalid_request', 'task_id must be a non-empty string');
    if (typeof provider !== 'string' || !providers.has(provider)) return err(reply, 400, 'unknown_provider', `provider ${JSON.stringify(provider)} is not available (${[...providers.keys()].join(', ')})`);
    if (typeof prompt !== 'string' || prompt === '') return err(reply, 400, 'invalid_request', 'prompt must be a non-empty string');
    const existing = byKey.get(key);
    if (existing) return reply.code(200).header('idempotent-replayed', 'true').send(view(existing));
    seq += 1;
    const job: FakeJob = { id: `job-${seq}`, taskId, provider, prompt, idempotencyKey: key, createdAt: clock(), ...(typeof title === 'string' ? { title } : {}), ...(metadata !== undefined ? { metadata } : {}) };
    jobs.push(job);
    byId.set(job.id, job);
    byKey.set(key, job);
    return reply.code(201).send(view(job));
  });

  // Optional lookup by task id (used by `migrate --from-go`); `lookup: false` serves an API without it.
  app.get('/v1/jobs', async (req, reply) => {
    if (!guard(req, reply, 'get')) return reply;
    if (options.lookup === false) return err(reply, 404, 'not_found', 'no such route');
    const taskId = (req.query as { task_id?: unknown }).task_id;
    if (typeof taskId !== 'string' || taskId === '') return err(reply, 400, 'invalid_request', 'task_id is required');
    return { jobs: jobs.filter((j) => j.taskId === taskId).map(view) };
  });

  app.get('/v1/jobs/:id', async (req, reply) => {
    if (!guard(req, reply, 'get')) return reply;
    const job = byId.get((req.params as { id: string }).id);
    if (!job) return err(reply, 404, 'not_found', 'no such job');
    return view(job);
  });

  app.post('/v1/jobs/:id/cancel', async (req, reply) => {
    if (!guard(req, reply, 'get')) return reply;
    const job = byId.get((req.params as { id: string }).id);
    if (!job) return err(reply, 404, 'not_found', 'no such job');
    const v = view(job);
    if (v.status === 'queued' || v.status === 'running') job.cancelledAt = clock();
    return view(job);
  });

  // Control routes (no auth: the fake listens on loopback for tests and the demo only).
  app.get('/__fake/state', async () => ({ jobs: jobs.map((j) => ({ ...view(j), idempotency_key: j.idempotencyKey })), submits: Object.fromEntries(submits), requests }));
  app.post('/__fake/fail', async (req) => {
    setFailure(req.body as FakeJobFailure);
    return { ok: true };
  });
  app.delete('/__fake/fail', async () => {
    failures.length = 0;
    return { ok: true };
  });
  app.put('/__fake/providers/:name', async (req) => {
    providers.set((req.params as { name: string }).name, (req.body ?? {}) as FakeProvider);
    return { ok: true };
  });

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake job server: no address');
  const url = `http://${options.host ?? '127.0.0.1'}:${addr.port}`;
  return {
    url,
    port: addr.port,
    apiKey,
    jobs,
    requests,
    submitsFor: (key) => submits.get(key) ?? 0,
    jobsForTask: (taskId) => jobs.filter((j) => j.taskId === taskId),
    setProvider: (name, p) => providers.set(name, p),
    failFor: setFailure,
    clearFailures: () => {
      failures.length = 0;
    },
    view: (id) => {
      const j = byId.get(id);
      return j ? view(j) : undefined;
    },
    close: async () => {
      await app.close();
    },
  };
}


/** Entry point of the standalone process (see the module comment). Resolves when stopped. */
export async function runFakeJobServerMain(argv: readonly string[]): Promise<void> {
  const server = await startFakeJobServer({
    host: argValue(argv, '--host') ?? '127.0.0.1',
    port: Number(argValue(argv, '--port') ?? 0),
    apiKey: argValue(argv, '--api-key') ?? process.env.CF_DELEGATION_API_KEY ?? 'demo-key',
  });
  await serveUntilSignal(server, { url: server.url });
}

runIfMain(import.meta.url, 'fake-job-server', runFakeJobServerMain);
