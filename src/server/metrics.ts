/**
 * Prometheus metrics (prom-client), one registry per Metrics instance (never the global one).
 *
 * Two kinds of series:
 * - read at scrape time from the controller's state (status of accounts, sessions, delegation
 *   policies; queue counts; guard audit counters) through `bind()`;
 * - pushed by hooks the runtime calls: `onReconcile` (Manager), `observeDispatchLatency`
 *   (Project controller), `recordUsageApiRequest` (Account controller), HTTP requests (server).
 *
 * Naming follows Prometheus conventions: `claude_failover_` prefix, base units (seconds, ratios),
 * `_total` for counters. docs/operations.md lists every series.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ObjectStatus, StatusMap } from '../core/controller.js';
import type { QueueCounts } from '../core/task.js';
import { POOL_KEY } from '../controllers/accounts-view.js';
import type { ReconcileObservation } from '../runtime/manager.js';
import type { ControllerState } from '../runtime/store.js';
import { poolView } from './objects.js';

export const METRIC_PREFIX = 'claude_failover_';

/** Guard decision counters as the guard's audit reader reports them (`decision/rule` -> count). */
export interface GuardCountsView {
  rules: Record<string, number>;
}

export interface MetricsSources {
  state: () => ControllerState;
  ready: () => boolean;
  /** Queue counts per project. */
  queues: () => Promise<Record<string, QueueCounts>>;
  /** Guard audit counters, when the guard has written an audit log. */
  guard?: () => GuardCountsView | undefined;
  /** Store changes (for active-account transitions). Returns an unsubscribe function. */
  subscribe: (l: (next: ControllerState, prev: ControllerState) => void) => () => void;
}

const ACTIVITIES = ['starting', 'idle', 'working', 'waitingInput', 'rateLimited', 'exited', 'unknown'] as const;
const WINDOWS = [
  ['fiveHour', 'five_hour'],
  ['sevenDay', 'seven_day'],
] as const;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function statusesOf(status: StatusMap, kind: string): [string, ObjectStatus][] {
  const prefix = `${kind}/`;
  return Object.entries(status).filter(([k]) => k.startsWith(prefix) && k !== `${kind}/*`).map(([k, v]) => [k.slice(prefix.length), v]);
}

export class Metrics {
  readonly registry = new Registry();
  #sources: MetricsSources | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #dispatch: Histogram<string>;
  readonly #reconcileDuration: Histogram<'kind'>;
  readonly #reconcileErrors: Counter<'kind'>;
  readonly #failovers: Counter<'reason'>;
  readonly #usageRequests: Counter<'account'>;
  readonly #usageErrors: Counter<'account'>;
  readonly #events: Counter<'type' | 'reason'>;
  readonly #http: Histogram<'method' | 'route' | 'status_code'>;
  readonly #throttled: Counter<'outcome'>;

  constructor(opts: { defaultMetrics?: boolean; version?: string } = {}) {
    const registers = [this.registry];
    const self = () => this.#sources;
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    new Gauge({ name: `${METRIC_PREFIX}build_info`, help: 'Build information; always 1.', labelNames: ['version', 'node'], registers }).set({ version: opts.version ?? 'unknown', node: process.version }, 1);

    new Gauge({
      name: `${METRIC_PREFIX}controller_ready`,
      help: '1 once the first full reconcile has completed (as /readyz), else 0.',
      registers,
      collect() {
        const s = self();
        this.set(s?.ready() ? 1 : 0);
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}account_utilization_ratio`,
      help: 'Quota used per account and window (five_hour, seven_day), 0-1 (may exceed 1), from the Account status.',
      labelNames: ['account', 'window'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [account, st] of statusesOf(s.state().status, 'Account')) {
          const usage = record(st.usage);
          for (const [field, window] of WINDOWS) {
            const u = num(record(usage?.[field])?.utilization);
            if (u !== undefined) this.set({ account, window }, u / 100);
          }
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}account_reset_timestamp_seconds`,
      help: 'When the quota window of an account resets, as a Unix timestamp, from the Account status.',
      labelNames: ['account', 'window'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [account, st] of statusesOf(s.state().status, 'Account')) {
          const usage = record(st.usage);
          for (const [field, window] of WINDOWS) {
            const at = record(usage?.[field])?.resetsAt;
            const ms = typeof at === 'string' ? Date.parse(at) : NaN;
            if (Number.isFinite(ms)) this.set({ account, window }, ms / 1000);
          }
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}account_active`,
      help: '1 for the account the pool runs under (the recorded decision, else the preferred account), 0 for the others.',
      labelNames: ['account'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        const { desired, status } = s.state();
        const active = poolView(desired, status).activeAccount;
        for (const a of desired.accounts) this.set({ account: a.metadata.name }, a.metadata.name === active ? 1 : 0);
      },
    });

    this.#failovers = new Counter({ name: `${METRIC_PREFIX}failovers_total`, help: 'Switches of the active account (pool failovers and failbacks), by decision reason.', labelNames: ['reason'], registers });

    new Gauge({
      name: `${METRIC_PREFIX}sessions`,
      help: 'Declared sessions by activity (starting, idle, working, waitingInput, rateLimited, exited, unknown).',
      labelNames: ['activity'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        const { desired, status } = s.state();
        const counts = new Map<string, number>(ACTIVITIES.map((a) => [a, 0]));
        for (const sess of desired.sessions) {
          const a = status[`Session/${sess.metadata.name}`]?.activity;
          const key = typeof a === 'string' ? a : 'unknown';
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [activity, n] of counts) this.set({ activity }, n);
      },
    });

    new Counter({
      name: `${METRIC_PREFIX}session_restarts_total`,
      help: 'Relaunches of a session after its process exited or its tmux session vanished (from the Session status; survives controller restarts).',
      labelNames: ['session'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [session, st] of statusesOf(s.state().status, 'Session')) {
          const n = num(st.restarts);
          if (n !== undefined && n >= 0) this.inc({ session }, n);
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}object_ready`,
      help: '1 when the object\'s Ready condition is True, 0 when False or Unknown.',
      labelNames: ['kind', 'name'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [key, st] of Object.entries(s.state().status)) {
          const ready = Array.isArray(st.conditions) ? st.conditions.find((c) => c.type === 'Ready') : undefined;
          if (!ready || key.endsWith('/*')) continue;
          const i = key.indexOf('/');
          this.set({ kind: key.slice(0, i), name: key.slice(i + 1) }, ready.status === 'True' ? 1 : 0);
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}tasks`,
      help: 'Task files per project and queue state (inbox, dispatched, delegated, done, failed, archive).',
      labelNames: ['project', 'state'],
      registers,
      async collect() {
        this.reset();
        const s = self();
        if (!s) return;
        const counts = await s.queues();
        for (const [project, c] of Object.entries(counts)) for (const [state, n] of Object.entries(c)) this.set({ project, state }, n);
      },
    });

    this.#dispatch = new Histogram({
      name: `${METRIC_PREFIX}dispatch_latency_seconds`,
      help: 'From a task file appearing in inbox/ to its prompt being pasted into an idle session.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    this.#reconcileDuration = new Histogram({
      name: `${METRIC_PREFIX}reconcile_duration_seconds`,
      help: 'Duration of reconciles per kind (a kind\'s share of a full pass, or one key).',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#reconcileErrors = new Counter({ name: `${METRIC_PREFIX}reconcile_errors_total`, help: 'Reconciles that failed (observation error or a change that failed to apply), per kind.', labelNames: ['kind'], registers });

    this.#usageRequests = new Counter({ name: `${METRIC_PREFIX}usage_api_requests_total`, help: 'Requests to the quota usage endpoint, per account.', labelNames: ['account'], registers });
    this.#usageErrors = new Counter({ name: `${METRIC_PREFIX}usage_api_errors_total`, help: 'Failed requests to the quota usage endpoint (network, non-2xx, unparsable), per account.', labelNames: ['account'], registers });

    new Counter({
      name: `${METRIC_PREFIX}guard_decisions_total`,
      help: 'Safety guard decisions (allow, warn, deny) per rule, counted from the guard audit log in the state dir.',
      labelNames: ['decision', 'rule'],
      registers,
      collect() {
        this.reset();
        const g = self()?.guard?.();
        if (!g) return;
        for (const [key, n] of Object.entries(g.rules)) {
          const i = key.indexOf('/');
          if (i < 0) continue;
          this.inc({ decision: key.slice(0, i), rule: key.slice(i + 1) }, n);
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}delegation_active_jobs`,
      help: 'Delegated jobs in flight per DelegationPolicy (status.activeJobs).',
      labelNames: ['policy'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [policy, st] of statusesOf(s.state().status, 'DelegationPolicy')) {
          const n = Array.isArray(st.activeJobs) ? st.activeJobs.length : num(st.activeJobs);
          if (n !== undefined) this.set({ policy }, n);
        }
      },
    });

    new Counter({
      name: `${METRIC_PREFIX}delegation_jobs_total`,
      help: 'Delegated jobs per DelegationPolicy and outcome (submitted, succeeded, failed), from status.counters.',
      labelNames: ['policy', 'outcome'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [policy, st] of statusesOf(s.state().status, 'DelegationPolicy')) {
          const c = record(st.counters);
          for (const outcome of ['submitted', 'succeeded', 'failed']) {
            const n = num(c?.[outcome]);
            if (n !== undefined && n >= 0) this.inc({ policy, outcome }, n);
          }
        }
      },
    });

    new Gauge({
      name: `${METRIC_PREFIX}delegation_cost_today_dollars`,
      help: 'Cost of delegated jobs today (UTC day) per DelegationPolicy, in US dollars (status.costToday).',
      labelNames: ['policy'],
      registers,
      collect() {
        this.reset();
        const s = self();
        if (!s) return;
        for (const [policy, st] of statusesOf(s.state().status, 'DelegationPolicy')) {
          const n = num(st.costToday);
          if (n !== undefined) this.set({ policy }, n);
        }
      },
    });

    this.#events = new Counter({ name: `${METRIC_PREFIX}events_total`, help: 'Events recorded in the event log since the control plane started, by type and reason.', labelNames: ['type', 'reason'], registers });

    this.#http = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Control-plane HTTP requests by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#throttled = new Counter({ name: `${METRIC_PREFIX}http_requests_throttled_total`, help: 'Control-plane requests over --api-rate: queued (answered late) or rejected (429, the wait queue was full).', labelNames: ['outcome'], registers });
  }

  /** Connects the scrape-time series to the controller's state. */
  bind(sources: MetricsSources): void {
    this.#unsubscribe?.();
    this.#sources = sources;
    this.#unsubscribe = sources.subscribe((next, prev) => {
      if (next.status === prev.status) return;
      this.#countFailover(next.status[POOL_KEY], prev.status[POOL_KEY]);
      for (const [key, st] of Object.entries(next.status)) {
        if (!key.startsWith('Account/') || key === POOL_KEY) continue;
        const before = prev.status[key];
        if (st !== before) this.#countUsagePoll(key.slice('Account/'.length), st, before);
      }
    });
  }

  /** A change of the recorded active account (from one account to another) is a failover. */
  #countFailover(after: ObjectStatus | undefined, before: ObjectStatus | undefined): void {
    if (after === before) return;
    const from = before?.activeAccount;
    const to = after?.activeAccount;
    if (typeof from !== 'string' || typeof to !== 'string' || from === to) return;
    const reason = record(after?.failover)?.reason ?? record(after?.lastDecision)?.reason;
    this.#failovers.inc({ reason: typeof reason === 'string' && reason !== '' ? reason : 'Unknown' });
  }

  /** The Account controller records each usage poll in status.poll (lastAttemptAt, consecutiveFailures). */
  #countUsagePoll(account: string, after: ObjectStatus, before: ObjectStatus | undefined): void {
    const attempt = num(record(after.poll)?.lastAttemptAt);
    if (attempt === undefined || attempt === num(record(before?.poll)?.lastAttemptAt)) return;
    const failures = num(record(after.poll)?.consecutiveFailures) ?? 0;
    this.recordUsageApiRequest(account, failures === 0);
  }

  unbind(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#sources = undefined;
  }

  /** The Project controller's hook: inbox file seen -> prompt pasted, in ms. */
  observeDispatchLatency(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.#dispatch.observe(ms / 1000);
  }

  /** For ManagerDeps.onReconcile. Dry runs (plans) are not counted. */
  readonly onReconcile = (r: ReconcileObservation): void => {
    if (r.dryRun) return;
    this.#reconcileDuration.observe({ kind: r.kind }, r.durationMs / 1000);
    if (r.error !== undefined) this.#reconcileErrors.inc({ kind: r.kind });
  };

  /** The Account controller's hook: one request to the usage endpoint. */
  recordUsageApiRequest(account: string, ok: boolean): void {
    this.#usageRequests.inc({ account });
    if (!ok) this.#usageErrors.inc({ account });
  }

  recordEvent(e: { type: string; reason: string }): void {
    this.#events.inc({ type: e.type, reason: e.reason });
  }

  recordThrottled(outcome: 'queued' | 'rejected'): void {
    this.#throttled.inc({ outcome });
  }

  recordHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.#http.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Every series name this module defines (for docs and tests). */
export function seriesNames(m: Metrics): string[] {
  return m.registry.getMetricsAsArray().map((x) => x.name).filter((n) => n.startsWith(METRIC_PREFIX)).sort();
}
