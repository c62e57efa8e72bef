/**
 * Project controller (docs/queue-protocol.md, "The Project controller"): the task queue of each Project. observe() reads the queue
 * (inbox scan, counts, leases, dispatched/), tmux liveness and the session checkpoints; plan()
 * (pure) decides, in one pass:
 * - queue recovery (interrupted finishes, leftover leases, dispatched tasks without a lease);
 * - malformed inbox tasks → failed/, id conflicts → renamed;
 * - every dispatched task against its session (src/controllers/project-decide.ts `judgeLease`):
 *   complete, keep, hold for the failover replay, re-deliver, requeue;
 * - dispatch: ready tasks (priority, then age) to idle Ready sessions — claim, then deliver;
 * - the janitor (archive, temp files, checkpoints), session checkpoints, `status.json`.
 * Session activity comes from the prior `Session/<name>` status; account exhaustion from the
 * prior `Account/*` status.
 */
import { posix } from 'node:path';
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { queueRootOf } from '../api/queue-root.js';
import { emptyPlanPart, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';
import { errorCode, errorMessage } from '../core/errors.js';
import type { Clock, FsReadPort, TmuxPort, TmuxSessionInfo } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import {
  DEFAULT_SETTLE_MS, emptyCounts, INTENTS_DIR, LEASES_DIR, TASK_STATES,
  type InboxScan, type LeaseRecord, type QueueCounts, type QueueSnapshot,
  type Task, type TaskEntry, type TaskQueue,
} from '../core/task.js';
import type { CheckpointToolCall, SessionCheckpoint } from './project-checkpoint.js';
import { planCheckpoints } from './project-phases/checkpoints.js';
import { applyMoves, mergePhase, projectPlanContext } from './project-phases/context.js';
import { planDispatch } from './project-phases/dispatch.js';
import { planJanitor } from './project-phases/janitor.js';
import { planQueueLayout } from './project-phases/layout.js';
import { planLeases, planStuckAlerts } from './project-phases/leases.js';
import { planInboxTriage, planQueueRecovery } from './project-phases/recovery.js';
import { planProjectStatus } from './project-phases/status.js';
import { asStatusOf, projectStatus } from '../core/status.js';

export { taskPrompt, continuationPrompt } from './project-prompt.js';
export { dispatchedPath, dispatchViewOf, publishedFingerprint } from './project-phases/context.js';

/** The queue operations the controller observes with (createFsTaskQueue + two listings). */
export interface ProjectQueue extends TaskQueue {
  listTempFiles(): Promise<{ path: string; mtimeMs: number }[]>;
  /** Ids with a finish intent (`intents/<id>.json`). */
  listIntentIds(): Promise<string[]>;
}

export interface CheckpointRecord {
  session: string;
  path: string;
  mtimeMs: number;
  /** Undefined when the file could not be parsed. */
  checkpoint?: SessionCheckpoint;
}

export interface ProjectTuning {
  /** Settle window of inbox files written in place (docs/queue-protocol.md, rule 2). */
  settleMs: number;
  /** How long a rate-limited task waits for the failover replay before it is requeued. */
  replayWindowMs: number;
  /** A delivered prompt whose turn has not started after this long is requeued. */
  pickupMs: number;
  /** How often the janitor looks at done/, temp files, checkpoints and stale records. */
  janitorEveryMs: number;
  /** Temp files older than this are leftovers. */
  tempFileAgeMs: number;
  /** Recovery records younger than this are left alone outside the first pass. */
  recoveryGraceMs: number;
  /**
   * A session that became idle less than this ago gets no task yet: Claude Code finishes its turn
   * (status line, bookkeeping) after the Stop hook, and a prompt pasted then would be queued.
   */
  idleSettleMs: number;
  /**
   * Compatibility switch `status-delegated` (docs/migrating.md): status.json also lists each task in
   * flight at the job API as a session `delegated:<task>` in state `delegated_to_secutools`.
   */
  goStatusDelegated: boolean;
}

export const DEFAULT_PROJECT_TUNING: ProjectTuning = {
  settleMs: DEFAULT_SETTLE_MS,
  replayWindowMs: 10 * 60_000,
  pickupMs: 60_000,
  janitorEveryMs: 60_000,
  tempFileAgeMs: 10 * 60_000,
  recoveryGraceMs: 5_000,
  idleSettleMs: 300,
  goStatusDelegated: false,
};

export interface ProjectControllerDeps {
  /** The queue at `root` (`<project path>/<queueDir>`). */
  queueFor(root: string): ProjectQueue;
  tmux: Pick<TmuxPort, 'listSessions'>;
  fs: FsReadPort;
  stateDir: string;
  /** Every checkpoint file under `<state-dir>/checkpoints/`. */
  checkpoints(): Promise<CheckpointRecord[]>;
  /** Last tool call per session (from the guard's audit log), when available. */
  toolCalls?(): Promise<Record<string, CheckpointToolCall>>;
  clock?: Clock;
  tuning?: Partial<ProjectTuning>;
}

export interface ProjectQueueObserved {
  root: string;
  /** inbox/ exists (the layout was created). */
  exists: boolean;
  /** Layout directories missing beside an existing inbox/ (a producer or an older tool made only inbox/). */
  missingDirs?: string[];
  error?: string;
  scan: InboxScan;
  counts: QueueCounts;
  leases: LeaseRecord[];
  dispatched: TaskEntry[];
  /** Dispatched tasks read for a (re-)delivery, by id. */
  dispatchedTasks: Record<string, Task | { error: string }>;
  /** Set when recovery must be planned: a snapshot of every location, lease and intent. */
  recovery?: { snapshot: QueueSnapshot; graceMs: number };
  /** Set when the janitor is due. */
  janitor?: { done: TaskEntry[]; temp: { path: string; mtimeMs: number }[] };
  /** First observation of this project by this controller (session status may be stale). */
  first: boolean;
}

export interface ProjectObserved {
  projects: Record<string, ProjectQueueObserved>;
  tmux: Map<string, TmuxSessionInfo>;
  tmuxProblem?: string;
  checkpoints: CheckpointRecord[];
  toolCalls: Record<string, CheckpointToolCall>;
}

/** The Project's status (beyond conditions): declared in core (src/core/status.ts), where every kind's status is. */
export type { ProjectStatus } from '../core/status.js';

const emptyScan = (): InboxScan => ({ ready: [], settling: [], malformed: [], conflicts: [] });

/**
 * What a Project's plans read of a Session's status ({@link dispatchViewOf}): a change here re-plans
 * the session's project (a completion, the next dispatch, a lease to judge).
 */
export function sessionSignatureForProjects(st: ObjectStatus | undefined): unknown {
  const s = asStatusOf('Session', st);
  const ready = s?.conditions?.find((c) => c.type === 'Ready');
  return [ready?.status, ready?.reason, s?.activity, s?.since, s?.currentTask, s?.lastCompletedTask, s?.lastCompletedAt, s?.lastError, s?.account, s?.conversationId, s?.launchedAt, s?.launchMode, s?.failures?.at(-1)?.at, s?.processStartedAt];
}

export class ProjectController implements Controller<ProjectObserved> {
  readonly kind = 'Project' as const;
  /** A session's change re-plans its project. */
  readonly watches: readonly Watch[] = [
    {
      kind: 'Session',
      signature: sessionSignatureForProjects,
      map: (key, desired) => desired.sessions.filter((s) => `Session/${s.metadata.name}` === key).map((s) => s.spec.project),
    },
  ];
  readonly #deps: ProjectControllerDeps;
  readonly #tuning: ProjectTuning;
  readonly #seen = new Set<string>();

  constructor(deps: ProjectControllerDeps) {
    this.#deps = deps;
    this.#tuning = { ...DEFAULT_PROJECT_TUNING, ...deps.tuning };
  }

  get tuning(): ProjectTuning {
    return this.#tuning;
  }

  names(desired: DesiredState, _inventory: Inventory): string[] {
    return desired.projects.map((p) => p.metadata.name).sort();
  }

  async observe(names: readonly string[], ctx: ObserveContext): Promise<ProjectObserved> {
    const out: ProjectObserved = { projects: {}, tmux: new Map(), checkpoints: [], toolCalls: {} };
    try {
      out.tmux = new Map((await this.#deps.tmux.listSessions()).map((s) => [s.name, s]));
    } catch (err) {
      if (errorCode(err) !== 'CF_ERR_TMUX_MISSING') throw err;
      out.tmuxProblem = errorMessage(err);
    }
    const now = (this.#deps.clock ?? systemClock).now();
    out.checkpoints = await this.#deps.checkpoints();
    out.toolCalls = (await this.#deps.toolCalls?.()) ?? {};
    for (const name of names) {
      const p = ctx.desired.projects.find((x) => x.metadata.name === name);
      if (!p) continue;
      const first = !this.#seen.has(name);
      const prior = projectStatus(ctx.prior, name);
      const janitorDue = first || !prior?.janitorAt || now - Date.parse(prior.janitorAt) >= this.#tuning.janitorEveryMs;
      out.projects[name] = await this.#observeQueue(queueRootOf(p), first, janitorDue);
    }
    return out;
  }

  /** The plan made from this observation was applied: its projects have had their first pass. */
  commit(observed: ProjectObserved): void {
    for (const name of Object.keys(observed.projects)) this.#seen.add(name);
  }

  async #observeQueue(root: string, first: boolean, janitorDue: boolean): Promise<ProjectQueueObserved> {
    const base: ProjectQueueObserved = { root, exists: false, scan: emptyScan(), counts: emptyCounts(), leases: [], dispatched: [], dispatchedTasks: {}, first };
    try {
      const inbox = await this.#deps.fs.inspect(posix.join(root, 'inbox'));
      if (inbox.kind !== 'directory') return base;
      const missingDirs: string[] = [];
      for (const d of [...TASK_STATES, LEASES_DIR, INTENTS_DIR]) {
        if (d !== 'inbox' && (await this.#deps.fs.inspect(posix.join(root, d))).kind === 'missing') missingDirs.push(`${d}/`);
      }
      if (missingDirs.length > 0) return { ...base, missingDirs };
      const q = this.#deps.queueFor(root);
      // dispatched/ before leases: a lease without its task is then never a claim in flight.
      const dispatched = await q.list('dispatched');
      const leases = await q.listLeases();
      const [scan, counts, intents] = await Promise.all([q.scanInbox(), q.count(), q.listIntentIds()]);
      const o: ProjectQueueObserved = { ...base, exists: true, scan, counts, leases, dispatched };
      const dispatchedIds = new Set(dispatched.map((d) => d.id));
      const leaseIds = new Set(leases.map((l) => l.taskId));
      const odd = intents.length > 0 || leases.some((l) => !l.lease || !dispatchedIds.has(l.taskId)) || dispatched.some((d) => !leaseIds.has(d.id));
      if (first || odd || janitorDue) {
        o.recovery = { snapshot: await q.inspect(), graceMs: first ? 0 : this.#tuning.recoveryGraceMs };
      }
      for (const l of leases) {
        if (!l.lease || l.lease.deliveredAt !== undefined || !dispatchedIds.has(l.taskId)) continue;
        try {
          o.dispatchedTasks[l.taskId] = await q.read(l.taskId, 'dispatched');
        } catch (err) {
          o.dispatchedTasks[l.taskId] = { error: errorMessage(err) };
        }
      }
      if (janitorDue) o.janitor = { done: await q.list('done'), temp: await q.listTempFiles() };
      return o;
    } catch (err) {
      return { ...base, error: errorMessage(err) };
    }
  }

  plan(input: PlanInput<ProjectObserved>, names: readonly string[]): PlanPart {
    const out = emptyPlanPart();
    if (input.observed.tmuxProblem) out.notes.push({ key: 'Project/*', level: 'warning', message: `${input.observed.tmuxProblem}; sessions cannot be observed, so no task is dispatched or judged` });
    for (const name of names) {
      const project = input.desired.projects.find((x) => x.metadata.name === name);
      const queue = input.observed.projects[name];
      if (project && queue) planProject(project, queue, input, out, this.#deps.stateDir, this.#tuning);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure): the phases live in src/controllers/project-phases/.

/**
 * Plans one project into `out`, phase by phase: queue layout (the pass ends there when the queue
 * cannot be used), recovery, inbox triage, leases, stuck alerts, dispatch, janitor, checkpoints,
 * status. Each phase sees what the earlier ones decided (the task ids they touched, the sessions
 * they made busy); their changes, events and notes are appended in that order.
 */
export function planProject(project: ManifestObject<'Project'>, queue: ProjectQueueObserved, input: PlanInput<ProjectObserved>, out: PlanPart, stateDir: string, tuning: ProjectTuning): void {
  const ctx = projectPlanContext(project, queue, input, stateDir, tuning);
  const layout = planQueueLayout(ctx, ctx.prior?.conditions ?? []);
  mergePhase(out, ctx.key, layout);
  if (layout.finalStatus) {
    out.status[ctx.key] = layout.finalStatus;
    return;
  }
  const recovery = planQueueRecovery(ctx);
  const triage = planInboxTriage(ctx, new Set(recovery.touched));
  const leases = planLeases(ctx, new Set([...recovery.touched, ...triage.touched]));
  const judged = new Set([...recovery.touched, ...triage.touched, ...leases.touched]);
  const alerts = planStuckAlerts(ctx, judged);
  const dispatch = planDispatch(ctx, { touched: judged, busy: leases.busy, recovering: recovery.recovering });
  const touched = new Set([...judged, ...dispatch.touched]);
  const janitor = planJanitor(ctx, touched);
  const checkpoints = planCheckpoints(ctx, touched);
  const status = planProjectStatus(ctx, {
    conditions: layout.conditions,
    counts: applyMoves(queue.counts, [...recovery.moves, ...triage.moves, ...leases.moves, ...dispatch.moves, ...janitor.moves]),
    busy: new Map([...leases.busy, ...dispatch.busy]),
    recovering: recovery.recovering,
    ...(dispatch.paused ? { paused: dispatch.paused } : {}),
    allExhausted: dispatch.allExhausted,
    awaitingDelegation: dispatch.awaitingDelegation,
    waiting: dispatch.waiting,
    holds: leases.holds,
    stuck: alerts.stuck,
    ...(janitor.janitorAt ? { janitorAt: janitor.janitorAt } : {}),
  });
  for (const phase of [recovery, triage, leases, alerts, dispatch, janitor, checkpoints, status]) mergePhase(out, ctx.key, phase);
  out.status[ctx.key] = status.status;
}
