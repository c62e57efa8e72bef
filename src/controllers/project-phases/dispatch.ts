/**
 * Phase "dispatch" of the Project plan: ready inbox tasks (priority, then age) are routed (local or
 * delegation) and the local ones assigned to idle, Ready sessions — claim, then deliver — within
 * each account's `maxSessions`. Dispatch pauses while the queue is recovered, tmux is unknown, the
 * session status is not fresh yet, or every account is out of quota.
 */
import type { PlanInput } from '../../core/controller.js';
import { decide } from '../../core/router.js';
import type { Task } from '../../core/task.js';
import { assignTasks, type FreeSession } from '../project-decide.js';
import { taskPrompt } from '../project-prompt.js';
import type { ProjectObserved } from '../project.js';
import { accountFor } from '../session-launch.js';
import {
  dispatchedPath, emptyPhaseOutput, requeueIn, routerPolicy, sinceText, taskChange,
  type BusySession, type PhaseOutput, type ProjectPlanContext, type QueueMove,
} from './context.js';
import { poolStatus, sessionStatus } from '../../core/status.js';

/** The pool decision the Account controller records under `Account/*`. */
export interface PoolStatus {
  activeAccount?: string | null;
  allExhausted?: boolean;
  exhausted?: string[];
}

export interface DispatchInput {
  /** Tasks earlier phases decided on this pass. */
  touched: ReadonlySet<string>;
  /** Sessions holding a task after the leases phase. */
  busy: ReadonlyMap<string, BusySession>;
  /** The recovery phase planned something. */
  recovering: boolean;
}

export interface AwaitingDelegation {
  taskId: string;
  provider?: string;
  rule: string;
}

export interface DispatchResult extends PhaseOutput {
  touched: string[];
  moves: QueueMove[];
  /** Sessions given a task by this phase. */
  busy: Map<string, BusySession>;
  /** Why dispatch is paused, if it is. */
  paused?: string;
  /** Every account is out of quota (the Account controller's pool decision). */
  allExhausted: boolean;
  awaitingDelegation: AwaitingDelegation[];
  waiting: { taskId: string; reason: string }[];
}

const BUSY_ACTIVITIES = new Set(['working', 'waitingInput', 'rateLimited']);

export function poolStatusOf(input: PlanInput<ProjectObserved>): PoolStatus | undefined {
  return poolStatus(input.prior);
}

/** Why dispatch waits this pass (undefined: it does not). */
export function dispatchPause(ctx: ProjectPlanContext, recovering: boolean, allExhausted: boolean): string | undefined {
  if (recovering) return 'the queue is being recovered; dispatch resumes on the next pass';
  if (!ctx.tmuxKnown) return 'tmux cannot be observed';
  if (!ctx.fresh) return 'waiting for fresh session status after start';
  if (allExhausted) return 'every account is out of quota';
  return undefined;
}

export function planDispatch(ctx: ProjectPlanContext, before: DispatchInput): DispatchResult {
  const { key, queue } = ctx;
  const pool = poolStatusOf(ctx.input);
  const allExhausted = pool?.allExhausted === true;
  const result: DispatchResult = { ...emptyPhaseOutput(), touched: [], moves: [], busy: new Map(), allExhausted, awaitingDelegation: [], waiting: [] };
  const leaseIds = new Set(queue.leases.map((record) => record.taskId));
  const candidates = queue.scan.ready.filter((task) => !before.touched.has(task.id) && !leaseIds.has(task.id));
  const paused = candidates.length > 0 ? dispatchPause(ctx, before.recovering, allExhausted) : undefined;
  if (paused) {
    result.paused = paused;
    result.notes.push({ key, level: allExhausted ? 'warning' : 'info', message: `dispatch paused: ${paused} (${candidates.length} task(s) ready)` });
    // Recovery and the first pass after a start are followed at once; the rest waits for events.
    requeueIn(result, before.recovering || (!ctx.fresh && ctx.tmuxKnown) ? 0 : 30_000);
  } else if (candidates.length > 0) {
    assignCandidates(ctx, before, candidates, new Set(pool?.exhausted ?? []), result);
  }
  if (queue.scan.settling.length > 0) {
    const nextSettledMs = Math.min(...queue.scan.settling.map((entry) => ctx.tuning.settleMs - Math.abs(ctx.nowMs - entry.mtimeMs)));
    requeueIn(result, Math.max(50, nextSettledMs + 10));
  }
  return result;
}

/** Routes the candidates, then claims and delivers the local ones to free sessions. */
function assignCandidates(ctx: ProjectPlanContext, before: DispatchInput, candidates: readonly Task[], exhausted: ReadonlySet<string>, result: DispatchResult): void {
  const { key, root, name } = ctx;
  const local = routeCandidates(ctx, candidates, result);
  const slots = accountSlots(ctx, before.busy);
  const { free, relaunching } = freeSessions(ctx, before.busy, exhausted, result);
  if (relaunching > 0 && local.length > 0) result.notes.push({ key, level: 'info', message: `${relaunching} idle session(s) get no task while they are relaunched (moving to another account)` });
  const { assignments, waiting } = assignTasks(local, free, slots, new Set(ctx.projectSessions));
  for (const { task, session } of assignments) {
    result.touched.push(task.id);
    result.moves.push({ from: 'inbox', to: 'dispatched', count: 1 });
    result.busy.set(session.name, { task: task.id, since: ctx.now.toISOString() });
    const attempt = task.attempts + 1;
    const text = taskPrompt({ id: task.id, body: task.body, title: task.title, attempt }, dispatchedPath(root, task.id));
    result.changes.push(taskChange(ctx, task.id, `dispatch to session ${session.name} (priority ${task.priority}, waited ${sinceText(ctx.nowMs - task.mtimeMs)}, attempt ${attempt})`, [
      { type: 'queue.claim', root, taskId: task.id, session: session.name, account: session.account },
      { type: 'tmux.deliver', session: session.name, text, task: { root, taskId: task.id } },
    ]));
    if (task.warnings.length > 0) result.events.push({ key, type: 'Warning', reason: 'TaskFrontmatterWarning', message: `task ${task.id}: ${task.warnings.join('; ')}`, data: { taskId: task.id, warnings: task.warnings } });
  }
  for (const wait of waiting) result.waiting.push({ taskId: wait.task.id, reason: wait.reason });
  if (result.waiting.length > 0) {
    const countByReason = new Map<string, number>();
    for (const wait of result.waiting) countByReason.set(wait.reason, (countByReason.get(wait.reason) ?? 0) + 1);
    for (const [reason, count] of countByReason) result.notes.push({ key, level: 'info', message: `${count} task(s) wait: ${reason}` });
  }
  if (ctx.projectSessions.length === 0) result.notes.push({ key, level: 'warning', message: `${local.length} task(s) wait: project ${name} has no sessions` });
}

/** The router's decision per candidate: delegated ones are listed (and stay in inbox/), local ones returned (with their pin). */
export function routeCandidates(ctx: ProjectPlanContext, candidates: readonly Task[], result: Pick<DispatchResult, 'awaitingDelegation' | 'notes'>): (Task & { pin?: string })[] {
  const policyName = ctx.project.spec.delegationPolicy;
  const policy = routerPolicy(ctx.input.desired, policyName);
  const local: (Task & { pin?: string })[] = [];
  for (const task of candidates) {
    const route = decide(task, { name: ctx.name, ...(policyName ? { delegationPolicy: policyName } : {}) }, policy);
    if (route.route === 'delegate') {
      result.awaitingDelegation.push({ taskId: task.id, ...(route.provider ? { provider: route.provider } : {}), rule: route.rule });
      continue;
    }
    local.push(task.frontmatter.session ? { ...task, pin: task.frontmatter.session } : task);
  }
  const awaiting = result.awaitingDelegation;
  if (awaiting.length > 0) {
    result.notes.push({ key: ctx.key, level: 'info', message: `${awaiting.length} task(s) routed to delegation stay in inbox/ until delegation is executed (${awaiting.slice(0, 3).map((a) => `${a.taskId} → ${a.provider ?? '?'}`).join(', ')}${awaiting.length > 3 ? ', …' : ''})` });
  }
  return local;
}

/**
 * Sessions each account may still start work on (Account.maxSessions): working sessions anywhere,
 * plus this project's lease holders, count against it. Accounts without maxSessions are absent.
 */
export function accountSlots(ctx: ProjectPlanContext, busy: ReadonlyMap<string, BusySession>): Map<string, number> {
  const { desired, prior } = ctx.input;
  const busyByAccount = new Map<string, Set<string>>();
  const addBusy = (account: string | undefined, session: string) => {
    if (!account) return;
    const sessions = busyByAccount.get(account) ?? new Set<string>();
    sessions.add(session);
    busyByAccount.set(account, sessions);
  };
  for (const session of desired.sessions) {
    const status = sessionStatus(prior, session.metadata.name);
    if (status?.activity && BUSY_ACTIVITIES.has(status.activity)) addBusy(ctx.view(session.metadata.name).account, session.metadata.name);
  }
  for (const session of busy.keys()) addBusy(ctx.view(session).account, session);
  const slots = new Map<string, number>();
  for (const account of desired.accounts) {
    if (account.spec.maxSessions !== undefined) slots.set(account.metadata.name, Math.max(0, account.spec.maxSessions - (busyByAccount.get(account.metadata.name)?.size ?? 0)));
  }
  return slots;
}

/**
 * The project's sessions that can take a task now: declared, not suspended, alive, Ready, idle
 * (settled), on an account with quota, and not being relaunched. Counts the relaunching ones;
 * asks for a check back when a session's idle settle time ends.
 */
export function freeSessions(ctx: ProjectPlanContext, busy: ReadonlyMap<string, BusySession>, exhausted: ReadonlySet<string>, result: Pick<DispatchResult, 'requeueAfterMs'>): { free: FreeSession[]; relaunching: number } {
  const free: FreeSession[] = [];
  let relaunching = 0;
  for (const sessionName of ctx.projectSessions) {
    const view = ctx.view(sessionName);
    if (busy.has(sessionName) || !view.declared || view.suspended || !view.alive || !view.ready || view.activity !== 'idle') continue;
    if (view.account && exhausted.has(view.account)) continue;
    // tmux shows a newer launch than the Session status: it is being relaunched, and "idle" is the
    // old process's. A prompt pasted now would meet a process that is stopping or starting.
    if (view.tmuxLaunchedMs !== undefined && view.launchedAtMs !== undefined && view.tmuxLaunchedMs > view.launchedAtMs) {
      relaunching += 1;
      continue;
    }
    // About to be relaunched under another account (failover): its status still reads idle and
    // Ready until the Session controller has stopped it, so a task pasted now would be cut at once.
    const manifest = ctx.input.desired.sessions.find((x) => x.metadata.name === sessionName);
    const targetAccount = manifest ? accountFor(manifest, ctx.input.desired, ctx.input.prior)?.metadata.name : undefined;
    if (view.account !== undefined && targetAccount !== undefined && view.account !== targetAccount) {
      relaunching += 1;
      continue;
    }
    const settleLeftMs = (view.sinceMs ?? 0) + ctx.tuning.idleSettleMs - ctx.nowMs;
    if (settleLeftMs > 0) {
      requeueIn(result, settleLeftMs + 10);
      continue;
    }
    free.push({ name: sessionName, mode: view.mode, account: view.account ?? '', sinceMs: view.sinceMs ?? 0 });
  }
  return { free, relaunching };
}
