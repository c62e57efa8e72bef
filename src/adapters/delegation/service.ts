/**
 * The delegation service: one job-API client and circuit breaker per DelegationPolicy, the job
 * record store, and the handlers of the `delegation.*` effects (src/core/effects.ts). The
 * DelegationPolicy controller observes through it (`bind`, `checkKey`, `getJob`, `circuit`,
 * `records`); the executor runs its handlers (registered in src/runtime/wiring.ts).
 *
 * Submit (crash-safe, idempotent; test crash points in brackets, see crash-point.ts):
 *   [delegate.before] pending record written durably (with the Idempotency-Key) [delegate.recorded]
 *   → rename inbox/ → delegated/ [delegate.moved] → POST /v1/jobs [delegate.submitted]
 *   → record gets the job id [delegate.after].
 * A refused submit (non-retryable 4xx: 400, 422, …) fails the task right away with the API's
 * message — retrying the same request cannot succeed — and is as loud as a local dead letter: a
 * `TaskFailed` Warning event (hence a notification) through `event`. An unavailable API leaves the
 * task in delegated/ with its pending record; the next pass submits again with the same key.
 */
import path from 'node:path';
import type { Dispatcher } from 'undici';
import type { ManifestObject } from '../../api/objects.js';
import { durationMs } from '../../api/duration.js';
import type { PlannedEvent } from '../../core/controller.js';
import type { DelegationEffect, DelegationJobRecord, Effect, HandlersFor } from '../../core/effects.js';
import { RetryableError, errorMessage } from '../../core/errors.js';
import { ConflictError } from '../../core/outcome.js';
import { TaskNotFoundError, type TaskQueue } from '../../core/task.js';
import { crashPoint, type CrashStep } from '../crash-point.js';
import { updateTaskFrontmatter, withTaskLock } from '../queue/index.js';
import { resolveSecret, type SecretEnv } from '../secrets.js';
import { CircuitBreaker, type CircuitConfig, type CircuitState } from './circuit-breaker.js';
import { DelegationApiError, DelegationClient, idempotencyKeyFor, isTerminalStatus, type AttemptInfo, type JobView, type RetryPolicy } from './client.js';
import { listJobRecords, readJobRecord, removeJobRecord, writeJobRecord, type JobRecordCache, type JobRecordListing } from './job-records.js';

/** Test crash points of the delegation steps (CF_TEST_CRASH_AT, src/adapters/crash-point.ts). */
export const DELEGATION_CRASH_STEPS = ['delegate.before', 'delegate.recorded', 'delegate.moved', 'delegate.submitted', 'delegate.after', 'finish.recorded', 'finish.after'] as const;
export type DelegationCrashStep = (typeof DELEGATION_CRASH_STEPS)[number];

/** Reuses the Project controller's crash hook (same env variable, same `<step>#<n>` syntax). */
export function delegationCrashPoint(step: DelegationCrashStep): void {
  // crash-point.ts lists the Project steps in its type; the hook itself works for any step name.
  crashPoint(step as unknown as CrashStep);
}

export interface DelegationLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface DelegationServiceOptions {
  /** The bound queue of a root (shared with the Project controller: same per-task locks). */
  queueFor(root: string): Pick<TaskQueue, 'move' | 'read' | 'complete' | 'fail'>;
  env?: SecretEnv;
  dispatcher?: Dispatcher;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  log?: DelegationLogger;
  durable?: boolean;
  /** Breaker settings; by default derived from the policy's retry settings (see `circuitConfigFor`). */
  circuit?: Partial<CircuitConfig>;
  onAttempt?: (policy: string, a: AttemptInfo) => void;
  /** Records an event (the controller's event log, which feeds the notifiers): a refused submit's `TaskFailed`. */
  event?: (e: PlannedEvent) => Promise<void> | void;
}

/** The client retry policy of a DelegationPolicy (deadline: enough for every attempt at the cap, at most 5 min). */
export function retryPolicyFor(spec: ManifestObject<'DelegationPolicy'>['spec']): RetryPolicy {
  const baseDelayMs = durationMs(spec.retry.baseDelay);
  const maxDelayMs = Math.max(baseDelayMs, durationMs(spec.retry.maxDelay));
  const maxAttempts = spec.retry.maxAttempts;
  let sum = 0;
  for (let n = 1; n < maxAttempts; n++) sum += Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1));
  return { maxAttempts, baseDelayMs, maxDelayMs, deadlineMs: Math.min(5 * 60_000, Math.max(5_000, sum + maxAttempts * 5_000)) };
}

/**
 * The breaker of a policy: it opens after `retry.maxAttempts` consecutive failed calls (each call
 * already retried), stays open for `retry.maxDelay` (doubling on each re-open, at most 10×), then lets
 * one probe through.
 */
export function circuitConfigFor(spec: ManifestObject<'DelegationPolicy'>['spec'], override: Partial<CircuitConfig> = {}): CircuitConfig {
  const openMs = Math.max(100, durationMs(spec.retry.maxDelay));
  return { failureThreshold: Math.max(1, spec.retry.maxAttempts), openMs, maxOpenMs: openMs * 10, ...override };
}

interface PolicyEntry {
  name: string;
  fingerprint: string;
  spec: ManifestObject<'DelegationPolicy'>['spec'];
  client: DelegationClient;
  breaker: CircuitBreaker;
  /** Last poll per job id: {at, job}. */
  polls: Map<string, { at: number; job: JobView }>;
  hydrated: boolean;
}

export class DelegationService {
  readonly #opts: DelegationServiceOptions;
  readonly #policies = new Map<string, PolicyEntry>();
  readonly #recordCache: JobRecordCache = new Map();
  readonly #now: () => number;

  constructor(opts: DelegationServiceOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get durable(): boolean {
    return this.#opts.durable ?? true;
  }

  /**
   * Makes the policy's client and breaker current (a changed endpoint, key reference or retry
   * setting gives a new client; the breaker is kept unless the endpoint changed). `prior` restores
   * a breaker persisted in status, once, after a restart.
   */
  bind(policy: ManifestObject<'DelegationPolicy'>, prior?: CircuitState): void {
    const name = policy.metadata.name;
    const spec = policy.spec;
    const fingerprint = JSON.stringify([spec.endpoint, spec.apiKey, spec.retry]);
    const cur = this.#policies.get(name);
    if (cur && cur.fingerprint === fingerprint) {
      cur.spec = spec;
      return;
    }
    const breaker = cur && cur.spec.endpoint === spec.endpoint ? cur.breaker : new CircuitBreaker(circuitConfigFor(spec, this.#opts.circuit));
    const client = new DelegationClient({
      endpoint: spec.endpoint,
      apiKey: spec.apiKey,
      ...(this.#opts.env ? { env: this.#opts.env } : {}),
      ...(this.#opts.dispatcher ? { dispatcher: this.#opts.dispatcher } : {}),
      ...(this.#opts.now ? { now: this.#opts.now } : {}),
      ...(this.#opts.sleep ? { sleep: this.#opts.sleep } : {}),
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
      retry: retryPolicyFor(spec),
      guard: breaker,
      onAttempt: (a) => {
        if (a.error) this.#opts.log?.warn({ policy: name, op: a.op, attempt: a.attempt, status: a.status, nextDelayMs: a.nextDelayMs, err: a.error }, 'job API attempt failed');
        this.#opts.onAttempt?.(name, a);
      },
    });
    void cur?.client.close();
    const entry: PolicyEntry = { name, fingerprint, spec, client, breaker, polls: cur?.polls ?? new Map(), hydrated: cur?.hydrated ?? false };
    if (!entry.hydrated && prior && prior.state !== 'closed' && cur === undefined) breaker.restore(prior);
    entry.hydrated = true;
    this.#policies.set(name, entry);
  }

  #entry(name: string): PolicyEntry {
    const e = this.#policies.get(name);
    if (!e) throw new RetryableError('CF_ERR_DELEGATION_UNBOUND', 'PolicyUnknown', `DelegationPolicy ${name} is not loaded (yet)`);
    return e;
  }

  /** Can the policy's API key be read? undefined when it can; otherwise why (never the value). */
  async checkKey(policy: string): Promise<string | undefined> {
    const e = this.#entry(policy);
    try {
      await resolveSecret(e.spec.apiKey, this.#opts.env);
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  circuit(policy: string): CircuitState {
    return this.#entry(policy).breaker.state;
  }

  /**
   * One look at a job for the controller's observation: short retries (a poll is repeated on the
   * next pass anyway), through the breaker; a poll younger than half the poll interval is reused.
   */
  async getJob(policy: string, jobId: string): Promise<JobView> {
    const e = this.#entry(policy);
    const now = this.#now();
    const last = e.polls.get(jobId);
    const fresh = Math.max(0, durationMs(e.spec.pollInterval) / 2);
    if (last && (isTerminalStatus(last.job.status) || now - last.at < fresh)) return last.job;
    const job = await e.client.getJob(jobId, { retry: { maxAttempts: Math.min(2, e.client.retryPolicy.maxAttempts), deadlineMs: 10_000 } });
    e.polls.set(jobId, { at: this.#now(), job });
    return job;
  }

  /** Every job record of a queue (cached by mtime and size). */
  records(root: string): Promise<JobRecordListing> {
    return listJobRecords(root, this.#recordCache);
  }

  /** The client of a bound policy (the CLI builds its own). */
  client(policy: string): DelegationClient {
    return this.#entry(policy).client;
  }

  async close(): Promise<void> {
    for (const e of this.#policies.values()) await e.client.close();
  }

  /** Handlers of the `delegation.*` effects, for `executor.register`. */
  handlers(): HandlersFor<DelegationEffect> {
    return {
      'delegation.submit': (e) => this.#submit(e),
      'delegation.finish': (e) => this.#finish(e),
      'delegation.routeLocal': async (e) => {
        await this.#lock(e.root, e.taskId, async () => {
          try {
            await updateTaskFrontmatter(e.root, e.taskId, 'inbox', e.set, { durable: this.durable });
          } catch (err) {
            if (!(err instanceof TaskNotFoundError)) throw err; // taken meanwhile: nothing to mark
          }
        });
      },
      'delegation.writeRecord': async (e) => {
        await writeJobRecord(e.root, e.record, { durable: this.durable });
      },
      'delegation.removeRecords': async (e) => {
        for (const id of e.taskIds) await removeJobRecord(e.root, id, { durable: this.durable });
      },
    };
  }

  #lock<T>(root: string, id: string, fn: () => Promise<T>): Promise<T> {
    // The same key as the bound queue's per-task lock (src/adapters/queue/index.ts).
    return withTaskLock(`${path.resolve(root)}\0${id}`, fn);
  }

  async #submit(e: Extract<Effect, { type: 'delegation.submit' }>): Promise<void> {
    const entry = this.#entry(e.policy);
    const q = this.#opts.queueFor(e.root);
    const durable = this.durable;
    const key = e.record.idempotencyKey ?? idempotencyKeyFor(e.taskId, e.record.attempt);
    let rec: DelegationJobRecord = { ...e.record, idempotencyKey: key };
    const existing = await readJobRecord(e.root, e.taskId).catch(() => undefined);
    if (existing && (existing.state === 'pending' || existing.state === 'submitted') && existing.attempt === rec.attempt) {
      rec = existing; // a crash left it: keep its key (and its job id)
    } else if (existing && existing.state !== 'pending' && existing.state !== 'submitted' && existing.attempt >= rec.attempt) {
      throw new ConflictError('CF_ERR_DELEGATION_STALE', 'StalePlan', `task ${e.taskId}: job record is at attempt ${existing.attempt} (${existing.state}); planning again`);
    }
    if (e.from === 'inbox') {
      delegationCrashPoint('delegate.before');
      if (rec !== existing) await writeJobRecord(e.root, rec, { durable });
      delegationCrashPoint('delegate.recorded');
      try {
        await q.move(e.taskId, 'inbox', 'delegated');
      } catch (err) {
        if (err instanceof TaskNotFoundError) {
          // Taken meanwhile (a local session, the producer removed it): no job was submitted.
          if (rec.state === 'pending') await removeJobRecord(e.root, e.taskId, { durable });
          this.#opts.log?.info({ taskId: e.taskId }, 'task left inbox/ before it was delegated; nothing submitted');
          return;
        }
        throw err;
      }
      delegationCrashPoint('delegate.moved');
    } else if (rec !== existing) {
      await writeJobRecord(e.root, rec, { durable });
    }
    if (rec.state === 'submitted' && rec.jobId) return; // already submitted and recorded
    const task = await q.read(e.taskId, 'delegated');
    let job: JobView & { replayed: boolean };
    try {
      job = await entry.client.submitJobDetailed({
        taskId: e.taskId,
        attempt: rec.attempt,
        provider: rec.provider,
        prompt: task.body,
        title: task.title,
        project: rec.project,
        idempotencyKey: key,
        metadata: { priority: task.priority, ...(task.frontmatter.complexity_hint !== undefined ? { complexity_hint: task.frontmatter.complexity_hint } : {}) },
      });
    } catch (err) {
      if (err instanceof DelegationApiError && err.kind === 'rejected') {
        // The API refused this request; sending it again cannot help. The task fails with the message.
        const now = this.#now();
        const reason = `the job API refused the job for provider ${rec.provider}: ${err.message}`;
        await writeJobRecord(e.root, { ...rec, state: 'failed', finishedAt: new Date(now).toISOString(), error: reason }, { durable });
        await q.fail(e.taskId, { from: 'delegated', reason, now });
        this.#opts.log?.warn({ taskId: e.taskId, status: err.status, err: err.message }, 'job refused; task failed');
        await this.#opts.event?.({
          key: `DelegationPolicy/${e.policy}`,
          type: 'Warning',
          reason: 'TaskFailed',
          message: `task ${e.taskId} of project ${rec.project}: ${reason}; moved to failed/ (not retried: the API refused the request itself)`,
          data: { taskId: e.taskId, project: rec.project, provider: rec.provider, attempt: rec.attempt, refused: true, ...(err.status !== undefined ? { status: err.status } : {}) },
        });
        return;
      }
      const failures = (rec.submitFailures ?? 0) + 1;
      await writeJobRecord(e.root, { ...rec, submitFailures: failures, error: errorMessage(err) }, { durable }).catch(() => undefined);
      throw new RetryableError('CF_ERR_DELEGATION_SUBMIT', 'ApiUnavailable', `task ${e.taskId} stays delegated (submit ${failures} failed; retried with the same Idempotency-Key): ${errorMessage(err)}`, {
        cause: err,
        ...(err instanceof DelegationApiError && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      });
    }
    delegationCrashPoint('delegate.submitted');
    const now = new Date(this.#now()).toISOString();
    const next: DelegationJobRecord = { ...rec, state: 'submitted', jobId: job.id, jobStatus: job.status, submittedAt: rec.submittedAt ?? now };
    delete next.error;
    await writeJobRecord(e.root, next, { durable });
    entry.polls.set(job.id, { at: this.#now(), job });
    this.#opts.log?.info({ taskId: e.taskId, jobId: job.id, provider: rec.provider, attempt: rec.attempt, replayed: job.replayed }, 'task delegated');
    delegationCrashPoint('delegate.after');
  }

  async #finish(e: Extract<Effect, { type: 'delegation.finish' }>): Promise<void> {
    const q = this.#opts.queueFor(e.root);
    const durable = this.durable;
    if (e.cancelJob && e.record.jobId) {
      const entry = this.#policies.get(e.policy);
      try {
        await entry?.client.cancelJob(e.record.jobId, { retry: { maxAttempts: 1, deadlineMs: 5_000 } });
      } catch (err) {
        this.#opts.log?.warn({ taskId: e.taskId, jobId: e.record.jobId, err: errorMessage(err) }, 'could not cancel the job (best effort)');
      }
    }
    await writeJobRecord(e.root, e.record, { durable });
    delegationCrashPoint('finish.recorded');
    const now = this.#now();
    switch (e.to) {
      case 'done':
        await q.complete(e.taskId, e.text, { from: 'delegated' });
        break;
      case 'failed':
        await q.fail(e.taskId, { from: 'delegated', reason: e.text, now });
        break;
      case 'inbox':
        await this.#lock(e.root, e.taskId, async () => {
          try {
            if (e.set) await updateTaskFrontmatter(e.root, e.taskId, 'delegated', e.set, { durable });
          } catch (err) {
            if (!(err instanceof TaskNotFoundError)) throw err;
          }
        });
        await q.move(e.taskId, 'delegated', 'inbox');
        break;
    }
    delegationCrashPoint('finish.after');
  }
}

