/**
 * Phases "leases" and "stuck alerts" of the Project plan: every dispatched task is judged against
 * its session (src/controllers/project-decide.ts `judgeLease`) — complete, requeue (or dead
 * letter), re-deliver, replay (continue), hold for the failover replay, keep — and the dispatched
 * tasks without activity are reported (read only: the verdicts decide their fate).
 */
import { durationMs } from '../../api/duration.js';
import { effectiveMaxAttempts, formatDoneFooter, type Lease } from '../../core/task.js';
import { stuckTasks } from '../project-alerts.js';
import { judgeLease, type LeaseVerdict, type DispatchView } from '../project-decide.js';
import { continuationPrompt, taskPrompt } from '../project-prompt.js';
import {
  dispatchedPath, emptyPhaseOutput, msOf, requeueIn, sinceText, taskChange,
  type BusySession, type PhaseOutput, type ProjectPlanContext, type QueueMove,
} from './context.js';

export interface LeasesResult extends PhaseOutput {
  /** Tasks completed, requeued, re-delivered or replayed: later phases leave them alone. */
  touched: string[];
  moves: QueueMove[];
  /** Sessions that hold a task after this phase (kept, held, re-delivered, replayed). */
  busy: Map<string, BusySession>;
  /** Task id → since when it is held for a rate limit (ISO). */
  holds: Record<string, string>;
}

/** The ids in dispatched/ (a lease of a task elsewhere is the recovery's business). */
export function dispatchedIds(ctx: ProjectPlanContext): Set<string> {
  return new Set(ctx.queue.dispatched.map((entry) => entry.id));
}

export function planLeases(ctx: ProjectPlanContext, touchedBefore: ReadonlySet<string>): LeasesResult {
  const result: LeasesResult = { ...emptyPhaseOutput(), touched: [], moves: [], busy: new Map(), holds: {} };
  const staleMs = durationMs(ctx.project.spec.janitor.staleDispatchAfter);
  const inDispatched = dispatchedIds(ctx);
  for (const record of ctx.queue.leases) {
    const lease = record.lease;
    if (!lease || !inDispatched.has(record.taskId) || touchedBefore.has(record.taskId)) continue;
    const session = ctx.view(lease.session);
    const heldSinceMs = msOf(ctx.prior?.holds?.[lease.taskId]);
    const verdict: LeaseVerdict = ctx.tmuxKnown
      ? judgeLease(lease, ctx.name, session, { nowMs: ctx.nowMs, staleMs, fresh: ctx.fresh, replayWindowMs: ctx.tuning.replayWindowMs, pickupMs: ctx.tuning.pickupMs, ...(heldSinceMs !== undefined ? { heldSinceMs } : {}) })
      : { action: 'keep', reason: 'tmux cannot be observed' };
    applyVerdict(ctx, result, lease, session, verdict);
  }
  return result;
}

/** Adds what a verdict on one lease calls for to the phase's result. */
function applyVerdict(ctx: ProjectPlanContext, result: LeasesResult, lease: Lease, session: DispatchView, verdict: LeaseVerdict): void {
  const id = lease.taskId;
  const holdsTask = () => result.busy.set(lease.session, { task: id, since: lease.claimedAt });
  switch (verdict.action) {
    case 'complete':
      result.touched.push(id);
      result.moves.push({ from: 'dispatched', to: 'done', count: 1 });
      completeTask(ctx, result, lease, session, verdict);
      break;
    case 'requeue':
      result.touched.push(id);
      requeueTask(ctx, result, lease, verdict.reason);
      break;
    case 'redeliver':
      holdsTask();
      result.touched.push(id);
      redeliverTask(ctx, result, lease, verdict.reason);
      break;
    case 'replay':
      holdsTask();
      result.touched.push(id);
      replayTask(ctx, result, lease, verdict);
      break;
    case 'hold':
      result.holds[id] = ctx.prior?.holds?.[id] ?? ctx.now.toISOString();
      holdsTask();
      result.notes.push({ key: ctx.key, level: 'info', message: `task ${id}: ${verdict.reason}` });
      requeueIn(result, verdict.recheckInMs);
      break;
    case 'keep':
      holdsTask();
      if (verdict.recheckInMs !== undefined) requeueIn(result, Math.max(250, verdict.recheckInMs));
      break;
  }
}

function completeTask(ctx: ProjectPlanContext, result: LeasesResult, lease: Lease, session: DispatchView, verdict: Extract<LeaseVerdict, { action: 'complete' }>): void {
  const id = lease.taskId;
  const startedAt = msOf(lease.deliveredAt) ?? msOf(lease.claimedAt) ?? ctx.nowMs;
  const conversationId = session.conversationId ?? lease.conversationId;
  const footer = formatDoneFooter({
    taskId: id, session: lease.session, account: lease.account,
    ...(conversationId !== undefined ? { conversationId } : {}),
    startedAt, finishedAt: verdict.finishedAtMs, attempts: lease.attempt,
    ...(lease.continuations ? { continuations: lease.continuations, ...(session.account ? { finishedOnAccount: session.account } : {}) } : {}),
  });
  result.changes.push(taskChange(ctx, id, `done: ${verdict.reason} (attempt ${lease.attempt}, ${sinceText(verdict.finishedAtMs - startedAt)})`, [{ type: 'queue.complete', root: ctx.root, taskId: id, footer, expectClaimId: lease.claimId }]));
  result.events.push({ key: ctx.key, type: 'Normal', reason: 'TaskCompleted', message: `task ${id} done by ${lease.session} (attempt ${lease.attempt})`, data: { taskId: id, session: lease.session, account: lease.account, attempt: lease.attempt } });
}

/** Back to inbox/ (attempt + 1), or failed/ once the attempts are used up (a dead letter). */
function requeueTask(ctx: ProjectPlanContext, result: LeasesResult, lease: Lease, reason: string): void {
  const id = lease.taskId;
  const maxAttemptsSpec = ctx.project.spec.maxAttempts;
  const task = ctx.queue.dispatchedTasks[id];
  const maxAttempts = effectiveMaxAttempts(task && 'maxAttempts' in task ? task : { maxAttempts: undefined }, maxAttemptsSpec);
  const deadLetter = lease.attempt >= maxAttempts;
  result.moves.push({ from: 'dispatched', to: deadLetter ? 'failed' : 'inbox', count: 1 });
  result.changes.push(taskChange(ctx, id, `${deadLetter ? `dead letter after ${lease.attempt} attempt(s)` : `requeue (attempt ${lease.attempt} of ${maxAttempts} ended)`}: ${reason}`, [{ type: 'queue.requeue', root: ctx.root, taskId: id, reason, maxAttempts: maxAttemptsSpec, expectClaimId: lease.claimId }]));
  result.events.push({ key: ctx.key, type: 'Warning', reason: deadLetter ? 'TaskFailed' : 'TaskRequeued', message: `task ${id} (attempt ${lease.attempt} on ${lease.session}): ${reason}`, data: { taskId: id, session: lease.session, attempt: lease.attempt } });
}

/** The same claim delivered again; a task file that cannot be read goes back to inbox/. */
function redeliverTask(ctx: ProjectPlanContext, result: LeasesResult, lease: Lease, reason: string): void {
  const id = lease.taskId;
  const task = ctx.queue.dispatchedTasks[id];
  if (!task || 'error' in task) {
    result.moves.push({ from: 'dispatched', to: 'inbox', count: 1 });
    result.changes.push(taskChange(ctx, id, `requeue: the dispatched task cannot be read for delivery (${task && 'error' in task ? task.error : 'not read'})`, [{ type: 'queue.requeue', root: ctx.root, taskId: id, reason: 'unreadable when re-delivering', maxAttempts: ctx.project.spec.maxAttempts, expectClaimId: lease.claimId }]));
    return;
  }
  const text = taskPrompt({ id, body: task.body, title: task.title, attempt: lease.attempt }, dispatchedPath(ctx.root, id));
  result.changes.push(taskChange(ctx, id, `re-deliver to ${lease.session}: ${reason}`, [{ type: 'tmux.deliver', session: lease.session, text, task: { root: ctx.root, taskId: id } }]));
}

/** A continuation prompt on the same claim: the task goes on where it stopped. */
function replayTask(ctx: ProjectPlanContext, result: LeasesResult, lease: Lease, verdict: Extract<LeaseVerdict, { action: 'replay' }>): void {
  const id = lease.taskId;
  const text = continuationPrompt({ id, path: dispatchedPath(ctx.root, id), ...(verdict.newConversation ? { newConversation: true } : {}) });
  const continuation = { claimId: lease.claimId, ...(lease.continuedAt !== undefined ? { previous: lease.continuedAt } : {}) };
  const continuationNumber = (lease.continuations ?? 0) + 1;
  result.changes.push(taskChange(ctx, id, `continue on ${lease.session} (continuation ${continuationNumber} of attempt ${lease.attempt}): ${verdict.reason}`, [{ type: 'tmux.deliver', session: lease.session, text, task: { root: ctx.root, taskId: id, continuation } }]));
  result.events.push({ key: ctx.key, type: 'Normal', reason: 'TaskReplayed', message: `task ${id}: ${verdict.reason}`, data: { taskId: id, session: lease.session, attempt: lease.attempt, continuation: continuationNumber } });
}

export interface StuckAlertsResult extends PhaseOutput {
  /** The `stuck` of the Project status (the prior one when the alerts are not judged this pass). */
  stuck: Record<string, string> | undefined;
}

/** `TaskStuck` events for dispatched tasks without activity (judged only on fresh session status). */
export function planStuckAlerts(ctx: ProjectPlanContext, touched: ReadonlySet<string>): StuckAlertsResult {
  const result: StuckAlertsResult = { ...emptyPhaseOutput(), stuck: ctx.prior?.stuck };
  if (!ctx.fresh) return result;
  const alerts = stuckTasks({
    key: ctx.key, nowMs: ctx.nowMs, afterMs: durationMs(ctx.project.spec.alerts.stuckTaskAfter), staleMs: durationMs(ctx.project.spec.janitor.staleDispatchAfter),
    leases: ctx.queue.leases, dispatched: dispatchedIds(ctx), touched, view: ctx.view, reported: ctx.prior?.stuck,
  });
  result.events.push(...alerts.events);
  result.stuck = alerts.stuck;
  if (alerts.recheckInMs !== undefined) requeueIn(result, alerts.recheckInMs + 10);
  return result;
}
