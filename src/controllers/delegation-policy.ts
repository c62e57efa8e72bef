/**
 * DelegationPolicy controller (docs/delegation-api.md): runs the tasks that the router (src/core/router.ts) sends
 * to an external AI job API.
 *
 * For each policy, observe() reads every project whose `spec.delegationPolicy` names it — the
 * inbox scan, delegated/ and the job records (`<queue>/jobs/<id>.json`) — and polls the jobs in
 * flight; plan() (pure) then decides:
 * - inbox tasks with `decide(task, project, policy).route === 'delegate'` → delegated/ with a
 *   durable job record, and submitted (never a task the router sends local);
 *   · circuit open → they stay in inbox/ (not failed), condition CircuitClosed=False;
 *   · `maxConcurrentJobs` jobs in flight → they wait in inbox/;
 *   · `budget.maxCostPerDay` reached → marked local (`allow_delegation: false`) so the Project
 *     controller dispatches them, with ONE `DelegationBudgetReached` event (per day);
 * - crash recovery from the records (pending → submit again with the same Idempotency-Key);
 * - the reaper: succeeded → done/ (result + delegated footer); failed → failed/ (the error);
 *   not finished within `jobTimeout` → failed/, or back to inbox/ as local with `fallbackToLocal`;
 * - status: conditions Ready, CircuitClosed, BudgetAvailable; activeJobs; counters; costToday.
 */
import { durationMs } from '../api/duration.js';
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { emptyPlanPart, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';
import type { DelegationJobRecord, Effect } from '../core/effects.js';
import { errorMessage } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import type { FsReadPort } from '../core/ports.js';
import { decide, type RouteDecision, type RouterPolicy } from '../core/router.js';
import { formatDelegatedFooter, type InboxScan, type Task, type TaskEntry } from '../core/task.js';
import { queueRootOf } from '../api/queue-root.js';

// ---------------------------------------------------------------------------------------------
// Ports (implemented by src/adapters/delegation/service.ts; structurally typed)

/** A job as the API reports it. */
export interface DelegationJobView {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  provider?: string;
  result?: string;
  cost?: number;
  currency?: string;
  error?: string;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** The circuit breaker of a policy's API (src/adapters/delegation/circuit-breaker.ts). */
export interface CircuitView {
  state: 'closed' | 'open' | 'halfOpen';
  consecutiveFailures: number;
  opens: number;
  openedAt?: number;
  retryAt?: number;
  probeInFlight?: boolean;
  lastError?: string;
  lastFailureAt?: number;
}

export interface DelegationApiPort {
  /** Loads the policy's client/breaker (`prior`: the breaker persisted in status, after a restart). */
  bind(policy: ManifestObject<'DelegationPolicy'>, prior?: CircuitView): void;
  /** undefined when the API key can be read; otherwise why not (never the value). */
  checkKey(policy: string): Promise<string | undefined>;
  getJob(policy: string, jobId: string): Promise<DelegationJobView>;
  circuit(policy: string): CircuitView;
  records(root: string): Promise<{ records: DelegationJobRecord[]; bad: { taskId: string; path: string; error: string }[] }>;
}

export interface DelegationQueuePort {
  scanInbox(): Promise<InboxScan>;
  list(state: 'delegated'): Promise<TaskEntry[]>;
}

export interface DelegationTuning {
  /** Terminal job records are kept this long (cost of the day, counters), then removed. */
  recordRetentionMs: number;
  /** Jobs polled at once. */
  pollConcurrency: number;
  /** Entries of `activeJobs`/`waiting` kept in status. */
  statusListMax: number;
  /** A job's result appended to the task is cut at this many characters. */
  resultMaxChars: number;
}

export const DEFAULT_DELEGATION_TUNING: DelegationTuning = {
  recordRetentionMs: 7 * 86_400_000,
  pollConcurrency: 8,
  statusListMax: 100,
  resultMaxChars: 200_000,
};

export interface DelegationPolicyControllerDeps {
  queueFor(root: string): DelegationQueuePort;
  fs: Pick<FsReadPort, 'inspect'>;
  api: DelegationApiPort;
  tuning?: Partial<DelegationTuning>;
}

// ---------------------------------------------------------------------------------------------
// Observation

export interface DelegationProjectObserved {
  root: string;
  exists: boolean;
  error?: string;
  /** Settled, parsed inbox tasks (priority, then age). */
  ready: Task[];
  /** Every task id in inbox/ (ready, settling, malformed). */
  inboxIds: string[];
  delegated: TaskEntry[];
  records: DelegationJobRecord[];
  badRecords: { taskId: string; error: string }[];
  /** Poll results of this project's submitted jobs, by task id. */
  polls: Record<string, DelegationJobView | { pollError: string }>;
}

export interface DelegationPolicyObserved {
  keyProblem?: string;
  circuit: CircuitView;
  projects: Record<string, DelegationProjectObserved>;
}

export interface DelegationObserved {
  policies: Record<string, DelegationPolicyObserved>;
}

// ---------------------------------------------------------------------------------------------
// Status

export interface ActiveJob {
  taskId: string;
  project: string;
  provider: string;
  attempt: number;
  state: 'pending' | 'submitted';
  jobId?: string;
  jobStatus?: string;
  createdAt: string;
  submittedAt?: string;
}

export interface DelegationCounters {
  /** Jobs accepted by the API (records kept: `recordRetentionMs`). */
  submitted: number;
  succeeded: number;
  failed: number;
  /** Tasks returned to local sessions (timeout with fallbackToLocal). */
  returned: number;
}

/** `status` of `DelegationPolicy/<name>` (for `get`, the control plane's /api/v1/delegation). */
export interface DelegationPolicyStatus extends ObjectStatus {
  endpoint: string;
  projects: string[];
  activeJobs: ActiveJob[];
  activeCount: number;
  maxConcurrentJobs: number;
  counters: DelegationCounters;
  /** Cost of the jobs that finished today (UTC day `day`), from the job records. */
  costToday: number;
  currency: string;
  day: string;
  budget?: { maxCostPerDay: number; remaining: number };
  budgetExhausted: boolean;
  /** The UTC day DelegationBudgetReached was emitted (once per day). */
  budgetReachedOn?: string;
  circuit: CircuitView;
  /** Tasks routed to delegation that wait in inbox/, and why. */
  waiting?: { taskId: string; project: string; provider?: string; reason: string }[];
}

/**
 * Entries for a Project's `status.json` (`sessions.*.state = delegated_to_secutools`, and the
 * `delegated` list), from the policy's status — pure, for the Project controller to call with
 * `input.prior['DelegationPolicy/<name>']`.
 */
export function delegatedSessionsView(status: Pick<DelegationPolicyStatus, 'activeJobs'> | undefined, project: string): {
  sessions: Record<string, { state: 'delegated_to_secutools'; task: string; since?: string }>;
  delegated: { taskId: string; provider?: string; jobId?: string }[];
} {
  const sessions: Record<string, { state: 'delegated_to_secutools'; task: string; since?: string }> = {};
  const delegated: { taskId: string; provider?: string; jobId?: string }[] = [];
  for (const j of status?.activeJobs ?? []) {
    if (j.project !== project) continue;
    const since = j.submittedAt ?? j.createdAt;
    sessions[`delegated:${j.taskId}`] = { state: 'delegated_to_secutools', task: j.taskId, ...(since ? { since } : {}) };
    delegated.push({ taskId: j.taskId, provider: j.provider, ...(j.jobId ? { jobId: j.jobId } : {}) });
  }
  return { sessions, delegated };
}

/** The router's view of a policy manifest. */
export function routerPolicyOf(p: ManifestObject<'DelegationPolicy'>): RouterPolicy {
  return { name: p.metadata.name, providers: p.spec.providers, ...(p.spec.defaultProvider ? { defaultProvider: p.spec.defaultProvider } : {}) };
}

/** The router's decision for a task of `project` (the policy the project names, if declared). */
export function routeTask(task: Pick<Task, 'id' | 'frontmatter'>, project: ManifestObject<'Project'>, desired: Pick<DesiredState, 'delegationPolicies'>): RouteDecision {
  const name = project.spec.delegationPolicy;
  const policy = name ? desired.delegationPolicies.find((x) => x.metadata.name === name) : undefined;
  return decide(task, { name: project.metadata.name, ...(name ? { delegationPolicy: name } : {}) }, policy ? routerPolicyOf(policy) : undefined);
}

// ---------------------------------------------------------------------------------------------
// The controller

export class DelegationPolicyController implements Controller<DelegationObserved> {
  readonly kind = 'DelegationPolicy' as const;
  /** A new or changed inbox task of a project wakes the project's policy (the router may send it to the job API). */
  readonly watches: readonly Watch[] = [
    {
      kind: 'Project',
      on: ['trigger'],
      map: (key, desired) => desired.projects.filter((p) => `Project/${p.metadata.name}` === key && p.spec.delegationPolicy).map((p) => p.spec.delegationPolicy as string),
    },
  ];
  readonly #deps: DelegationPolicyControllerDeps;
  readonly #tuning: DelegationTuning;
  /** Job states per policy and project from the latest applied pass. */
  readonly #latestPolls = new Map<string, DelegationProjectObserved['polls']>();

  constructor(deps: DelegationPolicyControllerDeps) {
    this.#deps = deps;
    this.#tuning = { ...DEFAULT_DELEGATION_TUNING, ...deps.tuning };
  }

  names(desired: DesiredState, _inventory: Inventory): string[] {
    return desired.delegationPolicies.map((p) => p.metadata.name).sort();
  }

  async observe(names: readonly string[], ctx: ObserveContext): Promise<DelegationObserved> {
    const out: DelegationObserved = { policies: {} };
    for (const name of names) {
      const policy = ctx.desired.delegationPolicies.find((p) => p.metadata.name === name);
      if (!policy) continue;
      const prior = ctx.prior[`DelegationPolicy/${name}`] as DelegationPolicyStatus | undefined;
      this.#deps.api.bind(policy, prior?.circuit);
      const o: DelegationPolicyObserved = { circuit: this.#deps.api.circuit(name), projects: {} };
      const keyProblem = await this.#deps.api.checkKey(name);
      if (keyProblem) o.keyProblem = keyProblem;
      for (const project of ctx.desired.projects.filter((p) => p.spec.delegationPolicy === name)) {
        // A plan preview on a running controller reuses the job states of its latest pass: no extra
        // requests to the job API (whose failures count towards the circuit breaker).
        const latest = ctx.dryRun ? this.#latestPolls.get(`${name}\0${project.metadata.name}`) : undefined;
        o.projects[project.metadata.name] = await this.#observeProject(name, queueRootOf(project), keyProblem === undefined, latest);
      }
      o.circuit = this.#deps.api.circuit(name);
      out.policies[name] = o;
    }
    return out;
  }

  /** The plan made from this observation was applied: its job states are the latest (for previews). */
  commit(observed: DelegationObserved): void {
    for (const [policy, o] of Object.entries(observed.policies)) {
      for (const [project, p] of Object.entries(o.projects)) this.#latestPolls.set(`${policy}\0${project}`, p.polls);
    }
  }

  async #observeProject(policy: string, root: string, canPoll: boolean, latestPolls?: DelegationProjectObserved['polls']): Promise<DelegationProjectObserved> {
    const base: DelegationProjectObserved = { root, exists: false, ready: [], inboxIds: [], delegated: [], records: [], badRecords: [], polls: {} };
    try {
      const inbox = await this.#deps.fs.inspect(`${root}/inbox`);
      if (inbox.kind !== 'directory') return base;
      const q = this.#deps.queueFor(root);
      // Records before the directories: a record written after this read belongs to a later pass.
      const recs = await this.#deps.api.records(root);
      const delegated = await q.list('delegated');
      const scan = await q.scanInbox();
      const o: DelegationProjectObserved = {
        ...base,
        exists: true,
        ready: scan.ready,
        inboxIds: [...scan.ready.map((t) => t.id), ...scan.settling.map((e) => e.id), ...scan.malformed.map((m) => m.entry.id), ...scan.conflicts.map((c) => c.entry.id)],
        delegated,
        records: recs.records,
        badRecords: recs.bad.map((b) => ({ taskId: b.taskId, error: b.error })),
      };
      if (canPoll) {
        const inDelegated = new Set(delegated.map((d) => d.id));
        // Submitted jobs, and succeeded ones whose task is still in delegated/ (a crash cut the finish short: the result is fetched again).
        const toPoll = recs.records.filter((r) => r.policy === policy && (r.state === 'submitted' || r.state === 'succeeded') && r.jobId !== undefined && inDelegated.has(r.taskId));
        if (latestPolls) {
          for (const r of toPoll) {
            const seen = latestPolls[r.taskId];
            if (seen) o.polls[r.taskId] = seen;
          }
          return o;
        }
        let next = 0;
        const worker = async () => {
          while (next < toPoll.length) {
            const r = toPoll[next++] as DelegationJobRecord;
            try {
              o.polls[r.taskId] = await this.#deps.api.getJob(policy, r.jobId as string);
            } catch (err) {
              o.polls[r.taskId] = { pollError: errorMessage(err) };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.#tuning.pollConcurrency, toPoll.length) }, worker));
      }
      return o;
    } catch (err) {
      return { ...base, error: errorMessage(err) };
    }
  }

  plan(input: PlanInput<DelegationObserved>, names: readonly string[]): PlanPart {
    const out = emptyPlanPart();
    for (const name of names) {
      const policy = input.desired.delegationPolicies.find((p) => p.metadata.name === name);
      const o = input.observed.policies[name];
      if (policy && o) planPolicy(policy, o, input, out, this.#tuning);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure)

const TERMINAL = new Set<DelegationJobRecord['state']>(['succeeded', 'failed', 'returned']);

function msOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const n = Date.parse(iso);
  return Number.isFinite(n) ? n : undefined;
}

/** UTC day `YYYY-MM-DD` of an epoch-ms time. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Cost of the jobs (and earlier attempts) that finished on `day` (UTC). */
export function costOnDay(records: readonly DelegationJobRecord[], day: string): number {
  let sum = 0;
  for (const r of records) {
    if (TERMINAL.has(r.state) && r.cost !== undefined && r.finishedAt?.slice(0, 10) === day) sum += r.cost;
    for (const h of r.history ?? []) if (h.cost !== undefined && h.finishedAt?.slice(0, 10) === day) sum += h.cost;
  }
  return Math.round(sum * 1e6) / 1e6;
}

/** Counters over the records kept. */
export function countRecords(records: readonly DelegationJobRecord[]): DelegationCounters {
  const c: DelegationCounters = { submitted: 0, succeeded: 0, failed: 0, returned: 0 };
  const add = (state: DelegationJobRecord['state'], jobId: string | undefined) => {
    if (jobId !== undefined) c.submitted += 1;
    if (state === 'succeeded') c.succeeded += 1;
    else if (state === 'failed') c.failed += 1;
    else if (state === 'returned') c.returned += 1;
  };
  for (const r of records) {
    add(r.state, r.jobId);
    for (const h of r.history ?? []) add(h.state, h.jobId);
  }
  return c;
}

/** The text appended to a task whose job succeeded: the result, then the delegated footer. */
export function resultText(taskId: string, job: DelegationJobView, rec: DelegationJobRecord, finishedAt: number, maxChars: number): string {
  const raw = (job.result ?? '').replace(/\r\n?/g, '\n');
  const result = raw.length > maxChars ? `${raw.slice(0, maxChars)}\n\n… (result cut at ${maxChars} characters)` : raw;
  // The job's own times (one clock: the API's) when reported; else when we submitted it.
  const apiStart = msOf(job.startedAt) ?? msOf(job.createdAt);
  const startedAt = apiStart !== undefined && apiStart <= finishedAt ? apiStart : Math.min(msOf(rec.submittedAt) ?? msOf(rec.createdAt) ?? finishedAt, finishedAt);
  const footer = formatDelegatedFooter({
    taskId,
    provider: job.provider ?? rec.provider,
    jobId: job.id,
    ...(job.cost !== undefined ? { cost: job.cost } : {}),
    ...(job.currency !== undefined ? { currency: job.currency } : {}),
    startedAt,
    finishedAt,
    attempts: rec.attempt,
  });
  const section = `\n## Result (${(job.provider ?? rec.provider).replace(/\s+/g, ' ')}, job ${job.id.replace(/\s+/g, ' ')})\n\n${result.trimEnd() || '(empty result)'}\n`;
  return section + footer;
}

interface Ctx {
  policy: ManifestObject<'DelegationPolicy'>;
  key: string;
  now: number;
  out: PlanPart;
}

function change(ctx: Ctx, resource: string, reason: string, effects: Effect[], action: Change['action'] = 'update'): void {
  ctx.out.changes.push({ key: ctx.key, action, resource, reason, effects });
}

export function planPolicy(policy: ManifestObject<'DelegationPolicy'>, o: DelegationPolicyObserved, input: PlanInput<DelegationObserved>, out: PlanPart, tuning: DelegationTuning): void {
  const name = policy.metadata.name;
  const key = `DelegationPolicy/${name}`;
  const spec = policy.spec;
  const now = input.now.getTime();
  const nowIso = input.now.toISOString();
  const day = utcDay(now);
  const prior = input.prior[key] as DelegationPolicyStatus | undefined;
  const ctx: Ctx = { policy, key, now, out };
  const jobTimeoutMs = durationMs(spec.jobTimeout);
  const pollMs = durationMs(spec.pollInterval);
  const routerPolicy = routerPolicyOf(policy);
  const requeue = (ms: number) => {
    const v = Math.max(0, Math.round(ms));
    out.requeueAfterMs[key] = Math.min(out.requeueAfterMs[key] ?? Infinity, v);
  };

  const circuitOpen = o.circuit.state === 'open' && (o.circuit.retryAt ?? 0) > now;
  const circuitBusy = circuitOpen || (o.circuit.state === 'halfOpen' && o.circuit.probeInFlight === true);
  const allRecords: DelegationJobRecord[] = [];
  const active: ActiveJob[] = [];
  const waiting: NonNullable<DelegationPolicyStatus['waiting']> = [];
  const toRouteLocal: { project: string; root: string; task: Task }[] = [];
  let submitsPlanned = 0;
  let polling = false;

  // Budget first: it decides whether inbox tasks are delegated at all.
  for (const po of Object.values(o.projects)) allRecords.push(...po.records.filter((r) => r.policy === name));
  const costToday = costOnDay(allRecords, day);
  const currency = allRecords.find((r) => r.currency)?.currency ?? 'USD';
  const budgetExhausted = spec.budget !== undefined && costToday >= spec.budget.maxCostPerDay;

  // Jobs in flight count against maxConcurrentJobs across the policy's projects.
  let inFlight = 0;
  for (const po of Object.values(o.projects)) {
    const inDelegated = new Set(po.delegated.map((d) => d.id));
    for (const r of po.records) if (r.policy === name && !TERMINAL.has(r.state) && (inDelegated.has(r.taskId) || po.inboxIds.includes(r.taskId))) inFlight += 1;
  }

  for (const [projectName, po] of Object.entries(o.projects).sort(([a], [b]) => a.localeCompare(b))) {
    const root = po.root;
    if (po.error) {
      out.notes.push({ key, level: 'warning', message: `project ${projectName}: cannot read the task queue ${root}: ${po.error}` });
      requeue(5_000);
      continue;
    }
    if (!po.exists) {
      out.notes.push({ key, level: 'info', message: `project ${projectName}: the task queue ${root} does not exist yet (the Project controller creates it)` });
      requeue(1_000);
      continue;
    }
    for (const b of po.badRecords) out.notes.push({ key, level: 'warning', message: `project ${projectName}: unreadable job record of task ${b.taskId}: ${b.error}` });
    const inDelegated = new Set(po.delegated.map((d) => d.id));
    const inInbox = new Set(po.inboxIds);
    const records = new Map(po.records.map((r) => [r.taskId, r]));
    const touched = new Set<string>();
    const taskRes = (id: string) => `task "${id}" (project ${projectName})`;
    const activeOf = (r: DelegationJobRecord): ActiveJob => ({
      taskId: r.taskId, project: projectName, provider: r.provider, attempt: r.attempt, state: r.state === 'submitted' ? 'submitted' : 'pending', createdAt: r.createdAt,
      ...(r.jobId ? { jobId: r.jobId } : {}), ...(r.jobStatus ? { jobStatus: r.jobStatus } : {}), ...(r.submittedAt ? { submittedAt: r.submittedAt } : {}),
    });

    // -- records: recovery, polling, the reaper
    for (const r of po.records) {
      const id = r.taskId;
      if (r.policy !== name) {
        if (inDelegated.has(id) && !TERMINAL.has(r.state)) out.notes.push({ key, level: 'warning', message: `task ${id} of project ${projectName} was delegated under policy ${r.policy}; it is left to that policy` });
        continue;
      }
      const there = inDelegated.has(id);
      if (TERMINAL.has(r.state)) {
        if (there) {
          // Crash between the terminal record and the move: finish again (idempotent).
          touched.add(id);
          const poll = po.polls[id];
          const finish = r.state === 'succeeded' && poll && !('pollError' in poll) && poll.status === 'succeeded'
            ? { to: 'done' as const, text: resultText(id, poll, r, msOf(r.finishedAt) ?? now, tuning.resultMaxChars) }
            : finishFromRecord(r);
          change(ctx, taskRes(id), `recovery: job ${r.jobId ?? '(none)'} is ${r.state}; finishing the interrupted move to ${finish.to}/`, [{ type: 'delegation.finish', policy: name, root, taskId: id, to: finish.to, text: finish.text, ...(finish.set ? { set: finish.set } : {}), record: r }]);
          continue;
        }
        const fin = msOf(r.finishedAt) ?? msOf(r.createdAt) ?? now;
        if (now - fin >= tuning.recordRetentionMs && !inInbox.has(id)) {
          change(ctx, `job record of task "${id}"`, `terminal for more than ${Math.round(tuning.recordRetentionMs / 86_400_000)}d; pruned`, [{ type: 'delegation.removeRecords', root, taskIds: [id] }], 'delete');
        }
        continue;
      }
      // pending or submitted
      if (r.state === 'pending') {
        if (there) {
          touched.add(id);
          active.push(activeOf(r));
          if (o.keyProblem || circuitBusy) {
            out.notes.push({ key, level: 'info', message: `task ${id}: submit pending (${o.keyProblem ? 'API key unavailable' : 'circuit open'}); it stays in delegated/` });
            continue;
          }
          submitsPlanned += 1;
          change(ctx, taskRes(id), `submit again with the same Idempotency-Key (attempt ${r.attempt}${r.submitFailures ? `, ${r.submitFailures} failed submit(s)` : ''}): the job id was never recorded`, [{ type: 'delegation.submit', policy: name, root, taskId: id, from: 'delegated', record: r }]);
          continue;
        }
        if (inInbox.has(id)) continue; // the inbox pass below continues it (or drops the record)
        touched.add(id);
        change(ctx, `job record of task "${id}"`, 'pending record of a task that is no longer in inbox/ or delegated/ (never submitted); removed', [{ type: 'delegation.removeRecords', root, taskIds: [id] }], 'delete');
        continue;
      }
      // submitted
      if (!there) {
        touched.add(id);
        const rec: DelegationJobRecord = { ...r, state: 'failed', finishedAt: nowIso, error: `task left delegated/ outside the controller while job ${r.jobId ?? '?'} was ${r.jobStatus ?? 'submitted'}` };
        change(ctx, `job record of task "${id}"`, rec.error as string, [{ type: 'delegation.writeRecord', root, record: rec }]);
        continue;
      }
      touched.add(id);
      const poll = po.polls[id];
      const submittedAt = msOf(r.submittedAt) ?? msOf(r.createdAt) ?? now;
      if (poll && !('pollError' in poll) && (poll.status === 'succeeded' || poll.status === 'failed')) {
        const finishedAt = msOf(poll.finishedAt) ?? now;
        const finishedIso = new Date(finishedAt).toISOString();
        const base: DelegationJobRecord = { ...r, jobStatus: poll.status, finishedAt: finishedIso, ...(poll.cost !== undefined ? { cost: poll.cost } : {}), ...(poll.currency ? { currency: poll.currency } : {}) };
        if (poll.status === 'succeeded') {
          const text = resultText(id, poll, r, finishedAt, tuning.resultMaxChars);
          change(ctx, taskRes(id), `job ${poll.id} succeeded on ${poll.provider ?? r.provider}${poll.cost !== undefined ? ` (cost ${poll.cost})` : ''}; result → done/`, [{ type: 'delegation.finish', policy: name, root, taskId: id, to: 'done', text, record: { ...base, state: 'succeeded' } }]);
          out.events.push({ key, type: 'Normal', reason: 'DelegatedTaskSucceeded', message: `task ${id} of project ${projectName} done by ${poll.provider ?? r.provider} (job ${poll.id})`, data: { taskId: id, project: projectName, provider: poll.provider ?? r.provider, jobId: poll.id, ...(poll.cost !== undefined ? { cost: poll.cost } : {}) } });
        } else {
          const reason = `delegated job ${poll.id} (${poll.provider ?? r.provider}) failed: ${poll.error ?? 'no error given'}`;
          change(ctx, taskRes(id), `${reason}; → failed/`, [{ type: 'delegation.finish', policy: name, root, taskId: id, to: 'failed', text: reason, record: { ...base, state: 'failed', error: reason } }]);
          out.events.push({ key, type: 'Warning', reason: 'TaskFailed', message: `task ${id} of project ${projectName}: ${reason}`, data: { taskId: id, project: projectName, provider: r.provider, jobId: poll.id } });
        }
        continue;
      }
      const status = poll && !('pollError' in poll) ? poll.status : r.jobStatus;
      if (now - submittedAt >= jobTimeoutMs && !circuitOpen && poll && !('pollError' in poll)) {
        const why = `delegated job ${r.jobId} (${r.provider}) did not finish within jobTimeout ${spec.jobTimeout} (still ${status ?? 'unknown'})`;
        if (spec.fallbackToLocal) {
          const set = { allow_delegation: false, last_error: `${why}; running locally`.slice(0, 500) };
          change(ctx, taskRes(id), `${why}; fallbackToLocal → back to inbox/ for a local session (job cancelled)`, [{ type: 'delegation.finish', policy: name, root, taskId: id, to: 'inbox', text: '', set, cancelJob: true, record: { ...r, state: 'returned', finishedAt: nowIso, error: why, ...(status ? { jobStatus: status } : {}) } }]);
          out.events.push({ key, type: 'Warning', reason: 'DelegationTimedOut', message: `task ${id} of project ${projectName}: ${why}; returned to local sessions`, data: { taskId: id, project: projectName, jobId: r.jobId } });
        } else {
          change(ctx, taskRes(id), `${why}; → failed/ (job cancelled)`, [{ type: 'delegation.finish', policy: name, root, taskId: id, to: 'failed', text: why, cancelJob: true, record: { ...r, state: 'failed', finishedAt: nowIso, error: why, ...(status ? { jobStatus: status } : {}) } }]);
          out.events.push({ key, type: 'Warning', reason: 'TaskFailed', message: `task ${id} of project ${projectName}: ${why}`, data: { taskId: id, project: projectName, jobId: r.jobId } });
        }
        continue;
      }
      active.push({ ...activeOf(r), ...(status ? { jobStatus: status } : {}) });
      polling = true;
      if (poll && 'pollError' in poll) out.notes.push({ key, level: 'info', message: `task ${id}: job ${r.jobId} could not be polled (${poll.pollError}); polled again later` });
      else if (poll && poll.status !== r.jobStatus) {
        change(ctx, `job record of task "${id}"`, `job ${r.jobId} is ${poll.status}`, [{ type: 'delegation.writeRecord', root, record: { ...r, jobStatus: poll.status } }]);
      }
    }

    // -- delegated/ tasks without a record (moved by hand, or the record was lost)
    for (const d of po.delegated) {
      if (records.has(d.id) || touched.has(d.id)) continue;
      if (po.badRecords.some((b) => b.taskId === d.id)) continue; // reported above; a human decides
      touched.add(d.id);
      const rec: DelegationJobRecord = { version: 1, taskId: d.id, project: projectName, policy: name, provider: spec.defaultProvider ?? spec.providers[0] ?? 'unknown', attempt: 1, state: 'pending', createdAt: nowIso };
      active.push(activeOf(rec));
      if (o.keyProblem || circuitBusy) continue;
      submitsPlanned += 1;
      change(ctx, taskRes(d.id), `in delegated/ without a job record; submitting (attempt 1, provider ${rec.provider})`, [{ type: 'delegation.submit', policy: name, root, taskId: d.id, from: 'delegated', record: rec }]);
    }

    // -- inbox: tasks the router sends to delegation
    for (const t of po.ready) {
      if (touched.has(t.id)) continue;
      const d = decide(t, { name: projectName, delegationPolicy: name }, routerPolicy);
      const r = records.get(t.id);
      if (d.route !== 'delegate') {
        // Never touch a local task. A pending record left by a cut-short delegation is dropped (nothing was submitted).
        if (r && r.policy === name && r.state === 'pending') change(ctx, `job record of task "${t.id}"`, `the task now runs locally (${d.rule}); its pending record (never submitted) is removed`, [{ type: 'delegation.removeRecords', root, taskIds: [t.id] }], 'delete');
        continue;
      }
      const provider = d.provider as string;
      const resume = r && r.policy === name && r.state === 'pending';
      if (budgetExhausted && !resume) {
        toRouteLocal.push({ project: projectName, root, task: t });
        continue;
      }
      const wait = (reason: string) => waiting.push({ taskId: t.id, project: projectName, provider, reason });
      if (o.keyProblem) {
        wait(`API key unavailable: ${o.keyProblem}`);
        continue;
      }
      if (circuitBusy) {
        wait(`circuit open: ${o.circuit.lastError ?? 'the job API is failing'}`);
        continue;
      }
      if (!resume && inFlight >= spec.maxConcurrentJobs) {
        wait(`maxConcurrentJobs ${spec.maxConcurrentJobs} reached`);
        continue;
      }
      const prev = r && r.policy === name ? r : undefined;
      const rec: DelegationJobRecord = resume && prev
        ? prev
        : {
            version: 1, taskId: t.id, project: projectName, policy: name, provider, attempt: (prev?.attempt ?? 0) + 1, state: 'pending', createdAt: nowIso,
            ...(prev ? { history: [...(prev.history ?? []), { attempt: prev.attempt, state: prev.state, ...(prev.jobId ? { jobId: prev.jobId } : {}), ...(prev.cost !== undefined ? { cost: prev.cost } : {}), ...(prev.currency ? { currency: prev.currency } : {}), ...(prev.finishedAt ? { finishedAt: prev.finishedAt } : {}) }].slice(-20) } : {}),
          };
      if (!resume) inFlight += 1;
      submitsPlanned += 1;
      active.push(activeOf(rec));
      change(ctx, taskRes(t.id), `${resume ? 'resume an interrupted delegation' : 'delegate'} to ${provider} (${d.rule}: ${d.reason}); attempt ${rec.attempt}`, [{ type: 'delegation.submit', policy: name, root, taskId: t.id, from: 'inbox', record: rec }]);
    }
  }

  // -- budget reached: the remaining delegate-routed tasks run locally
  const firstReached = budgetExhausted && prior?.budgetReachedOn !== day;
  if (budgetExhausted && spec.budget) {
    for (const { project, root, task } of toRouteLocal) {
      change(ctx, `task "${task.id}" (project ${project})`, `delegation budget reached (${costToday} of ${spec.budget.maxCostPerDay} per day): runs locally`, [{ type: 'delegation.routeLocal', root, taskId: task.id, set: { allow_delegation: false } }]);
    }
    if (firstReached) {
      out.events.push({
        key, type: 'Warning', reason: 'DelegationBudgetReached',
        message: `delegation budget of policy ${name} reached: ${costToday} ${currency} of ${spec.budget.maxCostPerDay} today (${day} UTC); new tasks run locally`,
        data: { policy: name, costToday, maxCostPerDay: spec.budget.maxCostPerDay, currency, day, routedLocal: toRouteLocal.length },
      });
    }
    out.notes.push({ key, level: 'warning', message: `delegation budget reached (${costToday} of ${spec.budget.maxCostPerDay} ${currency} today)${toRouteLocal.length ? `: ${toRouteLocal.length} task(s) marked local` : ''}` });
  }

  // -- conditions and status
  let conditions: Condition[] = prior?.conditions ?? [];
  const gen = policy.generation;
  const cond = (type: string, status: Condition['status'], reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message }, input.now, gen);
  };
  const waitingOnCircuit = waiting.filter((w) => w.reason.startsWith('circuit open')).length;
  if (o.circuit.state === 'closed') cond('CircuitClosed', 'True', 'Closed', o.circuit.consecutiveFailures > 0 ? `the job API answers (${o.circuit.consecutiveFailures} recent failure(s): ${o.circuit.lastError ?? ''})` : 'the job API answers');
  else {
    const inS = Math.max(0, Math.ceil(((o.circuit.retryAt ?? now) - now) / 1000));
    cond('CircuitClosed', 'False', o.circuit.state === 'open' ? 'Open' : 'HalfOpen', `the job API is failing (${o.circuit.consecutiveFailures} failure(s); last: ${o.circuit.lastError ?? 'unknown'}); ${waitingOnCircuit} task(s) stay in inbox/, not failed; ${o.circuit.state === 'open' ? `next probe in ${inS}s` : 'probing'}`);
  }
  if (!spec.budget) cond('BudgetAvailable', 'True', 'NoBudget', `no daily budget; ${costToday} ${currency} today`);
  else if (budgetExhausted) cond('BudgetAvailable', 'False', 'BudgetReached', `${costToday} of ${spec.budget.maxCostPerDay} ${currency} spent today (${day} UTC); new tasks run locally`);
  else cond('BudgetAvailable', 'True', 'WithinBudget', `${costToday} of ${spec.budget.maxCostPerDay} ${currency} spent today`);
  const projects = Object.keys(o.projects).sort();
  if (o.keyProblem) cond('Ready', 'False', 'ApiKeyUnavailable', `${o.keyProblem}; nothing is delegated`);
  else if (o.circuit.state !== 'closed') cond('Ready', 'False', 'CircuitOpen', 'the job API is failing; delegated tasks wait');
  else if (projects.length === 0) cond('Ready', 'True', 'NoProjects', 'no Project names this policy');
  else cond('Ready', 'True', active.length > 0 ? 'Delegating' : 'Idle', `${active.length} job(s) in flight (max ${spec.maxConcurrentJobs}), ${waiting.length} waiting`);

  const status: DelegationPolicyStatus = {
    observedGeneration: gen,
    conditions,
    endpoint: spec.endpoint,
    projects,
    activeJobs: active.slice(0, tuning.statusListMax),
    activeCount: active.length,
    maxConcurrentJobs: spec.maxConcurrentJobs,
    counters: countRecords(allRecords),
    costToday,
    currency,
    day,
    ...(spec.budget ? { budget: { maxCostPerDay: spec.budget.maxCostPerDay, remaining: Math.max(0, Math.round((spec.budget.maxCostPerDay - costToday) * 1e6) / 1e6) } } : {}),
    budgetExhausted,
    ...(budgetExhausted ? { budgetReachedOn: day } : prior?.budgetReachedOn === day ? { budgetReachedOn: day } : {}),
    circuit: o.circuit,
    ...(waiting.length > 0 ? { waiting: waiting.slice(0, tuning.statusListMax) } : {}),
  };
  out.status[key] = status;
  if (waiting.length > 0) out.notes.push({ key, level: 'info', message: `${waiting.length} task(s) routed to delegation wait in inbox/: ${[...new Set(waiting.map((w) => w.reason))].join('; ')}` });

  if (submitsPlanned > 0) requeue(Math.min(pollMs, 1_000));
  if (polling || active.length > 0) requeue(pollMs);
  if (circuitOpen) requeue(Math.max(250, (o.circuit.retryAt ?? now) - now));
  else if (waiting.length > 0) requeue(pollMs);
}

/** The finishing move a terminal record calls for (crash recovery). */
function finishFromRecord(r: DelegationJobRecord): { to: 'done' | 'failed' | 'inbox'; text: string; set?: Record<string, unknown> } {
  if (r.state === 'returned') return { to: 'inbox', text: '', set: { allow_delegation: false, last_error: (r.error ?? 'delegation ended; running locally').slice(0, 500) } };
  if (r.state === 'failed') return { to: 'failed', text: r.error ?? `delegated job ${r.jobId ?? '?'} failed` };
  // succeeded, and the job can no longer be read: the footer alone (the API still has the result).
  const finishedAt = msOf(r.finishedAt) ?? msOf(r.createdAt) ?? 0;
  return {
    to: 'done',
    text: formatDelegatedFooter({ taskId: r.taskId, provider: r.provider, jobId: r.jobId ?? '?', ...(r.cost !== undefined ? { cost: r.cost } : {}), ...(r.currency ? { currency: r.currency } : {}), startedAt: msOf(r.submittedAt) ?? finishedAt, finishedAt, attempts: r.attempt }),
  };
}
