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
import { durationMs } from '../api/duration.js';
import { queueRootOf } from '../api/queue-root.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { emptyPlanPart, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import { errorCode, errorMessage } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import type { Clock, FsReadPort, TmuxPort, TmuxSessionInfo } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { decide, type RouterPolicy } from '../core/router.js';
import {
  DEFAULT_SETTLE_MS, effectiveMaxAttempts, emptyCounts, formatDoneFooter, INTENTS_DIR, LEASES_DIR, planRecovery, TASK_STATES,
  type InboxScan, type LeaseRecord, type QueueCounts, type QueueSnapshot, type QueueStatus, type RecoveryAction,
  type SessionQueueState, type Task, type TaskEntry, type TaskQueue,
} from '../core/task.js';
import { delegatedSessionsView } from './delegation-policy.js';
import { checkpointPath, nextCheckpoint, type CheckpointToolCall, type SessionCheckpoint } from './project-checkpoint.js';
import { stuckTasks } from './project-alerts.js';
import { assignTasks, judgeLease, type FreeSession, type LeaseVerdict, type SessionView } from './project-decide.js';
import { continuationPrompt, taskPrompt } from './project-prompt.js';
import type { SessionStatus } from './session.js';
import { accountFor } from './session-launch.js';

export { taskPrompt, continuationPrompt } from './project-prompt.js';

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

/** The Project's status (beyond conditions). */
export interface ProjectStatus extends ObjectStatus {
  queueRoot: string;
  counts: QueueCounts & { settling: number };
  sessions: Record<string, { state: SessionQueueState; task?: string; since?: string }>;
  busy: number;
  idle: number;
  dispatchPaused?: string;
  awaitingDelegation?: { taskId: string; provider?: string; rule: string }[];
  waiting?: { taskId: string; reason: string }[];
  /** Task id → when it was first held for a rate limit (ISO). */
  holds?: Record<string, string>;
  /** Dispatched tasks without activity for `alerts.stuckTaskAfter`: task id → the last activity (ISO) of the spell reported. */
  stuck?: Record<string, string>;
  /** Fingerprint of the last status.json written. */
  published?: string;
  janitorAt?: string;
}

/** The pool decision the Account controller records under `Account/*`. */
interface PoolStatus {
  activeAccount?: string | null;
  allExhausted?: boolean;
  exhausted?: string[];
}

export function dispatchedPath(root: string, id: string): string {
  return posix.join(root, 'dispatched', `${id}.md`);
}

const emptyScan = (): InboxScan => ({ ready: [], settling: [], malformed: [], conflicts: [] });

/**
 * What a Project's plans read of a Session's status ({@link sessionView}): a change here re-plans
 * the session's project (a completion, the next dispatch, a lease to judge).
 */
export function sessionSignatureForProjects(st: ObjectStatus | undefined): unknown {
  const s = st as SessionStatus | undefined;
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
      const prior = ctx.prior[`Project/${name}`] as ProjectStatus | undefined;
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
      const p = input.desired.projects.find((x) => x.metadata.name === name);
      const o = input.observed.projects[name];
      if (p && o) planProject(p, o, input, out, this.#deps.stateDir, this.#tuning);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure)

function msOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const n = Date.parse(iso);
  return Number.isFinite(n) ? n : undefined;
}

/** What the controller knows about a session, from its manifest, tmux and its prior status. */
export function sessionView(name: string, desired: DesiredState, prior: PlanInput<unknown>['prior'], tmux: ReadonlyMap<string, TmuxSessionInfo>): SessionView {
  const s = desired.sessions.find((x) => x.metadata.name === name);
  const st = prior[`Session/${name}`] as SessionStatus | undefined;
  const t = tmux.get(name);
  const ready = st?.conditions?.find((c) => c.type === 'Ready');
  const v: SessionView = {
    name,
    project: s?.spec.project ?? '',
    mode: s?.spec.mode ?? 'pool',
    declared: s !== undefined,
    suspended: s?.spec.suspended ?? false,
    alive: t !== undefined && t.owner === `Session/${name}` && !t.paneDead,
    ready: ready?.status === 'True',
  };
  if (ready?.reason) v.readyReason = ready.reason;
  if (st?.activity) v.activity = st.activity;
  const since = msOf(st?.since);
  if (since !== undefined) v.sinceMs = since;
  const hb = msOf(st?.lastHeartbeat);
  if (hb !== undefined) v.lastHeartbeatMs = hb;
  if (st?.currentTask) v.currentTask = st.currentTask;
  if (st?.lastCompletedTask) v.lastCompletedTask = st.lastCompletedTask;
  const lc = msOf(st?.lastCompletedAt);
  if (lc !== undefined) v.lastCompletedAtMs = lc;
  if (st?.lastError) v.lastError = { error: st.lastError.error, ...(st.lastError.message ? { message: st.lastError.message } : {}), atMs: msOf(st.lastError.at) ?? 0 };
  const account = t?.options['cf-account'] ?? (typeof st?.account === 'string' ? st.account : undefined);
  if (account) v.account = account;
  if (st?.conversationId) v.conversationId = st.conversationId;
  const launched = msOf(st?.launchedAt);
  if (launched !== undefined) v.launchedAtMs = launched;
  if (st?.launchMode === 'resume') v.resumed = true;
  const failed = msOf(st?.failures?.at(-1)?.at);
  if (failed !== undefined) v.lastFailureMs = failed;
  const started = msOf(st?.processStartedAt);
  if (started !== undefined) v.processStartedMs = started;
  const tmuxLaunched = t?.owner === `Session/${name}` ? msOf(t.options['cf-launched-at']) : undefined;
  if (tmuxLaunched !== undefined) v.tmuxLaunchedMs = tmuxLaunched;
  return v;
}

function routerPolicy(desired: DesiredState, name: string | undefined): RouterPolicy | undefined {
  const p = name ? desired.delegationPolicies.find((x) => x.metadata.name === name) : undefined;
  return p ? { name: p.metadata.name, providers: p.spec.providers, ...(p.spec.defaultProvider ? { defaultProvider: p.spec.defaultProvider } : {}) } : undefined;
}

const BUSY_ACTIVITIES = new Set(['working', 'waitingInput', 'rateLimited']);

function sinceText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** Plans one project into `out`. */
export function planProject(p: ManifestObject<'Project'>, o: ProjectQueueObserved, input: PlanInput<ProjectObserved>, out: PlanPart, stateDir: string, tuning: ProjectTuning): void {
  const name = p.metadata.name;
  const key = `Project/${name}`;
  const gen = p.generation;
  const now = input.now;
  const nowMs = now.getTime();
  const root = o.root;
  const prior = input.prior[key] as ProjectStatus | undefined;
  const cond = (c: Condition[], type: string, status: Condition['status'], reason: string, message: string) => setCondition(c, { type, status, reason, message }, now, gen);
  let conditions = prior?.conditions ?? [];
  const requeue = (ms: number) => {
    const v = Math.max(0, Math.round(ms));
    out.requeueAfterMs[key] = Math.min(out.requeueAfterMs[key] ?? Infinity, v);
  };
  const baseStatus = (): ProjectStatus => ({
    observedGeneration: gen,
    conditions,
    queueRoot: root,
    counts: { ...o.counts, settling: o.scan.settling.length },
    sessions: {},
    busy: 0,
    idle: 0,
    ...(prior?.published ? { published: prior.published } : {}),
    ...(prior?.janitorAt ? { janitorAt: prior.janitorAt } : {}),
  });

  if (o.error) {
    conditions = cond(conditions, 'QueueReady', 'False', 'QueueError', o.error);
    conditions = cond(conditions, 'Ready', 'False', 'QueueError', `cannot read the task queue ${root}: ${o.error}`);
    out.notes.push({ key, level: 'warning', message: `cannot read the task queue ${root}: ${o.error}` });
    out.status[key] = baseStatus();
    requeue(5_000);
    return;
  }
  if (o.missingDirs) {
    // inbox/ is there but not the rest (a queue made by hand, or by an older tool): claims need leases/.
    out.changes.push({ key, action: 'update', resource: `task queue ${root}`, reason: `${o.missingDirs.join(', ')} missing beside inbox/`, effects: [{ type: 'queue.ensureDirs', root }] });
    conditions = cond(conditions, 'QueueReady', 'False', 'QueueIncomplete', `${o.missingDirs.join(', ')} under ${root} are created on apply`);
    conditions = cond(conditions, 'Ready', 'False', 'QueueIncomplete', 'the task queue lacks some of its directories');
    out.status[key] = baseStatus();
    requeue(0);
    return;
  }
  if (!o.exists) {
    const status: QueueStatus = { version: 1, project: name, updatedAt: now.toISOString(), counts: { ...emptyCounts(), settling: 0 }, sessions: {} };
    out.changes.push({
      key, action: 'create', resource: `task queue ${root}`, reason: 'declared in the manifests; the queue directories do not exist yet',
      effects: [{ type: 'queue.ensureDirs', root }, { type: 'queue.writeStatus', root, status }],
    });
    conditions = cond(conditions, 'QueueReady', 'False', 'QueueMissing', `the queue directories under ${root} are created on apply`);
    conditions = cond(conditions, 'Ready', 'False', 'QueueMissing', 'the task queue does not exist yet');
    out.status[key] = { ...baseStatus(), published: publishedFingerprint(status) };
    requeue(0);
    return;
  }
  conditions = cond(conditions, 'QueueReady', 'True', 'QueueAvailable', `task queue at ${root}`);

  const counts = { ...o.counts };
  const move = (from: keyof QueueCounts, to: keyof QueueCounts, n = 1) => {
    counts[from] = Math.max(0, counts[from] - n);
    counts[to] += n;
  };
  const taskChange = (id: string, reason: string, effects: Effect[], resource = `task "${id}"`): Change => ({ key, action: 'update', resource, reason, effects });
  const touched = new Set<string>();

  // -- sessions of this project, and of every lease
  const projectSessions = input.desired.sessions.filter((s) => s.spec.project === name).map((s) => s.metadata.name).sort();
  const views = new Map<string, SessionView>();
  const view = (s: string) => {
    let v = views.get(s);
    if (!v) {
      v = sessionView(s, input.desired, input.prior, input.observed.tmux);
      views.set(s, v);
    }
    return v;
  };
  for (const s of projectSessions) view(s);
  const tmuxKnown = input.observed.tmuxProblem === undefined;
  const fresh = !o.first && tmuxKnown;

  // -- recovery (first pass, odd records, janitor): one change per task id, actions in order
  let recovering = false;
  if (o.recovery) {
    const rp = planRecovery(o.recovery.snapshot, nowMs, o.recovery.graceMs);
    const byId = new Map<string, RecoveryAction[]>();
    for (const a of rp.actions) byId.set(a.taskId, [...(byId.get(a.taskId) ?? []), a]);
    for (const [id, actions] of byId) {
      touched.add(id);
      recovering = true;
      for (const a of actions) {
        if (a.type === 'requeueUnleased') move('dispatched', 'inbox');
        else if (a.type === 'rollForward') move(a.intent.from, a.intent.to);
      }
      out.changes.push({
        key, action: 'update', resource: `task "${id}" (recovery)`,
        reason: actions.map((a) => `${a.type}: ${a.reason}`).join('; '),
        effects: [{ type: 'queue.recover', root, actions }],
      });
    }
    for (const an of rp.anomalies) out.notes.push({ key, level: 'warning', message: `task ${an.taskId}: ${an.message}` });
  }

  // -- malformed and conflicting inbox files
  for (const m of o.scan.malformed) {
    if (touched.has(m.entry.id)) continue;
    touched.add(m.entry.id);
    move('inbox', 'failed');
    out.changes.push(taskChange(m.entry.id, `malformed: ${m.error.reason}`, [{ type: 'queue.fail', root, taskId: m.entry.id, from: 'inbox', reason: m.error.reason }]));
    out.events.push({ key, type: 'Warning', reason: 'TaskFailed', message: `task ${m.entry.id} is malformed and was moved to failed/: ${m.error.reason}`, data: { taskId: m.entry.id, project: name } });
  }
  for (const c of o.scan.conflicts) {
    if (touched.has(c.entry.id)) continue;
    touched.add(c.entry.id);
    out.changes.push(taskChange(c.entry.id, `its id already exists in ${c.existingIn.join(', ')}; renaming the inbox file to a -dup- id`, [{ type: 'queue.resolveConflict', root, taskId: c.entry.id }]));
  }

  // -- dispatched tasks against their sessions
  const staleMs = durationMs(p.spec.janitor.staleDispatchAfter);
  const holds: Record<string, string> = {};
  const busy = new Map<string, { task: string; since: string }>();
  const dispatchedIds = new Set(o.dispatched.map((d) => d.id));
  const leaseIds = new Set(o.leases.map((l) => l.taskId));
  for (const rec of o.leases) {
    const lease = rec.lease;
    if (!lease || !dispatchedIds.has(rec.taskId) || touched.has(rec.taskId)) continue;
    const s = views.get(lease.session) ?? view(lease.session);
    const heldSince = msOf(prior?.holds?.[lease.taskId]);
    const verdict: LeaseVerdict = tmuxKnown
      ? judgeLease(lease, name, s, { nowMs, staleMs, fresh, replayWindowMs: tuning.replayWindowMs, pickupMs: tuning.pickupMs, ...(heldSince !== undefined ? { heldSinceMs: heldSince } : {}) })
      : { action: 'keep', reason: 'tmux cannot be observed' };
    const id = lease.taskId;
    switch (verdict.action) {
      case 'complete': {
        touched.add(id);
        move('dispatched', 'done');
        const startedAt = msOf(lease.deliveredAt) ?? msOf(lease.claimedAt) ?? nowMs;
        const conversationId = s.conversationId ?? lease.conversationId;
        const footer = formatDoneFooter({
          taskId: id, session: lease.session, account: lease.account,
          ...(conversationId !== undefined ? { conversationId } : {}),
          startedAt, finishedAt: verdict.finishedAtMs, attempts: lease.attempt,
          ...(lease.continuations ? { continuations: lease.continuations, ...(s.account ? { finishedOnAccount: s.account } : {}) } : {}),
        });
        out.changes.push(taskChange(id, `done: ${verdict.reason} (attempt ${lease.attempt}, ${sinceText(verdict.finishedAtMs - startedAt)})`, [{ type: 'queue.complete', root, taskId: id, footer, expectClaimId: lease.claimId }]));
        out.events.push({ key, type: 'Normal', reason: 'TaskCompleted', message: `task ${id} done by ${lease.session} (attempt ${lease.attempt})`, data: { taskId: id, session: lease.session, account: lease.account, attempt: lease.attempt } });
        break;
      }
      case 'requeue': {
        touched.add(id);
        const task = o.dispatchedTasks[id];
        const max = effectiveMaxAttempts(task && 'maxAttempts' in task ? task : { maxAttempts: undefined }, p.spec.maxAttempts);
        const dead = lease.attempt >= max;
        move('dispatched', dead ? 'failed' : 'inbox');
        out.changes.push(taskChange(id, `${dead ? `dead letter after ${lease.attempt} attempt(s)` : `requeue (attempt ${lease.attempt} of ${max} ended)`}: ${verdict.reason}`, [{ type: 'queue.requeue', root, taskId: id, reason: verdict.reason, maxAttempts: p.spec.maxAttempts, expectClaimId: lease.claimId }]));
        out.events.push({ key, type: 'Warning', reason: dead ? 'TaskFailed' : 'TaskRequeued', message: `task ${id} (attempt ${lease.attempt} on ${lease.session}): ${verdict.reason}`, data: { taskId: id, session: lease.session, attempt: lease.attempt } });
        break;
      }
      case 'redeliver': {
        const task = o.dispatchedTasks[id];
        busy.set(lease.session, { task: id, since: lease.claimedAt });
        touched.add(id);
        if (!task || 'error' in task) {
          move('dispatched', 'inbox');
          out.changes.push(taskChange(id, `requeue: the dispatched task cannot be read for delivery (${task && 'error' in task ? task.error : 'not read'})`, [{ type: 'queue.requeue', root, taskId: id, reason: 'unreadable when re-delivering', maxAttempts: p.spec.maxAttempts, expectClaimId: lease.claimId }]));
          break;
        }
        const text = taskPrompt({ id, body: task.body, title: task.title, attempt: lease.attempt }, dispatchedPath(root, id));
        out.changes.push(taskChange(id, `re-deliver to ${lease.session}: ${verdict.reason}`, [{ type: 'tmux.deliver', session: lease.session, text, task: { root, taskId: id } }]));
        break;
      }
      case 'replay': {
        busy.set(lease.session, { task: id, since: lease.claimedAt });
        touched.add(id);
        const text = continuationPrompt({ id, path: dispatchedPath(root, id), ...(verdict.newConversation ? { newConversation: true } : {}) });
        const continuation = { claimId: lease.claimId, ...(lease.continuedAt !== undefined ? { previous: lease.continuedAt } : {}) };
        const n = (lease.continuations ?? 0) + 1;
        out.changes.push(taskChange(id, `continue on ${lease.session} (continuation ${n} of attempt ${lease.attempt}): ${verdict.reason}`, [{ type: 'tmux.deliver', session: lease.session, text, task: { root, taskId: id, continuation } }]));
        out.events.push({ key, type: 'Normal', reason: 'TaskReplayed', message: `task ${id}: ${verdict.reason}`, data: { taskId: id, session: lease.session, attempt: lease.attempt, continuation: n } });
        break;
      }
      case 'hold':
        holds[id] = prior?.holds?.[id] ?? now.toISOString();
        busy.set(lease.session, { task: id, since: lease.claimedAt });
        out.notes.push({ key, level: 'info', message: `task ${id}: ${verdict.reason}` });
        requeue(verdict.recheckInMs);
        break;
      case 'keep':
        busy.set(lease.session, { task: id, since: lease.claimedAt });
        if (verdict.recheckInMs !== undefined) requeue(Math.max(250, verdict.recheckInMs));
        break;
    }
  }

  // -- alerts: dispatched tasks without activity (read only: the verdicts above decide their fate)
  let stuck = prior?.stuck;
  if (fresh) {
    const alerts = stuckTasks({ key, nowMs, afterMs: durationMs(p.spec.alerts.stuckTaskAfter), staleMs, leases: o.leases, dispatched: dispatchedIds, touched, view, reported: prior?.stuck });
    out.events.push(...alerts.events);
    stuck = alerts.stuck;
    if (alerts.recheckInMs !== undefined) requeue(alerts.recheckInMs + 10);
  }

  // -- dispatch
  const pool = input.prior['Account/*'] as PoolStatus | undefined;
  const exhausted = new Set(pool?.exhausted ?? []);
  let paused: string | undefined;
  const awaitingDelegation: { taskId: string; provider?: string; rule: string }[] = [];
  const waiting: { taskId: string; reason: string }[] = [];
  const candidates = o.scan.ready.filter((t) => !touched.has(t.id) && !leaseIds.has(t.id));
  if (candidates.length > 0) {
    if (recovering) paused = 'the queue is being recovered; dispatch resumes on the next pass';
    else if (!tmuxKnown) paused = 'tmux cannot be observed';
    else if (!fresh) paused = 'waiting for fresh session status after start';
    else if (pool?.allExhausted === true) paused = 'every account is out of quota';
  }
  if (paused) {
    out.notes.push({ key, level: pool?.allExhausted === true ? 'warning' : 'info', message: `dispatch paused: ${paused} (${candidates.length} task(s) ready)` });
    // Recovery and the first pass after a start are followed at once; the rest waits for events.
    requeue(recovering || (!fresh && tmuxKnown) ? 0 : 30_000);
  } else if (candidates.length > 0) {
    const policy = routerPolicy(input.desired, p.spec.delegationPolicy);
    const local: (Task & { pin?: string })[] = [];
    for (const t of candidates) {
      const d = decide(t, { name, ...(p.spec.delegationPolicy ? { delegationPolicy: p.spec.delegationPolicy } : {}) }, policy);
      if (d.route === 'delegate') {
        awaitingDelegation.push({ taskId: t.id, ...(d.provider ? { provider: d.provider } : {}), rule: d.rule });
        continue;
      }
      local.push(t.frontmatter.session ? { ...t, pin: t.frontmatter.session } : t);
    }
    if (awaitingDelegation.length > 0) {
      out.notes.push({ key, level: 'info', message: `${awaitingDelegation.length} task(s) routed to delegation stay in inbox/ until delegation is executed (${awaitingDelegation.slice(0, 3).map((a) => `${a.taskId} → ${a.provider ?? '?'}`).join(', ')}${awaitingDelegation.length > 3 ? ', …' : ''})` });
    }
    // Busy sessions per account (Account.maxSessions): working sessions anywhere, plus our lease holders.
    const busyByAccount = new Map<string, Set<string>>();
    const addBusy = (account: string | undefined, session: string) => {
      if (!account) return;
      const set = busyByAccount.get(account) ?? new Set<string>();
      set.add(session);
      busyByAccount.set(account, set);
    };
    for (const s of input.desired.sessions) {
      const st = input.prior[`Session/${s.metadata.name}`] as SessionStatus | undefined;
      if (st?.activity && BUSY_ACTIVITIES.has(st.activity)) addBusy(view(s.metadata.name).account, s.metadata.name);
    }
    for (const s of busy.keys()) addBusy(view(s).account, s);
    const slots = new Map<string, number>();
    for (const a of input.desired.accounts) {
      if (a.spec.maxSessions !== undefined) slots.set(a.metadata.name, Math.max(0, a.spec.maxSessions - (busyByAccount.get(a.metadata.name)?.size ?? 0)));
    }
    const free: FreeSession[] = [];
    let moving = 0;
    for (const sname of projectSessions) {
      const v = view(sname);
      if (busy.has(sname) || !v.declared || v.suspended || !v.alive || !v.ready || v.activity !== 'idle') continue;
      if (v.account && exhausted.has(v.account)) continue;
      // tmux shows a newer launch than the Session status: it is being relaunched, and "idle" is the
      // old process's. A prompt pasted now would meet a process that is stopping or starting.
      if (v.tmuxLaunchedMs !== undefined && v.launchedAtMs !== undefined && v.tmuxLaunchedMs > v.launchedAtMs) {
        moving += 1;
        continue;
      }
      // About to be relaunched under another account (failover): its status still reads idle and
      // Ready until the Session controller has stopped it, so a task pasted now would be cut at once.
      const manifest = input.desired.sessions.find((x) => x.metadata.name === sname);
      const target = manifest ? accountFor(manifest, input.desired, input.prior)?.metadata.name : undefined;
      if (v.account !== undefined && target !== undefined && v.account !== target) {
        moving += 1;
        continue;
      }
      const settleLeft = (v.sinceMs ?? 0) + tuning.idleSettleMs - nowMs;
      if (settleLeft > 0) {
        requeue(settleLeft + 10);
        continue;
      }
      free.push({ name: sname, mode: v.mode, account: v.account ?? '', sinceMs: v.sinceMs ?? 0 });
    }
    if (moving > 0 && local.length > 0) out.notes.push({ key, level: 'info', message: `${moving} idle session(s) get no task while they are relaunched (moving to another account)` });
    const { assignments, waiting: wait } = assignTasks(local, free, slots, new Set(projectSessions));
    for (const { task, session } of assignments) {
      touched.add(task.id);
      move('inbox', 'dispatched');
      busy.set(session.name, { task: task.id, since: now.toISOString() });
      const attempt = task.attempts + 1;
      const text = taskPrompt({ id: task.id, body: task.body, title: task.title, attempt }, dispatchedPath(root, task.id));
      out.changes.push(taskChange(task.id, `dispatch to session ${session.name} (priority ${task.priority}, waited ${sinceText(nowMs - task.mtimeMs)}, attempt ${attempt})`, [
        { type: 'queue.claim', root, taskId: task.id, session: session.name, account: session.account },
        { type: 'tmux.deliver', session: session.name, text, task: { root, taskId: task.id } },
      ]));
      if (task.warnings.length > 0) out.events.push({ key, type: 'Warning', reason: 'TaskFrontmatterWarning', message: `task ${task.id}: ${task.warnings.join('; ')}`, data: { taskId: task.id, warnings: task.warnings } });
    }
    for (const w of wait) waiting.push({ taskId: w.task.id, reason: w.reason });
    if (waiting.length > 0) {
      const byReason = new Map<string, number>();
      for (const w of waiting) byReason.set(w.reason, (byReason.get(w.reason) ?? 0) + 1);
      for (const [reason, n] of byReason) out.notes.push({ key, level: 'info', message: `${n} task(s) wait: ${reason}` });
    }
    if (projectSessions.length === 0) out.notes.push({ key, level: 'warning', message: `${local.length} task(s) wait: project ${name} has no sessions` });
  }
  if (o.scan.settling.length > 0) {
    const next = Math.min(...o.scan.settling.map((e) => tuning.settleMs - Math.abs(nowMs - e.mtimeMs)));
    requeue(Math.max(50, next + 10));
  }

  // -- janitor
  let janitorAt = prior?.janitorAt;
  if (o.janitor) {
    janitorAt = now.toISOString();
    const archiveAfter = durationMs(p.spec.janitor.archiveDoneAfter);
    const archivable = o.janitor.done.filter((e) => !touched.has(e.id) && !e.notRegular && nowMs - e.mtimeMs >= archiveAfter).map((e) => ({ id: e.id, month: new Date(e.mtimeMs).toISOString().slice(0, 7) }));
    if (archivable.length > 0) {
      move('done', 'archive', archivable.length);
      out.changes.push({ key, action: 'update', resource: `done/ of ${root}`, reason: `janitor: archive ${archivable.length} task(s) done more than ${p.spec.janitor.archiveDoneAfter} ago`, effects: [{ type: 'queue.archive', root, tasks: archivable }] });
    }
    const temp = o.janitor.temp.filter((t) => nowMs - t.mtimeMs >= tuning.tempFileAgeMs).map((t) => t.path);
    if (temp.length > 0) {
      out.changes.push({ key, action: 'delete', resource: `temp files of ${root}`, reason: `janitor: ${temp.length} leftover temp file(s) older than ${sinceText(tuning.tempFileAgeMs)}`, effects: [{ type: 'queue.cleanupTemp', root, paths: temp }] });
    }
    const pruneAfter = durationMs(p.spec.janitor.pruneCheckpointsAfter);
    const declaredProjects = new Set(input.desired.projects.map((x) => x.metadata.name));
    const firstProject = [...declaredProjects].sort()[0];
    for (const c of input.observed.checkpoints) {
      const owner = c.checkpoint?.project;
      const mine = owner === name || ((owner === undefined || !declaredProjects.has(owner)) && firstProject === name);
      if (!mine || projectSessions.includes(c.session) || nowMs - c.mtimeMs < pruneAfter) continue;
      out.changes.push({ key, action: 'delete', resource: `checkpoint of session ${c.session}`, reason: `janitor: the session is gone and its checkpoint is older than ${p.spec.janitor.pruneCheckpointsAfter}`, effects: [{ type: 'checkpoint.remove', path: c.path }] });
    }
    requeue(tuning.janitorEveryMs);
  }

  // -- checkpoints of this project's sessions
  const leaseBySession = new Map<string, LeaseRecord['lease']>();
  for (const rec of o.leases) if (rec.lease && dispatchedIds.has(rec.taskId)) leaseBySession.set(rec.lease.session, rec.lease);
  for (const sname of projectSessions) {
    const s = input.desired.sessions.find((x) => x.metadata.name === sname);
    if (!s) continue;
    const v = view(sname);
    const rec = input.observed.checkpoints.find((c) => c.session === sname);
    const lease = leaseBySession.get(sname);
    const held = lease && !touched.has(lease.taskId)
      ? { id: lease.taskId, attempt: lease.attempt, queueRoot: root, path: dispatchedPath(root, lease.taskId), claimedAt: lease.claimedAt, ...(lease.deliveredAt ? { deliveredAt: lease.deliveredAt } : {}) }
      : undefined;
    const tool = input.observed.toolCalls[sname];
    const next = nextCheckpoint(rec?.checkpoint, {
      session: sname, project: name, cwd: launchedCwd(input.prior[`Session/${sname}`]) ?? s.spec.workdir ?? p.spec.path,
      ...(v.account ? { account: v.account } : {}),
      ...(v.conversationId ? { conversationId: v.conversationId } : {}),
      ...(v.activity ? { activity: v.activity } : {}),
      ...(held ? { held } : {}),
      ...(tool ? { lastToolCall: tool } : {}),
    }, now);
    if (next !== rec?.checkpoint) {
      out.changes.push({ key, action: rec ? 'update' : 'create', resource: `checkpoint of session ${sname}`, reason: rec ? 'session state changed' : 'first checkpoint', effects: [{ type: 'fs.writeJson', path: checkpointPath(stateDir, sname), value: next, mode: 0o600 }] });
    }
  }

  // -- status and status.json
  const sessions: ProjectStatus['sessions'] = {};
  let busyN = 0;
  for (const sname of projectSessions) {
    const b = busy.get(sname);
    if (b) {
      busyN += 1;
      sessions[sname] = { state: 'working', task: b.task, since: b.since };
    } else {
      sessions[sname] = { state: 'idle' };
    }
  }
  const settling = o.scan.settling.length;
  const policyStatus = tuning.goStatusDelegated && p.spec.delegationPolicy ? input.prior[`DelegationPolicy/${p.spec.delegationPolicy}`] as Parameters<typeof delegatedSessionsView>[0] : undefined;
  const statusFile: QueueStatus = {
    version: 1, project: name, updatedAt: now.toISOString(), counts: { ...counts, settling },
    sessions: tuning.goStatusDelegated ? { ...sessions, ...delegatedSessionsView(policyStatus, name).sessions } : sessions,
    ...(awaitingDelegation.length > 0 ? { delegated: awaitingDelegation.map((a) => ({ taskId: a.taskId, ...(a.provider ? { provider: a.provider } : {}) })) } : {}),
  };
  const fingerprint = publishedFingerprint(statusFile);
  if (fingerprint !== prior?.published) {
    out.changes.push({ key, action: 'update', resource: `${posix.join(root, 'status.json')}`, reason: 'queue counts or session states changed', effects: [{ type: 'queue.writeStatus', root, status: statusFile }] });
  }
  const work = counts.inbox + counts.dispatched;
  if (paused && pool?.allExhausted === true) conditions = cond(conditions, 'Ready', 'False', 'AllAccountsExhausted', 'dispatch paused: every account is out of quota');
  else if (recovering) conditions = cond(conditions, 'Ready', 'False', 'Recovering', 'recovering interrupted queue operations');
  else if (projectSessions.length === 0 && counts.inbox > 0) conditions = cond(conditions, 'Ready', 'False', 'NoSessions', `${counts.inbox} task(s) wait and the project has no sessions`);
  else conditions = cond(conditions, 'Ready', 'True', work > 0 ? 'Dispatching' : 'Idle', `${counts.inbox} in inbox, ${counts.dispatched} dispatched, ${busyN}/${projectSessions.length} session(s) busy`);
  const status: ProjectStatus = {
    ...baseStatus(),
    conditions,
    counts: { ...counts, settling },
    sessions,
    busy: busyN,
    idle: projectSessions.length - busyN,
    published: fingerprint,
    ...(janitorAt ? { janitorAt } : {}),
    ...(paused ? { dispatchPaused: paused } : {}),
    ...(awaitingDelegation.length > 0 ? { awaitingDelegation: awaitingDelegation.slice(0, 50) } : {}),
    ...(waiting.length > 0 ? { waiting: waiting.slice(0, 50) } : {}),
    ...(Object.keys(holds).length > 0 ? { holds } : {}),
    ...(stuck && Object.keys(stuck).length > 0 ? { stuck } : {}),
  };
  out.status[key] = status;
  if (busy.size > 0) requeue(Math.min(out.requeueAfterMs[key] ?? Infinity, 30_000));
}

/** What status.json says, without its time: written again only when this changes. */
export function publishedFingerprint(s: QueueStatus): string {
  return JSON.stringify({ counts: s.counts, sessions: s.sessions, delegated: s.delegated ?? [] });
}

/** Where a session's agent was launched (its worktree, when it has one), from its status. */
function launchedCwd(st: ObjectStatus | undefined): string | undefined {
  const cwd = (st as SessionStatus | undefined)?.launch?.cwd;
  return typeof cwd === 'string' ? cwd : undefined;
}
