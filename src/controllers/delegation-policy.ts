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
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { queueRootOf } from '../api/queue-root.js';
import { emptyPlanPart, type Controller, type Watch, type Inventory, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';
import type { DelegationJobRecord } from '../core/effects.js';
import { errorMessage } from '../core/errors.js';
import type { FsReadPort } from '../core/ports.js';
import { decide, type RouteDecision } from '../core/router.js';
import type { InboxScan, Task, TaskEntry } from '../core/task.js';
import { budgetState, planBudgetRouting, type RouteLocal } from './delegation-phases/budget.js';
import { delegationPlanContext, mergePhase, routerPolicyOf } from './delegation-phases/context.js';
import { planJobRecords, planProjectQueueCheck, planUnrecordedDelegated, type PolicyProject } from './delegation-phases/records.js';
import { planPolicyStatus } from './delegation-phases/status.js';
import { planInboxSubmits } from './delegation-phases/submit.js';
import { delegationPolicyStatus, type ActiveJob, type CircuitView, type DelegationPolicyStatus } from '../core/status.js';

export { costOnDay, countRecords } from './delegation-phases/budget.js';
export { routerPolicyOf, utcDay } from './delegation-phases/context.js';
export { resultText } from './delegation-phases/records.js';

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

export type { CircuitView } from '../core/status.js';

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

export type { ActiveJob, DelegationCounters } from '../core/status.js';

/** The DelegationPolicy's status: declared in core (src/core/status.ts), where every kind's status is. */
export type { DelegationPolicyStatus } from '../core/status.js';

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
  for (const job of status?.activeJobs ?? []) {
    if (job.project !== project) continue;
    const since = job.submittedAt ?? job.createdAt;
    sessions[`delegated:${job.taskId}`] = { state: 'delegated_to_secutools', task: job.taskId, ...(since ? { since } : {}) };
    delegated.push({ taskId: job.taskId, provider: job.provider, ...(job.jobId ? { jobId: job.jobId } : {}) });
  }
  return { sessions, delegated };
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
      const prior = delegationPolicyStatus(ctx.prior, name);
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
      const observed = input.observed.policies[name];
      if (policy && observed) planPolicy(policy, observed, input, out, this.#tuning);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure): the phases live in src/controllers/delegation-phases/.

/**
 * Plans one policy into `out`: the budget first (it decides whether inbox tasks are delegated at
 * all), then per project (by name) the queue check, the job records (recovery, polling, the
 * reaper, retention), delegated/ tasks without records and the inbox submits; then the tasks the
 * budget sends local, and the status. Changes, events and notes are appended in that order.
 */
export function planPolicy(policy: ManifestObject<'DelegationPolicy'>, observed: DelegationPolicyObserved, input: PlanInput<DelegationObserved>, out: PlanPart, tuning: DelegationTuning): void {
  const ctx = delegationPlanContext(policy, observed, input, tuning);
  const budget = budgetState(ctx);
  const active: ActiveJob[] = [];
  const waiting: NonNullable<DelegationPolicyStatus['waiting']> = [];
  const routeLocal: RouteLocal[] = [];
  let inFlight = budget.inFlight;
  let submits = 0;
  let polling = false;
  for (const [name, projectObserved] of Object.entries(observed.projects).sort(([a], [b]) => a.localeCompare(b))) {
    const project: PolicyProject = { name, observed: projectObserved };
    const check = planProjectQueueCheck(ctx, project);
    mergePhase(out, ctx.key, check);
    if (!check.usable) continue;
    const records = planJobRecords(ctx, project);
    const unrecorded = planUnrecordedDelegated(ctx, project, new Set(records.touched));
    const inbox = planInboxSubmits(ctx, project, { touched: new Set([...records.touched, ...unrecorded.touched]), inFlight, budgetExhausted: budget.budgetExhausted });
    for (const phase of [records, unrecorded, inbox]) mergePhase(out, ctx.key, phase);
    active.push(...records.active, ...unrecorded.active, ...inbox.active);
    waiting.push(...inbox.waiting);
    routeLocal.push(...inbox.routeLocal);
    inFlight = inbox.inFlight;
    submits += records.submits + unrecorded.submits + inbox.submits;
    polling ||= records.polling;
  }
  mergePhase(out, ctx.key, planBudgetRouting(ctx, budget, routeLocal));
  const status = planPolicyStatus(ctx, { budget, active, waiting, submits, polling });
  mergePhase(out, ctx.key, status);
  out.status[ctx.key] = status.status;
}
