/**
 * What every phase of the Project plan (src/controllers/project.ts `planProject`) shares: the
 * context of one project's pass, the output a phase returns, and small pure helpers.
 *
 * A phase is a pure function `(ctx, what earlier phases decided) → PhaseOutput & its own facts`.
 * Its changes, events and notes are appended to the plan in phase order, so the plan reads in the
 * order the phases run: queue layout, recovery, inbox triage, leases, stuck alerts, dispatch,
 * janitor, checkpoints, status.
 */
import { posix } from 'node:path';
import type { DesiredState, ManifestObject } from '../../api/objects.js';
import { setCondition, type Condition } from '../../core/conditions.js';
import type { PlanInput } from '../../core/controller.js';
import type { Change } from '../../core/plan.js';
import type { TmuxSessionInfo } from '../../core/ports.js';
import type { RouterPolicy } from '../../core/router.js';
import type { QueueCounts, QueueStatus } from '../../core/task.js';
import type { DispatchView } from '../project-decide.js';
import type { ProjectObserved, ProjectQueueObserved, ProjectStatus, ProjectTuning } from '../project.js';
import type { SessionStatus } from '../session.js';
import { projectStatus, sessionStatus } from '../../core/status.js';

export { emptyPhaseOutput, mergePhase, requeueIn, type PhaseOutput } from '../plan-phase.js';

/** One project's pass: the inputs every phase reads (never writes). */
export interface ProjectPlanContext {
  project: ManifestObject<'Project'>;
  name: string;
  /** `Project/<name>`: the key of every change, event, note and requeue of this pass. */
  key: string;
  /** The queue root (`<path>/<queueDir>`). */
  root: string;
  now: Date;
  nowMs: number;
  /** The Project status of the previous pass. */
  prior: ProjectStatus | undefined;
  queue: ProjectQueueObserved;
  input: PlanInput<ProjectObserved>;
  stateDir: string;
  tuning: ProjectTuning;
  /** The project's declared sessions, sorted by name. */
  projectSessions: string[];
  /** The controller's view of a session (memoised for the pass). */
  view(session: string): DispatchView;
  /** tmux could be listed this pass. */
  tmuxKnown: boolean;
  /** Session statuses were observed after this controller started, and tmux is known. */
  fresh: boolean;
}

/** A change of the queue counts a phase plans (a task moving between state directories). */
export interface QueueMove {
  from: keyof QueueCounts;
  to: keyof QueueCounts;
  count: number;
}

/** A session working on a task, for status.json and the dispatch (task id, since when: ISO). */
export interface BusySession {
  task: string;
  since: string;
}

export function projectPlanContext(project: ManifestObject<'Project'>, queue: ProjectQueueObserved, input: PlanInput<ProjectObserved>, stateDir: string, tuning: ProjectTuning): ProjectPlanContext {
  const name = project.metadata.name;
  const key = `Project/${name}`;
  const views = new Map<string, DispatchView>();
  const view = (session: string): DispatchView => {
    let known = views.get(session);
    if (!known) {
      known = dispatchViewOf(session, input.desired, input.prior, input.observed.tmux);
      views.set(session, known);
    }
    return known;
  };
  const tmuxKnown = input.observed.tmuxProblem === undefined;
  return {
    project, name, key, root: queue.root, now: input.now, nowMs: input.now.getTime(),
    prior: projectStatus(input.prior, name),
    queue, input, stateDir, tuning,
    projectSessions: input.desired.sessions.filter((s) => s.spec.project === name).map((s) => s.metadata.name).sort(),
    view, tmuxKnown, fresh: !queue.first && tmuxKnown,
  };
}

/** The counts after the moves, in order (a count never goes below 0). */
export function applyMoves(counts: QueueCounts, moves: readonly QueueMove[]): QueueCounts {
  const next = { ...counts };
  for (const { from, to, count } of moves) {
    next[from] = Math.max(0, next[from] - count);
    next[to] += count;
  }
  return next;
}

/** Sets a condition of the Project (at the pass's time and generation). */
export function withCondition(ctx: ProjectPlanContext, conditions: Condition[], type: string, status: Condition['status'], reason: string, message: string): Condition[] {
  return setCondition(conditions, { type, status, reason, message }, ctx.now, ctx.project.generation);
}

/** An `update` of one task. */
export function taskChange(ctx: ProjectPlanContext, id: string, reason: string, effects: Change['effects'], resource = `task "${id}"`): Change {
  return { key: ctx.key, action: 'update', resource, reason, effects };
}

/** The Project status before this pass decided anything (queue counts as observed). */
export function baseProjectStatus(ctx: ProjectPlanContext, conditions: Condition[]): ProjectStatus {
  return {
    observedGeneration: ctx.project.generation,
    conditions,
    queueRoot: ctx.root,
    counts: { ...ctx.queue.counts, settling: ctx.queue.scan.settling.length },
    sessions: {},
    busy: 0,
    idle: 0,
    ...(ctx.prior?.published ? { published: ctx.prior.published } : {}),
    ...(ctx.prior?.janitorAt ? { janitorAt: ctx.prior.janitorAt } : {}),
  };
}

export function msOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A duration for messages: `42s`, `5m`, `3h`. */
export function sinceText(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return seconds < 120 ? `${seconds}s` : seconds < 7200 ? `${Math.round(seconds / 60)}m` : `${Math.round(seconds / 3600)}h`;
}

export function dispatchedPath(root: string, id: string): string {
  return posix.join(root, 'dispatched', `${id}.md`);
}

/** What status.json says, without its time: written again only when this changes. */
export function publishedFingerprint(status: QueueStatus): string {
  return JSON.stringify({ counts: status.counts, sessions: status.sessions, delegated: status.delegated ?? [] });
}

/** Where a session's agent was launched (its worktree, when it has one), from its status. */
export function launchedCwd(status: SessionStatus | undefined): string | undefined {
  const cwd = status?.launch?.cwd;
  return typeof cwd === 'string' ? cwd : undefined;
}

/** The router's view of the delegation policy a project names, if declared. */
export function routerPolicy(desired: DesiredState, policyName: string | undefined): RouterPolicy | undefined {
  const policy = policyName ? desired.delegationPolicies.find((x) => x.metadata.name === policyName) : undefined;
  return policy ? { name: policy.metadata.name, providers: policy.spec.providers, ...(policy.spec.defaultProvider ? { defaultProvider: policy.spec.defaultProvider } : {}) } : undefined;
}

/** What the controller knows about a session, from its manifest, tmux and its prior status. */
export function dispatchViewOf(name: string, desired: DesiredState, prior: PlanInput<unknown>['prior'], tmux: ReadonlyMap<string, TmuxSessionInfo>): DispatchView {
  const manifest = desired.sessions.find((x) => x.metadata.name === name);
  const status = sessionStatus(prior, name);
  const tmuxSession = tmux.get(name);
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  const view: DispatchView = {
    name,
    project: manifest?.spec.project ?? '',
    mode: manifest?.spec.mode ?? 'pool',
    declared: manifest !== undefined,
    suspended: manifest?.spec.suspended ?? false,
    alive: tmuxSession !== undefined && tmuxSession.owner === `Session/${name}` && !tmuxSession.paneDead,
    ready: ready?.status === 'True',
  };
  if (ready?.reason) view.readyReason = ready.reason;
  if (status?.activity) view.activity = status.activity;
  const since = msOf(status?.since);
  if (since !== undefined) view.sinceMs = since;
  const heartbeat = msOf(status?.lastHeartbeat);
  if (heartbeat !== undefined) view.lastHeartbeatMs = heartbeat;
  if (status?.currentTask) view.currentTask = status.currentTask;
  if (status?.lastCompletedTask) view.lastCompletedTask = status.lastCompletedTask;
  const lastCompleted = msOf(status?.lastCompletedAt);
  if (lastCompleted !== undefined) view.lastCompletedAtMs = lastCompleted;
  if (status?.lastError) view.lastError = { error: status.lastError.error, ...(status.lastError.message ? { message: status.lastError.message } : {}), atMs: msOf(status.lastError.at) ?? 0 };
  const account = tmuxSession?.options['cf-account'] ?? (typeof status?.account === 'string' ? status.account : undefined);
  if (account) view.account = account;
  if (status?.conversationId) view.conversationId = status.conversationId;
  const launched = msOf(status?.launchedAt);
  if (launched !== undefined) view.launchedAtMs = launched;
  if (status?.launchMode === 'resume') view.resumed = true;
  const failed = msOf(status?.failures?.at(-1)?.at);
  if (failed !== undefined) view.lastFailureMs = failed;
  const started = msOf(status?.processStartedAt);
  if (started !== undefined) view.processStartedMs = started;
  const tmuxLaunched = tmuxSession?.owner === `Session/${name}` ? msOf(tmuxSession.options['cf-launched-at']) : undefined;
  if (tmuxLaunched !== undefined) view.tmuxLaunchedMs = tmuxLaunched;
  return view;
}
